/*
 * t_vma.c: a process's memory map from its maple tree (vmi/vma.h).
 *
 * The layout comes from the guest kernel's own BTF when the guest rig's
 * vmlinux is cached (and must then equal the 6.1 layout the synthetic
 * trees below are built with); the trees are built in a memory image as
 * the kernel lays them out: an allocation-range root over two leaves, the
 * VMAs of a program and of libc, files and dentries.  Then the tree is
 * damaged as a hostile guest would: a node that points back at itself,
 * a VMA of another mm, a leaf visited twice, a bad end slot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap.h"
#include "vmi/vma.h"

#define K 0xffff888000000000ull
#define KLEN 0x10000
static uint8_t kmem[KLEN];
static uint64_t nreads;

static long k_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	(void)ctx;
	nreads++;
	if (gva < K || gva - K >= KLEN)
		return -EFAULT;
	size_t n = KLEN - (gva - K);
	if (n > len)
		n = len;
	memcpy(buf, kmem + (gva - K), n);
	return (long)n;
}

static void put(uint64_t a, uint64_t v)
{
	memcpy(kmem + (a - K), &v, 8);
}

/* The 6.1 layout (checked against BTF below when it is here). */
static struct vsp_linux lx61 = {
	.have_mm = true, .task_mm = 0x8e0, .mm_mt = 0x40, .mt_root = 8,
	.r64_pivot = 8, .r64_npivot = 15, .r64_slot = 128, .r64_nslot = 16,
	.r64_meta = 248,
	.a64_pivot = 8, .a64_npivot = 9, .a64_slot = 80, .a64_nslot = 10,
	.a64_meta = 240,
	.vma_start = 0, .vma_end = 8, .vma_mm = 16, .vma_flags = 32,
	.vma_pgoff = 104, .vma_file = 112,
	.file_dentry = 24, .dentry_parent = 24, .dentry_name = 40,
};

#define MM (K + 0x100)
#define ROOT (K + 0x1000)
#define LEAF_A (K + 0x1100)
#define LEAF_B (K + 0x1200)
#define VMA(i) (K + 0x2000 + (i) * 0x100)
#define FILE_PROG (K + 0x3000)
#define FILE_LIBC (K + 0x3100)
#define D_ROOT (K + 0x4000)
#define D_LIB (K + 0x4100)
#define D_LIBC (K + 0x4200)
#define D_PROG (K + 0x4300)
#define NAMES (K + 0x5000)

/* The root as mte_mk_root makes it (bit 1), a child as mt_mk_node
 * (bit 2, MAPLE_ENODE_NULL): a walk that wants bit 1 on children fails
 * on every real tree deeper than its root. */
static uint64_t enc(uint64_t node, unsigned type)
{
	return node | (uint64_t)type << 3 | 2;
}

static uint64_t child(uint64_t node, unsigned type)
{
	return node | (uint64_t)type << 3 | 4;
}

static void vma(int i, uint64_t start, uint64_t end, uint64_t pgoff,
		uint64_t file, uint64_t mm)
{
	put(VMA(i) + 0, start);
	put(VMA(i) + 8, end);
	put(VMA(i) + 16, mm);
	put(VMA(i) + 32, 5);
	put(VMA(i) + 104, pgoff);
	put(VMA(i) + 112, file);
}

static void dentry(uint64_t d, uint64_t parent, int slot, const char *name)
{
	uint64_t n = NAMES + (uint64_t)slot * 0x40;
	strcpy((char *)kmem + (n - K), name);
	put(d + 24, parent);
	put(d + 40, n);
}

static void build(void)
{
	memset(kmem, 0, sizeof kmem);
	put(MM + 0x40 + 8, enc(ROOT, 3));
	/* root: two leaves, split below libc */
	put(ROOT + 8, 0x7effffffffffull);
	put(ROOT + 80, child(LEAF_A, 1));
	put(ROOT + 88, child(LEAF_B, 1));
	kmem[ROOT + 240 - K] = 1;
	/* leaf A: a gap, the program's two pages, a gap */
	put(LEAF_A + 8, 0x3fffff);
	put(LEAF_A + 16, 0x400fff);
	put(LEAF_A + 24, 0x401fff);
	put(LEAF_A + 128 + 8, VMA(0));
	put(LEAF_A + 128 + 16, VMA(1));
	kmem[LEAF_A + 248 - K] = 3;
	/* leaf B: a gap, libc's header page, text, an anonymous page */
	put(LEAF_B + 8, 0x7f0000000fffull - 0x1000);
	put(LEAF_B + 16, 0x7f0000000fffull);
	put(LEAF_B + 24, 0x7f0000002fffull);
	put(LEAF_B + 32, 0x7f0000003fffull);
	put(LEAF_B + 128 + 8, VMA(2));
	put(LEAF_B + 128 + 16, VMA(3));
	put(LEAF_B + 128 + 24, VMA(4));
	kmem[LEAF_B + 248 - K] = 4;
	vma(0, 0x400000, 0x401000, 0, FILE_PROG, MM);
	vma(1, 0x401000, 0x402000, 1, FILE_PROG, MM);
	vma(2, 0x7f0000000000ull, 0x7f0000001000ull, 0, FILE_LIBC, MM);
	vma(3, 0x7f0000001000ull, 0x7f0000003000ull, 1, FILE_LIBC, MM);
	vma(4, 0x7f0000003000ull, 0x7f0000004000ull, 0, 0, MM);
	put(FILE_PROG + 24, D_PROG);
	put(FILE_LIBC + 24, D_LIBC);
	dentry(D_ROOT, D_ROOT, 0, "/");
	dentry(D_LIB, D_ROOT, 1, "lib");
	dentry(D_LIBC, D_LIB, 2, "libc.so.6");
	dentry(D_PROG, D_ROOT, 3, "prog");
}

struct seen {
	int n;
	uint64_t start[16];
};

static int collect(void *arg, const struct vsp_vma *v)
{
	struct seen *s = arg;
	if (s->n < 16)
		s->start[s->n] = v->start;
	s->n++;
	return 0;
}

static void btf_layout(void)
{
	const char *home = getenv("HOME");
	char path[4096];
	snprintf(path, sizeof path, "%s/.cache/vsp/guest/vmlinux",
		 getenv("VSP_CACHE") ? getenv("VSP_CACHE") : home ? home : "/");
	if (getenv("VSP_CACHE"))
		snprintf(path, sizeof path, "%s/guest/vmlinux", getenv("VSP_CACHE"));
	if (access(path, R_OK) != 0) {
		skip("no guest vmlinux cached (%s)", path);
		return;
	}
	struct vsp_linux lx;
	char err[256];
	if (!ok(vsp_linux_init(&lx, path, NULL, err, sizeof err) == 0 && lx.have_mm,
		"BTF: the guest kernel's maple tree offsets are found"))
		return;
	ok(lx.r64_pivot == lx61.r64_pivot && lx.r64_npivot == lx61.r64_npivot &&
	   lx.r64_slot == lx61.r64_slot && lx.r64_nslot == lx61.r64_nslot &&
	   lx.r64_meta == lx61.r64_meta && lx.a64_pivot == lx61.a64_pivot &&
	   lx.a64_npivot == lx61.a64_npivot && lx.a64_slot == lx61.a64_slot &&
	   lx.a64_nslot == lx61.a64_nslot && lx.a64_meta == lx61.a64_meta,
	   "BTF: maple node layout as this test builds it");
	ok(lx.vma_start == 0 && lx.vma_end == 8 && lx.vma_mm == 16 &&
	   lx.vma_flags == 32 && lx.vma_pgoff == 104 && lx.vma_file == 112 &&
	   lx.file_dentry == 24 && lx.dentry_parent == 24 &&
	   lx.dentry_name == 40 && lx.mt_root == 8,
	   "BTF: VMA, file and dentry offsets as this test builds them");
}

int main(void)
{
	char err[200], name[512];
	uint64_t base, lo, hi;
	struct seen s = { 0 };
	int rc;

	btf_layout();
	build();
	ok(vsp_vma_walk(&lx61, k_read, NULL, MM, collect, &s, err, sizeof err) == 0,
	   "walk: the tree reads (%s)", err);
	ok(s.n == 5 && s.start[0] == 0x400000 && s.start[2] == 0x7f0000000000ull &&
	   s.start[4] == 0x7f0000003000ull, "walk: five VMAs in address order");
	ok(vsp_vma_dentry_name(&lx61, k_read, NULL, D_LIBC, true, name,
			       sizeof name) == 0 && strcmp(name, "/lib/libc.so.6") == 0,
	   "dentry path: %s", name);
	ok(vsp_vma_dentry_name(&lx61, k_read, NULL, D_LIBC, true, name, 8) < 0,
	   "dentry path: too long for the buffer is an error");
	ok(vsp_vma_find_module(&lx61, k_read, NULL, MM, "libc.so.6", &base, &lo,
			       &hi, err, sizeof err) == 0 &&
	   base == 0x7f0000000000ull && hi == 0x7f0000003000ull,
	   "find: libc by name, its first page and extent");
	ok(vsp_vma_find_module(&lx61, k_read, NULL, MM, "/lib/libc.so.6", &base,
			       NULL, NULL, err, sizeof err) == 0 &&
	   base == 0x7f0000000000ull, "find: libc by absolute path");
	ok(vsp_vma_find_module(&lx61, k_read, NULL, MM, "/prog", &base, NULL,
			       NULL, err, sizeof err) == 0 && base == 0x400000,
	   "find: the program by path");
	ok(vsp_vma_find_module(&lx61, k_read, NULL, MM, "libssl.so.3", &base,
			       NULL, NULL, err, sizeof err) == 1,
	   "find: a library not mapped: 1");
	ok(vsp_vma_find_module(&lx61, k_read, NULL, MM, "/libc.so.6", &base,
			       NULL, NULL, err, sizeof err) == 1,
	   "find: a path is matched whole, not by its last part");

	/* Hostile trees. */
	build();
	put(ROOT + 88, enc(ROOT, 3));
	nreads = 0;
	rc = vsp_vma_walk(&lx61, k_read, NULL, MM, collect, &s, err, sizeof err);
	ok(rc < 0, "hostile: a node that is its own child: %s", err);
	ok(nreads > 0 && nreads < 20000, "hostile: bounded (%llu reads)", (unsigned long long)nreads);
	build();
	put(ROOT + 88, enc(LEAF_A, 1));
	ok(vsp_vma_walk(&lx61, k_read, NULL, MM, collect, &s, err, sizeof err) < 0 &&
	   strstr(err, "out of order"), "hostile: a leaf reached twice: %s", err);
	build();
	put(VMA(3) + 16, MM + 0x1000);
	ok(vsp_vma_find_module(&lx61, k_read, NULL, MM, "libc.so.6", &base, NULL,
			       NULL, err, sizeof err) < 0 && strstr(err, "another mm"),
	   "hostile: a VMA of another mm: %s", err);
	build();
	kmem[LEAF_B + 248 - K] = 200;
	ok(vsp_vma_walk(&lx61, k_read, NULL, MM, collect, &s, err, sizeof err) < 0,
	   "hostile: an end slot past the node: %s", err);
	build();
	put(ROOT + 80, enc(K + 0x20000, 1));
	ok(vsp_vma_walk(&lx61, k_read, NULL, MM, collect, &s, err, sizeof err) < 0,
	   "hostile: an unreadable node: %s", err);
	build();
	put(ROOT + 80, 0x7f0000000000ull | 0x12);
	ok(vsp_vma_walk(&lx61, k_read, NULL, MM, collect, &s, err, sizeof err) < 0,
	   "hostile: a node pointer into user space: %s", err);
	build();
	put(D_LIB + 24, D_LIBC);	/* a dentry loop */
	nreads = 0;
	rc = vsp_vma_dentry_name(&lx61, k_read, NULL, D_LIBC, true, name,
				     sizeof name);
	ok(rc < 0 && nreads > 0 && nreads < 300,
	   "hostile: a dentry cycle ends (%llu reads)", (unsigned long long)nreads);
	build();
	strcpy((char *)kmem + (NAMES + 0x80 - K), "a/b");
	ok(vsp_vma_dentry_name(&lx61, k_read, NULL, D_LIBC, true, name,
			       sizeof name) < 0, "hostile: a '/' inside a name");
	struct vsp_linux none = { 0 };
	ok(vsp_vma_walk(&none, k_read, NULL, MM, collect, &s, err, sizeof err) < 0,
	   "without maple tree offsets: a clear error: %s", err);
	return done();
}
