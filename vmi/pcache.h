/*
 * pcache.h: a mapped file's bytes, read from the guest kernel's page
 * cache.
 *
 * To trap `user "libc.so.6":system` in a process that has just mapped
 * libc, vsp needs system()'s place in the file before the process has
 * touched any of libc's pages: its own mapping of the ELF header and the
 * dynamic symbols is not present yet, but the file's pages are in the
 * page cache (the loader read the header through it; an initramfs keeps
 * every page there).  This reads a file's bytes by offset through
 * file->f_mapping's xarray of pages (struct page, to its physical page
 * through vmemmap_base, to its bytes through the direct map at
 * page_offset_base), and presents a module's image as the loader would
 * map it, so vmi/uelf.h resolves functions from it unchanged.  Nothing of
 * the guest's disk is read, and ASLR changes nothing: the result is the
 * function's file offset, which each process's mapping then places.
 *
 * Guest memory is hostile: the xarray walk is at most VSP_PC_MAX_DEPTH
 * levels, each read bounded; a page not in the cache, a value entry (a
 * page swapped or evicted), a node that lies, all end in an error.  Nothing
 * allocates.
 */
#ifndef VSP_PCACHE_H
#define VSP_PCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "vmi/kaslr.h"
#include "vmi/linux.h"

#define VSP_PC_MAX_DEPTH 11	/* 64-bit indexes, 6 bits a level */
#define VSP_PC_MAX_SEGS 16

struct vsp_pcache {
	const struct vsp_linux *lx;	/* have_pcache */
	vsp_gread_fn read;
	void *ctx;
	uint64_t page_offset;	/* the value of page_offset_base */
	uint64_t vmemmap;	/* the value of vmemmap_base */
};

/* Reads up to len bytes at file offset off of the file whose
 * address_space is `mapping`: how many (short where a page is not
 * cached), or -1 when not even the first page is. */
long vsp_pcache_read(const struct vsp_pcache *pc, uint64_t mapping,
		     uint64_t off, void *buf, size_t len);

/*
 * A module's image as the loader maps it, over its file's cached pages:
 * an address A reads the file where the PT_LOAD segment holding A - bias
 * comes from (bias 0 for ET_EXEC, else `dyn_bias`).  The ELF header is at
 * `base` (vsp_uelf_open's argument).
 */
struct vsp_pcmod {
	const struct vsp_pcache *pc;
	uint64_t mapping;
	uint64_t bias, base;
	unsigned nseg;
	struct {
		uint64_t vaddr, filesz, off;
	} seg[VSP_PC_MAX_SEGS];
};

/* 0, or -1 with a message (not an ELF, headers unreadable or lying). */
int vsp_pcmod_open(struct vsp_pcmod *pm, const struct vsp_pcache *pc,
		   uint64_t mapping, uint64_t dyn_bias, char *err,
		   size_t errlen);

/* A vsp_gread_fn over the image (ctx: the struct vsp_pcmod). */
long vsp_pcmod_read(void *ctx, uint64_t addr, void *buf, size_t len);

/* A vsp_gread_fn over the whole file by offset (ctx: the struct
 * vsp_pcmod), sections outside every segment included. */
long vsp_pcmod_file_read(void *ctx, uint64_t off, void *buf, size_t len);

/* The file offset an image address comes from: 0, or -1 (not in the
 * file's part of any segment). */
int vsp_pcmod_foff(const struct vsp_pcmod *pm, uint64_t addr,
		   uint64_t *foff);

#endif
