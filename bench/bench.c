/*
 * bench.c: nanoseconds per decision, vsp against what a user would
 * otherwise pick (`make bench`).
 *
 * One process, events already in memory, the same rules written once per
 * contender.  Workloads:
 *   (a) web     a 50-rule hardening pack on syscall numbers and integer
 *               arguments over a busy web server's syscall mix: vsp, hand-
 *               written C, a libseccomp filter run as classic BPF by
 *               libpcap, Lua 5.4, a tree-walking evaluator;
 *   (b) paths   openat when the path matches a list of globs (10, then
 *               1,000): vsp, a C loop over the globs, Lua string patterns,
 *               the tree walker (classic BPF cannot read strings);
 *   (c) calls   a hypercall that must arise from one of 200 learned call
 *               paths: vsp, a C loop over the learned paths, a Lua table
 *               of joined paths, the tree walker;
 *   (d) trace   events recorded from the bundled live guest
 *               (traces/guest.trace) under traces/guest.vsp: vsp and the
 *               tree walker.
 * vsp runs four ways: fast path (constant verdicts, fused operations,
 * shared matchers) on and off, decision cache on and off.  Every contender
 * first decides every event and must give the answer vsp gives; then
 * rounds of one pass over all events per contender, in rotating order, so
 * drift on a shared machine hits all alike; each timed pass follows an
 * untimed one, so every contender is measured warm.  Printed: median and 99th
 * percentile of the per-pass averages (ns per decision, thread CPU time)
 * and the ratio to vsp.  Then the fast path's parts timed alone (matcher,
 * cache, call-path set), a 10,000-rule load, and the goals, each PASS or
 * MISS.
 *
 *   vsp-bench [--events N] [--rounds R] [--trace FILE] [--trace-policy FILE]
 */
#include "bench/astwalk.h"
#include "bench/peers.h"
#include "fastpath/cache.h"
#include "fastpath/match.h"
#include "engine/engine.h"
#include "base/catalog.h"
#include "vmi/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------- heap calls, counted */

/* While `counting` is set, every heap call is counted: the vsp passes
 * run with it on, so a decision that allocates shows up in the goals. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile int counting;
static unsigned long heap_calls;

void *malloc(size_t n)
{
	heap_calls += counting;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	heap_calls += counting;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	heap_calls += counting;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	heap_calls += counting && p;
	__libc_free(p);
}

/* ------------------------------------------------------------ harness */

struct contender {
	const char *name;
	int (*decide)(void *ctx, size_t i);
	void *ctx;
	bool ready;
	const char *why;	/* when not ready */
	bool is_vsp;		/* heap calls counted while it runs */
	double *samples;
	double med, p99;
};

/* CPU time of this thread: on a shared machine, time spent descheduled
 * would otherwise land on whichever contender happened to be running. */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static bool all_agree = true;
static unsigned long vsp_heap_calls;

/* Contender 0 (vsp, default load) is the reference for answers and
 * ratios.  Fills med and p99 of every ready contender. */
static void run(struct contender *cs, int nc, size_t n, int rounds,
		size_t *denied)
{
	*denied = 0;
	for (size_t i = 0; i < n; i++) {
		int want = cs[0].decide(cs[0].ctx, i);
		*denied += want != 0;
		for (int c = 1; c < nc; c++) {
			if (!cs[c].ready)
				continue;
			int got = cs[c].decide(cs[c].ctx, i);
			if (got != want) {
				fprintf(stderr, "vsp-bench: %s: event %zu: %d, %s says %d\n",
					cs[c].name, i, got, cs[0].name, want);
				all_agree = false;
				cs[c].ready = false;
				cs[c].why = "wrong answers";
			}
		}
	}
	for (int c = 0; c < nc; c++)
		cs[c].samples = calloc((size_t)rounds, sizeof(double));
	volatile int sink = 0;
	/* Each round in a new order (a fixed-seed shuffle): what ran just
	 * before a contender changes what its first decisions find in the
	 * CPU's caches, and a fixed rotation would always give a contender
	 * the same predecessor (in (d), whichever vsp load followed the
	 * tree walker or the interpreter was 15-20 ns slower). */
	int *order = calloc((size_t)nc, sizeof *order);
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (int k = 0; k < nc; k++)
		order[k] = k;
	for (int r = 0; r < rounds; r++) {
		for (int k = nc - 1; k > 0; k--) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			int j = (int)(seed % (uint64_t)(k + 1)), t = order[k];
			order[k] = order[j];
			order[j] = t;
		}
		for (int k = 0; k < nc; k++) {
			struct contender *c = &cs[order[k]];
			if (!c->ready)
				continue;
			int acc = 0;
			/* Untimed passes first: the slow contenders sweep the
			 * caches, and a decision happens on an event the backend
			 * has just written, not one fetched from DRAM.  One pass
			 * after a sweep is not enough (the next still paid
			 * 10-15 ns of refills per decision on 4096 events, which
			 * made whichever contender followed Lua look slow), so a
			 * fast contender gets two; for a slow one (a pass over
			 * 1 ms) the refill is noise and a second pass would
			 * only cost time. */
			double w0 = now_ns();
			for (size_t i = 0; i < n; i++)
				acc += c->decide(c->ctx, i);
			if (now_ns() - w0 < 1e6)
				for (size_t i = 0; i < n; i++)
					acc += c->decide(c->ctx, i);
			counting = c->is_vsp;
			unsigned long h0 = heap_calls;
			double t0 = now_ns();
			for (size_t i = 0; i < n; i++)
				acc += c->decide(c->ctx, i);
			c->samples[r] = (now_ns() - t0) / (double)n;
			counting = 0;
			vsp_heap_calls += heap_calls - h0;
			sink += acc;
		}
	}
	free(order);
	for (int c = 0; c < nc; c++) {
		if (cs[c].ready) {
			qsort(cs[c].samples, (size_t)rounds, sizeof(double), cmp_double);
			cs[c].med = cs[c].samples[rounds / 2];
			cs[c].p99 = cs[c].samples[(size_t)((rounds - 1) * 0.99)];
		}
		free(cs[c].samples);
		cs[c].samples = NULL;
	}
}

static void report(const struct contender *cs, int nc)
{
	printf("  %-36s %9s %9s %9s\n", "ns per decision", "median", "p99", "vs vsp");
	for (int c = 0; c < nc; c++) {
		if (!cs[c].ready) {
			printf("  %-36s %9s   (%s)\n", cs[c].name, "n/a",
			       cs[c].why ? cs[c].why : "unavailable");
			continue;
		}
		double ratio = cs[0].med > 0 ? cs[c].med / cs[0].med : 0.0;
		printf("  %-36s %9.1f %9.1f %8.*fx\n", cs[c].name, cs[c].med, cs[c].p99,
		       ratio < 10 ? 2 : 1, ratio);
	}
}

/* ------------------------------------------------------------- goals */

struct goal {
	char what[96];
	char measured[64];
	bool pass;
};

static struct goal goals[16];
static int ngoals;

static void goal(bool pass, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#include <stdarg.h>
static void goal(bool pass, const char *what, const char *fmt, ...)
{
	va_list ap;
	struct goal *g = &goals[ngoals++];

	snprintf(g->what, sizeof g->what, "%s", what);
	va_start(ap, fmt);
	vsnprintf(g->measured, sizeof g->measured, fmt, ap);
	va_end(ap);
	g->pass = pass;
}

/* ----------------------------------------------------------- vsp side */

enum { VSP_FAST_CACHE, VSP_FAST, VSP_INTERP_CACHE, VSP_INTERP, NVSP };

static const char *const vsp_names[NVSP] = {
	"vsp (fast path + cache)", "vsp (fast path, no cache)",
	"vsp (interpreter + cache)", "vsp (interpreter only)",
};

struct vsp_side {
	struct vsp_policy *p;
	struct vsp_event *ev;		/* array of events */
	struct vsp_event **evp;		/* or array of pointers (traces) */
};

/* One answer per decision, comparable across contenders: the errno of a
 * deny, 0 for allow, 1000 + verdict for the rest. */
static int answer(enum vsp_verdict v, int64_t value)
{
	if (v == VSP_V_DENY)
		return (int)value;
	return v == VSP_V_ALLOW ? 0 : 1000 + (int)v;
}

static inline struct vsp_event *side_ev(struct vsp_side *v, size_t i)
{
	return v->evp ? v->evp[i] : &v->ev[i];
}

static int decide_vsp(void *ctx, size_t i)
{
	struct vsp_side *v = ctx;
	struct vsp_decision d;
	struct vsp_event *ev = side_ev(v, i);
	vsp_event_reset_lazy(ev);
	vsp_decide(v->p, ev, &d);
	return answer(d.verdict, d.value);
}

struct walk_side {
	struct astwalk *w;
	struct vsp_side *v;
};

static int decide_walk(void *ctx, size_t i)
{
	struct walk_side *s = ctx;
	int64_t value;
	struct vsp_event *ev = side_ev(s->v, i);
	vsp_event_reset_lazy(ev);
	enum vsp_verdict v = astwalk_decide(s->w, ev, &value);
	return answer(v, value);
}

/* A policy text in a file of its own directory (profiles go beside it). */
static char tmpdir[64];

static const char *write_file(const char *name, const char *text)
{
	static char path[160];
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/vsp-bench-XXXXXX");
		if (!mkdtemp(tmpdir))
			return NULL;
	}
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

static struct vsp_policy *load_file(const char *file, bool no_cache,
				    bool no_fastpath)
{
	struct vsp_load_opts o;
	memset(&o, 0, sizeof o);
	o.mode = VSP_MODE_ENFORCE;
	o.no_cache = no_cache;
	o.no_fastpath = no_fastpath;
	int nerr = 0;
	return vsp_policy_load(&file, 1, &o, &nerr);
}

/* The four vsp contenders on one policy file, then the tree walker. */
static void vsp_contenders(struct contender *cs, struct vsp_side *sides,
			   struct walk_side *ws, const char *file,
			   struct vsp_event *ev, struct vsp_event **evp)
{
	for (int k = 0; k < NVSP; k++) {
		sides[k].p = load_file(file, k == VSP_FAST || k == VSP_INTERP,
				       k >= VSP_INTERP_CACHE);
		sides[k].ev = ev;
		sides[k].evp = evp;
		cs[k] = (struct contender){ vsp_names[k], decide_vsp, &sides[k],
					    sides[k].p != NULL,
					    "the policy did not load", true, NULL, 0, 0 };
	}
	const char *err = NULL;
	ws->w = astwalk_load(file, &err);
	ws->v = &sides[0];
	cs[NVSP] = (struct contender){ "tree walker (AST, no bytecode)", decide_walk,
				       ws, ws->w != NULL, err, false, NULL, 0, 0 };
}

static void vsp_release(struct vsp_side *sides, struct walk_side *ws)
{
	for (int k = 0; k < NVSP; k++)
		vsp_policy_free(sides[k].p);
	astwalk_free(ws->w);
}

static void vsp_stats(struct vsp_policy *p)
{
	struct vsp_engine_stats st;
	if (!p)
		return;
	vsp_policy_stats(p, &st);
	printf("  vsp (fast path + cache) engine: %llu events: %llu constant verdicts, "
	       "%llu cache hits, %llu misses, %llu interpreted\n",
	       (unsigned long long)st.events, (unsigned long long)st.const_verdicts,
	       (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses,
	       (unsigned long long)st.interpreted);
}

static struct vsp_event *vsp_events(const struct bench_ev *ev, size_t n,
				    vsp_fetch_fn fetch, void *fetch_ctx)
{
	struct vsp_event *vevs = calloc(n, sizeof *vevs);
	for (size_t i = 0; i < n; i++) {
		struct vsp_event *v = &vevs[i];
		const struct vsp_call *c = vsp_syscall_by_nr(ev[i].nr);
		v->kind = VSP_EV_SYSCALL;
		v->nr = ev[i].nr;
		v->name = c ? c->name : "?";
		v->vm = "bench";
		v->seq = i;
		v->proc = (struct vsp_proc){ 400 + (int64_t)(i % 7), 400, 1,
					     1000, 1000, 1000, "nginx" };
		memcpy(v->args, ev[i].args, sizeof v->args);
		v->fetch = fetch;
		v->fetch_ctx = fetch_ctx;
	}
	return vevs;
}

/* ------------------------------------------------------ (a) web server */

static struct bench_ev *web_ev;

static int decide_c(void *ctx, size_t i) { return bench_c(&web_ev[i]); }
static int decide_bpf(void *ctx, size_t i) { return bench_bpf(&web_ev[i]); }
static int decide_lua(void *ctx, size_t i) { return bench_lua(&web_ev[i]); }

/* A busy web server's calls, by share (percent, roughly what strace -c
 * shows for nginx under load), then the rare calls the rules watch. */
static const struct { int nr; int pct; } web_mix[] = {
	{ SYS_epoll_wait, 14 }, { SYS_read, 10 }, { SYS_write, 6 },
	{ SYS_writev, 8 }, { SYS_sendfile, 4 }, { SYS_recvfrom, 6 },
	{ SYS_sendto, 3 }, { SYS_accept4, 4 }, { SYS_close, 8 },
	{ SYS_openat, 8 }, { SYS_newfstatat, 6 }, { SYS_fstat, 3 },
	{ SYS_futex, 4 }, { SYS_mmap, 2 }, { SYS_munmap, 2 },
	{ SYS_mprotect, 1 }, { SYS_clock_gettime, 2 }, { SYS_setsockopt, 2 },
	{ SYS_fcntl, 2 }, { SYS_ioctl, 1 }, { SYS_epoll_ctl, 2 },
	{ SYS_getpid, 1 },
};

static const int web_rare[] = {
	SYS_ptrace, SYS_mount, SYS_bpf, SYS_kill, SYS_setuid, SYS_unshare,
	SYS_clone, SYS_socket, SYS_personality, SYS_madvise, SYS_fchmodat,
	SYS_tkill, SYS_setgid, SYS_clone3, SYS_keyctl, SYS_chroot,
};

static void make_web_events(struct bench_ev *ev, size_t n)
{
	srand(20261122);
	for (size_t i = 0; i < n; i++) {
		struct bench_ev *e = &ev[i];
		memset(e, 0, sizeof *e);
		for (int k = 0; k < 6; k++)
			e->args[k] = rand() % 8;
		int r = rand() % 100, acc = 0;
		e->nr = 0;
		for (size_t k = 0; k < sizeof web_mix / sizeof web_mix[0]; k++) {
			acc += web_mix[k].pct;
			if (r < acc) {
				e->nr = (uint32_t)web_mix[k].nr;
				break;
			}
		}
		if (r >= acc)
			e->nr = (uint32_t)web_rare[rand() % (int)(sizeof web_rare / sizeof web_rare[0])];
		switch (e->nr) {
		case SYS_openat:
			e->args[0] = rand() % 4 ? AT_FDCWD : 3 + rand() % 3;
			e->args[2] = rand() % 3 ? O_RDONLY | O_CLOEXEC : (O_WRONLY | O_CREAT);
			break;
		case SYS_mmap: case SYS_mprotect:
			e->args[2] = rand() % 8;
			break;
		case SYS_kill: case SYS_tkill:
			e->args[0] = rand() % 3;
			e->args[1] = rand() % 2 ? 9 : 15;
			break;
		case SYS_setuid: case SYS_setgid:
			e->args[0] = rand() % 2 ? 0 : 1000;
			break;
		case SYS_unshare: case SYS_clone:
			e->args[0] = rand() % 2 ? CLONE_NEWUSER | CLONE_NEWNS : CLONE_NEWNS;
			break;
		case SYS_personality:
			e->args[0] = rand() % 2 ? 0x0400000 : 0;
			break;
		case SYS_socket:
			e->args[0] = rand() % 2 ? 17 : 2;
			break;
		case SYS_ioctl:
			e->args[1] = rand() % 4 ? 0x541b : 0x5412;
			break;
		case SYS_madvise:
			e->args[2] = rand() % 2 ? 100 : 4;
			break;
		case SYS_fchmodat:
			e->args[2] = rand() % 2 ? 04755 : 0644;
			break;
		}
		bench_bpf_fill(e);
	}
}

struct result_a { double vsp, c, bpf, lua, walk, unnamed, hit; };

/* An event no rule names, straight into vsp_decide: the cost a backend
 * pays for it (the trap would not even be installed). */
static double unnamed_cost(struct vsp_policy *p)
{
	enum { N = 4096, ROUNDS = 101 };
	static struct vsp_event ev[8];
	static const int nrs[8] = { SYS_epoll_wait, SYS_read, SYS_writev, SYS_close,
				    SYS_futex, SYS_recvfrom, SYS_fstat, SYS_getpid };
	double s[ROUNDS];
	struct vsp_decision d;
	volatile int sink = 0;
	for (int k = 0; k < 8; k++) {
		ev[k].kind = VSP_EV_SYSCALL;
		ev[k].nr = (uint32_t)nrs[k];
	}
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns();
		for (int i = 0; i < N; i++) {
			vsp_decide(p, &ev[i & 7], &d);
			sink += d.verdict;
		}
		s[r] = (now_ns() - t0) / N;
	}
	qsort(s, ROUNDS, sizeof s[0], cmp_double);
	return s[ROUNDS / 2];
}

/* A cache hit with a key of integers: rules with an effect are cached
 * whatever their size, so every decision here after the first few is a
 * hit.  Returns ns per decision, or -1 when not every one was a hit. */
static double int_hit_cost(void)
{
	enum { N = 4096, ROUNDS = 101 };
	const char *file = write_file("hits.vsp",
		"policy \"hits\" version 1;\n"
		"on syscall openat when arg2 & O_CREAT != 0 and proc.uid != 0: log \"create\";\n"
		"on syscall openat when arg0 != AT_FDCWD and arg2 & O_CREAT != 0: deny EACCES;\n");
	struct vsp_policy *p = file ? load_file(file, false, false) : NULL;
	static struct vsp_event ev[8];
	double s[ROUNDS];
	struct vsp_decision d;
	struct vsp_engine_stats a, b;
	volatile int sink = 0;
	if (!p)
		return -1;
	for (int k = 0; k < 8; k++) {
		ev[k].kind = VSP_EV_SYSCALL;
		ev[k].nr = SYS_openat;
		ev[k].name = "openat";
		ev[k].args[0] = k & 1 ? AT_FDCWD : 5;
		ev[k].args[2] = k & 2 ? O_CREAT | O_WRONLY : O_RDONLY;
		ev[k].proc.uid = k & 4 ? 1000 : 0;
		vsp_decide(p, &ev[k], &d);
	}
	vsp_policy_stats(p, &a);
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns();
		for (int i = 0; i < N; i++) {
			vsp_decide(p, &ev[i & 7], &d);
			sink += d.verdict;
		}
		s[r] = (now_ns() - t0) / N;
	}
	vsp_policy_stats(p, &b);
	vsp_policy_free(p);
	qsort(s, ROUNDS, sizeof s[0], cmp_double);
	return b.cache_hits - a.cache_hits == (uint64_t)N * ROUNDS ? s[ROUNDS / 2] : -1;
}

static void workload_web(size_t n, int rounds, struct result_a *res)
{
	const char *err = NULL;
	web_ev = calloc(n, sizeof *web_ev);
	make_web_events(web_ev, n);
	struct vsp_event *vev = vsp_events(web_ev, n, NULL, NULL);
	char *text = bench_policy_text();
	const char *file = write_file("web.vsp", text);
	struct vsp_side sides[NVSP];
	struct walk_side ws;
	struct contender cs[NVSP + 4];
	vsp_contenders(cs, sides, &ws, file, vev, NULL);
	cs[NVSP + 1] = (struct contender){ "C if-chain (hand-written)", decide_c, NULL,
					   true, NULL, false, NULL, 0, 0 };
	cs[NVSP + 2] = (struct contender){ "seccomp classic BPF (libpcap)", decide_bpf,
					   NULL, bench_bpf_init(&err) == 0, NULL, false,
					   NULL, 0, 0 };
	if (!cs[NVSP + 2].ready)
		cs[NVSP + 2].why = err;
	cs[NVSP + 3] = (struct contender){ "Lua 5.4", decide_lua, NULL,
					   bench_lua_init(&err) == 0, NULL, false, NULL, 0, 0 };
	if (!cs[NVSP + 3].ready)
		cs[NVSP + 3].why = err;

	size_t denied;
	run(cs, NVSP + 4, n, rounds, &denied);
	printf("(a) web server: %d rules on syscall numbers and integer arguments, "
	       "%zu events (%.1f%% denied), %d rounds; the BPF filter has %u instructions\n",
	       BENCH_NRULES, n, 100.0 * (double)denied / (double)n, rounds, bench_bpf_len());
	report(cs, NVSP + 4);
	vsp_stats(sides[0].p);
	res->vsp = cs[0].med;
	res->walk = cs[NVSP].ready ? cs[NVSP].med : 0;
	res->c = cs[NVSP + 1].med;
	res->bpf = cs[NVSP + 2].ready ? cs[NVSP + 2].med : 0;
	res->lua = cs[NVSP + 3].ready ? cs[NVSP + 3].med : 0;
	res->unnamed = unnamed_cost(sides[0].p);
	printf("  an event no rule names, vsp_decide alone: %.1f ns\n", res->unnamed);
	res->hit = int_hit_cost();
	printf("  a cache hit, key of three integers (rules with an effect), vsp_decide alone: "
	       "%.1f ns\n", res->hit);
	vsp_release(sides, &ws);
	free(text);
	free(vev);
}

/* ---------------------------------------------------------- (b) paths */

/* What an administrator protects: 40 globs of every shape. */
static const char *const base_globs[] = {
	"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d/**",
	"/root/**", "/home/*/.ssh/**", "/proc/*/mem", "/proc/kcore", "/dev/mem",
	"/dev/kmem", "/boot/**", "/lib/modules/**", "/usr/lib/modules/**",
	"/etc/ld.so.preload", "/etc/cron*/**", "/var/spool/cron/**",
	"/etc/systemd/system/**", "**/.bash_history", "**/id_rsa*",
	"/etc/pam.d/**", "/etc/security/**", "/sys/kernel/debug/**",
	"/sys/firmware/**", "/etc/passwd-", "/etc/shadow-", "/var/log/auth.log*",
	"/etc/ssh/ssh_host_*_key", "/run/docker.sock", "/var/run/docker.sock",
	"/dev/sd[a-z]", "/dev/nvme*", "/etc/kubernetes/**", "/var/lib/kubelet/**",
	"**/*.pem", "/proc/sys/kernel/**", "/etc/modprobe.d/**",
	"/etc/crontab", "/etc/audit/**", "/var/log/audit/**", "/dev/port",
};
#define NBASE (sizeof base_globs / sizeof base_globs[0])

static const char *const sample_paths[] = {
	"/etc/shadow", "/etc/passwd", "/etc/hosts", "/etc/resolv.conf",
	"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6",
	"/home/alice/.ssh/authorized_keys", "/home/alice/.bashrc",
	"/home/bob/project/src/main.c", "/proc/412/mem", "/proc/412/status",
	"/proc/self/maps", "/dev/null", "/dev/urandom", "/dev/sda", "/dev/sda1",
	"/tmp/build/x.o", "/var/log/syslog", "/var/log/auth.log.1",
	"/boot/vmlinuz-6.1.0", "/etc/cron.daily/logrotate", "/usr/bin/python3",
	"/usr/share/locale/en/LC_MESSAGES/x.mo", "/root/.profile",
	"/srv/www/data/index.html", "/opt/app17/bin/run", "/srv/x/data412.db",
	"/home/carol/keys/server.pem", "/home/carol/.bash_history",
	"/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub",
	"/sys/kernel/debug/tracing/trace", "/var/lib/dpkg/status",
	"/srv/www/static/css/site.css", "/srv/www/static/js/app.js",
	"/var/www/html/index.php", "/etc/nginx/nginx.conf",
};
#define NSAMPLE (sizeof sample_paths / sizeof sample_paths[0])

static char **globs;
static size_t nglobs;
static const char **ev_paths;
static struct bench_ev *path_ev;

static int fetch_path(void *ctx, struct vsp_event *ev, enum vsp_field f,
		      struct vsp_str *out)
{
	const char *const *paths = ctx;
	if (f != VSP_F_PATH && f != VSP_F_STR1)
		return -1;
	const char *s = paths[ev->seq];
	out->ptr = s;
	out->len = (uint32_t)strlen(s);
	return 0;
}

static int decide_c_globs(void *ctx, size_t i)
{
	if (path_ev[i].nr != SYS_openat)
		return 0;
	const char *s = ev_paths[i];
	size_t len = strlen(s);
	for (size_t k = 0; k < nglobs; k++)
		if (vsp_glob_match(globs[k], strlen(globs[k]), s, len))
			return EACCES;
	return 0;
}

static int decide_lua_globs(void *ctx, size_t i)
{
	if (path_ev[i].nr != SYS_openat)
		return 0;
	return bench_lua_paths(ev_paths[i]);
}

static char *policy_for(char **g, size_t n)
{
	size_t size = 256;
	for (size_t i = 0; i < n; i++)
		size += strlen(g[i]) + 8;
	char *text = malloc(size), *w = text;
	w += sprintf(w, "policy \"paths\" version 1;\nlist protected = [");
	for (size_t i = 0; i < n; i++)
		w += sprintf(w, "%s\"%s\"", i ? ", " : "", g[i]);
	sprintf(w, "];\non syscall openat when path matches protected: deny EACCES;\n");
	return text;
}

struct result_b { double vsp, c, hit; };

/* The cache alone: eight openat events, on different paths, whose
 * decisions are cached, decided over and over (hot, as an event is when
 * the backend has just filled it).  -1 when not every one was a hit. */
static double hit_cost(struct vsp_side *v, size_t n)
{
	enum { M = 8, N = 4096, ROUNDS = 101 };
	double s[ROUNDS];
	size_t idx[M], m = 0;
	struct vsp_engine_stats a, b;
	struct vsp_decision d;
	volatile int sink = 0;
	for (size_t i = 0; i < n && m < M; i++) {
		bool seen = false;
		for (size_t k = 0; k < m; k++)
			seen |= !strcmp(ev_paths[idx[k]], ev_paths[i]);
		if (path_ev[i].nr == SYS_openat && !seen)
			idx[m++] = i;
	}
	if (m < M)
		return -1;
	for (size_t i = 0; i < M; i++) {	/* the first decision: a miss */
		vsp_event_reset_lazy(&v->ev[idx[i]]);
		vsp_decide(v->p, &v->ev[idx[i]], &d);
	}
	vsp_policy_stats(v->p, &a);
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns();
		for (size_t i = 0; i < N; i++) {
			struct vsp_event *ev = &v->ev[idx[i % M]];
			vsp_event_reset_lazy(ev);
			vsp_decide(v->p, ev, &d);
			sink += d.verdict;
		}
		s[r] = (now_ns() - t0) / (double)N;
	}
	vsp_policy_stats(v->p, &b);
	qsort(s, ROUNDS, sizeof s[0], cmp_double);
	if (b.cache_hits - a.cache_hits != (uint64_t)N * ROUNDS)
		return -1;	/* not all hits: the measurement is not what it says */
	return s[ROUNDS / 2];
}

static void workload_paths(size_t n, int rounds, size_t want_globs,
			   struct result_b *res)
{
	const char *err = NULL;
	nglobs = want_globs;
	globs = calloc(nglobs, sizeof *globs);
	for (size_t i = 0; i < nglobs; i++) {
		char buf[64];
		if (i < NBASE)
			snprintf(buf, sizeof buf, "%s", base_globs[i]);
		else if (i % 3 == 0)
			snprintf(buf, sizeof buf, "/opt/app%zu/**", i);
		else if (i % 3 == 1)
			snprintf(buf, sizeof buf, "/srv/*/data%zu.*", i);
		else
			snprintf(buf, sizeof buf, "/usr/lib/pkg%zu/lib*.so", i);
		globs[i] = strdup(buf);
	}
	path_ev = calloc(n, sizeof *path_ev);
	ev_paths = calloc(n, sizeof *ev_paths);
	srand(77);
	for (size_t i = 0; i < n; i++) {
		int r = rand() % 100;
		path_ev[i].nr = r < 70 ? SYS_openat : (r < 85 ? SYS_read : SYS_close);
		path_ev[i].args[0] = AT_FDCWD;
		path_ev[i].args[1] = 0x7ffe0000 + (int64_t)i;
		ev_paths[i] = sample_paths[rand() % NSAMPLE];
	}
	struct vsp_event *vev = vsp_events(path_ev, n, fetch_path, (void *)ev_paths);
	char *text = policy_for(globs, nglobs);
	const char *file = write_file("paths.vsp", text);
	struct vsp_side sides[NVSP];
	struct walk_side ws;
	struct contender cs[NVSP + 3];
	vsp_contenders(cs, sides, &ws, file, vev, NULL);
	cs[NVSP + 1] = (struct contender){ "C loop of vsp_glob_match", decide_c_globs,
					   NULL, true, NULL, false, NULL, 0, 0 };
	cs[NVSP + 2] = (struct contender){ "Lua 5.4 (string patterns)", decide_lua_globs,
					   NULL, bench_lua_paths_init((const char *const *)globs,
								      nglobs, &err) == 0,
					   NULL, false, NULL, 0, 0 };
	if (!cs[NVSP + 2].ready)
		cs[NVSP + 2].why = err;
	size_t denied;
	run(cs, NVSP + 3, n, rounds, &denied);
	printf("(b) paths: openat when path matches a list of %zu globs, %zu events "
	       "(%.1f%% denied), %d rounds; classic BPF cannot read paths\n",
	       nglobs, n, 100.0 * (double)denied / (double)n, rounds);
	report(cs, NVSP + 3);
	vsp_stats(sides[0].p);
	res->vsp = cs[0].med;
	res->c = cs[NVSP + 1].med;
	res->hit = hit_cost(&sides[VSP_FAST_CACHE], n);
	printf("  a cache hit, key of the path (8 openat events), vsp_decide alone: "
	       "%.1f ns\n", res->hit);
	vsp_release(sides, &ws);
	free(text);
	free(vev);
	free(path_ev);
	free(ev_paths);
	for (size_t i = 0; i < nglobs; i++)
		free(globs[i]);
	free(globs);
}

/* ------------------------------------------------------ (c) call paths */

#define LEARNED 200
#define DEPTH 6

static const char *const kfn[] = {
	"xen_mc_flush", "xen_set_pte", "xen_set_pmd", "__handle_mm_fault",
	"handle_mm_fault", "do_user_addr_fault", "exc_page_fault",
	"copy_pte_range", "copy_page_range", "dup_mmap", "dup_mm",
	"copy_process", "kernel_clone", "__do_sys_clone", "zap_pte_range",
	"unmap_page_range", "unmap_vmas", "exit_mmap", "mmput", "do_exit",
	"xen_alloc_pte", "__pte_alloc", "move_page_tables", "mremap_to",
};
#define NKFN (sizeof kfn / sizeof kfn[0])

static const char *learned[LEARNED][DEPTH];
static const char **cp_stacks;	/* per event: 1 + up to 8 frames */
static uint32_t *cp_nstack;
static struct vsp_event *cp_ev;

static int decide_c_paths(void *ctx, size_t i)
{
	const char *const *s = cp_ev[i].stack + 1;
	uint32_t n = cp_ev[i].nstack - 1;
	if (n < DEPTH)
		return EPERM;
	for (int k = 0; k < LEARNED; k++) {
		int d = 0;
		while (d < DEPTH && !strcmp(learned[k][d], s[d]))
			d++;
		if (d == DEPTH)
			return 0;
	}
	return EPERM;
}

static int decide_lua_paths(void *ctx, size_t i)
{
	if (cp_ev[i].nstack - 1 < DEPTH)
		return EPERM;
	return bench_lua_callpath(cp_ev[i].stack + 1, DEPTH) ? EPERM : 0;
}

static void workload_callpaths(size_t n, int rounds, double *vsp_med, double *c_med)
{
	const char *err = NULL;
	char line[512], *prof = malloc(LEARNED * 512), *w = prof;
	const char *joined[LEARNED];
	static char joined_buf[LEARNED][512];
	srand(3);
	for (int k = 0; k < LEARNED; k++) {
		for (int d = 0; d < DEPTH; d++)
			learned[k][d] = kfn[rand() % (int)NKFN];
		vsp_fp_path_format(learned[k], DEPTH, line, sizeof line);
		w += sprintf(w, "%s\n", line);
		snprintf(joined_buf[k], sizeof joined_buf[k], "%s", line);
		joined[k] = joined_buf[k];
	}
	write_file("mmu_update.paths", prof);
	free(prof);
	const char *file = write_file("calls.vsp",
		"policy \"calls\" version 1;\n"
		"rule \"mmu-path\": on hypercall mmu_update\n"
		"    must arise from profile \"mmu_update.paths\": deny EPERM;\n");
	const struct vsp_call *hc = vsp_hypercall_by_name("mmu_update");

	cp_ev = calloc(n, sizeof *cp_ev);
	cp_stacks = calloc(n * 9, sizeof *cp_stacks);
	cp_nstack = calloc(n, sizeof *cp_nstack);
	for (size_t i = 0; i < n; i++) {
		const char **s = &cp_stacks[i * 9];
		uint32_t depth;
		s[0] = "do_mmu_update";
		if (rand() % 100 < 75) {
			/* a learned path, with outer frames past its end */
			int k = rand() % LEARNED;
			for (int d = 0; d < DEPTH; d++)
				s[1 + d] = learned[k][d];
			depth = DEPTH + (uint32_t)(rand() % 3);
			for (uint32_t d = DEPTH; d < depth; d++)
				s[1 + d] = kfn[rand() % (int)NKFN];
		} else {
			depth = 4 + (uint32_t)(rand() % 5);
			for (uint32_t d = 0; d < depth; d++)
				s[1 + d] = kfn[rand() % (int)NKFN];
		}
		struct vsp_event *v = &cp_ev[i];
		v->kind = VSP_EV_HYPERCALL;
		v->nr = hc ? hc->nr : 1;
		v->name = "mmu_update";
		v->vm = "bench";
		v->seq = i;
		v->stack = s;
		v->nstack = 1 + depth;
		v->has_stack = true;
	}
	struct vsp_side sides[NVSP];
	struct walk_side ws;
	struct contender cs[NVSP + 3];
	vsp_contenders(cs, sides, &ws, file, cp_ev, NULL);
	cs[NVSP + 1] = (struct contender){ "C loop over the learned paths", decide_c_paths,
					   NULL, true, NULL, false, NULL, 0, 0 };
	cs[NVSP + 2] = (struct contender){ "Lua 5.4 (table of joined paths)",
					   decide_lua_paths, NULL,
					   bench_lua_paths_set_init(joined, LEARNED, &err) == 0,
					   NULL, false, NULL, 0, 0 };
	if (!cs[NVSP + 2].ready)
		cs[NVSP + 2].why = err;
	size_t denied;
	run(cs, NVSP + 3, n, rounds, &denied);
	printf("(c) call paths: mmu_update must arise from one of %d learned paths, "
	       "%zu events (%.1f%% denied), %d rounds\n", LEARNED, n,
	       100.0 * (double)denied / (double)n, rounds);
	report(cs, NVSP + 3);
	vsp_stats(sides[0].p);
	*vsp_med = cs[0].med;
	*c_med = cs[NVSP + 1].med;
	vsp_release(sides, &ws);
	free(cp_ev);
	free(cp_stacks);
	free(cp_nstack);
}

/* ------------------------------------------------------ (d) live trace */

static bool workload_trace(const char *trace, const char *policy, int rounds,
			   double *vsp_med)
{
	FILE *in = fopen(trace, "r");
	if (!in) {
		printf("(d) live trace: %s: %s (skipped)\n", trace, strerror(errno));
		return false;
	}
	struct vsp_line_reader lr;
	const char *line;
	size_t len, n = 0, cap = 0;
	struct vsp_trace_event **te = NULL;
	char err[256];
	vsp_line_reader_init(&lr, in);
	while (vsp_line_read(&lr, &line, &len) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			te = realloc(te, cap * sizeof *te);
		}
		te[n] = malloc(sizeof **te);
		vsp_trace_event_init(te[n]);
		if (vsp_trace_parse(te[n], line, len, err, sizeof err) < 0) {
			printf("(d) live trace: %s:%lu: %s (skipped)\n", trace, lr.lineno, err);
			vsp_trace_event_release(te[n]);
			free(te[n]);
			break;
		}
		n++;
	}
	vsp_line_reader_release(&lr);
	fclose(in);
	struct vsp_event **evp = calloc(n ? n : 1, sizeof *evp);
	for (size_t i = 0; i < n; i++)
		evp[i] = &te[i]->ev;

	struct vsp_side sides[NVSP];
	struct walk_side ws;
	struct contender cs[NVSP + 1];
	vsp_contenders(cs, sides, &ws, policy, NULL, evp);
	size_t denied;
	run(cs, NVSP + 1, n, rounds, &denied);
	printf("(d) live trace: %zu events recorded from the bundled guest (%s), "
	       "policy %s, %.1f%% denied, %d rounds\n", n, trace, policy,
	       100.0 * (double)denied / (double)(n ? n : 1), rounds);
	report(cs, NVSP + 1);
	vsp_stats(sides[0].p);
	*vsp_med = cs[0].med;
	vsp_release(sides, &ws);
	for (size_t i = 0; i < n; i++) {
		vsp_trace_event_release(te[i]);
		free(te[i]);
	}
	free(te);
	free(evp);
	return n > 0;
}

/* ------------------------------------------------ 10,000 rules, loaded */

static double big_load_ms(int nrules)
{
	size_t cap = (size_t)nrules * 120 + 64;
	char *text = malloc(cap), *w = text;
	w += sprintf(w, "policy \"big\" version 1;\n");
	srand(5);
	for (int i = 0; i < nrules; i++) {
		const struct vsp_call *c = &vsp_syscalls[(size_t)rand() % vsp_nsyscalls];
		switch (i % 4) {
		case 0:
			w += sprintf(w, "on syscall %s when arg0 == %d and proc.uid != %d: deny EPERM;\n",
				     c->name, i, i % 1000);
			break;
		case 1:
			w += sprintf(w, "on syscall %s when arg1 & %d != 0: log \"r%d\";\n",
				     c->name, 1 << (i % 30), i);
			break;
		case 2:
			w += sprintf(w, "on syscall openat when path matches \"/srv/app%d/**\": deny EACCES;\n",
				     i);
			break;
		default:
			w += sprintf(w, "on syscall %s when proc.comm == \"job%d\": count \"c%d\";\n",
				     c->name, i, i % 50);
		}
	}
	const char *file = write_file("big.vsp", text);
	free(text);
	double t0 = now_ns();
	struct vsp_policy *p = load_file(file, false, false);
	double ms = (now_ns() - t0) / 1e6;
	if (!p)
		return -1;
	vsp_policy_free(p);
	return ms;
}

/* ------------------------------------------------- fast path components */

/* ---- (e) extern calls ------------------------------------------------- */

#ifndef VSP_BENCH_EXTDIR
#define VSP_BENCH_EXTDIR "../../build/extensions"
#endif

static double wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns per decision of one openat rule, wall clock (an isolated call's time
 * is mostly the child's and the kernel's, not this thread's), median of
 * the rounds; -1 when the policy does not load or decides wrongly. */
static double extern_cost(const char *text, bool isolate, int rounds, int n)
{
	const char *file = write_file("ext.vsp", text);
	const char *dirs[] = { VSP_BENCH_EXTDIR };
	struct vsp_load_opts o;
	struct vsp_policy *p;
	static struct vsp_event ev[8];
	struct vsp_decision d;
	double *s = malloc((size_t)rounds * sizeof(*s)), med;
	int wrong = 0;

	memset(&o, 0, sizeof o);
	o.mode = VSP_MODE_ENFORCE;
	o.no_cache = true;
	o.ext.dirs = dirs;
	o.ext.ndirs = 1;
	o.ext.isolate = isolate;
	o.ext.timeout_ms = 1000;
	p = file && s ? vsp_policy_load(&file, 1, &o, NULL) : NULL;
	if (!p) {
		free(s);
		return -1;
	}
	for (int k = 0; k < 8; k++) {
		ev[k].kind = VSP_EV_SYSCALL;
		ev[k].nr = SYS_openat;
		ev[k].name = "openat";
		ev[k].args[2] = k;
	}
	unsigned long h0 = heap_calls;
	counting = 1;
	for (int r = 0; r < rounds; r++) {
		double t0 = wall_ns();
		for (int i = 0; i < n; i++) {
			vsp_decide(p, &ev[i & 7], &d);
			wrong += (d.verdict == VSP_V_DENY) != ((i & 7) == 4);
		}
		s[r] = (wall_ns() - t0) / n;
	}
	counting = 0;
	vsp_heap_calls += heap_calls - h0;
	vsp_policy_free(p);
	qsort(s, (size_t)rounds, sizeof s[0], cmp_double);
	med = s[rounds / 2];
	free(s);
	if (wrong) {
		all_agree = false;
		return -1;
	}
	return med;
}

struct result_e { double builtin, here, isolated; };

static void workload_extern(int rounds, struct result_e *res)
{
	static const char builtin[] =
		"policy \"e\" version 1;\n"
		"on syscall openat when arg2 + 1 == 5 : deny;\n";
	static const char ext[] =
		"policy \"e\" version 1;\n"
		"extern \"vsptest.so\" fn t_add(int, int) -> int cost 10;\n"
		"on syscall openat when t_add(arg2, 1) == 5 : deny;\n";

	res->builtin = extern_cost(builtin, false, rounds, 4096);
	res->here = extern_cost(ext, false, rounds, 4096);
	res->isolated = extern_cost(ext, true, rounds / 4 ? rounds / 4 : 1, 1024);
	printf("(e) extern calls: openat when f(arg2, 1) == 5, no cache, wall clock, "
	       "ns per decision (median):\n");
	printf("  %-44s %9.1f\n", "builtin + (the interpreter's ADD)", res->builtin);
	printf("  %-44s %9.1f   (+%.1f per call)\n", "extern t_add, in process (ffi_call)",
	       res->here, res->here - res->builtin);
	printf("  %-44s %9.1f   (+%.1f per call, %.0fx in process)\n",
	       "extern t_add, isolated (--extern-isolate)", res->isolated,
	       res->isolated - res->builtin,
	       res->here > 0 ? res->isolated / res->here : 0);
}

static double per_call(double t0, long calls)
{
	return (now_ns() - t0) / (double)calls;
}

/* The parts vsp_decide leans on, each alone: best of five runs. */
static void components(void)
{
	enum { CALLS = 200000 };
	static const char *const probe[] = {
		"/usr/lib/pkg3/libz.so", "/opt/app4/bin/run", "/srv/www/data5.db",
		"/etc/shadow", "/home/user/.bashrc",
	};
	volatile uint64_t sink = 0;
	printf("components (best of 5, ns per call):\n");
	static const int sizes[] = { 10, 100, 1000 };
	for (int z = 0; z < 3; z++) {
		struct vsp_matcher *m = vsp_fp_matcher_new();
		char buf[64];
		for (int i = 0; i < sizes[z]; i++) {
			int len = i % 3 == 0 ? snprintf(buf, sizeof buf, "/usr/lib/pkg%d/lib*.so", i)
				: i % 3 == 1 ? snprintf(buf, sizeof buf, "/opt/app%d/**", i)
				: snprintf(buf, sizeof buf, "/srv/*/data%d.*", i);
			vsp_fp_matcher_add(m, buf, (size_t)len, (uint32_t)(i % 64));
		}
		double t0 = now_ns();
		vsp_fp_matcher_build(m);
		double build = (now_ns() - t0) / 1e6, best = 1e9;
		for (int r = 0; r < 5; r++) {
			t0 = now_ns();
			for (long k = 0; k < CALLS; k++) {
				const char *s = probe[k % 5];
				sink += vsp_fp_matcher_run(m, s, strlen(s));
			}
			double t = per_call(t0, CALLS);
			best = t < best ? t : best;
		}
		printf("  matcher, %4d globs: %6.1f   (built in %.1f ms)\n", sizes[z], best, build);
		vsp_fp_matcher_free(m);
	}

	struct vsp_cache *c = vsp_fp_cache_new(0);
	unsigned char val[VSP_CACHE_VAL_MAX];
	uint64_t key[3] = { 0, 257, 3 };
	for (uint64_t i = 0; i < 64; i++) {
		key[0] = i;
		vsp_fp_cache_put(c, 1, key, sizeof key, key, sizeof key);
	}
	double hit = 1e9, miss = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();
		for (long k = 0; k < CALLS; k++) {
			key[0] = (uint64_t)k % 64;
			sink += vsp_fp_cache_get(c, 1, key, sizeof key, val);
		}
		double t = per_call(t0, CALLS);
		hit = t < hit ? t : hit;
		t0 = now_ns();
		for (long k = 0; k < CALLS; k++) {
			key[0] = 1000 + (uint64_t)k % 64;
			sink += vsp_fp_cache_get(c, 1, key, sizeof key, val);
		}
		t = per_call(t0, CALLS);
		miss = t < miss ? t : miss;
	}
	printf("  decision cache, 24-byte key: hit %.1f, miss %.1f\n", hit, miss);
	vsp_fp_cache_free(c);

	static const char *const fn[] = {
		"xen_mc_flush", "xen_set_pte", "xen_set_pmd", "__handle_mm_fault",
		"handle_mm_fault", "do_user_addr_fault", "exc_page_fault",
		"copy_pte_range", "copy_page_range", "dup_mmap", "dup_mm",
		"copy_process", "kernel_clone", "__do_sys_clone",
	};
	struct vsp_pathset *ps = vsp_fp_pathset_new();
	const char *path[8];
	char text[512];
	srand(3);
	for (int i = 0; i < 200; i++) {
		for (int d = 0; d < 6; d++)
			path[d] = fn[rand() % 14];
		vsp_fp_path_format(path, 6, text, sizeof text);
		vsp_fp_pathset_add(ps, text, NULL);
	}
	vsp_fp_pathset_build(ps);
	const char *learned[6];
	memcpy(learned, path, sizeof learned);	/* the last one added */
	for (int d = 0; d < 8; d++)
		path[d] = fn[rand() % 14];
	double phit = 1e9, pmiss = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();
		for (long k = 0; k < CALLS; k++)
			sink += vsp_fp_pathset_match(ps, learned, 6);
		double t = per_call(t0, CALLS);
		phit = t < phit ? t : phit;
		t0 = now_ns();
		for (long k = 0; k < CALLS; k++)
			sink += vsp_fp_pathset_match(ps, path, 8);
		t = per_call(t0, CALLS);
		pmiss = t < pmiss ? t : pmiss;
	}
	printf("  call paths, profile of 200 learned paths: learned %.1f, unknown %.1f\n",
	       phit, pmiss);
	vsp_fp_pathset_free(ps);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	size_t n = 4096;
	int rounds = 200;
	const char *trace = "traces/guest.trace", *trace_policy = "traces/guest.vsp";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			n = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--trace") && i + 1 < argc)
			trace = argv[++i];
		else if (!strcmp(argv[i], "--trace-policy") && i + 1 < argc)
			trace_policy = argv[++i];
		else {
			fprintf(stderr, "usage: vsp-bench [--events N] [--rounds R] "
				"[--trace FILE] [--trace-policy FILE]\n");
			return 2;
		}
	}
	if (n == 0 || rounds <= 0)
		return 2;
	int r2 = rounds / 2 ? rounds / 2 : 1, r4 = rounds / 4 ? rounds / 4 : 1;

	struct result_a a;
	workload_web(n, rounds, &a);
	printf("\n");
	struct result_b b10, b1000;
	workload_paths(n, r2, 10, &b10);
	printf("\n");
	workload_paths(n, r4, 1000, &b1000);
	printf("\n");
	double c_vsp = 0, c_c = 0;
	workload_callpaths(n, r2, &c_vsp, &c_c);
	printf("\n");
	double d_vsp = 0;
	bool have_trace = workload_trace(trace, trace_policy, rounds, &d_vsp);
	printf("\n");
	struct result_e e;
	workload_extern(r2, &e);
	printf("\n");
	components();
	printf("\n");
	double big = big_load_ms(10000);
	printf("compile, verify and load a 10,000-rule policy: %.0f ms\n\n", big);

	goal(a.vsp <= 30, "hot rules: median decision <= 30 ns (a)", "%.1f ns", a.vsp);
	goal(a.hit > 0 && a.hit <= 15, "cache hit <= 15 ns (integer key)",
	     "%.1f ns", a.hit);
	goal(b1000.hit > 0 && b1000.hit <= 15, "cache hit <= 15 ns (key of a path)",
	     "%.1f ns", b1000.hit);
	goal(a.unnamed <= 3, "event no rule names <= 3 ns", "%.1f ns", a.unnamed);
	goal(a.vsp <= 1.5 * a.c, "(a) vsp <= 1.5x hand-written C", "%.2fx C", a.vsp / a.c);
	goal(b1000.vsp < b1000.c, "(b) vsp faster than C, 1000 globs", "%.3fx C",
	     b1000.vsp / b1000.c);
	goal(c_vsp < c_c, "(c) vsp faster than C, 200 learned paths", "%.3fx C",
	     c_vsp / c_c);
	goal(a.bpf > 0 && a.bpf >= 3 * a.vsp, "(a) >= 3x faster than seccomp cBPF",
	     "%.2fx faster", a.bpf / a.vsp);
	goal(a.lua > 0 && a.lua >= 10 * a.vsp, "(a) >= 10x faster than Lua 5.4",
	     "%.1fx faster", a.lua / a.vsp);
	goal(b1000.vsp <= 2 * b10.vsp, "1000 globs cost about what 10 do (<= 2x)",
	     "%.2fx", b1000.vsp / b10.vsp);
	goal(vsp_heap_calls == 0, "zero heap calls while vsp decides",
	     "%lu calls", vsp_heap_calls);
	goal(big >= 0 && big < 1000, "compile + load 10,000 rules < 1 s", "%.0f ms", big);
	goal(all_agree, "every contender gives vsp's answers", "%s",
	     all_agree ? "yes" : "NO");
	if (have_trace)
		printf("(d) live trace, vsp median: %.1f ns per decision\n\n", d_vsp);

	int missed = 0;
	printf("goals:\n");
	for (int i = 0; i < ngoals; i++) {
		printf("  %-4s  %-44s %s\n", goals[i].pass ? "PASS" : "MISS", goals[i].what,
		       goals[i].measured);
		missed += !goals[i].pass;
	}
	printf("\n%d of %d goals met\n", ngoals - missed, ngoals);
	if (tmpdir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "vsp-bench: could not remove %s\n", tmpdir);
	}
	return all_agree ? 0 : 1;
}
