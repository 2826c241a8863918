/*
 * t_glob.c: glob semantics, syntax errors and bounded matching time.
 *
 * The table pins the language's glob rules case by case; a recursive
 * backtracking matcher written straight from the rules then checks
 * vsp_glob_match on thousands of random patterns and strings; and
 * patterns that make backtracking matchers exponential must finish fast.
 */
#include "fastpath/match.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gcase {
	const char *pat, *str;
	int want;
};

static const struct gcase cases[] = {
	/* literals */
	{ "abc", "abc", 1 }, { "abc", "abd", 0 }, { "abc", "ab", 0 },
	{ "abc", "abcd", 0 }, { "", "", 1 }, { "", "a", 0 }, { "a", "", 0 },
	{ "/etc/shadow", "/etc/shadow", 1 }, { "/etc/shadow", "/etc/shadoW", 0 },
	/* `*` stays within one segment */
	{ "*", "", 1 }, { "*", "abc", 1 }, { "*", "a/b", 0 }, { "*/", "abc/", 1 },
	{ "a*", "a", 1 }, { "a*", "abc", 1 }, { "a*", "ba", 0 }, { "*c", "abc", 1 },
	{ "*c", "abd", 0 }, { "a*c", "ac", 1 }, { "a*c", "abbbc", 1 },
	{ "a*c", "ab/c", 0 }, { "/etc/*", "/etc/passwd", 1 },
	{ "/etc/*", "/etc/ssh/sshd_config", 0 }, { "/etc/*", "/etc/", 1 },
	{ "*.so", "libc.so", 1 }, { "*.so", "lib/c.so", 0 }, { "*/*", "a/b", 1 },
	{ "*/*", "a/b/c", 0 }, { "/*/*/", "/a/b/", 1 }, { "a*", "a/", 0 },
	{ "*a*", "banana", 1 }, { "*a*a*a*", "banana", 1 },
	{ "*a*a*a*a*", "banana", 0 }, { "a*b*c", "aXbYc", 1 },
	{ "a*b*c", "aXbY/c", 0 }, { "/proc/*/mem", "/proc/412/mem", 1 },
	{ "/proc/*/mem", "/proc/412/task/1/mem", 0 },
	/* `**` crosses '/' */
	{ "**", "", 1 }, { "**", "a/b/c", 1 }, { "/etc/**", "/etc/ssh/sshd_config", 1 },
	{ "/etc/**", "/etc/", 1 }, { "/etc/**", "/etc", 0 }, { "/etc/**", "/etcx/a", 0 },
	{ "**/shadow", "/etc/shadow", 1 }, { "**/shadow", "shadow", 0 },
	{ "**shadow", "/etc/shadow", 1 }, { "/tmp/**/x", "/tmp/a/b/x", 1 },
	{ "/tmp/**/x", "/tmp//x", 1 }, { "/tmp/**/x", "/tmp/x", 0 },
	{ "/**/*.sh", "/a/b/c.sh", 1 }, { "/**/*.sh", "/a/b/c/sh", 0 },
	{ "***", "a/b", 1 }, { "a**b", "a/x/b", 1 }, { "a**b", "ab", 1 },
	{ "**.conf", "/etc/x.conf", 1 }, { "a**", "a/", 1 },
	{ "/etc/sudoers.d/**", "/etc/sudoers.d/x/y", 1 },
	{ "/etc/sudoers.d/**", "/etc/sudoers.dx", 0 },
	/* `?` is one byte but '/' */
	{ "?", "a", 1 }, { "?", "", 0 }, { "?", "ab", 0 }, { "?", "/", 0 },
	{ "a?c", "abc", 1 }, { "a?c", "a/c", 0 }, { "??", "ab", 1 },
	{ "/dev/tty?", "/dev/tty1", 1 }, { "/dev/tty?", "/dev/tty10", 0 },
	/* classes never match '/' */
	{ "[abc]", "a", 1 }, { "[abc]", "d", 0 }, { "[abc]", "", 0 },
	{ "[abc]", "ab", 0 }, { "[a-z]", "m", 1 }, { "[a-z]", "M", 0 },
	{ "[!a]", "b", 1 }, { "[!a]", "a", 0 }, { "[!a]", "/", 0 }, { "[/]", "/", 0 },
	{ "[a-c0-9]", "5", 1 }, { "[a-c0-9]", "d", 0 }, { "[]a]", "]", 1 },
	{ "[]a]", "a", 1 }, { "[]a]", "b", 0 }, { "[!]a]", "]", 0 },
	{ "[!]a]", "b", 1 }, { "[a-]", "-", 1 }, { "[-a]", "-", 1 },
	{ "tty[0-9][0-9]", "tty42", 1 }, { "tty[0-9]", "ttyx", 0 },
	{ "[\\]]", "]", 1 }, { "[a\\-z]", "-", 1 }, { "[a\\-z]", "b", 0 },
	{ "[*]", "*", 1 }, { "[*]", "a", 0 }, { "[?]", "?", 1 }, { "[?]", "x", 0 },
	{ "[^a]", "b", 1 }, { "[^a]", "a", 0 }, { "[\x80-\xff]", "\xe9", 1 },
	{ "[\x80-\xff]", "e", 0 }, { "[!a-z]*", "Xyz", 1 }, { "[!a-z]*", "xyz", 0 },
	/* escapes */
	{ "\\*", "*", 1 }, { "\\*", "a", 0 }, { "\\?", "?", 1 }, { "\\?", "a", 0 },
	{ "\\[a]", "[a]", 1 }, { "\\[a]", "a", 0 }, { "a\\\\b", "a\\b", 1 },
	{ "\\a", "a", 1 }, { "*\\*", "abc*", 1 }, { "*\\*", "abc", 0 },
	{ "\\*\\*", "**", 1 }, { "\\*\\*", "a/b", 0 },
	/* mixed */
	{ "/home/*/.ssh/**", "/home/bob/.ssh/authorized_keys", 1 },
	{ "/home/*/.ssh/**", "/home/bob/x/.ssh/id", 0 },
	{ "/lib/**/lib*.so.?", "/lib/x86_64-linux-gnu/libc.so.6", 1 },
	{ "/lib/**/lib*.so.?", "/lib/x86_64-linux-gnu/libc.so.66", 0 },
};

static void test_table(void)
{
	size_t n = sizeof cases / sizeof cases[0];
	for (size_t i = 0; i < n; i++) {
		const struct gcase *c = &cases[i];
		ok(vsp_glob_match(c->pat, strlen(c->pat), c->str,
				      strlen(c->str)) == c->want,
		       "'%s' %s '%s'", c->pat, c->want ? "matches" : "does not match",
		       c->str);
	}
	/* Strings are byte strings: NUL is an ordinary byte. */
	ok(vsp_glob_match("a\0b", 3, "a\0b", 3), "NUL bytes compare");
	ok(vsp_glob_match("a?b", 3, "a\0b", 3), "? matches NUL");
	ok(!vsp_glob_match("a\0b", 3, "a", 1), "pattern length is honoured");
	ok(vsp_glob_match("abc", 2, "ab", 2), "pattern is cut at plen");
}

struct ecase {
	const char *pat;
	size_t at;
};

static void test_check(void)
{
	static const struct ecase bad[] = {
		{ "[abc", 0 }, { "abc\\", 3 }, { "[z-a]", 1 }, { "a[", 1 },
		{ "[!]", 0 }, { "[]", 0 }, { "x[a-b", 1 }, { "ab[c\\", 2 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *err = NULL;
		size_t at = 999;
		int r = vsp_glob_check(bad[i].pat, strlen(bad[i].pat), &err, &at);
		ok(r == -1 && err && at == bad[i].at,
		       "'%s' is refused at %zu (%s, at %zu)", bad[i].pat,
		       bad[i].at, err ? err : "-", at);
	}
	/* Length: guest strings are short; state stays on the stack. */
	static char big[16385];
	memset(big, 'a', sizeof big - 1);
	big[0] = '*';
	big[1] = '*';
	big[5] = '*';
	const char *err = NULL;
	size_t at = 0;
	int r = vsp_glob_check(big, 16384, &err, &at);
	ok(r == -1 && at == 16383, "a glob of 16384 bytes is refused (%s)",
	       err ? err : "-");
	ok(vsp_glob_check(big, 16383, NULL, NULL) == 0, "16383 bytes are accepted");
	ok(vsp_glob_match(big, 16383, "aaa", 3) == 0 &&
	       !vsp_glob_match(big, 16384, big + 16000, 300), "and match without trouble");
	struct vsp_matcher *m = vsp_fp_matcher_new();
	ok(vsp_fp_matcher_add(m, big, 16384, 0) == -1 &&
	       vsp_fp_matcher_add(m, big, 16383, 0) == 0 && vsp_fp_matcher_build(m) == 0,
	       "the matcher takes the longest glob and refuses a longer one");
	vsp_fp_matcher_free(m);

	static const char *const good[] = {
		"", "abc", "[]]", "\\[", "**", "[a-]", "[!a-z]", "a\\\\", "/etc/**",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ok(vsp_glob_check(good[i], strlen(good[i]), NULL, NULL) == 0,
		       "'%s' is a valid glob", good[i]);
}

/* The rules, read literally, as a backtracking matcher: slow but simple. */
static int ref_class(const char *p, size_t pl, size_t *used, unsigned char c,
		     int *ok)
{
	size_t j = 1;
	int neg = 0, hit = 0;
	if (j < pl && (p[j] == '!' || p[j] == '^'))
		neg = 1, j++;
	int first = 1;
	while (j < pl) {
		if (p[j] == ']' && !first) {
			*used = j + 1;
			*ok = 1;
			return c != '/' && hit != neg;
		}
		first = 0;
		unsigned char lo = (unsigned char)p[j];
		if (lo == '\\' && j + 1 < pl)
			lo = (unsigned char)p[++j];
		j++;
		unsigned char hi = lo;
		if (j + 1 < pl && p[j] == '-' && p[j + 1] != ']') {
			hi = (unsigned char)p[j + 1];
			j += 2;
		}
		if (c >= lo && c <= hi)
			hit = 1;
	}
	*ok = 0;
	return 0;
}

static int ref_match(const char *p, size_t pl, const char *s, size_t sl)
{
	if (pl == 0)
		return sl == 0;
	if (p[0] == '*') {
		size_t r = 0;
		while (r < pl && p[r] == '*')
			r++;
		for (size_t k = 0; k <= sl; k++) {
			if (ref_match(p + r, pl - r, s + k, sl - k))
				return 1;
			if (k < sl && r == 1 && s[k] == '/')
				return 0;
		}
		return 0;
	}
	if (sl == 0)
		return 0;
	if (p[0] == '?')
		return s[0] != '/' && ref_match(p + 1, pl - 1, s + 1, sl - 1);
	if (p[0] == '[') {
		size_t used;
		int ok;
		int hit = ref_class(p, pl, &used, (unsigned char)s[0], &ok);
		if (ok)
			return hit && ref_match(p + used, pl - used, s + 1, sl - 1);
	}
	if (p[0] == '\\' && pl > 1)
		return s[0] == p[1] && ref_match(p + 2, pl - 2, s + 1, sl - 1);
	return p[0] == s[0] && ref_match(p + 1, pl - 1, s + 1, sl - 1);
}

static const char *const pieces[] = {
	"a", "b", "/", ".", "a", "b", "*", "**", "?", "[ab]", "[!a]", "[a-b]", "\\*",
};

static size_t rand_glob(char *buf)
{
	size_t n = 0, k = (size_t)(rand() % 7);
	for (size_t i = 0; i < k; i++) {
		const char *p = pieces[rand() % (int)(sizeof pieces / sizeof pieces[0])];
		memcpy(buf + n, p, strlen(p));
		n += strlen(p);
	}
	buf[n] = '\0';
	return n;
}

static size_t rand_str(char *buf)
{
	static const char alpha[] = "ab/.*";
	size_t n = (size_t)(rand() % 9);
	for (size_t i = 0; i < n; i++)
		buf[i] = alpha[rand() % 5];
	buf[n] = '\0';
	return n;
}

static void test_random(void)
{
	srand(12345);
	size_t bad = 0, total = 0, hits = 0;
	for (int i = 0; i < 4000; i++) {
		char pat[64];
		size_t pl = rand_glob(pat);
		for (int j = 0; j < 5; j++) {
			char s[16];
			size_t sl = rand_str(s);
			int want = ref_match(pat, pl, s, sl);
			int got = vsp_glob_match(pat, pl, s, sl);
			hits += want;
			total++;
			if (want != got && bad++ < 5)
				diag("'%s' vs '%s': want %d got %d", pat, s, want, got);
		}
	}
	ok(bad == 0, "%zu random cases agree with the reference (%zu match)",
	       total, hits);
	ok(hits > total / 20, "random cases are not all misses");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_bounded(void)
{
	static char s[4097], p[400];
	memset(s, 'a', 4096);
	size_t n = 0;
	for (int i = 0; i < 30; i++)
		p[n++] = 'a', p[n++] = '*';
	p[n++] = 'b';
	double t0 = now();
	int r = vsp_glob_match(p, n, s, 4096);
	double t1 = now();
	ok(!r, "a*a*...b does not match a^4096");
	ok(t1 - t0 < 1.0, "and takes %.3f ms", (t1 - t0) * 1e3);

	n = 0;
	for (int i = 0; i < 30; i++)
		p[n++] = '*', p[n++] = '*', p[n++] = 'a';
	p[n++] = 'b';
	for (int i = 0; i < 4096; i += 2)
		s[i] = '/';
	t0 = now();
	r = vsp_glob_match(p, n, s, 4096);
	t1 = now();
	ok(!r, "**a**a...b does not match");
	ok(t1 - t0 < 1.0, "and takes %.3f ms", (t1 - t0) * 1e3);
}

int main(void)
{
	test_table();
	test_check();
	test_random();
	test_bounded();
	return done();
}
