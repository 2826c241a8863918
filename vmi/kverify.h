/*
 * kverify.h: never a trap at an address the running kernel did not confirm.
 *
 * Symbols reach vsp from a file (System.map, a profile) or from the guest's
 * own kallsyms (vmi/kallsyms.h).  A file may belong to another build, and
 * a guest's code may have been changed where a trap is to go; either way a
 * trap placed by the table would guard nothing.  So before the first trap
 * the monitor runs every site it is about to trap through these checks:
 *
 *  - the address agrees with the running kernel's own kallsyms (when the
 *    table came from a file and the guest's could be decoded; a profile
 *    whose kallsyms digest matched the running kernel's tables instead,
 *    vmi/kprofile.h, is checked by that and not decoded again);
 *  - the bytes there are a function entry as the kernel was built: with
 *    the vmlinux image, the ftrace NOP (`0f 1f 44 00 00`, after an
 *    optional endbr64) or a call to __fentry__ or ftrace's own entry
 *    points, then the bytes as linked; without it, no jump, call (but to
 *    ftrace), int3, ret or indirect branch at the entry (a hook);
 *  - a 64-bit syscall handler is the one sys_call_table names for its
 *    number;
 *  - linux_banner reads "Linux version " (and, with the image, the image's
 *    banner).
 *
 * Failures are collected, not printed: the caller refuses the attach with
 * the first message and the count, and places nothing.
 */
#ifndef VSP_KVERIFY_H
#define VSP_KVERIFY_H

#include <stdint.h>

#include "vmi/kaslr.h"
#include "vmi/symbols.h"

struct vsp_kverify {
	vsp_gread_fn read;
	void *ctx;
	const struct vsp_symtab *syms;	/* the table traps come from */
	const struct vsp_symtab *truth;	/* the guest's kallsyms, or NULL */
	const struct vsp_kimg *img;	/* the vmlinux, or NULL */
	unsigned checked, failed;
	char first[320];		/* the first failure */
};

/* Borrows everything; truth may equal syms (then addresses are not
 * compared), truth and img may be NULL. */
void vsp_kverify_init(struct vsp_kverify *v, vsp_gread_fn read, void *ctx,
		      const struct vsp_symtab *syms,
		      const struct vsp_symtab *truth,
		      const struct vsp_kimg *img);

/* The version banner: 0, or -1 (recorded in v). */
int vsp_kverify_banner(struct vsp_kverify *v);

/* One trap site: `sym` at run-time address addr; `sysnr` the syscall
 * number when sym is its 64-bit handler, else -1.  0, or -1 (recorded). */
int vsp_kverify_entry(struct vsp_kverify *v, const char *sym, uint64_t addr,
		      int sysnr);

#endif
