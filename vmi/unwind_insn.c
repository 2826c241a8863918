/*
 * unwind_insn.c: call paths by instruction analysis, for kernels without
 * ORC tables and for code ORC does not cover (unwind.h; the walk that
 * uses it is in unwind.c).
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
 * Jump-label sites are NOPs in the image that the running kernel may have
 * turned into jumps; the walk follows them too, their targets read from
 * the image's __jump_table once.
 */
#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmi/unwind_priv.h"

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
void uw_jl_setup(struct vsp_unwinder *u)
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

bool uw_op_imm(const cs_x86 *x, int i, int64_t *v)
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

bool uw_bloom_has(const uint64_t *b, uint64_t a)
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
size_t uw_code(struct vsp_unwinder *u, uint64_t addr, void *buf,
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
struct uw_fn *uw_fn_get(struct vsp_unwinder *u, uint64_t start,
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

struct uw_state uw_fn_state(const struct vsp_unwinder *u,
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

uint64_t uw_sym_start(const struct vsp_unwinder *u,
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

