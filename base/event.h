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

#include "base/kinds.h"

/*
 * Every field a rule can read: X(ID, name, type, group).  The group says
 * which event kinds have the field (each kind lists its groups in
 * base/kinds.h; HAND fields are resolved from the catalog, lang/fields.c).
 * The checker maps names to these ids; the compiler emits them as
 * operands; the interpreter and the decision cache index by them.  Named
 * syscall and hypercall arguments resolve to VSP_F_ARG0 + i (integers) or
 * VSP_F_STR0 + i (strings read from guest memory at the pointer in
 * argument i).
 */
#define VSP_FIELD_LIST(X)                                    \
	X(EVENT_KIND, "event.kind", STRING, COMMON)          \
	X(EVENT_NAME, "event.name", STRING, COMMON)          \
	X(EVENT_PARTIAL, "event.partial", BOOL, COMMON)      \
	X(VM, "vm", STRING, COMMON)                          \
	X(VCPU, "vcpu", INT, COMMON)                         \
	X(PID, "proc.pid", INT, COMMON)                      \
	X(TID, "proc.tid", INT, COMMON)                      \
	X(PPID, "proc.ppid", INT, COMMON)                    \
	X(COMM, "proc.comm", STRING, COMMON)                 \
	X(UID, "proc.uid", INT, COMMON)                      \
	X(EUID, "proc.euid", INT, COMMON)                    \
	X(GID, "proc.gid", INT, COMMON)                      \
	X(CR3, "cr3", INT, COMMON)                           \
	X(NR, "nr", INT, NR)                                 \
	X(ARG0, "arg0", INT, ARGS)                           \
	X(ARG1, "arg1", INT, ARGS)                           \
	X(ARG2, "arg2", INT, ARGS)                           \
	X(ARG3, "arg3", INT, ARGS)                           \
	X(ARG4, "arg4", INT, ARGS)                           \
	X(ARG5, "arg5", INT, ARG5)                           \
	X(STR0, "<string arg0>", STRING, HAND)               \
	X(STR1, "<string arg1>", STRING, HAND)               \
	X(STR2, "<string arg2>", STRING, HAND)               \
	X(STR3, "<string arg3>", STRING, HAND)               \
	X(STR4, "<string arg4>", STRING, HAND)               \
	X(STR5, "<string arg5>", STRING, HAND)               \
	X(PATH, "path", STRING, HAND)                        \
	X(FUNC, "func", STRING, FUNC)                        \
	X(ADDR, "addr", INT, WRITE)                          \
	X(OFFSET, "offset", INT, WRITE)                      \
	X(LEN, "len", INT, WRITE)                            \
	X(VALUE, "value", INT, WRITE)                        \
	X(OLD, "old", INT, WRITE)                            \
	X(STACK, "stack", LIST_STRING, COMMON)                \
	VSP_RESOLVED_LIST(X)

/*
 * Resolved fields (language 1.1 section 7.2): read from kernel objects at
 * hook events (and, for proc.*, at every event), always lazily through
 * ev->fetch, integers included: the backend stores a resolved integer in
 * ev->rint[] and answers the fetch with the empty string.  The integers
 * come first, so that VSP_F_RINT_FIRST..VSP_F_RINT_LAST index ev->rint.
 * The resolved process is COMMON (every kind has it); the hook fields
 * are HAND: lang/fields.c gives them by the hook (base/catalog_hooks.c).
 */
#define VSP_RESOLVED_LIST(X)                                 \
	X(FILE_INO, "file.ino", INT, HAND)                         \
	X(FILE_DEV, "file.dev", INT, HAND)                         \
	X(FILE_NLINK, "file.nlink", INT, HAND)                     \
	X(FILE_MODE, "file.mode", INT, HAND)                       \
	X(FILE_UID, "file.uid", INT, HAND)                         \
	X(FILE_GID, "file.gid", INT, HAND)                         \
	X(OPEN_FLAGS, "open.flags", INT, HAND)                     \
	X(MMAP_PROT, "mmap.prot", INT, HAND)                       \
	X(MMAP_FLAGS, "mmap.flags", INT, HAND)                     \
	X(SOCK_PORT, "sock.port", INT, HAND)                       \
	X(TARGET_PID, "target.pid", INT, HAND)                     \
	X(NEW_UID, "new.uid", INT, HAND)                           \
	X(NEW_EUID, "new.euid", INT, HAND)                         \
	X(FLAGS, "flags", INT, HAND)                               \
	X(BPF_CMD, "bpf.cmd", INT, HAND)                           \
	X(PARENT_PID, "proc.parent.pid", INT, COMMON)                \
	X(LOGINUID, "proc.loginuid", INT, COMMON)                    \
	X(SESSIONID, "proc.sessionid", INT, COMMON)                  \
	X(FILE_PATH, "file.path", STRING, HAND)                    \
	X(FILE_FSPATH, "file.fspath", STRING, HAND)                \
	X(FILE_NAME, "file.name", STRING, HAND)                    \
	X(FILE_TYPE, "file.type", STRING, HAND)                    \
	X(FILE_FS, "file.fs", STRING, HAND)                        \
	X(EXEC_ARGV, "exec.argv", STRING, HAND)                    \
	X(EXEC_INTERP, "exec.interp", STRING, HAND)                \
	X(TARGET_PATH, "target.path", STRING, HAND)                \
	X(TARGET_COMM, "target.comm", STRING, HAND)                \
	X(TARGET_EXE, "target.exe", STRING, HAND)                  \
	X(SOCK_FAMILY, "sock.family", STRING, HAND)                \
	X(SOCK_TYPE, "sock.type", STRING, HAND)                    \
	X(SOCK_ADDR, "sock.addr", STRING, HAND)                    \
	X(MODULE_NAME, "module.name", STRING, HAND)                \
	X(EXE, "proc.exe", STRING, COMMON)                           \
	X(CWD, "proc.cwd", STRING, COMMON)                           \
	X(CMDLINE, "proc.cmdline", STRING, COMMON)                   \
	X(PARENT_COMM, "proc.parent.comm", STRING, COMMON)           \
	X(PARENT_EXE, "proc.parent.exe", STRING, COMMON)             \
	X(CGROUP, "proc.cgroup", STRING, COMMON)

enum vsp_field {
#define VSP_FIELD_ENUM(id, name, type, group) VSP_F_##id,
	VSP_FIELD_LIST(VSP_FIELD_ENUM)
#undef VSP_FIELD_ENUM
	VSP_F_COUNT
};

#define VSP_F_RES_FIRST VSP_F_FILE_INO		/* first resolved field */
#define VSP_F_RINT_FIRST VSP_F_FILE_INO
#define VSP_F_RINT_LAST VSP_F_SESSIONID
#define VSP_NRINT (VSP_F_RINT_LAST - VSP_F_RINT_FIRST + 1)

/* A set of fields, one bit per enum vsp_field (more than 64 of them). */
typedef unsigned __int128 vsp_fmask;
#define VSP_FBIT(f) ((vsp_fmask)1 << (f))
/* Every resolved field: fetched through ev->fetch, never stored by the
 * backend before a rule asks. */
#define VSP_FMASK_RESOLVED \
	(((vsp_fmask)1 << VSP_F_COUNT) - VSP_FBIT(VSP_F_RES_FIRST))

static inline bool vsp_field_is_rint(int f)
{
	return f >= VSP_F_RINT_FIRST && f <= VSP_F_RINT_LAST;
}

/* Fields that hold an address or a raw word of memory (cr3, and the
 * address, new and old value of a write event): messages print them in
 * hex, as an address is read, not as a signed number. */
static inline bool vsp_field_is_word(int f)
{
	return f == VSP_F_ADDR || f == VSP_F_VALUE || f == VSP_F_OLD ||
	       f == VSP_F_CR3;
}

/* Lowest set bit of a non-empty mask. */
static inline unsigned vsp_fmask_ctz(vsp_fmask m)
{
	uint64_t lo = (uint64_t)m;

	return lo ? (unsigned)__builtin_ctzll(lo) :
		    64u + (unsigned)__builtin_ctzll((uint64_t)(m >> 64));
}

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
 * Reads string field `field` (VSP_F_STR0..STR5, VSP_F_PATH, VSP_F_FUNC, a
 * resolved field) of `ev` into `out`; for a resolved integer it stores the
 * value in ev->rint[field - VSP_F_RINT_FIRST] and sets `out` empty.  The string must stay valid until the event is done
 * with; a backend points it into a buffer it owns (per vCPU, reused).
 * Returns 0, or -1 when the read failed or was cut: the engine then uses
 * the empty string and sets ev->partial.  Called at most once per field
 * per event: the engine remembers the answer in ev->strs.
 */
typedef int (*vsp_fetch_fn)(void *ctx, struct vsp_event *ev,
			    enum vsp_field field, struct vsp_str *out);

/*
 * What every decision touches comes first, in one cache line: the kind
 * and number the dispatch reads, the flags the engine resets and sets per
 * event (vsp_event_reset_lazy), and the name.
 */
struct vsp_event {
	enum vsp_event_kind kind;
	uint32_t nr;		/* syscall or hypercall number; 0 otherwise */
	bool partial;		/* a field could not be read in full */
	vsp_fmask strs_valid;	/* bit f set: strs[f] holds field f */
	vsp_fmask strs_failed;	/* ... and its read failed (strs[f] empty) */
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

	/* Lazy strings: filled by fetch on first use (strs_valid above). */
	vsp_fetch_fn fetch;
	void *fetch_ctx;
	struct vsp_str strs[VSP_F_COUNT];
	/* Resolved integers, valid once fetched (bit set in strs_valid). */
	int64_t rint[VSP_NRINT];
};

/* Resets the per-event lazy state; the backend fills the rest. */
static inline void vsp_event_reset_lazy(struct vsp_event *ev)
{
	ev->strs_valid = 0;
	ev->strs_failed = 0;
	ev->partial = false;
}

/*
 * Reads string field f through ev->fetch, once per event (remembered in
 * ev->strs).  Returns false, and sets ev->partial, when it cannot be read.
 * For the writers of records; the interpreter has its own inlined copy.
 */
bool vsp_event_string(struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *out);

/* The name of field f ("file.path"), "?" when out of range. */
const char *vsp_event_field_name(enum vsp_field f);
/* The field named `name`, or -1. */
int vsp_event_field_by_name(const char *name);

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
