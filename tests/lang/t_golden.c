/*
 * t_golden.c: the golden diagnostics of tests/lang, through the library.
 *
 * For every tests/lang/bad/NAME.vsp, loads and checks it the way
 * `vsp check` does (lang/front.c, then lang/check.c) and compares the
 * printed diagnostics with NAME.vsp.err; every tests/lang/good files must
 * check without errors, and without warnings unless a NAME.vsp.err beside
 * it holds exactly the warnings it gets (the lint on `path` of syscall
 * events, language 1.1).  tests/lang/golden.t does the same
 * through the vsp binary; this one needs only libvsp.  Run from the top of
 * the tree (or set VSP_SRCDIR).  With UPDATE_GOLDEN=1 it rewrites the .err
 * files instead of comparing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lang/front.h"
#include "tests/tap.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		got = fread(buf + n, 1, cap - n, f);
		if (!got)
			break;
		n += got;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Loads and checks one file; returns the printed diagnostics. */
static char *run(const char *file, int *errors, int *warnings)
{
	struct vsp_diags d;
	struct vsp_unit *u;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	vsp_diags_init(&d);
	u = vsp_front_load(&file, 1, &d);
	/* as `vsp check` does: items that parsed are checked even after syntax errors */
	vsp_check(u, &d);
	vsp_diags_print(&d, m);
	fclose(m);
	*errors = d.errors;
	*warnings = d.warnings;
	vsp_unit_free(u);
	vsp_diags_release(&d);
	return out;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int vsp_suffix(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 4 && strcmp(e->d_name + n - 4, ".vsp") == 0;
}

int main(void)
{
	const char *src = getenv("VSP_SRCDIR");
	bool update = getenv("UPDATE_GOLDEN") && *getenv("UPDATE_GOLDEN");
	struct dirent **ents;
	char errpath[4096];
	int n, i, errors, warnings;

	if (src && chdir(src) != 0) {
		printf("1..0 # SKIP cannot enter %s\n", src);
		return 0;
	}
	if (chdir("tests/lang/bad") != 0) {
		printf("1..0 # SKIP run from the top of the tree\n");
		return 0;
	}
	n = scandir(".", &ents, vsp_suffix, by_name);
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *got, *want;
		size_t wlen;

		/* load_*: errors only loading finds (extern libraries and
		 * symbols), after the checker; golden.t runs them with vsp. */
		if (strncmp(name, "load_", 5) == 0) {
			free(ents[i]);
			continue;
		}
		got = run(name, &errors, &warnings);

		snprintf(errpath, sizeof errpath, "%s.err", name);
		if (update) {
			FILE *f = fopen(errpath, "w");

			if (f) {
				fputs(got, f);
				fclose(f);
			}
		}
		want = slurp(errpath, &wlen);
		ok(want && strcmp(want, got) == 0, "bad/%s: diagnostics match", name);
		if (!want || strcmp(want, got) != 0) {
			printf("# got:\n");
			for (char *p = strtok(got, "\n"); p; p = strtok(NULL, "\n"))
				printf("#   %s\n", p);
		}
		ok(errors > 0 || strncmp(name, "warn_", 5) == 0,
		   "bad/%s: reports an error (or is a warning case)", name);
		free(want);
		free(got);
		free(ents[i]);
	}
	free(ents);
	if (chdir("../good") != 0) {
		return done();
	}
	n = scandir(".", &ents, vsp_suffix, by_name);
	for (i = 0; i < n; i++) {
		char *got = run(ents[i]->d_name, &errors, &warnings);
		size_t wlen;
		char *want;

		snprintf(errpath, sizeof errpath, "%s.err", ents[i]->d_name);
		if (update && warnings && !errors) {
			FILE *f = fopen(errpath, "w");

			if (f) {
				fputs(got, f);
				fclose(f);
			}
		}
		want = slurp(errpath, &wlen);
		ok(errors == 0 && (warnings == 0 ? !want :
				   want && strcmp(want, got) == 0),
		   "good/%s: checks clean (or with its expected warnings)",
		   ents[i]->d_name);
		if (errors || (warnings && (!want || strcmp(want, got))))
			printf("# %s", got);
		free(want);
		free(got);
		free(ents[i]);
	}
	free(ents);
	return done();
}
