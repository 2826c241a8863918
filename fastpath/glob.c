/*
 * glob.c: glob syntax checking and direct matching of one glob.
 *
 * The checker calls vsp_glob_check on every pattern of a policy; the
 * reference evaluator and the tests call vsp_glob_match; matcher.c reads
 * tokens through glob.h to build its automaton.  Matching simulates the
 * token automaton with a set of live pattern offsets, so its cost is at
 * most (string length x pattern length) whatever the pattern: no
 * backtracking, no exponential cases.
 */
#include "fastpath/match.h"
#include "fastpath/glob.h"

#include <string.h>

static void set_add(uint64_t set[4], unsigned char c)
{
	set[c >> 6] |= (uint64_t)1 << (c & 63);
}

/* Every byte of the language's wildcards is any byte but '/'. */
static void set_all_but_slash(uint64_t set[4])
{
	set[0] = set[1] = set[2] = set[3] = ~(uint64_t)0;
	set[0] &= ~((uint64_t)1 << '/');
}

/*
 * Walks a class starting at pat[i] == '['.  Returns the offset after its
 * ']', or 0 when the class is unterminated.  With `set`, fills the bytes
 * it names (before negation); with `c` >= 0, reports in *hit whether c is
 * named.  *bad_range (optional) gets the offset of a reversed range.
 */
static size_t class_scan(const char *pat, size_t plen, size_t i,
			 uint64_t *set, int c, bool *hit, bool *neg,
			 size_t *bad_range)
{
	size_t j = i + 1;
	*neg = false;
	if (j < plen && (pat[j] == '!' || pat[j] == '^')) {
		*neg = true;
		j++;
	}
	bool first = true;
	while (j < plen) {
		if (pat[j] == ']' && !first)
			return j + 1;
		first = false;
		size_t at = j;
		unsigned char lo = (unsigned char)pat[j];
		if (lo == '\\') {
			if (j + 1 >= plen)
				return 0;
			lo = (unsigned char)pat[++j];
		}
		j++;
		unsigned char hi = lo;
		if (j + 1 < plen && pat[j] == '-' && pat[j + 1] != ']') {
			j++;
			hi = (unsigned char)pat[j];
			if (hi == '\\') {
				if (j + 1 >= plen)
					return 0;
				hi = (unsigned char)pat[++j];
			}
			j++;
			if (hi < lo && bad_range && *bad_range == (size_t)-1)
				*bad_range = at;
		}
		if (c >= 0 && c >= lo && c <= hi)
			*hit = true;
		if (set)
			for (unsigned b = lo; b <= hi; b++)
				set_add(set, (unsigned char)b);
	}
	return 0;
}

/* Length of the star run at pat[i]. */
static size_t star_run(const char *pat, size_t plen, size_t i)
{
	size_t j = i;
	while (j < plen && pat[j] == '*')
		j++;
	return j - i;
}

size_t vsp_glob_tok(const char *pat, size_t plen, size_t i,
		    struct vsp_gtok *t)
{
	memset(t, 0, sizeof *t);
	unsigned char c = (unsigned char)pat[i];
	if (c == '*') {
		size_t n = star_run(pat, plen, i);
		t->loop = true;
		if (n >= 2)
			t->set[0] = t->set[1] = t->set[2] = t->set[3] = ~(uint64_t)0;
		else
			set_all_but_slash(t->set);
		return i + n;
	}
	if (c == '?') {
		set_all_but_slash(t->set);
		return i + 1;
	}
	if (c == '[') {
		uint64_t named[4] = { 0, 0, 0, 0 };
		bool hit = false, neg;
		size_t end = class_scan(pat, plen, i, named, -1, &hit, &neg, NULL);
		if (end) {
			for (int w = 0; w < 4; w++)
				t->set[w] = neg ? ~named[w] : named[w];
			t->set[0] &= ~((uint64_t)1 << '/');
			return end;
		}
	}
	if (c == '\\' && i + 1 < plen) {
		set_add(t->set, (unsigned char)pat[i + 1]);
		return i + 2;
	}
	set_add(t->set, c);
	return i + 1;
}

bool vsp_glob_tok_accepts(const char *pat, size_t plen, size_t i,
			  unsigned char c, size_t *end, bool *loop)
{
	unsigned char p = (unsigned char)pat[i];
	*loop = false;
	switch (p) {
	case '*': {
		size_t n = star_run(pat, plen, i);
		*loop = true;
		*end = i + n;
		return n >= 2 || c != '/';
	}
	case '?':
		*end = i + 1;
		return c != '/';
	case '[': {
		bool hit = false, neg;
		size_t e = class_scan(pat, plen, i, NULL, c, &hit, &neg, NULL);
		if (e) {
			*end = e;
			return c != '/' && hit != neg;
		}
		break;
	}
	case '\\':
		if (i + 1 < plen) {
			*end = i + 2;
			return c == (unsigned char)pat[i + 1];
		}
		break;
	}
	*end = i + 1;
	return c == p;
}

int vsp_glob_check(const char *pat, size_t plen, const char **err, size_t *at)
{
	const char *msg = NULL;
	size_t where = 0;
	if (plen > VSP_GLOB_MAX) {
		msg = "glob longer than 16383 bytes";
		where = VSP_GLOB_MAX;
	}
	for (size_t i = 0; i < plen && !msg;) {
		if (pat[i] == '\\') {
			if (i + 1 >= plen) {
				msg = "trailing backslash in glob";
				where = i;
			}
			i += 2;
		} else if (pat[i] == '[') {
			bool hit, neg;
			size_t bad = (size_t)-1;
			size_t end = class_scan(pat, plen, i, NULL, -1, &hit, &neg, &bad);
			if (!end) {
				msg = "unterminated character class in glob";
				where = i;
			} else if (bad != (size_t)-1) {
				msg = "reversed range in character class";
				where = bad;
			}
			i = end ? end : plen;
		} else {
			i++;
		}
	}
	if (!msg)
		return 0;
	if (err)
		*err = msg;
	if (at)
		*at = where;
	return -1;
}

enum vsp_glob_shape vsp_glob_shape(const char *pat, size_t plen, char *out,
				   size_t *outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < plen; i++) {
		char c = pat[i];
		if (c == '\\' && i + 1 < plen) {
			out[n++] = pat[++i];
			continue;
		}
		if (c == '*') {
			/* Only a final run of two or more stars keeps the
			 * literal a prefix. */
			size_t r = star_run(pat, plen, i);
			if (r >= 2 && i + r == plen) {
				*outlen = n;
				return VSP_GLOB_PREFIX;
			}
			return VSP_GLOB_GENERAL;
		}
		if (c == '?' || c == '[')
			return VSP_GLOB_GENERAL;
		out[n++] = c;
	}
	*outlen = n;
	return VSP_GLOB_LITERAL;
}

/* Pattern offsets fit the stack bitsets (VSP_GLOB_MAX + 1 of them). */
#define GLOB_STACK_BITS (VSP_GLOB_MAX + 1)

static inline void bit_set(uint64_t *b, size_t i)
{
	b[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline bool bit_get(const uint64_t *b, size_t i)
{
	return (b[i >> 6] >> (i & 63)) & 1;
}

/* Adds, for each live looping token, the offset after it: a star may
 * match nothing.  Offsets only grow, so one ascending pass is enough. */
static void close_loops(const char *pat, size_t plen, uint64_t *live)
{
	for (size_t i = 0; i < plen; i++) {
		if (!bit_get(live, i) || pat[i] != '*')
			continue;
		size_t end;
		bool loop;
		vsp_glob_tok_accepts(pat, plen, i, 0, &end, &loop);
		bit_set(live, end);
		i = end - 1;
	}
}

static bool glob_run(const char *pat, size_t plen, const char *s, size_t slen,
		     uint64_t *cur, uint64_t *next, size_t words)
{
	memset(cur, 0, words * sizeof *cur);
	bit_set(cur, 0);
	close_loops(pat, plen, cur);
	for (size_t k = 0; k < slen; k++) {
		unsigned char c = (unsigned char)s[k];
		bool any = false;
		memset(next, 0, words * sizeof *next);
		for (size_t w = 0; w < words; w++) {
			uint64_t bits = cur[w];
			while (bits) {
				size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
				bits &= bits - 1;
				if (i >= plen)
					continue;	/* the accepting offset */
				size_t end;
				bool loop;
				if (!vsp_glob_tok_accepts(pat, plen, i, c, &end, &loop))
					continue;
				bit_set(next, loop ? i : end);
				any = true;
			}
		}
		if (!any)
			return false;
		close_loops(pat, plen, next);
		uint64_t *t = cur;
		cur = next;
		next = t;
	}
	return bit_get(cur, plen);
}

/*
 * Which matcher a pattern can use: without stars, or with stars all of one
 * kind, the two-pointer method is exact (see glob_greedy); a pattern that
 * mixes `*` and `**` needs the automaton.
 */
static bool mixed_stars(const char *pat, size_t plen)
{
	bool single = false, dbl = false;
	for (size_t i = 0; i < plen; i++) {
		if (pat[i] == '\\') {
			i++;
		} else if (pat[i] == '[') {
			bool hit, neg;
			size_t end = class_scan(pat, plen, i, NULL, -1, &hit, &neg, NULL);
			if (end)
				i = end - 1;
		} else if (pat[i] == '*') {
			size_t r = star_run(pat, plen, i);
			if (r >= 2)
				dbl = true;
			else
				single = true;
			i += r - 1;
		}
	}
	return single && dbl;
}

/*
 * The two-pointer method: remember the last star, and on a mismatch let it
 * take one more byte and retry from there.  Exact when every star is of
 * the same kind: an earlier star taking more can only move later tokens to
 * places the last star already let them try.  A `*` that would have to
 * take a '/' ends the search, since no star before it can take that '/'
 * either.  Time O(plen x slen) at worst, O(plen + slen) usually.
 */
static bool glob_greedy(const char *pat, size_t plen, const char *s,
			size_t slen)
{
	size_t p = 0, k = 0, star_p = (size_t)-1, star_k = 0;
	bool star_dbl = false;
	while (k < slen) {
		if (p < plen && pat[p] == '*') {
			size_t r = star_run(pat, plen, p);
			star_dbl = r >= 2;
			star_p = p + r;
			star_k = k;
			p = star_p;
			continue;
		}
		size_t end;
		bool loop;
		if (p < plen && vsp_glob_tok_accepts(pat, plen, p, (unsigned char)s[k],
						     &end, &loop)) {
			p = end;
			k++;
			continue;
		}
		if (star_p == (size_t)-1 || (!star_dbl && s[star_k] == '/'))
			return false;
		k = ++star_k;
		p = star_p;
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}

bool vsp_glob_match(const char *pat, size_t plen, const char *s, size_t slen)
{
	if (!pat || (!s && slen))
		return false;
	if (!mixed_stars(pat, plen))
		return glob_greedy(pat, plen, s, slen);
	/* vsp_glob_check refuses longer globs; a caller that skipped it
	 * gets no match rather than an allocation. */
	if (plen > VSP_GLOB_MAX)
		return false;
	uint64_t a[GLOB_STACK_BITS / 64 + 1], b[GLOB_STACK_BITS / 64 + 1];
	return glob_run(pat, plen, s, slen, a, b, plen / 64 + 1);
}
