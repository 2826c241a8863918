/*
 * t_xen_pt.c: the Xen backend's guest page-table walker (vmi/xen_pt.c).
 *
 * Builds x86-64 page tables in a small array that stands for guest
 * physical memory, then checks translations through 4 and 5 levels, with
 * 4 KiB, 2 MiB and 1 GiB pages, non-present entries at each level,
 * reserved large-page bits, canonical-address checks, bits of an entry
 * that must never reach an address (NX, software bits, PAT), CR3's PCID
 * bits, paging off, legacy paging, and a frame the reader cannot read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/tap.h"
#include "vmi/xen_pt.h"

#define NFRAMES 64
static uint64_t mem[NFRAMES][512];	/* guest frames 0..63 */
static unsigned reads;

static int rd(void *ctx, uint64_t gpa, uint64_t *e)
{
	(void)ctx;
	reads++;
	if (gpa % 8 || gpa / 4096 >= NFRAMES)
		return -EIO;
	*e = mem[gpa / 4096][(gpa % 4096) / 8];
	return 0;
}

#define P  0x1ull
#define RW 0x2ull
#define US 0x4ull
#define PS 0x80ull
#define NX (1ull << 63)

static unsigned idx(uint64_t va, unsigned level)
{
	return (va >> (12 + 9 * (level - 1))) & 0x1ff;
}

static struct vsp_xpt_ctl ctl4(uint64_t cr3)
{
	struct vsp_xpt_ctl c = {
		.cr0 = VSP_XPT_CR0_PG | 1, .cr3 = cr3,
		.cr4 = VSP_XPT_CR4_PAE, .efer = VSP_XPT_EFER_LMA | 0x500,
	};
	return c;
}

static int tr(const struct vsp_xpt_ctl *c, uint64_t va,
	      struct vsp_xpt_result *r)
{
	reads = 0;
	memset(r, 0xa5, sizeof(*r));
	return vsp_xpt_translate(c, va, rd, NULL, r);
}

/*
 * Frame 1: PML4.  Frame 2: PDPT.  Frame 3: PD.  Frame 4: PT.
 * Kernel text at 0xffffffff81000000 -> 4 KiB pages in frame 4's table.
 */
static const uint64_t KTEXT = 0xffffffff81000000ull;

static void build4(void)
{
	memset(mem, 0, sizeof(mem));
	mem[1][idx(KTEXT, 4)] = 2 * 4096 | P | RW;
	mem[2][idx(KTEXT, 3)] = 3 * 4096 | P | RW;
	mem[3][idx(KTEXT, 2)] = 4 * 4096 | P | RW;
	/* Page 0 of the text -> frame 40; page 1 -> frame 41, read-only. */
	mem[4][0] = 40 * 4096 | P | RW;
	mem[4][1] = 41 * 4096 | P;
	/* NX and software-available bits 52..62 set: never in the address. */
	mem[4][2] = 42 * 4096 | P | NX | (0x7ffull << 52);
}

static void test_4k(void)
{
	struct vsp_xpt_ctl c = ctl4(1 * 4096);
	struct vsp_xpt_result r;
	int rc;

	build4();
	rc = tr(&c, KTEXT + 0x123, &r);
	ok(rc == 0 && r.gpa == 40 * 4096 + 0x123, "4-level 4 KiB page");
	ok(r.page_size == 4096 && r.level == 1 && r.fault == VSP_XPT_OK,
	   "4 KiB result names level 1 and the page size");
	ok(reads == 4, "4-level walk reads exactly four entries");
	ok(r.writable && !r.nx && !r.user, "permissions accumulate (rw, kernel)");

	rc = tr(&c, KTEXT + 0x1ff8, &r);
	ok(rc == 0 && r.gpa == 41 * 4096 + 0xff8 && !r.writable,
	   "read-only leaf clears writable");

	rc = tr(&c, KTEXT + 0x2010, &r);
	ok(rc == 0 && r.gpa == 42 * 4096 + 0x10,
	   "NX and software bits stay out of the address");
	ok(r.nx, "NX is reported");

	/* PCID in CR3's low bits and the no-flush bit 63 must be ignored. */
	c.cr3 = 1 * 4096 | 0x5a | (1ull << 63);
	rc = tr(&c, KTEXT + 0x10, &r);
	ok(rc == 0 && r.gpa == 40 * 4096 + 0x10, "CR3 PCID and bit 63 masked");
}

static void test_not_present(void)
{
	struct vsp_xpt_ctl c = ctl4(1 * 4096);
	struct vsp_xpt_result r;
	int rc;

	build4();
	rc = tr(&c, KTEXT + 3 * 4096, &r);
	ok(rc == -EFAULT && r.fault == VSP_XPT_NOT_PRESENT && r.level == 1,
	   "absent PTE fails at level 1");
	ok(r.page_size == 0 && r.gpa == 0, "failed walk leaves no address");

	rc = tr(&c, KTEXT + (2ull << 21), &r);
	ok(rc == -EFAULT && r.level == 2, "absent PDE fails at level 2");

	rc = tr(&c, KTEXT + (1ull << 30), &r);
	ok(rc == -EFAULT && r.level == 3, "absent PDPTE fails at level 3");

	rc = tr(&c, 0x00007f0000000000ull, &r);
	ok(rc == -EFAULT && r.level == 4 && reads == 1,
	   "absent PML4E fails at level 4 after one read");

	/* P clear with every other bit set is still not present. */
	mem[4][5] = ~P;
	rc = tr(&c, KTEXT + 5 * 4096, &r);
	ok(rc == -EFAULT && r.fault == VSP_XPT_NOT_PRESENT,
	   "an entry with only P clear is not present");
}

static void test_large(void)
{
	struct vsp_xpt_ctl c = ctl4(1 * 4096);
	struct vsp_xpt_result r;
	uint64_t va2m = 0xffff888000000000ull;	/* direct map */
	uint64_t va1g = 0xffff888040000000ull;
	int rc;

	memset(mem, 0, sizeof(mem));
	mem[1][idx(va2m, 4)] = 2 * 4096 | P | RW;
	/* PDPTE for the first GiB -> PD at frame 3; the second is a 1 GiB page. */
	mem[2][idx(va2m, 3)] = 3 * 4096 | P | RW;
	mem[2][idx(va1g, 3)] = (5ull << 30) | P | RW | PS |
			       (1ull << 12) /* PAT */;
	/* 2 MiB page at physical 0x1400000, with the large-page PAT bit. */
	mem[3][idx(va2m, 2)] = 0x1400000ull | P | RW | PS | (1ull << 12);

	rc = tr(&c, va2m + 0x12345, &r);
	ok(rc == 0 && r.gpa == 0x1400000ull + 0x12345,
	   "2 MiB page: PAT bit 12 is not part of the address");
	ok(r.page_size == (2u << 20) && r.level == 2, "2 MiB page at level 2");
	ok(reads == 3, "2 MiB walk stops after three reads");

	rc = tr(&c, va1g + 0x3456789, &r);
	ok(rc == 0 && r.gpa == (5ull << 30) + 0x3456789,
	   "1 GiB page translates with a 30-bit offset");
	ok(r.page_size == (1u << 30) && r.level == 3, "1 GiB page at level 3");

	/* PS in a PML4 entry is reserved. */
	mem[1][idx(va2m, 4)] |= PS;
	rc = tr(&c, va2m, &r);
	ok(rc == -EFAULT && r.fault == VSP_XPT_RESERVED && r.level == 4,
	   "PS in a PML4 entry is a reserved-bit fault");
}

static void test_5level(void)
{
	struct vsp_xpt_ctl c = ctl4(1 * 4096);
	struct vsp_xpt_result r;
	/* Canonical for 57 bits, not for 48: bits 56..48 carry the index. */
	uint64_t va = 0xff5a000000001000ull | 0x77;
	int rc;

	c.cr4 |= VSP_XPT_CR4_LA57;
	ok(vsp_xpt_levels(&c) == 5, "CR4.LA57 selects 5 levels");
	memset(mem, 0, sizeof(mem));
	mem[1][idx(va, 5)] = 2 * 4096 | P | RW;
	mem[2][idx(va, 4)] = 3 * 4096 | P | RW;
	mem[3][idx(va, 3)] = 4 * 4096 | P | RW;
	mem[4][idx(va, 2)] = 5 * 4096 | P | RW;
	mem[5][idx(va, 1)] = 50 * 4096 | P | RW;
	rc = tr(&c, va, &r);
	ok(rc == 0 && r.gpa == 50 * 4096 + 0x77, "5-level 4 KiB page");
	ok(reads == 5, "5-level walk reads five entries");

	/* A 1 GiB page under 5 levels. */
	mem[3][idx(va, 3)] = (7ull << 30) | P | PS;
	rc = tr(&c, va, &r);
	ok(rc == 0 && r.gpa == (7ull << 30) + (va & ((1ull << 30) - 1)) &&
	   r.page_size == (1u << 30), "5-level 1 GiB page");

	/* PS at level 5 is reserved too. */
	mem[1][idx(va, 5)] |= PS;
	rc = tr(&c, va, &r);
	ok(rc == -EFAULT && r.fault == VSP_XPT_RESERVED && r.level == 5,
	   "PS in a PML5 entry is a reserved-bit fault");

	/* The same address is not canonical with 4 levels. */
	c.cr4 &= ~VSP_XPT_CR4_LA57;
	rc = tr(&c, va, &r);
	ok(rc == -EINVAL && r.fault == VSP_XPT_NONCANONICAL && reads == 0,
	   "57-bit address is non-canonical under 4 levels, nothing read");
}

static void test_canonical(void)
{
	ok(vsp_xpt_canonical(0x00007fffffffffffull, 4), "top of user half");
	ok(!vsp_xpt_canonical(0x0000800000000000ull, 4), "first hole address");
	ok(vsp_xpt_canonical(0xffff800000000000ull, 4), "bottom of kernel half");
	ok(!vsp_xpt_canonical(0xfeff800000000000ull, 4), "bad high bits (48)");
	ok(vsp_xpt_canonical(0x0000800000000000ull, 5),
	   "47-bit hole is canonical with 57 bits");
	ok(!vsp_xpt_canonical(0x0100000000000000ull, 5), "bit 56 hole (57)");
	ok(vsp_xpt_canonical(0xff00000000000000ull, 5), "kernel half (57)");
}

static void test_modes(void)
{
	struct vsp_xpt_ctl c = ctl4(1 * 4096);
	struct vsp_xpt_result r;
	int rc;

	c.cr0 &= ~VSP_XPT_CR0_PG;
	rc = tr(&c, 0x12345678, &r);
	ok(rc == 0 && r.gpa == 0x12345678 && reads == 0,
	   "paging off: the address is physical");

	c = ctl4(1 * 4096);
	c.efer = 0;
	rc = tr(&c, 0x1000, &r);
	ok(rc == -ENOTSUP && r.fault == VSP_XPT_UNSUPPORTED,
	   "32-bit paging is refused, not misread");

	/* A table pointer outside guest memory: the reader's code comes back. */
	build4();
	c = ctl4(1 * 4096);
	mem[3][idx(KTEXT, 2)] = (uint64_t)(NFRAMES + 9) * 4096 | P;
	rc = tr(&c, KTEXT, &r);
	ok(rc == -EIO && r.fault == VSP_XPT_READ_FAILED && r.level == 1,
	   "unreadable table frame reports the reader's error");
	ok(strcmp(vsp_xpt_fault_str(VSP_XPT_NOT_PRESENT), "page not present") == 0,
	   "fault strings exist");

	/* A self-referencing PML4 entry cannot make the walk loop. */
	memset(mem, 0, sizeof(mem));
	for (int i = 0; i < 512; i++)
		mem[1][i] = 1 * 4096 | P | RW;
	rc = tr(&c, KTEXT + 0x40, &r);
	ok(rc == 0 && reads == 4 && r.gpa == 1 * 4096 + 0x40,
	   "recursive tables end after four reads");
}

/* Cost of one 4-level walk over memory reads, for the record. */
static void test_cost(void)
{
	struct vsp_xpt_ctl c = ctl4(1 * 4096);
	struct vsp_xpt_result r;
	struct timespec a, b;
	const int n = 1000000;
	int good = 1;
	double ns;

	build4();
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		good &= vsp_xpt_translate(&c, KTEXT + (i & 0xfff), rd, NULL,
					  &r) == 0;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
	ok(good, "a million walks");
	printf("# 4-level walk: %.1f ns (entry reads through a callback)\n", ns);
}

int main(void)
{
	test_4k();
	test_not_present();
	test_large();
	test_5level();
	test_canonical();
	test_modes();
	test_cost();
	return done();
}
