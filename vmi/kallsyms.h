/*
 * kallsyms.h: the guest kernel's symbol table read from the kernel itself.
 *
 * Every Linux kernel built with CONFIG_KALLSYMS carries its own symbol
 * table in .rodata, compressed: kallsyms_names (per symbol a length and
 * that many token numbers), kallsyms_token_table (256 NUL-terminated
 * strings) with kallsyms_token_index (256 u16 offsets into it),
 * kallsyms_markers (the names offset of every 256th symbol),
 * kallsyms_num_syms, and the addresses as kallsyms_offsets plus
 * kallsyms_relative_base (or, without CONFIG_KALLSYMS_BASE_RELATIVE, as
 * kallsyms_addresses).  None of these tables is itself in the table, so
 * this module finds them by their structure alone and checks each one
 * against the others (token offsets against the strings, markers against
 * the names, addresses sorted), so that a chance match in other data is
 * rejected and a hostile guest gets an error, never a crash or a hang.
 *
 * The decoder works on a buffer (bytes of the kernel image at a known
 * address: a vmlinux section, or guest memory copied once); the guest
 * front end finds the kernel image from a paused vCPU's rip, its .rodata
 * by the unmapped gap KASLR kernels leave before it, and copies .rodata
 * through the backend's read callback until the tables are in hand.  The
 * result fills the ordinary symbol table (vmi/symbols.h): link-time
 * addresses with the KASLR slide set, as a System.map would give.
 */
#ifndef VSP_KALLSYMS_H
#define VSP_KALLSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmi/kaslr.h"
#include "vmi/symbols.h"

/* x86-64 kernels link _text here (CONFIG_PHYSICAL_START 16 MiB). */
#define VSP_KSYMS_LINK_TEXT 0xffffffff81000000ULL

/* Where the tables were found (addresses as the buffer gives them). */
struct vsp_ksyms_loc {
	uint64_t token_table, token_index, markers, names, num_syms;
	uint64_t offsets;	/* kallsyms_offsets, or kallsyms_addresses */
	uint64_t relative_base;	/* address of kallsyms_relative_base, or 0 */
	uint64_t base;		/* its value */
	uint32_t nsyms;
	bool base_relative;	/* offsets + base, not absolute addresses */
	bool absolute_percpu;	/* non-negative offsets are absolute values */
};

/*
 * Finds the tables in `buf` (len bytes of kernel memory starting at
 * address va) and decodes every symbol.  Addresses come out as the buffer
 * holds them: link-time from a vmlinux file, run-time from a running
 * guest.  Returns a table with slide 0, or NULL with a message (nothing
 * found, or tables inconsistent: "kallsyms: token 200 of symbol 7 out of
 * range").  `loc` (may be NULL) receives where the tables lay.  Reads
 * nothing outside buf; time is linear in len plus the symbols decoded.
 */
struct vsp_symtab *vsp_ksyms_decode(const uint8_t *buf, size_t len,
				    uint64_t va, struct vsp_ksyms_loc *loc,
				    char *err, size_t errlen);

struct vsp_ksyms_stats {
	uint64_t text;		/* run-time _text */
	uint64_t rodata;	/* where the copy started */
	uint64_t bytes;		/* guest bytes copied */
	uint64_t reads;		/* read callbacks issued */
	uint64_t ns;		/* wall time */
	int64_t slide;		/* run-time minus link-time _text */
	struct vsp_ksyms_loc loc;
};

/*
 * The same from a paused guest: `hint_ip` is a vCPU's rip in kernel text
 * (0: search the whole kernel image range).  The table returned holds
 * link-time addresses (run-time minus the slide found, taking _text's
 * link address as VSP_KSYMS_LINK_TEXT) with the slide set, so lookups
 * answer run-time addresses.  Copies at most 64 MiB.  NULL with a message.
 */
struct vsp_symtab *vsp_ksyms_from_guest(vsp_gread_fn read, void *ctx,
					uint64_t hint_ip,
					struct vsp_ksyms_stats *st, char *err,
					size_t errlen);

/*
 * The running kernel's .BTF (what /sys/kernel/btf/vmlinux serves), copied
 * from guest memory between the symbols __start_BTF and __stop_BTF into a
 * malloc'd buffer.  Refuses a range over 64 MiB or without the BTF magic.
 * 0, or -1 with a message.
 */
int vsp_ksyms_read_btf(vsp_gread_fn read, void *ctx,
		       const struct vsp_symtab *syms, uint8_t **data,
		       size_t *size, char *err, size_t errlen);

/*
 * Writes a profile: '#' header lines (format, the kernel's banner, the
 * slide it was read at) and then every symbol as "ADDR TYPE NAME" with
 * link-time addresses, in the kernel's order.  vsp_sym_load() reads it
 * back.  0, or -1 on a write error.
 */
int vsp_ksyms_write(FILE *out, const struct vsp_symtab *t, const char *banner,
		    const char *source);

#endif
