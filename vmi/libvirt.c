/*
 * libvirt.c: the GDB stub of a QEMU domain, through libvirt (libvirt.h).
 */
#include "vmi/libvirt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmi/qmp.h"

#ifdef VSP_HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

/* Quiet: errors are taken with virGetLastErrorMessage, not printed. */
static void lv_silent(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

int vsp_libvirt_open_stub(struct vsp_libvirt *l, const char *uri,
			  const char *domain, char *err, size_t errlen)
{
	char cmd[64], *out = NULL;
	memset(l, 0, sizeof *l);
	if (!uri)
		uri = getenv("LIBVIRT_DEFAULT_URI");
	if (!uri || !*uri)
		uri = "qemu:///system";
	virSetErrorFunc(NULL, lv_silent);
	virConnectPtr c = virConnectOpen(uri);
	if (!c) {
		snprintf(err, errlen, "libvirt: cannot connect to %s: %s", uri,
			 virGetLastErrorMessage());
		return -1;
	}
	const char *drv = virConnectGetType(c);
	virDomainPtr d = virDomainLookupByName(c, domain);
	if (!d) {
		virErrorPtr e = virGetLastError();
		if (e && e->code == VIR_ERR_NO_DOMAIN)
			snprintf(err, errlen, "libvirt: domain '%s' not found on %s",
				 domain, uri);
		else
			snprintf(err, errlen, "libvirt: domain '%s': %s", domain,
				 virGetLastErrorMessage());
		goto fail;
	}
	if (!drv || strcmp(drv, "QEMU") != 0) {
		snprintf(err, errlen, "libvirt: domain '%s' is run by the %s "
			 "driver, not QEMU: no QEMU monitor to start a GDB stub "
			 "through", domain, drv ? drv : "unknown");
		goto fail;
	}
	int active = virDomainIsActive(d);
	if (active != 1) {
		snprintf(err, errlen, "libvirt: domain '%s' is not running%s%s",
			 domain, active < 0 ? ": " : "",
			 active < 0 ? virGetLastErrorMessage() : "");
		goto fail;
	}
	int port = vsp_qmp_free_port();
	if (port <= 0) {
		snprintf(err, errlen, "no free loopback port");
		goto fail;
	}
	snprintf(cmd, sizeof cmd, "gdbserver tcp:127.0.0.1:%d", port);
	if (virDomainQemuMonitorCommand(d, cmd, &out,
					VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0) {
		snprintf(err, errlen, "libvirt: domain '%s': %s: %s", domain, cmd,
			 virGetLastErrorMessage());
		goto fail;
	}
	if (!out || !strstr(out, "Waiting for gdb")) {
		snprintf(err, errlen, "libvirt: domain '%s': gdbserver did not "
			 "start: %.200s", domain, out ? out : "(no reply)");
		free(out);
		goto fail;
	}
	free(out);
	l->conn = c;
	l->dom = d;
	l->port = port;
	snprintf(l->target, sizeof l->target, "127.0.0.1:%d", port);
	return 0;
fail:
	if (d)
		virDomainFree(d);
	virConnectClose(c);
	return -1;
}

int vsp_libvirt_close_stub(struct vsp_libvirt *l, char *err, size_t errlen)
{
	char *out = NULL;
	int rc = 0;
	if (!l->conn)
		return 0;
	if (virDomainQemuMonitorCommand(l->dom, "gdbserver none", &out,
					VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0) {
		snprintf(err, errlen, "libvirt: gdbserver none: %s",
			 virGetLastErrorMessage());
		rc = -1;
	}
	free(out);
	virDomainFree(l->dom);
	virConnectClose(l->conn);
	l->conn = l->dom = NULL;
	return rc;
}
#else
int vsp_libvirt_open_stub(struct vsp_libvirt *l, const char *uri,
			  const char *domain, char *err, size_t errlen)
{
	memset(l, 0, sizeof *l);
	snprintf(err, errlen, "libvirt: this vsp was built without libvirt "
		 "(install libvirt-dev and rebuild)");
	return -1;
}

int vsp_libvirt_close_stub(struct vsp_libvirt *l, char *err, size_t errlen)
{
	return 0;
}
#endif
