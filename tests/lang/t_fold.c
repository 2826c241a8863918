/*
 * t_fold.c: one integer arithmetic for the interpreter and for constant
 * folding (interp/arith.h, lang/fold.c).
 *
 * The values at the edges are written out by hand here, and a policy
 * whose constants the checker and the compiler fold decides as the same
 * policy with the operands read from the event at run time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "interp/arith.h"
#include "lang/fold.h"
#include "tests/tap.h"

struct c_case {
	enum vsp_op op;
	unsigned opc;
	int64_t a, b, want;
	bool has;	/* false: no value (left to run time, flagged there) */
};

static const struct c_case cases[] = {
	{ VSP_OP_ADD, VSP_OPC_ADD, INT64_MAX, 1, INT64_MIN, true },
	{ VSP_OP_SUB, VSP_OPC_SUB, INT64_MIN, 1, INT64_MAX, true },
	{ VSP_OP_MUL, VSP_OPC_MUL, INT64_MIN, -1, INT64_MIN, true },
	{ VSP_OP_MUL, VSP_OPC_MUL, 3037000500, 3037000500, -9223372036709301616, true },
	{ VSP_OP_DIV, VSP_OPC_DIV, INT64_MIN, -1, INT64_MIN, true },
	{ VSP_OP_DIV, VSP_OPC_DIV, -7, 2, -3, true },
	{ VSP_OP_DIV, VSP_OPC_DIV, 7, -1, -7, true },
	{ VSP_OP_DIV, VSP_OPC_DIV, 5, 0, 0, false },
	{ VSP_OP_MOD, VSP_OPC_MOD, INT64_MIN, -1, 0, true },
	{ VSP_OP_MOD, VSP_OPC_MOD, -7, 2, -1, true },
	{ VSP_OP_MOD, VSP_OPC_MOD, 5, 0, 0, false },
	{ VSP_OP_SHL, VSP_OPC_SHL, 1, 63, INT64_MIN, true },
	{ VSP_OP_SHL, VSP_OPC_SHL, 1, 64, 0, false },
	{ VSP_OP_SHL, VSP_OPC_SHL, 1, -1, 0, false },
	{ VSP_OP_SHR, VSP_OPC_SHR, -5, 1, -3, true },
	{ VSP_OP_SHR, VSP_OPC_SHR, INT64_MIN, 63, -1, true },
	{ VSP_OP_SHR, VSP_OPC_SHR, 256, 4, 16, true },
	{ VSP_OP_SHR, VSP_OPC_SHR, 1, 64, 0, false },
	{ VSP_OP_BAND, VSP_OPC_BAND, 0xf0, 0x3c, 0x30, true },
	{ VSP_OP_BOR, VSP_OPC_BOR, 0xf0, 0x0f, 0xff, true },
	{ VSP_OP_BXOR, VSP_OPC_BXOR, -1, 0xff, -256, true },
	{ VSP_OP_NEG, VSP_OPC_NEG, INT64_MIN, 0, INT64_MIN, true },
	{ VSP_OP_NEG, VSP_OPC_NEG, 5, 0, -5, true },
	{ VSP_OP_BNOT, VSP_OPC_BNOT, 0, 0, -1, true },
};

static void test_values(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct c_case *c = &cases[i];
		int64_t r = 12345, f = 12345;
		bool hr = vsp_arith(c->opc, c->a, c->b, &r);
		bool hf = vsp_fold_int(c->op, c->a, c->b, &f);

		ok(hr == c->has && (!c->has || r == c->want),
		   "interpreter: case %zu: %lld op%u %lld = %lld", i,
		   (long long)c->a, c->opc, (long long)c->b, (long long)r);
		ok(hf == hr && (!hf || f == r),
		   "fold: case %zu agrees with the interpreter", i);
	}
	int64_t r;
	ok(!vsp_fold_int(VSP_OP_EQ, 1, 1, &r), "a comparison is no integer operator");
	ok(!vsp_fold_int(VSP_OP_STARTSWITH, 1, 1, &r), "startswith is no integer operator");
	ok(vsp_op_opcode(VSP_OP_STARTSWITH) == VSP_OPC_PREFIX,
	   "startswith compiles to PREFIX");
	ok(vsp_op_opcode(VSP_OP_LT) == VSP_OPC_COUNT, "< has no opcode of its own");
}

/* The same conditions, once on constants (folded by the checker and the
 * compiler) and once on the event's arguments (computed by the
 * interpreter): each pair must decide alike. */
static const char *const conds[][2] = {
	{ "MIN / -1 == MIN", "arg0 / arg1 == MIN" },
	{ "MIN % -1 == 0", "arg0 % arg1 == 0" },
	{ "-5 >> 1 == -3", "arg2 >> arg3 == -3" },
	{ "1 << 63 == MIN", "arg3 << 63 == MIN" },
	{ "MAX + 1 == MIN", "arg4 + arg3 == MIN" },
	{ "~0 == -1", "~arg5 == -1" },
};

static int load_and_decide(const char *text, int64_t *args,
			   enum vsp_verdict *v, bool *flagged)
{
	char path[] = "/tmp/vsp-fold-XXXXXX";
	int fd = mkstemp(path);
	FILE *devnull = fopen("/dev/null", "w");

	if (fd < 0 || !devnull)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(path);
		fclose(devnull);
		return -1;
	}
	close(fd);
	const char *files[] = { path };
	struct vsp_load_opts o = { .mode = VSP_MODE_UNSET, .diag = devnull };
	struct vsp_policy *p = vsp_policy_load(files, 1, &o, NULL);

	unlink(path);
	fclose(devnull);
	if (!p)
		return -1;
	struct vsp_event ev;
	struct vsp_decision d;

	memset(&ev, 0, sizeof ev);
	ev.kind = VSP_EV_SYSCALL;
	ev.nr = 157;		/* prctl */
	ev.name = "prctl";
	memcpy(ev.args, args, 6 * sizeof *args);
	vsp_decide(p, &ev, &d);
	*v = d.verdict;
	*flagged = d.flagged;
	vsp_policy_free(p);
	return 0;
}

static void test_policies(void)
{
	int64_t args[6] = { INT64_MIN, -1, -5, 1, INT64_MAX, 0 };

	for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
		enum vsp_verdict v[2] = { VSP_V_COUNT, VSP_V_COUNT };
		bool fl[2] = { true, true };
		int rc[2];

		for (int k = 0; k < 2; k++) {
			char text[512];

			snprintf(text, sizeof text,
				 "const MIN = -9223372036854775807 - 1;\n"
				 "const MAX = 9223372036854775807;\n"
				 "rule \"r\": on syscall prctl when %s : deny;\n",
				 conds[i][k]);
			rc[k] = load_and_decide(text, args, &v[k], &fl[k]);
		}
		ok(rc[0] == 0 && rc[1] == 0, "'%s' and '%s' load", conds[i][0],
		   conds[i][1]);
		ok(v[0] == VSP_V_DENY && v[1] == VSP_V_DENY && !fl[1],
		   "folded and computed alike: deny, unflagged (%s)", conds[i][1]);
	}
}

int main(void)
{
	test_values();
	test_policies();
	return done();
}
