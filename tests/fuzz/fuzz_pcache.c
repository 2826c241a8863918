/*
 * fuzz_pcache.c: fuzz target for the page-cache reader and the module
 * image over it (vmi/pcache.h), with the ELF reader (vmi/uelf.h) on top,
 * as vmi/site_user.c resolves a user function in a freshly mapped module.
 *
 * The input is a small guest: 16 KiB of physical memory seen through the
 * direct map (the file's pages, the address_space at 0x3000 and xarray
 * nodes wherever the input puts them) and the struct pages of those four
 * frames at vmemmap_base.  The target reads the file at a few offsets,
 * opens the image, maps addresses to file offsets, resolves two
 * functions and errno's TLS offset.
 *
 * Invariants: every call returns; reads stay under a fixed budget; a read
 * never claims more than was asked; a file offset found lies in a
 * segment's file part.
 *
 * Input: 1 byte of options, 256 bytes of struct pages (4 x 64), 16384
 * bytes of physical memory; short inputs leave the rest zero.
 */
#include <errno.h>

#include "fz_common.h"
#include "vmi/pcache.h"
#include "vmi/uelf.h"

#define FZ_K 0xffff888000000000ull
#define FZ_VMEMMAP 0xffffea0000000000ull
#define FZ_NPAGE 4
#define FZ_SPAGE 64
#define FZ_MAPPING (FZ_K + 0x3000)
#define FZ_MAX_READS 200000

static struct {
	uint8_t pages[FZ_NPAGE * FZ_SPAGE];
	uint8_t phys[FZ_NPAGE * 4096];
	uint64_t reads;
} fz;

static const struct vsp_linux fz_lx = {
	.have_pcache = true, .as_xa_head = 8, .xa_shift = 0, .xa_slots = 16,
	.page_size = FZ_SPAGE, .page_index = 32,
};

static long fz_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	(void)ctx;
	if (++fz.reads > FZ_MAX_READS)
		FZ_FAIL("more than %d reads: a walk does not end", FZ_MAX_READS);
	const uint8_t *mem;
	uint64_t off, n;
	if (gva >= FZ_K && gva - FZ_K < sizeof fz.phys)
		mem = fz.phys, off = gva - FZ_K, n = sizeof fz.phys;
	else if (gva >= FZ_VMEMMAP && gva - FZ_VMEMMAP < sizeof fz.pages)
		mem = fz.pages, off = gva - FZ_VMEMMAP, n = sizeof fz.pages;
	else
		return -EFAULT;
	if (len > n - off)
		len = (size_t)(n - off);
	memcpy(buf, mem + off, len);
	return (long)len;
}

static const struct vsp_pcache fz_pc = {
	.lx = &fz_lx, .read = fz_read, .page_offset = FZ_K,
	.vmemmap = FZ_VMEMMAP,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	static uint8_t buf[3 * 4096];
	char err[256];

	memset(&fz, 0, sizeof fz);
	uint8_t opt = fz_u8(&in);
	for (size_t i = 0; i < sizeof fz.pages; i++)
		fz.pages[i] = fz_u8(&in);
	for (size_t i = 0; i < sizeof fz.phys; i++)
		fz.phys[i] = fz_u8(&in);

	static const uint64_t offs[] = { 0, 4093, 8192, 1ull << 40, ~0ull - 2 };
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		size_t want = (opt & 1) ? sizeof buf : 17;
		long n = vsp_pcache_read(&fz_pc, FZ_MAPPING, offs[i], buf, want);
		if (n == 0 || n < -1 || n > (long)want)
			FZ_FAIL("read at 0x%llx gave %ld of %zu",
				(unsigned long long)offs[i], n, want);
	}

	struct vsp_pcmod pm;
	if (vsp_pcmod_open(&pm, &fz_pc, FZ_MAPPING, 0x100000000000ull, err,
			   sizeof err) < 0)
		return 0;
	if (pm.nseg > VSP_PC_MAX_SEGS)
		FZ_FAIL("%u segments", pm.nseg);
	uint64_t foff;
	for (uint64_t a = pm.base; a < pm.base + 0x4000; a += 0x7f3)
		if (vsp_pcmod_foff(&pm, a, &foff) == 0 && foff > (1ull << 37))
			FZ_FAIL("file offset 0x%llx past any segment",
				(unsigned long long)foff);
	struct vsp_uelf e;
	if (vsp_uelf_open(&e, vsp_pcmod_read, &pm, pm.base, err, sizeof err) < 0)
		return 0;
	static const char *const names[] = { "system", "__errno_location" };
	for (int i = 0; i < 2; i++) {
		uint64_t a = 0;
		int rc = vsp_uelf_lookup(&e, vsp_pcmod_read, &pm, names[i], &a,
					 err, sizeof err);
		if (rc == 0 && (a < e.lo || a >= e.hi))
			FZ_FAIL("%s outside the module", names[i]);
		if (getenv("FZ_VERBOSE"))
			printf("%s: %s\n", names[i], rc == 0 ? "found" : err);
	}
	int64_t tp;
	(void)vsp_uelf_errno_tpoff(&e, vsp_pcmod_read, &pm, &tp, err, sizeof err);
	return 0;
}
