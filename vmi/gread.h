/*
 * gread.h: guest reads sent together.
 *
 * Over a GDB stub each guest read is a round trip that the paused guest
 * waits for; a backend that can answer several reads at once
 * (vsp_backend_ops.read_many) makes a batch cost one.  Guest knowledge in
 * vmi/ (the profile checks of vmi/kprofile.c) states its reads as such a
 * batch and never learns which backend answers it: the monitor passes a
 * vsp_gread_many_fn over its backend, tests one over a memory image.
 */
#ifndef VSP_GREAD_H
#define VSP_GREAD_H

#include <stddef.h>
#include <stdint.h>

/* One read of a batch. */
struct vsp_read {
	uint64_t gva;
	void *buf;
	size_t len;
	long got;	/* as a single read returns: bytes from the start, or < 0 */
};

/* What one batch may hold: this many reads, each at most
 * VSP_GREAD_PIECE bytes and within one 4 KiB page. */
#define VSP_GREAD_BATCH 16
#define VSP_GREAD_PIECE 1024u

/*
 * Answers r[0..n) (n <= VSP_GREAD_BATCH, each within the bounds above),
 * each r[i].got as a single read would.  0, or a negative code when the
 * link to the guest failed.
 */
typedef int (*vsp_gread_many_fn)(void *ctx, struct vsp_read *r, size_t n);

#endif
