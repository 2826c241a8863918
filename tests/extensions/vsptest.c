/*
 * vsptest.c: an extension for the tests of extern functions (one of each
 * type, one that crashes, one that hangs, one with state).
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "examples/extensions/vsp_extension.h"

int64_t t_add(int64_t a, int64_t b)
{
	return a + b;
}

bool t_not(bool b)
{
	return !b;
}

/* The string reversed; a string that asks for it fails the call. */
int64_t t_rev(VSP_STRING(s), VSP_STRING_OUT)
{
	if (s_len == 4 && memcmp(s, "fail", 4) == 0)
		return -1;
	for (size_t i = 0; i < s_len && i < cap; i++)
		out[i] = s[s_len - 1 - i];
	return (int64_t)s_len;
}

/* The arguments of every type, mixed, to check the calling convention. */
int64_t t_mix(int64_t a, VSP_STRING(s), bool b, int64_t c)
{
	return a * 1000 + (int64_t)s_len * 100 + (b ? 10 : 0) + c;
}

/* Crashes when asked: x == 1. */
bool t_crash(int64_t x)
{
	if (x == 1)
		raise(SIGSEGV);
	return x == 2;
}

/* Sleeps x milliseconds, then says true. */
bool t_sleep(int64_t x)
{
	usleep((useconds_t)x * 1000);
	return true;
}

/* A different answer at every call: impure. */
int64_t t_counter(void)
{
	static int64_t n;

	return ++n;
}
