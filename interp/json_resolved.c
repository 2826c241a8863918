/*
 * json_resolved.c: resolved fields as JSON objects, for traces and audit
 * records (see interp/json.h).
 *
 * The object a field goes in is its name up to the last dot: "file.path"
 * is "path" in "file", "proc.parent.exe" is "exe" in "parent" inside
 * "proc", "flags" stands alone.  The names come from VSP_RESOLVED_LIST,
 * so a new resolved field needs no code here.
 */
#include "interp/json.h"

#include <stdio.h>
#include <string.h>

#include "base/event.h"

/* Writes field f's value (already fetched and readable); a string that
 * is not UTF-8 as {"hex":..} when `bytes`. */
static void put_value(struct vsp_jbuf *b, struct vsp_event *ev, int f,
		      const struct vsp_str *s, bool bytes)
{
	if (vsp_field_is_rint(f))
		vsp_jbuf_int(b, ev->rint[f - VSP_F_RINT_FIRST]);
	else if (bytes)
		vsp_jbuf_bytes(b, s->ptr, s->len);
	else
		vsp_jbuf_str(b, s->ptr, s->len);
}

/*
 * Writes, as one object under `obj` (or as plain keys when obj is NULL),
 * every wanted field whose name is `prefix` + key with no further dot.
 */
static void put_group(struct vsp_jbuf *b, struct vsp_event *ev, vsp_fmask want,
		      const char *prefix, const char *obj, bool bytes,
		      bool *first)
{
	size_t pl = strlen(prefix);
	bool open = false, inner = true;

	for (int f = VSP_F_RES_FIRST; f < VSP_F_COUNT; f++) {
		const char *n = vsp_event_field_name((enum vsp_field)f);
		struct vsp_str s;

		if (!(want & VSP_FBIT(f)) || strncmp(n, prefix, pl) != 0 ||
		    strchr(n + pl, '.'))
			continue;
		if (!vsp_event_string(ev, (enum vsp_field)f, &s))
			continue;
		if (obj && !open) {
			vsp_jbuf_key(b, obj, first);
			vsp_jbuf_raw(b, "{", 1);
			open = true;
		}
		vsp_jbuf_key(b, n + pl, obj ? &inner : first);
		put_value(b, ev, f, &s, bytes);
	}
	if (open)
		vsp_jbuf_raw(b, "}", 1);
}

void vsp_json_resolved(struct vsp_jbuf *b, struct vsp_event *ev,
		       vsp_fmask want, bool bytes, bool *first)
{
	static const char *const objs[] = {
		"file", "open", "exec", "mmap", "target", "sock", "new",
		"module", "bpf"
	};
	char prefix[16];

	for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
		snprintf(prefix, sizeof prefix, "%s.", objs[i]);
		put_group(b, ev, want, prefix, objs[i], bytes, first);
	}
	put_group(b, ev, want & VSP_FBIT(VSP_F_FLAGS), "", NULL, bytes,
		  first);
}

void vsp_json_resolved_proc(struct vsp_jbuf *b, struct vsp_event *ev,
			    vsp_fmask want, bool bytes, bool *first)
{
	put_group(b, ev, want, "proc.", NULL, bytes, first);
	put_group(b, ev, want, "proc.parent.", "parent", bytes, first);
}
