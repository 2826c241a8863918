/*
 * tap.h: TAP output for the C tests (tests/<stage>/t_*.c).
 *
 * ok()/diag()/skip() print "ok N - what", "not ok N - what", comments and
 * skips; done() prints the plan and returns the exit status (the number of
 * failures, capped), so prove(1) counts failures both ways.  Shell tests
 * use tests/tap.sh.
 */
#ifndef VSP_TESTS_TAP_H
#define VSP_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	tap_failed += !cond;
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

__attribute__((format(printf, 1, 2), unused))
static void skip(const char *fmt, ...)
{
	va_list ap;

	printf("ok %d # SKIP ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((unused))
static int done(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
	return tap_failed > 100 ? 100 : tap_failed;
}

#endif
