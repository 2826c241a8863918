/*
 * support.h: which event kinds a backend can trap, and the one way an
 * event that cannot be trapped is refused.
 *
 * A policy that names an event nobody traps would be enforced silently
 * weaker than it reads.  `vsp check --backend B` asks this table ahead of
 * time; `vsp attach` asks it before connecting (what the backend can never
 * trap) and the monitor refuses, with the same message, what the running
 * guest lacks (no symbol for a kernel function, no hypercall page).  Each
 * refusal names the rule's location, the event and the reason, and the
 * command exits 1.  The table is data, one row per event kind; a kind
 * that is not listed is refused, so a new kind is never silently ignored.
 */
#ifndef VSP_SUPPORT_H
#define VSP_SUPPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "interp/engine.h"

/* Whether `backend` ("gdb", "xen") names a backend this build knows. */
bool vsp_support_backend_known(const char *backend);

/*
 * Why `backend` can never trap the event `k`, as a static sentence, or
 * NULL when it can (on a suitable guest: whether this guest has what the
 * event needs is known only at attach).  An unknown backend gets the
 * monitor's common set (syscall, kernel and hypercall events).
 */
const char *vsp_support_why(const char *backend, const struct vsp_event_key *k);

/*
 * Prints "FILE:LINE:COL: error: rule "R": EVENT cannot be trapped through
 * the BACKEND backend: WHY" on `out`, for the rule that first names `k`.
 */
void vsp_support_refuse(FILE *out, const struct vsp_policy *p,
			const struct vsp_event_key *k, const char *backend,
			const char *why);

/* Refuses every event of `p` that `backend` can never trap; returns how
 * many were refused (0: the policy can be attached). */
int vsp_support_check(const struct vsp_policy *p, const char *backend,
		      FILE *out);

/* "syscall openat", "user \"libc.so.6\":system", "write sys_call_table[0..450]". */
void vsp_support_event_name(const struct vsp_event_key *k, char *buf,
			    size_t size);

#endif
