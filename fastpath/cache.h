/*
 * cache.h: the decision cache.
 *
 * The compiler knows, per event, every input its rules read (fields,
 * context, call path).  When all of them are cacheable, the interpreter
 * packs them into a key, and a decision already made for the same key is
 * reused.  The table is fixed at load time (default 65536 entries, set
 * associative, no allocation while deciding); a policy reload bumps the
 * generation so every old entry is dead at once.
 */
#ifndef VSP_CACHE_H
#define VSP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSP_CACHE_KEY_MAX 128	/* bytes of packed inputs; longer: not cached */
#define VSP_CACHE_VAL_MAX 48	/* bytes of packed decision */

struct vsp_cache;

/* `entries` is rounded up to a power of two; 0 means 65536. */
struct vsp_cache *vsp_fp_cache_new(uint32_t entries);
void vsp_fp_cache_free(struct vsp_cache *c);

/* Copies the value into val (VSP_CACHE_VAL_MAX bytes) on a hit. */
bool vsp_fp_cache_get(struct vsp_cache *c, uint32_t prog, const void *key,
		      size_t klen, void *val);
/* The same lookup, the value left in place: a pointer to it (valid until
 * the next put or invalidate), or NULL on a miss.  Saves the decision
 * path a copy. */
const void *vsp_fp_cache_find(struct vsp_cache *c, uint32_t prog, const void *key,
			      size_t klen);
/*
 * vsp_fp_cache_find for a key of one string, as the engine builds it for
 * a program that reads one fetched string: the words
 * [len | extra << 32][the last len % 8 bytes, zero-padded, or 0][the
 * whole words of s], read straight from s instead of from a copy.  Hashes
 * and compares exactly as if that key had been passed to
 * vsp_fp_cache_find (so it finds what vsp_fp_cache_put stored under it);
 * every byte is compared.  c must not be NULL, and s must hold len bytes
 * (none past them is read).
 */
const void *vsp_fp_cache_find_str(struct vsp_cache *c, uint32_t prog,
				  const char *s, uint32_t len, uint32_t extra);
/*
 * vsp_fp_cache_find for a key of n whole words gathered from a struct
 * (word k: the 8 bytes at base + off[k]) and then `last`: the key the
 * engine builds from integer fields and the partial flag, read where the
 * fields are instead of from a copy.  At most 7 gathered words (a miss
 * otherwise); every word is compared.  c must not be NULL.
 */
const void *vsp_fp_cache_find_words(struct vsp_cache *c, uint32_t prog,
				    const void *base, const uint16_t *off,
				    uint32_t n, uint64_t last);
/*
 * The last 1..7 bytes of a string as one zero-padded little-endian word,
 * in at most two loads that stay inside the string (`before` bytes of it
 * precede the tail): the tail word of a string key, as the engine builds
 * it and vsp_fp_cache_find_str() reads it.
 */
static inline uint64_t vsp_fp_str_tail(const char *p, size_t rem, size_t before)
{
	uint64_t w;

	if (before >= 8 - rem) {
		/* Bytes before the tail exist: one load ending at its end. */
		__builtin_memcpy(&w, p + rem - 8, 8);
		return w >> (8 * (8 - rem));
	}
	if (rem >= 4) {
		uint32_t lo, hi;

		__builtin_memcpy(&lo, p, 4);
		__builtin_memcpy(&hi, p + rem - 4, 4);
		return lo | (uint64_t)hi << (8 * (rem - 4));
	}
	return (uint64_t)(unsigned char)p[0] |
	       (uint64_t)(unsigned char)p[rem / 2] << (8 * (rem / 2)) |
	       (uint64_t)(unsigned char)p[rem - 1] << (8 * (rem - 1));
}

void vsp_fp_cache_put(struct vsp_cache *c, uint32_t prog, const void *key,
		      size_t klen, const void *val, size_t vlen);
/* Drops every entry at once (a new generation). */
void vsp_fp_cache_invalidate(struct vsp_cache *c);

struct vsp_cache_stats { uint64_t hits, misses, inserts, evictions; };
void vsp_fp_cache_stats(const struct vsp_cache *c, struct vsp_cache_stats *s);

uint64_t vsp_fp_hash(const void *p, size_t len, uint64_t seed);

#endif
