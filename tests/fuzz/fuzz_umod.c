/*
 * fuzz_umod.c: fuzz target for the readers that find a user function in
 * a guest process: the maple tree of VMAs (vmi/vma.h) and the module's
 * ELF as it sits in memory (vmi/uelf.h).
 *
 * The input is a small guest: 4 KiB of kernel memory (an mm_struct, its
 * maple tree nodes, VMAs, files, dentries and names at 6.1's offsets) and
 * 8 KiB of user memory where the module's first page is expected, with a
 * bitmap of unreadable 512-byte holes.  The target walks the tree, looks
 * the module up by name and by path, opens the ELF, resolves two
 * functions, the soname and errno's TLS offset.
 *
 * Invariants: every call returns; the reads stay under a fixed budget
 * (no walk loops); a module found lies in user space and a function found
 * lies inside the module's extent.
 *
 * Input: 1 byte of options, 4 bytes of hole bitmap (bits 0..7 kernel,
 * 8..23 user), 4096 kernel bytes, 8192 user bytes; short inputs leave
 * the rest zero.
 */
#include <errno.h>

#include "fz_common.h"
#include "vmi/uelf.h"
#include "vmi/vma.h"

#define FZ_K 0xffff888000000000ull
#define FZ_KLEN 4096
#define FZ_U 0x7f0000000000ull
#define FZ_ULEN 8192
#define FZ_MM (FZ_K + 0x100)
#define FZ_MAX_READS 2000000

static struct {
	uint8_t k[FZ_KLEN], u[FZ_ULEN];
	uint32_t holes;
	uint64_t reads;
} fz;

static const struct vsp_linux fz_lx = {
	.have_mm = true, .task_mm = 0x8e0, .mm_mt = 0x40, .mt_root = 8,
	.r64_pivot = 8, .r64_npivot = 15, .r64_slot = 128, .r64_nslot = 16,
	.r64_meta = 248,
	.a64_pivot = 8, .a64_npivot = 9, .a64_slot = 80, .a64_nslot = 10,
	.a64_meta = 240,
	.vma_start = 0, .vma_end = 8, .vma_mm = 16, .vma_flags = 32,
	.vma_pgoff = 104, .vma_file = 112,
	.file_dentry = 24, .dentry_parent = 24, .dentry_name = 40,
};

static long fz_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	const uint8_t *mem;
	uint64_t base, n, hole0;
	(void)ctx;

	if (++fz.reads > FZ_MAX_READS)
		FZ_FAIL("more than %d reads: a walk does not end", FZ_MAX_READS);
	if (gva >= FZ_K && gva - FZ_K < FZ_KLEN)
		mem = fz.k, base = FZ_K, n = FZ_KLEN, hole0 = 0;
	else if (gva >= FZ_U && gva - FZ_U < FZ_ULEN)
		mem = fz.u, base = FZ_U, n = FZ_ULEN, hole0 = 8;
	else
		return -EFAULT;
	uint64_t off = gva - base, got = 0;
	while (got < len && off + got < n) {
		uint64_t chunk = (off + got) / 512;
		if (fz.holes >> (hole0 + chunk) & 1)
			break;
		uint64_t room = 512 - (off + got) % 512;
		uint64_t want = len - got < room ? len - got : room;
		memcpy((uint8_t *)buf + got, mem + off + got, want);
		got += want;
	}
	return got ? (long)got : -EFAULT;
}

/* The module's bytes by file offset (vsp_pcmod_file_read's kind). */
static long fz_file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	if (++fz.reads > FZ_MAX_READS)
		FZ_FAIL("more than %d reads: a walk does not end", FZ_MAX_READS);
	if (off >= FZ_ULEN || len > FZ_ULEN - off)
		return -EFAULT;
	memcpy(buf, fz.u + off, len);
	return (long)len;
}

static int fz_count(void *arg, const struct vsp_vma *v)
{
	if (v->start >= v->end)
		FZ_FAIL("a VMA reported with start >= end");
	(*(int *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	char err[256], so[64];
	uint64_t base, lo, hi, a;
	int64_t tp;
	int n = 0;

	memset(&fz, 0, sizeof fz);
	uint8_t opt = fz_u8(&in);
	for (int i = 0; i < 4; i++)
		fz.holes |= (uint32_t)fz_u8(&in) << (8 * i);
	for (size_t i = 0; i < FZ_KLEN; i++)
		fz.k[i] = fz_u8(&in);
	for (size_t i = 0; i < FZ_ULEN; i++)
		fz.u[i] = fz_u8(&in);

	(void)vsp_vma_walk(&fz_lx, fz_read, NULL, FZ_MM, fz_count, &n, err,
			   sizeof err);
	const char *lib = opt & 1 ? "/lib/libc.so.6" : "libc.so.6";
	int rc = vsp_vma_find_module(&fz_lx, fz_read, NULL, FZ_MM, lib, &base,
				     &lo, &hi, err, sizeof err);
	if (rc == 0 && (base >= 0x800000000000ull || base < lo || base >= hi))
		FZ_FAIL("module base 0x%llx outside [0x%llx, 0x%llx)",
			(unsigned long long)base, (unsigned long long)lo,
			(unsigned long long)hi);
	if (getenv("FZ_VERBOSE"))
		printf("vmas %d, find %s: %d base 0x%llx (%s)\n", n, lib, rc,
		       rc == 0 ? (unsigned long long)base : 0ull, rc < 0 ? err : "");
	char path[64];
	(void)vsp_vma_dentry_name(&fz_lx, fz_read, NULL, FZ_K + 0x900, true,
				  path, sizeof path);

	/* The same bytes as a file read by offset: a static program's
	 * .symtab and its thread-local errno. */
	uint64_t v;
	int64_t stp;
	rc = vsp_uelf_symtab_lookup(fz_file_read, NULL, "main", &v, err,
				    sizeof err);
	if (getenv("FZ_VERBOSE"))
		printf("symtab main: %d %s\n", rc, rc < 0 ? err : "");
	rc = vsp_uelf_static_errno_tpoff(fz_file_read, NULL, &stp, err,
					 sizeof err);
	if (rc == 0 && (stp >= 0 || stp < -(int64_t)(1 << 30)))
		FZ_FAIL("static errno at %lld from the thread pointer",
			(long long)stp);
	if (getenv("FZ_VERBOSE"))
		printf("static errno: %d %s\n", rc, rc < 0 ? err : "");

	struct vsp_uelf e;
	if (vsp_uelf_open(&e, fz_read, NULL, FZ_U, err, sizeof err) == 0) {
		if (e.lo > e.base || e.hi <= e.lo)
			FZ_FAIL("module extent [0x%llx, 0x%llx) without its base",
				(unsigned long long)e.lo, (unsigned long long)e.hi);
		static const char *const names[] = { "system", "popen",
						     "__errno_location" };
		for (int i = 0; i < 3; i++) {
			rc = vsp_uelf_lookup(&e, fz_read, NULL, names[i], &a, err,
					     sizeof err);
			if (rc == 0 && (a < e.lo || a >= e.hi))
				FZ_FAIL("%s at 0x%llx outside the module", names[i],
					(unsigned long long)a);
			if (getenv("FZ_VERBOSE"))
				printf("%s: %d 0x%llx %s\n", names[i], rc,
				       rc == 0 ? (unsigned long long)a : 0ull,
				       rc < 0 ? err : "");
		}
		rc = vsp_uelf_soname(&e, fz_read, NULL, so, sizeof so);
		if (getenv("FZ_VERBOSE"))
			printf("soname: %d %s\n", rc, rc == 0 ? so : "");
		rc = vsp_uelf_errno_tpoff(&e, fz_read, NULL, &tp, err, sizeof err);
		if (getenv("FZ_VERBOSE"))
			printf("errno tpoff: %d %lld %s\n", rc, rc == 0 ? (long long)tp : 0,
			       rc < 0 ? err : "");
	} else if (getenv("FZ_VERBOSE")) {
		printf("elf: %s\n", err);
	}
	return 0;
}
