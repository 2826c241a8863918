/*
 * session.c: the interactive session of `vsp repl --gdb|--xen` (vmi/mon.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

#define MON_MEM_MAX 4096

static const char mon_ctl_help[] =
	"commands:\n"
	"  status              attached, guest running or paused, events, traps\n"
	"  stats               engine and trap statistics\n"
	"  rules               the rules and their hits\n"
	"  events              what is trapped, and where\n"
	"  load FILE...        compile a new policy and swap it in (the old one\n"
	"                      stays on errors); traps move to its events\n"
	"  mode M              enforce, monitor or learn (kept across loads)\n"
	"  pause               stop the guest and keep it stopped\n"
	"  continue            let a paused guest run\n"
	"  regs                the trapped vCPU's registers (paused)\n"
	"  mem ADDR|SYM LEN    hex dump of guest-virtual memory (paused, <= 4096)\n"
	"  sym NAME|ADDR       symbol to address, address to symbol\n"
	"  tail [N]            the last N decisions (default 10, at most 64)\n"
	"  detach, quit        remove every trap, let the guest run, exit\n";

/* Bounded copy that never reads past `src`'s NUL. */
static void mon_copy(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;
	if (src)
		while (n + 1 < size && n < len && src[n])
			n++;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

/* Keeps the decision for `tail`: fixed-size copies into a ring, nothing
 * read from the guest that the decision did not read already. */
void mon_tail_add(struct mon *m, const struct mon_trap *t,
		  const struct vsp_decision *d, bool applied)
{
	struct mon_tail *e = &m->tail[m->ntail++ % MON_TAIL];
	e->seq = m->ev.seq;
	e->time_ns = m->ev.time_ns;
	e->pid = m->ev.proc.pid;
	e->verdict = d->verdict;
	e->value = d->value;
	e->applied = applied;
	mon_copy(e->event, sizeof e->event, m->ev.name, SIZE_MAX);
	const char *rule = d->rule >= 0 ? vsp_policy_rule(m->p, (uint32_t)d->rule)->name
				       : "default";
	mon_copy(e->rule, sizeof e->rule, rule, SIZE_MAX);
	mon_copy(e->comm, sizeof e->comm, m->ev.proc.comm, sizeof m->ev.proc.comm);
	e->path[0] = 0;
	int pa = t->path_arg;
	if (pa >= 0 && m->str[pa].state == 1)
		mon_copy(e->path, sizeof e->path, m->str[pa].buf, m->str[pa].len);
}

/* Brings a running guest to a stop and keeps it there.  Traps that arrive
 * before the interrupt's stop are handled as usual (and resume the guest,
 * so the interrupt is sent again). */
static int mon_stop_guest(struct mon *m)
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
			if (st.kind == VSP_STOP_TRAP) {
				rc = mon_on_trap(m, &st);
				if (rc < 0)
					return rc;
				if (rc == MON_PAUSED) {
					m->rule_paused = true;
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

static int mon_go(struct mon *m)
{
	if (!m->paused)
		return 0;
	int rc;
	m->paused = false;
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

static int mon_cmd_load(struct mon *m, char **files, int n)
{
	FILE *out = m->out;
	if (n == 0) {
		fprintf(out, "load: no policy file given\n");
		return 0;
	}
	struct vsp_load_opts lo;
	if (m->o->load)
		lo = *m->o->load;
	else {
		memset(&lo, 0, sizeof lo);
		lo.mode = VSP_MODE_UNSET;
	}
	lo.diag = out;
	int nerr = 0;
	struct vsp_policy *p = vsp_policy_load((const char *const *)files,
					       (size_t)n, &lo, &nerr);
	if (!p) {
		fprintf(out, "load: failed (%d error%s); the old policy stays\n",
			nerr, nerr == 1 ? "" : "s");
		return 0;
	}
	if (mon_refusals(m, p, out) > 0) {
		fprintf(out, "load: refused: the policy names events that cannot "
			"be trapped here; the old policy stays\n");
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
	if (m->mode == VSP_MODE_LEARN)
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
	fprintf(out, "loaded %u rule%s, %u event%s, mode %s; traps: %" PRIu64
		" kept, %" PRIu64 " added, %" PRIu64 " removed, %" PRIu64
		" installed\n", vsp_policy_nrules(p),
		vsp_policy_nrules(p) == 1 ? "" : "s", vsp_policy_nevents(p),
		vsp_policy_nevents(p) == 1 ? "" : "s", vsp_mode_name(m->mode),
		m->kept, m->installed - m->kept, removed, m->installed);
	if (!was_paused && !m->rule_paused)
		return mon_go(m);
	return 0;
}

int mon_reload(struct mon *m)
{
	const struct vsp_monitor_hooks *h = m->o->hooks;
	struct vsp_monitor_view v;
	FILE *saved = m->out;
	uint32_t gen = m->gen;

	m->out = stderr;
	int rc = mon_cmd_load(m, (char **)h->files, (int)h->nfiles);
	m->out = saved;
	if (h->reloaded)
		h->reloaded(h->ctx, mon_view(m, &v), m->gen != gen);
	return rc;
}

static void mon_cmd_status(struct mon *m)
{
	FILE *out = m->out;
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
	fprintf(out, "policy: %u rules, %u events\n", vsp_policy_nrules(m->p),
		vsp_policy_nevents(m->p));
}

static void mon_cmd_events(struct mon *m)
{
	char sym[160];
	for (size_t i = 0; i < m->ntraps; i++) {
		const struct mon_trap *t = &m->traps[i];
		if (t->role != MON_T_EVENT)
			continue;
		const char *s = m->syms ? vsp_sym_format(m->syms, t->addr, sym, sizeof sym) : NULL;
		fprintf(m->out, "0x%016" PRIx64 "  %-8s %-20s %-32s hits %" PRIu64 "\n",
			t->addr, vsp_event_kind_name(t->site->kind),
			t->name ? t->name : "?", s ? s : "", t->hits);
	}
	fprintf(m->out, "%" PRIu64 " trap%s\n", mon_count_traps(m),
		mon_count_traps(m) == 1 ? "" : "s");
}

static void mon_cmd_rules(struct mon *m)
{
	uint32_t n = vsp_policy_nrules(m->p);
	for (uint32_t i = 0; i < n; i++) {
		const struct vsp_rule_info *r = vsp_policy_rule(m->p, i);
		fprintf(m->out, "%-32s %s:%d  hits %" PRIu64 "\n", r->name,
			r->file ? r->file : "?", r->line, vsp_policy_rule_hits(m->p, i));
	}
	uint32_t nc = vsp_policy_ncounters(m->p);
	for (uint32_t i = 0; i < nc; i++) {
		uint64_t v = 0;
		const char *name = vsp_policy_counter(m->p, i, &v);
		fprintf(m->out, "counter %-24s %" PRIu64 "\n", name ? name : "?", v);
	}
}

static void mon_cmd_tail(struct mon *m, const char *arg)
{
	uint64_t n = 10;
	if (arg) {
		char *end;
		unsigned long long v = strtoull(arg, &end, 10);
		if (*end || v == 0) {
			fprintf(m->out, "tail: N must be a positive number\n");
			return;
		}
		n = v;
	}
	if (n > MON_TAIL)
		n = MON_TAIL;
	if (n > m->ntail)
		n = m->ntail;
	for (uint64_t i = m->ntail - n; i < m->ntail; i++) {
		const struct mon_tail *e = &m->tail[i % MON_TAIL];
		fprintf(m->out, "#%" PRIu64 " %.3fs %s", e->seq,
			(double)e->time_ns / 1e9, e->event);
		if (e->path[0])
			fprintf(m->out, " %s", e->path);
		if (e->pid >= 0)
			fprintf(m->out, " pid %" PRId64 " %s", e->pid, e->comm);
		fprintf(m->out, " -> %s", vsp_verdict_name(e->verdict));
		if (e->verdict == VSP_V_DENY || e->verdict == VSP_V_RETURN)
			fprintf(m->out, " %" PRId64, e->value);
		fprintf(m->out, " (rule %s%s)\n", e->rule,
			e->applied ? ", applied" : "");
	}
	if (!m->ntail)
		fprintf(m->out, "no decisions yet\n");
}

static void mon_cmd_regs(struct mon *m)
{
	struct vsp_regs r;
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &r);
	if (rc < 0) {
		fprintf(m->out, "regs: %s\n", vsp_backend_error(&m->be, rc));
		return;
	}
	const struct { const char *n; uint64_t v; } f[] = {
		{ "rax", r.rax }, { "rbx", r.rbx }, { "rcx", r.rcx }, { "rdx", r.rdx },
		{ "rsi", r.rsi }, { "rdi", r.rdi }, { "rbp", r.rbp }, { "rsp", r.rsp },
		{ "r8", r.r8 }, { "r9", r.r9 }, { "r10", r.r10 }, { "r11", r.r11 },
		{ "r12", r.r12 }, { "r13", r.r13 }, { "r14", r.r14 }, { "r15", r.r15 },
		{ "rip", r.rip }, { "rflags", r.rflags }, { "cr0", r.cr0 },
		{ "cr3", r.cr3 }, { "cr4", r.cr4 }, { "fs_base", r.fs_base },
		{ "gs_base", r.gs_base }, { "kgs_base", r.kernel_gs_base },
	};
	fprintf(m->out, "vcpu %u\n", m->vcpu);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		fprintf(m->out, "%-8s 0x%016" PRIx64 "%s", f[i].n, f[i].v,
			i % 2 ? "\n" : "   ");
	char sym[160];
	if (m->syms && vsp_sym_format(m->syms, r.rip, sym, sizeof sym))
		fprintf(m->out, "rip is %s\n", sym);
}

/* An address: a number (0x... or decimal) or a symbol. */
static int mon_parse_addr(struct mon *m, const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (!errno && *s && !*end) {
		*out = v;
		return 0;
	}
	if (m->syms && vsp_sym_addr(m->syms, s, out) == 0)
		return 0;
	return -1;
}

static void mon_cmd_mem(struct mon *m, const char *a, const char *l)
{
	uint64_t addr, len;
	char *end;
	if (!a || !l) {
		fprintf(m->out, "mem: usage: mem ADDR|SYMBOL LEN\n");
		return;
	}
	if (mon_parse_addr(m, a, &addr) < 0) {
		fprintf(m->out, "mem: '%s' is neither an address nor a symbol\n", a);
		return;
	}
	errno = 0;
	len = strtoull(l, &end, 0);
	if (errno || *end || len == 0 || len > MON_MEM_MAX) {
		fprintf(m->out, "mem: LEN must be 1 to %d\n", MON_MEM_MAX);
		return;
	}
	uint8_t buf[MON_MEM_MAX];
	long n = m->be.ops->read(&m->be, m->vcpu, addr, buf, (size_t)len);
	if (n < 0) {
		fprintf(m->out, "mem: %s\n", vsp_backend_error(&m->be, (int)n));
		return;
	}
	for (long i = 0; i < n; i += 16) {
		fprintf(m->out, "%016" PRIx64 " ", addr + (uint64_t)i);
		for (long k = i; k < i + 16; k++)
			if (k < n)
				fprintf(m->out, " %02x", buf[k]);
			else
				fputs("   ", m->out);
		fputs("  ", m->out);
		for (long k = i; k < i + 16 && k < n; k++)
			fputc(buf[k] >= 0x20 && buf[k] < 0x7f ? buf[k] : '.', m->out);
		fputc('\n', m->out);
	}
	if ((uint64_t)n < len)
		fprintf(m->out, "mem: %ld of %" PRIu64 " bytes readable\n", n, len);
}

static void mon_cmd_sym(struct mon *m, const char *s)
{
	if (!s) {
		fprintf(m->out, "sym: usage: sym NAME|ADDR\n");
		return;
	}
	if (!m->syms) {
		fprintf(m->out, "sym: no symbols (give --symbols)\n");
		return;
	}
	uint64_t addr;
	if (vsp_sym_addr(m->syms, s, &addr) == 0) {
		fprintf(m->out, "%s = 0x%016" PRIx64 "\n", s, addr);
		return;
	}
	char *end;
	errno = 0;
	addr = strtoull(s, &end, 0);
	char buf[160];
	if (errno || !*s || *end) {
		fprintf(m->out, "sym: no symbol '%s'\n", s);
		return;
	}
	if (vsp_sym_format(m->syms, addr, buf, sizeof buf))
		fprintf(m->out, "0x%016" PRIx64 " = %s\n", addr, buf);
	else
		fprintf(m->out, "sym: nothing at 0x%" PRIx64 "\n", addr);
}

/* One command line.  1: detach and end, 0: go on, < 0: lost the guest. */
static int mon_cmd(struct mon *m, char *line)
{
	char *w[64];
	int n = 0;
	for (char *tok = strtok(line, " \t\r"); tok && n < 64; tok = strtok(NULL, " \t\r"))
		w[n++] = tok;
	FILE *out = m->out;
	int rc = 0;
	if (n == 0 || w[0][0] == '#')
		return 0;
	const char *c = w[0];
	bool need_pause = strcmp(c, "regs") == 0 || strcmp(c, "mem") == 0;
	if (need_pause && !m->paused) {
		fprintf(out, "%s: the guest runs; 'pause' first\n", c);
	} else if (strcmp(c, "help") == 0) {
		fputs(mon_ctl_help, out);
	} else if (strcmp(c, "status") == 0) {
		mon_cmd_status(m);
	} else if (strcmp(c, "stats") == 0) {
		mon_run_stats(m, out, false, mon_count_traps(m), false);
	} else if (strcmp(c, "rules") == 0) {
		mon_cmd_rules(m);
	} else if (strcmp(c, "events") == 0) {
		mon_cmd_events(m);
	} else if (strcmp(c, "load") == 0) {
		rc = mon_cmd_load(m, w + 1, n - 1);
	} else if (strcmp(c, "mode") == 0) {
		enum vsp_mode mode;
		char modes[64];

		if (n != 2 || vsp_mode_parse(w[1], &mode) < 0) {
			fprintf(out, "mode: %s\n",
				vsp_mode_names(modes, sizeof modes, "or"));
		} else {
			m->mode = mode;
			m->mode_forced = true;
			fprintf(out, "mode %s\n", vsp_mode_name(mode));
		}
	} else if (strcmp(c, "pause") == 0) {
		if (m->paused) {
			fprintf(out, "the guest is paused already\n");
		} else {
			rc = mon_stop_guest(m);
			if (rc == 0)
				fprintf(out, "paused%s\n", m->rule_paused ?
					" (by a rule, at a trap)" : "");
		}
	} else if (strcmp(c, "continue") == 0 || strcmp(c, "cont") == 0) {
		if (!m->paused) {
			fprintf(out, "the guest runs already\n");
		} else {
			rc = mon_go(m);
			if (rc == 0)
				fprintf(out, "running\n");
		}
	} else if (strcmp(c, "regs") == 0) {
		mon_cmd_regs(m);
	} else if (strcmp(c, "mem") == 0) {
		mon_cmd_mem(m, n > 1 ? w[1] : NULL, n > 2 ? w[2] : NULL);
	} else if (strcmp(c, "sym") == 0) {
		mon_cmd_sym(m, n > 1 ? w[1] : NULL);
	} else if (strcmp(c, "tail") == 0) {
		mon_cmd_tail(m, n > 1 ? w[1] : NULL);
	} else if (strcmp(c, "detach") == 0 || strcmp(c, "quit") == 0 ||
		   strcmp(c, "exit") == 0) {
		rc = 1;
	} else {
		fprintf(out, "unknown command '%s': try 'help'\n", c);
	}
	fflush(out);
	return rc;
}

void mon_prompt(struct mon *m)
{
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
	m->ctl_ns = mon_now_ns();
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
		m->ctl_buf[len] = 0;
		int rc = mon_cmd(m, m->ctl_buf);
		size_t used = nl ? len + 1 : len;
		memmove(m->ctl_buf, m->ctl_buf + used, m->ctl_len - used);
		m->ctl_len -= used;
		if (rc != 0)
			return rc;
		mon_prompt(m);
	}
	return eof ? 1 : 0;
}
