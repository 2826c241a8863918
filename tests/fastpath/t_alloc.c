/*
 * t_alloc.c: nothing on the fast path allocates.
 *
 * This program defines malloc, calloc, realloc and free itself (passing
 * them on to glibc's __libc_* entry points) and counts the calls; then it
 * builds a matcher of each kind, sets, path sets and a cache, zeroes the
 * counter, runs thousands of look-ups and requires the counter to still
 * be zero.  Under the address sanitizer, which owns malloc, it skips.
 */
#include "fastpath/cache.h"
#include "fastpath/match.h"
#include "tests/tap.h"

#include <stddef.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define NO_WRAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NO_WRAP 1
#endif
#endif

#ifndef NO_WRAP
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static volatile size_t allocs;

void *malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	allocs++;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

static struct vsp_matcher *matcher(int general, int blowup)
{
	struct vsp_matcher *m = vsp_fp_matcher_new();
	char buf[64];
	for (int i = 0; i < 300; i++) {
		int n;
		if (blowup && i < 8)
			n = snprintf(buf, sizeof buf, "**a??????????%c", 'a' + i);
		else if (i % 3 == 0)
			n = snprintf(buf, sizeof buf, "/usr/lib/p%d", i);
		else if (i % 3 == 1)
			n = snprintf(buf, sizeof buf, "/opt/a%d/**", i);
		else if (general)
			n = snprintf(buf, sizeof buf, "/srv/*/d%d.[ch]", i);
		else
			n = snprintf(buf, sizeof buf, "/srv/x/d%d", i);
		vsp_fp_matcher_add(m, buf, (size_t)n, (uint32_t)(i % 64));
	}
	vsp_fp_matcher_build(m);
	return m;
}

int main(void)
{
	struct vsp_matcher *m[3] = { matcher(0, 0), matcher(1, 0), matcher(1, 1) };
	int64_t iv[] = { 1, 2, 3, 257, -100 };
	struct vsp_iset *is = vsp_fp_iset_new(iv, 5);
	struct vsp_sset *ss = vsp_fp_sset_new();
	vsp_fp_sset_add(ss, "cat", 3);
	vsp_fp_sset_add(ss, "sshd", 4);
	struct vsp_pathset *ps = vsp_fp_pathset_new();
	vsp_fp_pathset_add(ps, "a <- b <- c", NULL);
	vsp_fp_pathset_add(ps, "a <- * <- d*", NULL);
	vsp_fp_pathset_add(ps, "x <- ** <- y", NULL);
	vsp_fp_pathset_build(ps);
	struct vsp_cache *c = vsp_fp_cache_new(1024);

	static const char *const strs[] = {
		"/usr/lib/p3", "/opt/a4/bin", "/srv/w/d5.c", "/etc/shadow",
		"xxxxxxxxxxxxaxxxxxxxxxxxxb", "",
	};
	static const char *const path[] = { "a", "b", "c", "d", "y" };
	static const char *const path2[] = { "x", "q", "r", "y" };
	unsigned char val[VSP_CACHE_VAL_MAX];
	volatile uint64_t sink = 0;
	char gl[64];

	allocs = 0;
	for (int r = 0; r < 2000; r++) {
		for (int k = 0; k < 6; k++) {
			size_t len = strlen(strs[k]);
			for (int j = 0; j < 3; j++)
				sink += vsp_fp_matcher_run(m[j], strs[k], len);
			sink += vsp_glob_match("/srv/**/*.[ch]", 14, strs[k], len);
			sink += vsp_fp_sset_has(ss, strs[k], len);
		}
		sink += vsp_fp_iset_has(is, r);
		sink += vsp_fp_pathset_match(ps, path, 5);
		sink += vsp_fp_pathset_match(ps, path2, 4);
		uint32_t key = (uint32_t)r;
		if (!vsp_fp_cache_get(c, 1, &key, 4, val))
			vsp_fp_cache_put(c, 1, &key, 4, &key, 4);
		if (r % 500 == 0)
			vsp_fp_cache_invalidate(c);
		sink += vsp_fp_path_format(path, 5, gl, sizeof gl);
		sink += vsp_fp_hash(gl, 20, 1);
	}
	size_t seen = allocs;
	ok(seen == 0, "no allocation in %d rounds of look-ups (%zu seen)", 2000, seen);

	/* The counter itself works: building does allocate. */
	allocs = 0;
	struct vsp_matcher *extra = matcher(1, 0);
	ok(allocs > 0, "the counter sees allocations (%zu while building)",
	       (size_t)allocs);
	vsp_fp_matcher_free(extra);

	for (int j = 0; j < 3; j++)
		vsp_fp_matcher_free(m[j]);
	vsp_fp_iset_free(is);
	vsp_fp_sset_free(ss);
	vsp_fp_pathset_free(ps);
	vsp_fp_cache_free(c);
	return done();
}
#else
int main(void)
{
	skip("the sanitizer owns malloc");
	return done();
}
#endif
