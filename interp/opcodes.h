/*
 * opcodes.h: every opcode of the policy machine, defined once.
 *
 * The compiler (lang/compile.c) emits these, the verifier (interp/verify.c)
 * checks them, the interpreter (interp/vm.c) runs them and the disassembler
 * (interp/disasm.c) prints them; all four read this one list, so an opcode
 * cannot exist in one and be missing from another.  Each entry is
 *
 *   OP(NAME, operand kind, pops, pushes)
 *
 * where the operand kind (VSP_OPK_*) says what the A and B fields of the
 * instruction hold (interp/bytecode.h), and `pops` / `pushes` are type
 * strings, top of stack last: 'i' int, 'b' bool, 's' string, 'l' list of
 * strings, 'a' any type and 'x' int or bool (every 'a' or 'x' of one
 * instruction stands for the same type).  Their lengths are the stack
 * effect; "*" (XCALL only) means the extern's declaration gives them
 * (vsp_insn_stack() in interp/program.h).  The comment before each entry
 * documents it in a fixed form,
 *
 *   NAME A B: effect
 *
 * (A and B name the operands, "-" when unused), so a reference of the
 * instruction set can be extracted from this file mechanically.
 *
 * Operand kinds that end a path (VSP_OPK_V*) are verdicts: every path
 * through a program ends in exactly one of them.  VSP_OPK_GOTO is an
 * unconditional forward jump, VSP_OPK_BRANCH a conditional one.
 */
#ifndef VSP_OPCODES_H
#define VSP_OPCODES_H

enum vsp_opk {
	VSP_OPK_NONE,		/* A and B unused (zero) */
	VSP_OPK_IMM,		/* B: signed 32-bit immediate */
	VSP_OPK_BOOL,		/* B: 0 or 1 */
	VSP_OPK_KINT,		/* A: index into the int pool */
	VSP_OPK_KSTR,		/* A: index into the string pool */
	VSP_OPK_FIELD,		/* A: enum vsp_field */
	VSP_OPK_CMP,		/* B: enum vsp_cmp */
	VSP_OPK_SLOT,		/* A: scratch slot for a built string */
	VSP_OPK_ISET,		/* A: index into the int-set pool */
	VSP_OPK_SSET,		/* A: index into the string-set pool */
	VSP_OPK_GLOBS,		/* A: index into the glob-list pool */
	VSP_OPK_MATCH,		/* A: matcher, B: group (0..63) */
	VSP_OPK_PATHSET,	/* A: index into the call-path set pool */
	VSP_OPK_EXTERN,		/* A: extern table index, B: scratch slot of a
				 * string result (else 0) */
	VSP_OPK_GOTO,		/* A: target pc, greater than this pc */
	VSP_OPK_BRANCH,		/* A: target pc, greater than this pc */
	VSP_OPK_EFFECT,		/* A: rule, B: effect */
	VSP_OPK_LEARN,		/* A: rule */
	VSP_OPK_VRULE,		/* verdict; A: rule or VSP_RULE_DEFAULT */
	VSP_OPK_VERRNO,		/* verdict; A: rule, B: errno */
	VSP_OPK_VSTR,		/* verdict; A: rule, B: string pool index */
	VSP_OPK_COUNT
};

/* Comparisons shared by CMP (ints) and SCMP (strings, bytewise). */
enum vsp_cmp {
	VSP_CMP_EQ, VSP_CMP_NE, VSP_CMP_LT, VSP_CMP_LE, VSP_CMP_GT, VSP_CMP_GE,
	VSP_CMP_COUNT
};

#define VSP_OPCODE_LIST(OP)                                              \
	/* PUSHI - B: push the immediate B as an int */                      \
	OP(PUSHI, VSP_OPK_IMM, "", "i")                                      \
	/* PUSHK A -: push int constant A */                                 \
	OP(PUSHK, VSP_OPK_KINT, "", "i")                                     \
	/* PUSHB - B: push the bool B */                                     \
	OP(PUSHB, VSP_OPK_BOOL, "", "b")                                     \
	/* PUSHS A -: push string constant A */                              \
	OP(PUSHS, VSP_OPK_KSTR, "", "s")                                     \
	/* LDI A -: push int field A of the event */                         \
	OP(LDI, VSP_OPK_FIELD, "", "i")                                      \
	/* LDB A -: push bool field A (event.partial: some string field the  \
	   program reads could not be read) */                              \
	OP(LDB, VSP_OPK_FIELD, "", "b")                                      \
	/* LDS A -: push string field A (fetched once per event, before the  \
	   program runs; a failed read gives "" and marks the event partial) */\
	OP(LDS, VSP_OPK_FIELD, "", "s")                                      \
	/* LDL A -: push list field A (the call stack) */                    \
	OP(LDL, VSP_OPK_FIELD, "", "l")                                      \
	/* POP - -: drop the top of stack */                                 \
	OP(POP, VSP_OPK_NONE, "a", "")                                       \
	/* DUP - -: push a copy of the top of stack */                       \
	OP(DUP, VSP_OPK_NONE, "a", "aa")                                     \
	/* NOT - -: boolean negation */                                      \
	OP(NOT, VSP_OPK_NONE, "b", "b")                                      \
	/* NEG - -: integer negation (wraps) */                              \
	OP(NEG, VSP_OPK_NONE, "i", "i")                                      \
	/* BNOT - -: bitwise complement */                                   \
	OP(BNOT, VSP_OPK_NONE, "i", "i")                                     \
	/* ADD - -: a + b, wrapping */                                       \
	OP(ADD, VSP_OPK_NONE, "ii", "i")                                     \
	/* SUB - -: a - b, wrapping */                                       \
	OP(SUB, VSP_OPK_NONE, "ii", "i")                                     \
	/* MUL - -: a * b, wrapping */                                       \
	OP(MUL, VSP_OPK_NONE, "ii", "i")                                     \
	/* DIV - -: a / b; b == 0 gives 0 and flags the decision */          \
	OP(DIV, VSP_OPK_NONE, "ii", "i")                                     \
	/* MOD - -: a % b; b == 0 gives 0 and flags the decision */          \
	OP(MOD, VSP_OPK_NONE, "ii", "i")                                     \
	/* BAND - -: a & b */                                                \
	OP(BAND, VSP_OPK_NONE, "ii", "i")                                    \
	/* BOR - -: a | b */                                                 \
	OP(BOR, VSP_OPK_NONE, "ii", "i")                                     \
	/* BXOR - -: a ^ b */                                                \
	OP(BXOR, VSP_OPK_NONE, "ii", "i")                                    \
	/* SHL - -: a << b; b outside 0..63 gives 0 and flags */             \
	OP(SHL, VSP_OPK_NONE, "ii", "i")                                     \
	/* SHR - -: a >> b (arithmetic); b outside 0..63 gives 0, flags */   \
	OP(SHR, VSP_OPK_NONE, "ii", "i")                                     \
	/* CMP - B: compare two ints or two bools with B */                  \
	OP(CMP, VSP_OPK_CMP, "xx", "b")                                      \
	/* SCMP - B: compare two strings bytewise with B */                  \
	OP(SCMP, VSP_OPK_CMP, "ss", "b")                                     \
	/* PREFIX - -: a starts with b */                                    \
	OP(PREFIX, VSP_OPK_NONE, "ss", "b")                                  \
	/* SUFFIX - -: a ends with b */                                      \
	OP(SUFFIX, VSP_OPK_NONE, "ss", "b")                                  \
	/* CONTAINS - -: b occurs in a */                                    \
	OP(CONTAINS, VSP_OPK_NONE, "ss", "b")                                \
	/* LEN - -: length of a string in bytes */                           \
	OP(LEN, VSP_OPK_NONE, "s", "i")                                      \
	/* LOWER A -: ASCII lower case, built in scratch slot A */           \
	OP(LOWER, VSP_OPK_SLOT, "s", "s")                                    \
	/* BASENAME - -: last path component (POSIX basename) */             \
	OP(BASENAME, VSP_OPK_NONE, "s", "s")                                 \
	/* DIRNAME - -: all but the last component (POSIX dirname) */        \
	OP(DIRNAME, VSP_OPK_NONE, "s", "s")                                  \
	/* INI A -: the int is in hashed int set A */                        \
	OP(INI, VSP_OPK_ISET, "i", "b")                                      \
	/* INS A -: the string is in hashed string set A */                  \
	OP(INS, VSP_OPK_SSET, "s", "b")                                      \
	/* INL - -: the string a is an element of the list b */              \
	OP(INL, VSP_OPK_NONE, "sl", "b")                                     \
	/* GLOB A -: the string matches glob A (string pool), directly */    \
	OP(GLOB, VSP_OPK_KSTR, "s", "b")                                     \
	/* GLOBS A -: the string matches some glob of glob list A */         \
	OP(GLOBS, VSP_OPK_GLOBS, "s", "b")                                   \
	/* MATCH A B: the string matches a pattern of group B of matcher A */\
	OP(MATCH, VSP_OPK_MATCH, "s", "b")                                   \
	/* MATCHF A B: matcher A's own field matches a pattern of group B;   \
	   the matcher runs once per event and its answer is reused */       \
	OP(MATCHF, VSP_OPK_MATCH, "", "b")                                   \
	/* ARISE A -: the call path (stack without its first entry) matches  \
	   a pattern of path set A; no call path matches nothing */          \
	OP(ARISE, VSP_OPK_PATHSET, "", "b")                                  \
	/* XCALL A B: call extern A on its arguments (popped, first pushed   \
	   first), push its result (a string result built in slot B); costs \
	   the extern's declared steps; a failed call gives 0, false or ""   \
	   and marks the event partial */                                    \
	OP(XCALL, VSP_OPK_EXTERN, "*", "*")                                  \
	/* JMP A -: go to A */                                               \
	OP(JMP, VSP_OPK_GOTO, "", "")                                        \
	/* JZ A -: pop; go to A when false */                                \
	OP(JZ, VSP_OPK_BRANCH, "b", "")                                      \
	/* JNZ A -: pop; go to A when true */                                \
	OP(JNZ, VSP_OPK_BRANCH, "b", "")                                     \
	/* FIRE A B: effect B of rule A fires */                             \
	OP(FIRE, VSP_OPK_EFFECT, "", "")                                     \
	/* LEARN A -: learn mode: rule A asks for this call path */          \
	OP(LEARN, VSP_OPK_LEARN, "", "")                                     \
	/* ALLOW A -: verdict allow, decided by rule A */                    \
	OP(ALLOW, VSP_OPK_VRULE, "", "")                                     \
	/* DENY A B: verdict deny with errno B */                            \
	OP(DENY, VSP_OPK_VERRNO, "", "")                                     \
	/* RETV A -: verdict return, the value popped */                     \
	OP(RETV, VSP_OPK_VRULE, "i", "")                                     \
	/* REDIR A B: verdict redirect to string constant B */               \
	OP(REDIR, VSP_OPK_VSTR, "", "")                                      \
	/* RETS A -: verdict return, the string popped (vsp repl's eval) */  \
	OP(RETS, VSP_OPK_VRULE, "s", "")                                     \
	/* KILL A -: verdict kill */                                         \
	OP(KILL, VSP_OPK_VRULE, "", "")                                      \
	/* PAUSE A -: verdict pause */                                       \
	OP(PAUSE, VSP_OPK_VRULE, "", "")

enum vsp_opcode {
#define VSP_OP_ENUM(name, kind, pops, pushes) VSP_OPC_##name,
	VSP_OPCODE_LIST(VSP_OP_ENUM)
#undef VSP_OP_ENUM
	VSP_OPC_COUNT
};

struct vsp_opinfo {
	const char *name;	/* mnemonic */
	enum vsp_opk kind;
	const char *pops, *pushes;	/* type strings, top last */
	unsigned char npops, npushes;
};

/* Indexed by enum vsp_opcode; defined in interp/verify.c. */
extern const struct vsp_opinfo vsp_opinfo[VSP_OPC_COUNT];

static inline int vsp_opk_is_verdict(enum vsp_opk k)
{
	return k == VSP_OPK_VRULE || k == VSP_OPK_VERRNO || k == VSP_OPK_VSTR;
}

#endif
