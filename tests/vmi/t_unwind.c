/*
 * t_unwind.c: call paths from crafted kernel stacks (vmi/unwind.c).
 *
 * A tiny "kernel" is assembled by hand into a memory image: functions with
 * known push/sub/frame-pointer prologues, a dispatcher that reaches its
 * handler by a tail jump, an entry stub, and stacks laid out the way the
 * calls would have left them.  Instruction analysis must rebuild each path
 * exactly, and hostile stacks (garbage, cycles, unmapped pages, return
 * addresses without a call before them, tiny step bounds) must give
 * partial paths quickly.  When the guest rig's vmlinux is cached, the same
 * analysis is compared with the kernel's own ORC tables over thousands of
 * real functions, and a real call chain is unwound by both sources; the
 * tables are also read as a KASLR guest holds them (slid, through the read
 * callback, no image), must give the image's depths, and every corruption
 * a hostile guest can make of them or of their symbols must be an error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmi/unwind.h"
#include "tests/tap.h"
#include "tests/rig_cache.h"

/* ------------------------------------------------ memory images */

#define TEXT 0xffffffff81000000ULL
#define STACK 0xffffc90000010000ULL	/* lowest address of the stack */
#define STACK_SIZE 0x4000

static uint8_t text[0x2000];
static uint8_t stack[STACK_SIZE];

static long img_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	size_t n = 0;

	(void)ctx;
	while (n < len) {
		uint64_t a = gva + n;

		if (a >= TEXT && a < TEXT + sizeof(text))
			((uint8_t *)buf)[n] = text[a - TEXT];
		else if (a >= STACK && a < STACK + sizeof(stack))
			((uint8_t *)buf)[n] = stack[a - STACK];
		else
			break;
		n++;
	}
	return (long)n;
}

/* A tiny assembler: emits bytes at a cursor in text[]. */
static size_t pc;

static void emit(const char *hex)
{
	while (*hex) {
		unsigned v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		text[pc++] = (uint8_t)v;
		hex += 2;
	}
}

static uint64_t here(void)
{
	return TEXT + pc;
}

/* call/jmp rel32 to an absolute address; returns the address after it. */
static uint64_t emit_rel(uint8_t op, uint64_t to)
{
	int32_t rel = (int32_t)(to - (here() + 5));

	text[pc++] = op;
	memcpy(text + pc, &rel, 4);
	pc += 4;
	return here();
}

static void org(size_t off)
{
	/* int3 padding, as the kernel pads between functions */
	while (pc < off)
		text[pc++] = 0xcc;
}

/* The functions, at fixed offsets. */
#define F_ENTRY 0x000
#define F_OUTER 0x100
#define F_MIDDLE 0x200
#define F_INNER 0x300
#define F_TARGET 0x400
#define F_DISP 0x500
#define F_CALLER2 0x600
#define F_HANDLER 0x700
#define F_REC 0x800
#define F_LOOPY 0x900
#define F_END 0xa00

static uint64_t r_entry, r_outer, r_middle, r_inner, r_caller2, r_rec;

static void build_text(void)
{
	memset(text, 0xcc, sizeof(text));
	pc = F_ENTRY;	/* entry_SYSCALL_64: calls outer */
	emit("90 90");
	r_entry = emit_rel(0xe8, TEXT + F_OUTER);
	emit("0f 0b");
	org(F_OUTER);	/* outer: push rbx; sub rsp,0x20; call middle */
	emit("0f 1f 44 00 00 53 48 83 ec 20");
	r_outer = emit_rel(0xe8, TEXT + F_MIDDLE);
	emit("48 83 c4 20 5b c3");
	org(F_MIDDLE);	/* middle: rbp frame, realigned rsp */
	emit("55 48 89 e5 48 83 e4 f0 48 83 ec 10");
	r_middle = emit_rel(0xe8, TEXT + F_INNER);
	emit("c9 c3");
	org(F_INNER);	/* inner: push r12; push rbx; call target */
	emit("41 54 53");
	emit("85 c0 75 05");	/* test eax,eax; jne +5 (skip a pop path) */
	r_inner = emit_rel(0xe8, TEXT + F_TARGET);
	emit("5b 41 5c c3");
	org(F_TARGET);
	emit("0f 1f 44 00 00 31 c0 c3");
	org(F_DISP);	/* dispatcher: cmp esi,1; je handler; ret */
	emit("83 fe 01");
	emit_rel(0xe9, TEXT + F_HANDLER);	/* tail jmp */
	emit("c3");
	org(F_CALLER2);	/* caller2: push rbp; call disp */
	emit("55");
	r_caller2 = emit_rel(0xe8, TEXT + F_DISP);
	emit("5d c3");
	org(F_HANDLER);
	emit("0f 1f 44 00 00 c3");
	org(F_REC);	/* rec: push rbx; call rec */
	emit("53");
	r_rec = emit_rel(0xe8, TEXT + F_REC);
	emit("5b c3");
	org(F_LOOPY);	/* a function that jumps to itself forever */
	emit("eb fe");
	org(F_END);
}

static struct vsp_symtab *build_syms(void)
{
	char map[2048], err[256];
	struct vsp_symtab *t;

	snprintf(map, sizeof(map),
		 "%llx T _text\n%llx T entry_SYSCALL_64\n%llx T outer\n"
		 "%llx t middle\n%llx t inner\n%llx T target\n%llx T disp\n"
		 "%llx T caller2\n%llx T handler\n%llx t rec\n%llx t loopy\n"
		 "%llx T _etext\n",
		 (unsigned long long)TEXT,
		 (unsigned long long)TEXT + F_ENTRY,
		 (unsigned long long)TEXT + F_OUTER,
		 (unsigned long long)TEXT + F_MIDDLE,
		 (unsigned long long)TEXT + F_INNER,
		 (unsigned long long)TEXT + F_TARGET,
		 (unsigned long long)TEXT + F_DISP,
		 (unsigned long long)TEXT + F_CALLER2,
		 (unsigned long long)TEXT + F_HANDLER,
		 (unsigned long long)TEXT + F_REC,
		 (unsigned long long)TEXT + F_LOOPY,
		 (unsigned long long)TEXT + F_END);
	t = vsp_sym_load_mem(map, strlen(map), "test.map", err, sizeof(err));
	if (!t)
		fprintf(stderr, "# %s\n", err);
	return t;
}

/* A stack built downward from the top, as pushes would. */
static uint64_t sp;

static void push(uint64_t v)
{
	sp -= 8;
	memcpy(stack + (sp - STACK), &v, 8);
}

static void stack_reset(void)
{
	memset(stack, 0, sizeof(stack));
	sp = STACK + sizeof(stack) - 64;
}

static const char *path(const struct vsp_callpath *cp)
{
	static char buf[1024];

	return vsp_callpath_format(cp, buf, sizeof(buf));
}

/* entry -> outer -> middle -> inner -> target, trap at target's entry. */
static struct vsp_regs chain_regs(void)
{
	struct vsp_regs r = { 0 };
	uint64_t middle_rbp;

	stack_reset();
	push(r_entry);			/* entry calls outer */
	push(0x1111);			/* outer: push rbx */
	sp -= 0x20;			/* outer: sub rsp, 0x20 */
	push(r_outer);			/* outer calls middle */
	push(0xfeedULL);		/* middle: push rbp (caller's) */
	middle_rbp = sp;		/* mov rbp, rsp */
	sp &= ~0xfULL;			/* and rsp, -16 */
	sp -= 0x10;			/* sub rsp, 0x10 */
	push(r_middle);			/* middle calls inner */
	push(0x2222);			/* inner: push r12 */
	push(0x3333);			/* inner: push rbx */
	push(r_inner);			/* inner calls target */
	r.rip = TEXT + F_TARGET;
	r.rsp = sp;
	r.rbp = middle_rbp;
	return r;
}

static void test_chain(struct vsp_unwinder *u)
{
	struct vsp_regs r = chain_regs();
	struct vsp_callpath cp;
	struct vsp_event ev;

	vsp_unwind(u, &r, img_read, NULL, &cp);
	printf("# end: %s\n", vsp_unwind_end_text(cp.end));
	ok(cp.n == 5 && !cp.partial && cp.end == VSP_UNWIND_END_ENTRY,
	   "push/sub/rbp-frame chain: %s", path(&cp));
	ok(cp.n == 5 && !strcmp(cp.names[0], "target") &&
	   !strcmp(cp.names[1], "inner") && !strcmp(cp.names[2], "middle") &&
	   !strcmp(cp.names[3], "outer") &&
	   !strcmp(cp.names[4], "entry_SYSCALL_64"),
	   "frames in order, innermost first%s", "");
	ok(cp.frames[1].off == r_inner - (TEXT + F_INNER),
	   "frame offsets are return addresses%s", "");
	memset(&ev, 0, sizeof(ev));
	vsp_callpath_to_event(&cp, &ev);
	ok(ev.has_stack && ev.nstack == 5 && !ev.stack_partial &&
	   !strcmp(ev.stack[0], "target"), "event gets the stack%s", "");

	/* The same again: every function is now answered from the cache. */
	{
		struct vsp_unwind_stats a, b;

		vsp_unwind_stats(u, &a);
		vsp_unwind(u, &r, img_read, NULL, &cp);
		vsp_unwind_stats(u, &b);
		ok(b.cache_misses == a.cache_misses && cp.steps == 0 &&
		   cp.n == 5, "second unwind decodes nothing%s", "");
	}

	/* Without rbp (a clobbered frame pointer), middle's depth is lost. */
	r.rbp = 0;
	{
		struct vsp_unwind_opts o = { .src = VSP_UNWIND_INSN };
		char err[128];
		struct vsp_symtab *t = build_syms();
		struct vsp_unwinder *u2 = vsp_unwind_new(t, NULL, &o, err,
							 sizeof(err));

		vsp_unwind(u2, &r, img_read, NULL, &cp);
		/* rbp 0 points nowhere readable. */
		ok(cp.partial && cp.n == 3 &&
		   (cp.end == VSP_UNWIND_END_READ || cp.end == VSP_UNWIND_END_LOOP),
		   "lost frame pointer: partial %s", path(&cp));
		vsp_unwind_free(u2);
		vsp_sym_free(t);
	}
}

static void test_tail(struct vsp_symtab *t)
{
	struct vsp_unwind_opts o = { .src = VSP_UNWIND_INSN };
	struct vsp_regs r = { 0 };
	struct vsp_callpath cp;
	char err[128];
	struct vsp_unwinder *u = vsp_unwind_new(t, NULL, &o, err, sizeof(err));

	stack_reset();
	push(r_entry);			/* pretend entry called caller2 */
	push(0x4444);			/* caller2: push rbp */
	push(r_caller2);		/* caller2 calls disp, disp tail-jumps */
	r.rip = TEXT + F_HANDLER;
	r.rsp = sp;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	/* (entry never called caller2: the walk stops one frame later.) */
	ok(cp.n == 2 && !strcmp(cp.names[1], "caller2"),
	   "tail call through a dispatcher accepted: %s", path(&cp));
	vsp_unwind_free(u);

	o.strict_callee = true;
	u = vsp_unwind_new(t, NULL, &o, err, sizeof(err));
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.end == VSP_UNWIND_END_CALLEE && cp.n == 1,
	   "strict callee rejects the tail call: %s", path(&cp));
	vsp_unwind_free(u);
}

static void test_hostile(struct vsp_symtab *t)
{
	struct vsp_unwind_opts o = { .src = VSP_UNWIND_INSN };
	struct vsp_regs r = { 0 };
	struct vsp_callpath cp;
	char err[128];
	struct vsp_unwinder *u = vsp_unwind_new(t, NULL, &o, err, sizeof(err));
	clock_t c0 = clock();

	/* Garbage return address (a user address). */
	stack_reset();
	push(0x4141414141414141ULL);
	r.rip = TEXT + F_TARGET;
	r.rsp = sp;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.n == 1 && cp.end == VSP_UNWIND_END_NOSYM,
	   "garbage return address: %s", path(&cp));

	/* A return address with no call before it: a function's start. */
	stack_reset();
	push(TEXT + F_OUTER + 5);
	r.rsp = sp;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.n == 1 && cp.end == VSP_UNWIND_END_BADRET,
	   "return address without a call: %s", path(&cp));

	/* Return address after a call to something else entirely: inner
	 * calls target, but we claim to come from handler. */
	stack_reset();
	push(r_inner);
	r.rip = TEXT + F_HANDLER;
	r.rsp = sp;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.end == VSP_UNWIND_END_CALLEE,
	   "call before the return does not lead here: %s", path(&cp));

	/* Stack pointer off the mapped stack. */
	r.rip = TEXT + F_TARGET;
	r.rsp = STACK + sizeof(stack) - 4;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.n == 1 && cp.end == VSP_UNWIND_END_READ,
	   "stack runs into an unmapped page: %s", path(&cp));
	r.rsp = 0xffff888000000000ULL;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.end == VSP_UNWIND_END_READ,
	   "rsp points at nothing: %s", path(&cp));

	/* A cycle: rec's own return addresses all the way up.  The path is
	 * cut at the frame bound, well inside the stack. */
	stack_reset();
	while (sp > STACK + 64) {
		push(r_rec);
		push(0x5555);	/* rec: push rbx */
	}
	sp += 8;		/* trap at rec's entry: [rsp] is a return */
	r.rip = TEXT + F_REC;
	r.rsp = sp;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.n == VSP_UNWIND_MAX &&
	   cp.end == VSP_UNWIND_END_FRAMES, "recursion cut at the frame bound: %s",
	   cp.n ? cp.names[cp.n - 1] : "");

	/* A self-referencing stack: the slot points back at itself.  The
	 * return address is valid, but the next frame would not move up. */
	stack_reset();
	push(r_rec);
	r.rip = TEXT + F_REC + 1;	/* after push rbx: depth 8 */
	r.rsp = sp - 8;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.n >= 2 && cp.partial, "frames stop at the stack's end: %s",
	   path(&cp));

	/* A frame pointer aimed back down the stack: middle's return slot
	 * would lie below the current frame, a cycle in the making. */
	{
		struct vsp_regs c = chain_regs();

		c.rbp = c.rsp - 0x40;
		vsp_unwind(u, &c, img_read, NULL, &cp);
		ok(cp.partial && cp.n == 3 && cp.end == VSP_UNWIND_END_LOOP,
		   "frame pointer pointing down the stack: %s", path(&cp));
	}

	/* rip in no function at all. */
	r.rip = 0xffffffff90000000ULL;
	ok(vsp_unwind(u, &r, img_read, NULL, &cp) == 0 && cp.partial &&
	   cp.end == VSP_UNWIND_END_NOSYM, "rip outside the kernel: %s",
	   path(&cp));

	/* An endless loop in the code is analysed once and ends. */
	stack_reset();
	push(r_entry);
	r.rip = TEXT + F_LOOPY;
	r.rsp = sp;
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.n >= 1, "jmp-to-self function analysed: %s", path(&cp));
	vsp_unwind_free(u);

	/* A tiny step bound. */
	o.max_steps = 3;
	u = vsp_unwind_new(t, NULL, &o, err, sizeof(err));
	r = chain_regs();
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.end == VSP_UNWIND_END_STEPS,
	   "step bound: %s", path(&cp));
	vsp_unwind_free(u);

	/* A tiny frame bound. */
	o.max_steps = 0;
	o.max_frames = 2;
	u = vsp_unwind_new(t, NULL, &o, err, sizeof(err));
	vsp_unwind(u, &r, img_read, NULL, &cp);
	ok(cp.partial && cp.n == 2 && cp.end == VSP_UNWIND_END_FRAMES,
	   "frame bound: %s", path(&cp));
	vsp_unwind_free(u);

	/* Random stacks: never a crash, always bounded. */
	o.max_frames = 0;
	u = vsp_unwind_new(t, NULL, &o, err, sizeof(err));
	srand(7);
	for (int i = 0; i < 2000; i++) {
		stack_reset();
		for (size_t k = 0; k < sizeof(stack) / 8; k++) {
			uint64_t v;

			switch (rand() % 4) {
			case 0: v = TEXT + (uint64_t)(rand() % sizeof(text)); break;
			case 1: v = STACK + (uint64_t)(rand() % sizeof(stack)); break;
			case 2: v = r_outer; break;
			default: v = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
			}
			memcpy(stack + 8 * k, &v, 8);
		}
		r.rip = TEXT + (uint64_t)(rand() % F_END);
		r.rsp = STACK + (uint64_t)(rand() % sizeof(stack));
		r.rbp = STACK + (uint64_t)(rand() % sizeof(stack));
		vsp_unwind(u, &r, img_read, NULL, &cp);
		if (cp.n > VSP_UNWIND_MAX)
			break;
	}
	ok(cp.n <= VSP_UNWIND_MAX, "2000 random stacks, bounded%s", "");
	ok((double)(clock() - c0) / CLOCKS_PER_SEC < 5.0,
	   "hostile stacks cost little time%s", "");
	vsp_unwind_free(u);

	/* Code that cannot be read (no image, text unmapped). */
	{
		char map[] = "ffffffffa0000000 T ghost\nffffffffa0001000 T ghost_end\n";
		struct vsp_symtab *g = vsp_sym_load_mem(map, strlen(map), "g",
							err, sizeof(err));

		o.max_frames = 0;
		u = vsp_unwind_new(g, NULL, &o, err, sizeof(err));
		stack_reset();
		push(r_entry);
		r.rip = 0xffffffffa0000010ULL;
		r.rsp = sp;
		vsp_unwind(u, &r, img_read, NULL, &cp);
		ok(cp.n == 1 && cp.partial && cp.end == VSP_UNWIND_END_READ,
		   "unreadable code: %s", path(&cp));
		vsp_unwind_free(u);
		vsp_sym_free(g);
	}
}

static void test_depths(struct vsp_unwinder *u)
{
	int32_t d = -1;

	ok(vsp_unwind_insn_depth(u, TEXT + F_OUTER, img_read, NULL, &d) == 0 &&
	   d == 0, "depth 0 at entry%s", "");
	ok(vsp_unwind_insn_depth(u, r_outer - 5, img_read, NULL, &d) == 0 &&
	   d == 0x28, "push + sub 0x20 = 0x28 at the call%s", "");
	ok(vsp_unwind_insn_depth(u, TEXT + F_MIDDLE + 4, img_read, NULL, &d) == 0 &&
	   d == 8, "after push rbp; mov rbp,rsp%s", "");
	ok(vsp_unwind_insn_depth(u, r_middle - 5, img_read, NULL, &d) < 0,
	   "after and rsp: depth unknown (rbp frame)%s", "");
	ok(vsp_unwind_insn_depth(u, r_inner - 5, img_read, NULL, &d) == 0 &&
	   d == 16, "two pushes, reached over a branch%s", "");
	ok(vsp_unwind_insn_depth(u, r_middle, img_read, NULL, &d) < 0,
	   "leave: depth from the frame pointer%s", "");
}

/* ------------------------------------------- the real kernel */

struct kmem {
	const struct vsp_kimg *img;
	int64_t slide;
};

/* A module's code, at MOD: modfn calls commit_creds. */
#define MOD 0xffffffffc0200000ULL
static uint8_t modtext[0x200];

/* Guest memory for the real-kernel test: the image's text, a module, and
 * our stack. */
static long kmem_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct kmem *k = ctx;

	if (gva >= STACK && gva < STACK + sizeof(stack))
		return img_read(NULL, gva, buf, len);
	if (gva >= MOD && gva < MOD + sizeof(modtext)) {
		size_t n = MOD + sizeof(modtext) - gva;

		n = n < len ? n : len;
		memcpy(buf, modtext + (gva - MOD), n);
		return (long)n;
	}
	return (long)vsp_kimg_read(k->img, gva - (uint64_t)k->slide, buf, len);
}

/* Finds the address just after a `call to` inside function `in`. */
static uint64_t find_call(const struct vsp_kimg *img, uint64_t in,
			  uint64_t insize, uint64_t to)
{
	uint8_t b[8192];
	size_t n = vsp_kimg_read(img, in, b, insize < sizeof(b) ? insize : sizeof(b));

	for (size_t k = 0; k + 5 <= n; k++) {
		int32_t rel;

		if (b[k] != 0xe8)
			continue;
		memcpy(&rel, b + k + 1, 4);
		if (in + k + 5 + (uint64_t)(int64_t)rel == to)
			return in + k + 5;
	}
	return 0;
}

/*
 * The ORC tables as a KASLR guest holds them: the image's bytes at the
 * slid address, with an overlay (a copy of both tables, from
 * __start_orc_unwind_ip on) the hostile cases change, and an address from
 * which the overlay reads short.
 */
struct gorc {
	struct kmem km;
	uint64_t at;		/* run-time address of ovl[0] */
	uint8_t *ovl;
	size_t len;
	uint64_t cut;		/* unreadable from here on (0: never) */
	uint64_t reads;
};

static long gorc_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct gorc *g = ctx;
	size_t n = 0;

	g->reads++;
	if (gva >= g->at && gva - g->at < g->len) {
		n = g->len - (size_t)(gva - g->at);
		n = n < len ? n : len;
		if (g->cut && gva + n > g->cut)
			n = gva >= g->cut ? 0 : (size_t)(g->cut - gva);
		memcpy(buf, g->ovl + (gva - g->at), n);
		return n ? (long)n : -14;
	}
	return kmem_read(&g->km, gva, buf, len);
}

/* A symbol table naming only the image's bounds and the four table
 * symbols, at link-time addresses moved by the d[] deltas. */
static struct vsp_symtab *gorc_syms(const uint64_t *a, const int64_t *d,
				    uint64_t text, uint64_t end, int64_t slide)
{
	static const char *const nm[4] = {
		"__start_orc_unwind_ip", "__stop_orc_unwind_ip",
		"__start_orc_unwind", "__stop_orc_unwind" };
	char map[1024], err[256];
	size_t at = 0;
	struct vsp_symtab *t;

	at += (size_t)snprintf(map + at, sizeof(map) - at, "%016llx T _text\n",
			       (unsigned long long)text);
	for (int i = 0; i < 4; i++)
		if (d[i] != INT64_MIN)
			at += (size_t)snprintf(map + at, sizeof(map) - at,
					       "%016llx R %s\n",
					       (unsigned long long)(a[i] + (uint64_t)d[i]),
					       nm[i]);
	at += (size_t)snprintf(map + at, sizeof(map) - at, "%016llx B _end\n",
			       (unsigned long long)end);
	t = vsp_sym_load_mem(map, at, "orc.map", err, sizeof(err));
	if (t)
		vsp_sym_set_slide(t, slide);
	return t;
}

/* Sets ip entry i of the overlay to mean link-time address ip. */
static void gorc_set_ip(struct gorc *g, uint64_t ip_link_at, size_t i,
			uint64_t ip)
{
	int32_t rel = (int32_t)(ip - (ip_link_at + 4 * i));

	memcpy(g->ovl + 4 * i, &rel, 4);
}

static uint64_t gorc_ip(const struct gorc *g, uint64_t ip_link_at, size_t i)
{
	int32_t rel;

	memcpy(&rel, g->ovl + 4 * i, 4);
	return ip_link_at + 4 * i + (uint64_t)(int64_t)rel;
}

/*
 * ORC from guest memory (no vmlinux): the tables read through the read
 * callback at the slid address give the very depths the image's tables
 * give, and every way a hostile guest can break them is an error, with
 * the unwinder left working by instruction analysis.
 */
static void test_orc_from_guest(struct vsp_symtab *t,
				const struct vsp_kimg *img,
				const struct vsp_unwinder *uo)
{
	const int64_t slide = 0x2e00000;
	uint64_t a[4], text, end;
	char err[256];
	struct vsp_unwinder *u;
	struct vsp_unwind_orc_stats st;
	struct gorc g = { { img, slide }, 0, NULL, 0, 0, 0 };
	size_t checked = 0, same = 0, n;
	int rc;

	if (vsp_sym_addr(t, "__start_orc_unwind_ip", &a[0]) ||
	    vsp_sym_addr(t, "__stop_orc_unwind_ip", &a[1]) ||
	    vsp_sym_addr(t, "__start_orc_unwind", &a[2]) ||
	    vsp_sym_addr(t, "__stop_orc_unwind", &a[3]) ||
	    vsp_sym_addr(t, "_text", &text) || vsp_sym_addr(t, "_end", &end)) {
		skip("the cached kernel names no ORC tables");
		return;
	}
	n = (size_t)(a[1] - a[0]) / 4;
	g.at = a[0] + (uint64_t)slide;
	g.len = (size_t)(a[3] - a[0]);
	g.ovl = malloc(g.len);
	if (!g.ovl || vsp_kimg_read(img, a[0], g.ovl, g.len) != g.len) {
		skip("the ORC sections are not in the image's segments");
		free(g.ovl);
		return;
	}

	/* The real tables, slid. */
	vsp_sym_set_slide(t, slide);
	u = vsp_unwind_new(t, NULL, NULL, err, sizeof(err));
	rc = u ? vsp_unwind_orc_from_guest(u, gorc_read, &g, &st, err,
					   sizeof(err)) : -2;
	ok(rc == 0 && vsp_unwind_source(u) == VSP_UNWIND_ORC &&
	   st.entries == n && st.bytes == g.len,
	   "ORC from guest memory: %u entries, %llu bytes in %llu reads %s",
	   st.entries, (unsigned long long)st.bytes,
	   (unsigned long long)g.reads, rc ? err : "");
	/* Depths at a spread of run-time addresses agree with the image's
	 * tables (uo, link-time symbols made slid for the comparison). */
	for (size_t i = 0; rc == 0 && i < n; i += 97) {
		uint64_t ip = gorc_ip(&g, a[0], i) + (uint64_t)slide;
		int32_t d1 = 0, d2 = 0;
		int r1 = vsp_unwind_orc_depth(uo, ip, &d1);
		int r2 = vsp_unwind_orc_depth(u, ip, &d2);

		checked++;
		same += r1 == r2 && (r1 < 0 || d1 == d2);
	}
	ok(checked > 1000 && same == checked,
	   "memory and image tables give the same depth at %zu of %zu "
	   "addresses", same, checked);
	ok(vsp_unwind_orc_from_guest(u, gorc_read, &g, NULL, err,
				     sizeof(err)) == 1,
	   "a second read is refused: the tables are in place");
	vsp_unwind_free(u);
	u = vsp_unwind_new(t, NULL, &(struct vsp_unwind_opts){
				   .src = VSP_UNWIND_INSN }, err, sizeof(err));
	ok(u && vsp_unwind_orc_from_guest(u, gorc_read, &g, NULL, err,
					  sizeof(err)) == 1 &&
	   vsp_unwind_source(u) == VSP_UNWIND_INSN,
	   "an instruction-analysis unwinder reads no tables");
	vsp_unwind_free(u);
	vsp_sym_set_slide(t, 0);

	/* Hostile tables and symbols. */
	{
		static const struct {
			const char *what, *want;
			int64_t d[4];
		} cases[] = {
			{ "no ORC symbols at all", "without the ORC",
			  { INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN } },
			{ "one symbol missing", "names only 3",
			  { 0, 0, 0, INT64_MIN } },
			{ "ip table not a multiple of 4", "do not hold",
			  { 0, -2, 0, 0 } },
			{ "ORC table one entry short", "do not hold",
			  { 0, 0, 0, -6 } },
			{ "ip table one entry short", "do not hold",
			  { 0, -4, 0, 0 } },
			{ "start after stop", "no ranges",
			  { 8, -(int64_t)0x8000000, 0, 0 } },
			/* The ORC table moved down into the ip table, its
			 * size kept: the counts agree, the ranges overlap. */
			{ "tables overlapping", "overlap",
			  { 0, 0, -0x6000, -0x6000 } },
			{ "a range outside the image", "no ranges",
			  { 0, 0, 0, 0x40000000 } },
		};

		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			int64_t d[4];
			struct vsp_symtab *gs;

			memcpy(d, cases[c].d, sizeof(d));
			gs = gorc_syms(a, d, text, end, slide);
			u = gs ? vsp_unwind_new(gs, NULL, NULL, err, sizeof(err))
			       : NULL;
			err[0] = 0;
			g.reads = 0;
			rc = u ? vsp_unwind_orc_from_guest(u, gorc_read, &g, NULL,
							   err, sizeof(err)) : -2;
			ok(rc == (c == 0 ? 1 : -1) && strstr(err, cases[c].want) &&
			   vsp_unwind_source(u) == VSP_UNWIND_INSN &&
			   g.reads == 0,
			   "%s: %s, nothing read (%s)", cases[c].what,
			   c ? "an error" : "no tables", err);
			vsp_unwind_free(u);
			vsp_sym_free(gs);
		}
	}
	{
		static const int64_t d0[4] = { 0, 0, 0, 0 };
		struct vsp_symtab *gs = gorc_syms(a, d0, text, end, slide);
		uint8_t *orig = malloc(g.len);
		struct {
			const char *what, *want;
		} cases[] = {
			{ "two entries swapped", "not sorted" },
			{ "an ip far below the image", "outside the kernel image" },
			{ "an ip past _end", "outside the kernel image" },
			{ "the ORC table unreadable half-way", "not readable" },
			{ "the ip table unreadable at its start", "not readable" },
		};
		size_t mid = n / 2;

		memcpy(orig, g.ovl, g.len);
		while (mid + 1 < n && gorc_ip(&g, a[0], mid) ==
				      gorc_ip(&g, a[0], mid + 1))
			mid++;
		for (size_t c = 0; gs && c < sizeof(cases) / sizeof(cases[0]); c++) {
			uint64_t x = gorc_ip(&g, a[0], mid),
				 y = gorc_ip(&g, a[0], mid + 1);

			memcpy(g.ovl, orig, g.len);
			g.cut = 0;
			if (c == 0) {
				gorc_set_ip(&g, a[0], mid, y);
				gorc_set_ip(&g, a[0], mid + 1, x);
			} else if (c == 1)
				gorc_set_ip(&g, a[0], mid, a[0] - 0x7f000000);
			else if (c == 2)
				gorc_set_ip(&g, a[0], n - 1, end + 16);
			else if (c == 3)
				g.cut = g.at + (a[2] - a[0]) + (a[3] - a[2]) / 2;
			else
				g.cut = g.at;
			u = vsp_unwind_new(gs, NULL, NULL, err, sizeof(err));
			err[0] = 0;
			rc = u ? vsp_unwind_orc_from_guest(u, gorc_read, &g, NULL,
							   err, sizeof(err)) : -2;
			ok(rc == -1 && strstr(err, cases[c].want) &&
			   vsp_unwind_source(u) == VSP_UNWIND_INSN,
			   "%s: an error (%s)", cases[c].what, err);
			vsp_unwind_free(u);
		}
		g.cut = 0;
		memcpy(g.ovl, orig, g.len);
		free(orig);
		vsp_sym_free(gs);
	}
	free(g.ovl);
}

static void test_real(void)
{
	char p1[1024], p2[1024], err[256] = "";
	struct vsp_symtab *t;
	struct vsp_kimg *img;
	struct vsp_unwinder *uo, *ui;
	struct vsp_unwind_opts o = { 0 };
	size_t agree = 0, total = 0;

	rig_cache_file("System.map", p1, sizeof(p1));
	rig_cache_file("vmlinux", p2, sizeof(p2));
	if (access(p1, R_OK) || access(p2, R_OK)) {
		skip("no cached vmlinux/System.map");
		return;
	}
	t = vsp_sym_load(p1, err, sizeof(err));
	img = vsp_kimg_open(p2, err, sizeof(err));
	ok(t && img, "cached kernel loads %s", err);
	if (!t || !img)
		return;
	o.src = VSP_UNWIND_ORC;
	uo = vsp_unwind_new(t, img, &o, err, sizeof(err));
	ok(uo && vsp_unwind_source(uo) == VSP_UNWIND_ORC, "ORC tables found %s",
	   err);
	if (uo)
		test_orc_from_guest(t, img, uo);
	o.src = VSP_UNWIND_INSN;
	ui = vsp_unwind_new(t, img, &o, err, sizeof(err));
	if (!uo || !ui)
		return;

	/* Instruction analysis against ORC, at every call site of a sample
	 * of functions, cold parts included (they start mid-frame). */
	for (size_t i = 0; i < vsp_sym_count(t); i += 13) {
		const struct vsp_sym *s = vsp_sym_get(t, i);
		uint8_t b[4096];
		size_t n;

		if (!vsp_sym_is_text(s) || s->size < 8 || s->size > sizeof(b) ||
		    !strncmp(s->name, "entry_", 6) ||
		    !strncmp(s->name, "asm_", 4))
			continue;
		n = vsp_kimg_read(img, s->addr, b, s->size);
		for (size_t k = 0; k + 5 <= n; k++) {
			int32_t rel, d1, d2;
			uint64_t to;

			if (b[k] != 0xe8)
				continue;
			memcpy(&rel, b + k + 1, 4);
			to = s->addr + k + 5 + (uint64_t)(int64_t)rel;
			if (!vsp_sym_find(t, to) || vsp_sym_find(t, to)->addr != to)
				continue;	/* not a real call to a function */
			if (vsp_unwind_orc_depth(uo, s->addr + k, &d1) < 0)
				continue;
			total++;
			if (vsp_unwind_insn_depth(ui, s->addr + k, NULL, NULL,
						  &d2) == 0 && d1 == d2)
				agree++;
		}
	}
	{
		char msg[128];

		snprintf(msg, sizeof(msg), "%zu of %zu call sites", agree, total);
		printf("# insn analysis agrees with ORC at %s\n", msg);
		ok(total > 1000 && agree * 100 >= total * 97,
		   "insn analysis agrees with ORC at >= 97%% of call sites: %s",
		   msg);
	}

	/* A real chain: commit_creds <- __sys_setuid <- do_syscall_64 <-
	 * entry_SYSCALL_64_after_hwframe, with do_syscall_64 reaching
	 * __sys_setuid through two tail jumps (x64_sys_call, then
	 * __x64_sys_setuid).  The stack is laid out from ORC's depths. */
	{
		uint64_t cc, ss, ds, xs, en, s_sz, d_sz, r1, r2, r3;
		int32_t d1 = 0, d2 = 0, d3 = 0;
		struct kmem km = { img, 0x3a00000 };
		struct vsp_regs r = { 0 };
		struct vsp_callpath cp;
		struct vsp_unwinder *u2;

		if (vsp_sym_addr(t, "commit_creds", &cc) ||
		    vsp_sym_lookup(t, "__sys_setuid", &ss, &s_sz) ||
		    vsp_sym_lookup(t, "do_syscall_64", &ds, &d_sz) ||
		    vsp_sym_addr(t, "x64_sys_call", &xs) ||
		    vsp_sym_addr(t, "entry_SYSCALL_64_after_hwframe", &en)) {
			skip("kernel lacks the setuid chain");
			goto out;
		}
		r1 = find_call(img, ss, s_sz, cc);
		r2 = find_call(img, ds, d_sz, xs);
		r3 = find_call(img, en, 0x100, ds);
		if (!r1 || !r2 || !r3 ||
		    vsp_unwind_orc_depth(uo, r1 - 5, &d1) ||
		    vsp_unwind_orc_depth(uo, r2 - 5, &d2) < -1) {
			skip("call sites not found");
			goto out;
		}
		(void)d3;
		/* do_syscall_64 keeps an rbp frame (random stack offset):
		 * rbp points at its saved rbp, just under the return slot. */
		stack_reset();
		push(r3 + (uint64_t)km.slide);	/* entry -> do_syscall_64 */
		push(0xabcdULL);		/* do_syscall_64: push rbp */
		r.rbp = sp;
		sp -= 0x40;			/* its alloca and locals */
		push(r2 + (uint64_t)km.slide);	/* -> x64_sys_call (tail) */
		/* __sys_setuid's pushes, among them the caller's rbp:
		 * every slot holds it, wherever ORC says it went. */
		for (int32_t k = 0; k < d1; k += 8)
			push(r.rbp);
		push(r1 + (uint64_t)km.slide);	/* -> commit_creds */
		r.rip = cc + (uint64_t)km.slide;
		r.rsp = sp;
		vsp_sym_set_slide(t, km.slide);
		u2 = vsp_unwind_new(t, img, &(struct vsp_unwind_opts){
					    .src = VSP_UNWIND_ORC }, err,
				    sizeof(err));
		vsp_unwind(u2, &r, kmem_read, &km, &cp);
		printf("# end: %s\n", vsp_unwind_end_text(cp.end));
		ok(cp.n == 4 && !cp.partial &&
		   !strcmp(cp.names[1], "__sys_setuid") &&
		   !strcmp(cp.names[2], "do_syscall_64") &&
		   !strcmp(cp.names[3], "entry_SYSCALL_64_after_hwframe"),
		   "real chain by ORC, slid, through two tail jumps: %s",
		   path(&cp));
		vsp_unwind_free(u2);
		/* No image at all: tables, tail jumps and code from guest
		 * memory, at slides where a hash of __sys_setuid's address
		 * once let x64_sys_call's two tail jumps pass by chance
		 * (0x22000000) or not at all. */
		for (int k = 0; k < 2; k++) {
			struct kmem km2 = { img, k ? 0x22000000 : 0x3a00000 };
			struct vsp_regs r2 = r;
			struct vsp_unwind_orc_stats ts;

			vsp_sym_set_slide(t, km2.slide);
			r2.rip += (uint64_t)(km2.slide - km.slide);
			for (size_t w = 0; w < sizeof(stack) / 8; w++) {
				uint64_t v;

				memcpy(&v, stack + 8 * w, 8);
				if (v >= 0xffffffff80000000ULL)
					v += (uint64_t)(km2.slide - km.slide);
				memcpy(stack + 8 * w, &v, 8);
			}
			u2 = vsp_unwind_new(t, NULL, NULL, err, sizeof(err));
			if (u2 && vsp_unwind_orc_from_guest(u2, kmem_read, &km2,
							    NULL, err,
							    sizeof(err)) == 0 &&
			    vsp_unwind_tails_from_guest(u2, kmem_read, &km2, &ts,
							err, sizeof(err)) == 0)
				vsp_unwind(u2, &r2, kmem_read, &km2, &cp);
			else
				cp.n = 0;
			ok(cp.n == 4 && !cp.partial &&
			   !strcmp(cp.names[1], "__sys_setuid") &&
			   !strcmp(cp.names[2], "do_syscall_64") &&
			   !strcmp(cp.names[3], "entry_SYSCALL_64_after_hwframe"),
			   "slide %#llx: the same chain by the guest's own ORC "
			   "tables and text (%u tail jumps), no image: %s",
			   (unsigned long long)km2.slide, ts.entries,
			   cp.n ? path(&cp) : err);
			vsp_unwind_free(u2);
			/* Back to km's slide for the checks below. */
			for (size_t w = 0; w < sizeof(stack) / 8; w++) {
				uint64_t v;

				memcpy(&v, stack + 8 * w, 8);
				if (v >= 0xffffffff80000000ULL)
					v -= (uint64_t)(km2.slide - km.slide);
				memcpy(stack + 8 * w, &v, 8);
			}
			vsp_sym_set_slide(t, km.slide);
		}
		u2 = vsp_unwind_new(t, img, &(struct vsp_unwind_opts){
					    .src = VSP_UNWIND_INSN }, err,
				    sizeof(err));
		vsp_unwind(u2, &r, kmem_read, &km, &cp);
		printf("# end: %s\n", vsp_unwind_end_text(cp.end));
		ok(cp.n == 4 && !cp.partial &&
		   !strcmp(cp.names[2], "do_syscall_64"),
		   "real chain by instruction analysis: %s", path(&cp));
		vsp_unwind_free(u2);
		vsp_sym_set_slide(t, 0);
	}
	/* A frame in a module: ORC has no entry for it (module tables live
	 * in guest memory), so that frame is analysed from its code. */
	{
		FILE *f = fopen(p1, "r");
		char *text = malloc(16u << 20), extra[256];
		size_t n = f ? fread(text, 1, (16u << 20) - 256, f) : 0;
		struct vsp_symtab *mt;
		uint64_t cc = 0, r1;
		int32_t rel;
		struct kmem km = { img, 0 };
		struct vsp_regs r = { 0 };
		struct vsp_callpath cp;
		struct vsp_unwinder *u2;

		if (f)
			fclose(f);
		snprintf(extra, sizeof(extra),
			 "%llx t modfn\t[fakemod]\n%llx t modend\t[fakemod]\n",
			 (unsigned long long)MOD, (unsigned long long)MOD + 0x100);
		memcpy(text + n, extra, strlen(extra));
		mt = vsp_sym_load_mem(text, n + strlen(extra), "map+mod", err,
				      sizeof(err));
		vsp_sym_addr(t, "commit_creds", &cc);
		/* modfn: nop5; push rbx; sub rsp,0x18; call commit_creds */
		memset(modtext, 0xcc, sizeof(modtext));
		memcpy(modtext, "\x0f\x1f\x44\x00\x00\x53\x48\x83\xec\x18\xe8", 11);
		rel = (int32_t)(cc - (MOD + 15));
		memcpy(modtext + 11, &rel, 4);
		memcpy(modtext + 15, "\x48\x83\xc4\x18\x5b\xc3", 6);
		r1 = MOD + 15;
		stack_reset();
		push(0x4141414141414141ULL);	/* modfn's caller: garbage */
		push(0x1111);			/* push rbx */
		sp -= 0x18;
		push(r1);			/* modfn -> commit_creds */
		r.rip = cc;
		r.rsp = sp;
		u2 = mt ? vsp_unwind_new(mt, img, &(struct vsp_unwind_opts){
					 .src = VSP_UNWIND_ORC }, err,
				 sizeof(err)) : NULL;
		if (u2)
			vsp_unwind(u2, &r, kmem_read, &km, &cp);
		ok(u2 && cp.n == 2 && !strcmp(cp.names[1], "modfn") &&
		   cp.frames[2 - 1].off == 15 && cp.end == VSP_UNWIND_END_NOSYM,
		   "ORC unwinder crosses a module frame by analysis: %s",
		   u2 ? path(&cp) : err);
		vsp_unwind_free(u2);
		vsp_sym_free(mt);
		free(text);
	}

	/* Garbage stacks over the real kernel, by both sources: bounded,
	 * never a crash, and never a complete path out of noise. */
	{
		struct kmem km = { img, 0 };
		struct vsp_callpath cp;
		int complete = 0;

		srand(11);
		for (int i = 0; i < 3000; i++) {
			uint64_t lo, hi;
			struct vsp_regs r = { 0 };

			vsp_sym_text_range(t, &lo, &hi);
			for (size_t k = 0; k < sizeof(stack) / 8; k++) {
				uint64_t v = rand() % 2 ?
					lo + ((uint64_t)rand() * 977) % (hi - lo) :
					STACK + (uint64_t)(rand() % sizeof(stack));

				memcpy(stack + 8 * k, &v, 8);
			}
			r.rip = lo + ((uint64_t)rand() * 7919) % (hi - lo);
			r.rsp = STACK + (uint64_t)(rand() % sizeof(stack));
			r.rbp = STACK + (uint64_t)(rand() % sizeof(stack));
			vsp_unwind(i % 2 ? uo : ui, &r, kmem_read, &km, &cp);
			complete += !cp.partial && cp.n > 3;
		}
		ok(complete < 30, "random stacks over real code rarely look "
		   "complete%s", "");
	}
out:
	vsp_unwind_free(ui);
	vsp_unwind_free(uo);
	vsp_kimg_free(img);
	vsp_sym_free(t);
}

int main(void)
{
	struct vsp_symtab *t;
	struct vsp_unwinder *u;
	struct vsp_unwind_opts o = { .src = VSP_UNWIND_AUTO };
	char err[256] = "";

	build_text();
	t = build_syms();
	ok(t != NULL, "test symbols load%s", "");
	u = vsp_unwind_new(t, NULL, &o, err, sizeof(err));
	ok(u && vsp_unwind_source(u) == VSP_UNWIND_INSN,
	   "no image: instruction analysis %s", err);
	o.src = VSP_UNWIND_ORC;
	ok(vsp_unwind_new(t, NULL, &o, err, sizeof(err)) == NULL &&
	   strstr(err, "no ORC"), "ORC without an image is an error: %s", err);
	test_chain(u);
	test_depths(u);
	test_tail(t);
	test_hostile(t);
	vsp_unwind_free(u);
	vsp_sym_free(t);
	test_real();
	return done();
}
