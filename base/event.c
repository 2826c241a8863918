/*
 * event.c: the lazy string fields of an event, outside the interpreter.
 *
 * The audit writer and the trace writer read string fields after a
 * decision, through the same callback and memo the interpreter uses, so a
 * field is read from the guest at most once per event whoever asks first.
 */
#include "base/event.h"

#include <string.h>

bool vsp_event_string(struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *out)
{
	if (ev->strs_valid & VSP_FBIT(f)) {
		*out = ev->strs[f];
		return !(ev->strs_failed & VSP_FBIT(f));
	}
	if (!ev->fetch || ev->fetch(ev->fetch_ctx, ev, f, out) < 0 ||
	    (!out->ptr && out->len)) {
		ev->partial = true;
		if (vsp_field_is_rint(f))
			ev->rint[f - VSP_F_RINT_FIRST] = -1;
		ev->strs[f] = (struct vsp_str){ "", 0 };
		ev->strs_valid |= VSP_FBIT(f);
		ev->strs_failed |= VSP_FBIT(f);
		*out = ev->strs[f];
		return false;
	}
	if (!out->ptr)
		out->ptr = "";
	ev->strs[f] = *out;
	ev->strs_valid |= VSP_FBIT(f);
	return true;
}

static const char *const event_field_names[VSP_F_COUNT] = {
#define EV_FN_ROW(id, name, type, group) [VSP_F_##id] = name,
	VSP_FIELD_LIST(EV_FN_ROW)
#undef EV_FN_ROW
};

const char *vsp_event_field_name(enum vsp_field f)
{
	return (unsigned)f < VSP_F_COUNT ? event_field_names[f] : "?";
}

int vsp_event_field_by_name(const char *name)
{
	for (int f = 0; f < VSP_F_COUNT; f++)
		if (strcmp(event_field_names[f], name) == 0)
			return f;
	return -1;
}
