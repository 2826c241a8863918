/*
 * xen_hcall.h: hypercall interception for a PV-on-HVM guest.
 *
 * A Linux guest on Xen makes hypercalls by calling into its hypercall
 * page: Xen fills entry i (at hypercall_page + 32 * i) with
 * `mov $i, %eax; vmcall; ret` (vmmcall on AMD).  A trap on an entry's first
 * byte therefore sees every call of hypercall i from its caller, with the
 * arguments still in rdi rsi rdx r10 r8 and the caller's return address
 * at [rsp]; the displaced `mov` is emulated by setting eax and stepping
 * rip by 5, so letting a call through costs no single step.
 *
 * Kernels that carry the XSA-466 change no longer call through the page:
 * they load eax and call one stub (xen_hypercall_intel or _amd) that
 * executes vmcall.  For those the trap goes on the stub and the number
 * comes from eax (VSP_XHC_STUB).
 *
 * Arguments are decoded as Xen reads them: each register is cut to the
 * C type of the hypercall's parameter in Xen's public headers (an
 * `unsigned int count` is the low 32 bits, a domid_t the low 16), so a
 * rule sees the value the hypervisor will act on, not high bits Xen drops.
 */
#ifndef VSP_XEN_HCALL_H
#define VSP_XEN_HCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/event.h"
#include "vmi/backend.h"
#include "vmi/kaslr.h"
#include "vmi/symbols.h"
#include "vmi/unwind.h"

#define VSP_XHC_ENTRY_SIZE 32u	/* bytes per hypercall page entry */
#define VSP_XHC_MAX 64u		/* entries that fit a page: 4096 / 64 */
#define VSP_XHC_NARGS 5u	/* argument registers of the x86-64 ABI */

/* How Xen reads one argument register. */
enum vsp_xhc_type {
	VSP_XHC_NONE,		/* no such argument */
	VSP_XHC_PTR,		/* guest handle or pointer: 64 bits */
	VSP_XHC_ULONG,		/* unsigned long, uint64_t: 64 bits */
	VSP_XHC_UINT,		/* unsigned int: low 32 bits, zero-extended */
	VSP_XHC_INT,		/* int: low 32 bits, sign-extended */
	VSP_XHC_DOMID		/* domid_t: low 16 bits */
};

/* One hypercall's prototype as Xen's public headers give it. */
struct vsp_xhc_proto {
	uint32_t nr;
	const char *name;		/* "mmu_update" */
	uint8_t nargs;
	enum vsp_xhc_type type[VSP_XHC_NARGS];
};

/* The prototype of hypercall `nr`, or NULL when Xen defines none. */
const struct vsp_xhc_proto *vsp_xhc_proto(uint32_t nr);
/* All prototypes, in number order. */
extern const struct vsp_xhc_proto vsp_xhc_protos[];
extern const size_t vsp_xhc_nprotos;

enum vsp_xhc_mode {
	VSP_XHC_PAGE,		/* traps at hypercall page entries */
	VSP_XHC_STUB		/* one trap at a vmcall stub; number in eax */
};

/* Where the guest enters the hypervisor. */
struct vsp_xhc_site {
	enum vsp_xhc_mode mode;
	uint64_t base;		/* hypercall_page, or the stub's address */
	uint64_t alt;		/* stub mode: the other vendor's stub, or 0 */
};

/*
 * Finds the site in the guest's symbols: `hypercall_page` (page mode),
 * else the XSA-466 stubs `xen_hypercall_intel` / `xen_hypercall_amd` (stub
 * mode, both trapped: the kernel picks one at boot).  Returns 0, or
 * -ENOENT with a reason in `why` when the kernel has neither (not built
 * for Xen, or symbols without them).
 */
int vsp_xhc_site_find(const struct vsp_symtab *syms, struct vsp_xhc_site *site,
		      char *why, size_t n);

/* The address to trap for hypercall `nr` (page mode: its entry; stub
 * mode: the stub, one trap for every hypercall). */
uint64_t vsp_xhc_entry(const struct vsp_xhc_site *site, uint32_t nr);

/*
 * Checks that the first bytes of entry `nr` are what Xen writes there
 * (`mov $nr, %eax` then vmcall or vmmcall), so a trap is never placed on a
 * page that is not a hypercall page.  `code` holds `len` bytes read from
 * the entry.  Returns 0, or -EINVAL with a reason in `why`.
 */
int vsp_xhc_check_entry(uint32_t nr, const uint8_t *code, size_t len,
			char *why, size_t n);

/*
 * The hypercall a stop at `addr` is making.  Returns 0, or -ENOENT when
 * `addr` is not an entry of the site (the stop is someone else's).
 */
int vsp_xhc_number(const struct vsp_xhc_site *site, uint64_t addr,
		   const struct vsp_regs *r, uint32_t *nr);

/*
 * Decodes the argument registers of hypercall `nr` into args[0..4] (args[5]
 * is 0).  An unknown number keeps all five registers whole and returns
 * -ENOENT; otherwise 0.
 */
int vsp_xhc_decode(uint32_t nr, const struct vsp_regs *r, int64_t args[6]);

/*
 * Fills the hypercall fields of `ev` (kind, nr, name, args, cr3) for a stop
 * at `addr`.  The caller sets the rest (seq, time, vm, vcpu, proc, stack,
 * fetch).  Returns 0 or -ENOENT as vsp_xhc_number.  Allocates nothing.
 */
int vsp_xhc_event(const struct vsp_xhc_site *site, uint64_t addr,
		  const struct vsp_regs *r, struct vsp_event *ev);

/*
 * Registers that let an intercepted call go on in page mode: the displaced
 * `mov $nr, %eax` done by hand (eax = nr, which clears rax's high half as
 * the instruction would) and rip past it.  Stub mode has nothing displaced
 * to emulate that way; the backend steps over it.
 */
void vsp_xhc_allow(uint32_t nr, struct vsp_regs *r);

/*
 * Registers that make the call return `ret` to its caller without entering
 * Xen: rax = ret, rip = the return address read from [rsp] (passed in
 * `ret_addr`), rsp += 8.
 */
void vsp_xhc_return(int64_t ret, uint64_t ret_addr, struct vsp_regs *r);

/*
 * Places the trap for hypercall `nr` through backend `be`: reads the entry
 * (page mode) and checks it with vsp_xhc_check_entry, then trap_add at
 * vsp_xhc_entry.  In stub mode the one stub trap (and the other vendor's)
 * is added on the first call only; -EEXIST from the backend counts as
 * done.  Returns 0 with the address in *addr, or a negative code with a
 * reason in `why`.
 */
int vsp_xhc_place(struct vsp_backend *be, const struct vsp_xhc_site *site,
		  uint32_t nr, uint64_t *addr, char *why, size_t n);

/*
 * Ends a stop at hypercall `nr` on `vcpu` whose registers are `r`:
 * `allow` lets the call into Xen (page mode: the entry's mov done by hand,
 * no step; stub mode: the backend steps over or emulates the stub's first
 * instruction), otherwise the call returns `ret` to its caller without
 * reaching Xen (a deny is -errno: Xen's errno values are Linux's).  Sets
 * the registers and resumes the vCPU.  Returns 0 or the backend's code.
 */
int vsp_xhc_finish(struct vsp_backend *be, uint32_t vcpu,
		   const struct vsp_xhc_site *site, uint32_t nr,
		   const struct vsp_regs *r, bool allow, int64_t ret);

/* A hypercall's call path: the hypercall, then the unwound callers. */
struct vsp_xhc_path {
	struct vsp_callpath cp;
	const char *names[VSP_UNWIND_MAX + 1];
};

/*
 * Fills ev->stack for a stop at a hypercall entry: the hypercall's name
 * (ev->name, already set by vsp_xhc_event) first, then its callers.  At an
 * entry nothing has been pushed since the call, so the walk starts from
 * the caller's own state as it will be after the return (rip = [rsp],
 * rsp + 8); this does not depend on unwind data for the hypercall page,
 * which older kernels lack.  Returns 0; -EFAULT (stack unreadable, no
 * path: ev->has_stack false).  Allocates nothing: `out` holds the names.
 */
int vsp_xhc_callpath(struct vsp_unwinder *u, const struct vsp_regs *r,
		     vsp_gread_fn read, void *ctx, struct vsp_xhc_path *out,
		     struct vsp_event *ev);

#endif
