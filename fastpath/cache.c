/*
 * cache.c: the decision cache and the hash every fastpath table uses.
 *
 * The interpreter packs the inputs an event's rules read into a key and
 * asks here before running bytecode.  The table is allocated once
 * (set-associative, four ways, least recently used way evicted); a lookup
 * hashes the key, then compares program, length and every key byte, so two
 * keys that collide in the hash never share a decision.  The engine's two
 * usual keys, one fetched string or a few integer fields, are looked up
 * without being built (vsp_fp_cache_find_str, vsp_fp_cache_find_words):
 * the words are hashed and compared where they are, exactly as the key
 * the engine stores on a miss would be.  Invalidation bumps
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

/*
 * Each set's tags, generations and LRU stamps share one cache line, so a
 * miss reads one line and a hit reads the line and the one entry whose
 * tag agrees.
 */
struct set {
	uint64_t tag[WAYS];	/* full hash of prog and key */
	uint32_t gen[WAYS];	/* 0: never used */
	uint32_t stamp[WAYS];	/* last use, for LRU within the set */
};

struct entry {
	uint32_t prog;
	uint16_t klen, vlen;
	_Alignas(8) unsigned char key[VSP_CACHE_KEY_MAX];
	_Alignas(8) unsigned char val[VSP_CACHE_VAL_MAX];	/* a struct's bytes */
};

/*
 * A set and its entries side by side: a hit reads the set's line and the
 * entry next to it, in the same page, so the many distinct keys of a
 * real trace cost one TLB entry each, not two in tables megabytes apart.
 */
struct bucket {
	_Alignas(64) struct set s;	/* one line, at the start of one */
	struct entry e[WAYS];
};

struct vsp_cache {
	struct bucket *b;
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

/* The last 1..7 bytes as one word, in at most two loads: a byte loop into
 * a stack word would stall the load that follows it. */
static inline uint64_t tail_word(const unsigned char *b, size_t len)
{
	if (len >= 4) {
		uint32_t lo, hi;
		memcpy(&lo, b, 4);
		memcpy(&hi, b + len - 4, 4);
		return lo | (uint64_t)hi << 32;
	}
	return b[0] | (uint64_t)b[len / 2] << 8 | (uint64_t)b[len - 1] << 16;
}

/*
 * Word-at-a-time multiply-rotate hash with a final avalanche: fast on the
 * short keys of the decision path (a few integers, a path) and good
 * enough for open addressing.  Two lanes take alternate words, so the
 * multiplies of one 16-byte step do not wait on each other: a key of 40
 * bytes costs three steps of one multiply's latency, not five.  Not meant
 * to resist chosen collisions; the tables compare full keys, so
 * collisions cost time, never correctness.
 */
uint64_t vsp_fp_hash(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h1 = seed ^ ((uint64_t)len * K1), h2 = rotl(seed, 32) ^ K3;
	while (len >= 16) {
		uint64_t w1, w2;
		memcpy(&w1, b, 8);
		memcpy(&w2, b + 8, 8);
		h1 = rotl((h1 ^ w1) * K1, 31);
		h2 = rotl((h2 ^ w2) * K2, 29);
		b += 16;
		len -= 16;
	}
	if (len >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h1 = rotl((h1 ^ w) * K1, 31);
		b += 8;
		len -= 8;
	}
	if (len)
		h2 = rotl((h2 ^ tail_word(b, len)) * K2, 29);
	return fmix(h1 ^ (h2 * K1));
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
	size_t bytes = (size_t)(n / WAYS) * sizeof *c->b;

	/* aligned_alloc wants a multiple of the alignment. */
	bytes = (bytes + 63) & ~(size_t)63;
	c->b = aligned_alloc(64, bytes);
	if (!c->b) {
		vsp_fp_cache_free(c);
		return NULL;
	}
	memset(c->b, 0, bytes);
	c->setmask = n / WAYS - 1;
	c->gen = 1;
	return c;
}

void vsp_fp_cache_free(struct vsp_cache *c)
{
	if (!c)
		return;
	free(c->b);
	free(c);
}

/*
 * Keys of whole words (the engine's: a few integer fields and the partial
 * flag, or a path and the flag) hash with independent multiplies, which
 * the CPU runs side by side, and a short final mix; other keys take the
 * general hash.  Either way the full key is compared on a hit.  Word i
 * turns by 17 * i + 7 bits and has its own odd multiplier, so equal words
 * in different places do not cancel.  The words' terms are summed, so
 * their order does not matter: vsp_fp_cache_find_str() adds the same terms
 * from a string without building the key.
 */
#define KW(i) ((K1 * (2 * (uint64_t)(i) + 3)) | 1)
#define ROT(i) ((17 * (i) + 7) % 64)
#define KEY_WORDS (VSP_CACHE_KEY_MAX / 8)

static const uint64_t kw_tab[KEY_WORDS] = {
	KW(0), KW(1), KW(2), KW(3), KW(4), KW(5), KW(6), KW(7),
	KW(8), KW(9), KW(10), KW(11), KW(12), KW(13), KW(14), KW(15),
};
static const uint8_t rot_tab[KEY_WORDS] = {
	ROT(0), ROT(1), ROT(2), ROT(3), ROT(4), ROT(5), ROT(6), ROT(7),
	ROT(8), ROT(9), ROT(10), ROT(11), ROT(12), ROT(13), ROT(14), ROT(15),
};
_Static_assert(KEY_WORDS == 16, "the tables above list every word of a key");

/* Word i's term, its place not a constant. */
static inline uint64_t term(uint64_t w, size_t i)
{
	unsigned r = rot_tab[i];

	return ((w << r) | (w >> ((64 - r) & 63))) * kw_tab[i];
}

static inline uint64_t word_seed(uint32_t prog, size_t klen)
{
	return ((uint64_t)prog + 1) * K2 ^ klen;
}

static inline uint64_t word_final(uint64_t h)
{
	h ^= h >> 32;
	h *= K1;
	return h ^ (h >> 29);
}

/*
 * The cases of a switch on a count of words n, from `top` down: case n
 * runs M(n - 1), then falls through to M(n - 2) ... M(0).  Unrolled, so
 * every M sees a constant index (its rotation and multiplier constants).
 */
#define DOWN_FROM_1(M) case 1: M(0); break
#define DOWN_STEP(n, M) case n: M(n - 1); __attribute__((fallthrough))
#define DOWN_FROM_7(M) DOWN_STEP(7, M); DOWN_STEP(6, M); DOWN_STEP(5, M); \
	DOWN_STEP(4, M); DOWN_STEP(3, M); DOWN_STEP(2, M); DOWN_FROM_1(M)
#define DOWN_FROM_8(M) DOWN_STEP(8, M); DOWN_FROM_7(M)
#define DOWN_FROM_14(M) DOWN_STEP(14, M); DOWN_STEP(13, M); DOWN_STEP(12, M); \
	DOWN_STEP(11, M); DOWN_STEP(10, M); DOWN_STEP(9, M); DOWN_FROM_8(M)

#define MIXW(i)                                             \
	do {                                                \
		uint64_t w_;                                \
		memcpy(&w_, b + 8 * (i), 8);                \
		h += rotl(w_, ROT(i)) * KW(i);              \
	} while (0)

/* Keys of 9 to 16 words: rarer, so a loop out of line. */
static __attribute__((noinline)) uint64_t long_key_hash(uint32_t prog, const void *key,
							 size_t klen)
{
	const unsigned char *b = key;
	uint64_t h = word_seed(prog, klen);

	for (size_t i = 0; i < klen / 8; i++) {
		uint64_t w;

		memcpy(&w, b + 8 * i, 8);
		h += term(w, i);
	}
	return word_final(h);
}

static inline __attribute__((always_inline)) uint64_t key_hash(uint32_t prog,
								const void *key,
								size_t klen)
{
	if (__builtin_expect(klen % 8 || klen > 64, 0)) {
		if (klen % 8 || klen > VSP_CACHE_KEY_MAX)
			return vsp_fp_hash(key, klen, (uint64_t)prog * K1 + 1);
		return long_key_hash(prog, key, klen);
	}
	const unsigned char *b = key;
	uint64_t h = word_seed(prog, klen);
	/* Unrolled, so every rotation and multiplier is a constant. */
	switch (klen / 8) {
	DOWN_FROM_8(MIXW);
	default: break;
	}
	return word_final(h);
}
#undef MIXW

/* Keys made of whole words (the engine's are) compare a word at a time:
 * a key just built from word stores reads back without a stall. */
static inline bool same_key(const struct entry *e, uint32_t prog,
			    const void *key, size_t klen)
{
	if (e->prog != prog || e->klen != klen)
		return false;
	if (klen % 8)
		return memcmp(e->key, key, klen) == 0;
	const unsigned char *k = key;
	uint64_t diff = 0;
	if (klen > 64) {
		for (size_t i = 0; i < klen; i += 8) {
			uint64_t a, b;
			memcpy(&a, e->key + i, 8);
			memcpy(&b, k + i, 8);
			diff |= a ^ b;
		}
		return diff == 0;
	}
	/* The usual keys, unrolled as their hash is. */
#define CMPW(i)                                                 \
	do {                                                    \
		uint64_t a_, b_;                                \
		memcpy(&a_, e->key + 8 * (i), 8);               \
		memcpy(&b_, k + 8 * (i), 8);                    \
		diff |= a_ ^ b_;                                \
	} while (0)
	switch (klen / 8) {
	DOWN_FROM_8(CMPW);
	default: break;
	}
#undef CMPW
	return diff == 0;
}

const void *vsp_fp_cache_find(struct vsp_cache *c, uint32_t prog, const void *key,
			      size_t klen)
{
	if (!c)
		return NULL;
	if (klen > VSP_CACHE_KEY_MAX || (!key && klen)) {
		c->st.misses++;
		return NULL;
	}
	if (!key)
		key = "";	/* memcmp wants a pointer even for 0 bytes */
	uint64_t h = key_hash(prog, key, klen);
	size_t si = h & c->setmask;
	struct set *set = &c->b[si].s;
	for (int w = 0; w < WAYS; w++) {
		if (set->tag[w] != h || set->gen[w] != c->gen)
			continue;
		const struct entry *e = &c->b[si].e[w];
		if (!same_key(e, prog, key, klen))
			continue;
		set->stamp[w] = ++c->clock;
		c->st.hits++;
		return e->val;
	}
	c->st.misses++;
	return NULL;
}

/*
 * A hit on a path key without the key: no copy of the string into a
 * buffer, the words hashed from the string where the backend left it and
 * compared with the entry's from there too.  The tail comes second in
 * the key, so every word has a fixed place and every term's rotation and
 * multiplier are constants, as in key_hash()'s unrolled form: a hit is
 * counted in instructions here (the core runs this path near its full
 * width).
 */
const void *vsp_fp_cache_find_str(struct vsp_cache *c, uint32_t prog,
				  const char *s, uint32_t len, uint32_t extra)
{
	size_t full = len & ~(size_t)7, rem = len & 7;
	size_t klen = 16 + full;
	uint64_t head = len | (uint64_t)extra << 32;

	if (klen > VSP_CACHE_KEY_MAX) {
		c->st.misses++;
		return NULL;
	}
	uint64_t tail = rem ? vsp_fp_str_tail(s + full, rem, full) : 0;
	uint64_t h = word_seed(prog, klen) + rotl(head, ROT(0)) * KW(0) +
		     rotl(tail, ROT(1)) * KW(1);
	/* Word j of the string is word j + 2 of the key; unrolled, so every
	 * rotation and multiplier is a constant, as in key_hash(). */
#define STRW(j)                                                 \
	do {                                                    \
		uint64_t w_;                                    \
		memcpy(&w_, s + 8 * (j), 8);                    \
		h += rotl(w_, ROT((j) + 2)) * KW((j) + 2);      \
	} while (0)
	_Static_assert(KEY_WORDS - 2 == 14, "the cases below cover every string word");
	switch (full / 8) {
	DOWN_FROM_14(STRW);
	default: break;
	}
#undef STRW
	h = word_final(h);
	size_t si = h & c->setmask;
	struct set *set = &c->b[si].s;
	for (int w = 0; w < WAYS; w++) {
		if (set->tag[w] != h || set->gen[w] != c->gen)
			continue;
		const struct entry *e = &c->b[si].e[w];
		if (e->prog != prog || e->klen != klen)
			continue;
		/* Every word: the head (length and extra), the tail, the
		 * string's whole words. */
		const unsigned char *k = e->key;
		uint64_t a, diff;
		memcpy(&a, k, 8);
		diff = a ^ head;
		memcpy(&a, k + 8, 8);
		diff |= a ^ tail;
		/* Unrolled as the hash is: a loop's count and branch cost
		 * as much as the compares. */
#define CMPW(j)                                                 \
	do {                                                    \
		uint64_t x_, y_;                                \
		memcpy(&x_, k + 16 + 8 * (j), 8);               \
		memcpy(&y_, s + 8 * (j), 8);                    \
		diff |= x_ ^ y_;                                \
	} while (0)
		switch (full / 8) {
		DOWN_FROM_14(CMPW);
		default: break;
		}
#undef CMPW
		if (diff)
			continue;
		set->stamp[w] = ++c->clock;
		c->st.hits++;
		return e->val;
	}
	c->st.misses++;
	return NULL;
}

/*
 * A hit on a key of integer fields without the key: the words are read
 * where they are (base + off[k]), so the hash does not wait for a copy
 * of them to be stored and read back.  Word k of the key is field k, the
 * last word `last`; hashed and compared as key_hash() and same_key() do
 * the key they make.
 */
const void *vsp_fp_cache_find_words(struct vsp_cache *c, uint32_t prog,
				    const void *base, const uint16_t *off,
				    uint32_t n, uint64_t last)
{
	const unsigned char *b = base;
	size_t klen = 8 * ((size_t)n + 1);

	if (n > 7) {
		c->st.misses++;
		return NULL;
	}
	uint64_t h = word_seed(prog, klen) + term(last, n);
#define GW(k)                                                   \
	do {                                                    \
		uint64_t w_;                                    \
		memcpy(&w_, b + off[k], 8);                     \
		h += rotl(w_, ROT(k)) * KW(k);                  \
	} while (0)
	switch (n) {
	DOWN_FROM_7(GW);
	default: break;
	}
#undef GW
	h = word_final(h);
	size_t si = h & c->setmask;
	struct set *set = &c->b[si].s;
	for (int w = 0; w < WAYS; w++) {
		if (set->tag[w] != h || set->gen[w] != c->gen)
			continue;
		const struct entry *e = &c->b[si].e[w];
		if (e->prog != prog || e->klen != klen)
			continue;
		uint64_t a, diff;
		memcpy(&a, e->key + 8 * n, 8);
		diff = a ^ last;
#define CW(k)                                                   \
	do {                                                    \
		uint64_t x_, y_;                                \
		memcpy(&x_, e->key + 8 * (k), 8);               \
		memcpy(&y_, b + off[k], 8);                     \
		diff |= x_ ^ y_;                                \
	} while (0)
		switch (n) {
		DOWN_FROM_7(CW);
		default: break;
		}
#undef CW
		if (diff)
			continue;
		set->stamp[w] = ++c->clock;
		c->st.hits++;
		return e->val;
	}
	c->st.misses++;
	return NULL;
}

bool vsp_fp_cache_get(struct vsp_cache *c, uint32_t prog, const void *key,
		      size_t klen, void *val)
{
	const void *v = vsp_fp_cache_find(c, prog, key, klen);

	if (v && val)
		memcpy(val, v, VSP_CACHE_VAL_MAX);
	return v != NULL;
}

void vsp_fp_cache_put(struct vsp_cache *c, uint32_t prog, const void *key,
		      size_t klen, const void *val, size_t vlen)
{
	if (!c || klen > VSP_CACHE_KEY_MAX || vlen > VSP_CACHE_VAL_MAX ||
	    (!key && klen) || (!val && vlen))
		return;
	if (!key)
		key = "";
	uint64_t h = key_hash(prog, key, klen);
	size_t si = h & c->setmask;
	struct set *set = &c->b[si].s;
	int slot = -1, oldest = -1;
	for (int w = 0; w < WAYS; w++) {
		if (set->gen[w] != c->gen) {
			if (slot < 0)
				slot = w;
			continue;
		}
		if (set->tag[w] == h &&
		    same_key(&c->b[si].e[w], prog, key, klen)) {
			slot = w;	/* a new decision for the same inputs */
			break;
		}
		/* Unsigned distance from now survives the clock wrapping. */
		if (oldest < 0 ||
		    c->clock - set->stamp[w] > c->clock - set->stamp[oldest])
			oldest = w;
	}
	if (slot < 0) {
		slot = oldest;
		c->st.evictions++;
	}
	struct entry *e = &c->b[si].e[slot];
	set->tag[slot] = h;
	set->gen[slot] = c->gen;
	set->stamp[slot] = ++c->clock;
	e->prog = prog;
	e->klen = (uint16_t)klen;
	e->vlen = (uint16_t)vlen;
	if (klen)
		memcpy(e->key, key, klen);
	memset(e->val, 0, VSP_CACHE_VAL_MAX);
	if (vlen)
		memcpy(e->val, val, vlen);
	c->st.inserts++;
}

void vsp_fp_cache_invalidate(struct vsp_cache *c)
{
	if (!c)
		return;
	if (++c->gen == 0) {
		/* After 2^32 reloads old generations could come back to
		 * life: wipe once instead. */
		for (size_t i = 0; i <= c->setmask; i++)
			memset(&c->b[i].s, 0, sizeof(c->b[i].s));
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
