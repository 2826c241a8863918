/*
 * arith.h: the language's integer operators, written once.
 *
 * The interpreter (interp/vm.c) runs them, and the checker and the
 * compiler (lang/fold.c) fold constants with them, so a folded constant
 * is the value the program would have computed.  Arithmetic wraps (two's
 * complement); `>>` is arithmetic; x / -1 is -x and x % -1 is 0, even for
 * the smallest x.  An operator without a value here (x / 0, x % 0, a
 * shift count outside 0..63) returns false: the interpreter then gives 0
 * and flags the decision, a fold leaves the operation to run time.
 *
 * Inline with a constant opcode, as the interpreter calls it, each use
 * compiles to the one operation.
 */
#ifndef VSP_ARITH_H
#define VSP_ARITH_H

#include <stdbool.h>
#include <stdint.h>
#include "interp/opcodes.h"

/* a OP b for a binary integer opcode, or OP a for NEG and BNOT (b
 * unused).  False for any other opcode. */
static inline bool vsp_arith(unsigned op, int64_t a, int64_t b, int64_t *out)
{
	uint64_t ua = (uint64_t)a, ub = (uint64_t)b;

	switch (op) {
	case VSP_OPC_NEG: *out = (int64_t)(0 - ua); return true;
	case VSP_OPC_BNOT: *out = ~a; return true;
	case VSP_OPC_BOR: *out = (int64_t)(ua | ub); return true;
	case VSP_OPC_BXOR: *out = (int64_t)(ua ^ ub); return true;
	case VSP_OPC_BAND: *out = (int64_t)(ua & ub); return true;
	case VSP_OPC_ADD: *out = (int64_t)(ua + ub); return true;
	case VSP_OPC_SUB: *out = (int64_t)(ua - ub); return true;
	case VSP_OPC_MUL: *out = (int64_t)(ua * ub); return true;
	case VSP_OPC_DIV:
		if (b == 0)
			return false;
		*out = b == -1 ? (int64_t)(0 - ua) : a / b;
		return true;
	case VSP_OPC_MOD:
		if (b == 0)
			return false;
		*out = b == -1 ? 0 : a % b;
		return true;
	case VSP_OPC_SHL:
		if (b < 0 || b > 63)
			return false;
		*out = (int64_t)(ua << b);
		return true;
	case VSP_OPC_SHR:
		if (b < 0 || b > 63)
			return false;
		*out = a < 0 ? ~(~a >> b) : a >> b;
		return true;
	default:
		return false;
	}
}

#endif
