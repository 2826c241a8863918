/*
 * dispatch.h: from an event to its program in one lookup.
 *
 * Built once when a policy loads (engine/policy.c), from the event keys
 * of the compiled programs (interp/program.h): syscalls and hypercalls are
 * plain arrays indexed by number, kernel, user and write events an
 * open-addressing hash on the name (and the library, for user events).
 * Every event the rules do not name maps to program 0, the default
 * program, so an unnamed event costs one array read or one hash probe.
 * Lookups never allocate.
 */
#ifndef VSP_DISPATCH_H
#define VSP_DISPATCH_H

#include <stdint.h>
#include "interp/program.h"

struct vsp_fp_slot {
	uint64_t hash;		/* 0: empty */
	const char *name;	/* borrowed from the program's key */
	const char *lib;	/* user events: the library's base name */
	uint32_t kind;
	uint32_t prog;
};

struct vsp_fp_dispatch {
	uint32_t *sys, nsys;	/* syscall nr -> program */
	uint32_t *hyp, nhyp;	/* hypercall nr -> program */
	struct vsp_fp_slot *tab;
	uint32_t mask;		/* table size - 1; 0 with no table */
};

/* Builds the tables for im's programs; 0 or -1 (out of memory). */
int vsp_fp_dispatch_init(struct vsp_fp_dispatch *d, const struct vsp_image *im);
void vsp_fp_dispatch_release(struct vsp_fp_dispatch *d);

/* The program index for ev: 0 (the default program) when no rule names it. */
uint32_t vsp_fp_dispatch_find(const struct vsp_fp_dispatch *d,
			      const struct vsp_event *ev);

/* The syscall case of vsp_fp_dispatch_find(), inline for the hot path. */
static inline uint32_t vsp_fp_dispatch_sys(const struct vsp_fp_dispatch *d,
					   uint32_t nr)
{
	return nr < d->nsys ? d->sys[nr] : 0;
}

#endif
