/*
 * errf.c: see errf.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "base/errf.h"

int vsp_errf(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}
