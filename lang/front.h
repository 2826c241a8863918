/*
 * front.h: from files to a checked syntax tree.
 *
 * vsp_front_load parses each file (lang/parser.y, lang/lexer.l), inlines
 * imports where they stand (paths relative to the importing file, bare
 * names from the pack directories; a cycle is an error naming the chain),
 * and vsp_check resolves and types the
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

/* Pack directories: `import "NAME";` (NAME of letters, digits, '-' and
 * '_' only: no '/', no '.') reads NAME.vsp
 * from the first of: the directories added here (--policy-path), in order;
 * each of VSP_POLICY_PATH's colon-separated directories; the program's
 * ../share/vsp/stdlib-policies; VSP_POLICY_DEFAULT_DIR (the installed
 * packs); the program's ../stdlib-policies (a build directory in the
 * source tree).  add_dir borrows `dir` for the process's life; -1 when
 * 32 are given already. */
int vsp_front_add_dir(const char *dir);
void vsp_front_clear_dirs(void);
bool vsp_front_is_pack_name(const char *name);
/* The path of pack NAME (caller frees), or NULL; then *searched (when not
 * NULL) holds the directories looked in, joined by ", " (caller frees). */
char *vsp_front_find_pack(const char *name, char **searched);

/* Resolves names, sets types, folds consts, checks events, fields,
 * actions and patterns; warns for unused declarations and rules that can
 * never decide.  Returns the number of errors it added. */
int vsp_check(struct vsp_unit *u, struct vsp_diags *d);

#endif
