/*
 * audit.c: audit records and statistics (see audit.h).
 */
#include "interp/audit.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "lang/catalog.h"

void vsp_audit_init(struct vsp_audit *a, FILE *out, struct vsp_policy *p)
{
	memset(a, 0, sizeof(*a));
	a->out = out;
	a->policy = p;
	vsp_jbuf_init(&a->buf);
}

void vsp_audit_release(struct vsp_audit *a)
{
	if (a->out && fflush(a->out) != 0)
		a->failed = true;
	vsp_jbuf_release(&a->buf);
}

/* --- wall-clock time ---------------------------------------------- */

uint64_t vsp_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_digits(char *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * Days since 1970-01-01 to a proleptic Gregorian date (the era-based
 * conversion: 400-year eras of 146097 days, years starting in March so the
 * leap day comes last).  Days are never negative here.
 */
static void civil_from_days(uint64_t z, uint64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	uint64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

size_t vsp_rfc3339(uint64_t ns, char *out)
{
	uint64_t secs = ns / 1000000000u, y;
	uint64_t sod = secs % 86400;
	unsigned m, d;

	civil_from_days(secs / 86400, &y, &m, &d);
	memcpy(out, "0000-00-00T00:00:00.000000000Z", VSP_RFC3339_LEN + 1);
	put_digits(out, y, 4);
	put_digits(out + 5, m, 2);
	put_digits(out + 8, d, 2);
	put_digits(out + 11, sod / 3600, 2);
	put_digits(out + 14, sod / 60 % 60, 2);
	put_digits(out + 17, sod % 60, 2);
	put_digits(out + 20, ns % 1000000000u, 9);
	return VSP_RFC3339_LEN;
}

/* This decision's time, read from the clock on first use. */
static const char *audit_time(struct vsp_audit *a)
{
	if (!a->have_time) {
		vsp_rfc3339(vsp_wall_ns(), a->time);
		a->have_time = true;
	}
	return a->time;
}

/* --- records ------------------------------------------------------- */

static void put_event(struct vsp_jbuf *b, struct vsp_event *ev)
{
	bool first = true;

	vsp_jbuf_raw(b, "{", 1);
	vsp_jbuf_key(b, "kind", &first);
	vsp_jbuf_cstr(b, "\"");
	vsp_jbuf_cstr(b, vsp_event_kind_name(ev->kind));
	vsp_jbuf_cstr(b, "\"");
	vsp_jbuf_key(b, "name", &first);
	vsp_jbuf_str(b, ev->name, strlen(ev->name));
	if (vsp_kind_has(ev->kind, VSP_FG_NR)) {
		vsp_jbuf_key(b, "nr", &first);
		vsp_jbuf_uint(b, ev->nr);
	}
	vsp_jbuf_key(b, "proc", &first);
	{
		bool pf = true;
		vsp_jbuf_raw(b, "{", 1);
		vsp_jbuf_key(b, "pid", &pf);
		vsp_jbuf_int(b, ev->proc.pid);
		vsp_jbuf_key(b, "comm", &pf);
		vsp_jbuf_str(b, ev->proc.comm,
			     strnlen(ev->proc.comm, sizeof(ev->proc.comm)));
		vsp_jbuf_key(b, "uid", &pf);
		vsp_jbuf_int(b, ev->proc.uid);
		vsp_jbuf_raw(b, "}", 1);
	}
	if (ev->kind == VSP_EV_SYSCALL) {
		const struct vsp_call *c = vsp_syscall_by_nr(ev->nr);
		struct vsp_str s;
		if (c && vsp_call_path_arg(c) >= 0 &&
		    vsp_event_string(ev, VSP_F_PATH, &s)) {
			vsp_jbuf_key(b, "path", &first);
			vsp_jbuf_str(b, s.ptr, s.len);
		}
	}
	if (vsp_kind_has(ev->kind, VSP_FG_WRITE)) {
		vsp_jbuf_key(b, "addr", &first);
		vsp_jbuf_uint(b, ev->addr);
		vsp_jbuf_key(b, "value", &first);
		vsp_jbuf_uint(b, ev->value);
	}
	if (ev->has_stack) {
		vsp_jbuf_key(b, "stack", &first);
		vsp_jbuf_raw(b, "[", 1);
		for (uint32_t i = 0; i < ev->nstack; i++) {
			if (i)
				vsp_jbuf_raw(b, ",", 1);
			vsp_jbuf_str(b, ev->stack[i], strlen(ev->stack[i]));
		}
		vsp_jbuf_raw(b, "]", 1);
		if (ev->stack_partial) {
			vsp_jbuf_key(b, "stack_partial", &first);
			vsp_jbuf_cstr(b, "true");
		}
	}
	if (ev->partial) {
		vsp_jbuf_key(b, "partial", &first);
		vsp_jbuf_cstr(b, "true");
	}
	vsp_jbuf_raw(b, "}", 1);
}

static void put_message(struct vsp_audit *a, struct vsp_event *ev,
			int effect, const struct vsp_decision *d, int rule)
{
	const struct vsp_effect_info *ei = effect >= 0 ?
		vsp_policy_effect(a->policy, (uint32_t)effect) : NULL;
	char msg[1024];

	if (ei && ei->text) {
		vsp_policy_format(a->policy, (uint32_t)effect, ev, msg,
				  sizeof(msg));
	} else if (d && d->failed) {
		snprintf(msg, sizeof(msg), "%s %s %s (its inputs could not be read in full)",
			 vsp_verdict_name(d->verdict), vsp_event_kind_name(ev->kind),
			 ev->name);
	} else {
		const char *rname = rule >= 0 ?
			vsp_policy_rule(a->policy, (uint32_t)rule)->name :
			"default";
		snprintf(msg, sizeof(msg), "%s %s %s (rule %s)",
			 d ? vsp_verdict_name(d->verdict) : "matched",
			 vsp_event_kind_name(ev->kind), ev->name, rname);
	}
	vsp_jbuf_str(&a->buf, msg, strlen(msg));
}

static void put_tags(struct vsp_jbuf *b, const struct vsp_rule_info *ri,
		     bool *first)
{
	static const char *const prio[] = {
		NULL, "low", "medium", "high", "critical"
	};

	if (ri->priority != VSP_PRIO_NONE) {
		vsp_jbuf_key(b, "priority", first);
		vsp_jbuf_str(b, prio[ri->priority], strlen(prio[ri->priority]));
	}
	if (ri->ntags) {
		vsp_jbuf_key(b, "tags", first);
		vsp_jbuf_raw(b, "[", 1);
		for (uint32_t i = 0; i < ri->ntags; i++) {
			if (i)
				vsp_jbuf_raw(b, ",", 1);
			vsp_jbuf_str(b, ri->tags[i], strlen(ri->tags[i]));
		}
		vsp_jbuf_raw(b, "]", 1);
	}
}

/*
 * One record.  `d` is NULL for an effect-only record; `effect` is the
 * effect whose message and severity the record carries, or -1.
 */
static void put_record(struct vsp_audit *a, struct vsp_event *ev,
		       const struct vsp_decision *d, int rule, int effect,
		       bool alert, bool applied)
{
	struct vsp_jbuf *b = &a->buf;
	bool first = true;

	b->len = 0;
	vsp_jbuf_raw(b, "{", 1);
	vsp_jbuf_key(b, "seq", &first);
	vsp_jbuf_uint(b, ev->seq);
	vsp_jbuf_key(b, "time_ns", &first);
	vsp_jbuf_uint(b, ev->time_ns);
	vsp_jbuf_key(b, "time", &first);
	vsp_jbuf_str(b, audit_time(a), VSP_RFC3339_LEN);
	vsp_jbuf_key(b, "vm", &first);
	vsp_jbuf_str(b, ev->vm ? ev->vm : "", ev->vm ? strlen(ev->vm) : 0);
	vsp_jbuf_key(b, "rule", &first);
	if (rule >= 0) {
		const char *n = vsp_policy_rule(a->policy, (uint32_t)rule)->name;
		vsp_jbuf_str(b, n, strlen(n));
	} else {
		vsp_jbuf_cstr(b, "null");
	}
	vsp_jbuf_key(b, "verdict", &first);
	if (d) {
		vsp_jbuf_cstr(b, "\"");
		vsp_jbuf_cstr(b, vsp_verdict_name(d->verdict));
		vsp_jbuf_cstr(b, "\"");
		if (d->verdict == VSP_V_DENY) {
			vsp_jbuf_key(b, "errno", &first);
			vsp_jbuf_int(b, d->value);
		} else if (d->verdict == VSP_V_RETURN) {
			vsp_jbuf_key(b, "value", &first);
			vsp_jbuf_int(b, d->value);
		} else if (d->verdict == VSP_V_REDIRECT) {
			vsp_jbuf_key(b, "redirect", &first);
			vsp_jbuf_str(b, d->redirect.ptr, d->redirect.len);
		}
	} else {
		vsp_jbuf_cstr(b, "null");
	}
	vsp_jbuf_key(b, "severity", &first);
	vsp_jbuf_cstr(b, alert ? "\"alert\"" : "\"info\"");
	vsp_jbuf_key(b, "mode", &first);
	vsp_jbuf_cstr(b, "\"");
	vsp_jbuf_cstr(b, vsp_mode_name(vsp_policy_mode(a->policy)));
	vsp_jbuf_cstr(b, "\"");
	vsp_jbuf_key(b, "applied", &first);
	vsp_jbuf_cstr(b, applied ? "true" : "false");
	vsp_jbuf_key(b, "msg", &first);
	put_message(a, ev, effect, d, rule);
	if (rule >= 0)
		put_tags(b, vsp_policy_rule(a->policy, (uint32_t)rule), &first);
	if (d && d->flagged) {
		vsp_jbuf_key(b, "flagged", &first);
		vsp_jbuf_cstr(b, "true");
	}
	if (d && d->failed) {
		/* The run's failure policy chose this verdict (--on-partial). */
		vsp_jbuf_key(b, "failed", &first);
		vsp_jbuf_cstr(b, "true");
	}
	vsp_jbuf_key(b, "event", &first);
	put_event(b, ev);
	vsp_jbuf_raw(b, "}\n", 2);

	if (b->oom || fwrite(b->p, 1, b->len, a->out) != b->len)
		a->failed = true;
	a->records++;
}

void vsp_audit_decision(struct vsp_audit *a, struct vsp_event *ev,
			const struct vsp_decision *d, bool applied)
{
	int own_effect = -1;
	bool own_alert = false;

	a->have_time = false;

	for (uint32_t i = 0; i < d->nfired; i++) {
		const struct vsp_fired *f = &d->fired[i];
		const struct vsp_effect_info *ei =
			vsp_policy_effect(a->policy, f->effect);
		if (ei->kind == VSP_EFF_COUNT_)
			continue;
		bool alert = ei->kind == VSP_EFF_ALERT;
		if ((int32_t)f->rule == d->rule) {
			/* The deciding rule's effects join its record; an
			 * alert outranks a log for severity and message. */
			if (own_effect < 0 || (alert && !own_alert)) {
				own_effect = (int)f->effect;
				own_alert = alert;
			}
			continue;
		}
		put_record(a, ev, NULL, (int)f->rule, (int)f->effect, alert,
			   false);
	}
	if (d->rule >= 0 || d->verdict != VSP_V_ALLOW || d->failed)
		put_record(a, ev, d, d->rule, own_effect, own_alert, applied);
	if (a->flush_each && fflush(a->out) != 0)
		a->failed = true;
}

/* --- latency ------------------------------------------------------- */

static unsigned lat_bucket(uint64_t ns)
{
	if (ns < 64)
		return (unsigned)ns;
	unsigned hb = 63u - (unsigned)__builtin_clzll(ns);	/* >= 6 */
	unsigned sub = (unsigned)(ns >> (hb - 4)) & 15u;
	unsigned i = 64 + (hb - 6) * 16 + sub;
	return i < VSP_LAT_BUCKETS ? i : VSP_LAT_BUCKETS - 1;
}

static uint64_t lat_upper(unsigned i)
{
	if (i < 64)
		return i;
	unsigned hb = (i - 64) / 16 + 6, sub = (i - 64) % 16;
	return ((16ull + sub + 1) << (hb - 4)) - 1;
}

void vsp_latency_add(struct vsp_latency *l, uint64_t ns)
{
	l->bucket[lat_bucket(ns)]++;
	l->n++;
	l->sum += ns;
	if (ns > l->max)
		l->max = ns;
}

uint64_t vsp_latency_quantile(const struct vsp_latency *l, double q)
{
	if (!l->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)l->n + 0.999999);
	uint64_t seen = 0;

	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < VSP_LAT_BUCKETS; i++) {
		seen += l->bucket[i];
		if (seen >= want) {
			uint64_t u = lat_upper(i);
			return u < l->max ? u : l->max;
		}
	}
	return l->max;
}

/* --- statistics ---------------------------------------------------- */

static void stats_json(FILE *out, const struct vsp_policy *p,
		       const struct vsp_engine_stats *es,
		       const struct vsp_run_stats *rs)
{
	struct vsp_jbuf b;
	bool first = true, f2;

	vsp_jbuf_init(&b);
	vsp_jbuf_raw(&b, "{", 1);
	vsp_jbuf_key(&b, "events", &first);
	vsp_jbuf_uint(&b, es->events);
	vsp_jbuf_key(&b, "decisions", &first);
	vsp_jbuf_raw(&b, "{", 1);
	f2 = true;
	for (int v = VSP_V_ALLOW; v < VSP_V_COUNT; v++) {
		vsp_jbuf_key(&b, vsp_verdict_name((enum vsp_verdict)v), &f2);
		vsp_jbuf_uint(&b, es->decisions[v]);
	}
	vsp_jbuf_raw(&b, "}", 1);
	vsp_jbuf_key(&b, "rules", &first);
	vsp_jbuf_raw(&b, "{", 1);
	f2 = true;
	for (uint32_t r = 0; r < vsp_policy_nrules(p); r++) {
		vsp_jbuf_key(&b, vsp_policy_rule(p, r)->name, &f2);
		vsp_jbuf_uint(&b, vsp_policy_rule_hits(p, r));
	}
	vsp_jbuf_raw(&b, "}", 1);
	vsp_jbuf_key(&b, "counters", &first);
	vsp_jbuf_raw(&b, "{", 1);
	f2 = true;
	for (uint32_t i = 0; i < vsp_policy_ncounters(p); i++) {
		uint64_t v;
		const char *n = vsp_policy_counter(p, i, &v);
		vsp_jbuf_key(&b, n, &f2);
		vsp_jbuf_uint(&b, v);
	}
	vsp_jbuf_raw(&b, "}", 1);
	vsp_jbuf_key(&b, "cache", &first);
	vsp_jbuf_cstr(&b, "{\"hits\":");
	vsp_jbuf_uint(&b, es->cache_hits);
	vsp_jbuf_cstr(&b, ",\"misses\":");
	vsp_jbuf_uint(&b, es->cache_misses);
	vsp_jbuf_cstr(&b, "}");
	vsp_jbuf_key(&b, "const_verdicts", &first);
	vsp_jbuf_uint(&b, es->const_verdicts);
	vsp_jbuf_key(&b, "interpreted", &first);
	vsp_jbuf_uint(&b, es->interpreted);
	vsp_jbuf_key(&b, "flagged", &first);
	vsp_jbuf_uint(&b, es->flagged);
	vsp_jbuf_key(&b, "partial", &first);
	vsp_jbuf_uint(&b, es->partial);
	vsp_jbuf_key(&b, "traps_installed", &first);
	vsp_jbuf_uint(&b, rs->traps_installed);
	if (rs->round_trips) {
		vsp_jbuf_key(&b, "round_trips", &first);
		vsp_jbuf_uint(&b, rs->round_trips);
	}
	vsp_jbuf_key(&b, "latency_ns", &first);
	vsp_jbuf_cstr(&b, "{\"median\":");
	vsp_jbuf_uint(&b, vsp_latency_quantile(&rs->latency, 0.5));
	vsp_jbuf_cstr(&b, ",\"p99\":");
	vsp_jbuf_uint(&b, vsp_latency_quantile(&rs->latency, 0.99));
	vsp_jbuf_cstr(&b, ",\"max\":");
	vsp_jbuf_uint(&b, rs->latency.max);
	vsp_jbuf_cstr(&b, "}}\n");
	if (!b.oom)
		fwrite(b.p, 1, b.len, out);
	vsp_jbuf_release(&b);
}

void vsp_stats_print(FILE *out, const struct vsp_policy *p,
		     const struct vsp_run_stats *rs, bool json)
{
	struct vsp_engine_stats es;

	vsp_policy_stats(p, &es);
	if (json) {
		stats_json(out, p, &es, rs);
		return;
	}
	fprintf(out, "events:            %" PRIu64 "\n", es.events);
	fprintf(out, "decisions:        ");
	for (int v = VSP_V_ALLOW; v < VSP_V_COUNT; v++)
		fprintf(out, " %s %" PRIu64, vsp_verdict_name((enum vsp_verdict)v),
			es.decisions[v]);
	fprintf(out, "\n");
	if (vsp_policy_nrules(p)) {
		fprintf(out, "rule hits:\n");
		for (uint32_t r = 0; r < vsp_policy_nrules(p); r++)
			fprintf(out, "  %-32s %" PRIu64 "\n",
				vsp_policy_rule(p, r)->name,
				vsp_policy_rule_hits(p, r));
	}
	if (vsp_policy_ncounters(p)) {
		fprintf(out, "counters:\n");
		for (uint32_t i = 0; i < vsp_policy_ncounters(p); i++) {
			uint64_t v;
			const char *n = vsp_policy_counter(p, i, &v);
			fprintf(out, "  %-32s %" PRIu64 "\n", n, v);
		}
	}
	fprintf(out, "decision cache:     hits %" PRIu64 " misses %" PRIu64 "\n",
		es.cache_hits, es.cache_misses);
	fprintf(out, "fast path:          constant verdicts %" PRIu64
		" interpreted %" PRIu64 "\n", es.const_verdicts, es.interpreted);
	if (es.flagged || es.partial)
		fprintf(out, "faults:             flagged %" PRIu64 " partial %" PRIu64 "\n",
			es.flagged, es.partial);
	fprintf(out, "traps installed:    %" PRIu64 "\n", rs->traps_installed);
	if (rs->round_trips)
		fprintf(out, "round trips:        %" PRIu64 "\n", rs->round_trips);
	fprintf(out, "decision latency:   median %" PRIu64 " ns, p99 %" PRIu64
		" ns, max %" PRIu64 " ns\n",
		vsp_latency_quantile(&rs->latency, 0.5),
		vsp_latency_quantile(&rs->latency, 0.99), rs->latency.max);
	if (rs->trap_ns)
		fprintf(out, "engine share:       %.4f%% of trap time\n",
			100.0 * (double)rs->engine_ns / (double)rs->trap_ns);
}
