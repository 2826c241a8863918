/*
 * complete.c: Tab in `vsp repl` (see complete.h).
 *
 * Completion reads the text before the cursor as words and looks at the
 * last keyword to know what is being written; it never has to parse a
 * half-typed rule.  The candidates come from the tables the checker
 * itself uses (catalogs, the fields table, the parsed policy), so Tab
 * offers what `check` would accept.
 */
#include "cli/complete.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/kinds.h"
#include "base/repl.h"
#include "engine/engine.h"
#include "base/catalog.h"
#include "lang/diag.h"
#include "lang/fields.h"
#include "lang/front.h"

#define COMPLETE_MAX_EVENTS 16
#define COMPLETE_MAX_FIELDS 256

/* File names: the directory part of the word is listed, directories end
 * in '/' so Tab goes on into them. */
static void complete_files(const char *word, struct vsp_edit_cands *c)
{
	const char *slash = strrchr(word, '/');
	char dir[4096];
	size_t dlen = slash ? (size_t)(slash - word) + 1 : 0;

	if (dlen >= sizeof dir)
		return;
	memcpy(dir, word, dlen);
	dir[dlen] = 0;
	DIR *d = opendir(dlen ? dir : ".");
	if (!d)
		return;
	struct dirent *de;
	unsigned seen = 0;
	while ((de = readdir(d)) && seen < 4096) {
		seen++;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.' && word[dlen] != '.')
			continue;
		char full[8192];
		snprintf(full, sizeof full, "%s%s", dir, de->d_name);
		struct stat st;
		bool isdir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
		if (isdir)
			strncat(full, "/", sizeof full - strlen(full) - 1);
		vsp_edit_offer(c, full, (size_t)-1);
	}
	closedir(d);
}

static void complete_commands(unsigned where, struct vsp_edit_cands *c)
{
	for (int i = 0; i < VSP_REPL_NCOMMANDS; i++)
		if ((vsp_repl_commands[i].where & where) && i != VSP_REPL_DECIDE)
			vsp_edit_offer(c, vsp_repl_commands[i].name, (size_t)-1);
}

/* Kernel symbols starting with the prefix: functions only for events. */
static void complete_syms(const struct vsp_symtab *t, bool text_only,
			  struct vsp_edit_cands *c)
{
	if (!t || c->plen == 0)
		return;	/* tens of thousands: ask for a letter first */
	size_t n = vsp_sym_count(t);
	for (size_t i = 0; i < n && c->n < 5000; i++) {
		const struct vsp_sym *s = vsp_sym_get(t, i);
		if (s->name && (!text_only || vsp_sym_is_text(s)))
			vsp_edit_offer(c, s->name, (size_t)-1);
	}
}

static int complete_kind(const char *w)
{
	for (int k = 0; k < VSP_EV_KIND_COUNT; k++)
		if (strcmp(w, vsp_event_kind_name((enum vsp_event_kind)k)) == 0)
			return k;
	return -1;
}

static void complete_events(const struct vsp_repl_complete *rc, int kind,
			    struct vsp_edit_cands *c)
{
	switch (kind) {
	case VSP_EV_SYSCALL:
		for (size_t i = 0; i < vsp_nsyscalls; i++)
			vsp_edit_offer(c, vsp_syscalls[i].name, (size_t)-1);
		break;
	case VSP_EV_HYPERCALL:
		for (size_t i = 0; i < vsp_nhypercalls; i++)
			vsp_edit_offer(c, vsp_hypercalls[i].name, (size_t)-1);
		break;
	case VSP_EV_USER:
		for (size_t i = 0; i < vsp_nuserfns; i++)
			vsp_edit_offer(c, vsp_userfns[i].name, (size_t)-1);
		break;
	case VSP_EV_KERNEL:
		complete_syms(rc->syms, true, c);
		break;
	case VSP_EV_FILE: case VSP_EV_NET: case VSP_EV_TASK:
		for (size_t i = 0; i < vsp_nhooks; i++)
			if (vsp_hooks[i].kind == (enum vsp_event_kind)kind)
				vsp_edit_offer(c, vsp_hooks[i].name, (size_t)-1);
		break;
	default:
		complete_syms(rc->syms, false, c);	/* write SYMBOL */
		break;
	}
}

/* The lists, macros and constants the loaded policy declares. */
static void complete_decls(const struct vsp_repl_complete *rc, bool lists_only,
			   struct vsp_edit_cands *c)
{
	if (!rc->files || !rc->nfiles || !*rc->nfiles)
		return;
	struct vsp_diags d;
	vsp_diags_init(&d);
	struct vsp_unit *u = vsp_front_load((const char *const *)*rc->files,
					    (size_t)*rc->nfiles, &d);
	for (size_t i = 0; u && i < u->ndecls; i++) {
		const struct vsp_decl *dc = u->decls[i];
		if (dc->name && (!lists_only || dc->kind == VSP_D_LIST))
			vsp_edit_offer(c, dc->name, (size_t)-1);
	}
	if (u)
		vsp_unit_free(u);
	vsp_diags_release(&d);
}

/* The fields every one of the events has (all fields of one event, the
 * common ones when no event is named yet). */
static void complete_fields(struct vsp_event_ref *evs, size_t nev,
			    struct vsp_edit_cands *c)
{
	static const char *names[COMPLETE_MAX_FIELDS];
	if (nev == 0) {
		struct vsp_event_ref any = { .kind = VSP_EV_SYSCALL, .name = "",
					     .catalog = -1, .lo = -1, .hi = -1 };
		size_t n = vsp_field_names(&any, names, COMPLETE_MAX_FIELDS);
		for (size_t i = 0; i < n; i++)
			if (vsp_field_common(names[i], NULL))
				vsp_edit_offer(c, names[i], (size_t)-1);
		return;
	}
	size_t n = vsp_field_names(&evs[0], names, COMPLETE_MAX_FIELDS);
	for (size_t i = 0; i < n; i++) {
		bool all = true;
		for (size_t k = 1; k < nev && all; k++) {
			enum vsp_field f;
			enum vsp_type ty;
			all = vsp_field_resolve(&evs[k], names[i], &f, &ty) == 0;
		}
		if (all)
			vsp_edit_offer(c, names[i], (size_t)-1);
	}
}

static bool complete_word_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '.';
}

/* The words of text[0..end) outside strings and comments, each split at
 * blanks and punctuation; ',' and '(' count as words. */
static size_t complete_words(const char *text, size_t end, char (*w)[64],
			     size_t max)
{
	size_t n = 0;
	bool str = false, comment = false;
	for (size_t i = 0; i < end && n < max;) {
		char ch = text[i];
		if (comment) {
			comment = ch != '\n';
			i++;
		} else if (str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				str = false;
			i++;
		} else if (ch == '"') {
			str = true;
			i++;
		} else if (ch == '#') {
			comment = true;
			i++;
		} else if (complete_word_char(ch)) {
			size_t k = 0;
			while (i < end && complete_word_char(text[i])) {
				if (k + 1 < sizeof w[0])
					w[n][k++] = text[i];
				i++;
			}
			w[n++][k] = 0;
		} else {
			if (ch == ',' || ch == ':' || ch == ';' || ch == '(') {
				w[n][0] = ch;
				w[n++][1] = 0;
			}
			i++;
		}
	}
	return n;
}

/* Rule text: the part of the line from `rule` on, or the whole line. */
static void complete_rule(const struct vsp_repl_complete *rc, const char *text,
			  size_t wstart, struct vsp_edit_cands *c)
{
	static char w[512][64];
	size_t nw = complete_words(text, wstart, w, 512);
	/* The events of the rule being written: after its last `on`. */
	size_t on = nw, when = nw;
	for (size_t i = 0; i < nw; i++) {
		if (strcmp(w[i], "on") == 0) {
			on = i;
			when = nw;
		} else if (strcmp(w[i], "when") == 0 && on < nw) {
			when = i;
		} else if (strcmp(w[i], ":") == 0 && on < nw && when == nw) {
			when = i;	/* no condition: the actions */
		}
	}
	const char *prev = nw ? w[nw - 1] : "";
	if (on == nw) {
		if (nw && strcmp(prev, "rule") != 0 && strcmp(prev, "add") != 0)
			vsp_edit_offer(c, "on", (size_t)-1);
		return;
	}
	struct vsp_event_ref evs[COMPLETE_MAX_EVENTS];
	size_t nev = 0;
	int kind = -1;
	size_t stop = when < nw ? when : nw;
	for (size_t i = on + 1; i < stop; i++) {
		int k = complete_kind(w[i]);
		if (k >= 0) {
			kind = k;
			continue;
		}
		if (strcmp(w[i], ",") == 0 || kind < 0 || nev == COMPLETE_MAX_EVENTS)
			continue;
		struct vsp_event_ref *e = &evs[nev];
		memset(e, 0, sizeof *e);
		e->kind = (enum vsp_event_kind)kind;
		e->lo = e->hi = -1;
		e->catalog = -1;
		const char *nm = strncmp(w[i], "sys_", 4) == 0 ? w[i] + 4 : w[i];
		e->name = (char *)nm;
		const struct vsp_call *call = NULL;
		if (kind == VSP_EV_SYSCALL && (call = vsp_syscall_by_name(nm)))
			e->catalog = (int)(call - vsp_syscalls);
		else if (kind == VSP_EV_HYPERCALL && (call = vsp_hypercall_by_name(nm)))
			e->catalog = (int)(call - vsp_hypercalls);
		if (call)
			e->nr = call->nr;
		if ((kind == VSP_EV_SYSCALL || kind == VSP_EV_HYPERCALL) && !call)
			continue;	/* not an event: no fields to offer */
		nev++;
	}
	if (when == nw) {
		/* In the event list. */
		if (strcmp(prev, "on") == 0 || (strcmp(prev, ",") == 0 && kind < 0)) {
			for (int k = 0; k < VSP_EV_KIND_COUNT; k++)
				vsp_edit_offer(c, vsp_event_kind_name((enum vsp_event_kind)k),
					       (size_t)-1);
			return;
		}
		if (complete_kind(prev) >= 0 || strcmp(prev, ",") == 0) {
			complete_events(rc, kind, c);
			if (strcmp(prev, ",") == 0)
				for (int k = 0; k < VSP_EV_KIND_COUNT; k++)
					vsp_edit_offer(c, vsp_event_kind_name(
						(enum vsp_event_kind)k), (size_t)-1);
			return;
		}
		vsp_edit_offer(c, "when", (size_t)-1);
		return;
	}
	if (strcmp(w[when], ":") == 0)
		return;	/* actions: nothing from the tables */
	if (strcmp(prev, "in") == 0 || strcmp(prev, "matches") == 0) {
		complete_decls(rc, true, c);
		return;
	}
	complete_fields(evs, nev, c);
	complete_decls(rc, false, c);
}

void vsp_repl_complete(void *ctx, const char *line, size_t *start,
		       struct vsp_edit_cands *c)
{
	const struct vsp_repl_complete *rc = ctx;
	size_t cur = strlen(line);
	char first[32];

	/* The command word, if the cursor is past it. */
	size_t i = 0;
	while (line[i] == ' ' || line[i] == '\t' || line[i] == '\n')
		i++;
	size_t k = 0;
	while (line[i] && !isspace((unsigned char)line[i]) && k + 1 < sizeof first)
		first[k++] = line[i++];
	first[k] = 0;
	if (i >= cur || *start <= i - k) {
		c->prefix = line + *start;
		c->plen = cur - *start;
		complete_commands(rc->where, c);
		return;
	}
	enum vsp_repl_cmd cmd = vsp_repl_lookup(first);
	switch (cmd) {
	case VSP_REPL_LOAD:
		c->prefix = line + *start;
		c->plen = cur - *start;
		complete_files(c->prefix, c);
		return;
	case VSP_REPL_HELP:
		c->prefix = line + *start;
		c->plen = cur - *start;
		complete_commands(rc->where, c);
		return;
	default:
		break;
	}
	/* Everything else is words: names, fields. */
	size_t ws = cur;
	while (ws > 0 && complete_word_char(line[ws - 1]))
		ws--;
	*start = ws;
	c->prefix = line + ws;
	c->plen = cur - ws;
	switch (cmd) {
	case VSP_REPL_MODE:
		for (int m = 0; m < VSP_MODE_COUNT; m++)
			vsp_edit_offer(c, vsp_mode_name((enum vsp_mode)m), (size_t)-1);
		break;
	case VSP_REPL_STATUS: case VSP_REPL_RULES: case VSP_REPL_EVENTS:
	case VSP_REPL_STATS: case VSP_REPL_PS: case VSP_REPL_TAIL:
	case VSP_REPL_BT: case VSP_REPL_REGS: case VSP_REPL_NEXT:
	case VSP_REPL_RUN:
		*start = cur - (size_t)(cur - ws) - (ws >= 2 && line[ws - 1] == '-' &&
						    line[ws - 2] == '-' ? 2 : 0);
		c->prefix = line + *start;
		c->plen = cur - *start;
		vsp_edit_offer(c, "--json", (size_t)-1);
		break;
	case VSP_REPL_SYM: case VSP_REPL_MEM:
		complete_syms(rc->syms, false, c);
		break;
	case VSP_REPL_EVAL:
		/* The event is the session's, not on the line: the fields
		 * every event has, and the policy's names. */
		complete_fields(NULL, 0, c);
		complete_decls(rc, false, c);
		break;
	default:
		complete_rule(rc, line, ws, c);
		break;
	}
}
