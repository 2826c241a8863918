/*
 * audit.c: audit records and statistics (see audit.h).
 */
#include "engine/audit.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "base/catalog.h"

void vsp_audit_init(struct vsp_audit *a, FILE *out, struct vsp_policy *p)
{
	memset(a, 0, sizeof(*a));
	a->out = out;
	a->policy = p;
	vsp_jbuf_init(&a->buf);
}

void vsp_audit_init_sink(struct vsp_audit *a, struct vsp_sink *sink,
			 struct vsp_policy *p)
{
	vsp_audit_init(a, NULL, p);
	a->sink = sink;
}

void vsp_audit_release(struct vsp_audit *a)
{
	if (a->sink ? vsp_sink_flush(a->sink) != 0
		    : a->out && fflush(a->out) != 0)
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
		a->wall_ns = vsp_wall_ns();
		vsp_rfc3339(a->wall_ns, a->time);
		a->have_time = true;
	}
	return a->time;
}

/* --- records ------------------------------------------------------- */

/* The resolved fields that name a hook event's object in its records. */
static vsp_fmask audit_named(const struct vsp_event *ev)
{
	static const enum vsp_field named[] = {
		VSP_F_FILE_PATH, VSP_F_TARGET_PATH, VSP_F_SOCK_FAMILY,
		VSP_F_SOCK_ADDR, VSP_F_SOCK_PORT, VSP_F_TARGET_PID,
		VSP_F_TARGET_COMM
	};
	const struct vsp_hook *h = vsp_hook_by_name(ev->kind, ev->name);
	vsp_fmask want = 0;

	for (size_t i = 0; h && i < sizeof named / sizeof named[0]; i++)
		if (h->fields & vsp_hook_field_group(named[i]))
			want |= VSP_FBIT(named[i]);
	return want;
}

void vsp_audit_prefetch(struct vsp_audit *a, struct vsp_event *ev,
			const struct vsp_decision *d)
{
	char msg[1024];
	vsp_fmask want = audit_named(ev) & ~ev->strs_valid;
	struct vsp_str s;

	for (uint32_t i = 0; i < d->nfired; i++)
		vsp_policy_format(a->policy, d->fired[i].effect, ev, msg,
				  sizeof msg);
	while (want) {
		unsigned f = vsp_fmask_ctz(want);

		want &= want - 1;
		vsp_event_string(ev, (enum vsp_field)f, &s);
	}
}

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
		vsp_json_resolved_proc(b, ev, ev->strs_valid & VSP_FMASK_RESOLVED,
				       false, &pf);
		vsp_jbuf_raw(b, "}", 1);
	}
	/* Whatever the rules read of the objects, and a hook's object by
	 * name, so a record says what was denied. */
	vsp_json_resolved(b, ev, (ev->strs_valid & VSP_FMASK_RESOLVED) |
			  audit_named(ev), false, &first);
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
		/* What was written where, over what (the trace's fields). */
		vsp_jbuf_key(b, "addr", &first);
		vsp_jbuf_uint(b, ev->addr);
		vsp_jbuf_key(b, "offset", &first);
		vsp_jbuf_uint(b, ev->offset);
		vsp_jbuf_key(b, "len", &first);
		vsp_jbuf_uint(b, ev->len);
		vsp_jbuf_key(b, "value", &first);
		vsp_jbuf_uint(b, ev->value);
		vsp_jbuf_key(b, "old", &first);
		vsp_jbuf_uint(b, ev->old);
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

#define AUDIT_MSG 1024

static void format_message(struct vsp_audit *a, struct vsp_event *ev,
			   int effect, const struct vsp_decision *d, int rule,
			   char *msg)
{
	const struct vsp_effect_info *ei = effect >= 0 ?
		vsp_policy_effect(a->policy, (uint32_t)effect) : NULL;

	if (ei && ei->text) {
		vsp_policy_format(a->policy, (uint32_t)effect, ev, msg, AUDIT_MSG);
	} else if (d && d->failed) {
		snprintf(msg, AUDIT_MSG, "%s %s %s (its inputs could not be read in full)",
			 vsp_verdict_name(d->verdict), vsp_event_kind_name(ev->kind),
			 ev->name);
	} else {
		const char *rname = rule >= 0 ?
			vsp_policy_rule(a->policy, (uint32_t)rule)->name :
			"default";
		snprintf(msg, AUDIT_MSG, "%s %s %s (rule %s)",
			 d ? vsp_verdict_name(d->verdict) : "matched",
			 vsp_event_kind_name(ev->kind), ev->name, rname);
	}
}

static const char *const prio_name[] = {
	NULL, "low", "medium", "high", "critical"
};

/*
 * The syslog severity of a record, and its Falco priority: a rule's
 * priority when it has one (critical 2, high 3 "Error", medium 4
 * "Warning", low 5 "Notice"), else warning for an alert and
 * informational for a log.
 */
static int record_level(const struct vsp_rule_info *ri, bool alert)
{
	static const int level[] = { 0, 5, 4, 3, 2 };

	if (ri && ri->priority != VSP_PRIO_NONE)
		return level[ri->priority];
	return alert ? 4 : 6;
}

static const char *const falco_prio[] = {
	"Emergency", "Alert", "Critical", "Error", "Warning", "Notice",
	"Informational", "Debug"
};

static void put_tag_list(struct vsp_jbuf *b, const struct vsp_rule_info *ri)
{
	vsp_jbuf_raw(b, "[", 1);
	for (uint32_t i = 0; ri && i < ri->ntags; i++) {
		if (i)
			vsp_jbuf_raw(b, ",", 1);
		vsp_jbuf_str(b, ri->tags[i], strlen(ri->tags[i]));
	}
	vsp_jbuf_raw(b, "]", 1);
}

static void put_tags(struct vsp_jbuf *b, const struct vsp_rule_info *ri,
		     bool *first)
{
	if (ri->priority != VSP_PRIO_NONE) {
		vsp_jbuf_key(b, "priority", first);
		vsp_jbuf_str(b, prio_name[ri->priority],
			     strlen(prio_name[ri->priority]));
	}
	if (ri->ntags) {
		vsp_jbuf_key(b, "tags", first);
		put_tag_list(b, ri);
	}
}

/* Everything a record says, in whichever shape it is written. */
struct rec_facts {
	struct vsp_event *ev;		/* NULL: a note */
	const struct vsp_decision *d;	/* NULL: effect-only */
	const struct vsp_rule_info *ri;	/* NULL: the default */
	const char *vm, *msg, *mode;
	const char *not_applied;	/* the deciding record: why not applied */
	bool alert, applied;
	int level;
	uint64_t seq, time_ns;
	/* a note's event */
	const char *kind, *name;
	uint64_t addr;
};

/* The file an event names: a file hook's resolved path (already read by
 * vsp_audit_prefetch on a live backend), a syscall's path argument. */
static bool event_path(struct vsp_event *ev, struct vsp_str *s)
{
	const struct vsp_call *c;

	if (ev->kind == VSP_EV_FILE)
		return vsp_event_string(ev, VSP_F_FILE_PATH, s);
	if (ev->kind != VSP_EV_SYSCALL)
		return false;
	c = vsp_syscall_by_nr(ev->nr);
	return c && vsp_call_path_arg(c) >= 0 &&
	       vsp_event_string(ev, VSP_F_PATH, s);
}

/*
 * Falco's JSON alert (its falco_formats::format_event with json_output,
 * keys in the order it writes them): "output" is "TIME: Priority message"
 * as Falco prints with time_format_iso_8601, "source" is "vsp", and
 * "output_fields" carries Falco's own names where they mean the same
 * (evt.time in ns since the epoch, evt.num, evt.type, proc.pid,
 * proc.name, user.uid, fd.name) and vsp.* for the rest.
 */
static void put_falco(struct vsp_audit *a, const struct rec_facts *f,
		      const char *host)
{
	struct vsp_jbuf *b = &a->buf;
	const char *prio = falco_prio[f->level];
	const char *rule = f->ri ? f->ri->name : "(default)";
	bool first = true, of = true;

	vsp_jbuf_raw(b, "{", 1);
	vsp_jbuf_key(b, "hostname", &first);
	vsp_jbuf_str(b, host, strlen(host));
	vsp_jbuf_key(b, "output", &first);
	{
		char out[VSP_RFC3339_LEN + 32 + AUDIT_MSG];
		int n = snprintf(out, sizeof(out), "%s: %s %s", a->time, prio,
				 f->msg);
		vsp_jbuf_str(b, out, n < 0 ? 0 : (size_t)n < sizeof(out) ?
			     (size_t)n : sizeof(out) - 1);
	}
	vsp_jbuf_key(b, "output_fields", &first);
	vsp_jbuf_raw(b, "{", 1);
	vsp_jbuf_key(b, "evt.num", &of);
	vsp_jbuf_uint(b, f->seq);
	vsp_jbuf_key(b, "evt.time", &of);
	vsp_jbuf_uint(b, a->wall_ns);
	vsp_jbuf_key(b, "evt.type", &of);
	const char *name = f->ev ? f->ev->name : f->name;
	vsp_jbuf_str(b, name ? name : "", name ? strlen(name) : 0);
	if (f->ev) {
		struct vsp_str path;
		vsp_jbuf_key(b, "fd.name", &of);
		if (event_path(f->ev, &path))
			vsp_jbuf_str(b, path.ptr, path.len);
		else
			vsp_jbuf_cstr(b, "null");
		vsp_jbuf_key(b, "proc.name", &of);
		vsp_jbuf_str(b, f->ev->proc.comm,
			     strnlen(f->ev->proc.comm, sizeof(f->ev->proc.comm)));
		vsp_jbuf_key(b, "proc.pid", &of);
		vsp_jbuf_int(b, f->ev->proc.pid);
		vsp_jbuf_key(b, "user.uid", &of);
		vsp_jbuf_int(b, f->ev->proc.uid);
	}
	vsp_jbuf_key(b, "vsp.applied", &of);
	vsp_jbuf_cstr(b, f->applied ? "true" : "false");
	if (f->not_applied) {
		vsp_jbuf_key(b, "vsp.not_applied", &of);
		vsp_jbuf_str(b, f->not_applied, strlen(f->not_applied));
	}
	if (f->d && f->d->verdict == VSP_V_DENY) {
		vsp_jbuf_key(b, "vsp.errno", &of);
		vsp_jbuf_int(b, f->d->value);
	}
	if (f->d && f->d->failed) {
		vsp_jbuf_key(b, "vsp.failed", &of);
		vsp_jbuf_cstr(b, "true");
	}
	if (f->d && f->d->flagged) {
		vsp_jbuf_key(b, "vsp.flagged", &of);
		vsp_jbuf_cstr(b, "true");
	}
	vsp_jbuf_key(b, "vsp.kind", &of);
	const char *kind = f->ev ? vsp_event_kind_name(f->ev->kind) : f->kind;
	vsp_jbuf_str(b, kind, strlen(kind));
	vsp_jbuf_key(b, "vsp.mode", &of);
	vsp_jbuf_str(b, f->mode, strlen(f->mode));
	if (f->d && f->d->verdict == VSP_V_REDIRECT) {
		vsp_jbuf_key(b, "vsp.redirect", &of);
		vsp_jbuf_str(b, f->d->redirect.ptr, f->d->redirect.len);
	}
	vsp_jbuf_key(b, "vsp.severity", &of);
	vsp_jbuf_cstr(b, f->alert ? "\"alert\"" : "\"info\"");
	if (f->ev && f->ev->has_stack) {
		vsp_jbuf_key(b, "vsp.stack", &of);
		vsp_jbuf_raw(b, "[", 1);
		for (uint32_t i = 0; i < f->ev->nstack; i++) {
			if (i)
				vsp_jbuf_raw(b, ",", 1);
			vsp_jbuf_str(b, f->ev->stack[i], strlen(f->ev->stack[i]));
		}
		vsp_jbuf_raw(b, "]", 1);
	}
	vsp_jbuf_key(b, "vsp.time_ns", &of);
	vsp_jbuf_uint(b, f->time_ns);
	if (f->d && f->d->verdict == VSP_V_RETURN) {
		vsp_jbuf_key(b, "vsp.value", &of);
		vsp_jbuf_int(b, f->d->value);
	}
	vsp_jbuf_key(b, "vsp.verdict", &of);
	if (f->d)
		vsp_jbuf_str(b, vsp_verdict_name(f->d->verdict),
			     strlen(vsp_verdict_name(f->d->verdict)));
	else
		vsp_jbuf_cstr(b, "null");
	vsp_jbuf_key(b, "vsp.vm", &of);
	vsp_jbuf_str(b, f->vm, strlen(f->vm));
	vsp_jbuf_raw(b, "}", 1);
	vsp_jbuf_key(b, "priority", &first);
	vsp_jbuf_str(b, prio, strlen(prio));
	vsp_jbuf_key(b, "rule", &first);
	vsp_jbuf_str(b, rule, strlen(rule));
	vsp_jbuf_key(b, "source", &first);
	vsp_jbuf_cstr(b, "\"vsp\"");
	vsp_jbuf_key(b, "tags", &first);
	put_tag_list(b, f->ri);
	vsp_jbuf_key(b, "time", &first);
	vsp_jbuf_str(b, a->time, VSP_RFC3339_LEN);
	vsp_jbuf_raw(b, "}\n", 2);
}

/* Hands the built record to its sink or stream and counts the outcome. */
static int emit(struct vsp_audit *a, const struct rec_facts *f)
{
	struct vsp_jbuf *b = &a->buf;
	int rc = 0;

	if (b->oom) {
		rc = -ENOMEM;
	} else if (a->sink) {
		struct vsp_audit_rec r = {
			.line = b->p, .len = b->len, .time = a->time,
			.seq = f->seq, .vm = f->vm,
			.rule = f->ri ? f->ri->name : NULL,
			.verdict = f->d ? vsp_verdict_name(f->d->verdict) : NULL,
			.msg = f->msg, .level = f->level,
		};
		rc = vsp_sink_write(a->sink, &r);
	} else if (fwrite(b->p, 1, b->len, a->out) != b->len) {
		rc = errno ? -errno : -EIO;
	}
	if (rc < 0) {
		a->failed = true;
		a->write_errors++;
		a->last_error = rc;
		return rc;
	}
	a->records++;
	return 0;
}

/* A record in vsp's own shape (interfaces.md). */
static void put_vsp(struct vsp_audit *a, const struct rec_facts *f)
{
	struct vsp_jbuf *b = &a->buf;
	const struct vsp_decision *d = f->d;
	bool first = true;

	vsp_jbuf_raw(b, "{", 1);
	vsp_jbuf_key(b, "seq", &first);
	vsp_jbuf_uint(b, f->seq);
	vsp_jbuf_key(b, "time_ns", &first);
	vsp_jbuf_uint(b, f->time_ns);
	vsp_jbuf_key(b, "time", &first);
	vsp_jbuf_str(b, a->time, VSP_RFC3339_LEN);
	vsp_jbuf_key(b, "vm", &first);
	vsp_jbuf_str(b, f->vm, strlen(f->vm));
	vsp_jbuf_key(b, "rule", &first);
	if (f->ri)
		vsp_jbuf_str(b, f->ri->name, strlen(f->ri->name));
	else
		vsp_jbuf_cstr(b, "null");
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
	vsp_jbuf_cstr(b, f->alert ? "\"alert\"" : "\"info\"");
	vsp_jbuf_key(b, "mode", &first);
	vsp_jbuf_str(b, f->mode, strlen(f->mode));
	vsp_jbuf_key(b, "applied", &first);
	vsp_jbuf_cstr(b, f->applied ? "true" : "false");
	if (f->not_applied) {
		vsp_jbuf_key(b, "not_applied", &first);
		vsp_jbuf_str(b, f->not_applied, strlen(f->not_applied));
	}
	vsp_jbuf_key(b, "msg", &first);
	vsp_jbuf_str(b, f->msg, strlen(f->msg));
	if (f->ri)
		put_tags(b, f->ri, &first);
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
	if (f->ev) {
		put_event(b, f->ev);
	} else {
		vsp_jbuf_cstr(b, "{\"kind\":");
		vsp_jbuf_str(b, f->kind, strlen(f->kind));
		vsp_jbuf_cstr(b, ",\"name\":");
		vsp_jbuf_str(b, f->name ? f->name : "", f->name ? strlen(f->name) : 0);
		vsp_jbuf_cstr(b, ",\"addr\":");
		vsp_jbuf_uint(b, f->addr);
		vsp_jbuf_raw(b, "}", 1);
	}
	vsp_jbuf_raw(b, "}\n", 2);
}

static int put_facts(struct vsp_audit *a, const struct rec_facts *f)
{
	a->buf.len = 0;
	a->buf.oom = false;
	audit_time(a);
	if (a->sink && vsp_sink_format(a->sink) == VSP_AUDIT_FMT_FALCO)
		put_falco(a, f, vsp_sink_hostname(a->sink));
	else
		put_vsp(a, f);
	return emit(a, f);
}

/*
 * One record.  `d` is NULL for an effect-only record; `effect` is the
 * effect whose message and severity the record carries, or -1.
 */
static int put_record(struct vsp_audit *a, struct vsp_event *ev,
		      const struct vsp_decision *d, int rule, int effect,
		      bool alert, bool applied)
{
	char msg[AUDIT_MSG];
	struct rec_facts f = {
		.ev = ev, .d = d, .alert = alert, .applied = applied,
		.seq = ev->seq, .time_ns = ev->time_ns, .msg = msg,
		.vm = ev->vm ? ev->vm : "",
		.mode = vsp_mode_name(vsp_policy_mode(a->policy)),
		.ri = rule >= 0 ? vsp_policy_rule(a->policy, (uint32_t)rule) : NULL,
	};

	if (d && !applied)
		f.not_applied = a->not_applied;
	format_message(a, ev, effect, d, rule, msg);
	f.level = record_level(f.ri, alert);
	return put_facts(a, &f);
}

int vsp_audit_note(struct vsp_audit *a, const struct vsp_audit_note *n)
{
	struct rec_facts f = {
		.alert = true, .seq = n->seq, .time_ns = n->time_ns,
		.msg = n->msg, .vm = n->vm ? n->vm : "",
		.mode = vsp_mode_name(n->mode), .kind = n->kind,
		.name = n->name, .addr = n->addr, .level = record_level(NULL, true),
	};
	int rc;

	uint64_t r0 = a->records;
	a->have_time = false;
	rc = put_facts(a, &f);
	if (a->flush_each) {
		int frc = a->sink ? vsp_sink_flush(a->sink)
				  : fflush(a->out) != 0 ? -errno : 0;
		if (frc < 0) {
			a->failed = true;
			a->write_errors += a->records - r0;
			a->records = r0;
			a->last_error = frc;
			if (!rc)
				rc = frc;
		}
	}
	return rc;
}

int vsp_audit_decision(struct vsp_audit *a, struct vsp_event *ev,
		       const struct vsp_decision *d, bool applied)
{
	int own_effect = -1, rc = 0, r;
	bool own_alert = false;
	uint64_t r0 = a->records;

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
		r = put_record(a, ev, NULL, (int)f->rule, (int)f->effect, alert,
			       false);
		if (r < 0 && !rc)
			rc = r;
	}
	if (d->rule >= 0 || d->verdict != VSP_V_ALLOW || d->failed) {
		r = put_record(a, ev, d, d->rule, own_effect, own_alert, applied);
		if (r < 0 && !rc)
			rc = r;
	}
	if (a->flush_each && a->have_time) {
		r = a->sink ? vsp_sink_flush(a->sink)
			    : fflush(a->out) != 0 ? -errno : 0;
		if (r < 0) {
			/* Written into a buffer that did not reach its file:
			 * this decision's records are lost too. */
			a->failed = true;
			a->write_errors += a->records - r0;
			a->records = r0;
			a->last_error = r;
			if (!rc)
				rc = r;
		}
	}
	return rc;
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

uint64_t vsp_latency_count_le(const struct vsp_latency *l, uint64_t ns)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < VSP_LAT_BUCKETS && lat_upper(i) <= ns; i++)
		n += l->bucket[i];
	return n;
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

/* The power of two a bucket's samples fall under: 0 for 0 ns, k + 1 for
 * [2^k, 2^(k+1)). */
static unsigned lat_pow2(unsigned i)
{
	if (i < 64)
		return i ? 64u - (unsigned)__builtin_clzll(i) : 0;
	return (i - 64) / 16 + 7;
}

static int lat_range(char *buf, size_t n, unsigned g)
{
	static const char *const unit[] = { "", "K", "M", "G", "T", "P", "E", "Z" };
	if (g == 0)
		return snprintf(buf, n, "[0]");
	unsigned lo = g - 1, hi = g;	/* [2^lo, 2^hi) */
	return snprintf(buf, n, "[%llu%s, %llu%s)", 1ull << (lo % 10),
			unit[lo / 10 % 8], 1ull << (hi % 10), unit[hi / 10 % 8]);
}

void vsp_latency_draw(FILE *out, const char *title,
		      const struct vsp_latency *l, int width)
{
	uint64_t g[72] = { 0 }, top = 0;
	unsigned first = 72, last = 0;

	if (!l->n) {
		fprintf(out, "%s: no samples\n", title);
		return;
	}
	if (width > 64)
		width = 64;
	for (unsigned i = 0; i < VSP_LAT_BUCKETS; i++) {
		unsigned k = lat_pow2(i);
		if (!l->bucket[i] || k >= 72)
			continue;
		g[k] += l->bucket[i];
		first = k < first ? k : first;
		last = k > last ? k : last;
	}
	for (unsigned k = first; k <= last && k < 72; k++)
		top = g[k] > top ? g[k] : top;
	fprintf(out, "%s, %llu samples:\n", title, (unsigned long long)l->n);
	for (unsigned k = first; k <= last && k < 72; k++) {
		char r[40];
		int bar = top ? (int)((g[k] * (uint64_t)width + top - 1) / top) : 0;
		lat_range(r, sizeof r, k);
		fprintf(out, "%-14s %10llu |%.*s%*s|\n", r, (unsigned long long)g[k],
			bar, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
			width - bar, "");
	}
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
	if (rs->count_lost) {
		vsp_jbuf_key(&b, "audit_lost", &first);
		vsp_jbuf_uint(&b, rs->audit_lost);
		vsp_jbuf_key(&b, "trace_lost", &first);
		vsp_jbuf_uint(&b, rs->trace_lost);
	}
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
	if (rs->count_lost)
		fprintf(out, "records lost:       audit %" PRIu64 " trace %" PRIu64
			"\n", rs->audit_lost, rs->trace_lost);
	fprintf(out, "decision latency:   median %" PRIu64 " ns, p99 %" PRIu64
		" ns, max %" PRIu64 " ns\n",
		vsp_latency_quantile(&rs->latency, 0.5),
		vsp_latency_quantile(&rs->latency, 0.99), rs->latency.max);
	if (rs->trap_ns)
		fprintf(out, "engine share:       %.4f%% of trap time\n",
			100.0 * (double)rs->engine_ns / (double)rs->trap_ns);
}
