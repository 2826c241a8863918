/*
 * unwind_priv.h: the unwinder's own state, shared by unwind.c (ORC, the
 * walk, tail jumps, lifetime) and unwind_insn.c (jump labels and the
 * instruction analysis).  Not an interface: everyone else uses unwind.h.
 */
#ifndef VSP_UNWIND_PRIV_H
#define VSP_UNWIND_PRIV_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmi/unwind.h"

#define UW_FN_MAX (64u * 1024)	/* bytes of one function analysed */
#define UW_FN_ENTS 128		/* change points cached per function */
#define UW_UNK INT32_MIN	/* depth, fp or saved slot not known */
#define UW_STACK_SPAN (256u * 1024)	/* how far up from rsp a walk may go */
#define UW_KERNEL_HALF 0xff00000000000000ULL	/* with 5-level paging */
#define UW_WIN 2048		/* stack bytes fetched per guest read */
#define UW_SEEDS 16		/* entries into a cold part remembered */
#define UW_RETOK 512		/* checked return addresses remembered */

struct uw_state {
	int32_t depth;		/* rsp + depth = return address slot */
	int32_t fp;		/* rbp = slot - fp */
	int32_t saved;		/* caller's rbp at slot - saved */
};

struct uw_ent {
	uint32_t off;
	struct uw_state st;
};

struct uw_fn {
	uint64_t start;		/* run-time address; 0: empty slot */
	uint32_t len;		/* bytes analysed */
	uint16_t nent;
	bool overflow;		/* more change points than fit */
	bool indirect_tail;	/* has an indirect jump out */
	bool failed;		/* nothing could be decoded */
	uint64_t bloom[4];	/* direct jump targets outside the function */
	struct uw_ent ent[UW_FN_ENTS];
};

/* ORC, normalised from either on-disk layout. */
enum { ORC_REG_UNDEF = 0, ORC_REG_PREV_SP = 1, ORC_REG_DX = 2,
       ORC_REG_DI = 3, ORC_REG_BP = 4, ORC_REG_SP = 5, ORC_REG_R10 = 6,
       ORC_REG_R13 = 7, ORC_REG_BP_IND = 8, ORC_REG_SP_IND = 9 };
enum { ORC_T_UNDEF, ORC_T_END, ORC_T_CALL, ORC_T_REGS, ORC_T_REGS_PARTIAL };

struct uw_orc {
	int16_t sp_off, bp_off;
	uint8_t sp_reg, bp_reg, type;
};

/* A direct jump from inside function `from` to the start of `to`
 * (link-time addresses). */
struct uw_edge {
	uint64_t to, from;
};

#define UW_TAIL_LEVELS 3	/* tail jumps chained between call and callee */
#define UW_TAIL_FRONTIER 256

struct vsp_unwinder {
	const struct vsp_symtab *syms;
	const struct vsp_kimg *img;
	struct vsp_unwind_opts opts;
	enum vsp_unwind_src src;

	csh cs;
	cs_insn *insn;

	/* ORC tables, link-time, borrowed from the image mapping. */
	const int32_t *orc_ip;
	const unsigned char *orc;
	uint64_t orc_ip_addr;	/* link-time address of orc_ip[0] */
	size_t norc;
	bool orc_new_layout;
	void *orc_own;		/* tables copied from guest memory, or NULL */

	/* Analysis scratch, valid for the function in scratch_start. */
	uint8_t *code;
	struct uw_state *st;
	uint8_t *mark;		/* 0 unseen, 1 instruction start, 2 inside */
	uint32_t *work;
	struct uw_state *work_st;
	uint64_t scratch_start;
	uint32_t scratch_len;

	struct uw_fn *cache;
	uint32_t ncache;

	/* Jump-label sites (link-time): a NOP in the image that the kernel
	 * turns into a jump at run time, and that jump's target. */
	struct uw_edge *jl;	/* .from = site, .to = target; by site */
	size_t njl;

	/* Reverse tail-jump index over the image: who jumps to whom. */
	struct uw_edge *edges;
	size_t nedges;

	/* Jumps into [watch_lo, watch_hi) that a walk should note, with
	 * their states: the entries of a cold part (see uw_cold_entry). */
	uint64_t watch_lo, watch_hi;
	uint32_t nseeds;
	struct uw_ent seeds[UW_SEEDS];

	/* Return addresses already found to follow a call leading to the
	 * callee: (ret, callee) pairs, direct-mapped by ret. */
	struct uw_edge retok[UW_RETOK];

	/* Stack window (see uw_read8). */
	uint64_t win_base;
	uint32_t win_len;
	uint8_t win[UW_WIN];

	/* Per-unwind budget. */
	uint32_t steps, max_steps;
	bool out_of_steps;

	struct vsp_unwind_stats stats;
};

/* unwind_insn.c */
void uw_jl_setup(struct vsp_unwinder *u);
bool uw_bloom_has(const uint64_t *b, uint64_t a);
size_t uw_code(struct vsp_unwinder *u, uint64_t addr, void *buf,
	       size_t len, vsp_gread_fn read, void *ctx);
struct uw_fn *uw_fn_get(struct vsp_unwinder *u, uint64_t start,
			uint64_t size, const char *name,
			vsp_gread_fn read, void *ctx);
struct uw_state uw_fn_state(const struct vsp_unwinder *u,
			    const struct uw_fn *f, uint64_t ip);
bool uw_op_imm(const cs_x86 *x, int i, int64_t *v);
uint64_t uw_sym_start(const struct vsp_unwinder *u,
		      const struct vsp_sym *s);

#endif
