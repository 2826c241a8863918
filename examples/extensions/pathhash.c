/*
 * pathhash.c: an example extension, a sorted-hash lookup of paths.
 *
 * A fleet keeps a list of files that must never run or be written: known
 * miners, droppers, preload hooks.  The list is hashed (64-bit FNV-1a) and
 * sorted once, when the library is loaded; a lookup is one hash of the
 * path and a binary search, whatever the list's length.  The policy
 * (blocklist.vsp beside this file) declares
 *
 *     extern "pathhash.so" fn path_blocked(string) -> bool pure cost 40;
 *     extern "pathhash.so" fn path_hash(string) -> int pure cost 20;
 *
 * Built by `make` into build/extensions/pathhash.so; installed into
 * $(PREFIX)/lib/vsp/extensions.
 */
#include <stdlib.h>
#include <string.h>

#include "vsp_extension.h"

static const char *const blocked[] = {
	"/tmp/.x/miner",
	"/dev/shm/kworker",
	"/usr/local/bin/xmrig",
	"/etc/ld.so.preload",
	"/var/tmp/.ICE-unix/sshd",
	"/usr/bin/ncat",
};

#define NBLOCKED (sizeof(blocked) / sizeof(blocked[0]))

static uint64_t table[NBLOCKED];

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

__attribute__((constructor)) static void pathhash_init(void)
{
	for (size_t i = 0; i < NBLOCKED; i++)
		table[i] = fnv1a(blocked[i], strlen(blocked[i]));
	qsort(table, NBLOCKED, sizeof(table[0]), cmp_u64);
}

bool path_blocked(VSP_STRING(path))
{
	uint64_t h = fnv1a(path, path_len);
	size_t lo = 0, hi = NBLOCKED;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (table[mid] == h)
			return true;
		if (table[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int64_t path_hash(VSP_STRING(path))
{
	return (int64_t)fnv1a(path, path_len);
}
