/*
 * redirect.c: the kernel's own copy of a path: redirects, pinned paths
 * and late decisions (vmi/mon.h).
 *
 * redirect rewrites the kernel's own copy of the path, which a racing
 * user thread cannot change after the check: a one-shot trap at
 * getname_flags (entry, to match the user pointer and learn the return
 * address), then one at that return address, where rax is the struct
 * filename * whose ->name buffer (PATH_MAX bytes) receives the new path.
 * --pin-paths writes the very string the rules read the same way, and a
 * decision on a path unreadable at the syscall's entry waits there for
 * the kernel's copy (a late decision, below).  One of these is pending at
 * a time, in m->rd.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmi/mon.h"

static void mon_redirect_disarm_entries(struct mon *m)
{
	for (int i = 0; i < 3; i++) {
		mon_helper_del(m, m->rd.entry[i]);
		m->rd.entry[i] = NULL;
	}
}

int mon_fetch_none(void *ctx, struct vsp_event *ev, enum vsp_field f,
		   struct vsp_str *out)
{
	(void)ctx;
	(void)ev;
	(void)f;
	(void)out;
	return -1;
}

/* A record of the late call no rule decided: why it was not decided, and
 * what became of it ("rule":null, "verdict":null, severity alert). */
static void mon_late_note(struct mon *m, const char *msg)
{
	const struct vsp_event *ev = &m->rd.late_ev;
	if (!m->have_audit)
		return;
	struct vsp_audit_note n = {
		.seq = ev->seq, .time_ns = vsp_now_ns() - m->t_attach,
		.addr = m->rd.late_trap ? m->rd.late_trap->addr : 0,
		.vm = m->o->vm ? m->o->vm : "guest0", .kind = "syscall",
		.name = ev->name ? ev->name : "", .msg = msg, .mode = m->mode,
	};
	uint64_t lost = m->audit.write_errors;
	int rc = vsp_audit_note(&m->audit, &n);
	if (rc < 0)
		mon_lost(m, "audit", rc, m->audit.write_errors - lost);
}

/*
 * A late decision that will not happen at getname's return (the kernel
 * never got there, or vsp leaves first) and that vsp can no longer stop
 * from where it is: never decided on the unreadable path (that let
 * denied calls through), but said and audited as an alert.
 */
void mon_late_drop(struct mon *m, const char *why)
{
	char msg[256];
	snprintf(msg, sizeof msg, "%s: no late decision (%s): the call was "
		 "not decided", m->rd.late_ev.name, why);
	fprintf(stderr, "vsp attach: alert: %s\n", msg);
	mon_late_note(m, msg);
}

enum { LATE_KILL, LATE_RET, LATE_RAX };

/*
 * At getname's entry or return for the late call, the decision cannot be
 * made (a read failed, no room for a trap): the call must not run on an
 * undecided path.  getname returns ERR_PTR(-EAGAIN) (LATE_RET: from its
 * entry; LATE_RAX: at its return), or without a return address the task
 * ends (LATE_KILL).  Said and audited; the guest left stopped if even
 * that fails.
 */
static int mon_late_fail(struct mon *m, const char *why, int how)
{
	struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
	struct mon_apply a = { 0 };
	const char *what = "the call failed with EAGAIN";
	char msg[320];
	int rc;

	m->rd.late = false;	/* failed here, not dropped */
	mon_redirect_cancel(m, NULL);
	if (how == LATE_KILL) {
		mon_kill(m, m->fn_group_exit ? m->fn_group_exit : m->fn_force_sig, &a);
		rc = a.rc;
		what = "its task was killed";
	} else if (how == LATE_RET) {
		rc = mon_emulate_return(m, -EAGAIN);
	} else {
		m->regs.rax = (uint64_t)(int64_t)-EAGAIN;
		rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		if (rc == 0)
			rc = m->be.ops->resume(&m->be, m->vcpu, &go);
	}
	bool stuck = rc == -EFAULT || rc == -ENOSYS;
	if (stuck)
		what = "the guest is left paused";
	snprintf(msg, sizeof msg, "%s: the late decision could not be made "
		 "(%s): %s", m->rd.late_ev.name, why, what);
	fprintf(stderr, "vsp attach: %s\n", msg);
	mon_late_note(m, msg);
	return stuck ? MON_PAUSED : rc;
}

/* The pending redirect's strings, as they were read at its decision. */
static int mon_pend_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
			  struct vsp_str *out)
{
	struct mon *m = ctx;
	const struct mon_trap *t = m->rd.pend_trap;
	int idx;

	(void)ev;
	if (f == VSP_F_FUNC) {
		out->ptr = t->name;
		out->len = (uint32_t)strlen(t->name);
		return 0;
	}
	if (f >= VSP_F_STR0 && f <= VSP_F_STR5)
		idx = (int)(f - VSP_F_STR0);
	else if (f == VSP_F_PATH)
		idx = t->path_arg;
	else
		return -1;
	if (idx < 0 || idx > 5 || m->rd.pend_str[idx].state != 1)
		return -1;
	out->ptr = m->rd.pend_str[idx].buf;
	out->len = m->rd.pend_str[idx].len;
	return 0;
}

void mon_pend_audit(struct mon *m, const char *why)
{
	if (!m->rd.pend)
		return;
	m->rd.pend = false;
	struct vsp_event *ev = &m->rd.pend_ev;
	vsp_event_reset_lazy(ev);
	ev->fetch = mon_pend_fetch;
	ev->fetch_ctx = m;
	if (ev->has_stack)
		vsp_callpath_to_event(&m->rd.pend_cp, ev);
	char reason[256];
	if (why)
		snprintf(reason, sizeof reason, "the kernel's copy of the path "
			 "was not replaced: %s", why);
	uint64_t lost = m->audit.write_errors;
	m->audit.not_applied = why ? reason : NULL;
	int rc = vsp_audit_decision(&m->audit, ev, &m->rd.pend_d, why == NULL);
	m->audit.not_applied = NULL;
	if (rc < 0)
		mon_lost(m, "audit", rc, m->audit.write_errors - lost);
}

void mon_redirect_cancel(struct mon *m, const char *why)
{
	if (!m->rd.active)
		return;
	mon_pend_audit(m, why);
	if (m->rd.late)
		;
	else if (why && m->rd.pin)
		fprintf(stderr, "vsp attach: path %s not pinned: %s\n",
			m->rd.path, why);
	else if (why)
		fprintf(stderr, "vsp attach: redirect to %s not applied: %s\n",
			m->rd.path, why);
	if (why && m->rd.late)
		mon_late_drop(m, why);
	mon_redirect_disarm_entries(m);
	mon_helper_del(m, m->rd.ret);
	m->rd.ret = NULL;
	m->rd.active = false;
	m->rd.late = false;
}

/*
 * Arms the getname traps that will write `path` into the kernel's copy of
 * the current call's path argument: a redirect's new path, or with
 * --pin-paths the very string the rules checked, so a thread that changes
 * the user's buffer between our check and the kernel's copy gains nothing.
 * 0 or -1.
 */
int mon_path_arm(struct mon *m, const char *path, size_t len, bool pin)
{
	if (m->rd.active)
		mon_redirect_cancel(m, pin && !m->rd.pend ? NULL :
				    "a newer redirect replaced it");
	if (m->cur->path_arg < 0 || len > MON_REDIRECT_MAX ||
	    mon_load_args(m) < 0)
		return -1;
	/* getname_flags may be inlined into its wrappers: trap them all. */
	bool any = false;
	for (int i = 0; i < 3; i++)
		if (m->fn_getname[i]) {
			m->rd.entry[i] = mon_helper_add(m, m->fn_getname[i],
							MON_T_GETNAME);
			any |= m->rd.entry[i] != NULL;
		}
	if (!any)
		return -1;
	m->rd.active = true;
	m->rd.stage = 0;
	m->rd.misses = 0;
	m->rd.cr3 = m->regs.cr3;
	m->rd.uptr = (uint64_t)m->ev.args[m->cur->path_arg];
	memcpy(m->rd.path, path, len);
	m->rd.path[len] = 0;
	m->rd.len = len;
	m->rd.pin = pin;
	m->late_ns = vsp_now_ns();
	return 0;
}

/* The redirect verdict of the sites that trap kernel code. */
void mon_site_redirect(struct mon *m, struct mon_trap *t,
		       const struct vsp_str *path, struct mon_apply *a)
{
	(void)t;
	if (mon_path_arm(m, path->ptr, path->len, false) == 0) {
		/* Applied at getname's return, audited then. */
		a->pending = true;
		return;
	}
	a->rc = -ENOSYS;
	a->why = "cannot redirect (no path argument, no getname symbol, or "
		"a path too long)";
}

int mon_on_getname(struct mon *m, struct mon_trap *t)
{
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	if (!m->rd.active || m->rd.stage != 0 || m->regs.rdi != m->rd.uptr ||
	    m->regs.cr3 != m->rd.cr3) {
		if (m->rd.active && ++m->rd.misses > MON_REDIRECT_MISSES)
			mon_redirect_cancel(m, "the kernel never copied the path");
		else if (!m->rd.active)
			mon_helper_del(m, t);
		return mon_leave(m, t->role == MON_T_FREE ? NULL : t);
	}
	uint64_t ret;
	if (m->be.ops->read(&m->be, m->vcpu, m->regs.rsp, &ret, 8) != 8) {
		if (m->rd.late)
			return mon_late_fail(m, "cannot read the return address",
					     LATE_KILL);
		mon_redirect_cancel(m, "cannot read the return address");
		return mon_leave(m, NULL);
	}
	m->rd.ret = mon_helper_add(m, ret, MON_T_GETNAME_RET);
	mon_redirect_disarm_entries(m);
	if (!m->rd.ret) {
		if (m->rd.late)
			return mon_late_fail(m, "cannot trap getname's return",
					     LATE_RET);
		mon_redirect_cancel(m, "cannot trap getname's return");
		return mon_leave(m, NULL);
	}
	m->rd.stage = 1;
	/* Our entry trap is gone, so the guest runs on from here. */
	return mon_leave(m, NULL);
}

/*
 * Late decisions.  A rule reads `path`, but at the syscall's entry the
 * user's page holding it is not present (a page the process has not
 * touched since fork, or one swapped out): a debugger's read cannot fault
 * it in, and deciding on "" would let the kernel, which can, open the file
 * past a deny rule.  Instead the call goes on to getname, whose return
 * hands over the kernel's own copy (kernel memory, always readable); the
 * rules run there on it.  A deny or an error return then makes getname
 * return ERR_PTR(-errno) (MON_LATE_PUTNAME says what becomes of the
 * kernel's copy).  One late decision is pending at a time; others decide
 * at the entry on what they could read (event.partial).
 */
bool mon_late_arm(struct mon *m, struct mon_trap *t)
{
	int pa = t->path_arg;
	if (m->rd.active || m->mode == VSP_MODE_LEARN || pa < 0)
		return false;
	uint64_t uptr = (uint64_t)m->ev.args[pa];
	if (uptr == 0 || uptr >= MON_USER_TOP)
		return false;	/* the kernel refuses these itself */
	if (mon_path_arm(m, "", 0, false) < 0)
		return false;
	m->rd.late = true;
	m->late_ns = vsp_now_ns();
	m->rd.late_trap = t;
	m->rd.late_ev = m->ev;
	if (m->ev.has_stack)
		m->rd.late_cp = m->cp;
	return true;
}

/* A late decision whose getname return went by unseen (another vCPU
 * passed it while a trap was stepped) frees the slot. */
void mon_late_expire(struct mon *m)
{
	if (!m->rd.active || m->rd.stage == 2 ||
	    vsp_now_ns() - m->late_ns <= 2000000000ull)
		return;
	/* A redirect or pinned path whose getname never came frees the slot
	 * too: calls restarted while it is taken would otherwise come back
	 * for ever. */
	mon_redirect_cancel(m, m->rd.late ? "getname's return went by unseen" :
			    "the kernel did not copy the path within 2 s");
}

/*
 * The verdicts of a late decision, at getname's return: a deny or an
 * error return makes getname return ERR_PTR(-errno), a redirect writes
 * the kernel's copy, kill is the same exit as at the entry.
 */
static void late_ret(struct mon *m, struct mon_trap *t, int64_t value,
		     struct mon_apply *a)
{
	(void)t;
	if (value >= 0 || value < -4095) {
		a->rc = -ENOSYS;
		a->why = "after getname only an error (-4095..-1) can be returned";
		return;
	}
	int64_t err = -value;
	int rc = 0;
	if (m->rd.late_failed) {
		/* getname failed: no struct filename to give back. */
		m->regs.rax = (uint64_t)(int64_t)-err;
		rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		a->applied = rc == 0;
	} else if (m->fn_putname && MON_LATE_PUTNAME) {
		uint64_t sp = m->regs.rsp - 8, ret = m->regs.rip;
		if (m->be.ops->write(&m->be, m->vcpu, sp, &ret, 8) == 8) {
			m->regs.rsp = sp;
			m->regs.rdi = m->rd.late_fname;
			m->regs.rip = m->fn_putname;
			rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
			a->applied = rc == 0;
			if (a->applied) {
				m->rd.late = true;
				m->rd.stage = 2;
				m->rd.late_err = (int)err;
				m->rd.late_sp = sp + 8;
			}
		}
	} else {
		/* The call fails; the guest keeps one names_cache object it
		 * will never free (see MON_LATE_PUTNAME). */
		m->regs.rax = (uint64_t)(int64_t)-err;
		rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		a->applied = rc == 0;
	}
	a->rc = rc;
}

static void late_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	(void)t;
	/* Nothing is held between getname and its caller: the same exit as
	 * at the entry. */
	mon_redirect_cancel(m, NULL);
	mon_kill(m, m->fn_group_exit ? m->fn_group_exit : m->fn_force_sig, a);
}

static void late_redirect(struct mon *m, struct mon_trap *t,
			  const struct vsp_str *path, struct mon_apply *a)
{
	(void)t;
	a->rc = -ENOSYS;
	if (m->rd.late_failed) {
		a->why = "getname failed: no kernel copy of the path to replace";
		return;
	}
	if (path->len > MON_REDIRECT_MAX) {
		a->why = "the new path is too long";
		return;
	}
	char buf[MON_REDIRECT_MAX + 1];
	memcpy(buf, path->ptr, path->len);
	buf[path->len] = 0;
	if (m->be.ops->write(&m->be, m->vcpu, m->rd.late_name, buf,
			     path->len + 1) > 0) {
		a->rc = 0;
		a->applied = true;
	} else {
		a->why = "cannot write the kernel's copy of the path";
	}
}

static int late_leave(struct mon *m, struct mon_trap *t)
{
	struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };

	(void)t;
	if (!(m->rd.stage == 2 && m->rd.late))
		mon_redirect_cancel(m, NULL);
	return m->be.ops->resume(&m->be, m->vcpu, &go);
}

/* A decision made at getname's return rather than at the trap: applied
 * there, by these operations. */
const struct mon_site mon_site_late = {
	.kind = VSP_EV_SYSCALL,
	.label = "%s (after getname)",
	.apply = {
		.ret = late_ret,
		.kill = late_kill,
		.redirect = late_redirect,
		.leave = late_leave,
	},
};

static int mon_on_late(struct mon *m, struct mon_trap *t)
{
	struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
	if (m->rd.stage == 2) {
		if (m->regs.rsp != m->rd.late_sp)
			return mon_leave(m, t);	/* another thread passes */
		/* putname has returned: now the call fails. */
		m->regs.rax = (uint64_t)(int64_t)-m->rd.late_err;
		int rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		m->rd.late = false;
		mon_redirect_cancel(m, NULL);
		if (rc < 0)
			return rc;
		return m->be.ops->resume(&m->be, m->vcpu, &go);
	}
	uint64_t fname = m->regs.rax, hdr[2] = { 0, 0 };
	bool failed = fname >= (uint64_t)-4095;
	if (!failed) {
		if (m->be.ops->read(&m->be, m->vcpu, fname, hdr, sizeof hdr) !=
		    sizeof hdr)
			return mon_late_fail(m, "cannot read struct filename",
					     LATE_RAX);
		if (hdr[1] != m->rd.uptr)
			return mon_leave(m, t);	/* another copy: wait for ours */
	}
	/* The event as it was at the entry, with the kernel's path. */
	struct mon_trap *et = m->rd.late_trap;
	m->ev = m->rd.late_ev;
	vsp_event_reset_lazy(&m->ev);
	m->ev.fetch = mon_sys_fetch;
	m->ev.fetch_ctx = m;
	if (m->ev.has_stack) {
		m->cp = m->rd.late_cp;
		vsp_callpath_to_event(&m->cp, &m->ev);
	}
	m->cur = et;
	m->args_loaded = true;
	/* A later stop: what the windows hold may have changed. */
	m->proc_loaded = m->task_loaded = false;
	mon_win_drop(m);
	for (int i = 0; i < 6; i++)
		m->str[i].state = 0;
	struct mon_str *ps = &m->str[et->path_arg];
	ps->state = 2;
	ps->len = 0;
	if (!failed) {
		long n = m->be.ops->read(&m->be, m->vcpu, hdr[0], ps->buf, MON_STR_MAX);
		char *nul = n > 0 ? memchr(ps->buf, 0, (size_t)n) : NULL;
		if (nul) {
			ps->len = (uint32_t)(nul - ps->buf);
			ps->state = 1;
		}
	}
	ps->buf[ps->len] = 0;
	/* Kernel memory, always readable: if not, the call fails rather
	 * than being decided on a path nobody read. */
	if (!failed && ps->state != 1)
		return mon_late_fail(m, "cannot read the kernel's copy of the "
				     "path", LATE_RAX);
	m->rd.late = false;	/* from here on it is this event's */

	m->rd.late_fname = fname;
	m->rd.late_name = hdr[0];
	m->rd.late_failed = failed;
	int rc = mon_decide(m, et, &mon_site_late);
	if (rc == MON_PAUSED)
		mon_redirect_cancel(m, NULL);
	return rc;
}

int mon_on_getname_ret(struct mon *m, struct mon_trap *t)
{
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	if (!m->rd.active || m->regs.cr3 != m->rd.cr3) {
		/* Another task returned through the same place first. */
		if (!m->rd.active)
			mon_helper_del(m, t);
		return mon_leave(m, t->role == MON_T_FREE ? NULL : t);
	}
	if (m->rd.late)
		return mon_on_late(m, t);
	uint64_t fname = m->regs.rax, hdr[2];
	if (fname >= (uint64_t)-4095) {
		mon_redirect_cancel(m, "getname failed");
		return mon_leave(m, NULL);
	}
	if (m->be.ops->read(&m->be, m->vcpu, fname, hdr, sizeof hdr) != sizeof hdr) {
		mon_redirect_cancel(m, "cannot read struct filename");
		return mon_leave(m, NULL);
	}
	if (hdr[1] != m->rd.uptr) {
		/* Same address space, another copy: wait for ours. */
		return mon_leave(m, t);
	}
	long w = m->be.ops->write(&m->be, m->vcpu, hdr[0], m->rd.path,
				  m->rd.len + 1);
	if (w < 0)
		mon_redirect_cancel(m, "cannot write the kernel's copy of the path");
	else
		mon_redirect_cancel(m, NULL);
	return mon_leave(m, NULL);
}
