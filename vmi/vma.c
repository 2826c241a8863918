/*
 * vma.c: walking a process's maple tree of VMAs (vma.h).
 *
 * A maple tree entry that is a node carries its type in bits 3..6 and
 * has its low two bits 10; the node itself is 256-byte aligned.  Leaves
 * (maple_leaf_64) and range nodes (maple_range_64) share one layout, the
 * allocation-range nodes (maple_arange_64) of an mm's upper levels
 * another.  Slot i of a node covers up to pivot[i]; the node's last used
 * slot is in its metadata unless the node is full.  Everything read is
 * checked: a node must be a kernel address, a VMA must belong to the mm
 * and come after the one before it, so a cycle or a stale node ends the
 * walk with a message.
 */
#include "vmi/vma.h"

#include <stdio.h>
#include <string.h>

#include "base/errf.h"

#define VMA_KERNEL 0xff00000000000000ull	/* the kernel half, 5-level paging too */
#define VMA_USER_TOP 0x0100000000000000ull	/* 5-level paging: 56 bits */
#define VMA_NODE_BYTES 256

enum { MT_DENSE, MT_LEAF_64, MT_RANGE_64, MT_ARANGE_64 };

static bool vma_is_node(uint64_t e)
{
	return (e & 3) == 2 && e > 4096;
}

int vsp_vma_task_mm(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		    uint64_t task, uint64_t *mm)
{
	uint64_t v;

	if (!lx->have_mm || task < VMA_KERNEL ||
	    vsp_gread_all(read, ctx, task + lx->task_mm, &v, 8) < 0)
		return -1;
	if (v != 0 && v < VMA_KERNEL)
		return -1;
	*mm = v;
	return 0;
}

struct vma_level {
	uint8_t node[VMA_NODE_BYTES];
	unsigned type, next, end;
	uint64_t max;
};

static uint64_t vma_u64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return v;
}

/* Reads the node of entry `e` into lv; -1 when it is not one. */
static int vma_load(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		    uint64_t e, uint64_t max, struct vma_level *lv,
		    char *err, size_t errlen)
{
	uint64_t addr = e & ~(uint64_t)(VMA_NODE_BYTES - 1);
	unsigned type = (unsigned)(e >> 3) & 0xf;
	uint32_t pv, npv, meta, nslot;

	if (addr < VMA_KERNEL)
		return vsp_errf(err, errlen, "a maple node at 0x%llx is not a "
				 "kernel address", (unsigned long long)addr);
	if (type != MT_LEAF_64 && type != MT_RANGE_64 && type != MT_ARANGE_64)
		return vsp_errf(err, errlen, "a maple node of type %u", type);
	if (vsp_gread_all(read, ctx, addr, lv->node, sizeof(lv->node)) < 0)
		return vsp_errf(err, errlen, "cannot read the maple node at 0x%llx",
				 (unsigned long long)addr);
	if (type == MT_ARANGE_64) {
		pv = lx->a64_pivot, npv = lx->a64_npivot;
		meta = lx->a64_meta, nslot = lx->a64_nslot;
	} else {
		pv = lx->r64_pivot, npv = lx->r64_npivot;
		meta = lx->r64_meta, nslot = lx->r64_nslot;
	}
	if (pv + npv * 8 > VMA_NODE_BYTES || meta >= VMA_NODE_BYTES ||
	    lx->r64_slot + lx->r64_nslot * 8 > VMA_NODE_BYTES ||
	    lx->a64_slot + lx->a64_nslot * 8 > VMA_NODE_BYTES)
		return vsp_errf(err, errlen, "maple node layout larger than a node");
	/* ma_data_end(): the metadata, unless the last pivot is in use. */
	uint64_t last = vma_u64(lv->node, pv + (npv - 1) * 8);
	unsigned end;
	if (type == MT_ARANGE_64 || last == 0)
		end = lv->node[meta];
	else
		end = last == max ? npv - 1 : npv;
	if (end >= nslot)
		return vsp_errf(err, errlen, "a maple node ends at slot %u of %u",
				 end, nslot);
	lv->type = type;
	lv->next = 0;
	lv->end = end;
	lv->max = max;
	return 0;
}

static uint64_t vma_slot(const struct vsp_linux *lx, const struct vma_level *lv,
			 unsigned i)
{
	uint32_t s = lv->type == MT_ARANGE_64 ? lx->a64_slot : lx->r64_slot;
	return vma_u64(lv->node, s + i * 8);
}

/* The upper bound of slot i: its pivot, or the node's max for the last. */
static uint64_t vma_pivot(const struct vsp_linux *lx, const struct vma_level *lv,
			  unsigned i)
{
	uint32_t p = lv->type == MT_ARANGE_64 ? lx->a64_pivot : lx->r64_pivot;
	uint32_t n = lv->type == MT_ARANGE_64 ? lx->a64_npivot : lx->r64_npivot;
	return i < n ? vma_u64(lv->node, p + i * 8) : lv->max;
}

static int vma_visit(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		     uint64_t mm, uint64_t e, uint64_t *prev_end,
		     vsp_vma_fn fn, void *arg, char *err, size_t errlen)
{
	struct vsp_vma v = { .addr = e };
	uint64_t owner;

	if (e < VMA_KERNEL || (e & 7))
		return vsp_errf(err, errlen, "a VMA pointer 0x%llx is not a "
				 "kernel address", (unsigned long long)e);
	if (vsp_gread_all(read, ctx, e + lx->vma_start, &v.start, 8) < 0 ||
	    vsp_gread_all(read, ctx, e + lx->vma_end, &v.end, 8) < 0 ||
	    vsp_gread_all(read, ctx, e + lx->vma_mm, &owner, 8) < 0 ||
	    vsp_gread_all(read, ctx, e + lx->vma_flags, &v.flags, 8) < 0 ||
	    vsp_gread_all(read, ctx, e + lx->vma_pgoff, &v.pgoff, 8) < 0 ||
	    vsp_gread_all(read, ctx, e + lx->vma_file, &v.file, 8) < 0)
		return vsp_errf(err, errlen, "cannot read the VMA at 0x%llx",
				 (unsigned long long)e);
	if (owner != mm)
		return vsp_errf(err, errlen, "the VMA at 0x%llx belongs to another "
				 "mm", (unsigned long long)e);
	if (v.start >= v.end || v.end > VMA_USER_TOP || v.start < *prev_end)
		return vsp_errf(err, errlen, "the VMA at 0x%llx [0x%llx, 0x%llx) "
				 "is out of order", (unsigned long long)e,
				 (unsigned long long)v.start,
				 (unsigned long long)v.end);
	*prev_end = v.end;
	if (v.file) {
		if (v.file < VMA_KERNEL ||
		    vsp_gread_all(read, ctx, v.file + lx->file_dentry, &v.dentry,
				  8) < 0 || v.dentry < VMA_KERNEL)
			v.dentry = 0;
	}
	return fn(arg, &v);
}

int vsp_vma_walk(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		 uint64_t mm, vsp_vma_fn fn, void *arg, char *err,
		 size_t errlen)
{
	struct vma_level st[VSP_VMA_MAX_DEPTH];
	uint64_t root, prev_end = 0;
	unsigned nodes = 0, vmas = 0;
	int depth = 0, rc;

	if (!lx->have_mm)
		return vsp_errf(err, errlen, "no maple tree offsets in the BTF");
	if (mm < VMA_KERNEL ||
	    vsp_gread_all(read, ctx, mm + lx->mm_mt + lx->mt_root, &root, 8) < 0)
		return vsp_errf(err, errlen, "cannot read the mm's maple tree");
	if (root == 0)
		return 0;
	if (!vma_is_node(root))		/* a single entry at index 0 */
		return vma_visit(lx, read, ctx, mm, root, &prev_end, fn, arg,
				 err, errlen);
	if (vma_load(lx, read, ctx, root, UINT64_MAX, &st[0], err, errlen) < 0)
		return -1;
	nodes = 1;
	while (depth >= 0) {
		struct vma_level *lv = &st[depth];
		if (lv->next > lv->end) {
			depth--;
			continue;
		}
		unsigned i = lv->next++;
		uint64_t e = vma_slot(lx, lv, i);
		if (e == 0)
			continue;
		if (lv->type != MT_LEAF_64) {
			/* Children are encoded nodes: the pointer, the type
			 * in bits 3..6 and bit 2 (MAPLE_ENODE_NULL); only
			 * the root also has bit 1.  vma_load checks the type. */
			if (e < VMA_KERNEL || !(vma_is_node(e) || (e & 7) == 4))
				return vsp_errf(err, errlen, "an inner maple slot "
						 "holds no node");
			if (++nodes > VSP_VMA_MAX_NODES)
				return vsp_errf(err, errlen, "the maple tree has "
						 "more than %d nodes (a cycle?)",
						 VSP_VMA_MAX_NODES);
			if (depth + 1 >= VSP_VMA_MAX_DEPTH)
				return vsp_errf(err, errlen, "the maple tree is "
						 "deeper than %d", VSP_VMA_MAX_DEPTH);
			if (vma_load(lx, read, ctx, e, vma_pivot(lx, lv, i),
				     &st[depth + 1], err, errlen) < 0)
				return -1;
			depth++;
			continue;
		}
		if (vma_is_node(e) || (e & 3) == 2)
			continue;	/* reserved and internal values */
		if (++vmas > VSP_VMA_MAX_VMAS)
			return vsp_errf(err, errlen, "more than %d VMAs",
					 VSP_VMA_MAX_VMAS);
		rc = vma_visit(lx, read, ctx, mm, e, &prev_end, fn, arg, err,
			       errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* The name of one dentry into buf; its length, or -1. */
static int vma_dname(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		     uint64_t dentry, char *buf, size_t size)
{
	uint64_t name;

	if (size < 2 || dentry < VMA_KERNEL ||
	    vsp_gread_all(read, ctx, dentry + lx->dentry_name, &name, 8) < 0 ||
	    name < VMA_KERNEL)
		return -1;
	long n = read(ctx, name, buf, size - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	size_t len = strnlen(buf, (size_t)n);
	if (len == (size_t)n && (size_t)n == size - 1)
		return -1;	/* longer than the buffer */
	return (int)len;
}

int vsp_vma_dentry_name(const struct vsp_linux *lx, vsp_gread_fn read,
			void *ctx, uint64_t dentry, bool path, char *buf,
			size_t size)
{
	char part[256];
	int n;

	if (!path) {
		n = vma_dname(lx, read, ctx, dentry, buf, size);
		return n < 0 ? -1 : 0;
	}
	/* Components from the leaf up, written from the buffer's end. */
	if (size < 2)
		return -1;
	size_t at = size - 1;
	buf[at] = '\0';
	for (int depth = 0; depth < 64; depth++) {
		uint64_t parent;
		if (vsp_gread_all(read, ctx, dentry + lx->dentry_parent, &parent,
				  8) < 0 || parent < VMA_KERNEL)
			return -1;
		if (parent == dentry) {		/* the filesystem's root */
			if (at == size - 1)
				buf[--at] = '/';
			memmove(buf, buf + at, size - at);
			return 0;
		}
		n = vma_dname(lx, read, ctx, dentry, part, sizeof(part));
		if (n <= 0 || (size_t)n + 1 > at || memchr(part, '/', (size_t)n))
			return -1;
		at -= (size_t)n;
		memcpy(buf + at, part, (size_t)n);
		buf[--at] = '/';
		dentry = parent;
	}
	return -1;
}

struct vma_find {
	const struct vsp_linux *lx;
	vsp_gread_fn read;
	void *ctx;
	const char *lib;
	bool path;
	uint64_t last_dentry;	/* the last one compared, and its verdict */
	bool last_match;
	bool found, have_base;
	uint64_t base, lo, hi;
};

static int vma_find_one(void *arg, const struct vsp_vma *v)
{
	struct vma_find *f = arg;
	char name[VSP_VMA_MAX_PATH];

	if (!v->dentry)
		return 0;
	if (v->dentry != f->last_dentry) {
		f->last_dentry = v->dentry;
		f->last_match = vsp_vma_dentry_name(f->lx, f->read, f->ctx,
						    v->dentry, f->path, name,
						    sizeof(name)) == 0 &&
				strcmp(name, f->lib) == 0;
	}
	if (!f->last_match)
		return 0;
	if (!f->found || v->start < f->lo)
		f->lo = v->start;
	if (!f->found || v->end > f->hi)
		f->hi = v->end;
	f->found = true;
	if (v->pgoff == 0 && !f->have_base) {
		f->have_base = true;
		f->base = v->start;
	}
	return 0;
}

int vsp_vma_find_module(const struct vsp_linux *lx, vsp_gread_fn read,
			void *ctx, uint64_t mm, const char *lib,
			uint64_t *base, uint64_t *lo, uint64_t *hi,
			char *err, size_t errlen)
{
	struct vma_find f = { .lx = lx, .read = read, .ctx = ctx, .lib = lib,
			      .path = lib[0] == '/' };

	if (vsp_vma_walk(lx, read, ctx, mm, vma_find_one, &f, err, errlen) < 0)
		return -1;
	if (!f.have_base)
		return 1;
	*base = f.base;
	if (lo)
		*lo = f.lo;
	if (hi)
		*hi = f.hi;
	return 0;
}
