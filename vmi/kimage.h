/*
 * kimage.h: a kernel image file as vmlinux bytes, without booting it.
 *
 * `vsp profile /boot/vmlinuz-X` starts here: a bzImage carries the
 * compressed vmlinux ELF as its payload (the setup header's payload_offset
 * and payload_length), compressed with gzip, bzip2, LZMA, XZ, LZ4 (the
 * legacy frame format) or zstd, each undone with its Debian library.  A
 * plain vmlinux ELF is taken as it is.  Sections are then found by name in
 * the ELF bytes, every offset checked against the buffer.
 */
#ifndef VSP_KIMAGE_H
#define VSP_KIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Reads `path` (bzImage or ELF) and returns the vmlinux ELF in a malloc'd
 * buffer (*out, *len); `how` names what was undone ("lz4", "elf").  0, or
 * -1 with a message. */
int vsp_kimage_load(const char *path, uint8_t **out, size_t *len,
		    const char **how, char *err, size_t errlen);

/* The same from bytes already in memory (borrowed). */
int vsp_kimage_unpack(const uint8_t *in, size_t inlen, uint8_t **out,
		      size_t *len, const char **how, char *err, size_t errlen);

/* A section of an ELF64 image by name: its address and bytes (NULL for
 * NOBITS).  0, or -1 when absent or malformed. */
int vsp_kimage_section(const uint8_t *elf, size_t len, const char *name,
		       uint64_t *addr, const uint8_t **data, size_t *size);

/* Copies `len` bytes at link-time address `addr` of an ELF64 image, from
 * its loaded segments (PT_LOAD, file bytes only).  len, or -1 when part of
 * the range is in no segment.  A vsp_gread_fn over a struct vsp_kimage_buf
 * is vsp_kimage_gread. */
long vsp_kimage_read(const uint8_t *elf, size_t elflen, uint64_t addr,
		     void *buf, size_t len);

struct vsp_kimage_buf {
	const uint8_t *elf;
	size_t len;
};
long vsp_kimage_gread(void *ctx, uint64_t addr, void *buf, size_t len);

#endif
