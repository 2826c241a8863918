/*
 * astwalk.h: the benchmark's tree-walking contender.
 *
 * The design vsp chose not to be: the checked syntax tree (lang/ast.h)
 * evaluated directly at every event, rule by rule in source order, with
 * no bytecode, no dispatch table, no matcher and no cache.  It is written
 * to be fair rather than slow: field names are resolved once per (node,
 * event name) and remembered, constant lists are walked in place, globs
 * go through vsp_glob_match.  Only the benchmark uses it.
 */
#ifndef VSP_BENCH_ASTWALK_H
#define VSP_BENCH_ASTWALK_H

#include <stdbool.h>
#include "base/event.h"

struct astwalk;

/* Parses and checks the policy file; NULL with a message in *err when it
 * does not load or uses something the walker does not evaluate. */
struct astwalk *astwalk_load(const char *file, const char **err);
void astwalk_free(struct astwalk *w);

/* The decision's verdict and deny errno or return value. */
enum vsp_verdict astwalk_decide(struct astwalk *w, struct vsp_event *ev,
				int64_t *value);

#endif
