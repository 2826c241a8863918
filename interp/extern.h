/*
 * extern.h: native extension functions, bound at load, called by XCALL.
 *
 * A policy declares `extern "LIB" fn NAME(TYPE, ...) -> TYPE;` (language.md,
 * "Extern functions").  The compiler (lang/compile.c) fills the image's
 * extern table and calls vsp_ext_bind() once: each library is looked up in
 * the allowed directories, opened once (dlopen), each symbol found
 * (dlsym) and one libffi call interface prepared per declaration.  The
 * interpreter then calls vsp_ext_call() for XCALL; that path allocates
 * nothing.
 *
 * The C side of a declaration (docs/language.md has the table): an `int`
 * is an int64_t, a `bool` a C bool, a `string` two arguments, a const char
 * pointer and a size_t length (not NUL-terminated); an `int` or `bool`
 * result is the return value, and a `string` result is written by the
 * function into a buffer given as two more arguments (char *out, size_t
 * cap), the function returning its length (negative: the call failed).
 *
 * In process, an extension runs in the monitor: its crash is the
 * monitor's crash.  With `isolate`, the libraries are opened only in a
 * child process that serves calls over a socket pair; the monitor never
 * maps them.  A call that the child does not answer within the time budget,
 * or a child that died, fails the call: the event is decided as partial
 * (the result is 0, false or ""), the child is killed and a new one is
 * started at once; the next call waits for it to be ready up to
 * VSP_EXT_START_MS.
 */
#ifndef VSP_EXTERN_H
#define VSP_EXTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "interp/program.h"

#ifndef VSP_EXT_DEFAULT_DIR
#define VSP_EXT_DEFAULT_DIR "/usr/local/lib/vsp/extensions"
#endif

/* Longest string argument an isolated call carries (longer: the call fails). */
#define VSP_EXT_STR_MAX 16384
#define VSP_EXT_ERR 320
/* Isolated: how long a new child (after a crash or a timeout) may take to
 * open the libraries before the call waiting for it fails too. */
#define VSP_EXT_START_MS 2000

/* struct vsp_ext_opts, the options of extern functions, is in
 * engine/engine.h, part of the load options. */

/*
 * The file that library `lib` (as written in a policy whose file lies in
 * directory `base`) names: a bare name is looked up in each allowed
 * directory in turn, a path is taken as is (relative to `base`).  Either
 * way the file, with every symlink resolved, must lie in an allowed
 * directory.  Returns 0 and a malloc'd path, or -1 with a message.
 */
int vsp_ext_resolve(const struct vsp_ext_opts *o, const char *lib,
		    const char *base, char **path, char *err, size_t errlen);

/*
 * Binds every entry of im->externs (path filled): opens, looks up,
 * prepares; with o->isolate starts the child, which does the opening.
 * errs[i] gets the message for entry i that could not be bound ("" when
 * it was).  Returns the number of entries not bound, or -1 with a message
 * in errs[0] when nothing could be tried (out of memory, no child).
 */
int vsp_ext_bind(struct vsp_image *im, const struct vsp_ext_opts *o,
		 char (*errs)[VSP_EXT_ERR]);

/*
 * Calls extern x (an entry of im->externs, bound) on args (x->nargs
 * values, the types its declaration says).  A string result is built in
 * slot (VSP_VM_SLOT_SIZE bytes).  Returns true with *out set; false when
 * the call failed (isolated: timeout, a dead child; a string result that
 * reports an error), *out then being 0, false or "".  Never allocates.
 */
bool vsp_ext_call(const struct vsp_image *im, const struct vsp_extern *x,
		  const struct vsp_val *args, char *slot, struct vsp_val *out);

/*
 * Binds entry x to a function of this program instead of a library's (for
 * tests and fuzzing): prepares its call interface.  0, or -1 with a
 * message.  The image needs no host for such entries.
 */
int vsp_ext_bind_local(struct vsp_extern *x, void (*fn)(void), char *err,
		       size_t errlen);

/* Frees the bindings and the child of an image (vsp_image_free calls it). */
void vsp_ext_release(struct vsp_image *im);

/* Calls made and failed through the child, for statistics and tests. */
void vsp_ext_counts(const struct vsp_image *im, uint64_t *calls,
		    uint64_t *failures, uint64_t *restarts);

#endif
