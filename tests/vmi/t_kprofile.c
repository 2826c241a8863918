/*
 * t_kprofile.c: the BTF, ORC tables and tail jumps a profile carries.
 *
 * A small kernel in memory (three functions, one tail jump between two of
 * them, a BTF blob, four ORC entries) at a KASLR slide: collected as `vsp
 * profile --gdb` collects it, written, loaded back byte for byte, served
 * at run-time addresses and compared with the kernel it came from.  Every
 * kind of damage to the file must be refused with its line; a kernel that
 * differs inside a compared window must be told apart; tail jumps that do
 * not join function starts must not be taken.  With the guest kernel
 * cached, the real vmlinuz gives the sections an attach would copy.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/kimage.h"
#include "vmi/kprofile.h"
#include "vmi/kallsyms.h"
#include "vmi/unwind.h"

#define SLIDE 0x1a000000ull
#define TEXT 0xffffffff81000000ull
#define RO 0xffffffff82000000ull
#define BTF_LEN 0x300
#define ORC_IP (RO + 0x1000)
#define ORC (RO + 0x1010)

static const char map[] =
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T fa\n"
	"ffffffff81000040 T fb\n"
	"ffffffff81000100 T fc\n"
	"ffffffff81000180 D fvar\n"
	"ffffffff81000200 T _etext\n"
	"ffffffff82000000 R __start_BTF\n"
	"ffffffff82000300 R __stop_BTF\n"
	"ffffffff82001000 R __start_orc_unwind_ip\n"
	"ffffffff82001010 R __stop_orc_unwind_ip\n"
	"ffffffff82001010 R __start_orc_unwind\n"
	"ffffffff82001028 R __stop_orc_unwind\n"
	"ffffffff82002000 R _end\n";

static uint8_t text[0x200], ro[0x2000];
static unsigned reads;

/* The kernel at run-time addresses (link-time + SLIDE). */
static long mem_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	(void)ctx;
	uint64_t a = gva - SLIDE;
	reads++;
	if (a >= TEXT && a - TEXT <= sizeof text && len <= sizeof text - (a - TEXT)) {
		memcpy(buf, text + (a - TEXT), len);
		return (long)len;
	}
	if (a >= RO && a - RO <= sizeof ro && len <= sizeof ro - (a - RO)) {
		memcpy(buf, ro + (a - RO), len);
		return (long)len;
	}
	return -14;
}

/* The same as a backend that batches reads: one call a batch. */
static unsigned batches;
static int mem_many(void *ctx, struct vsp_read *r, size_t n)
{
	batches++;
	for (size_t i = 0; i < n; i++) {
		if (r[i].len > VSP_GREAD_PIECE ||
		    (r[i].gva & 4095) + r[i].len > 4096)
			return -22;	/* what the backend would refuse */
		r[i].got = mem_read(ctx, r[i].gva, r[i].buf, r[i].len);
	}
	return 0;
}

static void make_kernel(void)
{
	memset(text, 0xcc, sizeof text);
	/* fa: push rbp; ...; jmp fb (a tail jump); fb and fc: ret. */
	text[0] = 0x55;
	text[0x10] = 0xe9;
	int32_t rel = (int32_t)(0x40 - 0x15);
	memcpy(text + 0x11, &rel, 4);
	text[0x40] = 0xc3;
	text[0x100] = 0xc3;
	for (size_t i = 0; i < BTF_LEN; i++)
		ro[i] = (uint8_t)(i * 7 + 3);
	ro[0] = 0x9f;
	ro[1] = 0xeb;
	/* ORC: four sorted ips relative to their slots, call frames 8 bytes
	 * deep (sp_reg SP, the 6.1 layout). */
	static const uint64_t ips[4] = { TEXT, TEXT + 0x40, TEXT + 0x100,
					 TEXT + 0x180 };
	for (int i = 0; i < 4; i++) {
		int32_t r = (int32_t)(ips[i] - (ORC_IP + 4 * (uint64_t)i));
		memcpy(ro + 0x1000 + 4 * i, &r, 4);
		static const uint8_t e[6] = { 16, 0, 0, 0, 0x05, 0x00 };
		memcpy(ro + 0x1010 + 6 * i, e, 6);
	}
}

static int load_text(const char *text_, struct vsp_kprof *p, char *err,
		     size_t errlen)
{
	return vsp_kprof_load_mem(text_, strlen(text_), "t.profile", p, err,
				  errlen);
}

/* The written profile with `from` replaced by `to` (once). */
static char *edit(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	if (!at)
		return strdup(s);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *o = malloc(n);
	snprintf(o, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return o;
}

/* The image's kernel as it runs at `slide`: its bytes at run-time
 * addresses, kallsyms_relative_base relocated as boot relocates it, and
 * optionally one byte changed (another build). */
struct run_kernel {
	struct vsp_kimage_buf kb;
	uint64_t slide, rb, flip;
	bool relocate;
};

static long run_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct run_kernel *k = ctx;
	uint64_t a = gva - k->slide;
	long n = vsp_kimage_gread(&k->kb, a, buf, len);
	if (n <= 0)
		return n;
	if (k->relocate && a <= k->rb && k->rb + 8 <= a + (uint64_t)n) {
		uint64_t v;
		memcpy(&v, (uint8_t *)buf + (k->rb - a), 8);
		v += k->slide;
		memcpy((uint8_t *)buf + (k->rb - a), &v, 8);
	}
	if (k->flip >= a && k->flip < a + (uint64_t)n)
		((uint8_t *)buf)[k->flip - a] ^= 1;
	return n;
}

static int run_many(void *ctx, struct vsp_read *r, size_t n)
{
	batches++;
	if (n > VSP_GREAD_BATCH)
		return -22;
	for (size_t i = 0; i < n; i++) {
		if (r[i].len > VSP_GREAD_PIECE ||
		    (r[i].gva & 4095) + r[i].len > 4096)
			return -22;
		r[i].got = run_read(ctx, r[i].gva, r[i].buf, r[i].len);
	}
	return 0;
}

/* The digest of the image's kernel, written, loaded back and checked
 * against that kernel running at a slide and against others. */
static void digest_checks(struct vsp_symtab *kt, const struct vsp_ksyms_loc *loc,
			  const uint8_t *elf, size_t len)
{
	char err[256], *syms = NULL, *prof = NULL;
	size_t slen = 0, plen = 0;
	FILE *f = open_memstream(&syms, &slen);
	vsp_ksyms_write(f, kt, "", "t");
	fclose(f);
	struct run_kernel k = { { elf, len }, 0, loc->relative_base, 0, true };
	struct vsp_kprof p;
	memset(&p, 0, sizeof p);
	int rc = vsp_kprof_digest_collect(&p, loc, kt, 0,
					  vsp_kprof_symbols_crc(syms, slen),
					  run_read, &k, err, sizeof err);
	ok(rc == 0 && p.dig.nsyms == loc->nsyms && p.dig.nwin > 30,
	   "the digest of the image's kallsyms (%zu windows): %s", p.dig.nwin,
	   rc == 0 ? "ok" : err);
	f = open_memstream(&prof, &plen);
	fputs(syms, f);
	vsp_kprof_write(f, &p);
	fclose(f);
	ok(strstr(prof, "\n# kallsyms-digest 1 nsyms ") &&
	   strstr(prof, "\n# kallsyms-window names 0xffffffff8"),
	   "written after the symbols as '# kallsyms-' lines");
	struct vsp_kprof q;
	rc = vsp_kprof_load_mem(prof, plen, "k.profile", &q, err, sizeof err);
	ok(rc == 0 && q.dig.nwin == p.dig.nwin && q.dig.symbols == p.dig.symbols &&
	   q.dig.symbols_read == q.dig.symbols &&
	   memcmp(q.dig.win, p.dig.win, p.dig.nwin * sizeof p.dig.win[0]) == 0,
	   "loaded back the same, bound to the symbols it was written with");
	struct vsp_symtab *ps = vsp_sym_load_mem(prof, plen, "k.profile", err,
						 sizeof err);
	ok(ps && vsp_sym_count(ps) == vsp_sym_count(kt),
	   "  ... and the file is still a System.map to the symbol loader");

	/* The kernel running at a KASLR slide: found by the banner, every
	 * window the same, in a few batches. */
	k.slide = 0x2a400000;
	uint64_t text = 0;
	vsp_sym_addr(kt, "_text", &text);
	int64_t slide = 0;
	unsigned nb = 0;
	batches = 0;
	rc = ps ? vsp_kprof_digest_slide(&q, ps, text + k.slide + 0x345678,
					 run_many, run_read, &k, &slide, &nb) : -1;
	ok(rc == 0 && (uint64_t)slide == k.slide && nb == 1 && batches == 1,
	   "the slide by the banner window, in one batch (0x%llx, %u)",
	   (unsigned long long)slide, nb);
	uint64_t end = 0;
	vsp_sym_addr(kt, "_end", &end);
	batches = 0;
	rc = ps ? vsp_kprof_digest_slide(&q, ps, end - 0x1000 + k.slide, run_many,
					 run_read, &k, &slide, &nb) : -1;
	ok(rc == 0 && (uint64_t)slide == k.slide && nb > 1 && batches == nb,
	   "  ... and from a rip at the image's end, as early in a boot "
	   "(%u batches)", nb);
	batches = 0;
	rc = vsp_kprof_digest_verify(&q, (int64_t)k.slide, run_many, run_read, &k,
				     &nb, err, sizeof err);
	ok(rc == 0 && nb <= 4 && batches == nb,
	   "every window matches the running kernel, %u batches for %zu windows",
	   nb, q.dig.nwin);
	rc = vsp_kprof_digest_verify(&q, (int64_t)k.slide, NULL, run_read, &k,
				     &nb, err, sizeof err);
	ok(rc == 0 && nb == q.dig.nwin, "  ... and read one by one without a "
	   "batching backend (%u reads)", nb);

	/* Another build: a byte of each table changed in turn. */
	for (size_t i = 0; i < q.dig.nwin; i++) {
		const struct vsp_kprof_window *w = &q.dig.win[i];
		if (i && w->table == q.dig.win[i - 1].table &&
		    (i + 1 == q.dig.nwin || w->table == q.dig.win[i + 1].table))
			continue;	/* the first and last of each table */
		k.flip = w->addr + w->len - 1;
		rc = vsp_kprof_digest_verify(&q, (int64_t)k.slide, run_many,
					     run_read, &k, NULL, err, sizeof err);
		ok(rc < 0 && strstr(err, "does not match the running kernel's"),
		   "a byte changed at 0x%llx: %s",
		   (unsigned long long)k.flip, err);
	}
	k.flip = 0;
	k.relocate = false;
	rc = vsp_kprof_digest_verify(&q, (int64_t)k.slide, run_many, run_read, &k,
				     NULL, err, sizeof err);
	ok(rc < 0 && strstr(err, "kallsyms_relative_base"),
	   "a relative base not moved by the slide: %s", err);
	k.relocate = true;
	rc = vsp_kprof_digest_verify(&q, (int64_t)k.slide + 0x200000, run_many,
				     run_read, &k, NULL, err, sizeof err);
	ok(rc < 0, "the wrong slide: %s", err);
	rc = ps ? vsp_kprof_digest_slide(&q, ps, text + 0x345678 + 0x10000000,
					 run_many, run_read, &k, &slide, NULL) : 0;
	ok(rc < 0, "no banner below the rip: no slide");
	k.flip = q.dig.win[0].addr + 20;	/* the banner: another build */
	rc = ps ? vsp_kprof_digest_slide(&q, ps, text + k.slide + 0x345678,
					 run_many, run_read, &k, &slide, NULL) : 0;
	ok(rc < 0, "another kernel's banner: no slide");
	k.flip = 0;

	/* The file edited after it was written. */
	char *e = edit(prof, "\n0000000000000000 A fixed_percpu_data",
		       "\n0000000000000008 A fixed_percpu_data");
	rc = vsp_kprof_load_mem(e, strlen(e), "k.profile", &q, err, sizeof err);
	ok(rc == 0 && q.dig.symbols_read != q.dig.symbols,
	   "a symbol changed since: the digest no longer vouches for them");
	free(e);
	char crc[16];
	snprintf(crc, sizeof crc, " 0x%08x\n", p.dig.win[5].crc);
	char to[16];
	snprintf(to, sizeof to, " 0x%08x\n", p.dig.win[5].crc ^ 1);
	e = edit(prof, crc, to);
	rc = vsp_kprof_load_mem(e, strlen(e), "k.profile", &q, err, sizeof err);
	rc = rc == 0 ? vsp_kprof_digest_verify(&q, (int64_t)k.slide, run_many,
					       run_read, &k, NULL, err,
					       sizeof err) : 0;
	ok(rc < 0 && strstr(err, "does not match"), "a digest that does not match: %s",
	   err);
	free(e);
	vsp_sym_free(ps);
	free(syms);
	free(prof);
}

/* Digest lines the loader refuses, each with its line. */
static void digest_damage(void)
{
	static const char head[] = "ffffffff81000000 T fa\n";
	struct {
		const char *what, *lines, *want;
	} bad[] = {
		{ "a window before its digest",
		  "# kallsyms-window names 0xffffffff82000000 16 0x1\n",
		  "before the digest" },
		{ "fewer windows than stated",
		  "# kallsyms-digest 1 nsyms 9 symbols 0x1 windows 2\n"
		  "# kallsyms-window names 0xffffffff82000000 16 0x1\n",
		  "states 2 windows and 1 follow" },
		{ "more windows than stated",
		  "# kallsyms-digest 1 nsyms 9 symbols 0x1 windows 1\n"
		  "# kallsyms-window names 0xffffffff82000000 16 0x1\n"
		  "# kallsyms-window names 0xffffffff82000200 16 0x1\n",
		  "more kallsyms windows than" },
		{ "an unknown table",
		  "# kallsyms-digest 1 nsyms 9 symbols 0x1 windows 1\n"
		  "# kallsyms-window nomes 0xffffffff82000000 16 0x1\n",
		  "unknown kallsyms table 'nomes'" },
		{ "a window too long",
		  "# kallsyms-digest 1 nsyms 9 symbols 0x1 windows 1\n"
		  "# kallsyms-window names 0xffffffff82000000 513 0x1\n",
		  "not 1..512 bytes" },
		{ "a window outside the kernel",
		  "# kallsyms-digest 1 nsyms 9 symbols 0x1 windows 1\n"
		  "# kallsyms-window names 0x1000 16 0x1\n",
		  "not in the kernel image" },
		{ "a later version",
		  "# kallsyms-digest 2 nsyms 9 symbols 0x1 windows 1\n",
		  "version 2" },
		{ "a digest without its fields", "# kallsyms-digest 1\n",
		  "want '# kallsyms-digest 1" },
		{ "a digest given twice",
		  "# kallsyms-digest 1 nsyms 9 symbols 0x1 windows 1\n"
		  "# kallsyms-digest 1 nsyms 9 symbols 0x1 windows 1\n",
		  "given twice" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text_[512], err[256] = "";
		snprintf(text_, sizeof text_, "%s%s", head, bad[i].lines);
		struct vsp_kprof z;
		int rc = load_text(text_, &z, err, sizeof err);
		ok(rc < 0 && strstr(err, bad[i].want) &&
		   strncmp(err, "t.profile:", 10) == 0 && !z.dig.nsyms,
		   "%s: %s", bad[i].what, err);
	}
	char err[256];
	struct vsp_kprof z;
	ok(load_text("ffffffff81000000 T fa\n# kallsyms-other x\n", &z, err,
		     sizeof err) == 0 && !z.dig.nsyms,
	   "another '# kallsyms-' line: left alone");
}

int main(void)
{
	char err[256], note[256];
	make_kernel();
	struct vsp_symtab *t = vsp_sym_load_mem(map, sizeof map - 1, "map", err,
						sizeof err);
	ok(t != NULL, "the symbols load");
	if (!t)
		return done();
	vsp_sym_set_slide(t, (int64_t)SLIDE);

	/* -- collect, as `vsp profile --gdb` does. */
	struct vsp_kprof p;
	struct vsp_kprof_stats st;
	int rc = vsp_kprof_collect(&p, t, mem_read, NULL, &st, note, sizeof note,
				   err, sizeof err);
	ok(rc == 0, "collected (%s)", rc == 0 ? "ok" : err);
	if (rc < 0)
		return done();
	ok(p.sec[VSP_KPROF_BTF].addr == RO && p.sec[VSP_KPROF_BTF].size == BTF_LEN &&
	   memcmp(p.sec[VSP_KPROF_BTF].data, ro, BTF_LEN) == 0,
	   "the BTF: link-time address, its size, its bytes");
	ok(p.sec[VSP_KPROF_ORC_IP].addr == ORC_IP && p.sec[VSP_KPROF_ORC_IP].size == 16 &&
	   p.sec[VSP_KPROF_ORC].addr == ORC && p.sec[VSP_KPROF_ORC].size == 24,
	   "the ORC tables: both, at link-time addresses");
	/* fa and _text start at one address: the jump is found from each. */
	int pairs_ok = st.tails >= 1 && p.sec[VSP_KPROF_TAILS].size == 16 * st.tails;
	for (size_t i = 0; pairs_ok && i < st.tails; i++) {
		uint64_t pair[2];
		memcpy(pair, p.sec[VSP_KPROF_TAILS].data + 16 * i, 16);
		pairs_ok = pair[0] == TEXT + 0x40 && pair[1] == TEXT;
	}
	ok(pairs_ok, "the tail jump fa -> fb, link-time (%u found)", st.tails);
	ok(note[0] == 0, "nothing missing (%s)", note[0] ? note : "no note");

	/* -- written and loaded back. */
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	fputs("# vsp profile 1\n", f);
	ok(vsp_kprof_write(f, &p) == 0, "written");
	fclose(f);
	ok(strstr(buf, "# section btf 0xffffffff82000000 768 zlib ") != NULL,
	   "a section header names it, its address and size");
	struct vsp_kprof q;
	rc = load_text(buf, &q, err, sizeof err);
	ok(rc == 0, "loaded back (%s)", rc == 0 ? "ok" : err);
	int same = rc == 0;
	for (int i = 0; same && i < VSP_KPROF_NSEC; i++)
		same = q.sec[i].addr == p.sec[i].addr && q.sec[i].size == p.sec[i].size &&
		       memcmp(q.sec[i].data, p.sec[i].data, p.sec[i].size) == 0;
	ok(same, "every section the same, byte for byte");
	struct vsp_kprof empty;
	ok(load_text("# vsp profile 1\nffffffff81000000 T fa\n", &empty, err,
		     sizeof err) == 0 && !empty.sec[VSP_KPROF_BTF].data,
	   "a profile without sections: none, no error");

	/* -- served at run-time addresses, inside a section only. */
	struct vsp_kprof_reader kr = { &q, (int64_t)SLIDE };
	uint8_t b[8];
	ok(vsp_kprof_read(&kr, RO + SLIDE + 0x2f8, b, 8) == 8 &&
	   memcmp(b, ro + 0x2f8, 8) == 0, "the BTF's last 8 bytes are served");
	ok(vsp_kprof_read(&kr, RO + SLIDE + 0x2fc, b, 8) < 0,
	   "a read running past the section is refused");
	ok(vsp_kprof_read(&kr, TEXT + SLIDE, b, 8) < 0,
	   "kernel text the profile does not hold is refused");
	ok(vsp_kprof_read(&kr, RO + 0x10, b, 8) < 0,
	   "the link-time address of a slid kernel is no run-time one");

	/* -- compared with the running kernel. */
	unsigned nr = 0;
	for (int i = 0; i < VSP_KPROF_TAILS; i++) {
		rc = vsp_kprof_verify(&q, i, (int64_t)SLIDE, NULL, mem_read, NULL,
				      &nr, err, sizeof err);
		ok(rc == 0 && nr == 8, "%s matches the kernel it came from (%u reads)",
		   vsp_kprof_name(i), nr);
		batches = 0;
		rc = vsp_kprof_verify(&q, i, (int64_t)SLIDE, mem_many, mem_read,
				      NULL, &nr, err, sizeof err);
		ok(rc == 0 && nr == 1 && batches == 1,
		   "  ... and its 8 windows are one batch (%u)", batches);
	}
	ro[0x2ff] ^= 1;	/* the last window */
	rc = vsp_kprof_verify(&q, VSP_KPROF_BTF, (int64_t)SLIDE, mem_many,
			      mem_read, NULL, NULL, err, sizeof err);
	ok(rc < 0 && strstr(err, "not the running kernel's"),
	   "another kernel's BTF is told apart: %s", err);
	ro[0x2ff] ^= 1;
	rc = vsp_kprof_verify(&q, VSP_KPROF_ORC, (int64_t)SLIDE + 0x1000000,
			      mem_many, mem_read, NULL, NULL, err, sizeof err);
	ok(rc < 0 && strstr(err, "not readable"), "memory that is not there: %s", err);

	/* -- an unwinder takes the profile's ORC tables and tail jumps. */
	struct vsp_unwind_opts uo;
	memset(&uo, 0, sizeof uo);
	struct vsp_unwinder *u = vsp_unwind_new(t, NULL, &uo, err, sizeof err);
	ok(u && vsp_unwind_orc_from_guest(u, vsp_kprof_read, &kr, NULL, err,
					  sizeof err) == 0,
	   "the unwinder takes the profile's ORC tables");
	int32_t depth = 0;
	rc = u ? vsp_unwind_orc_depth(u, TEXT + SLIDE + 0x44, &depth) : -1;
	ok(rc == 0 && depth == 8, "  ... and answers from them (depth %d in fb)",
	   depth);
	ok(u && vsp_unwind_tails_adopt(u, q.sec[VSP_KPROF_TAILS].data,
				       q.sec[VSP_KPROF_TAILS].size, err, sizeof err) == 0,
	   "  ... and its tail jumps");
	if (u)
		vsp_unwind_free(u);
	u = vsp_unwind_new(t, NULL, &uo, err, sizeof err);
	uint64_t bad[2] = { TEXT + 0x180, TEXT };	/* fvar is no function */
	rc = u ? vsp_unwind_tails_adopt(u, (uint8_t *)bad, 16, err, sizeof err) : 0;
	ok(rc < 0 && strstr(err, "pair 0"), "a tail jump into data is refused: %s", err);
	uint64_t mid[2] = { TEXT + 0x44, TEXT };	/* inside fb */
	rc = u ? vsp_unwind_tails_adopt(u, (uint8_t *)mid, 16, err, sizeof err) : 0;
	ok(rc < 0, "a tail jump into the middle of a function is refused");
	rc = u ? vsp_unwind_tails_adopt(u, (uint8_t *)mid, 15, err, sizeof err) : 0;
	ok(rc < 0, "a pair cut short is refused");
	if (u)
		vsp_unwind_free(u);

	/* -- damage to the file: refused with its line, nothing kept. */
	/* The first four base64 characters of the ORC ip table's data. */
	char *hdr = strstr(buf, "# section orc_unwind_ip");
	char *line1 = hdr ? strstr(hdr, "\n#=") : NULL;
	char first[8] = "";
	if (line1)
		snprintf(first, sizeof first, "%.7s", line1);
	struct {
		const char *what, *from, *to, *want;
	} bad_files[] = {
		{ "a character outside base64", first, "\n#=*AAA", "in base64" },
		{ "an unknown section", "# section tails", "# section tales",
		  "unknown section 'tales'" },
		{ "another encoding", "zlib", "lzma", "unknown encoding 'lzma'" },
		{ "a size that does not inflate", "# section btf 0xffffffff82000000 768",
		  "# section btf 0xffffffff82000000 769", "does not inflate" },
		{ "a deflated size that is not what is there", " zlib ", " zlib 1",
		  "stated" },
		{ "a size over the bound", "# section btf 0xffffffff82000000 768",
		  "# section btf 0xffffffff82000000 999999999", "not between" },
		{ "a header without its fields", "# section btf 0xffffffff82000000 768",
		  "# section btf", "want '# section NAME" },
		{ "sections that overlap", "# section orc_unwind_ip 0xffffffff82001000",
		  "# section orc_unwind_ip 0xffffffff820002f8", "overlap" },
		{ "an address past the end", "# section btf 0xffffffff82000000",
		  "# section btf 0xffffffffffffff00", "past the end" },
	};
	for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
		char *e = edit(buf, bad_files[i].from, bad_files[i].to);
		struct vsp_kprof z;
		err[0] = 0;
		rc = load_text(e, &z, err, sizeof err);
		ok(rc < 0 && strstr(err, bad_files[i].want) &&
		   strncmp(err, "t.profile", 9) == 0 && !z.sec[VSP_KPROF_BTF].data,
		   "%s: %s", bad_files[i].what, err);
		free(e);
	}
	char *twice = malloc(2 * blen + 1);
	snprintf(twice, 2 * blen + 1, "%s%s", buf, buf);
	struct vsp_kprof z;
	rc = load_text(twice, &z, err, sizeof err);
	ok(rc < 0 && strstr(err, "given twice"), "a section given twice: %s", err);
	free(twice);
	/* The BTF's stream cut after its first line of base64. */
	char *cut = strdup(buf);
	char *l2 = strstr(cut, "# section btf");
	l2 = l2 ? strchr(l2, '\n') : NULL;
	l2 = l2 ? strchr(l2 + 1, '\n') : NULL;
	if (l2)
		strcpy(l2 + 1, "ffffffff81000000 T fa\n");
	rc = load_text(cut, &z, err, sizeof err);
	ok(rc < 0 && strstr(err, "encoded"), "a section cut short: %s", err);
	free(cut);
	char *one = edit(buf, "# section orc_unwind ", "# section orc_unwind_ip ");
	rc = load_text(one, &z, err, sizeof err);
	ok(rc < 0, "one ORC table given twice, the other not: %s", err);
	free(one);

	vsp_kprof_free(&q);
	vsp_kprof_free(&p);
	free(buf);
	digest_damage();

	/* -- the real kernel image: what an attach would copy. */
	const char *cache = getenv("VSP_CACHE"), *home = getenv("HOME");
	char zp[4096];
	snprintf(zp, sizeof zp, "%s%s/guest/vmlinuz", cache ? cache : home ? home : "/",
		 cache ? "" : "/.cache/vsp");
	uint8_t *elf;
	size_t len;
	const char *how;
	if (vsp_kimage_load(zp, &elf, &len, &how, err, sizeof err) < 0) {
		skip("no cached vmlinuz (%s)", err);
		vsp_sym_free(t);
		return done();
	}
	uint64_t ra;
	const uint8_t *rd;
	size_t rs;
	struct vsp_symtab *kt = NULL;
	struct vsp_ksyms_loc loc;
	if (vsp_kimage_section(elf, len, ".rodata", &ra, &rd, &rs) == 0 && rd)
		kt = vsp_ksyms_decode(rd, rs, ra, &loc, err, sizeof err);
	ok(kt != NULL, "the vmlinuz's symbols decode");
	if (kt)
		digest_checks(kt, &loc, elf, len);
	struct vsp_kimage_buf kb = { elf, len };
	rc = kt ? vsp_kprof_collect(&p, kt, vsp_kimage_gread, &kb, &st, note,
				    sizeof note, err, sizeof err) : -1;
	ok(rc == 0, "the vmlinuz's sections collected (%s)", rc == 0 ? "ok" : err);
	if (rc == 0) {
		uint64_t a0, a1;
		vsp_sym_addr(kt, "__start_BTF", &a0);
		vsp_sym_addr(kt, "__stop_BTF", &a1);
		ok(p.sec[VSP_KPROF_BTF].size == a1 - a0 &&
		   p.sec[VSP_KPROF_BTF].data[0] == 0x9f &&
		   p.sec[VSP_KPROF_BTF].data[1] == 0xeb,
		   "its BTF: __start_BTF..__stop_BTF, with the magic (%zu KiB)",
		   p.sec[VSP_KPROF_BTF].size >> 10);
		ok(p.sec[VSP_KPROF_ORC_IP].size / 4 > 100000 &&
		   p.sec[VSP_KPROF_ORC_IP].size / 4 == p.sec[VSP_KPROF_ORC].size / 6,
		   "its ORC tables (%zu entries)", p.sec[VSP_KPROF_ORC_IP].size / 4);
		ok(st.tails > 10000, "its tail jumps (%u)", st.tails);
		vsp_kprof_free(&p);
	}
	vsp_sym_free(kt);
	free(elf);
	vsp_sym_free(t);
	return done();
}
