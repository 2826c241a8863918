/*
 * emulate.h: one guest instruction run by the monitor in place of the
 * guest, so an allowed call leaves its trap without a single step.
 *
 * A step lifts the breakpoint, runs one instruction and puts the
 * breakpoint back: three round trips to the stub and a moment in which
 * the trap is out.  The first instruction of most functions is one of a
 * few simple kinds, and those are done here on the stopped vCPU's
 * registers instead, then the guest resumes after it:
 *
 *   skip       endbr64 and NOPs of any length      nothing but rip
 *   push       push %r64                           [rsp - 8], rsp
 *   mov-imm    mov $imm, %r32 / %r64               the register
 *   sub-rsp    sub $imm, %rsp                      rsp, the flags
 *   test       test %r, %r (64 or 32 bits)         the flags
 *   load-rip   mov disp(%rip), %r64                one read, the register
 *   cmp-rip    cmpb $imm8, disp(%rip)              one read, the flags
 *
 * Anything else (and any of these with a prefix or operand they do not
 * cover) decodes as VSP_EMU_NONE and is stepped as before.  The flags
 * are computed as the CPU sets them (tests/vmi/t_emulate.c checks them
 * against this machine's own instructions); AF, which `test` leaves
 * undefined, is cleared.
 */
#ifndef VSP_VMI_EMULATE_H
#define VSP_VMI_EMULATE_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmi/backend.h"
#include "vmi/kaslr.h"

enum vsp_emu_op {
	VSP_EMU_NONE,
	VSP_EMU_SKIP,
	VSP_EMU_PUSH,
	VSP_EMU_MOV_IMM,
	VSP_EMU_SUB_RSP,
	VSP_EMU_TEST,
	VSP_EMU_LOAD_RIP,
	VSP_EMU_CMP_RIP,
};

/* A decoded instruction, independent of where it is mapped: a rip-relative
 * operand is kept as its displacement from the next instruction. */
struct vsp_emu {
	uint8_t op;		/* enum vsp_emu_op */
	uint8_t len;		/* the instruction's bytes */
	uint8_t reg, reg2;	/* index into vsp_regs' rax..r15 */
	uint8_t width;		/* operand bytes: 1, 4 or 8 */
	int64_t imm;
	int64_t disp;
};

/* Decodes the instruction at code[0..n) (at addr, for Capstone) with a
 * handle that has CS_OPT_DETAIL on.  Always fills *e; false when it is
 * VSP_EMU_NONE. */
bool vsp_emu_decode(csh cs, const uint8_t *code, size_t n, uint64_t addr,
		    struct vsp_emu *e);

/* The name of e's kind ("push", ...), for messages and statistics. */
const char *vsp_emu_name(const struct vsp_emu *e);

/* Writes at most len bytes of guest memory at gva; returns how many. */
typedef long (*vsp_gwrite_fn)(void *ctx, uint64_t gva, const void *buf,
			      size_t len);

/*
 * Runs e, the instruction at r->rip, on r: its registers, its flags and,
 * for push, the stack through `write`; a rip-relative load through
 * `read`.  r->rip moves past the instruction.  0, or -1 when guest memory
 * could not be read or written (r is then unchanged).
 */
int vsp_emu_run(const struct vsp_emu *e, struct vsp_regs *r,
		vsp_gread_fn read, vsp_gwrite_fn write, void *ctx);

/* The flags `sub` and `test` leave for operands of `width` bytes, over
 * the others of rflags: what vsp_emu_run uses, exposed for tests. */
uint64_t vsp_emu_flags_sub(uint64_t rflags, uint64_t a, uint64_t b,
			   unsigned width);
uint64_t vsp_emu_flags_and(uint64_t rflags, uint64_t a, uint64_t b,
			   unsigned width);

#endif
