/*
 * unwind.c: call paths from a kernel stack, by ORC tables or by
 * instruction analysis (see unwind.h for the why).
 *
 * Instruction analysis computes, for every instruction of a function, a
 * small state: the stack depth (bytes from rsp up to the return address
 * slot), the frame pointer's distance below that slot when the function has
 * made rbp one, and where it saved its caller's rbp.  The walk follows the
 * function's own branches from its entry (a worklist over a per-byte state
 * array, each instruction decoded once), stops paths at returns, indirect
 * and tail jumps, and then compresses the per-instruction states into a
 * table of change points that goes into a fixed, direct-mapped cache.  The
 * same walk remembers the function's tail-jump targets in a small Bloom
 * filter, which the return-address check uses to accept tail calls.
 *
 * ORC entries are the kernel's: for an instruction address, how to find the
 * previous frame's stack pointer (from rsp, from rbp, or through memory)
 * and where rbp was saved.  Two on-disk layouts exist (Linux 6.4 widened
 * the type field); which one an image uses is told by which type value
 * dominates, since ordinary call frames are by far the most common entry.
 *
 * No allocation happens after vsp_unwind_new(): Capstone decodes into one
 * preallocated cs_insn (cs_disasm_iter) and every buffer is sized up front.
 */
#include "vmi/unwind.h"

#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errf.h"

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
	uint64_t orc_ip_addr;
	size_t norc;
	bool orc_new_layout;

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

static const char *const uw_end_text[] = {
#define UW_END_TEXT(id, text) text,
	VSP_UNWIND_END_LIST(UW_END_TEXT)
#undef UW_END_TEXT
};

const char *vsp_unwind_end_text(enum vsp_unwind_end e)
{
	return (unsigned)e < VSP_UNWIND_END_COUNT ? uw_end_text[e] : "?";
}

/* ------------------------------------------------------------ ORC */

static void uw_orc_decode(const struct vsp_unwinder *u, size_t i,
			  struct uw_orc *o)
{
	const unsigned char *p = u->orc + 6 * i;
	uint16_t fl;

	memcpy(&o->sp_off, p, 2);
	memcpy(&o->bp_off, p + 2, 2);
	memcpy(&fl, p + 4, 2);
	o->sp_reg = fl & 15;
	o->bp_reg = (fl >> 4) & 15;
	if (u->orc_new_layout) {
		/* 6.4+: type:3 (undefined, end, call, regs, partial). */
		unsigned t = (fl >> 8) & 7;

		o->type = t <= 4 ? (uint8_t)t : ORC_T_UNDEF;
	} else {
		/* Up to 6.3: type:2 (call, regs, partial), end:1. */
		unsigned t = (fl >> 8) & 3, end = (fl >> 10) & 1;

		if (end)
			o->type = ORC_T_END;
		else
			o->type = t == 0 ? ORC_T_CALL :
				  t == 1 ? ORC_T_REGS :
				  t == 2 ? ORC_T_REGS_PARTIAL : ORC_T_UNDEF;
		if (o->sp_reg == ORC_REG_UNDEF && !end)
			o->type = ORC_T_UNDEF;
	}
}

static uint64_t uw_orc_ip(const struct vsp_unwinder *u, size_t i)
{
	int32_t rel;

	memcpy(&rel, &u->orc_ip[i], 4);
	return u->orc_ip_addr + 4 * i + (uint64_t)(int64_t)rel;
}

/* The ORC entry covering link-time address ip: the last at or below it. */
static int uw_orc_find(const struct vsp_unwinder *u, uint64_t ip,
		       struct uw_orc *o)
{
	size_t lo = 0, hi = u->norc;

	if (!u->norc || ip < uw_orc_ip(u, 0))
		return -1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (uw_orc_ip(u, mid) <= ip)
			lo = mid;
		else
			hi = mid;
	}
	uw_orc_decode(u, lo, o);
	return 0;
}

static int uw_orc_setup(struct vsp_unwinder *u)
{
	const void *ipd, *od;
	size_t ipn, on, votes_old = 0, votes_new = 0;

	if (vsp_kimg_section(u->img, ".orc_unwind_ip", &u->orc_ip_addr, &ipd,
			     &ipn) < 0 ||
	    vsp_kimg_section(u->img, ".orc_unwind", NULL, &od, &on) < 0 ||
	    !ipd || !od || ipn % 4 || on % 6 || ipn / 4 != on / 6 || !ipn)
		return -1;
	u->orc_ip = ipd;
	u->orc = od;
	u->norc = ipn / 4;
	for (size_t i = 0; i < u->norc; i += 1 + u->norc / 4096) {
		uint16_t fl;

		memcpy(&fl, u->orc + 6 * i + 4, 2);
		votes_old += ((fl >> 8) & 7) == 0;
		votes_new += ((fl >> 8) & 7) == 2;
	}
	u->orc_new_layout = votes_new > votes_old;
	return 0;
}

int vsp_unwind_orc_depth(const struct vsp_unwinder *u, uint64_t ip,
			 int32_t *depth)
{
	struct uw_orc o;

	if (!u->norc ||
	    uw_orc_find(u, ip - (uint64_t)vsp_sym_slide(u->syms), &o) < 0 ||
	    o.type != ORC_T_CALL || o.sp_reg != ORC_REG_SP)
		return -1;
	*depth = o.sp_off - 8;
	return 0;
}

/* ------------------------------------------------ jump labels */

static int uw_jl_cmp(const void *a, const void *b)
{
	const struct uw_edge *x = a, *y = b;

	return (x->from > y->from) - (x->from < y->from);
}

/*
 * Static keys compile to a NOP whose jump the kernel patches in at run
 * time; code behind it is reachable only through that jump, so the walk
 * must know the sites.  __jump_table holds {s32 code, s32 target, long key}
 * with both addresses relative to their own fields.
 */
static void uw_jl_setup(struct vsp_unwinder *u)
{
	uint64_t a, b, slide = (uint64_t)vsp_sym_slide(u->syms);
	size_t n;

	if (vsp_sym_addr(u->syms, "__start___jump_table", &a) < 0 ||
	    vsp_sym_addr(u->syms, "__stop___jump_table", &b) < 0 || b <= a ||
	    (b - a) % 16 || (b - a) / 16 > (1u << 20))
		return;
	a -= slide;
	b -= slide;
	n = (size_t)((b - a) / 16);
	u->jl = malloc(n * sizeof(*u->jl));
	if (!u->jl)
		return;
	for (size_t i = 0; i < n; i++) {
		int32_t rel[2];
		uint64_t e = a + 16 * i;

		if (vsp_kimg_read(u->img, e, rel, sizeof(rel)) != sizeof(rel))
			break;
		u->jl[u->njl++] = (struct uw_edge){
			.from = e + (uint64_t)(int64_t)rel[0],
			.to = e + 4 + (uint64_t)(int64_t)rel[1] };
	}
	qsort(u->jl, u->njl, sizeof(*u->jl), uw_jl_cmp);
}

/* The jump-label target at run-time address `a`, or 0. */
static uint64_t uw_jl_target(const struct vsp_unwinder *u, uint64_t a)
{
	uint64_t slide = (uint64_t)vsp_sym_slide(u->syms), link = a - slide;
	size_t lo = 0, hi = u->njl;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->jl[mid].from < link)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->njl && u->jl[lo].from == link ? u->jl[lo].to + slide : 0;
}

/* ------------------------------------------------------- analysis */

static bool uw_reg_is(x86_reg r, x86_reg r64)
{
	switch (r64) {
	case X86_REG_RSP:
		return r == X86_REG_RSP || r == X86_REG_ESP ||
		       r == X86_REG_SP || r == X86_REG_SPL;
	case X86_REG_RBP:
		return r == X86_REG_RBP || r == X86_REG_EBP ||
		       r == X86_REG_BP || r == X86_REG_BPL;
	default:
		return r == r64;
	}
}

static bool uw_writes(csh cs, const cs_insn *in, x86_reg r64)
{
	cs_regs rr, rw;
	uint8_t nr = 0, nw = 0;

	if (cs_regs_access(cs, in, rr, &nr, rw, &nw) != CS_ERR_OK)
		return true;	/* cannot tell: assume the worst */
	for (uint8_t i = 0; i < nw; i++)
		if (uw_reg_is((x86_reg)rw[i], r64))
			return true;
	return false;
}

static bool uw_op_reg(const cs_x86 *x, int i, x86_reg r64)
{
	return x->op_count > i && x->operands[i].type == X86_OP_REG &&
	       uw_reg_is(x->operands[i].reg, r64);
}

static bool uw_op_imm(const cs_x86 *x, int i, int64_t *v)
{
	if (x->op_count <= i || x->operands[i].type != X86_OP_IMM)
		return false;
	*v = x->operands[i].imm;
	return true;
}

/* Plain [base + disp] with no index and no segment. */
static bool uw_op_mem(const cs_x86 *x, int i, x86_reg base, int64_t *disp)
{
	const cs_x86_op *o = &x->operands[i];

	if (x->op_count <= i || o->type != X86_OP_MEM ||
	    o->mem.index != X86_REG_INVALID || o->mem.segment != X86_REG_INVALID ||
	    !uw_reg_is(o->mem.base, base))
		return false;
	*disp = o->mem.disp;
	return true;
}

static int32_t uw_add(int32_t d, int64_t delta)
{
	int64_t v;

	if (d == UW_UNK)
		return UW_UNK;
	v = (int64_t)d + delta;
	/* A negative depth means we lost track (more pops than pushes);
	 * anything past a kernel stack's size is no real frame. */
	return v < 0 || v > (int64_t)UW_STACK_SPAN ? UW_UNK : (int32_t)v;
}

/* The state after a non-branch instruction. */
static struct uw_state uw_effect(csh cs, const cs_insn *in, struct uw_state s)
{
	const cs_x86 *x = &in->detail->x86;
	int64_t v;

	switch (in->id) {
	case X86_INS_PUSH:
		s.depth = uw_add(s.depth, x->op_count && x->operands[0].size == 2
					  ? 2 : 8);
		if (uw_op_reg(x, 0, X86_REG_RBP) && s.saved == UW_UNK)
			s.saved = s.depth;
		return s;
	case X86_INS_PUSHFQ:
		s.depth = uw_add(s.depth, 8);
		return s;
	case X86_INS_POPFQ:
		s.depth = uw_add(s.depth, -8);
		return s;
	case X86_INS_POP:
		if (uw_op_reg(x, 0, X86_REG_RSP)) {
			s.depth = UW_UNK;
			return s;
		}
		if (uw_op_reg(x, 0, X86_REG_RBP)) {
			/* Popping the saved slot restores the caller's rbp. */
			if (s.saved != UW_UNK && s.saved == s.depth)
				s.saved = UW_UNK;
			s.fp = UW_UNK;
		}
		s.depth = uw_add(s.depth, x->op_count && x->operands[0].size == 2
					  ? -2 : -8);
		return s;
	case X86_INS_SUB:
	case X86_INS_ADD:
		if (uw_op_reg(x, 0, X86_REG_RSP)) {
			if (uw_op_imm(x, 1, &v))
				s.depth = uw_add(s.depth,
						 in->id == X86_INS_SUB ? v : -v);
			else
				s.depth = UW_UNK;
			return s;
		}
		break;
	case X86_INS_LEA:
		if (uw_op_reg(x, 0, X86_REG_RSP)) {
			if (uw_op_mem(x, 1, X86_REG_RSP, &v))
				s.depth = uw_add(s.depth, -v);
			else if (uw_op_mem(x, 1, X86_REG_RBP, &v) &&
				 s.fp != UW_UNK)
				s.depth = uw_add(s.fp, -v);
			else
				s.depth = UW_UNK;
			return s;
		}
		if (uw_op_reg(x, 0, X86_REG_RBP)) {
			s.fp = uw_op_mem(x, 1, X86_REG_RSP, &v) ?
				uw_add(s.depth, -v) : UW_UNK;
			return s;
		}
		break;
	case X86_INS_MOV:
		if (uw_op_reg(x, 0, X86_REG_RSP)) {
			s.depth = uw_op_reg(x, 1, X86_REG_RBP) ? s.fp : UW_UNK;
			return s;
		}
		if (uw_op_reg(x, 0, X86_REG_RBP)) {
			s.fp = uw_op_reg(x, 1, X86_REG_RSP) ? s.depth : UW_UNK;
			return s;
		}
		break;
	case X86_INS_LEAVE:
		s.depth = uw_add(s.fp, -8);
		if (s.saved != UW_UNK && s.saved == s.fp)
			s.saved = UW_UNK;
		s.fp = UW_UNK;
		return s;
	case X86_INS_ENTER:
		s.depth = uw_add(s.depth, 8);
		if (s.saved == UW_UNK)
			s.saved = s.depth;
		s.fp = s.depth;
		s.depth = uw_op_imm(x, 0, &v) ? uw_add(s.depth, v) : UW_UNK;
		return s;
	default:
		break;
	}
	if (uw_writes(cs, in, X86_REG_RSP))
		s.depth = UW_UNK;
	if (uw_writes(cs, in, X86_REG_RBP))
		s.fp = UW_UNK;
	return s;
}

static void uw_bloom_add(uint64_t *b, uint64_t a)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ULL;

	b[(h >> 58) & 3] |= 1ULL << ((h >> 52) & 63);
	b[(h >> 40) & 3] |= 1ULL << ((h >> 34) & 63);
}

static bool uw_bloom_has(const uint64_t *b, uint64_t a)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ULL;

	return (b[(h >> 58) & 3] & (1ULL << ((h >> 52) & 63))) &&
	       (b[(h >> 40) & 3] & (1ULL << ((h >> 34) & 63)));
}

static bool uw_same(struct uw_state a, struct uw_state b)
{
	return a.depth == b.depth && a.fp == b.fp && a.saved == b.saved;
}

/* Code bytes: from the image when there is one (the guest cannot tamper
 * with them there), else from guest memory. */
static size_t uw_code(struct vsp_unwinder *u, uint64_t addr, void *buf,
		      size_t len, vsp_gread_fn read, void *ctx)
{
	long n;

	/* Module code is not in the image: it comes from the guest. */
	if (u->img) {
		size_t got = vsp_kimg_read(u->img,
					   addr - (uint64_t)vsp_sym_slide(u->syms),
					   buf, len);

		if (got)
			return got;
	}
	if (!read)
		return 0;
	n = read(ctx, addr, buf, len);
	return n > 0 ? (size_t)n : 0;
}

/*
 * Walks one function into the scratch arrays from its entry (state s0)
 * and from `nseeds` further entries, which go first: the first state to
 * reach an instruction is the one kept.  Fills f's summary.  Jumps out
 * into [u->watch_lo, u->watch_hi) are noted in u->seeds.
 */
static void uw_walk(struct vsp_unwinder *u, uint64_t start, uint32_t len,
		    struct uw_fn *f, struct uw_state s0,
		    const struct uw_ent *seeds, uint32_t nseeds)
{
	uint32_t nwork = 0;

	memset(u->mark, 0, len);
	u->work[nwork] = 0;
	u->work_st[nwork++] = s0;
	for (uint32_t i = 0; i < nseeds; i++) {
		if (seeds[i].off >= len)
			continue;
		u->work[nwork] = seeds[i].off;
		u->work_st[nwork++] = seeds[i].st;
	}
	while (nwork) {
		uint32_t off = u->work[--nwork];
		struct uw_state s = u->work_st[nwork];

		while (off < len && u->mark[off] != 1) {
			const uint8_t *p = u->code + off;
			size_t left = len - off;
			uint64_t a = start + off;
			const cs_x86 *x;
			int64_t tgt;

			if (u->steps >= u->max_steps) {
				u->out_of_steps = true;
				return;
			}
			u->steps++;
			u->stats.analysed_insns++;
			u->mark[off] = 1;
			u->st[off] = s;
			if (!cs_disasm_iter(u->cs, &p, &left, &a, u->insn))
				break;	/* undecodable: the path ends */
			for (uint32_t b = 1; b < u->insn->size && off + b < len; b++)
				if (!u->mark[off + b])
					u->mark[off + b] = 2;
			x = &u->insn->detail->x86;
			if (u->njl) {
				uint64_t jt = uw_jl_target(u, start + off);

				if (jt >= start && jt < start + len &&
				    u->mark[jt - start] != 1 && nwork < len) {
					u->work[nwork] = (uint32_t)(jt - start);
					u->work_st[nwork++] = s;
				}
			}
			if (cs_insn_group(u->cs, u->insn, X86_GRP_RET) ||
			    cs_insn_group(u->cs, u->insn, X86_GRP_IRET) ||
			    u->insn->id == X86_INS_UD2 || u->insn->id == X86_INS_UD0 ||
			    u->insn->id == X86_INS_INT3 ||
			    u->insn->id == X86_INS_SYSRET)
				break;
			if (cs_insn_group(u->cs, u->insn, X86_GRP_JUMP)) {
				bool uncond = u->insn->id == X86_INS_JMP ||
					      u->insn->id == X86_INS_LJMP;

				if (!uw_op_imm(x, 0, &tgt)) {
					f->indirect_tail = true;
					break;
				}
				if ((uint64_t)tgt >= start &&
				    (uint64_t)tgt < start + len) {
					uint32_t t = (uint32_t)((uint64_t)tgt - start);

					if (uncond) {
						off = t;
						continue;
					}
					if (u->mark[t] != 1 && nwork < len) {
						u->work[nwork] = t;
						u->work_st[nwork++] = s;
					}
				} else {
					uw_bloom_add(f->bloom, (uint64_t)tgt);
					if ((uint64_t)tgt >= u->watch_lo &&
					    (uint64_t)tgt < u->watch_hi &&
					    u->nseeds < UW_SEEDS) {
						u->seeds[u->nseeds].off =
							(uint32_t)((uint64_t)tgt - u->watch_lo);
						u->seeds[u->nseeds++].st = s;
					}
					if (uncond) {
						const char *n = vsp_sym_at(
							u->syms, (uint64_t)tgt,
							NULL);

						/* A retpoline thunk is an
						 * indirect jump in disguise. */
						if (n && !strncmp(n,
							"__x86_indirect_", 15))
							f->indirect_tail = true;
						break;
					}
				}
				off += u->insn->size;
				continue;
			}
			if (u->insn->id != X86_INS_CALL)
				s = uw_effect(u->cs, u->insn, s);
			off += u->insn->size;
		}
	}
}

/* Compresses the scratch states into change points; false on overflow. */
static bool uw_compress(struct vsp_unwinder *u, struct uw_fn *f)
{
	struct uw_state unk = { UW_UNK, UW_UNK, UW_UNK }, last = unk;
	bool have = false;

	f->nent = 0;
	for (uint32_t off = 0; off < f->len; off++) {
		struct uw_state s;

		if (u->mark[off] == 2)
			continue;
		s = u->mark[off] == 1 ? u->st[off] : unk;
		if (have && uw_same(s, last))
			continue;
		if (f->nent == UW_FN_ENTS)
			return false;
		f->ent[f->nent].off = off;
		f->ent[f->nent++].st = s;
		last = s;
		have = true;
	}
	return true;
}

static uint64_t uw_sym_start(const struct vsp_unwinder *u,
			     const struct vsp_sym *s);

/*
 * The entries of a compiler-split cold part ("foo.cold"): it is entered by
 * jumps from its parent "foo", anywhere inside it, with the parent's frame
 * on the stack.  The parent is walked first and the state at each such
 * jump kept in u->seeds.  None when the parent is not found.
 */
static uint32_t uw_cold_entries(struct vsp_unwinder *u, uint64_t start,
				uint64_t size, const char *name,
				vsp_gread_fn read, void *ctx)
{
	struct uw_state s0 = { 0, UW_UNK, UW_UNK };
	const char *cold = name ? strstr(name, ".cold") : NULL;
	char parent[512];
	uint64_t pstart, psize;
	struct uw_fn tmp;
	size_t got;

	u->nseeds = 0;
	if (!cold || cold == name || (size_t)(cold - name) >= sizeof(parent))
		return 0;
	memcpy(parent, name, (size_t)(cold - name));
	parent[cold - name] = '\0';
	if (vsp_sym_lookup(u->syms, parent, &pstart, &psize) < 0 ||
	    pstart == start)
		return 0;
	if (psize == 0 || psize > UW_FN_MAX)
		psize = UW_FN_MAX;
	got = uw_code(u, pstart, u->code, (size_t)psize, read, ctx);
	if (!got)
		return 0;
	memset(&tmp, 0, sizeof(tmp));
	u->watch_lo = start;
	u->watch_hi = start + (size ? size : 1);
	u->scratch_start = 0;
	uw_walk(u, pstart, (uint32_t)got, &tmp, s0, NULL, 0);
	u->watch_lo = u->watch_hi = 0;
	return u->nseeds;
}

/* The analysis of the function starting at `start` (size from symbols,
 * name for cold parts, may be NULL), from the cache or fresh.  NULL when
 * out of steps or unreadable. */
static struct uw_fn *uw_fn_get(struct vsp_unwinder *u, uint64_t start,
			       uint64_t size, const char *name,
			       vsp_gread_fn read, void *ctx)
{
	struct uw_state s0 = { 0, UW_UNK, UW_UNK };
	struct uw_ent seeds[UW_SEEDS];
	uint32_t nseeds;
	uint32_t slot = (uint32_t)((start * 0x9e3779b97f4a7c15ULL) >> 40) %
			u->ncache;
	struct uw_fn *f = &u->cache[slot];
	size_t got;

	if (f->start == start && !f->failed &&
	    (!f->overflow || u->scratch_start == start)) {
		u->stats.cache_hits++;
		return f;
	}
	u->stats.cache_misses++;
	nseeds = uw_cold_entries(u, start, size, name, read, ctx);
	if (u->out_of_steps)
		return NULL;
	memcpy(seeds, u->seeds, nseeds * sizeof(*seeds));
	memset(f, 0, sizeof(*f));
	if (size == 0 || size > UW_FN_MAX)
		size = UW_FN_MAX;
	got = uw_code(u, start, u->code, (size_t)size, read, ctx);
	if (got == 0)
		return NULL;
	f->start = start;
	f->len = (uint32_t)got;
	u->scratch_start = 0;
	uw_walk(u, start, f->len, f, s0, seeds, nseeds);
	if (u->out_of_steps) {
		f->start = 0;
		return NULL;
	}
	u->scratch_start = start;
	u->scratch_len = f->len;
	f->overflow = !uw_compress(u, f);
	return f;
}

static struct uw_state uw_fn_state(const struct vsp_unwinder *u,
				   const struct uw_fn *f, uint64_t ip)
{
	struct uw_state unk = { UW_UNK, UW_UNK, UW_UNK };
	uint64_t off = ip - f->start;
	size_t lo = 0, hi = f->nent;

	if (ip < f->start || off >= f->len)
		return unk;
	if (f->overflow) {
		/* The scratch arrays still hold this function. */
		while (off > 0 && u->mark[off] == 2)
			off--;
		return u->mark[off] == 1 ? u->st[off] : unk;
	}
	if (!hi || f->ent[0].off > off)
		return unk;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->ent[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return f->ent[lo].st;
}

static uint64_t uw_sym_start(const struct vsp_unwinder *u,
			     const struct vsp_sym *s)
{
	return s->module ? s->addr : s->addr + (uint64_t)vsp_sym_slide(u->syms);
}

int vsp_unwind_insn_depth(struct vsp_unwinder *u, uint64_t ip,
			  vsp_gread_fn read, void *ctx, int32_t *depth)
{
	const struct vsp_sym *s = vsp_sym_find(u->syms, ip);
	uint64_t start;
	struct uw_fn *f;
	struct uw_state st;

	if (!s)
		return -1;
	start = uw_sym_start(u, s);
	u->steps = 0;
	u->max_steps = u->opts.max_steps;
	u->out_of_steps = false;
	f = uw_fn_get(u, start, s->size, s->name, read, ctx);
	if (!f)
		return -1;
	st = uw_fn_state(u, f, ip);
	if (st.depth == UW_UNK)
		return -1;
	*depth = st.depth;
	return 0;
}

/* ------------------------------------------------------ the walk */

/* Entry code runs on a pt_regs frame with no caller above it. */
static bool uw_terminal(const char *name)
{
	return !strncmp(name, "entry_SYSCALL", 13) ||
	       !strncmp(name, "entry_SYSENTER", 14) ||
	       !strncmp(name, "entry_INT80", 11) ||
	       !strncmp(name, "asm_", 4) ||
	       !strncmp(name, "ret_from_fork", 13) ||
	       !strcmp(name, "xen_entry_SYSCALL_64") ||
	       !strcmp(name, "startup_64") ||
	       !strcmp(name, "secondary_startup_64") ||
	       !strcmp(name, "start_kernel");
}

/*
 * Stack reads go through a window: one guest read fetches the next
 * UW_WIN bytes from the first slot asked for, and the frames above are
 * usually inside it.  Over a GDB stub that is one round trip per unwind
 * instead of two or three per frame.  The window lives for one unwind.
 */
static bool uw_read8(struct vsp_unwinder *u, vsp_gread_fn read, void *ctx,
		     uint64_t a, uint64_t *v)
{
	long n;

	if (u->win_len && a >= u->win_base && a - u->win_base <= u->win_len - 8) {
		memcpy(v, u->win + (a - u->win_base), 8);
		return true;
	}
	u->stats.reads++;
	n = read(ctx, a, u->win, sizeof(u->win));
	if (n < 8) {
		u->win_len = 0;
		return false;
	}
	u->win_base = a;
	u->win_len = (uint32_t)n;
	memcpy(v, u->win, 8);
	return true;
}

/* ------------------------------------------------- tail jumps */

static int uw_edge_cmp(const void *a, const void *b)
{
	const struct uw_edge *x = a, *y = b;

	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return (x->from > y->from) - (x->from < y->from);
}

/*
 * Scans the image's functions for `jmp rel32` and `jcc rel32` byte patterns
 * whose target is the start of another function.  A byte scan finds a few
 * edges that are not instructions, which only makes the tail-call check a
 * little more lenient; it costs a few milliseconds where a full disassembly
 * of the kernel costs most of a second.  Built once, with the image.
 */
static int uw_tail_index(struct vsp_unwinder *u)
{
	size_t n = vsp_sym_count(u->syms), cap = 4096;
	uint8_t *buf = malloc(UW_FN_MAX + 8);

	u->edges = malloc(cap * sizeof(*u->edges));
	if (!buf || !u->edges) {
		free(buf);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct vsp_sym *f = vsp_sym_get(u->syms, i);
		size_t len;

		if (!vsp_sym_is_text(f) || f->module || !f->size ||
		    f->size > UW_FN_MAX)
			continue;
		len = vsp_kimg_read(u->img, f->addr, buf, f->size);
		for (size_t k = 0; k + 5 <= len; k++) {
			size_t at;
			int32_t rel;
			uint64_t to;
			const struct vsp_sym *t;

			if (buf[k] == 0xe9)
				at = k + 1;
			else if (buf[k] == 0x0f && k + 6 <= len &&
				 (buf[k + 1] & 0xf0) == 0x80)
				at = k + 2;
			else
				continue;
			memcpy(&rel, buf + at, 4);
			to = f->addr + at + 4 + (uint64_t)(int64_t)rel;
			if (to >= f->addr && to < f->addr + f->size)
				continue;
			t = vsp_sym_find(u->syms, to + (uint64_t)vsp_sym_slide(u->syms));
			if (!t || t->addr != to || !vsp_sym_is_text(t))
				continue;
			if (u->nedges == cap) {
				struct uw_edge *ne = realloc(u->edges,
						2 * cap * sizeof(*ne));

				if (!ne) {
					free(buf);
					return -1;
				}
				u->edges = ne;
				cap *= 2;
			}
			u->edges[u->nedges++] = (struct uw_edge){ to, f->addr };
		}
	}
	free(buf);
	qsort(u->edges, u->nedges, sizeof(*u->edges), uw_edge_cmp);
	return 0;
}

/* Index of the first edge into `to`. */
static size_t uw_edges_to(const struct vsp_unwinder *u, uint64_t to)
{
	size_t lo = 0, hi = u->nedges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u->edges[mid].to < to)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Whether function `from` reaches `callee` through up to UW_TAIL_LEVELS
 * tail jumps (link-time addresses): a breadth-first search backwards from
 * the callee, with a bounded frontier.
 */
static bool uw_tail_reaches(const struct vsp_unwinder *u, uint64_t from,
			    uint64_t callee)
{
	uint64_t cur[UW_TAIL_FRONTIER], next[UW_TAIL_FRONTIER];
	size_t ncur = 1, nnext;

	cur[0] = callee;
	for (int level = 0; level < UW_TAIL_LEVELS && ncur; level++) {
		nnext = 0;
		for (size_t i = 0; i < ncur; i++) {
			for (size_t e = uw_edges_to(u, cur[i]);
			     e < u->nedges && u->edges[e].to == cur[i]; e++) {
				if (u->edges[e].from == from)
					return true;
				if (nnext < UW_TAIL_FRONTIER)
					next[nnext++] = u->edges[e].from;
			}
		}
		memcpy(cur, next, nnext * sizeof(*next));
		ncur = nnext;
	}
	return false;
}

/*
 * Checks that a call ends right at `ret` and, when it is direct, that it
 * leads to `callee` (the start of the function we unwound from).
 */
static enum vsp_unwind_end uw_check_ret(struct vsp_unwinder *u, uint64_t ret,
					uint64_t callee, vsp_gread_fn read,
					void *ctx)
{
	static const uint8_t lens[] = { 5, 2, 3, 6, 7, 4, 8 };
	uint8_t buf[16];
	int64_t tgt;
	const char *tn;
	const struct vsp_sym *ts;
	struct uw_fn *tf;
	bool found = false;

	size_t have = sizeof(buf);

	/* The longest call is 8 bytes; read 16 to stay aligned, fewer when
	 * the bytes before lie on an unreadable page. */
	while (uw_code(u, ret - have, buf + sizeof(buf) - have, have, read,
		       ctx) != have) {
		if (have == 5)
			return VSP_UNWIND_END_BADRET;
		have = have == 16 ? 8 : 5;
	}
	for (size_t i = 0; i < sizeof(lens) && !found; i++) {
		const uint8_t *p = buf + sizeof(buf) - lens[i];
		size_t left = lens[i];
		uint64_t a = ret - lens[i];

		if (lens[i] > have)
			continue;

		if (cs_disasm_iter(u->cs, &p, &left, &a, u->insn) &&
		    left == 0 && u->insn->id == X86_INS_CALL)
			found = true;
	}
	if (!found)
		return VSP_UNWIND_END_BADRET;
	if (!uw_op_imm(&u->insn->detail->x86, 0, &tgt) ||
	    (uint64_t)tgt == callee)
		return VSP_UNWIND_END_COUNT;	/* indirect, or exact */
	if (u->opts.strict_callee)
		return VSP_UNWIND_END_CALLEE;
	ts = vsp_sym_find(u->syms, (uint64_t)tgt);
	if (!ts)
		return VSP_UNWIND_END_CALLEE;
	tn = ts->name;
	/* Retpoline thunks and static-call trampolines stand for calls
	 * whose real target is not in the instruction. */
	if (!strncmp(tn, "__x86_indirect_", 15) || !strncmp(tn, "__SCT__", 7) ||
	    !strncmp(tn, "__static_call", 13))
		return VSP_UNWIND_END_COUNT;
	if (u->nedges &&
	    uw_tail_reaches(u, ts->addr,
			    callee - (ts->module ? 0 : (uint64_t)vsp_sym_slide(u->syms))))
		return VSP_UNWIND_END_COUNT;
	tf = uw_fn_get(u, uw_sym_start(u, ts), ts->size, ts->name, read, ctx);
	if (!tf)
		return u->out_of_steps ? VSP_UNWIND_END_STEPS :
					 VSP_UNWIND_END_CALLEE;
	if (tf->indirect_tail || uw_bloom_has(tf->bloom, callee))
		return VSP_UNWIND_END_COUNT;
	return VSP_UNWIND_END_CALLEE;
}

struct uw_frame {
	uint64_t ip, sp, bp;
	bool bp_ok;
};

/* One step by ORC: the caller's frame, or why there is none (COUNT: ok). */
static enum vsp_unwind_end uw_step_orc(struct vsp_unwinder *u,
				       const struct vsp_regs *regs, bool first,
				       struct uw_frame *fr, vsp_gread_fn read,
				       void *ctx)
{
	struct uw_orc o;
	uint64_t cfa, link = fr->ip - (uint64_t)vsp_sym_slide(u->syms);

	/* A return address may follow a call to a noreturn function at the
	 * very end of its caller: look up the call, not what follows it. */
	if (uw_orc_find(u, first ? link : link - 1, &o) < 0)
		return VSP_UNWIND_END_NOINFO;
	if (o.type == ORC_T_END)
		return VSP_UNWIND_END_ORC_END;
	if (o.type == ORC_T_REGS || o.type == ORC_T_REGS_PARTIAL)
		return VSP_UNWIND_END_ENTRY;
	if (o.type != ORC_T_CALL)
		return VSP_UNWIND_END_NOINFO;
	switch (o.sp_reg) {
	case ORC_REG_SP:
		cfa = fr->sp + (uint64_t)(int64_t)o.sp_off;
		break;
	case ORC_REG_BP:
		if (!fr->bp_ok)
			return VSP_UNWIND_END_NOINFO;
		cfa = fr->bp + (uint64_t)(int64_t)o.sp_off;
		break;
	case ORC_REG_SP_IND:
		if (!uw_read8(u, read, ctx, fr->sp, &cfa))
			return VSP_UNWIND_END_READ;
		cfa += (uint64_t)(int64_t)o.sp_off;
		break;
	case ORC_REG_BP_IND:
		if (!fr->bp_ok ||
		    !uw_read8(u, read, ctx, fr->bp + (uint64_t)(int64_t)o.sp_off,
			      &cfa))
			return fr->bp_ok ? VSP_UNWIND_END_READ :
					   VSP_UNWIND_END_NOINFO;
		break;
	case ORC_REG_DI:
	case ORC_REG_DX:
	case ORC_REG_R10:
	case ORC_REG_R13:
		/* Only the trapping frame has these registers. */
		if (!first)
			return VSP_UNWIND_END_NOINFO;
		cfa = (o.sp_reg == ORC_REG_DI ? regs->rdi :
		       o.sp_reg == ORC_REG_DX ? regs->rdx :
		       o.sp_reg == ORC_REG_R10 ? regs->r10 : regs->r13) +
		      (uint64_t)(int64_t)o.sp_off;
		break;
	default:
		return VSP_UNWIND_END_NOINFO;
	}
	if (cfa < fr->sp + 8)
		return VSP_UNWIND_END_LOOP;
	if (!uw_read8(u, read, ctx, cfa - 8, &fr->ip))
		return VSP_UNWIND_END_READ;
	switch (o.bp_reg) {
	case ORC_REG_PREV_SP:
		if (!uw_read8(u, read, ctx, cfa + (uint64_t)(int64_t)o.bp_off,
			      &fr->bp))
			return VSP_UNWIND_END_READ;
		fr->bp_ok = true;
		break;
	case ORC_REG_BP:
		if (!fr->bp_ok ||
		    !uw_read8(u, read, ctx, fr->bp + (uint64_t)(int64_t)o.bp_off,
			      &fr->bp))
			fr->bp_ok = false;
		break;
	default:
		break;	/* rbp untouched by this function */
	}
	fr->sp = cfa;
	return VSP_UNWIND_END_COUNT;
}

/* One step by instruction analysis. */
static enum vsp_unwind_end uw_step_insn(struct vsp_unwinder *u,
					const struct vsp_sym *sym, bool first,
					struct uw_frame *fr, vsp_gread_fn read,
					void *ctx)
{
	uint64_t start = uw_sym_start(u, sym), slot;
	struct uw_fn *f = uw_fn_get(u, start, sym->size, sym->name, read, ctx);
	struct uw_state st;

	if (!f)
		return u->out_of_steps ? VSP_UNWIND_END_STEPS :
					 VSP_UNWIND_END_READ;
	st = uw_fn_state(u, f, first ? fr->ip : fr->ip - 1);
	if (st.depth != UW_UNK)
		slot = fr->sp + (uint64_t)st.depth;
	else if (st.fp != UW_UNK && fr->bp_ok)
		slot = fr->bp + (uint64_t)st.fp;
	else
		return VSP_UNWIND_END_NOINFO;
	if (slot < fr->sp)
		return VSP_UNWIND_END_LOOP;
	if (!uw_read8(u, read, ctx, slot, &fr->ip))
		return VSP_UNWIND_END_READ;
	if (st.saved != UW_UNK) {
		if (!uw_read8(u, read, ctx, slot - (uint64_t)st.saved, &fr->bp))
			fr->bp_ok = false;
	}
	fr->sp = slot + 8;
	return VSP_UNWIND_END_COUNT;
}

uint32_t vsp_unwind(struct vsp_unwinder *u, const struct vsp_regs *regs,
		    vsp_gread_fn read, void *ctx, struct vsp_callpath *out)
{
	struct uw_frame fr = { regs->rip, regs->rsp, regs->rbp, true };
	uint32_t maxf = u->opts.max_frames;
	enum vsp_unwind_end end = VSP_UNWIND_END_FRAMES;

	out->n = 0;
	out->steps = 0;
	u->win_len = 0;
	u->steps = 0;
	u->max_steps = u->opts.max_steps;
	u->out_of_steps = false;
	u->stats.unwinds++;
	for (;;) {
		bool first = out->n == 0;
		const struct vsp_sym *sym =
			vsp_sym_find(u->syms, first ? fr.ip : fr.ip - 1);
		uint64_t callee, old_sp = fr.sp;
		enum vsp_unwind_end e;

		if (!sym || !vsp_sym_is_text(sym)) {
			end = VSP_UNWIND_END_NOSYM;
			break;
		}
		callee = uw_sym_start(u, sym);
		out->frames[out->n] = (struct vsp_unwind_frame){
			fr.ip, fr.sp, fr.ip - callee };
		out->names[out->n++] = sym->name;
		if (uw_terminal(sym->name)) {
			end = VSP_UNWIND_END_ENTRY;
			break;
		}
		if (out->n >= maxf) {
			end = VSP_UNWIND_END_FRAMES;
			break;
		}
		/* ORC covers the core kernel; module frames, and core code
		 * it has no entry for, fall back to instruction analysis. */
		e = VSP_UNWIND_END_NOINFO;
		if (u->src == VSP_UNWIND_ORC && !sym->module) {
			struct uw_frame save = fr;

			e = uw_step_orc(u, regs, first, &fr, read, ctx);
			if (e == VSP_UNWIND_END_NOINFO)
				fr = save;
		}
		if (e == VSP_UNWIND_END_NOINFO)
			e = uw_step_insn(u, sym, first, &fr, read, ctx);
		if (e != VSP_UNWIND_END_COUNT) {
			end = e;
			break;
		}
		if (fr.sp <= old_sp || fr.sp - regs->rsp > UW_STACK_SPAN) {
			end = VSP_UNWIND_END_LOOP;
			break;
		}
		if (fr.ip < UW_KERNEL_HALF) {
			end = VSP_UNWIND_END_NOSYM;
			break;
		}
		if (!u->opts.no_call_check) {
			struct uw_edge *ok = &u->retok[(fr.ip * 0x9e3779b97f4a7c15ULL
							 >> 52) % UW_RETOK];

			if (ok->from == fr.ip && ok->to == callee)
				continue;
			e = uw_check_ret(u, fr.ip, callee, read, ctx);
			if (e != VSP_UNWIND_END_COUNT) {
				end = e;
				break;
			}
			ok->from = fr.ip;
			ok->to = callee;
		}
	}
	out->end = end;
	out->partial = end != VSP_UNWIND_END_ENTRY &&
		       end != VSP_UNWIND_END_ORC_END;
	out->steps = u->steps;
	u->stats.frames += out->n;
	u->stats.partial += out->partial;
	u->stats.ends[end]++;
	return out->n;
}

void vsp_callpath_to_event(const struct vsp_callpath *cp,
			   struct vsp_event *ev)
{
	ev->stack = cp->names;
	ev->nstack = cp->n;
	ev->has_stack = cp->n > 0;
	ev->stack_partial = cp->partial;
}

const char *vsp_callpath_format(const struct vsp_callpath *cp, char *buf,
				size_t size)
{
	size_t at = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	for (uint32_t i = 0; i < cp->n && at < size; i++) {
		int n = snprintf(buf + at, size - at, "%s%s", i ? " <- " : "",
				 cp->names[i]);

		if (n < 0)
			break;
		at += (size_t)n;
	}
	if (cp->partial && at < size)
		snprintf(buf + at, size - at, "%s...", cp->n ? " <- " : "");
	return buf;
}

void vsp_unwind_stats(const struct vsp_unwinder *u,
		      struct vsp_unwind_stats *out)
{
	*out = u->stats;
}

enum vsp_unwind_src vsp_unwind_source(const struct vsp_unwinder *u)
{
	return u->src;
}

/* ---------------------------------------------------- lifetime */

struct vsp_unwinder *vsp_unwind_new(const struct vsp_symtab *syms,
				    const struct vsp_kimg *img,
				    const struct vsp_unwind_opts *opts,
				    char *err, size_t errlen)
{
	struct vsp_unwinder *u = calloc(1, sizeof(*u));

	if (!u) {
		vsp_errf(err, errlen, "out of memory");
		return NULL;
	}
	u->syms = syms;
	u->img = img;
	if (opts)
		u->opts = *opts;
	if (!u->opts.max_frames || u->opts.max_frames > VSP_UNWIND_MAX)
		u->opts.max_frames = VSP_UNWIND_MAX;
	if (!u->opts.max_steps)
		u->opts.max_steps = 50000;
	if (!u->opts.cache_funcs)
		u->opts.cache_funcs = 1024;
	u->ncache = u->opts.cache_funcs;
	u->src = u->opts.src;
	if (u->src != VSP_UNWIND_INSN) {
		if (img && uw_orc_setup(u) == 0)
			u->src = VSP_UNWIND_ORC;
		else if (u->src == VSP_UNWIND_ORC) {
			vsp_errf(err, errlen, "no ORC tables in %s",
				 img ? vsp_kimg_path(img) : "(no image)");
			goto fail;
		} else
			u->src = VSP_UNWIND_INSN;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &u->cs) != CS_ERR_OK) {
		vsp_errf(err, errlen, "capstone: cannot open x86-64");
		goto fail;
	}
	cs_option(u->cs, CS_OPT_DETAIL, CS_OPT_ON);
	u->insn = cs_malloc(u->cs);
	u->code = malloc(UW_FN_MAX + 16);
	u->st = malloc(UW_FN_MAX * sizeof(*u->st));
	u->mark = malloc(UW_FN_MAX);
	u->work = malloc(UW_FN_MAX * sizeof(*u->work));
	u->work_st = malloc(UW_FN_MAX * sizeof(*u->work_st));
	u->cache = calloc(u->ncache, sizeof(*u->cache));
	if (!u->insn || !u->code || !u->st || !u->mark || !u->work ||
	    !u->work_st || !u->cache) {
		vsp_errf(err, errlen, "out of memory");
		goto fail;
	}
	if (img)
		uw_jl_setup(u);
	if (img && !u->opts.no_call_check && !u->opts.strict_callee &&
	    uw_tail_index(u) < 0) {
		vsp_errf(err, errlen, "out of memory");
		goto fail;
	}
	return u;
fail:
	vsp_unwind_free(u);
	return NULL;
}

void vsp_unwind_free(struct vsp_unwinder *u)
{
	if (!u)
		return;
	if (u->insn)
		cs_free(u->insn, 1);
	if (u->cs)
		cs_close(&u->cs);
	free(u->jl);
	free(u->edges);
	free(u->cache);
	free(u->work_st);
	free(u->work);
	free(u->mark);
	free(u->st);
	free(u->code);
	free(u);
}
