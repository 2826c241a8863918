/*
 * front.h: from files to a checked syntax tree.
 *
 * vsp_front_load parses each file (lang/parser.y, lang/lexer.l), inlines
 * imports where they stand (paths relative to the importing file; a cycle
 * is an error naming the chain), and vsp_check resolves and types the
 * result.  Both report into the caller's diagnostics and keep going.
 */
#ifndef VSP_FRONT_H
#define VSP_FRONT_H

#include "lang/ast.h"
#include "lang/diag.h"

/* Returns a unit (possibly partial) or NULL when nothing could be read. */
struct vsp_unit *vsp_front_load(const char *const *files, size_t nfiles,
				struct vsp_diags *d);

/* Text that is read as a file of its own, named `name` in diagnostics
 * (`rule add` in vsp repl). */
struct vsp_front_text {
	const char *name, *text;
	size_t len;
};

/* vsp_front_load, then each text after the files, in order. */
struct vsp_unit *vsp_front_load_with(const char *const *files, size_t nfiles,
				     const struct vsp_front_text *texts,
				     size_t ntexts, struct vsp_diags *d);

/* Parses one buffer as a file named `name` (for tests and fuzzing). */
struct vsp_unit *vsp_front_load_buffer(const char *name, const char *text,
				       size_t len, struct vsp_diags *d);

/* Resolves names, sets types, folds consts, checks events, fields,
 * actions and patterns; warns for unused declarations and rules that can
 * never decide.  Returns the number of errors it added. */
int vsp_check(struct vsp_unit *u, struct vsp_diags *d);

#endif
