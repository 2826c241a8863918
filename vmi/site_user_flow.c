/*
 * site_user_flow.c: the verdicts of user-function events and how an
 * allowed call leaves its trap (see vmi/site_user.c for where the traps
 * come from).
 *
 * Flow control is emulated at the function's first instruction, before
 * it runs: `return X` sets rax and returns to the caller; `deny E`
 * returns -1 with the thread's errno set to E through its TLS; `kill`
 * makes the process run kill(pid, SIGKILL) through a `syscall`
 * instruction of the module's own _exit.  An allowed call leaves with its
 * first instruction run here (vmi/emulate.h) when the process's code is
 * still the file's, else by a single step; a process that rewrote the
 * function is reported and stepped from then on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmi/site_user.h"
#include "vmi/uelf.h"

void mu_ret(struct mon *m, struct mon_trap *t, int64_t value,
		     struct mon_apply *a)
{
	(void)t;
	mon_return(m, value, a);
}

/* The process's own memory where it has the page, the module's file
 * where not (code it has not run yet): for __errno_location and its GOT
 * entry, which only the process has relocated. */
struct mu_rel {
	struct mon *m;
	struct vsp_pcmod pm;
	uint64_t delta;		/* process address - image address */
};

static long mu_rel_read(void *ctx, uint64_t a, void *buf, size_t len)
{
	struct mu_rel *r = ctx;
	long n = r->m->be.ops->read(&r->m->be, r->m->vcpu, a + r->delta, buf,
				    len);
	if (n == (long)len)
		return n;
	return vsp_pcmod_read(&r->pm, a, buf, len);
}

static bool mu_tpoff(struct mon *m, struct mu_map *p, int64_t *tpoff)
{
	if (p->tried_tpoff) {
		*tpoff = p->tpoff;
		return p->have_tpoff;
	}
	p->tried_tpoff = true;
	if (!p->file || (!p->file->errno_fn && !p->file->is_static))
		return false;
	struct mu_rel r = { .m = m, .delta = p->addr - p->file->img_fn };
	struct vsp_uelf e;
	char err[160];
	if (p->file->is_static) {
		/* errno in the program's own TLS block: its file says where. */
		if (vsp_pcmod_open(&r.pm, &m->user->pc, p->file->mapping,
				   MU_DYN_BIAS, err, sizeof err) < 0 ||
		    vsp_uelf_static_errno_tpoff(vsp_pcmod_file_read, &r.pm,
						&p->tpoff, err, sizeof err) < 0) {
			fprintf(stderr, "vsp attach: no errno for %s in pid %"
				PRId64 ": %s\n", p->ev->k->lib, p->pid, err);
			return false;
		}
		p->have_tpoff = true;
		*tpoff = p->tpoff;
		return true;
	}
	if (vsp_pcmod_open(&r.pm, &m->user->pc, p->file->mapping, MU_DYN_BIAS,
			   err, sizeof err) < 0 ||
	    vsp_uelf_open(&e, vsp_pcmod_read, &r.pm, r.pm.base, err,
			  sizeof err) < 0 ||
	    vsp_uelf_errno_tpoff(&e, mu_rel_read, &r, &p->tpoff, err,
				 sizeof err) < 0) {
		fprintf(stderr, "vsp attach: no errno for %s in pid %" PRId64
			": %s\n", p->ev->k->lib, p->pid, err);
		return false;
	}
	p->have_tpoff = true;
	*tpoff = p->tpoff;
	return true;
}

/* deny E: the function returns -1 with errno E, as libc's own failures. */
void mu_deny(struct mon *m, struct mon_trap *t, int64_t err,
		      struct mon_apply *a)
{
	struct mu_map *p = m->user ? m->user->cur : NULL;
	int64_t tpoff;
	int32_t e = (int32_t)err;

	(void)t;
	if (!p || !m->regs.fs_base || !mu_tpoff(m, p, &tpoff)) {
		a->rc = -ENOSYS;
		a->why = "no errno location in this process (its libc's "
			 "__errno_location is not the code expected, or a "
			 "static program has no thread-local errno)";
		return;
	}
	if (m->be.ops->write(&m->be, m->vcpu, m->regs.fs_base + (uint64_t)tpoff,
			     &e, sizeof e) != (long)sizeof e) {
		a->rc = -ENOSYS;
		a->why = "the thread's errno is not writable";
		return;
	}
	mon_return(m, -1, a);
}

/* kill: the process runs kill(its pid, SIGKILL) at a `syscall` of its
 * module's _exit, and dies before it returns to user space. */
void mu_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	struct mu_map *p = m->user ? m->user->cur : NULL;

	(void)t;
	mon_load_proc(m);
	if (!p || !p->file || !p->file->kill_foff || m->ev.proc.pid <= 0) {
		a->rc = -ENOSYS;
		a->why = "no syscall instruction in the module to end the "
			 "process with";
		return;
	}
	m->regs.rax = MU_NR_KILL;
	m->regs.rdi = (uint64_t)m->ev.proc.pid;
	m->regs.rsi = MU_SIGKILL;
	m->regs.rip = p->addr - p->file->foff + p->file->kill_foff;
	int rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
	if (rc == 0) {
		struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
		rc = m->be.ops->resume(&m->be, m->vcpu, &r);
	}
	a->rc = rc;
	a->applied = a->resumed = rc == 0;
}

static long mu_gwrite(void *ctx, uint64_t gva, const void *buf, size_t len)
{
	struct mon *m = ctx;
	return m->be.ops->write(&m->be, m->vcpu, gva, buf, len);
}

/*
 * The process rewrote the function under its trap (a hooking library, a
 * debugger, code that hides itself): it runs what it wrote, stepped from
 * now on, and the change is an alert.  The breakpoint is put back in case
 * the write removed it (a stub that keeps it in guest memory).
 */
static void mu_tampered(struct mon *m, struct mon_trap *t, struct mu_map *p,
			const uint8_t *now)
{
	const struct mu_file *f = p->file;
	char msg[400];

	snprintf(msg, sizeof msg, "code under the user trap %s:%s at 0x%" PRIx64
		 " in pid %" PRId64 " changed: %02x %02x %02x %02x %02x, was "
		 "%02x %02x %02x %02x %02x; trap re-armed, stepped from now on",
		 p->ev->k->lib, p->ev->k->name, p->addr, p->pid, now[0],
		 now[1], now[2], now[3], now[4], f->code[0], f->code[1],
		 f->code[2], f->code[3], f->code[4]);
	fprintf(stderr, "vsp attach: alert: %s\n", msg);
	m->user->tampered++;
	m->tamper_alerts++;
	if (m->be.ops->trap_del(&m->be, t->addr) == 0 &&
	    m->be.ops->trap_add(&m->be, t->addr) < 0)
		fprintf(stderr, "vsp attach: alert: cannot re-arm the user trap "
			"at 0x%" PRIx64 "\n", t->addr);
	mon_alert_note(m, "user", p->ev->k->name, p->addr, msg);
}

/*
 * Is the process's code at p->addr still the file's?  Read in the
 * process (this stop's) at every call whose first instruction vsp runs
 * (`every`): one round trip, against the three a step costs more, and the
 * instruction run here is always the one the process would run (compared
 * now and then, a process that rewrote its function would run the old
 * first instruction and then its own code until the next comparison).
 * A stepped call runs the process's own code whatever it is: its
 * comparison, for the alert alone, is made as for kernel traps, once per
 * MON_VERIFY_HITS calls or MON_VERIFY_NS.  A call whose code cannot be
 * read is stepped.  A first byte of 0xcc is the breakpoint itself where the
 * stub keeps it in guest memory (KVM).
 */
static bool mu_code_same(struct mon *m, struct mon_trap *t, struct mu_map *p,
			 bool every)
{
	const struct mu_file *f = p->file;
	uint8_t now[16];

	if (p->changed || !f->clen)
		return false;
	if (!every) {
		/* The clock only where it decides: not on emulated calls. */
		uint64_t ns = vsp_now_ns();
		if (p->compared_ns && ++p->since < MON_VERIFY_HITS &&
		    ns - p->compared_ns < MON_VERIFY_NS)
			return true;
		p->since = 0;
		p->compared_ns = ns;
	}
	if (m->be.ops->read(&m->be, m->vcpu, p->addr, now, f->clen) !=
	    (long)f->clen) {
		m->user->unlike++;
		return false;
	}
	if ((now[0] != f->code[0] && now[0] != 0xcc) ||
	    memcmp(now + 1, f->code + 1, f->clen - 1u) != 0) {
		p->changed = true;
		m->user->unlike++;
		mu_tampered(m, t, p, now);
		return false;
	}
	return true;
}

/* An allowed call: its first instruction run here when it can be
 * (vmi/emulate.h), the guest resumed after it; else stepped. */
int mu_leave(struct mon *m, struct mon_trap *t)
{
	struct mon_user *u = m->user;
	struct mu_map *p = u ? u->cur : NULL;

	bool step = !p || !p->file || p->file->emu.op == VSP_EMU_NONE ||
		u->no_emulate || m->be.ops->steps_over_traps;

	if (!p || !p->file || t->uhelp != MU_FUNC || p->addr != t->addr ||
	    !mu_code_same(m, t, p, !step) || step) {
		if (u && t->uhelp == MU_FUNC)
			u->stepped++;
		return mon_leave(m, t);
	}
	struct vsp_regs r = m->regs;
	if (vsp_emu_run(&p->file->emu, &r, mon_gread, mu_gwrite, m) < 0) {
		u->stepped++;
		return mon_leave(m, t);
	}
	struct vsp_resume how = { .how = VSP_RESUME_AT, .addr = r.rip };
	if (p->file->emu.op != VSP_EMU_SKIP) {
		int rc = m->be.ops->regs_set(&m->be, m->vcpu, &r);
		if (rc < 0)
			return rc;
		m->regs = r;
		how.how = VSP_RESUME_CONTINUE;
	}
	u->emulated++;
	return m->be.ops->resume(&m->be, m->vcpu, &how);
}
