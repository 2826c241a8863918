/*
 * verify.c: the bytecode verifier.
 *
 * Every program passes here between the compiler and the interpreter, and
 * raw programs (tests, the bytecode fuzzer) can be fed in directly.  The
 * interpreter trusts what this file accepts: it does no bounds or type
 * checks of its own, so every fact it relies on is proved here.
 *
 * The verifier is a flat list of passes, each a function that either
 * accepts or names the first bad instruction:
 *
 *   1. decode     opcodes exist; operands are in range for their kind and
 *                 unused operands are zero
 *   2. cfg        jump targets in range and forward only; nothing falls
 *                 off the end; every instruction is reachable
 *   3. stack      depth and operand types agree at every merge, no
 *                 underflow, no overflow (VSP_VM_STACK)
 *   4. bound      the worst-case step count (longest path), the fields
 *                 read, and the effect sites
 *
 * Because jumps only go forward, the control-flow graph is a DAG in pc
 * order: one forward sweep sees every predecessor of an instruction before
 * the instruction itself, so the stack pass needs no worklist (and keeps
 * abstract stacks only at jump targets), and the
 * longest path is one backward sweep.  That is also why every program
 * terminates: there are no loops, and every path ends in a verdict.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/program.h"

#define VSP_OPINFO_ROW(nm, k, po, pu)                                   \
	[VSP_OPC_##nm] = { #nm, k, po, pu, sizeof(po) - 1, sizeof(pu) - 1 },
const struct vsp_opinfo vsp_opinfo[VSP_OPC_COUNT] = {
	VSP_OPCODE_LIST(VSP_OPINFO_ROW)
};
#undef VSP_OPINFO_ROW

/* Stack slot types, as the type strings of interp/opcodes.h spell them. */
enum { T_NONE = 0, T_INT = 'i', T_BOOL = 'b', T_STR = 's', T_LIST = 'l' };

static const char field_type[VSP_F_COUNT] = {
#define VSP_FT_INT 'i'
#define VSP_FT_BOOL 'b'
#define VSP_FT_STRING 's'
#define VSP_FT_LIST_STRING 'l'
#define VSP_FT_ROW(id, name, type, group) [VSP_F_##id] = VSP_FT_##type,
	VSP_FIELD_LIST(VSP_FT_ROW)
#undef VSP_FT_ROW
};

struct vctx {
	const struct vsp_image *im;
	struct vsp_prog *pr;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct vctx *c, uint32_t pc, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "pc %u: ", pc);

	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *type_name(int t)
{
	switch (t) {
	case T_INT: return "int";
	case T_BOOL: return "bool";
	case T_STR: return "string";
	case T_LIST: return "list";
	}
	return "nothing";
}

/* ---- pass 1: decode ---------------------------------------------------- */

static int check_operands(struct vctx *c, uint32_t pc, vsp_insn in)
{
	const struct vsp_image *im = c->im;
	unsigned op = VSP_INS_OP(in);
	uint32_t a = VSP_INS_A(in), b = VSP_INS_B(in);
	const char *nm = vsp_opinfo[op].name;
	bool a_used = true, b_used = true;

	switch (vsp_opinfo[op].kind) {
	case VSP_OPK_NONE:
		a_used = b_used = false;
		break;
	case VSP_OPK_IMM:
		a_used = false;
		break;
	case VSP_OPK_BOOL:
		a_used = false;
		if (b > 1)
			return fail(c, pc, "%s: bool operand %u is not 0 or 1", nm, b);
		break;
	case VSP_OPK_KINT:
		b_used = false;
		if (a >= im->nints)
			return fail(c, pc, "%s: int constant %u out of range", nm, a);
		break;
	case VSP_OPK_KSTR:
		b_used = false;
		if (a >= im->nstrs)
			return fail(c, pc, "%s: string constant %u out of range", nm, a);
		break;
	case VSP_OPK_FIELD: {
		static const char want[] = {
			[VSP_OPC_LDI] = 'i', [VSP_OPC_LDB] = 'b',
			[VSP_OPC_LDS] = 's', [VSP_OPC_LDL] = 'l',
		};
		b_used = false;
		if (a >= VSP_F_COUNT)
			return fail(c, pc, "%s: field %u out of range", nm, a);
		if (op >= sizeof(want) || want[op] != field_type[a])
			return fail(c, pc, "%s: field %u is a %s", nm, a,
				    type_name(field_type[a]));
		break;
	}
	case VSP_OPK_CMP:
		a_used = false;
		if (b >= VSP_CMP_COUNT)
			return fail(c, pc, "%s: comparison %u out of range", nm, b);
		break;
	case VSP_OPK_SLOT:
		b_used = false;
		if (a >= im->nslots || a >= VSP_VM_SLOTS_MAX)
			return fail(c, pc, "%s: scratch slot %u out of range", nm, a);
		break;
	case VSP_OPK_ISET:
		b_used = false;
		if (a >= im->nisets || !im->isets[a])
			return fail(c, pc, "%s: int set %u out of range", nm, a);
		break;
	case VSP_OPK_SSET:
		b_used = false;
		if (a >= im->nssets || !im->ssets[a])
			return fail(c, pc, "%s: string set %u out of range", nm, a);
		break;
	case VSP_OPK_GLOBS:
		b_used = false;
		if (a >= im->nglobs)
			return fail(c, pc, "%s: glob list %u out of range", nm, a);
		break;
	case VSP_OPK_MATCH:
		if (a >= im->nmatchers || !im->matchers[a])
			return fail(c, pc, "%s: matcher %u out of range", nm, a);
		if (b >= 64)
			return fail(c, pc, "%s: matcher group %u out of range", nm, b);
		if (op == VSP_OPC_MATCHF &&
		    (!im->mfield || (unsigned)im->mfield[a] >= VSP_F_COUNT ||
		     field_type[im->mfield[a]] != 's'))
			return fail(c, pc, "%s: matcher %u has no string field", nm, a);
		break;
	case VSP_OPK_PATHSET:
		b_used = false;
		if (a >= im->npathsets || !im->pathsets[a])
			return fail(c, pc, "%s: path set %u out of range", nm, a);
		break;
	case VSP_OPK_EXTERN: {
		const struct vsp_extern *x;

		if (a >= im->nexterns || !im->externs)
			return fail(c, pc, "%s: extern %u out of range", nm, a);
		x = &im->externs[a];
		if (!x->bound)
			return fail(c, pc, "%s: extern %u is not bound", nm, a);
		if (x->nargs > VSP_EXT_MAX_ARGS ||
		    strnlen(x->args, sizeof(x->args)) != x->nargs ||
		    strspn(x->args, "ibs") != x->nargs || x->ret[1] ||
		    !x->ret[0] || !strchr("ibs", x->ret[0]))
			return fail(c, pc, "%s: extern %u has a bad signature", nm, a);
		if (x->ret[0] != 's')
			b_used = false;
		else if (b >= im->nslots || b >= VSP_VM_SLOTS_MAX)
			return fail(c, pc, "%s: scratch slot %u out of range", nm, b);
		break;
	}
	case VSP_OPK_GOTO:
	case VSP_OPK_BRANCH:
		b_used = false;
		break;		/* targets: the cfg pass */
	case VSP_OPK_EFFECT:
		if (a >= im->nrules)
			return fail(c, pc, "%s: rule %u out of range", nm, a);
		if (b >= im->neffects)
			return fail(c, pc, "%s: effect %u out of range", nm, b);
		break;
	case VSP_OPK_LEARN:
		b_used = false;
		if (a >= im->nrules)
			return fail(c, pc, "%s: rule %u out of range", nm, a);
		break;
	case VSP_OPK_VRULE:
	case VSP_OPK_VERRNO:
	case VSP_OPK_VSTR:
		if (a != VSP_RULE_DEFAULT && a >= im->nrules)
			return fail(c, pc, "%s: rule %u out of range", nm, a);
		if (vsp_opinfo[op].kind == VSP_OPK_VRULE)
			b_used = false;
		if (vsp_opinfo[op].kind == VSP_OPK_VSTR && b >= im->nstrs)
			return fail(c, pc, "%s: string constant %u out of range", nm, b);
		break;
	case VSP_OPK_COUNT:
		break;
	}
	if (!a_used && a)
		return fail(c, pc, "%s: operand A must be 0", nm);
	if (!b_used && b)
		return fail(c, pc, "%s: operand B must be 0", nm);
	return 0;
}

static int pass_decode(struct vctx *c)
{
	const struct vsp_prog *pr = c->pr;

	if (!pr->code || pr->ncode == 0)
		return fail(c, 0, "empty program");
	if (pr->ncode > VSP_PROG_MAX)
		return fail(c, 0, "program too long (%u instructions)", pr->ncode);
	for (uint32_t pc = 0; pc < pr->ncode; pc++) {
		unsigned op = VSP_INS_OP(pr->code[pc]);

		if (op >= VSP_OPC_COUNT)
			return fail(c, pc, "unknown opcode %u", op);
		if (check_operands(c, pc, pr->code[pc]))
			return -1;
	}
	return 0;
}

/* ---- pass 2: control flow ---------------------------------------------- */

static bool is_jump(enum vsp_opk k)
{
	return k == VSP_OPK_GOTO || k == VSP_OPK_BRANCH;
}

static bool falls_through(enum vsp_opk k)
{
	return k != VSP_OPK_GOTO && !vsp_opk_is_verdict(k);
}

static int pass_cfg(struct vctx *c, uint8_t *reach)
{
	const struct vsp_prog *pr = c->pr;
	uint32_t n = pr->ncode;

	for (uint32_t pc = 0; pc < n; pc++) {
		enum vsp_opk k = vsp_opinfo[VSP_INS_OP(pr->code[pc])].kind;
		uint32_t t = VSP_INS_A(pr->code[pc]);

		if (is_jump(k)) {
			if (t >= n)
				return fail(c, pc, "jump out of range (to %u of %u)", t, n);
			if (t <= pc)
				return fail(c, pc, "backward jump (to %u)", t);
		}
		if (pc == n - 1 && falls_through(k))
			return fail(c, pc, "falls off the end of the program");
	}
	reach[0] = 1;
	for (uint32_t pc = 0; pc < n; pc++) {
		enum vsp_opk k = vsp_opinfo[VSP_INS_OP(pr->code[pc])].kind;

		if (!reach[pc])
			return fail(c, pc, "unreachable code");
		if (is_jump(k))
			reach[VSP_INS_A(pr->code[pc])] = 1;
		if (falls_through(k))
			reach[pc + 1] = 1;
	}
	return 0;
}

/* ---- pass 3: stack depth and types ------------------------------------- */

_Static_assert(VSP_VM_STACK < UINT16_MAX - 4, "depth must fit struct vstate");

/* The abstract stack before an instruction: depth, then types bottom up. */
struct vstate {
	uint8_t seen;
	uint16_t depth;
	uint8_t t[VSP_VM_STACK];
};

static int merge(struct vctx *c, uint32_t from, struct vstate *dst,
		 const struct vstate *src, uint32_t pc)
{
	if (!dst->seen) {
		*dst = *src;
		dst->seen = 1;
		return 0;
	}
	if (dst->depth != src->depth)
		return fail(c, pc, "stack depth differs at merge (%u from pc %u, %u before)",
			    src->depth, from, dst->depth);
	for (unsigned i = 0; i < src->depth; i++)
		if (dst->t[i] != src->t[i])
			return fail(c, pc, "stack slot %u differs at merge (%s from pc %u, %s before)",
				    i, type_name(src->t[i]), from, type_name(dst->t[i]));
	return 0;
}

static int step_types(struct vctx *c, uint32_t pc, struct vstate *s,
		      uint32_t *maxd)
{
	const struct vsp_opinfo *oi = &vsp_opinfo[VSP_INS_OP(c->pr->code[pc])];
	int bound_a = T_NONE, bound_x = T_NONE;
	const char *pops, *pushes;
	unsigned npops, npushes;

	vsp_insn_stack(c->im, c->pr->code[pc], &pops, &pushes);
	npops = (unsigned)strlen(pops);
	npushes = (unsigned)strlen(pushes);
	if (s->depth < npops)
		return fail(c, pc, "%s: stack underflow (needs %u, has %u)", oi->name,
			    npops, s->depth);
	for (unsigned i = 0; i < npops; i++) {
		int want = pops[i];
		int have = s->t[s->depth - npops + i];

		if (want == 'a') {
			if (bound_a == T_NONE)
				bound_a = have;
			want = bound_a;
		} else if (want == 'x') {
			if (bound_x == T_NONE && (have == T_INT || have == T_BOOL))
				bound_x = have;
			if (bound_x == T_NONE)
				return fail(c, pc, "%s: expects int or bool, found %s",
					    oi->name, type_name(have));
			want = bound_x;
		}
		if (want != have)
			return fail(c, pc, "%s: operand %u is %s, expected %s", oi->name,
				    i + 1, type_name(have), type_name(want));
	}
	s->depth -= npops;
	if (s->depth + npushes > VSP_VM_STACK)
		return fail(c, pc, "%s: stack overflow (depth %u)", oi->name,
			    s->depth + npushes);
	for (unsigned i = 0; i < npushes; i++) {
		int t = pushes[i];

		s->t[s->depth++] = t == 'a' ? bound_a : t == 'x' ? bound_x : t;
	}
	if (s->depth > *maxd)
		*maxd = s->depth;
	return 0;
}

/*
 * States are kept only at jump targets (plus the running one), so the
 * memory is proportional to the jumps, not to program length times stack
 * depth.
 */
static int pass_stack(struct vctx *c)
{
	const struct vsp_prog *pr = c->pr;
	uint32_t n = pr->ncode, maxd = 0, ntargets = 0;
	uint32_t *slot = calloc(n ? n : 1, sizeof(*slot));
	struct vstate *st = NULL, cur;
	bool live = true;
	int rc = -1;

	if (!slot)
		return fail(c, 0, "out of memory");
	for (uint32_t pc = 0; pc < n; pc++) {
		vsp_insn in = pr->code[pc];

		if (is_jump(vsp_opinfo[VSP_INS_OP(in)].kind) && !slot[VSP_INS_A(in)])
			slot[VSP_INS_A(in)] = ++ntargets;	/* 0: not a target */
	}
	st = calloc(ntargets ? ntargets : 1, sizeof(*st));
	if (!st) {
		free(slot);
		return fail(c, 0, "out of memory");
	}
	memset(&cur, 0, sizeof(cur));
	cur.seen = 1;
	for (uint32_t pc = 0; pc < n; pc++) {
		vsp_insn in = pr->code[pc];
		enum vsp_opk k = vsp_opinfo[VSP_INS_OP(in)].kind;

		if (slot[pc]) {
			struct vstate *t = &st[slot[pc] - 1];

			if (live && merge(c, pc - 1, t, &cur, pc))
				goto out;
			cur = *t;
		}
		if (step_types(c, pc, &cur, &maxd))
			goto out;
		if (is_jump(k) &&
		    merge(c, pc, &st[slot[VSP_INS_A(in)] - 1], &cur, VSP_INS_A(in)))
			goto out;
		live = falls_through(k);
	}
	c->pr->max_stack = maxd;
	rc = 0;
out:
	free(st);
	free(slot);
	return rc;
}

/* ---- pass 4: bound, reads and sites ------------------------------------ */

static int pass_bound(struct vctx *c)
{
	struct vsp_prog *pr = c->pr;
	uint32_t n = pr->ncode, nsites = 0;
	uint32_t *steps = calloc(n, sizeof(*steps));
	vsp_fmask reads = 0;
	bool path = false, impure = false;

	if (!steps)
		return fail(c, 0, "out of memory");
	for (uint32_t pc = n; pc-- > 0;) {
		vsp_insn in = pr->code[pc];
		enum vsp_opk k = vsp_opinfo[VSP_INS_OP(in)].kind;
		uint32_t best = 0;

		if (is_jump(k))
			best = steps[VSP_INS_A(in)];
		if (falls_through(k) && steps[pc + 1] > best)
			best = steps[pc + 1];
		/* An extern call costs what its declaration says; saturate. */
		uint64_t cost = VSP_INS_OP(in) == VSP_OPC_XCALL
					? c->im->externs[VSP_INS_A(in)].cost : 1;
		if (cost < 1)
			cost = 1;
		steps[pc] = best + cost > UINT32_MAX ? UINT32_MAX
						     : (uint32_t)(best + cost);
	}
	pr->max_steps = steps[0];
	free(steps);

	for (uint32_t pc = 0; pc < n; pc++) {
		vsp_insn in = pr->code[pc];
		unsigned op = VSP_INS_OP(in);

		if (vsp_opinfo[op].kind == VSP_OPK_FIELD)
			reads |= VSP_FBIT(VSP_INS_A(in));
		if (op == VSP_OPC_MATCHF)
			reads |= VSP_FBIT(c->im->mfield[VSP_INS_A(in)]);
		if (op == VSP_OPC_ARISE) {
			reads |= VSP_FBIT(VSP_F_STACK);
			path = true;
		}
		if (op == VSP_OPC_FIRE || op == VSP_OPC_LEARN)
			nsites++;
		if (op == VSP_OPC_XCALL && !c->im->externs[VSP_INS_A(in)].pure)
			impure = true;
	}
	free(pr->sites);
	pr->sites = NULL;
	pr->nsites = 0;
	if (nsites) {
		pr->sites = calloc(nsites, sizeof(*pr->sites));
		if (!pr->sites)
			return fail(c, 0, "out of memory");
		for (uint32_t pc = 0; pc < n; pc++) {
			vsp_insn in = pr->code[pc];
			unsigned op = VSP_INS_OP(in);

			if (op == VSP_OPC_FIRE || op == VSP_OPC_LEARN)
				pr->sites[pr->nsites++] = (struct vsp_site){
					VSP_INS_A(in),
					op == VSP_OPC_FIRE ? VSP_INS_B(in) : VSP_SITE_LEARN };
		}
	}
	pr->reads = reads;
	pr->reads_stack_path = path;
	pr->impure = impure;
	return 0;
}

int vsp_verify(const struct vsp_image *im, struct vsp_prog *pr, char *err,
	       size_t errlen)
{
	char dummy[8];
	struct vctx c = { im, pr, err ? err : dummy, err ? errlen : sizeof(dummy) };
	uint8_t *reach;
	int rc;

	if (c.errlen == 0) {
		c.err = dummy;
		c.errlen = sizeof(dummy);
	}
	c.err[0] = 0;
	pr->verified = false;
	if (pass_decode(&c))
		return -1;
	reach = calloc(pr->ncode, 1);
	if (!reach)
		return fail(&c, 0, "out of memory");
	rc = pass_cfg(&c, reach);
	free(reach);
	if (rc || pass_stack(&c) || pass_bound(&c))
		return -1;
	pr->verified = true;
	return 0;
}
