/*
 * xen_priv.h: the Xen backend's own state, shared by vmi/xen.c (attach and
 * detach), vmi/xen_loop.c (answering Xen, the event loop) and
 * vmi/xen_guest.c (registers, guest memory, pausing, the recovery journal,
 * altp2m shadows, traps and the displaced instruction).  Only with VSP_HAVE_XEN; not an interface
 * (everyone else uses vmi/xen.h and vmi/backend.h).
 */
#ifndef VSP_XEN_PRIV_H
#define VSP_XEN_PRIV_H

/*
 * libxc's headers are GNU C (anonymous unions in hvm/save.h, aligned
 * register unions in foreign/x86_64.h) and refuse strict ISO mode; the
 * rest of the tree stays -std=c11.
 */
#undef __STRICT_ANSI__
#define XC_WANT_COMPAT_DEVICEMODEL_API 1
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/params.h>
#include <xen/hvm/save.h>

/* After xenctrl.h, which defines the ring barriers first. */
#include "vmi/xen_pt.h"
#include "vmi/xen_ring.h"

#include <stdbool.h>
#include <stdint.h>

#include <capstone/capstone.h>

#include "vmi/backend.h"

#define XEN_PAGE 4096u
#define XEN_INT3 0xcc
#define XEN_MAPS 32		/* read mappings kept between accesses */
#define XEN_ALIVE_MS 200	/* how often wait() asks if the domain lives */
/* Where dom0 shows Xen; a test of the event loop points these elsewhere. */
#ifndef VSP_XEN_PROC
#define VSP_XEN_PROC "/proc/xen"
#define VSP_XEN_PRIVCMD "/dev/xen/privcmd"
#endif
/* change_gfn to this puts the host p2m's mapping back (Xen's INVALID_GFN). */
#define XEN_NO_GFN (~(xen_pfn_t)0)

/* One vCPU's side of the conversation with Xen. */
#define XEN_RUN_MAX 4

struct xen_vcpu {
	bool pending;		/* holds a request Xen waits an answer to */
	bool reported;		/* wait() has handed it to the monitor */
	bool dirty;		/* the monitor changed the registers */
	bool ss_on;		/* Xen single-steps this vCPU */
	bool monitor_step;	/* the monitor asked for VSP_RESUME_STEP */
	bool back_to_view;	/* stepping in view 0; return to the trap view */
	uint64_t rearm_gpa;	/* in-place trap to rewrite after a step, or 0 */
	uint64_t resync_gfn;	/* shadow to refresh after a step, or 0 */
	vm_event_request_t req;
	struct vsp_regs regs;
	struct vsp_xpt_ctl ctl;
	/*
	 * The instructions this vCPU was let run in place (a follower
	 * armed for each) and its registers then, until the follower is
	 * reached on the same stack.  An interrupt taken before the
	 * instruction brings the vCPU back to its trap with these registers:
	 * the same call, already decided, not a new one.  Interrupts nest,
	 * so a few are kept (the oldest goes first).
	 */
	struct xen_run {
		struct vsp_regs regs;
		uint64_t cr3;
	} run[XEN_RUN_MAX];
	unsigned nrun;
};

struct xen_trap {
	uint64_t gva, gpa;
	uint8_t orig;		/* the guest's byte under the int3 */
};

/*
 * Without single-step events a trap whose instruction cannot be done by
 * hand is left by running that instruction in place: its byte goes back,
 * and an int3 on the next instruction (the follower) catches the vCPU
 * right after it, puts the trap's int3 back and takes itself out.  Used
 * where nothing but the guest can do the instruction (the vmmcall of a
 * hypercall stub).  `users` counts the vCPUs on their way to it.
 */
#define XEN_FOLLOW_MAX 8
struct xen_follow {
	uint64_t gva, gpa;	/* the follower's int3 */
	uint64_t rearm_gva;	/* the trap to put back */
	uint8_t orig;
	unsigned users;		/* 0: slot free */
};

/* A trapped frame's copy that only the trap view executes. */
struct xen_shadow {
	uint64_t gfn, shadow_gfn;
	unsigned ntraps;
};

struct xen_map {
	uint64_t gfn;
	uint8_t *page;		/* NULL: slot free */
};

struct xen_priv {
	xc_interface *xch;
	xenevtchn_handle *xce;
	xenforeignmemory_handle *fmem;
	uint32_t domid;
	void *ring_page;
	struct vsp_xring ring;
	evtchn_port_t remote_port;
	int local_port;		/* -1: not bound */
	bool monitor_on, bp_on, ss_events;
	bool unpushed;		/* answers queued but not yet published */
	unsigned pauses;	/* xc_domain_pause calls not yet undone */
	bool interrupted;	/* a VSP_STOP_INTERRUPT is due */

	/* Stealth. */
	bool altp2m, altp2m_enabled_by_us;
	uint16_t view;
	char no_stealth[160];
	uint64_t next_gfn;	/* where the next shadow frame goes */

	struct xen_vcpu *v;
	uint32_t nv, rr;

	struct xen_trap *traps;
	size_t ntraps, captraps;
	struct xen_shadow *shadows;
	size_t nshadows, capshadows;

	struct xen_follow follow[XEN_FOLLOW_MAX];
	csh cs;			/* instruction lengths for followers */
	cs_insn *insn;

	struct xen_map maps[XEN_MAPS];
	unsigned map_next;
	uint64_t last_alive_ns;

	int jfd;		/* the recovery journal, or -1 */
	char jpath[256];
};

/* vmi/xen.c: sets the message vsp_be_xen_last_error returns; returns
 * code. */
int xen_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* vmi/xen_loop.c: answering Xen and the event loop. */
void xen_notify(struct xen_priv *p);
int xen_answer(struct xen_priv *p, struct xen_vcpu *v, uint32_t flags,
	       uint16_t altp2m_idx, uint16_t fast_idx,
	       const struct vsp_regs *regs);
uint32_t xen_ss_flag(struct xen_vcpu *v, bool want);
int xen_drain(struct xen_priv *p);
int xen_wait(struct vsp_backend *be, struct vsp_stop *stop, int timeout_ms);
int xen_resume(struct vsp_backend *be, uint32_t vcpu,
	       const struct vsp_resume *how);
int xen_regs_get(struct vsp_backend *be, uint32_t vcpu, struct vsp_regs *r);
int xen_regs_set(struct vsp_backend *be, uint32_t vcpu,
		 const struct vsp_regs *r);
int xen_interrupt(struct vsp_backend *be);

/* vmi/xen_guest.c */
void xen_altp2m_setup(struct xen_priv *p);
bool xen_emulate(struct xen_priv *p, struct xen_vcpu *v);
/* Followers: run a trap's instruction in place when Xen cannot step. */
struct xen_follow *xen_follow_at(struct xen_priv *p, uint64_t gva);
int xen_follow_arm(struct xen_priv *p, struct xen_vcpu *v, struct xen_trap *t);
void xen_follow_done(struct xen_priv *p, struct xen_follow *f);
int xen_hvm_cpu(struct xen_priv *p, uint32_t vcpu,
		struct hvm_hw_cpu *h);
void xen_journal_close(struct xen_priv *p, bool remove);
void xen_journal_open(struct xen_priv *p);
void xen_journal_path(struct xen_priv *p);
void xen_maps_drop(struct xen_priv *p);
int xen_pause(struct xen_priv *p);
int xen_phys_read(struct xen_priv *p, uint64_t gpa, void *buf,
		  size_t len);
int xen_phys_write(struct xen_priv *p, uint64_t gpa, const void *buf,
		   size_t len);
long xen_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
	      void *buf, size_t len);
void xen_regs_from_event(const struct vm_event_regs_x86 *x,
			 struct vsp_regs *r, struct vsp_xpt_ctl *c);
void xen_regs_from_hvm(const struct hvm_hw_cpu *h, struct vsp_regs *r,
		       struct vsp_xpt_ctl *c);
void xen_regs_to_event(const struct vsp_regs *r,
		       struct vm_event_regs_x86 *x);
void xen_regs_to_hvm(const struct vsp_regs *r, struct hvm_hw_cpu *h);
struct xen_shadow *xen_shadow_of(struct xen_priv *p, uint64_t gfn);
void xen_shadow_resync(struct xen_priv *p, uint64_t gfn);
int xen_take_over(struct xen_priv *p);
int xen_translate(struct xen_priv *p, const struct vsp_xpt_ctl *c,
		  uint64_t gva, uint64_t *gpa);
int xen_trap_add(struct vsp_backend *be, uint64_t addr);
struct xen_trap *xen_trap_at(struct xen_priv *p, uint64_t gva);
int xen_trap_del(struct vsp_backend *be, uint64_t addr);
void xen_trap_remove(struct xen_priv *p, struct xen_trap *t);
void xen_unpause_all(struct xen_priv *p);
long xen_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
	       const void *buf, size_t len);

#endif
