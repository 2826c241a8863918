/*
 * fields.c: which fields each event offers, and what a name means there.
 *
 * Which event kinds carry each field of base/event.h is stated once:
 * each field names its group there, each kind lists its groups in
 * base/kinds.h (language reference §6).  Named arguments come from the
 * catalog entry of the syscall, hypercall or user function (base/catalog.h).  The checker
 * (lang/check.c) asks whether a name exists for every event a rule names;
 * the compiler (lang/compile.c) asks, per event, which field id to load.
 */
#include <string.h>
#include "base/catalog.h"
#include "lang/fields.h"

static const struct {
	const char *name;
	enum vsp_type type;
	enum vsp_field_group group;
} field_table[VSP_F_COUNT] = {
#define T_INT VSP_T_INT
#define T_STRING VSP_T_STRING
#define T_BOOL VSP_T_BOOL
#define T_LIST_STRING VSP_T_LIST_STRING
#define FIELD_ROW(id, nm, ty, grp) [VSP_F_##id] = { nm, T_##ty, VSP_FG_##grp },
	VSP_FIELD_LIST(FIELD_ROW)
#undef FIELD_ROW
#undef T_INT
#undef T_STRING
#undef T_BOOL
#undef T_LIST_STRING
};

/* True when events of kind k have field f by its name (base/kinds.h says
 * which groups a kind has; HAND fields are resolved by hand below). */
static bool field_of_kind(enum vsp_field f, enum vsp_event_kind k)
{
	return field_table[f].group != VSP_FG_HAND &&
	       vsp_kind_has(k, field_table[f].group);
}

static bool field_is_hook_kind(enum vsp_event_kind k)
{
	return k == VSP_EV_FILE || k == VSP_EV_NET || k == VSP_EV_TASK;
}

static const struct vsp_hook *field_hook(const struct vsp_event_ref *ev)
{
	if (!field_is_hook_kind(ev->kind))
		return NULL;
	if (ev->catalog >= 0 && (size_t)ev->catalog < vsp_nhooks)
		return &vsp_hooks[ev->catalog];
	return vsp_hook_by_name(ev->kind, ev->name);
}

/* Field f is a hook field that the event's hook offers. */
static bool field_of_hook(const struct vsp_hook *h, int f)
{
	unsigned g = vsp_hook_field_group((enum vsp_field)f);

	return h && g && (h->fields & g);
}

static const struct vsp_call *field_call(const struct vsp_event_ref *ev)
{
	if (ev->kind == VSP_EV_SYSCALL) {
		if (ev->catalog >= 0 && (size_t)ev->catalog < vsp_nsyscalls)
			return &vsp_syscalls[ev->catalog];
		return vsp_syscall_by_name(ev->name);
	}
	if (ev->kind == VSP_EV_HYPERCALL) {
		if (ev->catalog >= 0 && (size_t)ev->catalog < vsp_nhypercalls)
			return &vsp_hypercalls[ev->catalog];
		return vsp_hypercall_by_name(ev->name);
	}
	if (ev->kind == VSP_EV_USER)
		return vsp_userfn_by_name(ev->name);
	return NULL;
}

static void field_of_arg(const struct vsp_call *c, int i, enum vsp_field *field,
			 enum vsp_type *type)
{
	if (c->args[i].type == VSP_ARG_INT) {
		*field = (enum vsp_field)(VSP_F_ARG0 + i);
		*type = VSP_T_INT;
	} else {
		*field = (enum vsp_field)(VSP_F_STR0 + i);
		*type = VSP_T_STRING;
	}
}

bool vsp_field_common(const char *name, enum vsp_type *type)
{
	int f;

	for (f = 0; f < VSP_F_COUNT; f++) {
		int k;

		if (strcmp(field_table[f].name, name) != 0)
			continue;
		for (k = 0; k < VSP_EV_KIND_COUNT; k++)
			if (!field_of_kind((enum vsp_field)f, (enum vsp_event_kind)k))
				return false;
		if (type)
			*type = field_table[f].type;
		return true;
	}
	return false;
}

int vsp_field_resolve(const struct vsp_event_ref *ev, const char *name,
		      enum vsp_field *field, enum vsp_type *type)
{
	const struct vsp_call *c;
	int f, i;

	if ((unsigned)ev->kind >= VSP_EV_KIND_COUNT)
		return -1;
	const struct vsp_hook *h = field_hook(ev);

	for (f = 0; f < VSP_F_COUNT; f++) {
		if (!(field_of_kind((enum vsp_field)f, ev->kind) ||
		      field_of_hook(h, f)) ||
		    strcmp(field_table[f].name, name) != 0)
			continue;
		*field = (enum vsp_field)f;
		*type = field_table[f].type;
		return 0;
	}
	c = field_call(ev);
	if (!c || !c->has_proto)
		return -1;
	if (strcmp(name, "path") == 0) {
		if ((ev->kind != VSP_EV_SYSCALL && ev->kind != VSP_EV_USER) ||
		    vsp_call_path_arg(c) < 0)
			return -1;
		*field = VSP_F_PATH;
		*type = VSP_T_STRING;
		return 0;
	}
	for (i = 0; i < c->nargs && i < 6; i++) {
		if (!c->args[i].name || strcmp(c->args[i].name, name) != 0)
			continue;
		if (ev->kind == VSP_EV_HYPERCALL) {
			/* hypercall arguments are guest addresses or numbers */
			*field = (enum vsp_field)(VSP_F_ARG0 + i);
			*type = VSP_T_INT;
		} else {
			field_of_arg(c, i, field, type);
		}
		return 0;
	}
	return -1;
}

static bool field_in_calls(const struct vsp_call *t, size_t n,
			   const char *name, bool strings,
			   enum vsp_type *type)
{
	size_t i;
	int a;

	for (i = 0; i < n; i++) {
		if (!t[i].has_proto)
			continue;
		for (a = 0; a < t[i].nargs && a < 6; a++) {
			if (!t[i].args[a].name ||
			    strcmp(t[i].args[a].name, name) != 0)
				continue;
			if (type)
				*type = strings && t[i].args[a].type != VSP_ARG_INT
					? VSP_T_STRING : VSP_T_INT;
			return true;
		}
	}
	return false;
}

bool vsp_field_guess(const char *name, enum vsp_type *type)
{
	int f;

	for (f = 0; f < VSP_F_COUNT; f++)
		if ((field_table[f].group != VSP_FG_HAND ||
		     vsp_hook_field_group((enum vsp_field)f)) &&
		    strcmp(field_table[f].name, name) == 0) {
			if (type)
				*type = field_table[f].type;
			return true;
		}
	if (strcmp(name, "path") == 0) {
		if (type)
			*type = VSP_T_STRING;
		return true;
	}
	return field_in_calls(vsp_syscalls, vsp_nsyscalls, name, true, type) ||
	       field_in_calls(vsp_hypercalls, vsp_nhypercalls, name, false,
			      type) ||
	       field_in_calls(vsp_userfns, vsp_nuserfns, name, true, type);
}

bool vsp_field_known(const char *name)
{
	return vsp_field_guess(name, NULL);
}

size_t vsp_field_names(const struct vsp_event_ref *ev, const char **names,
		       size_t max)
{
	const struct vsp_call *c;
	size_t n = 0;
	int f, i;

	const struct vsp_hook *h = field_hook(ev);

	if (!max)
		return 0;
	for (f = 0; f < VSP_F_COUNT && n + 1 < max; f++)
		if (field_of_kind((enum vsp_field)f, ev->kind) ||
		    field_of_hook(h, f))
			names[n++] = field_table[f].name;
	c = field_call(ev);
	if (c && c->has_proto) {
		if ((ev->kind == VSP_EV_SYSCALL || ev->kind == VSP_EV_USER) &&
		    vsp_call_path_arg(c) >= 0 &&
		    n + 1 < max)
			names[n++] = "path";
		for (i = 0; i < c->nargs && i < 6 && n + 1 < max; i++)
			if (c->args[i].name)
				names[n++] = c->args[i].name;
	}
	names[n] = NULL;
	return n;
}

const char *vsp_field_name(enum vsp_field f)
{
	if ((unsigned)f >= VSP_F_COUNT)
		return "?";
	return field_table[f].name;
}

enum vsp_type vsp_field_type(enum vsp_field f)
{
	if ((unsigned)f >= VSP_F_COUNT)
		return VSP_T_ERROR;
	return field_table[f].type;
}
