/*
 * fuzz_bytecode.c: fuzz target for raw bytecode (interp/program.h).
 *
 * The interpreter does no checks of its own: whatever vsp_verify()
 * accepts, vsp_vm_run() must run to a verdict within the stated step bound
 * with no access out of bounds.  This target hands the verifier arbitrary
 * instruction words against a fixed image whose pools (ints, strings, sets,
 * glob lists, matchers, path sets, scratch slots, rules, effects) the input
 * shrinks, so out-of-range operands are exercised at every size including
 * zero.  Programs the verifier accepts run on events built from the rest of
 * the input and must pass fz_check_decision() (tests/fuzz/fz_common.h).
 *
 * The image's extern table is load-time data the input cannot change: two
 * functions of this file bound through libffi (each reads every byte of
 * its string arguments, so a bad view is caught) and one entry left
 * unbound, which the verifier must refuse; XCALL's index and slot come
 * from the instruction words like every other operand.
 *
 * Input: 10 bytes of pool sizes, 1 byte of event kind, 2 bytes of
 * instruction count (little endian), that many 8-byte instructions, then
 * the bytes events are built from.
 */
#include "fz_common.h"
#include "fastpath/match.h"
#include "interp/extern.h"

static struct vsp_image fz_im;
static struct vsp_rule_info fz_rules[4];
static struct vsp_effect_info fz_effects[5];

static const char *const fz_globs[] = { "/etc/*", "/etc/**", "*sh*",
	"[a-c]?", "/tmp/**/x", "\\*" };

static struct vsp_extern fz_externs[3];

static int64_t fz_x_mix(int64_t a, const char *p, size_t n, bool b)
{
	uint64_t h = (uint64_t)a;	/* wrapping, as the machine's ADD */

	for (size_t i = 0; i < n; i++)
		h = h * 31 + (unsigned char)p[i];
	return (int64_t)(b ? h : 0 - h);
}

static int64_t fz_x_rev(const char *p, size_t n, char *out, size_t cap)
{
	size_t k = n < cap ? n : cap;

	for (size_t i = 0; i < k; i++)
		out[i] = p[n - 1 - i];
	return n % 7 == 3 ? -1 : (int64_t)n;	/* sometimes a failure */
}

static void fz_externs_init(struct vsp_image *im)
{
	static const struct { const char *name, *args, *ret; uint32_t cost; bool pure; } d[3] = {
		{ "fz_x_mix", "isb", "i", 30, true },
		{ "fz_x_rev", "s", "s", 5, false },
		{ "fz_unbound", "i", "b", 1, true },
	};
	char err[VSP_EXT_ERR];

	for (int i = 0; i < 3; i++) {
		struct vsp_extern *x = &fz_externs[i];

		x->name = (char *)d[i].name;
		strcpy(x->args, d[i].args);
		x->nargs = (uint8_t)strlen(d[i].args);
		x->ret[0] = d[i].ret[0];
		x->cost = d[i].cost;
		x->pure = d[i].pure;
	}
	if (vsp_ext_bind_local(&fz_externs[0], (void (*)(void))fz_x_mix, err, sizeof(err)) ||
	    vsp_ext_bind_local(&fz_externs[1], (void (*)(void))fz_x_rev, err, sizeof(err)))
		abort();
	im->externs = fz_externs;
	im->nexterns = 3;
}

static struct vsp_str fz_str(const char *s)
{
	return (struct vsp_str){ s, (uint32_t)strlen(s) };
}

static void fz_image_init(void)
{
	static int64_t ints[] = { 0, 1, -1, INT64_MAX, INT64_MIN, 13, 257, 63, 64 };
	static struct vsp_str strs[10];
	static struct vsp_iset *isets[2];
	static struct vsp_sset *ssets[2];
	static struct vsp_globlist globlists[2];
	static struct vsp_str gl0[3], gl1[1];
	static struct vsp_matcher *matchers[2];
	static enum vsp_field mfield[2] = { VSP_F_PATH, VSP_F_COMM };
	static struct vsp_pathset *pathsets[2];
	struct vsp_image *im = &fz_im;

	strs[0] = fz_str("");
	strs[1] = fz_str("/etc/shadow");
	strs[2] = fz_str("/etc/*");
	strs[3] = fz_str("**");
	strs[4] = fz_str("a");
	strs[5] = fz_str("[");		/* a bad glob: GLOB must cope */
	strs[6] = fz_str("/tmp/**/x");
	strs[7] = fz_str("/bin/false");
	strs[8] = fz_str("\\");
	strs[9] = fz_str("*[!/]?");
	im->ints = ints;
	im->nints = sizeof(ints) / sizeof(ints[0]);
	im->strs = strs;
	im->nstrs = 10;

	int64_t iv[] = { 0, 257, -100, INT64_MIN };
	isets[0] = vsp_fp_iset_new(iv, 4);
	isets[1] = vsp_fp_iset_new(NULL, 0);
	im->isets = isets;
	im->nisets = 2;

	ssets[0] = vsp_fp_sset_new();
	vsp_fp_sset_add(ssets[0], "cat", 3);
	vsp_fp_sset_add(ssets[0], "/etc/shadow", 11);
	vsp_fp_sset_add(ssets[0], "", 0);
	ssets[1] = vsp_fp_sset_new();
	im->ssets = ssets;
	im->nssets = 2;

	gl0[0] = fz_str("/etc/*");
	gl0[1] = fz_str("**/x");
	gl0[2] = fz_str("cat");
	gl1[0] = fz_str("**");
	globlists[0] = (struct vsp_globlist){ gl0, 3 };
	globlists[1] = (struct vsp_globlist){ gl1, 1 };
	im->globlists = globlists;
	im->nglobs = 2;

	for (int m = 0; m < 2; m++) {
		matchers[m] = vsp_fp_matcher_new();
		for (size_t i = 0; i < sizeof(fz_globs) / sizeof(fz_globs[0]); i++)
			vsp_fp_matcher_add(matchers[m], fz_globs[i],
					   strlen(fz_globs[i]),
					   (uint32_t)(i * 11 + (size_t)m) % 64);
		vsp_fp_matcher_add(matchers[m], "cat", 3, 63);
		vsp_fp_matcher_build(matchers[m]);
	}
	im->matchers = matchers;
	im->mfield = mfield;
	im->nmatchers = 2;

	const char *perr;
	pathsets[0] = vsp_fp_pathset_new();
	vsp_fp_pathset_add(pathsets[0], "__x64_sys_openat <- **", &perr);
	vsp_fp_pathset_add(pathsets[0], "* <- do_syscall_64", &perr);
	vsp_fp_pathset_build(pathsets[0]);
	pathsets[1] = vsp_fp_pathset_new();
	vsp_fp_pathset_build(pathsets[1]);
	im->pathsets = pathsets;
	im->npathsets = 2;
	im->nslots = 2;

	for (int r = 0; r < 4; r++)
		fz_rules[r] = (struct vsp_rule_info){ .name = "r", .named = true,
			.file = "fuzz.vsp", .line = r + 1 };
	im->rules = fz_rules;
	im->nrules = 4;
	for (int e = 0; e < 5; e++)
		fz_effects[e] = (struct vsp_effect_info){ VSP_EFF_LOG, "m",
			(uint32_t)e % 4 };
	im->effects = fz_effects;
	im->neffects = 5;
	im->mode = VSP_MODE_ENFORCE;
	fz_externs_init(im);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_image_init();
	return 0;
}

static uint32_t fz_clamp(uint8_t b, uint32_t max)
{
	return b == 0xff ? max : b % (max + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct vsp_image im;
	struct vsp_prog pr;
	char err[256];

	if (!fz_im.strs)
		fz_image_init();
	im = fz_im;
	im.nints = fz_clamp(fz_u8(&in), fz_im.nints);
	im.nstrs = fz_clamp(fz_u8(&in), fz_im.nstrs);
	im.nisets = fz_clamp(fz_u8(&in), fz_im.nisets);
	im.nssets = fz_clamp(fz_u8(&in), fz_im.nssets);
	im.nglobs = fz_clamp(fz_u8(&in), fz_im.nglobs);
	im.nmatchers = fz_clamp(fz_u8(&in), fz_im.nmatchers);
	im.npathsets = fz_clamp(fz_u8(&in), fz_im.npathsets);
	im.nslots = fz_clamp(fz_u8(&in), fz_im.nslots);
	im.nrules = fz_clamp(fz_u8(&in), fz_im.nrules);
	im.neffects = fz_clamp(fz_u8(&in), fz_im.neffects);
	enum vsp_event_kind kind = fz_u8(&in) % VSP_EV_KIND_COUNT;
	uint32_t ncode = fz_u8(&in);
	ncode |= (uint32_t)fz_u8(&in) << 8;
	if (ncode > in.n / 8)
		ncode = (uint32_t)(in.n / 8);

	memset(&pr, 0, sizeof(pr));
	/* An exact-size copy, so a read past the last instruction is caught. */
	pr.code = malloc((ncode ? ncode : 1) * sizeof(vsp_insn));
	if (!pr.code)
		return 0;
	for (uint32_t i = 0; i < ncode; i++)
		pr.code[i] = fz_u64(&in);
	pr.ncode = ncode;
	pr.key.kind = kind;
	pr.key.name = "openat";
	pr.key.nr = 257;
	pr.key.lo = pr.key.hi = -1;

	err[0] = 0;
	int vr = vsp_verify(&im, &pr, err, sizeof(err));
	if (getenv("FZ_VERBOSE"))	/* to see what a seed exercises */
		fprintf(stderr, "%u insns: %s (max_steps %u)\n", ncode,
			vr == 0 ? "accepted" : err, pr.max_steps);
	if (vr == 0) {
		if (!pr.verified)
			FZ_FAIL("accepted but not marked verified");
		if (pr.max_stack > VSP_VM_STACK)
			FZ_FAIL("accepted a stack of %u", pr.max_stack);
		struct vsp_vm_scratch sc;
		if (vsp_vm_scratch_init(&sc, &im) == 0) {
			/* Several events from what is left of the input. */
			for (int round = 0; round < 3; round++) {
				struct fz_event fe;
				fz_event_fill(&fe, &in, kind, 257, "openat");
				fz_run_twice(&im, &pr, &sc, &fe);
			}
			vsp_vm_scratch_release(&sc);
		}
	} else if (strncmp(err, "pc ", 3) != 0) {
		/* Every refusal names the instruction (style.md). */
		FZ_FAIL("rejected without naming the pc: '%s'", err);
	}
	free(pr.sites);
	free(pr.code);
	return 0;
}
