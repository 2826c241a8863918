/*
 * xen.h: what the Xen backend offers beyond struct vsp_backend_ops.
 *
 * The backend itself is the table vsp_be_xen_ops (vmi/backend.h).  These
 * functions let the command line say why Xen cannot be used before it
 * tries, report the last failure in words, and tell whether traps are
 * hidden from the guest (altp2m) on this host.
 */
#ifndef VSP_XEN_H
#define VSP_XEN_H

#include <stdbool.h>
#include <stddef.h>

struct vsp_backend;

/* Whether this vsp was built with libxen (the Xen backend is in). */
bool vsp_be_xen_built(void);

/*
 * True when this host can run the Xen backend: vsp was built with libxen,
 * the process runs in a Xen domain with the privcmd interface, and
 * xc_interface_open succeeds.  Otherwise false with the reason in `why`
 * (`n` bytes, NUL-terminated).  Opens and closes the interface once.
 */
bool vsp_be_xen_available(char *why, size_t n);

/*
 * The message of the last failed attach or operation of any Xen backend
 * in this thread, or "" when none failed.  Valid until the next call into
 * the backend.
 */
const char *vsp_be_xen_last_error(void);

/*
 * Whether an attached backend hides its traps in an altp2m view (reads
 * and writes of trapped pages see the guest's bytes, execution sees the
 * traps).  When it does not, `why` says what the host lacks.
 */
bool vsp_be_xen_stealth(const struct vsp_backend *be, char *why, size_t n);

#endif
