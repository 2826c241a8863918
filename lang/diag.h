/*
 * diag.h: diagnostics as records.
 *
 * Every stage reports through here: a record holds a severity, a location
 * and a message; printing adds the source line and a caret under the
 * located text:
 *
 *   policy.vsp:3:9: error: unknown syscall 'opnat'; did you mean 'openat'?
 *       on syscall opnat
 *                  ^~~~~
 *
 * Records are queued, so a stage keeps going after an error and one run
 * shows every error.  Printing sorts by file order, then line and column.
 */
#ifndef VSP_DIAG_H
#define VSP_DIAG_H

#include <stdio.h>
#include "lang/ast.h"

enum vsp_diag_level { VSP_DIAG_ERROR, VSP_DIAG_WARNING, VSP_DIAG_NOTE };

struct vsp_diag {
	enum vsp_diag_level level;
	struct vsp_loc loc;
	char *msg;
};

struct vsp_diags {
	struct vsp_diag *v;
	size_t n, cap;
	int errors, warnings;
	struct vsp_source **sources;	/* borrowed: to print source lines */
	size_t nsources;
	bool drop_notes;	/* the last record was a duplicate: so are its notes */
	size_t *seen;		/* private: hash of records (index + 1) */
	size_t seen_size;
};

void vsp_diags_init(struct vsp_diags *d);
void vsp_diags_release(struct vsp_diags *d);

__attribute__((format(printf, 3, 4)))
void vsp_diag_error(struct vsp_diags *d, const struct vsp_loc *loc,
		    const char *fmt, ...);
__attribute__((format(printf, 3, 4)))
void vsp_diag_warning(struct vsp_diags *d, const struct vsp_loc *loc,
		      const char *fmt, ...);
/* A note belongs to the record before it ("previous definition is here"). */
__attribute__((format(printf, 3, 4)))
void vsp_diag_note(struct vsp_diags *d, const struct vsp_loc *loc,
		   const char *fmt, ...);

/* Prints every record with its source line and caret.  The sources are
 * borrowed from the unit: print before vsp_unit_free(). */
void vsp_diags_print(const struct vsp_diags *d, FILE *out);

#endif
