/*
 * t_speed.c: what a decision costs, with the fast path and the cache on
 * and off.
 *
 * Decides the same mixed stream of openat and read events (a rule pack of
 * globs, a set, a prefix and flag tests) in the four configurations and
 * prints CPU nanoseconds per decision as TAP comments (CPU time, so other
 * load on the machine does not count).  It asserts that all
 * four agree on every verdict and, loosely enough for a busy CI machine,
 * that no configuration is slow in absolute terms; the numbers are for
 * reading, not for failing the build.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "interp/engine.h"
#include "tests/interp/tap.h"

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

int main(void)
{
	char path[] = "/tmp/vsp-speed-XXXXXX";
	int fd = mkstemp(path);
	const char *file = path;
	static uint8_t verdicts[4][N];
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
			verdicts[k][i] = (uint8_t)d.verdict;
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
			agree &= !memcmp(verdicts[0], verdicts[k], N);
		vsp_policy_free(p);
	}
	ok(agree, "all four configurations gave the same %d verdicts", N);

	double g10 = glob_cost(10, true), g1000 = glob_cost(1000, true);
	double s10 = glob_cost(10, false), s1000 = glob_cost(1000, false);

	diag("10 globs: %.1f ns with the shared matcher, %.1f ns glob by glob", g10, s10);
	diag("1000 globs: %.1f ns with the shared matcher, %.1f ns glob by glob", g1000, s1000);
	ok(g10 > 0 && g1000 > 0 && g1000 < 4 * g10 + 200,
	   "with the fast path, 1000 globs cost about what 10 do");
	unlink(path);
	return done();
}
