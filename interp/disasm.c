/*
 * disasm.c: compiled programs as text, for `vsp disasm` and the golden
 * files in tests/interp/dis/.
 *
 * The format is stable; tests compare it byte for byte.  Per program, one
 * header line, then one line per instruction, then an empty line:
 *
 *   event syscall openat (nr 257): 9 instructions, at most 9 steps, reads path proc.comm
 *       0  MATCHF    path matcher 0 group 0 (4 patterns)        shadow.vsp:7
 *       1  JZ        -> 8                                       shadow.vsp:7
 *
 * The header names the event as a policy would (`syscall NAME (nr N)`,
 * `hypercall NAME (nr N)`, `kernel NAME`, `user "LIB":NAME`,
 * `write NAME[LO..HI]`), or says `default` for the program every unnamed
 * event runs; then the instruction count, the verifier's worst-case step
 * count and the fields the program reads, in field order ("reads
 * nothing" when none).  Instruction lines hold the pc (5 columns), the
 * mnemonic (9 columns), the operands (42 columns; strings quoted with C
 * escapes and cut at 32 bytes with "...", sets, matchers and path sets
 * summarised by their size) and the source file:line the instruction came
 * from (absent for the implicit default verdict).  Rules are named as
 * audit records name them.  Programs of named
 * events come first, in the order the policy first names them; the default
 * program comes last.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fastpath/match.h"
#include "interp/program.h"
#include "base/catalog.h"

static const char *const field_names[VSP_F_COUNT] = {
#define VSP_FN_ROW(id, name, type, group) [VSP_F_##id] = name,
	VSP_FIELD_LIST(VSP_FN_ROW)
#undef VSP_FN_ROW
};

static const char *const cmp_names[VSP_CMP_COUNT] = {
	"==", "!=", "<", "<=", ">", ">="
};

struct sbuf {
	char *p;
	size_t size, at;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->at >= b->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->at, b->size - b->at, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->at += (size_t)n;
	if (b->at >= b->size)
		b->at = b->size - 1;
}

static void sb_quote(struct sbuf *b, const char *s, uint32_t len)
{
	uint32_t n = len > 32 ? 32 : len;

	sb_printf(b, "\"");
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c == '\n')
			sb_printf(b, "\\n");
		else if (c == '\t')
			sb_printf(b, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			sb_printf(b, "\\x%02x", c);
		else
			sb_printf(b, "%c", c);
	}
	sb_printf(b, "%s\"", len > n ? "..." : "");
}

static void sb_rule(struct sbuf *b, const struct vsp_image *im, uint32_t r)
{
	if (r == VSP_RULE_DEFAULT)
		sb_printf(b, "default");
	else if (r < im->nrules && im->rules)
		sb_printf(b, "rule \"%s\"", im->rules[r].name);
	else
		sb_printf(b, "rule %u", r);
}

static void operands(struct sbuf *b, const struct vsp_image *im, vsp_insn in)
{
	unsigned op = VSP_INS_OP(in);
	uint32_t a = VSP_INS_A(in), x = VSP_INS_B(in);
	size_t n;

	switch (vsp_opinfo[op].kind) {
	case VSP_OPK_NONE:
	case VSP_OPK_COUNT:
		break;
	case VSP_OPK_IMM:
		sb_printf(b, "%d", (int32_t)x);
		break;
	case VSP_OPK_BOOL:
		sb_printf(b, "%s", x ? "true" : "false");
		break;
	case VSP_OPK_KINT:
		sb_printf(b, "%lld", (long long)im->ints[a]);
		break;
	case VSP_OPK_KSTR:
		sb_quote(b, im->strs[a].ptr, im->strs[a].len);
		break;
	case VSP_OPK_FIELD:
		sb_printf(b, "%s", field_names[a]);
		break;
	case VSP_OPK_CMP:
		sb_printf(b, "%s", cmp_names[x]);
		break;
	case VSP_OPK_SLOT:
		sb_printf(b, "slot %u", a);
		break;
	case VSP_OPK_ISET:
		sb_printf(b, "int set %u", a);
		break;
	case VSP_OPK_SSET:
		sb_printf(b, "string set %u", a);
		break;
	case VSP_OPK_GLOBS:
		sb_printf(b, "glob list %u (%u glob%s)", a, im->globlists[a].n,
			  im->globlists[a].n == 1 ? "" : "s");
		break;
	case VSP_OPK_MATCH:
		if (op == VSP_OPC_MATCHF)
			sb_printf(b, "%s ", field_names[im->mfield[a]]);
		n = vsp_fp_matcher_size(im->matchers[a]);
		sb_printf(b, "matcher %u group %u (%zu pattern%s)", a, x, n,
			  n == 1 ? "" : "s");
		break;
	case VSP_OPK_PATHSET:
		n = vsp_fp_pathset_size(im->pathsets[a]);
		sb_printf(b, "path set %u (%zu pattern%s)", a, n, n == 1 ? "" : "s");
		break;
	case VSP_OPK_EXTERN: {
		const struct vsp_extern *e = &im->externs[a];
		static const char *const tn[128] = {
			['i'] = "int", ['b'] = "bool", ['s'] = "string" };

		sb_printf(b, "%s(", e->name);
		for (unsigned i = 0; i < e->nargs; i++)
			sb_printf(b, "%s%s", i ? ", " : "",
				  tn[e->args[i] & 127] ? tn[e->args[i] & 127] : "?");
		sb_printf(b, ") -> %s", tn[e->ret[0] & 127] ? tn[e->ret[0] & 127] : "?");
		if (e->ret[0] == 's')
			sb_printf(b, " slot %u", x);
		sb_printf(b, ", cost %u%s", e->cost, e->pure ? ", pure" : "");
		break;
	}
	case VSP_OPK_GOTO:
	case VSP_OPK_BRANCH:
		sb_printf(b, "-> %u", a);
		break;
	case VSP_OPK_EFFECT: {
		const struct vsp_effect_info *e = &im->effects[x];
		static const char *const kinds[] = { "log", "alert", "count" };

		sb_rule(b, im, a);
		sb_printf(b, " %s", (unsigned)e->kind < 3 ? kinds[e->kind] : "?");
		if (e->text) {
			sb_printf(b, " ");
			sb_quote(b, e->text, (uint32_t)strlen(e->text));
		}
		break;
	}
	case VSP_OPK_LEARN:
	case VSP_OPK_VRULE:
		sb_rule(b, im, a);
		break;
	case VSP_OPK_VERRNO: {
		const char *en = vsp_errno_name((int32_t)x);

		if (en)
			sb_printf(b, "%s ", en);
		else
			sb_printf(b, "%d ", (int32_t)x);
		sb_rule(b, im, a);
		break;
	}
	case VSP_OPK_VSTR:
		sb_quote(b, im->strs[x].ptr, im->strs[x].len);
		sb_printf(b, " ");
		sb_rule(b, im, a);
		break;
	}
}

static void header(const struct vsp_prog *pr, FILE *out)
{
	const struct vsp_event_key *k = &pr->key;
	const char *name = k->name ? k->name : "?";
	bool any = false;

	if (pr->is_default) {
		fprintf(out, "default");
	} else {
		switch (k->kind) {
		case VSP_EV_SYSCALL:
		case VSP_EV_HYPERCALL:
			fprintf(out, "event %s %s (nr %u)", vsp_event_kind_name(k->kind),
				name, k->nr);
			break;
		case VSP_EV_USER:
			fprintf(out, "event user \"%s\":%s", k->lib ? k->lib : "", name);
			break;
		case VSP_EV_WRITE:
			fprintf(out, "event write %s", name);
			if (k->lo >= 0)
				fprintf(out, "[%lld..%lld]", (long long)k->lo,
					(long long)k->hi);
			break;
		default:
			fprintf(out, "event %s %s", vsp_event_kind_name(k->kind), name);
		}
	}
	fprintf(out, ": %u instructions, at most %u steps, reads", pr->ncode,
		pr->max_steps);
	for (unsigned f = 0; f < VSP_F_COUNT; f++)
		if (pr->reads & VSP_FBIT(f)) {
			fprintf(out, " %s", field_names[f]);
			any = true;
		}
	fprintf(out, "%s\n", any ? "" : " nothing");
}

void vsp_prog_disasm(const struct vsp_image *im, const struct vsp_prog *pr,
		     FILE *out)
{
	header(pr, out);
	for (uint32_t pc = 0; pc < pr->ncode; pc++) {
		vsp_insn in = pr->code[pc];
		unsigned op = VSP_INS_OP(in);
		char ops[256];
		struct sbuf b = { ops, sizeof(ops), 0 };

		ops[0] = 0;
		if (op >= VSP_OPC_COUNT) {
			fprintf(out, "%5u  %-9s\n", pc, "???");
			continue;
		}
		operands(&b, im, in);
		if (pr->pos && pr->pos[pc].file < im->nfiles && pr->pos[pc].line)
			fprintf(out, "%5u  %-9s %-42s %s:%u\n", pc, vsp_opinfo[op].name, ops,
				im->files[pr->pos[pc].file], pr->pos[pc].line);
		else if (ops[0])
			fprintf(out, "%5u  %-9s %s\n", pc, vsp_opinfo[op].name, ops);
		else
			fprintf(out, "%5u  %s\n", pc, vsp_opinfo[op].name);
	}
	fprintf(out, "\n");
}
