/*
 * fuzz_orc.c: fuzz target for the ORC tables read from guest memory
 * (vsp_unwind_orc_from_guest, vmi/unwind.h) and the unwinds made with them.
 *
 * Without a vmlinux the unwinder copies the kernel's own .orc_unwind_ip
 * and .orc_unwind from the running guest, and a hostile guest controls
 * every byte: the four symbols that bound the tables (through a lying
 * kallsyms), the relative ips, the entries' offsets and types, and the
 * stack the unwinds then walk.
 *
 * Input: a header (the four table symbols, _end, up to eight function
 * starts, as offsets into a 16 KiB kernel image at FZ_BASE), then a 1 KiB
 * stack at FZ_STACK, then four register sets to unwind from; the rest is
 * the image (zeros past the input).  Invariants: every call returns;
 * reads stay bounded; the tables are taken only whole, inside the image,
 * one 4-byte ip per 6-byte entry; an unwinder that refused them is left
 * usable; every unwind stops within its frame bound with a stated end,
 * names every frame, and its stack pointer only moves up.
 */
#include "fz_common.h"
#include "vmi/symbols.h"
#include "vmi/unwind.h"

#define FZ_BASE 0xffffffff81000000ull
#define FZ_IMG 0x4000u
#define FZ_STACK 0xffffc90000010000ull
#define FZ_STACK_LEN 1024u
#define FZ_MAX_READS 200000

struct fz_orc_mem {
	const uint8_t *img, *stack;
	size_t nimg;
	unsigned reads;
};

static long fz_orc_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct fz_orc_mem *m = ctx;
	uint8_t *o = buf;
	size_t k = 0;

	if (++m->reads > FZ_MAX_READS)
		FZ_FAIL("orc: more than %d guest reads", FZ_MAX_READS);
	for (; k < len; k++) {
		uint64_t a = gva + k;

		if (a >= FZ_BASE && a - FZ_BASE < FZ_IMG)
			o[k] = a - FZ_BASE < m->nimg ? m->img[a - FZ_BASE] : 0;
		else if (a >= FZ_STACK && a - FZ_STACK < FZ_STACK_LEN)
			o[k] = m->stack[a - FZ_STACK];
		else
			break;
	}
	return k ? (long)k : -14;
}

static uint16_t fz_u16(struct fz_in *in)
{
	return (uint16_t)(fz_u8(in) | fz_u8(in) << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const nm[4] = {
		"__start_orc_unwind_ip", "__stop_orc_unwind_ip",
		"__start_orc_unwind", "__stop_orc_unwind" };
	struct fz_in in = { data, size };
	uint8_t stack[FZ_STACK_LEN];
	char map[1024], err[256];
	size_t at = 0;
	uint64_t tab[4];

	/* The symbols, as the guest's kallsyms would give them. */
	at += (size_t)snprintf(map + at, sizeof map - at, "%016llx T _text\n",
			       (unsigned long long)FZ_BASE);
	unsigned nf = fz_u8(&in) % 9;
	for (unsigned i = 0; i < nf; i++)
		at += (size_t)snprintf(map + at, sizeof map - at, "%016llx T f%u\n",
				       (unsigned long long)(FZ_BASE + fz_u16(&in) % FZ_IMG), i);
	for (int i = 0; i < 4; i++) {
		tab[i] = FZ_BASE + fz_u16(&in) % FZ_IMG;
		at += (size_t)snprintf(map + at, sizeof map - at, "%016llx R %s\n",
				       (unsigned long long)tab[i], nm[i]);
	}
	uint64_t end = FZ_BASE + 1 + fz_u16(&in) % FZ_IMG;
	at += (size_t)snprintf(map + at, sizeof map - at, "%016llx B _end\n",
			       (unsigned long long)end);
	struct vsp_regs regs[4];
	for (int i = 0; i < 4; i++) {
		memset(&regs[i], 0, sizeof regs[i]);
		regs[i].rip = FZ_BASE + fz_u16(&in) % FZ_IMG;
		regs[i].rsp = FZ_STACK + fz_u16(&in) % FZ_STACK_LEN;
		regs[i].rbp = FZ_STACK + fz_u16(&in) % FZ_STACK_LEN;
	}
	for (size_t i = 0; i < sizeof stack; i++)
		stack[i] = fz_u8(&in);

	struct vsp_symtab *t = vsp_sym_load_mem(map, at, "orc.map", err, sizeof err);
	if (!t)
		return 0;
	/* A lower step bound than the monitor's keeps each input fast; the
	 * walk's logic is the same. */
	struct vsp_unwinder *u = vsp_unwind_new(t, NULL, &(struct vsp_unwind_opts){
						   .max_steps = 2000 }, err, sizeof err);
	if (!u) {
		vsp_sym_free(t);
		return 0;
	}
	struct fz_orc_mem m = { in.p, stack, in.n, 0 };
	struct vsp_unwind_orc_stats st = { 0 };
	int rc = vsp_unwind_orc_from_guest(u, fz_orc_read, &m, &st, err, sizeof err);
	if (rc < -1 || rc > 1)
		FZ_FAIL("orc: vsp_unwind_orc_from_guest returned %d", rc);
	if (rc == 0) {
		if (vsp_unwind_source(u) != VSP_UNWIND_ORC)
			FZ_FAIL("orc: tables taken but the source is not ORC");
		uint64_t ips = tab[1] - tab[0], ents = tab[3] - tab[2];
		if (tab[1] < tab[0] || tab[3] < tab[2] || ips != 4ull * st.entries ||
		    ents != 6ull * st.entries || st.entries > VSP_UNWIND_ORC_MAX)
			FZ_FAIL("orc: %u entries taken from ip table [%llx, %llx) "
				"and entries [%llx, %llx)", st.entries,
				(unsigned long long)tab[0], (unsigned long long)tab[1],
				(unsigned long long)tab[2], (unsigned long long)tab[3]);
		if (tab[0] < FZ_BASE || tab[1] > end || tab[2] < FZ_BASE ||
		    tab[3] > end)
			FZ_FAIL("orc: tables outside the image taken");
		if (st.bytes != ips + ents)
			FZ_FAIL("orc: %llu bytes copied for %u entries",
				(unsigned long long)st.bytes, st.entries);
	} else if (vsp_unwind_source(u) == VSP_UNWIND_ORC) {
		FZ_FAIL("orc: refused (%d: %s) but ORC in use", rc, err);
	}

	static struct vsp_callpath cp;
	for (int i = 0; i < 4; i++) {
		m.reads = 0;
		uint32_t n = vsp_unwind(u, &regs[i], fz_orc_read, &m, &cp);
		if (n != cp.n || n > VSP_UNWIND_MAX)
			FZ_FAIL("orc: %u frames (path says %u)", n, cp.n);
		if ((unsigned)cp.end >= VSP_UNWIND_END_COUNT)
			FZ_FAIL("orc: unwind end %d", (int)cp.end);
		for (uint32_t k = 0; k < n; k++) {
			if (!cp.names[k] || !cp.names[k][0])
				FZ_FAIL("orc: frame %u has no name", k);
			if (k && cp.frames[k].sp <= cp.frames[k - 1].sp)
				FZ_FAIL("orc: frame %u's sp %llx not above %llx", k,
					(unsigned long long)cp.frames[k].sp,
					(unsigned long long)cp.frames[k - 1].sp);
		}
	}
	vsp_unwind_free(u);
	vsp_sym_free(t);
	return 0;
}
