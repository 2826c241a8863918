/*
 * kaslr.h: the guest kernel's image on disk, and where it lies in the guest.
 *
 * Guest knowledge in vmi/ comes from two places: the running guest's memory,
 * read through a backend (or, in tests, a memory image), and the kernel's
 * own build output, the decompressed vmlinux ELF, which holds the code as
 * linked, the BTF type information (vmi/linux.c) and the ORC unwind tables
 * (vmi/unwind.c).  This header gives both a shape: a read callback for
 * guest memory, and a read-only view of vmlinux by link-time address.
 *
 * KASLR moves the whole kernel image by one slide, a multiple of the
 * physical alignment (2 MiB).  vsp_kaslr_find() recovers it from a paused
 * guest by itself, so vsp works with KASLR on: it tries candidate bases in
 * the kernel image range (the paused vCPU's rip first, when it lies in
 * kernel text) and accepts the first at which known bytes -- the kernel's
 * version banner, function bodies, ftrace's patched entry NOPs -- read back
 * from guest memory as expected.
 */
#ifndef VSP_KASLR_H
#define VSP_KASLR_H

#include <stddef.h>
#include <stdint.h>

#include "vmi/gread.h"
#include "vmi/symbols.h"

/*
 * Reads guest-virtual memory: up to len bytes at gva into buf; returns how
 * many were read from the start (short at the first unreadable byte), or a
 * negative code.  Backends wrap their `read` op in one of these; tests use
 * memory images.  Must be bounded in time: hostile guests cannot be waited
 * for.
 */
typedef long (*vsp_gread_fn)(void *ctx, uint64_t gva, void *buf, size_t len);

/* Reads exactly len bytes or fails: 0 or -1. */
int vsp_gread_all(vsp_gread_fn read, void *ctx, uint64_t gva, void *buf,
		  size_t len);

/*
 * Reads r[0..n) whole, of any length and place: each is cut into pieces
 * that fit a batch (vmi/gread.h), sent VSP_GREAD_BATCH at a time through
 * `many`, or one by one through `read` when `many` is NULL.  r[i].got is
 * r[i].len when all of it was read, else -1.  0, or -1 when the link
 * failed.  *batches (may be NULL) gets the batches or reads sent.
 */
int vsp_gread_batch(vsp_gread_many_fn many, vsp_gread_fn read, void *ctx,
		    struct vsp_read *r, size_t n, unsigned *batches);

struct vsp_kimg;

/* Maps a vmlinux ELF read-only.  NULL with a message on failure. */
struct vsp_kimg *vsp_kimg_open(const char *path, char *err, size_t errlen);
void vsp_kimg_free(struct vsp_kimg *img);
const char *vsp_kimg_path(const struct vsp_kimg *img);

/* Copies bytes of the image at link-time address addr; returns how many
 * were copied from the start (0 when addr is not in a loaded segment). */
size_t vsp_kimg_read(const struct vsp_kimg *img, uint64_t addr, void *buf,
		     size_t len);

/* A section by name: link-time address, its bytes in the mapping (NULL for
 * NOBITS) and size.  0, or -1 when absent. */
int vsp_kimg_section(const struct vsp_kimg *img, const char *name,
		     uint64_t *addr, const void **data, size_t *size);

/* The image's GNU build id (hex, NUL-terminated) into buf, or -1. */
int vsp_kimg_build_id(const struct vsp_kimg *img, char *buf, size_t size);

#define VSP_KASLR_ALIGN 0x200000ULL	/* CONFIG_PHYSICAL_ALIGN on x86-64 */
#define VSP_KASLR_LO 0xffffffff80000000ULL	/* __START_KERNEL_map */
#define VSP_KASLR_HI 0xffffffffc0000000ULL	/* + KERNEL_IMAGE_SIZE (1 GiB) */

struct vsp_kaslr_stats {
	uint32_t candidates;	/* bases tried */
	uint32_t reads;		/* guest reads issued */
	uint32_t method;	/* VSP_KASLR_BY_* that confirmed it */
};

enum {
	VSP_KASLR_BY_BANNER = 1,	/* linux_banner text matched */
	VSP_KASLR_BY_CODE = 2,		/* function bodies matched the image */
	VSP_KASLR_BY_FENTRY = 4,	/* ftrace NOPs at function entries */
};

/*
 * Finds the slide (run-time minus link-time address of the core kernel).
 * `syms` gives link-time addresses (its own slide is ignored); `img` may be
 * NULL, then only the ftrace-NOP probe is available.  `hint_ip` is the rip
 * of a paused vCPU, or 0.  Returns 0 with *slide set, or -1 with a message.
 * Never reads more than a few bytes per candidate base.
 */
int vsp_kaslr_find(const struct vsp_symtab *syms, const struct vsp_kimg *img,
		   vsp_gread_fn read, void *ctx, uint64_t hint_ip,
		   int64_t *slide, struct vsp_kaslr_stats *stats, char *err,
		   size_t errlen);

#endif
