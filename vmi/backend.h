/*
 * backend.h: one table of operations every hypervisor backend implements.
 *
 * The monitor loop (vmi/monitor.c) speaks only this interface; the GDB
 * remote backend (vmi/gdb_backend.c) and the Xen backend (vmi/xen.c) sit
 * behind it, one file each, and the core never includes socket or libxc
 * headers.  The shape follows Xen's vm_event model, which is the stricter
 * of the two: a stop arrives as an event for one vCPU (wait), the monitor
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

/* The x86-64 state the monitor reads and writes at a trap. */
struct vsp_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t cr0, cr3, cr4;
	uint64_t fs_base, gs_base, kernel_gs_base;
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

struct vsp_backend_ops {
	const char *name;	/* "gdb", "xen" */
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
};

extern const struct vsp_backend_ops vsp_be_gdb_ops;
extern const struct vsp_backend_ops vsp_be_xen_ops;

#endif
