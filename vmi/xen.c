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
 * (vmi/xen_pt.c).  This file attaches and detaches; the conversation with
 * Xen (the event loop, the answers) is in vmi/xen_loop.c; what is done to
 * the guest (registers, memory, pausing, the recovery journal, altp2m
 * shadows, the traps and the displaced instruction) is in vmi/xen_guest.c;
 * the state the three share is in vmi/xen_priv.h.
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

#include "vmi/xen_priv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
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

/*
 * After a take-over: a vCPU the dead vsp's event paused is still paused,
 * since Xen lets go, when a ring goes, only of the vCPUs that waited for
 * a free slot in it.  Xen unpauses a vCPU on a response that says
 * VM_EVENT_FLAG_VCPU_PAUSED, from any ring, and only when the vCPU is
 * paused for an event.  So a short-lived ring carries one such response
 * for every vCPU and goes again: the ring vsp then uses starts with
 * request and response counts that agree.  The domain itself stays
 * paused (xen_pause), and breakpoint events are off, so no request comes
 * meanwhile.  0, or a negative code with the message.
 */
static int xen_free_held(struct xen_priv *p)
{
	uint32_t port;
	void *page = xc_monitor_enable(p->xch, p->domid, &port);
	if (!page)
		return xen_fail(-errno, "cannot take over the vm_event ring of "
				"domain %u: a second ring to free its vCPUs: %s",
				p->domid, strerror(errno));
	int rc = 0;
	xenevtchn_handle *xce = xenevtchn_open(&xen_quiet, 0);
	int lp = xce ? xenevtchn_bind_interdomain(xce, p->domid, port) : -1;
	struct vsp_xring r;
	if (lp < 0 || vsp_xring_init(&r, page, XC_PAGE_SIZE, true) < 0) {
		rc = xen_fail(-EIO, "cannot take over the vm_event ring of "
			      "domain %u: no event channel to free its vCPUs",
			      p->domid);
	} else {
		unsigned size = vsp_xring_size(&r);
		for (uint32_t i = 0; i < p->nv; i++) {
			vm_event_response_t rsp;
			memset(&rsp, 0, sizeof(rsp));
			rsp.vcpu_id = i;
			rsp.reason = VM_EVENT_REASON_SOFTWARE_BREAKPOINT;
			rsp.flags = VM_EVENT_FLAG_VCPU_PAUSED;
			vsp_xring_answer_unasked(&r, &rsp);
			/* Xen reads them when kicked, before the kick returns. */
			if ((i + 1) % size == 0 || i + 1 == p->nv) {
				vsp_xring_push(&r);
				xenevtchn_notify(xce, (evtchn_port_t)lp);
			}
		}
	}
	if (lp >= 0)
		xenevtchn_unbind(xce, (evtchn_port_t)lp);
	if (xce)
		xenevtchn_close(xce);
	xc_monitor_disable(p->xch, p->domid);
	munmap(page, XC_PAGE_SIZE);
	return rc;
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
		if (rc == 0)
			rc = xen_free_held(p);
		if (rc < 0)
			goto fail;
		fprintf(stderr, "vsp attach: domain %u: took over the vm_event "
			"ring a vsp that died left: its traps undone, the vCPUs "
			"its events held freed\n", p->domid);
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
