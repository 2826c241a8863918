/*
 * libvirt.h: opening and closing a libvirt domain's GDB stub.
 *
 * The same as qmp.h, with the QEMU monitor reached through libvirt
 * (virDomainQemuMonitorCommand, HMP): `gdbserver tcp:127.0.0.1:PORT` on a
 * free loopback port before the attach, `gdbserver none` after it.  Built
 * when libvirt-dev is installed (VSP_HAVE_LIBVIRT); without it open says so.
 */
#ifndef VSP_LIBVIRT_H
#define VSP_LIBVIRT_H

#include <stddef.h>

struct vsp_libvirt {
	void *conn, *dom;
	int port;
	char target[32];	/* "127.0.0.1:PORT", for the GDB backend */
};

/* uri NULL: LIBVIRT_DEFAULT_URI, else qemu:///system.  0, or -1 with a
 * message. */
int vsp_libvirt_open_stub(struct vsp_libvirt *l, const char *uri,
			  const char *domain, char *err, size_t errlen);

/* gdbserver none, then closes the connection either way.  0 or -1. */
int vsp_libvirt_close_stub(struct vsp_libvirt *l, char *err, size_t errlen);

#endif
