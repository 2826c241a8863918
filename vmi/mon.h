/*
 * mon.h: the monitor's own state, shared by the files that make it up.
 *
 * Not an interface for anyone else (cli/ and the tests use vmi/monitor.h).
 * The monitor is split by concern:
 *
 *   vmi/monitor.c      the loop: attach, trap setup through the sites,
 *                      wait, detach, statistics
 *   vmi/guest_kernel.c the guest kernel found at attach: symbols, the
 *                      KASLR slide, their verification, BTF, layouts
 *   vmi/traps.c        the trap table: placement, helper traps, leaving a
 *                      trap (skip, step or emulate), tamper checks
 *   vmi/decide.c       the one decide path every event kind takes:
 *                      fill → decide → learn, record, audit → apply
 *   vmi/redirect.c     redirect, pinned paths and late decisions: the
 *                      getname state machine
 *   vmi/session.c      the interactive session (`vsp repl --gdb|--xen`):
 *                      reading and dispatching commands, policy swaps
 *   vmi/session_guest.c
 *                      the session's commands that read the guest (regs,
 *                      mem, sym, ps) or the decisions made (tail, bt)
 *   vmi/site_*.c       one site per event kind, behind struct mon_site
 *
 * A site says how its kind's traps are placed (setup), how a stop at one
 * becomes a struct vsp_event (fill), and how each verdict is carried out
 * in the guest (apply); vmi/decide.c holds the only switch on verdicts.
 * The sites are listed once, in mon_sites[] (vmi/decide.c).
 */
#ifndef VSP_MON_H
#define VSP_MON_H

#include <capstone/capstone.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/audit.h"
#include "base/catalog.h"
#include "base/clock.h"
#include "vmi/integrity.h"
#include "vmi/kallsyms.h"
#include "vmi/kaslr.h"
#include "vmi/kprofile.h"
#include "vmi/kverify.h"
#include "vmi/linux.h"
#include "vmi/linux_fs.h"
#include "vmi/site_hook.h"
#include "vmi/monitor.h"
#include "vmi/support.h"
#include "vmi/symbols.h"
#include "vmi/unwind.h"
#include "vmi/watch.h"
#include "vmi/xen_hcall.h"

#define MON_MAX_TRAPS 512
#define MON_STR_MAX 4096	/* language.md: strings are read up to 4096 bytes */
#define MON_SIGKILL 9
#define MON_FILENAME_NAME 0	/* struct filename { const char *name; */
#define MON_FILENAME_UPTR 8	/*   const __user char *uptr; ... } */
#define MON_REDIRECT_MAX 4000	/* fits the names_cache buffer (PATH_MAX) */
#define MON_REDIRECT_MISSES 256	/* getname calls we let pass while waiting */
#define MON_PT_ARGS_OFF 0x20	/* pt_regs: bp at 0x20 .. di at 0x70 */
#define MON_PT_ARGS_LEN 0x58
#define MON_PT_ORIG_AX 0x78	/* pt_regs: orig_ax, then ip at 0x80 */
#define MON_PT_IP 0x80
/* Give the kernel's copy back through a pushed putname before failing a
 * late-denied call?  Off: the error is set when putname returns through
 * the same trap, and on a multi-vCPU guest that trap can be passed while
 * another task steps over it, leaving getname's caller with putname's rax
 * as its struct filename (a guest oops, seen under a storm).  Without it
 * each late deny leaks one names_cache object in the guest. */
#define MON_LATE_PUTNAME 0
#define MON_USER_TOP 0x00fffffffffff000ull	/* TASK_SIZE_MAX, 5-level paging */
/* Tamper checks: the code under an emulated trap is read again at most
 * once per this many hits of it, and at least once per MON_VERIFY_NS. */
#define MON_VERIFY_HITS 32
#define MON_VERIFY_NS 1000000000ull
/* Integrity (vmi/integrity.h): CR0 and CR4 come with every stop's
 * registers and are compared at each; the syscall entry code is read
 * again at most once per MON_INTEG_NS, and a quiet guest is stopped for
 * a look once per MON_INTEG_IDLE_NS. */
#define MON_INTEG_NS 1000000000ull
#define MON_INTEG_IDLE_NS 5000000000ull

enum mon_role {
	MON_T_FREE,
	MON_T_EVENT,		/* a policy event: its site decides here */
	MON_T_GETNAME,		/* redirect: getname_flags entry */
	MON_T_GETNAME_RET,	/* redirect: getname_flags return */
	MON_T_WEXIT		/* write kill: the writer's way back to user space */
};

struct mon_site;
struct mon_user;

struct mon_trap {
	uint64_t addr;
	enum mon_role role;
	const struct mon_site *site;	/* event traps: the kind's site */
	bool checked;		/* the displaced instruction was examined */
	bool emulate;		/* it is a 5-byte NOP: resume at addr + 5 */
	const struct vsp_event_key *key;
	const struct vsp_call *call;	/* syscalls: the catalog entry */
	int path_arg;		/* index of the path argument, or -1 */
	bool ia32;		/* a 32-bit syscall entry (int $0x80) */
	const char *name;	/* the event's name */
	const struct vsp_hook *hook;	/* hook events: the catalog entry */
	unsigned hook_at;	/* ... and which of its functions this is */
	uint64_t hits;
	uint8_t code[5];	/* the bytes under the trap when checked */
	bool have_code;
	uint64_t verify_hit;	/* t->hits at the last tamper check */
	bool tampered;		/* reported once */
	uint32_t gen;		/* the policy load that wants it (event traps) */
	uint8_t uhelp;		/* user events' kernel helpers (site_user.c) */
};

struct mon_str {
	uint8_t state;		/* 0 unread, 1 read whole, 2 failed or cut */
	uint32_t len;
	char buf[MON_STR_MAX + 1];
};

#define MON_NSEEN 8
#define MON_WKILL 16
#define MON_WIN 1024
#define MON_NWIN 8

struct mon_win {
	uint64_t base;
	size_t len;
	uint8_t data[MON_WIN];
};

/* One decision, as `tail` shows it: copied, since a later `load` frees
 * the policy whose names it would otherwise point at. */
#define MON_TAIL 64
#define MON_MAX_ADDED 64	/* rules `rule add` keeps */
struct mon_tail {
	uint64_t seq, time_ns;
	int64_t pid, value;
	enum vsp_verdict verdict;
	bool applied;
	char event[32], rule[48], comm[17], path[128];
	/* The call path, frames NUL-separated, innermost first (`bt`). */
	char stack[384];
	uint8_t nstack;
	bool has_stack, stack_partial;
};

struct mon {
	const struct vsp_monitor_opts *o;
	struct vsp_policy *p;
	enum vsp_mode mode;
	struct vsp_backend be;
	bool attached;
	struct vsp_symtab *syms;
	struct vsp_kprof kprof;	/* what the profile carries beside syms */
	struct vsp_symtab *ksyms;	/* the running kernel's own, or NULL */
	struct vsp_kimg *img;
	/* The pass before the first trap: sites are checked, not trapped. */
	bool dry;
	struct vsp_kverify kv;
	uint64_t t_first_trap, rt_first_trap;
	struct vsp_linux lx;
	bool have_lx;
	bool pti_final;		/* be.guest_pti read once a process ran */
	struct vsp_lxfs lxfs;	/* kernel objects of hook events */
	bool have_lxfs;
	char lxfs_err[256];
	struct vsp_hook_site *hs;	/* resolved fields; NULL without lxfs */
	struct mon_user *user;	/* user-space function events (site_user.c) */
	uint64_t task;		/* the event's current task, 0: unknown */
	uint64_t ahead_task, ahead_fs;	/* the last file.path's (lsm_ahead) */
	csh cs;
	bool have_cs;
	struct vsp_unwinder *uw;	/* call paths, when a rule reads them */
	/* Set once the unwinder was asked for: without one, rules that read
	 * the call path are refused (mon_refusals), saying why. */
	bool uw_tried;
	bool uw_bad;		/* the guest's ORC tables did not hold up */
	char uw_err[200];
	struct vsp_callpath cp;

	/* Hypercalls (a Xen guest): where it enters Xen, and which event key
	 * each hypercall number belongs to. */
	struct vsp_xhc_site xsite;
	bool have_xsite;
	const struct vsp_event_key *hkey[VSP_XHC_MAX];
	struct vsp_xhc_path xpath;

	struct mon_trap traps[MON_MAX_TRAPS];
	size_t ntraps;
	uint64_t installed;	/* event traps installed at start */
	uint64_t fn_group_exit, fn_force_sig, fn_ni_syscall;
	struct {
		uint64_t addr;
		bool emulate;
	} seen[MON_NSEEN];	/* helper trap sites already examined */
	unsigned nseen;
	uint64_t fn_getname[3];	/* getname, getname_flags, getname_uflags */
	uint64_t fn_putname;

	/* The event being handled. */
	struct vsp_event ev;
	struct vsp_regs regs;
	uint32_t vcpu;
	struct mon_trap *cur;
	bool args_loaded, proc_loaded, task_loaded;
	bool win_on;		/* mon_gread serves from windows */
	int win_next;
	struct mon_win win[MON_NWIN];
	uint64_t fetch_ns;	/* guest reads made from inside the engine */
	struct mon_str str[6];

	/* A pending redirect. */
	struct {
		bool active;
		int stage;	/* 0: wait for getname entry, 1: for its return */
		uint64_t cr3, uptr;
		struct mon_trap *entry[3], *ret;
		unsigned misses;
		bool pin;	/* --pin-paths, not a redirect */
		char path[MON_REDIRECT_MAX + 1];
		size_t len;
		/* A decision waiting for the kernel's copy of the path (the
		 * user's page was not present at the call's entry). */
		bool late;
		int late_err;	/* stage 2: errno to return after putname */
		uint64_t late_sp;	/* stage 2: rsp once putname has returned */
		struct mon_trap *late_trap;
		struct vsp_event late_ev;
		struct vsp_callpath late_cp;
		/* At getname's return: its struct filename, and the kernel's
		 * path buffer in it (0 when getname failed). */
		uint64_t late_fname, late_name;
		bool late_failed;
		/* A redirect's audit record waits until the kernel's copy is
		 * written (or the redirect is given up): "applied" says what
		 * the guest got.  The event, its strings and call path are
		 * copied, since later events reuse m->ev, m->str and m->cp. */
		bool pend;
		struct mon_trap *pend_trap;
		struct vsp_event pend_ev;
		struct vsp_decision pend_d;
		struct vsp_callpath pend_cp;
		struct mon_str pend_str[6];
	} rd;

	char why_not[256];	/* the last verdict not applied: why */
	uint64_t seq, t_attach;
	uint64_t verify_ns;	/* when the last tamper check ran */
	uint64_t late_ns;	/* when the pending late decision was armed */
	uint64_t tamper_alerts;
	uint64_t restarts;	/* calls sent back to wait for the late slot */
	uint64_t trap_hits, rt_in_traps;
	uint64_t rt_wait;	/* round trips before the last wait */
	struct vsp_run_stats rs;
	struct vsp_audit audit;
	bool have_audit;
	/* Records that could not be written (--on-audit-error): counted, the
	 * first error kept, and stop/pause end the loop after this trap. */
	uint64_t trace_lost;
	int lost_err;
	const char *lost_what;
	bool lost_stop;
	bool warned_learn;

	/* Write events (vmi/site_write.c): the watched objects, a trap
	 * record per object for the decide path, the hit being handled, and
	 * the write the last decided hit began (its later bytes fold in). */
	struct vsp_watchset ws;
	struct mon_trap wtrap[VSP_WATCH_MAX_RANGES];
	struct vsp_whit whit;
	bool wdone;		/* a verdict put the old bytes back */
	uint64_t walias_done;	/* bit i: object i's alias tried */
	bool tails_early;	/* tail jumps read before the boot was over */
	struct {
		bool on, undo;
		uint32_t range;
		uint64_t stack, fn, offset, ns;
	} wrun;
	uint64_t watch_hits, watch_folded, watch_events, rt_in_watch, watch_ns;
	/* Writers a kill verdict ends on their way back to user space
	 * (site_write.c): their tasks, and the trap that waits for them. */
	struct {
		uint64_t task, since;
		char obj[64];
	} wkill[MON_WKILL];
	uint32_t nwkill;
	struct mon_trap *wexit;
	uint64_t fn_sys_exit;	/* syscall_exit_to_user_mode, or 0 */
	/* Hook events by where file.path came from: every path from the
	 * path cache, or at least one walked (mon_on_trap). */
	struct {
		uint64_t n, rt;
	} hook_cached, hook_walked;

	/* CR0.WP, CR4.SMEP/SMAP and the syscall entry (mon_integrity). */
	struct vsp_integ integ;
	bool have_integ;	/* the baseline is taken */
	uint64_t fn_entry, sym_system_state;
	uint64_t integ_ns;	/* the entry code's last read */
	uint64_t integ_stop_ns;	/* the last stop of any kind */
	bool integ_asked;	/* a quiet guest was interrupted for a look */
	uint64_t integ_alerts, integ_reads;

	/* The interactive session (o->interactive). */
	FILE *out;		/* answers */
	uint32_t gen;		/* policy loads so far */
	uint64_t kept;		/* event traps a load kept */
	bool paused;		/* the guest is stopped and stays so */
	bool rule_paused;	/* ... by a pause verdict, at pause_addr */
	uint64_t pause_addr;
	/* `step`: the next event trap stops the guest before the event is
	 * decided (held: m->ev, m->str and m->cp stay that event's until
	 * `continue` decides it at the trap at held_addr). */
	bool step_armed;
	bool held;
	uint64_t held_addr;
	const struct mon_site *held_site;
	bool mode_forced;	/* `mode` was given: loads keep it */
	uint64_t ctl_ns;	/* when commands were last looked for */
	size_t ctl_len;
	char ctl_buf[4096];
	size_t cmd_len;		/* a command gathered over several lines */
	char cmd_buf[8192];
	/* What the policy is compiled from: files (owned copies), then the
	 * rules typed with `rule add`, each a text of its own. */
	char **files;
	size_t nfiles;
	struct vsp_load_text added[MON_MAX_ADDED];
	size_t nadded;
	unsigned nseq;		/* rules added so far, for their names */
	struct mon_tail tail[MON_TAIL];
	uint64_t ntail;
	bool follow;		/* tail -f: each decision printed as made */
	bool follow_json;	/* ... as one JSON object a line */
};

/* What handling a stop returns, besides a negative code (lost the guest). */
enum { MON_GO_ON, MON_PAUSED, MON_LOST };

/* Decides the event `step` held and carries the decision out, as the
 * trap would have: MON_GO_ON, MON_PAUSED (a pause verdict), or < 0. */
int mon_release_held(struct mon *m);

/*
 * How a verdict went in the guest.  rc < 0: the backend failed (the
 * guest is lost), except -EFAULT and -ENOSYS: the verdict could not be
 * carried out here (reported, the event allowed).
 */
struct mon_apply {
	int rc;
	bool applied;		/* the verdict changed what the guest does */
	bool resumed;		/* the site let the guest go on already */
	bool paused;		/* leave the guest stopped */
	bool pending;		/* a redirect armed: audited when it is done */
	const char *why;	/* not applied: why (with -ENOSYS) */
};

/*
 * One event kind at the monitor.  Every operation may assume m->regs and
 * m->vcpu hold the stop's registers and vCPU.
 */
struct mon_site {
	enum vsp_event_kind kind;
	/* How messages name an event: printf with the event's name. */
	const char *label;
	/* Whether its traps lie in kernel code found through the kernel's
	 * symbols (the attach reads them from the guest when none are
	 * given). */
	bool kernel_code;
	/* What this guest lacks for the event `k`, in `buf`; NULL: nothing
	 * (or not known until the guest's symbols are read).  Asked before
	 * any trap goes in (mon_refusals). */
	const char *(*lacks)(const struct mon *m, const struct vsp_event_key *k,
			     char *buf, size_t n);
	/* Places the traps for one event of the policy (t->site = this).
	 * In the dry pass (m->dry) it only has the sites checked
	 * (mon_add_event_trap).  0; 1 when the event is refused after all
	 * (reported with vsp_support_refuse); negative to end the attach. */
	int (*setup)(struct mon *m, const struct vsp_event_key *k);
	/* Fills m->ev (and m->cur) for a stop at t.  False when the stop is
	 * no event to decide; the site has then let the guest go on and *rc
	 * is the result. */
	bool (*fill)(struct mon *m, struct mon_trap *t, int *rc);
	/* May take the decided event elsewhere before anything is applied
	 * or recorded (syscalls: decide later, on the kernel's copy of an
	 * unreadable path).  True with *rc when it did.  NULL: never. */
	bool (*defer)(struct mon *m, struct mon_trap *t, int *rc);
	struct {
		/* deny E (value -E) and return X: the call returns value
		 * without running. */
		void (*ret)(struct mon *m, struct mon_trap *t, int64_t value,
			    struct mon_apply *a);
		/* deny E where that is not returning -E (a user function
		 * returns -1 and sets errno); NULL: ret with -E. */
		void (*deny)(struct mon *m, struct mon_trap *t, int64_t err,
			     struct mon_apply *a);
		void (*kill)(struct mon *m, struct mon_trap *t,
			     struct mon_apply *a);
		/* NULL: the kind has no path to replace (allowed). */
		void (*redirect)(struct mon *m, struct mon_trap *t,
				 const struct vsp_str *path,
				 struct mon_apply *a);
		/* An allowed call in enforce mode; NULL: nothing to do. */
		void (*allow)(struct mon *m, struct mon_trap *t,
			      struct mon_apply *a);
		/* Lets the event run on (no verdict resumed the guest). */
		int (*leave)(struct mon *m, struct mon_trap *t);
	} apply;
};

extern const struct mon_site mon_site_syscall, mon_site_kernel,
	mon_site_hcall, mon_site_late, mon_site_file, mon_site_net,
	mon_site_task, mon_site_user, mon_site_write;

/* vmi/site_write.c: a watch stop (VSP_STOP_WATCH), as mon_on_trap. */
int mon_on_watch(struct mon *m, const struct vsp_stop *st);
/* Before a detach of a running guest: follows a denied write to its end.
 * 0, MON_PAUSED (a rule paused the guest), or a negative code. */
int mon_write_settle(struct mon *m);

/* The site of each event kind, NULL where the monitor has none. */
const struct mon_site *mon_site_of(enum vsp_event_kind k);

extern volatile sig_atomic_t mon_signal;

/* vmi/monitor.c */
void mon_say(struct mon *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
long mon_gread(void *ctx, uint64_t gva, void *buf, size_t len);
int mon_gread_many(void *ctx, struct vsp_read *r, size_t n);
void mon_gread_ahead(struct mon *m, const uint64_t *gva, size_t n);
void mon_win_drop(struct mon *m);
/* Installs the traps of m->p; mon_refusals has passed it.  Returns how
 * many events the guest refused after all, or a negative code for errors
 * that end the attach. */
int mon_setup_traps(struct mon *m);
/* Refuses, before any trap goes in, every event of `p` that cannot be
 * trapped here; returns how many, each reported on `out`. */
int mon_refusals(const struct mon *m, const struct vsp_policy *p, FILE *out);
/* The audit record writer, through the caller's sink when it has one. */
void mon_audit_init(struct mon *m, struct vsp_policy *p);
/* The counters a service around the loop reads (monitor.h's hooks). */
const struct vsp_monitor_view *mon_view(struct mon *m,
					struct vsp_monitor_view *v);
/* Statistics, with `traps` the traps to report as installed. */
void mon_run_stats(struct mon *m, FILE *out, bool json, uint64_t traps,
		   bool attach_time);

/* vmi/guest_kernel.c: the guest kernel, found at attach */
/* Compares the profile's section `id` with the running kernel: 0, or
 * -EPERM (said) when it is another kernel's. */
int mon_kprof_check(struct mon *m, enum vsp_kprof_id id);
int mon_find_slide(struct mon *m);
int mon_verify_sites(struct mon *m);
bool mon_wants_syms(struct mon *m);
void mon_syms_ready(struct mon *m);
int mon_load_guest_info(struct mon *m);

/* vmi/traps.c */
/* The baseline of mon_integrity, from a stopped vCPU's registers (m->regs)
 * once the kernel has booted; before that, nothing. */
void mon_integ_start(struct mon *m);
/* CR0.WP, CR4.SMEP/SMAP and the syscall entry against the baseline, for
 * the stop in m->regs: an alert (stderr and the audit log) on a change. */
void mon_integrity(struct mon *m);
/* An alert record no rule decided (a trap's code rewritten, an integrity
 * change): `kind` "kernel" or "user", `name` the function. */
void mon_alert_note(struct mon *m, const char *kind, const char *name,
		    uint64_t addr, const char *msg);
struct mon_trap *mon_trap_new(struct mon *m, uint64_t addr, enum mon_role role);
struct mon_trap *mon_trap_at(struct mon *m, uint64_t addr);
void mon_trap_check(struct mon *m, struct mon_trap *t);
struct mon_trap *mon_helper_add(struct mon *m, uint64_t addr,
				enum mon_role role);
int mon_helper_del(struct mon *m, struct mon_trap *t);
int mon_leave(struct mon *m, struct mon_trap *t);
uint64_t mon_count_traps(const struct mon *m);
int mon_add_event_trap(struct mon *m, const struct vsp_event_key *k,
		       const struct mon_site *site, uint64_t addr,
		       const char *sym, bool ia32);

/* vmi/site_write.c: a trap at the way back to user space, for writers
 * a kill verdict ends. */
int mon_on_writer_exit(struct mon *m, struct mon_trap *t);
/* Watches every object at its direct-map alias too (the kernel booted). */
void mon_write_aliases(struct mon *m);

/* vmi/decide.c */
int mon_on_trap(struct mon *m, const struct vsp_stop *st);
int mon_decide(struct mon *m, struct mon_trap *t, const struct mon_site *s);
void mon_event_begin(struct mon *m, struct mon_trap *t, vsp_fetch_fn fetch);
void mon_event_proc(struct mon *m, const struct vsp_event_key *k);
void mon_load_task(struct mon *m);
void mon_load_proc(struct mon *m);
bool mon_writes_audit(const struct mon *m, const struct vsp_decision *d);
bool mon_wants_stack(const struct mon *m, const struct vsp_event_key *k);
/* n audit records or trace lines (what) could not be written (err, a
 * negative errno): counted, said once, and --on-audit-error applied. */
void mon_lost(struct mon *m, const char *what, int err, uint64_t n);
uint64_t mon_audit_lost(const struct mon *m);

/* vmi/site_kernel.c: what every site trapping kernel code shares. */
void mon_code_begin(struct mon *m, struct mon_trap *t, vsp_fetch_fn fetch);
void mon_code_end(struct mon *m, struct mon_trap *t);
void mon_return(struct mon *m, int64_t value, struct mon_apply *a);
void mon_kill(struct mon *m, uint64_t fn, struct mon_apply *a);
int mon_emulate_return(struct mon *m, int64_t value);
/* An event none of whose traps could be placed: refused (1), except in
 * the dry pass (0). */
int mon_no_trap(struct mon *m, const struct vsp_event_key *k);

/* vmi/site_lsm.c: the resolved fields (language 1.1) of any event, read
 * through m->hs: 0, or -1 when unreadable (as a vsp_fetch_fn). */
int mon_resolved_fetch(struct mon *m, struct vsp_event *ev, enum vsp_field f,
		       struct vsp_str *out);
/* The fetch of an event trapped at kernel code (a kernel function, a hook):
 * `func` (the trap's name) and the resolved fields. */
int mon_code_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		   struct vsp_str *out);
/* vmi/redirect.c: the fetch of an event whose fields are all read at the
 * trap (hypercalls, late decisions made at the entry): nothing to fetch. */
int mon_fetch_none(void *ctx, struct vsp_event *ev, enum vsp_field f,
		   struct vsp_str *out);

/* vmi/site_syscall.c */
int mon_load_args(struct mon *m);
/* A NUL-terminated user-space string at addr into s, bounded: 0 or -1. */
int mon_read_str(struct mon *m, uint64_t addr, struct mon_str *s);
int mon_args_fetch(struct mon *m, struct vsp_event *ev, enum vsp_field f,
		   struct vsp_str *out, bool pt_regs);
int mon_sys_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		  struct vsp_str *out);

/* vmi/redirect.c */
int mon_path_arm(struct mon *m, const char *path, size_t len, bool pin);
void mon_redirect_cancel(struct mon *m, const char *why);
void mon_late_drop(struct mon *m, const char *why);
/* Writes a pending redirect's record: applied when why is NULL. */
void mon_pend_audit(struct mon *m, const char *why);
bool mon_late_arm(struct mon *m, struct mon_trap *t);
void mon_late_expire(struct mon *m);
int mon_on_getname(struct mon *m, struct mon_trap *t);
int mon_on_getname_ret(struct mon *m, struct mon_trap *t);
void mon_site_redirect(struct mon *m, struct mon_trap *t,
		       const struct vsp_str *path, struct mon_apply *a);

/* vmi/site_user.c: the user events' state goes with the monitor; each
 * of its traps is counted (rt round trips, ns) for the statistics. */
void mon_user_release(struct mon *m);
void mon_user_account(struct mon *m, const struct mon_trap *t, uint64_t rt,
		      uint64_t ns);
void mon_user_stats(const struct mon *m, FILE *out);

/* vmi/session.c: commands are looked for at least this often. */
#define MON_CTL_NS 100000000ull
int mon_ctl(struct mon *m, int timeout_ms);
/* Takes the command line's policy files into the session; frees them. */
int mon_session_init(struct mon *m);
/* Process context from the running kernel's own BTF, once (stopped): the
 * profile's when it carries it and windows of it match the guest's.  0,
 * or -EPERM (said) when the profile's is another kernel's. */
int mon_guest_btf(struct mon *m);
void mon_guest_pti(struct mon *m);
void mon_session_release(struct mon *m);
void mon_prompt(struct mon *m);
/* A service's reload (SIGHUP): `load` of the hooks' files, between two
 * traps, messages to stderr.  <0: the link is lost. */
int mon_reload(struct mon *m);
/* Stops a running guest and keeps it stopped (traps arriving first are
 * handled); mon_go lets it run again.  0, or < 0: lost the guest. */
int mon_stop_guest(struct mon *m);
int mon_go(struct mon *m);
/* `str` (NULL: "") as a JSON string on out. */
void mon_json_str(FILE *out, const char *str);

/* vmi/session_guest.c: the commands, each answering on m->out; regs and
 * mem only on a paused guest, ps stops it for the walk (< 0: lost it). */
void mon_tail_add(struct mon *m, const struct mon_trap *t,
		  const struct vsp_decision *d, bool applied);
void mon_cmd_regs(struct mon *m, bool json);
void mon_cmd_mem(struct mon *m, const char *a, const char *l, bool json);
void mon_cmd_sym(struct mon *m, const char *s, bool json);
int mon_cmd_ps(struct mon *m, bool json);
void mon_cmd_tail(struct mon *m, char **w, int nw, bool json);
void mon_cmd_bt(struct mon *m, const char *arg, bool json);

#endif
