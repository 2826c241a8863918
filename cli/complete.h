/*
 * complete.h: what Tab offers in `vsp repl` (cli/lineedit.h calls it).
 *
 * The first word: the commands of the session (base/repl.h).  After
 * `load`: file names.  After `help`: commands.  After `mode`: the modes.
 */
#ifndef VSP_COMPLETE_H
#define VSP_COMPLETE_H

#include "cli/lineedit.h"
#include "interp/engine.h"

struct vsp_repl_complete {
	unsigned where;			/* VSP_REPL_TRACE or VSP_REPL_LIVE */
	struct vsp_policy *const *policy;	/* the session's, or NULL */
};

/* A vsp_edit_opts.complete; ctx is a struct vsp_repl_complete. */
void vsp_repl_complete(void *ctx, const char *line, size_t *start,
		       struct vsp_edit_cands *c);

#endif
