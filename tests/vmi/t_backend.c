/*
 * t_backend.c: the backend registry (vmi/backend.c): each backend found
 * by its name, its capabilities stated, its messages reached without
 * naming it.
 */
#include <errno.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/backend.h"

static const char *fake_error(struct vsp_backend *be)
{
	return be->priv ? "the fake's own words" : NULL;
}

int main(void)
{
	size_t n = 0;

	for (; vsp_backends[n]; n++) {
		const struct vsp_backend_ops *o = vsp_backends[n];

		ok(vsp_backend_find(o->name) == o, "%s is found by its name",
		   o->name);
		ok(o->caps.kinds != 0, "%s traps some event kind", o->name);
		ok(vsp_backend_can_trap(o, VSP_EV_SYSCALL) &&
		   vsp_backend_can_trap(o, VSP_EV_KERNEL),
		   "%s traps syscalls and kernel functions", o->name);
		ok(!vsp_backend_can_trap(o, VSP_EV_KIND_COUNT),
		   "%s: a kind out of range is never trapped", o->name);
	}
	ok(n == 2, "two backends built in");
	ok(vsp_backend_find("gdb") == &vsp_be_gdb_ops &&
	   vsp_backend_find("xen") == &vsp_be_xen_ops, "gdb and xen");
	ok(vsp_backend_find("kvm") == NULL && vsp_backend_find(NULL) == NULL,
	   "an unknown name finds nothing");
	ok(vsp_backend_can_trap(&vsp_be_gdb_ops, VSP_EV_WRITE) &&
	   vsp_be_gdb_ops.caps.watchpoints &&
	   !vsp_backend_can_trap(&vsp_be_xen_ops, VSP_EV_WRITE) &&
	   vsp_be_xen_ops.caps.why[VSP_EV_WRITE] != NULL,
	   "gdb has write watchpoints; xen says why it has none");
	ok(vsp_be_xen_ops.available != NULL && vsp_be_gdb_ops.available == NULL,
	   "Xen says whether this host has it; a GDB stub is always reachable");

	struct vsp_backend_ops fake = { .name = "fake", .error = fake_error,
		.caps = { .kinds = VSP_BE_KIND(KERNEL) } };
	struct vsp_backend be = { .ops = &fake };
	ok(!vsp_backend_can_trap(&fake, VSP_EV_SYSCALL) &&
	   vsp_backend_can_trap(&fake, VSP_EV_KERNEL),
	   "capabilities are what the backend states");
	ok(strcmp(vsp_backend_error(&be, -EIO), strerror(EIO)) == 0,
	   "no message of its own: strerror");
	be.priv = &be;
	ok(strcmp(vsp_backend_error(&be, -EIO), "the fake's own words") == 0,
	   "its own message first");
	fake.error = NULL;
	ok(strcmp(vsp_backend_error(&be, ENOENT), strerror(ENOENT)) == 0,
	   "no error operation: strerror, either sign");
	return done();
}
