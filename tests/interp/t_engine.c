/*
 * t_engine.c: the engine API around decisions (engine/engine.h).
 *
 * Learn mode end to end (decide, learn, save: sorted, unique, merged with
 * the file's lines and comments, written through a temp file; the saved
 * profile then allows those paths in enforce mode), message templates,
 * rule and event introspection, statistics (constant verdicts, cache hits,
 * rule hits, counters), the step bound, mode overrides and load errors.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/tap.h"

static char dir[] = "/tmp/vsp-engine-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static char *slurp(const char *name)
{
	static char buf[8192];
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static struct vsp_policy *load(const char *name, enum vsp_mode mode, bool fast)
{
	char path[256];
	const char *file = path;
	struct vsp_load_opts o = { .mode = mode, .no_fastpath = !fast, .diag = stderr };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return vsp_policy_load(&file, 1, &o, NULL);
}

static int fetch(void *ctx, struct vsp_event *ev, enum vsp_field f, struct vsp_str *o)
{
	const char *s = ctx;

	(void)ev;
	(void)f;
	if (!s)
		return -1;
	*o = (struct vsp_str){ s, (uint32_t)strlen(s) };
	return 0;
}

static void hyper(struct vsp_event *ev, const char *const *stack, uint32_t n)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = VSP_EV_HYPERCALL;
	ev->name = "mmu_update";
	ev->nr = 1;
	ev->args[1] = 1;
	ev->stack = stack;
	ev->nstack = n;
	ev->has_stack = n > 0;
}

static void learn(void)
{
	static const char *const s1[] = { "mmu_update", "xen_mc_flush", "xen_set_pte" };
	static const char *const s2[] = { "mmu_update", "a_first", "b" };
	static const char *const s3[] = { "mmu_update", "evil" };
	struct vsp_policy *p;
	struct vsp_event ev;
	struct vsp_decision d;
	char *text;
	int learned = 0;

	put("mmu.vsp", "rule \"mmu\": on hypercall mmu_update when count > 0\n"
		       "  must arise from profile \"mmu.paths\" : deny EPERM, alert;\n");
	put("mmu.paths", "# learned on a clean guest\nzz_last <- x\na_first <- b\n");
	p = load("mmu.vsp", VSP_MODE_LEARN, true);
	if (!ok(p != NULL, "learn: policy loads"))
		return;
	ok(vsp_policy_mode(p) == VSP_MODE_LEARN, "learn: the override sets the mode");
	ok(vsp_policy_rule(p, 0)->profile != NULL &&
	   strstr(vsp_policy_rule(p, 0)->profile, "mmu.paths") != NULL,
	   "learn: rule info names the profile");
	for (int rep = 0; rep < 2; rep++) {
		const char *const *st[] = { s1, s2, s3 };
		uint32_t n[] = { 3, 3, 2 };

		for (int i = 0; i < 3; i++) {
			hyper(&ev, st[i], n[i]);
			vsp_decide(p, &ev, &d);
			if (d.verdict == VSP_V_ALLOW && d.nlearn == 1 && d.nfired == 0)
				learned += vsp_policy_learn(p, d.learn_rule[0], &ev) == 0;
		}
	}
	ok(learned == 6, "learn: every event asked to learn and was learned (%d)", learned);
	hyper(&ev, s1, 0);
	vsp_decide(p, &ev, &d);
	ok(d.nlearn == 1 && vsp_policy_learn(p, 0, &ev) == 0,
	   "learn: an event without a call path learns nothing, quietly");
	ok(vsp_policy_learn(p, 7, &ev) == -1, "learn: a rule out of range is an error");
	{
		char pp[256];
		struct stat sb;

		snprintf(pp, sizeof(pp), "%s/mmu.paths", dir);
		chmod(pp, 0640);
		ok(vsp_policy_save_profiles(p, stderr) == 0, "learn: profiles saved");
		ok(stat(pp, &sb) == 0 && (sb.st_mode & 07777) == 0640,
		   "learn: the profile keeps its mode");
	}
	text = slurp("mmu.paths");
	ok(text && !strcmp(text, "# learned on a clean guest\n"
				 "a_first <- b\n"
				 "evil\n"
				 "xen_mc_flush <- xen_set_pte\n"
				 "zz_last <- x\n"),
	   "learn: the file is sorted, unique and merged");
	if (text)
		diag("profile now:\n%s", text);
	vsp_policy_free(p);

	p = load("mmu.vsp", VSP_MODE_ENFORCE, true);
	if (!ok(p != NULL, "learn: reloads in enforce mode"))
		return;
	hyper(&ev, s1, 3);
	vsp_decide(p, &ev, &d);
	ok(d.verdict == VSP_V_ALLOW, "learn: a learned path is allowed");
	{
		static const char *const s4[] = { "mmu_update", "xen_mc_flush", "other" };

		hyper(&ev, s4, 3);
		vsp_decide(p, &ev, &d);
		ok(d.verdict == VSP_V_DENY && d.value == 1 && d.rule == 0 && d.nfired == 1,
		   "learn: a new path is denied with its alert");
	}
	vsp_policy_free(p);
}

static void format(void)
{
	static const char *const st[] = { "commit_creds", "__sys_setuid", "do_syscall_64" };
	struct vsp_policy *p;
	struct vsp_event ev;
	struct vsp_decision d;
	char buf[256], small[8];
	size_t n;

	put("fmt.vsp", "rule \"open\": on syscall openat, syscall open\n"
		       "  : alert \"%{proc.comm} (pid %{proc.pid}) opened %{filename} flags %{flags}\";\n"
		       "rule \"creds\": on kernel commit_creds : log \"path %{stack} partial %{event.partial}\";\n");
	p = load("fmt.vsp", VSP_MODE_UNSET, true);
	if (!ok(p != NULL, "format: policy loads"))
		return;
	memset(&ev, 0, sizeof(ev));
	ev.kind = VSP_EV_SYSCALL;
	ev.name = "open";
	ev.nr = 2;
	ev.proc.pid = 412;
	ev.args[1] = 0x42;
	strcpy(ev.proc.comm, "cat");
	ev.fetch = fetch;
	ev.fetch_ctx = "/etc/shadow";
	vsp_decide(p, &ev, &d);
	ok(d.nfired == 1 && d.verdict == VSP_V_ALLOW, "format: the alert fires");
	n = vsp_policy_format(p, d.fired[0].effect, &ev, buf, sizeof(buf));
	ok(!strcmp(buf, "cat (pid 412) opened /etc/shadow flags 66") &&
	   n == strlen(buf), "format: fields interpolate, per syscall (\"%s\")", buf);
	ev.name = "openat";
	ev.nr = 257;
	ev.args[1] = 7;
	ev.args[2] = 0x42;
	vsp_event_reset_lazy(&ev);
	vsp_decide(p, &ev, &d);
	vsp_policy_format(p, d.fired[0].effect, &ev, buf, sizeof(buf));
	ok(!strcmp(buf, "cat (pid 412) opened /etc/shadow flags 66"),
	   "format: the same names resolve to openat's registers (\"%s\")", buf);
	n = vsp_policy_format(p, d.fired[0].effect, &ev, small, sizeof(small));
	ok(n == strlen(buf) && !strcmp(small, "cat (pi"),
	   "format: truncates, terminates and returns the length it wanted");

	memset(&ev, 0, sizeof(ev));
	ev.kind = VSP_EV_KERNEL;
	ev.name = "commit_creds";
	ev.stack = st;
	ev.nstack = 3;
	ev.has_stack = true;
	vsp_decide(p, &ev, &d);
	vsp_policy_format(p, d.fired[0].effect, &ev, buf, sizeof(buf));
	ok(!strcmp(buf, "path commit_creds <- __sys_setuid <- do_syscall_64 partial false"),
	   "format: stack and bool fields (\"%s\")", buf);
	ok(vsp_policy_format(p, 99, &ev, buf, sizeof(buf)) == 0 && buf[0] == 0,
	   "format: an unknown effect gives the empty string");
	vsp_policy_free(p);
}

static void stats_and_info(void)
{
	struct vsp_policy *p, *q;
	struct vsp_event ev;
	struct vsp_decision d;
	struct vsp_engine_stats st;
	const struct vsp_event_key *k;
	uint64_t v = 0;
	uint32_t bound = 0, worst = 0;
	bool found = false;

	put("st.vsp", "default deny EACCES;\n"
		      "rule \"a\" priority critical tags (\"t1\", \"t2\"): on syscall read when fd == 0 : count \"zero\", log;\n"
		      "on syscall read when fd == 1 : count \"zero\", allow;\n"
		      "rule \"c\": on syscall write : kill;\n");
	p = load("st.vsp", VSP_MODE_UNSET, true);
	if (!ok(p != NULL, "stats: policy loads"))
		return;
	ok(vsp_policy_nrules(p) == 3 && vsp_policy_rule(p, 0)->named &&
	   vsp_policy_rule(p, 0)->priority == VSP_PRIO_CRITICAL &&
	   vsp_policy_rule(p, 0)->ntags == 2 && !strcmp(vsp_policy_rule(p, 0)->tags[1], "t2"),
	   "info: name, priority and tags");
	ok(!vsp_policy_rule(p, 1)->named && vsp_policy_rule(p, 1)->line == 3 &&
	   strstr(vsp_policy_rule(p, 1)->name, "st.vsp:3") != NULL,
	   "info: an unnamed rule is FILE:LINE (%s)", vsp_policy_rule(p, 1)->name);
	ok(vsp_policy_rule(p, 3) == NULL, "info: no rule past the end");
	ok(vsp_policy_nevents(p) == 2, "info: two events named");
	for (uint32_t i = 0; i < vsp_policy_nevents(p); i++) {
		k = vsp_policy_event(p, i);
		if (k->kind == VSP_EV_SYSCALL && k->nr == 0 && !strcmp(k->name, "read")) {
			found = (k->reads & (1ull << VSP_F_ARG0)) != 0;
			bound = k->max_steps;
		}
	}
	ok(found && bound > 0, "info: read's key says it reads arg0, at most %u steps", bound);
	ok(vsp_policy_mode(p) == VSP_MODE_ENFORCE, "info: no mode means enforce");

	memset(&ev, 0, sizeof(ev));
	ev.kind = VSP_EV_SYSCALL;
	for (int i = 0; i < 30; i++) {
		ev.nr = i % 3 == 2 ? 1 : 0;	/* read, read, write */
		ev.name = ev.nr ? "write" : "read";
		ev.args[0] = i % 3;
		vsp_decide(p, &ev, &d);
		if (d.steps > worst)
			worst = d.steps;
	}
	ev.nr = 9;
	ev.name = "mmap";
	vsp_decide(p, &ev, &d);
	ok(d.verdict == VSP_V_DENY && d.value == 13 && d.rule == -1,
	   "stats: an unnamed event gets the default");
	ok(worst <= bound, "stats: no decision took more than the stated bound (%u <= %u)",
	   worst, bound);
	vsp_policy_stats(p, &st);
	ok(st.events == 31, "stats: 31 events (%llu)", (unsigned long long)st.events);
	ok(st.const_verdicts == 11, "stats: write and mmap are constant verdicts (%llu)",
	   (unsigned long long)st.const_verdicts);
	ok(st.cache_hits == 18 && st.cache_misses == 2,
	   "stats: read decided twice, then from the cache (%llu hits, %llu misses)",
	   (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses);
	ok(st.decisions[VSP_V_KILL] == 10 && st.decisions[VSP_V_ALLOW] == 10 &&
	   st.decisions[VSP_V_DENY] == 11, "stats: decisions by verdict");
	ok(vsp_policy_rule_hits(p, 0) == 10 && vsp_policy_rule_hits(p, 1) == 10 &&
	   vsp_policy_rule_hits(p, 2) == 10, "stats: rule hits");
	ok(vsp_policy_ncounters(p) == 1 && !strcmp(vsp_policy_counter(p, 0, &v), "zero") &&
	   v == 20, "stats: the named counter counts both rules (%llu)", (unsigned long long)v);
	ok(vsp_policy_counter(p, 1, &v) == NULL, "stats: no counter past the end");

	q = load("st.vsp", VSP_MODE_MONITOR, false);
	ok(q && vsp_policy_mode(q) == VSP_MODE_MONITOR, "mode: monitor override");
	if (q) {
		ev.nr = 1;
		ev.name = "write";
		vsp_decide(q, &ev, &d);
		vsp_policy_stats(q, &st);
		ok(d.verdict == VSP_V_KILL && st.const_verdicts == 0 && st.interpreted == 1 &&
		   d.steps == 1, "no_fastpath: the interpreter runs even a constant program");
	}
	vsp_policy_free(q);
	vsp_policy_free(p);
}

static int fetch_null(void *ctx, struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *o)
{
	(void)ctx;
	(void)ev;
	(void)f;
	*o = (struct vsp_str){ NULL, 5 };	/* a lying backend */
	return 0;
}

static void hostile(void)
{
	static const char *const empty[1] = { "only" };
	struct vsp_policy *p;
	struct vsp_event ev;
	struct vsp_decision d;
	bool fine = true;

	put("h.vsp", "rule \"k\": on kernel f when func == \"\" and proc.comm != \"x\" : deny;\n"
		     "rule \"s\": on syscall openat when path == \"\" : deny 2;\n"
		     "rule \"c\": on kernel g must arise from \"a <- **\" : kill;\n");
	p = load("h.vsp", VSP_MODE_UNSET, true);
	if (!ok(p != NULL, "hostile: policy loads"))
		return;
	memset(&ev, 0xff, sizeof(ev));	/* garbage everywhere, then the minimum */
	ev.kind = VSP_EV_KERNEL;
	ev.name = NULL;
	ev.lib = NULL;
	ev.vm = NULL;
	ev.fetch = NULL;
	ev.stack = NULL;
	ev.has_stack = false;
	ev.strs_valid = 0;
	ev.partial = false;
	vsp_decide(p, &ev, &d);
	fine &= d.verdict == VSP_V_ALLOW;	/* no name: the default program */
	ev.kind = VSP_EV_SYSCALL;
	ev.nr = 0xffffffffu;
	vsp_decide(p, &ev, &d);
	fine &= d.verdict == VSP_V_ALLOW;
	ok(fine, "hostile: no name and a huge number get the default");

	ev.kind = VSP_EV_KERNEL;
	ev.name = "f";		/* comm has no NUL: 0xff bytes fill it */
	vsp_decide(p, &ev, &d);
	ok(d.verdict == VSP_V_ALLOW && !d.partial,
	   "hostile: an unterminated comm is cut at its size; func is the name");
	ev.kind = VSP_EV_SYSCALL;
	ev.nr = 257;
	ev.name = "openat";
	ev.fetch = fetch_null;
	vsp_event_reset_lazy(&ev);
	vsp_decide(p, &ev, &d);
	ok(d.verdict == VSP_V_DENY && d.value == 2 && d.partial,
	   "hostile: a fetch that returns no pointer is a failed read");
	ev.kind = VSP_EV_KERNEL;
	ev.name = "g";
	ev.has_stack = true;
	ev.stack = empty;
	ev.nstack = 1;
	vsp_decide(p, &ev, &d);
	ok(d.verdict == VSP_V_KILL, "hostile: a stack of one frame has no call path");
	ev.stack = NULL;
	ev.nstack = 5;
	vsp_decide(p, &ev, &d);
	ok(d.verdict == VSP_V_KILL, "hostile: has_stack with no frames is no call path");
	vsp_policy_free(p);
}

static void errors(void)
{
	int nerr = 0;
	const char *missing = "/nonexistent/x.vsp";
	struct vsp_load_opts o = { .mode = VSP_MODE_UNSET, .diag = stderr };
	struct vsp_policy *p;

	ok(vsp_policy_load(&missing, 1, &o, &nerr) == NULL && nerr >= 1,
	   "load: a missing file fails with an error count");
	put("bad.vsp", "on syscall opnat : deny;\non syscall read when fd == \"x\" : deny;\n");
	p = load("bad.vsp", VSP_MODE_UNSET, true);
	ok(p == NULL, "load: a policy with errors fails");
	put("warn.vsp", "list unused = [1];\non syscall read : deny;\n");
	o.warnings_as_errors = true;
	{
		char path[256];
		const char *file = path;

		snprintf(path, sizeof(path), "%s/warn.vsp", dir);
		nerr = 0;
		ok(vsp_policy_load(&file, 1, &o, &nerr) == NULL && nerr > 0,
		   "load: warnings as errors");
		o.warnings_as_errors = false;
		p = vsp_policy_load(&file, 1, &o, &nerr);
		ok(p != NULL && nerr == 0, "load: warnings alone do not fail");
		vsp_policy_free(p);
	}
	ok(!strcmp(vsp_verdict_name(VSP_V_REDIRECT), "redirect") &&
	   !strcmp(vsp_mode_name(VSP_MODE_LEARN), "learn") &&
	   !strcmp(vsp_event_kind_name(VSP_EV_WRITE), "write") &&
	   !strcmp(vsp_verdict_name((enum vsp_verdict)99), "none"),
	   "names of verdicts, modes and event kinds");
}

int main(void)
{
	char cmd[128];

	if (!mkdtemp(dir))
		return 1;
	learn();
	format();
	stats_and_info();
	hostile();
	errors();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		diag("cannot remove %s", dir);
	return done();
}
