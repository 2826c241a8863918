/*
 * xen_pt.c: the guest page-table walk behind every guest-virtual access of
 * the Xen backend (see xen_pt.h).
 *
 * The walk follows the Intel SDM's IA-32e paging: one entry per level, the
 * index taken from nine bits of the address, the next table's frame from
 * bits 51:12 of the entry.  A PS bit at level 3 or 2 ends the walk with a
 * 1 GiB or 2 MiB page; at levels 5 and 4 it is reserved.  Frame masks stop
 * at bit 51 so the NX bit and the software-available high bits never leak
 * into an address, and large-page masks drop bit 12 (PAT for large pages).
 */
#include "vmi/xen_pt.h"

#include <errno.h>

#define XPT_P	(1ull << 0)
#define XPT_RW	(1ull << 1)
#define XPT_US	(1ull << 2)
#define XPT_PS	(1ull << 7)
#define XPT_NX	(1ull << 63)

#define XPT_FRAME_4K	0x000ffffffffff000ull
#define XPT_FRAME_2M	0x000fffffffe00000ull
#define XPT_FRAME_1G	0x000fffffc0000000ull

unsigned vsp_xpt_levels(const struct vsp_xpt_ctl *ctl)
{
	if (!(ctl->cr0 & VSP_XPT_CR0_PG))
		return 0;
	/* Long mode needs PAE; without LMA the guest uses 32-bit paging. */
	if (!(ctl->efer & VSP_XPT_EFER_LMA) || !(ctl->cr4 & VSP_XPT_CR4_PAE))
		return 2;
	return (ctl->cr4 & VSP_XPT_CR4_LA57) ? 5 : 4;
}

bool vsp_xpt_canonical(uint64_t gva, unsigned levels)
{
	unsigned bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(gva << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == gva;
}

const char *vsp_xpt_fault_str(enum vsp_xpt_fault f)
{
	switch (f) {
	case VSP_XPT_OK: return "translated";
	case VSP_XPT_NONCANONICAL: return "address is not canonical";
	case VSP_XPT_NOT_PRESENT: return "page not present";
	case VSP_XPT_RESERVED: return "reserved bit set in a page-table entry";
	case VSP_XPT_READ_FAILED: return "page-table frame unreadable";
	case VSP_XPT_UNSUPPORTED: return "guest is not in 64-bit paging mode";
	}
	return "unknown fault";
}

static int xpt_fail(struct vsp_xpt_result *res, enum vsp_xpt_fault f,
		    unsigned level, int code)
{
	res->fault = f;
	res->level = level;
	res->page_size = 0;
	res->gpa = 0;
	return code;
}

int vsp_xpt_translate(const struct vsp_xpt_ctl *ctl, uint64_t gva,
		      vsp_xpt_read_fn read, void *ctx,
		      struct vsp_xpt_result *res)
{
	unsigned levels = vsp_xpt_levels(ctl);
	uint64_t table = ctl->cr3 & XPT_FRAME_4K;

	res->writable = true;
	res->user = true;
	res->nx = false;
	if (levels == 0) {
		res->gpa = gva;
		res->page_size = 4096;
		res->level = 0;
		res->fault = VSP_XPT_OK;
		return 0;
	}
	if (levels == 2)
		return xpt_fail(res, VSP_XPT_UNSUPPORTED, 0, -ENOTSUP);
	if (!vsp_xpt_canonical(gva, levels))
		return xpt_fail(res, VSP_XPT_NONCANONICAL, levels, -EINVAL);

	for (unsigned level = levels; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t idx = (gva >> shift) & 0x1ff;
		uint64_t e;
		int rc = read(ctx, table + idx * 8, &e);

		if (rc < 0)
			return xpt_fail(res, VSP_XPT_READ_FAILED, level, rc);
		if (!(e & XPT_P))
			return xpt_fail(res, VSP_XPT_NOT_PRESENT, level, -EFAULT);
		res->writable = res->writable && (e & XPT_RW);
		res->user = res->user && (e & XPT_US);
		res->nx = res->nx || (e & XPT_NX);
		if (level == 1 || (e & XPT_PS)) {
			uint64_t mask;

			if (level == 1)
				mask = XPT_FRAME_4K;
			else if (level == 2)
				mask = XPT_FRAME_2M;
			else if (level == 3)
				mask = XPT_FRAME_1G;
			else
				return xpt_fail(res, VSP_XPT_RESERVED, level,
						-EFAULT);
			res->page_size = 1ull << shift;
			res->gpa = (e & mask) | (gva & (res->page_size - 1));
			res->level = level;
			res->fault = VSP_XPT_OK;
			return 0;
		}
		table = e & XPT_FRAME_4K;
	}
	/* Not reached: level 1 always returns above. */
	return xpt_fail(res, VSP_XPT_NOT_PRESENT, 1, -EFAULT);
}
