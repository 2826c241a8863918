/*
 * xen_pt.h: x86-64 guest page-table walker for the Xen backend.
 *
 * A Xen monitor sees guest memory only by guest frame number (it maps
 * frames with xenforeignmemory), while traps, symbols and string arguments
 * are guest-virtual.  This walker turns a guest-virtual address into a
 * guest-physical one the way the MMU does, from CR3 through 4 or 5 levels
 * (CR4.LA57), honouring 1 GiB and 2 MiB pages.  It reads page-table entries
 * through a callback, so the backend passes a reader over mapped guest
 * frames and the tests pass one over page tables built in memory.
 *
 * It does not model 32-bit paging or PAE (a 64-bit kernel always runs in
 * long mode), nor protection keys; callers that need permissions read the
 * accumulated bits in the result.
 */
#ifndef VSP_XEN_PT_H
#define VSP_XEN_PT_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Reads the 8-byte page-table entry at guest-physical address `gpa`
 * (8-byte aligned).  Returns 0, or a negative errno-style code when the
 * frame cannot be read (the walk then fails with that code).
 */
typedef int (*vsp_xpt_read_fn)(void *ctx, uint64_t gpa, uint64_t *entry);

/* The control state a walk depends on, as the vCPU had it at the trap. */
struct vsp_xpt_ctl {
	uint64_t cr0, cr3, cr4;
	uint64_t efer;		/* only LMA (bit 10) is looked at */
};

#define VSP_XPT_CR0_PG   (1ull << 31)
#define VSP_XPT_CR4_PAE  (1ull << 5)
#define VSP_XPT_CR4_LA57 (1ull << 12)
#define VSP_XPT_EFER_LMA (1ull << 10)

/* Where a failed walk stopped, for a message a person can act on. */
enum vsp_xpt_fault {
	VSP_XPT_OK,
	VSP_XPT_NONCANONICAL,	/* the address is not canonical (-EINVAL) */
	VSP_XPT_NOT_PRESENT,	/* an entry had P clear (-EFAULT) */
	VSP_XPT_RESERVED,	/* PS set where the level cannot map (-EFAULT) */
	VSP_XPT_READ_FAILED,	/* the callback failed (its code) */
	VSP_XPT_UNSUPPORTED	/* legacy or PAE paging (-ENOTSUP) */
};

struct vsp_xpt_result {
	uint64_t gpa;		/* the translated guest-physical address */
	uint64_t page_size;	/* 4 KiB, 2 MiB or 1 GiB; 0 on failure */
	bool writable, user, nx;	/* accumulated over the levels */
	unsigned level;		/* the level that mapped or failed (5..1) */
	enum vsp_xpt_fault fault;
};

/* 4 or 5 page-table levels in force, or 0 when paging is off. */
unsigned vsp_xpt_levels(const struct vsp_xpt_ctl *ctl);

/* True when `gva` is canonical for `levels` (48-bit or 57-bit). */
bool vsp_xpt_canonical(uint64_t gva, unsigned levels);

/*
 * Translates `gva`.  Returns 0 and fills `res`, or a negative code with
 * res->fault saying why.  With paging off the address is used as is.
 * Reads at most `levels` entries: it cannot loop on hostile tables.
 */
int vsp_xpt_translate(const struct vsp_xpt_ctl *ctl, uint64_t gva,
		      vsp_xpt_read_fn read, void *ctx,
		      struct vsp_xpt_result *res);

const char *vsp_xpt_fault_str(enum vsp_xpt_fault f);

#endif
