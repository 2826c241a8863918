/*
 * symbols.c: loading and querying the guest kernel's symbol table.
 *
 * The whole file is parsed in one pass into an array of records whose names
 * live in one arena, then sorted by address (ties keep file order) for
 * symbolisation and hashed by name (open addressing, FNV-1a) for lookups.
 * Both indexes are built once; queries are a binary search or a short probe
 * and never allocate, so the unwinder can call them on the decision path.
 *
 * Addresses below the kernel half of the address space are per-CPU offsets
 * (kallsyms lists `pcpu_hot`, `current_task`, `runqueues` that way): they
 * can be looked up by name -- vmi/linux.c adds them to a CPU's gs base --
 * but they never take part in symbolisation and never move with the KASLR
 * slide.  Module symbols (a kallsyms dump taken from a running guest) are
 * already run-time addresses and do not move either.
 */
#include "vmi/symbols.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errf.h"

/* Anything at or above this is a kernel-half address; below, a per-CPU
 * offset or an absolute value. */
#define SYM_KERNEL_HALF 0xff00000000000000ULL	/* with 5-level paging */
/* A kallsyms dump of a large kernel is ~15 MB; refuse absurd inputs. */
#define SYM_MAX_FILE (256u << 20)
/* KSYM_NAME_LEN is 512 on current kernels. */
#define SYM_MAX_NAME 1024

struct vsp_symtab {
	struct vsp_sym *syms;	/* address order */
	size_t nsyms;
	size_t nlocated;	/* syms[first_located .. ] are kernel-half */
	size_t first_located;
	uint32_t *hash;		/* index+1 into syms, 0 empty */
	size_t hash_mask;
	char *arena;
	int64_t slide;
};

static uint64_t sym_hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool vsp_sym_is_text(const struct vsp_sym *s)
{
	return s->type == 'T' || s->type == 't' || s->type == 'W' ||
	       s->type == 'w';
}

static bool sym_located(const struct vsp_sym *s)
{
	return s->addr >= SYM_KERNEL_HALF;
}

/* Whether the slide applies: core kernel addresses only. */
static bool sym_slides(const struct vsp_sym *s)
{
	return sym_located(s) && !s->module;
}

/* Records carry their file position in `size` until sizes are computed, so
 * that qsort (not stable) still keeps file order among equal addresses. */
static int sym_cmp(const void *a, const void *b)
{
	const struct vsp_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

/*
 * Parses one line into *out, names copied to *arena_pos.  Returns 0, 1 for
 * a blank line, or -1 with a message.
 */
static int sym_parse_line(const char *p, const char *end, struct vsp_sym *out,
			  char **arena_pos, const char **why)
{
	uint64_t addr = 0;
	int ndig = 0;
	const char *name, *mod = NULL;
	size_t nlen, mlen = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p == end || *p == '#')	/* a comment: a vsp profile's header */
		return 1;
	while (p < end && isxdigit((unsigned char)*p)) {
		int c = (unsigned char)*p++;
		int v = isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10);

		if (++ndig > 16) {
			*why = "address longer than 64 bits";
			return -1;
		}
		addr = addr << 4 | (uint64_t)v;
	}
	if (ndig == 0 || p == end || (*p != ' ' && *p != '\t')) {
		*why = "bad address";
		return -1;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || !isgraph((unsigned char)*p) ||
	    (p + 1 < end && *(p + 1) != ' ' && *(p + 1) != '\t')) {
		*why = "bad symbol type";
		return -1;
	}
	out->type = *p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	name = p;
	while (p < end && isgraph((unsigned char)*p))
		p++;
	nlen = (size_t)(p - name);
	if (nlen == 0) {
		*why = "missing symbol name";
		return -1;
	}
	if (nlen >= SYM_MAX_NAME) {
		*why = "symbol name too long";
		return -1;
	}
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p < end && *p == '[') {
		mod = ++p;
		while (p < end && *p != ']' && isgraph((unsigned char)*p))
			p++;
		if (p == end || *p != ']' || p == mod) {
			*why = "bad module name";
			return -1;
		}
		mlen = (size_t)(p - mod);
		p++;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
	}
	if (p != end) {
		*why = "unexpected text after the symbol";
		return -1;
	}
	out->addr = addr;
	out->name = *arena_pos;
	memcpy(*arena_pos, name, nlen);
	(*arena_pos)[nlen] = '\0';
	*arena_pos += nlen + 1;
	out->module = NULL;
	if (mod) {
		out->module = *arena_pos;
		memcpy(*arena_pos, mod, mlen);
		(*arena_pos)[mlen] = '\0';
		*arena_pos += mlen + 1;
	}
	return 0;
}

static int sym_build_hash(struct vsp_symtab *t)
{
	size_t cap = 16;

	while (cap < t->nsyms * 2)
		cap <<= 1;
	t->hash = calloc(cap, sizeof(*t->hash));
	if (!t->hash)
		return -1;
	t->hash_mask = cap - 1;
	/* File order decides between duplicates, so insert in that order:
	 * each record's file position is still in `size`. */
	for (size_t i = 0; i < t->nsyms; i++) {
		const struct vsp_sym *s = &t->syms[i];
		size_t h = sym_hash_name(s->name) & t->hash_mask;

		for (;; h = (h + 1) & t->hash_mask) {
			uint32_t cur = t->hash[h];
			const struct vsp_sym *o;

			if (!cur) {
				t->hash[h] = (uint32_t)i + 1;
				break;
			}
			o = &t->syms[cur - 1];
			if (strcmp(o->name, s->name))
				continue;
			/* Prefer core kernel over modules, text over data,
			 * then the earlier line. */
			if ((o->module && !s->module) ||
			    (!!o->module == !!s->module &&
			     !vsp_sym_is_text(o) && vsp_sym_is_text(s)) ||
			    (!!o->module == !!s->module &&
			     vsp_sym_is_text(o) == vsp_sym_is_text(s) &&
			     s->size < o->size))
				t->hash[h] = (uint32_t)i + 1;
			break;
		}
	}
	return 0;
}

/* The last symbol of the core kernel or of a module has no known end: the
 * next symbol belongs to someone else and the gap is not its code. */
static bool sym_same_owner(const struct vsp_sym *a, const struct vsp_sym *b)
{
	if (!a->module || !b->module)
		return !a->module && !b->module;
	return !strcmp(a->module, b->module);
}

static void sym_compute_sizes(struct vsp_symtab *t)
{
	size_t i = 0;

	while (i < t->nsyms && !sym_located(&t->syms[i]))
		t->syms[i++].size = 0;
	t->first_located = i;
	t->nlocated = t->nsyms - i;
	for (; i < t->nsyms; i++) {
		size_t j = i + 1;

		while (j < t->nsyms && t->syms[j].addr == t->syms[i].addr)
			j++;
		t->syms[i].size = j < t->nsyms &&
			sym_same_owner(&t->syms[i], &t->syms[j]) ?
			t->syms[j].addr - t->syms[i].addr : 0;
	}
}

struct vsp_symtab *vsp_sym_load_mem(const char *text, size_t len,
				    const char *name, char *err,
				    size_t errlen)
{
	struct vsp_symtab *t;
	size_t nlines = 1, lineno = 0, cap;
	const char *p = text, *end = text + len;
	char *apos;
	bool any_nonzero = false;

	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	t = calloc(1, sizeof(*t));
	if (!t)
		goto fail_oom;
	cap = nlines;
	t->syms = calloc(cap, sizeof(*t->syms));
	/* Every name and module fits in the input plus one NUL per field. */
	t->arena = malloc(len + 2 * nlines + 1);
	if (!t->syms || !t->arena)
		goto fail_oom;
	apos = t->arena;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *why = NULL;
		struct vsp_sym *s = &t->syms[t->nsyms];
		int rc;

		if (!eol)
			eol = end;
		lineno++;
		if (memchr(p, '\0', (size_t)(eol - p))) {
			vsp_errf(err, errlen, "%s:%zu: NUL byte in line",
				 name, lineno);
			goto fail;
		}
		rc = sym_parse_line(p, eol, s, &apos, &why);
		if (rc < 0) {
			vsp_errf(err, errlen, "%s:%zu: %s", name, lineno, why);
			goto fail;
		}
		if (rc == 0) {
			s->size = t->nsyms;	/* file position, see sym_cmp */
			any_nonzero |= s->addr != 0;
			t->nsyms++;
		}
		p = eol + (eol < end);
	}
	if (t->nsyms == 0) {
		vsp_errf(err, errlen, "%s: no symbols", name);
		goto fail;
	}
	if (t->nsyms > UINT32_MAX - 1) {
		vsp_errf(err, errlen, "%s: too many symbols", name);
		goto fail;
	}
	if (!any_nonzero) {
		vsp_errf(err, errlen,
			 "%s: every address is zero (kallsyms read without "
			 "privilege?)", name);
		goto fail;
	}
	qsort(t->syms, t->nsyms, sizeof(*t->syms), sym_cmp);
	/* The hash needs file order to break ties between equal names, and
	 * `size` still holds it; sizes proper come after. */
	if (sym_build_hash(t) < 0)
		goto fail_oom;
	sym_compute_sizes(t);
	return t;

fail_oom:
	vsp_errf(err, errlen, "%s: out of memory", name);
fail:
	vsp_sym_free(t);
	return NULL;
}

int vsp_sym_read_file(const char *path, char **text, size_t *len, char *err,
		      size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;

	*text = NULL;
	*len = 0;
	if (!f) {
		vsp_errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* /proc/kallsyms reports size 0: read until EOF. */
	for (;;) {
		size_t got;

		if (n == cap) {
			char *nb;

			if (cap >= SYM_MAX_FILE) {
				vsp_errf(err, errlen, "%s: file too large",
					 path);
				goto out;
			}
			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap);
			if (!nb) {
				vsp_errf(err, errlen, "%s: out of memory",
					 path);
				goto out;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		vsp_errf(err, errlen, "%s: read error", path);
		goto out;
	}
	*text = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

struct vsp_symtab *vsp_sym_load(const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	struct vsp_symtab *t;

	if (vsp_sym_read_file(path, &buf, &len, err, errlen) < 0)
		return NULL;
	t = vsp_sym_load_mem(buf, len, path, err, errlen);
	free(buf);
	return t;
}

void vsp_sym_free(struct vsp_symtab *t)
{
	if (!t)
		return;
	free(t->hash);
	free(t->arena);
	free(t->syms);
	free(t);
}

void vsp_sym_set_slide(struct vsp_symtab *t, int64_t slide)
{
	t->slide = slide;
}

int64_t vsp_sym_slide(const struct vsp_symtab *t)
{
	return t->slide;
}

static uint64_t sym_run(const struct vsp_symtab *t, const struct vsp_sym *s)
{
	return sym_slides(s) ? s->addr + (uint64_t)t->slide : s->addr;
}

static const struct vsp_sym *sym_by_name(const struct vsp_symtab *t,
					 const char *name)
{
	size_t h;

	if (!t || !name)
		return NULL;
	h = sym_hash_name(name) & t->hash_mask;
	for (;; h = (h + 1) & t->hash_mask) {
		uint32_t cur = t->hash[h];

		if (!cur)
			return NULL;
		if (!strcmp(t->syms[cur - 1].name, name))
			return &t->syms[cur - 1];
	}
}

int vsp_sym_lookup(const struct vsp_symtab *t, const char *name,
		   uint64_t *addr, uint64_t *size)
{
	const struct vsp_sym *s = sym_by_name(t, name);

	if (!s)
		return -1;
	if (addr)
		*addr = sym_run(t, s);
	if (size)
		*size = s->size;
	return 0;
}

int vsp_sym_addr(const struct vsp_symtab *t, const char *name, uint64_t *addr)
{
	return vsp_sym_lookup(t, name, addr, NULL);
}

/* Section and image markers that share an address with a real function
 * (`_text` and `startup_64`); the function's own name is more useful. */
static bool sym_marker(const char *n)
{
	return !strcmp(n, "_text") || !strcmp(n, "_stext") ||
	       !strncmp(n, "__start_", 8) || !strncmp(n, "__end_", 6) ||
	       !strncmp(n, "__pfx_", 6) || !strncmp(n, "__cfi_", 6) ||
	       !strcmp(n, "_sinittext") || !strcmp(n, "__entry_text_start") ||
	       !strcmp(n, "__irqentry_text_start") ||
	       !strcmp(n, "__softirqentry_text_start");
}

/*
 * Symbolisation works on link-time addresses.  Module symbols do not move
 * with the slide, so a run-time address is first tried as core kernel
 * (minus the slide) and, when that misses, as itself.
 */
static const struct vsp_sym *sym_find_link(const struct vsp_symtab *t,
					   uint64_t a, bool core)
{
	size_t lo = t->first_located, hi = t->nsyms;
	const struct vsp_sym *s;

	if (a < SYM_KERNEL_HALF || lo == hi || a < t->syms[lo].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].addr <= a)
			lo = mid;
		else
			hi = mid;
	}
	/* Among aliases at one address, prefer the first code symbol, so a
	 * return address names a function rather than a section label. */
	while (lo > t->first_located && t->syms[lo - 1].addr == t->syms[lo].addr)
		lo--;
	s = &t->syms[lo];
	{
		const struct vsp_sym *text = NULL;

		for (size_t k = lo; k < t->nsyms && t->syms[k].addr == s->addr;
		     k++) {
			const struct vsp_sym *c = &t->syms[k];

			if (!vsp_sym_is_text(c) || !!c->module == core)
				continue;
			if (!text || (sym_marker(text->name) &&
				      !sym_marker(c->name)))
				text = c;
		}
		if (text)
			s = text;
	}
	if (!!s->module == core)
		return NULL;
	if (s->size == 0 || a - s->addr >= s->size)
		return NULL;
	return s;
}

const struct vsp_sym *vsp_sym_find(const struct vsp_symtab *t, uint64_t addr)
{
	const struct vsp_sym *s;

	if (!t)
		return NULL;
	s = sym_find_link(t, addr - (uint64_t)t->slide, true);
	if (!s)
		s = sym_find_link(t, addr, false);
	return s;
}

const char *vsp_sym_at(const struct vsp_symtab *t, uint64_t addr,
		       uint64_t *off)
{
	const struct vsp_sym *s = vsp_sym_find(t, addr);

	if (!s)
		return NULL;
	if (off)
		*off = addr - sym_run(t, s);
	return s->name;
}

size_t vsp_sym_count(const struct vsp_symtab *t)
{
	return t ? t->nsyms : 0;
}

const struct vsp_sym *vsp_sym_get(const struct vsp_symtab *t, size_t i)
{
	return t && i < t->nsyms ? &t->syms[i] : NULL;
}

int vsp_sym_text_range(const struct vsp_symtab *t, uint64_t *lo, uint64_t *hi)
{
	uint64_t a, b;

	if (vsp_sym_addr(t, "_stext", &a) < 0 &&
	    vsp_sym_addr(t, "_text", &a) < 0)
		return -1;
	if (vsp_sym_addr(t, "_etext", &b) < 0 || b <= a)
		return -1;
	*lo = a;
	*hi = b;
	return 0;
}

const char *vsp_sym_format(const struct vsp_symtab *t, uint64_t addr,
			   char *buf, size_t size)
{
	uint64_t off = 0;
	const char *n = vsp_sym_at(t, addr, &off);

	if (n)
		snprintf(buf, size, "%s+0x%" PRIx64, n, off);
	else
		snprintf(buf, size, "0x%" PRIx64, addr);
	return buf;
}
