/*
 * rules.h: what a compiled policy tells about itself: its rules, their
 * effects, the events it names, and how its extern functions are found.
 *
 * The compiler (lang/compile.c) fills these in, the image holds them
 * (interp/program.h), and the engine's façade (engine/engine.h) hands them
 * out to audit records, statistics and trap installation.  Types only.
 */
#ifndef VSP_RULES_H
#define VSP_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/event.h"

/* Extern functions (interp/extern.h): where their libraries may lie and
 * how they run. */
struct vsp_ext_opts {
	const char *const *dirs;	/* allowed directories; none: the default */
	size_t ndirs;
	bool isolate;			/* run the extensions in a child process */
	uint32_t timeout_ms;		/* isolated: budget per call; 0: 100 ms */
};

/* Rules, for audit records and statistics. */
enum vsp_priority {
	VSP_PRIO_NONE, VSP_PRIO_LOW, VSP_PRIO_MEDIUM, VSP_PRIO_HIGH,
	VSP_PRIO_CRITICAL
};

struct vsp_rule_info {
	const char *name;	/* the rule's name, or "file:line" */
	bool named;
	const char *file;
	int line;
	enum vsp_priority priority;
	const char *const *tags;
	uint32_t ntags;
	const char *profile;	/* must arise from profile: the file, else NULL */
};

struct vsp_effect_info {
	enum vsp_effect_kind kind;
	const char *text;	/* message template or counter name; may be NULL */
	uint32_t rule;
};

/* The events a policy names, so a backend installs traps for those only. */
struct vsp_event_key {
	enum vsp_event_kind kind;
	uint32_t nr;		/* syscall, hypercall */
	const char *name;	/* syscall, hypercall, function or symbol */
	const char *lib;	/* user events */
	int64_t lo, hi;		/* write events: index range, or -1 */
	vsp_fmask reads;	/* bit VSP_FBIT(f): fields the rules read */
	uint32_t max_steps;	/* worst case, as the verifier states it */
	/* Where the policy first names the event, for messages that refuse
	 * it: the file (the policy's own copy), line, column, and the index
	 * of that rule (vsp_policy_rule).  file is NULL for the default. */
	const char *file;
	int line, col;
	uint32_t rule;
};

#endif
