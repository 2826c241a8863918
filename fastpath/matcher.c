/*
 * matcher.c: many patterns against one string in one pass.
 *
 * The compiler gives each test site (a field some rules test with
 * `matches`, `==`, `startswith`, ...) one matcher holding every pattern
 * used there; the interpreter runs it once per event and tests group bits.
 * Building splits the patterns by shape:
 *   - literals go to an open-addressing hash table (one probe per run);
 *   - `literal**` prefixes go to a byte trie walked once along the string;
 *   - every other glob joins one token automaton (glob.h), determinised by
 *     subset construction over byte classes.  If the DFA would pass its
 *     state bound, the same automaton runs as a bit-parallel NFA instead
 *     (state sets as machine words on the stack).
 * Running allocates nothing and takes time linear in the string, whatever
 * the number of patterns (the NFA fallback: linear times its word count).
 */
#include "fastpath/match.h"
#include "fastpath/cache.h"
#include "fastpath/glob.h"

#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 64
#define DFA_MAX_STATES 4096
#define DFA_MAX_TABLE (8u << 20)	/* transition cells */
#define NFA_MAX_WORDS 1024		/* 65536 automaton states */
#define PAT_MAX_LEN 16383		/* longer globs are refused */
#define HASH_SEED 0x6d617463686572ULL

struct pattern {
	char *text;
	size_t len;
	uint32_t group;
};

struct exact {
	uint64_t hash;
	uint32_t off, len;	/* in the pool */
	uint64_t mask;		/* 0: empty slot */
};

struct tnode {
	uint32_t first, n;	/* edges */
	uint64_t mask;		/* groups of prefixes ending here */
};

struct tedge {
	uint32_t parent;	/* only while building */
	uint32_t child;
	unsigned char byte;
};

struct vsp_matcher {
	struct pattern *pats;
	size_t npats, cap;
	bool built;

	/* literals */
	struct exact *ex;
	size_t exmask;		/* slots - 1 */
	char *pool;
	size_t nexact;

	/* prefixes */
	struct tnode *tn;
	struct tedge *te;
	size_t ntn;

	/* the automaton of the general globs */
	size_t nstates, words;	/* NFA states and 64-bit words */
	uint8_t cls[256];
	uint32_t ncls;
	uint64_t *adv, *stay;	/* per class: words each */
	uint64_t *loopm, *acc, *init;
	uint8_t *stgroup;	/* group of each accepting state */
	uint32_t *dfa;		/* NULL: run the NFA */
	uint64_t *dacc;
	uint32_t dstart;
};

struct vsp_matcher *vsp_fp_matcher_new(void)
{
	return calloc(1, sizeof(struct vsp_matcher));
}

static void release_tables(struct vsp_matcher *m)
{
	free(m->ex);
	free(m->pool);
	free(m->tn);
	free(m->te);
	free(m->adv);
	free(m->stay);
	free(m->loopm);
	free(m->acc);
	free(m->init);
	free(m->stgroup);
	free(m->dfa);
	free(m->dacc);
	m->ex = NULL;
	m->pool = NULL;
	m->tn = NULL;
	m->te = NULL;
	m->adv = m->stay = m->loopm = m->acc = m->init = NULL;
	m->stgroup = NULL;
	m->dfa = NULL;
	m->dacc = NULL;
	m->built = false;
}

void vsp_fp_matcher_free(struct vsp_matcher *m)
{
	if (!m)
		return;
	release_tables(m);
	for (size_t i = 0; i < m->npats; i++)
		free(m->pats[i].text);
	free(m->pats);
	free(m);
}

int vsp_fp_matcher_add(struct vsp_matcher *m, const char *pat, size_t plen,
		       uint32_t group)
{
	if (!m || (!pat && plen) || group >= MAX_GROUPS)
		return -1;
	if (vsp_glob_check(pat, plen, NULL, NULL) != 0)
		return -1;
	if (m->npats == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		struct pattern *np = realloc(m->pats, ncap * sizeof *np);
		if (!np)
			return -1;
		m->pats = np;
		m->cap = ncap;
	}
	char *copy = malloc(plen + 1);
	if (!copy)
		return -1;
	if (plen)
		memcpy(copy, pat, plen);
	copy[plen] = '\0';
	m->pats[m->npats++] = (struct pattern){ copy, plen, group };
	m->built = false;	/* a later build sees the new pattern */
	return 0;
}

size_t vsp_fp_matcher_size(const struct vsp_matcher *m)
{
	return m ? m->npats : 0;
}

/* ------------------------------------------------------------ literals */

static int exact_add(struct vsp_matcher *m, const char *s, size_t len,
		     size_t *poolused, uint64_t bit)
{
	uint64_t h = vsp_fp_hash(s, len, HASH_SEED);
	for (size_t i = h & m->exmask;; i = (i + 1) & m->exmask) {
		struct exact *e = &m->ex[i];
		if (!e->mask) {
			memcpy(m->pool + *poolused, s, len);
			*e = (struct exact){ h, (uint32_t)*poolused, (uint32_t)len, bit };
			*poolused += len;
			m->nexact++;
			return 0;
		}
		if (e->hash == h && e->len == len &&
		    memcmp(m->pool + e->off, s, len) == 0) {
			e->mask |= bit;
			return 0;
		}
	}
}

static uint64_t exact_run(const struct vsp_matcher *m, const char *s,
			  size_t len)
{
	if (!m->nexact)
		return 0;
	uint64_t h = vsp_fp_hash(s, len, HASH_SEED);
	for (size_t i = h & m->exmask;; i = (i + 1) & m->exmask) {
		const struct exact *e = &m->ex[i];
		if (!e->mask)
			return 0;
		if (e->hash == h && e->len == len &&
		    memcmp(m->pool + e->off, s, len) == 0)
			return e->mask;
	}
}

/* ------------------------------------------------------------ prefixes */

struct prefix {
	const char *s;
	size_t len;
	uint64_t bit;
};

static int prefix_cmp(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

static int edge_cmp(const void *a, const void *b)
{
	const struct tedge *x = a, *y = b;
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return (int)x->byte - (int)y->byte;
}

/*
 * Inserting the prefixes in sorted order means each one leaves the
 * previous one's path at their common prefix and only creates nodes from
 * there: no child look-up while building.
 */
static int trie_build(struct vsp_matcher *m, struct prefix *pre, size_t n)
{
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += pre[i].len;
	qsort(pre, n, sizeof *pre, prefix_cmp);
	m->tn = calloc(total, sizeof *m->tn);
	m->te = calloc(total, sizeof *m->te);
	uint32_t *path = calloc(total, sizeof *path);
	if (!m->tn || !m->te || !path) {
		free(path);
		return -1;
	}
	size_t nn = 1, ne = 0, plen = 0;
	const char *prev = NULL;
	path[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = 0;
		while (prev && l < plen && l < pre[i].len && prev[l] == pre[i].s[l])
			l++;
		for (size_t d = l; d < pre[i].len; d++) {
			m->te[ne++] = (struct tedge){ path[d], (uint32_t)nn,
						      (unsigned char)pre[i].s[d] };
			path[d + 1] = (uint32_t)nn++;
		}
		m->tn[path[pre[i].len]].mask |= pre[i].bit;
		prev = pre[i].s;
		plen = pre[i].len;
	}
	free(path);
	/* Edges grouped by parent, bytes ascending within: binary search. */
	qsort(m->te, ne, sizeof *m->te, edge_cmp);
	for (size_t e = ne; e-- > 0;) {
		m->tn[m->te[e].parent].first = (uint32_t)e;
		m->tn[m->te[e].parent].n++;
	}
	m->ntn = nn;
	return 0;
}

static uint64_t trie_run(const struct vsp_matcher *m, const char *s,
			 size_t len)
{
	if (!m->tn)
		return 0;
	uint64_t mask = 0;
	uint32_t node = 0;
	for (size_t k = 0;; k++) {
		const struct tnode *t = &m->tn[node];
		mask |= t->mask;
		if (k == len || !t->n)
			return mask;
		unsigned char c = (unsigned char)s[k];
		size_t lo = t->first, hi = t->first + t->n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (m->te[mid].byte < c)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == t->first + t->n || m->te[lo].byte != c)
			return mask;
		node = m->te[lo].child;
	}
}

/* ----------------------------------------------------------- automaton */

static inline void wbit_set(uint64_t *w, size_t i)
{
	w[i >> 6] |= (uint64_t)1 << (i & 63);
}

/* dst = (src << 1): moves each state to its successor. */
static inline void shl1_or(uint64_t *dst, const uint64_t *src, size_t words)
{
	uint64_t carry = 0;
	for (size_t w = 0; w < words; w++) {
		uint64_t v = src[w];
		dst[w] |= (v << 1) | carry;
		carry = v >> 63;
	}
}

/* A star may match nothing: a live looping state makes its successor
 * live.  Star runs are single tokens, so no two looping states are
 * adjacent and one step closes the set. */
static inline void nfa_close(const struct vsp_matcher *m, uint64_t *s,
			     uint64_t *tmp)
{
	size_t W = m->words;
	for (size_t w = 0; w < W; w++)
		tmp[w] = s[w] & m->loopm[w];
	shl1_or(s, tmp, W);
}

static inline bool nfa_step(const struct vsp_matcher *m, const uint64_t *cur,
			    uint64_t *next, uint64_t *tmp, uint32_t cl)
{
	size_t W = m->words;
	const uint64_t *adv = m->adv + (size_t)cl * W;
	const uint64_t *stay = m->stay + (size_t)cl * W;
	for (size_t w = 0; w < W; w++) {
		next[w] = cur[w] & stay[w];
		tmp[w] = cur[w] & adv[w];
	}
	shl1_or(next, tmp, W);
	nfa_close(m, next, tmp);
	uint64_t any = 0;
	for (size_t w = 0; w < W; w++)
		any |= next[w];
	return any != 0;
}

static uint64_t nfa_groups(const struct vsp_matcher *m, const uint64_t *s)
{
	uint64_t mask = 0;
	for (size_t w = 0; w < m->words; w++) {
		uint64_t bits = s[w] & m->acc[w];
		while (bits) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			mask |= (uint64_t)1 << m->stgroup[i];
		}
	}
	return mask;
}

/* Splits bytes into classes no token tells apart. */
static void byte_classes(struct vsp_matcher *m, const struct vsp_gtok *toks,
			 size_t ntoks)
{
	memset(m->cls, 0, sizeof m->cls);
	uint32_t ncls = 1;
	for (size_t t = 0; t < ntoks && ncls < 256; t++) {
		int16_t remap[512];
		memset(remap, -1, sizeof remap);
		uint32_t nn = 0;
		for (int b = 0; b < 256; b++) {
			int key = m->cls[b] * 2 + vsp_gset_has(toks[t].set, (unsigned char)b);
			if (remap[key] < 0)
				remap[key] = (int16_t)nn++;
			m->cls[b] = (uint8_t)remap[key];
		}
		ncls = nn;
	}
	m->ncls = ncls;
}

static int nfa_tables(struct vsp_matcher *m, const struct pattern **gp,
		      size_t ngp)
{
	size_t ntoks = 0;
	for (size_t i = 0; i < ngp; i++) {
		struct vsp_gtok t;
		for (size_t o = 0; o < gp[i]->len;)
			o = vsp_glob_tok(gp[i]->text, gp[i]->len, o, &t), ntoks++;
	}
	m->nstates = ntoks + ngp;	/* one accepting state per glob */
	m->words = m->nstates / 64 + 1;
	if (m->words > NFA_MAX_WORDS)
		return -1;
	struct vsp_gtok *toks = malloc((ntoks ? ntoks : 1) * sizeof *toks);
	uint32_t *tokstate = malloc((ntoks ? ntoks : 1) * sizeof *tokstate);
	m->loopm = calloc(m->words, sizeof(uint64_t));
	m->acc = calloc(m->words, sizeof(uint64_t));
	m->init = calloc(m->words, sizeof(uint64_t));
	m->stgroup = calloc(m->nstates, 1);
	if (!toks || !tokstate || !m->loopm || !m->acc || !m->init || !m->stgroup)
		goto fail;
	size_t st = 0, k = 0;
	for (size_t i = 0; i < ngp; i++) {
		wbit_set(m->init, st);
		for (size_t o = 0; o < gp[i]->len; k++, st++) {
			o = vsp_glob_tok(gp[i]->text, gp[i]->len, o, &toks[k]);
			tokstate[k] = (uint32_t)st;
			if (toks[k].loop)
				wbit_set(m->loopm, st);
		}
		wbit_set(m->acc, st);
		m->stgroup[st] = (uint8_t)gp[i]->group;
		st++;
	}
	byte_classes(m, toks, ntoks);
	m->adv = calloc((size_t)m->ncls * m->words, sizeof(uint64_t));
	m->stay = calloc((size_t)m->ncls * m->words, sizeof(uint64_t));
	if (!m->adv || !m->stay)
		goto fail;
	for (uint32_t c = 0; c < m->ncls; c++) {
		int rep = 0;
		while (m->cls[rep] != c)
			rep++;
		uint64_t *adv = m->adv + (size_t)c * m->words;
		uint64_t *stay = m->stay + (size_t)c * m->words;
		for (size_t t = 0; t < ntoks; t++)
			if (vsp_gset_has(toks[t].set, (unsigned char)rep))
				wbit_set(toks[t].loop ? stay : adv, tokstate[t]);
	}
	uint64_t tmp[NFA_MAX_WORDS];
	nfa_close(m, m->init, tmp);
	free(toks);
	free(tokstate);
	return 0;
fail:
	free(toks);
	free(tokstate);
	return -1;
}

/* The DFA while it is being built: state sets, transitions, accepts, and
 * an open-addressing map from sets to ids. */
struct dfa_work {
	uint64_t *sets;
	uint32_t *trans;
	uint64_t *dacc;
	size_t n, cap;
	uint32_t *slot;		/* id + 1; 0 empty */
	size_t mask;
};

static int dfa_grow(struct dfa_work *d, size_t W, size_t C)
{
	size_t cap = d->cap ? d->cap * 2 : 64;
	uint64_t *ns = realloc(d->sets, cap * W * sizeof *ns);
	if (!ns)
		return -1;
	d->sets = ns;
	uint32_t *nt = realloc(d->trans, cap * C * sizeof *nt);
	if (!nt)
		return -1;
	d->trans = nt;
	uint64_t *na = realloc(d->dacc, cap * sizeof *na);
	if (!na)
		return -1;
	d->dacc = na;
	d->cap = cap;
	return 0;
}

/* The id of state set s, made when new; -1 past the bound or on failure. */
static long dfa_intern(const struct vsp_matcher *m, struct dfa_work *d,
		       const uint64_t *s)
{
	size_t W = m->words;
	size_t i = vsp_fp_hash(s, W * sizeof *s, HASH_SEED) & d->mask;
	for (; d->slot[i]; i = (i + 1) & d->mask)
		if (!memcmp(d->sets + (d->slot[i] - 1) * W, s, W * sizeof *s))
			return d->slot[i] - 1;
	if (d->n >= DFA_MAX_STATES)
		return -1;
	if (d->n == d->cap && dfa_grow(d, W, m->ncls))
		return -1;
	memcpy(d->sets + d->n * W, s, W * sizeof *s);
	d->dacc[d->n] = nfa_groups(m, s);
	d->slot[i] = (uint32_t)++d->n;
	return (long)d->n - 1;
}

/*
 * Subset construction, breadth first.  State 0 is the dead (empty) set.
 * Gives up, leaving m->dfa NULL, when the state or table bound is passed:
 * the NFA then runs instead.
 */
static void dfa_build(struct vsp_matcher *m)
{
	size_t W = m->words, C = m->ncls;
	struct dfa_work d = { .mask = 2 * DFA_MAX_STATES - 1 };
	uint64_t next[NFA_MAX_WORDS], tmp[NFA_MAX_WORDS];

	if ((size_t)DFA_MAX_STATES * C > DFA_MAX_TABLE)
		return;
	d.slot = calloc(2 * DFA_MAX_STATES, sizeof *d.slot);
	if (!d.slot)
		return;
	memset(next, 0, W * sizeof *next);
	long start;
	if (dfa_intern(m, &d, next) != 0 ||
	    (start = dfa_intern(m, &d, m->init)) < 0)
		goto giveup;
	for (size_t s = 0; s < d.n; s++) {
		for (uint32_t c = 0; c < C; c++) {
			long t = 0;
			if (s != 0 && nfa_step(m, d.sets + s * W, next, tmp, c))
				t = dfa_intern(m, &d, next);
			if (t < 0)
				goto giveup;
			d.trans[s * C + c] = (uint32_t)t;
		}
	}
	m->dfa = d.trans;
	m->dacc = d.dacc;
	m->dstart = (uint32_t)start;
	free(d.sets);
	free(d.slot);
	return;
giveup:
	free(d.sets);
	free(d.trans);
	free(d.dacc);
	free(d.slot);
}

int vsp_fp_matcher_build(struct vsp_matcher *m)
{
	if (!m)
		return -1;
	release_tables(m);
	m->nexact = 0;
	m->ntn = 0;
	m->nstates = m->words = 0;

	size_t n = m->npats, pool = 0;
	for (size_t i = 0; i < n; i++)
		pool += m->pats[i].len;
	size_t slots = 8;
	while (slots < 2 * n)
		slots *= 2;
	m->ex = calloc(slots, sizeof *m->ex);
	m->exmask = slots - 1;
	m->pool = malloc(pool ? pool : 1);
	struct prefix *pre = malloc((n ? n : 1) * sizeof *pre);
	const struct pattern **gp = malloc((n ? n : 1) * sizeof *gp);
	char *lit = malloc(pool ? pool : 1);	/* unescaped literals */
	size_t npre = 0, ngp = 0, used = 0, litused = 0;
	if (!m->ex || !m->pool || !pre || !gp || !lit)
		goto fail;

	for (size_t i = 0; i < n; i++) {
		const struct pattern *p = &m->pats[i];
		uint64_t bit = (uint64_t)1 << p->group;
		size_t len;
		switch (vsp_glob_shape(p->text, p->len, lit + litused, &len)) {
		case VSP_GLOB_LITERAL:
			if (exact_add(m, lit + litused, len, &used, bit))
				goto fail;
			break;
		case VSP_GLOB_PREFIX:
			pre[npre++] = (struct prefix){ lit + litused, len, bit };
			litused += len;
			break;
		case VSP_GLOB_GENERAL:
			if (p->len > PAT_MAX_LEN)
				goto fail;
			gp[ngp++] = p;
			break;
		}
	}
	if (npre && trie_build(m, pre, npre))
		goto fail;
	if (ngp) {
		if (nfa_tables(m, gp, ngp))
			goto fail;
		dfa_build(m);
	}
	free(pre);
	free(gp);
	free(lit);
	m->built = true;
	return 0;
fail:
	free(pre);
	free(gp);
	free(lit);
	release_tables(m);
	return -1;
}

static uint64_t automaton_run(const struct vsp_matcher *m, const char *s,
			      size_t len)
{
	if (!m->nstates)
		return 0;
	if (m->dfa) {
		const uint32_t *t = m->dfa;
		uint32_t C = m->ncls, st = m->dstart;
		for (size_t k = 0; k < len && st; k++)
			st = t[st * C + m->cls[(unsigned char)s[k]]];
		return m->dacc[st];
	}
	uint64_t a[NFA_MAX_WORDS], b[NFA_MAX_WORDS], tmp[NFA_MAX_WORDS];
	uint64_t *cur = a, *next = b;
	memcpy(cur, m->init, m->words * sizeof *cur);
	for (size_t k = 0; k < len; k++) {
		if (!nfa_step(m, cur, next, tmp, m->cls[(unsigned char)s[k]]))
			return 0;
		uint64_t *t = cur;
		cur = next;
		next = t;
	}
	return nfa_groups(m, cur);
}

uint64_t vsp_fp_matcher_run(const struct vsp_matcher *m, const char *s,
			    size_t slen)
{
	if (!m || !m->built || (!s && slen))
		return 0;
	return exact_run(m, s, slen) | trie_run(m, s, slen) |
	       automaton_run(m, s, slen);
}
