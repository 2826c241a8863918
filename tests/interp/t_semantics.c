/*
 * t_semantics.c: the meaning of policies (language.md §5), case by case.
 *
 * Reads tests/interp/semantics.txt (or the file named as argv[1]): groups
 * of one policy and the events it decides, each with the decision it must
 * get.  Every policy is loaded four times (fast path on and off, decision
 * cache on and off) and every event decided twice in each (the second
 * time may come from the cache); all eight answers must be the expected
 * one.  The format is documented at the top of semantics.txt.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "base/catalog.h"
#include "tests/tap.h"

#define MAXTOK 64

struct fetchctx {
	const struct vsp_call *call;
	char strs[7][512];	/* args 0..5, then "path" for non-syscalls */
	bool have[7];
	vsp_fmask fail;		/* bit f: reading field f fails */
};

struct tcase {
	char *ev, *expect;
	int line;
};

struct group {
	char *title;
	int line;
	char *policy;
	size_t plen;
	enum vsp_mode mode;
	struct tcase *cases;
	size_t ncases;
	char dir[64];
};

static int fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		 struct vsp_str *out)
{
	struct fetchctx *fc = ctx;
	int i = -1;

	if (fc->fail & VSP_FBIT(f))
		return -1;
	if (f >= VSP_F_STR0 && f <= VSP_F_STR5)
		i = f - VSP_F_STR0;
	else if (f == VSP_F_PATH)
		i = fc->call ? vsp_call_path_arg(fc->call) : 6;
	else if (f == VSP_F_FUNC) {
		*out = (struct vsp_str){ ev->name, (uint32_t)strlen(ev->name) };
		return 0;
	}
	if (i < 0)
		i = 6;
	if (!fc->have[i])
		return -1;
	*out = (struct vsp_str){ fc->strs[i], (uint32_t)strlen(fc->strs[i]) };
	return 0;
}

/* Splits s into tokens: words, key=value, values may be "quoted". */
static int tokens(char *s, char **tok, int max)
{
	int n = 0;

	while (*s && n < max) {
		char *w = s, *o;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		tok[n++] = o = w = s;
		while (*s && !isspace((unsigned char)*s)) {
			if (*s == '"') {
				s++;
				while (*s && *s != '"') {
					if (*s == '\\' && s[1]) {
						s++;
						*o++ = *s == 'n' ? '\n' : *s;
						s++;
						continue;
					}
					*o++ = *s++;
				}
				if (*s)
					s++;
				continue;
			}
			*o++ = *s++;
		}
		if (*s)
			s++;
		*o = 0;
		(void)w;
	}
	return n;
}

static const char *const frame_store[64];
static char frame_buf[2048];
static const char *frames[64];

static int build_event(char *text, struct vsp_event *ev, struct fetchctx *fc,
		       char *err, size_t errlen)
{
	static char name[128], lib[128], vm[64];
	char *tok[MAXTOK];
	int n = tokens(text, tok, MAXTOK);

	memset(ev, 0, sizeof(*ev));
	memset(fc, 0, sizeof(*fc));
	ev->fetch = fetch;
	ev->fetch_ctx = fc;
	ev->vm = "guest0";
	ev->proc.pid = ev->proc.tid = 100;
	ev->proc.ppid = 1;
	ev->proc.uid = ev->proc.euid = ev->proc.gid = 1000;
	strcpy(ev->proc.comm, "sh");
	if (n < 2) {
		snprintf(err, errlen, "an event needs a kind and a name");
		return -1;
	}
	snprintf(name, sizeof(name), "%s", tok[1]);
	ev->name = name;
	if (!strcmp(tok[0], "syscall")) {
		ev->kind = VSP_EV_SYSCALL;
		fc->call = vsp_syscall_by_name(name);
	} else if (!strcmp(tok[0], "hypercall")) {
		ev->kind = VSP_EV_HYPERCALL;
		fc->call = vsp_hypercall_by_name(name);
	} else if (!strcmp(tok[0], "kernel")) {
		ev->kind = VSP_EV_KERNEL;
	} else if (!strcmp(tok[0], "user")) {
		char *colon = strrchr(name, ':');

		ev->kind = VSP_EV_USER;
		if (colon) {
			*colon = 0;
			snprintf(lib, sizeof(lib), "%s", name);
			memmove(name, colon + 1, strlen(colon + 1) + 1);
			ev->lib = lib;
		}
	} else if (!strcmp(tok[0], "write")) {
		ev->kind = VSP_EV_WRITE;
	} else {
		snprintf(err, errlen, "unknown event kind '%s'", tok[0]);
		return -1;
	}
	if (fc->call)
		ev->nr = fc->call->nr;
	for (int i = 2; i < n; i++) {
		char *k = tok[i], *v = strchr(k, '=');
		long long iv;

		if (v)
			*v++ = 0;
		else
			v = "";
		iv = strtoll(v, NULL, 0);
		if (!strcmp(k, "nr")) ev->nr = (uint32_t)iv;
		else if (!strcmp(k, "comm")) snprintf(ev->proc.comm, sizeof(ev->proc.comm), "%s", v);
		else if (!strcmp(k, "pid")) ev->proc.pid = iv;
		else if (!strcmp(k, "tid")) ev->proc.tid = iv;
		else if (!strcmp(k, "ppid")) ev->proc.ppid = iv;
		else if (!strcmp(k, "uid")) ev->proc.uid = iv;
		else if (!strcmp(k, "euid")) ev->proc.euid = iv;
		else if (!strcmp(k, "gid")) ev->proc.gid = iv;
		else if (!strcmp(k, "vcpu")) ev->vcpu = iv;
		else if (!strcmp(k, "cr3")) ev->cr3 = (uint64_t)iv;
		else if (!strcmp(k, "vm")) { snprintf(vm, sizeof(vm), "%s", v); ev->vm = vm; }
		else if (!strcmp(k, "addr")) ev->addr = (uint64_t)iv;
		else if (!strcmp(k, "offset")) ev->offset = (uint64_t)iv;
		else if (!strcmp(k, "len")) ev->len = (uint64_t)iv;
		else if (!strcmp(k, "value")) ev->value = (uint64_t)iv;
		else if (!strcmp(k, "old")) ev->old = (uint64_t)iv;
		else if (!strcmp(k, "partial")) ev->partial = true;
		else if (k[0] == 'a' && k[1] >= '0' && k[1] <= '5' && !k[2])
			ev->args[k[1] - '0'] = iv;
		else if (!strcmp(k, "stack")) {
			size_t at = 0;
			char *s = v;

			ev->has_stack = true;
			ev->stack = frames;
			ev->nstack = 0;
			snprintf(frame_buf, sizeof(frame_buf), "%s", s);
			for (char *f = strtok(frame_buf, ","); f && at < 64; f = strtok(NULL, ","))
				frames[at++] = f;
			ev->nstack = (uint32_t)at;
		} else if (!strcmp(k, "fail")) {
			int ai = -1;

			if (!strcmp(v, "path"))
				fc->fail |= 1ull << VSP_F_PATH;
			for (int a = 0; fc->call && a < fc->call->nargs; a++)
				if (fc->call->args[a].name && !strcmp(fc->call->args[a].name, v))
					ai = a;
			if (ai >= 0) {
				fc->fail |= 1ull << (VSP_F_STR0 + ai);
				if (vsp_call_path_arg(fc->call) == ai)
					fc->fail |= 1ull << VSP_F_PATH;
			}
		} else {
			int ai = -1;

			if (!strcmp(k, "path"))
				ai = fc->call ? vsp_call_path_arg(fc->call) : 6;
			for (int a = 0; ai < 0 && fc->call && a < fc->call->nargs; a++)
				if (fc->call->args[a].name && !strcmp(fc->call->args[a].name, k))
					ai = a;
			if (ai < 0) {
				snprintf(err, errlen, "unknown event key '%s'", k);
				return -1;
			}
			if (ai < 6 && fc->call->args[ai].type == VSP_ARG_INT) {
				ev->args[ai] = iv;
			} else {
				snprintf(fc->strs[ai], sizeof(fc->strs[ai]), "%s", v);
				fc->have[ai] = true;
			}
		}
	}
	(void)frame_store;
	return 0;
}

static const char *rule_name(struct vsp_policy *p, int32_t r)
{
	const struct vsp_rule_info *ri = r >= 0 ? vsp_policy_rule(p, (uint32_t)r) : NULL;

	return ri ? ri->name : "default";
}

static bool name_is(struct vsp_policy *p, int32_t r, const char *want)
{
	const char *have = rule_name(p, r);

	if (want[0] == ':') {
		size_t hl = strlen(have), wl = strlen(want);

		return r >= 0 && hl >= wl && !strcmp(have + hl - wl, want);
	}
	return !strcmp(have, want);
}

static void describe(struct vsp_policy *p, const struct vsp_decision *d, char *buf,
		     size_t size)
{
	static const char *const kinds[] = { "log", "alert", "count" };
	size_t at = (size_t)snprintf(buf, size, "%s", vsp_verdict_name(d->verdict));

	if (d->verdict == VSP_V_DENY || d->verdict == VSP_V_RETURN)
		at += (size_t)snprintf(buf + at, size - at, " %lld", (long long)d->value);
	if (d->verdict == VSP_V_REDIRECT)
		at += (size_t)snprintf(buf + at, size - at, " \"%.*s\"", (int)d->redirect.len,
				       d->redirect.ptr);
	at += (size_t)snprintf(buf + at, size - at, " by=%s", rule_name(p, d->rule));
	if (d->nfired) {
		at += (size_t)snprintf(buf + at, size - at, " fires=");
		for (uint32_t i = 0; i < d->nfired && at < size; i++) {
			const struct vsp_effect_info *e = vsp_policy_effect(p, d->fired[i].effect);

			at += (size_t)snprintf(buf + at, size - at, "%s%s:%s", i ? "," : "",
					       rule_name(p, (int32_t)d->fired[i].rule),
					       kinds[e->kind]);
		}
	}
	for (uint32_t i = 0; i < d->nlearn && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, " learn=%s",
				       rule_name(p, (int32_t)d->learn_rule[i]));
	if (d->flagged && at < size)
		at += (size_t)snprintf(buf + at, size - at, " flagged");
	if (d->partial && at < size)
		snprintf(buf + at, size - at, " partial");
}

static int64_t value_of(const char *s)
{
	const struct vsp_const *c = vsp_const_by_name(s);

	return c ? c->value : strtoll(s, NULL, 0);
}

/* Compares one decision with the expectation text; false with why. */
static bool check(struct vsp_policy *p, const struct vsp_decision *d,
		  const char *expect, char *why, size_t wl)
{
	static const char *const kinds[] = { "log", "alert", "count" };
	char buf[1024], *tok[MAXTOK];
	int n, i = 1;
	bool saw_by = false, saw_fires = false, flagged = false, partial = false;
	uint32_t nlearn = 0;

	snprintf(buf, sizeof(buf), "%s", expect);
	n = tokens(buf, tok, MAXTOK);
	if (n < 1 || strcmp(tok[0], vsp_verdict_name(d->verdict))) {
		snprintf(why, wl, "verdict");
		return false;
	}
	if (d->verdict == VSP_V_DENY) {
		int64_t want = 1;

		if (i < n && !strchr(tok[i], '=') && strcmp(tok[i], "flagged") &&
		    strcmp(tok[i], "partial"))
			want = value_of(tok[i++]);
		if (d->value != want) {
			snprintf(why, wl, "errno");
			return false;
		}
	} else if (d->verdict == VSP_V_RETURN || d->verdict == VSP_V_REDIRECT) {
		if (i >= n) {
			snprintf(why, wl, "no value in the expectation");
			return false;
		}
		if (d->verdict == VSP_V_RETURN ? d->value != value_of(tok[i])
		    : (d->redirect.len != strlen(tok[i]) ||
		       memcmp(d->redirect.ptr, tok[i], d->redirect.len))) {
			snprintf(why, wl, "value");
			return false;
		}
		i++;
	}
	for (; i < n; i++) {
		if (!strncmp(tok[i], "by=", 3)) {
			saw_by = true;
			if (!name_is(p, d->rule, tok[i] + 3)) {
				snprintf(why, wl, "deciding rule");
				return false;
			}
		} else if (!strncmp(tok[i], "fires=", 6)) {
			char *s = tok[i] + 6, *save = NULL;
			uint32_t k = 0;

			saw_fires = true;
			for (char *f = strtok_r(s, ",", &save); f; f = strtok_r(NULL, ",", &save), k++) {
				char *colon = strrchr(f, ':');
				const struct vsp_effect_info *e;

				if (!colon || k >= d->nfired) {
					snprintf(why, wl, "effects");
					return false;
				}
				*colon = 0;
				e = vsp_policy_effect(p, d->fired[k].effect);
				if (!name_is(p, (int32_t)d->fired[k].rule, f) ||
				    strcmp(kinds[e->kind], colon + 1)) {
					snprintf(why, wl, "effect %u", k);
					return false;
				}
			}
			if (k != d->nfired) {
				snprintf(why, wl, "number of effects");
				return false;
			}
		} else if (!strncmp(tok[i], "learn=", 6)) {
			if (nlearn >= d->nlearn ||
			    !name_is(p, (int32_t)d->learn_rule[nlearn], tok[i] + 6)) {
				snprintf(why, wl, "learn");
				return false;
			}
			nlearn++;
		} else if (!strcmp(tok[i], "flagged")) {
			flagged = true;
		} else if (!strcmp(tok[i], "partial")) {
			partial = true;
		} else {
			snprintf(why, wl, "bad expectation token '%s'", tok[i]);
			return false;
		}
	}
	if (!saw_by && d->rule != -1) {
		snprintf(why, wl, "decided by a rule, expected the default");
		return false;
	}
	if (!saw_fires && d->nfired) {
		snprintf(why, wl, "effects fired");
		return false;
	}
	if (nlearn != d->nlearn || flagged != d->flagged || partial != d->partial) {
		snprintf(why, wl, "learn/flagged/partial");
		return false;
	}
	return true;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

static FILE *quiet;

static void run_group(struct group *g)
{
	struct vsp_policy *ps[4];
	char path[128];
	FILE *f;
	bool loaded = true;

	snprintf(path, sizeof(path), "%s/policy.vsp", g->dir);
	f = fopen(path, "w");
	if (!f) {
		ok(0, "%s: cannot write %s", g->title, path);
		return;
	}
	fwrite(g->policy, 1, g->plen, f);
	fclose(f);
	for (int k = 0; k < 4; k++) {
		struct vsp_load_opts o = { .mode = g->mode, .no_fastpath = k & 1,
					   .no_cache = (k & 2) != 0, .diag = stderr };
		const char *file = path;
		int nerr = 0;

		/* Quiet unless it fails: then again, with the diagnostics. */
		o.diag = quiet;
		ps[k] = vsp_policy_load(&file, 1, &o, &nerr);
		if (!ps[k]) {
			o.diag = stderr;
			ps[k] = vsp_policy_load(&file, 1, &o, &nerr);
		}
		if (!ps[k])
			loaded = false;
	}
	if (!ok(loaded, "line %d: %s: loads", g->line, g->title)) {
		for (int k = 0; k < 4; k++)
			vsp_policy_free(ps[k]);
		return;
	}
	for (size_t c = 0; c < g->ncases; c++) {
		struct tcase *tc = &g->cases[c];
		bool good = true;
		char why[512] = "", got[1024] = "";

		for (int k = 0; k < 4 && good; k++)
			for (int rep = 0; rep < 2 && good; rep++) {
				struct vsp_event ev;
				struct fetchctx fc;
				struct vsp_decision d;
				char text[2048];

				snprintf(text, sizeof(text), "%s", tc->ev);
				if (build_event(text, &ev, &fc, why, sizeof(why))) {
					good = false;
					break;
				}
				vsp_decide(ps[k], &ev, &d);
				if (!check(ps[k], &d, tc->expect, why, sizeof(why))) {
					describe(ps[k], &d, got, sizeof(got));
					snprintf(why + strlen(why), sizeof(why) - strlen(why),
						 " (fastpath %s, cache %s, pass %d)",
						 k & 1 ? "off" : "on", k & 2 ? "off" : "on", rep + 1);
					good = false;
				}
			}
		if (!ok(good, "line %d: %s: %s => %s", tc->line, g->title, tc->ev, tc->expect))
			diag("%s; got: %s", why, got);
	}
	for (int k = 0; k < 4; k++)
		vsp_policy_free(ps[k]);
}

static void add_file(struct group *g, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g->dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	const char *file = argc > 1 ? argv[1] : "tests/interp/semantics.txt";
	FILE *in = fopen(file, "r");
	char line[4096], tmpl[] = "/tmp/vsp-sem-XXXXXX", *dir;
	struct group g;
	int lineno = 0, groups = 0;
	char *ftext = NULL, fname[128] = "";
	size_t flen = 0;
	bool in_file = false, have = false;

	if (!in) {
		/* Run from the build directory or elsewhere: find the source. */
		char alt[512];
		const char *b = getenv("BUILD");

		snprintf(alt, sizeof(alt), "%s/../%s", b ? b : ".", file);
		in = fopen(alt, "r");
	}
	if (!in) {
		ok(0, "cannot open %s: %s", file, strerror(errno));
		return done();
	}
	dir = mkdtemp(tmpl);
	quiet = fopen("/dev/null", "w");
	memset(&g, 0, sizeof(g));
	for (;;) {
		bool eof = !fgets(line, sizeof(line), in);
		size_t len = eof ? 0 : strlen(line);

		lineno++;
		if (!eof && in_file) {
			if (!strcmp(line, "@end\n")) {
				add_file(&g, fname, ftext ? ftext : "");
				free(ftext);
				ftext = NULL;
				flen = 0;
				in_file = false;
			} else {
				ftext = realloc(ftext, flen + len + 1);
				memcpy(ftext + flen, line, len + 1);
				flen += len;
			}
			continue;
		}
		if (eof || !strncmp(line, "=== ", 4)) {
			if (have) {
				run_group(&g);
				groups++;
			}
			for (size_t c = 0; c < g.ncases; c++) {
				free(g.cases[c].ev);
				free(g.cases[c].expect);
			}
			free(g.cases);
			free(g.policy);
			free(g.title);
			if (eof)
				break;
			memset(&g, 0, sizeof(g));
			line[len - 1] = 0;
			g.title = xstrdup(line + 4);
			g.line = lineno;
			g.mode = VSP_MODE_UNSET;
			snprintf(g.dir, sizeof(g.dir), "%s/g%d", dir, groups);
			mkdir(g.dir, 0700);
			have = true;
			continue;
		}
		if (!have || line[0] == '#' || (line[0] == '\n' && !g.plen))
			continue;
		if (!strncmp(line, "@mode ", 6)) {
			g.mode = !strncmp(line + 6, "learn", 5) ? VSP_MODE_LEARN :
				 !strncmp(line + 6, "monitor", 7) ? VSP_MODE_MONITOR :
				 VSP_MODE_ENFORCE;
		} else if (!strncmp(line, "@file ", 6)) {
			line[len - 1] = 0;
			snprintf(fname, sizeof(fname), "%.120s", line + 6);
			in_file = true;
		} else if (!strncmp(line, "--- ", 4)) {
			char *arrow = strstr(line, "=>");

			if (!arrow) {
				ok(0, "line %d: a case without =>", lineno);
				continue;
			}
			*arrow = 0;
			line[len - 1] = 0;
			g.cases = realloc(g.cases, (g.ncases + 1) * sizeof(*g.cases));
			g.cases[g.ncases].ev = xstrdup(line + 4);
			g.cases[g.ncases].expect = xstrdup(arrow + 2);
			g.cases[g.ncases].line = lineno;
			/* Trim the event text's trailing spaces. */
			for (char *e = g.cases[g.ncases].ev + strlen(g.cases[g.ncases].ev);
			     e > g.cases[g.ncases].ev && e[-1] == ' ';)
				*--e = 0;
			g.ncases++;
		} else {
			g.policy = realloc(g.policy, g.plen + len + 1);
			memcpy(g.policy + g.plen, line, len + 1);
			g.plen += len;
		}
	}
	fclose(in);
	ok(groups > 0, "%d policies read from %s", groups, file);
	if (dir) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return done();
}
