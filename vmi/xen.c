/*
 * xen.c: the Xen backend, through libxc's vm_event (monitor) interface.
 *
 * It implements vsp_be_xen_ops (vmi/backend.h) for an HVM or PVH domain,
 * as a dom0 tool does: xc_monitor_enable maps the vm_event ring and names
 * an event channel; software-breakpoint and single-step events arrive as
 * ring requests with the vCPU paused (vmi/xen_ring.c takes them); the
 * answer to a request carries the registers to resume with
 * (VM_EVENT_FLAG_SET_REGISTERS), single-step toggles and the altp2m view,
 * and unpauses the vCPU.  Guest memory is mapped frame by frame with
 * xenforeignmemory after a walk of the guest's page tables from its CR3
 * (vmi/xen_pt.c).
 *
 * Traps are int3 bytes.  Where the host offers altp2m (Intel EPT, domain
 * built with altp2m="external" or "mixed") they are hidden as VMSPY hides
 * them: every trapped frame gets a shadow copy that holds the int3s, the
 * vCPUs run in a view that maps the frame to the shadow with execute-only
 * access, and a read or write of the frame faults (a mem_access event),
 * is let through in the unmodified view for one instruction, and the
 * shadow is refreshed after a write.  Elsewhere the int3 is written in
 * place, reads through the backend mask it, and stepping over it opens a
 * short window in which another vCPU can pass the address untrapped.
 *
 * Without libxen at build time (no VSP_HAVE_XEN) the same table exists and
 * attach fails with a message saying so.  What Xen does when vsp dies
 * with a domain attached is written down in docs/xen.md.
 */
#include "vmi/xen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmi/backend.h"

static _Thread_local char xen_err[256];

const char *vsp_be_xen_last_error(void)
{
	return xen_err;
}

static const char *xen_error(struct vsp_backend *be)
{
	(void)be;
	return xen_err;
}

/* Hook events trap kernel functions as kernel events do, but reading
 * their objects has been tried on the GDB backend only. */
#define XEN_NO_HOOKS "hook events are not tested on the Xen backend yet"
#define XEN_CAPS {							\
		.kinds = VSP_BE_KIND(SYSCALL) | VSP_BE_KIND(KERNEL) |	\
			 VSP_BE_KIND(HYPERCALL),			\
		.why = { [VSP_EV_WRITE] = "the Xen backend has no write "	\
			 "watchpoints (it would need EPT write protection)", \
			 [VSP_EV_FILE] = XEN_NO_HOOKS, [VSP_EV_NET] = XEN_NO_HOOKS, \
			 [VSP_EV_TASK] = XEN_NO_HOOKS },			\
		.single_step = true,					\
		.phys_read = true,					\
	}

#if !defined(VSP_HAVE_XEN) || !VSP_HAVE_XEN

#define XEN_NOT_BUILT \
	"vsp was built without Xen support (libxen-dev was not installed " \
	"when it was compiled)"

bool vsp_be_xen_built(void)
{
	return false;
}

bool vsp_be_xen_available(char *why, size_t n)
{
	snprintf(why, n, "%s", XEN_NOT_BUILT);
	return false;
}

bool vsp_be_xen_stealth(const struct vsp_backend *be, char *why, size_t n)
{
	snprintf(why, n, "%s", XEN_NOT_BUILT);
	return false;
}

static int xen_attach(struct vsp_backend *be, const char *target)
{
	snprintf(xen_err, sizeof(xen_err), "%s", XEN_NOT_BUILT);
	be->priv = NULL;
	return -ENOSYS;
}

static int xen_trap_none(struct vsp_backend *be, uint64_t addr)
{
	return -ENOTCONN;
}

static long xen_read_none(struct vsp_backend *be, uint32_t vcpu,
			  uint64_t gva, void *buf, size_t len)
{
	return -ENOTCONN;
}

static long xen_write_none(struct vsp_backend *be, uint32_t vcpu,
			   uint64_t gva, const void *buf, size_t len)
{
	return -ENOTCONN;
}

static int xen_regs_get_none(struct vsp_backend *be, uint32_t vcpu,
			     struct vsp_regs *r)
{
	return -ENOTCONN;
}

static int xen_regs_set_none(struct vsp_backend *be, uint32_t vcpu,
			     const struct vsp_regs *r)
{
	return -ENOTCONN;
}

static int xen_wait_none(struct vsp_backend *be, struct vsp_stop *stop,
			 int timeout_ms)
{
	return -ENOTCONN;
}

static int xen_resume_none(struct vsp_backend *be, uint32_t vcpu,
			   const struct vsp_resume *how)
{
	return -ENOTCONN;
}

static int xen_interrupt_none(struct vsp_backend *be)
{
	return -ENOTCONN;
}

static void xen_detach_none(struct vsp_backend *be, bool stay_paused)
{
	be->priv = NULL;
}

const struct vsp_backend_ops vsp_be_xen_ops = {
	.name = "xen",
	.caps = XEN_CAPS,
	.available = vsp_be_xen_available,
	.error = xen_error,
	.attach = xen_attach,
	.trap_add = xen_trap_none,
	.trap_del = xen_trap_none,
	.read = xen_read_none,
	.write = xen_write_none,
	.regs_get = xen_regs_get_none,
	.regs_set = xen_regs_set_none,
	.wait = xen_wait_none,
	.resume = xen_resume_none,
	.interrupt = xen_interrupt_none,
	.detach = xen_detach_none,
};

#else /* VSP_HAVE_XEN */

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

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <capstone/capstone.h>

/* After xenctrl.h, which defines the ring barriers first. */
#include "vmi/xen_pt.h"
#include "vmi/xen_ring.h"

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

/* libxc logs to stderr by default; vsp reports errors itself. */
static void xen_log_quiet(struct xentoollog_logger *l, xentoollog_level lvl,
			  int errnoval, const char *ctx, const char *fmt,
			  va_list ap)
{
	(void)l; (void)lvl; (void)errnoval; (void)ctx; (void)fmt; (void)ap;
}

static struct xentoollog_logger xen_quiet = {
	.vmessage = xen_log_quiet,
};

static int xen_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int xen_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(xen_err, sizeof(xen_err), fmt, ap);
	va_end(ap);
	return code;
}

static uint64_t xen_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool vsp_be_xen_built(void)
{
	return true;
}

bool vsp_be_xen_available(char *why, size_t n)
{
	xc_interface *xch;

	if (access(VSP_XEN_PROC, F_OK) != 0 &&
	    access(VSP_XEN_PRIVCMD, F_OK) != 0) {
		snprintf(why, n, "no Xen hypervisor on this host: neither "
			 "/proc/xen nor /dev/xen/privcmd exists (vsp must run "
			 "in dom0 of a Xen host)");
		return false;
	}
	xch = xc_interface_open(&xen_quiet, &xen_quiet, 0);
	if (!xch) {
		snprintf(why, n, "cannot open the Xen control interface: %s "
			 "(vsp must run as root in dom0)", strerror(errno));
		return false;
	}
	xc_interface_close(xch);
	snprintf(why, n, "Xen is available");
	return true;
}

bool vsp_be_xen_stealth(const struct vsp_backend *be, char *why, size_t n)
{
	const struct xen_priv *p = be ? be->priv : NULL;

	if (!p) {
		snprintf(why, n, "not attached");
		return false;
	}
	if (p->altp2m) {
		snprintf(why, n, "traps hidden in altp2m view %u", p->view);
		return true;
	}
	snprintf(why, n, "%s", p->no_stealth);
	return false;
}

/* ---- registers ---------------------------------------------------- */

static void xen_regs_from_event(const struct vm_event_regs_x86 *x,
				struct vsp_regs *r, struct vsp_xpt_ctl *c)
{
	r->rax = x->rax; r->rbx = x->rbx; r->rcx = x->rcx; r->rdx = x->rdx;
	r->rsi = x->rsi; r->rdi = x->rdi; r->rbp = x->rbp; r->rsp = x->rsp;
	r->r8 = x->r8; r->r9 = x->r9; r->r10 = x->r10; r->r11 = x->r11;
	r->r12 = x->r12; r->r13 = x->r13; r->r14 = x->r14; r->r15 = x->r15;
	r->rip = x->rip; r->rflags = x->rflags;
	r->cr0 = x->cr0; r->cr3 = x->cr3; r->cr4 = x->cr4;
	r->fs_base = x->fs_base; r->gs_base = x->gs_base;
	r->kernel_gs_base = x->shadow_gs;
	c->cr0 = x->cr0; c->cr3 = x->cr3; c->cr4 = x->cr4;
	c->efer = x->msr_efer;
}

/* Only what VM_EVENT_FLAG_SET_REGISTERS applies: GPRs, rflags, rip. */
static void xen_regs_to_event(const struct vsp_regs *r,
			      struct vm_event_regs_x86 *x)
{
	x->rax = r->rax; x->rbx = r->rbx; x->rcx = r->rcx; x->rdx = r->rdx;
	x->rsi = r->rsi; x->rdi = r->rdi; x->rbp = r->rbp; x->rsp = r->rsp;
	x->r8 = r->r8; x->r9 = r->r9; x->r10 = r->r10; x->r11 = r->r11;
	x->r12 = r->r12; x->r13 = r->r13; x->r14 = r->r14; x->r15 = r->r15;
	x->rip = r->rip; x->rflags = r->rflags;
}

static void xen_regs_from_hvm(const struct hvm_hw_cpu *h, struct vsp_regs *r,
			      struct vsp_xpt_ctl *c)
{
	r->rax = h->rax; r->rbx = h->rbx; r->rcx = h->rcx; r->rdx = h->rdx;
	r->rsi = h->rsi; r->rdi = h->rdi; r->rbp = h->rbp; r->rsp = h->rsp;
	r->r8 = h->r8; r->r9 = h->r9; r->r10 = h->r10; r->r11 = h->r11;
	r->r12 = h->r12; r->r13 = h->r13; r->r14 = h->r14; r->r15 = h->r15;
	r->rip = h->rip; r->rflags = h->rflags;
	r->cr0 = h->cr0; r->cr3 = h->cr3; r->cr4 = h->cr4;
	r->fs_base = h->fs_base; r->gs_base = h->gs_base;
	r->kernel_gs_base = h->shadow_gs;
	c->cr0 = h->cr0; c->cr3 = h->cr3; c->cr4 = h->cr4;
	c->efer = h->msr_efer;
}

static void xen_regs_to_hvm(const struct vsp_regs *r, struct hvm_hw_cpu *h)
{
	h->rax = r->rax; h->rbx = r->rbx; h->rcx = r->rcx; h->rdx = r->rdx;
	h->rsi = r->rsi; h->rdi = r->rdi; h->rbp = r->rbp; h->rsp = r->rsp;
	h->r8 = r->r8; h->r9 = r->r9; h->r10 = r->r10; h->r11 = r->r11;
	h->r12 = r->r12; h->r13 = r->r13; h->r14 = r->r14; h->r15 = r->r15;
	h->rip = r->rip; h->rflags = r->rflags;
}

/* The state of a vCPU that is not stopped at an event. */
static int xen_hvm_cpu(struct xen_priv *p, uint32_t vcpu,
		       struct hvm_hw_cpu *h)
{
	if (xc_domain_hvm_getcontext_partial(p->xch, p->domid,
					     HVM_SAVE_CODE(CPU), vcpu, h,
					     sizeof(*h)) < 0)
		return xen_fail(-errno, "cannot read vCPU %u's context: %s",
				vcpu, strerror(errno));
	return 0;
}

/* The control registers a walk for `vcpu` uses, fresh from Xen. */
static int xen_ctl(struct xen_priv *p, uint32_t vcpu, struct vsp_xpt_ctl *c)
{
	struct hvm_hw_cpu h;
	struct vsp_regs r;
	int rc;

	if (vcpu < p->nv && p->v[vcpu].pending) {
		*c = p->v[vcpu].ctl;
		return 0;
	}
	rc = xen_hvm_cpu(p, vcpu, &h);
	if (rc < 0)
		return rc;
	xen_regs_from_hvm(&h, &r, c);
	return 0;
}

static void xen_journal(struct xen_priv *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- guest memory ------------------------------------------------- */

static uint8_t *xen_map_ro(struct xen_priv *p, uint64_t gfn, int *code)
{
	struct xen_map *m;
	xen_pfn_t pfn = gfn;
	int err = 0;
	void *page;

	for (unsigned i = 0; i < XEN_MAPS; i++)
		if (p->maps[i].page && p->maps[i].gfn == gfn)
			return p->maps[i].page;
	page = xenforeignmemory_map(p->fmem, p->domid, PROT_READ, 1, &pfn,
				    &err);
	if (!page || err) {
		if (page)
			xenforeignmemory_unmap(p->fmem, page, 1);
		*code = err ? -abs(err) : -errno;
		return NULL;
	}
	m = &p->maps[p->map_next];
	p->map_next = (p->map_next + 1) % XEN_MAPS;
	if (m->page)
		xenforeignmemory_unmap(p->fmem, m->page, 1);
	m->gfn = gfn;
	m->page = page;
	return page;
}

static void xen_maps_drop(struct xen_priv *p)
{
	for (unsigned i = 0; i < XEN_MAPS; i++) {
		if (p->maps[i].page)
			xenforeignmemory_unmap(p->fmem, p->maps[i].page, 1);
		p->maps[i].page = NULL;
	}
}

/* Physical read of up to one frame's worth, not crossing a frame. */
static int xen_phys_read(struct xen_priv *p, uint64_t gpa, void *buf,
			 size_t len)
{
	int code = -EFAULT;
	uint8_t *page = xen_map_ro(p, gpa / XEN_PAGE, &code);

	if (!page)
		return code;
	memcpy(buf, page + gpa % XEN_PAGE, len);
	return 0;
}

static int xen_phys_write(struct xen_priv *p, uint64_t gpa, const void *buf,
			  size_t len)
{
	xen_pfn_t pfn = gpa / XEN_PAGE;
	int err = 0;
	uint8_t *page = xenforeignmemory_map(p->fmem, p->domid,
					     PROT_READ | PROT_WRITE, 1, &pfn,
					     &err);

	if (!page || err) {
		int code = err ? -abs(err) : -errno;

		if (page)
			xenforeignmemory_unmap(p->fmem, page, 1);
		return code;
	}
	memcpy(page + gpa % XEN_PAGE, buf, len);
	xenforeignmemory_unmap(p->fmem, page, 1);
	return 0;
}

static int xen_pt_read(void *ctx, uint64_t gpa, uint64_t *entry)
{
	return xen_phys_read(ctx, gpa, entry, sizeof(*entry));
}

/*
 * With page-table isolation a vCPU stopped in user mode runs on the user
 * half of the PGD pair, which maps almost no kernel memory; the kernel
 * half is the frame below it (CR3 bit 12 clear).  Kernel addresses that
 * fail on the first try are walked again from there.
 */
#define XEN_PTI_USER_PGD (1ull << 12)

static int xen_translate(struct xen_priv *p, const struct vsp_xpt_ctl *c,
			 uint64_t gva, uint64_t *gpa)
{
	struct vsp_xpt_result res;
	int rc = vsp_xpt_translate(c, gva, xen_pt_read, p, &res);

	if (rc == -EFAULT && (gva >> 63) && (c->cr3 & XEN_PTI_USER_PGD)) {
		struct vsp_xpt_ctl k = *c;

		k.cr3 &= ~XEN_PTI_USER_PGD;
		rc = vsp_xpt_translate(&k, gva, xen_pt_read, p, &res);
	}
	if (rc < 0)
		return rc;
	*gpa = res.gpa;
	return 0;
}

static struct xen_trap *xen_trap_at(struct xen_priv *p, uint64_t gva)
{
	for (size_t i = 0; i < p->ntraps; i++)
		if (p->traps[i].gva == gva)
			return &p->traps[i];
	return NULL;
}

static struct xen_shadow *xen_shadow_of(struct xen_priv *p, uint64_t gfn)
{
	for (size_t i = 0; i < p->nshadows; i++)
		if (p->shadows[i].gfn == gfn)
			return &p->shadows[i];
	return NULL;
}

/* In-place traps show the guest's byte, never the int3. */
static void xen_mask_traps(struct xen_priv *p, uint64_t gpa, uint8_t *buf,
			   size_t len)
{
	if (p->altp2m)
		return;		/* the original frame never holds an int3 */
	for (size_t i = 0; i < p->ntraps; i++) {
		uint64_t t = p->traps[i].gpa;

		if (t >= gpa && t < gpa + len)
			buf[t - gpa] = p->traps[i].orig;
	}
	for (unsigned i = 0; i < XEN_FOLLOW_MAX; i++) {
		uint64_t t = p->follow[i].gpa;

		if (p->follow[i].users && t >= gpa && t < gpa + len)
			buf[t - gpa] = p->follow[i].orig;
	}
}

static int xen_write_frame(struct xen_priv *p, uint64_t gpa,
			   const uint8_t *buf, size_t len);

/*
 * Guest-virtual memory a page at a time, through the guest's own page
 * tables: reads (trap bytes masked) when wbuf is NULL, else writes.
 * Stops at the first page that does not translate; returns the bytes
 * done, or -EFAULT when none.
 */
static long xen_vcopy(struct xen_priv *p, uint32_t vcpu, uint64_t gva,
		      void *rbuf, const void *wbuf, size_t len)
{
	struct vsp_xpt_ctl c;
	size_t done = 0;
	int rc;

	if (vcpu >= p->nv)
		return -EINVAL;
	rc = xen_ctl(p, vcpu, &c);
	if (rc < 0)
		return rc;
	while (done < len) {
		uint64_t va = gva + done, gpa;
		size_t chunk = XEN_PAGE - va % XEN_PAGE;

		if (chunk > len - done)
			chunk = len - done;
		if (xen_translate(p, &c, va, &gpa) < 0)
			break;
		if (wbuf) {
			if (xen_write_frame(p, gpa, (const uint8_t *)wbuf + done,
					    chunk) < 0)
				break;
		} else {
			if (xen_phys_read(p, gpa, (uint8_t *)rbuf + done, chunk) < 0)
				break;
			xen_mask_traps(p, gpa, (uint8_t *)rbuf + done, chunk);
		}
		done += chunk;
	}
	/* Cached read mappings see the frame itself: nothing to drop. */
	if (done == 0 && len > 0)
		return -EFAULT;
	return (long)done;
}

static long xen_vread(struct xen_priv *p, uint32_t vcpu, uint64_t gva,
		      void *buf, size_t len)
{
	return xen_vcopy(p, vcpu, gva, buf, NULL, len);
}

static long xen_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     void *buf, size_t len)
{
	if (!be->priv)
		return -ENOTCONN;
	return xen_vread(be->priv, vcpu, gva, buf, len);
}

/*
 * Keeps traps alive under a write: the guest's new byte becomes the
 * trap's saved byte and the int3 stays (in place, or in the shadow).
 */
static int xen_write_frame(struct xen_priv *p, uint64_t gpa,
			   const uint8_t *src, size_t len)
{
	uint8_t tmp[XEN_PAGE];
	struct xen_shadow *s = xen_shadow_of(p, gpa / XEN_PAGE);
	int rc;

	memcpy(tmp, src, len);
	for (size_t i = 0; i < p->ntraps; i++) {
		struct xen_trap *t = &p->traps[i];

		if (t->gpa >= gpa && t->gpa < gpa + len) {
			t->orig = src[t->gpa - gpa];
			if (!p->altp2m) {
				tmp[t->gpa - gpa] = XEN_INT3;
				xen_journal(p, "trap %llx %x\n",
					    (unsigned long long)t->gpa, t->orig);
			}
		}
	}
	rc = xen_phys_write(p, gpa, tmp, len);
	if (rc < 0 || !s)
		return rc;
	/* The shadow gets the same bytes with its int3s kept. */
	for (size_t i = 0; i < p->ntraps; i++) {
		uint64_t t = p->traps[i].gpa;

		if (t >= gpa && t < gpa + len)
			tmp[t - gpa] = XEN_INT3;
	}
	return xen_phys_write(p, s->shadow_gfn * XEN_PAGE + gpa % XEN_PAGE,
			      tmp, len);
}

static long xen_vwrite(struct xen_priv *p, uint32_t vcpu, uint64_t gva,
		       const void *buf, size_t len)
{
	return xen_vcopy(p, vcpu, gva, NULL, buf, len);
}

static long xen_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		      const void *buf, size_t len)
{
	if (!be->priv)
		return -ENOTCONN;
	return xen_vwrite(be->priv, vcpu, gva, buf, len);
}

/* ---- pausing ------------------------------------------------------ */

static int xen_pause(struct xen_priv *p)
{
	if (xc_domain_pause(p->xch, p->domid) < 0)
		return xen_fail(-errno, "cannot pause domain %u: %s",
				p->domid, strerror(errno));
	p->pauses++;
	return 0;
}

static void xen_unpause_all(struct xen_priv *p)
{
	while (p->pauses > 0) {
		if (xc_domain_unpause(p->xch, p->domid) < 0)
			break;
		p->pauses--;
	}
	p->pauses = 0;
}

/* ---- the recovery journal ---------------------------------------- */

/*
 * Xen keeps a monitor's state when the monitor dies (docs/xen.md): the
 * ring stays enabled, vCPUs that hit a trap stay paused, int3 bytes stay
 * in guest text.  So every change that would need undoing is written, one
 * line at a time, to a journal under /run/vsp (VSP_XEN_STATE_DIR
 * overrides it) before or as it is made: the altp2m view, each shadow
 * frame, each in-place trap with its saved byte.  A clean detach deletes
 * the journal.  An attach that finds the ring busy and a journal whose
 * process is gone undoes what the journal lists and takes the ring over.
 */
#define XEN_JOURNAL_MAGIC "vsp-xen-journal 1"

static void xen_journal(struct xen_priv *p, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	if (p->jfd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per record, appended: a crash loses at most this one. */
	if (n > 0 && (size_t)n < sizeof(line) &&
	    write(p->jfd, line, (size_t)n) != n) {
		close(p->jfd);
		p->jfd = -1;
	}
}

static void xen_journal_path(struct xen_priv *p)
{
	const char *dir = getenv("VSP_XEN_STATE_DIR");

	if (!dir || !*dir)
		dir = "/run/vsp";
	mkdir(dir, 0700);
	snprintf(p->jpath, sizeof(p->jpath), "%s/xen-%u.journal", dir,
		 p->domid);
}

/* Starts a journal for this attach; without one vsp still works. */
static void xen_journal_open(struct xen_priv *p)
{
	p->jfd = open(p->jpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
		      O_CLOEXEC, 0600);
	xen_journal(p, "%s pid %ld\n", XEN_JOURNAL_MAGIC, (long)getpid());
}

static void xen_journal_close(struct xen_priv *p, bool remove)
{
	if (p->jfd >= 0)
		close(p->jfd);
	p->jfd = -1;
	if (remove && p->jpath[0])
		unlink(p->jpath);
}

#define XEN_JOURNAL_MAX 65536	/* records replayed at most */

struct xen_undo {
	bool view, view_ours;
	unsigned view_id;
	uint64_t (*shadow)[2];	/* gfn, shadow gfn; gfn ~0 when gone */
	size_t nshadow;
	uint64_t (*trap)[2];	/* gpa, saved byte; gpa ~0 when gone */
	size_t ntrap;
};

static void xen_undo_forget(uint64_t (*v)[2], size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		if (v[i][0] == key)
			v[i][0] = ~0ull;
}

/* Reads a dead vsp's journal.  0, -ENOENT (none), -EBUSY (owner alive). */
static int xen_undo_load(struct xen_priv *p, struct xen_undo *u)
{
	FILE *f = fopen(p->jpath, "r");
	char line[160];
	long pid = 0;
	size_t nrec = 0;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	if (!f)
		return -ENOENT;
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, XEN_JOURNAL_MAGIC " pid %ld", &pid) != 1 || pid <= 0) {
		fclose(f);
		return -ENOENT;
	}
	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
		fclose(f);
		return -EBUSY;
	}
	u->shadow = calloc(XEN_JOURNAL_MAX, sizeof(*u->shadow));
	u->trap = calloc(XEN_JOURNAL_MAX, sizeof(*u->trap));
	if (!u->shadow || !u->trap)
		rc = -ENOMEM;
	while (rc == 0 && nrec++ < XEN_JOURNAL_MAX &&
	       fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		unsigned v, ours;

		if (sscanf(line, "view %u %u", &v, &ours) == 2) {
			u->view = true;
			u->view_id = v;
			u->view_ours = ours != 0;
		} else if (sscanf(line, "shadow %llx %llx", &a, &b) == 2) {
			u->shadow[u->nshadow][0] = a;
			u->shadow[u->nshadow++][1] = b;
		} else if (sscanf(line, "unshadow %llx", &a) == 1) {
			xen_undo_forget(u->shadow, u->nshadow, a);
		} else if (sscanf(line, "trap %llx %llx", &a, &b) == 2) {
			xen_undo_forget(u->trap, u->ntrap, a);
			u->trap[u->ntrap][0] = a;
			u->trap[u->ntrap++][1] = b & 0xff;
		} else if (sscanf(line, "untrap %llx", &a) == 1) {
			xen_undo_forget(u->trap, u->ntrap, a);
		}
	}
	fclose(f);
	return rc;
}

/*
 * Undoes a dead vsp's changes and frees the ring it held.  The domain is
 * paused (attach holds a pause).  Returns 0 when the ring can be enabled
 * again; otherwise a code with the reason in the last error.
 */
static int xen_take_over(struct xen_priv *p)
{
	struct xen_undo u;
	int rc = xen_undo_load(p, &u);

	if (rc == -ENOENT)
		return xen_fail(-EBUSY, "cannot enable monitoring of domain "
				"%u: another monitor holds its vm_event ring",
				p->domid);
	if (rc == -EBUSY)
		return xen_fail(-EBUSY, "domain %u is monitored by a running "
				"vsp (%s)", p->domid, p->jpath);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < u.ntrap; i++) {
		uint8_t b = 0, orig = (uint8_t)u.trap[i][1];

		if (u.trap[i][0] == ~0ull)
			continue;
		/* Only an int3 is ours to take back. */
		if (xen_phys_read(p, u.trap[i][0], &b, 1) == 0 && b == XEN_INT3)
			xen_phys_write(p, u.trap[i][0], &orig, 1);
	}
	if (u.view) {
		xc_altp2m_switch_to_view(p->xch, p->domid, 0);
		for (size_t i = 0; i < u.nshadow; i++) {
			xen_pfn_t sg = u.shadow[i][1];

			if (u.shadow[i][0] == ~0ull)
				continue;
			xc_altp2m_change_gfn(p->xch, p->domid, u.view_id,
					     u.shadow[i][0], XEN_NO_GFN);
			xc_domain_decrease_reservation_exact(p->xch, p->domid,
							     1, 0, &sg);
		}
		xc_altp2m_destroy_view(p->xch, p->domid, u.view_id);
		if (u.view_ours)
			xc_altp2m_set_domain_state(p->xch, p->domid, false);
	}
	xc_monitor_software_breakpoint(p->xch, p->domid, false);
	xc_monitor_singlestep(p->xch, p->domid, false);
	/* Xen unpauses the vCPUs it held for the dead monitor's events. */
	if (xc_monitor_disable(p->xch, p->domid) < 0)
		rc = xen_fail(-errno, "cannot take over the vm_event ring of "
			      "domain %u left by a vsp that died: %s",
			      p->domid, strerror(errno));
	else
		unlink(p->jpath);
out:
	free(u.shadow);
	free(u.trap);
	return rc;
}

/* ---- stealth: altp2m shadows -------------------------------------- */

static void xen_altp2m_setup(struct xen_priv *p)
{
	uint64_t mode = 0;
	xen_pfn_t max = 0;
	bool on = false;

	if (xc_hvm_param_get(p->xch, p->domid, HVM_PARAM_ALTP2M, &mode) < 0 ||
	    mode == XEN_ALTP2M_disabled) {
		snprintf(p->no_stealth, sizeof(p->no_stealth),
			 "altp2m is off for this domain (create it with "
			 "altp2m=\"external\"; needs Intel EPT): traps are "
			 "int3 bytes in guest memory");
		return;
	}
	if (xc_altp2m_get_domain_state(p->xch, p->domid, &on) < 0)
		on = false;
	if (!on) {
		if (xc_altp2m_set_domain_state(p->xch, p->domid, true) < 0)
			goto fail;
		p->altp2m_enabled_by_us = true;
	}
	if (xc_domain_maximum_gpfn(p->xch, p->domid, &max) < 0)
		goto fail_state;
	if (xc_altp2m_create_view(p->xch, p->domid, XENMEM_access_rwx,
				  &p->view) < 0)
		goto fail_state;
	xen_journal(p, "view %u %u\n", p->view, p->altp2m_enabled_by_us);
	if (xc_altp2m_switch_to_view(p->xch, p->domid, p->view) < 0)
		goto fail_view;
	p->next_gfn = (uint64_t)max + 1;
	p->altp2m = true;
	return;

fail_view:
	xc_altp2m_destroy_view(p->xch, p->domid, p->view);
fail_state:
	if (p->altp2m_enabled_by_us)
		xc_altp2m_set_domain_state(p->xch, p->domid, false);
	p->altp2m_enabled_by_us = false;
fail:
	snprintf(p->no_stealth, sizeof(p->no_stealth),
		 "altp2m unavailable (%s): traps are int3 bytes in guest "
		 "memory", strerror(errno));
}

/* Gives `gfn` a shadow frame mapped in the trap view, execute-only. */
static struct xen_shadow *xen_shadow_get(struct xen_priv *p, uint64_t gfn)
{
	struct xen_shadow *s = xen_shadow_of(p, gfn);
	uint8_t page[XEN_PAGE];
	xen_pfn_t sg;

	if (s)
		return s;
	if (p->nshadows == p->capshadows) {
		size_t cap = p->capshadows ? p->capshadows * 2 : 16;
		struct xen_shadow *n = realloc(p->shadows, cap * sizeof(*n));

		if (!n)
			return NULL;
		p->shadows = n;
		p->capshadows = cap;
	}
	if (xen_phys_read(p, gfn * XEN_PAGE, page, XEN_PAGE) < 0)
		return NULL;
	sg = p->next_gfn;
	if (xc_domain_populate_physmap_exact(p->xch, p->domid, 1, 0, 0,
					     &sg) < 0) {
		xen_fail(-errno, "cannot add a shadow frame to domain %u: %s",
			 p->domid, strerror(errno));
		return NULL;
	}
	xen_journal(p, "shadow %llx %llx\n", (unsigned long long)gfn,
		    (unsigned long long)sg);
	if (xen_phys_write(p, sg * XEN_PAGE, page, XEN_PAGE) < 0)
		goto fail_free;
	if (xc_altp2m_change_gfn(p->xch, p->domid, p->view, gfn, sg) < 0)
		goto fail_free;
	/* Reads and writes of the frame come to us; fetches hit the copy. */
	if (xc_altp2m_set_mem_access(p->xch, p->domid, p->view, gfn,
				     XENMEM_access_x) < 0)
		goto fail_remap;
	p->next_gfn++;
	s = &p->shadows[p->nshadows++];
	s->gfn = gfn;
	s->shadow_gfn = sg;
	s->ntraps = 0;
	return s;

fail_remap:
	xc_altp2m_change_gfn(p->xch, p->domid, p->view, gfn, XEN_NO_GFN);
fail_free:
	xen_fail(-errno, "cannot set up the shadow of frame %#llx: %s",
		 (unsigned long long)gfn, strerror(errno));
	xc_domain_decrease_reservation_exact(p->xch, p->domid, 1, 0, &sg);
	return NULL;
}

static void xen_shadow_put(struct xen_priv *p, struct xen_shadow *s)
{
	xen_pfn_t sg = s->shadow_gfn;

	if (--s->ntraps > 0)
		return;
	xc_altp2m_set_mem_access(p->xch, p->domid, p->view, s->gfn,
				 XENMEM_access_rwx);
	xc_altp2m_change_gfn(p->xch, p->domid, p->view, s->gfn, XEN_NO_GFN);
	xc_domain_decrease_reservation_exact(p->xch, p->domid, 1, 0, &sg);
	xen_journal(p, "unshadow %llx\n", (unsigned long long)s->gfn);
	*s = p->shadows[--p->nshadows];
}

/* Copies the original frame into its shadow again, int3s kept. */
static void xen_shadow_resync(struct xen_priv *p, uint64_t gfn)
{
	struct xen_shadow *s = xen_shadow_of(p, gfn);
	uint8_t page[XEN_PAGE];

	if (!s || xen_phys_read(p, gfn * XEN_PAGE, page, XEN_PAGE) < 0)
		return;
	for (size_t i = 0; i < p->ntraps; i++) {
		struct xen_trap *t = &p->traps[i];

		if (t->gpa / XEN_PAGE == gfn) {
			t->orig = page[t->gpa % XEN_PAGE];
			page[t->gpa % XEN_PAGE] = XEN_INT3;
		}
	}
	xen_phys_write(p, s->shadow_gfn * XEN_PAGE, page, XEN_PAGE);
}

/* ---- traps -------------------------------------------------------- */

static int xen_trap_install(struct xen_priv *p, struct xen_trap *t)
{
	uint8_t int3 = XEN_INT3;
	int rc = xen_phys_read(p, t->gpa, &t->orig, 1);

	if (rc < 0)
		return rc;
	if (p->altp2m) {
		struct xen_shadow *s = xen_shadow_get(p, t->gpa / XEN_PAGE);

		if (!s)
			return -EIO;
		rc = xen_phys_write(p, s->shadow_gfn * XEN_PAGE +
				    t->gpa % XEN_PAGE, &int3, 1);
		if (rc == 0)
			s->ntraps++;
		else if (s->ntraps == 0) {
			s->ntraps = 1;
			xen_shadow_put(p, s);
		}
		return rc;
	}
	/* Journal first: a crash after the write must find the byte. */
	xen_journal(p, "trap %llx %x\n", (unsigned long long)t->gpa, t->orig);
	return xen_phys_write(p, t->gpa, &int3, 1);
}

static void xen_trap_remove(struct xen_priv *p, struct xen_trap *t)
{
	if (p->altp2m) {
		struct xen_shadow *s = xen_shadow_of(p, t->gpa / XEN_PAGE);

		if (!s)
			return;
		xen_phys_write(p, s->shadow_gfn * XEN_PAGE + t->gpa % XEN_PAGE,
			       &t->orig, 1);
		xen_shadow_put(p, s);
		return;
	}
	xen_phys_write(p, t->gpa, &t->orig, 1);
	xen_journal(p, "untrap %llx\n", (unsigned long long)t->gpa);
}

static int xen_trap_add(struct vsp_backend *be, uint64_t addr)
{
	struct xen_priv *p = be->priv;
	struct vsp_xpt_ctl c;
	struct xen_trap t = { .gva = addr };
	bool paused = false;
	int rc;

	if (!p)
		return -ENOTCONN;
	if (xen_trap_at(p, addr))
		return -EEXIST;
	if (p->ntraps == p->captraps) {
		size_t cap = p->captraps ? p->captraps * 2 : 64;
		struct xen_trap *n = realloc(p->traps, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->traps = n;
		p->captraps = cap;
	}
	rc = xen_ctl(p, 0, &c);
	if (rc < 0)
		return rc;
	rc = xen_translate(p, &c, addr, &t.gpa);
	if (rc < 0)
		return xen_fail(rc, "trap at %#llx: address not mapped in the "
				"guest's kernel page tables",
				(unsigned long long)addr);
	/* No vCPU may run the page while its bytes change. */
	if (p->pauses == 0) {
		rc = xen_pause(p);
		if (rc < 0)
			return rc;
		paused = true;
	}
	rc = xen_trap_install(p, &t);
	if (rc == 0)
		p->traps[p->ntraps++] = t;
	if (paused && xc_domain_unpause(p->xch, p->domid) == 0)
		p->pauses--;
	return rc;
}

static int xen_trap_del(struct vsp_backend *be, uint64_t addr)
{
	struct xen_priv *p = be->priv;
	struct xen_trap *t;
	bool paused = false;

	if (!p)
		return -ENOTCONN;
	t = xen_trap_at(p, addr);
	if (!t)
		return -ENOENT;
	if (p->pauses == 0 && xen_pause(p) == 0)
		paused = true;
	xen_trap_remove(p, t);
	*t = p->traps[--p->ntraps];
	if (paused && xc_domain_unpause(p->xch, p->domid) == 0)
		p->pauses--;
	return 0;
}

/* ---- the displaced instruction ----------------------------------- */

/*
 * Leaving a trap costs a single step (two round trips, and in place a
 * window in which the trap is gone) unless the instruction under it is
 * done by hand.  Kernel functions start with a few instructions over and
 * over: ENDBR64 (IBT kernels), the 5-byte NOP ftrace leaves, other NOP
 * forms, `push %reg`.  Those are emulated here; anything else is stepped.
 * The bytes come from the guest's original, never from a trap.
 */
#define XEN_INSN_MAX 15

/* Length of a NOP form at `c` (0 when it is none). */
static unsigned xen_nop_len(const uint8_t *c, unsigned n)
{
	unsigned i = 0, mod, rm, len;

	while (i < n && c[i] == 0x66)
		i++;
	if (i < n && c[i] == 0x90)
		return i + 1;
	if (i + 2 >= n || c[i] != 0x0f || c[i + 1] != 0x1f)
		return 0;
	mod = c[i + 2] >> 6;
	rm = c[i + 2] & 7;
	if (((c[i + 2] >> 3) & 7) != 0 || mod == 3)
		return 0;		/* only nopl/nopw with a memory operand */
	len = i + 3;
	if (rm == 4)
		len++;			/* SIB */
	if (mod == 0 && rm == 5)
		len += 4;		/* rip-relative disp32 */
	else if (mod == 0 && rm == 4 && len - 1 < n && (c[len - 1] & 7) == 5)
		len += 4;		/* SIB with no base: disp32 */
	else if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len <= n ? len : 0;
}

static uint64_t *xen_gpr(struct vsp_regs *r, unsigned n)
{
	uint64_t *g[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp,
			    &r->rbp, &r->rsi, &r->rdi, &r->r8, &r->r9,
			    &r->r10, &r->r11, &r->r12, &r->r13, &r->r14,
			    &r->r15 };
	return g[n & 15];
}

/*
 * Does the instruction at the trap on `v`'s behalf: registers in v->regs
 * (marked dirty), a push written to the guest stack.  False when the
 * instruction is not one of the simple forms, or its memory is out of
 * reach; the caller then steps it.
 */
static bool xen_emulate(struct xen_priv *p, struct xen_vcpu *v)
{
	uint8_t c[XEN_INSN_MAX];
	long n = xen_vread(p, v->req.vcpu_id, v->regs.rip, c, sizeof(c));
	unsigned len;

	if (n <= 0)
		return false;
	if (n >= 4 && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e &&
	    c[3] == 0xfa) {
		len = 4;		/* endbr64 */
	} else if ((len = xen_nop_len(c, (unsigned)n)) != 0) {
		/* a NOP: nothing but rip moves */
	} else if ((c[0] & 0xf8) == 0x50 ||
		   (n >= 2 && c[0] == 0x41 && (c[1] & 0xf8) == 0x50)) {
		unsigned reg = c[0] == 0x41 ? 8 + (c[1] & 7) : (c[0] & 7);
		uint64_t val = *xen_gpr(&v->regs, reg);

		len = c[0] == 0x41 ? 2 : 1;
		if (xen_vwrite(p, v->req.vcpu_id, v->regs.rsp - 8, &val,
			       sizeof(val)) != sizeof(val))
			return false;
		v->regs.rsp -= 8;
	} else {
		return false;
	}
	v->regs.rip += len;
	v->dirty = true;
	return true;
}

/* ---- followers (in-place runs without single-step) ------------------ */

static struct xen_follow *xen_follow_at(struct xen_priv *p, uint64_t gva)
{
	for (unsigned i = 0; i < XEN_FOLLOW_MAX; i++)
		if (p->follow[i].users && p->follow[i].gva == gva)
			return &p->follow[i];
	return NULL;
}

/*
 * Lets `v` run the instruction under trap `t` where it is: arms a
 * follower on the next instruction, then puts the guest's byte back under
 * the trap.  -ENOTSUP when the instruction is a branch (the next one is
 * not where it goes on) or does not decode, when the next instruction is
 * another trap or no follower slot is free; nothing changes then.
 */
static int xen_follow_arm(struct xen_priv *p, struct xen_vcpu *v,
			  struct xen_trap *t)
{
	uint8_t c[XEN_INSN_MAX], int3 = XEN_INT3;
	const uint8_t *code = c;
	struct xen_follow *f = NULL;
	uint64_t at = t->gva, next, gpa;
	size_t left;
	long got;
	int rc;

	if (!p->insn)
		return -ENOTSUP;
	got = xen_vread(p, v->req.vcpu_id, t->gva, c, sizeof(c));
	if (got <= 0)
		return -EFAULT;
	left = (size_t)got;
	if (!cs_disasm_iter(p->cs, &code, &left, &at, p->insn))
		return -ENOTSUP;
	for (uint8_t g = 0; g < p->insn->detail->groups_count; g++)
		switch (p->insn->detail->groups[g]) {
		case CS_GRP_JUMP:
		case CS_GRP_CALL:
		case CS_GRP_RET:
		case CS_GRP_INT:
		case CS_GRP_IRET:
		case CS_GRP_BRANCH_RELATIVE:
			return -ENOTSUP;
		default:
			break;
		}
	next = t->gva + p->insn->size;
	if (xen_trap_at(p, next))
		return -ENOTSUP;
	f = xen_follow_at(p, next);
	if (!f) {
		for (unsigned i = 0; i < XEN_FOLLOW_MAX && !f; i++)
			if (!p->follow[i].users)
				f = &p->follow[i];
		if (!f)
			return -ENOTSUP;
		rc = xen_translate(p, &v->ctl, next, &gpa);
		if (rc < 0)
			return rc;
		rc = xen_phys_read(p, gpa, &f->orig, 1);
		if (rc < 0)
			return rc;
		xen_journal(p, "trap %llx %x\n", (unsigned long long)gpa,
			    f->orig);
		rc = xen_phys_write(p, gpa, &int3, 1);
		if (rc < 0)
			return rc;
		f->gva = next;
		f->gpa = gpa;
	}
	f->users++;
	f->rearm_gva = t->gva;
	return xen_phys_write(p, t->gpa, &t->orig, 1);
}

/* Takes follower `f` out, its trap (if still there) back in. */
static void xen_follow_done(struct xen_priv *p, struct xen_follow *f)
{
	struct xen_trap *t = xen_trap_at(p, f->rearm_gva);
	uint8_t int3 = XEN_INT3;

	if (t && !p->altp2m)
		xen_phys_write(p, t->gpa, &int3, 1);
	xen_phys_write(p, f->gpa, &f->orig, 1);
	xen_journal(p, "untrap %llx\n", (unsigned long long)f->gpa);
	/*
	 * One hit re-arms the trap for every vCPU that passed it: any still
	 * inside the instruction go on past the follower's original byte.
	 */
	f->users = 0;
}

/* ---- answering Xen ------------------------------------------------ */

static void xen_notify(struct xen_priv *p)
{
	if (!p->unpushed)
		return;
	vsp_xring_push(&p->ring);
	/*
	 * Xen reads responses when the channel is kicked, whatever
	 * rsp_event says, so every batch of answers gets a kick.
	 */
	xenevtchn_notify(p->xce, p->local_port);
	p->unpushed = false;
}

/*
 * Answers the vCPU's request with `flags` on top of unpausing it; `regs`
 * non-NULL sets the registers.  The vCPU is free again afterwards.
 */
static int xen_answer(struct xen_priv *p, struct xen_vcpu *v, uint32_t flags,
		      uint16_t altp2m_idx, uint16_t fast_idx,
		      const struct vsp_regs *regs)
{
	vm_event_response_t rsp;
	int rc;

	memset(&rsp, 0, sizeof(rsp));
	rsp.vcpu_id = v->req.vcpu_id;
	rsp.reason = v->req.reason;
	rsp.flags = (v->req.flags & VM_EVENT_FLAG_VCPU_PAUSED) | flags;
	rsp.altp2m_idx = altp2m_idx;
	if (flags & VM_EVENT_FLAG_FAST_SINGLESTEP)
		rsp.u.fast_singlestep.p2midx = fast_idx;
	if (regs) {
		rsp.data.regs.x86 = v->req.data.regs.x86;
		xen_regs_to_event(regs, &rsp.data.regs.x86);
		rsp.flags |= VM_EVENT_FLAG_SET_REGISTERS;
	}
	rc = vsp_xring_answer(&p->ring, &rsp);
	p->unpushed = true;
	v->pending = false;
	v->reported = false;
	v->dirty = false;
	return rc;
}

/* The flag that brings single-stepping to `want`, if it must change. */
static uint32_t xen_ss_flag(struct xen_vcpu *v, bool want)
{
	if (v->ss_on == want)
		return 0;
	v->ss_on = want;
	return VM_EVENT_FLAG_TOGGLE_SINGLESTEP;
}

/* A breakpoint that is not ours goes back to the guest's own handler. */
static void xen_reinject_bp(struct xen_priv *p, struct xen_vcpu *v)
{
	uint8_t byte = 0;
	uint64_t gpa;

	/*
	 * A trap removed while this event waited in the ring leaves the
	 * original instruction at rip: run it rather than inject.
	 */
	if (xen_translate(p, &v->ctl, v->regs.rip, &gpa) == 0 &&
	    xen_phys_read(p, gpa, &byte, 1) == 0 && byte == XEN_INT3)
		xc_hvm_inject_trap(p->xch, p->domid, v->req.vcpu_id, 3,
				   v->req.u.software_breakpoint.type,
				   (uint32_t)-1,
				   v->req.u.software_breakpoint.insn_length, 0);
	xen_answer(p, v, 0, 0, 0, NULL);
}

/*
 * Looks at a request just taken.  Returns true when the monitor must see
 * it; otherwise the backend has answered it itself.
 */
static bool xen_classify(struct xen_priv *p, struct xen_vcpu *v)
{
	const vm_event_request_t *q = &v->req;

	switch (q->reason) {
	case VM_EVENT_REASON_SOFTWARE_BREAKPOINT: {
		struct xen_follow *f;

		if (xen_trap_at(p, v->regs.rip))
			return true;
		f = xen_follow_at(p, v->regs.rip);
		if (f) {
			/* Past the instruction run in place: re-arm. */
			xen_follow_done(p, f);
			xen_answer(p, v, 0, 0, 0, NULL);
			return false;
		}
		xen_reinject_bp(p, v);
		return false;
	}
	case VM_EVENT_REASON_SINGLESTEP: {
		uint32_t flags = 0;

		if (v->rearm_gpa) {
			uint8_t int3 = XEN_INT3;

			xen_phys_write(p, v->rearm_gpa, &int3, 1);
			v->rearm_gpa = 0;
		}
		if (v->resync_gfn) {
			xen_shadow_resync(p, v->resync_gfn);
			v->resync_gfn = 0;
		}
		if (v->back_to_view && !v->monitor_step) {
			flags |= VM_EVENT_FLAG_ALTERNATE_P2M;
			v->back_to_view = false;
		}
		if (v->monitor_step)
			return true;
		flags |= xen_ss_flag(v, false);
		xen_answer(p, v, flags, p->view, 0, NULL);
		return false;
	}
	case VM_EVENT_REASON_MEM_ACCESS: {
		uint64_t gfn = q->u.mem_access.gfn;

		if (p->altp2m && xen_shadow_of(p, gfn)) {
			/* One instruction in the unmodified view. */
			if (q->u.mem_access.flags & MEM_ACCESS_W) {
				v->resync_gfn = gfn;
				v->back_to_view = true;
				xen_answer(p, v, VM_EVENT_FLAG_ALTERNATE_P2M |
					   xen_ss_flag(v, true), 0, 0, NULL);
			} else {
				xen_answer(p, v, VM_EVENT_FLAG_ALTERNATE_P2M |
					   VM_EVENT_FLAG_FAST_SINGLESTEP, 0,
					   p->view, NULL);
			}
			return false;
		}
		xen_answer(p, v, 0, 0, 0, NULL);
		return false;
	}
	default:
		xen_answer(p, v, 0, 0, 0, NULL);
		return false;
	}
}

/*
 * Takes every request in the ring.  Returns the number the monitor must
 * see, or a negative code when the ring cannot be trusted.
 */
static int xen_drain(struct xen_priv *p)
{
	vm_event_request_t req;
	int n = 0, rc;

	while ((rc = vsp_xring_take(&p->ring, &req)) != 0) {
		struct xen_vcpu *v;

		if (rc == -EOVERFLOW)
			return xen_fail(rc, "vm_event ring of domain %u is "
					"corrupt (producer index out of range)",
					p->domid);
		if (rc == -EPROTO)
			return xen_fail(rc, "Xen sent a vm_event request of "
					"version %u; vsp speaks version %u",
					req.version,
					VM_EVENT_INTERFACE_VERSION);
		if (req.vcpu_id >= p->nv)
			return xen_fail(-EPROTO, "vm_event request for vCPU %u;"
					" domain %u has %u", req.vcpu_id,
					p->domid, p->nv);
		v = &p->v[req.vcpu_id];
		if (v->pending) {
			/*
			 * A paused vCPU cannot raise a second event; an
			 * asynchronous one needs no answer beyond its slot.
			 */
			vm_event_response_t rsp;

			memset(&rsp, 0, sizeof(rsp));
			rsp.vcpu_id = req.vcpu_id;
			rsp.reason = req.reason;
			vsp_xring_answer(&p->ring, &rsp);
			p->unpushed = true;
			continue;
		}
		v->req = req;
		v->pending = true;
		v->reported = false;
		v->dirty = false;
		xen_regs_from_event(&req.data.regs.x86, &v->regs, &v->ctl);
		if (xen_classify(p, v))
			n++;
	}
	xen_notify(p);
	return n;
}

/* ---- the event loop ----------------------------------------------- */

static bool xen_report(struct xen_priv *p, struct vsp_stop *stop)
{
	for (uint32_t k = 0; k < p->nv; k++) {
		uint32_t i = (p->rr + k) % p->nv;
		struct xen_vcpu *v = &p->v[i];

		if (!v->pending || v->reported)
			continue;
		v->reported = true;
		p->rr = (i + 1) % p->nv;
		memset(stop, 0, sizeof(*stop));
		stop->vcpu = i;
		if (v->req.reason == VM_EVENT_REASON_SINGLESTEP) {
			stop->kind = VSP_STOP_STEP;
			stop->addr = v->regs.rip;
		} else {
			stop->kind = VSP_STOP_TRAP;
			stop->addr = v->regs.rip;
		}
		return true;
	}
	return false;
}

static int xen_alive(struct xen_priv *p, struct vsp_stop *stop)
{
	xc_dominfo_t info;

	memset(&info, 0, sizeof(info));
	if (xc_domain_getinfo(p->xch, p->domid, 1, &info) != 1 ||
	    info.domid != p->domid || info.dying || info.shutdown) {
		memset(stop, 0, sizeof(*stop));
		stop->kind = VSP_STOP_EXITED;
		stop->code = info.domid == p->domid && info.shutdown ?
			     (int)info.shutdown_reason : 0;
		return 0;
	}
	return 1;
}

static int xen_wait(struct vsp_backend *be, struct vsp_stop *stop,
		    int timeout_ms)
{
	struct xen_priv *p = be->priv;
	uint64_t start = xen_now_ns();
	int fd;

	if (!p)
		return -ENOTCONN;
	fd = xenevtchn_fd(p->xce);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = -1;
		uint64_t now;
		int rc, ms;

		if (p->interrupted) {
			p->interrupted = false;
			memset(stop, 0, sizeof(*stop));
			stop->kind = VSP_STOP_INTERRUPT;
			return 0;
		}
		if (xen_report(p, stop))
			return 0;
		rc = xen_drain(p);
		if (rc < 0)
			return rc;
		if (rc > 0)
			continue;
		now = xen_now_ns();
		if (now - p->last_alive_ns > XEN_ALIVE_MS * 1000000ull) {
			p->last_alive_ns = now;
			if (xen_alive(p, stop) == 0)
				return 0;
		}
		if (timeout_ms >= 0) {
			left = timeout_ms - (int64_t)((now - start) / 1000000);
			if (left <= 0) {
				memset(stop, 0, sizeof(*stop));
				stop->kind = VSP_STOP_TIMEOUT;
				return 0;
			}
		}
		ms = left < 0 || left > XEN_ALIVE_MS ? XEN_ALIVE_MS : (int)left;
		rc = poll(&pfd, 1, ms);
		if (rc < 0 && errno != EINTR)
			return xen_fail(-errno, "poll on the event channel: %s",
					strerror(errno));
		if (rc > 0) {
			xenevtchn_port_or_error_t port = xenevtchn_pending(p->xce);

			if (port < 0)
				return xen_fail(-ENOTCONN, "event channel of "
						"domain %u failed: %s",
						p->domid, strerror(errno));
			xenevtchn_unmask(p->xce, port);
			be->round_trips++;
		}
	}
}

static int xen_resume(struct vsp_backend *be, uint32_t vcpu,
		      const struct vsp_resume *how)
{
	struct xen_priv *p = be->priv;
	struct xen_vcpu *v;
	struct xen_trap *t;
	struct vsp_regs saved;
	uint32_t flags = 0;
	uint16_t idx = 0, fast = 0;
	bool step, saved_dirty;

	if (!p)
		return -ENOTCONN;
	if (vcpu >= p->nv)
		return -EINVAL;
	v = &p->v[vcpu];
	if (how->how == VSP_RESUME_STAY)
		return 0;
	if (!v->pending) {
		/* Not at an event: the guest is held by our pauses. */
		xen_unpause_all(p);
		return 0;
	}
	step = how->how == VSP_RESUME_STEP;
	saved = v->regs;
	saved_dirty = v->dirty;
	if (how->how == VSP_RESUME_AT) {
		v->regs.rip = how->addr;
		v->dirty = true;
	}
	t = xen_trap_at(p, v->regs.rip);
	/* Continuing on a trap: do its instruction by hand where we can. */
	if (t && !step && xen_emulate(p, v))
		t = NULL;
	/* Without steps, run it in place behind a follower if it allows. */
	if (t && !step && !p->ss_events && !p->altp2m &&
	    xen_follow_arm(p, v, t) == 0)
		t = NULL;
	/* Nothing is answered when the way on needs a step Xen cannot do. */
	if (!p->ss_events && (step || t)) {
		v->regs = saved;
		v->dirty = saved_dirty;
		return xen_fail(-ENOTSUP, "vCPU %u: %s needs single-stepping, "
				"which this host does not offer (no MTF: AMD "
				"or nested); resume past the trap instead",
				vcpu, step ? "a step" : "leaving this trap");
	}
	v->monitor_step = step;
	if (t && p->altp2m) {
		/* Run the original instruction in view 0, then come back. */
		flags |= VM_EVENT_FLAG_ALTERNATE_P2M;
		idx = 0;
		if (step) {
			v->back_to_view = true;
			flags |= xen_ss_flag(v, true);
		} else {
			flags |= VM_EVENT_FLAG_FAST_SINGLESTEP;
			fast = p->view;
		}
	} else if (t) {
		xen_phys_write(p, t->gpa, &t->orig, 1);
		v->rearm_gpa = t->gpa;
		flags |= xen_ss_flag(v, true);
	} else {
		if (v->back_to_view) {
			flags |= VM_EVENT_FLAG_ALTERNATE_P2M;
			idx = p->view;
			v->back_to_view = false;
		}
		flags |= xen_ss_flag(v, step);
	}
	if (xen_answer(p, v, flags, idx, fast, v->dirty ? &v->regs : NULL) < 0)
		return xen_fail(-EPROTO, "vm_event ring has no request of "
				"vCPU %u to answer", vcpu);
	xen_notify(p);
	be->round_trips++;
	return 0;
}

static int xen_regs_get(struct vsp_backend *be, uint32_t vcpu,
			struct vsp_regs *r)
{
	struct xen_priv *p = be->priv;
	struct hvm_hw_cpu h;
	struct vsp_xpt_ctl c;
	int rc;

	if (!p)
		return -ENOTCONN;
	if (vcpu >= p->nv)
		return -EINVAL;
	if (p->v[vcpu].pending) {
		*r = p->v[vcpu].regs;
		return 0;
	}
	rc = xen_hvm_cpu(p, vcpu, &h);
	if (rc < 0)
		return rc;
	xen_regs_from_hvm(&h, r, &c);
	return 0;
}

/* A vCPU outside an event: rewrite its saved context while paused. */
static int xen_regs_set_ctx(struct xen_priv *p, uint32_t vcpu,
			    const struct vsp_regs *r)
{
	int size = xc_domain_hvm_getcontext(p->xch, p->domid, NULL, 0);
	uint8_t *buf;
	int len, rc = -ENOENT;

	if (size <= 0)
		return xen_fail(-EIO, "cannot size the HVM context of domain "
				"%u", p->domid);
	buf = malloc((size_t)size);
	if (!buf)
		return -ENOMEM;
	len = xc_domain_hvm_getcontext(p->xch, p->domid, buf, (uint32_t)size);
	for (int off = 0; len > 0 &&
	     off + (int)sizeof(struct hvm_save_descriptor) <= len;) {
		struct hvm_save_descriptor *d = (void *)(buf + off);
		int body = off + (int)sizeof(*d);

		if (d->length > (uint32_t)(len - body))
			break;
		if (d->typecode == HVM_SAVE_CODE(CPU) && d->instance == vcpu &&
		    d->length >= sizeof(struct hvm_hw_cpu)) {
			struct hvm_hw_cpu h;

			memcpy(&h, buf + body, sizeof(h));
			xen_regs_to_hvm(r, &h);
			memcpy(buf + body, &h, sizeof(h));
			rc = xc_domain_hvm_setcontext(p->xch, p->domid, buf,
						      (uint32_t)len) < 0 ?
			     -errno : 0;
			break;
		}
		off = body + (int)d->length;
	}
	free(buf);
	if (rc < 0)
		return xen_fail(rc, "cannot set vCPU %u's registers: %s", vcpu,
				strerror(-rc));
	return 0;
}

static int xen_regs_set(struct vsp_backend *be, uint32_t vcpu,
			const struct vsp_regs *r)
{
	struct xen_priv *p = be->priv;
	struct xen_vcpu *v;

	if (!p)
		return -ENOTCONN;
	if (vcpu >= p->nv)
		return -EINVAL;
	v = &p->v[vcpu];
	if (!v->pending)
		return xen_regs_set_ctx(p, vcpu, r);
	/* Control registers are read-only here, as the contract says. */
	v->regs.rax = r->rax; v->regs.rbx = r->rbx; v->regs.rcx = r->rcx;
	v->regs.rdx = r->rdx; v->regs.rsi = r->rsi; v->regs.rdi = r->rdi;
	v->regs.rbp = r->rbp; v->regs.rsp = r->rsp;
	v->regs.r8 = r->r8; v->regs.r9 = r->r9; v->regs.r10 = r->r10;
	v->regs.r11 = r->r11; v->regs.r12 = r->r12; v->regs.r13 = r->r13;
	v->regs.r14 = r->r14; v->regs.r15 = r->r15;
	v->regs.rip = r->rip; v->regs.rflags = r->rflags;
	v->dirty = true;
	return 0;
}

static int xen_interrupt(struct vsp_backend *be)
{
	struct xen_priv *p = be->priv;
	int rc;

	if (!p)
		return -ENOTCONN;
	rc = xen_pause(p);
	if (rc < 0)
		return rc;
	p->interrupted = true;
	return 0;
}

/* ---- attach and detach -------------------------------------------- */

/* A domain id from a number or a name in xenstore. */
static int xen_resolve(const char *target, uint32_t *domid)
{
	struct xs_handle *xs;
	char **ids, *end;
	unsigned n = 0;
	unsigned long id;
	int rc = -ENOENT;

	errno = 0;
	id = strtoul(target, &end, 10);
	if (*target && !*end && !errno) {
		if (id >= DOMID_FIRST_RESERVED)
			return xen_fail(-EINVAL, "domain id %lu is out of "
					"range", id);
		*domid = (uint32_t)id;
		return 0;
	}
	xs = xs_open(XS_OPEN_READONLY);
	if (!xs)
		return xen_fail(-ENODEV, "cannot open xenstore to look up "
				"domain '%s': %s", target, strerror(errno));
	ids = xs_directory(xs, XBT_NULL, "/local/domain", &n);
	for (unsigned i = 0; ids && i < n && rc < 0; i++) {
		char path[64];
		unsigned len = 0;
		char *name;

		snprintf(path, sizeof(path), "/local/domain/%s/name", ids[i]);
		name = xs_read(xs, XBT_NULL, path, &len);
		if (name && strlen(name) == len && !strcmp(name, target)) {
			id = strtoul(ids[i], &end, 10);
			if (!*end && id < DOMID_FIRST_RESERVED) {
				*domid = (uint32_t)id;
				rc = 0;
			}
		}
		free(name);
	}
	free(ids);
	xs_close(xs);
	if (rc < 0)
		return xen_fail(rc, "no domain named '%s' in xenstore", target);
	return 0;
}

static void xen_release(struct xen_priv *p)
{
	xen_journal_close(p, false);
	if (p->local_port >= 0)
		xenevtchn_unbind(p->xce, p->local_port);
	if (p->xce)
		xenevtchn_close(p->xce);
	if (p->monitor_on)
		xc_monitor_disable(p->xch, p->domid);
	if (p->ring_page)
		munmap(p->ring_page, XC_PAGE_SIZE);
	if (p->fmem) {
		xen_maps_drop(p);
		xenforeignmemory_close(p->fmem);
	}
	if (p->xch) {
		xen_unpause_all(p);
		xc_interface_close(p->xch);
	}
	if (p->insn)
		cs_free(p->insn, 1);
	if (p->cs)
		cs_close(&p->cs);
	free(p->v);
	free(p->traps);
	free(p->shadows);
	free(p);
}

static int xen_attach(struct vsp_backend *be, const char *target)
{
	struct xen_priv *p;
	xc_dominfo_t info;
	char why[200];
	int rc, ver;

	be->priv = NULL;
	xen_err[0] = 0;
	if (!vsp_be_xen_available(why, sizeof(why)))
		return xen_fail(-ENODEV, "%s", why);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->local_port = -1;
	p->jfd = -1;
	p->xch = xc_interface_open(&xen_quiet, &xen_quiet, 0);
	if (!p->xch) {
		rc = xen_fail(-errno, "cannot open the Xen control interface: "
			      "%s", strerror(errno));
		goto fail;
	}
	rc = xen_resolve(target, &p->domid);
	if (rc < 0)
		goto fail;
	if (xc_domain_getinfo(p->xch, p->domid, 1, &info) != 1 ||
	    info.domid != p->domid) {
		rc = xen_fail(-ENOENT, "no domain %u", p->domid);
		goto fail;
	}
	if (info.dying || info.shutdown) {
		rc = xen_fail(-ESRCH, "domain %u is shutting down", p->domid);
		goto fail;
	}
	if (!info.hvm) {
		rc = xen_fail(-ENOTSUP, "domain %u is a PV guest; vm_event "
			      "breakpoints need an HVM or PVH domain",
			      p->domid);
		goto fail;
	}
	ver = xc_vm_event_get_version(p->xch);
	if (ver != VM_EVENT_INTERFACE_VERSION) {
		rc = xen_fail(-EPROTO, "Xen speaks vm_event version %d; vsp "
			      "was built for version %d", ver,
			      VM_EVENT_INTERFACE_VERSION);
		goto fail;
	}
	p->nv = info.max_vcpu_id + 1;
	p->v = calloc(p->nv, sizeof(*p->v));
	if (!p->v) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = xen_pause(p);
	if (rc < 0)
		goto fail;
	p->fmem = xenforeignmemory_open(&xen_quiet, 0);
	if (!p->fmem) {
		rc = xen_fail(-errno, "cannot open foreign memory: %s",
			      strerror(errno));
		goto fail;
	}
	xen_journal_path(p);
	p->ring_page = xc_monitor_enable(p->xch, p->domid, &p->remote_port);
	if (!p->ring_page && errno == EBUSY) {
		rc = xen_take_over(p);
		if (rc < 0)
			goto fail;
		p->ring_page = xc_monitor_enable(p->xch, p->domid,
						 &p->remote_port);
	}
	if (!p->ring_page) {
		rc = xen_fail(-errno, "cannot enable monitoring of domain %u: "
			      "%s%s", p->domid, strerror(errno),
			      errno == EBUSY ? " (another monitor, or a vsp "
			      "that died, holds its vm_event ring)" : "");
		goto fail;
	}
	p->monitor_on = true;
	xen_journal_open(p);
	p->xce = xenevtchn_open(&xen_quiet, 0);
	if (!p->xce) {
		rc = xen_fail(-errno, "cannot open the event channel device: "
			      "%s", strerror(errno));
		goto fail;
	}
	p->local_port = xenevtchn_bind_interdomain(p->xce, p->domid,
						   p->remote_port);
	if (p->local_port < 0) {
		rc = xen_fail(-errno, "cannot bind the vm_event channel: %s",
			      strerror(errno));
		goto fail;
	}
	rc = vsp_xring_init(&p->ring, p->ring_page, XC_PAGE_SIZE, true);
	if (rc < 0)
		goto fail;
	if (xc_monitor_software_breakpoint(p->xch, p->domid, true) < 0) {
		rc = xen_fail(-errno, "cannot monitor breakpoints of domain "
			      "%u: %s", p->domid, strerror(errno));
		goto fail;
	}
	p->bp_on = true;
	/*
	 * Single-step events need Intel's monitor trap flag.  Without them
	 * (AMD, some nested setups) traps still work where the monitor
	 * resumes past them (ftrace NOPs, hypercall entries); a resume that
	 * would need a step is refused with a reason.
	 */
	p->ss_events = xc_monitor_singlestep(p->xch, p->domid, true) == 0;
	if (p->ss_events)
		xen_altp2m_setup(p);
	else
		snprintf(p->no_stealth, sizeof(p->no_stealth), "no single-step "
			 "events on this host (no MTF): no altp2m stepping, "
			 "traps are int3 bytes in guest memory");
	/* Followers (no steps) need instruction lengths: decoded at attach
	 * so the decision path allocates nothing. */
	if (!p->ss_events && cs_open(CS_ARCH_X86, CS_MODE_64, &p->cs) == CS_ERR_OK) {
		cs_option(p->cs, CS_OPT_DETAIL, CS_OPT_ON);
		p->insn = cs_malloc(p->cs);
	}
	be->ncpus = p->nv;
	be->priv = p;
	return 0;

fail:
	if (p->ss_events)
		xc_monitor_singlestep(p->xch, p->domid, false);
	if (p->bp_on)
		xc_monitor_software_breakpoint(p->xch, p->domid, false);
	/* Nothing was changed yet: no journal to keep. */
	xen_journal_close(p, p->monitor_on);
	xen_release(p);
	return rc;
}

static void xen_detach(struct vsp_backend *be, bool stay_paused)
{
	struct xen_priv *p = be->priv;

	if (!p)
		return;
	/* Nothing runs while traps come out and the ring winds down. */
	xen_pause(p);
	while (p->ntraps > 0) {
		xen_trap_remove(p, &p->traps[p->ntraps - 1]);
		p->ntraps--;
	}
	for (unsigned i = 0; i < XEN_FOLLOW_MAX; i++)
		if (p->follow[i].users)
			xen_follow_done(p, &p->follow[i]);
	if (p->bp_on)
		xc_monitor_software_breakpoint(p->xch, p->domid, false);
	if (p->ss_events)
		xc_monitor_singlestep(p->xch, p->domid, false);
	/* A step in flight must not put a removed trap back. */
	for (uint32_t i = 0; i < p->nv; i++) {
		p->v[i].rearm_gpa = 0;
		p->v[i].resync_gfn = 0;
		p->v[i].back_to_view = false;
		p->v[i].monitor_step = false;
	}
	/* Answer everything, so no vCPU stays paused by a lost request. */
	xen_drain(p);
	for (uint32_t i = 0; i < p->nv; i++) {
		struct xen_vcpu *v = &p->v[i];

		if (v->pending)
			xen_answer(p, v, xen_ss_flag(v, false) |
				   (p->altp2m ? VM_EVENT_FLAG_ALTERNATE_P2M :
				    0), 0, 0, v->dirty ? &v->regs : NULL);
	}
	xen_notify(p);
	if (p->altp2m) {
		xc_altp2m_switch_to_view(p->xch, p->domid, 0);
		xc_altp2m_destroy_view(p->xch, p->domid, p->view);
		if (p->altp2m_enabled_by_us)
			xc_altp2m_set_domain_state(p->xch, p->domid, false);
	}
	/* xen_release undoes our pauses; keep one to leave it paused. */
	if (stay_paused && p->pauses > 0)
		p->pauses--;
	be->priv = NULL;
	xen_journal_close(p, true);
	xen_release(p);
}

const struct vsp_backend_ops vsp_be_xen_ops = {
	.name = "xen",
	.caps = XEN_CAPS,
	.available = vsp_be_xen_available,
	.error = xen_error,
	.attach = xen_attach,
	.trap_add = xen_trap_add,
	.trap_del = xen_trap_del,
	.read = xen_read,
	.write = xen_write,
	.regs_get = xen_regs_get,
	.regs_set = xen_regs_set,
	.wait = xen_wait,
	.resume = xen_resume,
	.interrupt = xen_interrupt,
	.detach = xen_detach,
	.steps_over_traps = true,
};

#endif /* VSP_HAVE_XEN */
