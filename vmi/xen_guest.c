/*
 * xen_guest.c: what the Xen backend does to the guest (vmi/xen.c has the
 * conversation with Xen): registers through the vm_event answer or the
 * HVM context, guest memory mapped frame by frame after a page-table
 * walk, pausing, the recovery journal, altp2m shadows, the int3 traps and
 * the displaced instruction under one.
 */
#include "vmi/xen.h"

#if defined(VSP_HAVE_XEN) && VSP_HAVE_XEN

#include "vmi/xen_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- registers ---------------------------------------------------- */

void xen_regs_from_event(const struct vm_event_regs_x86 *x,
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
	r->lstar = x->msr_lstar;
	c->cr0 = x->cr0; c->cr3 = x->cr3; c->cr4 = x->cr4;
	c->efer = x->msr_efer;
}

/* Only what VM_EVENT_FLAG_SET_REGISTERS applies: GPRs, rflags, rip. */
void xen_regs_to_event(const struct vsp_regs *r,
		       struct vm_event_regs_x86 *x)
{
	x->rax = r->rax; x->rbx = r->rbx; x->rcx = r->rcx; x->rdx = r->rdx;
	x->rsi = r->rsi; x->rdi = r->rdi; x->rbp = r->rbp; x->rsp = r->rsp;
	x->r8 = r->r8; x->r9 = r->r9; x->r10 = r->r10; x->r11 = r->r11;
	x->r12 = r->r12; x->r13 = r->r13; x->r14 = r->r14; x->r15 = r->r15;
	x->rip = r->rip; x->rflags = r->rflags;
}

void xen_regs_from_hvm(const struct hvm_hw_cpu *h, struct vsp_regs *r,
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
	r->lstar = h->msr_lstar;
	c->cr0 = h->cr0; c->cr3 = h->cr3; c->cr4 = h->cr4;
	c->efer = h->msr_efer;
}

void xen_regs_to_hvm(const struct vsp_regs *r, struct hvm_hw_cpu *h)
{
	h->rax = r->rax; h->rbx = r->rbx; h->rcx = r->rcx; h->rdx = r->rdx;
	h->rsi = r->rsi; h->rdi = r->rdi; h->rbp = r->rbp; h->rsp = r->rsp;
	h->r8 = r->r8; h->r9 = r->r9; h->r10 = r->r10; h->r11 = r->r11;
	h->r12 = r->r12; h->r13 = r->r13; h->r14 = r->r14; h->r15 = r->r15;
	h->rip = r->rip; h->rflags = r->rflags;
}

/* The state of a vCPU that is not stopped at an event. */
int xen_hvm_cpu(struct xen_priv *p, uint32_t vcpu,
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

void xen_maps_drop(struct xen_priv *p)
{
	for (unsigned i = 0; i < XEN_MAPS; i++) {
		if (p->maps[i].page)
			xenforeignmemory_unmap(p->fmem, p->maps[i].page, 1);
		p->maps[i].page = NULL;
	}
}

/* Physical read of up to one frame's worth, not crossing a frame. */
int xen_phys_read(struct xen_priv *p, uint64_t gpa, void *buf,
		  size_t len)
{
	int code = -EFAULT;
	uint8_t *page = xen_map_ro(p, gpa / XEN_PAGE, &code);

	if (!page)
		return code;
	memcpy(buf, page + gpa % XEN_PAGE, len);
	return 0;
}

int xen_phys_write(struct xen_priv *p, uint64_t gpa, const void *buf,
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

int xen_translate(struct xen_priv *p, const struct vsp_xpt_ctl *c,
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

struct xen_trap *xen_trap_at(struct xen_priv *p, uint64_t gva)
{
	for (size_t i = 0; i < p->ntraps; i++)
		if (p->traps[i].gva == gva)
			return &p->traps[i];
	return NULL;
}

struct xen_shadow *xen_shadow_of(struct xen_priv *p, uint64_t gfn)
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

long xen_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
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

long xen_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
	       const void *buf, size_t len)
{
	if (!be->priv)
		return -ENOTCONN;
	return xen_vwrite(be->priv, vcpu, gva, buf, len);
}

/* ---- pausing ------------------------------------------------------ */

int xen_pause(struct xen_priv *p)
{
	if (xc_domain_pause(p->xch, p->domid) < 0)
		return xen_fail(-errno, "cannot pause domain %u: %s",
				p->domid, strerror(errno));
	p->pauses++;
	return 0;
}

void xen_unpause_all(struct xen_priv *p)
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

void xen_journal_path(struct xen_priv *p)
{
	const char *dir = getenv("VSP_XEN_STATE_DIR");

	if (!dir || !*dir)
		dir = "/run/vsp";
	mkdir(dir, 0700);
	snprintf(p->jpath, sizeof(p->jpath), "%s/xen-%u.journal", dir,
		 p->domid);
}

/* Starts a journal for this attach; without one vsp still works. */
void xen_journal_open(struct xen_priv *p)
{
	p->jfd = open(p->jpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
		      O_CLOEXEC, 0600);
	xen_journal(p, "%s pid %ld\n", XEN_JOURNAL_MAGIC, (long)getpid());
}

void xen_journal_close(struct xen_priv *p, bool remove)
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
int xen_take_over(struct xen_priv *p)
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
	/* The ring goes; the vCPUs its events paused stay paused until a
	 * response frees them (xen_free_held, vmi/xen.c). */
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

void xen_altp2m_setup(struct xen_priv *p)
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
void xen_shadow_resync(struct xen_priv *p, uint64_t gfn)
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

void xen_trap_remove(struct xen_priv *p, struct xen_trap *t)
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

int xen_trap_add(struct vsp_backend *be, uint64_t addr)
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

int xen_trap_del(struct vsp_backend *be, uint64_t addr)
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
bool xen_emulate(struct xen_priv *p, struct xen_vcpu *v)
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

struct xen_follow *xen_follow_at(struct xen_priv *p, uint64_t gva)
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
int xen_follow_arm(struct xen_priv *p, struct xen_vcpu *v,
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
	if (v->nrun == XEN_RUN_MAX)
		memmove(&v->run[0], &v->run[1], sizeof(v->run[0]) * --v->nrun);
	v->run[v->nrun].regs = v->regs;
	v->run[v->nrun++].cr3 = v->ctl.cr3;
	return xen_phys_write(p, t->gpa, &t->orig, 1);
}

/* Takes follower `f` out, its trap (if still there) back in. */
void xen_follow_done(struct xen_priv *p, struct xen_follow *f)
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

#endif /* VSP_HAVE_XEN */
