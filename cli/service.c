/*
 * service.c: what `vsp attach` does around the monitor loop when it runs
 * as a host service (vsp@NAME.service, docs/service.md).
 *
 *  - systemd: READY=1 once every trap is placed, WATCHDOG=1 from the loop
 *    at half the unit's WatchdogSec, RELOADING=1/READY=1 around a reload,
 *    STOPPING=1 at the end, STATUS= throughout.  Without NOTIFY_SOCKET
 *    these are no-ops.
 *  - SIGHUP: the policy files are compiled again; on success they replace
 *    the old ones between two traps, with the traps moved (the monitor's
 *    `load`); on errors the old ones stay and the errors go to stderr.
 *  - SIGUSR1: the audit file is reopened (logrotate's move-then-signal).
 *  - --metrics ADDR:PORT: Prometheus text exposition, served from the
 *    loop's tick (between traps, at least once a second) over
 *    non-blocking sockets, so a slow scraper never holds up a trap;
 *    --metrics-file FILE: the same text written to FILE.tmp and renamed
 *    over FILE every --metrics-interval seconds and at exit, for
 *    node_exporter's textfile collector.
 *
 * Everything here runs in the monitor's thread between two traps; none of
 * it is on the decision path.
 */
#include "cli/service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef VSP_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "base/clock.h"
#include "cli/commands.h"
#include "interp/json.h"

static volatile sig_atomic_t svc_hup, svc_usr1;

static void svc_on_hup(int sig)
{
	svc_hup = 1;
}

static void svc_on_usr1(int sig)
{
	svc_usr1 = 1;
}

static void svc_notify(const char *msg)
{
#ifdef VSP_HAVE_SYSTEMD
	sd_notify(0, msg);
#else
	(void)msg;
#endif
}

/* --- metrics ------------------------------------------------------- */

static void put_label(struct vsp_jbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			vsp_jbuf_raw(b, "\\", 1);
		if (*v == '\n')
			vsp_jbuf_raw(b, "\\n", 2);
		else
			vsp_jbuf_raw(b, v, 1);
	}
}

static void metric_head(struct vsp_jbuf *b, const char *name,
			const char *type, const char *help)
{
	vsp_jbuf_cstr(b, "# HELP ");
	vsp_jbuf_cstr(b, name);
	vsp_jbuf_cstr(b, " ");
	vsp_jbuf_cstr(b, help);
	vsp_jbuf_cstr(b, "\n# TYPE ");
	vsp_jbuf_cstr(b, name);
	vsp_jbuf_cstr(b, " ");
	vsp_jbuf_cstr(b, type);
	vsp_jbuf_cstr(b, "\n");
}

/* name{vm="..."[,k="v"]} value */
static void metric(struct vsp_service *s, const char *name, const char *k,
		   const char *v, const char *value)
{
	struct vsp_jbuf *b = &s->text;

	vsp_jbuf_cstr(b, name);
	vsp_jbuf_cstr(b, "{vm=\"");
	put_label(b, s->vm);
	if (k) {
		vsp_jbuf_cstr(b, "\",");
		vsp_jbuf_cstr(b, k);
		vsp_jbuf_cstr(b, "=\"");
		put_label(b, v);
	}
	vsp_jbuf_cstr(b, "\"} ");
	vsp_jbuf_cstr(b, value);
	vsp_jbuf_cstr(b, "\n");
}

static void metric_u(struct vsp_service *s, const char *name, const char *k,
		     const char *v, uint64_t n)
{
	char t[24];

	snprintf(t, sizeof(t), "%" PRIu64, n);
	metric(s, name, k, v, t);
}

static void metric_f(struct vsp_service *s, const char *name, const char *k,
		     const char *v, double x)
{
	char t[40];

	snprintf(t, sizeof(t), "%.9g", x);
	metric(s, name, k, v, t);
}

static void histogram(struct vsp_service *s, const char *name,
		      const char *help, const struct vsp_latency *l,
		      const uint64_t *bounds_ns, size_t nb)
{
	char le[32];

	metric_head(&s->text, name, "histogram", help);
	size_t base = strlen(name);
	char bucket[96], sum[96], count[96];
	snprintf(bucket, sizeof(bucket), "%.*s_bucket", (int)base, name);
	snprintf(sum, sizeof(sum), "%.*s_sum", (int)base, name);
	snprintf(count, sizeof(count), "%.*s_count", (int)base, name);
	for (size_t i = 0; i < nb; i++) {
		snprintf(le, sizeof(le), "%.9g", (double)bounds_ns[i] / 1e9);
		metric_u(s, bucket, "le", le, vsp_latency_count_le(l, bounds_ns[i]));
	}
	metric_u(s, bucket, "le", "+Inf", l->n);
	metric_f(s, sum, NULL, NULL, (double)l->sum / 1e9);
	metric_u(s, count, NULL, NULL, l->n);
}

/* Rule hits and named counters carried over from policies a reload
 * replaced, so the exported counters never go back. */
static uint64_t *svc_carry(struct vsp_carry *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			return &c->value[i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **nv = realloc(c->name, cap * sizeof(*nv));
		if (!nv)
			return NULL;
		c->name = nv;
		uint64_t *vv = realloc(c->value, cap * sizeof(*vv));
		if (!vv)
			return NULL;
		c->value = vv;
		c->cap = cap;
	}
	if (!(c->name[c->n] = strdup(name)))
		return NULL;
	c->value[c->n] = 0;
	return &c->value[c->n++];
}

static uint64_t carried(const struct vsp_carry *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			return c->value[i];
	return 0;
}

static void carry_release(struct vsp_carry *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->name[i]);
	free(c->name);
	free(c->value);
	memset(c, 0, sizeof(*c));
}

/* Keeps what the policy about to be replaced has counted. */
static void svc_snapshot(struct vsp_service *s, const struct vsp_policy *p)
{
	struct vsp_engine_stats es;

	vsp_policy_stats(p, &es);
	s->pending = es;
	carry_release(&s->pending_rules);
	carry_release(&s->pending_counters);
	for (uint32_t r = 0; r < vsp_policy_nrules(p); r++) {
		uint64_t *v = svc_carry(&s->pending_rules, vsp_policy_rule(p, r)->name);
		if (v)
			*v += vsp_policy_rule_hits(p, r);
	}
	for (uint32_t i = 0; i < vsp_policy_ncounters(p); i++) {
		uint64_t n;
		const char *name = vsp_policy_counter(p, i, &n);
		uint64_t *v = svc_carry(&s->pending_counters, name);
		if (v)
			*v += n;
	}
}

static void svc_commit_snapshot(struct vsp_service *s)
{
	s->base.events += s->pending.events;
	for (int v = 0; v < VSP_V_COUNT; v++)
		s->base.decisions[v] += s->pending.decisions[v];
	s->base.cache_hits += s->pending.cache_hits;
	s->base.cache_misses += s->pending.cache_misses;
	s->base.flagged += s->pending.flagged;
	s->base.partial += s->pending.partial;
	for (size_t i = 0; i < s->pending_rules.n; i++) {
		uint64_t *v = svc_carry(&s->rules, s->pending_rules.name[i]);
		if (v)
			*v += s->pending_rules.value[i];
	}
	for (size_t i = 0; i < s->pending_counters.n; i++) {
		uint64_t *v = svc_carry(&s->counters, s->pending_counters.name[i]);
		if (v)
			*v += s->pending_counters.value[i];
	}
}

static const uint64_t dec_bounds[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000,
	10000000
};
static const uint64_t trap_bounds[] = {
	10000, 100000, 1000000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 1000000000, 10000000000ull
};

/* The whole exposition, into s->text. */
static void svc_render(struct vsp_service *s, const struct vsp_monitor_view *v)
{
	struct vsp_engine_stats es;
	const struct vsp_policy *p = v->policy;
	const struct vsp_run_stats *rs = v->rs;
	struct vsp_jbuf *b = &s->text;

	b->len = 0;
	b->oom = false;
	vsp_policy_stats(p, &es);
	metric_head(b, "vsp_up", "gauge", "1 while vsp guards the guest.");
	metric_u(s, "vsp_up", NULL, NULL, 1);
	metric_head(b, "vsp_traps_installed", "gauge",
		    "Event traps placed in the guest.");
	metric_u(s, "vsp_traps_installed", NULL, NULL, rs->traps_installed);
	metric_head(b, "vsp_traps_hit_total", "counter",
		    "Traps the guest stopped at (events and helper traps).");
	metric_u(s, "vsp_traps_hit_total", NULL, NULL, v->trap_hits);
	metric_head(b, "vsp_events_total", "counter",
		    "Events trapped, by kind.");
	for (int k = 0; k < VSP_EV_KIND_COUNT; k++)
		metric_u(s, "vsp_events_total", "kind",
			 vsp_event_kind_name((enum vsp_event_kind)k),
			 rs->kind_events[k]);
	metric_head(b, "vsp_engine_events_total", "counter",
		    "Events the engine decided.");
	metric_u(s, "vsp_engine_events_total", NULL, NULL,
		 s->base.events + es.events);
	metric_head(b, "vsp_decisions_total", "counter",
		    "Decisions, by verdict.");
	for (int d = 0; d < VSP_V_COUNT; d++)
		metric_u(s, "vsp_decisions_total", "verdict",
			 vsp_verdict_name((enum vsp_verdict)d),
			 s->base.decisions[d] + es.decisions[d]);
	metric_head(b, "vsp_rule_hits_total", "counter",
		    "Times each rule decided or one of its effects fired.");
	for (uint32_t r = 0; r < vsp_policy_nrules(p); r++) {
		const char *name = vsp_policy_rule(p, r)->name;
		metric_u(s, "vsp_rule_hits_total", "rule", name,
			 carried(&s->rules, name) + vsp_policy_rule_hits(p, r));
	}
	for (size_t i = 0; i < s->rules.n; i++) {
		bool live = false;
		for (uint32_t r = 0; r < vsp_policy_nrules(p) && !live; r++)
			live = strcmp(vsp_policy_rule(p, r)->name, s->rules.name[i]) == 0;
		if (!live)
			metric_u(s, "vsp_rule_hits_total", "rule", s->rules.name[i],
				 s->rules.value[i]);
	}
	if (vsp_policy_ncounters(p) || s->counters.n) {
		metric_head(b, "vsp_policy_count_total", "counter",
			    "The policy's named counters (count \"name\").");
		for (uint32_t i = 0; i < vsp_policy_ncounters(p); i++) {
			uint64_t n;
			const char *name = vsp_policy_counter(p, i, &n);
			metric_u(s, "vsp_policy_count_total", "name", name,
				 carried(&s->counters, name) + n);
		}
	}
	metric_head(b, "vsp_cache_hits_total", "counter", "Decision cache hits.");
	metric_u(s, "vsp_cache_hits_total", NULL, NULL,
		 s->base.cache_hits + es.cache_hits);
	metric_head(b, "vsp_cache_misses_total", "counter",
		    "Decision cache misses.");
	metric_u(s, "vsp_cache_misses_total", NULL, NULL,
		 s->base.cache_misses + es.cache_misses);
	histogram(s, "vsp_decision_latency_seconds",
		  "Time in the engine per decision (guest reads excluded).",
		  &rs->latency, dec_bounds, sizeof(dec_bounds) / sizeof(dec_bounds[0]));
	histogram(s, "vsp_trap_latency_seconds",
		  "Time from a trap's stop to the guest's resume.",
		  &rs->trap_latency, trap_bounds,
		  sizeof(trap_bounds) / sizeof(trap_bounds[0]));
	metric_head(b, "vsp_round_trips_total", "counter",
		    "Backend round trips (GDB packets answered, Xen calls).");
	metric_u(s, "vsp_round_trips_total", NULL, NULL, rs->round_trips);
	metric_head(b, "vsp_trap_round_trips_total", "counter",
		    "Backend round trips spent inside traps.");
	metric_u(s, "vsp_trap_round_trips_total", NULL, NULL, v->rt_in_traps);
	metric_head(b, "vsp_round_trips_per_trap", "gauge",
		    "Mean backend round trips per trap so far.");
	metric_f(s, "vsp_round_trips_per_trap", NULL, NULL,
		 v->trap_hits ? (double)v->rt_in_traps / (double)v->trap_hits : 0);
	metric_head(b, "vsp_guest_paused_seconds_total", "counter",
		    "Time the trapping vCPU stood stopped in vsp's traps.");
	metric_f(s, "vsp_guest_paused_seconds_total", NULL, NULL,
		 (double)rs->trap_ns / 1e9);
	metric_head(b, "vsp_audit_records_total", "counter",
		    "Audit records written.");
	metric_u(s, "vsp_audit_records_total", NULL, NULL, v->audit_records);
	metric_head(b, "vsp_audit_write_errors_total", "counter",
		    "Audit records a write failed for.");
	metric_u(s, "vsp_audit_write_errors_total", NULL, NULL,
		 v->audit_write_errors);
	metric_head(b, "vsp_policy_reloads_total", "counter",
		    "Policy reloads (SIGHUP), by outcome.");
	metric_u(s, "vsp_policy_reloads_total", "result", "ok", s->reloads_ok);
	metric_u(s, "vsp_policy_reloads_total", "result", "error", s->reloads_failed);
}

/* FILE.tmp, then rename: the collector never reads half a file. */
static int svc_write_file(struct vsp_service *s)
{
	size_t n = strlen(s->o.metrics_file) + 8;
	char *tmp = malloc(n);
	int rc = 0;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, n, "%s.tmp", s->o.metrics_file);
	FILE *f = fopen(tmp, "we");
	if (!f) {
		rc = -errno;
	} else {
		if (fwrite(s->text.p, 1, s->text.len, f) != s->text.len)
			rc = -errno;
		if (fclose(f) != 0 && !rc)
			rc = -errno;
		if (!rc && rename(tmp, s->o.metrics_file) < 0)
			rc = -errno;
		if (rc)
			unlink(tmp);
	}
	if (rc && !s->file_warned) {
		fprintf(stderr, "vsp attach: --metrics-file %s: %s\n",
			s->o.metrics_file, strerror(-rc));
		s->file_warned = true;
	}
	free(tmp);
	return rc;
}

static int svc_listen(struct vsp_service *s)
{
	const char *hp = s->o.metrics;
	const char *c = strrchr(hp, ':');
	char host[256];

	if (!c || c == hp || (size_t)(c - hp) >= sizeof(host)) {
		fprintf(stderr, "vsp attach: --metrics wants ADDRESS:PORT, not '%s'\n",
			hp);
		return -1;
	}
	size_t hl = (size_t)(c - hp);
	if (hp[0] == '[' && hl >= 2 && hp[hl - 1] == ']') {
		memcpy(host, hp + 1, hl - 2);
		host[hl - 2] = 0;
	} else {
		memcpy(host, hp, hl);
		host[hl] = 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE }, *ai;
	int rc = getaddrinfo(host, c + 1, &hints, &ai);
	if (rc) {
		fprintf(stderr, "vsp attach: --metrics %s: %s (a numeric address "
			"is needed)\n", hp, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 8) < 0) {
		fprintf(stderr, "vsp attach: --metrics %s: %s\n", hp, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	s->lfd = fd;
	return 0;
}

/* One scrape connection: read the request head, then write the reply;
 * both a little at a time, never waiting. */
static void svc_client_step(struct vsp_service *s, struct vsp_svc_client *c,
			    const struct vsp_monitor_view *v)
{
	if (!c->reply) {
		ssize_t n = read(c->fd, c->req + c->rlen, sizeof(c->req) - 1 - c->rlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			goto drop;
		if (n > 0)
			c->rlen += (size_t)n;
		c->req[c->rlen] = 0;
		if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
			if (c->rlen >= sizeof(c->req) - 1)
				goto drop;
			if (vsp_now_ns() - c->since > 5000000000ull)
				goto drop;	/* a client that never finishes */
			return;
		}
		const char *status = "200 OK";
		bool head = strncmp(c->req, "HEAD ", 5) == 0;
		if (strncmp(c->req, "GET ", 4) != 0 && !head)
			status = "405 Method Not Allowed";
		svc_render(s, v);
		char hdr[256];
		int hl = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %s\r\n"
				  "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
				  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				  status, s->text.len);
		size_t body = head || status[0] != '2' ? 0 : s->text.len;
		c->reply = malloc((size_t)hl + body);
		if (!c->reply)
			goto drop;
		memcpy(c->reply, hdr, (size_t)hl);
		if (body)
			memcpy(c->reply + hl, s->text.p, body);
		c->len = (size_t)hl + body;
		c->off = 0;
		s->scrapes++;
	}
	while (c->off < c->len) {
		ssize_t n = send(c->fd, c->reply + c->off, c->len - c->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (vsp_now_ns() - c->since > 10000000000ull)
				goto drop;
			return;
		}
		if (n <= 0)
			goto drop;
		c->off += (size_t)n;
	}
drop:
	close(c->fd);
	free(c->reply);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void svc_serve(struct vsp_service *s, const struct vsp_monitor_view *v)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		struct vsp_svc_client *c = NULL;
		for (int i = 0; i < VSP_SVC_CLIENTS && !c; i++)
			if (s->cl[i].fd < 0)
				c = &s->cl[i];
		if (!c) {
			close(fd);	/* busy: the scraper tries again */
			continue;
		}
		c->fd = fd;
		c->since = vsp_now_ns();
	}
	for (int i = 0; i < VSP_SVC_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			svc_client_step(s, &s->cl[i], v);
}

/* --- the hooks ----------------------------------------------------- */

static void svc_status(struct vsp_service *s, const struct vsp_monitor_view *v)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "STATUS=guarding %s: %" PRIu64 " traps, %"
		 PRIu64 " events, %" PRIu64 " audit records", s->vm,
		 v->rs->traps_installed, v->events, v->audit_records);
	svc_notify(msg);
}

static void svc_ready(void *ctx, const struct vsp_monitor_view *v)
{
	struct vsp_service *s = ctx;

	svc_notify("READY=1");
	svc_status(s, v);
	s->ready = true;
	if (s->o.metrics_file) {
		svc_render(s, v);
		svc_write_file(s);
		s->file_ns = vsp_now_ns();
	}
}

static int svc_tick(void *ctx, const struct vsp_monitor_view *v)
{
	struct vsp_service *s = ctx;
	uint64_t now = vsp_now_ns();

	if (s->watchdog_ns && now - s->dog_ns >= s->watchdog_ns / 2) {
		svc_notify("WATCHDOG=1");
		s->dog_ns = now;
	}
	if (now - s->status_ns >= 5000000000ull) {
		svc_status(s, v);
		s->status_ns = now;
	}
	if (s->lfd >= 0)
		svc_serve(s, v);
	if (s->o.metrics_file &&
	    now - s->file_ns >= s->o.metrics_interval_s * 1000000000ull) {
		svc_render(s, v);
		svc_write_file(s);
		s->file_ns = now;
	}
	if (svc_usr1) {
		svc_usr1 = 0;
		if (s->o.audit) {
			int rc = vsp_sink_reopen(s->o.audit);
			if (rc < 0)
				fprintf(stderr, "vsp attach: SIGUSR1: cannot reopen "
					"the audit log %s: %s; still writing the "
					"old one\n", s->o.audit_name, strerror(-rc));
			else
				fprintf(stderr, "vsp attach: SIGUSR1: audit log "
					"%s reopened\n", s->o.audit_name);
		}
	}
	if (svc_hup) {
		svc_hup = 0;
		svc_notify("RELOADING=1");
		fprintf(stderr, "vsp attach: SIGHUP: compiling the policies again\n");
		svc_snapshot(s, v->policy);
		return VSP_HOOK_RELOAD;
	}
	return VSP_HOOK_GO_ON;
}

static void svc_reloaded(void *ctx, const struct vsp_monitor_view *v, bool ok)
{
	struct vsp_service *s = ctx;

	if (ok) {
		svc_commit_snapshot(s);
		s->reloads_ok++;
		fprintf(stderr, "vsp attach: SIGHUP: new policies in force, %"
			PRIu64 " traps\n", v->rs->traps_installed);
	} else {
		s->reloads_failed++;
		fprintf(stderr, "vsp attach: SIGHUP: the policies did not "
			"compile; the old ones stay in force\n");
	}
	svc_notify("READY=1");
	svc_status(s, v);
}

static void svc_done(void *ctx, const struct vsp_monitor_view *v)
{
	struct vsp_service *s = ctx;

	svc_notify("STOPPING=1");
	if (s->o.metrics_file && s->ready) {
		svc_render(s, v);
		svc_write_file(s);
	}
}

int vsp_service_init(struct vsp_service *s, const struct vsp_service_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->o = *o;
	s->vm = o->vm ? o->vm : "guest0";
	s->lfd = -1;
	for (int i = 0; i < VSP_SVC_CLIENTS; i++)
		s->cl[i].fd = -1;
	if (!s->o.metrics_interval_s)
		s->o.metrics_interval_s = 15;
	vsp_jbuf_init(&s->text);
	if (o->metrics && svc_listen(s) < 0)
		return -1;
#ifdef VSP_HAVE_SYSTEMD
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0)
		s->watchdog_ns = usec * 1000;
#endif
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the monitor's wait returns to the loop at once. */
	sa.sa_handler = svc_on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = svc_on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	svc_hup = svc_usr1 = 0;
	s->hooks.ctx = s;
	s->hooks.ready = svc_ready;
	s->hooks.tick = svc_tick;
	s->hooks.reloaded = svc_reloaded;
	s->hooks.done = svc_done;
	s->hooks.files = o->files;
	s->hooks.nfiles = o->nfiles;
	return 0;
}

void vsp_service_release(struct vsp_service *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < VSP_SVC_CLIENTS; i++)
		if (s->cl[i].fd >= 0) {
			close(s->cl[i].fd);
			free(s->cl[i].reply);
		}
	if (s->lfd >= 0)
		close(s->lfd);
	vsp_jbuf_release(&s->text);
	carry_release(&s->rules);
	carry_release(&s->counters);
	carry_release(&s->pending_rules);
	carry_release(&s->pending_counters);
}
