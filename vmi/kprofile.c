/*
 * kprofile.c: the BTF, ORC tables and tail jumps a profile carries.
 *
 * See kprofile.h for the format.  Collection reads through the same
 * readers an attach uses (vsp_ksyms_read_btf, vsp_unwind_orc_from_guest,
 * vsp_unwind_tails_from_guest), so a profile holds exactly what an attach
 * would have copied, checked the same way.  Loading is strict: a header
 * of an unknown section, a size over the bound, a character outside
 * base64, a stream that does not inflate to the size stated, or a section
 * given twice stops the load with the line, and nothing of the file is
 * used; so does a malformed kallsyms digest line.  The digest's windows
 * are CRC-32s, not bytes: a profile only needs to tell its kernel from
 * another build, and 45 CRCs keep it small.
 */
#include "vmi/kprofile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/errf.h"
#include "vmi/kallsyms.h"
#include "vmi/unwind.h"

#define KP_LINE 76	/* base64 characters on a '#=' line */
#define KP_WINDOW 64	/* bytes compared per window */
#define KP_WINDOWS 8
#define KP_STR_(x) #x
#define KP_STR(x) KP_STR_(x)

static const char *const kp_names[VSP_KPROF_NSEC] = {
	[VSP_KPROF_BTF] = "btf",
	[VSP_KPROF_ORC_IP] = "orc_unwind_ip",
	[VSP_KPROF_ORC] = "orc_unwind",
	[VSP_KPROF_TAILS] = "tails",
};

/* For messages. */
static const char *const kp_titles[VSP_KPROF_NSEC] = {
	[VSP_KPROF_BTF] = "BTF",
	[VSP_KPROF_ORC_IP] = "ORC ip table",
	[VSP_KPROF_ORC] = "ORC table",
	[VSP_KPROF_TAILS] = "tail jumps",
};

/* The digest's tables as the file names them; in messages with
 * "kallsyms_" before all but the banner. */
static const char *const kp_tables[VSP_KPROF_NTABLE] = {
	[VSP_KPROF_T_BANNER] = "linux_banner",
	[VSP_KPROF_T_OFFSETS] = "offsets",
	[VSP_KPROF_T_BASE] = "relative_base",
	[VSP_KPROF_T_NUM_SYMS] = "num_syms",
	[VSP_KPROF_T_NAMES] = "names",
	[VSP_KPROF_T_MARKERS] = "markers",
	[VSP_KPROF_T_TOKEN_TABLE] = "token_table",
	[VSP_KPROF_T_TOKEN_INDEX] = "token_index",
};

const char *vsp_kprof_name(enum vsp_kprof_id id)
{
	return (unsigned)id < VSP_KPROF_NSEC ? kp_names[id] : "?";
}

void vsp_kprof_free(struct vsp_kprof *p)
{
	for (int i = 0; i < VSP_KPROF_NSEC; i++)
		free(p->sec[i].data);
	memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ collect */

/* Copies [lo, hi) of the kernel (run-time addresses) into a section. */
static int kp_copy(struct vsp_kprof_sec *s, vsp_gread_fn read, void *ctx,
		   uint64_t lo, uint64_t hi, int64_t slide, const char *what,
		   char *err, size_t errlen)
{
	if (hi <= lo || hi - lo > VSP_KPROF_SEC_MAX)
		return vsp_errf(err, errlen, "%s: 0x%" PRIx64 "..0x%" PRIx64
				" is no range to copy", what, lo, hi);
	s->size = (size_t)(hi - lo);
	s->data = malloc(s->size);
	if (!s->data)
		return vsp_errf(err, errlen, "%s: out of memory", what);
	if (vsp_gread_all(read, ctx, lo, s->data, s->size) < 0) {
		free(s->data);
		s->data = NULL;
		return vsp_errf(err, errlen, "%s: kernel memory at 0x%" PRIx64
				" (%zu bytes) not readable", what, lo, s->size);
	}
	s->addr = lo - (uint64_t)slide;
	return 0;
}

static void kp_note(char *note, size_t notelen, const char *what)
{
	size_t n = strlen(note);
	if (n < notelen)
		snprintf(note + n, notelen - n, "%s%s", n ? "; " : "", what);
}

int vsp_kprof_collect(struct vsp_kprof *p, const struct vsp_symtab *syms,
		      vsp_gread_fn read, void *ctx, struct vsp_kprof_stats *st,
		      char *note, size_t notelen, char *err, size_t errlen)
{
	int64_t slide = vsp_sym_slide(syms);
	uint64_t a[4];
	char why[200];

	memset(p->sec, 0, sizeof p->sec);	/* a digest collected stays */
	memset(st, 0, sizeof *st);
	if (notelen)
		note[0] = 0;
	uint8_t *btf;
	size_t n;
	if (vsp_ksyms_read_btf(read, ctx, syms, &btf, &n, why, sizeof why) == 0) {
		uint64_t lo;
		vsp_sym_addr(syms, "__start_BTF", &lo);
		p->sec[VSP_KPROF_BTF] = (struct vsp_kprof_sec){
			lo - (uint64_t)slide, n, btf };
		st->bytes += n;
	} else if (vsp_sym_addr(syms, "__start_BTF", &a[0]) < 0) {
		kp_note(note, notelen, "no BTF (the kernel has no __start_BTF)");
	} else {
		vsp_kprof_free(p);
		return vsp_errf(err, errlen, "%s", why);
	}

	static const char *const orc[4] = {
		"__start_orc_unwind_ip", "__stop_orc_unwind_ip",
		"__start_orc_unwind", "__stop_orc_unwind" };
	int have = 0;
	for (int i = 0; i < 4; i++)
		have += vsp_sym_addr(syms, orc[i], &a[i]) == 0;
	if (have == 4) {
		if (kp_copy(&p->sec[VSP_KPROF_ORC_IP], read, ctx, a[0], a[1],
			    slide, "ORC", err, errlen) < 0 ||
		    kp_copy(&p->sec[VSP_KPROF_ORC], read, ctx, a[2], a[3], slide,
			    "ORC", err, errlen) < 0) {
			vsp_kprof_free(p);
			return -1;
		}
		st->bytes += (a[1] - a[0]) + (a[3] - a[2]);
	} else {
		kp_note(note, notelen, "no ORC tables (the kernel names no "
			"__start_orc_unwind_ip)");
	}

	/* What an attach would do with them, on the copies: the ORC tables
	 * checked, and the tail jumps scanned from the text. */
	struct vsp_unwind_opts uo;
	memset(&uo, 0, sizeof uo);
	struct vsp_unwinder *u = vsp_unwind_new(syms, NULL, &uo, why, sizeof why);
	if (!u) {
		vsp_kprof_free(p);
		return vsp_errf(err, errlen, "unwinder: %s", why);
	}
	struct vsp_kprof_reader kr = { p, slide };
	struct vsp_unwind_orc_stats os;
	int rc = 0;
	if (p->sec[VSP_KPROF_ORC].data &&
	    vsp_unwind_orc_from_guest(u, vsp_kprof_read, &kr, &os, why,
				      sizeof why) < 0)
		rc = vsp_errf(err, errlen, "%s", why);
	if (rc == 0) {
		rc = vsp_unwind_tails_from_guest(u, read, ctx, &os, why, sizeof why);
		if (rc < 0)
			vsp_errf(err, errlen, "%s", why);
		else if (rc == 0)
			st->bytes += os.bytes;
	}
	if (rc >= 0) {
		struct vsp_kprof_sec *s = &p->sec[VSP_KPROF_TAILS];
		rc = vsp_unwind_tails_export(u, &s->data, &s->size);
		if (rc < 0)
			vsp_errf(err, errlen, "tail jumps: out of memory");
		st->tails = (uint32_t)(s->size / 16);
	}
	vsp_unwind_free(u);
	if (rc < 0) {
		vsp_kprof_free(p);
		return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- write */

static const char kp_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int kp_write_sec(FILE *out, enum vsp_kprof_id id,
			const struct vsp_kprof_sec *s)
{
	uLongf zn = compressBound((uLong)s->size);
	uint8_t *z = malloc(zn);
	if (!z)
		return -1;
	if (compress2(z, &zn, s->data, (uLong)s->size, 1) != Z_OK) {
		free(z);
		return -1;
	}
	fprintf(out, "# section %s 0x%" PRIx64 " %zu zlib %lu\n",
		kp_names[id], s->addr, s->size, (unsigned long)zn);
	char line[KP_LINE + 4];
	size_t col = 0;
	for (size_t i = 0; i < zn; i += 3) {
		uint32_t v = (uint32_t)z[i] << 16;
		size_t k = zn - i;
		if (k > 1)
			v |= (uint32_t)z[i + 1] << 8;
		if (k > 2)
			v |= z[i + 2];
		line[col++] = kp_b64[v >> 18 & 63];
		line[col++] = kp_b64[v >> 12 & 63];
		line[col++] = k > 1 ? kp_b64[v >> 6 & 63] : '=';
		line[col++] = k > 2 ? kp_b64[v & 63] : '=';
		if (col == KP_LINE || i + 3 >= zn) {
			fprintf(out, "#=%.*s\n", (int)col, line);
			col = 0;
		}
	}
	free(z);
	return 0;
}

static void kp_write_digest(FILE *out, const struct vsp_kprof_digest *d)
{
	fprintf(out, "# kallsyms-digest 1 nsyms %" PRIu32 " symbols 0x%08" PRIx32
		" windows %zu\n", d->nsyms, d->symbols, d->nwin);
	for (size_t i = 0; i < d->nwin; i++)
		fprintf(out, "# kallsyms-window %s 0x%" PRIx64 " %" PRIu32 " 0x%08"
			PRIx32 "\n", kp_tables[d->win[i].table], d->win[i].addr,
			d->win[i].len, d->win[i].crc);
}

int vsp_kprof_write(FILE *out, const struct vsp_kprof *p)
{
	if (p->dig.nsyms)
		kp_write_digest(out, &p->dig);
	for (int i = 0; i < VSP_KPROF_NSEC; i++)
		if (p->sec[i].data && kp_write_sec(out, i, &p->sec[i]) < 0)
			return -1;
	return ferror(out) ? -1 : 0;
}

/* --------------------------------------------------------------- load */

static int kp_b64val(int c)
{
	const char *q = c ? strchr(kp_b64, c) : NULL;
	return q ? (int)(q - kp_b64) : -1;
}

/* One section: its header at `hdr` (after "# section "), its '#=' lines
 * from *pos on.  0, or -1 with a message. */
static int kp_load_sec(struct vsp_kprof *p, const char *text, size_t len,
		       size_t *pos, int *lineno, const char *hdr, size_t hlen,
		       const char *name, char *err, size_t errlen)
{
	char h[160], sname[32], method[16];
	uint64_t addr;
	size_t size, zsize;
	int line = *lineno;

	if (hlen >= sizeof h)
		return vsp_errf(err, errlen, "%s:%d: a section header too long",
				name, line);
	memcpy(h, hdr, hlen);
	h[hlen] = 0;
	int used = 0;
	if (sscanf(h, "%31s %" SCNx64 " %zu %15s %zu%n", sname, &addr, &size,
		   method, &zsize, &used) != 5 || h[used] != 0)
		return vsp_errf(err, errlen, "%s:%d: want '# section NAME ADDR "
				"SIZE zlib ZSIZE', not '# section %s'", name,
				line, h);
	int id = -1;
	for (int i = 0; i < VSP_KPROF_NSEC; i++)
		if (strcmp(sname, kp_names[i]) == 0)
			id = i;
	if (id < 0)
		return vsp_errf(err, errlen, "%s:%d: unknown section '%s' (this "
				"vsp knows btf, orc_unwind_ip, orc_unwind and "
				"tails)", name, line, sname);
	if (p->sec[id].data)
		return vsp_errf(err, errlen, "%s:%d: section '%s' given twice",
				name, line, sname);
	if (strcmp(method, "zlib") != 0)
		return vsp_errf(err, errlen, "%s:%d: section '%s': unknown "
				"encoding '%s' (want zlib)", name, line, sname,
				method);
	if (addr + size < addr)
		return vsp_errf(err, errlen, "%s:%d: section '%s' runs past the "
				"end of the address space", name, line, sname);
	if (!size || size > VSP_KPROF_SEC_MAX || !zsize ||
	    zsize > VSP_KPROF_SEC_MAX)
		return vsp_errf(err, errlen, "%s:%d: section '%s': %zu bytes "
				"(%zu deflated), not between 1 and %u", name,
				line, sname, size, zsize, VSP_KPROF_SEC_MAX);
	uint8_t *z = malloc(zsize + 3);
	if (!z)
		return vsp_errf(err, errlen, "%s: out of memory", name);
	size_t zn = 0, i = *pos;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	while (i + 1 < len && text[i] == '#' && text[i + 1] == '=') {
		line++;
		i += 2;
		for (; i < len && text[i] != '\n'; i++) {
			int c = (unsigned char)text[i];
			if (c == '\r')
				continue;
			if (c == '=') {
				pad++;
				continue;
			}
			int v = kp_b64val(c);
			if (v < 0 || pad) {
				free(z);
				return vsp_errf(err, errlen, "%s:%d: section '%s': "
						"'%c' in base64", name, line,
						sname, c);
			}
			acc = acc << 6 | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				if (zn == zsize + 3) {
					free(z);
					return vsp_errf(err, errlen, "%s:%d: section "
							"'%s': more than the %zu "
							"bytes stated", name, line,
							sname, zsize);
				}
				z[zn++] = (uint8_t)(acc >> bits);
			}
		}
		if (i < len)
			i++;
	}
	*pos = i;
	*lineno = line;
	if (zn != zsize) {
		free(z);
		return vsp_errf(err, errlen, "%s:%d: section '%s': %zu bytes "
				"encoded, %zu stated", name, line, sname, zn, zsize);
	}
	uint8_t *d = malloc(size);
	uLongf dn = (uLongf)size;
	int zr = d ? uncompress(d, &dn, z, (uLong)zn) : Z_MEM_ERROR;
	free(z);
	if (zr != Z_OK || dn != size) {
		free(d);
		return vsp_errf(err, errlen, "%s:%d: section '%s' does not inflate "
				"to the %zu bytes stated (%s)", name, line, sname,
				size, zr == Z_OK ? "fewer" : zr == Z_BUF_ERROR ?
				"more" : "corrupt");
	}
	p->sec[id] = (struct vsp_kprof_sec){ id == VSP_KPROF_TAILS ? 0 : addr,
					      size, d };
	return 0;
}

/* A "# kallsyms-digest" or "# kallsyms-window" line; other "# kallsyms-"
 * lines are left to later versions.  0, or -1 with a message. */
static int kp_load_digest(struct vsp_kprof_digest *d, const char *l, size_t n,
			  int line, size_t *stated, const char *name, char *err,
			  size_t errlen)
{
	char h[200], tname[32];
	int used = 0;
	if (n >= sizeof h)
		return 0;
	memcpy(h, l, n);
	h[n] = 0;
	h[strcspn(h, "\r")] = 0;
	unsigned ver;
	uint32_t nsyms, crc, wlen;
	uint64_t addr;
	if (strncmp(h, "# kallsyms-digest ", 18) == 0) {
		if (sscanf(h + 18, "%u nsyms %" SCNu32 " symbols %" SCNx32
			   " windows %zu%n", &ver, &nsyms, &crc, stated,
			   &used) != 4 || h[18 + used] != 0)
			return vsp_errf(err, errlen, "%s:%d: want '# kallsyms-digest 1 "
					"nsyms N symbols CRC windows N'", name, line);
		if (ver != 1)
			return vsp_errf(err, errlen, "%s:%d: kallsyms digest version "
					"%u (this vsp reads 1)", name, line, ver);
		if (d->nsyms || !nsyms || *stated == 0 ||
		    *stated > VSP_KPROF_WINDOWS_MAX)
			return vsp_errf(err, errlen, "%s:%d: a kallsyms digest %s",
					name, line, d->nsyms ? "given twice" :
					"of no symbols or windows, or of more "
					"than " KP_STR(VSP_KPROF_WINDOWS_MAX));
		d->nsyms = nsyms;
		d->symbols = crc;
		return 0;
	}
	if (strncmp(h, "# kallsyms-window ", 18) != 0)
		return 0;
	if (!d->nsyms)
		return vsp_errf(err, errlen, "%s:%d: a kallsyms window before the "
				"digest", name, line);
	if (sscanf(h + 18, "%31s %" SCNx64 " %" SCNu32 " %" SCNx32 "%n", tname,
		   &addr, &wlen, &crc, &used) != 4 || h[18 + used] != 0)
		return vsp_errf(err, errlen, "%s:%d: want '# kallsyms-window TABLE "
				"ADDR LEN CRC'", name, line);
	int t = -1;
	for (int i = 0; i < VSP_KPROF_NTABLE; i++)
		if (strcmp(tname, kp_tables[i]) == 0)
			t = i;
	if (t < 0)
		return vsp_errf(err, errlen, "%s:%d: unknown kallsyms table '%s'",
				name, line, tname);
	if (!wlen || wlen > VSP_KPROF_WINDOW_MAX || addr + wlen < addr ||
	    addr < VSP_KASLR_LO)
		return vsp_errf(err, errlen, "%s:%d: kallsyms window %s 0x%" PRIx64
				" of %" PRIu32 " bytes: not in the kernel image or "
				"not 1..%d bytes", name, line, tname, addr, wlen,
				VSP_KPROF_WINDOW_MAX);
	if (d->nwin == *stated)
		return vsp_errf(err, errlen, "%s:%d: more kallsyms windows than the "
				"%zu stated", name, line, *stated);
	d->win[d->nwin++] = (struct vsp_kprof_window){ t, addr, wlen, crc };
	return 0;
}

int vsp_kprof_load_mem(const char *text, size_t len, const char *name,
		       struct vsp_kprof *p, char *err, size_t errlen)
{
	static const char tag[] = "# section ";
	static const char dtag[] = "# kallsyms-";
	size_t i = 0, stated = 0;
	int lineno = 0;

	memset(p, 0, sizeof *p);
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		lineno++;
		size_t next = e < len ? e + 1 : e;
		if (e - i > sizeof dtag - 1 && memcmp(text + i, dtag, sizeof dtag - 1) == 0 &&
		    kp_load_digest(&p->dig, text + i, e - i, lineno, &stated, name,
				   err, errlen) < 0) {
			vsp_kprof_free(p);
			return -1;
		}
		if (e - i > sizeof tag - 1 && memcmp(text + i, tag, sizeof tag - 1) == 0) {
			size_t h = i + sizeof tag - 1, hl = e - h;
			if (hl && text[h + hl - 1] == '\r')
				hl--;
			if (kp_load_sec(p, text, len, &next, &lineno, text + h, hl,
					name, err, errlen) < 0) {
				vsp_kprof_free(p);
				return -1;
			}
		}
		i = next;
	}
	for (int a = 0; a < VSP_KPROF_TAILS; a++)
		for (int b = a + 1; b < VSP_KPROF_TAILS; b++) {
			const struct vsp_kprof_sec *x = &p->sec[a], *y = &p->sec[b];
			if (x->data && y->data && x->addr < y->addr + y->size &&
			    y->addr < x->addr + x->size) {
				vsp_kprof_free(p);
				return vsp_errf(err, errlen, "%s: sections %s and %s "
						"overlap", name, kp_names[a],
						kp_names[b]);
			}
		}
	if (p->dig.nsyms && p->dig.nwin != stated) {
		size_t got = p->dig.nwin;
		vsp_kprof_free(p);
		return vsp_errf(err, errlen, "%s: the kallsyms digest states %zu "
				"windows and %zu follow", name, stated, got);
	}
	if (p->dig.nsyms)
		p->dig.symbols_read = vsp_kprof_symbols_crc(text, len);
	if (p->sec[VSP_KPROF_TAILS].size % 16 ||
	    !p->sec[VSP_KPROF_ORC_IP].data != !p->sec[VSP_KPROF_ORC].data) {
		vsp_kprof_free(p);
		return vsp_errf(err, errlen, "%s: %s", name,
				p->sec[VSP_KPROF_TAILS].size % 16 ?
				"the tail jumps are no whole (to, from) pairs" :
				"one ORC table without the other");
	}
	return 0;
}

int vsp_kprof_load(const char *path, struct vsp_kprof *p, char *err,
		   size_t errlen)
{
	char *buf;
	size_t len;
	memset(p, 0, sizeof *p);
	if (vsp_sym_read_file(path, &buf, &len, err, errlen) < 0)
		return -1;
	int rc = vsp_kprof_load_mem(buf, len, path, p, err, errlen);
	free(buf);
	return rc;
}

/* -------------------------------------------------------------- serve */

long vsp_kprof_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	const struct vsp_kprof_reader *r = ctx;
	uint64_t a = gva - (uint64_t)r->slide;
	for (int i = 0; i < VSP_KPROF_TAILS; i++) {
		const struct vsp_kprof_sec *s = &r->p->sec[i];
		if (s->data && a >= s->addr && a - s->addr <= s->size &&
		    len <= s->size - (a - s->addr)) {
			memcpy(buf, s->data + (a - s->addr), len);
			return (long)len;
		}
	}
	return -EFAULT;
}

int vsp_kprof_verify(const struct vsp_kprof *p, enum vsp_kprof_id id,
		     int64_t slide, vsp_gread_many_fn many, vsp_gread_fn read,
		     void *ctx, unsigned *reads, char *err, size_t errlen)
{
	const struct vsp_kprof_sec *s = &p->sec[id];
	uint8_t g[KP_WINDOWS][KP_WINDOW];
	struct vsp_read r[KP_WINDOWS];
	size_t off[KP_WINDOWS];
	unsigned n = 0;
	int rc = 0;

	if (reads)
		*reads = 0;
	if (id == VSP_KPROF_TAILS || !s->data)
		return 0;
	/* Every window in one batch: a round trip for the section where the
	 * backend batches reads. */
	size_t len = s->size < KP_WINDOW ? s->size : KP_WINDOW;
	for (int w = 0; w < KP_WINDOWS; w++) {
		off[w] = (s->size - len) / (KP_WINDOWS - 1) * (size_t)w;
		if (w == KP_WINDOWS - 1)
			off[w] = s->size - len;
		r[w] = (struct vsp_read){ s->addr + off[w] + (uint64_t)slide,
					  g[w], len, 0 };
	}
	if (vsp_gread_batch(many, read, ctx, r, KP_WINDOWS, &n) < 0)
		rc = vsp_errf(err, errlen, "the profile's %s: the running kernel's "
			      "memory could not be read", kp_titles[id]);
	for (int w = 0; w < KP_WINDOWS && rc == 0; w++) {
		if (r[w].got < 0)
			rc = vsp_errf(err, errlen, "the profile's %s: the running "
				      "kernel's memory at 0x%" PRIx64 " is not "
				      "readable", kp_titles[id], r[w].gva);
		else if (memcmp(g[w], s->data + off[w], len) != 0)
			rc = vsp_errf(err, errlen, "the profile's %s is not the "
				      "running kernel's (they differ at 0x%" PRIx64
				      ")", kp_titles[id], r[w].gva);
	}
	if (reads)
		*reads = n;
	return rc;
}

/* ------------------------------------------------------------- digest */

uint32_t vsp_kprof_symbols_crc(const char *text, size_t len)
{
	uLong crc = crc32(0, Z_NULL, 0);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) + 1 : len;
		if (text[i] != '#')
			crc = crc32(crc, (const Bytef *)text + i, (uInt)(e - i));
		i = e;
	}
	return (uint32_t)crc;
}

/* The CRC of a window's bytes as the kernel holds them at `slide`: the
 * relative base less the slide, so that it reads as linked. */
static uint32_t kp_win_crc(const struct vsp_kprof_window *w, const uint8_t *b,
			   int64_t slide)
{
	uint8_t v[8];
	if (w->table == VSP_KPROF_T_BASE && w->len == 8) {
		uint64_t x;
		memcpy(&x, b, 8);
		x -= (uint64_t)slide;
		memcpy(v, &x, 8);
		b = v;
	}
	return (uint32_t)crc32(crc32(0, Z_NULL, 0), b, w->len);
}

/* Windows of [lo, hi) (link-time): `k` 512-byte blocks spread from its
 * first byte to its last (0: every block, at most 8). */
static int kp_dig_table(struct vsp_kprof_digest *d, enum vsp_kprof_table t,
			uint64_t lo, uint64_t hi, int k)
{
	const uint64_t blk = VSP_KPROF_WINDOW_MAX;
	if (hi <= lo || hi - lo > VSP_KPROF_SEC_MAX)
		return -1;
	uint64_t first = lo & ~(blk - 1), nblk = (hi - 1 - first) / blk + 1;
	if (k == 0)
		k = nblk < 8 ? (int)nblk : 8;
	for (int w = 0; w < k; w++) {
		uint64_t at = k == 1 ? lo : lo + (hi - 1 - lo) / (uint64_t)(k - 1) *
							(uint64_t)w;
		if (w == k - 1)
			at = hi - 1;
		uint64_t b = at & ~(blk - 1);
		uint64_t wl = b > lo ? b : lo, wh = b + blk < hi ? b + blk : hi;
		if (d->nwin && d->win[d->nwin - 1].addr == wl)
			continue;
		if (d->nwin == VSP_KPROF_WINDOWS_MAX)
			return -1;
		d->win[d->nwin++] = (struct vsp_kprof_window){ t, wl,
							       (uint32_t)(wh - wl), 0 };
	}
	return 0;
}

int vsp_kprof_digest_collect(struct vsp_kprof *p, const struct vsp_ksyms_loc *loc,
			     const struct vsp_symtab *syms, int64_t slide,
			     uint32_t symbols, vsp_gread_fn read, void *ctx,
			     char *err, size_t errlen)
{
	struct vsp_kprof_digest *d = &p->dig;
	uint64_t s = (uint64_t)slide, banner;
	uint8_t b[VSP_KPROF_WINDOW_MAX];

	memset(d, 0, sizeof *d);
	if (!loc->base_relative)
		return 0;
	if (vsp_sym_addr(syms, "linux_banner", &banner) < 0)
		return vsp_errf(err, errlen, "kallsyms digest: no linux_banner");
	long n = read(ctx, banner, b, sizeof b);
	const uint8_t *nul = n > 14 ? memchr(b, 0, (size_t)n) : NULL;
	if (!nul || memcmp(b, "Linux version ", 14) != 0)
		return vsp_errf(err, errlen, "kallsyms digest: no banner at "
				"linux_banner (0x%" PRIx64 ")", banner);
	d->win[d->nwin++] = (struct vsp_kprof_window){ VSP_KPROF_T_BANNER,
		banner - s, (uint32_t)(nul - b + 1), 0 };
	uint64_t nmk = ((uint64_t)loc->nsyms + 255) / 256;
	if (kp_dig_table(d, VSP_KPROF_T_OFFSETS, loc->offsets - s,
			 loc->offsets - s + 4 * (uint64_t)loc->nsyms, 16) < 0 ||
	    kp_dig_table(d, VSP_KPROF_T_BASE, loc->relative_base - s,
			 loc->relative_base - s + 8, 1) < 0 ||
	    kp_dig_table(d, VSP_KPROF_T_NUM_SYMS, loc->num_syms - s,
			 loc->num_syms - s + 4, 1) < 0 ||
	    kp_dig_table(d, VSP_KPROF_T_NAMES, loc->names - s, loc->markers - s,
			 16) < 0 ||
	    kp_dig_table(d, VSP_KPROF_T_MARKERS, loc->markers - s,
			 loc->markers - s + 4 * nmk, 6) < 0 ||
	    kp_dig_table(d, VSP_KPROF_T_TOKEN_TABLE, loc->token_table - s,
			 loc->token_index - s, 0) < 0 ||
	    kp_dig_table(d, VSP_KPROF_T_TOKEN_INDEX, loc->token_index - s,
			 loc->token_index - s + 512, 0) < 0) {
		memset(d, 0, sizeof *d);
		return vsp_errf(err, errlen, "kallsyms digest: the tables' layout "
				"is not one this vsp samples");
	}
	for (size_t i = 0; i < d->nwin; i++) {
		struct vsp_kprof_window *w = &d->win[i];
		if (vsp_gread_all(read, ctx, w->addr + s, b, w->len) < 0) {
			uint64_t at = w->addr + s;
			memset(d, 0, sizeof *d);
			return vsp_errf(err, errlen, "kallsyms digest: kernel memory "
					"at 0x%" PRIx64 " not readable", at);
		}
		w->crc = kp_win_crc(w, b, slide);
	}
	d->nsyms = loc->nsyms;
	d->symbols = symbols;
	return 0;
}

static const struct vsp_kprof_window *kp_banner(const struct vsp_kprof_digest *d)
{
	for (size_t i = 0; i < d->nwin; i++)
		if (d->win[i].table == VSP_KPROF_T_BANNER)
			return &d->win[i];
	return NULL;
}

#define KP_BASES 64	/* 2 MiB bases tried for the banner: 128 MiB */
#define KP_BASES_BATCH 8	/* ... a batch at a time (2 reads each at most) */

int vsp_kprof_digest_slide(const struct vsp_kprof *p,
			   const struct vsp_symtab *syms, uint64_t hint_ip,
			   vsp_gread_many_fn many, vsp_gread_fn read, void *ctx,
			   int64_t *slide, unsigned *reads)
{
	const struct vsp_kprof_window *bw = kp_banner(&p->dig);
	uint64_t lo, hi;
	int64_t own = vsp_sym_slide(syms);
	if (reads)
		*reads = 0;
	if (!p->dig.nsyms || !bw || hint_ip < VSP_KASLR_LO ||
	    hint_ip >= VSP_KASLR_HI || vsp_sym_addr(syms, "_text", &lo) < 0 ||
	    (vsp_sym_addr(syms, "_end", &hi) < 0 &&
	     vsp_sym_addr(syms, "_etext", &hi) < 0))
		return -1;
	lo -= (uint64_t)own;
	hi -= (uint64_t)own;
	if (hi <= lo)
		return -1;
	/* As vsp_kaslr_find's first pass: the base whose image holds the
	 * rip, then those below it that still reach it -- through the whole
	 * image, not only its text: a guest stopped early in its boot runs
	 * .init.text, past the data. */
	uint64_t first = (hint_ip - VSP_KASLR_LO) / VSP_KASLR_ALIGN;
	struct vsp_read r[KP_BASES_BATCH];
	int64_t cand[KP_BASES_BATCH];
	uint8_t (*buf)[VSP_KPROF_WINDOW_MAX] = malloc(KP_BASES_BATCH * sizeof *buf);
	if (!buf)
		return -1;
	int rc = -1;
	unsigned sent = 0;
	for (uint64_t k = 0; rc < 0 && k <= first && k < KP_BASES &&
			     k * VSP_KASLR_ALIGN <= hi - lo;) {
		size_t n = 0;
		for (; n < KP_BASES_BATCH && k <= first && k < KP_BASES &&
		       k * VSP_KASLR_ALIGN <= hi - lo; k++) {
			uint64_t base = VSP_KASLR_LO + (first - k) * VSP_KASLR_ALIGN +
					(lo & (VSP_KASLR_ALIGN - 1));
			cand[n] = (int64_t)(base - lo);
			r[n] = (struct vsp_read){ bw->addr + (uint64_t)cand[n], buf[n],
						  bw->len, 0 };
			n++;
		}
		unsigned nb = 0;
		int lrc = vsp_gread_batch(many, read, ctx, r, n, &nb);
		sent += nb;
		if (lrc < 0)
			break;
		for (size_t i = 0; i < n && rc < 0; i++)
			if (r[i].got >= 0 && kp_win_crc(bw, buf[i], cand[i]) == bw->crc) {
				*slide = cand[i];
				rc = 0;
			}
	}
	free(buf);
	if (reads)
		*reads = sent;
	return rc;
}

int vsp_kprof_digest_verify(const struct vsp_kprof *p, int64_t slide,
			    vsp_gread_many_fn many, vsp_gread_fn read, void *ctx,
			    unsigned *reads, char *err, size_t errlen)
{
	const struct vsp_kprof_digest *d = &p->dig;
	struct vsp_read r[VSP_KPROF_WINDOWS_MAX];
	uint8_t (*buf)[VSP_KPROF_WINDOW_MAX] = malloc(VSP_KPROF_WINDOWS_MAX *
						      sizeof *buf);
	if (reads)
		*reads = 0;
	if (!buf)
		return vsp_errf(err, errlen, "kallsyms digest: out of memory");
	for (size_t i = 0; i < d->nwin; i++)
		r[i] = (struct vsp_read){ d->win[i].addr + (uint64_t)slide, buf[i],
					  d->win[i].len, 0 };
	int rc = 0;
	if (vsp_gread_batch(many, read, ctx, r, d->nwin, reads) < 0)
		rc = vsp_errf(err, errlen, "the running kernel's memory could not "
			      "be read for the profile's kallsyms digest");
	for (size_t i = 0; i < d->nwin && rc == 0; i++) {
		const struct vsp_kprof_window *w = &d->win[i];
		const char *pre = w->table == VSP_KPROF_T_BANNER ? "" : "kallsyms_";
		if (r[i].got < 0)
			rc = vsp_errf(err, errlen, "the running kernel's %s%s at 0x%"
				      PRIx64 " is not readable", pre,
				      kp_tables[w->table], r[i].gva);
		else if (kp_win_crc(w, buf[i], slide) != w->crc)
			rc = vsp_errf(err, errlen, "the profile's kallsyms digest "
				      "does not match the running kernel's %s%s "
				      "at 0x%" PRIx64, pre, kp_tables[w->table],
				      r[i].gva);
	}
	free(buf);
	return rc;
}
