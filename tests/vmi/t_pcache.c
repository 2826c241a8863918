/*
 * t_pcache.c: a file's bytes from the guest's page cache, and a module's
 * image over them (vmi/pcache.h).
 *
 * A memory image laid out as the kernel has it: an address_space whose
 * i_pages xarray holds struct pages (at vmemmap_base), whose bytes sit in
 * the direct map (at page_offset_base).  The file is a small ELF whose
 * second segment is mapped away from its file offset.  Then the guest
 * lies: a node that points back at itself, a bad shift, a value entry, a
 * folio index past the page, program headers past the first page.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/pcache.h"

#define K 0xffff888000000000ull		/* page_offset_base: the direct map */
#define VMEMMAP 0xffffea0000000000ull
#define NPHYS 16
#define SPAGE 64			/* sizeof(struct page) */
#define PIDX 32				/* struct page.index */
#define META (K + 12 * 4096)		/* nodes and the address_space: pfn 12 */
#define MAPPING (META)
#define NODE0 (META + 0x200)
#define NODE1 (META + 0x600)

static uint8_t phys[NPHYS][4096];
static uint8_t pages[NPHYS][SPAGE];
static uint64_t nreads;

static long rd(void *ctx, uint64_t a, void *buf, size_t len)
{
	(void)ctx;
	nreads++;
	if (a >= K && a - K < sizeof phys && len <= sizeof phys - (a - K)) {
		memcpy(buf, (uint8_t *)phys + (a - K), len);
		return (long)len;
	}
	if (a >= VMEMMAP && a - VMEMMAP < sizeof pages &&
	    len <= sizeof pages - (a - VMEMMAP)) {
		memcpy(buf, (uint8_t *)pages + (a - VMEMMAP), len);
		return (long)len;
	}
	return -EFAULT;
}

static void put(uint64_t a, uint64_t v)
{
	if (a >= VMEMMAP)
		memcpy((uint8_t *)pages + (a - VMEMMAP), &v, 8);
	else
		memcpy((uint8_t *)phys + (a - K), &v, 8);
}

static uint64_t page(unsigned pfn) { return VMEMMAP + pfn * SPAGE; }
static uint64_t node(uint64_t a) { return a | 2; }

static const struct vsp_linux lx = {
	.have_pcache = true, .as_xa_head = 8, .xa_shift = 0, .xa_slots = 16,
	.page_size = SPAGE, .page_index = PIDX,
};
static const struct vsp_pcache pc = {
	.lx = &lx, .read = rd, .page_offset = K, .vmemmap = VMEMMAP,
};

/* File page i is physical page 2 + i, filled with (i, offset) bytes,
 * behind a one-level node; the ELF in pages 0..1. */
static void build(void)
{
	memset(phys, 0, sizeof phys);
	memset(pages, 0, sizeof pages);
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned b = 0; b < 4096; b++)
			phys[2 + i][b] = (uint8_t)(i * 16 + b % 16);
		put(page(2 + i) + PIDX, i);
		put(NODE0 + 16 + i * 8, page(2 + i));
	}
	put(MAPPING + 8, node(NODE0));

	Elf64_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_X86_64,
			  .e_phoff = 64, .e_phentsize = sizeof(Elf64_Phdr),
			  .e_phnum = 2 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_offset = 0, .p_vaddr = 0,
		  .p_filesz = 0x1000, .p_memsz = 0x1000 },
		{ .p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = 0x3000,
		  .p_filesz = 0x800, .p_memsz = 0x2000 },
	};
	memcpy(phys[2], &eh, sizeof eh);
	memcpy(phys[2] + 64, ph, sizeof ph);
}

int main(void)
{
	uint8_t b[8192];
	long n;

	build();
	n = vsp_pcache_read(&pc, MAPPING, 4096 + 5, b, 4);
	ok(n == 4 && b[0] == 16 + 5 && b[3] == 16 + 8, "a page's bytes by file offset");
	n = vsp_pcache_read(&pc, MAPPING, 4096 - 2, b, 4);
	ok(n == 4 && b[1] == 15 && b[2] == 16, "a read across two pages");
	n = vsp_pcache_read(&pc, MAPPING, 3 * 4096 + 10, b, 8192);
	ok(n == 4096 - 10, "a read past the cached pages is short (%ld)", n);
	ok(vsp_pcache_read(&pc, MAPPING, 64 * 4096, b, 4) == -1,
	   "an index past what a one-level node holds");

	/* Two levels: the root's slot 0 holds the node above. */
	put(MAPPING + 8, node(NODE1));
	phys[12][0x600] = 6;	/* NODE1.shift */
	put(NODE1 + 16, node(NODE0));
	n = vsp_pcache_read(&pc, MAPPING, 2 * 4096, b, 2);
	ok(n == 2 && b[0] == 32, "a two-level tree");
	ok(vsp_pcache_read(&pc, MAPPING, 64 * 4096, b, 4) == -1,
	   "an empty slot of the root");

	/* A node that points at itself: bounded, no page. */
	put(NODE1 + 16, node(NODE1));
	phys[12][0x600] = 0;
	nreads = 0;
	ok(vsp_pcache_read(&pc, MAPPING, 0, b, 4) == -1 && nreads < 40,
	   "a node pointing at itself ends (%llu reads)", (unsigned long long)nreads);
	phys[12][0x600] = 6;
	put(NODE1 + 16, node(NODE1));
	nreads = 0;
	ok(vsp_pcache_read(&pc, MAPPING, 0, b, 4) == -1 && nreads < 40,
	   "a cycle through a non-leaf ends (%llu reads)", (unsigned long long)nreads);
	phys[12][0x600] = 7;
	ok(vsp_pcache_read(&pc, MAPPING, 0, b, 4) == -1, "a shift that is no level");

	build();
	put(NODE0 + 16 + 8, 0x1234 << 1 | 1);	/* page 1: a shadow value */
	ok(vsp_pcache_read(&pc, MAPPING, 4096, b, 4) == -1, "a value entry is no page");
	ok(vsp_pcache_read(&pc, MAPPING, 0, b, 8192) == 4096,
	   "the read stops at the missing page");
	/* A large folio: index 1 is a sibling of slot 0. */
	put(NODE0 + 16 + 8, (0 << 2) | 2);
	n = vsp_pcache_read(&pc, MAPPING, 4096 + 1, b, 1);
	ok(n == 1 && b[0] == phys[3][1], "a large folio's second page");
	put(page(2) + PIDX, 7);
	ok(vsp_pcache_read(&pc, MAPPING, 0, b, 1) == -1,
	   "a folio whose index lies past the page");
	build();
	put(NODE0 + 16, page(2) + 3);	/* not a struct page boundary */
	ok(vsp_pcache_read(&pc, MAPPING, 0, b, 1) == -1, "a misaligned page pointer");
	put(NODE0 + 16, K + 8);		/* not in vmemmap */
	ok(vsp_pcache_read(&pc, MAPPING, 0, b, 1) == -1, "a page pointer outside vmemmap");

	/* The module image. */
	build();
	struct vsp_pcmod pm;
	char err[160];
	ok(vsp_pcmod_open(&pm, &pc, MAPPING, 0x100000000000ull, err, sizeof err) == 0,
	   "the ELF opens (%s)", err);
	ok(pm.base == 0x100000000000ull && pm.nseg == 2, "its header at the bias");
	uint64_t foff = 0;
	ok(vsp_pcmod_foff(&pm, pm.bias + 0x3010, &foff) == 0 && foff == 0x1010,
	   "a segment mapped away from its offset: file offset 0x%llx",
	   (unsigned long long)foff);
	ok(vsp_pcmod_foff(&pm, pm.bias + 0x3900, &foff) < 0,
	   "bss has no file offset");
	n = vsp_pcmod_read(&pm, pm.bias + 0x3010, b, 4);
	ok(n == 4 && b[0] == phys[3][0x10], "the image reads the file where the segment comes from");
	ok(vsp_pcmod_read(&pm, pm.bias + 0x2000, b, 4) == -1, "a hole between segments");

	Elf64_Ehdr *eh = (Elf64_Ehdr *)phys[2];
	eh->e_phnum = 200;
	ok(vsp_pcmod_open(&pm, &pc, MAPPING, 0x100000000000ull, err, sizeof err) < 0 &&
	   strstr(err, "program headers"), "too many program headers: %s", err);
	eh->e_phnum = 2;
	eh->e_phoff = 4090;
	ok(vsp_pcmod_open(&pm, &pc, MAPPING, 0x100000000000ull, err, sizeof err) < 0,
	   "program headers past the first page: %s", err);
	eh->e_phoff = 64;
	((Elf64_Phdr *)(phys[2] + 64))[0].p_offset = 0x1000;
	ok(vsp_pcmod_open(&pm, &pc, MAPPING, 0x100000000000ull, err, sizeof err) < 0,
	   "no segment maps the header: %s", err);
	build();
	((Elf64_Phdr *)(phys[2] + 64))[1].p_filesz = 1ull << 40;
	ok(vsp_pcmod_open(&pm, &pc, MAPPING, 0x100000000000ull, err, sizeof err) < 0,
	   "a segment past any file: %s", err);
	build();
	eh = (Elf64_Ehdr *)phys[2];
	eh->e_ident[0] = 0;
	ok(vsp_pcmod_open(&pm, &pc, MAPPING, 0x100000000000ull, err, sizeof err) < 0,
	   "not an ELF: %s", err);
	put(MAPPING + 8, 0);
	ok(vsp_pcmod_open(&pm, &pc, MAPPING, 0x100000000000ull, err, sizeof err) < 0,
	   "no page cached: %s", err);
	return done();
}
