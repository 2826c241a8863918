/*
 * bench.c: nanoseconds per decision, vsp against its peers (`make bench`).
 *
 * One process, in-memory events, the same rules written once per
 * contender (peers.c).  Two scenarios:
 *   syscalls  twelve rules on syscall numbers and integer arguments:
 *             vsp's engine (the whole vsp_decide path: dispatch, constant
 *             verdicts, cache, interpreter), hand-written C, a libseccomp
 *             filter run as classic BPF by libpcap, Lua 5.4;
 *   paths     one rule, `openat` when the path matches a list of globs
 *             (40, then 1,000): vsp, a C loop over the globs, Lua string
 *             patterns.  Classic BPF cannot read strings, so it sits out.
 * Every contender first decides every event and the answers are compared;
 * then rounds of one pass over all events per contender, in rotating order
 * so drift on a shared machine hits all alike.  Printed: the median and
 * 99th percentile of the per-pass averages, and ratios to C.
 *
 *   vsp-bench [--events N] [--rounds R]
 */
#include "fastpath/bench/peers.h"
#include "fastpath/cache.h"
#include "fastpath/match.h"
#include "interp/engine.h"
#include "lang/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct contender {
	const char *name;
	int (*decide)(void *ctx, size_t i);
	void *ctx;
	bool ready;
	const char *why;	/* when not ready */
	double *samples;
};

/* ------------------------------------------------------------ harness */

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

/* Contender 0 is the reference for answers and ratios.  Returns whether
 * all ready contenders agreed. */
static bool run(struct contender *cs, int nc, size_t n, int rounds,
		size_t *denied)
{
	bool agree = true;
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
				agree = false;
				cs[c].ready = false;
				cs[c].why = "wrong answers";
			}
		}
	}
	for (int c = 0; c < nc; c++)
		cs[c].samples = calloc((size_t)rounds, sizeof(double));
	volatile int sink = 0;
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < nc; k++) {
			struct contender *c = &cs[(k + r) % nc];
			if (!c->ready)
				continue;
			int acc = 0;
			double t0 = now_ns();
			for (size_t i = 0; i < n; i++)
				acc += c->decide(c->ctx, i);
			c->samples[r] = (now_ns() - t0) / (double)n;
			sink += acc;
		}
	}
	return agree;
}

static void report(struct contender *cs, int nc, int rounds)
{
	printf("  %-34s %9s %9s %11s\n", "ns per decision", "median", "p99",
	       "vs C median");
	double ref = 0;
	for (int c = 0; c < nc; c++) {
		if (!cs[c].ready) {
			printf("  %-34s %9s   (%s)\n", cs[c].name, "n/a",
			       cs[c].why ? cs[c].why : "unavailable");
			continue;
		}
		qsort(cs[c].samples, (size_t)rounds, sizeof(double), cmp_double);
		double med = cs[c].samples[rounds / 2];
		double p99 = cs[c].samples[(size_t)((rounds - 1) * 0.99)];
		if (c == 0)
			ref = med;
		double ratio = ref > 0 ? med / ref : 0.0;
		printf("  %-34s %9.1f %9.1f %*.*fx\n", cs[c].name, med, p99,
		       10, ratio < 1 ? 3 : 1, ratio);
		free(cs[c].samples);
		cs[c].samples = NULL;
	}
}

/* ----------------------------------------------------------- vsp side */

struct vsp_side {
	struct vsp_policy *p;
	struct vsp_event *ev;
	const char *const *paths;	/* per event, for the path scenario */
};

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

static int decide_vsp(void *ctx, size_t i)
{
	struct vsp_side *v = ctx;
	struct vsp_decision d;
	vsp_event_reset_lazy(&v->ev[i]);
	vsp_decide(v->p, &v->ev[i], &d);
	return d.verdict == VSP_V_DENY ? (int)d.value : 0;
}

static struct vsp_policy *load_text(const char *text, bool no_cache,
				    bool no_fastpath)
{
	char path[] = "/tmp/vsp-bench-XXXXXX.vsp";
	int fd = mkstemps(path, 4);
	if (fd < 0)
		return NULL;
	size_t len = strlen(text);
	bool ok = write(fd, text, len) == (ssize_t)len;
	close(fd);
	struct vsp_policy *p = NULL;
	if (ok) {
		struct vsp_load_opts o;
		memset(&o, 0, sizeof o);
		o.mode = VSP_MODE_UNSET;
		o.no_cache = no_cache;
		o.no_fastpath = no_fastpath;
		int nerr = 0;
		const char *files[] = { path };
		p = vsp_policy_load(files, 1, &o, &nerr);
	}
	unlink(path);
	return p;
}

static struct vsp_event *vsp_events(const struct bench_ev *ev, size_t n,
				    const char *const *paths)
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
					     1000, 1000, 1000, "bench" };
		memcpy(v->args, ev[i].args, sizeof v->args);
		if (paths) {
			v->fetch = fetch_path;
			v->fetch_ctx = (void *)paths;
		}
	}
	return vevs;
}

/* Three vsp contenders on one policy text: as loaded by default, without
 * the cache, and interpreter only. */
static void vsp_contenders(struct contender *cs, struct vsp_side *sides,
			   const char *text, struct vsp_event *ev)
{
	static const char *const names[] = {
		"vsp (fast path + cache)", "vsp (fast path, no cache)",
		"vsp (interpreter only)",
	};
	for (int k = 0; k < 3; k++) {
		sides[k].p = load_text(text, k >= 1, k == 2);
		sides[k].ev = ev;
		cs[k] = (struct contender){ names[k], decide_vsp, &sides[k],
					    sides[k].p != NULL,
					    "the policy did not load", NULL };
	}
}

static void vsp_stats(struct vsp_policy *p)
{
	struct vsp_engine_stats st;
	if (!p)
		return;
	vsp_policy_stats(p, &st);
	printf("  vsp engine: %llu events: %llu constant verdicts, %llu cache hits, "
	       "%llu misses, %llu interpreted\n",
	       (unsigned long long)st.events, (unsigned long long)st.const_verdicts,
	       (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses,
	       (unsigned long long)st.interpreted);
}

/* ------------------------------------------------------ syscall scenario */

static struct bench_ev *sys_ev;

static int decide_c(void *ctx, size_t i) { return bench_c(&sys_ev[i]); }
static int decide_bpf(void *ctx, size_t i) { return bench_bpf(&sys_ev[i]); }
static int decide_lua(void *ctx, size_t i) { return bench_lua(&sys_ev[i]); }

/* A day in a guest, roughly: mostly reads and writes, some opens and
 * memory management, a few of everything the rules watch. */
static void make_events(struct bench_ev *ev, size_t n)
{
	static const uint32_t rare[] = {
		SYS_ptrace, SYS_mount, SYS_bpf, SYS_init_module, SYS_kill,
		SYS_setuid, SYS_unshare, SYS_personality, SYS_socket, SYS_getpid,
		SYS_close, SYS_futex, SYS_clock_gettime, SYS_umount2,
	};
	srand(20261122);
	for (size_t i = 0; i < n; i++) {
		struct bench_ev *e = &ev[i];
		memset(e, 0, sizeof *e);
		int r = rand() % 100;
		for (int k = 0; k < 6; k++)
			e->args[k] = rand() % 8;
		if (r < 40) {
			e->nr = r % 2 ? SYS_read : SYS_write;
			e->args[2] = 4096;
		} else if (r < 60) {
			e->nr = SYS_openat;
			e->args[0] = rand() % 2 ? AT_FDCWD : 3 + rand() % 3;
			e->args[2] = rand() % 3 ? O_RDONLY : (O_WRONLY | O_CREAT);
			e->args[3] = 0644;
		} else if (r < 70) {
			e->nr = SYS_mprotect;
			e->args[2] = rand() % 8;
		} else if (r < 75) {
			e->nr = SYS_mmap;
		} else {
			e->nr = rare[rand() % (int)(sizeof rare / sizeof rare[0])];
			switch (e->nr) {
			case SYS_kill:
				e->args[0] = rand() % 3;
				e->args[1] = rand() % 2 ? 9 : 15;
				break;
			case SYS_setuid:
				e->args[0] = rand() % 2 ? 0 : 1000;
				break;
			case SYS_unshare:
				e->args[0] = rand() % 2 ? CLONE_NEWUSER | CLONE_NEWNS : CLONE_NEWNS;
				break;
			case SYS_personality:
				e->args[0] = rand() % 2 ? 0x0400000 : 0;
				break;
			case SYS_socket:
				e->args[0] = rand() % 2 ? 17 : 2;
				break;
			}
		}
		bench_bpf_fill(e);
	}
}

static bool scenario_syscalls(size_t n, int rounds)
{
	const char *err = NULL;
	sys_ev = calloc(n, sizeof *sys_ev);
	make_events(sys_ev, n);
	struct vsp_event *vev = vsp_events(sys_ev, n, NULL);
	struct vsp_side sides[3];
	struct contender cs[6];
	cs[0] = (struct contender){ "C if-chain", decide_c, NULL, true, NULL, NULL };
	vsp_contenders(cs + 1, sides, bench_policy, vev);
	cs[4] = (struct contender){ "seccomp classic BPF (libpcap)", decide_bpf,
				    NULL, bench_bpf_init(&err) == 0, NULL, NULL };
	if (!cs[4].ready)
		cs[4].why = err;
	cs[5] = (struct contender){ "Lua 5.4", decide_lua, NULL,
				    bench_lua_init(&err) == 0, NULL, NULL };
	if (!cs[5].ready)
		cs[5].why = err;

	size_t denied;
	bool agree = run(cs, 6, n, rounds, &denied);
	printf("syscalls: %d rules on numbers and integer arguments, %zu events "
	       "(%.1f%% denied), %d rounds; the BPF filter has %u instructions\n",
	       BENCH_NRULES, n, 100.0 * (double)denied / (double)n, rounds,
	       bench_bpf_len());
	report(cs, 6, rounds);
	vsp_stats(sides[0].p);
	for (int k = 0; k < 3; k++)
		vsp_policy_free(sides[k].p);
	free(vev);
	return agree;
}

/* --------------------------------------------------------- path scenario */

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
};
#define NSAMPLE (sizeof sample_paths / sizeof sample_paths[0])

static char **globs;
static size_t nglobs;
static const char **ev_paths;
static struct bench_ev *path_ev;

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

static bool scenario_paths(size_t n, int rounds, size_t want_globs)
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
	struct vsp_event *vev = vsp_events(path_ev, n, ev_paths);
	char *text = policy_for(globs, nglobs);
	struct vsp_side sides[3];
	struct contender cs[5];
	cs[0] = (struct contender){ "C loop of vsp_glob_match", decide_c_globs,
				    NULL, true, NULL, NULL };
	vsp_contenders(cs + 1, sides, text, vev);
	cs[4] = (struct contender){ "Lua 5.4 (string patterns)", decide_lua_globs,
				    NULL, bench_lua_paths_init((const char *const *)globs,
							       nglobs, &err) == 0,
				    NULL, NULL };
	if (!cs[4].ready)
		cs[4].why = err;
	size_t denied;
	bool agree = run(cs, 5, n, rounds, &denied);
	printf("paths: openat when path matches a list of %zu globs, %zu events "
	       "(%.1f%% denied), %d rounds; classic BPF cannot read paths\n",
	       nglobs, n, 100.0 * (double)denied / (double)n, rounds);
	report(cs, 5, rounds);
	vsp_stats(sides[0].p);
	for (int k = 0; k < 3; k++)
		vsp_policy_free(sides[k].p);
	free(text);
	free(vev);
	free(path_ev);
	free(ev_paths);
	for (size_t i = 0; i < nglobs; i++)
		free(globs[i]);
	free(globs);
	return agree;
}

/* ------------------------------------------------- fast path components */

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

int main(int argc, char **argv)
{
	size_t n = 4096;
	int rounds = 200;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			n = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: vsp-bench [--events N] [--rounds R]\n");
			return 2;
		}
	}
	if (n == 0 || rounds <= 0)
		return 2;
	bool agree = scenario_syscalls(n, rounds);
	printf("\n");
	agree &= scenario_paths(n, rounds / 2 ? rounds / 2 : 1, NBASE);
	printf("\n");
	agree &= scenario_paths(n, rounds / 4 ? rounds / 4 : 1, 1000);
	printf("\n");
	components();
	printf("\nverdicts agree: %s\n", agree ? "yes" : "NO");
	return agree ? 0 : 1;
}
