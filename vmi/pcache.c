/*
 * pcache.c: a mapped file's bytes from the guest's page cache (pcache.h).
 *
 * An xarray entry whose low two bits are 10 is internal: above 4096 a
 * node (the pointer plus 2), below 256 a sibling (the slot number shifted
 * by 2: a large folio's other indexes point at its first slot).  An entry
 * with the low bit set is a value (a shadow of an evicted page), not a
 * page.  A node's shift says which bits of the index choose its slot.
 */
#include "vmi/pcache.h"

#include <elf.h>
#include <string.h>

#include "base/errf.h"

#define PC_PAGE 4096ull
#define PC_SLOTS 64
#define PC_MAX_FOLIO 512	/* pages in the largest folio accepted */

static int pc_u64(const struct vsp_pcache *pc, uint64_t a, uint64_t *v)
{
	return pc->read(pc->ctx, a, v, 8) == 8 ? 0 : -1;
}

static bool pc_is_node(uint64_t e)
{
	return (e & 3) == 2 && e > 4096;
}

/* The struct page of file page `index`, or 0. */
static uint64_t pc_page(const struct vsp_pcache *pc, uint64_t mapping,
			uint64_t index)
{
	const struct vsp_linux *lx = pc->lx;
	uint64_t e;

	if (pc_u64(pc, mapping + lx->as_xa_head, &e) < 0)
		return 0;
	if (!pc_is_node(e))
		return index == 0 && e && !(e & 3) ? e : 0;
	bool top = true;
	for (unsigned depth = 0; depth < VSP_PC_MAX_DEPTH && pc_is_node(e); depth++) {
		uint64_t node = e - 2;
		uint8_t shift;
		if (pc->read(pc->ctx, node + lx->xa_shift, &shift, 1) != 1 ||
		    shift % 6 || shift >= 64)
			return 0;
		if (top && shift + 6 < 64 && (index >> shift) >= PC_SLOTS)
			return 0;	/* past what the tree holds */
		top = false;
		uint64_t slot = (index >> shift) & (PC_SLOTS - 1);
		if (pc_u64(pc, node + lx->xa_slots + slot * 8, &e) < 0)
			return 0;
		if ((e & 3) == 2 && e < 256 && (e >> 2) < PC_SLOTS &&
		    pc_u64(pc, node + lx->xa_slots + (e >> 2) * 8, &e) < 0)
			return 0;	/* a sibling: its folio's first slot */
		if (shift == 0 && pc_is_node(e))
			return 0;	/* a leaf that points further down */
	}
	if (!e || (e & 3))
		return 0;	/* absent, a value, or still internal */
	/* A large folio: its first page's index, and ours within it. */
	uint64_t first;
	if (pc_u64(pc, e + lx->page_index, &first) < 0 || first > index ||
	    index - first >= PC_MAX_FOLIO)
		return 0;
	return e + (index - first) * lx->page_size;
}

long vsp_pcache_read(const struct vsp_pcache *pc, uint64_t mapping,
		     uint64_t off, void *buf, size_t len)
{
	size_t done = 0;

	if (!pc->lx || !pc->lx->have_pcache || !pc->lx->page_size)
		return -1;
	while (done < len) {
		uint64_t o = off + done;
		if (o < off)
			break;	/* wrapped */
		uint64_t page = pc_page(pc, mapping, o / PC_PAGE);
		if (!page || page < pc->vmemmap ||
		    (page - pc->vmemmap) % pc->lx->page_size)
			break;
		uint64_t pfn = (page - pc->vmemmap) / pc->lx->page_size;
		if (pfn > (1ull << 40))
			break;	/* past any physical memory */
		size_t n = (size_t)(PC_PAGE - o % PC_PAGE);
		if (n > len - done)
			n = len - done;
		uint64_t va = pc->page_offset + pfn * PC_PAGE + o % PC_PAGE;
		if (pc->read(pc->ctx, va, (uint8_t *)buf + done, n) != (long)n)
			break;
		done += n;
	}
	return done ? (long)done : -1;
}

int vsp_pcmod_open(struct vsp_pcmod *pm, const struct vsp_pcache *pc,
		   uint64_t mapping, uint64_t dyn_bias, char *err,
		   size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	memset(pm, 0, sizeof *pm);
	pm->pc = pc;
	pm->mapping = mapping;
	if (vsp_pcache_read(pc, mapping, 0, &eh, sizeof eh) != (long)sizeof eh)
		return vsp_errf(err, errlen, "the file's first page is not in "
				"the page cache");
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    (eh.e_type != ET_DYN && eh.e_type != ET_EXEC))
		return vsp_errf(err, errlen, "not a 64-bit ELF program or "
				"shared object");
	if (eh.e_phentsize != sizeof ph || eh.e_phnum == 0 || eh.e_phnum > 64 ||
	    eh.e_phoff > PC_PAGE ||
	    eh.e_phoff + eh.e_phnum * sizeof ph > PC_PAGE)
		return vsp_errf(err, errlen, "the program headers do not fit "
				"the first page");
	pm->bias = eh.e_type == ET_EXEC ? 0 : dyn_bias;
	bool have0 = false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (vsp_pcache_read(pc, mapping, eh.e_phoff + i * sizeof ph, &ph,
				    sizeof ph) != (long)sizeof ph)
			return vsp_errf(err, errlen, "cannot read the program headers");
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if (pm->nseg == VSP_PC_MAX_SEGS)
			return vsp_errf(err, errlen, "more than %d PT_LOAD segments",
					VSP_PC_MAX_SEGS);
		if (ph.p_filesz > (1ull << 36) || ph.p_offset > (1ull << 36) ||
		    ph.p_vaddr > (1ull << 47) || ph.p_filesz > ph.p_memsz)
			return vsp_errf(err, errlen, "a PT_LOAD segment is out of range");
		pm->seg[pm->nseg].vaddr = ph.p_vaddr;
		pm->seg[pm->nseg].filesz = ph.p_filesz;
		pm->seg[pm->nseg].off = ph.p_offset;
		pm->nseg++;
		if (ph.p_offset == 0 && !have0) {
			have0 = true;
			pm->base = pm->bias + (ph.p_vaddr & ~(PC_PAGE - 1));
		}
	}
	if (!have0)
		return vsp_errf(err, errlen, "no PT_LOAD maps the ELF header");
	return 0;
}

int vsp_pcmod_foff(const struct vsp_pcmod *pm, uint64_t addr, uint64_t *foff)
{
	if (addr < pm->bias)
		return -1;
	uint64_t v = addr - pm->bias;
	for (unsigned i = 0; i < pm->nseg; i++)
		if (v >= pm->seg[i].vaddr && v - pm->seg[i].vaddr < pm->seg[i].filesz) {
			*foff = pm->seg[i].off + (v - pm->seg[i].vaddr);
			return 0;
		}
	/* The header page before the first segment's vaddr (page-aligned
	 * down when it is mapped). */
	if (addr >= pm->base && addr - pm->base < PC_PAGE) {
		*foff = addr - pm->base;
		return 0;
	}
	return -1;
}

long vsp_pcmod_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct vsp_pcmod *pm = ctx;
	size_t done = 0;

	while (done < len) {
		uint64_t foff;
		if (vsp_pcmod_foff(pm, addr + done, &foff) < 0)
			break;
		/* Within one page of the file and of the image. */
		size_t n = (size_t)(PC_PAGE - foff % PC_PAGE);
		size_t na = (size_t)(PC_PAGE - (addr + done) % PC_PAGE);
		if (na < n)
			n = na;
		if (n > len - done)
			n = len - done;
		long got = vsp_pcache_read(pm->pc, pm->mapping, foff,
					   (uint8_t *)buf + done, n);
		if (got <= 0)
			break;
		done += (size_t)got;
		if ((size_t)got < n)
			break;
	}
	return done ? (long)done : -1;
}

long vsp_pcmod_file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct vsp_pcmod *pm = ctx;

	return vsp_pcache_read(pm->pc, pm->mapping, off, buf, len);
}
