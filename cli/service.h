/*
 * service.h: systemd notification, metrics, reloads and log reopening
 * around `vsp attach`'s monitor loop (cli/service.c, docs/service.md).
 */
#ifndef VSP_SERVICE_H
#define VSP_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/audit.h"
#include "vmi/monitor.h"

struct vsp_service_opts {
	const char *vm;
	const char *metrics;		/* ADDR:PORT, or NULL */
	const char *metrics_file;	/* or NULL */
	unsigned metrics_interval_s;	/* 0: 15 */
	struct vsp_sink *audit;		/* reopened on SIGUSR1; may be NULL */
	const char *audit_name;
	const char *const *files;	/* compiled again on SIGHUP */
	size_t nfiles;
};

struct vsp_carry {
	char **name;
	uint64_t *value;
	size_t n, cap;
};

#define VSP_SVC_CLIENTS 4

struct vsp_svc_client {
	int fd;
	uint64_t since;
	char req[2048];
	size_t rlen;
	char *reply;
	size_t len, off;
};

struct vsp_service {
	struct vsp_service_opts o;
	struct vsp_monitor_hooks hooks;
	const char *vm;
	bool ready, file_warned;
	uint64_t watchdog_ns, dog_ns, status_ns, file_ns;
	int lfd;
	struct vsp_svc_client cl[VSP_SVC_CLIENTS];
	uint64_t scrapes, reloads_ok, reloads_failed;
	struct vsp_jbuf text;
	/* What replaced policies had counted (see svc_snapshot). */
	struct vsp_engine_stats base, pending;
	struct vsp_carry rules, counters, pending_rules, pending_counters;
};

/* Sets up signals, the metrics socket and the hooks (s->hooks, for
 * vsp_monitor_opts.hooks).  -1 after a message. */
int vsp_service_init(struct vsp_service *s, const struct vsp_service_opts *o);
void vsp_service_release(struct vsp_service *s);

#endif
