/*
 * xen_loop.c: the Xen backend's event loop.  vm_event requests arrive on
 * the ring with their vCPU paused; wait() takes them, tells a trap of the
 * monitor's from the guest's own int3 (given back to the guest) and from
 * the steps vsp asked for, and reports one stop at a time; resume()
 * answers the request with the registers to go on with, the single-step
 * toggle and the altp2m view, which unpauses the vCPU.  The registers the
 * monitor reads and writes are the request's own while it is pending, the
 * vCPU's saved context otherwise.  Attach and detach are in vmi/xen.c,
 * what is done to the guest in vmi/xen_guest.c.
 */
#include "vmi/xen.h"

#if defined(VSP_HAVE_XEN) && VSP_HAVE_XEN

#include "base/clock.h"
#include "vmi/xen_priv.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

/* ---- answering Xen ------------------------------------------------ */

void xen_notify(struct xen_priv *p)
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
int xen_answer(struct xen_priv *p, struct xen_vcpu *v, uint32_t flags,
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
uint32_t xen_ss_flag(struct xen_vcpu *v, bool want)
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
 * Whether `v`, stopped at a trap, is back at run `r`'s instruction with
 * the registers it had then: an interrupt came before the instruction
 * ran (its handler's own calls reached the follower first), and the vCPU
 * now resumes the very call that was decided.  Every register a call
 * reads is compared, so a new call from the same place is not taken for
 * it.
 */
static bool xen_same_call(const struct xen_run *r, const struct xen_vcpu *v)
{
	const struct vsp_regs *a = &v->regs, *b = &r->regs;

	return a->rip == b->rip && a->rsp == b->rsp && a->rax == b->rax &&
	       a->rdi == b->rdi && a->rsi == b->rsi && a->rdx == b->rdx &&
	       a->r10 == b->r10 && a->r8 == b->r8 && a->r9 == b->r9 &&
	       a->rbx == b->rbx && a->rcx == b->rcx &&
	       a->rflags == b->rflags && v->ctl.cr3 == r->cr3;
}

/*
 * Drops runs of `v`: with `rerun`, the one whose call `v` is back at (true
 * when there was one); otherwise those on the stack `v` is on, whose
 * instruction has now run.
 */
static bool xen_run_drop(struct xen_vcpu *v, bool rerun)
{
	bool found = false;
	unsigned k = 0;

	for (unsigned i = 0; i < v->nrun; i++) {
		const struct xen_run *r = &v->run[i];
		bool drop = rerun ? xen_same_call(r, v) :
			    r->regs.rsp == v->regs.rsp && r->cr3 == v->ctl.cr3;

		found |= drop;
		if (!drop)
			v->run[k++] = *r;
	}
	v->nrun = k;
	return found;
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
		struct xen_trap *t;

		t = xen_trap_at(p, v->regs.rip);
		if (t && xen_run_drop(v, true) && xen_follow_arm(p, v, t) == 0) {
			/* Decided already: on into the instruction again. */
			xen_answer(p, v, 0, 0, 0, NULL);
			return false;
		}
		if (t)
			return true;
		f = xen_follow_at(p, v->regs.rip);
		if (f) {
			/* Past the instruction run in place: re-arm.  On the
			 * stack it ran on, the vCPU's own run is over. */
			xen_run_drop(v, false);
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
int xen_drain(struct xen_priv *p)
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

int xen_wait(struct vsp_backend *be, struct vsp_stop *stop,
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

int xen_resume(struct vsp_backend *be, uint32_t vcpu,
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

int xen_regs_get(struct vsp_backend *be, uint32_t vcpu,
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

int xen_regs_set(struct vsp_backend *be, uint32_t vcpu,
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

int xen_interrupt(struct vsp_backend *be)
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

#endif /* VSP_HAVE_XEN */
