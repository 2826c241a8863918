/*
 * session.c: the interactive session of `vsp repl --gdb|--xen` (vmi/mon.h):
 * reading and dispatching commands, stopping and resuming the guest,
 * swapping the policy (load, rule add and del, reload, SIGHUP), and the
 * session's own state (status, events, rules).  The commands that read
 * the guest or the decisions made (regs, mem, sym, ps, tail, bt) are in
 * vmi/session_guest.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/repl.h"
#include "interp/json.h"
#include "vmi/mon.h"

/*
 * `vsp repl --gdb`: commands arrive on o->ctl_fd, one a line, and are
 * answered on m->out.  They run only while no trap is being handled: the
 * loop looks for them when a wait for a stop times out (the guest is
 * quiet) or when a tenth of a second has gone by since the last look (a
 * busy guest), so the traps themselves cost what they cost under attach.
 * Whatever must touch the guest (registers, memory, moving traps) first
 * stops it with an interrupt, handling any trap that arrives first.
 */

/* Brings a running guest to a stop and keeps it there.  Traps that arrive
 * before the interrupt's stop are handled as usual (and resume the guest,
 * so the interrupt is sent again). */
int mon_stop_guest(struct mon *m)
{
	if (m->paused)
		return 0;
	for (int tries = 0; tries < 10; tries++) {
		int rc = m->be.ops->interrupt(&m->be);
		if (rc < 0)
			return rc;
		for (int k = 0; k < 30; k++) {
			struct vsp_stop st;
			rc = m->be.ops->wait(&m->be, &st, 100);
			if (rc == -EINTR)
				continue;
			if (rc < 0)
				return rc;
			if (st.kind == VSP_STOP_TIMEOUT)
				continue;
			if (st.kind == VSP_STOP_EXITED)
				return -ENOTCONN;
			if (st.kind == VSP_STOP_TRAP || st.kind == VSP_STOP_WATCH) {
				rc = st.kind == VSP_STOP_TRAP ? mon_on_trap(m, &st) :
				     mon_on_watch(m, &st);
				if (rc < 0)
					return rc;
				if (rc == MON_PAUSED) {
					m->rule_paused = !m->held;
					m->pause_addr = st.addr;
					m->paused = true;
					return 0;
				}
				break;
			}
			m->vcpu = st.vcpu;
			m->paused = true;
			return 0;
		}
	}
	return -ETIMEDOUT;
}

int mon_go(struct mon *m)
{
	if (!m->paused)
		return 0;
	int rc;
	m->paused = false;
	if (m->held) {
		rc = mon_release_held(m);
		if (rc == MON_PAUSED) {
			m->paused = m->rule_paused = true;
			m->pause_addr = m->held_addr;
			fprintf(m->out, "guest paused by a rule; 'continue' resumes it\n");
			return 0;
		}
		return rc < 0 ? rc : 0;
	}
	if (m->rule_paused) {
		/* The vCPU sits on a trap (or where one was). */
		m->rule_paused = false;
		rc = mon_leave(m, mon_trap_at(m, m->pause_addr));
	} else {
		struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
		rc = m->be.ops->resume(&m->be, m->vcpu, &go);
	}
	return rc;
}

/* What the session compiles with: attach's options, diagnostics to the
 * session, and the mode `mode` set (learning needs code of its own). */
static struct vsp_load_opts mon_load_opts(const struct mon *m)
{
	struct vsp_load_opts lo;

	if (m->o->load)
		lo = *m->o->load;
	else {
		memset(&lo, 0, sizeof lo);
		lo.mode = VSP_MODE_UNSET;
	}
	lo.diag = m->out;
	if (m->mode_forced)
		lo.mode = m->mode;
	return lo;
}

/*
 * Compiles `files` and then the rule texts, and swaps the result in
 * between two traps, moving the traps.  *swapped says whether it did; on
 * errors the old policy stays (the diagnostics, caret and all, say why).
 * `cmd` names the command in messages.  0, or < 0: lost the guest.
 */
static int mon_policy_swap(struct mon *m, char *const *files, size_t n,
			   const struct vsp_load_text *texts, size_t nt,
			   const char *cmd, bool *swapped)
{
	FILE *out = m->out;
	*swapped = false;
	struct vsp_load_opts lo = mon_load_opts(m);
	lo.texts = texts;
	lo.ntexts = nt;
	int nerr = 0;
	/* An empty file list is the empty policy, as attach reads it. */
	static const char *const none[] = { "/dev/null" };
	struct vsp_policy *p = vsp_policy_load(n ? (const char *const *)files : none,
					       n ? n : 1, &lo, &nerr);
	if (!p) {
		fprintf(out, "%s: failed (%d error%s); the old policy stays\n",
			cmd, nerr, nerr == 1 ? "" : "s");
		return 0;
	}
	if (mon_refusals(m, p, out) > 0) {
		fprintf(out, "%s: refused: the policy names events that cannot "
			"be trapped here; the old policy stays\n", cmd);
		vsp_policy_free(p);
		return 0;
	}
	/* Between two traps: the guest stopped, no event half handled. */
	bool was_paused = m->paused;
	int rc = mon_stop_guest(m);
	if (rc < 0) {
		vsp_policy_free(p);
		return rc;
	}
	if (m->rd.active)
		mon_redirect_cancel(m, "the policy was replaced");
	struct vsp_policy *old = m->p;
	/* What the old policy learned (`mode` may have just left learn). */
	if (vsp_policy_mode(old) == VSP_MODE_LEARN)
		vsp_policy_save_profiles(old, stderr);
	/* The audit counts run on across policies. */
	uint64_t records = m->audit.records, werr = m->audit.write_errors;
	if (m->have_audit)
		vsp_audit_release(&m->audit);
	m->p = p;
	if (m->have_audit) {
		mon_audit_init(m, p);
		m->audit.flush_each = true;
		m->audit.records = records;
		m->audit.write_errors = werr;
	}
	if (!m->mode_forced)
		m->mode = vsp_policy_mode(p);
	m->gen++;
	m->kept = 0;
	memset(m->hkey, 0, sizeof m->hkey);
	/* Watched objects are placed again for the new policy's events. */
	vsp_watch_release(&m->ws, &m->be);
	m->wrun.on = false;
	if (mon_setup_traps(m) != 0)
		fprintf(out, "load: some traps could not be installed\n");
	/* What the old policy trapped and the new one does not. */
	uint64_t removed = 0;
	for (size_t i = 0; i < m->ntraps; i++) {
		struct mon_trap *t = &m->traps[i];
		if (t->role != MON_T_EVENT || t->gen == m->gen)
			continue;
		rc = m->be.ops->trap_del(&m->be, t->addr);
		if (rc < 0 && rc != -ENOENT) {
			fprintf(out, "load: cannot remove the trap at 0x%" PRIx64
				": %s\n", t->addr, vsp_backend_error(&m->be, rc));
			if (rc == -ENOTCONN)
				return rc;
		}
		t->role = MON_T_FREE;
		removed++;
	}
	m->installed = mon_count_traps(m);
	if (old != m->o->policy)
		vsp_policy_free(old);
	*swapped = true;
	fprintf(out, "%s %u rule%s, %u event%s, mode %s; traps: %" PRIu64
		" kept, %" PRIu64 " added, %" PRIu64 " removed, %" PRIu64
		" installed\n", strcmp(cmd, "load") == 0 ? "loaded" : "now",
		vsp_policy_nrules(p),
		vsp_policy_nrules(p) == 1 ? "" : "s", vsp_policy_nevents(p),
		vsp_policy_nevents(p) == 1 ? "" : "s", vsp_mode_name(m->mode),
		m->kept, m->installed - m->kept, removed, m->installed);
	if (!was_paused && !m->rule_paused)
		return mon_go(m);
	return 0;
}

static void mon_files_free(char **files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

static char **mon_files_copy(char *const *files, size_t n)
{
	char **c = calloc(n + 1, sizeof *c);
	for (size_t i = 0; c && i < n; i++)
		if (!(c[i] = strdup(files[i]))) {
			mon_files_free(c, i);
			return NULL;
		}
	return c;
}

static void mon_added_free(struct mon *m)
{
	for (size_t i = 0; i < m->nadded; i++) {
		free((char *)m->added[i].name);
		free((char *)m->added[i].text);
	}
	m->nadded = 0;
}

int mon_session_init(struct mon *m)
{
	m->files = mon_files_copy((char *const *)m->o->files, m->o->nfiles);
	m->nfiles = m->files ? m->o->nfiles : 0;
	return m->files ? 0 : -1;
}

void mon_session_release(struct mon *m)
{
	if (m->files)
		mon_files_free(m->files, m->nfiles);
	m->files = NULL;
	mon_added_free(m);
}

/* `load FILE...`: the files replace the policy, added rules included. */
static int mon_cmd_load(struct mon *m, char **files, int n)
{
	if (n <= 0) {
		fprintf(m->out, "load: no policy file given\n");
		return 0;
	}
	char **copy = mon_files_copy(files, (size_t)n);
	if (!copy) {
		fprintf(m->out, "load: out of memory\n");
		return 0;
	}
	bool swapped;
	int rc = mon_policy_swap(m, files, (size_t)n, NULL, 0, "load", &swapped);
	if (!swapped) {
		mon_files_free(copy, (size_t)n);
		return rc;
	}
	if (m->files)
		mon_files_free(m->files, m->nfiles);
	m->files = copy;
	m->nfiles = (size_t)n;
	if (m->nadded)
		fprintf(m->out, "(%zu rule%s added here dropped with the old "
			"policy)\n", m->nadded, m->nadded == 1 ? "" : "s");
	mon_added_free(m);
	return rc;
}

/* `rule add TEXT`: the rule is read as a file of its own, "<rule N>",
 * after the files, checked like them, and swapped in between two traps
 * with the traps it needs. */
static int mon_cmd_rule_add(struct mon *m, const char *text)
{
	if (m->nadded == MON_MAX_ADDED) {
		fprintf(m->out, "rule add: %d rules added already; put them in a "
			"file and load it\n", MON_MAX_ADDED);
		return 0;
	}
	char *body = vsp_repl_rule_text(text, m->nseq + 1);
	char name[32];
	if (!body) {
		fprintf(m->out, "rule add: usage: rule add [rule \"NAME\":] on "
			"EVENT ... : VERDICT;\n");
		return 0;
	}
	snprintf(name, sizeof name, "<rule %u>", m->nseq + 1);
	struct vsp_load_text *t = &m->added[m->nadded];
	t->name = strdup(name);
	t->text = body;
	t->len = strlen(body);
	bool swapped = false;
	int rc = t->name ? mon_policy_swap(m, m->files, m->nfiles, m->added,
					   m->nadded + 1, "rule add", &swapped) : 0;
	if (!swapped) {
		free((char *)t->name);
		free(body);
		t->name = t->text = NULL;
		return rc;
	}
	m->nadded++;
	m->nseq++;	/* a failed one leaves its name to the next */
	uint32_t nr = vsp_policy_nrules(m->p);
	fprintf(m->out, "rule %u added (%s)\n", nr - 1,
		vsp_policy_rule(m->p, nr - 1)->name);
	return rc;
}

/* `rule del N`: N as `rules` numbers them; only rules added here. */
static int mon_cmd_rule_del(struct mon *m, const char *arg)
{
	char *end;
	errno = 0;
	unsigned long n = arg ? strtoul(arg, &end, 10) : 0;
	if (!arg || errno || *end || arg[0] == '-') {
		fprintf(m->out, "rule del: usage: rule del N (the number 'rules' "
			"shows)\n");
		return 0;
	}
	if (n >= vsp_policy_nrules(m->p)) {
		fprintf(m->out, "rule del: no rule %lu\n", n);
		return 0;
	}
	const struct vsp_rule_info *ri = vsp_policy_rule(m->p, (uint32_t)n);
	size_t k = 0;
	while (k < m->nadded && (!ri->file || strcmp(ri->file, m->added[k].name) != 0))
		k++;
	if (k == m->nadded) {
		fprintf(m->out, "rule del: rule %lu (%s) is in %s:%d; rules from "
			"files change with the file and 'load'\n", n, ri->name,
			ri->file ? ri->file : "?", ri->line);
		return 0;
	}
	struct vsp_load_text gone = m->added[k];
	memmove(&m->added[k], &m->added[k + 1],
		(m->nadded - k - 1) * sizeof m->added[0]);
	m->nadded--;
	bool swapped;
	int rc = mon_policy_swap(m, m->files, m->nfiles, m->added, m->nadded,
				 "rule del", &swapped);
	if (!swapped) {
		memmove(&m->added[k + 1], &m->added[k],
			(m->nadded - k) * sizeof m->added[0]);
		m->added[k] = gone;
		m->nadded++;
		return rc;
	}
	fprintf(m->out, "rule %lu deleted (%s)\n", n, gone.name);
	free((char *)gone.name);
	free((char *)gone.text);
	return rc;
}

int mon_reload(struct mon *m)
{
	const struct vsp_monitor_hooks *h = m->o->hooks;
	struct vsp_monitor_view v;
	FILE *saved = m->out;
	uint32_t gen = m->gen;

	m->out = stderr;
	bool swapped;
	int rc = mon_policy_swap(m, (char *const *)h->files, h->nfiles, NULL, 0,
				 "load", &swapped);
	m->out = saved;
	if (h->reloaded)
		h->reloaded(h->ctx, mon_view(m, &v), m->gen != gen);
	return rc;
}

void mon_json_str(FILE *out, const char *str)
{
	struct vsp_jbuf b;
	vsp_jbuf_init(&b);
	vsp_jbuf_str(&b, str ? str : "", str ? strlen(str) : 0);
	fwrite(b.p, 1, b.len, out);
	vsp_jbuf_release(&b);
}

static const char *mon_guest_state(const struct mon *m)
{
	return !m->paused ? "running" : m->rule_paused ? "paused by a rule" : "paused";
}

static void mon_cmd_status(struct mon *m, bool json)
{
	FILE *out = m->out;
	if (json) {
		fputs("{\"session\":\"live\",\"target\":", out);
		mon_json_str(out, m->o->target);
		fprintf(out, ",\"backend\":\"%s\",\"vcpus\":%u,\"guest\":\"%s\","
			"\"mode\":\"%s\",\"events\":%" PRIu64 ",\"traps\":%" PRIu64
			",\"trap_hits\":%" PRIu64 ",\"rules\":%u,\"policy_events\":%u"
			",\"rules_added\":%zu}\n", m->o->ops->name, m->be.ncpus,
			mon_guest_state(m), vsp_mode_name(m->mode), m->seq,
			mon_count_traps(m), m->trap_hits, vsp_policy_nrules(m->p),
			vsp_policy_nevents(m->p), m->nadded);
		return;
	}
	fprintf(out, "attached: %s (%s, %u vCPU)\n", m->o->target,
		m->o->ops->name, m->be.ncpus);
	if (!m->paused)
		fprintf(out, "guest: running\n");
	else if (m->rule_paused)
		fprintf(out, "guest: paused by a rule at 0x%" PRIx64 "\n",
			m->pause_addr);
	else
		fprintf(out, "guest: paused\n");
	fprintf(out, "mode: %s\n", vsp_mode_name(m->mode));
	fprintf(out, "events: %" PRIu64 "\n", m->seq);
	fprintf(out, "traps: %" PRIu64 " installed, %" PRIu64 " hit\n",
		mon_count_traps(m), m->trap_hits);
	fprintf(out, "policy: %u rules, %u events", vsp_policy_nrules(m->p),
		vsp_policy_nevents(m->p));
	if (m->nadded)
		fprintf(out, " (%zu rule%s added here)", m->nadded,
			m->nadded == 1 ? "" : "s");
	fputc('\n', out);
}

static void mon_cmd_events(struct mon *m, bool json)
{
	char sym[160];
	bool first = true;
	if (json)
		fputs("{\"traps\":[", m->out);
	for (size_t i = 0; i < m->ntraps; i++) {
		const struct mon_trap *t = &m->traps[i];
		if (t->role != MON_T_EVENT)
			continue;
		const char *s = m->syms ? vsp_sym_format(m->syms, t->addr, sym, sizeof sym) : NULL;
		if (json) {
			fprintf(m->out, "%s{\"addr\":\"0x%016" PRIx64 "\",\"kind\":\"%s\","
				"\"name\":", first ? "" : ",", t->addr,
				vsp_event_kind_name(t->site->kind));
			mon_json_str(m->out, t->name);
			fputs(",\"symbol\":", m->out);
			mon_json_str(m->out, s);
			fprintf(m->out, ",\"hits\":%" PRIu64 "}", t->hits);
			first = false;
			continue;
		}
		fprintf(m->out, "0x%016" PRIx64 "  %-8s %-20s %-32s hits %" PRIu64 "\n",
			t->addr, vsp_event_kind_name(t->site->kind),
			t->name ? t->name : "?", s ? s : "", t->hits);
	}
	if (json) {
		fputs("]}\n", m->out);
		return;
	}
	fprintf(m->out, "%" PRIu64 " trap%s\n", mon_count_traps(m),
		mon_count_traps(m) == 1 ? "" : "s");
}

/* The rules, numbered as `rule del` takes them, with their hits. */
static void mon_cmd_rules(struct mon *m, bool json)
{
	FILE *out = m->out;
	uint32_t n = vsp_policy_nrules(m->p), nc = vsp_policy_ncounters(m->p);
	if (json)
		fputs("{\"rules\":[", out);
	for (uint32_t i = 0; i < n; i++) {
		const struct vsp_rule_info *r = vsp_policy_rule(m->p, i);
		uint64_t hits = vsp_policy_rule_hits(m->p, i);
		if (!json) {
			fprintf(out, "%4u  %-32s %s:%d  hits %" PRIu64 "\n", i, r->name,
				r->file ? r->file : "?", r->line, hits);
			continue;
		}
		fprintf(out, "%s{\"n\":%u,\"name\":", i ? "," : "", i);
		mon_json_str(out, r->name);
		fputs(",\"file\":", out);
		mon_json_str(out, r->file);
		fprintf(out, ",\"line\":%d,\"hits\":%" PRIu64 "}", r->line, hits);
	}
	if (json)
		fputs("],\"counters\":{", out);
	for (uint32_t i = 0; i < nc; i++) {
		uint64_t v = 0;
		const char *name = vsp_policy_counter(m->p, i, &v);
		if (!json) {
			fprintf(out, "counter %-24s %" PRIu64 "\n", name ? name : "?", v);
			continue;
		}
		fputs(i ? "," : "", out);
		mon_json_str(out, name);
		fprintf(out, ":%" PRIu64, v);
	}
	if (json)
		fputs("}}\n", out);
}


/* Whether the words after the command are nothing or exactly --json;
 * -1 after a usage message. */
static int mon_json_flag(struct mon *m, enum vsp_repl_cmd c, char **w, int n,
			 bool *json)
{
	*json = n == 2 && strcmp(w[1], "--json") == 0;
	if (n == 1 || *json)
		return 0;
	fprintf(m->out, "%s: usage: %s %s\n", w[0], vsp_repl_commands[c].name,
		vsp_repl_commands[c].usage);
	return -1;
}

/* `step`: the guest runs to its next event and stops before it is
 * decided (one held now is decided first). */
static int mon_cmd_step(struct mon *m)
{
	if (m->rule_paused) {
		fprintf(m->out, "step: the guest is paused by a rule; 'continue' "
			"first\n");
		return 0;
	}
	if (m->paused) {
		int rc = mon_go(m);
		if (rc < 0 || m->paused)
			return rc;	/* lost, or the held event paused it */
	}
	m->step_armed = true;
	fprintf(m->out, "stepping: the guest stops at its next event\n");
	return 0;
}

/* `eval [--json] EXPR` on the event `step` holds. */
static void mon_cmd_eval(struct mon *m, const char *text)
{
	bool json;
	const char *expr = vsp_repl_json_opt(text, &json);
	struct vsp_eval e;

	if (!*expr) {
		fprintf(m->out, "eval: usage: eval %s\n",
			vsp_repl_commands[VSP_REPL_EVAL].usage);
		return;
	}
	if (!m->held) {
		fprintf(m->out, "eval: no event is held: 'step' stops the guest "
			"at its next one\n");
		return;
	}
	struct vsp_load_opts lo = mon_load_opts(m);
	lo.texts = m->added;
	lo.ntexts = m->nadded;
	static const char *const none[] = { "/dev/null" };
	/* The strings it reads come from the stopped guest, as a decision's
	 * would, and stay for the decision `continue` makes. */
	int rc = vsp_eval(m->nfiles ? (const char *const *)m->files : none,
			  m->nfiles ? m->nfiles : 1, &lo, expr, &m->ev, &e);
	if (rc == -1)
		fprintf(m->out, "eval: the expression has errors\n");
	else if (rc < 0)
		fprintf(m->out, "eval: %s\n", e.why);
	else
		vsp_eval_print(m->out, &e, json);
	free(e.str);
}

/* One command (its lines joined).  1: detach and end, 0: go on, < 0:
 * lost the guest.  The commands are base/repl.h's, as on a trace. */
static int mon_cmd_run(struct mon *m, char *line)
{
	FILE *out = m->out;
	char *w[64];
	int rc = 0;
	bool json;

	/* A line while `tail -f` follows ends the following; Ctrl-C at the
	 * line editor sends one of its own ("\x03"), which does no more. */
	if (m->follow) {
		m->follow = false;
		if (!m->follow_json)
			fprintf(out, "(stopped following)\n");
		m->follow_json = false;
		fflush(out);
	}
	while (*line == ' ' || *line == '\t' || *line == '\n' || *line == '\r' ||
	       *line == '\x03')
		line++;
	if (!*line || *line == '#')
		return 0;
	/* `rule add` takes the rest of the text as it is, lines and all. */
	const char *rest = vsp_repl_rule_add(line);
	if (rest) {
		rc = mon_cmd_rule_add(m, rest);
		fflush(out);
		return rc;
	}
	if ((rest = vsp_repl_after(line, "eval"))) {
		mon_cmd_eval(m, rest);
		fflush(out);
		return 0;
	}
	int n = vsp_repl_split(line, w, 64);
	enum vsp_repl_cmd c = vsp_repl_lookup(w[0]);
	if (c == VSP_REPL_UNKNOWN) {
		fprintf(out, "unknown command '%s': try 'help'\n", w[0]);
		fflush(out);
		return 0;
	}
	if (!(vsp_repl_commands[c].where & VSP_REPL_LIVE)) {
		fprintf(out, "%s: %s\n", w[0], vsp_repl_elsewhere(c, VSP_REPL_LIVE));
		fflush(out);
		return 0;
	}
	/* The commands whose words are their own take --json anywhere. */
	bool jw = false;
	if (c == VSP_REPL_HELP || c == VSP_REPL_MODE || c == VSP_REPL_TAIL ||
	    c == VSP_REPL_REGS || c == VSP_REPL_MEM || c == VSP_REPL_SYM ||
	    c == VSP_REPL_BT)
		jw = vsp_repl_take_json(w, &n);
	if ((c == VSP_REPL_REGS || c == VSP_REPL_MEM) && !m->paused) {
		fprintf(out, "%s: the guest runs; 'pause' first\n", w[0]);
		fflush(out);
		return 0;
	}
	switch (c) {
	case VSP_REPL_HELP:
		if (jw && n == 1)
			vsp_repl_help_json(out, VSP_REPL_LIVE);
		else
			vsp_repl_help(out, VSP_REPL_LIVE, n > 1 ? w[1] : NULL);
		break;
	case VSP_REPL_STATUS:
		if (mon_json_flag(m, c, w, n, &json) == 0)
			mon_cmd_status(m, json);
		break;
	case VSP_REPL_STATS:
		if (mon_json_flag(m, c, w, n, &json) == 0) {
			mon_run_stats(m, out, json, mon_count_traps(m), false);
			if (!json) {
				vsp_latency_draw(out, "decision latency (ns)",
						 &m->rs.latency, 40);
				vsp_latency_draw(out, "trap latency, stop to resume (ns)",
						 &m->rs.trap_latency, 40);
			}
		}
		break;
	case VSP_REPL_RELOAD: {
		bool swapped = false;
		rc = mon_policy_swap(m, m->files, m->nfiles, m->added, m->nadded,
				     "reload", &swapped);
		if (swapped)
			fprintf(out, "reloaded %zu file%s\n", m->nfiles,
				m->nfiles == 1 ? "" : "s");
		break;
	}
	case VSP_REPL_RULES:
		if (mon_json_flag(m, c, w, n, &json) == 0)
			mon_cmd_rules(m, json);
		break;
	case VSP_REPL_RULE:
		if (n >= 2 && n <= 3 && strcmp(w[1], "del") == 0)
			rc = mon_cmd_rule_del(m, n > 2 ? w[2] : NULL);
		else
			fprintf(out, "rule: usage: rule %s\n", vsp_repl_commands[c].usage);
		break;
	case VSP_REPL_EVENTS:
		if (mon_json_flag(m, c, w, n, &json) == 0)
			mon_cmd_events(m, json);
		break;
	case VSP_REPL_LOAD:
		rc = mon_cmd_load(m, w + 1, n - 1);
		break;
	case VSP_REPL_MODE: {
		enum vsp_mode mode;
		char modes[64];

		if (n == 1) {
			fprintf(out, jw ? "{\"mode\":\"%s\"}\n" : "mode %s\n",
				vsp_mode_name(m->mode));
		} else if (n != 2 || vsp_mode_parse(w[1], &mode) < 0) {
			fprintf(out, "mode: %s\n",
				vsp_mode_names(modes, sizeof modes, "or"));
		} else {
			/* The policy compiled again for the mode (learn mode
			 * has code of its own), swapped in between two traps. */
			enum vsp_mode was = m->mode;
			bool was_forced = m->mode_forced, swapped = false;
			m->mode = mode;
			m->mode_forced = true;
			rc = mon_policy_swap(m, m->files, m->nfiles, m->added,
					     m->nadded, "mode", &swapped);
			if (!swapped) {
				m->mode = was;
				m->mode_forced = was_forced;
			} else {
				fprintf(out, jw ? "{\"mode\":\"%s\"}\n" : "mode %s\n",
					vsp_mode_name(mode));
			}
		}
		break;
	}
	case VSP_REPL_DISASM:
		vsp_policy_disasm(m->p, out);
		break;
	case VSP_REPL_PAUSE:
		if (m->paused) {
			fprintf(out, "the guest is paused already\n");
		} else {
			rc = mon_stop_guest(m);
			if (rc == 0)
				fprintf(out, "paused%s\n", m->rule_paused ?
					" (by a rule, at a trap)" : "");
		}
		break;
	case VSP_REPL_CONTINUE:
		if (!m->paused) {
			fprintf(out, "the guest runs already\n");
		} else {
			rc = mon_go(m);
			if (rc == 0)
				fprintf(out, "running\n");
		}
		break;
	case VSP_REPL_REGS:
		mon_cmd_regs(m, jw);
		break;
	case VSP_REPL_MEM:
		mon_cmd_mem(m, n > 1 ? w[1] : NULL, n > 2 ? w[2] : NULL, jw);
		break;
	case VSP_REPL_SYM:
		mon_cmd_sym(m, n > 1 ? w[1] : NULL, jw);
		break;
	case VSP_REPL_PS:
		if (mon_json_flag(m, c, w, n, &json) == 0)
			rc = mon_cmd_ps(m, json);
		break;
	case VSP_REPL_TAIL:
		mon_cmd_tail(m, w, n, jw);
		break;
	case VSP_REPL_BT:
		mon_cmd_bt(m, n > 1 ? w[1] : NULL, jw);
		break;
	case VSP_REPL_STEP:
		rc = mon_cmd_step(m);
		break;
	case VSP_REPL_QUIT:
		rc = 1;
		break;
	case VSP_REPL_EVAL:	/* answered above: the rest of the line is EXPR */
	case VSP_REPL_DECIDE: case VSP_REPL_NEXT: case VSP_REPL_RUN:
	case VSP_REPL_NCOMMANDS: case VSP_REPL_UNKNOWN:
		break;	/* a trace's: answered above */
	}
	fflush(out);
	return rc;
}

/* A command; one that acts, given --json, answers with one object made
 * of the lines it printed. */
static int mon_cmd(struct mon *m, char *line)
{
	char name[16], *text = NULL;
	size_t len = 0;

	if (!vsp_repl_action_json(line, name, sizeof name))
		return mon_cmd_run(m, line);
	FILE *out = m->out, *mem = open_memstream(&text, &len);
	if (!mem)
		return mon_cmd_run(m, line);
	m->out = mem;
	int rc = mon_cmd_run(m, line);
	m->out = out;
	fclose(mem);
	vsp_json_answer(out, name, text, len);
	free(text);
	fflush(out);
	return rc;
}

void mon_prompt(struct mon *m)
{
	/* While `tail -f` follows, the editor stays without a prompt (its
	 * Ctrl-C ends the following). */
	if (m->follow)
		return;
	if (m->o->ctl_ready)
		m->o->ctl_ready(m->o->ctl_ctx);
	else if (isatty(m->o->ctl_fd)) {
		fputs("vsp> ", m->out);
		fflush(m->out);
	}
}

/* Looks for commands for up to timeout_ms and runs every whole line.
 * 1: detach (asked, or end of input), 0: go on, < 0: lost the guest. */
int mon_ctl(struct mon *m, int timeout_ms)
{
	struct pollfd pf = { .fd = m->o->ctl_fd, .events = POLLIN };
	m->ctl_ns = vsp_now_ns();
	int k = poll(&pf, 1, timeout_ms);
	if (k <= 0)
		return 0;
	ssize_t r = read(pf.fd, m->ctl_buf + m->ctl_len,
			 sizeof m->ctl_buf - 1 - m->ctl_len);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : 1;
	bool eof = r == 0;
	m->ctl_len += (size_t)r;
	for (;;) {
		char *nl = memchr(m->ctl_buf, '\n', m->ctl_len);
		if (!nl && !eof && m->ctl_len == sizeof m->ctl_buf - 1) {
			fprintf(m->out, "line too long: ignored\n");
			m->ctl_len = 0;
			break;
		}
		if (!nl && !(eof && m->ctl_len))
			break;
		size_t len = nl ? (size_t)(nl - m->ctl_buf) : m->ctl_len;
		size_t used = nl ? len + 1 : len;
		/* A command whose braces or quotes are open, or a rule begun
		 * on one line, goes on over the next (base/repl.h). */
		bool fits = m->cmd_len + len + 2 <= sizeof m->cmd_buf;
		if (fits) {
			if (m->cmd_len)
				m->cmd_buf[m->cmd_len++] = '\n';
			memcpy(m->cmd_buf + m->cmd_len, m->ctl_buf, len);
			m->cmd_len += len;
			m->cmd_buf[m->cmd_len] = 0;
		}
		memmove(m->ctl_buf, m->ctl_buf + used, m->ctl_len - used);
		m->ctl_len -= used;
		if (!fits) {
			fprintf(m->out, "command too long: ignored\n");
			m->cmd_len = 0;
			mon_prompt(m);
			continue;
		}
		if (vsp_repl_incomplete(m->cmd_buf, m->cmd_len) &&
		    !(eof && !m->ctl_len))
			continue;
		int rc = mon_cmd(m, m->cmd_buf);
		m->cmd_len = 0;
		if (rc != 0)
			return rc;
		mon_prompt(m);
	}
	if (eof && m->cmd_len) {
		/* The input ended inside a command: it runs as it is. */
		int rc = mon_cmd(m, m->cmd_buf);
		m->cmd_len = 0;
		if (rc != 0)
			return rc;
	}
	return eof ? 1 : 0;
}
