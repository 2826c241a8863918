/*
 * complete.h: what Tab offers in `vsp repl` (cli/lineedit.h calls it).
 *
 * The first word: the session's commands (base/repl.h).  After `load`:
 * file names; after `help`: commands; after `mode`: the modes; after
 * `sym` and `x`: the kernel's symbols.  In rule text (`rule add`, or
 * anywhere a rule is being typed): after `on`, the event kinds; after a
 * kind, its events (syscalls and hypercalls from the catalogs, user
 * functions with a prototype, kernel functions from the symbols); after
 * `when`, the fields every event named on the line has, and the lists,
 * macros and constants the loaded policy declares; after `in` or
 * `matches`, its lists.
 */
#ifndef VSP_COMPLETE_H
#define VSP_COMPLETE_H

#include "cli/lineedit.h"
#include "vmi/symbols.h"

struct vsp_repl_complete {
	unsigned where;			/* VSP_REPL_TRACE or VSP_REPL_LIVE */
	/* The loaded policy's files (the session's own variables). */
	char **const *files;
	const int *nfiles;
	/* Kernel functions and symbols, or NULL. */
	const struct vsp_symtab *syms;
};

/* A vsp_edit_opts.complete; ctx is a struct vsp_repl_complete. */
void vsp_repl_complete(void *ctx, const char *line, size_t *start,
		       struct vsp_edit_cands *c);

#endif
