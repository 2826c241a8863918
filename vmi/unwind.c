/*
 * unwind.c: call paths from a kernel stack, by ORC tables or by
 * instruction analysis (see unwind.h for the why; the analysis itself is
 * in unwind_insn.c).
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

#include "base/clock.h"
#include "base/errf.h"
#include "vmi/unwind_priv.h"

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

/* Which of the two layouts: the type an ordinary call frame has in each
 * dominates a sample of the entries. */
static void uw_orc_layout(struct vsp_unwinder *u)
{
	size_t votes_old = 0, votes_new = 0;

	for (size_t i = 0; i < u->norc; i += 1 + u->norc / 4096) {
		uint16_t fl;

		memcpy(&fl, u->orc + 6 * i + 4, 2);
		votes_old += ((fl >> 8) & 7) == 0;
		votes_new += ((fl >> 8) & 7) == 2;
	}
	u->orc_new_layout = votes_new > votes_old;
}

static int uw_orc_setup(struct vsp_unwinder *u)
{
	const void *ipd, *od;
	size_t ipn, on;

	if (vsp_kimg_section(u->img, ".orc_unwind_ip", &u->orc_ip_addr, &ipd,
			     &ipn) < 0 ||
	    vsp_kimg_section(u->img, ".orc_unwind", NULL, &od, &on) < 0 ||
	    !ipd || !od || ipn % 4 || on % 6 || ipn / 4 != on / 6 || !ipn)
		return -1;
	u->orc_ip = ipd;
	u->orc = od;
	u->norc = ipn / 4;
	uw_orc_layout(u);
	return 0;
}

/*
 * Takes tables copied from guest memory: `buf` holds n 4-byte ip entries
 * followed by n 6-byte ORC entries (the unwinder owns it from now on),
 * the ip table lay at link-time address ip_addr.  The guest could have
 * written anything there, so every ip must lie in the kernel image
 * [lo, hi) and the ips must not go down: the lookup's binary search is
 * only right on a sorted table.  Equal ips are the kernel's own (a
 * section's terminator before the next function); like the kernel, the
 * lookup takes the last of them.
 */
static int uw_orc_adopt(struct vsp_unwinder *u, unsigned char *buf, size_t n,
			uint64_t ip_addr, uint64_t lo, uint64_t hi, char *err,
			size_t errlen)
{
	uint64_t prev = 0;

	for (size_t i = 0; i < n; i++) {
		int32_t rel;
		uint64_t ip;

		memcpy(&rel, buf + 4 * i, 4);
		ip = ip_addr + 4 * i + (uint64_t)(int64_t)rel;
		if (ip < lo || ip >= hi)
			return vsp_errf(err, errlen, "ORC: entry %zu of %zu is for "
					"0x%" PRIx64 ", outside the kernel image "
					"(0x%" PRIx64 "-0x%" PRIx64 ")", i, n, ip,
					lo, hi);
		if (i && ip < prev)
			return vsp_errf(err, errlen, "ORC: entry %zu (0x%" PRIx64
					") is below entry %zu (0x%" PRIx64 "): the "
					"table is not sorted", i, ip, i - 1, prev);
		prev = ip;
	}
	u->orc_ip = (const int32_t *)(void *)buf;
	u->orc = buf + 4 * n;
	u->orc_ip_addr = ip_addr;
	u->norc = n;
	u->orc_own = buf;
	uw_orc_layout(u);
	u->src = VSP_UNWIND_ORC;
	return 0;
}

int vsp_unwind_orc_from_guest(struct vsp_unwinder *u, vsp_gread_fn read,
			      void *ctx, struct vsp_unwind_orc_stats *st,
			      char *err, size_t errlen)
{
	static const char *const names[4] = {
		"__start_orc_unwind_ip", "__stop_orc_unwind_ip",
		"__start_orc_unwind", "__stop_orc_unwind" };
	uint64_t a[4], lo = VSP_KASLR_LO, hi = VSP_KASLR_HI, v;
	int64_t slide = vsp_sym_slide(u->syms);
	int have = 0;
	struct vsp_unwind_orc_stats local;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (u->opts.src == VSP_UNWIND_INSN || u->orc_own || u->norc)
		return 1;
	for (int i = 0; i < 4; i++)
		have += vsp_sym_addr(u->syms, names[i], &a[i]) == 0;
	if (!have) {
		vsp_errf(err, errlen, "ORC: the kernel has no __start_orc_unwind_ip "
			 "(built without the ORC unwinder)");
		return 1;
	}
	if (have < 4)
		return vsp_errf(err, errlen, "ORC: the kernel names only %d of "
				"__start/__stop_orc_unwind_ip and "
				"__start/__stop_orc_unwind", have);
	/* The image's bounds, when the symbols say them: ips and tables
	 * must lie inside. */
	if (vsp_sym_addr(u->syms, "_text", &v) == 0)
		lo = v;
	if (vsp_sym_addr(u->syms, "_end", &v) == 0 && v > lo)
		hi = v;
	size_t ipn = a[1] - a[0], on = a[3] - a[2];
	if (a[1] < a[0] || a[3] < a[2] || a[0] < lo || a[1] > hi ||
	    a[2] < lo || a[3] > hi)
		return vsp_errf(err, errlen, "ORC: __start_orc_unwind_ip..__stop_"
				"orc_unwind_ip (0x%" PRIx64 "..0x%" PRIx64 ") and "
				"__start_orc_unwind..__stop_orc_unwind (0x%" PRIx64
				"..0x%" PRIx64 ") are no ranges in the kernel image",
				a[0], a[1], a[2], a[3]);
	if (!ipn || ipn % 4 || on % 6 || ipn / 4 != on / 6)
		return vsp_errf(err, errlen, "ORC: the ip table (%zu bytes) and the "
				"ORC table (%zu bytes) do not hold one 4-byte and "
				"one 6-byte entry each for the same count", ipn, on);
	if (ipn / 4 > VSP_UNWIND_ORC_MAX)
		return vsp_errf(err, errlen, "ORC: %zu entries, more than the %u "
				"allowed", ipn / 4, VSP_UNWIND_ORC_MAX);
	if (a[0] < a[3] && a[2] < a[1])
		return vsp_errf(err, errlen, "ORC: the ip table (0x%" PRIx64
				"..0x%" PRIx64 ") and the ORC table (0x%" PRIx64
				"..0x%" PRIx64 ") overlap", a[0], a[1], a[2], a[3]);
	size_t n = ipn / 4;
	unsigned char *buf = malloc(10 * n);
	uint64_t t0 = vsp_now_ns();

	if (!buf)
		return vsp_errf(err, errlen, "ORC: out of memory");
	if (vsp_gread_all(read, ctx, a[0], buf, ipn) < 0 ||
	    vsp_gread_all(read, ctx, a[2], buf + ipn, on) < 0) {
		free(buf);
		return vsp_errf(err, errlen, "ORC: guest memory at 0x%" PRIx64
				" (%zu bytes) or 0x%" PRIx64 " (%zu bytes) not "
				"readable", a[0], ipn, a[2], on);
	}
	st->bytes = ipn + on;
	st->ns = vsp_now_ns() - t0;
	st->entries = (uint32_t)n;
	/* Read at the run-time address, the entries give run-time ips;
	 * the lookup works in link-time ones, like the image's tables. */
	if (uw_orc_adopt(u, buf, n, a[0] - (uint64_t)slide, lo - (uint64_t)slide,
			 hi - (uint64_t)slide, err, errlen) < 0) {
		free(buf);
		return -1;
	}
	return 0;
}

static int uw_tail_index(struct vsp_unwinder *u, const uint8_t *text,
			 uint64_t text_lo, size_t text_len);

int vsp_unwind_tails_from_guest(struct vsp_unwinder *u, vsp_gread_fn read,
				void *ctx, struct vsp_unwind_orc_stats *st,
				char *err, size_t errlen)
{
	uint64_t lo, hi, slide = (uint64_t)vsp_sym_slide(u->syms);
	struct vsp_unwind_orc_stats local;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (u->img || u->edges || u->opts.no_call_check || u->opts.strict_callee)
		return 1;
	if (vsp_sym_text_range(u->syms, &lo, &hi) < 0 || hi <= lo ||
	    lo < VSP_KASLR_LO || hi > VSP_KASLR_HI)
		return vsp_errf(err, errlen, "kernel text: no _text.._etext range "
				"in the symbols");
	if (hi - lo > VSP_UNWIND_TEXT_MAX)
		return vsp_errf(err, errlen, "kernel text: %" PRIu64 " bytes, more "
				"than the %u allowed", hi - lo, VSP_UNWIND_TEXT_MAX);
	size_t len = (size_t)(hi - lo);
	uint8_t *text = malloc(len);
	uint64_t t0 = vsp_now_ns();

	if (!text)
		return vsp_errf(err, errlen, "kernel text: out of memory");
	if (vsp_gread_all(read, ctx, lo, text, len) < 0) {
		free(text);
		return vsp_errf(err, errlen, "kernel text at 0x%" PRIx64 " (%zu "
				"bytes) not readable", lo, len);
	}
	st->bytes = len;
	int rc = uw_tail_index(u, text, lo - slide, len);
	free(text);
	if (rc < 0) {
		free(u->edges);
		u->edges = NULL;
		u->nedges = 0;
		return vsp_errf(err, errlen, "kernel text: out of memory");
	}
	st->ns = vsp_now_ns() - t0;
	st->entries = (uint32_t)u->nedges;
	return 0;
}

int vsp_unwind_tails_reread(struct vsp_unwinder *u, vsp_gread_fn read,
			    void *ctx, struct vsp_unwind_orc_stats *st,
			    char *err, size_t errlen)
{
	struct uw_edge *old = u->edges;
	size_t nold = u->nedges;

	u->edges = NULL;
	u->nedges = 0;
	int rc = vsp_unwind_tails_from_guest(u, read, ctx, st, err, errlen);
	if (rc != 0) {
		free(u->edges);
		u->edges = old;
		u->nedges = nold;
		return rc < 0 ? -1 : 0;
	}
	free(old);
	return 0;
}

static int uw_edge_cmp(const void *a, const void *b);

int vsp_unwind_tails_export(const struct vsp_unwinder *u, uint8_t **data,
			    size_t *size)
{
	*data = NULL;
	*size = 0;
	if (!u->nedges)
		return 0;
	*data = malloc(u->nedges * 16);
	if (!*data)
		return -1;
	for (size_t i = 0; i < u->nedges; i++) {
		memcpy(*data + 16 * i, &u->edges[i].to, 8);
		memcpy(*data + 16 * i + 8, &u->edges[i].from, 8);
	}
	*size = u->nedges * 16;
	return 0;
}

/* Whether `a` (link-time) starts a core kernel function. */
static bool uw_fn_start(const struct vsp_unwinder *u, uint64_t a)
{
	const struct vsp_sym *f =
		vsp_sym_find(u->syms, a + (uint64_t)vsp_sym_slide(u->syms));
	return f && f->addr == a && !f->module && vsp_sym_is_text(f);
}

int vsp_unwind_tails_adopt(struct vsp_unwinder *u, const uint8_t *data,
			   size_t size, char *err, size_t errlen)
{
	if (u->img || u->edges || u->opts.no_call_check || u->opts.strict_callee)
		return 1;
	size_t n = size / 16;
	if (size % 16 || n > 16 * vsp_sym_count(u->syms) + 16)
		return vsp_errf(err, errlen, "tail jumps: %zu bytes are no list "
				"of (to, from) pairs for %zu symbols", size,
				vsp_sym_count(u->syms));
	struct uw_edge *e = malloc((n ? n : 1) * sizeof(*e));
	if (!e)
		return vsp_errf(err, errlen, "tail jumps: out of memory");
	for (size_t i = 0; i < n; i++) {
		memcpy(&e[i].to, data + 16 * i, 8);
		memcpy(&e[i].from, data + 16 * i + 8, 8);
		if (!uw_fn_start(u, e[i].to) || !uw_fn_start(u, e[i].from) ||
		    e[i].to == e[i].from) {
			uint64_t to = e[i].to, from = e[i].from;
			free(e);
			return vsp_errf(err, errlen, "tail jumps: pair %zu (0x%"
					PRIx64 " from 0x%" PRIx64 ") does not "
					"join two function starts of the "
					"symbols", i, to, from);
		}
	}
	qsort(e, n, sizeof(*e), uw_edge_cmp);
	u->edges = e;
	u->nedges = n;
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
/* A function's bytes for the scan: from the image, or from the copy of
 * the running kernel's text (link-time addresses both). */
static size_t uw_tail_code(const struct vsp_unwinder *u, const uint8_t *text,
			   uint64_t text_lo, size_t text_len, uint64_t addr,
			   void *buf, size_t len)
{
	if (!text)
		return vsp_kimg_read(u->img, addr, buf, len);
	if (addr < text_lo || addr - text_lo >= text_len)
		return 0;
	if (len > text_len - (size_t)(addr - text_lo))
		len = text_len - (size_t)(addr - text_lo);
	memcpy(buf, text + (addr - text_lo), len);
	return len;
}

static int uw_tail_index(struct vsp_unwinder *u, const uint8_t *text,
			 uint64_t text_lo, size_t text_len)
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
		len = uw_tail_code(u, text, text_lo, text_len, f->addr, buf,
				   f->size);
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
	    uw_tail_index(u, NULL, 0, 0) < 0) {
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
	free(u->orc_own);
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
