/*
 * fz_common.h: what the fuzz targets share (tests/fuzz/fuzz_*.c).
 *
 * Events to run programs on, filled from a few bytes of the fuzzer's input
 * so that string fields, failing guest reads and call paths vary with it,
 * and the checks every decision must pass whatever the program was:
 * a verdict, within the verifier's step bound, every index in range, and
 * only the string fields the verifier said the program reads fetched.
 * A broken invariant prints what broke and aborts, which libFuzzer and
 * tests/fuzz/regress.t both report as a crash.
 */
#ifndef FZ_COMMON_H
#define FZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "engine/audit.h"
#include "engine/engine.h"
#include "interp/program.h"

#define FZ_FAIL(...)                                                    \
	do {                                                            \
		fprintf(stderr, "fuzz invariant: " __VA_ARGS__);        \
		fputc('\n', stderr);                                    \
		abort();                                                \
	} while (0)

/* A byte source that yields zeros once the input is used up. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)fz_u8(in) << (8 * i);
	return v;
}

static const char *const fz_strings[] = {
	"", "/etc/shadow", "/etc/passwd", "/tmp/x/../../etc/shadow", "/",
	"//", "a", "cat", "/bin/sh", "/dev/shm/.x", "LIBC.SO.6",
	"/etc/sudoers.d/zz", "\xff\xfe/\x80", "no/slash/at/end/",
	"/usr/lib/x86_64-linux-gnu/libc.so.6",
};
#define FZ_NSTRINGS (sizeof(fz_strings) / sizeof(fz_strings[0]))

static const char *const fz_frames[] = {
	"do_sys_openat2", "__x64_sys_openat", "do_syscall_64",
	"entry_SYSCALL_64_after_hwframe", "commit_creds", "__sys_setuid",
	"xen_mc_flush", "xen_set_pte", "?", "",
};
#define FZ_NFRAMES (sizeof(fz_frames) / sizeof(fz_frames[0]))

struct fz_event {
	struct vsp_event ev;
	const char *stack[16];
	char longstr[5000];	/* longer than a scratch slot */
	uint8_t pick[VSP_F_COUNT];	/* which string each field gets */
	vsp_fmask fail_mask;	/* fields whose guest read fails */
	vsp_fmask fetched;	/* fields fetch was asked for */
	uint32_t fetch_calls[VSP_F_COUNT];
};

static int fz_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		    struct vsp_str *out)
{
	struct fz_event *fe = ctx;

	if ((unsigned)f >= VSP_F_COUNT)
		FZ_FAIL("fetch of field %u", (unsigned)f);
	fe->fetched |= VSP_FBIT(f);
	fe->fetch_calls[f]++;
	if (fe->fail_mask & VSP_FBIT(f))
		return -1;
	if (fe->pick[f] == 0xff) {
		out->ptr = fe->longstr;
		out->len = sizeof(fe->longstr);
		return 0;
	}
	const char *s = fz_strings[fe->pick[f] % FZ_NSTRINGS];
	out->ptr = s;
	out->len = (uint32_t)strlen(s);
	return 0;
}

/* Fills an event of `kind` from the input; nr and name as given. */
static inline void fz_event_fill(struct fz_event *fe, struct fz_in *in,
				 enum vsp_event_kind kind, uint32_t nr,
				 const char *name)
{
	memset(fe, 0, sizeof(*fe));
	memset(fe->longstr, 'A', sizeof(fe->longstr));
	fe->longstr[100] = '/';
	fe->ev.kind = kind;
	fe->ev.nr = nr;
	fe->ev.name = name;
	fe->ev.lib = kind == VSP_EV_USER ? "libc.so.6" : NULL;
	fe->ev.seq = 1;
	fe->ev.vm = "guest0";
	for (int i = 0; i < 6; i++) {
		uint8_t b = fz_u8(in);
		fe->ev.args[i] = b < 0xf0 ? (int64_t)(int8_t)b :
			(int64_t)fz_u64(in);
	}
	fe->ev.proc.pid = fz_u8(in);
	fe->ev.proc.tid = fe->ev.proc.pid + 1;
	fe->ev.proc.uid = fz_u8(in) & 1 ? 0 : 1000;
	fe->ev.proc.euid = fe->ev.proc.uid;
	snprintf(fe->ev.proc.comm, sizeof(fe->ev.proc.comm), "%s",
		 fz_strings[fz_u8(in) % FZ_NSTRINGS]);
	fe->ev.addr = fz_u64(in);
	fe->ev.len = fz_u8(in);
	fe->ev.value = fz_u64(in);
	for (int f = 0; f < VSP_F_COUNT; f++)
		fe->pick[f] = fz_u8(in);
	fe->fail_mask = fz_u8(in) & 1 ? fz_u64(in) : 0;
	uint8_t ns = fz_u8(in);
	fe->ev.has_stack = !(ns & 0x80);
	fe->ev.nstack = fe->ev.has_stack ? (ns & 0x0f) : 0;
	for (uint32_t i = 0; i < fe->ev.nstack; i++)
		fe->stack[i] = fz_frames[fz_u8(in) % FZ_NFRAMES];
	fe->ev.stack = fe->stack;
	fe->ev.fetch = fz_fetch;
	fe->ev.fetch_ctx = fe;
	vsp_event_reset_lazy(&fe->ev);
}

static inline void fz_check_decision(const struct vsp_image *im,
				     const struct vsp_prog *pr,
				     const struct fz_event *fe,
				     const struct vsp_decision *d)
{
	if (d->verdict <= VSP_V_NONE || d->verdict >= VSP_V_COUNT)
		FZ_FAIL("verdict %d", (int)d->verdict);
	if (d->steps > pr->max_steps)
		FZ_FAIL("%u steps, verifier bound %u", d->steps, pr->max_steps);
	if (d->rule != -1 && (d->rule < 0 || (uint32_t)d->rule >= im->nrules))
		FZ_FAIL("deciding rule %d of %u", d->rule, im->nrules);
	if (d->nfired > VSP_MAX_FIRED || d->nlearn > VSP_MAX_LEARN)
		FZ_FAIL("fired %u, learn %u", d->nfired, d->nlearn);
	for (uint32_t i = 0; i < d->nfired; i++)
		if (d->fired[i].rule >= im->nrules ||
		    d->fired[i].effect >= im->neffects)
			FZ_FAIL("fired rule %u effect %u", d->fired[i].rule,
				d->fired[i].effect);
	for (uint32_t i = 0; i < d->nlearn; i++)
		if (d->learn_rule[i] >= im->nrules)
			FZ_FAIL("learn rule %u", d->learn_rule[i]);
	if (d->verdict == VSP_V_REDIRECT && !d->redirect.ptr)
		FZ_FAIL("redirect without a path");
	if (fe->fetched & ~pr->reads)
		FZ_FAIL("fetched fields %#llx, verifier says reads %#llx",
			(unsigned long long)fe->fetched,
			(unsigned long long)pr->reads);
	for (int f = 0; f < VSP_F_COUNT; f++)
		if (fe->fetch_calls[f] > 1)
			FZ_FAIL("field %d fetched %u times", f,
				fe->fetch_calls[f]);
	/* Touch every byte a string in the decision points at. */
	volatile unsigned sum = 0;
	for (uint32_t i = 0; i < d->redirect.len; i++)
		sum += (unsigned char)d->redirect.ptr[i];
	(void)sum;
}

/* Runs a verified program twice on the same event: both runs must pass
 * the checks and agree (a difference means state leaked between runs). */
static inline void fz_run_twice(const struct vsp_image *im,
				const struct vsp_prog *pr,
				struct vsp_vm_scratch *sc, struct fz_event *fe)
{
	struct vsp_decision d1, d2;

	memset(&d1, 0, sizeof(d1));
	memset(&d2, 0, sizeof(d2));
	vsp_vm_run(im, pr, sc, &fe->ev, &d1);
	fz_check_decision(im, pr, fe, &d1);
	vsp_event_reset_lazy(&fe->ev);
	fe->fetched = 0;
	memset(fe->fetch_calls, 0, sizeof(fe->fetch_calls));
	vsp_vm_run(im, pr, sc, &fe->ev, &d2);
	fz_check_decision(im, pr, fe, &d2);
	if (d1.verdict != d2.verdict || d1.rule != d2.rule ||
	    d1.value != d2.value || d1.steps != d2.steps ||
	    d1.nfired != d2.nfired || d1.flagged != d2.flagged)
		FZ_FAIL("two runs on one event disagree");
}

/*
 * Loads policy text through the engine, which reads files only: the text
 * goes into a memfd named by its /proc path.  diag: where diagnostics go.
 */
static inline struct vsp_policy *fz_policy_load(const void *text, size_t len,
						const struct vsp_load_opts *o)
{
	char path[64];
	int fd = memfd_create("fuzz.vsp", 0);
	struct vsp_policy *p = NULL;

	if (fd < 0)
		return NULL;
	if (write(fd, text, len) == (ssize_t)len) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		const char *files[1] = { path };
		p = vsp_policy_load(files, 1, o, NULL);
	}
	close(fd);
	return p;
}

static inline bool fz_same_decision(const struct vsp_decision *a,
				    const struct vsp_decision *b)
{
	if (a->verdict != b->verdict || a->rule != b->rule ||
	    a->value != b->value || a->flagged != b->flagged ||
	    a->nfired != b->nfired || a->fired_dropped != b->fired_dropped ||
	    a->nlearn != b->nlearn || a->partial != b->partial)
		return false;
	for (uint32_t i = 0; i < a->nfired && i < VSP_MAX_FIRED; i++)
		if (a->fired[i].rule != b->fired[i].rule ||
		    a->fired[i].effect != b->fired[i].effect)
			return false;
	if (a->verdict == VSP_V_REDIRECT &&
	    (a->redirect.len != b->redirect.len ||
	     memcmp(a->redirect.ptr, b->redirect.ptr, a->redirect.len)))
		return false;
	return true;
}

static inline void fz_print_decision(const char *what,
				     const struct vsp_decision *d)
{
	fprintf(stderr, "  %s: verdict %d rule %d value %lld flagged %d "
		"fired %u dropped %u learn %u partial %d cached %d\n", what,
		(int)d->verdict, d->rule, (long long)d->value, d->flagged,
		d->nfired, d->fired_dropped, d->nlearn, d->partial, d->cached);
}

/* Checks what the engine decided, as far as the outside can see. */
static inline void fz_check_engine_decision(struct vsp_policy *p,
					    const struct vsp_decision *d)
{
	uint32_t nrules = vsp_policy_nrules(p);

	if (d->verdict <= VSP_V_NONE || d->verdict >= VSP_V_COUNT)
		FZ_FAIL("engine verdict %d", (int)d->verdict);
	if (d->rule != -1 && (d->rule < 0 || (uint32_t)d->rule >= nrules))
		FZ_FAIL("engine rule %d of %u", d->rule, nrules);
	if (d->nfired > VSP_MAX_FIRED || d->nlearn > VSP_MAX_LEARN)
		FZ_FAIL("engine fired %u learn %u", d->nfired, d->nlearn);
	for (uint32_t i = 0; i < d->nfired; i++) {
		if (d->fired[i].rule >= nrules)
			FZ_FAIL("engine fired rule %u", d->fired[i].rule);
		if (!vsp_policy_effect(p, d->fired[i].effect))
			FZ_FAIL("engine fired effect %u", d->fired[i].effect);
	}
}

#endif
