/*
 * decide.c: the one path every trapped event takes (see vmi/mon.h).
 *
 * A stop at an event trap goes to the trap's site, which fills the event;
 * the engine decides; the decision is learnt, recorded and audited; and
 * in enforce mode the verdict is carried out by the site's apply
 * operations, chosen in the only switch on verdicts of the monitor.
 * Everything the records need is read before the verdict is applied:
 * after that the guest runs, and its memory cannot be read.  Every round
 * trip under QEMU TCG costs time the guest waits, so strings, process
 * context and the argument block are read only when a rule, the audit
 * record or the trace needs them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>

#include "vmi/mon.h"
#include "vmi/trace.h"

/* The site of every event kind the monitor traps, listed once. */
static const struct mon_site *const mon_sites[VSP_EV_KIND_COUNT] = {
	[VSP_EV_SYSCALL] = &mon_site_syscall,
	[VSP_EV_HYPERCALL] = &mon_site_hcall,
	[VSP_EV_KERNEL] = &mon_site_kernel,
	[VSP_EV_FILE] = &mon_site_file,
	[VSP_EV_NET] = &mon_site_net,
	[VSP_EV_TASK] = &mon_site_task,
	[VSP_EV_USER] = &mon_site_user,
	[VSP_EV_WRITE] = &mon_site_write,
};

/* Why a kind without a site has none; a kind in neither table gets the
 * generic reason. */
static const char *const mon_no_site[VSP_EV_KIND_COUNT] = { NULL };

const struct mon_site *mon_site_of(enum vsp_event_kind k)
{
	return (unsigned)k < VSP_EV_KIND_COUNT ? mon_sites[k] : NULL;
}

const char *vsp_monitor_why_not(enum vsp_event_kind k)
{
	if (mon_site_of(k))
		return NULL;
	if ((unsigned)k < VSP_EV_KIND_COUNT && mon_no_site[k])
		return mon_no_site[k];
	return "the monitor has no trap site for this event kind";
}

#define MON_PROC_FIELDS (1ull << VSP_F_PID | 1ull << VSP_F_TID | \
			 1ull << VSP_F_PPID | 1ull << VSP_F_COMM | \
			 1ull << VSP_F_UID | 1ull << VSP_F_EUID | 1ull << VSP_F_GID)

/* The event's current task alone: one read, for rules on resolved
 * fields that do not name the process's own (pid, comm, uid, ...). */
void mon_load_task(struct mon *m)
{
	if (m->task_loaded)
		return;
	m->task_loaded = true;
	m->task = 0;
	if (!m->have_lx)
		return;
	uint64_t base = vsp_linux_percpu_base(m->regs.gs_base,
					      m->regs.kernel_gs_base);
	uint64_t task;
	bool was = m->win_on;
	m->win_on = true;
	if (base && vsp_linux_current(&m->lx, mon_gread, m, base, &task) == 0)
		m->task = task;
	m->win_on = was;
}

void mon_load_proc(struct mon *m)
{
	if (m->proc_loaded)
		return;
	m->proc_loaded = true;
	if (!m->have_lx)
		return;
	mon_load_task(m);
	if (!m->task)
		return;
	bool was = m->win_on;
	m->win_on = true;
	vsp_linux_proc(&m->lx, mon_gread, m, m->task, &m->ev.proc);
	m->win_on = was;
}

/*
 * The fields every event has, for a stop at t: a site calls it after
 * clearing m->ev and filling what is its own (kind, name, arguments).
 */
void mon_event_begin(struct mon *m, struct mon_trap *t, vsp_fetch_fn fetch)
{
	struct vsp_event *ev = &m->ev;

	ev->seq = ++m->seq;
	ev->time_ns = vsp_now_ns() - m->t_attach;
	ev->vm = m->o->vm ? m->o->vm : "guest0";
	ev->vcpu = m->vcpu;
	ev->proc.pid = ev->proc.tid = ev->proc.ppid = -1;
	ev->proc.uid = ev->proc.euid = ev->proc.gid = -1;
	ev->fetch = fetch;
	ev->fetch_ctx = m;
	m->cur = t;
	m->proc_loaded = m->task_loaded = false;
	/* The resolved fields start unread: a hook event's objects come
	 * from its argument registers; any event has the resolved process.
	 * Windows kept from an earlier event would serve stale objects. */
	m->task = 0;
	mon_win_drop(m);
	if (m->hs) {
		const uint64_t r[6] = { m->regs.rdi, m->regs.rsi, m->regs.rdx,
					m->regs.rcx, m->regs.r8, m->regs.r9 };
		vsp_hook_site_begin(m->hs, t->hook, t->hook_at, r, 0);
	}
}

/* The process context now, when a rule reads it or a trace is written. */
void mon_event_proc(struct mon *m, const struct vsp_event_key *k)
{
	if ((k->reads & MON_PROC_FIELDS) || m->o->record)
		mon_load_proc(m);
}

/* The call path costs one read of the stack: only for rules that look at
 * it, learning, and traces (so replays see what we saw). */
bool mon_wants_stack(const struct mon *m, const struct vsp_event_key *k)
{
	/* A session unwinds every kernel event, for `bt`. */
	return m->uw && ((k->reads & (1ull << VSP_F_STACK)) || m->o->record ||
			 m->mode == VSP_MODE_LEARN || m->o->interactive);
}

/* Whether vsp_audit_decision will write anything (audit.h's rule): a
 * decision other than the plain default allow, or a log or alert. */
bool mon_writes_audit(const struct mon *m, const struct vsp_decision *d)
{
	if (d->verdict != VSP_V_ALLOW || d->rule >= 0 || d->fired_dropped)
		return true;
	for (uint32_t i = 0; i < d->nfired; i++) {
		const struct vsp_effect_info *e = vsp_policy_effect(m->p, d->fired[i].effect);
		if (!e || e->kind == VSP_EFF_LOG || e->kind == VSP_EFF_ALERT)
			return true;
	}
	return false;
}

/* Reads the process context and every string argument into the event's
 * caches, so records written later never touch guest memory. */
static void mon_prefetch(struct mon *m)
{
	mon_load_proc(m);
	const struct vsp_call *c = m->cur->call;
	if (!c || !c->has_proto)
		return;
	for (int i = 0; i < c->nargs && i < 6; i++) {
		struct vsp_str s;
		if (c->args[i].type != VSP_ARG_INT)
			m->ev.fetch(m, &m->ev, (enum vsp_field)(VSP_F_STR0 + i), &s);
	}
}

static void mon_learn(struct mon *m, const struct vsp_decision *d)
{
	if (m->mode != VSP_MODE_LEARN)
		return;
	for (uint32_t i = 0; i < d->nlearn; i++)
		vsp_policy_learn(m->p, d->learn_rule[i], &m->ev);
	if (d->nlearn && !m->ev.has_stack && !m->warned_learn) {
		m->warned_learn = true;
		fprintf(stderr, "vsp attach: learn mode without call paths "
			"(no unwinder: --symbols and vmlinux needed) learns nothing\n");
	}
}

int vsp_on_record_error_parse(const char *s, enum vsp_on_record_error *out)
{
	for (int e = VSP_ON_ERR_STOP; e <= VSP_ON_ERR_CONTINUE; e++)
		if (strcmp(s, vsp_on_record_error_name((enum vsp_on_record_error)e)) == 0) {
			*out = (enum vsp_on_record_error)e;
			return 0;
		}
	return -1;
}

const char *vsp_on_record_error_name(enum vsp_on_record_error e)
{
	return e == VSP_ON_ERR_PAUSE ? "pause" :
	       e == VSP_ON_ERR_CONTINUE ? "continue" : "stop";
}

uint64_t mon_audit_lost(const struct mon *m)
{
	return m->have_audit ? m->audit.write_errors : 0;
}

void mon_lost(struct mon *m, const char *what, int err, uint64_t n)
{
	if (what[0] == 't')
		m->trace_lost += n;
	if (m->lost_err)
		return;
	m->lost_err = err ? err : -EIO;
	m->lost_what = what;
	enum vsp_on_record_error how = m->o->on_audit_error;
	fprintf(stderr, "vsp attach: %s lost at event %" PRIu64 ": %s; %s "
		"(--on-audit-error %s)\n",
		what[0] == 't' ? "a trace line (--record)" : "an audit record",
		m->ev.seq, strerror(-m->lost_err),
		how == VSP_ON_ERR_STOP ? "detaching, every trap removed" :
		how == VSP_ON_ERR_PAUSE ? "detaching and leaving the guest paused" :
		"enforcing on, counting what is lost",
		vsp_on_record_error_name(how));
	if (how != VSP_ON_ERR_CONTINUE)
		m->lost_stop = true;
}

/* Each line is flushed as it is written: a full disk is seen at the event
 * it hits, and a killed monitor leaves whole lines. */
static void mon_record(struct mon *m)
{
	if (!m->o->record)
		return;
	mon_load_proc(m);
	errno = 0;
	if (vsp_trace_write(m->o->record, &m->ev) < 0 ||
	    fflush(m->o->record) != 0) {
		int e = errno ? -errno : -EIO;
		__fpurge(m->o->record);	/* the line is lost, not retried */
		clearerr(m->o->record);
		mon_lost(m, "trace", e, 1);
	}
}

/*
 * The verdict could not be carried out here (a->rc -EFAULT: the stack is
 * unreadable; -ENOSYS: no kernel function to call, no way to redirect).
 * The call must still not run: it fails with EPERM, or else its task is
 * ended, or else the guest is left stopped.  The record says
 * "applied":false and why (a->why, in m->why_not).
 */
static void mon_not_applied(struct mon *m, struct mon_trap *t,
			    const struct mon_site *s,
			    const struct vsp_decision *d, struct mon_apply *a)
{
	char where[200];
	const char *why = a->why ? a->why : a->rc == -EFAULT ?
		"the stack is unreadable" : "no kernel function to call";
	const char *instead = "the guest is left paused";
	struct mon_apply f = { 0 };

	snprintf(where, sizeof where, s->label, m->ev.name);
	if ((a->rc == -ENOSYS || (d->verdict != VSP_V_DENY &&
				  d->verdict != VSP_V_RETURN)) && s->apply.ret) {
		s->apply.ret(m, t, -EPERM, &f);
		if (f.rc == 0 && f.applied)
			instead = "the call failed with EPERM instead";
	}
	if (!(f.rc == 0 && f.applied) && d->verdict != VSP_V_KILL &&
	    s->apply.kill && (f.rc == 0 || f.rc == -EFAULT || f.rc == -ENOSYS)) {
		f = (struct mon_apply){ 0 };
		s->apply.kill(m, t, &f);
		if (f.rc == 0 && f.applied)
			instead = "its task was killed instead";
	}
	snprintf(m->why_not, sizeof m->why_not, "%s: %s", why, instead);
	fprintf(stderr, "vsp attach: cannot apply %s at %s: %s; %s\n",
		vsp_verdict_name(d->verdict), where, why, instead);
	a->applied = false;
	a->why = m->why_not;
	if (f.rc < 0 && f.rc != -EFAULT && f.rc != -ENOSYS) {
		a->rc = f.rc;	/* the backend failed: the guest is lost */
		return;
	}
	a->rc = 0;
	a->resumed = f.rc == 0 && f.resumed;
	/* Nothing else stops the call: it stays stopped before it runs. */
	a->paused = !(f.rc == 0 && f.applied);
}

/* The verdict, carried out by the site: the monitor's only switch on
 * verdicts. */
static void mon_apply(struct mon *m, struct mon_trap *t,
		      const struct mon_site *s, const struct vsp_decision *d,
		      struct mon_apply *a)
{
	switch (d->verdict) {
	case VSP_V_ALLOW:
		if (s->apply.allow)
			s->apply.allow(m, t, a);
		break;
	case VSP_V_DENY:
		if (s->apply.deny)
			s->apply.deny(m, t, d->value, a);
		else
			s->apply.ret(m, t, -d->value, a);
		break;
	case VSP_V_RETURN:
		s->apply.ret(m, t, d->value, a);
		break;
	case VSP_V_KILL:
		s->apply.kill(m, t, a);
		break;
	case VSP_V_REDIRECT:
		if (s->apply.redirect)
			s->apply.redirect(m, t, &d->redirect, a);
		break;
	case VSP_V_PAUSE:
		a->applied = a->paused = true;
		break;
	default:
		break;
	}
	if (a->rc == -EFAULT || a->rc == -ENOSYS)
		mon_not_applied(m, t, s, d, a);
}

static int mon_paused_at(struct mon *m, const struct mon_site *s,
			 const struct vsp_decision *d)
{
	char where[200], who[64] = "";

	snprintf(where, sizeof where, s->label, m->ev.name);
	if (m->ev.proc.pid >= 0)
		snprintf(who, sizeof who, ", pid %" PRId64 " %s",
			 m->ev.proc.pid, m->ev.proc.comm);
	fprintf(stderr, "vsp attach: guest paused at %s (rule %s%s); "
		"leaving it stopped\n", where,
		d->rule >= 0 ? vsp_policy_rule(m->p, (uint32_t)d->rule)->name : "default",
		who);
	return MON_PAUSED;
}

/*
 * Decides m->ev, filled by site s for trap t, and carries the decision
 * out: MON_GO_ON, MON_PAUSED, or a negative code (the guest is lost).
 */
int mon_decide(struct mon *m, struct mon_trap *t, const struct mon_site *s)
{
	struct vsp_decision d;
	int rc;

	m->fetch_ns = 0;
	uint64_t e0 = vsp_now_ns();
	vsp_decide(m->p, &m->ev, &d);
	/* The engine's own time: string reads it asked for are the guest's. */
	uint64_t dt = vsp_now_ns() - e0;
	dt = dt > m->fetch_ns ? dt - m->fetch_ns : 0;
	m->rs.engine_ns += dt;
	vsp_latency_add(&m->rs.latency, dt);

	mon_late_expire(m);
	if (s->defer && s->defer(m, t, &rc))
		return rc;
	mon_learn(m, &d);
	/* Before the trace line, so that the trace holds what the records'
	 * messages and a hook event's object showed. */
	bool audit = m->have_audit && mon_writes_audit(m, &d);
	if (audit) {
		mon_prefetch(m);
		m->win_on = true;
		vsp_audit_prefetch(&m->audit, &m->ev, &d);
		m->win_on = false;
	}
	mon_record(m);

	struct mon_apply a = { 0 };
	if (m->mode == VSP_MODE_ENFORCE)
		mon_apply(m, t, s, &d, &a);
	if (audit && a.pending) {
		/* A redirect is done at getname's return: its record waits
		 * for it (mon_pend_audit), with what the event read now. */
		m->rd.pend = true;
		m->rd.pend_trap = t;
		m->rd.pend_ev = m->ev;
		m->rd.pend_d = d;
		m->rd.pend_d.redirect.ptr = m->rd.path;
		m->rd.pend_d.redirect.len = (uint32_t)m->rd.len;
		memcpy(m->rd.pend_str, m->str, sizeof m->str);
		if (m->ev.has_stack)
			m->rd.pend_cp = m->cp;
	} else if (audit) {
		uint64_t lost = m->audit.write_errors;
		m->audit.not_applied = a.why;
		int arc = vsp_audit_decision(&m->audit, &m->ev, &d, a.applied);
		m->audit.not_applied = NULL;
		if (arc < 0)
			mon_lost(m, "audit", arc, m->audit.write_errors - lost);
	}
	if (m->o->interactive)
		mon_tail_add(m, t, &d, a.applied);

	if (a.rc < 0)
		return a.rc;
	if (a.paused)
		return mon_paused_at(m, s, &d);
	if (a.resumed)
		return MON_GO_ON;
	rc = s->apply.leave(m, t);
	return rc < 0 ? rc : MON_GO_ON;
}

/* `step` of the session: the event just filled waits, undecided, with
 * the guest stopped, for `eval`, `bt`, `regs`, `x` and `continue`. */
static int mon_hold(struct mon *m, struct mon_trap *t)
{
	char who[64] = "";

	m->step_armed = false;
	m->held = true;
	m->held_addr = t->addr;
	m->held_site = t->site;
	/* Whatever the policy reads, `eval` may ask for the process. */
	mon_load_proc(m);
	if (m->ev.proc.pid >= 0)
		snprintf(who, sizeof who, ", pid %" PRId64 " %s", m->ev.proc.pid,
			 m->ev.proc.comm);
	fprintf(m->out, "stopped at #%" PRIu64 " %s %s%s, not yet decided: "
		"'eval EXPR' looks at it, 'continue' decides it\n", m->ev.seq,
		vsp_event_kind_name(m->ev.kind), m->ev.name ? m->ev.name : "?", who);
	fflush(m->out);
	return MON_PAUSED;
}

int mon_release_held(struct mon *m)
{
	struct mon_trap *t = mon_trap_at(m, m->held_addr);

	m->held = false;
	/* A load may have taken the event's trap away: then it runs on. */
	if (!t || t->role != MON_T_EVENT || t->site != m->held_site)
		return mon_leave(m, t);
	return mon_decide(m, t, t->site);
}

static int mon_on_event(struct mon *m, struct mon_trap *t)
{
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	mon_integrity(m);
	if (!t->site->fill(m, t, &rc))
		return rc;
	if (m->step_armed)
		return mon_hold(m, t);
	return mon_decide(m, t, t->site);
}

int mon_on_trap(struct mon *m, const struct vsp_stop *st)
{
	struct mon_trap *t = mon_trap_at(m, st->addr);
	uint64_t t0 = vsp_now_ns(), rt0 = m->rt_wait;
	uint64_t walks0 = m->hs ? m->hs->st.path_walks : 0;
	uint64_t hits0 = m->hs ? m->hs->st.cache_hits : 0;
	int rc;
	m->vcpu = st->vcpu;
	if (!t)
		rc = mon_leave(m, NULL);	/* a trap removed meanwhile */
	else if (t->role == MON_T_EVENT)
		rc = mon_on_event(m, t);
	else if (t->role == MON_T_GETNAME)
		rc = mon_on_getname(m, t);
	else if (t->role == MON_T_WEXIT)
		rc = mon_on_writer_exit(m, t);
	else
		rc = mon_on_getname_ret(m, t);
	m->trap_hits++;
	/* From the wait on: the stop reply and the register read count. */
	m->rt_in_traps += m->be.round_trips - rt0;
	uint64_t dt = vsp_now_ns() - t0;
	m->rs.trap_ns += dt;
	vsp_latency_add(&m->rs.trap_latency, dt);
	if (t && t->site == &mon_site_user)
		mon_user_account(m, t, m->be.round_trips - rt0, dt);
	if (t && t->role == MON_T_EVENT && m->hs) {
		if (m->hs->st.path_walks != walks0) {
			m->hook_walked.n++;
			m->hook_walked.rt += m->be.round_trips - rt0;
		} else if (m->hs->st.cache_hits != hits0) {
			m->hook_cached.n++;
			m->hook_cached.rt += m->be.round_trips - rt0;
		}
	}
	if (t && t->role == MON_T_EVENT &&
	    (unsigned)m->ev.kind < VSP_EV_KIND_COUNT)
		m->rs.kind_events[m->ev.kind]++;
	return rc;
}
