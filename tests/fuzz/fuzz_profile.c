/*
 * fuzz_profile.c: fuzz target for call-path profiles.
 *
 * `must arise from profile "F"` reads F when the policy loads
 * (fastpath/profile.c): one call-path pattern per line, frames joined by
 * "<-", globs in frames.  Learn mode writes these files from what the
 * guest did, so a profile holds frame names a guest chose; an operator may
 * also edit one by hand.  The input is the profile file.  A fixed policy
 * denies mmu_update hypercalls whose path is not in it, and is loaded
 * twice, with the fast path (path sets, decision cache) and without.
 *
 * Invariants: a profile either loads or is refused with a diagnostic;
 * the two loads decide alike on call paths spelled like the profile's own
 * lines (and one that is in no profile); a line of plain frame names (no
 * glob characters) in a profile that loaded allows the very path it
 * spells.
 */
#include "fz_common.h"

static FILE *fz_null;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_null = fopen("/dev/null", "w");
	return 0;
}

/* Splits one line into frames ("a <- b <- c"), trimmed; 0 frames when a
 * frame is empty or holds a glob character, or there are too many. */
static size_t fz_frames_of(char *line, char **frames, size_t max,
			   bool *plain)
{
	size_t n = 0;
	*plain = true;
	for (char *p = line;;) {
		char *end = strstr(p, "<-");
		if (end)
			*end = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strlen(p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' ||
			       p[len - 1] == '\r'))
			p[--len] = 0;
		if (!len || strpbrk(p, "*?[]\\{}") || n == max)
			*plain = false;
		if (n < max)
			frames[n++] = p;
		if (!end)
			break;
		p = end + 2;
	}
	return n;
}

static void fz_decide_path(struct vsp_policy *fast, struct vsp_policy *slow,
			   const char *const *frames, size_t n, bool must_allow)
{
	struct fz_event fe;
	struct fz_in none = { NULL, 0 };
	struct vsp_decision a, b;

	fz_event_fill(&fe, &none, VSP_EV_HYPERCALL, 1, "mmu_update");
	/* The stack starts at the intercepted function; the call path is
	 * the rest (language section 5). */
	fe.ev.has_stack = true;
	fe.ev.nstack = (uint32_t)n + 1;
	fe.stack[0] = "xen_hypercall_mmu_update";
	for (size_t i = 0; i < n; i++)
		fe.stack[i + 1] = frames[i];
	vsp_decide(fast, &fe.ev, &a);
	fz_check_engine_decision(fast, &a);
	vsp_event_reset_lazy(&fe.ev);
	vsp_decide(slow, &fe.ev, &b);
	if (!fz_same_decision(&a, &b)) {
		fz_print_decision("fast path", &a);
		fz_print_decision("interpreter", &b);
		FZ_FAIL("the fast path and the interpreter disagree on a path "
			"of %zu frames", n);
	}
	if (must_allow && a.verdict == VSP_V_DENY)
		FZ_FAIL("a profile line of plain frames (%s...) does not allow "
			"its own path", n ? frames[0] : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], policy[160];

	if (!fz_null)
		LLVMFuzzerInitialize(NULL, NULL);
	int fd = memfd_create("fuzz.paths", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int plen = snprintf(policy, sizeof policy,
			    "rule \"paths\": on hypercall mmu_update must arise "
			    "from profile \"%s\": deny;\n", path);
	struct vsp_load_opts of = { .mode = VSP_MODE_UNSET, .diag = fz_null };
	struct vsp_load_opts os = { .mode = VSP_MODE_UNSET, .diag = fz_null,
		.no_fastpath = true, .no_cache = true };
	struct vsp_policy *fast = fz_policy_load(policy, (size_t)plen, &of);
	struct vsp_policy *slow = fast ? fz_policy_load(policy, (size_t)plen, &os) : NULL;
	close(fd);
	if (fast && !slow)
		FZ_FAIL("the profile loads with the fast path only");
	if (fast && slow) {
		/* The profile's own lines as call paths (the first 32). */
		char *text = malloc(size + 1);
		if (text) {
			memcpy(text, data, size);
			text[size] = 0;
			char *save = NULL;
			int lines = 0;
			for (char *l = strtok_r(text, "\n", &save); l && lines < 32;
			     l = strtok_r(NULL, "\n", &save), lines++) {
				char *frames[16];
				bool plain;
				while (*l == ' ' || *l == '\t')
					l++;
				if (*l == '#' || strlen(l) != strcspn(l, "\r"))
					continue;
				size_t n = fz_frames_of(l, frames, 15, &plain);
				fz_decide_path(fast, slow, (const char *const *)frames,
					       n, plain && n > 0);
			}
			free(text);
		}
		static const char *const other[] = { "nowhere", "at_all" };
		fz_decide_path(fast, slow, other, 2, false);
	}
	vsp_policy_free(slow);
	vsp_policy_free(fast);
	return 0;
}
