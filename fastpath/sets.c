/*
 * sets.c: hashed sets for `x in [...]` lists.
 *
 * The compiler turns every constant list that a rule tests membership in
 * into one of these; the interpreter asks has() at run time.  Both are
 * open-addressing tables at most half full, so a look-up is a hash and a
 * probe or two, and never allocates.  Integer sets are fixed at creation;
 * string sets grow while the policy loads and copy what they are given.
 */
#include "fastpath/match.h"
#include "fastpath/cache.h"

#include <stdlib.h>
#include <string.h>

#define SEED_I 0x69736574ULL
#define SEED_S 0x73736574ULL

struct vsp_iset {
	int64_t *v;
	bool *used;
	size_t mask;
	size_t n;
};

static inline size_t ihash(int64_t v)
{
	return (size_t)vsp_fp_hash(&v, sizeof v, SEED_I);
}

struct vsp_iset *vsp_fp_iset_new(const int64_t *v, size_t n)
{
	if (!v && n)
		return NULL;
	struct vsp_iset *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	size_t slots = 8;
	while (slots < 2 * n)
		slots *= 2;
	s->v = calloc(slots, sizeof *s->v);
	s->used = calloc(slots, sizeof *s->used);
	if (!s->v || !s->used) {
		vsp_fp_iset_free(s);
		return NULL;
	}
	s->mask = slots - 1;
	for (size_t k = 0; k < n; k++) {
		size_t i = ihash(v[k]) & s->mask;
		while (s->used[i] && s->v[i] != v[k])
			i = (i + 1) & s->mask;
		if (!s->used[i]) {
			s->used[i] = true;
			s->v[i] = v[k];
			s->n++;
		}
	}
	return s;
}

bool vsp_fp_iset_has(const struct vsp_iset *s, int64_t v)
{
	if (!s)
		return false;
	for (size_t i = ihash(v) & s->mask; s->used[i]; i = (i + 1) & s->mask)
		if (s->v[i] == v)
			return true;
	return false;
}

void vsp_fp_iset_free(struct vsp_iset *s)
{
	if (!s)
		return;
	free(s->v);
	free(s->used);
	free(s);
}

struct sentry {
	char *p;		/* NULL: empty slot */
	size_t len;
	uint64_t hash;
};

struct vsp_sset {
	struct sentry *e;
	size_t mask;
	size_t n;
};

struct vsp_sset *vsp_fp_sset_new(void)
{
	struct vsp_sset *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->e = calloc(8, sizeof *s->e);
	if (!s->e) {
		free(s);
		return NULL;
	}
	s->mask = 7;
	return s;
}

static struct sentry *sslot(struct sentry *e, size_t mask, uint64_t h,
			    const char *p, size_t len)
{
	size_t i = h & mask;
	while (e[i].p && !(e[i].hash == h && e[i].len == len &&
			   memcmp(e[i].p, p, len) == 0))
		i = (i + 1) & mask;
	return &e[i];
}

static int sset_grow(struct vsp_sset *s)
{
	size_t slots = (s->mask + 1) * 2;
	struct sentry *e = calloc(slots, sizeof *e);
	if (!e)
		return -1;
	for (size_t i = 0; i <= s->mask; i++)
		if (s->e[i].p)
			*sslot(e, slots - 1, s->e[i].hash, s->e[i].p,
			       s->e[i].len) = s->e[i];
	free(s->e);
	s->e = e;
	s->mask = slots - 1;
	return 0;
}

int vsp_fp_sset_add(struct vsp_sset *s, const char *p, size_t len)
{
	if (!s || (!p && len))
		return -1;
	if (!p)
		p = "";
	if (2 * (s->n + 1) > s->mask + 1 && sset_grow(s))
		return -1;
	uint64_t h = vsp_fp_hash(p, len, SEED_S);
	struct sentry *e = sslot(s->e, s->mask, h, p, len);
	if (e->p)
		return 0;
	/* One spare byte so even the empty string has a non-NULL copy. */
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	if (len)
		memcpy(copy, p, len);
	copy[len] = '\0';
	*e = (struct sentry){ copy, len, h };
	s->n++;
	return 0;
}

bool vsp_fp_sset_has(const struct vsp_sset *s, const char *p, size_t len)
{
	if (!s || (!p && len))
		return false;
	if (!p)
		p = "";
	uint64_t h = vsp_fp_hash(p, len, SEED_S);
	return sslot(s->e, s->mask, h, p, len)->p != NULL;
}

void vsp_fp_sset_free(struct vsp_sset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i <= s->mask; i++)
		free(s->e[i].p);
	free(s->e);
	free(s);
}
