/*
 * kverify.c: checks of symbols against the running kernel (kverify.h).
 *
 * Each check costs one or two bounded guest reads; they run once per trap
 * site at attach, never on the decision path.
 */
#include "vmi/kverify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const uint8_t kv_nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static const uint8_t kv_endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

void vsp_kverify_init(struct vsp_kverify *v, vsp_gread_fn read, void *ctx,
		      const struct vsp_symtab *syms,
		      const struct vsp_symtab *truth,
		      const struct vsp_kimg *img)
{
	memset(v, 0, sizeof *v);
	v->read = read;
	v->ctx = ctx;
	v->syms = syms;
	v->truth = truth == syms ? NULL : truth;
	v->img = img;
}

static int kv_fail(struct vsp_kverify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int kv_fail(struct vsp_kverify *v, const char *fmt, ...)
{
	if (v->failed++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->first, sizeof v->first, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void kv_hex(const uint8_t *b, size_t n, char *out, size_t size)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < n && o + 4 < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%02x", i ? " " : "", b[i]);
}

/* ftrace's NOP, or a call to its entry points (a kernel without dynamic
 * ftrace calls __fentry__ itself; a traced function calls the tracer). */
static bool kv_fentry(const struct vsp_kverify *v, uint64_t at, const uint8_t *c)
{
	static const char *const fn[] = { "__fentry__", "ftrace_caller",
					  "ftrace_regs_caller" };
	if (memcmp(c, kv_nop5, 5) == 0)
		return true;
	if (c[0] != 0xe8)
		return false;
	int32_t rel;
	memcpy(&rel, c + 1, 4);
	uint64_t to = at + 5 + (uint64_t)(int64_t)rel, a;
	for (size_t i = 0; i < sizeof fn / sizeof fn[0]; i++)
		if (vsp_sym_addr(v->syms, fn[i], &a) == 0 && a == to)
			return true;
	return false;
}

/* An entry that leaves at once: how code is hooked (jmp, call, int3,
 * ret, an indirect branch, ud2).  Kernels built without ftrace start
 * with a plain prologue instead, which passes. */
static bool kv_hooked(const uint8_t *c)
{
	switch (c[0]) {
	case 0xe8: case 0xe9: case 0xeb: case 0xea: case 0xcc: case 0xcd:
	case 0xc3: case 0xc2: case 0xcb: case 0xca: case 0xf4:
		return true;
	case 0xff:
		return ((c[1] >> 3) & 7) >= 2 && ((c[1] >> 3) & 7) <= 5;
	case 0x0f:
		return c[1] == 0x0b;
	case 0x68:	/* push imm32; ret */
		return c[5] == 0xc3;
	case 0x48:	/* movabs rax, imm64; jmp rax */
		return c[1] == 0xb8;
	default:
		return false;
	}
}

/* The link-time address the image holds run-time addr at. */
static uint64_t kv_link(const struct vsp_kverify *v, uint64_t addr)
{
	return addr - (uint64_t)vsp_sym_slide(v->syms);
}

int vsp_kverify_banner(struct vsp_kverify *v)
{
	uint64_t a;
	char b[128], h[64];
	v->checked++;
	if (vsp_sym_addr(v->syms, "linux_banner", &a) < 0)
		return kv_fail(v, "the symbols have no linux_banner");
	if (v->truth) {
		uint64_t t;
		if (vsp_sym_addr(v->truth, "linux_banner", &t) < 0 || t != a)
			return kv_fail(v, "linux_banner is at 0x%" PRIx64 " in the "
				       "symbols but at 0x%" PRIx64 " in the running "
				       "kernel", a, t);
	}
	memset(b, 0, sizeof b);
	if (vsp_gread_all(v->read, v->ctx, a, b, sizeof b - 1) < 0)
		return kv_fail(v, "linux_banner (0x%" PRIx64 ") is not readable", a);
	if (strncmp(b, "Linux version ", 14) != 0) {
		kv_hex((const uint8_t *)b, 14, h, sizeof h);
		return kv_fail(v, "no version banner at linux_banner (0x%" PRIx64
			       "): %s", a, h);
	}
	if (v->img) {
		char i[128];
		memset(i, 0, sizeof i);
		size_t n = vsp_kimg_read(v->img, kv_link(v, a), i, sizeof i - 1);
		b[strcspn(b, "\n")] = 0;
		i[strcspn(i, "\n")] = 0;
		if (n < 16 || strcmp(b, i) != 0)
			return kv_fail(v, "the running kernel is \"%.80s\", the "
				       "vmlinux \"%.80s\"", b, n ? i : "");
	}
	return 0;
}

int vsp_kverify_entry(struct vsp_kverify *v, const char *sym, uint64_t addr,
		      int sysnr)
{
	uint8_t c[16];
	char h[64], hi[64];
	v->checked++;
	if (v->truth) {
		uint64_t t;
		if (vsp_sym_addr(v->truth, sym, &t) < 0)
			return kv_fail(v, "%s is not in the running kernel's "
				       "kallsyms", sym);
		if (t != addr)
			return kv_fail(v, "%s is at 0x%" PRIx64 " in the symbols "
				       "but at 0x%" PRIx64 " in the running kernel",
				       sym, addr, t);
	}
	if (vsp_gread_all(v->read, v->ctx, addr, c, sizeof c) < 0)
		return kv_fail(v, "%s (0x%" PRIx64 ") is not readable", sym, addr);
	size_t off = memcmp(c, kv_endbr, 4) == 0 ? 4 : 0;
	if (v->img) {
		uint8_t i[16];
		if (vsp_kimg_read(v->img, kv_link(v, addr), i, sizeof i) != sizeof i)
			return kv_fail(v, "%s (0x%" PRIx64 ") is outside the vmlinux "
				       "image", sym, addr);
		/* ftrace turns the linked `call __fentry__` into a NOP. */
		bool entry_ok = memcmp(c, i, off) == 0 &&
				(kv_fentry(v, addr + off, c + off) ||
				 memcmp(c + off, i + off, 5) == 0);
		if (!entry_ok || memcmp(c + off + 5, i + off + 5, sizeof c - off - 5)) {
			kv_hex(c, sizeof c, h, sizeof h);
			kv_hex(i, sizeof i, hi, sizeof hi);
			return kv_fail(v, "the kernel text at %s (0x%" PRIx64 ") is "
				       "%s, the vmlinux has %s", sym, addr, h, hi);
		}
	} else if (!kv_fentry(v, addr + off, c + off) && kv_hooked(c + off)) {
		kv_hex(c, 8, h, sizeof h);
		return kv_fail(v, "the kernel text at %s (0x%" PRIx64 ") is %s: "
			       "a branch or trap where the function's entry "
			       "should be (ftrace NOP 0f 1f 44 00 00 or its first "
			       "instruction)", sym, addr, h);
	}
	uint64_t tab;
	if (sysnr >= 0 && sysnr < 1024 &&
	    vsp_sym_addr(v->syms, "sys_call_table", &tab) == 0) {
		uint64_t e;
		if (vsp_gread_all(v->read, v->ctx, tab + 8 * (uint64_t)sysnr, &e,
				  sizeof e) < 0)
			return kv_fail(v, "sys_call_table[%d] is not readable", sysnr);
		if (e != addr)
			return kv_fail(v, "sys_call_table[%d] is 0x%" PRIx64 ", not "
				       "%s (0x%" PRIx64 ")", sysnr, e, sym, addr);
	}
	return 0;
}
