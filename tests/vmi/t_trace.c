/*
 * t_trace.c: the trace format (vmi/trace.c, vmi/trace_write.c) keeps guest
 * bytes exactly and refuses what json-c would let pass in silence.
 *
 * Guest strings are byte strings: a path holding any byte from 0x00 to
 * 0xff, written by vsp_trace_write (as `vsp attach --record` does) and read
 * back by vsp_trace_parse (as `vsp replay` does), must be the same bytes;
 * once a byte 0xff came back as the UTF-8 of U+00FF, so a live deny
 * replayed as an allow.  Also: a key given twice in one object, integers
 * with leading zeros, a negative seq.
 */
#include <stdlib.h>
#include <string.h>
#include "base/catalog.h"
#include "tests/tap.h"
#include "vmi/trace.h"

struct src {
	const char *s;
	size_t n;
};

static int src_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		     struct vsp_str *out)
{
	const struct src *sr = ctx;

	if (f != VSP_F_STR1 && f != VSP_F_PATH)
		return -1;
	out->ptr = sr->s;
	out->len = (uint32_t)sr->n;
	return 0;
}

/* Writes an openat of `path` (n bytes) with comm `comm`, parses it back;
 * true when filename, path and comm are the bytes written. */
static bool round_trip(const char *path, size_t n, const char *comm,
		       char *line, size_t linesz)
{
	struct src sr = { path, n };
	struct vsp_event ev = { 0 };
	struct vsp_trace_event te;
	struct vsp_str got;
	char err[256], *buf = NULL;
	size_t len = 0;
	bool same = false;
	FILE *f = open_memstream(&buf, &len);

	ev.kind = VSP_EV_SYSCALL;
	ev.nr = 257;
	ev.name = "openat";
	ev.vm = "g";
	ev.fetch = src_fetch;
	ev.fetch_ctx = &sr;
	strncpy(ev.proc.comm, comm, sizeof ev.proc.comm - 1);
	if (!f || vsp_trace_write(f, &ev) < 0 || fclose(f) != 0)
		return false;
	snprintf(line, linesz, "%.*s", (int)(len && buf[len - 1] == '\n' ? len - 1 : len), buf);
	vsp_trace_event_init(&te);
	if (vsp_trace_parse(&te, buf, len - 1, err, sizeof err) < 0) {
		diag("parse: %s", err);
		goto out;
	}
	vsp_event_reset_lazy(&te.ev);
	same = vsp_event_string(&te.ev, VSP_F_STR1, &got) && got.len == n &&
	       !memcmp(got.ptr, path, n) &&
	       strcmp(te.ev.proc.comm, ev.proc.comm) == 0;
	vsp_event_reset_lazy(&te.ev);
	same = same && vsp_event_string(&te.ev, VSP_F_PATH, &got) &&
	       got.len == n && !memcmp(got.ptr, path, n);
out:
	vsp_trace_event_release(&te);
	free(buf);
	return same;
}

/* A file open hook event whose file.path and proc.cwd are `path` (n
 * bytes): written, parsed back; true when both are the bytes written. */
static int hook_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *out)
{
	const struct src *sr = ctx;

	(void)ev;
	if (f != VSP_F_FILE_PATH && f != VSP_F_CWD)
		return -1;
	out->ptr = sr->s;
	out->len = (uint32_t)sr->n;
	return 0;
}

static bool hook_round_trip(const char *path, size_t n, char *line,
			    size_t linesz)
{
	struct src sr = { path, n };
	struct vsp_event ev = { 0 };
	struct vsp_trace_event te;
	struct vsp_str got;
	char err[256], *buf = NULL;
	size_t len = 0;
	bool same = false;
	FILE *f = open_memstream(&buf, &len);

	ev.kind = VSP_EV_FILE;
	ev.name = "open";
	ev.vm = "g";
	ev.fetch = hook_fetch;
	ev.fetch_ctx = &sr;
	/* a rule read proc.cwd: the writer carries it too */
	if (!f || !vsp_event_string(&ev, VSP_F_CWD, &got) ||
	    vsp_trace_write(f, &ev) < 0 || fclose(f) != 0)
		return false;
	snprintf(line, linesz, "%.*s", (int)(len && buf[len - 1] == '\n' ? len - 1 : len), buf);
	vsp_trace_event_init(&te);
	if (vsp_trace_parse(&te, buf, len - 1, err, sizeof err) < 0) {
		diag("parse: %s", err);
		goto out;
	}
	vsp_event_reset_lazy(&te.ev);
	same = vsp_event_string(&te.ev, VSP_F_FILE_PATH, &got) &&
	       got.len == n && !memcmp(got.ptr, path, n) &&
	       vsp_event_string(&te.ev, VSP_F_CWD, &got) && got.len == n &&
	       !memcmp(got.ptr, path, n);
out:
	vsp_trace_event_release(&te);
	free(buf);
	return same;
}

static bool refused(const char *line, const char *want)
{
	struct vsp_trace_event te;
	char err[256] = "";
	int r;

	vsp_trace_event_init(&te);
	r = vsp_trace_parse(&te, line, strlen(line), err, sizeof err);
	vsp_trace_event_release(&te);
	if (r == 0 || !strstr(err, want)) {
		diag("line %s: %s (want '%s')", line, r ? err : "accepted", want);
		return false;
	}
	return true;
}

int main(void)
{
	char path[16], line[4096], all[256], comm[16];
	int bad = 0;

	/* every byte alone, inside a path */
	for (int b = 0; b < 256; b++) {
		int n = snprintf(path, sizeof path, "/tmp/b");

		path[n++] = (char)b;
		path[n++] = 'z';
		if (!round_trip(path, (size_t)n, "cat", line, sizeof line)) {
			if (!bad)
				diag("byte 0x%02x: %s", b, line);
			bad++;
		}
	}
	ok(bad == 0, "every byte 0x00-0xff in a path reads back as itself (%d differ)", bad);
	for (int b = 0; b < 256; b++)
		all[b] = (char)(255 - b);
	ok(round_trip(all, sizeof all, "cat", line, sizeof line),
	   "a path of all 256 byte values reads back whole");
	ok(strstr(line, "{\"hex\":\"fffefdfc") != NULL,
	   "bytes that are not UTF-8 travel as hex");
	ok(round_trip("/tmp/\xc3\xbf", 7, "cat", line, sizeof line) &&
	   strstr(line, "\"filename\":\"/tmp/\xc3\xbf\"") != NULL,
	   "valid UTF-8 stays a plain JSON string");
	ok(round_trip("/tmp/\xff", 6, "cat", line, sizeof line) &&
	   round_trip("/tmp/\xc3\xbf", 7, "cat", line, sizeof line),
	   "byte 0xff and the UTF-8 of U+00FF stay apart");
	bad = 0;
	for (int b = 1; b < 256; b++) {
		snprintf(comm, sizeof comm, "x%cy", b);
		if (!round_trip("/a", 2, comm, line, sizeof line))
			bad++;
	}
	ok(bad == 0, "every byte 0x01-0xff in proc.comm reads back (%d differ)", bad);
	/* resolved fields of a hook event are guest bytes too */
	ok(hook_round_trip(all, sizeof all, line, sizeof line) &&
	   strstr(line, "\"file\":{\"path\":{\"hex\":\"fffefdfc") != NULL &&
	   strstr(line, "\"cwd\":{\"hex\":\"fffefdfc") != NULL,
	   "file.path and proc.cwd of all 256 byte values travel as hex and read back whole");
	ok(hook_round_trip("/etc/\xc3\xbf", 7, line, sizeof line) &&
	   strstr(line, "\"path\":\"/etc/\xc3\xbf\"") != NULL,
	   "a resolved path in UTF-8 stays a plain JSON string");
	{
		char big[3000];

		for (size_t i = 0; i < sizeof big; i++)
			big[i] = (char)(0x80 | (i & 0x3f));
		ok(hook_round_trip(big, sizeof big, NULL, 0),
		   "a 3,000-byte resolved path in hex fits the event's arena");
	}
	ok(refused("{\"kind\":\"file\",\"name\":\"open\",\"file\":{\"path\":{\"hex\":\"2g\"}}}",
		   "not a hex digit"), "a bad hex digit in a resolved field is refused");

	ok(refused("{\"kind\":\"syscall\",\"name\":\"openat\",\"strings\":{\"filename\":\"/etc/shadow\",\"filename\":\"/tmp/x\"}}",
		   "key \"filename\" given twice"), "a key twice in one object is refused");
	ok(refused("{\"kind\":\"syscall\",\"name\":\"openat\",\"strings\":{\"filename\":\"/etc/shadow\",\"\\u0066ilename\":\"/tmp/x\"}}",
		   "key \"filename\" given twice"), "also when one of them is spelled with escapes");
	ok(refused("{\"kind\":\"syscall\",\"kind\":\"kernel\",\"name\":\"x\"}",
		   "key \"kind\" given twice"), "at the top level too");
	{
		struct vsp_trace_event te;
		char err[256];
		const char *l = "{\"kind\":\"syscall\",\"name\":\"getpid\",\"proc\":{\"pid\":1},\"x\":{\"pid\":2}}";

		vsp_trace_event_init(&te);
		ok(vsp_trace_parse(&te, l, strlen(l), err, sizeof err) == 0 &&
		   te.ev.proc.pid == 1, "the same key in two objects is fine");
		vsp_trace_event_release(&te);
	}
	ok(refused("{\"seq\":017,\"kind\":\"syscall\",\"name\":\"getpid\"}",
		   "leading zero"), "a leading zero is named as such");
	ok(refused("{\"seq\":00000000000000000000000000000000000000001,\"kind\":\"syscall\",\"name\":\"getpid\"}",
		   "leading zero"), "many leading zeros are not \"out of range\"");
	ok(refused("{\"seq\":99999999999999999999,\"kind\":\"syscall\",\"name\":\"getpid\"}",
		   "out of the signed 64-bit range"), "an integer out of range is still one");
	ok(refused("{\"seq\":-5,\"kind\":\"syscall\",\"name\":\"getpid\"}",
		   "seq: -5 is negative"), "a negative seq is refused");
	ok(refused("{\"time_ns\":-1,\"kind\":\"syscall\",\"name\":\"getpid\"}",
		   "time_ns: -1 is negative"), "a negative time_ns is refused");
	ok(refused("{\"kind\":\"syscall\",\"name\":\"openat\",\"strings\":{\"filename\":{\"hex\":\"2f7\"}}}",
		   "odd length"), "a hex string of odd length is refused");
	ok(refused("{\"kind\":\"syscall\",\"name\":\"openat\",\"strings\":{\"filename\":{\"hex\":\"2g\"}}}",
		   "not a hex digit"), "a bad hex digit is refused");
	ok(refused("{\"kind\":\"syscall\",\"name\":\"openat\",\"strings\":{\"filename\":{\"hex\":\"2f\",\"x\":1}}}",
		   "expected a string or"), "a hex object with other keys is refused");
	return done();
}
