/*
 * t_pathset.c: call-path patterns for `must arise from`.
 *
 * Pins the rules of the language (frames innermost first, `*` one frame,
 * `**` any number, frames are globs, frames past the pattern's end are
 * ignored), the errors, the formatting of learned paths, and that a
 * learned profile of hundreds of exact paths answers like a naive loop.
 */
#include "fastpath/match.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>

static bool match1(const char *pattern, const char *const *path, size_t n)
{
	struct vsp_pathset *ps = vsp_fp_pathset_new();
	const char *err = NULL;
	bool r = vsp_fp_pathset_add(ps, pattern, &err) == 0 &&
		 vsp_fp_pathset_build(ps) == 0 &&
		 vsp_fp_pathset_match(ps, path, n);
	vsp_fp_pathset_free(ps);
	return r;
}

struct pcase {
	const char *pattern;
	int want;
};

static void test_rules(void)
{
	static const char *const path[] = {
		"xen_mc_flush", "xen_set_pte", "__handle_mm_fault",
		"handle_mm_fault", "do_user_addr_fault", "exc_page_fault",
	};
	static const struct pcase cases[] = {
		{ "xen_mc_flush", 1 },
		{ "xen_mc_flush <- xen_set_pte", 1 },
		{ "xen_mc_flush <- xen_set_pte <- **", 1 },
		{ "xen_mc_flush<-xen_set_pte", 1 },
		{ "  xen_mc_flush\t<-  xen_set_pte  ", 1 },
		{ "xen_set_pte", 0 },	/* anchored at the innermost frame */
		{ "xen_mc_flush <- __handle_mm_fault", 0 },
		{ "xen_mc_flush <- * <- __handle_mm_fault", 1 },
		{ "xen_mc_flush <- * <- * <- handle_mm_fault", 1 },
		{ "xen_mc_flush <- * <- handle_mm_fault", 0 },
		{ "xen_mc_flush <- ** <- handle_mm_fault", 1 },
		{ "xen_mc_flush <- ** <- xen_set_pte", 1 },	/* ** may be empty */
		{ "** <- do_user_addr_fault", 1 },
		{ "** <- do_user_addr_fault <- exc_page_fault", 1 },
		{ "** <- exc_page_fault <- asm_exc_page_fault", 0 },
		{ "**", 1 },
		{ "*", 1 },
		{ "* <- * <- * <- * <- * <- *", 1 },
		{ "* <- * <- * <- * <- * <- * <- *", 0 },	/* path too short */
		{ "* <- * <- * <- * <- * <- * <- **", 1 },
		{ "xen_* <- xen_*", 1 },
		{ "xen_* <- xen_* <- xen_*", 0 },
		{ "xen_mc_flus?", 1 },
		{ "[wx]en_mc_flush", 1 },
		{ "*flush <- ** <- *_mm_fault <- do_*", 1 },
		{ "** <- handle_mm_fault <- ** <- exc_page_fault", 1 },
		{ "** <- exc_page_fault <- ** <- handle_mm_fault", 0 },
		{ "xen_mc_flush <- xen_set_pte <- __handle_mm_fault <- handle_mm_fault"
		  " <- do_user_addr_fault <- exc_page_fault", 1 },
		{ "xen_mc_flush <- xen_set_pte <- __handle_mm_fault <- handle_mm_fault"
		  " <- do_user_addr_fault <- exc_page_fault <- asm_exc_page_fault", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(match1(cases[i].pattern, path, 6) == cases[i].want,
		       "'%s' %s", cases[i].pattern,
		       cases[i].want ? "matches" : "does not match");

	ok(!match1("**", path, 0), "an empty path matches nothing");
	ok(!match1("xen_mc_flush", NULL, 0), "no path matches nothing");
	static const char *const one[] = { "commit_creds" };
	ok(match1("commit_creds <- **", one, 1), "trailing ** matches nothing more");
	ok(!match1("commit_creds <- *", one, 1), "* needs a frame");
}

static void test_errors(void)
{
	static const char *const bad[] = {
		"", "a <- ", "<- a", "a <- <- b", "a <-   <- b", "a <- [b", "x\\",
	};
	struct vsp_pathset *ps = vsp_fp_pathset_new();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *err = NULL;
		ok(vsp_fp_pathset_add(ps, bad[i], &err) == -1 && err != NULL,
		       "'%s' is refused (%s)", bad[i], err ? err : "-");
	}
	ok(vsp_fp_pathset_size(ps) == 0, "refused patterns are not counted");
	ok(vsp_fp_pathset_add(ps, "a", NULL) == 0, "err may be NULL");
	ok(vsp_fp_pathset_add(ps, "a <- b <- *", NULL) == 0, "wildcard pattern");
	ok(vsp_fp_pathset_size(ps) == 2, "two patterns");
	vsp_fp_pathset_free(ps);
	vsp_fp_pathset_free(NULL);
	ok(!vsp_fp_pathset_match(NULL, NULL, 0), "NULL set matches nothing");
}

static void test_format(void)
{
	static const char *const path[] = { "do_sys_openat2", "__x64_sys_openat", "odd*name[1]" };
	char buf[128];
	size_t n = vsp_fp_path_format(path, 3, buf, sizeof buf);
	const char *want = "do_sys_openat2 <- __x64_sys_openat <- odd\\*name\\[1\\]";
	ok(n == strlen(want) && strcmp(buf, want) == 0, "format: %s", buf);
	char small[10];
	n = vsp_fp_path_format(path, 3, small, sizeof small);
	ok(n == strlen(want) && strlen(small) == 9 &&
	       strncmp(small, want, 9) == 0, "format truncates, returns the full length");
	ok(vsp_fp_path_format(path, 0, buf, sizeof buf) == 0 && buf[0] == '\0',
	       "empty path formats as empty");
	ok(vsp_fp_path_format(path, 2, NULL, 0) == strlen("do_sys_openat2 <- __x64_sys_openat"),
	       "size 0 only measures");

	/* A formatted path, read back as a pattern, matches that path. */
	struct vsp_pathset *ps = vsp_fp_pathset_new();
	vsp_fp_path_format(path, 3, buf, sizeof buf);
	ok(vsp_fp_pathset_add(ps, buf, NULL) == 0, "formatted path is a pattern");
	ok(vsp_fp_pathset_match(ps, path, 3), "and matches its path");
	static const char *const other[] = { "do_sys_openat2", "__x64_sys_openat", "oddXname1" };
	ok(!vsp_fp_pathset_match(ps, other, 3), "escapes keep wildcards literal");
	vsp_fp_pathset_free(ps);
}

/* A learned profile: 200 exact paths over a small vocabulary. */
static void test_profile(void)
{
	static const char *const names[] = {
		"xen_mc_flush", "xen_set_pte", "xen_set_pmd", "__handle_mm_fault",
		"handle_mm_fault", "do_user_addr_fault", "exc_page_fault",
		"copy_pte_range", "copy_page_range", "dup_mmap", "dup_mm",
		"copy_process", "kernel_clone", "__do_sys_clone",
	};
	enum { NP = 200, NN = sizeof names / sizeof names[0] };
	static const char *paths[NP][8];
	static size_t lens[NP];
	static char text[NP][512];
	srand(31);
	struct vsp_pathset *ps = vsp_fp_pathset_new();
	for (int i = 0; i < NP; i++) {
		lens[i] = 2 + (size_t)(rand() % 6);
		for (size_t d = 0; d < lens[i]; d++)
			paths[i][d] = names[rand() % NN];
		vsp_fp_path_format(paths[i], lens[i], text[i], sizeof text[i]);
		vsp_fp_pathset_add(ps, text[i], NULL);
	}
	vsp_fp_pathset_add(ps, "exc_page_fault <- * <- kernel_clone", NULL);
	vsp_fp_pathset_build(ps);
	ok(vsp_fp_pathset_size(ps) == NP + 1, "201 patterns");

	/* Naive answer: some learned path is a prefix of the probe, or the
	 * wildcard pattern holds. */
	size_t bad = 0, hits = 0;
	for (int t = 0; t < 20000; t++) {
		const char *probe[10];
		size_t n;
		if (t % 4 == 0) {
			/* a learned path, extended by random outer frames */
			int i = rand() % NP;
			n = lens[i];
			memcpy(probe, paths[i], n * sizeof *probe);
			while (n < 10 && rand() % 2)
				probe[n++] = names[rand() % NN];
		} else {
			n = 1 + (size_t)(rand() % 8);
			for (size_t d = 0; d < n; d++)
				probe[d] = names[rand() % NN];
		}
		int want = 0;
		for (int i = 0; i < NP && !want; i++) {
			if (lens[i] > n)
				continue;
			int same = 1;
			for (size_t d = 0; d < lens[i]; d++)
				same &= strcmp(paths[i][d], probe[d]) == 0;
			want = same;
		}
		if (n >= 3 && !strcmp(probe[0], "exc_page_fault") &&
		    !strcmp(probe[2], "kernel_clone"))
			want = 1;
		hits += want;
		bad += want != vsp_fp_pathset_match(ps, probe, n);
	}
	ok(bad == 0 && hits > 4000, "20000 probes agree with a naive loop (%zu match)", hits);
	vsp_fp_pathset_free(ps);
}

int main(void)
{
	test_rules();
	test_errors();
	test_format();
	test_profile();
	return done();
}
