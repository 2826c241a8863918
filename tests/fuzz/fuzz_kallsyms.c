/*
 * fuzz_kallsyms.c: fuzz target for the kernel's tables read from guest
 * memory or a kernel image: kallsyms (vmi/kallsyms.h) and bzImage payloads
 * (vmi/kimage.h).
 *
 * A hostile guest controls every byte vsp decodes its symbol table from:
 * lengths that run off the buffer, token offsets out of range, markers and
 * addresses that disagree, look-alike token tables by the thousand.  A
 * kernel image file handed to `vsp profile` is no better.
 *
 * Input: one mode byte, then the bytes.  Mode 0: the bytes are kernel
 * memory at 0xffffffff82000000, decoded in place.  Mode 1: the same bytes
 * are the .rodata of a guest whose text is one mapped 2 MiB page below,
 * found and copied through a read callback that counts its calls.  Mode 2:
 * the bytes are a kernel image file (bzImage or ELF) to unpack and search
 * for .rodata.  Invariants: every call returns; a table comes back only
 * with every name a non-empty word and every non-per-CPU address in the
 * kernel half; reads stay bounded.
 */
#include "fz_common.h"
#include "vmi/kallsyms.h"
#include "vmi/kimage.h"

#define FZ_RO 0xffffffff82000000ull
#define FZ_TEXT 0xffffffff81e00000ull
#define FZ_MAX_READS 100000

struct fz_mem {
	const uint8_t *b;
	size_t n;
	unsigned reads;
};

static long fz_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct fz_mem *m = ctx;
	if (++m->reads > FZ_MAX_READS)
		FZ_FAIL("kallsyms: more than %d guest reads", FZ_MAX_READS);
	uint8_t *o = buf;
	size_t k = 0;
	for (; k < len; k++) {
		uint64_t a = gva + k;
		if (a >= FZ_TEXT && a < FZ_TEXT + 0x1ff000)
			o[k] = 0x90;
		else if (a >= FZ_RO && a - FZ_RO < m->n)
			o[k] = m->b[a - FZ_RO];
		else
			break;
	}
	return k ? (long)k : -14;
}

static void fz_check(const struct vsp_symtab *t)
{
	if (!t)
		return;
	size_t n = vsp_sym_count(t);
	for (size_t i = 0; i < n; i++) {
		const struct vsp_sym *s = vsp_sym_get(t, i);
		if (!s->name || !s->name[0] || strpbrk(s->name, " \t\n"))
			FZ_FAIL("kallsyms: symbol %zu has a bad name", i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 3;
	const uint8_t *b = data + 1;
	size_t n = size - 1;
	struct vsp_symtab *t = NULL;
	if (mode == 0) {
		struct vsp_ksyms_loc loc;
		t = vsp_ksyms_decode(b, n, FZ_RO, &loc, err, sizeof err);
		if (t && (loc.nsyms != vsp_sym_count(t) ||
			  loc.token_table < FZ_RO || loc.token_table >= FZ_RO + n))
			FZ_FAIL("kallsyms: table found outside the buffer");
	} else if (mode == 1) {
		struct fz_mem m = { b, n, 0 };
		struct vsp_ksyms_stats st;
		t = vsp_ksyms_from_guest(fz_read, &m, FZ_TEXT + 0x1234, &st, err,
					 sizeof err);
		if (t && st.text != FZ_TEXT)
			FZ_FAIL("kallsyms: _text at 0x%llx", (unsigned long long)st.text);
	} else {
		uint8_t *elf;
		size_t len;
		const char *how;
		if (vsp_kimage_unpack(b, n, &elf, &len, &how, err, sizeof err) == 0) {
			uint64_t ra;
			const uint8_t *rd;
			size_t rs;
			if (vsp_kimage_section(elf, len, ".rodata", &ra, &rd, &rs) == 0 && rd) {
				if (rd < elf || rs > len || (size_t)(rd - elf) > len - rs)
					FZ_FAIL("kimage: section outside the image");
				t = vsp_ksyms_decode(rd, rs, ra, NULL, err, sizeof err);
			}
			free(elf);
		}
	}
	fz_check(t);
	vsp_sym_free(t);
	return 0;
}
