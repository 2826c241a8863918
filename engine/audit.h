/*
 * audit.h: audit records and run statistics, as interfaces.md defines them.
 *
 * Every command that decides events (replay, attach, repl) hands each
 * decision here.  One record goes out per decision that is not a plain
 * default allow, merged with the deciding rule's own log/alert effects,
 * and one effect-only record ("verdict":null) per log or alert of any other
 * rule that matched.  `count` effects feed the statistics only.  A decision
 * whose verdict the run's failure policy chose (inputs unreadable) always
 * gets a record, marked "failed":true.  Records are
 * built whole and written with one call, then flushed, so a killed monitor
 * leaves whole lines only.
 *
 * Every record carries "time", the wall-clock time of the decision in
 * RFC 3339 with nanoseconds (UTC), beside the monotonic "time_ns".  The
 * clock is read once per decision, when its first record is built, and
 * formatted by arithmetic into a buffer inside struct vsp_audit: no
 * allocation, no lock (gmtime_r takes glibc's time-zone lock).
 */
#ifndef VSP_AUDIT_H
#define VSP_AUDIT_H

#include <stdio.h>
#include "engine/engine.h"
#include "interp/json.h"
#include "interp/sink.h"

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" */
#define VSP_RFC3339_LEN 30

struct vsp_audit {
	FILE *out;		/* records go here, or to the sink */
	struct vsp_sink *sink;	/* borrowed; NULL: out */
	struct vsp_policy *policy;
	struct vsp_jbuf buf;
	uint64_t records;	/* records written */
	uint64_t write_errors;	/* records a write failed for */
	int last_error;		/* the last failure's negative errno */
	bool failed;		/* a write failed; the caller exits non-zero */
	bool flush_each;	/* live runs: flush after every record */
	/* Why the next decision's verdict did not reach the guest (its
	 * record says "applied":false, "not_applied":...); the caller sets
	 * it before vsp_audit_decision and clears it after.  NULL: none. */
	const char *not_applied;
	bool have_time;		/* time[] holds this decision's time */
	uint64_t wall_ns;
	char time[VSP_RFC3339_LEN + 1];
};

/* Formats `ns` nanoseconds since the Unix epoch (UTC) into out, which
 * must hold VSP_RFC3339_LEN + 1 bytes; returns VSP_RFC3339_LEN. */
size_t vsp_rfc3339(uint64_t ns, char *out);
/* CLOCK_REALTIME in nanoseconds since the epoch. */
uint64_t vsp_wall_ns(void);

void vsp_audit_init(struct vsp_audit *a, FILE *out, struct vsp_policy *p);
/* The same, writing through a sink (borrowed), in the sink's format. */
void vsp_audit_init_sink(struct vsp_audit *a, struct vsp_sink *sink,
			 struct vsp_policy *p);
void vsp_audit_release(struct vsp_audit *a);

/*
 * Reads, through ev->fetch, every field the records of decision `d` will
 * show (the fired effects' messages, a hook event's object): for a live
 * backend, whose guest cannot be read once the verdict lets it run.
 */
void vsp_audit_prefetch(struct vsp_audit *a, struct vsp_event *ev,
			const struct vsp_decision *d);

/* Writes the records for one decision.  `applied` says whether the
 * verdict changed what the guest did (enforce mode, not allow).  Returns
 * 0, or the negative errno of the first record that could not be written
 * (counted in write_errors; the others are still tried). */
int vsp_audit_decision(struct vsp_audit *a, struct vsp_event *ev,
		       const struct vsp_decision *d, bool applied);

/* A record no rule decided (the monitor's own alerts: a trap's code
 * changed under it), with "rule":null, "verdict":null, severity alert and
 * an event of `kind` and `name` at `addr`.  0 or a negative errno. */
struct vsp_audit_note {
	uint64_t seq, time_ns, addr;
	const char *vm, *kind, *name, *msg;
	enum vsp_mode mode;
};
int vsp_audit_note(struct vsp_audit *a, const struct vsp_audit_note *n);

/*
 * Latency histogram: log-linear buckets (exact below 64 ns, then 16 per
 * power of two), fixed size, so recording never allocates.
 */
#define VSP_LAT_BUCKETS (64 + 58 * 16)

struct vsp_latency {
	uint64_t n, max, sum;
	uint64_t bucket[VSP_LAT_BUCKETS];
};

void vsp_latency_add(struct vsp_latency *l, uint64_t ns);
/* How many samples lie in buckets whose upper bound is at most ns (a
 * Prometheus histogram's cumulative "le" count; never more than the
 * samples <= ns). */
uint64_t vsp_latency_count_le(const struct vsp_latency *l, uint64_t ns);
/* The q-quantile (0 < q <= 1), as the upper bound of its bucket. */
uint64_t vsp_latency_quantile(const struct vsp_latency *l, double q);
/* Draws the histogram in the terminal, one line per power of two
 * (bpftrace's hist shape): "[LO, HI)  COUNT |@@@@   |", bars scaled to
 * `width` columns; "TITLE: no samples" when empty. */
void vsp_latency_draw(FILE *out, const char *title,
		      const struct vsp_latency *l, int width);

/* What a run adds to the engine's own counters. */
struct vsp_run_stats {
	uint64_t traps_installed;
	uint64_t round_trips;
	uint64_t engine_ns, trap_ns;	/* live: time in the engine vs. per trap */
	struct vsp_latency latency;
	struct vsp_latency trap_latency;	/* live: each trap, stop to resume */
	uint64_t kind_events[VSP_EV_KIND_COUNT];	/* live: trapped events */
	/* Live: records that could not be written (printed when counted). */
	bool count_lost;
	uint64_t audit_lost, trace_lost;
};

/* Prints the statistics (interfaces.md) as text, or as one JSON object. */
void vsp_stats_print(FILE *out, const struct vsp_policy *p,
		     const struct vsp_run_stats *rs, bool json);

#endif
