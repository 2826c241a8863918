/*
 * program.h: compiled policy images, and the verifier and interpreter that
 * run them.
 *
 * The compiler (lang/compile.c) turns a checked unit into one struct
 * vsp_image: constant pools shared by every program, and one struct
 * vsp_prog per event a rule names plus one default program for every other
 * event.  The verifier proves a program safe and states its worst-case
 * step count; the interpreter runs only verified programs; the engine
 * (engine/policy.c) wraps all of it behind engine/engine.h.
 *
 * The verifier takes raw programs too (tests, fuzzing): an image need not
 * come from the compiler, and anything the verifier accepts the
 * interpreter runs to a verdict within max_steps with no access out of
 * bounds.
 *
 * Ownership: an image owns its pools, programs and tables;
 * vsp_image_free() releases everything.
 */
#ifndef VSP_PROGRAM_H
#define VSP_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "interp/bytecode.h"
#include "base/rules.h"

struct vsp_iset;
struct vsp_sset;
struct vsp_matcher;
struct vsp_fop;
struct vsp_pathset;

/* Where an instruction came from: file index into image->files. */
struct vsp_srcpos {
	uint32_t file;
	uint32_t line;
};

/* An effect or learn site of a program, in pc order (for the cache). */
struct vsp_site {
	uint32_t rule;
	uint32_t effect;	/* VSP_SITE_LEARN for a LEARN */
};
#define VSP_SITE_LEARN UINT32_MAX

struct vsp_prog {
	vsp_insn *code;
	uint32_t ncode;
	struct vsp_srcpos *pos;	/* ncode entries, or NULL */

	/* What the program is for. */
	struct vsp_event_key key;
	bool is_default;	/* the program of every unnamed event */

	/* Set by vsp_verify(). */
	bool verified;
	uint32_t max_steps;	/* longest path, in instructions */
	uint32_t max_stack;
	vsp_fmask reads;	/* bit VSP_FBIT(f): fields read */
	bool reads_stack_path;	/* ARISE: reads the call path */
	bool impure;		/* XCALL of an extern not declared pure */
	struct vsp_site *sites;	/* FIRE and LEARN in pc order */
	uint32_t nsites;

	/* Set by vsp_vm_specialise(): the same program as fused operations,
	 * or NULL when some instruction has no fused form. */
	struct vsp_fop *fops;
	uint32_t nfops;
	bool costly;		/* globs, matchers, substring search...: worth caching */
};

/*
 * A fused operation: a run of bytecode of one common shape, decided at
 * load time, so the hot shapes (an integer field compared with a
 * constant, under a mask or not; set membership; a shared matcher's
 * group; string equality and prefix tests) cost one dispatch instead of
 * four to six.  Jumps name fused indices.  `steps` is how many bytecode
 * instructions the operation stands for, so a decision reports the same
 * step count either way.
 */
enum vsp_fop_kind {
	VSP_FOP_TEST,		/* (field & mask) cmp k; branch */
	VSP_FOP_TESTX,		/* the same, field read through vsp_vm_field_int */
	VSP_FOP_ISET,		/* field in int set a; branch */
	VSP_FOP_SCMP,		/* string field cmp string constant a; branch */
	VSP_FOP_PREFIX,		/* string field starts with constant a; branch */
	VSP_FOP_SUFFIX,		/* string field ends with constant a; branch */
	VSP_FOP_SSET,		/* string field in string set a; branch */
	VSP_FOP_MATCHF,		/* matcher a, group b; branch */
	VSP_FOP_ARISE,		/* path set a; branch */
	VSP_FOP_JMP,
	VSP_FOP_FIRE,		/* rule a, effect b */
	VSP_FOP_LEARN,		/* rule a */
	VSP_FOP_VERDICT		/* verdict b, rule a, value k, redirect string */
};

struct vsp_fop {
	uint8_t kind;		/* enum vsp_fop_kind */
	uint8_t cmp;		/* enum vsp_cmp */
	uint8_t jump_if;	/* branch when the test is this (0 or 1) */
	uint8_t field;		/* enum vsp_field */
	uint16_t off;		/* TEST: byte offset of the field in the event */
	uint16_t steps;
	uint32_t target;	/* fused index */
	uint32_t a, b;
	int64_t mask, k;
};

/* One operand stack slot of the interpreter.  Ints and bools use i;
 * strings use p and len (a borrowed view). */
struct vsp_val {
	int64_t i;
	const char *p;
	uint32_t len;
};

/*
 * An extern function (language.md, "Extern functions"): what the policy
 * declared, and what interp/extern.c bound at load.  The table is load-time
 * data: XCALL names an entry by index (checked by the verifier), and only
 * an entry that vsp_ext_bind() bound can be called, so no bytecode can
 * reach an arbitrary pointer.
 */
#define VSP_EXT_MAX_ARGS 8

struct vsp_ext_host;

struct vsp_extern {
	char *name;		/* the function and its symbol */
	char *lib;		/* the library as written */
	char *path;		/* the file it was loaded from */
	char args[VSP_EXT_MAX_ARGS + 1];	/* argument types: 'i' 'b' 's' */
	char ret[2];		/* the result type */
	uint8_t nargs;
	uint32_t cost;		/* steps charged per call */
	bool pure;		/* its decisions may be cached */
	/* Set by vsp_ext_bind(): */
	bool bound;
	void (*fn)(void);	/* in process: the symbol */
	void *cif;		/* in process: its ffi_cif */
};

struct vsp_globlist {
	struct vsp_str *globs;	/* point into image->strs storage */
	uint32_t n;
};

struct vsp_image {
	int64_t *ints;
	uint32_t nints;
	struct vsp_str *strs;	/* each NUL-terminated after len, owned */
	uint32_t nstrs;
	struct vsp_iset **isets;
	uint32_t nisets;
	struct vsp_sset **ssets;
	uint32_t nssets;
	struct vsp_globlist *globlists;
	uint32_t nglobs;
	struct vsp_matcher **matchers;
	enum vsp_field *mfield;	/* MATCHF: the field each matcher tests */
	uint32_t nmatchers;
	struct vsp_pathset **pathsets;
	uint32_t npathsets;
	uint32_t nslots;	/* scratch slots LOWER and XCALL may name */
	struct vsp_extern *externs;
	uint32_t nexterns;
	struct vsp_ext_host *ext_host;	/* --extern-isolate: the child */

	char **files;		/* source files, for struct vsp_srcpos */
	uint32_t nfiles;

	struct vsp_prog *progs;	/* the default program is progs[0] */
	uint32_t nprogs;

	/* Rules and effects, for the engine. */
	struct vsp_rule_info *rules;
	uint32_t nrules;
	struct vsp_effect_info *effects;
	int32_t *effect_counter;	/* count effects: counter index, else -1 */
	uint32_t neffects;
	char **counters;
	uint32_t ncounters;
	enum vsp_mode mode;	/* the mode the code was compiled for */
};

void vsp_image_free(struct vsp_image *im);

/*
 * The type strings instruction `in` pops and pushes (interp/opcodes.h):
 * the opcode table's, or for XCALL its extern's declaration.  For XCALL,
 * A must already be known to be in range (the verifier's decode pass).
 */
static inline void vsp_insn_stack(const struct vsp_image *im, vsp_insn in,
				  const char **pops, const char **pushes)
{
	unsigned op = VSP_INS_OP(in);

	if (op == VSP_OPC_XCALL) {
		*pops = im->externs[VSP_INS_A(in)].args;
		*pushes = im->externs[VSP_INS_A(in)].ret;
		return;
	}
	*pops = vsp_opinfo[op].pops;
	*pushes = vsp_opinfo[op].pushes;
}

/*
 * Verifies one program against its image.  Returns 0 and fills the
 * verifier's fields of `pr`, or -1 with a message naming the instruction
 * ("pc 12: jump out of range") in err.  Never crashes on any input.
 */
int vsp_verify(const struct vsp_image *im, struct vsp_prog *pr, char *err,
	       size_t errlen);

/*
 * Per-policy scratch the interpreter writes while deciding, allocated at
 * load so deciding never allocates.
 */
struct vsp_vm_scratch {
	char (*slots)[VSP_VM_SLOT_SIZE];
	uint32_t nslots;
	uint64_t *memo;		/* per matcher: the last answer */
	uint64_t *memo_gen;	/* per matcher: the event it was for */
	uint32_t nmemo;
	uint64_t gen;		/* bumped per run */
	bool ext_failed;	/* an extern call of the last run failed */
};

int vsp_vm_scratch_init(struct vsp_vm_scratch *s, const struct vsp_image *im);
void vsp_vm_scratch_release(struct vsp_vm_scratch *s);

/*
 * Runs a verified program on one event and fills the decision (verdict,
 * rule, value, redirect, fired, learn, flagged, partial, steps).
 */
void vsp_vm_run(const struct vsp_image *im, const struct vsp_prog *pr,
		struct vsp_vm_scratch *s, struct vsp_event *ev,
		struct vsp_decision *out);

/*
 * The string value of field f of ev as the interpreter sees it (lazy
 * fetch included).  For string fields only; used by the engine's cache key
 * and message formatting too.
 */
struct vsp_str vsp_vm_field_str(struct vsp_event *ev, enum vsp_field f);
int64_t vsp_vm_field_int(const struct vsp_event *ev, enum vsp_field f);

/*
 * The lazy fetch of string field f (VSP_F_STR0..STR5 or VSP_F_PATH) as
 * vsp_vm_field_str() does it, inline for the engine's cache key: asks the
 * backend once per event, remembers the answer, and on a failed read
 * gives the empty string and marks the event partial.
 */
/* As vsp_vm_fetch_str, with VSP_FBIT(f) worked out by the caller: a
 * 128-bit shift by a variable saved on a hot path. */
static inline struct vsp_str vsp_vm_fetch_str_bit(struct vsp_event *ev,
						  enum vsp_field f,
						  vsp_fmask bit)
{
	struct vsp_str s = { "", 0 };

	if (ev->strs_valid & bit)
		return ev->strs[f];
	if (!ev->fetch || ev->fetch(ev->fetch_ctx, ev, f, &s) != 0 ||
	    (!s.ptr && s.len)) {
		s = (struct vsp_str){ "", 0 };
		ev->partial = true;
		/* A resolved integer that could not be read is -1, as an
		 * unreadable process id is. */
		if (vsp_field_is_rint(f))
			ev->rint[f - VSP_F_RINT_FIRST] = -1;
		ev->strs_failed |= bit;
	}
	if (!s.ptr)
		s.ptr = "";
	/* Member by member: the callback stored s in two writes, and one
	 * 16-byte copy of it would stall on store forwarding (10+ ns). */
	ev->strs[f].ptr = s.ptr;
	ev->strs[f].len = s.len;
	ev->strs_valid |= bit;
	return s;
}

static inline struct vsp_str vsp_vm_fetch_str(struct vsp_event *ev, enum vsp_field f)
{
	return vsp_vm_fetch_str_bit(ev, f, VSP_FBIT(f));
}
/* Byte offset of integer field f in struct vsp_event when it is stored as
 * a plain 8-byte word there, else -1 (for specialised readers). */
int vsp_vm_field_offset(enum vsp_field f);

/*
 * Builds pr->fops from verified code when every instruction falls into a
 * fused shape (costly is set either way).  0, or -1 when out of memory;
 * a program without a fused form is not an error.
 */
int vsp_vm_specialise(const struct vsp_image *im, struct vsp_prog *pr);

/* Runs pr->fops: the same decision as vsp_vm_run() gives, steps included. */
void vsp_vm_run_fused(const struct vsp_image *im, const struct vsp_prog *pr,
		      struct vsp_vm_scratch *s, struct vsp_event *ev,
		      struct vsp_decision *out);

/* Disassembles one program (the format is in interp/disasm.c). */
void vsp_prog_disasm(const struct vsp_image *im, const struct vsp_prog *pr,
		     FILE *out);

#endif
