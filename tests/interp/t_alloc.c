/*
 * t_alloc.c: deciding never allocates.
 *
 * The test binary replaces malloc, calloc, realloc and free with counting
 * wrappers around glibc's own, loads a policy that uses every kind of
 * instruction (matchers, sets, lower(), call paths, effects, computed
 * return values), and counts heap calls made inside vsp_decide() over
 * many events, with the fast path and the cache on and off.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/tap.h"

#if !defined(__has_feature)
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
/* AddressSanitizer owns malloc; counting wrappers would fight it. */
int main(void)
{
	puts("1..0 # SKIP the allocator cannot be wrapped under AddressSanitizer");
	return 0;
}
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static volatile int counting;
static volatile unsigned long heap_calls;

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

static const char policy[] =
	"policy \"alloc\";\n"
	"list secrets = [\"/etc/shadow\", \"/etc/sudoers.d/**\", \"/root/*\"];\n"
	"list shells = [\"sh\", \"bash\"];\n"
	"rule \"a\": on syscall openat when path matches secrets and lower(proc.comm) not in shells\n"
	"  : deny EACCES, alert \"%{path} by %{proc.comm}\";\n"
	"rule \"b\": on syscall openat when basename(path) == dirname(path) or flags / mode > 3\n"
	"  : log, count \"odd\";\n"
	"rule \"c\": on syscall read when fd in [0, 1, 2] : return count * 2;\n"
	"rule \"d\": on kernel commit_creds when proc.uid != 0\n"
	"  must arise from \"__sys_setuid <- **\", \"a <- * <- c\" : kill;\n"
	"rule \"e\": on syscall execve when \"evil\" in stack or path endswith \".sh\" : redirect \"/bin/false\";\n";

static const char *const paths[] = { "/etc/shadow", "/etc/sudoers.d/x/y", "/tmp/a",
				     "/root/k", "/", "x.sh", "/usr/bin/NC" };
static const char *const stack[] = { "commit_creds", "__sys_setuid", "evil", "c" };

static int fetch(void *ctx, struct vsp_event *ev, enum vsp_field f, struct vsp_str *o)
{
	const char *s = ctx;

	(void)ev;
	(void)f;
	*o = (struct vsp_str){ s, (uint32_t)strlen(s) };
	return 0;
}

/* Extern calls, in process and isolated: ffi_call and the child's pipe
 * allocate nothing either (the string result goes to a slot). */
static const char ext_policy[] =
	"extern \"vsptest.so\" fn t_add(int, int) -> int;\n"
	"extern \"vsptest.so\" fn t_rev(string) -> string pure;\n"
	"rule \"x\": on syscall openat when t_add(flags, 1) == 3 or t_rev(path) == \"kwahs\" : deny;\n";

static void ext_case(const char *file, bool isolate)
{
	char dir[4200];
	const char *b = getenv("BUILD"), *dirs[] = { dir };
	struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE };
	struct vsp_policy *p;
	unsigned long denied = 0, want = 0;

	snprintf(dir, sizeof(dir), "%s/extensions", b && *b ? b : "build");
	o.ext = (struct vsp_ext_opts){ dirs, 1, isolate, 1000 };
	p = vsp_policy_load(&file, 1, &o, NULL);
	if (!p) {
		skip("extern policy: %s/vsptest.so not loadable", dir);
		return;
	}
	heap_calls = 0;
	for (int i = 0; i < 2000; i++) {
		struct vsp_event ev;
		struct vsp_decision d;

		memset(&ev, 0, sizeof(ev));
		ev.kind = VSP_EV_SYSCALL;
		ev.name = "openat";
		ev.nr = 257;
		ev.args[2] = i % 4;
		ev.fetch = fetch;
		ev.fetch_ctx = (void *)(i % 3 ? "shawk" : "/tmp/a");
		counting = 1;
		vsp_decide(p, &ev, &d);
		counting = 0;
		denied += d.verdict == VSP_V_DENY;
		want += i % 4 == 2 || i % 3 != 0;
	}
	ok(denied == want,
	   "extern calls decided (%s, %lu denied)", isolate ? "isolated" : "in process", denied);
	ok(heap_calls == 0, "no heap call while calling externs %s (%lu)",
	   isolate ? "isolated" : "in process", heap_calls);
	vsp_policy_free(p);
}

int main(void)
{
	char path[] = "/tmp/vsp-alloc-XXXXXX";
	int fd = mkstemp(path);
	const char *file = path;
	static const char *const names[] = { "openat", "read", "execve", "write" };
	static const uint32_t nrs[] = { 257, 0, 59, 1 };

	counting = 1;
	free(malloc(16));
	counting = 0;
	ok(heap_calls == 2, "the counting allocator sees heap calls");
	if (fd < 0 || write(fd, policy, sizeof(policy) - 1) != (ssize_t)sizeof(policy) - 1)
		return 1;
	close(fd);
	for (int k = 0; k < 4; k++) {
		struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE, .no_fastpath = k & 1,
					   .no_cache = (k & 2) != 0 };
		struct vsp_policy *p = vsp_policy_load(&file, 1, &o, NULL);
		unsigned long decided = 0;

		if (!ok(p != NULL, "policy loads (fast path %s, cache %s)",
			k & 1 ? "off" : "on", k & 2 ? "off" : "on"))
			continue;
		heap_calls = 0;
		for (int i = 0; i < 4000; i++) {
			struct vsp_event ev;
			struct vsp_decision d;

			memset(&ev, 0, sizeof(ev));
			if (i % 5 == 4) {
				ev.kind = VSP_EV_KERNEL;
				ev.name = "commit_creds";
			} else {
				ev.kind = VSP_EV_SYSCALL;
				ev.name = names[i % 4];
				ev.nr = nrs[i % 4];
			}
			ev.proc.uid = i % 3;
			strcpy(ev.proc.comm, i % 2 ? "BASH" : "cat");
			ev.args[0] = i % 4;
			ev.args[2] = i % 7;
			ev.args[3] = i % 3;
			ev.fetch = fetch;
			ev.fetch_ctx = (void *)paths[i % 7];
			ev.stack = stack + (i % 3 == 0);
			ev.nstack = 3 - (i % 3 == 0);
			ev.has_stack = i % 6 != 0;
			counting = 1;
			vsp_decide(p, &ev, &d);
			counting = 0;
			decided += d.verdict != VSP_V_NONE;
		}
		ok(decided == 4000, "4000 events decided");
		ok(heap_calls == 0, "no heap call while deciding (%lu)", heap_calls);
		vsp_policy_free(p);
	}
	unlink(path);
	{
		char xpath[] = "/tmp/vsp-alloc-x-XXXXXX";
		int xfd = mkstemp(xpath);

		if (xfd < 0 || write(xfd, ext_policy, sizeof(ext_policy) - 1) !=
				       (ssize_t)sizeof(ext_policy) - 1)
			return 1;
		close(xfd);
		ext_case(xpath, false);
		ext_case(xpath, true);
		unlink(xpath);
	}
	return done();
}
#endif
