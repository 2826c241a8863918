/*
 * t_verify.c: the bytecode verifier and the interpreter on hand-made
 * programs.
 *
 * Each check of interp/verify.c gets one program that breaks exactly it,
 * and the message must name the instruction as documented.  Then good
 * programs run through the interpreter (arithmetic faults, strings,
 * builtins, sets, globs, call paths), and a generator of random
 * instruction sequences feeds the verifier: whatever it accepts must run
 * to a verdict within the stated step bound.
 */
#include <stdlib.h>
#include <string.h>

#include "fastpath/match.h"
#include "interp/program.h"
#include "tests/tap.h"

#define I(op, a, b) VSP_INS(VSP_OPC_##op, a, b)

static struct vsp_image img;

static int verify_code(const vsp_insn *code, uint32_t n, char *err, size_t len,
		       struct vsp_prog *out)
{
	struct vsp_prog pr;

	memset(&pr, 0, sizeof(pr));
	pr.code = (vsp_insn *)code;
	pr.ncode = n;
	int rc = vsp_verify(&img, &pr, err, len);

	if (out)
		*out = pr;
	else
		free(pr.sites);
	return rc;
}

static void expect_reject(const char *what, const vsp_insn *code, uint32_t n,
			  const char *msg)
{
	char err[256];
	int rc = verify_code(code, n, err, sizeof(err), NULL);

	if (!ok(rc == -1 && !strcmp(err, msg), "rejects %s", what))
		diag("got %d \"%s\", expected \"%s\"", rc, err, msg);
}

#define REJECT(what, msg, ...)                                             \
	do {                                                               \
		const vsp_insn c_[] = { __VA_ARGS__ };                     \
		expect_reject(what, c_, sizeof(c_) / sizeof(c_[0]), msg);  \
	} while (0)

static void rejects(void)
{
	vsp_insn deep[VSP_VM_STACK + 2];
	char err[128];

	REJECT("an unknown opcode", "pc 0: unknown opcode 200",
	       VSP_INS(200, 0, 0));
	REJECT("an int constant out of range", "pc 0: PUSHK: int constant 5 out of range",
	       I(PUSHK, 5, 0), I(RETV, 0, 0));
	REJECT("a string constant out of range", "pc 0: PUSHS: string constant 9 out of range",
	       I(PUSHS, 9, 0), I(POP, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a stray operand", "pc 1: POP: operand A must be 0",
	       I(PUSHI, 0, 1), I(POP, 1, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a stray B operand", "pc 0: ALLOW: operand B must be 0",
	       I(ALLOW, VSP_RULE_DEFAULT, 3));
	REJECT("a bad bool", "pc 0: PUSHB: bool operand 2 is not 0 or 1",
	       I(PUSHB, 0, 2), I(POP, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a field of the wrong type", "pc 0: LDI: field 26 is a string",
	       I(LDI, VSP_F_PATH, 0), I(RETV, VSP_RULE_DEFAULT, 0));
	REJECT("a field out of range", "pc 0: LDS: field 99 out of range",
	       I(LDS, 99, 0), I(POP, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a bad comparison", "pc 2: CMP: comparison 6 out of range",
	       I(PUSHI, 0, 1), I(PUSHI, 0, 1), I(CMP, 0, 6), I(POP, 0, 0),
	       I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a missing set", "pc 1: INI: int set 0 out of range",
	       I(PUSHI, 0, 1), I(INI, 0, 0), I(POP, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a missing matcher", "pc 0: MATCHF: matcher 3 out of range",
	       I(MATCHF, 3, 0), I(POP, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a missing scratch slot", "pc 1: LOWER: scratch slot 0 out of range",
	       I(LDS, VSP_F_PATH, 0), I(LOWER, 0, 0), I(POP, 0, 0),
	       I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a rule out of range", "pc 0: DENY: rule 5 out of range",
	       I(DENY, 5, 1));
	REJECT("an effect of a rule out of range", "pc 0: FIRE: rule 0 out of range",
	       I(FIRE, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a jump out of range", "pc 0: jump out of range (to 10 of 2)",
	       I(JMP, 10, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a backward jump", "pc 2: backward jump (to 0)",
	       I(PUSHB, 0, 1), I(POP, 0, 0), I(JMP, 0, 0));
	REJECT("a jump to itself", "pc 1: backward jump (to 1)",
	       I(PUSHB, 0, 1), I(JZ, 1, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("falling off the end", "pc 1: falls off the end of the program",
	       I(PUSHB, 0, 1), I(POP, 0, 0));
	REJECT("a conditional jump past the end", "pc 1: jump out of range (to 2 of 2)",
	       I(PUSHB, 0, 1), I(JZ, 2, 0));
	REJECT("unreachable code", "pc 1: unreachable code",
	       I(ALLOW, VSP_RULE_DEFAULT, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("code skipped by a jump", "pc 1: unreachable code",
	       I(JMP, 2, 0), I(KILL, VSP_RULE_DEFAULT, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a stack underflow", "pc 0: POP: stack underflow (needs 1, has 0)",
	       I(POP, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a return without a value", "pc 0: RETV: stack underflow (needs 1, has 0)",
	       I(RETV, VSP_RULE_DEFAULT, 0));
	REJECT("an int where a bool belongs", "pc 1: NOT: operand 1 is int, expected bool",
	       I(PUSHI, 0, 1), I(NOT, 0, 0), I(POP, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a mixed comparison", "pc 2: CMP: operand 2 is bool, expected int",
	       I(PUSHI, 0, 1), I(PUSHB, 0, 1), I(CMP, 0, 0), I(POP, 0, 0),
	       I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a string comparison by CMP", "pc 2: CMP: expects int or bool, found string",
	       I(LDS, VSP_F_COMM, 0), I(LDS, VSP_F_COMM, 0), I(CMP, 0, 0), I(POP, 0, 0),
	       I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("a branch on an int", "pc 1: JZ: operand 1 is int, expected bool",
	       I(PUSHI, 0, 0), I(JZ, 2, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("depths that differ at a merge",
	       "pc 3: stack depth differs at merge (1 from pc 2, 0 before)",
	       I(PUSHB, 0, 1), I(JZ, 3, 0), I(PUSHI, 0, 1), I(ALLOW, VSP_RULE_DEFAULT, 0));
	REJECT("types that differ at a merge",
	       "pc 5: stack slot 0 differs at merge (bool from pc 4, int before)",
	       I(PUSHB, 0, 1), I(JZ, 4, 0), I(PUSHI, 0, 1), I(JMP, 5, 0),
	       I(PUSHB, 0, 0), I(RETV, VSP_RULE_DEFAULT, 0));
	for (int i = 0; i <= VSP_VM_STACK; i++)
		deep[i] = I(PUSHI, 0, 7);
	deep[VSP_VM_STACK + 1] = I(ALLOW, VSP_RULE_DEFAULT, 0);
	snprintf(err, sizeof(err), "pc %d: PUSHI: stack overflow (depth %d)", VSP_VM_STACK,
		 VSP_VM_STACK + 1);
	expect_reject("a stack overflow", deep, VSP_VM_STACK + 2, err);
	expect_reject("an empty program", deep, 0, "pc 0: empty program");
	ok(verify_code(deep, 0, NULL, 0, NULL) == -1, "no error buffer is fine too");
	ok(verify_code(deep, 0, err, 1, NULL) == -1 && err[0] == 0,
	   "a one-byte error buffer stays terminated");
}

/* ---- running good programs --------------------------------------------- */

static const char *const frames[] = { "commit_creds", "__sys_setuid",
				      "do_syscall_64", "entry_SYSCALL_64" };
static bool fetch_fail;

static int fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		 struct vsp_str *out)
{
	(void)ctx;
	(void)ev;
	if (fetch_fail)
		return -1;
	if (f == VSP_F_PATH) {
		*out = (struct vsp_str){ "/ETC/Shadow.d/x", 15 };
		return 0;
	}
	*out = (struct vsp_str){ "str", 3 };
	return 0;
}

static void event(struct vsp_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = VSP_EV_SYSCALL;
	ev->nr = 257;
	ev->name = "openat";
	ev->proc.pid = 412;
	ev->proc.uid = 1000;
	strcpy(ev->proc.comm, "cat");
	ev->args[0] = -100;
	ev->args[1] = 7;
	ev->fetch = fetch;
	ev->stack = frames;
	ev->nstack = 4;
	ev->has_stack = true;
}

static struct vsp_decision run(const vsp_insn *code, uint32_t n, struct vsp_event *ev)
{
	struct vsp_prog pr;
	struct vsp_vm_scratch sc;
	struct vsp_decision d;
	char err[256];

	memset(&d, 0, sizeof(d));
	if (verify_code(code, n, err, sizeof(err), &pr)) {
		diag("does not verify: %s", err);
		d.verdict = VSP_V_NONE;
		return d;
	}
	vsp_vm_scratch_init(&sc, &img);
	vsp_vm_run(&img, &pr, &sc, ev, &d);
	if (d.steps > pr.max_steps)
		diag("steps %u over the bound %u", d.steps, pr.max_steps);
	vsp_vm_scratch_release(&sc);
	free(pr.sites);
	return d;
}

#define RUN(ev, ...)                                                        \
	({                                                                  \
		const vsp_insn c_[] = { __VA_ARGS__ };                      \
		run(c_, sizeof(c_) / sizeof(c_[0]), ev);                    \
	})

static void runs(void)
{
	struct vsp_event ev;
	struct vsp_decision d;
	struct vsp_prog pr;
	const vsp_insn diamond[] = {
		I(PUSHB, 0, 1), I(JZ, 4, 0), I(PUSHI, 0, 1), I(POP, 0, 0),
		I(ALLOW, VSP_RULE_DEFAULT, 0) };

	memset(&pr, 0, sizeof(pr));
	ok(verify_code(diamond, 5, NULL, 0, &pr) == 0 && pr.max_steps == 5 &&
	   pr.max_stack == 1, "worst case of a diamond is its longer arm (%u steps)",
	   pr.max_steps);
	free(pr.sites);

	event(&ev);
	d = RUN(&ev, I(PUSHI, 0, 7), I(PUSHI, 0, 0), I(DIV, 0, 0),
		I(RETV, VSP_RULE_DEFAULT, 0));
	ok(d.verdict == VSP_V_RETURN && d.value == 0 && d.flagged && d.rule == -1,
	   "division by zero gives 0 and flags");
	d = RUN(&ev, I(PUSHK, 0, 0), I(PUSHI, 0, (uint32_t)-1), I(DIV, 0, 0),
		I(RETV, 0, 0));
	ok(d.verdict == VSP_V_RETURN && d.value == INT64_MIN && !d.flagged && d.rule == 0,
	   "INT64_MIN / -1 wraps instead of trapping");
	d = RUN(&ev, I(PUSHI, 0, 1), I(PUSHI, 0, 64), I(SHL, 0, 0), I(RETV, 0, 0));
	ok(d.value == 0 && d.flagged, "a shift by 64 gives 0 and flags");
	d = RUN(&ev, I(PUSHI, 0, (uint32_t)-8), I(PUSHI, 0, 1), I(SHR, 0, 0), I(RETV, 0, 0));
	ok(d.value == -4 && !d.flagged, "shift right is arithmetic");
	d = RUN(&ev, I(LDI, VSP_F_ARG0, 0), I(PUSHI, 0, 7), I(MOD, 0, 0), I(RETV, 0, 0));
	ok(d.value == -100 % 7, "modulo of a negative argument");

	d = RUN(&ev, I(LDS, VSP_F_PATH, 0), I(LOWER, 0, 0), I(BASENAME, 0, 0),
		I(PUSHS, 0, 0), I(SCMP, 0, VSP_CMP_EQ), I(JZ, 7, 0),
		I(DENY, 0, 13), I(ALLOW, VSP_RULE_DEFAULT, 0));
	ok(d.verdict == VSP_V_DENY && d.value == 13 && d.steps == 7,
	   "lower(basename(path)) == \"x\" denies (%u steps)", d.steps);
	d = RUN(&ev, I(LDS, VSP_F_PATH, 0), I(DIRNAME, 0, 0), I(PUSHS, 1, 0),
		I(SCMP, 0, VSP_CMP_EQ), I(JZ, 6, 0), I(KILL, 0, 0),
		I(ALLOW, VSP_RULE_DEFAULT, 0));
	ok(d.verdict == VSP_V_KILL, "dirname(path) == \"/ETC/Shadow.d\"");
	d = RUN(&ev, I(LDS, VSP_F_COMM, 0), I(LEN, 0, 0), I(RETV, 0, 0));
	ok(d.value == 3, "len(proc.comm)");
	d = RUN(&ev, I(LDS, VSP_F_PATH, 0), I(MATCHF, 0, 1), I(JZ, 4, 0),
		I(PAUSE, 0, 0), I(ALLOW, VSP_RULE_DEFAULT, 0));
	ok(d.verdict == VSP_V_ALLOW, "matcher group 1 does not match");
	d = RUN(&ev, I(MATCHF, 0, 0), I(JZ, 3, 0), I(PAUSE, 0, 0),
		I(ALLOW, VSP_RULE_DEFAULT, 0));
	ok(d.verdict == VSP_V_PAUSE && d.rule == 0, "matcher group 0 matches the path");
	d = RUN(&ev, I(LDS, VSP_F_COMM, 0), I(INS, 0, 0), I(JZ, 6, 0),
		I(LDI, VSP_F_UID, 0), I(INI, 0, 0), I(JNZ, 7, 0),
		I(ALLOW, VSP_RULE_DEFAULT, 0), I(KILL, 0, 0));
	ok(d.verdict == VSP_V_KILL, "string and int sets");
	d = RUN(&ev, I(PUSHS, 2, 0), I(LDL, VSP_F_STACK, 0), I(INL, 0, 0),
		I(ARISE, 0, 0), I(CMP, 0, VSP_CMP_EQ), I(JZ, 7, 0), I(KILL, 0, 0),
		I(ALLOW, VSP_RULE_DEFAULT, 0));
	ok(d.verdict == VSP_V_KILL,
	   "\"commit_creds\" in stack and the path arises from __sys_setuid");
	d = RUN(&ev, I(FIRE, 0, 0), I(LEARN, 0, 0), I(LDS, VSP_F_PATH, 0),
		I(GLOBS, 0, 0), I(JZ, 6, 0), I(REDIR, 0, 0), I(ALLOW, 0, 0));
	ok(d.verdict == VSP_V_REDIRECT && d.nfired == 1 && d.nlearn == 1 &&
	   d.redirect.len == 1 && d.redirect.ptr[0] == 'x',
	   "effects, learning and a redirect");

	event(&ev);
	fetch_fail = true;
	d = RUN(&ev, I(LDS, VSP_F_PATH, 0), I(LEN, 0, 0), I(RETV, 0, 0));
	ok(d.value == 0 && d.partial && ev.partial, "a failed read is empty and partial");
	event(&ev);
	d = RUN(&ev, I(LDB, VSP_F_EVENT_PARTIAL, 0), I(JZ, 3, 0), I(KILL, 0, 0),
		I(LDS, VSP_F_PATH, 0), I(POP, 0, 0), I(ALLOW, 0, 0));
	ok(d.verdict == VSP_V_KILL, "event.partial sees reads that come later");
	fetch_fail = false;
	event(&ev);
	ev.has_stack = false;
	d = RUN(&ev, I(ARISE, 0, 0), I(JZ, 3, 0), I(KILL, 0, 0), I(ALLOW, 0, 0));
	ok(d.verdict == VSP_V_ALLOW && d.rule == 0, "no call path matches nothing");
}

/* ---- random programs ----------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

static vsp_insn random_insn(uint32_t pc, uint32_t n)
{
	unsigned op = rnd(VSP_OPC_COUNT + 2);
	uint32_t a = rnd(3), b = rnd(3);

	if (op >= VSP_OPC_COUNT)
		return rnd(4) ? VSP_INS(VSP_OPC_PUSHB, 0, rnd(2)) : VSP_INS(rnd(256), rnd(1u << 24), (uint32_t)rng);
	switch (vsp_opinfo[op].kind) {
	case VSP_OPK_FIELD: a = rnd(VSP_F_COUNT); b = 0; break;
	case VSP_OPK_GOTO:
	case VSP_OPK_BRANCH: a = pc + 1 + rnd(n - pc); b = 0; break;
	case VSP_OPK_CMP: a = 0; b = rnd(VSP_CMP_COUNT); break;
	case VSP_OPK_NONE: a = b = 0; break;
	case VSP_OPK_VRULE: b = 0; if (rnd(2)) a = VSP_RULE_DEFAULT; break;
	default: break;
	}
	return VSP_INS(op, a, b);
}

static void fuzz(void)
{
	unsigned accepted = 0, tries = 200000, bad = 0;
	vsp_insn code[24];
	struct vsp_event ev;

	for (unsigned t = 0; t < tries; t++) {
		uint32_t n = 1 + rnd(24);
		struct vsp_prog pr;
		struct vsp_vm_scratch sc;
		struct vsp_decision d;

		for (uint32_t i = 0; i < n; i++)
			code[i] = random_insn(i, n);
		if (rnd(2))
			code[n - 1] = VSP_INS(VSP_OPC_ALLOW, VSP_RULE_DEFAULT, 0);
		if (verify_code(code, n, NULL, 0, &pr))
			continue;
		accepted++;
		event(&ev);
		fetch_fail = rnd(2);
		vsp_vm_scratch_init(&sc, &img);
		vsp_vm_run(&img, &pr, &sc, &ev, &d);
		if (d.verdict == VSP_V_NONE || d.steps > pr.max_steps ||
		    d.steps == 0)
			bad++;
		vsp_vm_scratch_release(&sc);
		free(pr.sites);
	}
	fetch_fail = false;
	ok(accepted > 100, "random programs: %u of %u accepted", accepted, tries);

	/* Bit flips of accepted programs reach the corners random code misses. */
	unsigned flips = 0, flip_ok = 0;

	for (unsigned t = 0; t < tries && flips < 100000; t++) {
		uint32_t n = 1 + rnd(24);
		struct vsp_prog pr;

		for (uint32_t i = 0; i < n; i++)
			code[i] = random_insn(i, n);
		code[n - 1] = VSP_INS(VSP_OPC_ALLOW, VSP_RULE_DEFAULT, 0);
		if (verify_code(code, n, NULL, 0, NULL))
			continue;
		for (int f = 0; f < 20; f++, flips++) {
			vsp_insn mut[24];
			struct vsp_vm_scratch sc;
			struct vsp_decision d;

			memcpy(mut, code, n * sizeof(*mut));
			mut[rnd(n)] ^= 1ull << rnd(64);
			if (rnd(2))
				mut[rnd(n)] ^= 1ull << rnd(64);
			if (verify_code(mut, n, NULL, 0, &pr))
				continue;
			flip_ok++;
			event(&ev);
			vsp_vm_scratch_init(&sc, &img);
			vsp_vm_run(&img, &pr, &sc, &ev, &d);
			if (d.verdict == VSP_V_NONE || d.steps > pr.max_steps)
				bad++;
			vsp_vm_scratch_release(&sc);
			free(pr.sites);
		}
	}
	diag("%u mutants, %u accepted", flips, flip_ok);
	ok(bad == 0, "every accepted program ran to a verdict within its bound (%u bad)", bad);
}

int main(void)
{
	static int64_t ints[] = { INT64_MIN };
	static struct vsp_str strs[] = { { "x", 1 }, { "/ETC/Shadow.d", 13 },
					 { "commit_creds", 12 } };
	static struct vsp_rule_info rules[1];
	static struct vsp_effect_info effects[1];
	static struct vsp_globlist globs[1];
	static struct vsp_str globv[] = { { "/etc/*", 6 }, { "/ETC/**", 7 } };
	int64_t uids[] = { 0, 1000 };
	const char *err = NULL;
	struct vsp_iset *is = vsp_fp_iset_new(uids, 2);
	struct vsp_sset *ss = vsp_fp_sset_new();
	struct vsp_matcher *m = vsp_fp_matcher_new();
	struct vsp_pathset *ps = vsp_fp_pathset_new();
	enum vsp_field mf[1] = { VSP_F_PATH };

	vsp_fp_sset_add(ss, "cat", 3);
	vsp_fp_matcher_add(m, "/ETC/*.d/**", 11, 0);
	vsp_fp_matcher_add(m, "/etc/**", 7, 1);
	vsp_fp_matcher_build(m);
	vsp_fp_pathset_add(ps, "__sys_setuid <- **", &err);
	vsp_fp_pathset_build(ps);
	globs[0] = (struct vsp_globlist){ globv, 2 };

	rejects();

	img.ints = ints, img.nints = 1;
	img.strs = strs, img.nstrs = 3;
	img.isets = &is, img.nisets = 1;
	img.ssets = &ss, img.nssets = 1;
	img.matchers = &m, img.mfield = mf, img.nmatchers = 1;
	img.pathsets = &ps, img.npathsets = 1;
	img.globlists = globs, img.nglobs = 1;
	img.nslots = 2;
	img.rules = rules, img.nrules = 1;
	img.effects = effects, img.neffects = 1;
	runs();
	fuzz();

	vsp_fp_iset_free(is);
	vsp_fp_sset_free(ss);
	vsp_fp_matcher_free(m);
	vsp_fp_pathset_free(ps);
	return done();
}
