/*
 * t_symbols.c: the symbol table loader and its lookups (vmi/symbols.c).
 *
 * Pins System.map and kallsyms parsing, name lookups with duplicate names,
 * symbolisation at symbol edges, aliases, per-CPU and module symbols, the
 * KASLR slide, and the line-numbered errors for malformed input.  When the
 * guest rig's cached System.map is present, it is loaded too and a few
 * well-known symbols are checked against it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmi/symbols.h"
#include "tests/tap.h"

static struct vsp_symtab *load(const char *text, char *err, size_t n)
{
	return vsp_sym_load_mem(text, strlen(text), "map", err, n);
}

static const char map[] =
	"0000000000000000 A fixed_percpu_data\n"
	"000000000001f240 D runqueues\n"
	"0000000000032a00 D pcpu_hot\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T startup_64\n"
	"ffffffff81000100 t helper\n"
	"\n"
	"ffffffff81000180 T commit_creds\n"
	"ffffffff81000200 t helper\n"
	"ffffffff81000300 W weak_fn\n"
	"ffffffff81000400 T _etext\n"
	"ffffffff82000000 D helper_data\n"
	"ffffffff82000100 B __bss_stop\n";

static void test_basic(void)
{
	char err[256] = "";
	struct vsp_symtab *t = load(map, err, sizeof(err));
	uint64_t a = 0, off = 99, sz = 0, lo = 0, hi = 0;
	const char *n;
	char buf[64];

	ok(t != NULL, "loads a System.map %s", err);
	if (!t)
		return;
	ok(vsp_sym_count(t) == 13, "13 symbols%s", "");
	ok(vsp_sym_addr(t, "commit_creds", &a) == 0 &&
	   a == 0xffffffff81000180ULL, "commit_creds by name%s", "");
	ok(vsp_sym_lookup(t, "commit_creds", NULL, &sz) == 0 && sz == 0x80,
	   "size is the distance to the next symbol%s", "");
	ok(vsp_sym_addr(t, "nosuch", &a) == -1, "unknown name fails%s", "");
	ok(vsp_sym_addr(t, "helper", &a) == 0 && a == 0xffffffff81000100ULL,
	   "duplicate name: the first in file order%s", "");
	n = vsp_sym_at(t, 0xffffffff81000185ULL, &off);
	ok(n && !strcmp(n, "commit_creds") && off == 5, "address inside %s",
	   n);
	n = vsp_sym_at(t, 0xffffffff81000180ULL, &off);
	ok(n && !strcmp(n, "commit_creds") && off == 0, "address at start %s",
	   n);
	n = vsp_sym_at(t, 0xffffffff810001ffULL, &off);
	ok(n && !strcmp(n, "commit_creds") && off == 0x7f,
	   "last byte before the next symbol %s", n);
	n = vsp_sym_at(t, 0xffffffff81000200ULL, &off);
	ok(n && !strcmp(n, "helper") && off == 0,
	   "second static helper by address %s", n);
	n = vsp_sym_at(t, 0xffffffff81000010ULL, &off);
	ok(n && !strcmp(n, "startup_64") && off == 0x10,
	   "aliases: a function name over a section marker %s", n);
	ok(vsp_sym_at(t, 0xffffffff80ffffffULL, &off) == NULL,
	   "below the first symbol: none%s", "");
	ok(vsp_sym_at(t, 0xffffffff82000100ULL, &off) == NULL,
	   "at the last symbol: none (no extent)%s", "");
	ok(vsp_sym_at(t, 0x1f240, &off) == NULL,
	   "per-CPU offsets are not symbolised%s", "");
	ok(vsp_sym_addr(t, "pcpu_hot", &a) == 0 && a == 0x32a00,
	   "per-CPU symbol by name%s", "");
	ok(vsp_sym_text_range(t, &lo, &hi) == 0 &&
	   lo == 0xffffffff81000000ULL && hi == 0xffffffff81000400ULL,
	   "text range%s", "");
	ok(!strcmp(vsp_sym_format(t, 0xffffffff81000302ULL, buf, sizeof(buf)),
		   "weak_fn+0x2"), "format %s", buf);
	ok(!strcmp(vsp_sym_format(t, 0x1234, buf, sizeof(buf)), "0x1234"),
	   "format unknown %s", buf);

	/* KASLR: everything in the core kernel moves, per-CPU does not. */
	vsp_sym_set_slide(t, 0x2a00000);
	ok(vsp_sym_slide(t) == 0x2a00000, "slide reads back%s", "");
	ok(vsp_sym_addr(t, "commit_creds", &a) == 0 &&
	   a == 0xffffffff83a00180ULL, "slid lookup%s", "");
	n = vsp_sym_at(t, 0xffffffff83a00190ULL, &off);
	ok(n && !strcmp(n, "commit_creds") && off == 0x10,
	   "slid symbolisation %s", n);
	ok(vsp_sym_at(t, 0xffffffff81000190ULL, &off) == NULL ||
	   strcmp(vsp_sym_at(t, 0xffffffff81000190ULL, &off), "commit_creds"),
	   "unslid address no longer names commit_creds%s", "");
	ok(vsp_sym_addr(t, "pcpu_hot", &a) == 0 && a == 0x32a00,
	   "per-CPU symbol does not slide%s", "");
	ok(vsp_sym_text_range(t, &lo, &hi) == 0 &&
	   lo == 0xffffffff83a00000ULL, "slid text range%s", "");
	vsp_sym_set_slide(t, -0x1000000);
	ok(vsp_sym_addr(t, "commit_creds", &a) == 0 &&
	   a == 0xffffffff80000180ULL, "negative slide%s", "");
	vsp_sym_free(t);
}

static void test_kallsyms(void)
{
	static const char ks[] =
		"ffffffff9a000000 T _text\n"
		"ffffffff9a000100 T do_syscall_64\n"
		"ffffffff9a000200 T _etext\n"
		"ffffffffc0200000 t ext4_fill_super\t[ext4]\n"
		"ffffffffc0200100 t ext4_init\t[ext4]\n"
		"ffffffffc0200200 t ext4_exit [ext4]\n";
	char err[256] = "";
	struct vsp_symtab *t = load(ks, err, sizeof(err));
	const struct vsp_sym *s;
	uint64_t a, off;
	const char *n;

	ok(t != NULL, "loads kallsyms with modules %s", err);
	if (!t)
		return;
	s = vsp_sym_find(t, 0xffffffffc0200105ULL);
	ok(s && !strcmp(s->name, "ext4_init") && s->module &&
	   !strcmp(s->module, "ext4"), "module symbol and its module%s", "");
	vsp_sym_set_slide(t, 0x200000);
	ok(vsp_sym_addr(t, "ext4_init", &a) == 0 && a == 0xffffffffc0200100ULL,
	   "module symbols do not slide%s", "");
	n = vsp_sym_at(t, 0xffffffffc0200105ULL, &off);
	ok(n && !strcmp(n, "ext4_init") && off == 5,
	   "module symbolisation with a slide %s", n);
	n = vsp_sym_at(t, 0xffffffff9a200105ULL, &off);
	ok(n && !strcmp(n, "do_syscall_64") && off == 5,
	   "core symbolisation with a slide %s", n);
	vsp_sym_free(t);
}

static void expect_error(const char *text, const char *want, const char *what)
{
	char err[256] = "";
	struct vsp_symtab *t = load(text, err, sizeof(err));

	ok(t == NULL && strstr(err, want) != NULL, what, err);
	vsp_sym_free(t);
}

static void test_errors(void)
{
	expect_error("", "no symbols", "empty input: %s");
	expect_error("ffffffff81000000 T a\nzz T b\n", "map:2: bad address",
		     "bad address with line: %s");
	expect_error("ffffffff81000000 T a\nffffffff81000001 b\n",
		     "map:2: missing symbol name", "missing name: %s");
	expect_error("ffffffff81000000 TT a\n", "map:1: bad symbol type",
		     "two-letter type: %s");
	expect_error("1ffffffff81000000 T a\n", "map:1: address longer",
		     "address overflow: %s");
	expect_error("ffffffff81000000 T a b\n", "map:1: unexpected text",
		     "trailing text: %s");
	expect_error("ffffffff81000000 T a [mod\n", "map:1: bad module",
		     "unterminated module: %s");
	expect_error("0000000000000000 T a\n0000000000000000 T b\n",
		     "every address is zero", "unprivileged kallsyms: %s");
	{
		static const char nul[] = "ffffffff81000000 T a\n"
					  "ffffffff81000001 T b\0c\n";
		char err[256] = "";
		struct vsp_symtab *t = vsp_sym_load_mem(nul, sizeof(nul) - 1,
							"map", err,
							sizeof(err));

		ok(!t && strstr(err, "map:2: NUL"), "NUL byte: %s", err);
		vsp_sym_free(t);
	}
	{
		char err[256] = "";
		struct vsp_symtab *t = vsp_sym_load("/nonexistent/System.map",
						    err, sizeof(err));

		ok(!t && strstr(err, "No such file"), "missing file: %s", err);
	}
	{
		/* A name as long as the line buffer allows and one past it. */
		char *line = malloc(2100);

		memcpy(line, "ffffffff81000000 T ", 19);
		memset(line + 19, 'x', 2000);
		line[2019] = '\n';
		line[2020] = '\0';
		expect_error(line, "map:1: symbol name too long",
			     "very long name: %s");
		free(line);
	}
	vsp_sym_free(NULL);
	ok(1, "free(NULL) is harmless%s", "");
}

static void test_cached(void)
{
	const char *home = getenv("HOME");
	const char *cache = getenv("VSP_CACHE");
	char path[1024], err[256] = "";
	struct vsp_symtab *t;
	uint64_t a = 0, off = 1;
	const char *n;

	if (cache)
		snprintf(path, sizeof(path), "%s/guest/System.map", cache);
	else
		snprintf(path, sizeof(path), "%s/.cache/vsp/guest/System.map",
			 home ? home : "/");
	if (access(path, R_OK) != 0) {
		skip("no cached System.map");
		return;
	}
	t = vsp_sym_load(path, err, sizeof(err));
	ok(t != NULL, "cached System.map loads %s", err);
	if (!t)
		return;
	ok(vsp_sym_count(t) > 50000, "cached map has many symbols%s", "");
	ok(vsp_sym_addr(t, "commit_creds", &a) == 0, "commit_creds%s", "");
	n = vsp_sym_at(t, a, &off);
	ok(n && !strcmp(n, "commit_creds") && off == 0,
	   "commit_creds round trip %s", n);
	ok(vsp_sym_addr(t, "do_syscall_64", &a) == 0, "do_syscall_64%s", "");
	vsp_sym_free(t);
}

int main(void)
{
	test_basic();
	test_kallsyms();
	test_errors();
	test_cached();
	return done();
}
