/*
 * compile.h: from a checked syntax tree to a compiled image.
 *
 * The last stage of lang/: it takes the unit that lang/front.h produced and
 * vsp_check() accepted, and emits one program per event the rules name
 * (plus a default program for every other event) into a struct vsp_image
 * (interp/program.h).  The engine (engine/policy.c) then verifies each
 * program and builds the dispatch tables.  Errors only the compiler can
 * see (a profile file that cannot be parsed, limits of the machine) go to
 * the same diagnostics as the checker's.
 */
#ifndef VSP_COMPILE_H
#define VSP_COMPILE_H

#include "interp/extern.h"
#include "interp/program.h"
#include "lang/ast.h"
#include "lang/diag.h"

struct vsp_compile_opts {
	enum vsp_mode mode;	/* VSP_MODE_UNSET: the unit's mode, else enforce */
	bool no_fastpath;	/* direct glob tests instead of shared matchers */
	const struct vsp_ext_opts *ext;	/* extern functions; NULL: defaults */
};

/*
 * Compiles a checked unit.  Borrows u; the image owns copies of whatever
 * it keeps.  Returns NULL when an error was reported into d.
 */
struct vsp_image *vsp_compile(const struct vsp_unit *u,
			      const struct vsp_compile_opts *o,
			      struct vsp_diags *d);

/* The mode a unit compiles for under these options. */
enum vsp_mode vsp_compile_mode(const struct vsp_unit *u,
			       const struct vsp_compile_opts *o);

#endif
