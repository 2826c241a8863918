/*
 * watch.h: write events on guest kernel data, through write watchpoints.
 *
 * `on write modprobe_path` and `on write sys_call_table[0..450]` watch
 * the bytes of a kernel object.  This module places the watchpoints for
 * one object (one over the whole range when the hypervisor takes it, as
 * QEMU's TCG stub does; else one per aligned 8 bytes, as KVM's debug
 * registers need, and a clear refusal when the stub has too few), keeps a
 * shadow copy of the watched bytes so that `old` is exact, tells what a
 * write changed (addr, offset, len, value, old), and puts the old bytes
 * back when a write is denied.  The stub stops after the write, with
 * every vCPU stopped, so the restore lands before any vCPU reads the new
 * value.
 *
 * It speaks only vmi/backend.h; the monitor turns a hit into an event.
 * Placing allocates (the shadow copies); a hit and a restore do not.
 */
#ifndef VSP_WATCH_H
#define VSP_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "vmi/backend.h"

#define VSP_WATCH_MAX_BYTES 65536	/* one object's watched bytes */
#define VSP_WATCH_MAX_RANGES 64

struct vsp_wrange {
	const struct vsp_event_key *key;	/* borrowed from the policy */
	uint64_t sym;		/* the object's address */
	uint64_t addr, len;	/* the watched bytes */
	uint64_t alias;		/* the same bytes at another address, also
				 * watched (vsp_watch_alias); 0: none */
	uint8_t *shadow;	/* len bytes: the contents as last allowed */
	uint64_t *wp_at;	/* the watchpoints: nwp of them */
	uint64_t *wp_len;
	uint32_t nwp;
};

struct vsp_watchset {
	struct vsp_wrange r[VSP_WATCH_MAX_RANGES];
	uint32_t n;
};

/* What one write changed, within one range. */
struct vsp_whit {
	uint32_t range;
	uint64_t addr;		/* the first changed byte; in a table of
				 * 8-byte elements (NAME[LO..HI]) the start
				 * of the changed element */
	uint64_t offset;	/* addr - the object's address */
	uint32_t len;		/* up to the last changed byte, at most 8
				 * (a whole element in a table) */
	uint64_t value, old;	/* little-endian, len bytes each */
	uint32_t nchanged;	/* all changed bytes in the range */
};

void vsp_watch_init(struct vsp_watchset *ws);
/* Removes every watchpoint (when `be` is still there) and frees. */
void vsp_watch_release(struct vsp_watchset *ws, struct vsp_backend *be);

/*
 * Watches `len` bytes at `addr` (an object at `sym`) for event `k`.
 * 0, or -1 with the reason in `why` (no watchpoints, too few, unreadable
 * memory); nothing is left placed on failure.
 */
int vsp_watch_place(struct vsp_watchset *ws, struct vsp_backend *be,
		    uint32_t vcpu, const struct vsp_event_key *k, uint64_t sym,
		    uint64_t addr, uint64_t len, char *why, size_t whylen);

/*
 * Also watches the bytes of object i (ws->r[i]) where another mapping
 * shows them (the kernel image's data at its direct-map alias): a write
 * there changes the same bytes, and is told, kept or undone through the
 * object's own address.  The alias must hold the object's bytes now.
 * 0, or -1 with the reason in `why`; the object's own watchpoints stay.
 */
int vsp_watch_alias(struct vsp_watchset *ws, struct vsp_backend *be,
		    uint32_t vcpu, uint32_t i, uint64_t alias, char *why,
		    size_t whylen);

/*
 * After a watch stop reported at `at`: the range that changed and how.
 * Ranges holding `at` are compared first, then the others (a stub may
 * report any address of the access).  1 with *hit filled, 0 when nothing
 * changed (a write of the same bytes), -1 on a failed read.
 */
int vsp_watch_hit(struct vsp_watchset *ws, struct vsp_backend *be,
		  uint32_t vcpu, uint64_t at, struct vsp_whit *hit);

/* The write stands: the shadow takes the new contents. */
int vsp_watch_accept(struct vsp_watchset *ws, struct vsp_backend *be,
		     uint32_t vcpu, const struct vsp_whit *hit);
/* The write is denied: the old contents go back into the guest. */
int vsp_watch_restore(struct vsp_watchset *ws, struct vsp_backend *be,
		      uint32_t vcpu, const struct vsp_whit *hit);

#endif
