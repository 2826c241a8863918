/*
 * support.h: whether an event can be trapped here, and the one way an
 * event that cannot be trapped is refused.
 *
 * A policy that names an event nobody traps would be enforced silently
 * weaker than it reads.  Two facts decide it, each kept where it belongs:
 * what a backend can trap is its capabilities (struct vsp_backend_caps,
 * in the backend's own file), and which event kinds the monitor has a
 * trap site for is its site table (vmi/decide.c).  `vsp check --backend
 * B` asks both ahead of time; `vsp attach` asks them before connecting,
 * and the monitor refuses, with the same message, what the running guest
 * lacks (no symbol for a kernel function, no hypercall page).  Each
 * refusal names the rule's location, the event and the reason, and the
 * command exits 1.  A kind without a site is refused, so a new kind is
 * never silently ignored.
 */
#ifndef VSP_SUPPORT_H
#define VSP_SUPPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/engine.h"
#include "vmi/backend.h"

/*
 * Why the backend `ops` can never trap the event `k` here, as a static
 * sentence, or NULL when it can (on a suitable guest: whether this guest
 * has what the event needs is known only at attach).  The backend's own
 * reason first, then the monitor's (no site for the kind), then that the
 * backend does not list the kind.
 */
const char *vsp_support_why(const struct vsp_backend_ops *ops,
			    const struct vsp_event_key *k);

/*
 * Prints "FILE:LINE:COL: error: rule "R": EVENT cannot be trapped through
 * the BACKEND backend: WHY" on `out`, for the rule that first names `k`.
 */
void vsp_support_refuse(FILE *out, const struct vsp_policy *p,
			const struct vsp_event_key *k,
			const struct vsp_backend_ops *ops, const char *why);

/* Refuses every event of `p` that `ops` can never trap; returns how many
 * were refused (0: the policy can be attached). */
int vsp_support_check(const struct vsp_policy *p,
		      const struct vsp_backend_ops *ops, FILE *out);

/* "syscall openat", "user \"libc.so.6\":system", "write sys_call_table[0..450]". */
void vsp_support_event_name(const struct vsp_event_key *k, char *buf,
			    size_t size);

#endif
