/*
 * vsp_extension.h: the C side of a policy's `extern` functions.
 *
 * A policy declares
 *
 *     extern "LIB.so" fn NAME(TYPE, ...) -> TYPE [pure] [cost N];
 *
 * and vsp calls the symbol NAME of LIB.so (a shared library in an
 * extension directory, --extern-path) with these C types:
 *
 *     policy type   parameter                          result
 *     int           int64_t                            int64_t
 *     bool          bool                               bool
 *     string        const char *p, size_t n            (see below)
 *
 * A string argument is two parameters, the bytes and their length; the
 * bytes are not NUL-terminated and are valid only during the call.  A
 * string result is written into a buffer vsp passes as two last
 * parameters, VSP_STRING_OUT, and the function returns its length as an
 * int64_t (at most cap bytes are kept; a negative length means the call
 * failed: the result is "" and the event is decided as partial).
 *
 * A function must return promptly, keep no pointer to its arguments and
 * be safe to call from the thread that decides events.  In process (the
 * default) a crash of the function is a crash of the monitor; run vsp with
 * --extern-isolate to call it in a child process instead.  Declare it
 * `pure` only when the same arguments always give the same result: vsp
 * then caches the decisions of the rules that call it.
 *
 * Installed as <vsp/extension.h>.
 */
#ifndef VSP_EXTENSION_H
#define VSP_EXTENSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSP_EXTENSION_ABI 1

/* The string of a parameter list: VSP_STRING(path) declares path, path_len. */
#define VSP_STRING(name) const char *name, size_t name##_len
/* The last parameters of a function with a string result. */
#define VSP_STRING_OUT char *out, size_t cap

#endif
