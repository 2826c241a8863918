/*
 * backend.h: one table of operations every hypervisor backend implements.
 *
 * The monitor loop (vmi/monitor.c) speaks only this interface; the GDB
 * remote backend (vmi/gdb_backend.c) and the Xen backend (vmi/xen.c) sit
 * behind it, one file each, listed once in vmi/backend.c, and the core
 * never includes socket or libxc headers.  A backend states what it can
 * do (struct vsp_backend_caps); the core asks that, never its name.  The
 * shape follows Xen's vm_event model, which is the stricter of the two: a
 * stop arrives as an event for one vCPU (wait), the monitor
 * inspects and changes that vCPU's state, and the reply says how it goes on
 * (resume: here, at another address, or one step).  A GDB stub stops every
 * vCPU at once; the GDB backend reports the one that trapped.
 *
 * Every operation returns 0 on success or a negative errno-style code;
 * -ENOTCONN means the guest is gone and the monitor should wind down.
 */
#ifndef VSP_BACKEND_H
#define VSP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kinds.h"
#include "vmi/gread.h"

/* The x86-64 state the monitor reads and writes at a trap. */
struct vsp_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t cr0, cr3, cr4;
	uint64_t fs_base, gs_base, kernel_gs_base;
	/* MSR_LSTAR, the syscall entry, where the backend shows it (Xen);
	 * 0 where it does not (a GDB stub's register file has no MSRs). */
	uint64_t lstar;
};

enum vsp_stop_kind {
	VSP_STOP_TRAP,		/* a breakpoint the monitor installed */
	VSP_STOP_STEP,		/* a single step finished */
	VSP_STOP_INTERRUPT,	/* the guest stopped because we asked */
	VSP_STOP_WATCH,		/* a write watchpoint the monitor installed */
	VSP_STOP_OTHER,		/* a stop we did not cause (a signal) */
	VSP_STOP_EXITED,	/* the guest is gone */
	VSP_STOP_TIMEOUT	/* wait() ran out of time; nothing happened */
};

struct vsp_stop {
	enum vsp_stop_kind kind;
	uint32_t vcpu;
	uint64_t addr;		/* trap: the breakpoint address; watch: the
				 * address the stub reports (in the range) */
	int code;		/* exited: status; other: signal number */
};

enum vsp_resume_how {
	VSP_RESUME_CONTINUE,	/* run from the current rip */
	VSP_RESUME_AT,		/* run from `addr` */
	VSP_RESUME_STEP,	/* execute one instruction, then stop (STEP) */
	VSP_RESUME_STAY		/* leave the guest paused */
};

struct vsp_resume {
	enum vsp_resume_how how;
	uint64_t addr;
};

struct vsp_backend;

/*
 * What a backend can do.  The monitor and the command line ask these,
 * never a backend's name: an event kind the backend cannot trap is
 * reported, not silently left unenforced.
 */
/* What becomes of the guest when vsp dies without detaching (SIGKILL, a
 * crash, the OOM killer), for a backend with a guard (caps.guard). */
enum vsp_on_death {
	VSP_DEATH_DETACH,	/* every trap removed, the guest runs on */
	VSP_DEATH_PAUSE		/* every trap removed, the guest left paused */
};

struct vsp_guard_conf {
	enum vsp_on_death on_death;
	/* Called in the guard's process once it has taken over, with what
	 * it did; it writes the last audit record through descriptors the
	 * guard keeps open (keep).  NULL: nothing but the message on
	 * standard error. */
	void (*last_words)(void *ctx, const char *msg);
	void *ctx;
	int keep[4];		/* descriptors last_words needs */
	int nkeep;
};

struct vsp_backend_caps {
	uint32_t kinds;		/* bit (1 << VSP_EV_x): event kinds it traps */
	/* For a kind it does not trap, the backend's own reason (a static
	 * sentence); NULL: the generic one (vmi/support.h). */
	const char *why[VSP_EV_KIND_COUNT];
	bool watchpoints;	/* traps on writes to guest memory */
	bool single_step;	/* VSP_RESUME_STEP */
	bool phys_read;		/* reads guest-physical memory */
	/* A guard outside vsp's process takes over when vsp dies, removes
	 * the traps and applies vsp_guard_conf.on_death. */
	bool guard;
};

#define VSP_BE_KIND(id) (1u << VSP_EV_##id)

struct vsp_backend_ops {
	const char *name;	/* "gdb", "xen": what --NAME selects */
	struct vsp_backend_caps caps;
	/* Whether the backend can work on this host at all (Xen: a
	 * hypervisor present, libxen built in), with the reason when not.
	 * NULL: always. */
	bool (*available)(char *why, size_t n);
	/* The backend's own message for its last failure, or NULL. */
	const char *(*error)(struct vsp_backend *be);
	/* Connects to `target` ("HOST:PORT", a domain name or id) and leaves
	 * the guest paused.  Fills be->ncpus. */
	int (*attach)(struct vsp_backend *be, const char *target);
	/* Software breakpoints at guest-virtual kernel addresses. */
	int (*trap_add)(struct vsp_backend *be, uint64_t addr);
	int (*trap_del)(struct vsp_backend *be, uint64_t addr);
	/* Write watchpoints on [addr, addr + len), stopping after the write
	 * (VSP_STOP_WATCH); NULL when the backend has none.  -ENOSPC when
	 * the hypervisor takes no more (debug registers are few: 4 on x86
	 * under KVM), -EINVAL for a length or alignment it cannot watch. */
	int (*watch_add)(struct vsp_backend *be, uint64_t addr, uint64_t len);
	int (*watch_del)(struct vsp_backend *be, uint64_t addr, uint64_t len);
	/* Reads up to len bytes; returns how many were read from the start
	 * (short at the first unmapped page), or a negative code.  Reads see
	 * the guest's own bytes, never the monitor's trap instructions. */
	long (*read)(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     void *buf, size_t len);
	/* The reads r[0..n) (struct vsp_read, vmi/gread.h: n <=
	 * VSP_GREAD_BATCH, each at most 1 KiB and within a page),
	 * answered together in one round trip: each r[i].got as read()
	 * returns.  Returns 0, or a negative code when the link failed.
	 * NULL where reads cost no round trip (Xen maps guest memory). */
	int (*read_many)(struct vsp_backend *be, uint32_t vcpu,
			 struct vsp_read *r, size_t n);
	long (*write)(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		      const void *buf, size_t len);
	int (*regs_get)(struct vsp_backend *be, uint32_t vcpu,
			struct vsp_regs *r);
	/* Writes the general registers and rip/rflags (not control regs). */
	int (*regs_set)(struct vsp_backend *be, uint32_t vcpu,
			const struct vsp_regs *r);
	/* Waits up to timeout_ms (-1: forever) for the next stop. */
	int (*wait)(struct vsp_backend *be, struct vsp_stop *stop,
		    int timeout_ms);
	int (*resume)(struct vsp_backend *be, uint32_t vcpu,
		      const struct vsp_resume *how);
	/* Asks a running guest to stop; a VSP_STOP_INTERRUPT follows. */
	int (*interrupt)(struct vsp_backend *be);
	/* Removes what is left of the traps, resumes the guest unless
	 * `stay_paused`, and frees everything.  Safe after a lost link. */
	void (*detach)(struct vsp_backend *be, bool stay_paused);
	/* True when VSP_RESUME_CONTINUE (or _AT) on one of the backend's own
	 * traps runs the instruction under it (emulated or stepped by the
	 * backend, other vCPUs still trapped): the monitor then need not
	 * remove the trap and step.  Backends stopping one vCPU at a time
	 * (Xen) set it; their other vCPUs keep running and stopping. */
	bool steps_over_traps;
};

struct vsp_backend {
	const struct vsp_backend_ops *ops;
	uint32_t ncpus;
	void *priv;		/* the backend's own state */
	/* Round trips to the hypervisor so far: the cost a trap pays. */
	uint64_t round_trips;
	/* Set before attach; read by backends with caps.guard. */
	struct vsp_guard_conf guard;
	/*
	 * Set by the monitor once the guest kernel says it isolates its page
	 * tables (Linux PTI): a vCPU stopped on the user copy of its pgd
	 * (CR3 bit 12) maps almost none of the kernel, so a backend that
	 * reads through the vCPU's own page tables reads kernel addresses
	 * through the kernel's copy (the same CR3 with bits 11 and 12 clear)
	 * while the vCPU is stopped.
	 */
	bool guest_pti;
};

extern const struct vsp_backend_ops vsp_be_gdb_ops;
extern const struct vsp_backend_ops vsp_be_xen_ops;

/* Every backend built in, NULL-terminated, listed once (vmi/backend.c). */
extern const struct vsp_backend_ops *const vsp_backends[];

/* The backend named `name`, or NULL. */
const struct vsp_backend_ops *vsp_backend_find(const char *name);

/* True when the backend can trap events of kind k. */
bool vsp_backend_can_trap(const struct vsp_backend_ops *ops,
			  enum vsp_event_kind k);

/* The backend's message for a failure with code rc: its own, else
 * strerror. */
const char *vsp_backend_error(struct vsp_backend *be, int rc);

#endif
