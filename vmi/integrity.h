/*
 * integrity.h: the CPU and kernel state a rootkit changes to get past
 * the kernel's own protections, compared with what it was at attach.
 *
 * A write to a protected page first clears CR0.WP; executing or reading
 * user memory from the kernel first clears CR4.SMEP or CR4.SMAP; hooking
 * every system call rewrites the syscall entry (MSR_LSTAR, where the
 * backend shows it, as Xen does, and the code at entry_SYSCALL_64, which
 * is all a GDB stub shows: QEMU's has no MSRs).  The monitor records them
 * when it attaches and compares at every trap it handles and on a timer;
 * each change is reported once, as an alert, until it changes again.
 *
 * No allocation; the registers come with every stop, and the entry code
 * costs one bounded read, made only when the caller asks for it.
 */
#ifndef VSP_INTEGRITY_H
#define VSP_INTEGRITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmi/backend.h"
#include "vmi/kaslr.h"

#define VSP_CR0_WP (1ull << 16)
#define VSP_CR4_SMEP (1ull << 20)
#define VSP_CR4_SMAP (1ull << 21)
#define VSP_INTEG_ENTRY_BYTES 32

enum {
	VSP_INTEG_WP = 1,	/* CR0.WP */
	VSP_INTEG_SMEP = 2,	/* CR4.SMEP */
	VSP_INTEG_SMAP = 4,	/* CR4.SMAP */
	VSP_INTEG_ENTRY = 8,	/* the syscall entry code */
	VSP_INTEG_LSTAR = 16	/* MSR_LSTAR */
};

struct vsp_integ {
	uint64_t cr0, cr4;		/* the watched bits at attach */
	uint64_t lstar;			/* 0: the backend does not show it */
	uint64_t entry;			/* entry_SYSCALL_64, or 0 */
	uint8_t code[VSP_INTEG_ENTRY_BYTES];
	bool have_code;
	unsigned reported;		/* changes already reported */
	uint64_t checks;
};

/*
 * Records the state of a stopped vCPU's registers and, when `entry` is
 * not 0, the first bytes of the syscall entry code.
 */
void vsp_integ_init(struct vsp_integ *g, const struct vsp_regs *r,
		    vsp_gread_fn read, void *ctx, uint64_t entry);

/*
 * Compares; returns the VSP_INTEG_* bits that differ from attach and were
 * not reported yet (0: nothing new), with a message naming them in msg.
 * A bit that changes back is forgotten, so a second change is reported.
 * With `read` NULL the entry code is not read this time (what was found
 * of it before stands).
 */
unsigned vsp_integ_check(struct vsp_integ *g, const struct vsp_regs *r,
			 vsp_gread_fn read, void *ctx, char *msg, size_t n);

#endif
