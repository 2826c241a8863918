/*
 * traps.c: the monitor's trap table (see vmi/mon.h).
 *
 * Where traps go and how the guest gets past them:
 *  - a trap is left by resuming at addr + 5 when the instruction under it
 *    is the 5-byte NOP ftrace leaves at every kernel function's entry
 *    (checked with Capstone at the first hit), else by removing the trap,
 *    stepping once and putting it back.  The code under an emulated trap
 *    is read again now and then (every MON_VERIFY_HITS hits of it, or
 *    after a second): if it is no longer one it may skip, the write is
 *    reported (stderr and an alert record), the trap re-armed and stepped;
 *  - a backend that steps over its own traps (Xen) is simply resumed;
 *  - helper traps (getname's entry and return, for redirects and late
 *    decisions) come and go at a few places, whose code is remembered.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmi/mon.h"

struct mon_trap *mon_trap_new(struct mon *m, uint64_t addr,
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

struct mon_trap *mon_trap_at(struct mon *m, uint64_t addr)
{
	for (size_t i = 0; i < m->ntraps; i++)
		if (m->traps[i].role != MON_T_FREE && m->traps[i].addr == addr)
			return &m->traps[i];
	return NULL;
}

/* Installs a helper trap, unless one is there already. */
struct mon_trap *mon_helper_add(struct mon *m, uint64_t addr,
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

int mon_helper_del(struct mon *m, struct mon_trap *t)
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
void mon_trap_check(struct mon *m, struct mon_trap *t)
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
	mon_alert_note(m, "kernel", fn ? fn : "", t->addr, msg);
}

void mon_alert_note(struct mon *m, const char *kind, const char *name,
		    uint64_t addr, const char *msg)
{
	if (!m->have_audit)
		return;
	struct vsp_audit_note n = {
		.seq = ++m->seq, .time_ns = vsp_now_ns() - m->t_attach,
		.addr = addr, .vm = m->o->vm ? m->o->vm : "guest0",
		.kind = kind, .name = name, .msg = msg,
		.mode = m->mode,
	};
	uint64_t lost = m->audit.write_errors;
	int rc = vsp_audit_note(&m->audit, &n);
	if (rc < 0)
		mon_lost(m, "audit", rc, m->audit.write_errors - lost);
}

/*
 * The baseline is what the running kernel set up: a guest attached at
 * power on (the paused QEMU of the tests) turns SMEP and SMAP on and
 * patches its entry code while it boots, so until `system_state` says
 * the boot is over (SYSTEM_FREEING_INITMEM or later: 2 and up on every
 * kernel since 4.13) the baseline waits.  CR0.WP is set in every booted
 * kernel: a baseline without it is itself a change.  One read of
 * system_state and one of the entry code, once.
 */
void mon_integ_start(struct mon *m)
{
	if (m->have_integ || !m->syms)
		return;
	if (!m->sym_system_state &&
	    vsp_sym_addr(m->syms, "system_state", &m->sym_system_state) < 0)
		m->sym_system_state = 1;	/* none: take it now */
	if (m->sym_system_state != 1) {
		uint32_t state = 0;
		if (m->be.ops->read(&m->be, m->vcpu, m->sym_system_state, &state,
				    4) != 4 || state < 2)
			return;
	}
	if (!m->fn_entry)
		(void)vsp_sym_addr(m->syms, "entry_SYSCALL_64", &m->fn_entry);
	struct vsp_regs r = m->regs;
	r.cr0 |= VSP_CR0_WP;
	vsp_integ_init(&m->integ, &r, mon_gread, m, m->fn_entry);
	m->have_integ = true;
	m->integ_ns = vsp_now_ns();
	mon_say(m, "integrity baseline: CR0.WP %s, CR4.SMEP %s, CR4.SMAP %s, "
		"%s%s", m->regs.cr0 & VSP_CR0_WP ? "set" : "clear",
		m->regs.cr4 & VSP_CR4_SMEP ? "set" : "clear",
		m->regs.cr4 & VSP_CR4_SMAP ? "set" : "clear",
		m->integ.lstar ? "MSR_LSTAR and " : "",
		m->integ.have_code ? "entry_SYSCALL_64's code" :
		"no syscall entry code");
	/* The kernel's memory layout and its patched text are final now. */
	mon_write_aliases(m);
	if (m->tails_early && m->uw) {
		struct vsp_unwind_orc_stats os;
		char err[200];
		uint64_t rt0 = m->be.round_trips;
		m->tails_early = false;
		if (vsp_unwind_tails_reread(m->uw, mon_gread, m, &os, err,
					    sizeof err) == 0)
			mon_say(m, "tail jumps read again from the booted "
				"kernel's text (%u, %" PRIu64 " round trips, "
				"%.0f ms)", os.entries, m->be.round_trips - rt0,
				(double)os.ns / 1e6);
		else
			fprintf(stderr, "vsp attach: warning: the booted kernel's "
				"text cannot be read again (%s): call paths keep "
				"the tail jumps of its boot\n", err);
	}
	/* Attached to a kernel that already runs without write protection. */
	mon_integrity(m);
}

void mon_integrity(struct mon *m)
{
	uint64_t now = vsp_now_ns();

	m->integ_stop_ns = now;
	m->integ_asked = false;
	if (!m->have_integ) {
		mon_integ_start(m);
		return;
	}
	/* The code costs a round trip: not at every stop. */
	bool code = now - m->integ_ns >= MON_INTEG_NS;
	if (code) {
		m->integ_ns = now;
		m->integ_reads++;
	}
	char msg[300];
	if (!vsp_integ_check(&m->integ, &m->regs, code ? mon_gread : NULL, m,
			     msg, sizeof msg))
		return;
	fprintf(stderr, "vsp attach: alert: %s (vCPU %u)\n", msg, m->vcpu);
	m->integ_alerts++;
	mon_alert_note(m, "kernel", "entry_SYSCALL_64", m->integ.entry, msg);
}

/* Reads the code under an emulated trap again when it is due. */
static void mon_verify(struct mon *m, struct mon_trap *t)
{
	if (!t->have_code || t->tampered)
		return;
	uint64_t now = vsp_now_ns();
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
int mon_leave(struct mon *m, struct mon_trap *t)
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

uint64_t mon_count_traps(const struct mon *m)
{
	uint64_t n = 0;
	for (size_t i = 0; i < m->ntraps; i++)
		if (m->traps[i].role == MON_T_EVENT)
			n++;
	return n;
}

/* Installs one event trap for a site that traps kernel code; 0, 1 when
 * skipped, or a negative code. */
int mon_add_event_trap(struct mon *m, const struct vsp_event_key *k,
		       const struct mon_site *site, uint64_t addr,
		       const char *sym, bool ia32)
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
		old->site = site;
		old->hook = NULL;	/* the hook site sets its own */
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
	t->site = site;
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
			sym, addr, vsp_backend_error(&m->be, rc));
		return rc;
	}
	m->installed++;
	mon_say(m, "trap %s at 0x%" PRIx64 " (%s %s)", sym, addr,
		vsp_event_kind_name(k->kind), k->name);
	return 0;
}
