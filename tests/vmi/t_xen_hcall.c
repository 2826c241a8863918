/*
 * t_xen_hcall.c: hypercall events at the hypercall page (vmi/xen_hcall.c).
 *
 * Checks that the decoder knows every hypercall the language catalog
 * names, with the same argument count; that each argument is cut as Xen's
 * handler reads it (int, unsigned int, domid_t, unsigned long, pointer)
 * for every catalog entry; that stops map to hypercall numbers in page and
 * stub mode and nothing else does; that a page laid out as Xen writes it
 * passes the entry check and anything else fails with a reason; and that
 * the emulated entry and the early return set the registers right.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/tap.h"
#include "base/catalog.h"
#include "vmi/xen_hcall.h"

/* Registers whose high halves hold garbage Xen must not see. */
static struct vsp_regs noisy(void)
{
	struct vsp_regs r;

	memset(&r, 0, sizeof(r));
	r.rdi = 0xdead0000ffff8001ull;
	r.rsi = 0xbeef000100000005ull;
	r.rdx = 0xffff888012345678ull;
	r.r10 = 0x1234ffff00070003ull;
	r.r8 = 0x00000000fffffffeull;
	r.rcx = 0x1111;		/* not an argument register on Xen */
	r.r9 = 0x2222;
	r.cr3 = 0x1a2b3000;
	return r;
}

static int cut_ok(int64_t v, uint64_t reg)
{
	return v == (int64_t)reg || v == (int64_t)(uint32_t)reg ||
	       v == (int64_t)(int32_t)(uint32_t)reg ||
	       v == (int64_t)(uint16_t)reg;
}

static void test_catalog(void)
{
	struct vsp_regs r = noisy();
	const uint64_t reg[5] = { r.rdi, r.rsi, r.rdx, r.r10, r.r8 };
	size_t known = 0, bad_proto = 0, bad_cut = 0, bad_zero = 0;
	size_t bad_raw = 0, missing = 0;

	ok(vsp_nhypercalls > 0, "the catalog names hypercalls");
	for (size_t i = 0; i < vsp_nhypercalls; i++) {
		const struct vsp_call *c = &vsp_hypercalls[i];
		const struct vsp_xhc_proto *p = vsp_xhc_proto(c->nr);
		int64_t a[6];
		int rc = vsp_xhc_decode(c->nr, &r, a);

		if (c->has_proto) {
			known++;
			if (!p || p->nargs != c->nargs || strcmp(p->name, c->name)) {
				bad_proto++;
				printf("# %s (%u): decoder %s\n", c->name, c->nr,
				       p ? "disagrees" : "has no prototype");
				continue;
			}
			for (unsigned k = 0; k < 5; k++) {
				if (k < c->nargs && !cut_ok(a[k], reg[k]))
					bad_cut++;
				if (k >= c->nargs && a[k] != 0)
					bad_zero++;
			}
		} else {
			/* No prototype: every register stays whole. */
			if (rc != -ENOENT || p)
				bad_raw++;
			for (unsigned k = 0; k < 5; k++)
				if (a[k] != (int64_t)reg[k])
					bad_raw++;
		}
		if (a[5] != 0)
			bad_zero++;
	}
	ok(known > 40, "most catalog hypercalls have prototypes");
	ok(bad_proto == 0, "decoder agrees with the catalog on names and arity");
	ok(bad_cut == 0, "every argument is a cut of its register");
	ok(bad_zero == 0, "arguments past a hypercall's arity are 0");
	ok(bad_raw == 0, "hypercalls without prototype keep raw registers");

	for (size_t i = 0; i < vsp_xhc_nprotos; i++) {
		const struct vsp_call *c = vsp_hypercall_by_nr(vsp_xhc_protos[i].nr);

		if (!c || !c->has_proto)
			missing++;
		if (i > 0 && vsp_xhc_protos[i].nr <= vsp_xhc_protos[i - 1].nr)
			missing++;
	}
	ok(missing == 0, "every decoder prototype is in the catalog, in order");
}

static void test_cuts(void)
{
	struct vsp_regs r = noisy();
	int64_t a[6];

	vsp_xhc_decode(1, &r, a);	/* mmu_update(req, count, pdone, foreigndom) */
	ok(a[0] == (int64_t)r.rdi, "mmu_update req: whole pointer");
	ok(a[1] == 5, "mmu_update count: unsigned int drops bit 32");
	ok(a[2] == (int64_t)r.rdx, "mmu_update pdone: whole pointer");
	ok(a[3] == 0x00070003, "mmu_update foreigndom: 32 bits, both domids");
	ok(a[4] == 0, "mmu_update has no fifth argument");

	r.rdi = 0x00000001ffffffffull;
	vsp_xhc_decode(29, &r, a);	/* sched_op(int cmd, void *arg) */
	ok(a[0] == -1, "sched_op cmd: int is sign-extended from 32 bits");

	r.rdi = 0xffffffff00012345ull;
	vsp_xhc_decode(41, &r, a);	/* dm_op(domid_t, unsigned, bufs) */
	ok(a[0] == 0x2345, "dm_op domid: 16 bits");

	r = noisy();
	vsp_xhc_decode(12, &r, a);	/* memory_op(unsigned long cmd, arg) */
	ok(a[0] == (int64_t)r.rdi, "memory_op cmd: unsigned long kept whole "
	   "(Xen keeps the continuation in the high bits)");

	vsp_xhc_decode(24, &r, a);	/* vcpu_op(int, unsigned int, arg) */
	ok(a[0] == (int64_t)(int32_t)0xffff8001u && a[1] == 5,
	   "vcpu_op cmd int, vcpuid unsigned int");

	vsp_xhc_decode(39, &r, a);	/* argo_op: five arguments */
	ok(a[0] == (int64_t)0xffff8001u && a[3] == (int64_t)r.r10 &&
	   a[4] == (int64_t)r.r8, "argo_op uses all five registers");

	ok(vsp_xhc_decode(60, &r, a) == -ENOENT && a[0] == (int64_t)r.rdi &&
	   a[4] == (int64_t)r.r8, "unknown hypercall: registers kept whole");
}

static void test_numbers(void)
{
	struct vsp_xhc_site page = { .mode = VSP_XHC_PAGE,
				     .base = 0xffffffff81001000ull };
	struct vsp_xhc_site stub = { .mode = VSP_XHC_STUB,
				     .base = 0xffffffff81002340ull,
				     .alt = 0xffffffff81002380ull };
	struct vsp_regs r = noisy();
	uint32_t nr = 999;
	int good = 1;

	for (uint32_t i = 0; i < VSP_XHC_MAX; i++) {
		nr = 999;
		good &= vsp_xhc_entry(&page, i) == page.base + 32 * i &&
			vsp_xhc_number(&page, page.base + 32 * i, &r, &nr) == 0 &&
			nr == i;
	}
	ok(good, "every page entry maps back to its number");
	ok(vsp_xhc_number(&page, page.base + 33, &r, &nr) == -ENOENT,
	   "inside an entry is not an entry");
	ok(vsp_xhc_number(&page, page.base - 32, &r, &nr) == -ENOENT,
	   "below the page is not an entry");
	ok(vsp_xhc_number(&page, page.base + 4096, &r, &nr) == -ENOENT,
	   "past the page is not an entry");

	r.rax = 0xffffffff00000021ull;
	ok(vsp_xhc_number(&stub, stub.base, &r, &nr) == 0 && nr == 33,
	   "stub mode: number from eax, high half ignored");
	r.rax = 24;
	ok(vsp_xhc_number(&stub, stub.alt, &r, &nr) == 0 && nr == 24,
	   "stub mode: the other vendor's stub too");
	ok(vsp_xhc_number(&stub, stub.base + 1, &r, &nr) == -ENOENT,
	   "stub mode: other addresses are not hypercalls");
	ok(vsp_xhc_entry(&stub, 5) == stub.base, "stub mode: one trap address");
}

/* The page as Xen's VMX code writes it: int3 filler, ud2 at iret. */
static void xen_page(uint8_t *pg, uint8_t vm)
{
	memset(pg, 0xcc, 4096);
	for (uint32_t i = 0; i < 4096 / 32; i++) {
		uint8_t *e = pg + 32 * i;

		if (i == 23)
			continue;
		e[0] = 0xb8;
		memcpy(e + 1, &i, 4);
		e[5] = 0x0f; e[6] = 0x01; e[7] = vm; e[8] = 0xc3;
	}
	pg[23 * 32] = 0x0f;
	pg[23 * 32 + 1] = 0x0b;
}

static void test_entries(void)
{
	static uint8_t pg[4096];
	char why[200] = "";
	int good = 1;

	xen_page(pg, 0xc1);
	for (uint32_t i = 0; i < VSP_XHC_MAX; i++)
		if (i != 23)
			good &= vsp_xhc_check_entry(i, pg + 32 * i, 32, why,
						    sizeof(why)) == 0;
	ok(good, "every entry of an Intel hypercall page passes");
	ok(vsp_xhc_check_entry(23, pg + 23 * 32, 32, why, sizeof(why)) ==
	   -EINVAL && strstr(why, "entry 23"), "iret's ud2 entry is refused");

	xen_page(pg, 0xd9);
	ok(vsp_xhc_check_entry(29, pg + 29 * 32, 32, why, sizeof(why)) == 0,
	   "an AMD (vmmcall) entry passes");
	ok(vsp_xhc_check_entry(30, pg + 29 * 32, 32, why, sizeof(why)) ==
	   -EINVAL && strstr(why, "not a Xen hypercall page"),
	   "the wrong entry's bytes are refused with a reason");
	memset(pg, 0xcc, sizeof(pg));
	ok(vsp_xhc_check_entry(1, pg + 32, 32, why, sizeof(why)) == -EINVAL,
	   "an unfilled (int3) page is refused");
	xen_page(pg, 0xc1);
	pg[32 + 7] = 0x90;
	ok(vsp_xhc_check_entry(1, pg + 32, 32, why, sizeof(why)) == -EINVAL &&
	   strstr(why, "vmcall"), "mov without vmcall is refused");
	ok(vsp_xhc_check_entry(1, pg + 32, 4, why, sizeof(why)) == -EINVAL,
	   "too few bytes are refused");
	ok(vsp_xhc_check_entry(64, pg, 32, why, sizeof(why)) == -EINVAL,
	   "a number past the page is refused");
}

static void test_event_and_resume(void)
{
	struct vsp_xhc_site page = { .mode = VSP_XHC_PAGE,
				     .base = 0xffffffff81001000ull };
	struct vsp_regs r = noisy();
	struct vsp_event ev;

	memset(&ev, 0x77, sizeof(ev));
	ev.fetch = NULL;
	ok(vsp_xhc_event(&page, page.base + 32 * 1, &r, &ev) == 0,
	   "a stop at entry 1 is a hypercall");
	ok(ev.kind == VSP_EV_HYPERCALL && ev.nr == 1 && ev.name &&
	   strcmp(ev.name, "mmu_update") == 0, "kind, number and name");
	ok(ev.args[1] == 5 && ev.args[5] == 0 && ev.cr3 == r.cr3,
	   "decoded arguments and cr3");
	ok(ev.strs_valid == 0 && !ev.partial && ev.lib == NULL,
	   "lazy string state reset");
	ok(vsp_xhc_event(&page, page.base + 7, &r, &ev) == -ENOENT,
	   "a stop elsewhere is not a hypercall event");

	r.rax = 0xffffffffffffffffull;
	r.rip = page.base + 32 * 29;
	vsp_xhc_allow(29, &r);
	ok(r.rax == 29 && r.rip == page.base + 32 * 29 + 5,
	   "allow emulates mov $29,%%eax (clearing the high half) and skips it");

	r.rsp = 0xffffc90000123f00ull;
	vsp_xhc_return(-1, 0xffffffff81234567ull, &r);
	ok(r.rax == (uint64_t)-1 && r.rip == 0xffffffff81234567ull &&
	   r.rsp == 0xffffc90000123f08ull,
	   "return goes back to the caller with the value in rax");
}

/* ---- call paths through the unwinder ---- */

#define CODE 0xffffffff81000000ull
#define STACK 0xffffc90000004000ull

static uint8_t code[0x2000];
static uint64_t stack[512];	/* one page; the walk starts near its top */
#define SP (STACK + 4096 - 64)

/* Reads as a backend does: short at the end of what is mapped. */
static long gread(void *ctx, uint64_t gva, void *buf, size_t len)
{
	const uint8_t *base = NULL;
	uint64_t lo = 0, size = 0;

	(void)ctx;
	if (gva >= CODE && gva < CODE + sizeof(code)) {
		base = code;
		lo = CODE;
		size = sizeof(code);
	} else if (gva >= STACK && gva < STACK + sizeof(stack)) {
		base = (const uint8_t *)stack;
		lo = STACK;
		size = sizeof(stack);
	}
	if (!base)
		return -14;
	if (len > lo + size - gva)
		len = lo + size - gva;
	memcpy(buf, base + (gva - lo), len);
	return (long)len;
}

static void call_at(uint64_t at, uint64_t target)
{
	int32_t rel = (int32_t)(target - (at + 5));

	code[at - CODE] = 0xe8;
	memcpy(&code[at - CODE + 1], &rel, 4);
	code[at - CODE + 5] = 0xc3;
}

static void test_site_and_path(void)
{
	static const char map[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81000000 T outer_fn\n"
		"ffffffff81000100 T caller_fn\n"
		"ffffffff81000200 T other_fn\n"
		"ffffffff81001000 T hypercall_page\n"
		"ffffffff81002000 T _etext\n";
	static const char stubs[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81000400 T xen_hypercall_amd\n"
		"ffffffff81000440 T xen_hypercall_intel\n"
		"ffffffff81002000 T _etext\n";
	struct vsp_unwind_opts uo = { .src = VSP_UNWIND_INSN };
	struct vsp_xhc_site site;
	struct vsp_symtab *syms, *st2;
	struct vsp_unwinder *u;
	struct vsp_xhc_path path;
	struct vsp_regs r;
	struct vsp_event ev;
	char err[200] = "";

	syms = vsp_sym_load_mem(map, strlen(map), "map", err, sizeof(err));
	st2 = vsp_sym_load_mem(stubs, strlen(stubs), "stubs", err, sizeof(err));
	ok(syms && st2, "symbol tables load");
	if (!syms || !st2)
		return;
	ok(vsp_xhc_site_find(syms, &site, err, sizeof(err)) == 0 &&
	   site.mode == VSP_XHC_PAGE && site.base == CODE + 0x1000,
	   "hypercall_page found: page mode");
	ok(vsp_xhc_site_find(st2, &site, err, sizeof(err)) == 0 &&
	   site.mode == VSP_XHC_STUB && site.base == CODE + 0x440 &&
	   site.alt == CODE + 0x400, "XSA-466 stubs found: stub mode, both");
	vsp_sym_free(st2);
	st2 = vsp_sym_load_mem("ffffffff81000000 T _stext\n"
			       "ffffffff81002000 T _etext\n", 52, "none",
			       err, sizeof(err));
	ok(st2 && vsp_xhc_site_find(st2, &site, err, sizeof(err)) == -ENOENT &&
	   strstr(err, "hypercall_page"), "no Xen entry: refused with reason");
	vsp_sym_free(st2);

	/* outer_fn calls caller_fn, which calls mmu_update's entry. */
	memset(code, 0xcc, sizeof(code));
	call_at(CODE, CODE + 0x100);
	call_at(CODE + 0x100, CODE + 0x1000 + 32);
	memset(stack, 0, sizeof(stack));
	stack[(SP - STACK) / 8] = CODE + 0x105;
	stack[(SP - STACK) / 8 + 1] = CODE + 0x5;
	u = vsp_unwind_new(syms, NULL, &uo, err, sizeof(err));
	ok(u != NULL, "unwinder over guest memory");
	if (!u) {
		printf("# %s\n", err);
		vsp_sym_free(syms);
		return;
	}
	site.mode = VSP_XHC_PAGE;
	site.base = CODE + 0x1000;
	memset(&r, 0, sizeof(r));
	memset(&ev, 0, sizeof(ev));
	r.rip = site.base + 32;
	r.rsp = SP;
	vsp_xhc_event(&site, r.rip, &r, &ev);
	ok(vsp_xhc_callpath(u, &r, gread, NULL, &path, &ev) == 0 &&
	   ev.has_stack && ev.nstack >= 3, "call path unwound");
	printf("# path (%u frames, end: %s):", ev.nstack,
	       vsp_unwind_end_text(path.cp.end));
	for (uint32_t i = 0; i < ev.nstack; i++)
		printf(" %s", ev.stack[i]);
	printf("\n");
	if (ev.nstack >= 3)
		ok(!strcmp(ev.stack[0], "mmu_update") &&
		   !strcmp(ev.stack[1], "caller_fn") &&
		   !strcmp(ev.stack[2], "outer_fn"),
		   "path: the hypercall, its caller, the caller's caller");
	else
		ok(0, "path names");
	r.rsp = 0x1000;
	ok(vsp_xhc_callpath(u, &r, gread, NULL, &path, &ev) == -EFAULT &&
	   !ev.has_stack && ev.nstack == 0, "unreadable stack: no path");
	vsp_unwind_free(u);
	vsp_sym_free(syms);
}

/* ---- placing traps and ending stops through a backend ---- */

static uint64_t fk_traps[8];
static unsigned fk_ntraps;
static struct vsp_regs fk_regs;
static int fk_sets, fk_resumes;
static enum vsp_resume_how fk_how;

static int fk_trap_add(struct vsp_backend *be, uint64_t addr)
{
	for (unsigned i = 0; i < fk_ntraps; i++)
		if (fk_traps[i] == addr)
			return -EEXIST;
	if (fk_ntraps == 8)
		return -ENOSPC;
	fk_traps[fk_ntraps++] = addr;
	return 0;
}

static long fk_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		    void *buf, size_t len)
{
	return gread(NULL, gva, buf, len);
}

static int fk_regs_set(struct vsp_backend *be, uint32_t vcpu,
		       const struct vsp_regs *r)
{
	fk_regs = *r;
	fk_sets++;
	return 0;
}

static int fk_resume(struct vsp_backend *be, uint32_t vcpu,
		     const struct vsp_resume *how)
{
	fk_how = how->how;
	fk_resumes++;
	return 0;
}

static const struct vsp_backend_ops fk_ops = {
	.name = "fake", .trap_add = fk_trap_add, .read = fk_read,
	.regs_set = fk_regs_set, .resume = fk_resume,
};

static void test_place_and_finish(void)
{
	struct vsp_backend be = { .ops = &fk_ops };
	struct vsp_xhc_site page = { .mode = VSP_XHC_PAGE, .base = CODE + 0x1000 };
	struct vsp_xhc_site stub = { .mode = VSP_XHC_STUB, .base = CODE + 0x440,
				     .alt = CODE + 0x400 };
	struct vsp_regs r;
	uint64_t addr = 0;
	char why[200] = "";

	xen_page(code + 0x1000, 0xc1);
	ok(vsp_xhc_place(&be, &page, 1, &addr, why, sizeof(why)) == 0 &&
	   addr == CODE + 0x1000 + 32 && fk_ntraps == 1 &&
	   fk_traps[0] == addr, "mmu_update's entry checked and trapped");
	code[0x1000 + 29 * 32 + 1] = 0x7f;	/* not what Xen writes */
	ok(vsp_xhc_place(&be, &page, 29, &addr, why, sizeof(why)) == -EINVAL &&
	   fk_ntraps == 1 && strstr(why, "entry 29"),
	   "a damaged entry is not trapped, with a reason");
	ok(vsp_xhc_place(&be, &page, 64, &addr, why, sizeof(why)) < 0 &&
	   fk_ntraps == 1, "an entry past the page is not trapped");

	fk_ntraps = 0;
	ok(vsp_xhc_place(&be, &stub, 1, &addr, why, sizeof(why)) == 0 &&
	   fk_ntraps == 2 && addr == stub.base,
	   "stub mode: both vendor stubs trapped once");
	ok(vsp_xhc_place(&be, &stub, 29, &addr, why, sizeof(why)) == 0 &&
	   fk_ntraps == 2, "stub mode: later hypercalls share the traps");

	memset(&r, 0, sizeof(r));
	r.rip = page.base + 32;
	r.rax = 0xdeadbeefdeadbeefull;
	r.rsp = SP;
	stack[(SP - STACK) / 8] = CODE + 0x105;
	ok(vsp_xhc_finish(&be, 1, &page, 1, &r, true, 0) == 0 && fk_sets == 1 &&
	   fk_regs.rax == 1 && fk_regs.rip == page.base + 32 + 5 &&
	   fk_regs.rsp == SP && fk_how == VSP_RESUME_CONTINUE,
	   "allow: mov done by hand, vmcall next, no step");
	ok(vsp_xhc_finish(&be, 1, &page, 1, &r, false, -1) == 0 &&
	   fk_sets == 2 && fk_regs.rax == (uint64_t)-1 &&
	   fk_regs.rip == CODE + 0x105 && fk_regs.rsp == SP + 8,
	   "deny: -EPERM returned to the caller, Xen never entered");
	ok(vsp_xhc_finish(&be, 1, &stub, 1, &r, true, 0) == 0 && fk_sets == 2 &&
	   fk_resumes == 3, "stub mode allow: plain resume, registers untouched");
	r.rsp = 0x10;
	ok(vsp_xhc_finish(&be, 1, &page, 1, &r, false, -1) < 0 && fk_sets == 2,
	   "deny with an unreadable stack changes nothing");
}

int main(void)
{
	test_catalog();
	test_cuts();
	test_numbers();
	test_entries();
	test_event_and_resume();
	test_site_and_path();
	test_place_and_finish();
	return done();
}
