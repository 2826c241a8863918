/*
 * t_speed.c: what a decision costs, with the fast path and the cache on
 * and off.
 *
 * Decides the same mixed stream of openat and read events (a rule pack of
 * globs, a set, a prefix and flag tests) in the four configurations and
 * prints CPU nanoseconds per decision as TAP comments (CPU time, so other
 * load on the machine does not count).  It asserts that all four agree on
 * every whole decision (cached or not, fused or interpreted) and, loosely
 * enough for a busy CI machine, that no configuration is slow in absolute
 * terms; the numbers are for reading, not for failing the build.
 *
 * The fused form of a program (vsp_vm_specialise) must decide exactly as
 * the bytecode interpreter does, step count included: both run on every
 * program of a policy of every fused shape, on random events.  An event
 * no rule names must stay cheap.
 *
 * A key of one path is hashed and compared by the cache straight from the
 * string the backend returned (vsp_fp_cache_find_str): paths of every
 * length up to past the key's limit, each beside copies that differ in
 * one byte or only in length (trailing NULs), a failed read beside the
 * empty path, and paths that end or start at an unreadable page are
 * decided twice with the cache and must match the decisions without it;
 * the second decision must be a hit when the key fits.  Keys of integer
 * fields, read by the cache where they sit in the event, get the same
 * check.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/engine.h"
#include "interp/program.h"
#include "lang/compile.h"
#include "lang/front.h"
#include "tests/tap.h"

static const char policy[] =
	"policy \"speed\";\n"
	"list secrets = [\"/etc/shadow\", \"/etc/gshadow\", \"/etc/sudoers\", \"/etc/sudoers.d/**\",\n"
	"  \"/root/**\", \"/home/*/.ssh/*\", \"/proc/*/mem\", \"/dev/mem\", \"/boot/**\"];\n"
	"macro auth_tool = proc.comm in [\"passwd\", \"chpasswd\", \"sshd\", \"login\", \"sudo\"];\n"
	"rule \"read-shadow\": on syscall openat when path matches secrets and not auth_tool\n"
	"  : deny EACCES, alert \"%{path}\";\n"
	"rule \"etc-write\": on syscall openat when path startswith \"/etc/\"\n"
	"  and flags & (O_WRONLY | O_RDWR) != 0 and proc.uid != 0 : log;\n"
	"rule \"libs\": on syscall openat when path matches [\"/usr/lib/**/*.so*\", \"/lib/**\"]\n"
	"  and proc.uid == 0 : count \"libs\";\n"
	"rule \"stdin\": on syscall read when fd == 0 and count > 4096 : deny;\n";

static const char *const paths[] = { "/etc/shadow", "/etc/passwd", "/tmp/x",
	"/usr/lib/x86_64-linux-gnu/libc.so.6", "/home/u/.ssh/id_rsa", "/etc/sudoers.d/a",
	"/proc/1/mem", "/var/log/syslog" };
static const char *const comms[] = { "cat", "sshd", "bash", "vi" };

static int fetch(void *ctx, struct vsp_event *ev, enum vsp_field f, struct vsp_str *o)
{
	const char *s = ctx;

	(void)ev;
	(void)f;
	*o = (struct vsp_str){ s, (uint32_t)strlen(s) };
	return 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define N 300000

/* CPU ns per decision of a policy testing `path` against n globs. */
static double glob_cost(int n, bool fast)
{
	char path[] = "/tmp/vsp-globs-XXXXXX";
	int fd = mkstemp(path);
	const char *file = path;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE, .no_fastpath = !fast,
				   .no_cache = true };
	struct vsp_policy *p;
	double t0, cost = -1;
	int rounds = fast ? 100000 : 2000;

	if (!f)
		return -1;
	fprintf(f, "list big = [");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\"/srv/app%d/**/*.key\"", i ? ", " : "", i);
	fprintf(f, "];\nrule \"r\": on syscall openat when path matches big : deny;\n");
	fclose(f);
	p = vsp_policy_load(&file, 1, &o, NULL);
	if (p) {
		t0 = now();
		for (int i = 0; i < rounds; i++) {
			struct vsp_event ev;
			struct vsp_decision d;

			memset(&ev, 0, sizeof(ev));
			ev.kind = VSP_EV_SYSCALL;
			ev.nr = 257;
			ev.name = "openat";
			ev.fetch = fetch;
			ev.fetch_ctx = (void *)paths[i % 8];
			vsp_decide(p, &ev, &d);
		}
		cost = (now() - t0) / rounds * 1e9;
	}
	vsp_policy_free(p);
	unlink(path);
	return cost;
}

/* Every fused shape: masked and plain compares of every kind, int and
 * string sets, string compares, prefixes and suffixes, a shared matcher,
 * call paths, effects, learn sites, every verdict, and `or` (JNZ). */
static const char shapes[] = 
	"policy \"shapes\";\n"
	"rule \"a\": on syscall openat when flags & 3 == 1 or dfd < 0 : log \"w\";\n"
	"rule \"b\": on syscall openat when proc.uid in [0, 7, 1000] and path startswith \"/etc/\" : deny EACCES;\n"
	"rule \"c\": on syscall openat when path endswith \".so\" and proc.comm != \"ld\" : count \"so\";\n"
	"rule \"d\": on syscall openat when path matches [\"/tmp/**\", \"/home/*/x\"] : redirect \"/dev/null\";\n"
	"rule \"e\": on syscall openat when proc.comm in [\"cat\", \"vi\"] and mode >= 0600 : return -1;\n"
	"rule \"f\": on syscall read when fd <= 2 and count > 100 and proc.gid == 5 : kill;\n"
	"rule \"g\": on syscall read when fd != 9 : pause;\n"
	"rule \"h\": on kernel commit_creds must arise from \"a <- b\", \"c <- **\" : deny;\n"
	"rule \"i\": on syscall write when proc.euid == 0 or proc.pid > 300 : allow;\n";

static uint64_t rs = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs % n);
}

static int fetch_rnd(void *ctx, struct vsp_event *ev, enum vsp_field f, struct vsp_str *o)
{
	static const char *const p[] = { "/etc/passwd", "/tmp/a/b", "/home/u/x", "/lib/x.so",
					 "/etc", "", "/usr/lib/libc.so" };
	const char *s = p[ev->seq % 7];

	(void)ctx;
	(void)f;
	*o = (struct vsp_str){ s, (uint32_t)strlen(s) };
	return 0;
}

static bool same_decision(const struct vsp_decision *a, const struct vsp_decision *b)
{
	if (a->verdict != b->verdict || a->rule != b->rule || a->value != b->value ||
	    a->nfired != b->nfired || a->nlearn != b->nlearn || a->steps != b->steps ||
	    a->flagged != b->flagged || a->partial != b->partial ||
	    a->redirect.len != b->redirect.len ||
	    (a->redirect.len && memcmp(a->redirect.ptr, b->redirect.ptr, a->redirect.len)))
		return false;
	for (uint32_t i = 0; i < a->nfired; i++)
		if (a->fired[i].rule != b->fired[i].rule || a->fired[i].effect != b->fired[i].effect)
			return false;
	for (uint32_t i = 0; i < a->nlearn; i++)
		if (a->learn_rule[i] != b->learn_rule[i])
			return false;
	return true;
}

static void fused_agrees(void)
{
	static const char *const comms[] = { "cat", "vi", "ld", "sh" };
	static const char *const frames[] = { "f", "a", "b", "c", "d" };
	struct vsp_diags d;
	struct vsp_unit *u;
	struct vsp_image *im = NULL;
	struct vsp_compile_opts co = { VSP_MODE_ENFORCE, false, NULL };
	struct vsp_vm_scratch sc;
	char err[256];
	uint32_t fused = 0, runs = 0, bad = 0;

	vsp_diags_init(&d);
	u = vsp_front_load_buffer("shapes.vsp", shapes, sizeof(shapes) - 1, &d);
	if (u && vsp_check(u, &d) == 0)
		im = vsp_compile(u, &co, &d);
	if (!ok(im != NULL && d.errors == 0, "fused: the shapes policy compiles")) {
		vsp_diags_print(&d, stdout);
		vsp_diags_release(&d);
		vsp_unit_free(u);
		return;
	}
	if (vsp_vm_scratch_init(&sc, im))
		goto out;
	for (uint32_t i = 0; i < im->nprogs; i++) {
		struct vsp_prog *pr = &im->progs[i];

		if (vsp_verify(im, pr, err, sizeof(err)) || vsp_vm_specialise(im, pr))
			continue;
		if (!pr->fops)
			continue;
		fused++;
		for (int k = 0; k < 3000; k++) {
			struct vsp_event ev;
			struct vsp_decision a, b;
			const char *stack[4];

			memset(&ev, 0, sizeof(ev));
			ev.kind = pr->key.kind;
			ev.nr = pr->key.nr;
			ev.name = pr->key.name;
			ev.seq = (uint64_t)k;
			for (int j = 0; j < 6; j++)
				ev.args[j] = (int64_t)rnd(12) - 3 + (rnd(4) ? 0 : 0600);
			ev.proc.uid = rnd(3) ? 1000 : 7;
			ev.proc.euid = rnd(2) ? 0 : 1;
			ev.proc.gid = rnd(7);
			ev.proc.pid = rnd(600);
			strcpy(ev.proc.comm, comms[rnd(4)]);
			ev.fetch = rnd(9) ? fetch_rnd : NULL;	/* sometimes a failed read */
			ev.nstack = rnd(4);
			for (uint32_t j = 0; j < ev.nstack; j++)
				stack[j] = frames[rnd(5)];
			ev.stack = stack;
			ev.has_stack = rnd(5) != 0;
			vsp_event_reset_lazy(&ev);
			vsp_vm_run(im, pr, &sc, &ev, &a);
			vsp_event_reset_lazy(&ev);
			vsp_vm_run_fused(im, pr, &sc, &ev, &b);
			runs++;
			bad += !same_decision(&a, &b);
		}
	}
	ok(fused >= 5, "fused: %u programs have a fused form (every one)", fused);
	ok(runs > 0 && bad == 0, "fused: %u of %u decisions differ from the interpreter's "
	   "(verdict, rule, value, effects, steps)", bad, runs);
	vsp_vm_scratch_release(&sc);
out:
	vsp_image_free(im);
	vsp_diags_release(&d);
	vsp_unit_free(u);
}

/* What a decision says, whichever way it was made (not steps or
 * `cached`, which tell how). */
static uint64_t digest(const struct vsp_decision *d)
{
	uint64_t h = 1469598103934665603ull;

#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
	MIX(d->verdict);
	MIX((uint32_t)d->rule);
	MIX(d->value);
	MIX(d->flagged);
	MIX(d->partial);
	MIX(d->nfired);
	MIX(d->fired_dropped);
	for (uint32_t i = 0; i < d->nfired; i++) {
		MIX(d->fired[i].rule);
		MIX(d->fired[i].effect);
	}
	MIX(d->redirect.len);
	for (uint32_t i = 0; i < d->redirect.len; i++)
		MIX((unsigned char)d->redirect.ptr[i]);
#undef MIX
	return h;
}

/* CPU ns per decision of an event no rule names. */
static double unnamed_cost(const char *file)
{
	struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE };
	struct vsp_policy *p = vsp_policy_load(&file, 1, &o, NULL);
	struct vsp_event ev;
	struct vsp_decision d;
	double t0, cost;
	int n = 2000000;

	if (!p)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.kind = VSP_EV_SYSCALL;
	ev.nr = 232;	/* epoll_wait */
	t0 = now();
	for (int i = 0; i < n; i++)
		vsp_decide(p, &ev, &d);
	cost = (now() - t0) / n * 1e9;
	vsp_policy_free(p);
	return cost;
}

/* ---- path keys ---------------------------------------------------------- */

static const char key_policy[] =
	"policy \"keys\";\n"
	"rule \"q\": on syscall openat when path matches \"*Q*\" : deny EACCES;\n"
	"rule \"two\": on syscall openat when path matches \"??\" : deny EPERM;\n"
	"rule \"nine\": on syscall openat when path matches \"?????????\" : log;\n";

struct kstr {
	const char *p;
	uint32_t len;
	bool fail;		/* the backend's read fails */
};

static int fetch_k(void *ctx, struct vsp_event *ev, enum vsp_field f, struct vsp_str *o)
{
	const struct kstr *k = ctx;

	(void)ev;
	(void)f;
	if (k->fail)
		return -1;
	*o = (struct vsp_str){ k->p, k->len };
	return 0;
}

#define KMAX 20000

static void path_keys(void)
{
	static struct kstr ks[KMAX];
	static char store[KMAX][136];
	static uint64_t want[KMAX];
	size_t n = 0, fits = 0, hits = 0, long_hits = 0, bad = 0;
	long pg = sysconf(_SC_PAGESIZE);
	char *area = mmap(NULL, 3 * (size_t)pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char file[] = "/tmp/vsp-keys-XXXXXX";
	int fd = mkstemp(file);
	const char *f = file;

	if (!ok(area != MAP_FAILED && fd >= 0 &&
		write(fd, key_policy, sizeof(key_policy) - 1) == (ssize_t)sizeof(key_policy) - 1,
		"path keys: set up"))
		return;
	close(fd);
	/* The middle page readable, the pages around it not. */
	mprotect(area, (size_t)pg, PROT_NONE);
	mprotect(area + 2 * pg, (size_t)pg, PROT_NONE);
	char *mid = area + pg;
	memset(mid, 'k', (size_t)pg);
	/* Every length to past the key's limit, and a 'Q' at every place. */
	for (uint32_t len = 0; len <= 130; len++) {
		for (uint32_t q = 0; q <= len && n < KMAX - 64; q++) {
			char *b = store[n];

			for (uint32_t i = 0; i < len; i++)
				b[i] = (char)('a' + (i * 7 + len) % 26);
			if (q < len)
				b[q] = 'Q';
			ks[n++] = (struct kstr){ b, len, false };
		}
	}
	/* Equal but for trailing NULs: only the length tells them apart. */
	for (uint32_t len = 2; len <= 17; len++) {
		memset(store[n], 0, 24);
		memcpy(store[n], "ab", 2);
		ks[n] = (struct kstr){ store[n], len, false };
		n++;
	}
	/* The empty path, and a read that failed (also empty, but partial). */
	ks[n++] = (struct kstr){ "", 0, false };
	ks[n++] = (struct kstr){ "", 0, true };
	/* Paths ending at the last readable byte and starting at the first. */
	for (uint32_t len = 1; len <= 20; len++) {
		ks[n++] = (struct kstr){ mid + pg - len, len, false };
		ks[n++] = (struct kstr){ mid, len, false };
	}
	for (int k = 1; k >= 0; k--) {
		struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE, .no_cache = k == 1 };
		struct vsp_policy *p = vsp_policy_load(&f, 1, &o, NULL);

		if (!ok(p != NULL, "path keys: loads, cache %s", k ? "off" : "on"))
			break;
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < n; i++) {
				struct vsp_event ev;
				struct vsp_decision d;

				memset(&ev, 0, sizeof(ev));
				ev.kind = VSP_EV_SYSCALL;
				ev.nr = 257;
				ev.name = "openat";
				ev.fetch = fetch_k;
				ev.fetch_ctx = &ks[i];
				vsp_event_reset_lazy(&ev);
				vsp_decide(p, &ev, &d);
				if (k == 1) {
					want[i] = digest(&d);
					continue;
				}
				bad += digest(&d) != want[i];
				if (pass == 1 && !ks[i].fail && ks[i].len <= 119) {
					fits++;
					hits += d.cached;
				} else if (pass == 1 && ks[i].len > 119) {
					long_hits += d.cached;
				}
			}
		}
		vsp_policy_free(p);
	}
	ok(bad == 0, "path keys: %zu decisions of %zu paths with the cache, %zu differ "
	   "from those without it", 2 * n, n, bad);
	/* A few may be evicted from a full set; nearly all must hit. */
	ok(fits > 0 && hits * 100 >= fits * 95,
	   "path keys: %zu of %zu repeated paths that fit a key were hits", hits, fits);
	ok(long_hits == 0, "path keys: paths too long for a key are never hits");
	munmap(area, 3 * (size_t)pg);
	unlink(file);
}

/* Keys of integer fields, hashed and compared where they sit in the event
 * (vsp_fp_cache_find_words): events that differ in one field each, decided
 * twice with the cache, must match the decisions without it, and the
 * second time be hits. */
static void int_keys(void)
{
	static const char text[] =
		"policy \"ints\";\n"
		"rule \"c\": on syscall openat when flags & O_CREAT != 0 and proc.uid != 0 : log;\n"
		"rule \"d\": on syscall openat when arg0 != -100 and flags & O_CREAT != 0"
		" and proc.gid == 7 : deny EACCES;\n";
	char file[] = "/tmp/vsp-ints-XXXXXX";
	int fd = mkstemp(file);
	const char *f = file;
	enum { M = 64 };
	uint64_t want[M];
	size_t bad = 0, hits = 0;

	if (!ok(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1,
		"int keys: set up"))
		return;
	close(fd);
	for (int k = 1; k >= 0; k--) {
		struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE, .no_cache = k == 1 };
		struct vsp_policy *p = vsp_policy_load(&f, 1, &o, NULL);

		if (!ok(p != NULL, "int keys: loads, cache %s", k ? "off" : "on"))
			break;
		for (int pass = 0; pass < 2; pass++) {
			for (int i = 0; i < M; i++) {
				struct vsp_event ev;
				struct vsp_decision d;

				memset(&ev, 0, sizeof(ev));
				ev.kind = VSP_EV_SYSCALL;
				ev.nr = 257;
				ev.name = "openat";
				ev.args[0] = i & 1 ? -100 : 3 + (i >> 5);
				ev.args[2] = i & 2 ? 0100 : 0;
				ev.proc.uid = i & 4 ? 1000 : 0;
				ev.proc.gid = i & 8 ? 7 : 8;
				ev.partial = (i & 16) != 0;
				vsp_decide(p, &ev, &d);
				if (k == 1) {
					want[i] = digest(&d);
					continue;
				}
				bad += digest(&d) != want[i];
				hits += pass == 1 && d.cached;
			}
		}
		vsp_policy_free(p);
	}
	ok(bad == 0, "int keys: %d decisions with the cache, %zu differ from those "
	   "without it", 2 * M, bad);
	ok(hits == M, "int keys: %zu of %d repeated events were hits", hits, M);
	unlink(file);
}

int main(void)
{
	char path[] = "/tmp/vsp-speed-XXXXXX";
	int fd = mkstemp(path);
	const char *file = path;
	static uint64_t verdicts[4][N];	/* digest of each whole decision */
	bool agree = true;

	if (fd < 0 || write(fd, policy, sizeof(policy) - 1) != (ssize_t)sizeof(policy) - 1)
		return 1;
	close(fd);
	for (int k = 0; k < 4; k++) {
		struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE, .no_fastpath = k & 1,
					   .no_cache = (k & 2) != 0 };
		struct vsp_policy *p = vsp_policy_load(&file, 1, &o, NULL);
		struct vsp_engine_stats st;
		double t0, ns;

		if (!ok(p != NULL, "loads"))
			continue;
		t0 = now();
		for (int i = 0; i < N; i++) {
			struct vsp_event ev;
			struct vsp_decision d;

			ev.kind = VSP_EV_SYSCALL;
			if (i % 4 == 3) {
				ev.nr = 0;
				ev.name = "read";
			} else {
				ev.nr = 257;
				ev.name = "openat";
			}
			ev.proc.uid = (i / 7) % 2 ? 1000 : 0;
			strcpy(ev.proc.comm, comms[(i / 3) % 4]);
			ev.args[0] = i % 2;
			ev.args[2] = i % 3;
			ev.fetch = fetch;
			ev.fetch_ctx = (void *)paths[(i / 5) % 8];
			ev.has_stack = false;
			vsp_event_reset_lazy(&ev);
			vsp_decide(p, &ev, &d);
			verdicts[k][i] = digest(&d);
		}
		ns = (now() - t0) / N * 1e9;
		vsp_policy_stats(p, &st);
		diag("fast path %-3s cache %-3s: %7.1f ns per decision (cache hits %llu, "
		     "constant %llu, interpreted %llu)", k & 1 ? "off" : "on",
		     k & 2 ? "off" : "on", ns, (unsigned long long)st.cache_hits,
		     (unsigned long long)st.const_verdicts, (unsigned long long)st.interpreted);
		ok(ns < 50000, "fast path %s, cache %s: under 50 us per decision",
		   k & 1 ? "off" : "on", k & 2 ? "off" : "on");
		if (k)
			agree &= !memcmp(verdicts[0], verdicts[k], sizeof(verdicts[0]));
		vsp_policy_free(p);
	}
	ok(agree, "all four configurations gave the same %d decisions (verdict, rule, "
	   "value, effects, flags)", N);

	double un = unnamed_cost(file);

	diag("an event no rule names: %.1f ns", un);
	ok(un > 0 && un < 500, "an event no rule names is cheap");
	fused_agrees();
	path_keys();
	int_keys();

	double g10 = glob_cost(10, true), g1000 = glob_cost(1000, true);
	double s10 = glob_cost(10, false), s1000 = glob_cost(1000, false);

	diag("10 globs: %.1f ns with the shared matcher, %.1f ns glob by glob", g10, s10);
	diag("1000 globs: %.1f ns with the shared matcher, %.1f ns glob by glob", g1000, s1000);
	ok(g10 > 0 && g1000 > 0 && g1000 < 4 * g10 + 200,
	   "with the fast path, 1000 globs cost about what 10 do");
	unlink(path);
	return done();
}
