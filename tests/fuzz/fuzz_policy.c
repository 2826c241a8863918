/*
 * fuzz_policy.c: fuzz target for .vsp source (lang/ through interp/).
 *
 * Policies are written by administrators, not guests, but a policy that
 * crashes the monitor takes the guest's protection down with it, and the
 * compiler is the only producer of the bytecode the interpreter trusts.
 * The input is one source file: it is parsed (vsp_front_load_buffer),
 * checked, and, when clean, compiled twice (with and without the shared
 * matchers of the fast path).  Invariants: diagnostics print without
 * crashing; everything the compiler emits passes the verifier (a rejected
 * program is a compiler bug); each program runs on events built from the
 * input and every decision passes fz_check_decision().  Then the engine
 * loads the same text twice, once with its fast path (dispatch tables,
 * constant verdicts, matchers, decision cache) and once interpreter-only;
 * both must decide every event alike, a repeated event (a cache hit) must
 * decide as it did the first time, and the audit records and the
 * disassembly are written to /dev/null.
 *
 * Imports and profile files name other files: the buffer is named as if it
 * lived in a directory that does not exist, so relative names fail cleanly.
 */
#include "fz_common.h"
#include "lang/compile.h"
#include "lang/front.h"

static FILE *fz_null;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_null = fopen("/dev/null", "w");
	return 0;
}

static void fz_image(const struct vsp_image *im, const uint8_t *data,
		     size_t size)
{
	char err[256];

	if (im->nprogs == 0 || !im->progs[0].is_default)
		FZ_FAIL("image without its default program");
	for (uint32_t i = 0; i < im->nprogs; i++) {
		struct vsp_prog *pr = &im->progs[i];

		if (vsp_verify(im, pr, err, sizeof(err)) != 0)
			FZ_FAIL("compiled program %u (%s) rejected: %s", i,
				pr->key.name ? pr->key.name : "default", err);
	}
	for (uint32_t i = 0; i < im->nprogs; i++)
		vsp_prog_disasm(im, &im->progs[i], fz_null);

	struct vsp_vm_scratch sc;
	if (vsp_vm_scratch_init(&sc, im) != 0)
		return;
	/* Events come from the source bytes themselves: whatever varies
	 * the policy varies the events too. */
	struct fz_in in = { data, size };
	for (uint32_t i = 0; i < im->nprogs; i++) {
		const struct vsp_prog *pr = &im->progs[i];
		struct fz_event fe;

		fz_event_fill(&fe, &in, pr->key.kind, pr->key.nr,
			      pr->key.name ? pr->key.name : "openat");
		if (pr->key.lib)
			fe.ev.lib = pr->key.lib;
		fz_run_twice(im, pr, &sc, &fe);
	}
	vsp_vm_scratch_release(&sc);
}

static void fz_engine_event(struct vsp_policy *fast, struct vsp_policy *slow,
			    struct vsp_audit *au, struct fz_in *in,
			    const struct vsp_event_key *k)
{
	struct fz_in again = *in;
	struct fz_event fe, fe2;
	struct vsp_decision d1, d2, d3;
	const char *name = k->name ? k->name : "openat";
	char msg[512];

	memset(&d1, 0, sizeof(d1));
	memset(&d2, 0, sizeof(d2));
	memset(&d3, 0, sizeof(d3));
	fz_event_fill(&fe, in, k->kind, k->nr, name);
	fz_event_fill(&fe2, &again, k->kind, k->nr, name);
	if (k->lib)
		fe.ev.lib = fe2.ev.lib = k->lib;
	if (k->kind == VSP_EV_WRITE && k->lo >= 0)
		fe.ev.offset = fe2.ev.offset = (uint64_t)k->lo * 8;

	vsp_decide(fast, &fe.ev, &d1);
	fz_check_engine_decision(fast, &d1);
	vsp_decide(slow, &fe2.ev, &d2);
	fz_check_engine_decision(slow, &d2);
	if (!fz_same_decision(&d1, &d2)) {
		fz_print_decision("fast path", &d1);
		fz_print_decision("interpreter", &d2);
		FZ_FAIL("fast path and interpreter disagree on %s", name);
	}
	/* The same event again: now maybe from the cache. */
	vsp_event_reset_lazy(&fe.ev);
	vsp_decide(fast, &fe.ev, &d3);
	if (!fz_same_decision(&d1, &d3)) {
		fz_print_decision("first", &d1);
		fz_print_decision("again", &d3);
		FZ_FAIL("a repeated event decided differently on %s", name);
	}
	for (uint32_t i = 0; i < d3.nfired; i++)
		vsp_policy_format(fast, d3.fired[i].effect, &fe.ev, msg,
				  sizeof(msg));
	vsp_audit_decision(au, &fe.ev, &d3, d3.verdict != VSP_V_ALLOW);
}

static void fz_engine(const uint8_t *data, size_t size)
{
	struct vsp_load_opts of = { .mode = VSP_MODE_UNSET, .diag = fz_null,
		.cache_entries = 64 };
	struct vsp_load_opts os = { .mode = VSP_MODE_UNSET, .diag = fz_null,
		.no_fastpath = true, .no_cache = true };
	struct vsp_policy *fast = fz_policy_load(data, size, &of);
	struct vsp_policy *slow = fast ? fz_policy_load(data, size, &os) : NULL;

	if (fast && slow) {
		struct fz_in in = { data, size };
		struct vsp_audit au;
		struct vsp_event_key other = { .kind = VSP_EV_SYSCALL, .nr = 0,
			.name = "read", .lo = -1, .hi = -1 };
		uint32_t n = vsp_policy_nevents(fast);

		if (n != vsp_policy_nevents(slow))
			FZ_FAIL("%u events with the fast path, %u without", n,
				vsp_policy_nevents(slow));
		vsp_audit_init(&au, fz_null, fast);
		for (uint32_t i = 0; i < n && i < 64; i++)
			fz_engine_event(fast, slow, &au, &in,
					vsp_policy_event(fast, i));
		fz_engine_event(fast, slow, &au, &in, &other);
		vsp_audit_release(&au);
		vsp_policy_disasm(fast, fz_null);
	}
	vsp_policy_free(slow);
	vsp_policy_free(fast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "/nonexistent-fuzz-dir/fuzz.vsp";
	struct vsp_diags d;
	struct vsp_unit *u;

	if (!fz_null)
		LLVMFuzzerInitialize(NULL, NULL);
	vsp_diags_init(&d);
	u = vsp_front_load_buffer(name, (const char *)data, size, &d);
	if (u && vsp_check(u, &d) == 0 && d.errors == 0) {
		for (int fp = 0; fp < 2; fp++) {
			struct vsp_compile_opts o = {
				.mode = VSP_MODE_UNSET, .no_fastpath = fp };
			struct vsp_image *im = vsp_compile(u, &o, &d);

			if (im) {
				fz_image(im, data, size);
				vsp_image_free(im);
			}
		}
		fz_engine(data, size);
	}
	vsp_diags_print(&d, fz_null);
	vsp_unit_free(u);
	vsp_diags_release(&d);
	return 0;
}
