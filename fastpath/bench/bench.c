/*
 * bench.c: decisions per nanosecond, vsp against its peers (`make bench`).
 *
 * One process, one set of in-memory syscall events, twelve rules written
 * once per contender (peers.c): vsp's engine (the whole vsp_decide path:
 * dispatch, constant verdicts, cache, interpreter), hand-written C, a
 * libseccomp filter run as classic BPF by libpcap, and Lua 5.4.  First
 * every contender decides every event and the answers are compared; then
 * rounds of one pass over all events per contender, in rotating order so
 * drift on a shared machine hits all alike, and the medians and 99th
 * percentiles of the per-pass averages are printed with ratios.
 *
 *   vsp-bench [--events N] [--rounds R]
 */
#include "fastpath/bench/peers.h"
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

static struct vsp_policy *policies[3];
static struct vsp_event *vevs;

static int decide_vsp(struct vsp_policy *p, struct vsp_event *ev)
{
	struct vsp_decision d;
	vsp_event_reset_lazy(ev);
	vsp_decide(p, ev, &d);
	return d.verdict == VSP_V_DENY ? (int)d.value : 0;
}

struct contender {
	const char *name;
	int kind;		/* 0 C, 1..3 vsp variants, 4 BPF, 5 Lua */
	bool ready;
	double *samples;
};

static int decide(const struct contender *c, const struct bench_ev *e, size_t i)
{
	switch (c->kind) {
	case 0: return bench_c(e);
	case 1: case 2: case 3: return decide_vsp(policies[c->kind - 1], &vevs[i]);
	case 4: return bench_bpf(e);
	default: return bench_lua(e);
	}
}

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

static void make_vsp_events(const struct bench_ev *ev, size_t n)
{
	vevs = calloc(n, sizeof *vevs);
	for (size_t i = 0; i < n; i++) {
		struct vsp_event *v = &vevs[i];
		const struct vsp_call *c = vsp_syscall_by_nr(ev[i].nr);
		v->kind = VSP_EV_SYSCALL;
		v->nr = ev[i].nr;
		v->name = c ? c->name : "?";
		v->vm = "bench";
		v->seq = i;
		v->proc = (struct vsp_proc){ 400 + (int64_t)(i % 7), 400, 1, 1000, 1000, 1000, "bench" };
		memcpy(v->args, ev[i].args, sizeof v->args);
	}
}

static struct vsp_policy *load_policy(const char *file, bool no_cache,
				      bool no_fastpath)
{
	struct vsp_load_opts o;
	memset(&o, 0, sizeof o);
	o.mode = VSP_MODE_UNSET;
	o.no_cache = no_cache;
	o.no_fastpath = no_fastpath;
	int nerr = 0;
	const char *files[] = { file };
	return vsp_policy_load(files, 1, &o, &nerr);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
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

	struct contender cs[] = {
		{ "C if-chain", 0, true, NULL },
		{ "vsp (fast path + cache)", 1, false, NULL },
		{ "vsp (fast path, no cache)", 2, false, NULL },
		{ "vsp (interpreter only)", 3, false, NULL },
		{ "seccomp cBPF (libpcap)", 4, false, NULL },
		{ "Lua 5.4", 5, false, NULL },
	};
	enum { NC = sizeof cs / sizeof cs[0] };
	const char *err = NULL;

	char path[] = "/tmp/vsp-bench-XXXXXX.vsp";
	int fd = mkstemps(path, 4);
	if (fd < 0 || write(fd, bench_policy, strlen(bench_policy)) !=
			      (ssize_t)strlen(bench_policy)) {
		perror("vsp-bench: policy file");
		return 1;
	}
	close(fd);
	policies[0] = load_policy(path, false, false);
	policies[1] = load_policy(path, true, false);
	policies[2] = load_policy(path, true, true);
	unlink(path);
	for (int k = 0; k < 3; k++) {
		cs[1 + k].ready = policies[k] != NULL;
		if (!policies[k])
			fprintf(stderr, "vsp-bench: %s: the policy did not load\n",
				cs[1 + k].name);
	}
	if (bench_bpf_init(&err) == 0)
		cs[4].ready = true;
	else
		fprintf(stderr, "vsp-bench: seccomp: %s\n", err);
	if (bench_lua_init(&err) == 0)
		cs[5].ready = true;
	else
		fprintf(stderr, "vsp-bench: lua: %s\n", err);

	struct bench_ev *ev = calloc(n, sizeof *ev);
	make_events(ev, n);
	make_vsp_events(ev, n);

	/* Same answers first: a fast wrong contender measures nothing. */
	size_t denied = 0;
	int agree = 1;
	for (size_t i = 0; i < n; i++) {
		int want = bench_c(&ev[i]);
		denied += want != 0;
		for (int c = 1; c < NC; c++) {
			if (!cs[c].ready)
				continue;
			int got = decide(&cs[c], &ev[i], i);
			if (got != want) {
				if (agree)
					fprintf(stderr, "vsp-bench: %s: event %zu (nr %u): "
						"%d, C says %d\n", cs[c].name, i,
						ev[i].nr, got, want);
				agree = 0;
				cs[c].ready = false;
			}
		}
	}

	for (int c = 0; c < NC; c++)
		cs[c].samples = calloc((size_t)rounds, sizeof(double));
	volatile int sink = 0;
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < NC; k++) {
			int c = (k + r) % NC;
			if (!cs[c].ready)
				continue;
			double t0 = now_ns();
			int acc = 0;
			for (size_t i = 0; i < n; i++)
				acc += decide(&cs[c], &ev[i], i);
			cs[c].samples[r] = (now_ns() - t0) / (double)n;
			sink += acc;
		}
	}

	printf("vsp-bench: %d rules, %zu syscall events (%.1f%% denied), %d rounds; "
	       "classic BPF filter of %u instructions\n",
	       BENCH_NRULES, n, 100.0 * (double)denied / (double)n, rounds,
	       bench_bpf_len());
	printf("%-28s %10s %10s %12s\n", "ns per decision", "median", "p99",
	       "vs C median");
	double cmed = 0;
	for (int c = 0; c < NC; c++) {
		if (!cs[c].ready) {
			printf("%-28s %10s\n", cs[c].name, "n/a");
			continue;
		}
		qsort(cs[c].samples, (size_t)rounds, sizeof(double), cmp_double);
		double med = cs[c].samples[rounds / 2];
		double p99 = cs[c].samples[(size_t)((rounds - 1) * 0.99)];
		if (c == 0)
			cmed = med;
		printf("%-28s %10.1f %10.1f %11.1fx\n", cs[c].name, med, p99,
		       cmed > 0 ? med / cmed : 0.0);
	}
	if (cs[1].ready) {
		struct vsp_engine_stats st;
		vsp_policy_stats(policies[0], &st);
		printf("vsp engine: %llu events, %llu constant verdicts, %llu cache hits, "
		       "%llu cache misses, %llu interpreted\n",
		       (unsigned long long)st.events,
		       (unsigned long long)st.const_verdicts,
		       (unsigned long long)st.cache_hits,
		       (unsigned long long)st.cache_misses,
		       (unsigned long long)st.interpreted);
	}
	printf("verdicts agree: %s\n", agree ? "yes" : "NO");
	for (int k = 0; k < 3; k++)
		vsp_policy_free(policies[k]);
	return agree ? 0 : 1;
}
