/*
 * rig_cache.h: where tests/guest/rig.sh keeps the bundled guest's files
 * (kernel image, vmlinux, System.map), for the unit tests that also run
 * against the real kernel when the rig has been built: $VSP_CACHE/guest,
 * or ~/.cache/vsp/guest, as rig.sh has it.
 */
#ifndef VSP_TESTS_RIG_CACHE_H
#define VSP_TESTS_RIG_CACHE_H

#include <stdio.h>
#include <stdlib.h>

/* The path of the rig's file `name`, written into buf. */
static inline const char *rig_cache_file(const char *name, char *buf, size_t n)
{
	const char *c = getenv("VSP_CACHE"), *h = getenv("HOME");

	if (c)
		snprintf(buf, n, "%s/guest/%s", c, name);
	else
		snprintf(buf, n, "%s/.cache/vsp/guest/%s", h ? h : "/", name);
	return buf;
}

#endif
