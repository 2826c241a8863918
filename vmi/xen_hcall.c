/*
 * xen_hcall.c: turning a stop at a hypercall entry into a hypercall event
 * (see xen_hcall.h).
 *
 * The prototype table restates, per hypercall, the C types of the
 * parameters of Xen's handlers (xen/include/public/xen.h and the headers
 * it names for each operation; x86-64 guest ABI).  It carries only what the
 * language catalog does not: how wide each argument is when Xen reads it.
 * Parameter names are the catalog's business (base/catalog.h); a test
 * checks that both tables agree on which hypercalls exist and how many
 * arguments each takes.
 */
#include "vmi/xen_hcall.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/catalog.h"

#define P VSP_XHC_PTR
#define UL VSP_XHC_ULONG
#define UI VSP_XHC_UINT
#define I VSP_XHC_INT
#define D VSP_XHC_DOMID

/*
 * Numbers and parameter types from Xen 4.17's public headers and handler
 * declarations (x86-64).  mmu_update's and mmuext_op's foreigndom is an
 * unsigned int, not a domid_t: its high half names a second domain.
 */
const struct vsp_xhc_proto vsp_xhc_protos[] = {
	{ 0, "set_trap_table", 1, { P } },
	{ 1, "mmu_update", 4, { P, UI, P, UI } },
	{ 2, "set_gdt", 2, { P, UI } },
	{ 3, "stack_switch", 2, { UL, UL } },
	{ 4, "set_callbacks", 3, { UL, UL, UL } },
	{ 5, "fpu_taskswitch", 1, { I } },
	{ 6, "sched_op_compat", 2, { I, UL } },
	{ 7, "platform_op", 1, { P } },
	{ 8, "set_debugreg", 2, { I, UL } },
	{ 9, "get_debugreg", 1, { I } },
	{ 10, "update_descriptor", 2, { UL, UL } },
	{ 12, "memory_op", 2, { UL, P } },
	{ 13, "multicall", 2, { P, UI } },
	{ 14, "update_va_mapping", 3, { UL, UL, UL } },
	{ 15, "set_timer_op", 1, { UL } },
	{ 16, "event_channel_op_compat", 1, { P } },
	{ 17, "xen_version", 2, { I, P } },
	{ 18, "console_io", 3, { UI, UI, P } },
	{ 19, "physdev_op_compat", 1, { P } },
	{ 20, "grant_table_op", 3, { UI, P, UI } },
	{ 21, "vm_assist", 2, { UI, UI } },
	{ 22, "update_va_mapping_otherdomain", 4, { UL, UL, UL, D } },
	{ 23, "iret", 0, { 0 } },
	{ 24, "vcpu_op", 3, { I, UI, P } },
	{ 25, "set_segment_base", 2, { UI, UL } },
	{ 26, "mmuext_op", 4, { P, UI, P, UI } },
	{ 27, "xsm_op", 1, { P } },
	{ 28, "nmi_op", 2, { UI, P } },
	{ 29, "sched_op", 2, { I, P } },
	{ 30, "callback_op", 2, { I, P } },
	{ 31, "xenoprof_op", 2, { I, P } },
	{ 32, "event_channel_op", 2, { I, P } },
	{ 33, "physdev_op", 2, { I, P } },
	{ 34, "hvm_op", 2, { UL, P } },
	{ 35, "sysctl", 1, { P } },
	{ 36, "domctl", 1, { P } },
	{ 37, "kexec_op", 2, { UL, P } },
	{ 38, "tmem_op", 1, { P } },
	{ 39, "argo_op", 5, { UI, P, P, UL, UL } },
	{ 40, "xenpmu_op", 2, { UI, P } },
	{ 41, "dm_op", 3, { D, UI, P } },
	{ 42, "hypfs_op", 5, { UI, P, UL, P, UL } },
};
const size_t vsp_xhc_nprotos = sizeof(vsp_xhc_protos) /
			       sizeof(vsp_xhc_protos[0]);

#undef P
#undef UL
#undef UI
#undef I
#undef D

const struct vsp_xhc_proto *vsp_xhc_proto(uint32_t nr)
{
	/* Sorted by number with few gaps: a binary search is plenty. */
	size_t lo = 0, hi = vsp_xhc_nprotos;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vsp_xhc_protos[mid].nr == nr)
			return &vsp_xhc_protos[mid];
		if (vsp_xhc_protos[mid].nr < nr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t vsp_xhc_entry(const struct vsp_xhc_site *site, uint32_t nr)
{
	if (site->mode == VSP_XHC_STUB)
		return site->base;
	return site->base + (uint64_t)nr * VSP_XHC_ENTRY_SIZE;
}

int vsp_xhc_check_entry(uint32_t nr, const uint8_t *code, size_t len,
			char *why, size_t n)
{
	static const uint8_t vmcall[3] = { 0x0f, 0x01, 0xc1 };
	static const uint8_t vmmcall[3] = { 0x0f, 0x01, 0xd9 };
	uint32_t imm;

	if (nr >= VSP_XHC_MAX) {
		snprintf(why, n, "hypercall %u is past the hypercall page", nr);
		return -EINVAL;
	}
	if (len < 8) {
		snprintf(why, n, "entry %u: only %zu bytes readable", nr, len);
		return -EINVAL;
	}
	memcpy(&imm, code + 1, 4);
	if (code[0] != 0xb8 || imm != nr) {
		snprintf(why, n, "entry %u does not start with mov $%u,%%eax "
			 "(found %02x %02x %02x %02x %02x): not a Xen "
			 "hypercall page, or the entry is unused", nr, nr,
			 code[0], code[1], code[2], code[3], code[4]);
		return -EINVAL;
	}
	if (memcmp(code + 5, vmcall, 3) && memcmp(code + 5, vmmcall, 3)) {
		snprintf(why, n, "entry %u: no vmcall or vmmcall after the "
			 "mov", nr);
		return -EINVAL;
	}
	return 0;
}

int vsp_xhc_site_find(const struct vsp_symtab *syms, struct vsp_xhc_site *site,
		      char *why, size_t n)
{
	uint64_t a = 0, b = 0;
	bool intel, amd;

	memset(site, 0, sizeof(*site));
	if (syms && vsp_sym_addr(syms, "hypercall_page", &a) == 0) {
		site->mode = VSP_XHC_PAGE;
		site->base = a;
		return 0;
	}
	intel = syms && vsp_sym_addr(syms, "xen_hypercall_intel", &a) == 0;
	amd = syms && vsp_sym_addr(syms, "xen_hypercall_amd", &b) == 0;
	if (!intel && !amd) {
		snprintf(why, n, "the guest kernel has neither hypercall_page "
			 "nor xen_hypercall_intel/_amd in its symbols: not a "
			 "Xen guest kernel, or --symbols lacks them");
		return -ENOENT;
	}
	site->mode = VSP_XHC_STUB;
	site->base = intel ? a : b;
	site->alt = intel && amd ? b : 0;
	return 0;
}

int vsp_xhc_number(const struct vsp_xhc_site *site, uint64_t addr,
		   const struct vsp_regs *r, uint32_t *nr)
{
	uint64_t off;

	if (site->mode == VSP_XHC_STUB) {
		if (addr != site->base && (!site->alt || addr != site->alt))
			return -ENOENT;
		/* The stub's caller loaded eax; Xen reads eax only. */
		*nr = (uint32_t)r->rax;
		return 0;
	}
	if (addr < site->base)
		return -ENOENT;
	off = addr - site->base;
	if (off % VSP_XHC_ENTRY_SIZE || off / VSP_XHC_ENTRY_SIZE >= VSP_XHC_MAX)
		return -ENOENT;
	*nr = (uint32_t)(off / VSP_XHC_ENTRY_SIZE);
	return 0;
}

static int64_t xhc_cut(enum vsp_xhc_type t, uint64_t v)
{
	switch (t) {
	case VSP_XHC_NONE: return 0;
	case VSP_XHC_PTR:
	case VSP_XHC_ULONG: return (int64_t)v;
	case VSP_XHC_UINT: return (int64_t)(uint32_t)v;
	case VSP_XHC_INT: return (int64_t)(int32_t)(uint32_t)v;
	case VSP_XHC_DOMID: return (int64_t)(uint16_t)v;
	}
	return (int64_t)v;
}

int vsp_xhc_decode(uint32_t nr, const struct vsp_regs *r, int64_t args[6])
{
	const uint64_t reg[VSP_XHC_NARGS] = { r->rdi, r->rsi, r->rdx,
					      r->r10, r->r8 };
	const struct vsp_xhc_proto *p = vsp_xhc_proto(nr);

	args[5] = 0;
	for (unsigned i = 0; i < VSP_XHC_NARGS; i++) {
		if (!p)
			args[i] = (int64_t)reg[i];
		else if (i < p->nargs)
			args[i] = xhc_cut(p->type[i], reg[i]);
		else
			args[i] = 0;
	}
	return p ? 0 : -ENOENT;
}

int vsp_xhc_event(const struct vsp_xhc_site *site, uint64_t addr,
		  const struct vsp_regs *r, struct vsp_event *ev)
{
	const struct vsp_call *c;
	const struct vsp_xhc_proto *p;
	uint32_t nr;

	if (vsp_xhc_number(site, addr, r, &nr) < 0)
		return -ENOENT;
	ev->kind = VSP_EV_HYPERCALL;
	ev->nr = nr;
	c = vsp_hypercall_by_nr(nr);
	p = vsp_xhc_proto(nr);
	ev->name = c ? c->name : p ? p->name : "unknown";
	ev->lib = NULL;
	ev->cr3 = r->cr3;
	vsp_xhc_decode(nr, r, ev->args);
	ev->addr = ev->offset = ev->len = ev->value = ev->old = 0;
	vsp_event_reset_lazy(ev);
	return 0;
}

void vsp_xhc_allow(uint32_t nr, struct vsp_regs *r)
{
	r->rax = nr;
	r->rip += 5;
}

int vsp_xhc_place(struct vsp_backend *be, const struct vsp_xhc_site *site,
		  uint32_t nr, uint64_t *addr, char *why, size_t n)
{
	uint8_t code[16];
	long got;
	int rc;

	*addr = vsp_xhc_entry(site, nr);
	if (site->mode == VSP_XHC_PAGE) {
		got = be->ops->read(be, 0, *addr, code, sizeof(code));
		if (got < 0) {
			snprintf(why, n, "hypercall page entry %u at %#llx "
				 "unreadable", nr, (unsigned long long)*addr);
			return (int)got;
		}
		rc = vsp_xhc_check_entry(nr, code, (size_t)got, why, n);
		if (rc < 0)
			return rc;
	}
	rc = be->ops->trap_add(be, *addr);
	if (rc == 0 && site->mode == VSP_XHC_STUB && site->alt)
		rc = be->ops->trap_add(be, site->alt);
	if (rc == -EEXIST)
		rc = 0;
	if (rc < 0)
		snprintf(why, n, "cannot trap hypercall %u at %#llx (%d)", nr,
			 (unsigned long long)*addr, rc);
	return rc;
}

int vsp_xhc_finish(struct vsp_backend *be, uint32_t vcpu,
		   const struct vsp_xhc_site *site, uint32_t nr,
		   const struct vsp_regs *r, bool allow, int64_t ret)
{
	struct vsp_resume go = { VSP_RESUME_CONTINUE, 0 };
	struct vsp_regs w = *r;
	uint64_t ret_addr;
	int rc;

	if (allow && site->mode == VSP_XHC_STUB)
		return be->ops->resume(be, vcpu, &go);
	if (allow) {
		vsp_xhc_allow(nr, &w);
	} else {
		long got = be->ops->read(be, vcpu, r->rsp, &ret_addr,
					 sizeof(ret_addr));

		if (got != (long)sizeof(ret_addr))
			return got < 0 ? (int)got : -EFAULT;
		vsp_xhc_return(ret, ret_addr, &w);
	}
	rc = be->ops->regs_set(be, vcpu, &w);
	if (rc < 0)
		return rc;
	return be->ops->resume(be, vcpu, &go);
}

int vsp_xhc_callpath(struct vsp_unwinder *u, const struct vsp_regs *r,
		     vsp_gread_fn read, void *ctx, struct vsp_xhc_path *out,
		     struct vsp_event *ev)
{
	struct vsp_regs caller = *r;
	uint64_t ret;
	uint32_t n;

	ev->stack = NULL;
	ev->nstack = 0;
	ev->has_stack = false;
	ev->stack_partial = false;
	if (vsp_gread_all(read, ctx, r->rsp, &ret, sizeof(ret)) < 0)
		return -EFAULT;
	caller.rip = ret;
	caller.rsp = r->rsp + 8;
	n = u ? vsp_unwind(u, &caller, read, ctx, &out->cp) : 0;
	if (n > VSP_UNWIND_MAX)
		n = VSP_UNWIND_MAX;
	out->names[0] = ev->name;
	for (uint32_t i = 0; i < n; i++)
		out->names[i + 1] = out->cp.names[i];
	ev->stack = out->names;
	ev->nstack = n + 1;
	ev->has_stack = true;
	/* No caller named: the path is the hypercall alone, and says so. */
	ev->stack_partial = n == 0 || out->cp.partial;
	return 0;
}

void vsp_xhc_return(int64_t ret, uint64_t ret_addr, struct vsp_regs *r)
{
	r->rax = (uint64_t)ret;
	r->rip = ret_addr;
	r->rsp += 8;
}
