/*
 * site_syscall.c: syscall events, at the entry of the syscall handlers.
 *
 * Syscall events trap the entry of the handler `__x64_sys_NAME` (and the
 * 32-bit and x32 ones, below).  On x86-64 Linux (4.17 and later) the
 * handler receives the user's registers as a struct pt_regs * in rdi, so
 * the six arguments come from one read of that structure, and string
 * arguments are read from user memory only when a rule, the audit record
 * or the trace asks for them.
 *  - deny and return emulate the handler's return (vmi/site_kernel.c);
 *  - kill ends the task the way a fatal signal does: the handler becomes
 *    a tail call of do_group_exit(SIGKILL) (exit status "killed by signal
 *    9" for every thread of the process; nothing is held at a syscall's
 *    entry, so this is the same state exit_group runs in);
 *  - redirect, --pin-paths and a path unreadable at the entry go through
 *    the kernel's own copy of the path (vmi/redirect.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmi/mon.h"

/* pt_regs offsets of the syscall arguments: di si dx r10 r8 r9, and for
 * the 32-bit entry bx cx dx si di bp. */
static const unsigned mon_pt_arg[6] = { 0x70, 0x68, 0x60, 0x38, 0x48, 0x40 };
static const unsigned mon_pt_arg32[6] = { 0x28, 0x58, 0x60, 0x68, 0x70, 0x20 };

#define MON_ARG_FIELDS (((1ull << 6) - 1) << VSP_F_ARG0 | \
			((1ull << 6) - 1) << VSP_F_STR0 | 1ull << VSP_F_PATH)

/*
 * The handlers behind one syscall.  A policy on `openat` must hold for
 * every way into the kernel: the 64-bit table (__x64_sys_*), and the
 * 32-bit one that `int $0x80` reaches even from a 64-bit program
 * (__ia32_compat_sys_* or __ia32_sys_*), or a rule would be bypassed by
 * one instruction.  x32 calls use the 64-bit handlers except for a few
 * __x32_compat_sys_* ones.  6.1 names some handlers after the struct they
 * fill (`newstat`): where both names exist (stat, fstat, lstat, uname),
 * the `new` one is the 64-bit table's and the plain one serves only the
 * 32-bit table's old calls, so the `new` name is tried first.
 */
struct mon_entry {
	const char *fmt;
	bool ia32;		/* arguments in bx cx dx si di bp, 32 bits */
};

static const struct mon_entry mon_sys_entries[] = {
	{ "__x64_sys_new%s", false }, { "__x64_sys_%s", false },
	{ "__x32_compat_sys_%s", false },
	{ "__ia32_compat_sys_%s", true }, { "__ia32_sys_%s", true },
	{ "__ia32_compat_sys_new%s", true }, { "__ia32_sys_new%s", true },
};

/*
 * A C `int` argument arrives in a 64-bit register with its upper half
 * zero (AT_FDCWD is 0xffffff9c); the kernel's syscall wrappers narrow it,
 * and rules compare it as the signed value (`dfd == AT_FDCWD`).  The
 * catalog has no C types, so the int-typed names are known here: file
 * descriptors, process ids and signals.
 */
static bool mon_arg_is_int32(const struct vsp_call *c, int i)
{
	if (!c || !c->has_proto || i >= c->nargs || !c->args[i].name)
		return false;
	const char *n = c->args[i].name;
	size_t l = strlen(n);
	if (l >= 2 && strcmp(n + l - 2, "fd") == 0)
		return true;
	static const char *const ints[] = { "pid", "tgid", "sig", "which", "who",
					    "option", "cmd", "resource" };
	for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
		if (strcmp(n, ints[k]) == 0)
			return true;
	return false;
}

int mon_load_args(struct mon *m)
{
	if (m->args_loaded)
		return 0;
	m->args_loaded = true;
	if (m->cur->key->kind != VSP_EV_SYSCALL)
		return 0;
	uint8_t blk[MON_PT_ARGS_LEN];
	long n = m->be.ops->read(&m->be, m->vcpu, m->regs.rdi + MON_PT_ARGS_OFF,
				 blk, sizeof blk);
	if (n != (long)sizeof blk) {
		m->ev.partial = true;
		return -1;
	}
	const unsigned *off = m->cur->ia32 ? mon_pt_arg32 : mon_pt_arg;
	for (int i = 0; i < 6; i++) {
		int64_t v;
		memcpy(&v, blk + (off[i] - MON_PT_ARGS_OFF), 8);
		if (m->cur->ia32)
			v = (int64_t)(uint32_t)v;	/* 32-bit registers */
		if (mon_arg_is_int32(m->cur->call, i))
			v = (int32_t)(uint32_t)v;
		m->ev.args[i] = v;
	}
	return 0;
}

/* Reads a NUL-terminated string of at most MON_STR_MAX bytes: small first
 * (most paths are short), never across a page in one request, so an
 * unmapped page ends the string instead of failing the whole read. */
int mon_read_str(struct mon *m, uint64_t addr, struct mon_str *s)
{
	s->len = 0;
	s->state = 2;
	if (addr == 0)
		return -1;
	size_t want = 256;
	while (s->len < MON_STR_MAX) {
		uint64_t a = addr + s->len;
		/* A syscall's string lies in user space: a pointer into the
		 * kernel half fails as the kernel's access_ok fails it, so a
		 * rule never decides on (nor the log shows) kernel memory. */
		if (a >= MON_USER_TOP)
			break;
		size_t to_page = 4096 - (size_t)(a & 4095);
		size_t n = MON_STR_MAX - s->len;
		if (n > want)
			n = want;
		if (n > to_page)
			n = to_page;
		long got = m->be.ops->read(&m->be, m->vcpu, a, s->buf + s->len, n);
		if (got <= 0)
			break;
		char *nul = memchr(s->buf + s->len, 0, (size_t)got);
		if (nul) {
			s->len = (uint32_t)(nul - s->buf);
			s->state = 1;
			break;
		}
		s->len += (uint32_t)got;
		if ((size_t)got < n)
			break;
		want = 2048;
	}
	s->buf[s->len] = 0;
	return s->state == 1 ? 0 : -1;
}

/* The string fields of an event whose arguments are ev->args: a pointer
 * argument read as a guest string once, on first use, and the trapped
 * function's name.  `pt_regs`: the arguments are a syscall's, loaded from
 * its pt_regs on demand (and only a syscall event has them). */
int mon_args_fetch(struct mon *m, struct vsp_event *ev, enum vsp_field f,
		   struct vsp_str *out, bool pt_regs)
{
	int idx;
	if (f >= VSP_F_RES_FIRST)
		return mon_resolved_fetch(m, ev, f, out);
	if (f == VSP_F_FUNC) {
		out->ptr = m->cur->name;
		out->len = (uint32_t)strlen(m->cur->name);
		return 0;
	}
	if (f >= VSP_F_STR0 && f <= VSP_F_STR5)
		idx = (int)(f - VSP_F_STR0);
	else if (f == VSP_F_PATH)
		idx = m->cur->path_arg;
	else
		return -1;
	if (idx < 0 || idx > 5)
		return -1;
	if (pt_regs && (m->cur->key->kind != VSP_EV_SYSCALL || mon_load_args(m) < 0))
		return -1;
	struct mon_str *s = &m->str[idx];
	if (s->state == 0) {
		uint64_t t0 = vsp_now_ns();
		mon_read_str(m, (uint64_t)ev->args[idx], s);
		m->fetch_ns += vsp_now_ns() - t0;
	}
	out->ptr = s->buf;
	out->len = s->len;
	return s->state == 1 ? 0 : -1;
}

/* The strings of a syscall event (and a kernel function's name, where the
 * late path asks). */
int mon_sys_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		  struct vsp_str *out)
{
	return mon_args_fetch(ctx, ev, f, out, true);
}

static const char *sys_lacks(const struct mon *m,
			     const struct vsp_event_key *k, char *buf, size_t n)
{
	char sym[160];
	uint64_t a;

	if (!m->syms)
		return NULL;	/* asked again once the guest's are read */
	for (size_t i = 0; i < sizeof mon_sys_entries / sizeof mon_sys_entries[0]; i++) {
		snprintf(sym, sizeof sym, mon_sys_entries[i].fmt, k->name);
		if (vsp_sym_addr(m->syms, sym, &a) == 0)
			return NULL;
	}
	snprintf(buf, n, "the guest kernel has no handler for it "
		 "(no __x64_sys_%s in its symbols)", k->name);
	return buf;
}

static int sys_setup(struct mon *m, const struct vsp_event_key *k)
{
	char sym[160];
	uint64_t addr;
	int n = 0, rc;
	bool have64 = false;

	for (size_t i = 0; m->syms && i < sizeof mon_sys_entries / sizeof mon_sys_entries[0]; i++) {
		const struct mon_entry *e = &mon_sys_entries[i];
		/* One 64-bit handler: the plain name only when no `new` one. */
		if (i == 1 && have64)
			continue;
		snprintf(sym, sizeof sym, e->fmt, k->name);
		if (vsp_sym_addr(m->syms, sym, &addr) < 0)
			continue;
		if (i == 0 || i == 1)
			have64 = true;
		rc = mon_add_event_trap(m, k, &mon_site_syscall, addr, sym,
					e->ia32);
		if (rc < 0)
			return rc;
		n += rc == 0;
	}
	return n ? 0 : mon_no_trap(m, k);
}

static bool sys_fill(struct mon *m, struct mon_trap *t, int *rc)
{
	const struct vsp_event_key *k = t->key;

	(void)rc;
	mon_code_begin(m, t, mon_sys_fetch);
	m->ev.nr = k->nr;
	if ((k->reads & MON_ARG_FIELDS) || m->o->record)
		mon_load_args(m);
	mon_code_end(m, t);
	return true;
}

/*
 * The call starts again from user space: the handler "returns" the
 * syscall number, which do_syscall_64 stores in regs->ax, and the user's
 * rip steps back over the two-byte `syscall`, so the task re-enters the
 * kernel with the same registers, as after a signal's restart.  For a
 * call that must not be decided on an unreadable path while the one
 * late-decision slot is taken: it comes back when the slot is free.
 * 64-bit entries only (a 32-bit entry may have come through sysenter,
 * whose restart is another matter).  0, or -1 when it cannot be done.
 */
static int mon_restart(struct mon *m, const struct mon_trap *t)
{
	uint64_t pt = m->regs.rdi, v[2];	/* pt_regs: orig_ax, ip */
	uint8_t insn[2];

	if (t->ia32)
		return -1;
	if (m->be.ops->read(&m->be, m->vcpu, pt + MON_PT_ORIG_AX, v,
			    sizeof v) != sizeof v || v[1] < 2 ||
	    v[1] >= MON_USER_TOP)
		return -1;
	uint64_t ip = v[1] - 2;
	if (m->be.ops->read(&m->be, m->vcpu, ip, insn, 2) != 2 ||
	    insn[0] != 0x0f || insn[1] != 0x05)
		return -1;
	if (m->be.ops->write(&m->be, m->vcpu, pt + MON_PT_IP, &ip, 8) != 8)
		return -1;
	return mon_emulate_return(m, (int64_t)v[0]) < 0 ? -1 : 0;
}

/* The path was unreadable here: decide on the kernel's copy. */
static bool sys_defer(struct mon *m, struct mon_trap *t, int *rc)
{
	if (t->path_arg < 0 || m->str[t->path_arg].state != 2)
		return false;
	if (mon_late_arm(m, t)) {
		*rc = mon_leave(m, t);
		if (*rc >= 0)
			*rc = MON_GO_ON;
		return true;
	}
	/* The slot is taken (another late decision, a redirect or a pinned
	 * path): deciding on "" could let the open past a deny rule, so the
	 * call comes back later instead. */
	uint64_t uptr = (uint64_t)m->ev.args[t->path_arg];
	if (m->rd.active && m->mode != VSP_MODE_LEARN && uptr &&
	    uptr < MON_USER_TOP && mon_restart(m, t) == 0) {
		m->restarts++;
		*rc = MON_GO_ON;
		return true;
	}
	return false;
}

static void sys_ret(struct mon *m, struct mon_trap *t, int64_t value,
		    struct mon_apply *a)
{
	(void)t;
	mon_return(m, value, a);
}

static void sys_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	(void)t;
	mon_kill(m, m->fn_group_exit ? m->fn_group_exit : m->fn_force_sig, a);
}

/* The call runs with a path the rules looked at: with --pin-paths, make
 * the kernel use exactly that string. */
static void sys_allow(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	int pa = t->path_arg;

	(void)a;
	if (m->o->pin_paths && pa >= 0 && m->str[pa].state == 1)
		mon_path_arm(m, m->str[pa].buf, m->str[pa].len, true);
}

const struct mon_site mon_site_syscall = {
	.kind = VSP_EV_SYSCALL,
	.label = "%s",
	.kernel_code = true,
	.lacks = sys_lacks,
	.setup = sys_setup,
	.fill = sys_fill,
	.defer = sys_defer,
	.apply = {
		.ret = sys_ret,
		.kill = sys_kill,
		.redirect = mon_site_redirect,
		.allow = sys_allow,
		.leave = mon_leave,
	},
};
