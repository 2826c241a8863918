/*
 * qmp.h: opening and closing a running QEMU's GDB stub through QMP.
 *
 * A VM started without -gdb can still be guarded: QEMU's monitor command
 * `gdbserver tcp:127.0.0.1:PORT` (reached through QMP's
 * human-monitor-command) starts the stub at run time on a free loopback
 * port, the GDB backend attaches to it as to any other, and after the
 * detach `gdbserver none` closes it again, so nothing is left listening.
 * Every reply is waited for with a deadline; a QMP error is reported with
 * QEMU's own text.
 */
#ifndef VSP_QMP_H
#define VSP_QMP_H

#include <stddef.h>

struct vsp_qmp {
	int fd;
	int port;
	char target[32];	/* "127.0.0.1:PORT", for the GDB backend */
};

/* Connects to the QMP socket at `path`, negotiates, starts the stub.
 * 0, or -1 with a message. */
int vsp_qmp_open_stub(struct vsp_qmp *q, const char *path, char *err,
		      size_t errlen);

/* Stops the stub (gdbserver none) and closes the QMP connection.  0, or
 * -1 with a message (the connection is closed either way). */
int vsp_qmp_close_stub(struct vsp_qmp *q, char *err, size_t errlen);

/* A loopback TCP port nobody listens on now (for the stub to open), or
 * -1.  Also what vmi/libvirt.c asks libvirt's monitor to open. */
int vsp_qmp_free_port(void);

#endif
