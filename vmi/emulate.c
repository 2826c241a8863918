/*
 * emulate.c: one guest instruction run in place of the guest (see
 * vmi/emulate.h).
 */
#include "vmi/emulate.h"

#include <string.h>

#define EMU_CF (1ull << 0)
#define EMU_PF (1ull << 2)
#define EMU_AF (1ull << 4)
#define EMU_ZF (1ull << 6)
#define EMU_SF (1ull << 7)
#define EMU_OF (1ull << 11)
#define EMU_ARITH (EMU_CF | EMU_PF | EMU_AF | EMU_ZF | EMU_SF | EMU_OF)

#define EMU_RSP 7	/* rsp's index in vsp_regs' rax..r15 */

/* A general register's index in vsp_regs' rax..r15 and its width in
 * bytes; false for any other register. */
static bool emu_reg(unsigned reg, uint8_t *idx, uint8_t *width)
{
	static const struct { unsigned r64, r32; } map[16] = {
		{ X86_REG_RAX, X86_REG_EAX }, { X86_REG_RBX, X86_REG_EBX },
		{ X86_REG_RCX, X86_REG_ECX }, { X86_REG_RDX, X86_REG_EDX },
		{ X86_REG_RSI, X86_REG_ESI }, { X86_REG_RDI, X86_REG_EDI },
		{ X86_REG_RBP, X86_REG_EBP }, { X86_REG_RSP, X86_REG_ESP },
		{ X86_REG_R8, X86_REG_R8D }, { X86_REG_R9, X86_REG_R9D },
		{ X86_REG_R10, X86_REG_R10D }, { X86_REG_R11, X86_REG_R11D },
		{ X86_REG_R12, X86_REG_R12D }, { X86_REG_R13, X86_REG_R13D },
		{ X86_REG_R14, X86_REG_R14D }, { X86_REG_R15, X86_REG_R15D },
	};
	for (uint8_t i = 0; i < 16; i++) {
		if (map[i].r64 == reg || map[i].r32 == reg) {
			*idx = i;
			*width = map[i].r64 == reg ? 8 : 4;
			return true;
		}
	}
	return false;
}

static uint64_t *emu_gpr(struct vsp_regs *r, uint8_t idx)
{
	return &r->rax + idx;
}

static uint64_t emu_mask(unsigned width)
{
	return width >= 8 ? ~0ull : (1ull << (8 * width)) - 1;
}

/* ZF, SF and PF of a result of `width` bytes, over rflags with the
 * arithmetic flags cleared. */
static uint64_t emu_zsp(uint64_t fl, uint64_t res, unsigned width)
{
	res &= emu_mask(width);
	if (res == 0)
		fl |= EMU_ZF;
	if (res >> (8 * width - 1) & 1)
		fl |= EMU_SF;
	if (!(__builtin_popcount((unsigned)(res & 0xff)) & 1))
		fl |= EMU_PF;
	return fl;
}

uint64_t vsp_emu_flags_sub(uint64_t rflags, uint64_t a, uint64_t b,
			   unsigned width)
{
	uint64_t m = emu_mask(width), top = 1ull << (8 * width - 1);
	uint64_t res = (a - b) & m, fl = rflags & ~EMU_ARITH;

	a &= m;
	b &= m;
	if (a < b)
		fl |= EMU_CF;
	if ((a ^ b) & (a ^ res) & top)
		fl |= EMU_OF;
	if ((a ^ b ^ res) & 0x10)
		fl |= EMU_AF;
	return emu_zsp(fl, res, width);
}

uint64_t vsp_emu_flags_and(uint64_t rflags, uint64_t a, uint64_t b,
			   unsigned width)
{
	return emu_zsp(rflags & ~EMU_ARITH, a & b, width);
}

/* Prefixes none of the other kinds takes (a lock or rep, a segment
 * override, a 16-bit operand or address): any of them makes the
 * instruction one to step. */
static bool emu_plain(const cs_x86 *x)
{
	return !x->prefix[0] && !x->prefix[1] && !x->prefix[2] && !x->prefix[3];
}

static bool emu_rip_mem(const cs_x86_op *op)
{
	return op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP &&
	       op->mem.index == X86_REG_INVALID &&
	       op->mem.segment == X86_REG_INVALID;
}

static void emu_classify(const cs_insn *in, struct vsp_emu *e)
{
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_op *op = x->operands;
	uint8_t w;

	switch (in->id) {
	case X86_INS_NOP:	/* any length, 0x66 prefixes included */
	case X86_INS_ENDBR64:
		e->op = VSP_EMU_SKIP;
		return;
	default:
		break;
	}
	if (!emu_plain(x))
		return;
	switch (in->id) {
	case X86_INS_PUSH:
		if (x->op_count == 1 && op[0].type == X86_OP_REG &&
		    emu_reg(op[0].reg, &e->reg, &w) && w == 8) {
			e->op = VSP_EMU_PUSH;
			e->width = 8;
		}
		break;
	case X86_INS_MOV:
	case X86_INS_MOVABS:
		if (x->op_count != 2 || op[0].type != X86_OP_REG ||
		    !emu_reg(op[0].reg, &e->reg, &w))
			break;
		if (op[1].type == X86_OP_IMM) {
			e->op = VSP_EMU_MOV_IMM;
			e->width = w;
			e->imm = op[1].imm;
		} else if (w == 8 && op[1].size == 8 && emu_rip_mem(&op[1])) {
			e->op = VSP_EMU_LOAD_RIP;
			e->width = 8;
			e->disp = op[1].mem.disp;
		}
		break;
	case X86_INS_SUB:
		if (x->op_count == 2 && op[0].type == X86_OP_REG &&
		    op[0].reg == X86_REG_RSP && op[1].type == X86_OP_IMM) {
			e->op = VSP_EMU_SUB_RSP;
			e->reg = EMU_RSP;
			e->width = 8;
			e->imm = op[1].imm;
		}
		break;
	case X86_INS_TEST:
		if (x->op_count == 2 && op[0].type == X86_OP_REG &&
		    op[1].type == X86_OP_REG && emu_reg(op[0].reg, &e->reg, &w) &&
		    emu_reg(op[1].reg, &e->reg2, &e->width) && w == e->width)
			e->op = VSP_EMU_TEST;
		break;
	case X86_INS_CMP:
		if (x->op_count == 2 && op[0].size == 1 && emu_rip_mem(&op[0]) &&
		    op[1].type == X86_OP_IMM) {
			e->op = VSP_EMU_CMP_RIP;
			e->width = 1;
			e->disp = op[0].mem.disp;
			e->imm = op[1].imm;
		}
		break;
	default:
		break;
	}
}

bool vsp_emu_decode(csh cs, const uint8_t *code, size_t n, uint64_t addr,
		    struct vsp_emu *e)
{
	cs_insn *in = NULL;

	memset(e, 0, sizeof *e);
	size_t k = cs_disasm(cs, code, n, addr, 1, &in);
	if (k == 1 && in[0].detail) {
		emu_classify(&in[0], e);
		e->len = (uint8_t)in[0].size;
	}
	if (k)
		cs_free(in, k);
	if (e->op == VSP_EMU_NONE)
		e->len = 0;
	return e->op != VSP_EMU_NONE;
}

const char *vsp_emu_name(const struct vsp_emu *e)
{
	static const char *const names[] = {
		[VSP_EMU_NONE] = "step", [VSP_EMU_SKIP] = "skip",
		[VSP_EMU_PUSH] = "push", [VSP_EMU_MOV_IMM] = "mov-imm",
		[VSP_EMU_SUB_RSP] = "sub-rsp", [VSP_EMU_TEST] = "test",
		[VSP_EMU_LOAD_RIP] = "load-rip", [VSP_EMU_CMP_RIP] = "cmp-rip",
	};
	return e->op < sizeof names / sizeof names[0] ? names[e->op] : "?";
}

int vsp_emu_run(const struct vsp_emu *e, struct vsp_regs *r,
		vsp_gread_fn read, vsp_gwrite_fn write, void *ctx)
{
	uint64_t next = r->rip + e->len, v = 0;
	uint8_t b;

	switch (e->op) {
	case VSP_EMU_SKIP:
		break;
	case VSP_EMU_PUSH:
		v = *emu_gpr(r, e->reg);
		if (write(ctx, r->rsp - 8, &v, 8) != 8)
			return -1;
		r->rsp -= 8;
		break;
	case VSP_EMU_MOV_IMM:
		/* A 32-bit destination zero-extends; a 64-bit one takes the
		 * immediate sign-extended, as Capstone gives it. */
		*emu_gpr(r, e->reg) = (uint64_t)e->imm & emu_mask(e->width);
		break;
	case VSP_EMU_SUB_RSP:
		r->rflags = vsp_emu_flags_sub(r->rflags, r->rsp,
					      (uint64_t)e->imm, 8);
		r->rsp -= (uint64_t)e->imm;
		break;
	case VSP_EMU_TEST:
		r->rflags = vsp_emu_flags_and(r->rflags, *emu_gpr(r, e->reg),
					      *emu_gpr(r, e->reg2), e->width);
		break;
	case VSP_EMU_LOAD_RIP:
		if (vsp_gread_all(read, ctx, next + (uint64_t)e->disp, &v, 8) < 0)
			return -1;
		*emu_gpr(r, e->reg) = v;
		break;
	case VSP_EMU_CMP_RIP:
		if (vsp_gread_all(read, ctx, next + (uint64_t)e->disp, &b, 1) < 0)
			return -1;
		r->rflags = vsp_emu_flags_sub(r->rflags, b, (uint64_t)e->imm, 1);
		break;
	default:
		return -1;
	}
	r->rip = next;
	return 0;
}
