/*
 * t_matcher.c: the multi-pattern matcher answers exactly what a loop of
 * vsp_glob_match over its patterns answers.
 *
 * Random pattern sets mix every shape the builder separates (literals,
 * `literal**` prefixes, general globs) and sizes that keep the DFA or push
 * it past its bound onto the NFA; thousands of strings are compared with
 * the naive loop, group bit by group bit.
 */
#include "fastpath/match.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pat {
	char text[96];
	size_t len;
	uint32_t group;
};

static uint64_t naive(const struct pat *p, size_t n, const char *s, size_t sl)
{
	uint64_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (vsp_glob_match(p[i].text, p[i].len, s, sl))
			m |= (uint64_t)1 << p[i].group;
	return m;
}

static const char *const pieces[] = {
	"a", "b", "/", ".", "ab", "etc", "*", "**", "?", "[ab]", "[!a]",
	"[a-c]", "\\*", "/",
};

static size_t rand_lit(char *buf, size_t max)
{
	static const char alpha[] = "ab/.c*";
	size_t n = (size_t)(rand() % (int)max);
	for (size_t i = 0; i < n; i++) {
		char c = alpha[rand() % 6];
		if (c == '*')
			buf[i++] = '\\';	/* an escaped star is literal */
		if (i < n)
			buf[i] = c;
		else
			n++, buf[i] = c;
	}
	buf[n] = '\0';
	return n;
}

static void rand_pat(struct pat *p, int ngroups)
{
	int shape = rand() % 10;
	p->group = (uint32_t)(rand() % ngroups);
	if (shape < 3) {
		p->len = rand_lit(p->text, 7);
		return;
	}
	if (shape < 5) {
		p->len = rand_lit(p->text, 6);
		memcpy(p->text + p->len, "**", 3);
		p->len += 2;
		return;
	}
	size_t n = 0, k = 1 + (size_t)(rand() % 6);
	for (size_t i = 0; i < k; i++) {
		const char *s = pieces[rand() % (int)(sizeof pieces / sizeof pieces[0])];
		memcpy(p->text + n, s, strlen(s));
		n += strlen(s);
	}
	p->text[n] = '\0';
	p->len = n;
}

static size_t rand_str(char *buf)
{
	static const char alpha[] = "ab/.c*e";
	size_t n = (size_t)(rand() % 12);
	for (size_t i = 0; i < n; i++)
		buf[i] = alpha[rand() % 7];
	buf[n] = '\0';
	return n;
}

static void compare_random(int sets, int maxpats, int ngroups, int strings,
			   const char *what)
{
	size_t total = 0, bad = 0, nonzero = 0;
	struct pat *p = malloc((size_t)maxpats * sizeof *p);
	for (int t = 0; t < sets; t++) {
		size_t n = 1 + (size_t)(rand() % maxpats);
		struct vsp_matcher *m = vsp_fp_matcher_new();
		for (size_t i = 0; i < n; i++) {
			rand_pat(&p[i], ngroups);
			if (vsp_fp_matcher_add(m, p[i].text, p[i].len, p[i].group))
				diag("add refused '%s'", p[i].text);
		}
		if (vsp_fp_matcher_build(m) != 0) {
			bad++;
			diag("build failed");
		}
		if (vsp_fp_matcher_size(m) != n)
			bad++;
		for (int j = 0; j < strings; j++) {
			char s[16];
			size_t sl = rand_str(s);
			uint64_t want = naive(p, n, s, sl);
			uint64_t got = vsp_fp_matcher_run(m, s, sl);
			total++;
			nonzero += want != 0;
			if (want != got && bad++ < 5)
				diag("set %d, '%s': want %llx got %llx", t, s,
					 (unsigned long long)want,
					 (unsigned long long)got);
		}
		vsp_fp_matcher_free(m);
	}
	free(p);
	ok(bad == 0, "%s: %zu strings agree with the naive loop (%zu match)",
	       what, total, nonzero);
	ok(nonzero > total / 20, "%s: the cases are not all misses", what);
}

/* Patterns whose DFA explodes: "the 12th byte from the end is an a". */
static void test_blowup(void)
{
	struct pat p[8];
	struct vsp_matcher *m = vsp_fp_matcher_new();
	for (int i = 0; i < 8; i++) {
		int n = snprintf(p[i].text, sizeof p[i].text, "**a???????????%c",
				 "abcdefgh"[i]);
		p[i].len = (size_t)n;
		p[i].group = (uint32_t)i;
		vsp_fp_matcher_add(m, p[i].text, p[i].len, p[i].group);
	}
	ok(vsp_fp_matcher_build(m) == 0, "a DFA past its bound still builds");
	srand(99);
	size_t bad = 0, nonzero = 0;
	for (int j = 0; j < 3000; j++) {
		char s[40];
		size_t sl = 10 + (size_t)(rand() % 25);
		for (size_t i = 0; i < sl; i++)
			s[i] = "abcdefgh"[rand() % 8];
		uint64_t want = naive(p, 8, s, sl), got = vsp_fp_matcher_run(m, s, sl);
		nonzero += want != 0;
		bad += want != got;
	}
	ok(bad == 0 && nonzero > 100, "NFA fallback agrees (%zu matches)", nonzero);
	vsp_fp_matcher_free(m);
}

/* Random bytes from the syntax's alphabet: whatever vsp_glob_check
 * accepts, the matcher must read exactly as vsp_glob_match does. */
static void test_syntax_soup(void)
{
	static const char alpha[] = "ab/-!^[]\\*?\0";
	size_t valid = 0, bad = 0, total = 0;
	srand(777);
	for (int t = 0; t < 3000; t++) {
		struct pat p;
		p.len = (size_t)(rand() % 10);
		for (size_t i = 0; i < p.len; i++)
			p.text[i] = alpha[rand() % (int)(sizeof alpha - 1)];
		p.group = 0;
		if (vsp_glob_check(p.text, p.len, NULL, NULL) != 0)
			continue;
		valid++;
		struct vsp_matcher *m = vsp_fp_matcher_new();
		if (vsp_fp_matcher_add(m, p.text, p.len, 0) || vsp_fp_matcher_build(m)) {
			bad++;
			vsp_fp_matcher_free(m);
			continue;
		}
		for (int j = 0; j < 20; j++) {
			char s[8];
			size_t sl = (size_t)(rand() % 6);
			for (size_t i = 0; i < sl; i++)
				s[i] = alpha[rand() % (int)(sizeof alpha - 1)];
			total++;
			bad += (vsp_fp_matcher_run(m, s, sl) != 0) !=
			       vsp_glob_match(p.text, p.len, s, sl);
		}
		vsp_fp_matcher_free(m);
	}
	ok(valid > 500 && bad == 0, "%zu valid byte-soup globs, %zu strings: %zu disagree",
	       valid, total, bad);
}

/* Enough globs to be cut into several DFAs, plus some no DFA can hold. */
static void test_chunks(void)
{
	enum { N = 2400 };
	static struct pat p[N];
	struct vsp_matcher *m = vsp_fp_matcher_new();
	srand(2024);
	for (int i = 0; i < N; i++) {
		int n;
		if (i % 40 == 0)
			n = snprintf(p[i].text, sizeof p[i].text, "**%c??????????%c",
				     'a' + rand() % 4, 'a' + rand() % 4);
		else if (i % 2)
			n = snprintf(p[i].text, sizeof p[i].text, "/s%d/*/d%d.*",
				     rand() % 20, rand() % 20);
		else
			n = snprintf(p[i].text, sizeof p[i].text, "**/%c%c*[a-d]%d",
				     'a' + rand() % 4, 'a' + rand() % 4, rand() % 10);
		p[i].len = (size_t)n;
		p[i].group = (uint32_t)(rand() % 64);
		vsp_fp_matcher_add(m, p[i].text, p[i].len, p[i].group);
	}
	ok(vsp_fp_matcher_build(m) == 0, "%d mixed globs build", N);
	size_t bad = 0, nonzero = 0;
	for (int j = 0; j < 400; j++) {
		char s[64];
		int n;
		if (j % 2)
			n = snprintf(s, sizeof s, "/s%d/x/d%d.c", rand() % 20, rand() % 20);
		else {
			n = 3 + rand() % 30;
			for (int i = 0; i < n; i++)
				s[i] = "abcd/0123456789"[rand() % 15];
		}
		uint64_t want = naive(p, N, s, (size_t)n);
		nonzero += want != 0;
		bad += want != vsp_fp_matcher_run(m, s, (size_t)n);
	}
	ok(bad == 0, "chunked DFAs and NFA agree with the naive loop (%zu wrong)", bad);
	ok(nonzero > 100, "%zu of 400 strings match", nonzero);
	vsp_fp_matcher_free(m);
}

static void test_basics(void)
{
	struct vsp_matcher *m = vsp_fp_matcher_new();
	ok(m != NULL, "new");
	ok(vsp_fp_matcher_add(m, "/etc/shadow", 11, 0) == 0, "add literal");
	ok(vsp_fp_matcher_add(m, "/etc/**", 7, 1) == 0, "add prefix");
	ok(vsp_fp_matcher_add(m, "/tmp/*.sh", 9, 2) == 0, "add glob");
	ok(vsp_fp_matcher_add(m, "/etc/sha*", 9, 3) == 0, "add glob");
	ok(vsp_fp_matcher_add(m, "**", 2, 4) == 0, "add match-all");
	ok(vsp_fp_matcher_add(m, "", 0, 5) == 0, "add empty literal");
	ok(vsp_fp_matcher_add(m, "/etc/shadow", 11, 6) == 0, "same literal, other group");
	ok(vsp_fp_matcher_add(m, "[abc", 4, 7) == -1, "bad glob refused");
	ok(vsp_fp_matcher_add(m, "x", 1, 64) == -1, "group 64 refused");
	ok(vsp_fp_matcher_add(m, "x", 1, 63) == 0, "group 63 accepted");
	ok(vsp_fp_matcher_run(m, "/etc/shadow", 11) == 0, "nothing before build");
	ok(vsp_fp_matcher_build(m) == 0, "build");
	ok(vsp_fp_matcher_size(m) == 8, "8 patterns");
	ok(vsp_fp_matcher_run(m, "/etc/shadow", 11) == 0x5b, "/etc/shadow: groups 0 1 3 4 6");
	ok(vsp_fp_matcher_run(m, "/etc/passwd", 11) == 0x12, "/etc/passwd: groups 1 4");
	ok(vsp_fp_matcher_run(m, "/tmp/x.sh", 9) == 0x14, "/tmp/x.sh: groups 2 4");
	ok(vsp_fp_matcher_run(m, "/tmp/a/x.sh", 11) == 0x10, "/tmp/a/x.sh: group 4");
	ok(vsp_fp_matcher_run(m, "", 0) == 0x30, "empty string: groups 4 5");
	ok(vsp_fp_matcher_run(m, "x", 1) == (0x10 | (1ULL << 63)), "x: groups 4 63");
	ok(vsp_fp_matcher_run(NULL, "x", 1) == 0, "NULL matcher matches nothing");
	ok(vsp_fp_matcher_run(m, NULL, 0) == 0x30, "NULL string of length 0 is the empty string");
	ok(vsp_fp_matcher_run(m, NULL, 5) == 0, "NULL string with a length matches nothing");
	/* A later add and rebuild sees the new pattern. */
	ok(vsp_fp_matcher_add(m, "/bin/*", 6, 8) == 0 && vsp_fp_matcher_build(m) == 0,
	       "add after build, rebuild");
	ok(vsp_fp_matcher_run(m, "/bin/sh", 7) == 0x110, "/bin/sh: groups 4 8");
	vsp_fp_matcher_free(m);
	vsp_fp_matcher_free(NULL);

	m = vsp_fp_matcher_new();
	ok(vsp_fp_matcher_build(m) == 0 && vsp_fp_matcher_run(m, "a", 1) == 0,
	       "an empty matcher matches nothing");
	vsp_fp_matcher_free(m);

	/* Escaped wildcards are literals; an escaped prefix stays a prefix. */
	m = vsp_fp_matcher_new();
	vsp_fp_matcher_add(m, "a\\*b", 4, 0);
	vsp_fp_matcher_add(m, "\\[x\\]/**", 8, 1);
	vsp_fp_matcher_build(m);
	ok(vsp_fp_matcher_run(m, "a*b", 3) == 1 && vsp_fp_matcher_run(m, "axb", 3) == 0,
	       "escaped star is literal");
	ok(vsp_fp_matcher_run(m, "[x]/y/z", 7) == 2 && vsp_fp_matcher_run(m, "x/y", 3) == 0,
	       "escaped prefix");
	vsp_fp_matcher_free(m);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1,000 patterns cost about what 10 cost: the matcher is one pass. */
static double time_patterns(int npat, int general)
{
	struct vsp_matcher *m = vsp_fp_matcher_new();
	char buf[64];
	for (int i = 0; i < npat; i++) {
		int n;
		switch (i % 3) {
		case 0: n = snprintf(buf, sizeof buf, "/usr/lib/pkg%d/file", i); break;
		case 1: n = snprintf(buf, sizeof buf, "/opt/app%d/**", i); break;
		default:
			n = general ? snprintf(buf, sizeof buf, "/srv/*/data%d.*", i)
				    : snprintf(buf, sizeof buf, "/srv/x/data%d", i);
		}
		vsp_fp_matcher_add(m, buf, (size_t)n, (uint32_t)(i % 64));
	}
	vsp_fp_matcher_build(m);
	static const char *const s[] = {
		"/usr/lib/pkg3/file", "/opt/app4/bin/run", "/srv/www/data5.db",
		"/etc/shadow", "/home/user/.bashrc",
	};
	volatile uint64_t sink = 0;
	double t0 = now();
	for (int r = 0; r < 4000; r++)
		for (int k = 0; k < 5; k++)
			sink += vsp_fp_matcher_run(m, s[k], strlen(s[k]));
	double t = (now() - t0) / 20000 * 1e9;
	vsp_fp_matcher_free(m);
	return t;
}

static void test_scaling(void)
{
	/* Best of five, interleaved: the machine may be busy. */
	double t10 = 1e9, t1000 = 1e9;
	for (int r = 0; r < 5; r++) {
		double a = time_patterns(10, 1), b = time_patterns(1000, 1);
		t10 = a < t10 ? a : t10;
		t1000 = b < t1000 ? b : t1000;
	}
	diag("10 patterns: %.1f ns/run, 1000 patterns: %.1f ns/run", t10, t1000);
	/* Generous: the claim is "about the same", the bound catches a loop
	 * over patterns (which would be ~100x). */
	ok(t1000 < 8 * t10 + 200, "1000 patterns cost within 8x of 10");
}

int main(void)
{
	test_basics();
	srand(4242);
	compare_random(300, 12, 8, 40, "small sets");
	compare_random(60, 120, 64, 100, "large sets");
	compare_random(20, 400, 64, 100, "very large sets");
	test_blowup();
	test_syntax_soup();
	test_chunks();
	test_scaling();
	return done();
}
