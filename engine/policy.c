/*
 * policy.c: the engine of engine/engine.h.
 *
 * Loading runs the whole pipeline once: lang/ parses and checks the files
 * (lang/front.h) and compiles them (lang/compile.h), interp/verify.c
 * proves every program, and this file picks the fast path for each one
 * while it is still load time:
 *
 *   - engine/dispatch.c maps events to programs in one lookup;
 *   - a program that reads no field of the event decides the same for
 *     every event: it runs once here and its decision becomes a table
 *     entry (a "constant verdict"), so the interpreter never runs for it;
 *   - a program whose every instruction has a fused shape runs as fused
 *     operations (interp/vm.c), one dispatch per test instead of four to
 *     six;
 *   - a program for which a lookup pays (globs, matchers, substring
 *     searches, effects, long programs) gets the decision cache
 *     (fastpath/cache.h), keyed by exactly the fields it reads;
 *   - the interpreter's scratch (lower() buffers, matcher memos) is
 *     allocated.
 *
 * vsp_decide() then only tests flags the loader set: dispatch, constant
 * table, cache, interpreter, statistics.  Nothing on that path allocates.
 * A syscall whose program is a plain constant (no effect, no deciding
 * rule) takes a leaf that copies the decision's head and bumps one
 * counter: the cost of an event no rule names.  A cached program keyed by
 * one fetched string (a path) has its own out-of-line path, and a cache
 * hit on it or on a key of integer fields builds no key: the cache reads
 * the inputs where they are.
 *
 * Also here: rule and effect introspection, %{field} messages (parsed and
 * resolved per event at load), learn-mode profiles and statistics.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastpath/cache.h"
#include "engine/dispatch.h"
#include "fastpath/match.h"
#include "engine/engine.h"
#include "interp/program.h"
#include "lang/compile.h"
#include "lang/fields.h"
#include "lang/front.h"

/* A piece of a message template: literal text or a field per program. */
struct seg {
	const char *text;	/* literal, or the field name as written */
	uint32_t len;
	bool is_field;
	uint32_t nres;
	struct { uint32_t prog; enum vsp_field f; } *res;
};

struct tmpl {
	struct seg *segs;
	uint32_t nsegs;
};

struct profile {
	char *path;
	char **lines;		/* sorted, unique */
	size_t n, cap;
	char **comments;	/* what the file held: kept at the top */
	size_t ncom;
	int fd;			/* learn mode: open for appending, or -1 */
	bool loaded;		/* the file's lines are in `lines` */
	bool bad;		/* the file has bad lines: never rewritten */
};

/* How a program is run, decided at load. */
enum prun {
	RUN_CONST,		/* dec below is the answer */
	RUN_FUSED,		/* the fused operations (vsp_vm_run_fused) */
	RUN_VM			/* the bytecode interpreter */
};

/* Bytes of struct vsp_decision before fired[]: verdict to fired_dropped. */
#define DEC_HEAD offsetof(struct vsp_decision, fired)

struct pmode {
	/* First, in one cache line: all an event no rule names reads. */
	uint8_t run;		/* enum prun */
	bool plain;		/* constant, no effect fired, no rule decided,
				 * not flagged: statistics need no per-rule work */
	bool cacheable;
	uint8_t verdict;	/* constant: dec.verdict */
	bool key_fetch;		/* cached, the key is one string the backend
				 * reads (a path, a string argument): key[0] */
	uint64_t nplain;	/* plain decisions made: folded into the
				 * statistics when they are read */
	unsigned char head[DEC_HEAD];	/* constant: dec's first bytes */
	uint8_t nkey;
	bool key_ints;		/* every key field is a plain integer */
	vsp_fmask key_str;	/* bit f: field f is a string */
	/* The cache key: the fields read, in field order. */
	uint8_t key[VSP_F_COUNT];
	uint16_t key_off[VSP_F_COUNT];	/* key_ints: offsets in the event */
	struct vsp_decision dec;
};

/*
 * What the cache stores per decision (at most VSP_CACHE_VAL_MAX bytes).
 * The first CVAL_HEAD bytes have the layout of struct vsp_decision's
 * first members (verdict, rule, value, redirect), so a hit copies them in
 * one go; flagged and partial sit in what is the redirect's padding there.
 */
struct cval {
	uint32_t verdict;
	int32_t rule;
	int64_t value;
	const char *redir;
	uint32_t redir_len;
	uint8_t flagged, partial, pad[2];
	uint64_t sites;		/* bit j: site j of the program fired */
	uint32_t dropped;
};

#define CVAL_HEAD offsetof(struct cval, sites)
_Static_assert(sizeof(enum vsp_verdict) == 4 &&
	       offsetof(struct vsp_decision, rule) == offsetof(struct cval, rule) &&
	       offsetof(struct vsp_decision, value) == offsetof(struct cval, value) &&
	       offsetof(struct vsp_decision, redirect) == offsetof(struct cval, redir) &&
	       offsetof(struct vsp_decision, redirect) + offsetof(struct vsp_str, len) ==
	       offsetof(struct cval, redir_len) &&
	       sizeof(struct vsp_str) == 16 &&
	       offsetof(struct vsp_decision, nfired) == CVAL_HEAD,
	       "a cached value's head mirrors the decision's");

struct vsp_policy {
	struct vsp_image *im;
	struct vsp_fp_dispatch disp;
	struct vsp_vm_scratch scratch;
	struct vsp_cache *cache;
	struct pmode *pm;	/* per program */
	bool no_fastpath;

	struct vsp_engine_stats st;
	uint64_t *rule_hits;
	uint64_t *counters;

	struct tmpl *tm;	/* per effect */
	struct profile *prof;
	size_t nprof;
	int32_t *rule_prof;	/* per rule: profile index or -1 */

	enum vsp_fail_policy fail;
	struct vsp_decision fail_dec;	/* the verdict a failed decision gets */
};

_Static_assert(sizeof(struct cval) <= VSP_CACHE_VAL_MAX, "cache value too big");

/* Programs with at most this many steps and no costly instruction run
 * without the cache (see prepare()). */
#define CACHE_MIN_STEPS 40

/* ---- the cache ----------------------------------------------------------- */

/*
 * The key is built of whole 8-byte words only, aligned, so the hash and
 * the comparison that read it back word by word get every word from one
 * store: a key written in pieces of other sizes and read in words stalls
 * on store forwarding, which costed more than the rest of a hit.
 */
static inline bool key_word(uint8_t *key, size_t *n, uint64_t w)
{
	if (*n + 8 > VSP_CACHE_KEY_MAX)
		return false;
	memcpy(key + *n, &w, 8);
	*n += 8;
	return true;
}

/* Length word, then the bytes in words, the last one zero-padded. */
static inline bool key_str(uint8_t *key, size_t *np, const char *p, size_t len)
{
	size_t n = *np, full = len & ~(size_t)7;

	if (n + 8 + full + (len & 7 ? 8 : 0) > VSP_CACHE_KEY_MAX)
		return false;
	memcpy(key + n, &(uint64_t){ len }, 8);
	n += 8;
	/* Word by word, not one memcpy: its overlapping vector stores would
	 * stall the word loads of the hash that follows. */
	for (size_t i = 0; i < full; i += 8, n += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		memcpy(key + n, &w, 8);
	}
	if (len & 7) {
		uint64_t w = vsp_fp_str_tail(p + full, len & 7, full);

		memcpy(key + n, &w, 8);
		n += 8;
	}
	*np = n;
	return true;
}

/* Packs every input the program reads; false when they do not fit. */
static inline __attribute__((always_inline)) bool build_key(const struct pmode *pm,
							    struct vsp_event *ev,
							    uint8_t *key, size_t *klen)
{
	size_t n = 0;

	if (pm->key_ints) {
		/* The common shape: a few plain integer words of the event, no
		 * fetches, never partial from here (ev->partial can only come
		 * from the backend); the length was checked at load. */
#define KEYW(k) memcpy(key + 8 * (k), (const char *)ev + pm->key_off[k], 8)
		/* Unrolled for the usual few fields: a loop's count and
		 * branch cost as much as the copies. */
		switch (pm->nkey) {
		case 6: KEYW(5); /* fall through */
		case 5: KEYW(4); /* fall through */
		case 4: KEYW(3); /* fall through */
		case 3: KEYW(2); /* fall through */
		case 2: KEYW(1); /* fall through */
		case 1: KEYW(0); /* fall through */
		case 0: break;
		default:
			for (uint32_t k = 0; k < pm->nkey; k++)
				KEYW(k);
		}
#undef KEYW
		n = 8 * (size_t)pm->nkey;
		uint64_t part = ev->partial;	/* one word store, as above */
		memcpy(key + n, &part, 8);
		*klen = n + 8;
		return true;
	}
	if (pm->key_fetch) {
		/* One fetched string, in the layout vsp_fp_cache_find_str()
		 * reads from the string itself: the length with the partial
		 * flag (read after the fetch), the tail, the whole words. */
		struct vsp_str s = vsp_vm_fetch_str_bit(ev, (enum vsp_field)pm->key[0],
						    pm->key_str);
		size_t full = s.len & ~(size_t)7;
		uint64_t head = s.len | (uint64_t)ev->partial << 32;
		uint64_t tail = s.len & 7 ? vsp_fp_str_tail(s.ptr + full, s.len & 7, full) : 0;

		if (16 + full > VSP_CACHE_KEY_MAX)
			return false;
		memcpy(key, &head, 8);
		memcpy(key + 8, &tail, 8);
		for (size_t i = 0; i < full; i += 8) {
			uint64_t w;

			memcpy(&w, s.ptr + i, 8);
			memcpy(key + 16 + i, &w, 8);
		}
		*klen = 16 + full;
		return true;
	}
	for (uint32_t k = 0; k < pm->nkey; k++) {
		enum vsp_field f = pm->key[k];

		if (f == VSP_F_STACK) {
			uint64_t has = ev->has_stack && ev->stack;
			uint32_t ns = has ? ev->nstack : 0;

			if (!key_word(key, &n, has | (uint64_t)ns << 8))
				return false;
			for (uint32_t i = 0; i < ns; i++) {
				const char *s = ev->stack[i] ? ev->stack[i] : "";

				if (!key_str(key, &n, s, strlen(s)))
					return false;
			}
		} else if (pm->key_str & VSP_FBIT(f)) {
			struct vsp_str s = vsp_vm_field_str(ev, f);

			if (!key_str(key, &n, s.ptr, s.len))
				return false;
		} else {
			/* A resolved integer is fetched like a string. */
			if (vsp_field_is_rint(f))
				(void)vsp_vm_fetch_str(ev, f);
			if (!key_word(key, &n, (uint64_t)vsp_vm_field_int(ev, f)))
				return false;
		}
	}
	/* After the fetches above, so it says whether any of them failed. */
	if (!key_word(key, &n, ev->partial))
		return false;
	*klen = n;
	return true;
}

static void pack(const struct vsp_prog *pr, const struct vsp_decision *d,
		 struct cval *v)
{
	uint32_t j = 0;

	memset(v, 0, sizeof(*v));
	v->verdict = (uint32_t)d->verdict;
	v->flagged = d->flagged;
	v->partial = d->partial;
	v->rule = d->rule;
	v->value = d->value;
	v->redir = d->redirect.ptr;
	v->redir_len = d->redirect.len;
	v->dropped = d->fired_dropped;
	/* Sites run in pc order and each at most once: match greedily. */
	for (uint32_t i = 0, l = 0; i < d->nfired || l < d->nlearn;) {
		for (; j < pr->nsites; j++) {
			const struct vsp_site *s = &pr->sites[j];

			if (i < d->nfired && s->effect == d->fired[i].effect &&
			    s->rule == d->fired[i].rule) {
				i++;
				break;
			}
			if (l < d->nlearn && s->effect == VSP_SITE_LEARN &&
			    s->rule == d->learn_rule[l]) {
				l++;
				break;
			}
		}
		if (j >= pr->nsites)
			break;
		v->sites |= 1ull << j;
		j++;
	}
}

static inline __attribute__((always_inline)) void unpack(const struct vsp_prog *pr,
							 const struct cval *v,
							 struct vsp_decision *d)
{
	uint64_t sites = v->sites;

	/* verdict, rule, value and redirect in one copy (the bytes of
	 * flagged and partial land in the redirect's padding). */
	memcpy(d, v, CVAL_HEAD);
	d->flagged = v->flagged;
	d->partial = v->partial;
	d->nfired = d->nlearn = 0;
	d->fired_dropped = 0;
	/* Only the sites that fired: most decisions fire none. */
	while (sites) {
		unsigned j = (unsigned)__builtin_ctzll(sites);
		const struct vsp_site *s = &pr->sites[j];

		sites &= sites - 1;
		if (s->effect == VSP_SITE_LEARN) {
			if (d->nlearn < VSP_MAX_LEARN)
				d->learn_rule[d->nlearn++] = s->rule;
		} else if (d->nfired < VSP_MAX_FIRED) {
			d->fired[d->nfired++] = (struct vsp_fired){ s->rule, s->effect };
		} else {
			d->fired_dropped++;
		}
	}
	d->cached = true;
	d->steps = 0;
}

/* ---- deciding ------------------------------------------------------------ */

const char *vsp_fail_policy_name(enum vsp_fail_policy f)
{
	static const char *const names[] = { "rules", "default", "closed", "open" };

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "rules";
}

int vsp_fail_policy_parse(const char *s, enum vsp_fail_policy *out)
{
	for (int f = VSP_FAIL_RULES; f <= VSP_FAIL_OPEN; f++)
		if (strcmp(s, vsp_fail_policy_name((enum vsp_fail_policy)f)) == 0) {
			*out = (enum vsp_fail_policy)f;
			return 0;
		}
	return -1;
}

/*
 * The run's failure policy, for a decision made on inputs that could not
 * be read in full.  The effects that fired stay (they describe what the
 * rules saw); the verdict is replaced.  Rare, so out of line.
 */
static __attribute__((noinline)) void fail_out(const struct vsp_policy *p,
					       struct vsp_decision *out)
{
	out->verdict = p->fail_dec.verdict;
	out->rule = -1;
	out->value = p->fail_dec.value;
	out->redirect = p->fail_dec.redirect;
	out->nlearn = 0;
	out->partial = true;
	out->failed = true;
}

static inline __attribute__((always_inline)) void account(struct vsp_policy *p,
							  const struct vsp_decision *d)
{
	const struct vsp_image *im = p->im;
	int64_t prev = -1;

	if ((unsigned)d->verdict < VSP_V_COUNT)
		p->st.decisions[d->verdict]++;
	/* Branches, not additions of 0: rarely taken, and an addition would
	 * be one more read-modify-write on every decision. */
	if (__builtin_expect(d->flagged, 0))
		p->st.flagged++;
	if (__builtin_expect(d->partial, 0))
		p->st.partial++;
	for (uint32_t i = 0; i < d->nfired; i++) {
		uint32_t r = d->fired[i].rule, e = d->fired[i].effect;

		if (r != prev && r < im->nrules) {
			p->rule_hits[r]++;
			prev = r;
		}
		if (e < im->neffects && im->effect_counter[e] >= 0)
			p->counters[im->effect_counter[e]]++;
	}
	if (d->rule >= 0 && d->rule != prev && (uint32_t)d->rule < im->nrules)
		p->rule_hits[d->rule]++;
}

/* A constant decision: the head of the struct in one copy, the counts
 * and flags after it, and fired[] and learn_rule[] only up to their
 * counts; the 300-odd bytes past them are never read, so never written. */
static inline void const_out(const struct vsp_decision *c, const struct vsp_event *ev,
			     struct vsp_decision *out)
{
	memcpy(out, c, offsetof(struct vsp_decision, fired));
	out->nlearn = c->nlearn;
	out->flagged = c->flagged;
	out->partial = ev->partial;
	out->cached = false;
	out->steps = 0;
}

static void run_prog(struct vsp_policy *p, const struct vsp_prog *pr,
		     const struct pmode *pm, struct vsp_event *ev,
		     struct vsp_decision *out)
{
	if (pm->run == RUN_FUSED)
		vsp_vm_run_fused(p->im, pr, &p->scratch, ev, out);
	else
		vsp_vm_run(p->im, pr, &p->scratch, ev, out);
	p->st.interpreted++;
}

/* After every decision but a plain constant: the failure policy and the
 * statistics. */
static inline __attribute__((always_inline)) void finish(struct vsp_policy *p, uint32_t pi,
							 struct vsp_event *ev,
							 struct vsp_decision *out)
{
	out->failed = false;
	if (__builtin_expect(p->fail != VSP_FAIL_RULES, 0) &&
	    (out->partial || (ev->stack_partial &&
			      p->im->progs[pi].reads_stack_path)))
		fail_out(p, out);
	account(p, out);
}

/* A miss: the program runs, and its decision is stored under the key
 * when the key could be built. */
static inline void run_and_store(struct vsp_policy *p, uint32_t pi,
				 const struct pmode *pm, struct vsp_event *ev,
				 const uint8_t *key, size_t klen, bool keyed,
				 struct vsp_decision *out)
{
	const struct vsp_prog *pr = &p->im->progs[pi];
	struct cval cv;

	run_prog(p, pr, pm, ev, out);
	p->st.cache_misses++;
	/* A decision that lost effects cannot be replayed whole; one whose
	 * extern call failed (a timeout) is not the function's answer. */
	if (keyed && !out->fired_dropped && !p->scratch.ext_failed) {
		pack(pr, out, &cv);
		vsp_fp_cache_put(p->cache, pi, key, klen, &cv, sizeof(cv));
	}
}

/* The cached path of keys built in a buffer, inlined into decide_slow(). */
static inline void decide_cached(struct vsp_policy *p, uint32_t pi,
				 const struct pmode *pm, struct vsp_event *ev,
				 struct vsp_decision *out)
{
	_Alignas(8) uint8_t key[VSP_CACHE_KEY_MAX];
	size_t klen = 0;
	const struct cval *hit;
	bool keyed = false;

	if (pm->key_ints && pm->nkey <= 7) {
		/* A few integer fields: hashed and compared where they are
		 * in the event; the key is built only on a miss. */
		uint64_t part = ev->partial;

		hit = vsp_fp_cache_find_words(p->cache, pi, ev, pm->key_off, pm->nkey, part);
		if (!hit)
			keyed = build_key(pm, ev, key, &klen);
	} else {
		keyed = build_key(pm, ev, key, &klen);
		hit = keyed ? vsp_fp_cache_find(p->cache, pi, key, klen) : NULL;
	}
	if (hit) {
		unpack(&p->im->progs[pi], hit, out);
		p->st.cache_hits++;
		return;
	}
	run_and_store(p, pi, pm, ev, key, klen, keyed, out);
}

/* Everything but a plain constant verdict and a key of one fetched
 * string, out of line so the hot entry below saves no registers and sets
 * up no frame. */
static __attribute__((noinline)) void decide_slow(struct vsp_policy *p, uint32_t pi,
						  struct vsp_event *ev,
						  struct vsp_decision *out)
{
	const struct pmode *pm = &p->pm[pi];

	if (pm->run == RUN_CONST) {
		const_out(&pm->dec, ev, out);
		p->st.const_verdicts++;
		for (uint32_t i = 0; i < pm->dec.nfired; i++)
			out->fired[i] = pm->dec.fired[i];
		for (uint32_t i = 0; i < pm->dec.nlearn; i++)
			out->learn_rule[i] = pm->dec.learn_rule[i];
	} else if (pm->cacheable) {
		decide_cached(p, pi, pm, ev, out);
	} else {
		run_prog(p, &p->im->progs[pi], pm, ev, out);
	}
	finish(p, pi, ev, out);
}

/* A miss on a key of one fetched string: the key is built only now, to
 * store the decision.  Out of line, so the hit below needs no buffer. */
static __attribute__((noinline)) void decide_str_miss(struct vsp_policy *p, uint32_t pi,
						      struct vsp_event *ev,
						      struct vsp_decision *out)
{
	const struct pmode *pm = &p->pm[pi];
	_Alignas(8) uint8_t key[VSP_CACHE_KEY_MAX];
	size_t klen = 0;
	bool keyed = build_key(pm, ev, key, &klen);

	run_and_store(p, pi, pm, ev, key, klen, keyed, out);
	finish(p, pi, ev, out);
}

/*
 * A program whose only input is one string the backend fetches (a path, a
 * string argument): the cache reads the words of the key from the string
 * itself (vsp_fp_cache_find_str), so a hit builds no key and this path
 * keeps no buffer.  The partial flag is read after the fetch, as in
 * build_key().  A hit is counted in instructions: the core runs this near
 * its full width.
 */
static __attribute__((noinline)) void decide_str(struct vsp_policy *p, uint32_t pi,
						 struct vsp_event *ev,
						 struct vsp_decision *out)
{
	const struct pmode *pm = &p->pm[pi];
	struct vsp_str s = vsp_vm_fetch_str_bit(ev, (enum vsp_field)pm->key[0],
						    pm->key_str);
	const struct cval *hit = vsp_fp_cache_find_str(p->cache, pi, s.ptr, s.len,
						       ev->partial);

	if (__builtin_expect(!hit, 0)) {
		decide_str_miss(p, pi, ev, out);
		return;
	}
	unpack(&p->im->progs[pi], hit, out);
	p->st.cache_hits++;
	finish(p, pi, ev, out);
}

static void decide_prog(struct vsp_policy *p, uint32_t pi, struct vsp_event *ev,
			struct vsp_decision *out);

/* Events other than syscalls: a hash probe on the name, then as below. */
static __attribute__((noinline)) void decide_named(struct vsp_policy *p,
						   struct vsp_event *ev,
						   struct vsp_decision *out)
{
	decide_prog(p, vsp_fp_dispatch_find(&p->disp, ev), ev, out);
}

bool vsp_policy_names(const struct vsp_policy *p, const struct vsp_event *ev)
{
	return vsp_fp_dispatch_find(&p->disp, ev) != 0;
}

void vsp_decide(struct vsp_policy *p, struct vsp_event *ev,
		struct vsp_decision *out)
{
	/* Syscalls are nearly every event: their table is read inline, and
	 * nothing on their way calls a function, so no registers are saved. */
	if (__builtin_expect(ev->kind != VSP_EV_SYSCALL, 0)) {
		decide_named(p, ev, out);
		return;
	}
	decide_prog(p, vsp_fp_dispatch_sys(&p->disp, ev->nr), ev, out);
}

static inline __attribute__((always_inline)) void decide_prog(struct vsp_policy *p,
							      uint32_t pi,
							      struct vsp_event *ev,
							      struct vsp_decision *out)
{
	struct pmode *pm = &p->pm[pi];

	/*
	 * One counter, per program, is all the statistics a plain constant
	 * verdict needs: vsp_policy_stats() turns them into decisions by
	 * verdict, constant verdicts and events.  Every other counter would
	 * be one more read-modify-write on the path.
	 */
	if (__builtin_expect(pm->plain, 1)) {
		memcpy(out, pm->head, DEC_HEAD);
		out->nlearn = 0;
		out->flagged = false;
		out->partial = ev->partial;
		out->failed = false;
		out->cached = false;
		out->steps = 0;
		pm->nplain++;
		if (__builtin_expect(ev->partial, 0))
			p->st.partial++;
		return;
	}
	if (pm->key_fetch)
		decide_str(p, pi, ev, out);
	else
		decide_slow(p, pi, ev, out);
}

/* ---- message templates --------------------------------------------------- */

static bool key_matches_ref(const struct vsp_event_key *k,
			    const struct vsp_event_ref *r)
{
	if (k->kind != r->kind)
		return false;
	if (k->kind == VSP_EV_SYSCALL || k->kind == VSP_EV_HYPERCALL)
		return k->nr == r->nr;
	if (!k->name || !r->name || strcmp(k->name, r->name))
		return false;
	return k->kind != VSP_EV_USER || (!k->lib == !r->lib &&
					  (!k->lib || !strcmp(k->lib, r->lib)));
}

static int parse_template(struct vsp_policy *p, const struct vsp_unit *u,
			  uint32_t e)
{
	const struct vsp_effect_info *ei = &p->im->effects[e];
	const struct vsp_rule *r = u->rules[ei->rule];
	struct tmpl *t = &p->tm[e];
	const char *s = ei->text;

	if (!s || ei->kind == VSP_EFF_COUNT_)
		return 0;
	while (*s) {
		const char *open = strstr(s, "%{"), *close = open ? strchr(open, '}') : NULL;
		struct seg *sg;
		void *nv = realloc(t->segs, (t->nsegs + 2) * sizeof(*t->segs));

		if (!nv)
			return -1;
		t->segs = nv;
		if (!open || !close) {
			t->segs[t->nsegs++] = (struct seg){ s, (uint32_t)strlen(s), false, 0, NULL };
			break;
		}
		if (open > s)
			t->segs[t->nsegs++] = (struct seg){ s, (uint32_t)(open - s), false, 0, NULL };
		sg = &t->segs[t->nsegs++];
		*sg = (struct seg){ open + 2, (uint32_t)(close - open - 2), true, 0, NULL };
		sg->res = calloc(r->nevents ? r->nevents : 1, sizeof(*sg->res));
		if (!sg->res)
			return -1;
		for (size_t j = 0; j < r->nevents; j++) {
			char name[128];
			enum vsp_field f;
			enum vsp_type ty;

			if (sg->len >= sizeof(name))
				break;
			memcpy(name, sg->text, sg->len);
			name[sg->len] = 0;
			if (vsp_field_resolve(&r->events[j], name, &f, &ty))
				continue;
			for (uint32_t pi = 1; pi < p->im->nprogs; pi++)
				if (key_matches_ref(&p->im->progs[pi].key, &r->events[j])) {
					sg->res[sg->nres].prog = pi;
					sg->res[sg->nres++].f = f;
					break;
				}
		}
		s = close + 1;
	}
	return 0;
}

static void out_put(char *buf, size_t size, size_t *at, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++, (*at)++)
		if (*at + 1 < size)
			buf[*at] = s[i];
}

size_t vsp_policy_format(const struct vsp_policy *p, uint32_t effect,
			 struct vsp_event *ev, char *buf, size_t size)
{
	const struct tmpl *t;
	uint32_t pi;
	size_t at = 0;

	if (size)
		buf[0] = 0;
	if (effect >= p->im->neffects)
		return 0;
	t = &p->tm[effect];
	pi = vsp_fp_dispatch_find(&p->disp, ev);
	for (uint32_t i = 0; i < t->nsegs; i++) {
		const struct seg *sg = &t->segs[i];
		char tmp[4096];
		int n;
		bool done = false;

		if (!sg->is_field) {
			out_put(buf, size, &at, sg->text, sg->len);
			continue;
		}
		for (uint32_t k = 0; k < sg->nres && !done; k++) {
			enum vsp_field f = sg->res[k].f;

			if (sg->res[k].prog != pi)
				continue;
			done = true;
			switch (vsp_field_type(f)) {
			case VSP_T_STRING: {
				struct vsp_str s = vsp_vm_field_str(ev, f);

				out_put(buf, size, &at, s.ptr, s.len);
				break;
			}
			case VSP_T_BOOL:
				n = snprintf(tmp, sizeof(tmp), "%s",
					     vsp_vm_field_int(ev, f) ? "true" : "false");
				out_put(buf, size, &at, tmp, (size_t)n);
				break;
			case VSP_T_LIST_STRING:
				if (ev->has_stack && ev->stack) {
					size_t w = vsp_fp_path_format(ev->stack, ev->nstack,
								      tmp, sizeof(tmp));
					out_put(buf, size, &at, tmp,
						w < sizeof(tmp) ? w : sizeof(tmp) - 1);
				}
				break;
			default:
				/* A resolved integer is fetched like a string. */
				if (vsp_field_is_rint(f))
					(void)vsp_vm_fetch_str(ev, f);
				if (vsp_field_is_word(f))
					n = snprintf(tmp, sizeof(tmp), "0x%llx",
						     (unsigned long long)vsp_vm_field_int(ev, f));
				else
					n = snprintf(tmp, sizeof(tmp), "%lld",
						     (long long)vsp_vm_field_int(ev, f));
				out_put(buf, size, &at, tmp, (size_t)n);
			}
		}
		if (!done) {
			/* Not a field of this event: keep the text as written. */
			out_put(buf, size, &at, "%{", 2);
			out_put(buf, size, &at, sg->text, sg->len);
			out_put(buf, size, &at, "}", 1);
		}
	}
	if (size)
		buf[at < size ? at : size - 1] = 0;
	return at;
}

/* ---- learn mode ---------------------------------------------------------- */

static int profile_add(struct profile *pf, const char *line)
{
	size_t lo = 0, hi = pf->n;
	char *copy;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(pf->lines[mid], line);

		if (!c)
			return 0;	/* known */
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pf->n == pf->cap) {
		size_t cap = pf->cap ? 2 * pf->cap : 16;
		char **nv = realloc(pf->lines, cap * sizeof(*nv));

		if (!nv)
			return -1;
		pf->lines = nv;
		pf->cap = cap;
	}
	copy = strdup(line);
	if (!copy)
		return -1;
	memmove(pf->lines + lo + 1, pf->lines + lo, (pf->n - lo) * sizeof(*pf->lines));
	pf->lines[lo] = copy;
	pf->n++;
	return 1;
}

struct prof_read {
	struct profile *pf;
	FILE *diag;
};

static int prof_read_line(void *arg, int lineno, const char *text)
{
	struct profile *pf = ((struct prof_read *)arg)->pf;

	if (*text == '#') {
		char **nv = realloc(pf->comments, (pf->ncom + 1) * sizeof(*nv));

		if (!nv)
			return -1;
		pf->comments = nv;
		if (!(nv[pf->ncom] = strdup(text)))
			return -1;
		pf->ncom++;
		return 0;
	}
	return profile_add(pf, text) < 0 ? -1 : 0;
}

static void prof_read_bad(void *arg, int lineno, const char *msg)
{
	struct prof_read *pr = arg;

	if (!pr->diag)
		return;
	if (lineno)
		fprintf(pr->diag, "vsp: %s:%d: %s\n", pr->pf->path, lineno, msg);
	else
		fprintf(pr->diag, "vsp: %s: %s\n", pr->pf->path, msg);
}

/* Reads what the file holds into the profile, once.  A file with a bad
 * line is left as it is: neither appended to nor rewritten. */
static int profile_load(struct profile *pf, FILE *diag)
{
	struct prof_read pr = { pf, diag };
	struct vsp_fp_profile_cb cb = { prof_read_line, prof_read_bad, &pr, true };
	int r;

	if (pf->loaded)
		return pf->bad ? -1 : 0;
	r = vsp_fp_profile_read(pf->path, &cb);
	if (r < 0 && errno != ENOENT)
		return -1;
	pf->loaded = true;
	if (r > 0) {
		pf->bad = true;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Appends one learned line and syncs it, so a monitor killed at any point
 * keeps every path it learned.  The file is opened on the first new line
 * and a last line without its newline gets one first. */
static int profile_append(struct profile *pf, const char *line)
{
	size_t n = strlen(line);
	char *rec;
	ssize_t w;
	int e;

	if (pf->fd < 0) {
		struct stat sb;
		char last = '\n';

		pf->fd = open(pf->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
			      O_NONBLOCK | O_NOCTTY, 0644);
		if (pf->fd < 0)
			return -1;
		if (fstat(pf->fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    (sb.st_size > 0 &&
		     pread(pf->fd, &last, 1, sb.st_size - 1) != 1)) {
			e = errno ? errno : EINVAL;
			close(pf->fd);
			pf->fd = -1;
			errno = e;
			return -1;
		}
		if (last != '\n' && write(pf->fd, "\n", 1) != 1)
			return -1;
	}
	rec = malloc(n + 1);
	if (!rec)
		return -1;
	memcpy(rec, line, n);
	rec[n] = '\n';
	w = write(pf->fd, rec, n + 1);	/* one write: no torn line beside others */
	e = errno;
	free(rec);
	if (w != (ssize_t)(n + 1)) {
		errno = w < 0 ? e : ENOSPC;
		return -1;
	}
	return fdatasync(pf->fd);
}

int vsp_policy_learn(struct vsp_policy *p, uint32_t rule,
		     const struct vsp_event *ev)
{
	char buf[VSP_FP_PROFILE_LINE_MAX + 2];
	struct profile *pf;
	size_t n;

	if (rule >= p->im->nrules || p->rule_prof[rule] < 0) {
		errno = EINVAL;
		return -1;
	}
	if (!ev->has_stack || !ev->stack || ev->nstack < 2)
		return 0;	/* no call path to learn */
	n = vsp_fp_path_format(ev->stack + 1, ev->nstack - 1, buf, sizeof(buf));
	if (n > VSP_FP_PROFILE_LINE_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	pf = &p->prof[p->rule_prof[rule]];
	if (profile_load(pf, NULL) < 0)
		return -1;
	switch (profile_add(pf, buf)) {
	case 0:
		return 0;
	case 1:
		return profile_append(pf, buf);
	default:
		errno = ENOMEM;
		return -1;
	}
}

/* Rewrites the file sorted, comments first, through a temporary file and
 * a rename, so it is whole at every instant; every learned line is in it
 * already (profile_append), this only tidies. */
static int save_one(struct profile *pf, FILE *diag)
{
	char *tmp = NULL;
	FILE *out = NULL;
	int fd = -1, rc = -1;
	struct stat sb;
	bool have_mode = stat(pf->path, &sb) == 0;
	mode_t mode = have_mode ? (sb.st_mode & 07777) : 0644;

	if (profile_load(pf, diag) < 0) {
		if (pf->bad && diag)
			fprintf(diag, "vsp: profile %s has bad lines: left as it is\n",
				pf->path);
		if (pf->bad)
			return -1;
		goto out;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", pf->path) < 0) {
		tmp = NULL;
		goto out;
	}
	fd = mkstemp(tmp);
	/* mkstemp makes 0600; keep the old file's mode, or the usual 0644. */
	if (fd < 0 || fchmod(fd, have_mode ? mode : 0644) || !(out = fdopen(fd, "w")))
		goto out;
	fd = -1;
	for (size_t i = 0; i < pf->ncom; i++)
		fprintf(out, "%s\n", pf->comments[i]);
	for (size_t i = 0; i < pf->n; i++)
		fprintf(out, "%s\n", pf->lines[i]);
	if (fflush(out) || fsync(fileno(out)) || fclose(out)) {
		out = NULL;
		unlink(tmp);
		goto out;
	}
	out = NULL;
	if (rename(tmp, pf->path)) {
		unlink(tmp);
		goto out;
	}
	if (pf->fd >= 0) {	/* it names the old file now */
		close(pf->fd);
		pf->fd = -1;
	}
	rc = 0;
out:
	if (rc && diag)
		fprintf(diag, "vsp: cannot write profile %s: %s\n", pf->path, strerror(errno));
	if (out) {
		fclose(out);
		unlink(tmp);
	}
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

int vsp_policy_save_profiles(struct vsp_policy *p, FILE *diag)
{
	int rc = 0;

	for (size_t i = 0; i < p->nprof; i++)
		if (save_one(&p->prof[i], diag))
			rc = -1;
	return rc;
}

static int setup_profiles(struct vsp_policy *p)
{
	const struct vsp_image *im = p->im;

	p->rule_prof = malloc((im->nrules ? im->nrules : 1) * sizeof(*p->rule_prof));
	if (!p->rule_prof)
		return -1;
	for (uint32_t r = 0; r < im->nrules; r++) {
		const char *path = im->rules[r].profile;
		size_t k;

		p->rule_prof[r] = -1;
		if (!path)
			continue;
		for (k = 0; k < p->nprof; k++)
			if (!strcmp(p->prof[k].path, path))
				break;
		if (k == p->nprof) {
			struct profile *nv = realloc(p->prof, (k + 1) * sizeof(*nv));

			if (!nv)
				return -1;
			p->prof = nv;
			memset(&p->prof[k], 0, sizeof(p->prof[k]));
			p->prof[k].fd = -1;
			p->prof[k].path = strdup(path);
			if (!p->prof[k].path)
				return -1;
			p->nprof++;
		}
		p->rule_prof[r] = (int32_t)k;
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------- */

/* The verdict a failed decision gets: for `default`, what the default
 * program (which reads nothing) decides. */
static void set_fail(struct vsp_policy *p, enum vsp_fail_policy f)
{
	struct vsp_decision *d = &p->fail_dec;

	p->fail = f;
	memset(d, 0, sizeof(*d));
	d->rule = -1;
	switch (f) {
	case VSP_FAIL_DEFAULT: {
		struct vsp_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.name = "";
		vsp_vm_run(p->im, &p->im->progs[0], &p->scratch, &ev, d);
		break;
	}
	case VSP_FAIL_CLOSED:
		d->verdict = VSP_V_DENY;
		d->value = EPERM;
		break;
	default:
		d->verdict = VSP_V_ALLOW;
		break;
	}
}

static int prepare(struct vsp_policy *p, const struct vsp_load_opts *o, FILE *diag)
{
	struct vsp_image *im = p->im;
	char err[256];
	bool need_cache = false;

	p->pm = calloc(im->nprogs, sizeof(*p->pm));
	p->rule_hits = calloc(im->nrules ? im->nrules : 1, sizeof(*p->rule_hits));
	p->counters = calloc(im->ncounters ? im->ncounters : 1, sizeof(*p->counters));
	if (!p->pm || !p->rule_hits || !p->counters)
		return -1;
	for (uint32_t i = 0; i < im->nprogs; i++) {
		struct vsp_prog *pr = &im->progs[i];

		if (vsp_verify(im, pr, err, sizeof(err))) {
			fprintf(diag, "vsp: internal error: the program for %s %s does not verify: %s\n",
				pr->is_default ? "the" : vsp_event_kind_name(pr->key.kind),
				pr->is_default ? "default" : pr->key.name ? pr->key.name : "?",
				err);
			return -1;
		}
		pr->key.reads = pr->reads;
		pr->key.max_steps = pr->max_steps;
	}
	if (vsp_vm_scratch_init(&p->scratch, im) || vsp_fp_dispatch_init(&p->disp, im))
		return -1;
	for (uint32_t i = 0; i < im->nprogs; i++) {
		struct vsp_prog *pr = &im->progs[i];
		struct pmode *pm = &p->pm[i];

		/* A program that calls an impure extern runs every time: no
		 * constant verdict, no cache (language.md, "Extern functions"). */
		if (!o->no_fastpath && pr->reads == 0 && !pr->impure) {
			/* Reads nothing of the event: decide once, now. */
			struct vsp_event ev;

			memset(&ev, 0, sizeof(ev));
			vsp_vm_run(im, pr, &p->scratch, &ev, &pm->dec);
			pm->run = RUN_CONST;
			pm->dec.steps = 0;
			pm->plain = pm->dec.nfired == 0 && pm->dec.nlearn == 0 &&
				    pm->dec.rule < 0 && !pm->dec.flagged &&
				    pm->dec.fired_dropped == 0 &&
				    (unsigned)pm->dec.verdict < VSP_V_COUNT;
			pm->verdict = (uint8_t)pm->dec.verdict;
			memcpy(pm->head, &pm->dec, DEC_HEAD);
			continue;
		}
		pm->run = RUN_VM;
		if (vsp_vm_specialise(im, pr))
			return -1;
		if (!o->no_fastpath && pr->fops)
			pm->run = RUN_FUSED;
		/*
		 * The cache where it pays: a hit costs a key, a hash and a copy
		 * (10-15 ns), so a short program that only compares and
		 * fires nothing decides faster than it is looked up.
		 * Everything else (matchers, glob loops, path sets, effects,
		 * long programs) is worth a lookup.
		 */
		pm->cacheable = !o->no_cache && pr->nsites <= 64 && !pr->impure &&
				!(!pr->costly && pr->nsites == 0 &&
				  pr->max_steps <= CACHE_MIN_STEPS);
		pm->key_ints = true;
		for (unsigned f = 0; f < VSP_F_COUNT; f++) {
			/* event.partial is keyed by the fetches, below the rest */
			if (!(pr->reads & VSP_FBIT(f)) || f == VSP_F_EVENT_PARTIAL)
				continue;
			pm->key[pm->nkey++] = (uint8_t)f;
			if (vsp_field_type(f) == VSP_T_STRING)
				pm->key_str |= VSP_FBIT(f);
			if (vsp_vm_field_offset(f) < 0)
				pm->key_ints = false;
			else
				pm->key_off[pm->nkey - 1] = (uint16_t)vsp_vm_field_offset(f);
		}
		/* A key of plain words fits whole (a word each, one for partial). */
		if (pm->key_ints && pm->nkey * 8u + 8 > VSP_CACHE_KEY_MAX)
			pm->key_ints = false;
		pm->key_fetch = pm->cacheable && pm->nkey == 1 &&
				((pm->key[0] >= VSP_F_STR0 && pm->key[0] <= VSP_F_STR5) ||
				 pm->key[0] == VSP_F_PATH);
		need_cache |= pm->cacheable;
	}
	if (need_cache) {
		p->cache = vsp_fp_cache_new(o->cache_entries);
		if (!p->cache)
			return -1;
	}
	return setup_profiles(p);
}

/* vsp_eval's unit: the last rule alone (the eval text's), any type. */
static void eval_keep_last(struct vsp_unit *u)
{
	u->eval = true;
	if (u->nrules) {
		u->rules[0] = u->rules[u->nrules - 1];
		u->rules[0]->index = 0;
		u->nrules = 1;
	}
}

/* After the check: the type the eval rule returns; the files' default
 * is no answer of the expression's (so false is "no rule matched"). */
static void eval_type(struct vsp_unit *u, struct vsp_diags *d,
		      enum vsp_eval_type *out)
{
	const struct vsp_expr *e = NULL;

	u->def = NULL;
	for (size_t i = 0; u->nrules && i < u->rules[0]->nactions; i++)
		if (u->rules[0]->actions[i].kind == VSP_A_VERDICT &&
		    u->rules[0]->actions[i].verdict == VSP_V_RETURN)
			e = u->rules[0]->actions[i].value;
	if (!e) {
		if (!d->errors)
			vsp_diag_error(d, NULL, "eval: nothing to evaluate");
		return;
	}
	if (out)
		*out = e->type == VSP_T_BOOL ? VSP_EVAL_BOOL :
		       e->type == VSP_T_STRING ? VSP_EVAL_STRING : VSP_EVAL_INT;
}

/* The files' warnings were shown when they were loaded. */
static void diags_drop_warnings(struct vsp_diags *d)
{
	size_t k = 0;
	bool dropping = false;

	for (size_t i = 0; i < d->n; i++) {
		struct vsp_diag *g = &d->v[i];

		if (g->level != VSP_DIAG_NOTE)
			dropping = g->level == VSP_DIAG_WARNING;
		if (dropping) {
			free(g->msg);
			free((char *)g->loc.file);
			continue;
		}
		d->v[k++] = *g;
	}
	d->n = k;
	d->warnings = 0;
	/* The duplicate filter indexes records: built again if ever needed. */
	free(d->seen);
	d->seen = NULL;
	d->seen_size = 0;
}

struct vsp_policy *vsp_policy_load(const char *const *files, size_t nfiles,
				   const struct vsp_load_opts *opts,
				   int *nerrors)
{
	static const struct vsp_load_opts defaults = { .mode = VSP_MODE_UNSET };
	const struct vsp_load_opts *o = opts ? opts : &defaults;
	FILE *diag = o->diag ? o->diag : stderr;
	struct vsp_diags d;
	struct vsp_unit *u;
	struct vsp_policy *p = NULL;
	struct vsp_compile_opts co = { o->mode, o->no_fastpath, &o->ext };
	int errs = 0;

	struct vsp_front_text texts[VSP_LOAD_MAX_TEXTS];
	size_t ntexts = o->ntexts;
	if (ntexts > VSP_LOAD_MAX_TEXTS) {
		fprintf(diag, "vsp: %zu pieces of policy text, more than the %d "
			"one load takes\n", ntexts, VSP_LOAD_MAX_TEXTS);
		if (nerrors)
			*nerrors = 1;
		return NULL;
	}
	for (size_t i = 0; i < ntexts; i++) {
		texts[i].name = o->texts[i].name;
		texts[i].text = o->texts[i].text;
		texts[i].len = o->texts[i].len;
	}
	vsp_diags_init(&d);
	u = vsp_front_load_with(files, nfiles, texts, ntexts, &d);
	if (u) {
		d.sources = u->sources;
		d.nsources = u->nsources;
	}
	if (u && o->eval)
		eval_keep_last(u);
	/* The checker copes with items the parser dropped, so a file with
	 * syntax errors still gets its name and type errors in the same run. */
	if (u)
		vsp_check(u, &d);
	if (u && d.errors == 0 && !(o->warnings_as_errors && d.warnings)) {
		p = calloc(1, sizeof(*p));
		if (p) {
			p->no_fastpath = o->no_fastpath;
			p->im = vsp_compile(u, &co, &d);
		}
	}
	if (u && o->eval) {
		eval_type(u, &d, o->eval_type);
		diags_drop_warnings(&d);
	}
	vsp_diags_print(&d, diag);
	errs = d.errors;
	if (!u && !errs)
		errs = 1;
	if (o->warnings_as_errors && !errs && d.warnings)
		errs = d.warnings;
	if (p && p->im && !errs) {
		p->tm = calloc(p->im->neffects ? p->im->neffects : 1, sizeof(*p->tm));
		if (!p->tm)
			errs = 1;
		for (uint32_t e = 0; !errs && e < p->im->neffects; e++)
			if (parse_template(p, u, e)) {
				errs = 1;
				break;
			}
		if (!errs && prepare(p, o, diag))
			errs = 1;
		if (!errs)
			set_fail(p, o->on_partial);
	}
	vsp_diags_release(&d);
	vsp_unit_free(u);
	if (errs || !p || !p->im) {
		if (!errs)
			errs = 1;
		vsp_policy_free(p);
		p = NULL;
	}
	if (nerrors)
		*nerrors = errs;
	return p;
}

void vsp_policy_free(struct vsp_policy *p)
{
	if (!p)
		return;
	if (p->im && p->tm) {
		for (uint32_t e = 0; e < p->im->neffects; e++) {
			for (uint32_t s = 0; s < p->tm[e].nsegs; s++)
				free(p->tm[e].segs[s].res);
			free(p->tm[e].segs);
		}
	}
	free(p->tm);
	for (size_t i = 0; i < p->nprof; i++) {
		for (size_t k = 0; k < p->prof[i].n; k++)
			free(p->prof[i].lines[k]);
		free(p->prof[i].lines);
		for (size_t k = 0; k < p->prof[i].ncom; k++)
			free(p->prof[i].comments[k]);
		free(p->prof[i].comments);
		if (p->prof[i].fd >= 0)
			close(p->prof[i].fd);
		free(p->prof[i].path);
	}
	free(p->prof);
	free(p->rule_prof);
	if (p->cache)
		vsp_fp_cache_free(p->cache);
	vsp_fp_dispatch_release(&p->disp);
	vsp_vm_scratch_release(&p->scratch);
	free(p->pm);
	free(p->rule_hits);
	free(p->counters);
	vsp_image_free(p->im);
	free(p);
}

/* ---- introspection ------------------------------------------------------- */

enum vsp_mode vsp_policy_mode(const struct vsp_policy *p)
{
	return p->im->mode;
}

uint32_t vsp_policy_nrules(const struct vsp_policy *p)
{
	return p->im->nrules;
}

const struct vsp_rule_info *vsp_policy_rule(const struct vsp_policy *p,
					    uint32_t rule)
{
	return rule < p->im->nrules ? &p->im->rules[rule] : NULL;
}

const struct vsp_effect_info *vsp_policy_effect(const struct vsp_policy *p,
						uint32_t effect)
{
	return effect < p->im->neffects ? &p->im->effects[effect] : NULL;
}

uint32_t vsp_policy_nevents(const struct vsp_policy *p)
{
	return p->im->nprogs - 1;
}

const struct vsp_event_key *vsp_policy_event(const struct vsp_policy *p,
					     uint32_t i)
{
	return i + 1 < p->im->nprogs ? &p->im->progs[i + 1].key : NULL;
}

void vsp_policy_disasm(const struct vsp_policy *p, FILE *out)
{
	for (uint32_t i = 1; i < p->im->nprogs; i++)
		vsp_prog_disasm(p->im, &p->im->progs[i], out);
	vsp_prog_disasm(p->im, &p->im->progs[0], out);
}

void vsp_policy_stats(const struct vsp_policy *p, struct vsp_engine_stats *out)
{
	*out = p->st;
	for (uint32_t i = 0; i < p->im->nprogs; i++) {
		const struct pmode *pm = &p->pm[i];

		if (pm->plain) {
			out->const_verdicts += pm->nplain;
			out->decisions[pm->verdict] += pm->nplain;
		}
	}
	/* Every event is decided one of three ways; counting them there
	 * saves the hot path an increment. */
	out->events = out->const_verdicts + out->cache_hits + out->interpreted;
}

uint64_t vsp_policy_rule_hits(const struct vsp_policy *p, uint32_t rule)
{
	return rule < p->im->nrules ? p->rule_hits[rule] : 0;
}

uint32_t vsp_policy_ncounters(const struct vsp_policy *p)
{
	return p->im->ncounters;
}

const char *vsp_policy_counter(const struct vsp_policy *p, uint32_t i,
			       uint64_t *value)
{
	if (i >= p->im->ncounters)
		return NULL;
	if (value)
		*value = p->counters[i];
	return p->im->counters[i];
}
