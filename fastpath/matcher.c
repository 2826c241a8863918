/*
 * matcher.c: many patterns against one string in one pass.
 *
 * The compiler gives each test site (a field some rules test with
 * `matches`, `==`, `startswith`, ...) one matcher holding every pattern
 * used there; the interpreter runs it once per event and tests group bits.
 * Building splits the patterns by shape:
 *   - literals go to an open-addressing hash table (one probe per run);
 *   - `literal**` prefixes go to a byte trie walked once along the string;
 *   - every other glob joins a token automaton (glob.h), determinised by
 *     subset construction over byte classes.  A set whose DFA would pass
 *     the state bound is halved and each half tried again, so a few DFAs
 *     cover many globs; globs no small DFA can hold (patterns like
 *     `**a??????????`) run as bit-parallel NFAs, state sets as machine
 *     words on the stack.
 * Running allocates nothing, writes nothing (one built matcher may serve
 * every vCPU thread at once) and takes time linear in the string; the
 * number of patterns shows only through the number of automata.
 */
#include "fastpath/match.h"
#include "fastpath/cache.h"
#include "fastpath/glob.h"

#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 64
#define DFA_MAX_STATES 4096
#define DFA_MAX_TABLE (4u << 20)	/* transition cells, all DFAs together */
#define DFA_MAX_WORK (96u << 20)	/* words stepped building all DFAs */
#define NFA_MAX_WORDS 1024		/* 65536 automaton states */
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

/*
 * One automaton over a subset of the general globs.  NFA state i is "about
 * to match token i" of some glob; each glob ends in an accepting state.
 */
struct automaton {
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

	/* the general globs */
	struct automaton *au;
	size_t nau;
};

struct vsp_matcher *vsp_fp_matcher_new(void)
{
	return calloc(1, sizeof(struct vsp_matcher));
}

static void auto_release(struct automaton *a)
{
	free(a->adv);
	free(a->stay);
	free(a->loopm);
	free(a->acc);
	free(a->init);
	free(a->stgroup);
	free(a->dfa);
	free(a->dacc);
	memset(a, 0, sizeof *a);
}

static void release_tables(struct vsp_matcher *m)
{
	free(m->ex);
	free(m->pool);
	free(m->tn);
	free(m->te);
	for (size_t i = 0; i < m->nau; i++)
		auto_release(&m->au[i]);
	free(m->au);
	m->ex = NULL;
	m->pool = NULL;
	m->tn = NULL;
	m->te = NULL;
	m->au = NULL;
	m->nau = 0;
	m->nexact = 0;
	m->ntn = 0;
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

/*
 * One step of the bit-parallel NFA on byte class cl, in one pass over the
 * words: looping states that accept stay, other accepting states move to
 * their successor (a shift by one), then a live looping state makes its
 * successor live too, since a star may match nothing.  Star runs are
 * single tokens, so no two looping states are adjacent and that one
 * closure step is complete.  Returns whether any state is live.
 */
static inline bool nfa_step(const struct automaton *a, const uint64_t *cur,
			    uint64_t *next, uint32_t cl)
{
	size_t W = a->words;
	const uint64_t *adv = a->adv + (size_t)cl * W;
	const uint64_t *stay = a->stay + (size_t)cl * W;
	uint64_t carry_adv = 0, carry_loop = 0, any = 0;
	for (size_t w = 0; w < W; w++) {
		uint64_t mv = cur[w] & adv[w];
		uint64_t n = (cur[w] & stay[w]) | (mv << 1) | carry_adv;
		carry_adv = mv >> 63;
		uint64_t lp = n & a->loopm[w];
		n |= (lp << 1) | carry_loop;
		carry_loop = lp >> 63;
		next[w] = n;
		any |= n;
	}
	return any != 0;
}

static uint64_t nfa_groups(const struct automaton *a, const uint64_t *s)
{
	uint64_t mask = 0;
	for (size_t w = 0; w < a->words; w++) {
		uint64_t bits = s[w] & a->acc[w];
		while (bits) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			mask |= (uint64_t)1 << a->stgroup[i];
		}
	}
	return mask;
}

/* Splits bytes into classes no token tells apart. */
static void byte_classes(struct automaton *a, const struct vsp_gtok *toks,
			 size_t ntoks)
{
	memset(a->cls, 0, sizeof a->cls);
	uint32_t ncls = 1;
	for (size_t t = 0; t < ntoks && ncls < 256; t++) {
		int16_t remap[512];
		memset(remap, -1, sizeof remap);
		uint32_t nn = 0;
		for (int b = 0; b < 256; b++) {
			int key = a->cls[b] * 2 + vsp_gset_has(toks[t].set, (unsigned char)b);
			if (remap[key] < 0)
				remap[key] = (int16_t)nn++;
			a->cls[b] = (uint8_t)remap[key];
		}
		ncls = nn;
	}
	a->ncls = ncls;
}

static size_t count_tokens(const struct pattern *p)
{
	struct vsp_gtok t;
	size_t n = 0;
	for (size_t o = 0; o < p->len; n++)
		o = vsp_glob_tok(p->text, p->len, o, &t);
	return n;
}

/* The NFA of globs gp[0..n): state masks per byte class.  Returns -1 when
 * it would not fit the run-time stack bound, or on failure. */
static int nfa_tables(struct automaton *a, const struct pattern *const *gp,
		      size_t n)
{
	size_t ntoks = 0;
	for (size_t i = 0; i < n; i++)
		ntoks += count_tokens(gp[i]);
	a->nstates = ntoks + n;	/* one accepting state per glob */
	a->words = a->nstates / 64 + 1;
	if (a->words > NFA_MAX_WORDS)
		return -1;
	struct vsp_gtok *toks = malloc((ntoks ? ntoks : 1) * sizeof *toks);
	uint32_t *tokstate = malloc((ntoks ? ntoks : 1) * sizeof *tokstate);
	a->loopm = calloc(a->words, sizeof(uint64_t));
	a->acc = calloc(a->words, sizeof(uint64_t));
	a->init = calloc(a->words, sizeof(uint64_t));
	a->stgroup = calloc(a->nstates, 1);
	if (!toks || !tokstate || !a->loopm || !a->acc || !a->init || !a->stgroup)
		goto fail;
	size_t st = 0, k = 0;
	for (size_t i = 0; i < n; i++) {
		wbit_set(a->init, st);
		for (size_t o = 0; o < gp[i]->len; k++, st++) {
			o = vsp_glob_tok(gp[i]->text, gp[i]->len, o, &toks[k]);
			tokstate[k] = (uint32_t)st;
			if (toks[k].loop)
				wbit_set(a->loopm, st);
		}
		wbit_set(a->acc, st);
		a->stgroup[st] = (uint8_t)gp[i]->group;
		st++;
	}
	byte_classes(a, toks, ntoks);
	a->adv = calloc((size_t)a->ncls * a->words, sizeof(uint64_t));
	a->stay = calloc((size_t)a->ncls * a->words, sizeof(uint64_t));
	if (!a->adv || !a->stay)
		goto fail;
	for (uint32_t c = 0; c < a->ncls; c++) {
		int rep = 0;
		while (a->cls[rep] != c)
			rep++;
		uint64_t *adv = a->adv + (size_t)c * a->words;
		uint64_t *stay = a->stay + (size_t)c * a->words;
		for (size_t t = 0; t < ntoks; t++)
			if (vsp_gset_has(toks[t].set, (unsigned char)rep))
				wbit_set(toks[t].loop ? stay : adv, tokstate[t]);
	}
	/* The start set, closed over stars that match nothing. */
	for (size_t w = 0; w < a->words; w++) {
		uint64_t lp = a->init[w] & a->loopm[w];
		a->init[w] |= lp << 1;
		if (w + 1 < a->words)
			a->init[w + 1] |= lp >> 63;
	}
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
	size_t limit;		/* most states worth building */
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
static long dfa_intern(const struct automaton *a, struct dfa_work *d,
		       const uint64_t *s)
{
	size_t W = a->words;
	size_t i = vsp_fp_hash(s, W * sizeof *s, HASH_SEED) & d->mask;
	for (; d->slot[i]; i = (i + 1) & d->mask)
		if (!memcmp(d->sets + (d->slot[i] - 1) * W, s, W * sizeof *s))
			return d->slot[i] - 1;
	if (d->n >= d->limit)
		return -1;
	if (d->n == d->cap && dfa_grow(d, W, a->ncls))
		return -1;
	memcpy(d->sets + d->n * W, s, W * sizeof *s);
	d->dacc[d->n] = nfa_groups(a, s);
	d->slot[i] = (uint32_t)++d->n;
	return (long)d->n - 1;
}

/*
 * Subset construction, breadth first.  State 0 is the dead (empty) set.
 * Returns false, leaving a->dfa NULL, past the state bound; the work done
 * is taken from *budget either way.
 */
static bool dfa_build(struct automaton *a, size_t *budget, size_t *cells)
{
	size_t W = a->words, C = a->ncls;
	struct dfa_work d = { .mask = 2 * DFA_MAX_STATES - 1 };
	uint64_t next[NFA_MAX_WORDS];

	/* Bound the table and the build time (each new state steps its set
	 * once per class); past either bound the NFA is the better deal. */
	d.limit = DFA_MAX_STATES;
	if (d.limit * C > *cells)
		d.limit = *cells / C;
	if (d.limit * C * W > *budget)
		d.limit = *budget / (C * W);
	if (d.limit < 2)
		return false;
	d.slot = calloc(2 * DFA_MAX_STATES, sizeof *d.slot);
	if (!d.slot)
		return false;
	memset(next, 0, W * sizeof *next);
	long start;
	bool ok = false;
	if (dfa_intern(a, &d, next) != 0 || (start = dfa_intern(a, &d, a->init)) < 0)
		goto out;
	size_t s;
	for (s = 0; s < d.n; s++) {
		for (uint32_t c = 0; c < C; c++) {
			long t = 0;
			if (s != 0 && nfa_step(a, d.sets + s * W, next, c))
				t = dfa_intern(a, &d, next);
			if (t < 0)
				goto out;
			d.trans[s * C + c] = (uint32_t)t;
		}
	}
	a->dfa = d.trans;
	a->dacc = d.dacc;
	a->dstart = (uint32_t)start;
	*cells -= d.n * C;
	d.trans = NULL;
	d.dacc = NULL;
	ok = true;
out:
	*budget -= d.n * C * W < *budget ? d.n * C * W : *budget;
	free(d.sets);
	free(d.trans);
	free(d.dacc);
	free(d.slot);
	return ok;
}

struct auto_build {
	struct automaton *au;
	size_t nau, cap;
	const struct pattern **left;	/* globs left to the NFA */
	size_t nleft;
	size_t budget;			/* DFA build work left */
	size_t cells;			/* DFA transition cells left */
};

static int auto_push(struct auto_build *b, struct automaton *a)
{
	if (b->nau == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct automaton *na = realloc(b->au, cap * sizeof *na);
		if (!na)
			return -1;
		b->au = na;
		b->cap = cap;
	}
	b->au[b->nau++] = *a;
	return 0;
}

/*
 * How the general globs are cut into DFAs.  A chunk wider than CHUNK_WORDS
 * is halved before any attempt; an attempt may step at most `cap` state
 * words, and a failed chunk's halves get half its cap each, so every level
 * of halving costs about what the first attempt cost.  Chunks of fewer
 * than SPLIT_MIN globs, or deeper than SPLIT_DEPTH, go to the NFA whole.
 */
#define CHUNK_WORDS 512
#define FIRST_CAP (32u << 20)
#define SPLIT_MIN 8
#define SPLIT_DEPTH 6

static size_t chunk_words(const struct pattern **gp, size_t n)
{
	size_t states = 0;
	for (size_t i = 0; i < n; i++)
		states += count_tokens(gp[i]) + 1;
	return states / 64 + 1;
}

static int build_chunk(struct auto_build *b, const struct pattern **gp,
		       size_t n, size_t cap, int depth)
{
	if (n > 1 && chunk_words(gp, n) > CHUNK_WORDS) {
		if (build_chunk(b, gp, n / 2, cap, depth))
			return -1;
		return build_chunk(b, gp + n / 2, n - n / 2, cap, depth);
	}
	struct automaton a;
	memset(&a, 0, sizeof a);
	if (cap > b->budget)
		cap = b->budget;
	size_t spent = cap;
	if (cap && nfa_tables(&a, gp, n) == 0 && dfa_build(&a, &spent, &b->cells)) {
		b->budget -= cap - spent;
		if (auto_push(b, &a) == 0)
			return 0;
		auto_release(&a);
		return -1;
	}
	b->budget -= cap - spent;
	auto_release(&a);
	if (n < SPLIT_MIN || depth >= SPLIT_DEPTH || !b->budget) {
		memcpy(b->left + b->nleft, gp, n * sizeof *gp);
		b->nleft += n;
		return 0;
	}
	if (build_chunk(b, gp, n / 2, cap / 2, depth + 1))
		return -1;
	return build_chunk(b, gp + n / 2, n - n / 2, cap / 2, depth + 1);
}

/* The globs no DFA took, packed into as few NFAs as the stack bound
 * allows. */
static int build_nfas(struct auto_build *b)
{
	size_t i = 0;
	while (i < b->nleft) {
		size_t j = i, states = 0;
		while (j < b->nleft) {
			size_t st = count_tokens(b->left[j]) + 1;
			if (j > i && (states + st) / 64 + 1 > NFA_MAX_WORDS)
				break;
			states += st;
			j++;
		}
		struct automaton a;
		memset(&a, 0, sizeof a);
		if (nfa_tables(&a, b->left + i, j - i) || auto_push(b, &a)) {
			auto_release(&a);
			return -1;
		}
		i = j;
	}
	return 0;
}

static int build_general(struct vsp_matcher *m, const struct pattern **gp,
			 size_t n)
{
	struct auto_build b = { .budget = DFA_MAX_WORK, .cells = DFA_MAX_TABLE };
	b.left = malloc(n * sizeof *b.left);
	int r = -1;
	if (b.left && build_chunk(&b, gp, n, FIRST_CAP, 0) == 0 &&
	    build_nfas(&b) == 0)
		r = 0;
	free(b.left);
	m->au = b.au;
	m->nau = b.nau;
	return r;
}

int vsp_fp_matcher_build(struct vsp_matcher *m)
{
	if (!m)
		return -1;
	release_tables(m);

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
			gp[ngp++] = p;
			break;
		}
	}
	if (npre && trie_build(m, pre, npre))
		goto fail;
	if (ngp && build_general(m, gp, ngp))
		goto fail;
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

static uint64_t automaton_run(const struct automaton *a, const char *s,
			      size_t len)
{
	if (a->dfa) {
		const uint32_t *t = a->dfa;
		uint32_t C = a->ncls, st = a->dstart;
		for (size_t k = 0; k < len && st; k++)
			st = t[st * C + a->cls[(unsigned char)s[k]]];
		return a->dacc[st];
	}
	uint64_t x[NFA_MAX_WORDS], y[NFA_MAX_WORDS];
	uint64_t *cur = x, *next = y;
	memcpy(cur, a->init, a->words * sizeof *cur);
	for (size_t k = 0; k < len; k++) {
		if (!nfa_step(a, cur, next, a->cls[(unsigned char)s[k]]))
			return 0;
		uint64_t *t = cur;
		cur = next;
		next = t;
	}
	return nfa_groups(a, cur);
}

uint64_t vsp_fp_matcher_run(const struct vsp_matcher *m, const char *s,
			    size_t slen)
{
	if (!m || !m->built || (!s && slen))
		return 0;
	if (!s)
		s = "";		/* memcmp and friends want a pointer */
	uint64_t mask = exact_run(m, s, slen) | trie_run(m, s, slen);
	for (size_t i = 0; i < m->nau; i++)
		mask |= automaton_run(&m->au[i], s, slen);
	return mask;
}
