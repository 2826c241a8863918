/*
 * bytecode.h: the instruction encoding of the policy machine.
 *
 * One instruction is one 64-bit word:
 *
 *    63                               32 31                      8 7        0
 *   +-----------------------------------+-------------------------+----------+
 *   |              B (32 bits)          |       A (24 bits)       | op (8)   |
 *   +-----------------------------------+-------------------------+----------+
 *
 *   op  enum vsp_opcode (interp/opcodes.h)
 *   A   unsigned: a pool index, a field id, a jump target (absolute pc),
 *       a scratch slot or a rule index (VSP_RULE_DEFAULT for the default)
 *   B   a signed immediate, an errno, an effect index, a matcher group or
 *       a comparison, as the opcode's operand kind says
 *
 * Which of A and B an opcode uses is its operand kind (enum vsp_opk);
 * unused fields must be zero (the verifier checks).  Code reaches the
 * fields only through the macros below, so the layout can change here
 * alone.  Source locations are kept beside the code, one per pc
 * (struct vsp_srcpos in interp/program.h), not inside the word.
 */
#ifndef VSP_BYTECODE_H
#define VSP_BYTECODE_H

#include <stdint.h>
#include "interp/opcodes.h"

typedef uint64_t vsp_insn;

#define VSP_INS_OP_BITS 8
#define VSP_INS_A_BITS 24
#define VSP_INS_A_MAX ((1u << VSP_INS_A_BITS) - 1)

#define VSP_INS_OP(i) ((unsigned)((i) & 0xffu))
#define VSP_INS_A(i) ((uint32_t)(((i) >> VSP_INS_OP_BITS) & VSP_INS_A_MAX))
#define VSP_INS_B(i) ((uint32_t)((i) >> 32))
#define VSP_INS_SB(i) ((int32_t)VSP_INS_B(i))

#define VSP_INS(op, a, b)                                               \
	((vsp_insn)((uint64_t)(op) & 0xffu) |                           \
	 ((uint64_t)((uint32_t)(a) & VSP_INS_A_MAX) << VSP_INS_OP_BITS) | \
	 ((uint64_t)(uint32_t)(b) << 32))

/* A in a verdict or effect when the default (no rule) decides. */
#define VSP_RULE_DEFAULT VSP_INS_A_MAX

/* Largest program, in instructions: a jump target must fit in A. */
#define VSP_PROG_MAX VSP_INS_A_MAX

/* Operand stack depth the interpreter provides; deeper code is rejected
 * (the compiler reports an expression that would need more). */
#define VSP_VM_STACK 256

/* Scratch slots for built strings (lower()), each this many bytes. */
#define VSP_VM_SLOT_SIZE 4096
#define VSP_VM_SLOTS_MAX 64

#endif
