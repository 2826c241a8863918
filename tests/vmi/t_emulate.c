/*
 * t_emulate.c: the instructions the monitor runs in place of the guest
 * (vmi/emulate.h).  Decoding of the first instructions of libc's
 * functions and of what must be stepped instead; the flags of sub, cmp
 * and test against this machine's own instructions, for operands drawn
 * at random and at the edges; each kind run on registers and a memory
 * image; failed reads and writes leave the registers as they were.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/emulate.h"

#define ARITH 0x8d5ull		/* OF SF ZF AF PF CF */
#define ARITH_NO_AF 0x8c5ull

/* ---- this CPU's flags ---- */

static uint64_t cpu_sub(uint64_t a, uint64_t b, unsigned w)
{
	uint16_t ax;
	uint8_t of;
	uint64_t x = a;

	switch (w) {
	case 1:
		__asm__ volatile("subb %b3, %b2\n\tlahf\n\tseto %1"
				 : "=a"(ax), "=q"(of), "+q"(x) : "q"(b) : "cc");
		break;
	case 4:
		__asm__ volatile("subl %k3, %k2\n\tlahf\n\tseto %1"
				 : "=a"(ax), "=q"(of), "+r"(x) : "r"(b) : "cc");
		break;
	default:
		__asm__ volatile("subq %3, %2\n\tlahf\n\tseto %1"
				 : "=a"(ax), "=q"(of), "+r"(x) : "r"(b) : "cc");
		break;
	}
	return ((ax >> 8) & 0xd5) | (of ? 0x800ull : 0);
}

static uint64_t cpu_test(uint64_t a, uint64_t b, unsigned w)
{
	uint16_t ax;
	uint8_t of;

	if (w == 4)
		__asm__ volatile("testl %k3, %k2\n\tlahf\n\tseto %1"
				 : "=a"(ax), "=q"(of) : "r"(a), "r"(b) : "cc");
	else
		__asm__ volatile("testq %3, %2\n\tlahf\n\tseto %1"
				 : "=a"(ax), "=q"(of) : "r"(a), "r"(b) : "cc");
	return ((ax >> 8) & 0xd5) | (of ? 0x800ull : 0);
}

static uint64_t rnd64(void)
{
	uint64_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 16 ^ (uint64_t)(rand() & 0xffff);
	/* Edges more often than chance would give them. */
	switch (rand() % 8) {
	case 0: return 0;
	case 1: return v & 0xff;
	case 2: return 0x8000000000000000ull >> (rand() % 64);
	case 3: return ~0ull >> (rand() % 64);
	default: return v;
	}
}

static void flags_against_cpu(void)
{
	static const unsigned widths[] = { 1, 4, 8 };
	int bad_sub = 0, bad_test = 0, n = 0;

	srand(7);
	for (int i = 0; i < 200000; i++) {
		uint64_t a = rnd64(), b = rnd64();
		unsigned w = widths[i % 3];
		uint64_t want = cpu_sub(a, b, w);
		uint64_t got = vsp_emu_flags_sub(0x202, a, b, w);
		if ((got & ARITH) != want) {
			if (bad_sub++ < 3)
				diag("sub%u %#llx - %#llx: cpu %#llx, emulated %#llx",
				     w, (unsigned long long)a, (unsigned long long)b,
				     (unsigned long long)want,
				     (unsigned long long)(got & ARITH));
		}
		if (w != 1) {
			want = cpu_test(a, b, w) & ARITH_NO_AF;
			got = vsp_emu_flags_and(0x202, a, b, w);
			if ((got & ARITH_NO_AF) != want && bad_test++ < 3)
				diag("test%u %#llx & %#llx: cpu %#llx, emulated %#llx",
				     w, (unsigned long long)a, (unsigned long long)b,
				     (unsigned long long)want,
				     (unsigned long long)(got & ARITH_NO_AF));
		}
		if ((got & ~ARITH) != 0x202)
			bad_test++;
		n++;
	}
	ok(bad_sub == 0, "sub and cmp: the six flags as this CPU sets them "
	   "(%d operand pairs, 8, 32 and 64 bits; %d differ)", n, bad_sub);
	ok(bad_test == 0, "test: OF SF ZF PF CF as this CPU sets them, the "
	   "other flags kept (%d differ)", bad_test);
}

/* ---- decoding ---- */

struct dec {
	const char *what;
	uint8_t code[16];
	size_t n;
	enum vsp_emu_op op;
	uint8_t len;
};

static void decoding(csh cs)
{
	static const struct dec cases[] = {
		/* the first instructions of glibc 2.36's functions */
		{ "system: test %rdi,%rdi", { 0x48, 0x85, 0xff }, 3, VSP_EMU_TEST, 3 },
		{ "popen: push %r13", { 0x41, 0x55 }, 2, VSP_EMU_PUSH, 2 },
		{ "execl: push %rbp", { 0x55 }, 1, VSP_EMU_PUSH, 1 },
		{ "execve: mov $0x3b,%eax", { 0xb8, 0x3b, 0, 0, 0 }, 5, VSP_EMU_MOV_IMM, 5 },
		{ "execv: mov 0xfe369(%rip),%rax",
		  { 0x48, 0x8b, 0x05, 0x69, 0xe3, 0x0f, 0x00 }, 7, VSP_EMU_LOAD_RIP, 7 },
		{ "posix_spawn: sub $0x10,%rsp", { 0x48, 0x83, 0xec, 0x10 }, 4,
		  VSP_EMU_SUB_RSP, 4 },
		{ "ptrace: sub $0x68,%rsp", { 0x48, 0x83, 0xec, 0x68 }, 4,
		  VSP_EMU_SUB_RSP, 4 },
		{ "connect: cmpb $0x0,0xd0e21(%rip)",
		  { 0x80, 0x3d, 0x21, 0x0e, 0x0d, 0x00, 0x00 }, 7, VSP_EMU_CMP_RIP, 7 },
		{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, VSP_EMU_SKIP, 4 },
		{ "nopl 0x0(%rax,%rax,1)", { 0x0f, 0x1f, 0x44, 0, 0 }, 5, VSP_EMU_SKIP, 5 },
		{ "movabs $0x1122334455667788,%r11",
		  { 0x49, 0xbb, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 10,
		  VSP_EMU_MOV_IMM, 10 },
		{ "test %esi,%esi", { 0x85, 0xf6 }, 2, VSP_EMU_TEST, 2 },
		/* what is stepped instead */
		{ "jmp", { 0xe9, 0, 0, 0, 0 }, 5, VSP_EMU_NONE, 0 },
		{ "call", { 0xe8, 0, 0, 0, 0 }, 5, VSP_EMU_NONE, 0 },
		{ "push %ax (16 bits)", { 0x66, 0x50 }, 2, VSP_EMU_NONE, 0 },
		{ "mov %fs:0x28,%rax", { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0 },
		  9, VSP_EMU_NONE, 0 },
		{ "mov (%rdi),%rax", { 0x48, 0x8b, 0x07 }, 3, VSP_EMU_NONE, 0 },
		{ "sub $0x10,%rdi", { 0x48, 0x83, 0xef, 0x10 }, 4, VSP_EMU_NONE, 0 },
		{ "lock subq $1,(%rip)", { 0xf0, 0x48, 0x83, 0x2d, 0, 0, 0, 0, 1 }, 9,
		  VSP_EMU_NONE, 0 },
		{ "cmpl $0,(%rip)", { 0x83, 0x3d, 0, 0, 0, 0, 0 }, 7, VSP_EMU_NONE, 0 },
		{ "push (%rax)", { 0xff, 0x30 }, 2, VSP_EMU_NONE, 0 },
		{ "half an instruction", { 0x48, 0x8b }, 2, VSP_EMU_NONE, 0 },
		{ "int3", { 0xcc }, 1, VSP_EMU_NONE, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct vsp_emu e;
		bool yes = vsp_emu_decode(cs, cases[i].code, cases[i].n, 0x7f0000001000ull,
					  &e);
		ok(e.op == cases[i].op && e.len == cases[i].len &&
		   yes == (cases[i].op != VSP_EMU_NONE),
		   "%s: %s, %u bytes", cases[i].what, vsp_emu_name(&e), e.len);
	}
}

/* ---- running ---- */

#define MEM_BASE 0x7ffff0000000ull
static uint8_t mem[8192];
static bool mem_fail;

static long m_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	(void)ctx;
	if (mem_fail || gva < MEM_BASE || gva - MEM_BASE + len > sizeof mem)
		return -14;
	memcpy(buf, mem + (gva - MEM_BASE), len);
	return (long)len;
}

static long m_write(void *ctx, uint64_t gva, const void *buf, size_t len)
{
	(void)ctx;
	if (mem_fail || gva < MEM_BASE || gva - MEM_BASE + len > sizeof mem)
		return -14;
	memcpy(mem + (gva - MEM_BASE), buf, len);
	return (long)len;
}

static struct vsp_regs regs0(void)
{
	struct vsp_regs r;
	memset(&r, 0, sizeof r);
	r.rip = MEM_BASE + 0x100;
	r.rsp = MEM_BASE + 0x1000;
	r.rflags = 0x246;	/* IF, ZF, PF */
	r.r13 = 0x1122334455667788ull;
	r.rdi = 0;
	r.rax = 0xffffffffffffffffull;
	return r;
}

static bool run(csh cs, const uint8_t *code, size_t n, struct vsp_regs *r)
{
	struct vsp_emu e;
	return vsp_emu_decode(cs, code, n, r->rip, &e) &&
	       vsp_emu_run(&e, r, m_read, m_write, NULL) == 0;
}

static void running(csh cs)
{
	struct vsp_regs r = regs0(), was;
	uint64_t v;

	ok(run(cs, (const uint8_t[]){ 0x41, 0x55 }, 2, &r) &&
	   r.rsp == MEM_BASE + 0x1000 - 8 && r.rip == MEM_BASE + 0x102 &&
	   (memcpy(&v, mem + 0x1000 - 8, 8), v == 0x1122334455667788ull),
	   "push %%r13: the register below rsp, rsp down 8, rip past it");

	r = regs0();
	ok(run(cs, (const uint8_t[]){ 0xb8, 0x27, 0, 0, 0 }, 5, &r) &&
	   r.rax == 0x27 && r.rip == MEM_BASE + 0x105,
	   "mov $0x27,%%eax: rax zero-extended (was all ones)");

	r = regs0();
	ok(run(cs, (const uint8_t[]){ 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff }, 7, &r) &&
	   r.rax == ~0ull, "mov $-1,%%rax: the immediate sign-extended");

	r = regs0();
	ok(run(cs, (const uint8_t[]){ 0x48, 0x83, 0xec, 0x68 }, 4, &r) &&
	   r.rsp == MEM_BASE + 0x1000 - 0x68 &&
	   (r.rflags & ARITH) == cpu_sub(MEM_BASE + 0x1000, 0x68, 8) &&
	   (r.rflags & 0x200), "sub $0x68,%%rsp: rsp and the flags, IF kept");

	r = regs0();
	r.rflags = 0x202;
	ok(run(cs, (const uint8_t[]){ 0x48, 0x85, 0xff }, 3, &r) &&
	   (r.rflags & 0x40) && r.rip == MEM_BASE + 0x103,
	   "test %%rdi,%%rdi with rdi 0: ZF set, so system(NULL)'s je is taken");

	r = regs0();
	v = 0xdeadbeefcafef00dull;
	memcpy(mem + 0x200 + 7 + 0x10, &v, 8);
	r.rip = MEM_BASE + 0x200;
	ok(run(cs, (const uint8_t[]){ 0x48, 0x8b, 0x05, 0x10, 0, 0, 0 }, 7, &r) &&
	   r.rax == v && r.rip == MEM_BASE + 0x207,
	   "mov 0x10(%%rip),%%rax: the quadword after the instruction plus 0x10");

	r = regs0();
	r.rip = MEM_BASE + 0x300;
	mem[0x300 + 7 + 0x20] = 1;
	ok(run(cs, (const uint8_t[]){ 0x80, 0x3d, 0x20, 0, 0, 0, 0 }, 7, &r) &&
	   !(r.rflags & 0x40) && (r.rflags & ARITH) == cpu_sub(1, 0, 1),
	   "cmpb $0,0x20(%%rip) with 1 there: ZF clear, flags as the CPU's");

	r = regs0();
	r.rip = MEM_BASE + 0x400;
	ok(run(cs, (const uint8_t[]){ 0xf3, 0x0f, 0x1e, 0xfa }, 4, &r) &&
	   r.rip == MEM_BASE + 0x404 && r.rflags == 0x246,
	   "endbr64: rip past it, nothing else");

	mem_fail = true;
	r = was = regs0();
	ok(!run(cs, (const uint8_t[]){ 0x55 }, 1, &r) &&
	   memcmp(&r, &was, sizeof r) == 0,
	   "push onto an unwritable stack: refused, registers unchanged");
	r = regs0();
	r.rip = MEM_BASE + 0x200;
	was = r;
	ok(!run(cs, (const uint8_t[]){ 0x48, 0x8b, 0x05, 0x10, 0, 0, 0 }, 7, &r) &&
	   memcmp(&r, &was, sizeof r) == 0,
	   "a rip-relative load from an unreadable page: refused, registers unchanged");
	mem_fail = false;
}

int main(void)
{
	csh cs;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		ok(0, "capstone opens");
		return done();
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	flags_against_cpu();
	decoding(cs);
	running(cs);
	cs_close(&cs);
	return done();
}
