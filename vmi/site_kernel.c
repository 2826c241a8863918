/*
 * site_kernel.c: events at the entry of a guest kernel function, and what
 * every site that traps kernel code shares (vmi/mon.h).
 *
 * The trap sits on the function's first instruction (ftrace's NOP); the
 * arguments are the System V AMD64 argument registers.
 *  - deny and return emulate the function's return: rax gets the value,
 *    rip the return address at [rsp], rsp moves past it, all in one
 *    register write;
 *  - kill makes the function a tail call of force_sig(SIGKILL): where
 *    locks may be held it does not run, and the task dies on its way back
 *    to user space.  Syscall handlers end the task through do_group_exit
 *    instead (vmi/site_syscall.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmi/mon.h"

/* The function returns `value` without running. */
int mon_emulate_return(struct mon *m, int64_t value)
{
	uint64_t ret;
	if (m->be.ops->read(&m->be, m->vcpu, m->regs.rsp, &ret, 8) != 8)
		return -EFAULT;
	m->regs.rax = (uint64_t)value;
	m->regs.rip = ret;
	m->regs.rsp += 8;
	int rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
	return m->be.ops->resume(&m->be, m->vcpu, &r);
}

void mon_return(struct mon *m, int64_t value, struct mon_apply *a)
{
	a->rc = mon_emulate_return(m, value);
	a->applied = a->resumed = a->rc == 0;
}

/* Ends the task: the function becomes a tail call of fn(SIGKILL). */
void mon_kill(struct mon *m, uint64_t fn, struct mon_apply *a)
{
	int rc = -ENOSYS;

	if (fn) {
		/* A tail call: same stack, first argument SIGKILL. */
		m->regs.rdi = MON_SIGKILL;
		m->regs.rip = fn;
		rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		if (rc == 0) {
			struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
			rc = m->be.ops->resume(&m->be, m->vcpu, &r);
		}
	}
	a->rc = rc;
	a->applied = a->resumed = rc == 0;
}

int mon_no_trap(struct mon *m, const struct vsp_event_key *k)
{
	if (m->dry)
		return 0;
	vsp_support_refuse(stderr, m->p, k, m->be.ops,
			   "no trap could be placed");
	return 1;
}

/* Clears m->ev and fills what every event trapped in kernel code has;
 * the arguments are the site's own. */
void mon_code_begin(struct mon *m, struct mon_trap *t, vsp_fetch_fn fetch)
{
	struct vsp_event *ev = &m->ev;

	t->hits++;
	memset(ev, 0, offsetof(struct vsp_event, strs));
	vsp_event_reset_lazy(ev);
	ev->kind = t->key->kind;
	ev->name = t->name;
	ev->cr3 = m->regs.cr3;
	mon_event_begin(m, t, fetch);
	m->args_loaded = false;
	for (int i = 0; i < 6; i++)
		m->str[i].state = 0;
}

/* The process context and the call path, where wanted. */
void mon_code_end(struct mon *m, struct mon_trap *t)
{
	mon_event_proc(m, t->key);
	if (mon_wants_stack(m, t->key)) {
		vsp_unwind(m->uw, &m->regs, mon_gread, m, &m->cp);
		if (m->cp.n)
			vsp_callpath_to_event(&m->cp, &m->ev);
	}
}

static const char *kernel_lacks(const struct mon *m,
				const struct vsp_event_key *k, char *buf,
				size_t n)
{
	uint64_t a;

	if (!m->syms)
		return NULL;	/* asked again once the guest's are read */
	if (vsp_sym_addr(m->syms, k->name, &a) == 0)
		return NULL;
	snprintf(buf, n, "the guest kernel's symbols have no %s", k->name);
	return buf;
}

static int kernel_setup(struct mon *m, const struct vsp_event_key *k)
{
	uint64_t addr;
	int rc = 1;

	if (m->syms && vsp_sym_addr(m->syms, k->name, &addr) == 0)
		rc = mon_add_event_trap(m, k, &mon_site_kernel, addr, k->name,
					false);
	if (rc < 0)
		return rc;
	return rc ? mon_no_trap(m, k) : 0;
}

static bool kernel_fill(struct mon *m, struct mon_trap *t, int *rc)
{
	const uint64_t r[6] = { m->regs.rdi, m->regs.rsi, m->regs.rdx,
				m->regs.rcx, m->regs.r8, m->regs.r9 };

	(void)rc;
	mon_code_begin(m, t, mon_code_fetch);
	for (int i = 0; i < 6; i++)
		m->ev.args[i] = (int64_t)r[i];
	m->args_loaded = true;
	mon_code_end(m, t);
	return true;
}

static void kernel_ret(struct mon *m, struct mon_trap *t, int64_t value,
		       struct mon_apply *a)
{
	(void)t;
	mon_return(m, value, a);
}

static void kernel_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	(void)t;
	mon_kill(m, m->fn_force_sig, a);
}

const struct mon_site mon_site_kernel = {
	.kind = VSP_EV_KERNEL,
	.label = "%s",
	.kernel_code = true,
	.lacks = kernel_lacks,
	.setup = kernel_setup,
	.fill = kernel_fill,
	.apply = {
		.ret = kernel_ret,
		.kill = kernel_kill,
		.redirect = mon_site_redirect,
		.leave = mon_leave,
	},
};
