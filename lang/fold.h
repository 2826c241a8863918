/*
 * fold.h: the operators of the syntax tree as the checker (lang/check.c)
 * and the compiler (lang/compile.c) fold them.
 *
 * The integer arithmetic is the interpreter's own (interp/arith.h),
 * reached through the opcode the compiler emits for the operator, so the
 * checker's constants, the compiler's and the running program's agree.
 */
#ifndef VSP_FOLD_H
#define VSP_FOLD_H

#include <stdbool.h>
#include <stdint.h>
#include "lang/ast.h"

/* The opcode of an operator that has one of its own (arithmetic, bitwise,
 * NEG and BNOT, startswith, endswith, contains); VSP_OPC_COUNT for the
 * others (comparisons, and, or, not, in, matches). */
unsigned vsp_op_opcode(enum vsp_op op);

/* a OP b for a binary integer operator, OP a for `-` and `~` (b unused).
 * False when OP is no integer operator or has no value for these
 * operands (x / 0, a shift count outside 0..63): left to run time. */
bool vsp_fold_int(enum vsp_op op, int64_t a, int64_t b, int64_t *out);

#endif
