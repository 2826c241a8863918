/*
 * pathset.c: call-path patterns for `must arise from`.
 *
 * A pattern is frames joined by "<-", innermost first: a frame is a glob
 * over one function name, `*` stands for exactly one frame and `**` for
 * any number.  A pattern matches a call path when it matches the path's
 * first frames; frames past the pattern's end are ignored, so a trailing
 * `**` adds nothing and is dropped.  An empty path matches nothing (an
 * event without a call path arises from no pattern).
 *
 * Learned profiles hold hundreds of exact paths, so patterns whose frames
 * are all plain names go into a trie of frames (edges hashed on parent and
 * name): one walk along the path answers for all of them.  Patterns with
 * wildcards are each run as a small frame automaton.  Matching allocates
 * nothing.
 */
#include "fastpath/match.h"
#include "fastpath/cache.h"
#include "fastpath/glob.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FRAMES 1024
#define SEED_F 0x6672616d65ULL

enum frame_kind { FR_NAME, FR_GLOB, FR_ONE, FR_ANY };

struct frame {
	enum frame_kind kind;
	char *text;		/* FR_NAME: the name; FR_GLOB: the glob */
	size_t len;
};

struct pattern {
	struct frame *f;
	size_t n;
};

struct edge {
	uint64_t hash;		/* of the parent and the name */
	uint32_t parent, child;	/* child 0: empty slot */
	char *name;
	size_t len;
};

struct vsp_pathset {
	struct pattern *gen;	/* patterns with wildcards */
	size_t ngen, capgen;

	struct edge *e;		/* the trie of exact frames */
	size_t emask, nedges;
	bool *terminal;		/* per node: a pattern ends here */
	size_t nnodes, capnodes;

	size_t npats;
};

struct vsp_pathset *vsp_fp_pathset_new(void)
{
	struct vsp_pathset *ps = calloc(1, sizeof *ps);
	if (!ps)
		return NULL;
	ps->e = calloc(16, sizeof *ps->e);
	ps->terminal = calloc(16, sizeof *ps->terminal);
	if (!ps->e || !ps->terminal) {
		vsp_fp_pathset_free(ps);
		return NULL;
	}
	ps->emask = 15;
	ps->nnodes = 1;		/* the root */
	ps->capnodes = 16;
	return ps;
}

static void pattern_release(struct pattern *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->f[i].text);
	free(p->f);
}

void vsp_fp_pathset_free(struct vsp_pathset *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->ngen; i++)
		pattern_release(&ps->gen[i]);
	free(ps->gen);
	if (ps->e)
		for (size_t i = 0; i <= ps->emask; i++)
			free(ps->e[i].name);
	free(ps->e);
	free(ps->terminal);
	free(ps);
}

size_t vsp_fp_pathset_size(const struct vsp_pathset *ps)
{
	return ps ? ps->npats : 0;
}

int vsp_fp_pathset_build(struct vsp_pathset *ps)
{
	/* Tables are kept ready while patterns are added. */
	return ps ? 0 : -1;
}

/* ---------------------------------------------------------------- trie */

static inline uint64_t edge_hash(uint32_t parent, const char *name,
				 size_t len)
{
	return vsp_fp_hash(name, len, SEED_F + parent);
}

static struct edge *edge_slot(struct edge *e, size_t mask, uint64_t h,
			      uint32_t parent, const char *name, size_t len)
{
	size_t i = h & mask;
	while (e[i].child && !(e[i].hash == h && e[i].parent == parent &&
			       e[i].len == len && memcmp(e[i].name, name, len) == 0))
		i = (i + 1) & mask;
	return &e[i];
}

static int trie_grow(struct vsp_pathset *ps)
{
	if (2 * (ps->nedges + 1) > ps->emask + 1) {
		size_t slots = (ps->emask + 1) * 2;
		struct edge *e = calloc(slots, sizeof *e);
		if (!e)
			return -1;
		for (size_t i = 0; i <= ps->emask; i++) {
			struct edge *o = &ps->e[i];
			if (o->child)
				*edge_slot(e, slots - 1, o->hash, o->parent,
					   o->name, o->len) = *o;
		}
		free(ps->e);
		ps->e = e;
		ps->emask = slots - 1;
	}
	if (ps->nnodes == ps->capnodes) {
		size_t cap = ps->capnodes * 2;
		bool *t = realloc(ps->terminal, cap * sizeof *t);
		if (!t)
			return -1;
		memset(t + ps->capnodes, 0, (cap - ps->capnodes) * sizeof *t);
		ps->terminal = t;
		ps->capnodes = cap;
	}
	return 0;
}

static int trie_add(struct vsp_pathset *ps, const struct pattern *p)
{
	uint32_t node = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct frame *f = &p->f[i];
		if (trie_grow(ps))
			return -1;
		uint64_t h = edge_hash(node, f->text, f->len);
		struct edge *e = edge_slot(ps->e, ps->emask, h, node, f->text, f->len);
		if (!e->child) {
			char *name = malloc(f->len + 1);
			if (!name)
				return -1;
			memcpy(name, f->text, f->len + 1);
			*e = (struct edge){ h, node, (uint32_t)ps->nnodes++, name, f->len };
			ps->nedges++;
		}
		node = e->child;
	}
	ps->terminal[node] = true;
	return 0;
}

static bool trie_match(const struct vsp_pathset *ps, const char *const *path,
		       size_t n)
{
	if (ps->terminal[0])
		return true;
	if (!ps->nedges)
		return false;
	uint32_t node = 0;
	for (size_t d = 0; d < n; d++) {
		const char *name = path[d] ? path[d] : "";
		size_t len = strlen(name);
		uint64_t h = edge_hash(node, name, len);
		const struct edge *e = edge_slot(ps->e, ps->emask, h, node, name, len);
		if (!e->child)
			return false;
		node = e->child;
		if (ps->terminal[node])
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ patterns */

static int parse_frame(const char *s, size_t len, struct frame *f,
		       const char **err)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len) {
		*err = "empty frame in call path pattern";
		return -1;
	}
	const char *gerr;
	size_t at;
	if (vsp_glob_check(s, len, &gerr, &at)) {
		*err = gerr;
		return -1;
	}
	f->text = malloc(len + 1);
	if (!f->text) {
		*err = "out of memory";
		return -1;
	}
	if (len == 1 && s[0] == '*') {
		f->kind = FR_ONE;
	} else if (len >= 2 && strspn(s, "*") >= len) {
		f->kind = FR_ANY;
	} else if (vsp_glob_shape(s, len, f->text, &f->len) == VSP_GLOB_LITERAL) {
		f->kind = FR_NAME;
		f->text[f->len] = '\0';
		return 0;
	} else {
		f->kind = FR_GLOB;
	}
	memcpy(f->text, s, len);
	f->text[len] = '\0';
	f->len = len;
	return 0;
}

static int parse_pattern(const char *s, struct pattern *p, const char **err)
{
	size_t cap = 8;
	p->n = 0;
	p->f = malloc(cap * sizeof *p->f);
	if (!p->f) {
		*err = "out of memory";
		return -1;
	}
	for (const char *at = s;;) {
		const char *arrow = strstr(at, "<-");
		size_t len = arrow ? (size_t)(arrow - at) : strlen(at);
		if (p->n == MAX_FRAMES) {
			*err = "too many frames in call path pattern";
			goto fail;
		}
		if (p->n == cap) {
			cap *= 2;
			struct frame *nf = realloc(p->f, cap * sizeof *nf);
			if (!nf) {
				*err = "out of memory";
				goto fail;
			}
			p->f = nf;
		}
		if (parse_frame(at, len, &p->f[p->n], err))
			goto fail;
		p->n++;
		if (!arrow)
			break;
		at = arrow + 2;
	}
	/* Frames past the end are ignored anyway: a final `**` is moot. */
	while (p->n && p->f[p->n - 1].kind == FR_ANY)
		free(p->f[--p->n].text);
	return 0;
fail:
	pattern_release(p);
	p->f = NULL;
	p->n = 0;
	return -1;
}

int vsp_fp_pathset_add(struct vsp_pathset *ps, const char *pattern,
		       const char **err)
{
	const char *dummy;
	if (!err)
		err = &dummy;
	if (!ps || !pattern) {
		*err = "no pattern";
		return -1;
	}
	struct pattern p;
	if (parse_pattern(pattern, &p, err))
		return -1;
	bool exact = true;
	for (size_t i = 0; i < p.n; i++)
		exact &= p.f[i].kind == FR_NAME;
	if (exact) {
		int r = trie_add(ps, &p);
		pattern_release(&p);
		if (r) {
			*err = "out of memory";
			return -1;
		}
		ps->npats++;
		return 0;
	}
	if (ps->ngen == ps->capgen) {
		size_t cap = ps->capgen ? ps->capgen * 2 : 8;
		struct pattern *ng = realloc(ps->gen, cap * sizeof *ng);
		if (!ng) {
			pattern_release(&p);
			*err = "out of memory";
			return -1;
		}
		ps->gen = ng;
		ps->capgen = cap;
	}
	ps->gen[ps->ngen++] = p;
	ps->npats++;
	return 0;
}

static bool frame_match(const struct frame *f, const char *name)
{
	switch (f->kind) {
	case FR_ONE:
	case FR_ANY:
		return true;
	case FR_NAME:
		return strcmp(f->text, name) == 0;
	case FR_GLOB:
		return vsp_glob_match(f->text, f->len, name, strlen(name));
	}
	return false;
}

static inline bool live(const uint64_t *s, size_t i)
{
	return (s[i >> 6] >> (i & 63)) & 1;
}

static inline void mark(uint64_t *s, size_t i)
{
	s[i >> 6] |= (uint64_t)1 << (i & 63);
}

/* `**` may stand for no frame: its successor is live with it.  Successors
 * lie ahead, so one ascending pass closes chains of `**`. */
static void close_any(const struct pattern *p, uint64_t *s)
{
	for (size_t i = 0; i < p->n; i++)
		if (live(s, i) && p->f[i].kind == FR_ANY)
			mark(s, i + 1);
}

/* State i: the first i frames of the pattern are matched; reaching state
 * n means the pattern matched (the rest of the path is ignored). */
static bool pattern_match(const struct pattern *p, const char *const *path,
			  size_t n)
{
	uint64_t a[MAX_FRAMES / 64 + 1], b[MAX_FRAMES / 64 + 1];
	size_t words = p->n / 64 + 1;
	uint64_t *cur = a, *next = b;
	memset(cur, 0, words * sizeof *cur);
	mark(cur, 0);
	close_any(p, cur);
	for (size_t d = 0;; d++) {
		if (live(cur, p->n))
			return true;
		if (d == n)
			return false;
		const char *name = path[d] ? path[d] : "";
		bool any = false;
		memset(next, 0, words * sizeof *next);
		for (size_t i = 0; i < p->n; i++) {
			if (!live(cur, i) || !frame_match(&p->f[i], name))
				continue;
			mark(next, p->f[i].kind == FR_ANY ? i : i + 1);
			any = true;
		}
		if (!any)
			return false;
		close_any(p, next);
		uint64_t *t = cur;
		cur = next;
		next = t;
	}
}

bool vsp_fp_pathset_match(const struct vsp_pathset *ps,
			  const char *const *path, size_t n)
{
	if (!ps || !path || n == 0)
		return false;
	if (trie_match(ps, path, n))
		return true;
	for (size_t i = 0; i < ps->ngen; i++)
		if (pattern_match(&ps->gen[i], path, n))
			return true;
	return false;
}

size_t vsp_fp_path_format(const char *const *path, size_t n, char *buf,
			  size_t size)
{
	size_t out = 0;
#define PUT(ch)                                                              \
	do {                                                                 \
		if (out + 1 < size)                                          \
			buf[out] = (ch);                                     \
		out++;                                                       \
	} while (0)
	for (size_t d = 0; d < n; d++) {
		if (d)
			for (const char *sep = " <- "; *sep; sep++)
				PUT(*sep);
		/* Escape what the pattern language would read as a
		 * wildcard, so the path matches itself and nothing else. */
		for (const char *c = path[d] ? path[d] : ""; *c; c++) {
			if (strchr("*?[]\\", *c))
				PUT('\\');
			PUT(*c);
		}
	}
#undef PUT
	if (size)
		buf[out < size ? out : size - 1] = '\0';
	return out;
}
