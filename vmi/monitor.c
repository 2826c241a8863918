/*
 * monitor.c: the attach loop (see monitor.h).
 *
 * Where the guest is touched, and why there:
 *  - syscall events trap the entry of the handler `__x64_sys_NAME`.  On
 *    x86-64 Linux (4.17 and later) the handler receives the user's
 *    registers as a struct pt_regs * in rdi, so the six arguments come from
 *    one read of that structure;
 *  - deny and return emulate the handler's return: rax gets the value, rip
 *    the return address at [rsp], rsp moves past it, all in one register
 *    write;
 *  - kill ends the task the way a fatal signal does: the syscall handler
 *    becomes a tail call of do_group_exit(SIGKILL) (exit status "killed by
 *    signal 9" for every thread of the process; nothing is held at a
 *    syscall's entry, so this is the same state exit_group runs in).  At a
 *    kernel function, where locks may be held, the function instead
 *    becomes a tail call of force_sig(SIGKILL): it does not run, and the
 *    task dies on its way back to user space;
 *  - redirect rewrites the kernel's own copy of the path, which a racing
 *    user thread cannot change after the check: a one-shot trap at
 *    getname_flags (entry, to match the user pointer and learn the return
 *    address), then one at that return address, where rax is the struct
 *    filename * whose ->name buffer (PATH_MAX bytes) receives the new path;
 *  - a trap is left by resuming at addr + 5 when the instruction under it
 *    is the 5-byte NOP ftrace leaves at every kernel function's entry
 *    (checked with Capstone at the first hit), else by removing the trap,
 *    stepping once and putting it back.  The code under an emulated trap
 *    is read again now and then (every MON_VERIFY_HITS hits of it, or
 *    after a second): if it is no longer one it may skip, the write is
 *    reported (stderr and an alert record), the trap re-armed and stepped;
 *  - a backend that steps over its own traps (Xen) is simply resumed.
 * Every round trip under QEMU TCG costs time the guest waits, so strings,
 * process context and the argument block are read only when a rule, the
 * audit record or the trace needs them.
 */
#include "vmi/monitor.h"

#include <capstone/capstone.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "interp/audit.h"
#include "lang/catalog.h"
#include "vmi/gdb.h"
#include "vmi/kallsyms.h"
#include "vmi/kaslr.h"
#include "vmi/kverify.h"
#include "vmi/linux.h"
#include "vmi/support.h"
#include "vmi/symbols.h"
#include "vmi/trace.h"
#include "vmi/unwind.h"
#include "vmi/xen.h"
#include "vmi/xen_hcall.h"

#define MON_MAX_TRAPS 512
#define MON_STR_MAX 4096	/* language.md: strings are read up to 4096 bytes */
#define MON_SIGKILL 9
#define MON_FILENAME_NAME 0	/* struct filename { const char *name; */
#define MON_FILENAME_UPTR 8	/*   const __user char *uptr; ... } */
#define MON_REDIRECT_MAX 4000	/* fits the names_cache buffer (PATH_MAX) */
#define MON_REDIRECT_MISSES 256	/* getname calls we let pass while waiting */
#define MON_PT_ARGS_OFF 0x20	/* pt_regs: bp at 0x20 .. di at 0x70 */
#define MON_PT_ARGS_LEN 0x58
#define MON_PT_ORIG_AX 0x78	/* pt_regs: orig_ax, then ip at 0x80 */
#define MON_PT_IP 0x80
/* Give the kernel's copy back through a pushed putname before failing a
 * late-denied call?  Off: the error is set when putname returns through
 * the same trap, and on a multi-vCPU guest that trap can be passed while
 * another task steps over it, leaving getname's caller with putname's rax
 * as its struct filename (a guest oops, seen under a storm).  Without it
 * each late deny leaks one names_cache object in the guest. */
#define MON_LATE_PUTNAME 0
#define MON_USER_TOP 0x00fffffffffff000ull	/* TASK_SIZE_MAX, 5-level paging */
/* Tamper checks: the code under an emulated trap is read again at most
 * once per this many hits of it, and at least once per MON_VERIFY_NS. */
#define MON_VERIFY_HITS 32
#define MON_VERIFY_NS 1000000000ull

/* pt_regs offsets of the syscall arguments: di si dx r10 r8 r9, and for
 * the 32-bit entry bx cx dx si di bp. */
static const unsigned mon_pt_arg[6] = { 0x70, 0x68, 0x60, 0x38, 0x48, 0x40 };
static const unsigned mon_pt_arg32[6] = { 0x28, 0x58, 0x60, 0x68, 0x70, 0x20 };

enum mon_role {
	MON_T_FREE,
	MON_T_EVENT,		/* a policy event: decide here */
	MON_T_GETNAME,		/* redirect: getname_flags entry */
	MON_T_GETNAME_RET,	/* redirect: getname_flags return */
	MON_T_HCALL		/* a hypercall page entry or stub */
};

struct mon_trap {
	uint64_t addr;
	enum mon_role role;
	bool checked;		/* the displaced instruction was examined */
	bool emulate;		/* it is a 5-byte NOP: resume at addr + 5 */
	const struct vsp_event_key *key;
	const struct vsp_call *call;	/* syscalls: the catalog entry */
	int path_arg;		/* index of the path argument, or -1 */
	bool ia32;		/* a 32-bit syscall entry (int $0x80) */
	const char *name;	/* the event's name */
	uint64_t hits;
	uint8_t code[5];	/* the bytes under the trap when checked */
	bool have_code;
	uint64_t verify_hit;	/* t->hits at the last tamper check */
	bool tampered;		/* reported once */
	uint32_t gen;		/* the policy load that wants it (event traps) */
};

struct mon_str {
	uint8_t state;		/* 0 unread, 1 read whole, 2 failed or cut */
	uint32_t len;
	char buf[MON_STR_MAX + 1];
};

#define MON_NSEEN 8
#define MON_WIN 1024
#define MON_NWIN 4

struct mon_win {
	uint64_t base;
	size_t len;
	uint8_t data[MON_WIN];
};

/* One decision, as `tail` shows it: copied, since a later `load` frees
 * the policy whose names it would otherwise point at. */
#define MON_TAIL 64
struct mon_tail {
	uint64_t seq, time_ns;
	int64_t pid, value;
	enum vsp_verdict verdict;
	bool applied;
	char event[32], rule[48], comm[17], path[128];
};

struct mon {
	const struct vsp_monitor_opts *o;
	struct vsp_policy *p;
	enum vsp_mode mode;
	struct vsp_backend be;
	bool attached;
	struct vsp_symtab *syms;
	struct vsp_symtab *ksyms;	/* the running kernel's own, or NULL */
	struct vsp_kimg *img;
	/* The pass before the first trap: sites are checked, not trapped. */
	bool dry;
	struct vsp_kverify kv;
	uint64_t t_first_trap, rt_first_trap;
	struct vsp_linux lx;
	bool have_lx;
	csh cs;
	bool have_cs;
	struct vsp_unwinder *uw;	/* call paths, when a rule reads them */
	struct vsp_callpath cp;

	/* Hypercalls (a Xen guest): where it enters Xen, and which event key
	 * each hypercall number belongs to. */
	struct vsp_xhc_site xsite;
	bool have_xsite;
	const struct vsp_event_key *hkey[VSP_XHC_MAX];
	struct vsp_xhc_path xpath;

	struct mon_trap traps[MON_MAX_TRAPS];
	size_t ntraps;
	uint64_t installed;	/* event traps installed at start */
	uint64_t fn_group_exit, fn_force_sig;
	struct {
		uint64_t addr;
		bool emulate;
	} seen[MON_NSEEN];	/* helper trap sites already examined */
	unsigned nseen;
	uint64_t fn_getname[3];	/* getname, getname_flags, getname_uflags */
	uint64_t fn_putname;

	/* The event being handled. */
	struct vsp_event ev;
	struct vsp_regs regs;
	uint32_t vcpu;
	struct mon_trap *cur;
	bool args_loaded, proc_loaded;
	bool win_on;		/* mon_gread serves from windows */
	int win_next;
	struct mon_win win[MON_NWIN];
	uint64_t fetch_ns;	/* guest reads made from inside the engine */
	struct mon_str str[6];

	/* A pending redirect. */
	struct {
		bool active;
		int stage;	/* 0: wait for getname entry, 1: for its return */
		uint64_t cr3, uptr;
		struct mon_trap *entry[3], *ret;
		unsigned misses;
		bool pin;	/* --pin-paths, not a redirect */
		char path[MON_REDIRECT_MAX + 1];
		size_t len;
		/* A decision waiting for the kernel's copy of the path (the
		 * user's page was not present at the call's entry). */
		bool late;
		int late_err;	/* stage 2: errno to return after putname */
		uint64_t late_sp;	/* stage 2: rsp once putname has returned */
		struct mon_trap *late_trap;
		struct vsp_event late_ev;
		struct vsp_callpath late_cp;
	} rd;

	uint64_t seq, t_attach;
	uint64_t verify_ns;	/* when the last tamper check ran */
	uint64_t late_ns;	/* when the pending late decision was armed */
	uint64_t tamper_alerts;
	uint64_t restarts;	/* calls sent back to wait for the late slot */
	uint64_t trap_hits, rt_in_traps;
	uint64_t rt_wait;	/* round trips before the last wait */
	struct vsp_run_stats rs;
	struct vsp_audit audit;
	bool have_audit;
	bool warned_learn;

	/* The interactive session (o->interactive). */
	FILE *out;		/* answers */
	uint32_t gen;		/* policy loads so far */
	uint64_t kept;		/* event traps a load kept */
	bool paused;		/* the guest is stopped and stays so */
	bool rule_paused;	/* ... by a pause verdict, at pause_addr */
	uint64_t pause_addr;
	bool mode_forced;	/* `mode` was given: loads keep it */
	uint64_t ctl_ns;	/* when commands were last looked for */
	size_t ctl_len;
	char ctl_buf[4096];
	struct mon_tail tail[MON_TAIL];
	uint64_t ntail;
};

static volatile sig_atomic_t mon_signal;

/* Audit records go through the sink when the caller opened one. */
static void mon_audit_init(struct mon *m, struct vsp_policy *p)
{
	if (m->o->audit_sink)
		vsp_audit_init_sink(&m->audit, m->o->audit_sink, p);
	else
		vsp_audit_init(&m->audit, m->o->audit, p);
}

static void mon_on_signal(int sig)
{
	mon_signal = sig;
}

static uint64_t mon_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void mon_say(struct mon *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mon_say(struct mon *m, const char *fmt, ...)
{
	if (m->o->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("vsp attach: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *mon_be_err(struct mon *m, int rc)
{
	if (m->o->ops == &vsp_be_gdb_ops && m->be.priv)
		return vsp_be_gdb_error(&m->be);
	/* By name too: a layer over the Xen backend (a recorder, a test
	 * double) still has libxc's message to give. */
	if (m->o->ops == &vsp_be_xen_ops || strcmp(m->o->ops->name, "xen") == 0) {
		const char *e = vsp_be_xen_last_error();
		if (e && *e)
			return e;
	}
	return strerror(rc < 0 ? -rc : rc);
}

/* Guest reads for vmi/linux.c, vmi/kaslr.c and vmi/unwind.c.  While the
 * process context is read, small reads go through a few windows: the
 * fields of a task_struct lie close together, and each guest read is a
 * round trip that the stopped guest waits for. */
static long mon_gread(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct mon *m = ctx;
	if (!m->win_on || len > MON_WIN / 2)
		return m->be.ops->read(&m->be, m->vcpu, gva, buf, len);
	for (int i = 0; i < MON_NWIN; i++) {
		struct mon_win *w = &m->win[i];
		if (w->len && gva >= w->base && gva + len <= w->base + w->len) {
			memcpy(buf, w->data + (gva - w->base), len);
			return (long)len;
		}
	}
	struct mon_win *w = &m->win[m->win_next];
	m->win_next = (m->win_next + 1) % MON_NWIN;
	w->base = gva & ~(uint64_t)63;
	size_t want = MON_WIN;
	/* Stay in the page: the next one may be unmapped. */
	size_t to_page = 4096 - (size_t)(w->base & 4095);
	if (want > to_page && gva + len <= w->base + to_page)
		want = to_page;
	long n = m->be.ops->read(&m->be, m->vcpu, w->base, w->data, want);
	w->len = n > 0 ? (size_t)n : 0;
	if (w->len && gva + len <= w->base + w->len) {
		memcpy(buf, w->data + (gva - w->base), len);
		return (long)len;
	}
	w->len = 0;
	return m->be.ops->read(&m->be, m->vcpu, gva, buf, len);
}

/* ---------------------------------------------------------------- traps */

static struct mon_trap *mon_trap_new(struct mon *m, uint64_t addr,
				     enum mon_role role)
{
	for (size_t i = 0; i < m->ntraps; i++)
		if (m->traps[i].role == MON_T_FREE) {
			memset(&m->traps[i], 0, sizeof m->traps[i]);
			m->traps[i].addr = addr;
			m->traps[i].role = role;
			m->traps[i].path_arg = -1;
			return &m->traps[i];
		}
	if (m->ntraps >= MON_MAX_TRAPS)
		return NULL;
	struct mon_trap *t = &m->traps[m->ntraps++];
	memset(t, 0, sizeof *t);
	t->addr = addr;
	t->role = role;
	t->path_arg = -1;
	return t;
}

static struct mon_trap *mon_trap_at(struct mon *m, uint64_t addr)
{
	for (size_t i = 0; i < m->ntraps; i++)
		if (m->traps[i].role != MON_T_FREE && m->traps[i].addr == addr)
			return &m->traps[i];
	return NULL;
}

static void mon_trap_check(struct mon *m, struct mon_trap *t);

/* Installs a helper trap, unless one is there already. */
static struct mon_trap *mon_helper_add(struct mon *m, uint64_t addr,
				       enum mon_role role)
{
	if (mon_trap_at(m, addr))
		return NULL;	/* an event trap there: keep it simple */
	struct mon_trap *t = mon_trap_new(m, addr, role);
	if (!t)
		return NULL;
	/* Helpers come and go at the same few places: remember what the
	 * code there is instead of reading it each time. */
	int slot = -1;
	for (int i = 0; i < MON_NSEEN; i++)
		if (m->seen[i].addr == addr) {
			t->checked = true;
			t->emulate = m->seen[i].emulate;
			slot = i;
		}
	if (slot < 0) {
		mon_trap_check(m, t);
		if (t->checked) {
			m->seen[m->nseen % MON_NSEEN].addr = addr;
			m->seen[m->nseen % MON_NSEEN].emulate = t->emulate;
			m->nseen++;
		}
	}
	if (m->be.ops->trap_add(&m->be, addr) < 0) {
		t->role = MON_T_FREE;
		return NULL;
	}
	return t;
}

static int mon_helper_del(struct mon *m, struct mon_trap *t)
{
	if (!t || t->role == MON_T_FREE)
		return 0;
	int rc = m->be.ops->trap_del(&m->be, t->addr);
	t->role = MON_T_FREE;
	return rc == -ENOENT ? 0 : rc;
}

/* May the code at `addr` be left by resuming 5 bytes on?  Yes for
 * ftrace's 5-byte NOP; and before ftrace_init patches it (an attach at
 * boot stops that early) the site is still `call __fentry__`: skipping
 * that call skips only tracing, so it is left the same way. */
static bool mon_skippable(struct mon *m, uint64_t addr, const uint8_t *code,
			  size_t n)
{
	cs_insn *insn = NULL;
	bool yes = false;
	size_t k = cs_disasm(m->cs, code, n, addr, 1, &insn);
	if (k == 1 && insn[0].id == X86_INS_NOP && insn[0].size == 5)
		yes = true;
	if (k == 1 && insn[0].id == X86_INS_CALL && insn[0].size == 5 &&
	    code[0] == 0xe8 && m->syms) {
		int32_t rel;
		memcpy(&rel, code + 1, 4);
		uint64_t off, target = addr + 5 + (int64_t)rel;
		const char *fn = vsp_sym_at(m->syms, target, &off);
		if (fn && off == 0 && (strcmp(fn, "__fentry__") == 0 ||
				       strncmp(fn, "ftrace_", 7) == 0))
			yes = true;
	}
	if (k)
		cs_free(insn, k);
	return yes;
}

/* Is the instruction under the trap one we may skip?  Decided once,
 * before the trap goes in, or at its first hit when the code could not be
 * read then. */
static void mon_trap_check(struct mon *m, struct mon_trap *t)
{
	if (t->checked)
		return;
	uint8_t code[16];
	long n = m->be.ops->read(&m->be, m->vcpu, t->addr, code, sizeof code);
	if (n < 5 || !m->have_cs)
		return;
	t->checked = true;
	memcpy(t->code, code, 5);
	t->have_code = true;
	t->emulate = mon_skippable(m, t->addr, code, (size_t)n);
}

/* The general register Capstone names, in a struct vsp_regs, or NULL. */
static uint64_t *mon_gpr(struct vsp_regs *r, unsigned reg)
{
	switch (reg) {
	case X86_REG_RAX: return &r->rax;
	case X86_REG_RBX: return &r->rbx;
	case X86_REG_RCX: return &r->rcx;
	case X86_REG_RDX: return &r->rdx;
	case X86_REG_RSI: return &r->rsi;
	case X86_REG_RDI: return &r->rdi;
	case X86_REG_RBP: return &r->rbp;
	case X86_REG_R8: return &r->r8;
	case X86_REG_R9: return &r->r9;
	case X86_REG_R10: return &r->r10;
	case X86_REG_R11: return &r->r11;
	case X86_REG_R12: return &r->r12;
	case X86_REG_R13: return &r->r13;
	case X86_REG_R14: return &r->r14;
	case X86_REG_R15: return &r->r15;
	default: return NULL;
	}
}

/*
 * Runs a 64-bit register-to-register `mov` under a trap in place of the
 * guest: what sits after `call getname` (`mov %rax,%r12`).  Stepping it
 * instead would lift the trap while every vCPU runs, and another task's
 * return could pass unseen.  m->regs must hold this stop's registers.
 * 0, or -1 when the instruction is something else.
 */
static int mon_emulate_mov(struct mon *m, struct mon_trap *t)
{
	cs_insn *insn = NULL;
	int rc = -1;

	if (!t->have_code || !m->have_cs)
		return -1;
	size_t k = cs_disasm(m->cs, t->code, sizeof t->code, t->addr, 1, &insn);
	if (k == 1 && insn[0].id == X86_INS_MOV && insn[0].detail &&
	    insn[0].detail->x86.op_count == 2) {
		const cs_x86_op *op = insn[0].detail->x86.operands;
		uint64_t *dst = op[0].type == X86_OP_REG && op[0].size == 8 ?
			mon_gpr(&m->regs, op[0].reg) : NULL;
		uint64_t *src = op[1].type == X86_OP_REG && op[1].size == 8 ?
			mon_gpr(&m->regs, op[1].reg) : NULL;
		if (dst && src) {
			*dst = *src;
			m->regs.rip = t->addr + insn[0].size;
			rc = 0;
		}
	}
	if (k)
		cs_free(insn, k);
	if (rc == 0) {
		struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
		rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		if (rc == 0)
			rc = m->be.ops->resume(&m->be, m->vcpu, &r);
		return rc < 0 ? rc : 0;
	}
	return -1;
}

static int mon_wait_step(struct mon *m)
{
	for (int i = 0; i < 20; i++) {
		struct vsp_stop st;
		int rc = m->be.ops->wait(&m->be, &st, 500);
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			return rc;
		if (st.kind == VSP_STOP_EXITED)
			return -ENOTCONN;
		if (st.kind != VSP_STOP_TIMEOUT)
			return 0;
	}
	return -ETIMEDOUT;
}

/*
 * Someone rewrote the code under a trap: the guest's kernel (ftrace, live
 * patching, a hostile module) or a second debugger.  Skipping 5 bytes is
 * right only while they are the NOP examined at install time, so the trap
 * is stepped from now on (the new instruction runs), put back in case the
 * write removed it, and the change is reported on stderr and as an alert
 * record in the audit log.
 */
static void mon_tampered(struct mon *m, struct mon_trap *t, const uint8_t *now)
{
	uint64_t off = 0;
	const char *fn = m->syms ? vsp_sym_at(m->syms, t->addr, &off) : NULL;
	char sym[160];
	if (fn)
		snprintf(sym, sizeof sym, "%s+0x%" PRIx64, fn, off);
	else
		snprintf(sym, sizeof sym, "0x%" PRIx64, t->addr);
	char msg[320];
	snprintf(msg, sizeof msg, "code under the trap at %s changed: "
		 "%02x %02x %02x %02x %02x, was %02x %02x %02x %02x %02x; "
		 "trap re-armed, stepped from now on", sym,
		 now[0], now[1], now[2], now[3], now[4], t->code[0], t->code[1],
		 t->code[2], t->code[3], t->code[4]);
	fprintf(stderr, "vsp attach: alert: %s\n", msg);
	t->emulate = false;
	t->tampered = true;
	memcpy(t->code, now, 5);
	m->tamper_alerts++;
	/* Re-arm: a write over a breakpoint kept in guest memory (KVM, Xen)
	 * may have removed it. */
	if (m->be.ops->trap_del(&m->be, t->addr) == 0 &&
	    m->be.ops->trap_add(&m->be, t->addr) < 0)
		fprintf(stderr, "vsp attach: alert: cannot re-arm the trap at %s\n",
			sym);
	if (!m->have_audit)
		return;
	/* No rule decided this: a record of its own. */
	struct vsp_audit_note n = {
		.seq = ++m->seq, .time_ns = mon_now_ns() - m->t_attach,
		.addr = t->addr, .vm = m->o->vm ? m->o->vm : "guest0",
		.kind = "kernel", .name = fn ? fn : "", .msg = msg,
		.mode = m->mode,
	};
	vsp_audit_note(&m->audit, &n);
}

/* Reads the code under an emulated trap again when it is due. */
static void mon_verify(struct mon *m, struct mon_trap *t)
{
	if (!t->have_code || t->tampered)
		return;
	uint64_t now = mon_now_ns();
	if (t->hits - t->verify_hit < MON_VERIFY_HITS &&
	    now - m->verify_ns < MON_VERIFY_NS)
		return;
	t->verify_hit = t->hits;
	m->verify_ns = now;
	uint8_t code[5];
	if (m->be.ops->read(&m->be, m->vcpu, t->addr, code, 5) != 5)
		return;
	if (memcmp(code, t->code, 5) == 0)
		return;
	/* The kernel's own ftrace moves between `call __fentry__`, the NOP
	 * and `call ftrace_caller`: all skippable, nothing to report. */
	if (mon_skippable(m, t->addr, code, 5))
		memcpy(t->code, code, 5);
	else
		mon_tampered(m, t, code);
}

/* Leaves a trap the guest sits on and lets it run. */
static int mon_leave(struct mon *m, struct mon_trap *t)
{
	struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
	if (!t || t->role == MON_T_FREE)
		return m->be.ops->resume(&m->be, m->vcpu, &r);
	mon_trap_check(m, t);
	t->checked = true;	/* unreadable code: step over it from now on */
	if (t->emulate)
		mon_verify(m, t);
	if (t->emulate) {
		r.how = VSP_RESUME_AT;
		r.addr = t->addr + 5;
		return m->be.ops->resume(&m->be, m->vcpu, &r);
	}
	/* A backend that runs the instruction under its own trap (Xen) is
	 * simply resumed: removing the trap there would let other vCPUs pass
	 * it, and waiting for "the step" could take another vCPU's trap for
	 * it. */
	if (m->be.ops->steps_over_traps)
		return m->be.ops->resume(&m->be, m->vcpu, &r);
	if (t->role == MON_T_GETNAME_RET) {
		int erc = mon_emulate_mov(m, t);
		if (erc != -1)
			return erc;
	}
	int rc = m->be.ops->trap_del(&m->be, t->addr);
	if (rc < 0)
		return rc;
	r.how = VSP_RESUME_STEP;
	rc = m->be.ops->resume(&m->be, m->vcpu, &r);
	if (rc == 0)
		rc = mon_wait_step(m);
	int rc2 = m->be.ops->trap_add(&m->be, t->addr);
	if (rc < 0)
		return rc;
	if (rc2 < 0)
		return rc2;
	r.how = VSP_RESUME_CONTINUE;
	return m->be.ops->resume(&m->be, m->vcpu, &r);
}

/* ------------------------------------------------------------ decoding */

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

static int mon_load_args(struct mon *m)
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

static void mon_load_proc(struct mon *m)
{
	if (m->proc_loaded)
		return;
	m->proc_loaded = true;
	if (!m->have_lx)
		return;
	uint64_t base = vsp_linux_percpu_base(m->regs.gs_base,
					      m->regs.kernel_gs_base);
	uint64_t task;
	for (int i = 0; i < MON_NWIN; i++)
		m->win[i].len = 0;
	m->win_on = true;
	if (base && vsp_linux_current(&m->lx, mon_gread, m, base, &task) == 0)
		vsp_linux_proc(&m->lx, mon_gread, m, task, &m->ev.proc);
	m->win_on = false;
}

/* Reads a NUL-terminated string of at most MON_STR_MAX bytes: small first
 * (most paths are short), never across a page in one request, so an
 * unmapped page ends the string instead of failing the whole read. */
static int mon_read_str(struct mon *m, uint64_t addr, struct mon_str *s)
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

static int mon_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		     struct vsp_str *out)
{
	struct mon *m = ctx;
	int idx;
	(void)ev;
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
	if (idx < 0 || idx > 5 || m->cur->key->kind != VSP_EV_SYSCALL)
		return -1;
	if (mon_load_args(m) < 0)
		return -1;
	struct mon_str *s = &m->str[idx];
	if (s->state == 0) {
		uint64_t t0 = mon_now_ns();
		mon_read_str(m, (uint64_t)m->ev.args[idx], s);
		m->fetch_ns += mon_now_ns() - t0;
	}
	out->ptr = s->buf;
	out->len = s->len;
	return s->state == 1 ? 0 : -1;
}

#define MON_ARG_FIELDS (((1ull << 6) - 1) << VSP_F_ARG0 | \
			((1ull << 6) - 1) << VSP_F_STR0 | 1ull << VSP_F_PATH)
#define MON_PROC_FIELDS (1ull << VSP_F_PID | 1ull << VSP_F_TID | \
			 1ull << VSP_F_PPID | 1ull << VSP_F_COMM | \
			 1ull << VSP_F_UID | 1ull << VSP_F_EUID | 1ull << VSP_F_GID)

static void mon_event_fill(struct mon *m, struct mon_trap *t)
{
	struct vsp_event *ev = &m->ev;
	const struct vsp_event_key *k = t->key;
	memset(ev, 0, offsetof(struct vsp_event, strs));
	vsp_event_reset_lazy(ev);
	ev->kind = k->kind;
	ev->nr = k->kind == VSP_EV_SYSCALL ? k->nr : 0;
	ev->name = t->name;
	ev->seq = ++m->seq;
	ev->time_ns = mon_now_ns() - m->t_attach;
	ev->vm = m->o->vm ? m->o->vm : "guest0";
	ev->vcpu = m->vcpu;
	ev->cr3 = m->regs.cr3;
	ev->proc.pid = ev->proc.tid = ev->proc.ppid = -1;
	ev->proc.uid = ev->proc.euid = ev->proc.gid = -1;
	ev->fetch = mon_fetch;
	ev->fetch_ctx = m;
	m->cur = t;
	m->args_loaded = m->proc_loaded = false;
	for (int i = 0; i < 6; i++)
		m->str[i].state = 0;
	if (k->kind == VSP_EV_KERNEL) {
		const uint64_t r[6] = { m->regs.rdi, m->regs.rsi, m->regs.rdx,
					m->regs.rcx, m->regs.r8, m->regs.r9 };
		for (int i = 0; i < 6; i++)
			ev->args[i] = (int64_t)r[i];
		m->args_loaded = true;
	}
	if ((k->reads & MON_ARG_FIELDS) || m->o->record)
		mon_load_args(m);
	if ((k->reads & MON_PROC_FIELDS) || m->o->record)
		mon_load_proc(m);
	/* The call path costs one read of the stack: only for rules that
	 * look at it, learning, and traces (so replays see what we saw). */
	if (m->uw && ((k->reads & (1ull << VSP_F_STACK)) || m->o->record ||
		      m->mode == VSP_MODE_LEARN)) {
		vsp_unwind(m->uw, &m->regs, mon_gread, m, &m->cp);
		if (m->cp.n)
			vsp_callpath_to_event(&m->cp, ev);
	}
}

/* ------------------------------------------------------------- verdicts */

/* The function returns `value` without running. */
static int mon_emulate_return(struct mon *m, int64_t value)
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

static int mon_kill(struct mon *m)
{
	uint64_t fn = m->cur->key->kind == VSP_EV_SYSCALL && m->fn_group_exit ?
		m->fn_group_exit : m->fn_force_sig;
	if (!fn)
		return -ENOSYS;
	/* A tail call: same stack, first argument SIGKILL. */
	m->regs.rdi = MON_SIGKILL;
	m->regs.rip = fn;
	int rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	struct vsp_resume r = { .how = VSP_RESUME_CONTINUE };
	return m->be.ops->resume(&m->be, m->vcpu, &r);
}

static void mon_redirect_disarm_entries(struct mon *m)
{
	for (int i = 0; i < 3; i++) {
		mon_helper_del(m, m->rd.entry[i]);
		m->rd.entry[i] = NULL;
	}
}

static int mon_fetch_none(void *ctx, struct vsp_event *ev, enum vsp_field f,
			  struct vsp_str *out)
{
	(void)ctx;
	(void)ev;
	(void)f;
	(void)out;
	return -1;
}

static bool mon_writes_audit(const struct mon *m, const struct vsp_decision *d);

/* A late decision that will not happen at getname's return (the kernel
 * never got there, or vsp leaves first): decided now on what was read at
 * the entry, and recorded, so the audit log loses no event. */
static void mon_late_drop(struct mon *m, const char *why)
{
	struct vsp_event *ev = &m->rd.late_ev;
	struct vsp_decision d;
	fprintf(stderr, "vsp attach: %s: decided on the unreadable path "
		"instead (%s)\n", ev->name, why);
	ev->fetch = mon_fetch_none;
	vsp_event_reset_lazy(ev);
	if (ev->has_stack)
		vsp_callpath_to_event(&m->rd.late_cp, ev);
	ev->partial = true;
	vsp_decide(m->p, ev, &d);
	if (m->have_audit && mon_writes_audit(m, &d))
		vsp_audit_decision(&m->audit, ev, &d, false);
}

static void mon_redirect_cancel(struct mon *m, const char *why)
{
	if (!m->rd.active)
		return;
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

/* Arms the getname_flags traps that will rewrite the path.  0 or -1. */
/*
 * Arms the getname traps that will write `path` into the kernel's copy of
 * the current call's path argument: a redirect's new path, or with
 * --pin-paths the very string the rules checked, so a thread that changes
 * the user's buffer between our check and the kernel's copy gains nothing.
 * 0 or -1.
 */
static int mon_path_arm(struct mon *m, const char *path, size_t len, bool pin)
{
	if (m->rd.active)
		mon_redirect_cancel(m, pin ? NULL : "a newer redirect replaced it");
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
	return 0;
}

static int mon_on_getname(struct mon *m, struct mon_trap *t)
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
		mon_redirect_cancel(m, "cannot read the return address");
		return mon_leave(m, NULL);
	}
	m->rd.ret = mon_helper_add(m, ret, MON_T_GETNAME_RET);
	mon_redirect_disarm_entries(m);
	if (!m->rd.ret) {
		mon_redirect_cancel(m, "cannot trap getname's return");
		return mon_leave(m, NULL);
	}
	m->rd.stage = 1;
	/* Our entry trap is gone, so the guest runs on from here. */
	return mon_leave(m, NULL);
}

static int mon_on_late(struct mon *m, struct mon_trap *t);

static int mon_on_getname_ret(struct mon *m, struct mon_trap *t)
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

/* ---------------------------------------------------------------- events */

/* Whether vsp_audit_decision will write anything (audit.h's rule): a
 * decision other than the plain default allow, or a log or alert. */
static bool mon_writes_audit(const struct mon *m, const struct vsp_decision *d)
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

enum { MON_GO_ON, MON_PAUSED, MON_LOST };

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
			mon_fetch(m, &m->ev, (enum vsp_field)(VSP_F_STR0 + i), &s);
	}
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
static bool mon_late_arm(struct mon *m, struct mon_trap *t)
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
	m->late_ns = mon_now_ns();
	m->rd.late_trap = t;
	m->rd.late_ev = m->ev;
	if (m->ev.has_stack)
		m->rd.late_cp = m->cp;
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
		    sizeof hdr) {
			mon_redirect_cancel(m, "cannot read struct filename");
			return mon_leave(m, NULL);
		}
		if (hdr[1] != m->rd.uptr)
			return mon_leave(m, t);	/* another copy: wait for ours */
	}
	/* The event as it was at the entry, with the kernel's path. */
	struct mon_trap *et = m->rd.late_trap;
	m->ev = m->rd.late_ev;
	vsp_event_reset_lazy(&m->ev);
	m->ev.fetch = mon_fetch;
	m->ev.fetch_ctx = m;
	if (m->ev.has_stack) {
		m->cp = m->rd.late_cp;
		vsp_callpath_to_event(&m->cp, &m->ev);
	}
	m->cur = et;
	m->args_loaded = true;
	m->proc_loaded = false;
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
	m->rd.late = false;	/* from here on it is this event's */

	struct vsp_decision d;
	m->fetch_ns = 0;
	uint64_t e0 = mon_now_ns();
	vsp_decide(m->p, &m->ev, &d);
	uint64_t dt = mon_now_ns() - e0;
	dt = dt > m->fetch_ns ? dt - m->fetch_ns : 0;
	m->rs.engine_ns += dt;
	vsp_latency_add(&m->rs.latency, dt);
	if (m->o->record) {
		mon_load_proc(m);
		if (vsp_trace_write(m->o->record, &m->ev) < 0)
			fprintf(stderr, "vsp attach: writing the trace failed\n");
	}
	bool audit = m->have_audit && mon_writes_audit(m, &d);
	if (audit)
		mon_prefetch(m);

	bool applied = false, paused = false;
	int64_t err = 0;
	int rc = 0;
	if (m->mode == VSP_MODE_ENFORCE) {
		switch (d.verdict) {
		case VSP_V_DENY:
			err = d.value;
			break;
		case VSP_V_RETURN:
			if (d.value < 0 && d.value >= -4095)
				err = -d.value;
			else
				fprintf(stderr, "vsp attach: cannot return %" PRId64
					" from %s after getname; allowed\n",
					d.value, et->name);
			break;
		case VSP_V_KILL:
			/* Nothing is held between getname and its caller:
			 * the same exit as at the entry. */
			mon_redirect_cancel(m, NULL);
			rc = mon_kill(m);
			applied = rc == 0;
			break;
		case VSP_V_REDIRECT:
			if (!failed && d.redirect.len <= MON_REDIRECT_MAX) {
				char buf[MON_REDIRECT_MAX + 1];
				memcpy(buf, d.redirect.ptr, d.redirect.len);
				buf[d.redirect.len] = 0;
				applied = m->be.ops->write(&m->be, m->vcpu, hdr[0], buf,
							   d.redirect.len + 1) > 0;
			}
			break;
		case VSP_V_PAUSE:
			applied = paused = true;
			break;
		default:
			break;
		}
	}
	if (err && failed) {
		/* getname failed: no struct filename to give back. */
		m->regs.rax = (uint64_t)(int64_t)-err;
		rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		applied = rc == 0;
	} else if (err && m->fn_putname && MON_LATE_PUTNAME) {
		uint64_t sp = m->regs.rsp - 8, ret = m->regs.rip;
		if (m->be.ops->write(&m->be, m->vcpu, sp, &ret, 8) == 8) {
			m->regs.rsp = sp;
			m->regs.rdi = fname;
			m->regs.rip = m->fn_putname;
			rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
			applied = rc == 0;
			if (applied) {
				m->rd.late = true;
				m->rd.stage = 2;
				m->rd.late_err = (int)err;
				m->rd.late_sp = sp + 8;
			}
		}
	} else if (err) {
		/* The call fails; the guest keeps one names_cache object it
		 * will never free (see MON_LATE_PUTNAME). */
		m->regs.rax = (uint64_t)(int64_t)-err;
		rc = m->be.ops->regs_set(&m->be, m->vcpu, &m->regs);
		applied = rc == 0;
	}
	if (audit)
		vsp_audit_decision(&m->audit, &m->ev, &d, applied);
	if (rc < 0)
		return rc;
	if (d.verdict == VSP_V_KILL && applied)
		return MON_GO_ON;
	if (m->rd.stage == 2 && m->rd.late)
		return m->be.ops->resume(&m->be, m->vcpu, &go);
	mon_redirect_cancel(m, NULL);
	if (paused) {
		fprintf(stderr, "vsp attach: guest paused at %s (after getname); "
			"leaving it stopped\n", et->name);
		return MON_PAUSED;
	}
	return m->be.ops->resume(&m->be, m->vcpu, &go);
}

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
static void mon_tail_add(struct mon *m, const struct mon_trap *t,
			 const struct vsp_decision *d, bool applied)
{
	struct mon_tail *e = &m->tail[m->ntail++ % MON_TAIL];
	e->seq = m->ev.seq;
	e->time_ns = m->ev.time_ns;
	e->pid = m->ev.proc.pid;
	e->verdict = d->verdict;
	e->value = d->value;
	e->applied = applied;
	mon_copy(e->event, sizeof e->event, t->name, SIZE_MAX);
	const char *rule = d->rule >= 0 ? vsp_policy_rule(m->p, (uint32_t)d->rule)->name
				       : "default";
	mon_copy(e->rule, sizeof e->rule, rule, SIZE_MAX);
	mon_copy(e->comm, sizeof e->comm, m->ev.proc.comm, sizeof m->ev.proc.comm);
	e->path[0] = 0;
	int pa = t->path_arg;
	if (pa >= 0 && m->str[pa].state == 1)
		mon_copy(e->path, sizeof e->path, m->str[pa].buf, m->str[pa].len);
}

static int mon_on_event(struct mon *m, struct mon_trap *t)
{
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	t->hits++;
	mon_event_fill(m, t);

	struct vsp_decision d;
	m->fetch_ns = 0;
	uint64_t e0 = mon_now_ns();
	vsp_decide(m->p, &m->ev, &d);
	/* The engine's own time: string reads it asked for are the guest's. */
	uint64_t dt = mon_now_ns() - e0;
	dt = dt > m->fetch_ns ? dt - m->fetch_ns : 0;
	m->rs.engine_ns += dt;
	vsp_latency_add(&m->rs.latency, dt);

	/* A late decision whose getname return went by unseen (another
	 * vCPU passed it while a trap was stepped) frees the slot. */
	if (m->rd.active && m->rd.late && m->rd.stage != 2 &&
	    mon_now_ns() - m->late_ns > 2000000000ull)
		mon_redirect_cancel(m, "getname's return went by unseen");
	/* The path was unreadable here: decide on the kernel's copy. */
	if (t->path_arg >= 0 && m->str[t->path_arg].state == 2) {
		if (mon_late_arm(m, t)) {
			rc = mon_leave(m, t);
			return rc < 0 ? rc : MON_GO_ON;
		}
		/* The slot is taken (another late decision, a redirect or a
		 * pinned path): deciding on "" could let the open past a
		 * deny rule, so the call comes back later instead. */
		uint64_t uptr = (uint64_t)m->ev.args[t->path_arg];
		if (m->rd.active && m->mode != VSP_MODE_LEARN && uptr &&
		    uptr < MON_USER_TOP && mon_restart(m, t) == 0) {
			m->restarts++;
			return MON_GO_ON;
		}
	}

	if (m->mode == VSP_MODE_LEARN) {
		for (uint32_t i = 0; i < d.nlearn; i++)
			vsp_policy_learn(m->p, d.learn_rule[i], &m->ev);
		if (d.nlearn && !m->ev.has_stack && !m->warned_learn) {
			m->warned_learn = true;
			fprintf(stderr, "vsp attach: learn mode without call paths "
				"(no unwinder: --symbols and vmlinux needed) learns nothing\n");
		}
	}

	if (m->o->record) {
		mon_load_proc(m);
		if (vsp_trace_write(m->o->record, &m->ev) < 0)
			fprintf(stderr, "vsp attach: writing the trace failed\n");
	}

	/* Everything the records need is read now: after the verdict is
	 * applied the guest runs, and its memory cannot be read. */
	bool audit = m->have_audit && mon_writes_audit(m, &d);
	if (audit)
		mon_prefetch(m);

	bool enforce = m->mode == VSP_MODE_ENFORCE;
	bool applied = false;
	int result = MON_GO_ON;
	rc = 0;
	if (enforce) {
		switch (d.verdict) {
		case VSP_V_DENY:
			rc = mon_emulate_return(m, -d.value);
			applied = rc == 0;
			break;
		case VSP_V_RETURN:
			rc = mon_emulate_return(m, d.value);
			applied = rc == 0;
			break;
		case VSP_V_KILL:
			rc = mon_kill(m);
			applied = rc == 0;
			break;
		case VSP_V_REDIRECT:
			applied = mon_path_arm(m, d.redirect.ptr, d.redirect.len,
					       false) == 0;
			if (!applied)
				fprintf(stderr, "vsp attach: cannot redirect %s "
					"(no path argument, no getname symbol, or "
					"path too long); allowed\n", t->name);
			break;
		case VSP_V_PAUSE:
			applied = true;
			result = MON_PAUSED;
			break;
		default:
			break;
		}
		if (rc == -EFAULT || rc == -ENOSYS) {
			fprintf(stderr, "vsp attach: cannot apply %s at %s: %s; "
				"allowed\n", vsp_verdict_name(d.verdict), t->name,
				rc == -EFAULT ? "stack unreadable" : "no kernel function to call");
			rc = 0;
			applied = false;
		}
		/* The call runs with a path the rules looked at: make the
		 * kernel use exactly that string. */
		int pa = t->path_arg;
		if (m->o->pin_paths && d.verdict == VSP_V_ALLOW && pa >= 0 &&
		    m->str[pa].state == 1)
			mon_path_arm(m, m->str[pa].buf, m->str[pa].len, true);
	}

	if (audit)
		vsp_audit_decision(&m->audit, &m->ev, &d, applied);
	if (m->o->interactive)
		mon_tail_add(m, t, &d, applied);

	if (rc < 0)
		return rc;
	if (result == MON_PAUSED) {
		char who[64] = "";
		if (m->ev.proc.pid >= 0)
			snprintf(who, sizeof who, ", pid %" PRId64 " %s",
				 m->ev.proc.pid, m->ev.proc.comm);
		fprintf(stderr, "vsp attach: guest paused at %s (rule %s%s); "
			"leaving it stopped\n", t->name,
			d.rule >= 0 ? vsp_policy_rule(m->p, (uint32_t)d.rule)->name : "default",
			who);
		return MON_PAUSED;
	}
	/* Emulated returns and kills have resumed the guest already. */
	if (applied && (d.verdict == VSP_V_DENY || d.verdict == VSP_V_RETURN ||
			d.verdict == VSP_V_KILL))
		return MON_GO_ON;
	rc = mon_leave(m, t);
	return rc < 0 ? rc : MON_GO_ON;
}

/* A stop at a hypercall entry: decide, then let the call into Xen or make
 * it return at once (vsp_xhc_finish).  Kill uses the kernel path of
 * kernel events (force_sig: the task dies on its way back to user space,
 * the hypercall is not made). */
static int mon_on_hcall(struct mon *m, struct mon_trap *t)
{
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &m->regs);
	if (rc < 0)
		return rc;
	struct vsp_event *ev = &m->ev;
	memset(ev, 0, offsetof(struct vsp_event, strs));
	vsp_event_reset_lazy(ev);
	if (vsp_xhc_event(&m->xsite, t->addr, &m->regs, ev) < 0)
		return mon_leave(m, t);
	uint32_t nr = ev->nr;
	const struct vsp_event_key *k = nr < VSP_XHC_MAX ? m->hkey[nr] : NULL;
	if (!k)	/* stub mode: a hypercall no rule names */
		return vsp_xhc_finish(&m->be, m->vcpu, &m->xsite, nr, &m->regs,
				      true, 0);
	t->hits++;
	t->key = k;
	m->cur = t;
	ev->seq = ++m->seq;
	ev->time_ns = mon_now_ns() - m->t_attach;
	ev->vm = m->o->vm ? m->o->vm : "guest0";
	ev->vcpu = m->vcpu;
	ev->proc.pid = ev->proc.tid = ev->proc.ppid = -1;
	ev->proc.uid = ev->proc.euid = ev->proc.gid = -1;
	ev->fetch = mon_fetch;
	ev->fetch_ctx = m;
	m->args_loaded = true;
	m->proc_loaded = false;
	for (int i = 0; i < 6; i++)
		m->str[i].state = 2;
	if ((k->reads & MON_PROC_FIELDS) || m->o->record)
		mon_load_proc(m);
	if (m->uw && ((k->reads & (1ull << VSP_F_STACK)) || m->o->record ||
		      m->mode == VSP_MODE_LEARN))
		vsp_xhc_callpath(m->uw, &m->regs, mon_gread, m, &m->xpath, ev);

	struct vsp_decision d;
	m->fetch_ns = 0;
	uint64_t e0 = mon_now_ns();
	vsp_decide(m->p, ev, &d);
	uint64_t dt = mon_now_ns() - e0;
	m->rs.engine_ns += dt;
	vsp_latency_add(&m->rs.latency, dt);
	if (m->mode == VSP_MODE_LEARN)
		for (uint32_t i = 0; i < d.nlearn; i++)
			vsp_policy_learn(m->p, d.learn_rule[i], ev);
	if (m->o->record && vsp_trace_write(m->o->record, ev) < 0)
		fprintf(stderr, "vsp attach: writing the trace failed\n");
	bool audit = m->have_audit && mon_writes_audit(m, &d);
	if (audit)
		mon_load_proc(m);

	bool enforce = m->mode == VSP_MODE_ENFORCE, applied = false;
	int result = MON_GO_ON;
	rc = 1;	/* 1: not finished yet */
	if (enforce) {
		switch (d.verdict) {
		case VSP_V_DENY:
			rc = vsp_xhc_finish(&m->be, m->vcpu, &m->xsite, nr, &m->regs,
					    false, -d.value);
			applied = rc == 0;
			break;
		case VSP_V_RETURN:
			rc = vsp_xhc_finish(&m->be, m->vcpu, &m->xsite, nr, &m->regs,
					    false, d.value);
			applied = rc == 0;
			break;
		case VSP_V_KILL:
			rc = mon_kill(m);
			applied = rc == 0;
			break;
		case VSP_V_PAUSE:
			applied = true;
			result = MON_PAUSED;
			rc = 0;
			break;
		default:
			break;
		}
		if (rc == -EFAULT || rc == -ENOSYS) {
			fprintf(stderr, "vsp attach: cannot apply %s at hypercall %s: "
				"%s; allowed\n", vsp_verdict_name(d.verdict), ev->name,
				rc == -EFAULT ? "stack unreadable" : "no kernel function to call");
			rc = 1;
			applied = false;
		}
	}
	if (audit)
		vsp_audit_decision(&m->audit, ev, &d, applied);
	if (result == MON_PAUSED) {
		fprintf(stderr, "vsp attach: guest paused at hypercall %s (rule %s)"
			"; leaving it stopped\n", ev->name,
			d.rule >= 0 ? vsp_policy_rule(m->p, (uint32_t)d.rule)->name : "default");
		return MON_PAUSED;
	}
	if (rc == 1)
		rc = vsp_xhc_finish(&m->be, m->vcpu, &m->xsite, nr, &m->regs, true, 0);
	return rc < 0 ? rc : MON_GO_ON;
}

static int mon_on_trap(struct mon *m, const struct vsp_stop *st)
{
	struct mon_trap *t = mon_trap_at(m, st->addr);
	uint64_t t0 = mon_now_ns(), rt0 = m->rt_wait;
	int rc;
	m->vcpu = st->vcpu;
	if (!t)
		rc = mon_leave(m, NULL);	/* a trap removed meanwhile */
	else if (t->role == MON_T_EVENT)
		rc = mon_on_event(m, t);
	else if (t->role == MON_T_GETNAME)
		rc = mon_on_getname(m, t);
	else if (t->role == MON_T_HCALL)
		rc = mon_on_hcall(m, t);
	else
		rc = mon_on_getname_ret(m, t);
	m->trap_hits++;
	/* From the wait on: the stop reply and the register read count. */
	m->rt_in_traps += m->be.round_trips - rt0;
	uint64_t dt = mon_now_ns() - t0;
	m->rs.trap_ns += dt;
	vsp_latency_add(&m->rs.trap_latency, dt);
	if (t && (t->role == MON_T_EVENT || t->role == MON_T_HCALL) &&
	    (unsigned)m->ev.kind < VSP_EV_KIND_COUNT)
		m->rs.kind_events[m->ev.kind]++;
	return rc;
}

/* ----------------------------------------------------------------- setup */

/*
 * The handlers behind one syscall.  A policy on `openat` must hold for
 * every way into the kernel: the 64-bit table (__x64_sys_*), and the
 * 32-bit one that `int $0x80` reaches even from a 64-bit program
 * (__ia32_compat_sys_* or __ia32_sys_*), or a rule would be bypassed by
 * one instruction.  x32 calls use the 64-bit handlers except for a few
 * __x32_compat_sys_* ones.  6.1 names some handlers after the struct they
 * fill (`newstat`).
 */
struct mon_entry {
	const char *fmt;
	bool ia32;		/* arguments in bx cx dx si di bp, 32 bits */
};

static const struct mon_entry mon_sys_entries[] = {
	{ "__x64_sys_%s", false }, { "__x64_sys_new%s", false },
	{ "__x32_compat_sys_%s", false },
	{ "__ia32_compat_sys_%s", true }, { "__ia32_sys_%s", true },
	{ "__ia32_compat_sys_new%s", true }, { "__ia32_sys_new%s", true },
};

/* Installs one event trap; 0, 1 when skipped, or a negative code. */
static int mon_add_event_trap(struct mon *m, const struct vsp_event_key *k,
			      uint64_t addr, const char *sym, bool ia32)
{
	if (m->dry) {
		const struct vsp_call *c = k->kind == VSP_EV_SYSCALL && !ia32 &&
			strncmp(sym, "__x64_sys_", 10) == 0 ?
			vsp_syscall_by_name(k->name) : NULL;
		vsp_kverify_entry(&m->kv, sym, addr, c ? (int)c->nr : -1);
		return 1;
	}
	struct mon_trap *old = mon_trap_at(m, addr);
	if (old && old->role == MON_T_EVENT && old->gen != m->gen) {
		/* A new policy wants a trap the old one had: it stays in the
		 * guest and only its meaning changes. */
		old->gen = m->gen;
		old->key = k;
		old->name = k->name;
		old->ia32 = ia32;
		old->call = k->kind == VSP_EV_SYSCALL ? vsp_syscall_by_name(k->name) : NULL;
		old->path_arg = old->call ? vsp_call_path_arg(old->call) : -1;
		m->kept++;
		return 0;
	}
	if (old) {
		/* Handlers without arguments are often one function under
		 * two names (__x64_sys_getpid, __ia32_sys_getpid). */
		if (old->key != k)
			fprintf(stderr, "vsp attach: warning: %s shares its trap "
				"with another event; not trapped twice\n", sym);
		return 1;
	}
	struct mon_trap *t = mon_trap_new(m, addr, MON_T_EVENT);
	if (!t) {
		fprintf(stderr, "vsp attach: too many events\n");
		return -ENOSPC;
	}
	t->key = k;
	t->name = k->name;
	t->ia32 = ia32;
	t->gen = m->gen;
	if (k->kind == VSP_EV_SYSCALL) {
		t->call = vsp_syscall_by_name(k->name);
		t->path_arg = t->call ? vsp_call_path_arg(t->call) : -1;
	}
	/* The kernel runs by now (mon_wait_kernel): examine the code before
	 * the trap is in it. */
	mon_trap_check(m, t);
	int rc = m->be.ops->trap_add(&m->be, addr);
	if (rc < 0) {
		t->role = MON_T_FREE;
		fprintf(stderr, "vsp attach: cannot trap %s at 0x%" PRIx64 ": %s\n",
			sym, addr, mon_be_err(m, rc));
		return rc;
	}
	m->installed++;
	mon_say(m, "trap %s at 0x%" PRIx64 " (%s %s)", sym, addr,
		vsp_event_kind_name(k->kind), k->name);
	return 0;
}

/* Traps for a syscall or kernel event: how many went in, or negative. */
static int mon_setup_event(struct mon *m, const struct vsp_event_key *k)
{
	char sym[160];
	uint64_t addr;
	int n = 0, rc;
	if (k->kind == VSP_EV_KERNEL) {
		if (vsp_sym_addr(m->syms, k->name, &addr) < 0)
			return 0;
		rc = mon_add_event_trap(m, k, addr, k->name, false);
		return rc < 0 ? rc : rc == 0;
	}
	bool have64 = false;
	for (size_t i = 0; i < sizeof mon_sys_entries / sizeof mon_sys_entries[0]; i++) {
		const struct mon_entry *e = &mon_sys_entries[i];
		/* One 64-bit handler: `new` names only when the plain is absent. */
		if (i == 1 && have64)
			continue;
		snprintf(sym, sizeof sym, e->fmt, k->name);
		if (vsp_sym_addr(m->syms, sym, &addr) < 0)
			continue;
		if (i == 0 || i == 1)
			have64 = true;
		rc = mon_add_event_trap(m, k, addr, sym, e->ia32);
		if (rc < 0)
			return rc;
		n += rc == 0;
	}
	return n;
}

/* A hypercall event: a trap on its hypercall page entry (or on the one
 * vmcall stub of kernels with the XSA-466 change), placed and checked by
 * vmi/xen_hcall.c.  -1 only for errors that end the attach. */
static int mon_setup_hcall(struct mon *m, const struct vsp_event_key *k)
{
	char why[200];
	if (k->nr >= VSP_XHC_MAX) {
		fprintf(stderr, "vsp attach: warning: hypercall %s (%u) has no "
			"hypercall page entry; not trapped\n", k->name, k->nr);
		return 0;
	}
	if (!m->have_xsite) {
		if (!m->syms || vsp_xhc_site_find(m->syms, &m->xsite, why,
						  sizeof why) < 0) {
			fprintf(stderr, "vsp attach: warning: hypercall %s not "
				"trapped: %s\n", k->name,
				m->syms ? why : "no --symbols");
			return 0;
		}
		m->have_xsite = true;
	}
	uint64_t addr;
	int rc = vsp_xhc_place(&m->be, &m->xsite, k->nr, &addr, why, sizeof why);
	if (rc < 0) {
		/* The guest's page is not what it should be: refused, as
		 * mon_refusals refuses what the symbols lack. */
		vsp_support_refuse(stderr, m->p, k, m->o->ops->name, why);
		return 1;
	}
	m->hkey[k->nr] = k;
	struct mon_trap *old = mon_trap_at(m, addr);
	if (old && old->role == MON_T_HCALL && old->gen != m->gen) {
		old->gen = m->gen;
		m->kept++;
	} else if (!old) {
		struct mon_trap *t = mon_trap_new(m, addr, MON_T_HCALL);
		if (!t) {
			fprintf(stderr, "vsp attach: too many events\n");
			return -1;
		}
		t->name = vsp_event_kind_name(VSP_EV_HYPERCALL);
		t->gen = m->gen;
		t->checked = true;	/* vsp_xhc_finish leaves these */
		m->installed++;
	}
	mon_say(m, "trap hypercall %s at 0x%" PRIx64, k->name, addr);
	return 0;
}

/* What this guest lacks for event `k` (NULL: nothing), in `buf`. */
static const char *mon_guest_lacks(const struct mon *m,
				   const struct vsp_event_key *k,
				   char *buf, size_t n)
{
	char sym[160];
	uint64_t a;
	struct vsp_xhc_site site;
	switch (k->kind) {
	case VSP_EV_KERNEL:
		if (!m->syms)
			return NULL;	/* asked again once the guest's are read */
		if (vsp_sym_addr(m->syms, k->name, &a) == 0)
			return NULL;
		snprintf(buf, n, "the guest kernel's symbols have no %s", k->name);
		return buf;
	case VSP_EV_SYSCALL:
		if (!m->syms)
			return NULL;
		for (size_t i = 0; i < sizeof mon_sys_entries / sizeof mon_sys_entries[0]; i++) {
			snprintf(sym, sizeof sym, mon_sys_entries[i].fmt, k->name);
			if (vsp_sym_addr(m->syms, sym, &a) == 0)
				return NULL;
		}
		snprintf(buf, n, "the guest kernel has no handler for it "
			 "(no __x64_sys_%s in its symbols)", k->name);
		return buf;
	case VSP_EV_HYPERCALL:
		if (k->nr >= VSP_XHC_MAX) {
			snprintf(buf, n, "hypercall %u has no hypercall page entry",
				 k->nr);
			return buf;
		}
		if (!m->syms)
			return "no kernel symbols (give --symbols)";
		if (vsp_xhc_site_find(m->syms, &site, buf, n) < 0)
			return buf;
		return NULL;
	default:
		return NULL;
	}
}

/*
 * Refuses, before any trap goes in, every event of `p` that cannot be
 * trapped here (vmi/support.h): a kind the backend never traps, a syscall
 * without a handler or a kernel function without a symbol in this guest,
 * a hypercall without a hypercall page.  Returns how many were refused;
 * each is reported on `out` with its rule's location.
 */
static int mon_refusals(const struct mon *m, const struct vsp_policy *p,
			FILE *out)
{
	const char *be = m->o->ops->name;
	int n = 0;
	for (uint32_t i = 0; i < vsp_policy_nevents(p); i++) {
		const struct vsp_event_key *k = vsp_policy_event(p, i);
		char buf[200];
		const char *why = vsp_support_why(be, k);
		if (!why)
			why = mon_guest_lacks(m, k, buf, sizeof buf);
		if (why) {
			vsp_support_refuse(out, p, k, be, why);
			n++;
		}
	}
	return n;
}

/* Installs the traps of m->p; mon_refusals has passed it.  Returns how
 * many events the guest refused after all (a damaged hypercall page
 * entry), or a negative code for errors that end the attach. */
static int mon_setup_traps(struct mon *m)
{
	uint32_t n = vsp_policy_nevents(m->p);
	int refused = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct vsp_event_key *k = vsp_policy_event(m->p, i);
		int rc;
		if (k->kind == VSP_EV_HYPERCALL) {
			if (m->dry)
				continue;
			rc = mon_setup_hcall(m, k);
			if (rc < 0)
				return -1;
			refused += rc;
			continue;
		}
		if (k->kind != VSP_EV_SYSCALL && k->kind != VSP_EV_KERNEL)
			continue;	/* refused by mon_refusals */
		rc = m->syms ? mon_setup_event(m, k) : 0;
		if (rc < 0)
			return rc;
		if (rc == 0 && !m->dry) {
			vsp_support_refuse(stderr, m->p, k, m->o->ops->name,
					   "no trap could be placed");
			refused++;
		}
	}
	return refused;
}

static bool mon_in_kernel(const struct vsp_regs *r)
{
	return (r->cr0 & 0x80000000u) && r->rip >= VSP_KASLR_LO;
}

/*
 * A guest started paused at power on has no kernel in memory yet, and
 * with KASLR nobody knows where it will land.  Let it run, stopping it
 * every 100 ms, until a stop finds the vCPU in kernel text: the kernel
 * then has its final addresses and the slide can be searched.  Booting
 * takes about a second under TCG and user space starts later, so no event
 * a policy names is missed.
 */
static int mon_wait_kernel(struct mon *m, struct vsp_regs *r)
{
	bool told = false;
	for (int i = 0; i < 600 && !mon_in_kernel(r); i++) {
		if (mon_signal)
			return -EINTR;
		if (!told)
			mon_say(m, "waiting for the guest kernel to start");
		told = true;
		struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
		int rc = m->be.ops->resume(&m->be, 0, &go);
		struct vsp_stop st = { .kind = VSP_STOP_TIMEOUT };
		if (rc == 0)
			rc = m->be.ops->wait(&m->be, &st, 100);
		if (rc == 0 && st.kind == VSP_STOP_TIMEOUT) {
			rc = m->be.ops->interrupt(&m->be);
			for (int k = 0; rc == 0 && k < 20 && st.kind == VSP_STOP_TIMEOUT; k++)
				rc = m->be.ops->wait(&m->be, &st, 100);
		}
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			return rc;
		if (st.kind == VSP_STOP_EXITED || st.kind == VSP_STOP_TIMEOUT)
			return -ENOTCONN;
		rc = m->be.ops->regs_get(&m->be, st.vcpu, r);
		if (rc < 0)
			return rc;
	}
	return mon_in_kernel(r) ? 0 : -ETIMEDOUT;
}

/* The running kernel's own symbol table, decoded from its memory. */
static struct vsp_symtab *mon_kallsyms(struct mon *m, uint64_t rip, char *err,
				       size_t errlen)
{
	struct vsp_ksyms_stats ks;
	uint64_t rt0 = m->be.round_trips;
	struct vsp_symtab *t = vsp_ksyms_from_guest(mon_gread, m, rip, &ks, err,
						    errlen);
	if (t)
		mon_say(m, "kernel symbols from guest memory: %u, KASLR slide 0x%"
			PRIx64 " (%" PRIu64 " KiB of .rodata, %" PRIu64
			" round trips, %.0f ms)", ks.loc.nsyms, (uint64_t)ks.slide,
			ks.bytes >> 10, m->be.round_trips - rt0, (double)ks.ns / 1e6);
	return t;
}

/*
 * Once the kernel runs: symbols from the guest when no file gave them;
 * with a file, the KASLR slide, and the guest's own table to check the
 * file against.  A file whose slide cannot be found is refused: its
 * addresses would trap nothing.  -EPERM with the message printed.
 */
static int mon_find_slide(struct mon *m)
{
	struct vsp_regs r;
	int rc = m->be.ops->regs_get(&m->be, 0, &r);
	if (rc == 0)
		rc = mon_wait_kernel(m, &r);
	if (rc < 0)
		return rc;
	char err[256];
	if (!m->syms) {
		m->syms = mon_kallsyms(m, r.rip, err, sizeof err);
		if (!m->syms) {
			fprintf(stderr, "vsp attach: refusing: no symbols given and "
				"none found in the guest: %s\n", err);
			return -EPERM;
		}
		m->ksyms = m->syms;
		return 0;
	}
	/* The guest's own table gives the slide at once (both tables know
	 * _text) and is what the file is then checked against. */
	int64_t slide = 0;
	uint64_t run_text, link_text;
	m->ksyms = mon_kallsyms(m, r.rip, err, sizeof err);
	if (m->ksyms && vsp_sym_addr(m->ksyms, "_text", &run_text) == 0 &&
	    vsp_sym_addr(m->syms, "_text", &link_text) == 0) {
		slide = (int64_t)(run_text - link_text);
	} else {
		if (!m->ksyms)
			mon_say(m, "the guest's own symbols were not found (%s); %s "
				"is checked against the kernel's code only", err,
				m->o->symbols);
		struct vsp_kaslr_stats ks;
		if (vsp_kaslr_find(m->syms, m->img, mon_gread, m, r.rip, &slide,
				   &ks, err, sizeof err) < 0) {
			fprintf(stderr, "vsp attach: refusing: %s does not match the "
				"running kernel (KASLR slide not found: %s)\n",
				m->o->symbols, err);
			return -EPERM;
		}
	}
	vsp_sym_set_slide(m->syms, slide);
	mon_say(m, "kernel found; KASLR slide 0x%" PRIx64, (uint64_t)slide);
	return 0;
}

/* Every site the policy is about to trap, checked against the running
 * kernel; nothing is placed.  0, or -EPERM with the message printed. */
static int mon_verify_sites(struct mon *m)
{
	vsp_kverify_init(&m->kv, mon_gread, m, m->syms, m->ksyms, m->img);
	vsp_kverify_banner(&m->kv);
	m->dry = true;
	int rc = mon_setup_traps(m);
	m->dry = false;
	if (rc < 0)
		return rc;
	if (m->kv.failed) {
		fprintf(stderr, "vsp attach: refusing: the symbols do not match the "
			"running kernel: %s (%u of %u checks failed); no trap "
			"placed\n", m->kv.first, m->kv.failed, m->kv.checked);
		return -EPERM;
	}
	mon_say(m, "symbols verified against the running kernel (%u checks)",
		m->kv.checked);
	return 0;
}

/* Process context without a vmlinux: the running kernel's own BTF. */
static void mon_guest_btf(struct mon *m)
{
	if (m->have_lx)
		return;
	char err[256];
	uint8_t *btf;
	size_t n;
	uint64_t rt0 = m->be.round_trips, t0 = mon_now_ns();
	if (vsp_ksyms_read_btf(mon_gread, m, m->syms, &btf, &n, err, sizeof err) < 0) {
		fprintf(stderr, "vsp attach: warning: no process context: %s\n", err);
		return;
	}
	if (vsp_linux_init_mem(&m->lx, btf, n, "the guest's .BTF", m->syms, err,
			       sizeof err) == 0) {
		m->have_lx = true;
		mon_say(m, "process context from the guest's own BTF (%zu KiB, %"
			PRIu64 " round trips, %.0f ms)", n >> 10,
			m->be.round_trips - rt0, (double)(mon_now_ns() - t0) / 1e6);
	} else {
		fprintf(stderr, "vsp attach: warning: no process context: %s\n", err);
	}
	free(btf);
}

/* Whether the policy traps kernel code (and so needs symbols). */
static bool mon_wants_syms(struct mon *m)
{
	for (uint32_t i = 0; i < vsp_policy_nevents(m->p); i++) {
		enum vsp_event_kind k = vsp_policy_event(m->p, i)->kind;
		if (k == VSP_EV_SYSCALL || k == VSP_EV_KERNEL)
			return true;
	}
	return false;
}

/* Names the monitor's own helpers need (kill, redirect). */
static void mon_syms_ready(struct mon *m)
{
	uint64_t a;
	if (vsp_sym_addr(m->syms, "do_group_exit", &a) == 0)
		m->fn_group_exit = a;
	if (vsp_sym_addr(m->syms, "force_sig", &a) == 0)
		m->fn_force_sig = a;
	static const char *const gn[3] = { "getname", "getname_flags",
					   "getname_uflags" };
	for (int i = 0; i < 3; i++)
		if (vsp_sym_addr(m->syms, gn[i], &a) == 0)
			m->fn_getname[i] = a;
	if (vsp_sym_addr(m->syms, "putname", &a) == 0)
		m->fn_putname = a;
}

static int mon_load_guest_info(struct mon *m)
{
	char err[256];
	const struct vsp_monitor_opts *o = m->o;
	if (o->symbols) {
		m->syms = vsp_sym_load(o->symbols, err, sizeof err);
		if (!m->syms) {
			fprintf(stderr, "vsp attach: %s\n", err);
			return -1;
		}
	}
	/* The BTF comes from vmlinux; by default the one beside the symbols. */
	char guess[4096];
	const char *vmlinux = o->vmlinux;
	if (!vmlinux && o->symbols) {
		const char *slash = strrchr(o->symbols, '/');
		int dl = slash ? (int)(slash - o->symbols) : 1;
		snprintf(guess, sizeof guess, "%.*s/vmlinux", dl,
			 slash ? o->symbols : ".");
		if (access(guess, R_OK) == 0)
			vmlinux = guess;
	}
	if (vmlinux) {
		m->img = vsp_kimg_open(vmlinux, err, sizeof err);
		if (!m->img)
			fprintf(stderr, "vsp attach: warning: %s\n", err);
		if (vsp_linux_init(&m->lx, vmlinux, m->syms, err, sizeof err) == 0)
			m->have_lx = true;
		else
			fprintf(stderr, "vsp attach: warning: no process context: %s\n",
				err);
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &m->cs) == CS_ERR_OK) {
		m->have_cs = true;
		/* Operands, for the instructions emulated under a trap. */
		cs_option(m->cs, CS_OPT_DETAIL, CS_OPT_ON);
	}
	return 0;
}

static void mon_release(struct mon *m)
{
	if (m->uw)
		vsp_unwind_free(m->uw);
	if (m->have_cs)
		cs_close(&m->cs);
	if (m->img)
		vsp_kimg_free(m->img);
	if (m->ksyms && m->ksyms != m->syms)
		vsp_sym_free(m->ksyms);
	if (m->syms)
		vsp_sym_free(m->syms);
}

static void mon_signals(bool on, bool hup)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on ? mon_on_signal : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must end the wait for the next stop. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Under a service SIGHUP is its reload, not a detach. */
	if (hup)
		sigaction(SIGHUP, &sa, NULL);
}

static void mon_print_stats(struct mon *m)
{
	m->rs.traps_installed = m->installed;
	m->rs.round_trips = m->be.round_trips;
	vsp_stats_print(stderr, m->p, &m->rs, m->o->stats_json);
	if (m->o->stats_json)
		return;
	fprintf(stderr, "attach:             %.0f ms and %" PRIu64 " round trips "
		"from the bare stub to the traps placed\n",
		(double)m->t_first_trap / 1e6, m->rt_first_trap);
	fprintf(stderr, "traps hit:          %" PRIu64 "\n", m->trap_hits);
	if (m->trap_hits)
		fprintf(stderr, "per trap:           %.2f round trips, %.2f ms\n",
			(double)m->rt_in_traps / (double)m->trap_hits,
			(double)m->rs.trap_ns / 1e6 / (double)m->trap_hits);
	if (m->restarts)
		fprintf(stderr, "calls restarted:    %" PRIu64
			" (unreadable path while the late-decision slot was busy)\n",
			m->restarts);
}

/* ----------------------------------------------------------- the session */

/*
 * `vsp repl --gdb`: commands arrive on o->ctl_fd, one a line, and are
 * answered on m->out.  They run only while no trap is being handled: the
 * loop looks for them when a wait for a stop times out (the guest is
 * quiet) or when a tenth of a second has gone by since the last look (a
 * busy guest), so the traps themselves cost what they cost under attach.
 * Whatever must touch the guest (registers, memory, moving traps) first
 * stops it with an interrupt, handling any trap that arrives first.
 */

#define MON_CTL_NS 100000000ull
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

static uint64_t mon_count_traps(const struct mon *m)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->ntraps; i++)
		if (m->traps[i].role == MON_T_EVENT || m->traps[i].role == MON_T_HCALL)
			n++;
	return n;
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
		if ((t->role != MON_T_EVENT && t->role != MON_T_HCALL) ||
		    t->gen == m->gen)
			continue;
		rc = m->be.ops->trap_del(&m->be, t->addr);
		if (rc < 0 && rc != -ENOENT) {
			fprintf(out, "load: cannot remove the trap at 0x%" PRIx64
				": %s\n", t->addr, mon_be_err(m, rc));
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

/* What a service around the loop sees (monitor.h). */
static const struct vsp_monitor_view *mon_view(struct mon *m,
					       struct vsp_monitor_view *v)
{
	m->rs.traps_installed = m->installed;
	m->rs.round_trips = m->be.round_trips;
	v->policy = m->p;
	v->rs = &m->rs;
	v->trap_hits = m->trap_hits;
	v->rt_in_traps = m->rt_in_traps;
	v->events = m->seq;
	v->policy_loads = m->gen;
	v->audit_records = m->have_audit ? m->audit.records : 0;
	v->audit_write_errors = m->have_audit ? m->audit.write_errors : 0;
	return v;
}

/* A service's reload: `load` of its files, messages to stderr. */
static int mon_reload(struct mon *m)
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
		if (t->role != MON_T_EVENT && t->role != MON_T_HCALL)
			continue;
		const char *s = m->syms ? vsp_sym_format(m->syms, t->addr, sym, sizeof sym) : NULL;
		fprintf(m->out, "0x%016" PRIx64 "  %-8s %-20s %-32s hits %" PRIu64 "\n",
			t->addr, vsp_event_kind_name(t->key ? t->key->kind : VSP_EV_HYPERCALL),
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
		fprintf(m->out, "regs: %s\n", mon_be_err(m, rc));
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
		fprintf(m->out, "mem: %s\n", mon_be_err(m, (int)n));
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
		m->rs.traps_installed = mon_count_traps(m);
		m->rs.round_trips = m->be.round_trips;
		vsp_stats_print(out, m->p, &m->rs, false);
		fprintf(out, "traps hit:          %" PRIu64 "\n", m->trap_hits);
		if (m->trap_hits)
			fprintf(out, "per trap:           %.2f round trips, %.2f ms\n",
				(double)m->rt_in_traps / (double)m->trap_hits,
				(double)m->rs.trap_ns / 1e6 / (double)m->trap_hits);
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

static void mon_prompt(struct mon *m)
{
	if (isatty(m->o->ctl_fd)) {
		fputs("vsp> ", m->out);
		fflush(m->out);
	}
}

/* Looks for commands for up to timeout_ms and runs every whole line.
 * 1: detach (asked, or end of input), 0: go on, < 0: lost the guest. */
static int mon_ctl(struct mon *m, int timeout_ms)
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

int vsp_monitor_run(const struct vsp_monitor_opts *o)
{
	struct mon *m = calloc(1, sizeof *m);
	if (!m) {
		fprintf(stderr, "vsp attach: out of memory\n");
		return VSP_MON_LOST;
	}
	int status = VSP_MON_OK;
	bool stay_paused = false;
	m->o = o;
	m->p = o->policy;
	m->mode = vsp_policy_mode(o->policy);
	m->be.ops = o->ops;
	m->out = o->ctl_out ? o->ctl_out : stdout;
	if (mon_load_guest_info(m) < 0) {
		status = VSP_MON_USAGE;
		goto out_release;
	}
	/* Refused before connecting: nothing is left half enforced. */
	if (mon_refusals(m, m->p, stderr) > 0) {
		fprintf(stderr, "vsp attach: the policy names events that cannot "
			"be trapped on this guest; nothing attached\n");
		status = VSP_MON_POLICY;
		goto out_release;
	}
	if (o->audit || o->audit_sink) {
		mon_audit_init(m, m->p);
		m->audit.flush_each = true;
		m->have_audit = true;
	}
	mon_signal = 0;
	mon_signals(true, !o->hooks);

	char why[200];
	if (o->ops == &vsp_be_xen_ops && !vsp_be_xen_available(why, sizeof why)) {
		fprintf(stderr, "vsp attach: cannot attach to %s: no Xen here: %s\n",
			o->target, why);
		status = VSP_MON_LOST;
		goto out_signals;
	}
	uint64_t t_start = mon_now_ns();
	int rc = o->ops->attach(&m->be, o->target);
	if (rc < 0) {
		fprintf(stderr, "vsp attach: cannot attach to %s through %s: %s\n",
			o->target, o->ops->name, mon_be_err(m, rc));
		status = VSP_MON_LOST;
		goto out_detach;
	}
	m->attached = true;
	m->t_attach = mon_now_ns();
	if (m->syms || mon_wants_syms(m) || o->interactive) {
		rc = mon_find_slide(m);
		if (rc == 0)
			rc = mon_verify_sites(m);
		if (rc < 0) {
			if (rc != -EINTR && rc != -EPERM)
				fprintf(stderr, "vsp attach: the guest kernel did not "
					"start: %s\n", mon_be_err(m, rc));
			status = rc == -EINTR ? VSP_MON_OK : VSP_MON_LOST;
			goto out_detach;
		}
		mon_syms_ready(m);
		mon_guest_btf(m);
		if (!o->symbols && mon_refusals(m, m->p, stderr) > 0) {
			fprintf(stderr, "vsp attach: the policy names events this "
				"guest cannot trap; nothing placed\n");
			status = VSP_MON_POLICY;
			goto out_detach;
		}
		struct vsp_unwind_opts uo;
		char err[160];
		memset(&uo, 0, sizeof uo);
		m->uw = vsp_unwind_new(m->syms, m->img, &uo, err, sizeof err);
		if (!m->uw)
			fprintf(stderr, "vsp attach: warning: no call paths: %s\n", err);
	}
	rc = mon_setup_traps(m);
	if (rc != 0) {
		if (rc > 0)
			fprintf(stderr, "vsp attach: the policy names events this "
				"guest cannot trap; detaching\n");
		status = rc > 0 ? VSP_MON_POLICY : VSP_MON_LOST;
		goto out_detach;
	}
	m->t_first_trap = mon_now_ns() - t_start;
	m->rt_first_trap = m->be.round_trips;
	mon_say(m, "attached to %s (%s, %u vCPU); %" PRIu64 " trap%s installed, "
		"mode %s", o->target, o->ops->name, m->be.ncpus, m->installed,
		m->installed == 1 ? "" : "s", vsp_mode_name(m->mode));
	if (o->record)
		fflush(o->record);
	/* The audit file is emptied only now that vsp guards the guest. */
	if (o->audit_sink && (rc = vsp_sink_start(o->audit_sink)) < 0)
		fprintf(stderr, "vsp attach: emptying the audit file: %s\n",
			strerror(-rc));
	struct vsp_monitor_view view;
	if (o->hooks && o->hooks->ready)
		o->hooks->ready(o->hooks->ctx, mon_view(m, &view));

	struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
	rc = o->ops->resume(&m->be, 0, &go);
	uint64_t events_seen = 0;
	if (o->interactive) {
		fprintf(m->out, "attached to %s; %" PRIu64 " trap%s, mode %s; "
			"'help' lists the commands\n", o->target, m->installed,
			m->installed == 1 ? "" : "s", vsp_mode_name(m->mode));
		fflush(m->out);
		mon_prompt(m);
	}
	while (rc >= 0) {
		if (mon_signal) {
			mon_say(m, "signal %d: detaching", (int)mon_signal);
			break;
		}
		if (o->hooks && o->hooks->tick &&
		    o->hooks->tick(o->hooks->ctx, mon_view(m, &view)) ==
		    VSP_HOOK_RELOAD && (rc = mon_reload(m)) < 0)
			break;
		if (o->interactive && (m->paused ||
				       mon_now_ns() - m->ctl_ns > MON_CTL_NS)) {
			/* A stopped guest sends nothing: only commands wake us. */
			int q = mon_ctl(m, m->paused ? 200 : 0);
			if (q < 0) {
				rc = q;
				break;
			}
			if (q > 0) {
				mon_say(m, "detaching");
				break;
			}
			if (m->paused)
				continue;
		}
		if (o->max_events && events_seen >= (uint64_t)o->max_events) {
			mon_say(m, "%d events seen: detaching", o->max_events);
			break;
		}
		struct vsp_stop st;
		m->rt_wait = m->be.round_trips;
		rc = o->ops->wait(&m->be, &st, o->interactive ? 50 : 1000);
		if (rc == -EINTR) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		if (st.kind == VSP_STOP_TIMEOUT) {
			m->ctl_ns = 0;	/* the guest is quiet: look at once */
			continue;
		}
		if (st.kind == VSP_STOP_EXITED) {
			mon_say(m, "the guest ended");
			rc = -ENOTCONN;
			status = VSP_MON_OK;
			goto out_gone;
		}
		if (st.kind == VSP_STOP_TRAP) {
			rc = mon_on_trap(m, &st);
			if (rc == MON_PAUSED && o->interactive) {
				/* The session goes on around the stopped guest. */
				m->paused = m->rule_paused = true;
				m->pause_addr = st.addr;
				fprintf(m->out, "guest paused by a rule; 'continue' "
					"resumes it\n");
				fflush(m->out);
				rc = 0;
				events_seen++;
				continue;
			}
			if (rc == MON_PAUSED) {
				stay_paused = true;
				break;
			}
			events_seen++;
			continue;
		}
		/* A stop we did not ask for: let the guest go on. */
		rc = o->ops->resume(&m->be, st.vcpu, &go);
	}
	if (rc < 0) {
		fprintf(stderr, "vsp attach: lost the guest: %s\n", mon_be_err(m, rc));
		status = VSP_MON_LOST;
	}
	/* A guest paused by a rule stays so; one paused from the session
	 * runs on. */
	if (o->interactive && m->rule_paused && rc >= 0)
		stay_paused = true;
out_gone:
	/* A pending redirect's traps go with the rest in detach (the guest
	 * may be running now: no packets but the interrupt). */
	if (m->rd.active && m->rd.late && m->rd.stage != 2)
		mon_late_drop(m, "detached first");
	else if (m->rd.active && !m->rd.pin && !m->rd.late)
		fprintf(stderr, "vsp attach: redirect to %s not applied: "
			"detached first\n", m->rd.path);
	m->rd.active = false;
	m->rd.late = false;
out_detach:
	o->ops->detach(&m->be, stay_paused);
	if (stay_paused)
		fprintf(stderr, "vsp attach: detached; the guest stays paused\n");
	else if (m->attached && status == VSP_MON_OK && !mon_signal && rc >= 0)
		mon_say(m, "detached; the guest runs on");
	else if (m->attached && mon_signal)
		mon_say(m, "detached; every trap removed, the guest runs on");
out_signals:
	mon_signals(false, !o->hooks);
	if (m->have_audit) {
		vsp_audit_release(&m->audit);
		if (o->audit)
			fflush(o->audit);
	}
	if (o->record)
		fflush(o->record);
	if (o->hooks && o->hooks->done && m->attached)
		o->hooks->done(o->hooks->ctx, mon_view(m, &view));
	if (o->stats && m->attached)
		mon_print_stats(m);
	if (m->mode == VSP_MODE_LEARN && m->attached &&
	    vsp_policy_save_profiles(m->p, stderr) < 0 && status == VSP_MON_OK)
		status = VSP_MON_USAGE;
out_release:
	if (m->p != o->policy)
		vsp_policy_free(m->p);
	mon_release(m);
	free(m);
	return status;
}
