/*
 * errf.h: the message a failing call leaves for its caller.
 *
 * Ground floor: the loaders and readers of vmi/ (symbols, kallsyms from
 * guest memory, kernel images, BTF, KASLR, unwinding, user-space ELF and
 * VMAs, watched objects, traces) report a failure by writing one line
 * into a buffer the caller owns, and this is the one function that does
 * it.
 */
#ifndef VSP_ERRF_H
#define VSP_ERRF_H

#include <stddef.h>

/* Formats into err (size n, NUL-terminated, cut when longer); does
 * nothing when err is NULL or n is 0.  Returns -1, so that a failing
 * function can end with `return vsp_errf(...)`. */
int vsp_errf(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
