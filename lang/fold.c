/*
 * fold.c: the operators of the syntax tree mapped onto the interpreter's
 * (lang/fold.h).
 */
#include "interp/arith.h"
#include "lang/fold.h"

unsigned vsp_op_opcode(enum vsp_op op)
{
	switch (op) {
	case VSP_OP_NEG: return VSP_OPC_NEG;
	case VSP_OP_BNOT: return VSP_OPC_BNOT;
	case VSP_OP_BOR: return VSP_OPC_BOR;
	case VSP_OP_BXOR: return VSP_OPC_BXOR;
	case VSP_OP_BAND: return VSP_OPC_BAND;
	case VSP_OP_SHL: return VSP_OPC_SHL;
	case VSP_OP_SHR: return VSP_OPC_SHR;
	case VSP_OP_ADD: return VSP_OPC_ADD;
	case VSP_OP_SUB: return VSP_OPC_SUB;
	case VSP_OP_MUL: return VSP_OPC_MUL;
	case VSP_OP_DIV: return VSP_OPC_DIV;
	case VSP_OP_MOD: return VSP_OPC_MOD;
	case VSP_OP_STARTSWITH: return VSP_OPC_PREFIX;
	case VSP_OP_ENDSWITH: return VSP_OPC_SUFFIX;
	case VSP_OP_CONTAINS: return VSP_OPC_CONTAINS;
	default: return VSP_OPC_COUNT;
	}
}

bool vsp_fold_int(enum vsp_op op, int64_t a, int64_t b, int64_t *out)
{
	return vsp_arith(vsp_op_opcode(op), a, b, out);
}
