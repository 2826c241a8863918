/*
 * tap.h: TAP output for the interp tests.
 *
 * ok()/diag()/done() print "ok N - what" / "not ok N - what", comments
 * and the plan, so prove(1) counts the failures.  done() returns the
 * exit status: the number of failures, capped.
 */
#ifndef VSP_TESTS_INTERP_TAP_H
#define VSP_TESTS_INTERP_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int t_count, t_failed;

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	t_failed += !cond;
	return cond;
}

__attribute__((format(printf, 1, 2), unused))
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((unused))
static int done(void)
{
	printf("1..%d\n", t_count);
	fflush(stdout);
	return t_failed > 100 ? 100 : t_failed;
}

#endif
