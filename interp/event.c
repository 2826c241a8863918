/*
 * event.c: the lazy string fields of an event, outside the interpreter.
 *
 * The audit writer and the trace writer read string fields after a
 * decision, through the same callback and memo the interpreter uses, so a
 * field is read from the guest at most once per event whoever asks first.
 */
#include "interp/event.h"

bool vsp_event_string(struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *out)
{
	if (ev->strs_valid & (1ull << f)) {
		*out = ev->strs[f];
		return true;
	}
	if (!ev->fetch || ev->fetch(ev->fetch_ctx, ev, f, out) < 0 ||
	    (!out->ptr && out->len)) {
		ev->partial = true;
		return false;
	}
	if (!out->ptr)
		out->ptr = "";
	ev->strs[f] = *out;
	ev->strs_valid |= 1ull << f;
	return true;
}
