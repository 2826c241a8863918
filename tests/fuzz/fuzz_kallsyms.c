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
 * for .rodata, and read at the link-time addresses of its segments.
 * Mode 3: the bytes are the text of a profile whose sections (the BTF,
 * ORC tables and tail jumps, vmi/kprofile.h) are loaded, served back and
 * taken as tail jumps over a small symbol table.  Invariants: every call
 * returns; a table comes back only with every name a non-empty word and
 * every non-per-CPU address in the kernel half; reads stay bounded; a
 * section loads only at the size it states, is served only inside it, and
 * tail jumps are taken only between function starts.
 */
#include "fz_common.h"
#include "vmi/kallsyms.h"
#include "vmi/kimage.h"
#include "vmi/kprofile.h"
#include "vmi/unwind.h"

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

/* Functions at 0x...000, 0x...040 and _etext, a variable between: the
 * tail jumps' only function starts. */
static const char fz_map[] =
	"ffffffff81000000 T _text\n"
	"ffffffff81000000 T fz_a\n"
	"ffffffff81000040 T fz_b\n"
	"ffffffff81000080 D fz_var\n"
	"ffffffff81000100 T _etext\n";

/* Kernel memory that is the fuzz input again, at every address. */
static long fz_echo(void *ctx, uint64_t gva, void *buf, size_t len)
{
	const struct vsp_kprof *p = ctx;
	memset(buf, (int)(gva ^ p->dig.nsyms) & 0xff, len);
	return gva & 0x100000 ? -14 : (long)len;
}

/* A digest loaded is bounded, and checking it against any memory (and
 * finding a slide by it) ends without a fault. */
static void fz_digest(const struct vsp_kprof *p)
{
	const struct vsp_kprof_digest *d = &p->dig;
	if (!d->nsyms)
		return;
	if (!d->nwin || d->nwin > VSP_KPROF_WINDOWS_MAX)
		FZ_FAIL("kprofile: a digest of %zu windows", d->nwin);
	for (size_t i = 0; i < d->nwin; i++)
		if (!d->win[i].len || d->win[i].len > VSP_KPROF_WINDOW_MAX ||
		    (unsigned)d->win[i].table >= VSP_KPROF_NTABLE)
			FZ_FAIL("kprofile: digest window %zu of %u bytes", i,
				d->win[i].len);
	char err[256];
	(void)vsp_kprof_digest_verify(p, 0x2000000, NULL, fz_echo, (void *)p,
				      NULL, err, sizeof err);
	struct vsp_symtab *t = vsp_sym_load_mem(fz_map, sizeof fz_map - 1, "fz",
						err, sizeof err);
	int64_t slide;
	if (t)
		(void)vsp_kprof_digest_slide(p, t, 0xffffffff81000010ull, NULL,
					     fz_echo, (void *)p, &slide, NULL);
	vsp_sym_free(t);
}

static void fz_kprof(const uint8_t *b, size_t n)
{
	char err[256];
	struct vsp_kprof p;
	if (vsp_kprof_load_mem((const char *)b, n, "fuzz", &p, err, sizeof err) < 0)
		return;
	fz_digest(&p);
	for (int i = 0; i < VSP_KPROF_NSEC; i++) {
		const struct vsp_kprof_sec *s = &p.sec[i];
		if (!s->data)
			continue;
		if (!s->size || s->size > VSP_KPROF_SEC_MAX)
			FZ_FAIL("kprofile: section %d of %zu bytes", i, s->size);
		if (i == VSP_KPROF_TAILS)
			continue;
		/* Served at its last byte, refused one past it. */
		struct vsp_kprof_reader r = { &p, 0x1000 };
		uint8_t c;
		uint64_t end = s->addr + s->size + 0x1000;
		if (vsp_kprof_read(&r, end - 1, &c, 1) != 1 ||
		    c != s->data[s->size - 1])
			FZ_FAIL("kprofile: section %d not served at its end", i);
	}
	const struct vsp_kprof_sec *ts = &p.sec[VSP_KPROF_TAILS];
	if (!ts->data) {
		vsp_kprof_free(&p);
		return;
	}
	struct vsp_symtab *t = vsp_sym_load_mem(fz_map, sizeof fz_map - 1, "fz",
						err, sizeof err);
	struct vsp_unwind_opts uo;
	memset(&uo, 0, sizeof uo);
	struct vsp_unwinder *u = t ? vsp_unwind_new(t, NULL, &uo, err, sizeof err)
				   : NULL;
	if (u &&
	    vsp_unwind_tails_adopt(u, ts->data, ts->size, err, sizeof err) == 0) {
		for (size_t i = 0; i + 16 <= ts->size; i += 16) {
			uint64_t a[2];
			memcpy(a, ts->data + i, 16);
			for (int k = 0; k < 2; k++)
				if (a[k] != 0xffffffff81000000ull &&
				    a[k] != 0xffffffff81000040ull &&
				    a[k] != 0xffffffff81000100ull)
					FZ_FAIL("kprofile: tail jump at 0x%llx taken",
						(unsigned long long)a[k]);
		}
	}
	if (u)
		vsp_unwind_free(u);
	vsp_sym_free(t);
	vsp_kprof_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 4;
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
	} else if (mode == 2) {
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
			uint8_t w[64];
			long k = vsp_kimage_read(elf, len, FZ_TEXT, w, sizeof w);
			if (k >= 0 && k != (long)sizeof w)
				FZ_FAIL("kimage: read %ld of %zu bytes", k, sizeof w);
			free(elf);
		}
	} else {
		fz_kprof(b, n);
	}
	fz_check(t);
	vsp_sym_free(t);
	return 0;
}
