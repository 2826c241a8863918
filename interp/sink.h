/*
 * sink.h: where audit records go, and in which shape.
 *
 * engine/audit.c builds each record whole (JSON, in vsp's own shape or in
 * Falco's alert shape) and hands it here with the few facts a structured
 * sink files it under.  A sink is one of
 *
 *   FILE, "-"             JSON Lines, one write and one flush per record
 *   "journal"             the systemd journal (sd_journal_sendv): MESSAGE=
 *                         the record's message, PRIORITY= from the rule's
 *                         priority, VSP_RULE=, VSP_VERDICT=, VSP_VM=,
 *                         VSP_SEQ=, VSP_TIME= and VSP_RECORD= the JSON
 *   "syslog"              RFC 5424 to /dev/log
 *   "syslog://HOST:PORT"  RFC 5424 over UDP ("syslog+udp://" the same)
 *   "syslog+tcp://HOST:PORT"  RFC 5424 over TCP, octet-counted (RFC 6587)
 *
 * A write builds its framing in fixed buffers inside the sink (no
 * allocation once the first record has sized them) and returns 0 or a
 * negative errno, so the caller can count failures and apply its own
 * policy; a sink never exits or prints.  Sockets that break are
 * reconnected once per write before the write is reported failed.
 */
#ifndef VSP_SINK_H
#define VSP_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum vsp_audit_format {
	VSP_AUDIT_FMT_VSP,	/* interfaces.md's audit record */
	VSP_AUDIT_FMT_FALCO	/* Falco's JSON alert (time, rule, priority, ...) */
};

enum vsp_sink_kind {
	VSP_SINK_FILE,
	VSP_SINK_JOURNAL,
	VSP_SINK_SYSLOG
};

/* One record, as a sink sees it.  Everything is borrowed for the call. */
struct vsp_audit_rec {
	const char *line;	/* the JSON record, ending in "\n" */
	size_t len;
	const char *time;	/* RFC 3339 with nanoseconds */
	uint64_t seq;
	const char *vm;
	const char *rule;	/* NULL: the default decided */
	const char *verdict;	/* NULL: an effect-only record */
	const char *msg;	/* the human message */
	int level;		/* syslog severity, 0 (emerg) .. 7 (debug) */
};

struct vsp_sink;

/* Opens the sink `spec` names (above).  `append`: a FILE is appended to
 * rather than truncated; without it the truncation waits for
 * vsp_sink_start or the first record, so a run that fails before either
 * leaves the file as it was.  NULL with a message in err on failure. */
struct vsp_sink *vsp_sink_open(const char *spec, enum vsp_audit_format fmt,
			       bool append, char *err, size_t errlen);
/* A sink over an open stream (borrowed: closing the sink flushes it). */
struct vsp_sink *vsp_sink_stream(FILE *f, enum vsp_audit_format fmt);

/* Truncates a FILE opened without `append`, once (attach calls it when
 * attached); 0 or a negative errno.  A no-op for other sinks. */
int vsp_sink_start(struct vsp_sink *s);
int vsp_sink_write(struct vsp_sink *s, const struct vsp_audit_rec *r);
int vsp_sink_flush(struct vsp_sink *s);
/* Reopens a FILE sink by its name, for logrotate (append, created if it
 * was moved away); reconnects a socket.  0 or a negative errno; on
 * failure the old file stays in use. */
int vsp_sink_reopen(struct vsp_sink *s);
/* Flushes and closes; returns the first error of either. */
int vsp_sink_close(struct vsp_sink *s);

/* The descriptor a FILE or syslog sink writes through (-1: none, or the
 * journal's own), for a forked process that must keep it open. */
int vsp_sink_fd(const struct vsp_sink *s);
/* In a forked copy that appends a last record: never truncate. */
void vsp_sink_keep(struct vsp_sink *s);

enum vsp_sink_kind vsp_sink_kind(const struct vsp_sink *s);
enum vsp_audit_format vsp_sink_format(const struct vsp_sink *s);
const char *vsp_sink_hostname(const struct vsp_sink *s);
/* Parses "vsp" or "falco"; -1 for anything else. */
int vsp_audit_format_parse(const char *s, enum vsp_audit_format *out);

/* Whether journald support was built in (libsystemd). */
bool vsp_sink_have_journal(void);

#endif
