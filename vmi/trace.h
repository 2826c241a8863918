/*
 * trace.h: recorded guest events as JSON Lines (docs/formats.md).
 *
 * A trace is what a backend saw, one event per line; `vsp attach --record`
 * writes it and `vsp replay` reads it back through the same struct
 * vsp_event the live backends fill, so a recorded run decides exactly as
 * the live one did.  The reader is strict: a line that is not an object,
 * has a key of the wrong type, a number out of the signed 64-bit range or
 * invalid UTF-8 is rejected with a message; unknown keys are ignored.
 */
#ifndef VSP_TRACE_H
#define VSP_TRACE_H

#include <stdio.h>
#include "base/event.h"
#include "base/catalog.h"
#include "interp/json.h"

#define VSP_TRACE_MAX_LINE (1u << 20)	/* longer lines are malformed */
#define VSP_TRACE_MAX_STACK 128
#define VSP_TRACE_MAX_STRINGS 16

struct vsp_trace_string {
	const char *key;
	struct vsp_str val;
};

/*
 * One parsed event and the storage behind its strings.  Reused from line
 * to line: vsp_trace_parse() overwrites it.  The event's fetch callback
 * answers string fields from `strings` (by the catalog's argument names,
 * or the key "path" for VSP_F_PATH).
 */
struct vsp_trace_event {
	struct vsp_event ev;
	const struct vsp_call *call;	/* catalog entry, or NULL */
	struct vsp_trace_string strings[VSP_TRACE_MAX_STRINGS];
	uint32_t nstrings;
	const char *stack[VSP_TRACE_MAX_STACK];
	/* Resolved fields (language 1.1) the line carries; the fetch
	 * callback answers the others as failed reads. */
	vsp_fmask rhave;
	struct vsp_str rstr[VSP_F_COUNT];
	int64_t rint[VSP_NRINT];
	char *arena;		/* owned copies of every string above */
	size_t arena_len, arena_cap;
};

void vsp_trace_event_init(struct vsp_trace_event *te);
void vsp_trace_event_release(struct vsp_trace_event *te);

/*
 * Parses one line (without its newline).  Returns 0, or -1 with a message
 * in err ("args[2]: not an integer").  On error `te` holds no valid event.
 */
int vsp_trace_parse(struct vsp_trace_event *te, const char *line, size_t len,
		    char *err, size_t errlen);

/*
 * Writes `ev` as one trace line, reading every string field its catalog
 * entry names through ev->fetch (so a live recording holds what a replay
 * needs), and, for hook events, every resolved field of its hook and
 * the resolved process fields (vsp_trace_record_fields).  The line is built whole, then written with one call.  Returns 0
 * or -1 on a write error.
 */
int vsp_trace_write(FILE *out, struct vsp_event *ev);

/* The resolved fields a recording of `ev` reads, so that a replay of any
 * policy has them: the hook's own fields and the resolved process. */
vsp_fmask vsp_trace_record_fields(const struct vsp_event *ev);

/* A line reader that bounds line length without reading a huge line into
 * memory whole: lines over VSP_TRACE_MAX_LINE are reported as too long. */
struct vsp_line_reader {
	FILE *in;
	char *buf;
	size_t cap;
	unsigned long lineno;
};

void vsp_line_reader_init(struct vsp_line_reader *r, FILE *in);
void vsp_line_reader_release(struct vsp_line_reader *r);
/* Returns 1 with *line and *len set, 0 at end of file, -1 when a line is too
 * long (*len then holds how many bytes were seen) or on a read error. */
int vsp_line_read(struct vsp_line_reader *r, const char **line, size_t *len);

#endif
