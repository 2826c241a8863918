/*
 * kprofile.h: the kernel data a profile carries beside its symbols.
 *
 * Without a vmlinux an attach copies from the running kernel what the
 * monitor needs besides names: its .BTF (process context and the kernel
 * objects of hook events, 4 MiB on Debian 6.1), its ORC tables (call
 * paths, 3.7 MiB) and its text (14 MiB, scanned once for the tail jumps
 * between functions).  `vsp profile` copies them once instead -- from
 * the kernel image file or the live guest -- and writes them into the
 * profile after the symbols, so a later attach reads none of it from the
 * guest.  All of it is link-time data: the same on every boot of that
 * kernel, whatever the KASLR slide.
 *
 * In the file each section is a header line and its bytes, deflated
 * (zlib) and base64-encoded on '#=' lines of 76 characters:
 *
 *   # section btf 0xffffffff82438070 4120215 zlib 1022338
 *   #=n58BABgAAAAAAAAA...
 *
 * Every line starts with '#', so a profile stays a System.map to what
 * reads one (vmi/symbols.c skips them).  The tail jumps are link-time
 * (to, from) address pairs, 16 bytes each.  Loading checks every header,
 * size and code and refuses a section that does not decode to the size it
 * states; what the bytes say is checked again where they are used (the
 * BTF parser, the ORC table checks, each tail jump against the symbols).
 * Before any of it is used an attach compares windows of each section
 * with the running kernel's memory (vsp_kprof_verify): a profile of
 * another build stops the attach.  The symbols are checked the same way,
 * by windows of the kernel's own kallsyms tables (the digest below).
 */
#ifndef VSP_KPROFILE_H
#define VSP_KPROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmi/kallsyms.h"
#include "vmi/kaslr.h"
#include "vmi/symbols.h"

enum vsp_kprof_id {
	VSP_KPROF_BTF,		/* __start_BTF..__stop_BTF */
	VSP_KPROF_ORC_IP,	/* __start_orc_unwind_ip..__stop_orc_unwind_ip */
	VSP_KPROF_ORC,		/* __start_orc_unwind..__stop_orc_unwind */
	VSP_KPROF_TAILS,	/* (to, from) pairs; addr 0 */
	VSP_KPROF_NSEC
};

/* A section larger than this, in the file or decoded, is refused. */
#define VSP_KPROF_SEC_MAX (64u << 20)

struct vsp_kprof_sec {
	uint64_t addr;		/* link-time; 0 for the tail jumps */
	size_t size;
	uint8_t *data;		/* NULL: the profile does not carry it */
};

/*
 * The kallsyms digest: where the kernel's own symbol tables lie and what
 * windows of them hold, so that an attach can tell the running kernel is
 * the one the profile's symbols came from without decoding its tables
 * (1,500 round trips over a GDB stub on Debian 6.1).  In the file, after
 * the symbols:
 *
 *   # kallsyms-digest 1 nsyms 94266 symbols 0x1c2d3e4f windows 47
 *   # kallsyms-window names 0xffffffff82a1c200 512 0x5e77a1c0
 *
 * `symbols` is the CRC-32 of the profile's symbol lines as written (every
 * line not starting with '#'), binding the digest to them: a file whose
 * symbols were changed since is verified the old way.  Each window is a
 * link-time address inside one table, a length (at most 512, never across
 * a 512-byte boundary, so one read of a batch) and the CRC-32 of the bytes
 * the kernel holds there: its first and last bytes and some between of
 * kallsyms_offsets, kallsyms_names and kallsyms_markers, all of the token
 * table and index, kallsyms_num_syms, kallsyms_relative_base (its value
 * less the slide: boot relocates it) and linux_banner, whose window also
 * finds the slide.  A build that moved, added or renamed anything moves
 * the offsets or names after it, which the last windows of each table see.
 */
enum vsp_kprof_table {
	VSP_KPROF_T_BANNER,	/* linux_banner, through its NUL */
	VSP_KPROF_T_OFFSETS,	/* kallsyms_offsets (s32, base-relative) */
	VSP_KPROF_T_BASE,	/* kallsyms_relative_base, link-time value */
	VSP_KPROF_T_NUM_SYMS,
	VSP_KPROF_T_NAMES,
	VSP_KPROF_T_MARKERS,
	VSP_KPROF_T_TOKEN_TABLE,
	VSP_KPROF_T_TOKEN_INDEX,
	VSP_KPROF_NTABLE
};

#define VSP_KPROF_WINDOW_MAX 512	/* bytes */
#define VSP_KPROF_WINDOWS_MAX 96

struct vsp_kprof_window {
	enum vsp_kprof_table table;
	uint64_t addr;		/* link-time */
	uint32_t len;
	uint32_t crc;
};

struct vsp_kprof_digest {
	uint32_t nsyms;		/* 0: the profile has no digest */
	uint32_t symbols;	/* CRC-32 of the symbol lines, as recorded */
	uint32_t symbols_read;	/* ... and as the file holds them */
	size_t nwin;
	struct vsp_kprof_window win[VSP_KPROF_WINDOWS_MAX];
};

struct vsp_kprof {
	struct vsp_kprof_sec sec[VSP_KPROF_NSEC];
	struct vsp_kprof_digest dig;
};

/* "btf", "orc_unwind_ip", "orc_unwind", "tails". */
const char *vsp_kprof_name(enum vsp_kprof_id id);

void vsp_kprof_free(struct vsp_kprof *p);

/* How much of the kernel the collection copied, for --stats (the caller
 * times it). */
struct vsp_kprof_stats {
	uint64_t bytes;
	uint32_t tails;
};

/*
 * Fills `p` from the kernel that `read` reads (the live guest at run-time
 * addresses, or an image file's bytes with a slide-0 table) using the
 * addresses `syms` gives: the BTF, the ORC tables (checked as an attach
 * would check them) and the tail jumps scanned from its text.  A part the
 * kernel does not have (no ORC, no BTF) is left out and said in `note`;
 * 0, or -1 with a message when a part it has cannot be read.
 */
int vsp_kprof_collect(struct vsp_kprof *p, const struct vsp_symtab *syms,
		      vsp_gread_fn read, void *ctx, struct vsp_kprof_stats *st,
		      char *note, size_t notelen, char *err, size_t errlen);

/* The CRC-32 of the symbol lines of a profile's text (those not starting
 * with '#'), as the digest records it. */
uint32_t vsp_kprof_symbols_crc(const char *text, size_t len);

/*
 * Fills p->dig from the kallsyms tables at `loc` (addresses as `read`
 * reads them: run-time on a live guest, whose slide is `slide`) and the
 * linux_banner of `syms`; `symbols` the CRC of the symbol lines that go
 * with it.  Base-relative tables only (every x86-64 kernel since 4.6);
 * for others the profile gets no digest.  0, or -1 with a message.
 */
int vsp_kprof_digest_collect(struct vsp_kprof *p, const struct vsp_ksyms_loc *loc,
			     const struct vsp_symtab *syms, int64_t slide,
			     uint32_t symbols, vsp_gread_fn read, void *ctx,
			     char *err, size_t errlen);

/* Appends the digest and then the sections `p` holds to a profile.  0, or
 * -1 on an error. */
int vsp_kprof_write(FILE *out, const struct vsp_kprof *p);

/*
 * Reads the sections of the profile (or System.map) at `path`: 0 with the
 * sections found (none is no error), or -1 with "FILE:LINE: ..." when a
 * section is malformed (`p` then empty).
 */
int vsp_kprof_load(const char *path, struct vsp_kprof *p, char *err,
		   size_t errlen);

/* The same from text in memory; `name` is used in messages only. */
int vsp_kprof_load_mem(const char *text, size_t len, const char *name,
		       struct vsp_kprof *p, char *err, size_t errlen);

/*
 * A guest reader over the profile's sections: serves a read at run-time
 * address `gva` that lies inside one of them (at gva - slide), and fails
 * any other.  For vsp_ksyms_read_btf and vsp_unwind_orc_from_guest.
 */
struct vsp_kprof_reader {
	const struct vsp_kprof *p;
	int64_t slide;
};
long vsp_kprof_read(void *ctx, uint64_t gva, void *buf, size_t len);

/*
 * Compares windows of section `id` (its first and last 64 bytes and six
 * between) with the running kernel's memory at the section's address
 * plus `slide`, read as one batch through `many` (NULL: one by one
 * through `read`).  0 when they agree; -1 with a message naming the first
 * address that differs or could not be read.  *reads (may be NULL) gets
 * the batches or reads sent.
 */
int vsp_kprof_verify(const struct vsp_kprof *p, enum vsp_kprof_id id,
		     int64_t slide, vsp_gread_many_fn many, vsp_gread_fn read,
		     void *ctx, unsigned *reads, char *err, size_t errlen);

/*
 * The KASLR slide by the digest's linux_banner window, read at each 2 MiB
 * base from the one holding `hint_ip` (a paused vCPU's rip in the kernel
 * image) down through the image `syms` spans (_text.._end), eight bases a
 * batch: one batch when the rip is in the first 16 MiB of the image.
 * 0 with *slide, or -1 when no base holds the profile's banner (another
 * kernel, or a rip outside its text) or the profile has no digest.
 * *reads (may be NULL) gets the batches sent.
 */
int vsp_kprof_digest_slide(const struct vsp_kprof *p,
			   const struct vsp_symtab *syms, uint64_t hint_ip,
			   vsp_gread_many_fn many, vsp_gread_fn read, void *ctx,
			   int64_t *slide, unsigned *reads);

/*
 * Compares every window of the digest with the running kernel at `slide`,
 * in batches.  0 when all agree; -1 with a message naming the first table
 * that differs ("the running kernel's kallsyms_names differ from the
 * profile's at 0x...") or could not be read.  *reads (may be NULL) gets
 * the batches sent.
 */
int vsp_kprof_digest_verify(const struct vsp_kprof *p, int64_t slide,
			    vsp_gread_many_fn many, vsp_gread_fn read, void *ctx,
			    unsigned *reads, char *err, size_t errlen);

#endif
