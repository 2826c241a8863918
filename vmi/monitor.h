/*
 * monitor.h: the attach loop that enforces a policy on a live guest.
 *
 * `vsp attach` (cli/attach.c) loads the policy and hands it here with a
 * backend (GDB remote or Xen, vmi/backend.h).  The monitor resolves every
 * event the policy names to a trap address through the guest's symbol
 * table, installs those traps only, and then loops: wait for a trap,
 * decode the event (syscall arguments from the pt_regs the handler
 * receives, strings from guest memory only when a rule reads them, process
 * context through vmi/linux.h), decide with the engine, apply the verdict
 * (emulated return for deny/return, a kernel path that kills the task for
 * kill, a rewrite of the kernel's own copy of the path for redirect, a
 * stopped guest for pause), write audit and trace records, and leave the
 * trap.  It detaches cleanly on SIGINT/SIGTERM, on a lost link and when
 * the guest ends.
 *
 * Interactive (`vsp repl --gdb`): the same loop also reads one-line
 * commands from a descriptor between stops (status, load, pause, ...;
 * `help` lists them).  It looks at that descriptor only when a wait for a
 * stop times out or a tenth of a second has passed since the last look,
 * so a trap costs no more round trips than under `vsp attach`.
 */
#ifndef VSP_MONITOR_H
#define VSP_MONITOR_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/engine.h"
#include "interp/sink.h"
#include "vmi/backend.h"

/* Exit statuses, as interfaces.md gives them for `vsp attach`. */
enum {
	VSP_MON_OK = 0,		/* guest ended, detached, or left paused */
	VSP_MON_POLICY = 1,	/* policy errors (the caller's part) */
	VSP_MON_USAGE = 2,	/* bad arguments, unreadable files */
	VSP_MON_LOST = 3,	/* cannot attach, or lost the guest */
	VSP_MON_RECORDS = 4	/* audit or trace records were lost */
};

/* What a record that cannot be written does to the run (auditd's
 * disk_error_action): stop detaches cleanly at once, pause detaches and
 * leaves the guest stopped, continue goes on enforcing.  All three count
 * the lost records and end with status VSP_MON_RECORDS. */
enum vsp_on_record_error {
	VSP_ON_ERR_STOP = 0,	/* the default */
	VSP_ON_ERR_PAUSE,
	VSP_ON_ERR_CONTINUE
};
int vsp_on_record_error_parse(const char *s, enum vsp_on_record_error *out);
const char *vsp_on_record_error_name(enum vsp_on_record_error e);

struct vsp_monitor_opts {
	const struct vsp_backend_ops *ops;
	const char *target;	/* "HOST:PORT", a Xen domain */
	const char *symbols;	/* System.map or kallsyms dump; NULL: none */
	const char *vmlinux;	/* for BTF and KASLR checks; NULL: none */
	/* Verify a profile's symbols by decoding the guest's whole kallsyms
	 * table, not by the profile's kallsyms digest. */
	bool verify_symbols_full;
	struct vsp_policy *policy;	/* borrowed */
	FILE *audit;		/* NULL: no audit records (unless audit_sink) */
	struct vsp_sink *audit_sink;	/* borrowed; set: records go here */
	FILE *record;		/* NULL: no trace */
	enum vsp_on_record_error on_audit_error;	/* audit and trace */
	enum vsp_on_death on_death;	/* what the backend's guard does */
	bool stats, stats_json;
	const char *vm;		/* the name records carry; NULL: "guest0" */
	bool quiet;		/* no progress messages */
	int max_events;		/* stop after this many events (0: no limit) */
	bool pin_paths;		/* allowed calls use the path the rules read */
	/* Interactive session: commands from ctl_fd, answers to ctl_out
	 * (NULL: stdout); `load` compiles with *load.  End of input detaches. */
	bool interactive;
	int ctl_fd;
	FILE *ctl_out;
	const struct vsp_load_opts *load;
	/* The files o->policy was compiled from (borrowed): `rule add`
	 * compiles them again with the rules typed in the session. */
	const char *const *files;
	size_t nfiles;
	/* Called whenever the session waits for its next command (after
	 * the first prompt's worth of output and each answer); NULL: none.
	 * A line editor on another thread shows its prompt then. */
	void (*ctl_ready)(void *ctx);
	void *ctl_ctx;
	/* The session owns SIGINT (it drops a line being typed): the loop
	 * leaves it alone and detaches on SIGTERM only. */
	bool ctl_sigint;
	/* A service around the loop; NULL: none.  With hooks, SIGHUP asks
	 * for a reload through tick instead of detaching. */
	const struct vsp_monitor_hooks *hooks;
};

/*
 * A service around the loop (cli/service.c): systemd notification,
 * metrics, reloads.  `ready` runs once every trap is placed, before the
 * guest is let go; `tick` runs between two traps, after each stop and at
 * least once a second, and may ask for a reload (its return value); it
 * must not block.  The view is the loop's own counters, read-only.
 */
struct vsp_monitor_view {
	const struct vsp_policy *policy;
	const struct vsp_run_stats *rs;	/* traps_installed, round_trips current */
	uint64_t trap_hits, rt_in_traps, events;
	uint64_t policy_loads;		/* reloads that took effect */
	uint64_t audit_records, audit_write_errors;
	uint64_t trace_write_errors;	/* --record lines lost */
};

enum { VSP_HOOK_GO_ON = 0, VSP_HOOK_RELOAD = 1 };

struct vsp_monitor_hooks {
	void *ctx;
	void (*ready)(void *ctx, const struct vsp_monitor_view *v);
	int (*tick)(void *ctx, const struct vsp_monitor_view *v);
	/* For VSP_HOOK_RELOAD: the policy files, compiled with *load. */
	const char *const *files;
	size_t nfiles;
	/* After a reload: the new policy (NULL: it failed, the old stays). */
	void (*reloaded)(void *ctx, const struct vsp_monitor_view *v, bool ok);
	/* Once at the end, before the statistics are printed. */
	void (*done)(void *ctx, const struct vsp_monitor_view *v);
};

/* Why the monitor cannot trap events of kind `k` (it has no site for
 * them), as a static sentence; NULL when it has one (vmi/decide.c). */
const char *vsp_monitor_why_not(enum vsp_event_kind k);

/* Runs until the guest ends, a signal arrives or the link is lost.
 * Returns one of the statuses above; messages go to stderr. */
int vsp_monitor_run(const struct vsp_monitor_opts *o);

#endif
