/*
 * event.h: one guest event as the engine sees it, and the decision it gets.
 *
 * This is the narrow header between the backends (vmi/, the trace reader in
 * cli/) and the engine (interp/, fastpath/).  A backend fills a struct
 * vsp_event at each trap; the engine reads integer fields directly and asks
 * for string fields through the event's fetch callback, so guest memory is
 * read only for the fields some rule uses.  The decision is written into a
 * caller-owned struct vsp_decision: deciding never allocates.
 */
#ifndef VSP_EVENT_H
#define VSP_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vsp_event_kind {
	VSP_EV_SYSCALL,
	VSP_EV_HYPERCALL,
	VSP_EV_KERNEL,
	VSP_EV_USER,
	VSP_EV_WRITE,
	VSP_EV_KIND_COUNT
};

/*
 * Every field a rule can read.  The checker maps names to these ids (the
 * table of which event kinds have which field lives in lang/fields.c); the
 * compiler emits them as operands; the interpreter and the decision cache
 * index by them.  Named syscall and hypercall arguments resolve to
 * VSP_F_ARG0 + i (integers) or VSP_F_STR0 + i (strings read from guest
 * memory at the pointer in argument i).
 */
#define VSP_FIELD_LIST(X)                                    \
	X(EVENT_KIND, "event.kind", STRING)                  \
	X(EVENT_NAME, "event.name", STRING)                  \
	X(EVENT_PARTIAL, "event.partial", BOOL)              \
	X(VM, "vm", STRING)                                  \
	X(VCPU, "vcpu", INT)                                 \
	X(PID, "proc.pid", INT)                              \
	X(TID, "proc.tid", INT)                              \
	X(PPID, "proc.ppid", INT)                            \
	X(COMM, "proc.comm", STRING)                         \
	X(UID, "proc.uid", INT)                              \
	X(EUID, "proc.euid", INT)                            \
	X(GID, "proc.gid", INT)                              \
	X(CR3, "cr3", INT)                                   \
	X(NR, "nr", INT)                                     \
	X(ARG0, "arg0", INT)                                 \
	X(ARG1, "arg1", INT)                                 \
	X(ARG2, "arg2", INT)                                 \
	X(ARG3, "arg3", INT)                                 \
	X(ARG4, "arg4", INT)                                 \
	X(ARG5, "arg5", INT)                                 \
	X(STR0, "<string arg0>", STRING)                     \
	X(STR1, "<string arg1>", STRING)                     \
	X(STR2, "<string arg2>", STRING)                     \
	X(STR3, "<string arg3>", STRING)                     \
	X(STR4, "<string arg4>", STRING)                     \
	X(STR5, "<string arg5>", STRING)                     \
	X(PATH, "path", STRING)                              \
	X(FUNC, "func", STRING)                              \
	X(ADDR, "addr", INT)                                 \
	X(OFFSET, "offset", INT)                             \
	X(LEN, "len", INT)                                   \
	X(VALUE, "value", INT)                               \
	X(OLD, "old", INT)                                   \
	X(STACK, "stack", LIST_STRING)

enum vsp_field {
#define VSP_FIELD_ENUM(id, name, type) VSP_F_##id,
	VSP_FIELD_LIST(VSP_FIELD_ENUM)
#undef VSP_FIELD_ENUM
	VSP_F_COUNT
};

/* A byte string borrowed from whoever filled it; not NUL-terminated. */
struct vsp_str {
	const char *ptr;
	uint32_t len;
};

struct vsp_proc {
	int64_t pid, tid, ppid, uid, euid, gid;
	char comm[17];		/* TASK_COMM_LEN + 1, NUL-terminated */
};

struct vsp_event;

/*
 * Reads string field `field` (VSP_F_STR0..STR5, VSP_F_PATH, VSP_F_FUNC) of
 * `ev` into `out`.  The string must stay valid until the event is done
 * with; a backend points it into a buffer it owns (per vCPU, reused).
 * Returns 0, or -1 when the read failed or was cut: the engine then uses
 * the empty string and sets ev->partial.  Called at most once per field
 * per event: the engine remembers the answer in ev->strs.
 */
typedef int (*vsp_fetch_fn)(void *ctx, struct vsp_event *ev,
			    enum vsp_field field, struct vsp_str *out);

struct vsp_event {
	enum vsp_event_kind kind;
	uint32_t nr;		/* syscall or hypercall number; 0 otherwise */
	const char *name;	/* syscall, hypercall, function or symbol name */
	const char *lib;	/* user events: the library, else NULL */

	uint64_t seq, time_ns;
	const char *vm;
	int64_t vcpu;
	struct vsp_proc proc;
	uint64_t cr3;

	int64_t args[6];
	uint64_t addr, offset, len, value, old;	/* write events */

	/* Call path, innermost first, starting at the intercepted function. */
	const char *const *stack;
	uint32_t nstack;
	bool has_stack;		/* false: recorded without unwinding */
	bool stack_partial;	/* the unwinder gave up before the outermost frame */

	bool partial;		/* a field could not be read in full */

	/* Lazy strings: filled by fetch on first use. */
	vsp_fetch_fn fetch;
	void *fetch_ctx;
	uint64_t strs_valid;	/* bit f set: strs[f] holds field f */
	struct vsp_str strs[VSP_F_COUNT];
};

/* Resets the per-event lazy state; the backend fills the rest. */
static inline void vsp_event_reset_lazy(struct vsp_event *ev)
{
	ev->strs_valid = 0;
	ev->partial = false;
}

/*
 * Reads string field f through ev->fetch, once per event (remembered in
 * ev->strs).  Returns false, and sets ev->partial, when it cannot be read.
 * For the writers of records; the interpreter has its own inlined copy.
 */
bool vsp_event_string(struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *out);

enum vsp_verdict {
	VSP_V_NONE,		/* no verdict yet; never returned by vsp_decide */
	VSP_V_ALLOW,
	VSP_V_DENY,
	VSP_V_RETURN,
	VSP_V_REDIRECT,
	VSP_V_KILL,
	VSP_V_PAUSE,
	VSP_V_COUNT
};

enum vsp_mode {
	VSP_MODE_ENFORCE,
	VSP_MODE_MONITOR,
	VSP_MODE_LEARN,
	VSP_MODE_UNSET
};

enum vsp_effect_kind {
	VSP_EFF_LOG,
	VSP_EFF_ALERT,
	VSP_EFF_COUNT_
};

/* One fired effect: which rule, which effect of that rule. */
struct vsp_fired {
	uint32_t rule;		/* index into the policy's rule table */
	uint32_t effect;	/* index into the policy's effect table */
};

#define VSP_MAX_FIRED 32	/* effects recorded per decision; more are counted */
#define VSP_MAX_LEARN 8		/* profiles a decision can ask to learn into */

struct vsp_decision {
	enum vsp_verdict verdict;
	int32_t rule;		/* deciding rule, -1 for the default */
	int64_t value;		/* deny: errno; return: the value */
	struct vsp_str redirect;	/* redirect: the new path */

	uint32_t nfired, fired_dropped;
	struct vsp_fired fired[VSP_MAX_FIRED];

	/* learn mode: rules whose profile should take this event's path */
	uint32_t nlearn;
	uint32_t learn_rule[VSP_MAX_LEARN];

	bool flagged;		/* arithmetic fault (division by zero, ...) */
	bool partial;		/* a field read failed or was cut (ev->partial) */
	bool failed;		/* the run's failure policy replaced the verdict */
	bool cached;		/* answered from the decision cache */
	uint32_t steps;		/* instructions executed */
};

#endif
