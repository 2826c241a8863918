/*
 * t_xen_loop.c: the Xen backend's side of the vm_event protocol, against a
 * simulated hypervisor (vmi/xen.c, vmi/xen_loop.c, vmi/xen_guest.c).
 *
 * No Xen runs here, so this test compiles the backend into itself and
 * supplies the libxc, libxenevtchn, libxenforeignmemory and libxenstore
 * functions it calls.  Behind them sits a small model of what Xen does
 * for a monitor: guest frames and page tables, a domain pause count, one
 * altp2m view with remapped frames and access rights, the vm_event ring
 * (front end written with io/ring.h's macros) and an eventfd standing for
 * the event channel.  Responses are applied as Xen's vm_event_resume does
 * (unpause, set registers, toggle single-step, switch view, fast
 * single-step).  The model is ours, not Xen: what this pins is which
 * requests the backend reports, answers itself or rejects, and which
 * flags, registers and memory changes its answers carry, with and
 * without altp2m.
 */
#include <stdio.h>

#if !defined(VSP_HAVE_XEN) || !VSP_HAVE_XEN

int main(void)
{
	printf("1..0 # SKIP built without libxen\n");
	return 0;
}
#else

#define VSP_XEN_PROC "/"
#define VSP_XEN_PRIVCMD "/"
#include "tests/tap.h"
#include "vmi/xen.c"
#include "vmi/xen_guest.c"
#include "vmi/xen_loop.c"

#include <sys/eventfd.h>
#include <sys/wait.h>

/* xenctrl.h's barriers use the GNU `asm` keyword, absent under -std=c11. */
#undef xen_mb
#undef xen_rmb
#undef xen_wmb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_signal_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_signal_fence(__ATOMIC_RELEASE)

/* ---- the model ---------------------------------------------------- */

#define SIM_DOMID 7
#define SIM_FRAMES 96
#define SIM_NV 2
#define KTEXT 0xffffffff81000000ull
#define TEXT_GFN 40		/* KTEXT page i is frame 40 + i */

struct sim_vcpu {
	struct vm_event_regs_x86 regs;
	bool ss, paused, fast_pending;
	uint16_t view, fast_view;
};

static struct {
	uint8_t mem[SIM_FRAMES][4096];
	bool populated[SIM_FRAMES];
	struct sim_vcpu v[SIM_NV];
	int pauses;
	bool hvm, dying, busy, monitor, bp, ss_mon, no_mtf;
	bool altp2m_param, altp2m_on, view_alive;
	uint64_t remap[SIM_FRAMES];	/* view 1: gfn -> frame + 1 */
	int access[SIM_FRAMES];		/* view 1 access, -1 default */
	int version;
	void *ring;
	vm_event_front_ring_t fr;
	int efd;
	vm_event_response_t last[SIM_NV];
	unsigned nrsp;
	unsigned unasked;	/* responses for a vCPU no event paused */
	int injected;			/* vCPU that got an int3 back, -1 */
} sim;

static char handle;	/* every opaque handle points here */

static void sim_reset(bool altp2m)
{
	uint64_t *pt;

	if (sim.efd > 0)
		close(sim.efd);
	memset(&sim, 0, sizeof(sim));
	sim.hvm = true;
	sim.altp2m_param = altp2m;
	sim.version = VM_EVENT_INTERFACE_VERSION;
	sim.injected = -1;
	sim.efd = eventfd(0, EFD_NONBLOCK);
	for (int i = 0; i < 64; i++)
		sim.populated[i] = true;
	for (int i = 0; i < SIM_FRAMES; i++)
		sim.access[i] = -1;
	/* Page tables: PML4 frame 1, PDPT 2, PD 3, PT 4 (flags P|RW). */
	((uint64_t *)sim.mem[1])[(KTEXT >> 39) & 0x1ff] = 2 * 4096 | 3;
	((uint64_t *)sim.mem[2])[(KTEXT >> 30) & 0x1ff] = 3 * 4096 | 3;
	((uint64_t *)sim.mem[3])[(KTEXT >> 21) & 0x1ff] = 4 * 4096 | 3;
	pt = (uint64_t *)sim.mem[4];
	for (int i = 0; i < 4; i++)
		pt[i] = (uint64_t)(TEXT_GFN + i) * 4096 | 3;
	/* Kernel text: 5-byte NOPs, and one int3 of the guest's own. */
	for (int i = 0; i < 4096; i += 5)
		memcpy(&sim.mem[TEXT_GFN][i], "\x0f\x1f\x44\x00\x00",
		       i + 5 <= 4096 ? 5 : 4096 - i);
	sim.mem[TEXT_GFN + 1][0x20] = 0xcc;
	/* What a single step must carry: mov %rdi,%rax. */
	memcpy(&sim.mem[TEXT_GFN][0x200], "\x48\x89\xf8", 3);
	/* What the backend does by hand: push %rbp, endbr64, push %r15. */
	sim.mem[TEXT_GFN][0x300] = 0x55;
	memcpy(&sim.mem[TEXT_GFN][0x400], "\xf3\x0f\x1e\xfa", 4);
	memcpy(&sim.mem[TEXT_GFN][0x410], "\x41\x57", 2);
	for (int i = 0; i < SIM_NV; i++) {
		struct vm_event_regs_x86 *r = &sim.v[i].regs;

		r->cr0 = 0x80050033;
		r->cr3 = 1 * 4096;
		r->cr4 = 0x3606f0;	/* PAE set, LA57 clear */
		r->msr_efer = 0xd01;	/* LMA */
		r->rsp = 0xffffc90000010000ull;
		r->rip = KTEXT + 0x500;
	}
}

static uint8_t *sim_frame(uint16_t view, uint64_t gfn)
{
	if (view == 1 && sim.remap[gfn])
		return sim.mem[sim.remap[gfn] - 1];
	return sim.mem[gfn];
}

/* The byte vCPU `i` fetches at kernel text address `va`. */
static uint8_t sim_fetch(int i, uint64_t va)
{
	uint64_t off = va - KTEXT;

	return sim_frame(sim.v[i].view, TEXT_GFN + off / 4096)[off % 4096];
}

static void sim_signal(void)
{
	uint64_t one = 1;

	if (write(sim.efd, &one, sizeof(one)) != sizeof(one))
		perror("eventfd");
}

static vm_event_request_t *sim_request(int i, uint32_t reason)
{
	vm_event_request_t *q = RING_GET_REQUEST(&sim.fr, sim.fr.req_prod_pvt);

	memset(q, 0, sizeof(*q));
	q->version = sim.version;
	q->flags = VM_EVENT_FLAG_VCPU_PAUSED;
	q->reason = reason;
	q->vcpu_id = i;
	q->altp2m_idx = sim.v[i].view;
	q->data.regs.x86 = sim.v[i].regs;
	sim.v[i].paused = true;
	return q;
}

static void sim_push(void)
{
	sim.fr.req_prod_pvt++;
	RING_PUSH_REQUESTS(&sim.fr);
	sim_signal();
}

/* vCPU `i` runs at `va`: a trap if it fetches an int3 there. */
static bool sim_run(int i, uint64_t va)
{
	/* A fast single-step ends after one instruction, in its view. */
	if (sim.v[i].fast_pending) {
		sim.v[i].view = sim.v[i].fast_view;
		sim.v[i].fast_pending = false;
	}
	sim.v[i].regs.rip = va;
	if (sim_fetch(i, va) != 0xcc || !sim.bp)
		return false;
	sim_request(i, VM_EVENT_REASON_SOFTWARE_BREAKPOINT)
		->u.software_breakpoint.insn_length = 1;
	sim_push();
	return true;
}

static void sim_step_event(int i)
{
	sim_request(i, VM_EVENT_REASON_SINGLESTEP);
	sim_push();
}

static void sim_mem_access(int i, uint64_t gfn, uint32_t acc)
{
	vm_event_request_t *q = sim_request(i, VM_EVENT_REASON_MEM_ACCESS);

	q->u.mem_access.gfn = gfn;
	q->u.mem_access.flags = acc;
	sim_push();
}

/* What Xen's vm_event_resume does with each response. */
static void sim_resume(void)
{
	while (RING_HAS_UNCONSUMED_RESPONSES(&sim.fr)) {
		vm_event_response_t r;
		struct sim_vcpu *v;

		RING_COPY_RESPONSE(&sim.fr, sim.fr.rsp_cons, &r);
		sim.fr.rsp_cons++;
		sim.nrsp++;
		if (r.vcpu_id >= SIM_NV)
			continue;
		v = &sim.v[r.vcpu_id];
		/* Xen acts on a response only for a vCPU an event paused
		 * (vm_event_resume checks vm_event_pause_count). */
		if (!v->paused) {
			sim.unasked++;
			continue;
		}
		sim.last[r.vcpu_id] = r;
		if (r.flags & VM_EVENT_FLAG_ALTERNATE_P2M)
			v->view = r.altp2m_idx;
		if (!(r.flags & VM_EVENT_FLAG_VCPU_PAUSED))
			continue;
		if (r.flags & VM_EVENT_FLAG_SET_REGISTERS) {
			struct vm_event_regs_x86 keep = v->regs;

			v->regs = r.data.regs.x86;
			v->regs.cr3 = keep.cr3;	/* only GPRs, rip, rflags */
		}
		if (r.flags & VM_EVENT_FLAG_TOGGLE_SINGLESTEP)
			v->ss = !v->ss;
		if (r.flags & VM_EVENT_FLAG_FAST_SINGLESTEP) {
			v->fast_pending = true;
			v->fast_view = r.u.fast_singlestep.p2midx;
		}
		v->paused = false;
	}
}

/* ---- the library functions the backend calls ---------------------- */

xc_interface *xc_interface_open(xentoollog_logger *l, xentoollog_logger *d,
				unsigned f)
{
	return (xc_interface *)&handle;
}

int xc_interface_close(xc_interface *xch) { return 0; }

int xc_domain_getinfo(xc_interface *xch, uint32_t first, unsigned int max,
		      xc_dominfo_t *info)
{
	if (first > SIM_DOMID)
		return 0;
	memset(info, 0, sizeof(*info));
	info->domid = SIM_DOMID;
	info->hvm = sim.hvm;
	info->dying = sim.dying;
	info->max_vcpu_id = SIM_NV - 1;
	return 1;
}

int xc_vm_event_get_version(xc_interface *xch) { return sim.version; }

int xc_domain_pause(xc_interface *xch, uint32_t d)
{
	sim.pauses++;
	return 0;
}

int xc_domain_unpause(xc_interface *xch, uint32_t d)
{
	if (sim.pauses == 0) {
		errno = EINVAL;
		return -1;
	}
	sim.pauses--;
	return 0;
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *l,
					       unsigned f)
{
	return (xenforeignmemory_handle *)&handle;
}

int xenforeignmemory_close(xenforeignmemory_handle *f) { return 0; }

void *xenforeignmemory_map(xenforeignmemory_handle *f, uint32_t dom,
			   int prot, size_t pages, const xen_pfn_t arr[],
			   int err[])
{
	if (pages != 1 || arr[0] >= SIM_FRAMES || !sim.populated[arr[0]]) {
		errno = EFAULT;
		return NULL;
	}
	err[0] = 0;
	return sim.mem[arr[0]];	/* the host p2m: never a shadow's remap */
}

int xenforeignmemory_unmap(xenforeignmemory_handle *f, void *a, size_t n)
{
	return 0;
}

void *xc_monitor_enable(xc_interface *xch, uint32_t dom, uint32_t *port)
{
	if (sim.busy || sim.monitor) {
		errno = EBUSY;
		return NULL;
	}
	sim.ring = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sim.ring == MAP_FAILED)
		return NULL;
	FRONT_RING_INIT(&sim.fr, (vm_event_sring_t *)sim.ring, 4096);
	sim.monitor = true;
	*port = 5;
	return sim.ring;
}

int xc_monitor_disable(xc_interface *xch, uint32_t dom)
{
	/* Xen unpauses only the vCPUs that waited for a free slot in the
	 * ring (not modelled); one its event paused stays paused until a
	 * response frees it (vm_event_disable, Xen 4.17). */
	sim.monitor = false;
	return 0;
}

int xc_monitor_software_breakpoint(xc_interface *xch, uint32_t d, bool on)
{
	sim.bp = on;
	return 0;
}

int xc_monitor_singlestep(xc_interface *xch, uint32_t d, bool on)
{
	if (sim.no_mtf && on) {
		errno = EOPNOTSUPP;
		return -1;
	}
	sim.ss_mon = on;
	return 0;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *l, unsigned f)
{
	return (xenevtchn_handle *)&handle;
}

int xenevtchn_close(xenevtchn_handle *x) { return 0; }
int xenevtchn_fd(xenevtchn_handle *x) { return sim.efd; }

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *x,
						     uint32_t d,
						     evtchn_port_t p)
{
	return 42;
}

int xenevtchn_unbind(xenevtchn_handle *x, evtchn_port_t p) { return 0; }

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *x)
{
	uint64_t n;

	if (read(sim.efd, &n, sizeof(n)) != sizeof(n))
		return -1;
	return 42;
}

int xenevtchn_unmask(xenevtchn_handle *x, evtchn_port_t p) { return 0; }

int xenevtchn_notify(xenevtchn_handle *x, evtchn_port_t p)
{
	if (p == 42)
		sim_resume();
	return 0;
}

int xc_hvm_param_get(xc_interface *h, uint32_t d, uint32_t param,
		     uint64_t *value)
{
	*value = param == HVM_PARAM_ALTP2M && sim.altp2m_param ?
		 XEN_ALTP2M_external : XEN_ALTP2M_disabled;
	return 0;
}

int xc_altp2m_get_domain_state(xc_interface *h, uint32_t d, bool *state)
{
	*state = sim.altp2m_on;
	return 0;
}

int xc_altp2m_set_domain_state(xc_interface *h, uint32_t d, bool state)
{
	sim.altp2m_on = state;
	return 0;
}

int xc_domain_maximum_gpfn(xc_interface *xch, uint32_t d, xen_pfn_t *g)
{
	*g = 63;
	return 0;
}

int xc_altp2m_create_view(xc_interface *h, uint32_t d, xenmem_access_t a,
			  uint16_t *view)
{
	sim.view_alive = true;
	*view = 1;
	return 0;
}

int xc_altp2m_switch_to_view(xc_interface *h, uint32_t d, uint16_t view)
{
	for (int i = 0; i < SIM_NV; i++)
		sim.v[i].view = view;
	return 0;
}

int xc_altp2m_destroy_view(xc_interface *h, uint32_t d, uint16_t view)
{
	for (int i = 0; i < SIM_NV; i++)
		if (sim.v[i].view == view) {
			errno = EBUSY;
			return -1;
		}
	sim.view_alive = false;
	memset(sim.remap, 0, sizeof(sim.remap));
	return 0;
}

int xc_domain_populate_physmap_exact(xc_interface *xch, uint32_t d,
				     unsigned long n, unsigned int order,
				     unsigned int flags, xen_pfn_t *ext)
{
	if (n != 1 || ext[0] >= SIM_FRAMES || sim.populated[ext[0]]) {
		errno = ENOMEM;
		return -1;
	}
	sim.populated[ext[0]] = true;
	memset(sim.mem[ext[0]], 0, 4096);
	return 0;
}

int xc_domain_decrease_reservation_exact(xc_interface *xch, uint32_t d,
					 unsigned long n, unsigned int order,
					 xen_pfn_t *ext)
{
	sim.populated[ext[0]] = false;
	return 0;
}

int xc_altp2m_change_gfn(xc_interface *h, uint32_t d, uint16_t view,
			 xen_pfn_t old_gfn, xen_pfn_t new_gfn)
{
	sim.remap[old_gfn] = new_gfn == XEN_NO_GFN ? 0 : new_gfn + 1;
	return 0;
}

int xc_altp2m_set_mem_access(xc_interface *h, uint32_t d, uint16_t view,
			     xen_pfn_t gfn, xenmem_access_t access)
{
	sim.access[gfn] = access == XENMEM_access_rwx ? -1 : (int)access;
	return 0;
}

int xc_hvm_inject_trap(xc_interface *xch, uint32_t d, int vcpu,
		       uint8_t vector, uint8_t type, uint32_t error_code,
		       uint8_t insn_len, uint64_t cr2)
{
	if (vector == 3)
		sim.injected = vcpu;
	return 0;
}

static void sim_cpu(int i, struct hvm_hw_cpu *h)
{
	const struct vm_event_regs_x86 *r = &sim.v[i].regs;

	memset(h, 0, sizeof(*h));
	h->rax = r->rax; h->rip = r->rip; h->rsp = r->rsp;
	h->cr0 = r->cr0; h->cr3 = r->cr3; h->cr4 = r->cr4;
	h->msr_efer = r->msr_efer;
}

int xc_domain_hvm_getcontext_partial(xc_interface *xch, uint32_t d,
				     uint16_t code, uint16_t inst, void *buf,
				     uint32_t size)
{
	if (code != HVM_SAVE_CODE(CPU) || inst >= SIM_NV ||
	    size < sizeof(struct hvm_hw_cpu)) {
		errno = ENOENT;
		return -1;
	}
	sim_cpu(inst, buf);
	return 0;
}

#define CTX_LEN (SIM_NV * (sizeof(struct hvm_save_descriptor) + \
			   sizeof(struct hvm_hw_cpu)) + \
		 sizeof(struct hvm_save_descriptor))

int xc_domain_hvm_getcontext(xc_interface *xch, uint32_t d, uint8_t *buf,
			     uint32_t size)
{
	uint8_t *p = buf;

	if (!buf)
		return CTX_LEN;
	if (size < CTX_LEN)
		return -1;
	for (int i = 0; i < SIM_NV; i++) {
		struct hvm_save_descriptor desc = {
			HVM_SAVE_CODE(CPU), i, sizeof(struct hvm_hw_cpu) };
		struct hvm_hw_cpu h;

		sim_cpu(i, &h);
		memcpy(p, &desc, sizeof(desc));
		memcpy(p + sizeof(desc), &h, sizeof(h));
		p += sizeof(desc) + sizeof(h);
	}
	memset(p, 0, sizeof(struct hvm_save_descriptor));
	return CTX_LEN;
}

int xc_domain_hvm_setcontext(xc_interface *xch, uint32_t d, uint8_t *buf,
			     uint32_t size)
{
	for (uint32_t off = 0; off + sizeof(struct hvm_save_descriptor) <= size;) {
		struct hvm_save_descriptor desc;
		struct hvm_hw_cpu h;

		memcpy(&desc, buf + off, sizeof(desc));
		if (desc.typecode == 0)
			break;
		memcpy(&h, buf + off + sizeof(desc), sizeof(h));
		sim.v[desc.instance].regs.rip = h.rip;
		sim.v[desc.instance].regs.rax = h.rax;
		off += sizeof(desc) + desc.length;
	}
	return 0;
}

struct xs_handle *xs_open(unsigned long flags)
{
	return (struct xs_handle *)&handle;
}

void xs_close(struct xs_handle *h) { }

char **xs_directory(struct xs_handle *h, xs_transaction_t t,
		    const char *path, unsigned int *num)
{
	/* One block, as libxenstore returns it: pointers, then strings. */
	char **v = malloc(2 * sizeof(char *) + 4);
	char *s = (char *)(v + 2);

	strcpy(s, "0");
	strcpy(s + 2, "7");
	v[0] = s;
	v[1] = s + 2;
	*num = 2;
	return v;
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
	      unsigned int *len)
{
	const char *name = strstr(path, "/7/") ? "guest0" : "Domain-0";

	*len = strlen(name);
	return strdup(name);
}

/* ---- the scenarios ------------------------------------------------ */

static struct vsp_backend be = { .ops = &vsp_be_xen_ops };

static int wait_for(struct vsp_stop *st)
{
	memset(st, 0xee, sizeof(*st));
	return be.ops->wait(&be, st, 20);
}

static void test_attach_errors(void)
{
	sim_reset(true);
	sim.hvm = false;
	ok(be.ops->attach(&be, "7") == -ENOTSUP &&
	   strstr(vsp_be_xen_last_error(), "PV guest"), "PV domain refused");
	ok(sim.pauses == 0 && !sim.monitor, "a refused attach leaves nothing");

	sim_reset(true);
	sim.busy = true;
	ok(be.ops->attach(&be, "guest0") == -EBUSY &&
	   strstr(vsp_be_xen_last_error(), "another monitor"),
	   "ring held by another monitor: says so");
	ok(sim.pauses == 0, "and does not leave the domain paused");

	sim_reset(true);
	ok(be.ops->attach(&be, "nosuch") == -ENOENT &&
	   strstr(vsp_be_xen_last_error(), "no domain named 'nosuch'"),
	   "unknown domain name");
	ok(be.ops->attach(&be, "70000") == -EINVAL, "domain id out of range");
}

static void test_trap_cycle(bool altp2m)
{
	const char *mode = altp2m ? "altp2m" : "in place";
	uint64_t trap = KTEXT + 0x200, foreign = KTEXT + 0x1020;
	struct vsp_stop st, a, c;
	struct vsp_regs r;
	struct vsp_resume res;
	char buf[64], why[160];
	uint8_t b[8];
	int rc;

	sim_reset(altp2m);
	rc = be.ops->attach(&be, "guest0");
	snprintf(buf, sizeof(buf), "%s: attach by name", mode);
	ok(rc == 0 && be.ncpus == SIM_NV, "%s", buf);
	if (rc != 0) {
		printf("# %s\n", vsp_be_xen_last_error());
		return;
	}
	ok(sim.pauses == 1 && sim.monitor && sim.bp && sim.ss_mon,
	   "attach pauses, enables the ring, breakpoint and step events");
	ok(vsp_be_xen_stealth(&be, why, sizeof(why)) == altp2m,
	   altp2m ? "stealth on with altp2m" : "no stealth without altp2m");
	printf("# stealth: %s\n", why);
	ok(!altp2m || (sim.view_alive && sim.v[0].view == 1 &&
		       sim.v[1].view == 1), "vCPUs run in the trap view");

	ok(be.ops->trap_add(&be, trap) == 0, "trap added");
	ok(be.ops->trap_add(&be, trap) == -EEXIST, "same trap twice refused");
	ok(be.ops->trap_add(&be, KTEXT + 0x9000) < 0,
	   "trap at an unmapped address refused");
	if (altp2m) {
		uint64_t sh = sim.remap[TEXT_GFN];

		ok(sim.mem[TEXT_GFN][0x200] == 0x48,
		   "altp2m: the original frame is untouched");
		ok(sh == 65 && sim.mem[sh - 1][0x200] == 0xcc &&
		   sim.mem[sh - 1][0x201] == 0x89,
		   "altp2m: the shadow holds a copy with the int3");
		ok(sim.access[TEXT_GFN] == XENMEM_access_x,
		   "altp2m: the frame is execute-only in the trap view");
	} else {
		ok(sim.mem[TEXT_GFN][0x200] == 0xcc, "in place: int3 written");
	}
	ok(be.ops->read(&be, 0, trap, b, 2) == 2 && b[0] == 0x48 && b[1] == 0x89,
	   "reads see the guest's bytes, not the trap");
	ok(sim.pauses == 1, "trap changes keep the attach pause count");

	/* The monitor starts the guest. */
	res.how = VSP_RESUME_CONTINUE;
	res.addr = 0;
	ok(be.ops->resume(&be, 0, &res) == 0 && sim.pauses == 0,
	   "first resume unpauses the domain");
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TIMEOUT,
	   "quiet guest: wait times out");

	/* vCPU 1 hits the trap; the monitor denies the call. */
	sim.v[1].regs.rax = 1234;
	ok(sim_run(1, trap), "vCPU 1 executes the int3");
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP && st.vcpu == 1 &&
	   st.addr == trap, "wait reports the trap on vCPU 1");
	ok(be.ops->regs_get(&be, 1, &r) == 0 && r.rip == trap &&
	   r.rax == 1234 && r.cr3 == 4096, "registers come from the request");
	r.rax = (uint64_t)-13;
	be.ops->regs_set(&be, 1, &r);
	res.how = VSP_RESUME_AT;
	res.addr = KTEXT + 0x700;
	ok(be.ops->resume(&be, 1, &res) == 0, "resume at the return address");
	ok(!sim.v[1].paused && sim.v[1].regs.rip == KTEXT + 0x700 &&
	   sim.v[1].regs.rax == (uint64_t)-13,
	   "Xen applies rip and rax from the answer");
	ok(sim.last[1].flags == (VM_EVENT_FLAG_VCPU_PAUSED |
				 VM_EVENT_FLAG_SET_REGISTERS),
	   "answer flags: unpause and set registers only");
	ok(be.ops->resume(&be, 1, &res) == 0 && sim.nrsp == 1,
	   "a second resume sends nothing (nothing pending)");

	/* vCPU 0 hits the trap; the monitor lets the original run. */
	sim_run(0, trap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP && st.vcpu == 0,
	   "trap on vCPU 0");
	res.how = VSP_RESUME_CONTINUE;
	be.ops->resume(&be, 0, &res);
	if (altp2m) {
		ok(sim.last[0].flags == (VM_EVENT_FLAG_VCPU_PAUSED |
					 VM_EVENT_FLAG_ALTERNATE_P2M |
					 VM_EVENT_FLAG_FAST_SINGLESTEP) &&
		   sim.last[0].altp2m_idx == 0 && sim.v[0].fast_view == 1,
		   "altp2m: step over in view 0, fast single-step back");
		ok(sim_fetch(0, trap) == 0x48, "view 0 executes the original");
	} else {
		ok(sim.last[0].flags == (VM_EVENT_FLAG_VCPU_PAUSED |
					 VM_EVENT_FLAG_TOGGLE_SINGLESTEP) &&
		   sim.v[0].ss, "in place: single-step turned on");
		ok(sim.mem[TEXT_GFN][0x200] == 0x48,
		   "in place: original byte back for the step");
		sim.v[0].regs.rip = trap + 5;
		sim_step_event(0);
		ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TIMEOUT,
		   "the backend's own step is not reported");
		ok(sim.mem[TEXT_GFN][0x200] == 0xcc && !sim.v[0].ss &&
		   !sim.v[0].paused, "int3 re-armed, stepping off, vCPU runs");
	}

	/* A breakpoint of the guest's own goes back to the guest. */
	ok(sim_run(1, foreign), "vCPU 1 runs into the guest's own int3");
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TIMEOUT &&
	   sim.injected == 1 && !sim.v[1].paused,
	   "it is re-injected into the guest, not reported");

	/* The monitor single-steps. */
	sim_run(0, trap);
	wait_for(&st);
	res.how = VSP_RESUME_AT;
	res.addr = KTEXT + 0x800;
	ok(be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_STEP, 0 })
	   == 0 && sim.v[0].ss, "STEP turns single-stepping on");
	if (altp2m)
		ok(sim.v[0].view == 0, "altp2m: steps the original in view 0");
	sim_step_event(0);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_STEP && st.vcpu == 0,
	   "the monitor's step is reported");
	be.ops->resume(&be, 0, &res);
	ok(!sim.v[0].ss && sim.v[0].regs.rip == KTEXT + 0x800,
	   "next resume turns stepping off");
	if (altp2m)
		ok(sim.v[0].view == 1, "altp2m: back in the trap view");
	else
		ok(sim.mem[TEXT_GFN][0x200] == 0xcc, "in place: trap re-armed");

	if (altp2m) {
		/* The guest reads, then writes, its trapped text. */
		sim_mem_access(1, TEXT_GFN, MEM_ACCESS_R);
		ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TIMEOUT &&
		   sim.last[1].flags == (VM_EVENT_FLAG_VCPU_PAUSED |
					 VM_EVENT_FLAG_ALTERNATE_P2M |
					 VM_EVENT_FLAG_FAST_SINGLESTEP) &&
		   sim.v[1].view == 0,
		   "altp2m: a read of a trapped frame runs in view 0");
		sim.v[1].view = 1;	/* the fast single-step ends */
		sim_mem_access(1, TEXT_GFN, MEM_ACCESS_W);
		wait_for(&st);
		ok(sim.v[1].view == 0 && sim.v[1].ss,
		   "altp2m: a write runs in view 0 with a single step");
		sim.mem[TEXT_GFN][0x201] = 0x90;	/* the guest's write */
		sim.mem[TEXT_GFN][0x200] = 0xe8;	/* over the trapped byte too */
		sim_step_event(1);
		ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TIMEOUT &&
		   sim.v[1].view == 1 && !sim.v[1].ss,
		   "after the step: back to the trap view, stepping off");
		ok(sim.mem[sim.remap[TEXT_GFN] - 1][0x201] == 0x90 &&
		   sim.mem[sim.remap[TEXT_GFN] - 1][0x200] == 0xcc,
		   "the shadow took the write and kept its int3");
		ok(be.ops->read(&be, 0, trap, b, 1) == 1 && b[0] == 0xe8,
		   "reads show the guest's new byte");
		sim.mem[TEXT_GFN][0x200] = 0x48;
		sim.mem[TEXT_GFN][0x201] = 0x89;
	} else {
		/* A write through the backend keeps the trap. */
		b[0] = 0xe8;
		ok(be.ops->write(&be, 0, trap, b, 1) == 1 &&
		   sim.mem[TEXT_GFN][0x200] == 0xcc,
		   "in place: a write over the trap keeps the int3");
		ok(be.ops->read(&be, 0, trap, b, 1) == 1 && b[0] == 0xe8,
		   "and reads show the written byte");
		b[0] = 0x48;
		be.ops->write(&be, 0, trap, b, 1);
	}

	/* Two vCPUs stop together; answers go out of order. */
	sim_run(0, trap);
	sim_run(1, trap);
	{
		ok(wait_for(&a) == 0 && wait_for(&c) == 0 &&
		   a.kind == VSP_STOP_TRAP && c.kind == VSP_STOP_TRAP &&
		   a.vcpu != c.vcpu, "both vCPUs reported, one each");
		res.how = VSP_RESUME_AT;
		res.addr = KTEXT + 0x900;
		be.ops->resume(&be, c.vcpu, &res);
		ok(sim.v[c.vcpu].regs.rip == KTEXT + 0x900 &&
		   sim.v[a.vcpu].paused, "the later stop answered first");
		/* The other one stays paused while the monitor decides. */
		be.ops->resume(&be, a.vcpu,
			       &(struct vsp_resume){ VSP_RESUME_STAY, 0 });
		ok(sim.v[a.vcpu].paused, "STAY leaves the vCPU paused");
	}

	/* Interrupt, then a register change outside an event. */
	ok(be.ops->interrupt(&be) == 0 && sim.pauses == 1, "interrupt pauses");
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_INTERRUPT,
	   "the interrupt is reported");
	ok(be.ops->regs_get(&be, c.vcpu, &r) == 0 && r.rip == KTEXT + 0x900,
	   "registers of a running vCPU from the HVM context");
	r.rip = KTEXT + 0xa00;
	ok(be.ops->regs_set(&be, c.vcpu, &r) == 0 &&
	   sim.v[c.vcpu].regs.rip == KTEXT + 0xa00,
	   "registers written through the HVM context");

	/* A request still in the ring is left for detach to answer. */
	sim_run(c.vcpu, trap);
	be.ops->detach(&be, false);
	ok(be.priv == NULL, "detached");
	ok(!sim.v[0].paused && !sim.v[1].paused,
	   "every vCPU answered, the stayed one too");
	ok(sim.mem[TEXT_GFN][0x200] == 0x48 && !sim.bp && !sim.ss_mon &&
	   !sim.monitor, "traps gone, events off, ring disabled");
	ok(sim.pauses == 0, "domain unpaused");
	if (altp2m)
		ok(!sim.view_alive && sim.v[0].view == 0 &&
		   !sim.populated[64] && !sim.altp2m_on,
		   "altp2m: view destroyed, shadow freed, altp2m off");
}

static void test_hostile_and_exit(void)
{
	struct vsp_stop st;
	vm_event_request_t *q;

	sim_reset(false);
	be.ops->attach(&be, "7");
	be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_CONTINUE, 0 });
	q = sim_request(0, VM_EVENT_REASON_SOFTWARE_BREAKPOINT);
	q->vcpu_id = 9;
	sim_push();
	ok(wait_for(&st) == -EPROTO &&
	   strstr(vsp_be_xen_last_error(), "vCPU 9"),
	   "a request for a vCPU the domain lacks is an error");
	be.ops->detach(&be, true);
	ok(sim.pauses == 1 && !sim.monitor,
	   "detach leaving the guest paused holds one pause");

	sim_reset(false);
	be.ops->attach(&be, "7");
	sim.version = VM_EVENT_INTERFACE_VERSION + 1;
	sim_request(0, VM_EVENT_REASON_SOFTWARE_BREAKPOINT);
	sim_push();
	ok(wait_for(&st) == -EPROTO &&
	   strstr(vsp_be_xen_last_error(), "version"),
	   "a request of another version is an error");
	be.ops->detach(&be, false);

	sim_reset(false);
	ok(be.ops->attach(&be, "7") == 0, "attach again");
	sim.dying = true;
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_EXITED,
	   "a dying domain is reported as exited");
	be.ops->detach(&be, false);
	ok(sim.pauses == 0 && !sim.monitor, "detach after exit is clean");
}

/* Continuing on a trap whose instruction the backend can do itself. */
static void test_emulation(bool altp2m)
{
	uint64_t nop = KTEXT + 0x14, push = KTEXT + 0x300, endbr = KTEXT + 0x400;
	uint64_t push15 = KTEXT + 0x410, sp = KTEXT + 0x3800, got = 0;
	const uint32_t plain = VM_EVENT_FLAG_VCPU_PAUSED |
			       VM_EVENT_FLAG_SET_REGISTERS;
	struct vsp_resume go = { VSP_RESUME_CONTINUE, 0 };
	struct vsp_stop st;

	sim_reset(altp2m);
	be.ops->attach(&be, "7");
	be.ops->trap_add(&be, nop);
	be.ops->trap_add(&be, push);
	be.ops->trap_add(&be, endbr);
	be.ops->trap_add(&be, push15);
	be.ops->resume(&be, 0, &go);

	sim_run(0, nop);
	wait_for(&st);
	be.ops->resume(&be, 0, &go);
	ok(sim.last[0].flags == plain && sim.v[0].regs.rip == nop + 5 &&
	   !sim.v[0].ss && !sim.v[0].paused,
	   altp2m ? "altp2m: ftrace NOP emulated, no step, no view switch"
		  : "in place: ftrace NOP emulated, no step");

	sim.v[0].regs.rsp = sp;
	sim.v[0].regs.rbp = 0x1122334455667788ull;
	sim_run(0, push);
	wait_for(&st);
	be.ops->resume(&be, 0, &go);
	memcpy(&got, &sim.mem[TEXT_GFN + 3][0x800 - 8], 8);
	ok(sim.last[0].flags == plain && sim.v[0].regs.rip == push + 1 &&
	   sim.v[0].regs.rsp == sp - 8 && got == 0x1122334455667788ull,
	   "push %%rbp emulated: stack written, rsp and rip moved");

	sim_run(0, endbr);
	wait_for(&st);
	be.ops->resume(&be, 0, &go);
	ok(sim.last[0].flags == plain && sim.v[0].regs.rip == endbr + 4,
	   "endbr64 emulated");

	sim.v[0].regs.r15 = 0xabcdefull;
	sim_run(0, push15);
	wait_for(&st);
	be.ops->resume(&be, 0, &go);
	memcpy(&got, &sim.mem[TEXT_GFN + 3][0x800 - 16], 8);
	ok(sim.v[0].regs.rip == push15 + 2 && got == 0xabcdefull &&
	   sim.v[0].regs.rsp == sp - 16, "push %%r15 emulated");

	/* A push whose stack is not mapped is stepped instead. */
	sim.v[0].regs.rsp = 0xffffc90000010000ull;
	sim_run(0, push);
	wait_for(&st);
	be.ops->resume(&be, 0, &go);
	ok(sim.v[0].regs.rsp == 0xffffc90000010000ull &&
	   (sim.last[0].flags & (altp2m ? VM_EVENT_FLAG_FAST_SINGLESTEP :
				 VM_EVENT_FLAG_TOGGLE_SINGLESTEP)),
	   "push onto an unmapped stack falls back to a step");
	be.ops->detach(&be, false);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The backend's own cost of one trap (take the request, report it, read
 * the registers and 64 bytes of guest memory, answer with new registers),
 * without Xen's: printed for the record, checked only for sanity.
 */
static void test_cost(void)
{
	const int rounds = 20000;
	uint64_t trap = KTEXT + 0x14, t0, dt;
	struct vsp_resume at = { VSP_RESUME_AT, KTEXT + 0x19 };
	struct vsp_stop st;
	struct vsp_regs r;
	uint8_t buf[64];
	int good = 1;

	sim_reset(true);
	be.ops->attach(&be, "7");
	be.ops->trap_add(&be, trap);
	be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_CONTINUE, 0 });
	t0 = now_ns();
	for (int i = 0; i < rounds && good; i++) {
		sim_run(i & 1, trap);
		good &= be.ops->wait(&be, &st, 0) == 0 &&
			st.kind == VSP_STOP_TRAP;
		good &= be.ops->regs_get(&be, st.vcpu, &r) == 0;
		good &= be.ops->read(&be, st.vcpu, KTEXT + 0x100, buf,
				     sizeof(buf)) == sizeof(buf);
		r.rax = i;
		be.ops->regs_set(&be, st.vcpu, &r);
		good &= be.ops->resume(&be, st.vcpu, &at) == 0;
	}
	dt = now_ns() - t0;
	ok(good && sim.nrsp >= (unsigned)rounds, "20000 trap round trips");
	printf("# backend cost per trap (simulated Xen, altp2m): %.0f ns\n",
	       (double)dt / rounds);
	be.ops->detach(&be, false);
}

/* A vCPU stopped in user mode under page-table isolation. */
static void test_pti(void)
{
	uint8_t b[3] = { 0 };

	sim_reset(false);
	be.ops->attach(&be, "7");
	/* Kernel PGD at frame 6, user PGD (no kernel text) at frame 7. */
	memcpy(sim.mem[6], sim.mem[1], 4096);
	memset(sim.mem[7], 0, 4096);
	sim.v[1].regs.cr3 = 7 * 4096 | 0x3;	/* PCID 3 */
	ok(be.ops->read(&be, 1, KTEXT + 0x200, b, 3) == 3 && b[0] == 0x48 &&
	   b[2] == 0xf8, "kernel text read from a user CR3 (PTI pair)");
	ok(be.ops->read(&be, 1, 0x400000, b, 1) == -EFAULT,
	   "a user address is not retried on the kernel half");
	be.ops->detach(&be, false);
}

/* vsp dies: its state is dropped without any teardown. */
static void crash(void)
{
	struct xen_priv *p = be.priv;

	if (!p)
		return;
	if (p->jfd >= 0)
		close(p->jfd);
	free(p->v);
	free(p->traps);
	free(p->shadows);
	free(p);
	be.priv = NULL;
}

static char state_dir[64];

/* Makes the journal's owner a process that has exited. */
static int journal_owner_dead(void)
{
	char path[128], rest[8192], *nl;
	FILE *f;
	size_t n;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		return -1;
	snprintf(path, sizeof(path), "%s/xen-%d.journal", state_dir, SIM_DOMID);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(rest, 1, sizeof(rest) - 1, f);
	fclose(f);
	rest[n] = 0;
	nl = strchr(rest, '\n');
	f = fopen(path, "w");
	if (!f || !nl)
		return -1;
	fprintf(f, "vsp-xen-journal 1 pid %ld%s", (long)pid, nl);
	fclose(f);
	return 0;
}

static void test_take_over(bool altp2m)
{
	uint64_t trap = KTEXT + 0x200;
	const char *mode = altp2m ? "altp2m" : "in place";
	char what[120];
	struct vsp_stop st;

	sim_reset(altp2m);
	be.ops->attach(&be, "7");
	be.ops->trap_add(&be, trap);
	be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_CONTINUE, 0 });
	sim_run(1, trap);
	wait_for(&st);
	crash();
	ok(sim.monitor && sim.v[1].paused && sim.bp, "after a crash Xen still "
	   "holds the ring, the paused vCPU and breakpoint events");
	ok(be.ops->attach(&be, "7") == -EBUSY &&
	   strstr(vsp_be_xen_last_error(), "running vsp"),
	   "a journal whose process lives: no take-over");
	ok(journal_owner_dead() == 0, "journal owner made a dead process");
	snprintf(what, sizeof(what), "%s: attach takes over a dead vsp's ring",
		 mode);
	ok(be.ops->attach(&be, "7") == 0, "%s", what);
	ok(!sim.v[1].paused, "the vCPU the dead vsp held runs again (freed "
	   "by a response on a second ring)");
	ok(sim.unasked == SIM_NV - 1 && !sim.v[0].paused,
	   "the response for the vCPU no event held changes nothing");
	if (altp2m)
		ok(!sim.populated[64] && sim.view_alive && !sim.remap[TEXT_GFN],
		   "altp2m: old shadow freed, a fresh view without traps");
	else
		ok(sim.mem[TEXT_GFN][0x200] == 0x48,
		   "in place: the dead vsp's int3 is gone");
	be.ops->detach(&be, false);
	ok(sim.pauses == 0 && !sim.monitor, "and detaches cleanly");
}

/*
 * AMD-like host: no single-step events.  A trap whose instruction the
 * backend cannot do by hand is left by running that instruction in place
 * behind a follower int3 on the next one, which re-arms the trap; a
 * branch under a trap, or a STEP, is refused.
 */
static void test_no_mtf(void)
{
	uint64_t trap = KTEXT + 0x200, jtrap = KTEXT + 0x500;
	struct vsp_stop st;
	char why[160];
	uint8_t after;

	sim_reset(true);
	sim.no_mtf = true;
	memcpy(&sim.mem[TEXT_GFN][0x500], "\xe9\x10\x00\x00\x00", 5);
	after = sim.mem[TEXT_GFN][0x203];
	ok(be.ops->attach(&be, "7") == 0, "no MTF: attach still works");
	ok(!vsp_be_xen_stealth(&be, why, sizeof(why)) && strstr(why, "MTF") &&
	   !sim.view_alive, "no MTF: no altp2m, and says why");
	be.ops->trap_add(&be, trap);
	be.ops->trap_add(&be, jtrap);
	be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_CONTINUE, 0 });
	sim_run(0, trap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP, "no MTF: trap");
	ok(be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_STEP, 0 })
	   == -ENOTSUP && strstr(vsp_be_xen_last_error(), "single-step") &&
	   sim.v[0].paused && sim.mem[TEXT_GFN][0x200] == 0xcc,
	   "no MTF: STEP refused, nothing changed");
	ok(be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_CONTINUE,
							0 }) == 0 &&
	   !sim.v[0].paused && sim.mem[TEXT_GFN][0x200] == 0x48 &&
	   sim.mem[TEXT_GFN][0x203] == 0xcc &&
	   !(sim.last[0].flags & VM_EVENT_FLAG_TOGGLE_SINGLESTEP),
	   "no MTF: mov runs in place, a follower int3 on the next instruction");
	ok(sim_run(0, trap + 3), "no MTF: the vCPU reaches the follower");
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TIMEOUT,
	   "no MTF: the follower is the backend's own, not the monitor's");
	ok(!sim.v[0].paused && sim.mem[TEXT_GFN][0x200] == 0xcc &&
	   sim.mem[TEXT_GFN][0x203] == after && sim.v[0].regs.rip == trap + 3,
	   "no MTF: trap re-armed, follower gone, the vCPU runs on");
	sim_run(0, trap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP && st.addr == trap,
	   "no MTF: the re-armed trap stops the next call");
	ok(be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_AT,
							trap + 3 }) == 0 &&
	   !sim.v[0].paused && sim.v[0].regs.rip == trap + 3 &&
	   sim.mem[TEXT_GFN][0x203] == after &&
	   !(sim.last[0].flags & VM_EVENT_FLAG_TOGGLE_SINGLESTEP),
	   "no MTF: resuming past the trap works, no follower");
	sim_run(0, jtrap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP, "no MTF: trap on a jmp");
	ok(be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_CONTINUE,
							0 }) == -ENOTSUP &&
	   sim.v[0].paused && sim.mem[TEXT_GFN][0x500] == 0xcc,
	   "no MTF: a branch under a trap cannot run in place: refused");
	be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_AT, jtrap + 5 });
	sim_run(0, trap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP, "no MTF: trap again");
	be.ops->resume(&be, 0, &(struct vsp_resume){ VSP_RESUME_CONTINUE, 0 });
	ok(sim.mem[TEXT_GFN][0x203] == 0xcc, "no MTF: follower armed");
	be.ops->detach(&be, false);
	ok(sim.pauses == 0 && sim.mem[TEXT_GFN][0x200] == 0x48 &&
	   sim.mem[TEXT_GFN][0x203] == after && sim.mem[TEXT_GFN][0x500] == 0xe9,
	   "no MTF: clean detach takes the follower out too");
}


/*
 * No MTF, an interrupt before the instruction run in place: the handler
 * makes calls of its own through the same code (one past the untrapped
 * instruction, reaching the follower first; one trapped and decided), then
 * returns to the trap with the registers of the call already decided.
 * That call is not a second event; a new call with the same registers,
 * once the first has run, is.
 */
static void test_no_mtf_interrupt(void)
{
	uint64_t trap = KTEXT + 0x200, task_sp = 0xffffc90000627c40ull,
		 irq_sp = 0xffffc90000003e10ull;
	struct vsp_resume go = { VSP_RESUME_CONTINUE, 0 };
	struct vsp_stop st;

	sim_reset(true);
	sim.no_mtf = true;
	be.ops->attach(&be, "7");
	be.ops->trap_add(&be, trap);
	be.ops->resume(&be, 0, &go);
	sim.v[0].regs.rsp = task_sp;
	sim.v[0].regs.rax = 20;
	sim_run(0, trap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP,
	   "interrupted run: the task's call stops at the trap");
	be.ops->resume(&be, 0, &go);
	/* The interrupt, before the instruction: the handler's own calls. */
	sim.v[0].regs.rsp = irq_sp;
	sim.v[0].regs.rax = 24;
	ok(!sim_run(0, trap) && sim_run(0, trap + 3) &&
	   wait_for(&st) == 0 && st.kind == VSP_STOP_TIMEOUT &&
	   sim.mem[TEXT_GFN][0x200] == 0xcc,
	   "interrupted run: the handler's call passes, the follower re-arms");
	sim_run(0, trap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP,
	   "interrupted run: the handler's next call is an event of its own");
	be.ops->resume(&be, 0, &go);
	sim_run(0, trap + 3);
	wait_for(&st);
	/* Back from the interrupt: the task's call, with its registers. */
	sim.v[0].regs.rsp = task_sp;
	sim.v[0].regs.rax = 20;
	ok(sim_run(0, trap) && wait_for(&st) == 0 &&
	   st.kind == VSP_STOP_TIMEOUT && !sim.v[0].paused &&
	   sim.mem[TEXT_GFN][0x200] == 0x48 && sim.mem[TEXT_GFN][0x203] == 0xcc,
	   "interrupted run: the task back at its decided call is no new event");
	ok(sim_run(0, trap + 3) && wait_for(&st) == 0 &&
	   st.kind == VSP_STOP_TIMEOUT && sim.mem[TEXT_GFN][0x200] == 0xcc,
	   "interrupted run: the call runs, the trap re-armed");
	sim_run(0, trap);
	ok(wait_for(&st) == 0 && st.kind == VSP_STOP_TRAP,
	   "interrupted run: the same registers once the call has run: a new event");
	be.ops->resume(&be, 0, &go);
	be.ops->detach(&be, false);
}

int main(void)
{
	char cmd[128];

	snprintf(state_dir, sizeof(state_dir), "/tmp/vsp-xenstate-XXXXXX");
	if (!mkdtemp(state_dir))
		return 1;
	setenv("VSP_XEN_STATE_DIR", state_dir, 1);
	test_attach_errors();
	test_trap_cycle(true);
	test_trap_cycle(false);
	test_hostile_and_exit();
	test_no_mtf();
	test_no_mtf_interrupt();
	test_emulation(true);
	test_emulation(false);
	test_cost();
	test_pti();
	test_take_over(true);
	test_take_over(false);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", state_dir);
	return done();
}
#endif
