/*
 * catalog.c: look-ups over the generated event catalogs.
 *
 * The tables themselves are data generated from the kernel and Xen headers
 * (base/catalog_syscalls.c, base/catalog_hypercalls.c).  The checker uses
 * these functions to resolve event and constant names and, when a name is
 * unknown, to suggest the nearest one.  None of this runs on the decision
 * path: the compiler turns every name into a number before a policy loads.
 */
#include "base/catalog.h"

#include <string.h>

static const struct vsp_call *call_by_name(const struct vsp_call *t, size_t n,
					   const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static const struct vsp_call *call_by_nr(const struct vsp_call *t, size_t n,
					 uint32_t nr)
{
	/* The tables follow the headers, which list numbers in rising order,
	 * but a scan does not depend on that. */
	for (size_t i = 0; i < n; i++)
		if (t[i].nr == nr)
			return &t[i];
	return NULL;
}

const struct vsp_call *vsp_syscall_by_name(const char *name)
{
	/* `sys_openat` and `openat` name the same event. */
	if (name && strncmp(name, "sys_", 4) == 0 &&
	    !call_by_name(vsp_syscalls, vsp_nsyscalls, name))
		name += 4;
	return call_by_name(vsp_syscalls, vsp_nsyscalls, name);
}

const struct vsp_call *vsp_syscall_by_nr(uint32_t nr)
{
	return call_by_nr(vsp_syscalls, vsp_nsyscalls, nr);
}

const struct vsp_call *vsp_hypercall_by_name(const char *name)
{
	return call_by_name(vsp_hypercalls, vsp_nhypercalls, name);
}

const struct vsp_call *vsp_hypercall_by_nr(uint32_t nr)
{
	return call_by_nr(vsp_hypercalls, vsp_nhypercalls, nr);
}

const struct vsp_call *vsp_userfn_by_name(const char *name)
{
	return call_by_name(vsp_userfns, vsp_nuserfns, name);
}

int vsp_call_path_arg(const struct vsp_call *c)
{
	if (!c || !c->has_proto)
		return -1;
	for (int i = 0; i < c->nargs && i < 6; i++)
		if (c->args[i].type == VSP_ARG_PATH)
			return i;
	return -1;
}

const struct vsp_const *vsp_const_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < vsp_nconsts; i++)
		if (strcmp(vsp_consts[i].name, name) == 0)
			return &vsp_consts[i];
	return NULL;
}

const char *vsp_errno_name(int64_t value)
{
	/* Primary names precede aliases in the table (EAGAIN before
	 * EWOULDBLOCK), so the first hit is the conventional name. */
	for (size_t i = 0; i < vsp_nconsts; i++)
		if (vsp_consts[i].cls == VSP_C_ERRNO &&
		    vsp_consts[i].value == value)
			return vsp_consts[i].name;
	return NULL;
}

/* Names longer than this are never close to anything worth suggesting. */
#define SUGGEST_MAX 64

static inline char fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Optimal string alignment distance (Damerau-Levenshtein restricted to
 * adjacent transpositions), ignoring ASCII case: typos are mostly one
 * swapped, missing or extra letter, or the wrong case ("eacces").  Three
 * rolling rows on the stack; no allocation.
 */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t rows[3][SUGGEST_MAX + 1];
	size_t *pp = rows[0], *p = rows[1], *c = rows[2];

	for (size_t j = 0; j <= lb; j++)
		p[j] = j;
	for (size_t i = 1; i <= la; i++) {
		c[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
			size_t best = p[j - 1] + cost;
			if (p[j] + 1 < best)
				best = p[j] + 1;
			if (c[j - 1] + 1 < best)
				best = c[j - 1] + 1;
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) && pp[j - 2] + 1 < best)
				best = pp[j - 2] + 1;
			c[j] = best;
		}
		size_t *t = pp;
		pp = p;
		p = c;
		c = t;
	}
	return p[lb];
}

/*
 * The nearest name of a table of `n` entries `stride` bytes apart, each
 * starting with its name pointer: so one loop serves a plain array of names
 * and the catalogs alike.
 */
static const char *suggest_in(const char *name, const void *base,
			      size_t stride, size_t n)
{
	if (!name || !base)
		return NULL;
	size_t ln = strlen(name);
	if (ln == 0 || ln > SUGGEST_MAX)
		return NULL;
	/* A third of the length, but one edit is always allowed for names
	 * of two letters or more ("EPRM" -> "EPERM"). */
	size_t limit = ln / 3;
	if (limit == 0 && ln >= 2)
		limit = 1;
	const char *best = NULL;
	size_t bestd = limit + 1;
	/* A known name needs no hint.  (Checked first: its case variants
	 * are at distance 0 too.) */
	for (size_t i = 0; i < n; i++) {
		const char *cand;
		memcpy(&cand, (const char *)base + i * stride, sizeof cand);
		if (cand && strcmp(cand, name) == 0)
			return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *cand;
		memcpy(&cand, (const char *)base + i * stride, sizeof cand);
		if (!cand)
			continue;
		size_t lc = strlen(cand);
		/* The length difference is a lower bound of the distance. */
		size_t diff = lc > ln ? lc - ln : ln - lc;
		if (lc > SUGGEST_MAX || diff >= bestd)
			continue;
		size_t d = edit_distance(name, ln, cand, lc);
		if (d < bestd) {
			bestd = d;
			best = cand;
		}
	}
	return best;
}

const char *vsp_suggest(const char *name, const char *const *names, size_t n)
{
	return suggest_in(name, names, sizeof *names, n);
}

const char *vsp_suggest_syscall(const char *name)
{
	return suggest_in(name, vsp_syscalls, sizeof *vsp_syscalls,
			  vsp_nsyscalls);
}

const char *vsp_suggest_hypercall(const char *name)
{
	return suggest_in(name, vsp_hypercalls, sizeof *vsp_hypercalls,
			  vsp_nhypercalls);
}

const char *vsp_suggest_const(const char *name)
{
	return suggest_in(name, vsp_consts, sizeof *vsp_consts, vsp_nconsts);
}
