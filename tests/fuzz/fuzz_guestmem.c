/*
 * fuzz_guestmem.c: fuzz target for guest memory as vmi/ reads it.
 *
 * At every trap vsp reads memory the guest controls: the kernel stack and
 * code the unwinder walks (vmi/unwind.h, and the hypercall call path of
 * vmi/xen_hcall.h), the per-CPU area, task and cred structures behind
 * proc.* fields (vmi/linux.h), the bytes the KASLR probe compares
 * (vmi/kaslr.h), the page tables a Xen monitor walks (vmi/xen_pt.h) and,
 * attaching without a vmlinux, the kernel's ORC tables (copied once, then
 * used by every unwind).
 * A hostile guest can put anything there and unmap any page mid-walk.
 *
 * The input is a small guest: registers, three regions (kernel text at its
 * link address, a kernel stack, a data area holding the per-CPU block, a
 * task, a cred and page tables) and a bitmap of unmapped holes per region.
 * A fixed System.map names functions inside the text region.  The read
 * callback serves the regions, stops short at a hole, and counts reads so
 * that a walk which does not stay bounded is reported.
 *
 * Invariants: every call returns; ORC tables are taken only with as many
 * entries as their symbols name, in at most two reads, and refused with a
 * message otherwise; a call path has at most the frames
 * asked for, every name is a string, the stack pointer grows from frame to
 * frame, and a path is complete exactly when it ended at entry code.
 *
 * Input: 8 bytes of registers and options, 12 bytes of hole bitmaps, then
 * the stack (2 KiB), data (2 KiB) and text (4 KiB) bytes; short inputs
 * leave the rest zero.
 */
#include <errno.h>

#include "fz_common.h"
#include "vmi/backend.h"
#include "vmi/kaslr.h"
#include "vmi/linux.h"
#include "vmi/symbols.h"
#include "vmi/unwind.h"
#include "vmi/xen_hcall.h"
#include "vmi/xen_pt.h"

#define FZ_TEXT 0xffffffff81000000ull
#define FZ_STACK 0xffffc90000004000ull
#define FZ_DATA 0xffff888000100000ull
#define FZ_TEXT_LEN 4096
#define FZ_STACK_LEN 2048
#define FZ_DATA_LEN 2048
#define FZ_MAX_READS 200000

static const char fz_sysmap[] =
	"0000000000000100 D current_task\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81000000 T do_syscall_64\n"
	"ffffffff81000200 T x64_sys_call\n"
	"ffffffff81000400 T __x64_sys_openat\n"
	"ffffffff81000600 T do_sys_openat2\n"
	"ffffffff81000800 T commit_creds\n"
	"ffffffff81000a00 T __x86_indirect_thunk_rax\n"
	"ffffffff81000a40 T __SCT__might_resched\n"
	"ffffffff81000a80 t xen_mc_flush\n"
	"ffffffff81000b00 T hypercall_page\n"
	"ffffffff81000c00 T entry_SYSCALL_64\n"
	"ffffffff81000d00 T entry_SYSCALL_64_after_hwframe\n"
	"ffffffff81000e00 T asm_exc_page_fault\n"
	"ffffffff81000f00 T _etext\n"
	"ffffffff82000000 D linux_banner\n";

struct fz_guest {
	uint8_t text[FZ_TEXT_LEN], stack[FZ_STACK_LEN], data[FZ_DATA_LEN];
	uint32_t holes[3];	/* bit i: 1/32 of the region unmapped */
	uint64_t reads;
};

static struct vsp_symtab *fz_syms;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	fz_syms = vsp_sym_load_mem(fz_sysmap, sizeof(fz_sysmap) - 1,
				   "fuzz.map", err, sizeof(err));
	if (!fz_syms) {
		fprintf(stderr, "fuzz: symbol table: %s\n", err);
		abort();
	}
	return 0;
}

/* The region holding gva and how much of it is mapped from gva on. */
static const uint8_t *fz_map(struct fz_guest *g, uint64_t gva, size_t *avail)
{
	static const uint64_t base[3] = { FZ_TEXT, FZ_STACK, FZ_DATA };
	static const size_t size[3] = { FZ_TEXT_LEN, FZ_STACK_LEN, FZ_DATA_LEN };
	const uint8_t *mem[3] = { g->text, g->stack, g->data };

	for (int r = 0; r < 3; r++) {
		if (gva < base[r] || gva - base[r] >= size[r])
			continue;
		size_t off = (size_t)(gva - base[r]), gran = size[r] / 32, n = 0;
		while (off + n < size[r] && !(g->holes[r] >> ((off + n) / gran) & 1))
			n++;
		*avail = n;
		return mem[r] + off;
	}
	*avail = 0;
	return NULL;
}

static long fz_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct fz_guest *g = ctx;
	size_t avail;

	if (++g->reads > FZ_MAX_READS)
		FZ_FAIL("more than %d guest reads for one input", FZ_MAX_READS);
	if (len && !buf)
		FZ_FAIL("read into NULL");
	const uint8_t *p = fz_map(g, gva, &avail);
	if (!p || !avail)
		return len ? -EFAULT : 0;
	if (avail > len)
		avail = len;
	memcpy(buf, p, avail);
	return (long)avail;
}

/* Page tables live in the data region, addressed physically from 0. */
static int fz_pt_read(void *ctx, uint64_t gpa, uint64_t *entry)
{
	struct fz_guest *g = ctx;
	size_t avail;

	if (++g->reads > FZ_MAX_READS)
		FZ_FAIL("more than %d page-table reads", FZ_MAX_READS);
	const uint8_t *p = fz_map(g, FZ_DATA + (gpa % 0x100000000ull), &avail);
	if (!p || avail < 8)
		return -EFAULT;
	memcpy(entry, p, 8);
	return 0;
}

static void fz_check_path(const struct vsp_callpath *cp, uint32_t n,
			  uint32_t max_frames)
{
	char buf[512];

	if (n != cp->n)
		FZ_FAIL("unwind returned %u, path holds %u", n, cp->n);
	if (cp->n > max_frames || cp->n > VSP_UNWIND_MAX)
		FZ_FAIL("%u frames, at most %u asked", cp->n, max_frames);
	if ((unsigned)cp->end >= VSP_UNWIND_END_COUNT)
		FZ_FAIL("end reason %d", (int)cp->end);
	bool complete = cp->end == VSP_UNWIND_END_ENTRY ||
			cp->end == VSP_UNWIND_END_ORC_END;
	if (cp->partial == complete && cp->n)
		FZ_FAIL("partial %d but ended with '%s'", cp->partial,
			vsp_unwind_end_text(cp->end));
	for (uint32_t i = 0; i < cp->n; i++) {
		if (!cp->names[i])
			FZ_FAIL("frame %u has no name", i);
		(void)strlen(cp->names[i]);
		if (i > 0 && cp->frames[i].sp <= cp->frames[i - 1].sp)
			FZ_FAIL("frame %u: sp %#llx not above %#llx", i,
				(unsigned long long)cp->frames[i].sp,
				(unsigned long long)cp->frames[i - 1].sp);
	}
	for (size_t sz = 1; sz <= sizeof(buf); sz = sz * 3 + 1) {
		if (vsp_callpath_format(cp, buf, sz) != buf)
			FZ_FAIL("format did not return its buffer");
		if (!memchr(buf, 0, sz))
			FZ_FAIL("format into %zu bytes left no NUL", sz);
	}
}

/*
 * ORC tables from guest memory (opt bit 64): the symbols that bound them
 * are placed by the data region's last four bytes -- anywhere in the upper
 * text region, a size in entries, ranges that may be misaligned, short,
 * overlapping or disagree on the count -- and the tables' bytes are the
 * text's.  A fresh symbol table per input.
 */
static struct vsp_symtab *fz_orc_syms(const struct fz_guest *g)
{
	const uint8_t *c = g->data + FZ_DATA_LEN - 4;
	uint64_t ip = FZ_TEXT + 0x800 + (uint64_t)(c[0] & 0x7f) * 8 + (c[2] & 3);
	uint64_t ip_end = ip + (uint64_t)c[1] * 4 + (c[2] >> 2 & 3);
	uint64_t orc = ip_end + (c[2] & 0x10 ? 4 : 0) - (c[2] & 0x20 ? 16 : 0);
	uint64_t orc_end = orc + (uint64_t)c[1] * 6 + (c[2] & 0x40 ? 6 : 0);
	char map[sizeof(fz_sysmap) + 256], err[256];
	int n = snprintf(map, sizeof(map), "%s%s"
			 "%016llx R __start_orc_unwind_ip\n"
			 "%016llx R __stop_orc_unwind_ip\n"
			 "%016llx R __start_orc_unwind\n"
			 "%s%016llx R __stop_orc_unwind\n", fz_sysmap,
			 c[3] & 1 ? "ffffffff81000000 T _text\n" : "",
			 (unsigned long long)ip, (unsigned long long)ip_end,
			 (unsigned long long)orc,
			 c[3] & 2 ? "ffffffff81001000 B _end\n" : "",
			 (unsigned long long)orc_end);

	return vsp_sym_load_mem(map, (size_t)n, "fuzz-orc.map", err, sizeof(err));
}

static void fz_unwind(struct fz_guest *g, const struct vsp_regs *r,
		      uint8_t opt)
{
	struct vsp_symtab *syms = opt & 64 ? fz_orc_syms(g) : fz_syms;
	struct vsp_unwind_opts uo = {
		.src = opt & 64 ? VSP_UNWIND_AUTO : VSP_UNWIND_INSN,
		.max_frames = (opt & 3) == 3 ? 3 : 0,
		.max_steps = opt & 4 ? 300 : 0,
		.cache_funcs = opt & 8 ? 1 : 16,
		.no_call_check = opt & 16,
		.strict_callee = opt & 32,
	};
	char err[256];
	if (!syms)
		FZ_FAIL("ORC symbol table did not load");
	struct vsp_unwinder *u = vsp_unwind_new(syms, NULL, &uo, err,
						sizeof(err));
	static struct vsp_callpath cp;
	static struct vsp_xhc_path xp;
	uint32_t maxf = uo.max_frames ? uo.max_frames : VSP_UNWIND_MAX;

	if (!u)
		FZ_FAIL("unwinder: %s", err);
	if (opt & 64) {
		struct vsp_unwind_orc_stats os;
		uint64_t before = g->reads;
		int rc = vsp_unwind_orc_from_guest(u, fz_read, g, &os, err,
						   sizeof(err));

		if (rc < -1 || rc > 1)
			FZ_FAIL("ORC from guest memory returned %d", rc);
		if ((rc == 0) != (vsp_unwind_source(u) == VSP_UNWIND_ORC))
			FZ_FAIL("ORC read %d but source %d", rc,
				(int)vsp_unwind_source(u));
		if (rc == 0 && os.entries != g->data[FZ_DATA_LEN - 3])
			FZ_FAIL("%u ORC entries, %u named", os.entries,
				g->data[FZ_DATA_LEN - 3]);
		if (rc != 0 && !err[0])
			FZ_FAIL("ORC refused without a message");
		if (g->reads - before > 2)
			FZ_FAIL("ORC tables read in %llu reads",
				(unsigned long long)(g->reads - before));
		if (getenv("FZ_VERBOSE"))
			fprintf(stderr, "orc: %d %s\n", rc, rc ? err : "");
		/* The tail jumps, from the text as the guest holds it. */
		before = g->reads;
		rc = vsp_unwind_tails_from_guest(u, fz_read, g, &os, err,
						 sizeof(err));
		if (rc < -1 || rc > 1 || g->reads - before > 1)
			FZ_FAIL("tail jumps: %d after %llu reads", rc,
				(unsigned long long)(g->reads - before));
		int32_t d;
		vsp_unwind_orc_depth(u, r->rip, &d);
		vsp_unwind_orc_depth(u, FZ_TEXT + (r->rbx & 0xfff), &d);
	}
	uint32_t n = vsp_unwind(u, r, fz_read, g, &cp);
	fz_check_path(&cp, n, maxf);
	if (getenv("FZ_VERBOSE")) {
		char buf[512];
		fprintf(stderr, "unwind: %u frames (%s): %s\n", n,
			vsp_unwind_end_text(cp.end),
			vsp_callpath_format(&cp, buf, sizeof(buf)));
	}

	struct vsp_event ev;
	memset(&ev, 0, sizeof(ev));
	vsp_callpath_to_event(&cp, &ev);
	for (uint32_t i = 0; ev.has_stack && i < ev.nstack; i++)
		(void)strlen(ev.stack[i]);

	/* Again: now from the unwinder's cache, and it must agree. */
	uint32_t n2 = vsp_unwind(u, r, fz_read, g, &cp);
	if (n2 != n)
		FZ_FAIL("second unwind gave %u frames, first %u", n2, n);

	int32_t depth;
	vsp_unwind_insn_depth(u, r->rip, fz_read, g, &depth);
	vsp_unwind_insn_depth(u, FZ_TEXT + (r->rbx & 0xfff), fz_read, g, &depth);

	memset(&ev, 0, sizeof(ev));
	ev.name = "mmu_update";
	vsp_xhc_callpath(u, r, fz_read, g, &xp, &ev);
	for (uint32_t i = 0; ev.has_stack && i < ev.nstack; i++)
		(void)strlen(ev.stack[i]);

	struct vsp_unwind_stats st;
	vsp_unwind_stats(u, &st);
	vsp_unwind_free(u);
	if (syms != fz_syms)
		vsp_sym_free(syms);
}

static void fz_linux(struct fz_guest *g, uint8_t opt)
{
	static const struct vsp_linux lx = {
		.task_pid = 0x10, .task_tgid = 0x14, .task_comm = 0x20,
		.task_real_parent = 0x40, .task_cred = 0x48,
		.task_real_cred = 0x50, .task_size = 0x100,
		.cred_uid = 4, .cred_euid = 0x14, .cred_gid = 8,
		.current_off = 0x100, .have_current = true,
	};
	uint64_t base = vsp_linux_percpu_base(opt & 1 ? FZ_DATA : 0x1000,
					      opt & 2 ? FZ_DATA : 0);
	uint64_t task = 0;
	struct vsp_proc pr;

	if (vsp_linux_current(&lx, fz_read, g, base, &task) == 0) {
		memset(&pr, 0x55, sizeof(pr));
		int rc = vsp_linux_proc(&lx, fz_read, g, task, &pr);
		if (getenv("FZ_VERBOSE"))
			fprintf(stderr, "proc: %d pid %lld comm '%s' uid %lld\n",
				rc, (long long)pr.pid, pr.comm, (long long)pr.uid);
		if (!memchr(pr.comm, 0, sizeof(pr.comm)))
			FZ_FAIL("comm not NUL-terminated");
	}
	/* Any address at all, not only what current_task says. */
	uint64_t any;
	memcpy(&any, g->data + (opt & 0xf8), 8);
	vsp_linux_proc(&lx, fz_read, g, any, &pr);
	if (!memchr(pr.comm, 0, sizeof(pr.comm)))
		FZ_FAIL("comm not NUL-terminated");
}

static void fz_pagetables(struct fz_guest *g, const struct vsp_regs *r,
			  uint8_t opt)
{
	struct vsp_xpt_ctl ctl = {
		.cr0 = VSP_XPT_CR0_PG, .cr3 = (uint64_t)(opt & 3) << 9,
		.cr4 = VSP_XPT_CR4_PAE | (opt & 4 ? VSP_XPT_CR4_LA57 : 0),
		.efer = VSP_XPT_EFER_LMA,
	};
	struct vsp_xpt_result res;
	uint64_t gvas[] = { r->rip, r->rsp, r->rbx, FZ_DATA, 0 };

	for (size_t i = 0; i < sizeof(gvas) / sizeof(gvas[0]); i++) {
		uint64_t before = g->reads;
		vsp_xpt_translate(&ctl, gvas[i], fz_pt_read, g, &res);
		if (g->reads - before > 5)
			FZ_FAIL("page walk read %llu entries",
				(unsigned long long)(g->reads - before));
		(void)vsp_xpt_fault_str(res.fault);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_guest g;
	struct fz_in in = { data, size };
	struct vsp_regs r;

	if (!fz_syms)
		LLVMFuzzerInitialize(NULL, NULL);
	memset(&g, 0, sizeof(g));
	memset(&r, 0, sizeof(r));
	uint16_t rip = fz_u8(&in) | (uint16_t)fz_u8(&in) << 8;
	uint16_t rsp = fz_u8(&in) | (uint16_t)fz_u8(&in) << 8;
	uint16_t rbp = fz_u8(&in) | (uint16_t)fz_u8(&in) << 8;
	uint8_t opt = fz_u8(&in), opt2 = fz_u8(&in);
	for (int i = 0; i < 3; i++) {
		g.holes[i] = fz_u8(&in);
		g.holes[i] |= (uint32_t)fz_u8(&in) << 8;
		g.holes[i] |= (uint32_t)fz_u8(&in) << 16;
		g.holes[i] |= (uint32_t)fz_u8(&in) << 24;
	}
	for (size_t i = 0; i < FZ_STACK_LEN; i++)
		g.stack[i] = fz_u8(&in);
	for (size_t i = 0; i < FZ_DATA_LEN; i++)
		g.data[i] = fz_u8(&in);
	for (size_t i = 0; i < FZ_TEXT_LEN; i++)
		g.text[i] = fz_u8(&in);

	/* Registers mostly inside the regions, sometimes anywhere. */
	r.rip = opt2 & 1 ? (uint64_t)rip << 48 | rip : FZ_TEXT + rip % (FZ_TEXT_LEN + 64);
	r.rsp = opt2 & 2 ? (uint64_t)rsp * 0x9e3779b97f4a7c15ull :
		FZ_STACK + rsp % (FZ_STACK_LEN + 64);
	r.rbp = FZ_STACK + rbp % (FZ_STACK_LEN + 64);
	memcpy(&r.rbx, g.data, 8);
	r.gs_base = FZ_DATA;

	fz_unwind(&g, &r, opt);
	g.reads = 0;
	fz_linux(&g, opt2);
	g.reads = 0;
	fz_pagetables(&g, &r, opt2 >> 2);
	g.reads = 0;

	/* The KASLR probe reads a little at each candidate base. */
	if (opt2 & 0x80) {
		int64_t slide;
		struct vsp_kaslr_stats ks;
		char err[256];
		vsp_kaslr_find(fz_syms, NULL, fz_read, &g, r.rip, &slide, &ks,
			       err, sizeof(err));
	}
	return 0;
}
