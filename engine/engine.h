/*
 * engine.h: the engine as the command line and the backends use it.
 *
 * Load turns .vsp files into a verified, ready-to-run policy (lang/ parses,
 * checks and compiles, building the matchers of fastpath/; interp/
 * verifies; engine/ adds the dispatch tables and the decision cache).
 * Decide runs one event through it.
 * Everything else here is read-only introspection for audit records,
 * statistics, trap installation and disassembly.
 *
 * Ownership: the policy owns every string and table it hands out; they live
 * until vsp_policy_free().
 */
#ifndef VSP_ENGINE_H
#define VSP_ENGINE_H

#include <stdio.h>
#include "base/event.h"
#include "base/rules.h"

struct vsp_policy;

/*
 * What happens when an event's inputs could not be read in full (a string
 * field unreadable or cut, so ev->partial; or a call path the unwinder
 * could not finish, for a rule that reads it).  By default the rules decide
 * on what was read, as the language defines (the string is empty and
 * `event.partial` is true, which a rule can test); the other policies
 * replace such a decision's verdict for the whole run.
 */
enum vsp_fail_policy {
	VSP_FAIL_RULES,		/* the rules decide (the language's meaning) */
	VSP_FAIL_DEFAULT,	/* the policy's default verdict */
	VSP_FAIL_CLOSED,	/* deny EPERM */
	VSP_FAIL_OPEN		/* allow */
};

const char *vsp_fail_policy_name(enum vsp_fail_policy f);
/* Parses "rules", "default", "closed", "open"; -1 when none. */
int vsp_fail_policy_parse(const char *s, enum vsp_fail_policy *out);

/* The type of an `eval` expression. */
enum vsp_eval_type { VSP_EVAL_BOOL, VSP_EVAL_INT, VSP_EVAL_STRING };

struct vsp_load_opts {
	enum vsp_mode mode;	/* VSP_MODE_UNSET: the files' mode, else enforce */
	FILE *diag;		/* where diagnostics go; NULL: stderr */
	bool no_fastpath;	/* interpreter only: no constant verdicts, no matchers */
	bool no_cache;		/* no decision cache */
	uint32_t cache_entries;	/* 0: the default, 65536 */
	bool warnings_as_errors;
	enum vsp_fail_policy on_partial;	/* VSP_FAIL_RULES by default */
	struct vsp_ext_opts ext;	/* extern functions: directories, isolation */
	/* Policy text read after the files, each piece as a file of its
	 * own called `name` in diagnostics (`rule add` in vsp repl). */
	const struct vsp_load_text *texts;
	size_t ntexts;
	/* For vsp_eval: the last text is its one rule; see there. */
	bool eval;
	enum vsp_eval_type *eval_type;
};

struct vsp_load_text {
	const char *name, *text;
	size_t len;
};
#define VSP_LOAD_MAX_TEXTS 256	/* a load with more is refused */

/*
 * Parses, checks, compiles and verifies the files, in order, as if each
 * were imported from an empty root file.  Prints every diagnostic.  Returns
 * NULL when any file has errors (or cannot be read); *nerrors tells how
 * many errors were printed (may be NULL).
 */
struct vsp_policy *vsp_policy_load(const char *const *files, size_t nfiles,
				   const struct vsp_load_opts *opts,
				   int *nerrors);
void vsp_policy_free(struct vsp_policy *p);

/*
 * Decides one event.  Never allocates, never blocks; `out` is fully
 * written.  Safe to call from one thread at a time per policy.
 */
void vsp_decide(struct vsp_policy *p, struct vsp_event *ev,
		struct vsp_decision *out);

enum vsp_mode vsp_policy_mode(const struct vsp_policy *p);

/* Rules, for audit records and statistics (struct vsp_rule_info). */
uint32_t vsp_policy_nrules(const struct vsp_policy *p);
const struct vsp_rule_info *vsp_policy_rule(const struct vsp_policy *p,
					    uint32_t rule);

const struct vsp_effect_info *vsp_policy_effect(const struct vsp_policy *p,
						uint32_t effect);

/*
 * Expands an effect's message for an event: %{field} becomes the field's
 * value as the rule saw it.  Writes at most size bytes, NUL-terminated;
 * returns the length it wanted.  Not on the decision path.
 */
size_t vsp_policy_format(const struct vsp_policy *p, uint32_t effect,
			 struct vsp_event *ev, char *buf, size_t size);

/* The events a policy names (struct vsp_event_key), so a backend installs
 * traps for those only. */
uint32_t vsp_policy_nevents(const struct vsp_policy *p);
/* Whether some rule names the event, i.e. a live monitor traps it; the
 * default verdict alone decides any other event, and only in replay. */
bool vsp_policy_names(const struct vsp_policy *p, const struct vsp_event *ev);
const struct vsp_event_key *vsp_policy_event(const struct vsp_policy *p,
					     uint32_t i);

/* Prints the bytecode per event, with source lines and step bounds. */
void vsp_policy_disasm(const struct vsp_policy *p, FILE *out);

/* Learn mode: adds the event's call path to the rule's profile (in memory);
 * save writes every profile file back, sorted, without duplicates, merged
 * with what each file held.  Returns 0 or -1 with errno. */
int vsp_policy_learn(struct vsp_policy *p, uint32_t rule,
		     const struct vsp_event *ev);
int vsp_policy_save_profiles(struct vsp_policy *p, FILE *diag);

struct vsp_engine_stats {
	uint64_t events, decisions[VSP_V_COUNT];
	uint64_t cache_hits, cache_misses, const_verdicts, interpreted;
	uint64_t flagged, partial;
};

void vsp_policy_stats(const struct vsp_policy *p, struct vsp_engine_stats *out);
/* Hits per rule (a rule hits when it decides or an effect of it fires). */
uint64_t vsp_policy_rule_hits(const struct vsp_policy *p, uint32_t rule);
/* Named counters from `count "name"`. */
uint32_t vsp_policy_ncounters(const struct vsp_policy *p);
const char *vsp_policy_counter(const struct vsp_policy *p, uint32_t i,
			       uint64_t *value);

/*
 * `eval EXPR` (vsp repl): the value of a policy expression on one event,
 * computed by the interpreter as a rule would see it.  The files and the
 * texts of `o` are read again for their lists, macros, consts and
 * externs (their rules are left out, their warnings not repeated); EXPR
 * is compiled as the one rule `on EVENT: return (EXPR)` for the event of
 * `ev` and run on ev, whose lazy fields are fetched as a decision would.
 * An error in EXPR is printed to o->diag with its caret.  Returns 0 with
 * *out filled (out->str malloc'd, NUL-terminated: free it), -1 when EXPR
 * did not compile, -2 when ev's event cannot be named in a rule (a
 * message in out->why).
 */
struct vsp_eval {
	enum vsp_eval_type type;
	int64_t value;		/* bool (0 or 1) or int */
	char *str;		/* string */
	size_t len;
	bool partial;		/* a field it read could not be read in full */
	uint32_t steps;
	const char *why;
};
int vsp_eval(const char *const *files, size_t nfiles,
	     const struct vsp_load_opts *o, const char *expr,
	     struct vsp_event *ev, struct vsp_eval *out);

/* Writes the value as the language spells it ("true", 577, "/etc/shadow"
 * as a JSON string), or with json one object: type, value, partial,
 * steps. */
void vsp_eval_print(FILE *out, const struct vsp_eval *e, bool json);

/* The event clause of a rule naming ev's event ("syscall openat",
 * "user \"libc.so.6\":system", "file open"): 0, or -1 when it has none. */
int vsp_event_clause(const struct vsp_event *ev, char *buf, size_t size);

#endif
