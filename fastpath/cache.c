/*
 * cache.c: the decision cache and the hash every fastpath table uses.
 *
 * The interpreter packs the inputs an event's rules read into a key and
 * asks here before running bytecode.  The table is allocated once
 * (set-associative, four ways, least recently used way evicted); a lookup
 * hashes the key, then compares program, length and every key byte, so two
 * keys that collide in the hash never share a decision.  Invalidation bumps
 * a generation number: entries of older generations read as empty, so a
 * policy reload costs O(1) however full the table is.
 *
 * One cache belongs to one engine and is not locked: the decision path
 * takes no locks.  An engine shared between threads gives each its own.
 */
#include "fastpath/cache.h"

#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define DEFAULT_ENTRIES 65536u
#define MAX_ENTRIES (1u << 24)

struct entry {
	uint64_t tag;		/* full hash of prog and key */
	uint32_t gen;		/* 0: never used */
	uint32_t prog;
	uint32_t stamp;		/* last use, for LRU within the set */
	uint16_t klen, vlen;
	unsigned char key[VSP_CACHE_KEY_MAX];
	unsigned char val[VSP_CACHE_VAL_MAX];
};

struct vsp_cache {
	struct entry *e;
	uint32_t setmask;	/* sets - 1 */
	uint32_t gen;
	uint32_t clock;
	struct vsp_cache_stats st;
};

#define K1 0x9e3779b97f4a7c15ULL
#define K2 0xc2b2ae3d27d4eb4fULL
#define K3 0xff51afd7ed558ccdULL

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix(uint64_t x)
{
	x ^= x >> 33;
	x *= K3;
	x ^= x >> 29;
	x *= K2;
	x ^= x >> 32;
	return x;
}

/*
 * Word-at-a-time multiply-rotate hash with a final avalanche: fast on the
 * short keys of the decision path (a few integers, a path prefix) and good
 * enough for open addressing.  Not meant to resist chosen collisions; the
 * tables compare full keys, so collisions cost time, never correctness.
 */
uint64_t vsp_fp_hash(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = seed ^ ((uint64_t)len * K1);
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = rotl(h ^ (w * K2), 31) * K1;
		b += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, b, len);
		h = rotl(h ^ (w * K2), 31) * K1;
	}
	return fmix(h);
}

struct vsp_cache *vsp_fp_cache_new(uint32_t entries)
{
	if (entries == 0)
		entries = DEFAULT_ENTRIES;
	if (entries > MAX_ENTRIES)
		entries = MAX_ENTRIES;
	uint32_t n = WAYS;
	while (n < entries)
		n *= 2;
	struct vsp_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->e = calloc(n, sizeof *c->e);
	if (!c->e) {
		free(c);
		return NULL;
	}
	c->setmask = n / WAYS - 1;
	c->gen = 1;
	return c;
}

void vsp_fp_cache_free(struct vsp_cache *c)
{
	if (!c)
		return;
	free(c->e);
	free(c);
}

static inline uint64_t key_hash(uint32_t prog, const void *key, size_t klen)
{
	return vsp_fp_hash(key, klen, (uint64_t)prog * K1 + 1);
}

static inline bool same_key(const struct entry *e, uint32_t gen, uint64_t h,
			    uint32_t prog, const void *key, size_t klen)
{
	return e->gen == gen && e->tag == h && e->prog == prog &&
	       e->klen == klen && memcmp(e->key, key, klen) == 0;
}

bool vsp_fp_cache_get(struct vsp_cache *c, uint32_t prog, const void *key,
		      size_t klen, void *val)
{
	if (!c)
		return false;
	if (klen > VSP_CACHE_KEY_MAX || (!key && klen)) {
		c->st.misses++;
		return false;
	}
	uint64_t h = key_hash(prog, key, klen);
	struct entry *set = &c->e[(h & c->setmask) * WAYS];
	for (int w = 0; w < WAYS; w++) {
		struct entry *e = &set[w];
		if (!same_key(e, c->gen, h, prog, key, klen))
			continue;
		e->stamp = ++c->clock;
		if (val)
			memcpy(val, e->val, VSP_CACHE_VAL_MAX);
		c->st.hits++;
		return true;
	}
	c->st.misses++;
	return false;
}

void vsp_fp_cache_put(struct vsp_cache *c, uint32_t prog, const void *key,
		      size_t klen, const void *val, size_t vlen)
{
	if (!c || klen > VSP_CACHE_KEY_MAX || vlen > VSP_CACHE_VAL_MAX ||
	    (!key && klen) || (!val && vlen))
		return;
	uint64_t h = key_hash(prog, key, klen);
	struct entry *set = &c->e[(h & c->setmask) * WAYS];
	struct entry *slot = NULL, *oldest = NULL;
	for (int w = 0; w < WAYS; w++) {
		struct entry *e = &set[w];
		if (same_key(e, c->gen, h, prog, key, klen)) {
			slot = e;	/* a new decision for the same inputs */
			break;
		}
		if (e->gen != c->gen) {
			if (!slot)
				slot = e;
			continue;
		}
		/* Unsigned distance from now survives the clock wrapping. */
		if (!oldest || c->clock - e->stamp > c->clock - oldest->stamp)
			oldest = e;
	}
	if (!slot) {
		slot = oldest;
		c->st.evictions++;
	}
	slot->tag = h;
	slot->gen = c->gen;
	slot->prog = prog;
	slot->stamp = ++c->clock;
	slot->klen = (uint16_t)klen;
	slot->vlen = (uint16_t)vlen;
	if (klen)
		memcpy(slot->key, key, klen);
	memset(slot->val, 0, VSP_CACHE_VAL_MAX);
	if (vlen)
		memcpy(slot->val, val, vlen);
	c->st.inserts++;
}

void vsp_fp_cache_invalidate(struct vsp_cache *c)
{
	if (!c)
		return;
	if (++c->gen == 0) {
		/* After 2^32 reloads old generations could come back to
		 * life: wipe once instead. */
		memset(c->e, 0, (size_t)(c->setmask + 1) * WAYS * sizeof *c->e);
		c->gen = 1;
	}
}

void vsp_fp_cache_stats(const struct vsp_cache *c, struct vsp_cache_stats *s)
{
	if (!s)
		return;
	if (!c) {
		memset(s, 0, sizeof *s);
		return;
	}
	*s = c->st;
}
