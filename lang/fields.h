/*
 * fields.h: which fields an event has, and what a field name means there.
 *
 * One table (lang/fields.c) says which of the fields in base/event.h each
 * event kind offers; named arguments come from the catalog entry of the
 * event.  The checker asks it whether a name exists for every event a rule
 * names; the compiler asks it, per event, which field id to load.
 */
#ifndef VSP_FIELDS_H
#define VSP_FIELDS_H

#include "lang/ast.h"

/*
 * Resolves `name` ("path", "proc.comm", "filename", "arg2", ...) for one
 * event.  Returns 0 and sets *field and *type, or -1 when the event has no
 * such field.
 */
int vsp_field_resolve(const struct vsp_event_ref *ev, const char *name,
		      enum vsp_field *field, enum vsp_type *type);

/* True when `name` is a field of some event (so an unknown-field error can
 * say "not a field of syscall read" rather than "unknown name"). */
bool vsp_field_known(const char *name);

/* Every field name valid for the event, for "did you mean". NULL-terminated,
 * written into names[] (at most `max`). Returns how many. */
size_t vsp_field_names(const struct vsp_event_ref *ev, const char **names,
		       size_t max);

/* Like vsp_field_known, and sets *type (may be NULL) to the type the name
 * has where it exists: for checking a macro no rule uses. */
bool vsp_field_guess(const char *name, enum vsp_type *type);

/* True when `name` is a field every event kind has (proc.*, vm, vcpu,
 * ...), and sets *type (may be NULL): for a rule whose events are all
 * unknown, so its condition is still checked. */
bool vsp_field_common(const char *name, enum vsp_type *type);

const char *vsp_field_name(enum vsp_field f);
enum vsp_type vsp_field_type(enum vsp_field f);

#endif
