/*
 * kinds.h: the event kinds, verdicts and modes of the language, each
 * declared once.
 *
 * This is the ground floor: it includes nothing of the tree, and every
 * stage reads these lists instead of spelling the names again.  The
 * parser reads event kinds and their names from here, the checker which
 * verdicts and which fields (by group, see VSP_FIELD_LIST in
 * base/event.h) each kind has, the engine, the audit writer and the
 * trace reader and writer the names.  Adding an event kind is one line in
 * VSP_EVENT_KIND_LIST plus the code that traps it (docs/hacking.md).
 */
#ifndef VSP_KINDS_H
#define VSP_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- verdicts: X(ID, name), in enum order ----
 *
 * NONE is "no verdict yet", never returned by vsp_decide.
 */

#define VSP_VERDICT_LIST(X)                                  \
	X(NONE, "none")                                      \
	X(ALLOW, "allow")                                    \
	X(DENY, "deny")                                      \
	X(RETURN, "return")                                  \
	X(REDIRECT, "redirect")                              \
	X(KILL, "kill")                                      \
	X(PAUSE, "pause")

enum vsp_verdict {
#define VSP_VERDICT_ENUM(id, name) VSP_V_##id,
	VSP_VERDICT_LIST(VSP_VERDICT_ENUM)
#undef VSP_VERDICT_ENUM
	VSP_V_COUNT
};

/* A set of verdicts, as the event kind table states what a kind accepts. */
#define VSP_VV(id) (1u << VSP_V_##id)

/* ---- modes: X(ID, name), in enum order ---- */

#define VSP_MODE_LIST(X)                                     \
	X(ENFORCE, "enforce")                                \
	X(MONITOR, "monitor")                                \
	X(LEARN, "learn")

enum vsp_mode {
#define VSP_MODE_ENUM(id, name) VSP_MODE_##id,
	VSP_MODE_LIST(VSP_MODE_ENUM)
#undef VSP_MODE_ENUM
	VSP_MODE_UNSET		/* no file and no option set it */
};

#define VSP_MODE_COUNT VSP_MODE_UNSET

/*
 * ---- field groups: which fields an event kind carries (language §6) ----
 *
 * Each field of VSP_FIELD_LIST names its group; each event kind lists the
 * groups it has.  HAND marks fields no kind has by name: the checker
 * resolves them from the catalog entry of the event (named arguments, the
 * strings they point at, `path`).
 */
#define VSP_FIELD_GROUP_LIST(X)                                      \
	X(COMMON)	/* event.*, vm, vcpu, proc.*, cr3, stack */  \
	X(NR)		/* nr: the catalog number */                 \
	X(ARGS)		/* arg0..arg4 */                             \
	X(ARG5)		/* arg5 */                                   \
	X(FUNC)		/* func */                                   \
	X(WRITE)	/* addr, offset, len, value, old */          \
	X(HAND)

enum vsp_field_group {
#define VSP_FG_ENUM(id) VSP_FG_##id,
	VSP_FIELD_GROUP_LIST(VSP_FG_ENUM)
#undef VSP_FG_ENUM
	VSP_FG_COUNT
};

#define VSP_FG(id) (1u << VSP_FG_##id)

/*
 * ---- event kinds: X(ID, name, verdicts accepted, field groups) ----
 *
 * The name is the word a rule writes (`on syscall openat`), the trace's
 * and the audit record's "kind".  A verdict a kind does not accept is a
 * checker error at the rule; `redirect` further needs a path argument
 * (lang/check.c).  A name that is no keyword of the lexer (lang/lexer.l)
 * is a keyword only where an event is expected, so it stays usable in
 * field names (`file` in `file.path`).
 */
#define VSP_VV_CALL (VSP_VV(ALLOW) | VSP_VV(DENY) | VSP_VV(RETURN) | \
		     VSP_VV(KILL) | VSP_VV(PAUSE))
/* Hook events (language 1.1): the hook returns -E, or the task dies; no
 * return value and no redirect.  Their own fields come by the hook
 * (base/catalog_hooks.c, lang/fields.c). */
#define VSP_VV_HOOK (VSP_VV(ALLOW) | VSP_VV(DENY) | VSP_VV(KILL) | VSP_VV(PAUSE))
#define VSP_FG_FUNC_ARGS (VSP_FG(COMMON) | VSP_FG(ARGS) | VSP_FG(ARG5) | \
			  VSP_FG(FUNC))

#define VSP_EVENT_KIND_LIST(X)                                               \
	X(SYSCALL, "syscall", VSP_VV_CALL | VSP_VV(REDIRECT),                \
	  VSP_FG(COMMON) | VSP_FG(NR) | VSP_FG(ARGS) | VSP_FG(ARG5))         \
	X(HYPERCALL, "hypercall", VSP_VV_CALL,                               \
	  VSP_FG(COMMON) | VSP_FG(NR) | VSP_FG(ARGS))                        \
	X(KERNEL, "kernel", VSP_VV_CALL, VSP_FG_FUNC_ARGS)                   \
	X(USER, "user", VSP_VV_CALL, VSP_FG_FUNC_ARGS)                       \
	X(WRITE, "write", VSP_VV_CALL, VSP_FG(COMMON) | VSP_FG(WRITE))       \
	X(FILE, "file", VSP_VV_HOOK, VSP_FG(COMMON))                         \
	X(NET, "net", VSP_VV_HOOK, VSP_FG(COMMON))                           \
	X(TASK, "task", VSP_VV_HOOK, VSP_FG(COMMON))

enum vsp_event_kind {
#define VSP_EV_ENUM(id, name, verdicts, groups) VSP_EV_##id,
	VSP_EVENT_KIND_LIST(VSP_EV_ENUM)
#undef VSP_EV_ENUM
	VSP_EV_KIND_COUNT
};

struct vsp_kind_info {
	const char *name;
	uint32_t verdicts;	/* bit (1 << VSP_V_x): verdicts it accepts */
	uint32_t groups;	/* bit (1 << VSP_FG_x): field groups it has */
};

extern const struct vsp_kind_info vsp_kinds[VSP_EV_KIND_COUNT];

/* Names; out of range gives "unknown", "none" and "unset". */
const char *vsp_event_kind_name(enum vsp_event_kind k);
const char *vsp_verdict_name(enum vsp_verdict v);
const char *vsp_mode_name(enum vsp_mode m);

/* Parse a name of the tables; return 0, or -1 when it is none of them. */
int vsp_event_kind_parse(const char *s, enum vsp_event_kind *out);
int vsp_mode_parse(const char *s, enum vsp_mode *out);

/* True when kind k has field group g / accepts verdict v. */
static inline bool vsp_kind_has(enum vsp_event_kind k, enum vsp_field_group g)
{
	return (unsigned)k < VSP_EV_KIND_COUNT &&
	       (vsp_kinds[k].groups >> g & 1u);
}

static inline bool vsp_kind_accepts(enum vsp_event_kind k, enum vsp_verdict v)
{
	return (unsigned)k < VSP_EV_KIND_COUNT &&
	       (vsp_kinds[k].verdicts >> v & 1u);
}

/* The raw argument registers an event of kind k carries (0, 5 or 6). */
static inline int vsp_kind_nargs(enum vsp_event_kind k)
{
	return vsp_kind_has(k, VSP_FG_ARG5) ? 6 :
	       vsp_kind_has(k, VSP_FG_ARGS) ? 5 : 0;
}

/*
 * The names of a table joined for a message: "syscall, hypercall, kernel,
 * user and write" (`conj` is the last joint: "and", "or").  Writes at most
 * size bytes, NUL-terminated; returns buf.
 */
char *vsp_event_kind_names(char *buf, size_t size, const char *conj);
char *vsp_mode_names(char *buf, size_t size, const char *conj);

/* The kind names as an array, for "did you mean" (vsp_suggest). */
extern const char *const vsp_event_kind_name_list[VSP_EV_KIND_COUNT];

#endif
