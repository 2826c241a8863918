/*
 * kallsyms.c: finding and decoding the kernel's compressed symbol table.
 *
 * The tables, in the order scripts/kallsyms.c emits them up to Linux 6.1
 * (each label 8-aligned):
 *
 *     kallsyms_offsets[N] (s32) | kallsyms_addresses[N] (u64)
 *     kallsyms_relative_base (u64, relocated at boot like any pointer)
 *     kallsyms_num_syms (u32)
 *     kallsyms_names      per symbol: len (1 byte, or 2 when bit 7 is set)
 *                         and len token numbers; the first character of
 *                         the expansion is the nm type letter
 *     kallsyms_markers[(N+255)/256] (u32): names offset of every 256th
 *     kallsyms_token_table  256 NUL-terminated strings
 *     kallsyms_token_index[256] (u16): offset of each string
 *
 * From 6.4 the offsets and relative base follow the token index instead;
 * both orders are tried.  The search starts from the token table, the
 * most distinctive piece: every character used in a symbol name that no
 * pair token replaced stays a one-character token at its own code, so the
 * digits "0\0" .. "9\0" lie side by side in it.  Each such run is checked
 * by finding a u16 array after it whose entries point exactly at the
 * strings; the markers then end just before the token table, num_syms
 * lies just before the names, and decoding the names must land on every
 * marker.  Addresses must come out sorted, as the kernel sorts them.
 *
 * Every read is bounded by the buffer; candidate runs are capped, so a
 * guest that fills its memory with look-alikes costs bounded time.
 */
#include "vmi/kallsyms.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/errf.h"

#define KS_MAX_NAME 1024		/* expanded bytes, type letter included */
#define KS_MIN_SYMS 16
#define KS_MAX_SYMS (2u << 20)
#define KS_MAX_CANDIDATES 256		/* digit runs examined per buffer */
#define KS_INDEX_REACH 4096		/* token index within this of the digits */
#define KS_KERNEL_HALF 0xff00000000000000ULL
#define KS_GUEST_MAX (64u << 20)	/* bytes copied from a guest at most */
#define KS_CHUNK (256u << 10)
#define KS_STRIDE (256u << 10)		/* image sampled this far apart */
#define KS_SAMPLE 4096
#define KS_NEAR_MAX (16u << 20)		/* copied from one sampled place */
#define KS_ALIGN 0x200000ULL

static const char ks_digits[] = "0\0" "1\0" "2\0" "3\0" "4\0"
				"5\0" "6\0" "7\0" "8\0" "9";

struct ks_buf {
	const uint8_t *b;
	size_t len;
	uint64_t va;
};

static uint16_t ks_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t ks_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t ks_rd64(const uint8_t *p)
{
	return (uint64_t)ks_rd32(p) | (uint64_t)ks_rd32(p + 4) << 32;
}

/* Buffer offset of address a, aligned down to `align`, or SIZE_MAX. */
static size_t ks_align_down(const struct ks_buf *kb, size_t off, unsigned align)
{
	uint64_t a = (kb->va + off) & ~(uint64_t)(align - 1);
	return a < kb->va ? SIZE_MAX : (size_t)(a - kb->va);
}

static size_t ks_align_up(const struct ks_buf *kb, size_t off, unsigned align)
{
	uint64_t a = (kb->va + off + align - 1) & ~(uint64_t)(align - 1);
	return (size_t)(a - kb->va);
}

/* ---------------------------------------------------------- token table */

/* The 256 strings at s, with offsets idx, end before q (the index). */
static bool ks_tokens_ok(const struct ks_buf *kb, size_t s,
			 const uint16_t idx[256], size_t q)
{
	for (int i = 0; i < 256; i++) {
		size_t a = s + idx[i];
		size_t lim = i < 255 ? s + idx[i + 1] : q;
		if (a >= lim || lim > q)
			return false;
		const uint8_t *nul = memchr(kb->b + a, 0, lim - a);
		if (!nul || nul == kb->b + a)
			return false;
		size_t e = (size_t)(nul - kb->b) + 1;
		if (i < 255 ? e != lim : q - e >= 8)
			return false;
	}
	return true;
}

/* A token table whose digit run is at p: its start and the index. */
static bool ks_tokens_at(const struct ks_buf *kb, size_t p, size_t *tt,
			 size_t *ti)
{
	uint16_t idx[256];

	/* The index is a label: 4-aligned at least (8 on 64-bit). */
	for (size_t q = ks_align_up(kb, p + sizeof ks_digits, 4);
	     q <= p + KS_INDEX_REACH && q + 512 <= kb->len; q += 4) {
		if (ks_rd16(kb->b + q) != 0)
			continue;
		idx[0] = 0;
		int i;
		for (i = 1; i < 256; i++) {
			idx[i] = ks_rd16(kb->b + q + 2 * (size_t)i);
			if (idx[i] <= idx[i - 1])
				break;
		}
		if (i < 256 || idx[255] >= q)
			continue;
		for (int k = 0; k + 9 < 256; k++) {
			int j;
			for (j = 0; j < 9; j++)
				if (idx[k + j + 1] - idx[k + j] != 2)
					break;
			if (j < 9 || idx[k] > p)
				continue;
			size_t s = p - idx[k];
			if (ks_tokens_ok(kb, s, idx, q)) {
				*tt = s;
				*ti = q;
				return true;
			}
		}
	}
	return false;
}

/* ------------------------------------------------------ names, markers */

struct ks_tab {
	size_t tt, ti;			/* token table, token index */
	size_t mk, nmk;			/* markers, their count */
	size_t names, names_end, num;	/* names, end of last entry, num_syms */
	uint32_t n;
};

/* Length field of the entry at o: sets *len and the header size. */
static bool ks_entry(const struct ks_buf *kb, size_t o, size_t end,
		     size_t *len, size_t *hdr)
{
	if (o >= end)
		return false;
	size_t l = kb->b[o];
	*hdr = 1;
	if (l & 0x80) {
		if (o + 1 >= end)
			return false;
		l = (l & 0x7f) | (size_t)kb->b[o + 1] << 7;
		*hdr = 2;
	}
	*len = l;
	return l > 0 && l <= end - o - *hdr;
}

/* Walks n entries from names; each 256th must sit at its marker. */
static bool ks_names_ok(const struct ks_buf *kb, struct ks_tab *t)
{
	size_t o = t->names;
	for (uint32_t i = 0; i < t->n; i++) {
		if ((i & 255) == 0 &&
		    ks_rd32(kb->b + t->mk + 4 * (size_t)(i >> 8)) != o - t->names)
			return false;
		size_t len, hdr;
		if (!ks_entry(kb, o, t->mk, &len, &hdr))
			return false;
		o += hdr + len;
	}
	t->names_end = o;
	return t->mk - o < 8;
}

/*
 * The names before markers[count] at t->mk, and num_syms before them:
 * decoding must land on every marker.  With `seqs`, the token table
 * follows kallsyms_seqs_of_names (3 bytes a symbol, 6.2 and later stable
 * kernels) instead of the markers.
 */
static bool ks_names_before(const struct ks_buf *kb, size_t count, bool seqs,
			    struct ks_tab *t)
{
	size_t y = t->mk;
	uint32_t last = ks_rd32(kb->b + y + 4 * (count - 1));
	/* The last block holds 1..256 entries of at least 2 bytes each. */
	if (y < (size_t)last + 2)
		return false;
	size_t hi = y - last - 2;
	size_t span = 256 * (2 + 2 + 0x7fff / 64);
	size_t lo = hi > span ? hi - span : 0;
	size_t me = ks_align_up(kb, y + 4 * count, 8);
	for (size_t ns = ks_align_down(kb, hi, 8); ns != SIZE_MAX && ns >= lo && ns >= 8;
	     ns -= 8) {
		for (size_t back = 4; back <= 8; back += 4) {
			uint32_t n = ks_rd32(kb->b + ns - back);
			if (n < KS_MIN_SYMS || n > KS_MAX_SYMS ||
			    (n + 255) / 256 != count)
				continue;
			if (seqs ? ks_align_up(kb, me + 3 * (size_t)n, 8) != t->tt
				 : me != t->tt)
				continue;
			t->names = ns;
			t->num = ns - back;
			t->n = n;
			if (ks_names_ok(kb, t))
				return true;
		}
	}
	return false;
}

/*
 * The markers: a run of u32 rising from 0, ending just before the token
 * table or 3 bytes a symbol before it.  One pass from low to high
 * addresses keeps the start of the current rising run, so the search is
 * linear in the window whatever the guest put there.
 */
static bool ks_markers(const struct ks_buf *kb, struct ks_tab *t)
{
	size_t reach = 3 * (size_t)KS_MAX_SYMS + 32;
	size_t lo = t->tt > reach ? t->tt - reach : 0;
	lo = ks_align_up(kb, lo, 4);
	size_t start = SIZE_MAX;
	unsigned tried = 0;
	for (size_t pos = lo; pos + 4 <= t->tt; pos += 4) {
		uint32_t v = ks_rd32(kb->b + pos);
		if (v == 0)
			start = pos;
		else if (start != SIZE_MAX && v <= ks_rd32(kb->b + pos - 4))
			start = SIZE_MAX;
		if (start == SIZE_MAX || pos == start)
			continue;
		size_t count = (pos + 4 - start) / 4;
		size_t d = t->tt - (pos + 4);
		bool plain = d < 8;
		bool seqs = d >= 3 * (256 * (count - 1) + 1) && d < 3 * 256 * count + 16;
		if (!plain && !seqs)
			continue;
		if (++tried > 64)
			return false;
		t->mk = start;
		t->nmk = count;
		if (ks_names_before(kb, count, !plain, t))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ addresses */

static uint64_t ks_value(const struct ks_buf *kb, const struct vsp_ksyms_loc *l,
			 uint32_t i)
{
	size_t off = (size_t)(l->offsets - kb->va);
	if (!l->base_relative)
		return ks_rd64(kb->b + off + 8 * (size_t)i);
	int32_t o = (int32_t)ks_rd32(kb->b + off + 4 * (size_t)i);
	if (!l->absolute_percpu)
		return l->base + (uint32_t)o;
	if (o >= 0)
		return (uint64_t)o;
	return l->base - 1 - (uint64_t)(int64_t)o;
}

static bool ks_sorted(const struct ks_buf *kb, const struct vsp_ksyms_loc *l)
{
	uint64_t prev = 0;
	for (uint32_t i = 0; i < l->nsyms; i++) {
		uint64_t v = ks_value(kb, l, i);
		if (v < prev)
			return false;
		prev = v;
	}
	return prev >= KS_KERNEL_HALF;
}

/* Relative offsets at off, the base at rb: consistent? */
static bool ks_try_relative(const struct ks_buf *kb, size_t off, size_t rb,
			    struct vsp_ksyms_loc *l)
{
	if (rb + 8 > kb->len || off + 4 * (size_t)l->nsyms > rb)
		return false;
	l->base_relative = true;
	l->offsets = kb->va + off;
	l->relative_base = kb->va + rb;
	l->base = ks_rd64(kb->b + rb);
	if (l->base < KS_KERNEL_HALF)
		return false;
	l->absolute_percpu = false;
	for (uint32_t i = 0; i < l->nsyms; i++)
		if ((int32_t)ks_rd32(kb->b + off + 4 * (size_t)i) < 0) {
			l->absolute_percpu = true;
			break;
		}
	return ks_sorted(kb, l);
}

/* 0 found, 1 needs bytes up to *need, -1 not consistent. */
static int ks_addresses(const struct ks_buf *kb, const struct ks_tab *t,
			struct vsp_ksyms_loc *l, size_t *need)
{
	size_t n = l->nsyms;
	size_t rel = (4 * n + 7) & ~(size_t)7;
	/* Up to 6.3: offsets | relative_base | num_syms. */
	if (t->num >= 8 + rel &&
	    ks_try_relative(kb, t->num - 8 - rel, t->num - 8, l))
		return 0;
	if (t->num >= 8 * n) {
		l->base_relative = false;
		l->relative_base = 0;
		l->base = 0;
		l->offsets = kb->va + t->num - 8 * n;
		if (ks_sorted(kb, l))
			return 0;
	}
	/* From 6.4: token_index | offsets | relative_base. */
	size_t off = ks_align_up(kb, t->ti + 512, 8);
	if (off + rel + 8 > kb->len) {
		*need = off + rel + 8;
		return 1;
	}
	return ks_try_relative(kb, off, off + rel, l) ? 0 : -1;
}

/* ---------------------------------------------------------------- locate */

/*
 * Finds the tables, digit runs from *from on.  0 found; 1 not (yet)
 * found, and *from is where a search with more bytes must start again
 * (runs before it are settled); -1 too many look-alikes.  `final`: no
 * more bytes will come.
 */
static int ks_locate(const struct ks_buf *kb, size_t *from, bool final,
		     struct ks_tab *t, struct vsp_ksyms_loc *l, char *err,
		     size_t errlen)
{
	unsigned tries = 0;
	size_t p = *from;
	size_t settled = kb->len > KS_INDEX_REACH + 512 + sizeof ks_digits ?
			 kb->len - KS_INDEX_REACH - 512 - sizeof ks_digits : 0;
	if (settled > *from)
		*from = settled;
	while (p < kb->len) {
		const uint8_t *hit = memmem(kb->b + p, kb->len - p, ks_digits,
					    sizeof ks_digits);
		if (!hit)
			break;
		p = (size_t)(hit - kb->b);
		if (++tries > KS_MAX_CANDIDATES) {
			vsp_errf(err, errlen, "kallsyms: more than %d look-alike "
				 "token tables; giving up", KS_MAX_CANDIDATES);
			return -1;
		}
		memset(t, 0, sizeof *t);
		if (!ks_tokens_at(kb, p, &t->tt, &t->ti)) {
			p++;
			continue;
		}
		if (ks_markers(kb, t)) {
			memset(l, 0, sizeof *l);
			l->token_table = kb->va + t->tt;
			l->token_index = kb->va + t->ti;
			l->markers = kb->va + t->mk;
			l->names = kb->va + t->names;
			l->num_syms = kb->va + t->num;
			l->nsyms = t->n;
			size_t more = 0;
			int rc = ks_addresses(kb, t, l, &more);
			if (rc == 0)
				return 0;
			if (rc > 0 && !final) {
				*from = p;	/* again, with `more` bytes */
				return 1;
			}
			vsp_errf(err, errlen, "kallsyms: %u names at 0x%" PRIx64
				 " but no sorted address table beside them",
				 t->n, l->names);
		} else {
			vsp_errf(err, errlen, "kallsyms: token table at 0x%" PRIx64
				 " but no names and markers that agree with it",
				 kb->va + t->tt);
		}
		p++;
	}
	return 1;
}

/* ---------------------------------------------------------------- decode */

struct ks_text {
	char *s;
	size_t len, cap;
};

static bool ks_text_reserve(struct ks_text *x, size_t more)
{
	if (x->len + more <= x->cap)
		return true;
	size_t cap = x->cap ? x->cap : 1 << 20;
	while (cap < x->len + more)
		cap *= 2;
	char *s = realloc(x->s, cap);
	if (!s)
		return false;
	x->s = s;
	x->cap = cap;
	return true;
}

/* Expands symbol entry at *o into name (NUL-terminated); 0 or -1. */
static int ks_expand(const struct ks_buf *kb, const struct ks_tab *t, size_t *o,
		     char *name, size_t *nlen)
{
	size_t len, hdr, n = 0;
	if (!ks_entry(kb, *o, t->names_end, &len, &hdr))
		return -1;
	const uint8_t *p = kb->b + *o + hdr;
	for (size_t i = 0; i < len; i++) {
		size_t ti = t->ti + 2 * (size_t)p[i];
		const char *tok = (const char *)kb->b + t->tt + ks_rd16(kb->b + ti);
		size_t tl = strlen(tok);	/* NUL checked by ks_tokens_ok */
		if (n + tl >= KS_MAX_NAME)
			return -1;
		memcpy(name + n, tok, tl);
		n += tl;
	}
	name[n] = 0;
	*nlen = n;
	*o += hdr + len;
	return 0;
}

static struct vsp_symtab *ks_build(const struct ks_buf *kb,
				   const struct ks_tab *t,
				   const struct vsp_ksyms_loc *l, int64_t slide,
				   char *err, size_t errlen)
{
	struct ks_text x = { 0 };
	char name[KS_MAX_NAME];
	size_t o = t->names;
	struct vsp_symtab *st = NULL;

	for (uint32_t i = 0; i < l->nsyms; i++) {
		size_t nlen;
		if (ks_expand(kb, t, &o, name, &nlen) < 0 || nlen < 2) {
			vsp_errf(err, errlen, "kallsyms: symbol %u: name runs past "
				 "the table or over %d bytes", i, KS_MAX_NAME);
			goto out;
		}
		for (size_t k = 0; k < nlen; k++)
			if (name[k] <= ' ' || name[k] > '~') {
				vsp_errf(err, errlen, "kallsyms: symbol %u: byte 0x%02x "
					 "in its name", i, (unsigned char)name[k]);
				goto out;
			}
		uint64_t v = ks_value(kb, l, i);
		if (v >= KS_KERNEL_HALF)
			v -= (uint64_t)slide;
		if (!ks_text_reserve(&x, nlen + 24)) {
			vsp_errf(err, errlen, "kallsyms: out of memory");
			goto out;
		}
		x.len += (size_t)snprintf(x.s + x.len, x.cap - x.len,
					  "%016" PRIx64 " %c %s\n", v, name[0],
					  name + 1);
	}
	st = vsp_sym_load_mem(x.s, x.len, "kallsyms", err, errlen);
	if (st)
		vsp_sym_set_slide(st, slide);
out:
	free(x.s);
	return st;
}

struct vsp_symtab *vsp_ksyms_decode(const uint8_t *buf, size_t len,
				    uint64_t va, struct vsp_ksyms_loc *loc,
				    char *err, size_t errlen)
{
	struct ks_buf kb = { buf, len, va };
	struct ks_tab t;
	struct vsp_ksyms_loc l;
	size_t from = 0;

	if (!buf || va + len < va) {
		vsp_errf(err, errlen, "kallsyms: no bytes to search");
		return NULL;
	}
	if (err && errlen)
		err[0] = 0;
	int rc = ks_locate(&kb, &from, true, &t, &l, err, errlen);
	if (rc != 0) {
		if (rc > 0 && (!err || !errlen || !err[0]))
			vsp_errf(err, errlen, "kallsyms: no symbol table in the %zu "
				 "bytes at 0x%" PRIx64, len, va);
		return NULL;
	}
	if (loc)
		*loc = l;
	return ks_build(&kb, &t, &l, 0, err, errlen);
}

/* ----------------------------------------------------------------- guest */

struct ks_guest {
	vsp_gread_fn read;
	void *ctx;
	uint64_t reads, bytes;
};

static bool ks_mapped(struct ks_guest *g, uint64_t a)
{
	uint8_t b;
	g->reads++;
	return g->read(g->ctx, a, &b, 1) == 1;
}

/* Run-time _text: the lowest mapped 2 MiB boundary of the image. */
static uint64_t ks_find_text(struct ks_guest *g, uint64_t hint)
{
	if (hint >= VSP_KASLR_LO && hint < VSP_KASLR_HI) {
		uint64_t b = hint & ~(KS_ALIGN - 1);
		if (ks_mapped(g, b)) {
			while (b - KS_ALIGN >= VSP_KASLR_LO && ks_mapped(g, b - KS_ALIGN))
				b -= KS_ALIGN;
			return b;
		}
	}
	for (uint64_t b = VSP_KASLR_LO; b < VSP_KASLR_HI; b += KS_ALIGN)
		if (ks_mapped(g, b))
			return b;
	return 0;
}

/* .rodata starts at a 2 MiB boundary after the text, and the kernel
 * unmaps the rest of the text's last 2 MiB before it. */
static uint64_t ks_find_rodata(struct ks_guest *g, uint64_t text)
{
	for (uint64_t b = text + KS_ALIGN; b < VSP_KASLR_HI; b += KS_ALIGN) {
		if (!ks_mapped(g, b))
			return 0;
		if (!ks_mapped(g, b - 4096))
			return b;
	}
	return 0;
}

/*
 * Whether a page sampled from the image looks like kallsyms_names (a
 * chain of short entries from some start) or like kallsyms_offsets /
 * kallsyms_addresses (a long monotonic run of close values).  A false
 * positive costs one bounded copy; a miss, the linear copy.
 */
static bool ks_names_like(const uint8_t *p, size_t n)
{
	for (size_t s = 0; s < 64; s++) {
		size_t o = s, hops = 0;
		uint32_t seen[4] = { 0 };
		unsigned distinct = 0;
		while (o < n) {
			unsigned l = p[o];
			if (l < 2 || l > 100)
				break;
			if (!(seen[l >> 5] & 1u << (l & 31))) {
				seen[l >> 5] |= 1u << (l & 31);
				distinct++;
			}
			o += 1 + l;
			hops++;
		}
		if (o >= n && hops >= n / 40 && distinct >= 6)
			return true;
	}
	return false;
}

static bool ks_offsets_like(const uint8_t *p, size_t n)
{
	size_t w32 = n / 4, up = 0, down = 0, moved = 0;
	for (size_t i = 1; i < w32; i++) {
		int32_t a = (int32_t)ks_rd32(p + 4 * (i - 1));
		int32_t b = (int32_t)ks_rd32(p + 4 * i);
		int64_t d = (int64_t)b - a;
		up += d >= 0 && d < 0x10000;
		down += d <= 0 && d > -0x10000;
		moved += d != 0;
	}
	if ((up + 1 == w32 || down + 1 == w32) && moved * 2 > w32)
		return true;
	size_t w64 = n / 8, inc = 0;
	moved = 0;
	for (size_t i = 1; i < w64; i++) {
		uint64_t a = ks_rd64(p + 8 * (i - 1)), b = ks_rd64(p + 8 * i);
		inc += b >= a && b - a < 0x10000 && a >= KS_KERNEL_HALF;
		moved += b != a;
	}
	return inc + 1 == w64 && moved * 2 > w64;
}

/*
 * Starts of runs of kallsyms-like pages, sampled every KS_STRIDE from
 * _text to the end of the mapped image: at most `max` into out.
 */
static size_t ks_sample(struct ks_guest *g, uint64_t text, uint64_t *out,
			size_t max)
{
	uint8_t page[KS_SAMPLE];
	size_t n = 0;
	bool in_run = false;
	for (uint64_t a = text; a < VSP_KASLR_HI && a - text < KS_GUEST_MAX && n < max;
	     a += KS_STRIDE) {
		g->reads++;
		long got = g->read(g->ctx, a, page, sizeof page);
		if (got < (long)sizeof page) {
			/* Past the image (a 2 MiB start unmapped): done. */
			if ((a & (KS_ALIGN - 1)) == 0 && got <= 0)
				break;
			in_run = false;
			continue;
		}
		g->bytes += sizeof page;
		bool like = ks_names_like(page, sizeof page) ||
			    ks_offsets_like(page, sizeof page);
		if (like && !in_run)
			out[n++] = a;
		in_run = like;
	}
	return n;
}

/* Copies from `start` and searches as it goes: table, or NULL. */
static struct vsp_symtab *ks_copy_decode(struct ks_guest *g, uint64_t start,
					 size_t max, uint64_t text,
					 struct vsp_ksyms_stats *st, char *err,
					 size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, from = 0;
	bool end = false;
	struct vsp_symtab *res = NULL;

	err[0] = 0;
	while (!end && len < max) {
		if (len + KS_CHUNK > cap) {
			size_t nc = cap ? cap * 2 : 4 * KS_CHUNK;
			uint8_t *nb = realloc(buf, nc);
			if (!nb) {
				vsp_errf(err, errlen, "kallsyms: out of memory");
				goto out;
			}
			buf = nb;
			cap = nc;
		}
		g->reads++;
		long n = g->read(g->ctx, start + len, buf + len, KS_CHUNK);
		if (n < 0 || (size_t)n > KS_CHUNK) {
			end = true;
			n = 0;
		}
		if ((size_t)n < KS_CHUNK)
			end = true;
		len += (size_t)n;
		g->bytes += (size_t)n;

		struct ks_buf kb = { buf, len, start };
		struct ks_tab t;
		struct vsp_ksyms_loc l;
		int rc = ks_locate(&kb, &from, end || len >= max, &t,
				   &l, err, errlen);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			int64_t slide = (int64_t)(text - VSP_KSYMS_LINK_TEXT);
			st->loc = l;
			st->slide = slide;
			res = ks_build(&kb, &t, &l, slide, err, errlen);
			goto out;
		}
	}
	if (!err[0])
		vsp_errf(err, errlen, "kallsyms: no symbol table in the %zu bytes of "
			 "kernel data at 0x%" PRIx64 "%s", len, start,
			 len >= max ? " (copy limit reached)" : "");
out:
	free(buf);
	return res;
}

struct vsp_symtab *vsp_ksyms_from_guest(vsp_gread_fn read, void *ctx,
					uint64_t hint_ip,
					struct vsp_ksyms_stats *st, char *err,
					size_t errlen)
{
	struct ks_guest g = { read, ctx, 0, 0 };
	struct vsp_ksyms_stats local;
	char ebuf[256];
	uint64_t t0 = vsp_now_ns();
	struct vsp_symtab *res = NULL;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	if (!err || !errlen) {
		err = ebuf;
		errlen = sizeof ebuf;
	}
	uint64_t text = ks_find_text(&g, hint_ip);
	if (!text) {
		vsp_errf(err, errlen, "kallsyms: no kernel image mapped in "
			 "0x%llx-0x%llx", VSP_KASLR_LO, VSP_KASLR_HI);
		goto out;
	}
	st->text = text;
	/* Where the tables are, from pages sampled across the image: the
	 * first of a run of table-like pages lies at most one stride past
	 * their start.  Otherwise copy from .rodata (found by the gap PTI
	 * kernels leave before it) or from _text: slower, same result. */
	uint64_t near[4];
	size_t nnear = ks_sample(&g, text, near, 4);
	for (size_t i = 0; i < nnear && !res; i++) {
		uint64_t from = near[i] - text > KS_STRIDE ? near[i] - KS_STRIDE : text;
		st->rodata = from;
		res = ks_copy_decode(&g, from, KS_NEAR_MAX, text, st, err, errlen);
	}
	if (res)
		goto out;
	uint64_t ro = ks_find_rodata(&g, text);
	st->rodata = ro ? ro : text;
	res = ks_copy_decode(&g, st->rodata, KS_GUEST_MAX, text, st, err, errlen);
	if (!res && ro) {
		char first[256];
		snprintf(first, sizeof first, "%s", err);
		st->rodata = text;
		res = ks_copy_decode(&g, text, KS_GUEST_MAX, text, st, err, errlen);
		if (!res)
			vsp_errf(err, errlen, "%s", first);
	}
out:
	st->reads = g.reads;
	st->bytes = g.bytes;
	st->ns = vsp_now_ns() - t0;
	return res;
}

/* ------------------------------------------------------------------ BTF */

int vsp_ksyms_read_btf(vsp_gread_fn read, void *ctx,
		       const struct vsp_symtab *syms, uint8_t **data,
		       size_t *size, char *err, size_t errlen)
{
	uint64_t lo, hi;
	*data = NULL;
	*size = 0;
	if (vsp_sym_addr(syms, "__start_BTF", &lo) < 0 ||
	    vsp_sym_addr(syms, "__stop_BTF", &hi) < 0) {
		vsp_errf(err, errlen, "BTF: the kernel has no __start_BTF/__stop_BTF");
		return -1;
	}
	if (hi <= lo || hi - lo > KS_GUEST_MAX || hi - lo < 24) {
		vsp_errf(err, errlen, "BTF: __start_BTF..__stop_BTF (0x%" PRIx64
			 "..0x%" PRIx64 ") is no plausible range", lo, hi);
		return -1;
	}
	size_t n = (size_t)(hi - lo);
	uint8_t *b = malloc(n);
	if (!b) {
		vsp_errf(err, errlen, "BTF: out of memory");
		return -1;
	}
	if (vsp_gread_all(read, ctx, lo, b, n) < 0) {
		free(b);
		vsp_errf(err, errlen, "BTF: guest memory at 0x%" PRIx64 " (%zu bytes) "
			 "not readable", lo, n);
		return -1;
	}
	if (ks_rd16(b) != 0xeb9f) {
		free(b);
		vsp_errf(err, errlen, "BTF: no BTF magic at __start_BTF (0x%" PRIx64 ")",
			 lo);
		return -1;
	}
	*data = b;
	*size = n;
	return 0;
}

/* ---------------------------------------------------------------- output */

int vsp_ksyms_write(FILE *out, const struct vsp_symtab *t, const char *banner,
		    const char *source)
{
	char b[256];
	snprintf(b, sizeof b, "%s", banner ? banner : "");
	b[strcspn(b, "\n")] = 0;
	fprintf(out, "# vsp profile 1\n# source: %s\n# kernel: %s\n"
		"# slide: 0x%" PRIx64 " (addresses below are link-time)\n",
		source ? source : "?", b, (uint64_t)vsp_sym_slide(t));
	size_t n = vsp_sym_count(t);
	for (size_t i = 0; i < n; i++) {
		const struct vsp_sym *s = vsp_sym_get(t, i);
		if (s->module)
			fprintf(out, "%016" PRIx64 " %c %s\t[%s]\n", s->addr, s->type,
				s->name, s->module);
		else
			fprintf(out, "%016" PRIx64 " %c %s\n", s->addr, s->type,
				s->name);
	}
	return ferror(out) ? -1 : 0;
}
