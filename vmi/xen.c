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
 * (vmi/xen_pt.c).  This file holds the conversation with Xen (the event
 * loop, the answers, attach and detach); what is done to the guest
 * (registers, memory, pausing, the recovery journal, altp2m shadows, the
 * traps and the displaced instruction) is in vmi/xen_guest.c, the state
 * both share in vmi/xen_priv.h.
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

#include "base/clock.h"
#include "vmi/xen_priv.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

int xen_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(xen_err, sizeof(xen_err), fmt, ap);
	va_end(ap);
	return code;
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
	uint64_t start = vsp_now_ns();
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
		now = vsp_now_ns();
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
