/*
 * t_cache.c: the decision cache hits, misses, never confuses two keys,
 * evicts within a set, and forgets everything on invalidation.
 */
#include "fastpath/cache.h"
#include "tests/tap.h"

#include <string.h>

static void test_basics(void)
{
	struct vsp_cache *c = vsp_fp_cache_new(0);
	ok(c != NULL, "new with the default size");
	unsigned char val[VSP_CACHE_VAL_MAX];
	struct vsp_cache_stats st;

	ok(!vsp_fp_cache_get(c, 1, "k1", 2, val), "empty cache misses");
	vsp_fp_cache_put(c, 1, "k1", 2, "deny", 4);
	memset(val, 0x55, sizeof val);
	ok(vsp_fp_cache_get(c, 1, "k1", 2, val), "hit after put");
	ok(memcmp(val, "deny", 4) == 0 && val[4] == 0 && val[47] == 0,
	       "value copied, rest zeroed");
	ok(!vsp_fp_cache_get(c, 2, "k1", 2, val), "other program misses");
	ok(!vsp_fp_cache_get(c, 1, "k2", 2, val), "other key misses");
	ok(!vsp_fp_cache_get(c, 1, "k1x", 3, val), "longer key misses");
	ok(!vsp_fp_cache_get(c, 1, "k", 1, val), "shorter key misses");
	vsp_fp_cache_put(c, 1, "k1", 2, "allow", 5);
	ok(vsp_fp_cache_get(c, 1, "k1", 2, val) && memcmp(val, "allow", 5) == 0,
	       "put on the same key replaces the value");
	vsp_fp_cache_put(c, 1, "", 0, "e", 1);
	ok(vsp_fp_cache_get(c, 1, "", 0, val) && val[0] == 'e', "empty key works");
	ok(vsp_fp_cache_get(c, 1, NULL, 0, val) && val[0] == 'e', "NULL key of length 0 is the empty key");
	ok(!vsp_fp_cache_get(c, 1, NULL, 3, val), "NULL key with a length misses");

	unsigned char big[VSP_CACHE_KEY_MAX + 1];
	memset(big, 'x', sizeof big);
	vsp_fp_cache_put(c, 1, big, sizeof big, "v", 1);
	ok(!vsp_fp_cache_get(c, 1, big, sizeof big, val), "over-long key is not cached");
	vsp_fp_cache_put(c, 1, big, VSP_CACHE_KEY_MAX, "v", 1);
	ok(vsp_fp_cache_get(c, 1, big, VSP_CACHE_KEY_MAX, val), "a key of the maximum length is");
	ok(vsp_fp_cache_get(c, 1, "k1", 2, NULL), "val may be NULL");

	vsp_fp_cache_stats(c, &st);
	ok(st.hits == 6 && st.misses == 7 && st.inserts == 4 && st.evictions == 0,
	       "stats: %llu hits %llu misses %llu inserts %llu evictions",
	       (unsigned long long)st.hits, (unsigned long long)st.misses,
	       (unsigned long long)st.inserts, (unsigned long long)st.evictions);

	vsp_fp_cache_invalidate(c);
	ok(!vsp_fp_cache_get(c, 1, "k1", 2, val) && !vsp_fp_cache_get(c, 1, "", 0, val),
	       "invalidate forgets every entry");
	vsp_fp_cache_put(c, 1, "k1", 2, "new", 3);
	ok(vsp_fp_cache_get(c, 1, "k1", 2, val) && memcmp(val, "new", 3) == 0,
	       "and the cache works after it");
	vsp_fp_cache_free(c);
	vsp_fp_cache_free(NULL);
	ok(!vsp_fp_cache_get(NULL, 1, "k", 1, val), "NULL cache misses");
}

/* A cache of 4 entries is one set of 4 ways: every key collides. */
static void test_collisions(void)
{
	struct vsp_cache *c = vsp_fp_cache_new(4);
	unsigned char val[VSP_CACHE_VAL_MAX];
	uint64_t keys[6];
	for (int i = 0; i < 6; i++)
		keys[i] = 0x1000 + (uint64_t)i;
	for (int i = 0; i < 4; i++)
		vsp_fp_cache_put(c, 7, &keys[i], 8, &keys[i], 8);
	int all = 1;
	for (int i = 0; i < 4; i++) {
		uint64_t v = 0;
		all &= vsp_fp_cache_get(c, 7, &keys[i], 8, val);
		memcpy(&v, val, 8);
		all &= v == keys[i];
	}
	ok(all, "four colliding keys keep their own values");
	/* Touch 1..3, so 0 is the least recently used. */
	for (int i = 1; i < 4; i++)
		vsp_fp_cache_get(c, 7, &keys[i], 8, val);
	vsp_fp_cache_put(c, 7, &keys[4], 8, &keys[4], 8);
	ok(!vsp_fp_cache_get(c, 7, &keys[0], 8, val), "the LRU entry was evicted");
	ok(vsp_fp_cache_get(c, 7, &keys[4], 8, val) &&
	       vsp_fp_cache_get(c, 7, &keys[1], 8, val), "the others stay");
	struct vsp_cache_stats st;
	vsp_fp_cache_stats(c, &st);
	ok(st.evictions == 1, "one eviction counted");

	/* Keys equal but for their last byte never share a decision. */
	unsigned char k1[100], k2[100];
	memset(k1, 3, sizeof k1);
	memcpy(k2, k1, sizeof k2);
	k2[99] = 4;
	vsp_fp_cache_put(c, 7, k1, 100, "one", 3);
	ok(!vsp_fp_cache_get(c, 7, k2, 100, val), "last byte differs: miss");
	vsp_fp_cache_put(c, 7, k2, 100, "two", 3);
	ok(vsp_fp_cache_get(c, 7, k1, 100, val) && !memcmp(val, "one", 3) &&
	       vsp_fp_cache_get(c, 7, k2, 100, val) && !memcmp(val, "two", 3),
	       "both kept apart");

	/* Many invalidations in a row stay correct. */
	for (int i = 0; i < 1000; i++)
		vsp_fp_cache_invalidate(c);
	ok(!vsp_fp_cache_get(c, 7, k1, 100, val), "still empty after 1000 generations");
	vsp_fp_cache_free(c);
}

static void test_sizes(void)
{
	/* A full table of 1024 entries keeps most of 1024 random keys. */
	struct vsp_cache *c = vsp_fp_cache_new(1000);	/* rounds to 1024 */
	unsigned char val[VSP_CACHE_VAL_MAX];
	for (uint32_t i = 0; i < 1024; i++)
		vsp_fp_cache_put(c, 1, &i, 4, &i, 4);
	int kept = 0, right = 1;
	for (uint32_t i = 0; i < 1024; i++) {
		if (vsp_fp_cache_get(c, 1, &i, 4, val)) {
			uint32_t v;
			memcpy(&v, val, 4);
			right &= v == i;
			kept++;
		}
	}
	ok(right, "every hit returns its own value");
	ok(kept > 700 && kept <= 1024, "%d of 1024 keys kept in 1024 entries", kept);
	vsp_fp_cache_free(c);

	ok(vsp_fp_hash("abc", 3, 1) == vsp_fp_hash("abc", 3, 1), "hash is stable");
	ok(vsp_fp_hash("abc", 3, 1) != vsp_fp_hash("abc", 3, 2), "seed matters");
	ok(vsp_fp_hash("abcdefghij", 10, 1) != vsp_fp_hash("abcdefghik", 10, 1),
	       "tail bytes matter");
	ok(vsp_fp_hash("a", 1, 0) != vsp_fp_hash("a\0", 2, 0), "length matters");
}

int main(void)
{
	test_basics();
	test_collisions();
	test_sizes();
	return done();
}
