/*
 * gdb_backend.c: the backend operations (vmi/backend.h) over a GDB remote
 * stub, through the RSP client in vmi/gdb.c.
 *
 * The monitor loop speaks only struct vsp_backend_ops; this file turns each
 * operation into as few packets as it can, because under QEMU TCG every
 * stop already costs tens of milliseconds: the register file is read once
 * per stop (that read also tells which breakpoint was hit) and kept until
 * the guest runs again, and register writes send only the general
 * registers and rip (a short G packet, which stubs apply register by
 * register) so control and segment registers are never rewritten.
 *
 * Register layout of the x86-64 `g` reply (QEMU's, the same as gdb's
 * i386:x86-64 description): rax..r15 and rip (8 bytes each), eflags and
 * cs ss ds es fs gs (4 each), fs_base gs_base k_gs_base, cr0 cr2 cr3 cr4
 * cr8 efer (8 each), then FPU and SSE state we do not use.
 */
#include "vmi/backend.h"
#include "vmi/gdb.h"
#include "vmi/gdb_guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GBE_REG_RIP 128
#define GBE_REG_EFLAGS 136
#define GBE_REG_FS_BASE 164
#define GBE_REG_GS_BASE 172
#define GBE_REG_KGS_BASE 180
#define GBE_REG_CR0 188
#define GBE_REG_CR3 204
#define GBE_REG_CR4 212
/* Linux PTI: the user copy of a pgd is the kernel's + 4 KiB; with PCIDs
 * its CR3 also has the user PCID bit. */
#define GBE_CR3_PTI_USER (1ull << 12)
#define GBE_CR3_PTI_PCID (1ull << 11)
#define GBE_REGS_MIN 140	/* up to eflags: all a monitor must have */
#define GBE_REGS_MAX 1024
#define GBE_MAX_TRAPS VSP_GDB_MAX_TRAPS
#define GBE_MAX_WATCH VSP_GDB_MAX_WATCH

struct gbe {
	struct vsp_gdb g;
	uint8_t regs[GBE_REGS_MAX];
	size_t nregs;
	bool regs_valid;	/* regs hold the stopped vCPU's state */
	uint32_t regs_thread;
	bool running;
	bool stepping;		/* the last resume was a single step */
	bool interrupting;	/* we sent the interrupt byte */
	uint64_t traps[GBE_MAX_TRAPS];
	/* The byte under each trap as read before inserting it: a stub that
	 * writes int3 into memory (QEMU under KVM does) would show it in
	 * reads, and readers must see the guest's own bytes. */
	uint8_t saved[GBE_MAX_TRAPS];
	bool saved_ok[GBE_MAX_TRAPS];
	size_t ntraps;
	/* Write watchpoints, removed at detach like the traps. */
	uint64_t watch_at[GBE_MAX_WATCH], watch_len[GBE_MAX_WATCH];
	size_t nwatch;
	/* A vCPU stopped on the user copy of its pgd under PTI reads
	 * kernel memory with the kernel's copy in CR3 (gbe_kernel_view),
	 * its own CR3 put back before it runs or another vCPU is read. */
	bool cr3_swapped;
	int cr3_regno;		/* in P packets; -1 not asked yet, -2 none */
	uint32_t cr3_thread;
	uint64_t cr3_own;
	/* What becomes of the guest if vsp dies (vmi/gdb_guard.h). */
	struct vsp_gdb_guard guard;
};

static struct gbe *gbe_of(struct vsp_backend *be)
{
	return be->priv;
}

static void gbe_sync(struct vsp_backend *be)
{
	be->round_trips = gbe_of(be)->g.round_trips;
}

static uint64_t gbe_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);	/* the stub sends target (little-endian) order */
	return v;
}

static uint32_t gbe_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int gbe_load_regs(struct vsp_backend *be, uint32_t vcpu)
{
	struct gbe *s = gbe_of(be);
	uint32_t thread = vcpu + 1;
	if (s->regs_valid && s->regs_thread == thread)
		return 0;
	if (s->g.cur_thread && s->g.cur_thread != thread) {
		int rc = vsp_gdb_select_thread(&s->g, thread);
		if (rc < 0)
			return rc;
	}
	long n = vsp_gdb_regs_read(&s->g, s->regs, sizeof s->regs);
	gbe_sync(be);
	if (n < 0)
		return (int)n;
	if (n < GBE_REGS_MIN) {
		snprintf(s->g.err, sizeof s->g.err,
			 "register block too short (%ld bytes): not an x86-64 target", n);
		return -EPROTO;
	}
	memset(s->regs + n, 0, sizeof s->regs - (size_t)n);
	/* The registers are the vCPU's own, not those of a kernel read. */
	if (s->cr3_swapped && s->cr3_thread == thread)
		memcpy(s->regs + GBE_REG_CR3, &s->cr3_own, 8);
	s->nregs = (size_t)n;
	s->regs_valid = true;
	s->regs_thread = thread;
	return 0;
}

static int gbe_attach(struct vsp_backend *be, const char *target)
{
	struct gbe *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int rc = vsp_gdb_init(&s->g);
	if (rc < 0) {
		free(s);
		return rc;
	}
	be->priv = s;
	be->ncpus = 1;
	s->guard.fd = -1;
	s->cr3_regno = -1;
	rc = vsp_gdb_connect(&s->g, target, 3000);
	if (rc < 0)
		goto fail;
	vsp_gdb_guard_start(&s->guard, s->g.fd, &be->guard);
	struct vsp_gdb_stop st;
	rc = vsp_gdb_handshake(&s->g, &st);
	if (rc == -ETIMEDOUT) {
		/* QEMU's stub takes one client: a second one is accepted by
		 * the kernel's backlog and then never hears a byte */
		snprintf(s->g.err, sizeof s->g.err,
			 "the stub is busy: it took the connection but does not "
			 "answer (another debugger attached?)");
		goto fail;
	}
	if (rc < 0)
		goto fail;
	if (st.kind != VSP_GDB_STOP_SIGNAL) {
		snprintf(s->g.err, sizeof s->g.err, "the target has already exited");
		rc = -ENOTCONN;
		goto fail;
	}
	/* Count the vCPUs (threads); a stub without the query has one. */
	uint32_t n = 0;
	if (vsp_gdb_request(&s->g, "qfThreadInfo") == 0) {
		while (s->g.pkt[0] == 'm' && n < 4096) {
			for (const char *p = s->g.pkt + 1; *p; p++)
				if (*p == ',')
					n++;
			n++;
			if (vsp_gdb_request(&s->g, "qsThreadInfo") < 0)
				break;
		}
	}
	be->ncpus = n ? n : 1;
	gbe_sync(be);
	return 0;
fail:
	gbe_sync(be);
	return rc;
}

static int gbe_trap_add(struct vsp_backend *be, uint64_t addr)
{
	struct gbe *s = gbe_of(be);
	if (s->ntraps >= GBE_MAX_TRAPS)
		return -ENOSPC;
	uint8_t orig;
	bool have = vsp_gdb_mem_read(&s->g, addr, &orig, 1) == 1;
	int rc = vsp_gdb_break_insert(&s->g, addr);
	gbe_sync(be);
	if (rc < 0)
		return rc;
	s->saved[s->ntraps] = orig;
	s->saved_ok[s->ntraps] = have;
	s->traps[s->ntraps++] = addr;
	vsp_gdb_guard_trap(&s->guard, true, addr);
	return 0;
}

static int gbe_trap_del(struct vsp_backend *be, uint64_t addr)
{
	struct gbe *s = gbe_of(be);
	size_t i;
	for (i = 0; i < s->ntraps && s->traps[i] != addr; i++)
		;
	if (i == s->ntraps)
		return -ENOENT;
	int rc = vsp_gdb_break_remove(&s->g, addr);
	gbe_sync(be);
	if (rc < 0)
		return rc;
	--s->ntraps;
	s->traps[i] = s->traps[s->ntraps];
	s->saved[i] = s->saved[s->ntraps];
	s->saved_ok[i] = s->saved_ok[s->ntraps];
	vsp_gdb_guard_trap(&s->guard, false, addr);
	return 0;
}

/* Puts back the CR3 gbe_kernel_view replaced, on the vCPU it replaced it
 * on (the one selected: only gbe_select changes that, and it calls this
 * first). */
static int gbe_cr3_restore(struct gbe *s)
{
	if (!s->cr3_swapped)
		return 0;
	int rc = vsp_gdb_reg_write(&s->g, (unsigned)s->cr3_regno,
				   (const uint8_t *)&s->cr3_own, 8);
	if (rc == 0) {
		s->cr3_swapped = false;
		vsp_gdb_guard_cr3(&s->guard, -1, 0, 0);
	}
	return rc;
}

/* cr3's number in P packets, from the stub's target description (reading
 * it is also what lets QEMU's stub take P).  Said once when there is none:
 * kernel memory then cannot be read at this PTI guest's user-mode stops. */
static int gbe_cr3_regno(struct gbe *s)
{
	unsigned n;

	if (s->cr3_regno == -2)
		return -1;
	if (vsp_gdb_xml_regnum(&s->g, "cr3", &n) < 0) {
		fprintf(stderr, "vsp: warning: the stub does not let CR3 be "
			"written (%s): kernel memory cannot be read while a vCPU "
			"of this PTI guest is stopped in user mode\n", s->g.err);
		s->cr3_regno = -2;
		return -1;
	}
	s->cr3_regno = (int)n;
	return 0;
}

static int gbe_select(struct gbe *s, uint32_t vcpu)
{
	uint32_t thread = vcpu + 1;
	if (s->g.cur_thread && s->g.cur_thread != thread) {
		int rc = gbe_cr3_restore(s);
		if (rc < 0)
			return rc;
		return vsp_gdb_select_thread(&s->g, thread);
	}
	return 0;
}

/*
 * Under PTI a vCPU stopped in user mode (or in the entry code before it
 * switches) runs on the user copy of its pgd, which maps the kernel's
 * entry code and little else, and a stub reads through the vCPU's own
 * page tables.  Before the first kernel address read or written at such a
 * stop, the kernel's copy goes into CR3 (one P packet; the user copy's
 * user half is the same, so user reads see the same memory); it stays
 * until the vCPU runs again.  Only when the monitor has read from the
 * kernel itself that PTI is on (be->guest_pti): elsewhere the page 4 KiB
 * below a pgd is any page at all.
 */
static void gbe_kernel_view(struct vsp_backend *be, uint32_t vcpu,
			    uint64_t gva)
{
	struct gbe *s = gbe_of(be);
	if (!be->guest_pti || !(gva >> 63) || s->cr3_swapped ||
	    gbe_load_regs(be, vcpu) < 0 || s->nregs < GBE_REG_CR3 + 8)
		return;
	uint64_t cr3 = gbe_u64(s->regs + GBE_REG_CR3);
	if (!(cr3 & GBE_CR3_PTI_USER))
		return;
	uint64_t k = cr3 & ~(GBE_CR3_PTI_USER | GBE_CR3_PTI_PCID);
	if (s->cr3_regno < 0 && gbe_cr3_regno(s) < 0) {
		gbe_sync(be);
		return;
	}
	if (vsp_gdb_reg_write(&s->g, (unsigned)s->cr3_regno,
			      (const uint8_t *)&k, 8) == 0) {
		s->cr3_swapped = true;
		s->cr3_thread = vcpu + 1;
		s->cr3_own = cr3;
		vsp_gdb_guard_cr3(&s->guard, s->cr3_regno, s->cr3_thread, cr3);
	}
	gbe_sync(be);
}

/* A stub that keeps its breakpoints in guest memory (QEMU under KVM)
 * shows its int3 in the n bytes read at gva: put the guest's byte back.
 * Any other byte is the guest's own (TCG keeps breakpoints out of
 * memory) or a write over the trap, which the monitor must see. */
static void gbe_unpatch(const struct gbe *s, uint64_t gva, void *buf, long n)
{
	for (size_t i = 0; n > 0 && i < s->ntraps; i++)
		if (s->saved_ok[i] && s->traps[i] >= gva &&
		    s->traps[i] < gva + (uint64_t)n &&
		    ((uint8_t *)buf)[s->traps[i] - gva] == 0xcc)
			((uint8_t *)buf)[s->traps[i] - gva] = s->saved[i];
}

static long gbe_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     void *buf, size_t len)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_select(s, vcpu);
	if (rc < 0)
		return rc;
	gbe_kernel_view(be, vcpu, gva);
	long n = len ? vsp_gdb_mem_read(&s->g, gva, buf, len) : 0;
	gbe_sync(be);
	gbe_unpatch(s, gva, buf, n);
	return n;
}

static int gbe_read_many(struct vsp_backend *be, uint32_t vcpu,
			 struct vsp_read *r, size_t n)
{
	struct gbe *s = gbe_of(be);
	struct vsp_gdb_read gr[VSP_GDB_READ_MANY_MAX];
	int rc = gbe_select(s, vcpu);
	if (rc < 0)
		return rc;
	if (n > VSP_GDB_READ_MANY_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		gbe_kernel_view(be, vcpu, r[i].gva);
	for (size_t i = 0; i < n; i++)
		gr[i] = (struct vsp_gdb_read){ r[i].gva, r[i].buf, r[i].len, -EIO };
	rc = vsp_gdb_mem_read_many(&s->g, gr, n);
	gbe_sync(be);
	for (size_t i = 0; i < n; i++) {
		r[i].got = rc < 0 ? rc : gr[i].got;
		gbe_unpatch(s, r[i].gva, r[i].buf, r[i].got);
	}
	return rc;
}

static long gbe_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		      const void *buf, size_t len)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_select(s, vcpu);
	if (rc < 0)
		return rc;
	gbe_kernel_view(be, vcpu, gva);
	rc = vsp_gdb_mem_write(&s->g, gva, buf, len);
	gbe_sync(be);
	return rc < 0 ? rc : (long)len;
}

static int gbe_regs_get(struct vsp_backend *be, uint32_t vcpu,
			struct vsp_regs *r)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_load_regs(be, vcpu);
	if (rc < 0)
		return rc;
	const uint8_t *p = s->regs;
	uint64_t *gp = &r->rax;	/* rax..r15 are laid out as in the packet */
	for (int i = 0; i < 16; i++)
		gp[i] = gbe_u64(p + 8 * i);
	r->rip = gbe_u64(p + GBE_REG_RIP);
	r->rflags = gbe_u32(p + GBE_REG_EFLAGS);
	r->fs_base = gbe_u64(p + GBE_REG_FS_BASE);
	r->gs_base = gbe_u64(p + GBE_REG_GS_BASE);
	r->kernel_gs_base = gbe_u64(p + GBE_REG_KGS_BASE);
	r->cr0 = gbe_u64(p + GBE_REG_CR0);
	r->cr3 = gbe_u64(p + GBE_REG_CR3);
	r->cr4 = gbe_u64(p + GBE_REG_CR4);
	return 0;
}

static int gbe_regs_set(struct vsp_backend *be, uint32_t vcpu,
			const struct vsp_regs *r)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_load_regs(be, vcpu);
	if (rc < 0)
		return rc;
	uint8_t blk[GBE_REGS_MIN];
	const uint64_t *gp = &r->rax;
	for (int i = 0; i < 16; i++)
		memcpy(blk + 8 * i, &gp[i], 8);
	memcpy(blk + GBE_REG_RIP, &r->rip, 8);
	uint32_t fl = (uint32_t)r->rflags;
	memcpy(blk + GBE_REG_EFLAGS, &fl, 4);
	/* Leave eflags out unless it changed: fewer bytes, less to go wrong. */
	size_t len = memcmp(blk + GBE_REG_EFLAGS, s->regs + GBE_REG_EFLAGS, 4) ?
		GBE_REGS_MIN : GBE_REG_EFLAGS;
	rc = vsp_gdb_regs_write(&s->g, blk, len);
	gbe_sync(be);
	if (rc < 0) {
		s->regs_valid = false;
		return rc;
	}
	memcpy(s->regs, blk, len);
	return 0;
}

static bool gbe_is_trap(const struct gbe *s, uint64_t addr)
{
	for (size_t i = 0; i < s->ntraps; i++)
		if (s->traps[i] == addr)
			return true;
	return false;
}

static int gbe_wait(struct vsp_backend *be, struct vsp_stop *stop,
		    int timeout_ms)
{
	struct gbe *s = gbe_of(be);
	struct vsp_gdb_stop gs;
	memset(stop, 0, sizeof *stop);
	if (!s->running) {
		/* Nothing runs, so nothing can stop: the caller asked to wait
		 * on a paused guest. */
		stop->kind = VSP_STOP_TIMEOUT;
		return 0;
	}
	int rc = vsp_gdb_wait_stop(&s->g, &gs, timeout_ms);
	gbe_sync(be);
	if (rc == -ETIMEDOUT) {
		stop->kind = VSP_STOP_TIMEOUT;
		return 0;
	}
	if (rc < 0)
		return rc;
	s->running = false;
	s->regs_valid = false;
	if (gs.kind != VSP_GDB_STOP_SIGNAL) {
		stop->kind = VSP_STOP_EXITED;
		stop->code = gs.sig;
		return 0;
	}
	stop->vcpu = gs.thread ? gs.thread - 1 : (s->g.cur_thread ? s->g.cur_thread - 1 : 0);
	bool stepping = s->stepping, interrupting = s->interrupting;
	s->stepping = false;
	/* The registers tell which trap, and the monitor needs them anyway. */
	rc = gbe_load_regs(be, stop->vcpu);
	if (rc < 0)
		return rc;
	uint64_t rip = gbe_u64(s->regs + GBE_REG_RIP);
	if (gs.sig == 5 && gs.watch && s->nwatch) {
		stop->kind = VSP_STOP_WATCH;
		stop->addr = gs.watch_addr;
	} else if (gs.sig == 5 && gbe_is_trap(s, rip) && !stepping) {
		stop->kind = VSP_STOP_TRAP;
		stop->addr = rip;
	} else if (stepping && gs.sig == 5) {
		stop->kind = VSP_STOP_STEP;
		stop->addr = rip;
	} else if (interrupting || gs.sig == 2) {
		s->interrupting = false;
		stop->kind = VSP_STOP_INTERRUPT;
		stop->addr = rip;
	} else {
		stop->kind = VSP_STOP_OTHER;
		stop->addr = rip;
		stop->code = gs.sig;
	}
	return 0;
}

static int gbe_resume(struct vsp_backend *be, uint32_t vcpu,
		      const struct vsp_resume *how)
{
	struct gbe *s = gbe_of(be);
	int rc = 0;
	/* A GDB stub resumes every vCPU together; a step, where the stub
	 * can, runs the stopped one alone. */
	if (how->how != VSP_RESUME_STAY) {
		rc = gbe_cr3_restore(s);
		gbe_sync(be);
		if (rc < 0)
			return rc;
	}
	switch (how->how) {
	case VSP_RESUME_STAY:
		return 0;
	case VSP_RESUME_CONTINUE:
		rc = vsp_gdb_continue(&s->g, false, 0);
		break;
	case VSP_RESUME_AT:
		rc = vsp_gdb_continue(&s->g, true, how->addr);
		break;
	case VSP_RESUME_STEP:
		rc = vsp_gdb_step_thread(&s->g, vcpu + 1);
		s->stepping = rc == 0;
		break;
	}
	if (rc < 0)
		return rc;
	s->running = true;
	s->regs_valid = false;
	return 0;
}

static int gbe_interrupt(struct vsp_backend *be)
{
	struct gbe *s = gbe_of(be);
	if (!s->running)
		return 0;
	s->interrupting = true;
	return vsp_gdb_interrupt(&s->g);
}

static int64_t gbe_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void gbe_detach(struct vsp_backend *be, bool stay_paused)
{
	struct gbe *s = gbe_of(be);
	if (!s)
		return;
	if (s->g.fd >= 0) {
		/* 3 s for the interrupt's stop, then, if the stub is still
		 * connected and traps are placed, one more interrupt and 10 s:
		 * a loaded host can take longer than 3 s to stop a TCG guest,
		 * and traps left behind stay in QEMU.  A stub that hung up
		 * fails the wait at once, so only a live but silent one costs
		 * the full time.  A signal (a second Ctrl-C) does not cut a
		 * wait short. */
		static const int wait_ms[] = { 3000, 10000 };
		for (int tries = 0; s->running && tries < 2; tries++) {
			struct vsp_gdb_stop gs;
			if (tries == 1) {
				if (s->ntraps + s->nwatch == 0)
					break;
				fprintf(stderr, "vsp: the guest has not stopped 3 s "
					"after the interrupt; waiting up to 10 s more "
					"to remove %zu trap%s\n", s->ntraps + s->nwatch,
					s->ntraps + s->nwatch == 1 ? "" : "s");
			}
			s->interrupting = true;
			int rc = vsp_gdb_interrupt(&s->g);
			int64_t end = gbe_now_ms() + wait_ms[tries];
			while (rc == 0 || rc == -EINTR) {
				int64_t left = end - gbe_now_ms();
				if (left <= 0) {
					rc = -ETIMEDOUT;
					break;
				}
				rc = vsp_gdb_wait_stop(&s->g, &gs, (int)left);
				if (rc == 0)
					break;
			}
			if (rc == 0) {
				s->running = false;
			} else if (rc != -ETIMEDOUT) {
				break;	/* the stub is gone or out of step */
			}
		}
		if (s->running && s->ntraps + s->nwatch > 0)
			fprintf(stderr, "vsp: the stub did not stop the guest; "
				"%zu trap%s left in place until a GDB client "
				"detaches\n", s->ntraps + s->nwatch,
				s->ntraps + s->nwatch == 1 ? "" : "s");
		if (!s->running) {
			bool dead = gbe_cr3_restore(s) < 0 && s->cr3_swapped;
			for (size_t i = s->ntraps; i-- > 0 && !dead;) {
				int rc = vsp_gdb_break_remove(&s->g, s->traps[i]);
				/* A stub that is gone or out of step will not
				 * answer the rest either: do not wait for each. */
				dead = rc == -ENOTCONN || rc == -ETIMEDOUT ||
				       rc == -EPROTO || rc == -EMSGSIZE;
			}
			s->ntraps = 0;
			for (size_t i = s->nwatch; i-- > 0 && !dead;) {
				int rc = vsp_gdb_watch_remove(&s->g, s->watch_at[i],
							      s->watch_len[i]);
				dead = rc == -ENOTCONN || rc == -ETIMEDOUT ||
				       rc == -EPROTO || rc == -EMSGSIZE;
			}
			s->nwatch = 0;
			/* D lets the stub drop its own state and resume the
			 * guest; closing without it leaves a QEMU guest paused. */
			if (!dead && !stay_paused && vsp_gdb_request(&s->g, "D") < 0)
				vsp_gdb_continue(&s->g, false, 0);
		}
	}
	gbe_sync(be);
	vsp_gdb_release(&s->g);
	vsp_gdb_guard_stop(&s->guard);
	free(s);
	be->priv = NULL;
}

static int gbe_watch_add(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	struct gbe *s = gbe_of(be);
	if (s->nwatch == GBE_MAX_WATCH)
		return -ENOSPC;
	int rc = vsp_gdb_watch_insert(&s->g, addr, len);
	gbe_sync(be);
	if (rc == -EIO)
		return -ENOSPC;	/* the stub said no: no room, or not this */
	if (rc < 0)
		return rc;
	s->watch_at[s->nwatch] = addr;
	s->watch_len[s->nwatch] = len;
	s->nwatch++;
	vsp_gdb_guard_watch(&s->guard, true, addr, len);
	return 0;
}

static int gbe_watch_del(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	struct gbe *s = gbe_of(be);
	for (size_t i = 0; i < s->nwatch; i++) {
		if (s->watch_at[i] != addr || s->watch_len[i] != len)
			continue;
		int rc = vsp_gdb_watch_remove(&s->g, addr, len);
		gbe_sync(be);
		s->nwatch--;
		s->watch_at[i] = s->watch_at[s->nwatch];
		s->watch_len[i] = s->watch_len[s->nwatch];
		vsp_gdb_guard_watch(&s->guard, false, addr, len);
		return rc;
	}
	return -ENOENT;
}

/* The client's last error message, for the monitor's reports. */
const char *vsp_be_gdb_error(struct vsp_backend *be)
{
	struct gbe *s = be ? gbe_of(be) : NULL;
	return s && s->g.err[0] ? s->g.err : "unknown error";
}

static const char *gbe_error(struct vsp_backend *be)
{
	struct gbe *s = be->priv ? gbe_of(be) : NULL;
	return s && s->g.err[0] ? s->g.err : NULL;
}

const struct vsp_backend_ops vsp_be_gdb_ops = {
	.name = "gdb",
	.caps = {
		/* Writes through Z2 watchpoints (watch_add); whether the
		 * monitor has a site for a kind is its own table's say. */
		.kinds = VSP_BE_KIND(SYSCALL) | VSP_BE_KIND(KERNEL) |
			 VSP_BE_KIND(HYPERCALL) | VSP_BE_KIND(WRITE) |
			 VSP_BE_KIND(FILE) | VSP_BE_KIND(NET) |
			 VSP_BE_KIND(TASK) | VSP_BE_KIND(USER),
		.watchpoints = true,
		.single_step = true,
		.guard = true,
	},
	.error = gbe_error,
	.attach = gbe_attach,
	.trap_add = gbe_trap_add,
	.trap_del = gbe_trap_del,
	.watch_add = gbe_watch_add,
	.watch_del = gbe_watch_del,
	.read = gbe_read,
	.read_many = gbe_read_many,
	.write = gbe_write,
	.regs_get = gbe_regs_get,
	.regs_set = gbe_regs_set,
	.wait = gbe_wait,
	.resume = gbe_resume,
	.interrupt = gbe_interrupt,
	.detach = gbe_detach,
};
