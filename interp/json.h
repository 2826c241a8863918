/*
 * json.h: the JSON writer behind trace lines and audit records.
 *
 * Each record is built whole in a growing buffer, then written with one
 * call, so a crash or a full disk never leaves half a record.  Guest data
 * need not be UTF-8: valid UTF-8 passes through, other bytes become
 * \u00XX, so every record stays valid JSON.
 */
#ifndef VSP_JSON_H
#define VSP_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

struct vsp_jbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void vsp_jbuf_init(struct vsp_jbuf *b);
void vsp_jbuf_release(struct vsp_jbuf *b);
void vsp_jbuf_raw(struct vsp_jbuf *b, const char *s, size_t n);
void vsp_jbuf_cstr(struct vsp_jbuf *b, const char *s);	/* unquoted text */
void vsp_jbuf_str(struct vsp_jbuf *b, const char *s, size_t n); /* "..." */
void vsp_jbuf_int(struct vsp_jbuf *b, int64_t v);
void vsp_jbuf_uint(struct vsp_jbuf *b, uint64_t v);
void vsp_jbuf_key(struct vsp_jbuf *b, const char *key, bool *first);
/* A byte string that must read back exactly (trace lines): a JSON string
 * when it is valid UTF-8, else {"hex":"2f746d70ff"}, two lower-case hex
 * digits per byte. */
void vsp_jbuf_bytes(struct vsp_jbuf *b, const char *s, size_t n);
bool vsp_utf8_valid(const char *s, size_t n);

/* The answer of a command that acts (vsp repl's load, pause, ...) as one
 * JSON object on one line: {"command":CMD,"ok":B,"lines":[...]}, the
 * lines of the text it printed; ok is false when a line starts with
 * "CMD:" (or its first word and ':'), the form every command's error
 * takes. */
void vsp_json_answer(FILE *out, const char *cmd, const char *text, size_t len);

/*
 * The resolved fields of language 1.1 (base/event.h) as objects named
 * like their prefix (interfaces.md 1.1): "file":{"path":..,"ino":..},
 * "sock":{..}, "target":{..}, "exec":{..}, ..., and "flags" at the top;
 * `proc` writes, inside the caller's "proc" object, "exe", "cwd",
 * "cmdline", "cgroup", "loginuid", "sessionid" and "parent":{..}.  Only
 * the fields of `want` are written, each read through ev->fetch if it was
 * not yet; a field whose read failed is left out (a replay then sees it
 * failed too).  Shared by the trace writer and the audit writer; with
 * `bytes` (traces) a string that is not UTF-8 is written as {"hex":..}
 * (vsp_jbuf_bytes), so a replay reads the guest's bytes back.
 */
struct vsp_event;
void vsp_json_resolved(struct vsp_jbuf *b, struct vsp_event *ev,
		       unsigned __int128 want, bool bytes, bool *first);
void vsp_json_resolved_proc(struct vsp_jbuf *b, struct vsp_event *ev,
			    unsigned __int128 want, bool bytes, bool *first);

#endif
