/*
 * t_kallsyms.c: the kernel's own symbol table found by its structure.
 *
 * A synthetic table in the 6.1 layout (and the 6.4 one) is built here,
 * decoded and compared symbol by symbol; then broken in the ways a hostile
 * guest could break it (lengths that run off the buffer, token offsets out
 * of range, markers that disagree, unsorted addresses, names with spaces,
 * look-alike token tables by the thousand) -- each must give NULL and a
 * message, never a crash.  The guest front end runs against a memory image
 * with a mapped text, a gap and the table in .rodata.  With the guest
 * kernel cached (tests/guest/rig.sh), the .rodata of the real vmlinux is
 * decoded and must agree with the System.map the guest itself gave
 * (/proc/kallsyms under nokaslr): every name, type and address.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/tap.h"
#include "tests/rig_cache.h"
#include "vmi/kallsyms.h"
#include "vmi/linux.h"

#define VA 0xffffffff82000000ULL
#define RB 0xffffffff81000000ULL	/* relative base: _text */
#define NPCPU 3

struct blob {
	uint8_t *b;
	size_t len, cap;
};

static void put(struct blob *x, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (x->len + n > x->cap) {
		x->cap = (x->len + n) * 2 + 4096;
		x->b = realloc(x->b, x->cap);
	}
	memcpy(x->b + x->len, p, n);
	x->len += n;
}

static void put8(struct blob *x, uint8_t v) { put(x, &v, 1); }
static void put16(struct blob *x, uint16_t v) { put(x, &v, 2); }
static void put32(struct blob *x, uint32_t v) { put(x, &v, 4); }
static void put64(struct blob *x, uint64_t v) { put(x, &v, 8); }

static void align8(struct blob *x)
{
	while (x->len & 7)
		put8(x, 0);
}

/* Token i: the character i when printable (as the kernel keeps unused
 * pairs' characters), else two letters. */
static void token(int i, char out[3])
{
	if (i > ' ' && i < 0x7f) {
		out[0] = (char)i;
		out[1] = 0;
	} else {
		out[0] = (char)('a' + i % 26);
		out[1] = (char)('a' + i / 26 % 26);
		out[2] = 0;
	}
}

static void sym_name(unsigned i, char *buf, size_t n, char *type)
{
	*type = i < NPCPU ? 'A' : i % 3 == 0 ? 'T' : i % 3 == 1 ? 't' : 'd';
	snprintf(buf, n, "sym_%u_x", i);
}

static uint64_t sym_value(unsigned i)
{
	return i < NPCPU ? 0x1000ull * i : RB + 0x40ull * i;
}

/* A table of n symbols; `late` puts the addresses after the index (6.4). */
static struct blob make_table(unsigned n, bool late)
{
	struct blob x = { 0 };
	/* Junk before, with a digit run that is no token table. */
	for (int i = 0; i < 300; i++)
		put8(&x, (uint8_t)(i * 7));
	put(&x, "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9\0", 20);
	align8(&x);

	struct blob offs = { 0 };
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = sym_value(i);
		int32_t o = i < NPCPU ? (int32_t)v : (int32_t)(RB - 1 - v);
		put32(&offs, (uint32_t)o);
	}
	if (!late) {
		put(&x, offs.b, offs.len);
		align8(&x);
		put64(&x, RB);
	}
	put32(&x, n);
	align8(&x);
	uint32_t *markers = calloc((n + 255) / 256, 4);
	size_t names = x.len;
	for (unsigned i = 0; i < n; i++) {
		char nm[64], t;
		sym_name(i, nm, sizeof nm, &t);
		if (i % 256 == 0)
			markers[i / 256] = (uint32_t)(x.len - names);
		size_t l = strlen(nm) + 1;
		put8(&x, (uint8_t)l);
		put8(&x, (uint8_t)t);
		put(&x, nm, l - 1);
	}
	align8(&x);
	put(&x, markers, 4 * ((n + 255) / 256));
	align8(&x);
	uint16_t idx[256];
	size_t tt = x.len;
	for (int i = 0; i < 256; i++) {
		char tok[3];
		token(i, tok);
		idx[i] = (uint16_t)(x.len - tt);
		put(&x, tok, strlen(tok) + 1);
	}
	align8(&x);
	for (int i = 0; i < 256; i++)
		put16(&x, idx[i]);
	if (late) {
		align8(&x);
		put(&x, offs.b, offs.len);
		align8(&x);
		put64(&x, RB);
	}
	for (int i = 0; i < 64; i++)
		put8(&x, 0xcc);
	free(markers);
	free(offs.b);
	return x;
}

static int check_syms(const struct vsp_symtab *t, unsigned n)
{
	if (!t || vsp_sym_count(t) != n)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		char nm[64], type;
		uint64_t a;
		sym_name(i, nm, sizeof nm, &type);
		if (vsp_sym_addr(t, nm, &a) < 0 || a != sym_value(i))
			return 0;
	}
	return 1;
}

static void test_synthetic(void)
{
	char err[256];
	struct vsp_ksyms_loc loc;
	for (int late = 0; late < 2; late++) {
		struct blob x = make_table(1000, late);
		struct vsp_symtab *t = vsp_ksyms_decode(x.b, x.len, VA, &loc, err,
							sizeof err);
		ok(t != NULL, "%s layout decodes (%s)", late ? "6.4" : "6.1",
		   t ? "ok" : err);
		ok(check_syms(t, 1000), "every name and address comes back");
		ok(loc.nsyms == 1000 && loc.base == RB && loc.base_relative &&
		   loc.absolute_percpu, "num_syms, relative base, per-CPU mode");
		const struct vsp_sym *s = t ? vsp_sym_get(t, 0) : NULL;
		ok(s && s->type == 'A' && s->addr == 0, "per-CPU symbols stay absolute");
		vsp_sym_free(t);
		free(x.b);
	}
}

static size_t tok_off(const uint8_t *index, int i)
{
	return (size_t)(index[2 * i] | index[2 * i + 1] << 8);
}

/* Every corruption must fail cleanly (or, where harmless, decode). */
static void test_hostile(void)
{
	char err[256];
	struct blob x = make_table(700, false);
	uint8_t *c = malloc(x.len);

	struct vsp_ksyms_loc loc;
	struct vsp_symtab *t = vsp_ksyms_decode(x.b, x.len, VA, &loc, err, sizeof err);
	vsp_sym_free(t);
	size_t names = (size_t)(loc.names - VA), ti = (size_t)(loc.token_index - VA);
	size_t mk = (size_t)(loc.markers - VA), tt = (size_t)(loc.token_table - VA);

	/* Truncations at every eighth byte before the end of the index:
	 * never a read past the end. */
	unsigned nulls = 0, total = 0;
	for (size_t cut = 0; cut < ti + 512; cut += 8) {
		memcpy(c, x.b, cut);
		struct vsp_symtab *t = vsp_ksyms_decode(c, cut, VA, NULL, err,
							sizeof err);
		nulls += t == NULL;
		total++;
		vsp_sym_free(t);
	}
	ok(nulls == total, "%u truncated tables all refused", total);


	memcpy(c, x.b, x.len);
	c[names] = 0xff;		/* a length that runs away (2-byte form) */
	c[names + 1] = 0x7f;
	t = vsp_ksyms_decode(c, x.len, VA, NULL, err, sizeof err);
	ok(!t && err[0], "a name length off the table is refused: %s", err);
	vsp_sym_free(t);

	memcpy(c, x.b, x.len);
	c[ti + 2 * 77] = 0xff;		/* a token offset out of range */
	c[ti + 2 * 77 + 1] = 0x7f;
	t = vsp_ksyms_decode(c, x.len, VA, NULL, err, sizeof err);
	ok(!t && err[0], "a token offset out of range is refused: %s", err);
	vsp_sym_free(t);

	memcpy(c, x.b, x.len);
	c[mk + 4] ^= 1;			/* marker 1 off by one */
	t = vsp_ksyms_decode(c, x.len, VA, NULL, err, sizeof err);
	ok(!t && err[0], "a marker that disagrees is refused: %s", err);
	vsp_sym_free(t);

	memcpy(c, x.b, x.len);
	size_t off = (size_t)(loc.offsets - VA);
	c[off + 4 * 400 + 1] ^= 0x40;	/* address 400 out of order */
	t = vsp_ksyms_decode(c, x.len, VA, NULL, err, sizeof err);
	ok(!t && strstr(err, "sorted"), "unsorted addresses are refused: %s", err);
	vsp_sym_free(t);

	memcpy(c, x.b, x.len);
	c[tt + tok_off(x.b + ti, 'x')] = 0;	/* a token emptied */
	t = vsp_ksyms_decode(c, x.len, VA, NULL, err, sizeof err);
	ok(!t && err[0], "an empty token is refused: %s", err);
	vsp_sym_free(t);

	/* A name byte that expands to a space: names must stay one word. */
	memcpy(c, x.b, x.len);
	size_t sp = tt + tok_off(x.b + ti, 'y');
	c[sp] = ' ';
	t = vsp_ksyms_decode(c, x.len, VA, NULL, err, sizeof err);
	ok(!t && strstr(err, "byte 0x20"), "a space in a name is refused: %s", err);
	vsp_sym_free(t);

	/* Random byte flips: whatever comes out, no crash and no hang. */
	srand(7);
	unsigned decoded = 0;
	for (int i = 0; i < 300; i++) {
		memcpy(c, x.b, x.len);
		for (int k = 0; k < 4; k++)
			c[(size_t)rand() % x.len] = (uint8_t)rand();
		t = vsp_ksyms_decode(c, x.len, VA, NULL, err, sizeof err);
		decoded += t != NULL;
		vsp_sym_free(t);
	}
	ok(1, "300 random corruptions survived (%u still decoded)", decoded);

	/* Thousands of look-alike token tables: bounded work. */
	struct blob y = { 0 };
	for (int i = 0; i < 5000; i++)
		put(&y, "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9\0", 20);
	clock_t c0 = clock();
	t = vsp_ksyms_decode(y.b, y.len, VA, NULL, err, sizeof err);
	double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	ok(!t && strstr(err, "look-alike") && secs < 2,
	   "5000 look-alikes: refused in %.3f s: %s", secs, err);
	free(y.b);
	free(c);
	free(x.b);
}

/* ------------------------------------------------------------ the guest */

struct mem {
	uint64_t lo, hi;	/* mapped ranges */
	uint64_t lo2, hi2;
	const uint8_t *data;	/* at lo2 */
	size_t dlen;
	unsigned reads;
};

static long mem_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct mem *m = ctx;
	m->reads++;
	size_t n = 0;
	uint8_t *o = buf;
	while (n < len) {
		uint64_t a = gva + n;
		if (a >= m->lo && a < m->hi)
			o[n] = 0x90;
		else if (a >= m->lo2 && a < m->hi2)
			o[n] = a - m->lo2 < m->dlen ? m->data[a - m->lo2] : 0;
		else
			break;
		n++;
	}
	return n ? (long)n : -14;
}

static void test_guest(void)
{
	char err[256];
	struct blob x = make_table(1000, false);
	/* Slid by 0x1c00000: text at 0xffffffff82c00000, two 2 MiB pages,
	 * the gap, then .rodata holding the table. */
	uint64_t slide = 0x1c00000;
	/* The synthetic table was built for RB; rebase its relative base. */
	uint8_t *d = malloc(x.len);
	memcpy(d, x.b, x.len);
	struct vsp_ksyms_loc loc;
	struct vsp_symtab *t0 = vsp_ksyms_decode(d, x.len, VA, &loc, err, sizeof err);
	vsp_sym_free(t0);
	uint64_t nb = RB + slide;
	memcpy(d + (loc.relative_base - VA), &nb, 8);

	struct mem m = { RB + slide, RB + slide + 0x3ff000,
			 RB + slide + 0x400000, RB + slide + 0x600000, d, x.len, 0 };
	struct vsp_ksyms_stats st;
	struct vsp_symtab *t = vsp_ksyms_from_guest(mem_read, &m,
						    RB + slide + 0x123456, &st,
						    err, sizeof err);
	ok(t != NULL, "guest: found and decoded (%s)", t ? "ok" : err);
	ok(st.text == RB + slide && st.rodata == RB + slide + 0x400000,
	   "guest: _text 0x%" PRIx64 ", .rodata 0x%" PRIx64, st.text, st.rodata);
	ok(t && vsp_sym_slide(t) == (int64_t)slide, "guest: slide 0x%" PRIx64,
	   t ? (uint64_t)vsp_sym_slide(t) : 0);
	uint64_t a = 0;
	int rc = t ? vsp_sym_addr(t, "sym_500_x", &a) : -1;
	ok(rc == 0 && a == sym_value(500) + slide,
	   "guest: lookups answer run-time addresses (0x%" PRIx64 ")", a);
	const struct vsp_sym *s = t ? vsp_sym_get(t, NPCPU + 1) : NULL;
	ok(s && s->addr == sym_value(NPCPU + 1), "guest: the table keeps link-time addresses");
	vsp_sym_free(t);

	/* No rip hint: the whole range is searched. */
	t = vsp_ksyms_from_guest(mem_read, &m, 0, &st, err, sizeof err);
	ok(t && st.text == RB + slide, "guest without a hint: found too");
	vsp_sym_free(t);

	/* A guest with nothing mapped, or no table: an error, bounded. */
	struct mem none = { 0, 0, 0, 0, NULL, 0, 0 };
	t = vsp_ksyms_from_guest(mem_read, &none, 0, &st, err, sizeof err);
	ok(!t && strstr(err, "no kernel image"), "nothing mapped: %s", err);
	struct mem blank = { RB, RB + 0x200000, RB + 0x400000, RB + 0x800000, NULL, 0, 0 };
	t = vsp_ksyms_from_guest(mem_read, &blank, RB + 0x100, &st, err, sizeof err);
	ok(!t && strstr(err, "no symbol table"), "no table in the image: %s", err);
	free(d);
	free(x.b);
}

/* ------------------------------------------------------- the real kernel */

static long img_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	size_t n = vsp_kimg_read(ctx, gva, buf, len);
	return n ? (long)n : -14;
}

static void test_vmlinux(void)
{
	char vp[4096], mp[4096], err[256];
	rig_cache_file("vmlinux", vp, sizeof vp);
	rig_cache_file("System.map", mp, sizeof mp);
	struct vsp_kimg *img = vsp_kimg_open(vp, err, sizeof err);
	struct vsp_symtab *map = img ? vsp_sym_load(mp, err, sizeof err) : NULL;
	if (!img || !map) {
		skip("no cached vmlinux and System.map (tests/guest/rig.sh symbols)");
		vsp_kimg_free(img);
		return;
	}
	uint64_t ra;
	const void *rd;
	size_t rs;
	if (vsp_kimg_section(img, ".rodata", &ra, &rd, &rs) < 0 || !rd) {
		ok(0, "vmlinux has .rodata");
		goto out;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct vsp_ksyms_loc loc;
	struct vsp_symtab *ks = vsp_ksyms_decode(rd, rs, ra, &loc, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ok(ks != NULL, "the vmlinux .rodata decodes in %.1f ms (%s)", ms,
	   ks ? "ok" : err);
	if (!ks)
		goto out;
	diag("token table 0x%" PRIx64 ", names 0x%" PRIx64 ", %u symbols, "
	     "base 0x%" PRIx64, loc.token_table, loc.names, loc.nsyms, loc.base);
	/* Every core symbol of the guest's own kallsyms, in the kernel's
	 * order: address, type and name. */
	size_t n = vsp_sym_count(map), core = 0, same = 0, k = 0;
	size_t nk = vsp_sym_count(ks);
	char first[400] = "";
	for (size_t i = 0; i < n; i++) {
		const struct vsp_sym *s = vsp_sym_get(map, i);
		if (s->module)
			continue;
		core++;
		const struct vsp_sym *d = k < nk ? vsp_sym_get(ks, k++) : NULL;
		bool eq = d && d->addr == s->addr && d->type == s->type &&
			  strcmp(d->name, s->name) == 0;
		same += eq;
		if (!eq && !first[0])
			snprintf(first, sizeof first, "%c %s at 0x%" PRIx64 " vs %c %s at 0x%" PRIx64,
				 s->type, s->name, s->addr, d ? d->type : '?',
				 d ? d->name : "(none)", d ? d->addr : 0);
	}
	ok(core > 10000 && same == core && nk == core,
	   "all %zu core symbols of /proc/kallsyms agree (%zu same, %zu decoded%s%s)",
	   core, same, nk, first[0] ? "; first miss: " : "", first);
	uint64_t a = 0;
	int r1 = vsp_sym_addr(ks, "__x64_sys_openat", &a);
	int r2 = vsp_sym_addr(map, "__x64_sys_openat", &ra);
	ok(r1 == 0 && r2 == 0 && a == ra, "__x64_sys_openat at 0x%" PRIx64, a);
	vsp_sym_free(ks);

	/* The image as a guest would show it (no slide): the sampler must
	 * find the tables without copying the whole text. */
	struct vsp_ksyms_stats st;
	ks = vsp_ksyms_from_guest(img_read, img, 0xffffffff81001234ull, &st, err,
				  sizeof err);
	ok(ks && vsp_sym_count(ks) == core && vsp_sym_slide(ks) == 0,
	   "from the image as guest memory: %zu symbols (%s)",
	   ks ? vsp_sym_count(ks) : 0, ks ? "ok" : err);
	ok(st.bytes < (8u << 20), "copied %" PRIu64 " KiB in %" PRIu64 " reads, "
	   "from 0x%" PRIx64, st.bytes >> 10, st.reads, st.rodata);

	/* The kernel's .BTF through the same reads: the offsets process
	 * context uses must be the vmlinux file's. */
	uint8_t *btf = NULL;
	size_t bn = 0;
	int rb = ks ? vsp_ksyms_read_btf(img_read, img, ks, &btf, &bn, err, sizeof err) : -1;
	ok(rb == 0 && bn > 1000000, "the .BTF read from memory: %zu KiB (%s)", bn >> 10,
	   rb == 0 ? "ok" : err);
	struct vsp_linux lm, lf;
	int l1 = rb == 0 ? vsp_linux_init_mem(&lm, btf, bn, "mem", ks, err, sizeof err) : -1;
	int l2 = vsp_linux_init(&lf, vp, ks, err, sizeof err);
	ok(l1 == 0 && l2 == 0 && memcmp(&lm, &lf, sizeof lm) == 0,
	   "BTF offsets from memory equal the vmlinux file's (comm at %u, cred at %u, "
	   "uid at %u, current at 0x%" PRIx64 ")", lm.task_comm, lm.task_cred,
	   lm.cred_uid, lm.current_off);
	free(btf);
	/* Broken BTF bytes: an error, not a crash. */
	uint8_t junk[64] = { 0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f };
	ok(vsp_linux_init_mem(&lm, junk, sizeof junk, "junk", ks, err, sizeof err) < 0,
	   "broken BTF refused: %s", err);
	vsp_sym_free(ks);
out:
	vsp_sym_free(map);
	vsp_kimg_free(img);
}

int main(void)
{
	test_synthetic();
	test_hostile();
	test_guest();
	test_vmlinux();
	return done();
}
