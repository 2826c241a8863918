/*
 * t_sets.c: integer and string sets against a plain linear search.
 */
#include "fastpath/match.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>

static void test_iset(void)
{
	static const int64_t v[] = { 0, 1, -1, 13, 257, INT64_MIN, INT64_MAX, 13 };
	struct vsp_iset *s = vsp_fp_iset_new(v, 8);
	ok(s != NULL, "iset new");
	int all = 1;
	for (int i = 0; i < 8; i++)
		all &= vsp_fp_iset_has(s, v[i]);
	ok(all, "every member is found (duplicates too)");
	ok(!vsp_fp_iset_has(s, 2) && !vsp_fp_iset_has(s, -13) &&
	       !vsp_fp_iset_has(s, INT64_MIN + 1), "non-members are not");
	vsp_fp_iset_free(s);

	s = vsp_fp_iset_new(NULL, 0);
	ok(s && !vsp_fp_iset_has(s, 0), "empty set has nothing");
	vsp_fp_iset_free(s);
	ok(!vsp_fp_iset_has(NULL, 0), "NULL set has nothing");
	vsp_fp_iset_free(NULL);

	/* Random members, random probes, compared with a linear search. */
	srand(7);
	size_t bad = 0, hits = 0;
	for (int t = 0; t < 50; t++) {
		size_t n = (size_t)(rand() % 300);
		int64_t *m = malloc((n + 1) * sizeof *m);
		for (size_t i = 0; i < n; i++)
			m[i] = (int64_t)(rand() % 1000) - 500;
		s = vsp_fp_iset_new(m, n);
		for (int k = -600; k < 600; k++) {
			int want = 0;
			for (size_t i = 0; i < n; i++)
				want |= m[i] == k;
			hits += want;
			bad += want != vsp_fp_iset_has(s, k);
		}
		vsp_fp_iset_free(s);
		free(m);
	}
	ok(bad == 0 && hits > 1000, "60000 probes agree with a linear search");
}

static void test_sset(void)
{
	struct vsp_sset *s = vsp_fp_sset_new();
	ok(s != NULL, "sset new");
	ok(vsp_fp_sset_add(s, "cat", 3) == 0, "add cat");
	ok(vsp_fp_sset_add(s, "sshd", 4) == 0, "add sshd");
	ok(vsp_fp_sset_add(s, "", 0) == 0, "add empty string");
	ok(vsp_fp_sset_add(s, "a\0b", 3) == 0, "add a string with NUL");
	ok(vsp_fp_sset_add(s, "cat", 3) == 0, "add cat again");
	ok(vsp_fp_sset_has(s, "cat", 3), "has cat");
	ok(!vsp_fp_sset_has(s, "ca", 2), "not ca (prefix)");
	ok(!vsp_fp_sset_has(s, "cats", 4), "not cats (longer)");
	ok(vsp_fp_sset_has(s, "", 0), "has empty");
	ok(vsp_fp_sset_has(s, "a\0b", 3) && !vsp_fp_sset_has(s, "a", 1),
	       "NUL is a byte like any other");
	ok(vsp_fp_sset_has(s, "sshd!", 4), "length bounds the look-up");
	char copy[8] = "cat";
	vsp_fp_sset_add(s, copy, 3);
	copy[0] = 'b';
	ok(vsp_fp_sset_has(s, "cat", 3) && !vsp_fp_sset_has(s, "bat", 3),
	       "strings are copied in");
	vsp_fp_sset_free(s);
	ok(!vsp_fp_sset_has(NULL, "x", 1), "NULL set has nothing");
	vsp_fp_sset_free(NULL);

	/* Grow through many rehashes. */
	s = vsp_fp_sset_new();
	char buf[32];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(buf, sizeof buf, "comm%d", i * 7);
		vsp_fp_sset_add(s, buf, (size_t)n);
	}
	size_t bad = 0;
	for (int i = 0; i < 35000; i++) {
		int n = snprintf(buf, sizeof buf, "comm%d", i);
		bad += vsp_fp_sset_has(s, buf, (size_t)n) != (i % 7 == 0);
	}
	ok(bad == 0, "5000 members, 35000 probes after growing");
	vsp_fp_sset_free(s);
}

int main(void)
{
	test_iset();
	test_sset();
	return done();
}
