/*
 * vma.h: a guest process's memory map, read from its mm_struct.
 *
 * To trap a function of a library in a process, vsp must know where that
 * process maps the library, for processes that mapped it before vsp
 * attached as well as after.  Linux 6.1 keeps a process's VMAs in a maple
 * tree (mm_struct.mm_mt); this walks it with the offsets of vmi/linux.h
 * (from BTF) and reports each VMA: its range, flags, file offset and the
 * file's dentry, whose name (or path up to its filesystem's root) tells
 * the module.
 *
 * The tree is guest memory: a node that points back up, a slot that is
 * not a node, a VMA of another mm, all end in an error or are skipped.
 * The walk visits at most VSP_VMA_MAX_NODES nodes to depth
 * VSP_VMA_MAX_DEPTH and reports at most VSP_VMA_MAX_VMAS VMAs, so a cycle
 * cannot hang it; it never allocates.
 */
#ifndef VSP_VMA_H
#define VSP_VMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmi/kaslr.h"
#include "vmi/linux.h"

#define VSP_VMA_MAX_NODES 4096
#define VSP_VMA_MAX_DEPTH 16
#define VSP_VMA_MAX_VMAS 65536
#define VSP_VMA_MAX_PATH 512

struct vsp_vma {
	uint64_t addr;		/* the vm_area_struct */
	uint64_t start, end;	/* [start, end) */
	uint64_t flags;		/* vm_flags: VM_READ 1, VM_WRITE 2, VM_EXEC 4 */
	uint64_t pgoff;		/* file offset in pages */
	uint64_t file;		/* struct file, or 0 for anonymous memory */
	uint64_t dentry;	/* the file's dentry, or 0 */
};

/* Called for each VMA in address order; a nonzero return stops the walk
 * and becomes vsp_vma_walk's result. */
typedef int (*vsp_vma_fn)(void *arg, const struct vsp_vma *v);

/* The mm of the task at `task` (0 for a kernel thread): 0 or -1. */
int vsp_vma_task_mm(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		    uint64_t task, uint64_t *mm);

/*
 * Walks the VMAs of `mm`.  Returns 0 when every VMA was visited, fn's
 * nonzero result when it stopped the walk, or -1 with a message when the
 * tree is damaged or unreadable (the VMAs reported until then stand).
 */
int vsp_vma_walk(const struct vsp_linux *lx, vsp_gread_fn read, void *ctx,
		 uint64_t mm, vsp_vma_fn fn, void *arg, char *err,
		 size_t errlen);

/*
 * The name of `dentry` into buf: its last component, or with `path` the
 * path from its filesystem's root ("/lib/x86_64-linux-gnu/libc.so.6").
 * 0, or -1 when unreadable or longer than size.
 */
int vsp_vma_dentry_name(const struct vsp_linux *lx, vsp_gread_fn read,
			void *ctx, uint64_t dentry, bool path, char *buf,
			size_t size);

/*
 * Where `mm` maps the module `lib`: a file name ("libc.so.6": matched
 * against the last component) or an absolute path (matched against the
 * path).  *base is the start of the mapping of the file's first page, the
 * address vmi/uelf.h reads the ELF header at; *lo and *hi (may be NULL)
 * the extent of every VMA of that file.  0 found, 1 not mapped, -1 error.
 */
int vsp_vma_find_module(const struct vsp_linux *lx, vsp_gread_fn read,
			void *ctx, uint64_t mm, const char *lib,
			uint64_t *base, uint64_t *lo, uint64_t *hi,
			char *err, size_t errlen);

#endif
