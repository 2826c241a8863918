/*
 * repl.c: `vsp repl`, an interactive session over the engine.
 *
 * Commands come through cli/lineedit.c (a terminal: libedit, history,
 * completion from cli/complete.c; a pipe: line by line) and are those of
 * base/repl.h, the list the live session reads too: load policies, type
 * events as trace lines, step through a trace, and look at decisions,
 * rules, bytecode and statistics.  Answers go to standard output, audit
 * records to --audit or standard error.  A live guest session
 * (--gdb, --xen) is `vsp attach` made interactive: the monitor loop
 * (vmi/monitor.c) enforces the policy and reads the session's commands
 * between stops; every attach option applies.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/repl.h"
#include "cli/commands.h"
#include "cli/complete.h"
#include "cli/lineedit.h"
#include "engine/audit.h"
#include "interp/json.h"
#include "vmi/trace.h"

static const char repl_help[] =
	"usage: vsp repl [--trace FILE | --gdb HOST:PORT | --xen DOMAIN]\n"
	"                [--audit FILE] [--history FILE] [POLICY...]\n\n"
	"Interactive session: load policies, decide events typed as trace lines\n"
	"or read from a trace, look at rules, decisions, bytecode, statistics;\n"
	"on a live guest, enforce and inspect.  'help' in the session lists the\n"
	"commands.  At a terminal: Emacs keys, Ctrl-R searches the history, Tab\n"
	"completes commands, events, fields, names of the policy and files;\n"
	"a command whose braces or quotes are open, or whose line ends in ':',\n"
	"continues on the next line; Ctrl-C drops the line (or stops a 'run'),\n"
	"Ctrl-D ends the session (live: detaches).  Elsewhere (a pipe) commands\n"
	"are read line by line.  Answers go to standard output, audit records\n"
	"to --audit FILE or else standard error.\n\n"
	"Options:\n"
	"  -t, --trace FILE    the trace 'next' and 'run' step through\n"
	"  -a, --audit FILE    audit records into FILE (default: standard error)\n"
	"      --history FILE  the history file (default $VSP_HISTORY, else\n"
	"                      ~/.vsp_history; '' keeps none); 1000 commands\n"
	VSP_CLI_EXTERN_HELP
	"\n"
	"With --gdb HOST:PORT or --xen DOMAIN the session attaches to the live\n"
	"guest as 'vsp attach' does (its options apply: --symbols, --mode,\n"
	"--audit, ...) and enforces the policy while it takes commands.  End of\n"
	"input detaches: every trap removed; a guest paused by a pause rule\n"
	"stays paused, one paused with 'pause' runs on.\n";

/* One decision, as `tail` shows it (copied: a later load frees the
 * policy the names point into). */
#define REPL_TAIL 64
#define REPL_MAX_ADDED 64
struct repl_tail {
	char where[64], event[40], rule[48], comm[17], arg[96];
	int64_t pid, value;
	enum vsp_verdict verdict;
	bool cached;
};

struct repl {
	struct vsp_policy *p;
	struct vsp_load_opts lo;
	struct vsp_audit audit;
	struct vsp_sink *sink;
	struct vsp_run_stats rs;
	struct vsp_line_reader trace;
	FILE *trace_in;
	const char *trace_name;
	bool trace_done;
	struct vsp_trace_event te;
	bool have_ev;		/* te holds the last event decided */
	char **files;		/* the loaded policy's files (owned copies) */
	int nfiles;
	/* Rules typed with `rule add`, read after the files. */
	struct vsp_load_text added[REPL_MAX_ADDED];
	size_t nadded;
	unsigned nseq;		/* added so far, for their names */
	uint64_t decided, verdicts[VSP_V_COUNT];
	struct repl_tail tail[REPL_TAIL];
	uint64_t ntail;
};

static void repl_files_free(struct repl *r)
{
	for (int i = 0; i < r->nfiles; i++)
		free(r->files[i]);
	free(r->files);
	r->files = NULL;
	r->nfiles = 0;
}

/* Compiles the files and then the rule texts, and swaps the result in
 * for the session's policy.  0, or -1 with the old policy kept (the
 * diagnostics, caret and all, said why).  `cmd` names the command for
 * its messages. */
static int repl_compile(struct repl *r, char **files, int n,
			const struct vsp_load_text *texts, size_t nt,
			const char *cmd)
{
	struct vsp_policy *p;
	int nerr = 0;

	if (n <= 0 && nt == 0) {
		printf("%s: no policy file given\n", cmd);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "r");
		if (!f) {
			printf("%s: cannot read %s: %s\n", cmd, files[i],
			       strerror(errno));
			return -1;
		}
		fclose(f);
	}
	r->lo.texts = texts;
	r->lo.ntexts = nt;
	p = vsp_policy_load((const char *const *)files, (size_t)n, &r->lo, &nerr);
	r->lo.texts = NULL;
	r->lo.ntexts = 0;
	if (!p) {
		printf("%s: failed (%d error%s)%s\n", cmd, nerr, nerr == 1 ? "" : "s",
		       r->p ? "; the old policy stays" : "");
		return -1;
	}
	/* Keep the names: `mode` compiles the same files again. */
	if (n < 0)
		n = 0;
	char **copy = calloc((size_t)n + 1, sizeof *copy);
	for (int i = 0; copy && i < n; i++)
		if (!(copy[i] = strdup(files[i]))) {
			for (int k = 0; k < i; k++)
				free(copy[k]);
			free(copy);
			copy = NULL;
		}
	if (!copy) {
		printf("%s: out of memory\n", cmd);
		vsp_policy_free(p);
		return -1;
	}
	if (r->p) {
		if (vsp_policy_mode(r->p) == VSP_MODE_LEARN)
			vsp_policy_save_profiles(r->p, stdout);
		vsp_audit_release(&r->audit);
		vsp_policy_free(r->p);
	}
	repl_files_free(r);
	r->files = copy;
	r->nfiles = n;
	r->p = p;
	vsp_audit_init_sink(&r->audit, r->sink, p);
	r->audit.flush_each = true;
	memset(&r->rs, 0, sizeof(r->rs));
	printf("%s %u rule%s, %u event%s, mode %s\n",
	       strcmp(cmd, "load") == 0 ? "loaded" : "now", vsp_policy_nrules(p),
	       vsp_policy_nrules(p) == 1 ? "" : "s", vsp_policy_nevents(p),
	       vsp_policy_nevents(p) == 1 ? "" : "s",
	       vsp_mode_name(vsp_policy_mode(p)));
	return 0;
}

static void repl_added_free(struct repl *r)
{
	for (size_t i = 0; i < r->nadded; i++) {
		free((char *)r->added[i].name);
		free((char *)r->added[i].text);
	}
	r->nadded = 0;
}

/* `load FILE...`: the files replace the policy, rules added included. */
static int repl_load(struct repl *r, char **files, int n)
{
	if (n <= 0) {
		printf("load: no policy file given\n");
		return -1;
	}
	size_t dropped = r->nadded;
	if (repl_compile(r, files, n, NULL, 0, "load") < 0)
		return -1;
	repl_added_free(r);
	if (dropped)
		printf("(%zu rule%s added here dropped with the old policy)\n",
		       dropped, dropped == 1 ? "" : "s");
	return 0;
}

/* The same files and the first nt added rules again. */
static int repl_recompile(struct repl *r, const char *cmd, size_t nt)
{
	char **files = r->files;
	int nf = r->nfiles;
	/* repl_compile replaces the file list it is given a copy of. */
	r->files = NULL;
	r->nfiles = 0;
	int rc = repl_compile(r, files, nf, r->added, nt, cmd);
	if (rc < 0) {
		r->files = files;
		r->nfiles = nf;
		return rc;
	}
	for (int i = 0; i < nf; i++)
		free(files[i]);
	free(files);
	return 0;
}

/* `rule add TEXT`: the rule is read as a file of its own, "<rule N>",
 * after the policy.  The keyword `rule` may be left out, the name too
 * (the rule is then "added-N"), and the final ';'. */
static void repl_rule_add(struct repl *r, const char *text)
{
	if (r->nadded == REPL_MAX_ADDED) {
		printf("rule add: %d rules added already; put them in a file and "
		       "load it\n", REPL_MAX_ADDED);
		return;
	}
	char name[32];
	char *body = vsp_repl_rule_text(text, r->nseq + 1);
	if (!body) {
		printf("rule add: usage: rule add [rule \"NAME\":] on EVENT ... : VERDICT;\n");
		return;
	}
	snprintf(name, sizeof name, "<rule %u>", r->nseq + 1);
	struct vsp_load_text *t = &r->added[r->nadded];
	t->name = strdup(name);
	t->text = body;
	t->len = strlen(body);
	if (!t->name || repl_recompile(r, "rule add", r->nadded + 1) < 0) {
		free((char *)t->name);
		free(body);
		return;
	}
	r->nadded++;
	r->nseq++;	/* a failed one leaves its name to the next */
	uint32_t nr = vsp_policy_nrules(r->p);
	printf("rule %u added (%s)\n", nr - 1, vsp_policy_rule(r->p, nr - 1)->name);
}

/* `rule del N`: N as `rules` numbers them; only rules added here. */
static void repl_rule_del(struct repl *r, const char *arg)
{
	char *end;
	errno = 0;
	unsigned long n = arg ? strtoul(arg, &end, 10) : 0;
	if (!arg || errno || *end || arg[0] == '-') {
		printf("rule del: usage: rule del N (the number 'rules' shows)\n");
		return;
	}
	if (!r->p || n >= vsp_policy_nrules(r->p)) {
		printf("rule del: no rule %lu\n", n);
		return;
	}
	const struct vsp_rule_info *ri = vsp_policy_rule(r->p, (uint32_t)n);
	size_t k = 0;
	while (k < r->nadded && (!ri->file || strcmp(ri->file, r->added[k].name) != 0))
		k++;
	if (k == r->nadded) {
		printf("rule del: rule %lu (%s) is in %s:%d; rules from files change "
		       "with the file and 'load'\n", n, ri->name,
		       ri->file ? ri->file : "?", ri->line);
		return;
	}
	struct vsp_load_text gone = r->added[k];
	memmove(&r->added[k], &r->added[k + 1],
		(r->nadded - k - 1) * sizeof r->added[0]);
	r->nadded--;
	if (repl_recompile(r, "rule del", r->nadded) < 0) {
		memmove(&r->added[k + 1], &r->added[k],
			(r->nadded - k) * sizeof r->added[0]);
		r->added[k] = gone;
		r->nadded++;
		return;
	}
	printf("rule %lu deleted (%s)\n", n, gone.name);
	free((char *)gone.name);
	free((char *)gone.text);
}

static void repl_copy(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;
	while (src && n + 1 < size && n < len && src[n])
		n++;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

static void repl_tail_add(struct repl *r, const char *where,
			  const struct vsp_decision *d)
{
	struct repl_tail *t = &r->tail[r->ntail++ % REPL_TAIL];
	const struct vsp_event *ev = &r->te.ev;

	repl_copy(t->where, sizeof t->where, where, SIZE_MAX);
	snprintf(t->event, sizeof t->event, "%s %s",
		 vsp_event_kind_name(ev->kind), ev->name ? ev->name : "?");
	repl_copy(t->rule, sizeof t->rule, d->rule >= 0 ?
		  vsp_policy_rule(r->p, (uint32_t)d->rule)->name : "default",
		  SIZE_MAX);
	repl_copy(t->comm, sizeof t->comm, ev->proc.comm, sizeof ev->proc.comm);
	t->arg[0] = 0;
	if (r->te.nstrings) {
		const struct vsp_trace_string *s = &r->te.strings[0];
		char val[80];
		repl_copy(val, sizeof val, s->val.ptr, s->val.len);
		snprintf(t->arg, sizeof t->arg, "%s=%s", s->key, val);
	}
	t->pid = ev->proc.pid;
	t->verdict = d->verdict;
	t->value = d->value;
	t->cached = d->cached;
}

static void repl_json_str(const char *s)
{
	struct vsp_jbuf b;
	vsp_jbuf_init(&b);
	vsp_jbuf_str(&b, s ? s : "", s ? strlen(s) : 0);
	fwrite(b.p, 1, b.len, stdout);
	vsp_jbuf_release(&b);
}

static void decide_line(struct repl *r, const char *line, size_t len,
			const char *where, bool json)
{
	char err[256];
	struct vsp_decision d;

	if (!r->p) {
		printf("no policy loaded: 'load FILE'\n");
		return;
	}
	r->have_ev = false;
	if (vsp_trace_parse(&r->te, line, len, err, sizeof(err)) < 0) {
		printf("%s: error: %s\n", where, err);
		return;
	}
	r->have_ev = true;
	vsp_event_reset_lazy(&r->te.ev);
	uint64_t t0 = vsp_now_ns();
	vsp_decide(r->p, &r->te.ev, &d);
	vsp_latency_add(&r->rs.latency, vsp_now_ns() - t0);
	for (uint32_t i = 0; i < d.nlearn; i++)
		vsp_policy_learn(r->p, d.learn_rule[i], &r->te.ev);
	const char *rule = d.rule >= 0 ? vsp_policy_rule(r->p, (uint32_t)d.rule)->name
				      : "default";
	if (json) {
		printf("{\"where\":");
		repl_json_str(where);
		printf(",\"seq\":%" PRIu64 ",\"kind\":\"%s\",\"name\":",
		       r->te.ev.seq, vsp_event_kind_name(r->te.ev.kind));
		repl_json_str(r->te.ev.name);
		printf(",\"verdict\":\"%s\",\"value\":%lld,\"redirect\":",
		       vsp_verdict_name(d.verdict), (long long)d.value);
		if (d.verdict == VSP_V_REDIRECT) {
			struct vsp_jbuf b;
			vsp_jbuf_init(&b);
			vsp_jbuf_str(&b, d.redirect.ptr, d.redirect.len);
			fwrite(b.p, 1, b.len, stdout);
			vsp_jbuf_release(&b);
		} else {
			printf("null");
		}
		printf(",\"rule\":");
		repl_json_str(rule);
		printf(",\"cached\":%s,\"partial\":%s,\"steps\":%u}\n",
		       d.cached ? "true" : "false", d.partial ? "true" : "false",
		       d.steps);
	} else {
		printf("%s %s %s: %s", where, vsp_event_kind_name(r->te.ev.kind),
		       r->te.ev.name, vsp_verdict_name(d.verdict));
		if (d.verdict == VSP_V_DENY)
			printf(" errno %lld", (long long)d.value);
		else if (d.verdict == VSP_V_RETURN)
			printf(" %lld", (long long)d.value);
		else if (d.verdict == VSP_V_REDIRECT)
			printf(" \"%.*s\"", (int)d.redirect.len, d.redirect.ptr);
		printf(" (%s%s, %u steps)\n", rule, d.cached ? ", cached" : "",
		       d.steps);
	}
	r->decided++;
	if ((unsigned)d.verdict < VSP_V_COUNT)
		r->verdicts[d.verdict]++;
	repl_tail_add(r, where, &d);
	vsp_audit_decision(&r->audit, &r->te.ev, &d,
			   vsp_policy_mode(r->p) == VSP_MODE_ENFORCE &&
			   d.verdict != VSP_V_ALLOW);
}

/* Decides n events of the trace (n < 0: to its end); Ctrl-C stops it. */
static void step(struct repl *r, long n, bool json)
{
	const char *line;
	size_t len;
	char where[64];

	if (!r->trace_in) {
		printf("no trace: start with --trace FILE\n");
		return;
	}
	vsp_edit_interrupted = 0;
	while (n-- != 0) {
		if (vsp_edit_interrupted) {
			vsp_edit_interrupted = 0;
			printf("interrupted at %s:%lu\n", r->trace_name,
			       r->trace.lineno);
			return;
		}
		int rc = vsp_line_read(&r->trace, &line, &len);
		if (rc == 0) {
			r->trace_done = true;
			printf("end of trace\n");
			return;
		}
		snprintf(where, sizeof(where), "%s:%lu", r->trace_name,
			 r->trace.lineno);
		if (rc < 0) {
			printf("%s: error: line too long or unreadable\n", where);
			continue;
		}
		decide_line(r, line, len, where, json);
	}
}


static void list_rules(struct repl *r, bool json)
{
	uint32_t n = vsp_policy_nrules(r->p), nc = vsp_policy_ncounters(r->p);
	if (json)
		fputs("{\"rules\":[", stdout);
	for (uint32_t i = 0; i < n; i++) {
		const struct vsp_rule_info *ri = vsp_policy_rule(r->p, i);
		uint64_t hits = vsp_policy_rule_hits(r->p, i);
		if (!json) {
			printf("%4u  %-32s %s:%d  hits %" PRIu64 "\n", i, ri->name,
			       ri->file ? ri->file : "?", ri->line, hits);
			continue;
		}
		printf("%s{\"n\":%u,\"name\":", i ? "," : "", i);
		repl_json_str(ri->name);
		fputs(",\"file\":", stdout);
		repl_json_str(ri->file);
		printf(",\"line\":%d,\"hits\":%" PRIu64 "}", ri->line, hits);
	}
	if (json)
		fputs("],\"counters\":{", stdout);
	for (uint32_t i = 0; i < nc; i++) {
		uint64_t v = 0;
		const char *name = vsp_policy_counter(r->p, i, &v);
		if (!json) {
			printf("counter %-24s %" PRIu64 "\n", name ? name : "?", v);
			continue;
		}
		fputs(i ? "," : "", stdout);
		repl_json_str(name);
		printf(":%" PRIu64, v);
	}
	if (json)
		fputs("}}\n", stdout);
}

static void list_events(struct repl *r, bool json)
{
	uint32_t n = vsp_policy_nevents(r->p);
	if (json)
		fputs("{\"events\":[", stdout);
	for (uint32_t i = 0; i < n; i++) {
		const struct vsp_event_key *k = vsp_policy_event(r->p, i);
		if (!json) {
			printf("%-9s %-24s worst case %u steps\n",
			       vsp_event_kind_name(k->kind), k->name, k->max_steps);
			continue;
		}
		printf("%s{\"kind\":\"%s\",\"name\":", i ? "," : "",
		       vsp_event_kind_name(k->kind));
		repl_json_str(k->name);
		printf(",\"max_steps\":%u}", k->max_steps);
	}
	if (json)
		fputs("]}\n", stdout);
}

static void show_status(struct repl *r, bool json)
{
	uint32_t nr = r->p ? vsp_policy_nrules(r->p) : 0;
	uint32_t ne = r->p ? vsp_policy_nevents(r->p) : 0;
	const char *mode = r->p ? vsp_mode_name(vsp_policy_mode(r->p)) : "none";

	if (json) {
		printf("{\"session\":\"trace\",\"policy\":[");
		for (int i = 0; i < r->nfiles; i++) {
			fputs(i ? "," : "", stdout);
			repl_json_str(r->files[i]);
		}
		printf("],\"rules\":%u,\"events\":%u,\"mode\":\"%s\",", nr,
		       ne, mode);
		fputs("\"trace\":", stdout);
		if (r->trace_in)
			repl_json_str(r->trace_name);
		else
			fputs("null", stdout);
		printf(",\"line\":%lu,\"trace_done\":%s,\"decided\":%" PRIu64,
		       r->trace_in ? r->trace.lineno : 0ul,
		       r->trace_done ? "true" : "false", r->decided);
		fputs(",\"verdicts\":{", stdout);
		bool first = true;
		for (int v = 0; v < VSP_V_COUNT; v++)
			if (r->verdicts[v]) {
				printf("%s\"%s\":%" PRIu64, first ? "" : ",",
				       vsp_verdict_name((enum vsp_verdict)v),
				       r->verdicts[v]);
				first = false;
			}
		fputs("}}\n", stdout);
		return;
	}
	printf("session: trace\n");
	if (r->p) {
		printf("policy:");
		for (int i = 0; i < r->nfiles; i++)
			printf(" %s", r->files[i]);
		printf(" (%u rule%s, %u event%s)\n", nr, nr == 1 ? "" : "s", ne,
		       ne == 1 ? "" : "s");
	} else {
		printf("policy: none loaded\n");
	}
	printf("mode: %s\n", mode);
	if (r->trace_in)
		printf("trace: %s, %lu line%s read%s\n", r->trace_name,
		       r->trace.lineno, r->trace.lineno == 1 ? "" : "s",
		       r->trace_done ? ", at its end" : "");
	else
		printf("trace: none (events typed as {JSON} lines)\n");
	printf("decided: %" PRIu64, r->decided);
	for (int v = 0; v < VSP_V_COUNT; v++)
		if (r->verdicts[v])
			printf(", %s %" PRIu64, vsp_verdict_name((enum vsp_verdict)v),
			       r->verdicts[v]);
	printf("\n");
}

static void show_tail(struct repl *r, const char *arg, bool json)
{
	uint64_t n = 10;
	if (arg && strcmp(arg, "-f") == 0) {
		printf("tail -f: follows a live guest's decisions; on a trace "
		       "'run' decides the rest\n");
		return;
	}
	if (arg) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(arg, &end, 10);
		if (errno || *end || v == 0 || arg[0] == '-') {
			printf("tail: N must be a positive number\n");
			return;
		}
		n = v;
	}
	if (n > REPL_TAIL)
		n = REPL_TAIL;
	if (n > r->ntail)
		n = r->ntail;
	if (json) {
		printf("{\"tail\":[");
		for (uint64_t i = r->ntail - n; i < r->ntail; i++) {
			const struct repl_tail *t = &r->tail[i % REPL_TAIL];
			printf("%s{\"where\":", i == r->ntail - n ? "" : ",");
			repl_json_str(t->where);
			printf(",\"event\":");
			repl_json_str(t->event);
			printf(",\"arg\":");
			repl_json_str(t->arg);
			printf(",\"pid\":%" PRId64 ",\"comm\":", t->pid);
			repl_json_str(t->comm);
			printf(",\"verdict\":\"%s\",\"value\":%" PRId64 ",\"rule\":",
			       vsp_verdict_name(t->verdict), t->value);
			repl_json_str(t->rule);
			printf(",\"cached\":%s}", t->cached ? "true" : "false");
		}
		printf("]}\n");
		return;
	}
	if (!r->ntail)
		printf("no decisions yet\n");
	for (uint64_t i = r->ntail - n; i < r->ntail; i++) {
		const struct repl_tail *t = &r->tail[i % REPL_TAIL];
		printf("%s %s", t->where, t->event);
		if (t->arg[0])
			printf(" %s", t->arg);
		if (t->pid >= 0 && t->comm[0])
			printf(" pid %" PRId64 " %s", t->pid, t->comm);
		printf(" -> %s", vsp_verdict_name(t->verdict));
		if (t->verdict == VSP_V_DENY || t->verdict == VSP_V_RETURN)
			printf(" %" PRId64, t->value);
		printf(" (rule %s%s)\n", t->rule, t->cached ? ", cached" : "");
	}
}

/* `eval [--json] EXPR` on the last event decided. */
static void repl_eval(struct repl *r, const char *text)
{
	bool json;
	const char *expr = vsp_repl_json_opt(text, &json);
	struct vsp_eval e;

	if (!*expr) {
		printf("eval: usage: eval %s\n", vsp_repl_commands[VSP_REPL_EVAL].usage);
		return;
	}
	if (!r->p || !r->have_ev) {
		printf("eval: no event yet: 'next', or an event as a {JSON} line\n");
		return;
	}
	/* The files as loaded, then the rules added here. */
	struct vsp_load_opts lo = r->lo;
	lo.texts = r->added;
	lo.ntexts = r->nadded;
	static const char *const none[] = { "/dev/null" };
	int rc = vsp_eval(r->nfiles ? (const char *const *)r->files : none,
			  r->nfiles ? (size_t)r->nfiles : 1, &lo, expr, &r->te.ev, &e);
	if (rc == -1)
		printf("eval: the expression has errors\n");
	else if (rc < 0)
		printf("eval: %s\n", e.why);
	else
		vsp_eval_print(stdout, &e, json);
	free(e.str);
}

/* Whether the words after the command are nothing or exactly --json. */
static int json_flag(const char *cmd, char **w, int n, bool *json)
{
	*json = false;
	if (n == 1)
		return 0;
	if (n == 2 && strcmp(w[1], "--json") == 0) {
		*json = true;
		return 0;
	}
	printf("%s: usage: %s %s\n", cmd, cmd,
	       vsp_repl_commands[vsp_repl_lookup(cmd)].usage);
	return -1;
}

/* One command; 1 when it ends the session. */
static int command_run(struct repl *r, char *line, size_t len)
{
	char *w[64];
	int n;
	bool json;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		       line[len - 1] == '\t' || line[len - 1] == '\n'))
		line[--len] = '\0';
	while (*line == ' ' || *line == '\t' || *line == '\n') {
		line++;
		len--;
	}
	if (!*line || *line == '#')
		return 0;
	if (*line == '{') {
		decide_line(r, line, len, "event", false);
		return 0;
	}
	/* `rule add` takes the rest of the text as it is, lines and all. */
	const char *rest = vsp_repl_rule_add(line);
	if (rest) {
		repl_rule_add(r, rest);
		return 0;
	}
	if ((rest = vsp_repl_after(line, "eval"))) {
		repl_eval(r, rest);
		return 0;
	}
	n = vsp_repl_split(line, w, 64);
	enum vsp_repl_cmd c = vsp_repl_lookup(w[0]);
	if (c == VSP_REPL_UNKNOWN) {
		printf("unknown command '%s': try 'help'\n", w[0]);
		return 0;
	}
	if (!(vsp_repl_commands[c].where & VSP_REPL_TRACE)) {
		printf("%s: %s\n", w[0], vsp_repl_elsewhere(c, VSP_REPL_TRACE));
		return 0;
	}
	/* The commands whose words are their own take --json anywhere. */
	bool jw = false;
	if (c == VSP_REPL_HELP || c == VSP_REPL_MODE || c == VSP_REPL_TAIL ||
	    c == VSP_REPL_NEXT || c == VSP_REPL_RUN)
		jw = vsp_repl_take_json(w, &n);
	bool needs_policy = c == VSP_REPL_RULES || c == VSP_REPL_EVENTS ||
			    c == VSP_REPL_DISASM || c == VSP_REPL_STATS;
	if (needs_policy && !r->p) {
		printf("no policy loaded: 'load FILE'\n");
		return 0;
	}
	switch (c) {
	case VSP_REPL_HELP:
		if (jw && n == 1)
			vsp_repl_help_json(stdout, VSP_REPL_TRACE);
		else
			vsp_repl_help(stdout, VSP_REPL_TRACE, n > 1 ? w[1] : NULL);
		break;
	case VSP_REPL_STATUS:
		if (json_flag(w[0], w, n, &json) == 0)
			show_status(r, json);
		break;
	case VSP_REPL_LOAD:
		repl_load(r, w + 1, n - 1);
		break;
	case VSP_REPL_MODE: {
		char modes[64];
		enum vsp_mode mode;

		if (n == 1 && jw) {
			printf("{\"mode\":");
			if (r->p)
				printf("\"%s\"}\n", vsp_mode_name(vsp_policy_mode(r->p)));
			else
				printf("null}\n");
		} else if (n == 1) {
			printf("mode %s\n", r->p ? vsp_mode_name(vsp_policy_mode(r->p))
						 : "(no policy)");
		} else if (n != 2 || vsp_mode_parse(w[1], &mode) < 0) {
			printf("mode: %s\n",
			       vsp_mode_names(modes, sizeof modes, "or"));
		} else {
			r->lo.mode = mode;
			if (r->nfiles || r->nadded)
				repl_recompile(r, "mode", r->nadded);
			else
				printf("mode %s (for the next load)\n",
				       vsp_mode_name(mode));
		}
		break;
	}
	case VSP_REPL_RULES:
		if (json_flag(w[0], w, n, &json) == 0)
			list_rules(r, json);
		break;
	case VSP_REPL_EVENTS:
		if (json_flag(w[0], w, n, &json) == 0)
			list_events(r, json);
		break;
	case VSP_REPL_STATS:
		if (json_flag(w[0], w, n, &json) == 0) {
			vsp_stats_print(stdout, r->p, &r->rs, json);
			if (!json)
				vsp_latency_draw(stdout, "decision latency (ns)",
						 &r->rs.latency, 40);
		}
		break;
	case VSP_REPL_RELOAD:
		if (!r->nfiles)
			printf("reload: nothing loaded yet: 'load FILE'\n");
		else if (repl_recompile(r, "reload", r->nadded) == 0)
			printf("reloaded %d file%s\n", r->nfiles,
			       r->nfiles == 1 ? "" : "s");
		break;
	case VSP_REPL_TAIL:
		show_tail(r, n > 1 ? w[1] : NULL, jw);
		break;
	case VSP_REPL_RULE:
		if (n >= 2 && strcmp(w[1], "del") == 0 && n <= 3)
			repl_rule_del(r, n > 2 ? w[2] : NULL);
		else
			printf("rule: usage: rule %s\n", vsp_repl_commands[c].usage);
		break;
	case VSP_REPL_DISASM:
		vsp_policy_disasm(r->p, stdout);
		break;
	case VSP_REPL_DECIDE:
		break;	/* handled above, as the line is JSON, not words */
	case VSP_REPL_NEXT: {
		long k = 1;
		if (n > 1) {
			char *end;
			errno = 0;
			k = strtol(w[1], &end, 10);
			if (errno || *end || k <= 0) {
				printf("next: N must be a positive number\n");
				break;
			}
		}
		step(r, k, jw);
		break;
	}
	case VSP_REPL_RUN:
		step(r, -1, jw);
		break;
	case VSP_REPL_QUIT:
		return 1;
	default:
		break;	/* live only: answered above */
	}
	return 0;
}

/* A command; one that acts, given --json, answers with one object made
 * of the lines it printed (standard output caught for the while). */
static int command(struct repl *r, char *line, size_t len)
{
	char name[16];
	int saved = -1;

	if (!vsp_repl_action_json(line, name, sizeof name))
		return command_run(r, line, len);
	FILE *tmp = tmpfile();
	fflush(stdout);
	if (!tmp || (saved = dup(STDOUT_FILENO)) < 0 ||
	    dup2(fileno(tmp), STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		if (tmp)
			fclose(tmp);
		return command_run(r, line, len);
	}
	int rc = command_run(r, line, len);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	long n = ftell(tmp);
	char *text = n > 0 ? malloc((size_t)n) : NULL;
	rewind(tmp);
	size_t got = text ? fread(text, 1, (size_t)n, tmp) : 0;
	fclose(tmp);
	vsp_json_answer(stdout, name, text ? text : "", got);
	fflush(stdout);
	free(text);
	return rc;
}

int vsp_cmd_repl(int argc, char **argv)
{
	enum { OPT_HISTORY = 0x2000 };
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "audit", required_argument, NULL, 'a' },
		{ "history", required_argument, NULL, OPT_HISTORY },
		{ "gdb", required_argument, NULL, 'g' },
		{ "xen", required_argument, NULL, 'x' },
		VSP_CLI_EXTERN_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct repl r;
	const char *trace = NULL, *audit = NULL, *history = NULL;
	int c, status = 0;

	/* A live session is the monitor, interactive, with every attach
	 * option: hand the whole command line over. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--gdb") == 0 || strcmp(a, "-g") == 0 ||
		    strcmp(a, "--xen") == 0 || strcmp(a, "-x") == 0 ||
		    strncmp(a, "--gdb=", 6) == 0 || strncmp(a, "--xen=", 6) == 0) {
			char **av = calloc((size_t)argc + 2, sizeof(*av));
			int an = 0;
			if (!av)
				return 2;
			av[an++] = "attach";
			av[an++] = "--interactive";
			for (int k = 1; k < argc; k++)
				av[an++] = argv[k];
			int rc = vsp_cmd_attach(an, av);
			free(av);
			return rc;
		}
	}

	memset(&r, 0, sizeof(r));
	r.lo.mode = VSP_MODE_UNSET;
	r.lo.diag = stdout;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:a:g:x:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = optarg;
			break;
		case 'a':
			audit = optarg;
			break;
		case OPT_HISTORY:
			history = optarg;
			break;
		case 'h':
			fputs(repl_help, stdout);
			return 0;
		default:
			switch (vsp_cli_extern_opt(c, optarg, &r.lo.ext)) {
			case 1:
				continue;
			case -1:
				return 2;
			}
			fputs(repl_help, stderr);
			return 2;
		}
	}
	if (trace) {
		r.trace_in = strcmp(trace, "-") == 0 ? NULL : fopen(trace, "r");
		if (!r.trace_in) {
			fprintf(stderr, "vsp: cannot read %s: %s\n", trace,
				strcmp(trace, "-") == 0 ? "the commands come from "
				"standard input" : strerror(errno));
			return 2;
		}
		r.trace_name = trace;
		vsp_line_reader_init(&r.trace, r.trace_in);
	}
	/* Audit records never mix with the answers on standard output. */
	r.sink = audit ? vsp_cli_open_sink("repl", audit, VSP_AUDIT_FMT_VSP, false)
		       : vsp_sink_stream(stderr, VSP_AUDIT_FMT_VSP);
	if (!r.sink) {
		status = 2;
		goto out_trace;
	}
	vsp_trace_event_init(&r.te);
	if (optind < argc)
		repl_load(&r, argv + optind, argc - optind);

	struct vsp_repl_complete comp = {
		.where = VSP_REPL_TRACE, .files = &r.files, .nfiles = &r.nfiles,
	};
	struct vsp_edit_opts eo = {
		.history = vsp_edit_history_path(history),
		.complete = vsp_repl_complete, .ctx = &comp,
	};
	struct vsp_edit *ed = vsp_edit_open(stdin, stdout, &eo);
	if (!ed) {
		fprintf(stderr, "vsp repl: cannot set up the terminal\n");
		status = 2;
		goto out_policy;
	}
	vsp_edit_sigint(true);
	const char *line;
	size_t len;
	while (vsp_edit_read(ed, &line, &len) == 1) {
		int q = command(&r, (char *)line, len);
		fflush(stdout);
		if (q)
			break;
	}
	vsp_edit_sigint(false);
	vsp_edit_close(ed);
out_policy:
	if (r.p) {
		if (vsp_policy_mode(r.p) == VSP_MODE_LEARN)
			vsp_policy_save_profiles(r.p, stderr);
		vsp_audit_release(&r.audit);
		vsp_policy_free(r.p);
	}
	repl_files_free(&r);
	repl_added_free(&r);
	vsp_trace_event_release(&r.te);
	int rc = vsp_sink_close(r.sink);
	if (rc < 0 && !status) {
		fprintf(stderr, "vsp repl: closing %s: %s\n", audit ? audit : "the audit",
			strerror(-rc));
		status = 2;
	}
out_trace:
	if (r.trace_in) {
		vsp_line_reader_release(&r.trace);
		fclose(r.trace_in);
	}
	return status;
}
