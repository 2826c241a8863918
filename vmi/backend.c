/*
 * backend.c: the backends built in, and what the core asks of them
 * (vmi/backend.h).  Adding a backend is one file behind struct
 * vsp_backend_ops and one line here (docs/hacking.md).
 */
#include <errno.h>
#include <string.h>

#include "vmi/backend.h"

const struct vsp_backend_ops *const vsp_backends[] = {
	&vsp_be_gdb_ops,
	&vsp_be_xen_ops,
	NULL
};

const struct vsp_backend_ops *vsp_backend_find(const char *name)
{
	for (size_t i = 0; name && vsp_backends[i]; i++)
		if (strcmp(vsp_backends[i]->name, name) == 0)
			return vsp_backends[i];
	return NULL;
}

bool vsp_backend_can_trap(const struct vsp_backend_ops *ops,
			  enum vsp_event_kind k)
{
	return (unsigned)k < VSP_EV_KIND_COUNT && (ops->caps.kinds >> k & 1u);
}

const char *vsp_backend_error(struct vsp_backend *be, int rc)
{
	const char *e = be->ops->error ? be->ops->error(be) : NULL;

	if (e && *e)
		return e;
	return strerror(rc < 0 ? -rc : rc);
}
