/*
 * t_kimage.c: kernel image files unpacked without booting them.
 *
 * A small ELF64 with a .rodata section is wrapped as a bzImage payload
 * compressed each way the kernel can (gzip, bzip2, XZ, LZMA, LZ4 legacy
 * frames, zstd) with the same libraries; each must unpack to the very
 * bytes and give its .rodata back.  Broken headers and payloads must fail
 * with a message.  With the guest kernel cached, the real vmlinuz (LZ4)
 * unpacks to the cached vmlinux.
 */
#include <bzlib.h>
#include <elf.h>
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "tests/tap.h"
#include "vmi/kimage.h"

/* An ELF64 with sections: null, .rodata (at 0xffffffff82000000), .shstrtab. */
static uint8_t *make_elf(size_t *len)
{
	static const char shstr[] = "\0.rodata\0.shstrtab";
	size_t ro_len = 100000, off_ro = sizeof(Elf64_Ehdr);
	size_t off_str = off_ro + ro_len, off_sh = off_str + sizeof shstr;
	size_t n = off_sh + 3 * sizeof(Elf64_Shdr);
	uint8_t *b = calloc(1, n);
	Elf64_Ehdr eh = { 0 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_shoff = off_sh;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = 3;
	eh.e_shstrndx = 2;
	memcpy(b, &eh, sizeof eh);
	for (size_t i = 0; i < ro_len; i++)
		b[off_ro + i] = (uint8_t)(i * 31 / 7);
	memcpy(b + off_str, shstr, sizeof shstr);
	Elf64_Shdr sh[3] = { { 0 } };
	sh[1].sh_name = 1;
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_addr = 0xffffffff82000000ull;
	sh[1].sh_offset = off_ro;
	sh[1].sh_size = ro_len;
	sh[2].sh_name = 9;
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = off_str;
	sh[2].sh_size = sizeof shstr;
	memcpy(b + off_sh, sh, sizeof sh);
	*len = n;
	return b;
}

static size_t comp(int kind, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	switch (kind) {
	case 0: {	/* gzip */
		z_stream z = { 0 };
		deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)n;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		deflate(&z, Z_FINISH);
		size_t r = cap - z.avail_out;
		deflateEnd(&z);
		return r;
	}
	case 1: {
		unsigned int r = (unsigned int)cap;
		BZ2_bzBuffToBuffCompress((char *)out, &r, (char *)in, (unsigned)n, 9, 0, 0);
		return r;
	}
	case 2: {
		size_t pos = 0;
		lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, n, out, &pos, cap);
		return pos;
	}
	case 3: {	/* the kernel's .lzma: the "alone" format */
		lzma_options_lzma o;
		lzma_lzma_preset(&o, 6);
		lzma_stream z = LZMA_STREAM_INIT;
		if (lzma_alone_encoder(&z, &o) != LZMA_OK)
			return 0;
		z.next_in = in;
		z.avail_in = n;
		z.next_out = out;
		z.avail_out = cap;
		while (lzma_code(&z, LZMA_FINISH) == LZMA_OK)
			;
		size_t r = cap - z.avail_out;
		lzma_end(&z);
		return r;
	}
	case 4: {	/* legacy frames of 8 MiB blocks, as lz4 -l writes */
		static const uint8_t magic[4] = { 0x02, 0x21, 0x4c, 0x18 };
		memcpy(out, magic, 4);
		int c = LZ4_compress_default((const char *)in, (char *)out + 8, (int)n,
					     (int)cap - 8);
		uint32_t l = (uint32_t)c;
		memcpy(out + 4, &l, 4);
		uint32_t sz = (uint32_t)n;	/* the kernel appends the size */
		memcpy(out + 8 + c, &sz, 4);
		return 8 + (size_t)c + 4;
	}
	default:
		return ZSTD_compress(out, cap, in, n, 3);
	}
}

/* A bzImage: setup (2 sectors), then the payload. */
static uint8_t *make_bz(const uint8_t *pl, size_t pn, size_t *len)
{
	size_t setup = 2;
	size_t n = (setup + 1) * 512 + pn;
	uint8_t *b = calloc(1, n);
	b[0x1f1] = (uint8_t)setup;
	memcpy(b + 0x202, "HdrS", 4);
	uint32_t off = 0, l = (uint32_t)pn;
	memcpy(b + 0x248, &off, 4);
	memcpy(b + 0x24c, &l, 4);
	memcpy(b + (setup + 1) * 512, pl, pn);
	*len = n;
	return b;
}

int main(void)
{
	static const char *const names[] = { "gzip", "bzip2", "xz", "lzma", "lz4", "zstd" };
	char err[256];
	size_t en;
	uint8_t *elf = make_elf(&en);
	size_t cap = en + 65536;
	uint8_t *c = malloc(cap);
	for (int k = 0; k < 6; k++) {
		size_t cn = comp(k, elf, en, c, cap), bn;
		uint8_t *bz = make_bz(c, cn, &bn);
		uint8_t *out;
		size_t on;
		const char *how = "";
		int rc = vsp_kimage_unpack(bz, bn, &out, &on, &how, err, sizeof err);
		ok(rc == 0 && on == en && memcmp(out, elf, en) == 0 && strcmp(how, names[k]) == 0,
		   "%s payload unpacks to the ELF (%s)", names[k], rc == 0 ? how : err);
		uint64_t a = 0;
		const uint8_t *d = NULL;
		size_t s = 0;
		ok(rc == 0 && vsp_kimage_section(out, on, ".rodata", &a, &d, &s) == 0 &&
		   a == 0xffffffff82000000ull && s == 100000 && d[7] == (uint8_t)(7 * 31 / 7),
		   "%s: .rodata found", names[k]);
		if (rc == 0)
			free(out);
		/* The payload cut in half: an error, not a crash. */
		uint32_t half = (uint32_t)(cn / 2);
		memcpy(bz + 0x24c, &half, 4);
		rc = vsp_kimage_unpack(bz, bn, &out, &on, &how, err, sizeof err);
		ok(rc < 0 && err[0], "%s cut short: %s", names[k], err);
		if (rc == 0)
			free(out);
		free(bz);
	}
	uint8_t junk[1024] = { 0 };
	uint8_t *out;
	size_t on;
	const char *how;
	ok(vsp_kimage_unpack(junk, sizeof junk, &out, &on, &how, err, sizeof err) < 0 &&
	   strstr(err, "HdrS"), "no setup header: %s", err);
	memcpy(junk + 0x202, "HdrS", 4);
	junk[0x24c] = 0xff;
	junk[0x24d] = 0xff;
	ok(vsp_kimage_unpack(junk, sizeof junk, &out, &on, &how, err, sizeof err) < 0 &&
	   strstr(err, "outside"), "payload past the file: %s", err);
	ok(vsp_kimage_section(elf, 64, ".rodata", &(uint64_t){ 0 }, &(const uint8_t *){ 0 },
			      &(size_t){ 0 }) < 0, "section headers past the end: refused");
	free(c);
	free(elf);

	const char *cache = getenv("VSP_CACHE"), *home = getenv("HOME");
	char zp[4096], xp[4096];
	snprintf(zp, sizeof zp, "%s%s/guest/vmlinuz", cache ? cache : home ? home : "/",
		 cache ? "" : "/.cache/vsp");
	snprintf(xp, sizeof xp, "%s%s/guest/vmlinux", cache ? cache : home ? home : "/",
		 cache ? "" : "/.cache/vsp");
	FILE *f = fopen(zp, "rb");
	if (!f) {
		skip("no cached vmlinuz");
	} else {
		fclose(f);
		uint8_t *z, *x;
		size_t zn, xn;
		const char *h1, *h2;
		int r1 = vsp_kimage_load(zp, &z, &zn, &h1, err, sizeof err);
		int r2 = r1 == 0 ? vsp_kimage_load(xp, &x, &xn, &h2, err, sizeof err) : -1;
		ok(r1 == 0 && r2 == 0 && strcmp(h1, "lz4") == 0 && zn >= xn &&
		   memcmp(z, x, xn) == 0,
		   "the cached vmlinuz (%s) unpacks to the cached vmlinux (%s)",
		   r1 == 0 ? h1 : err, r2 == 0 ? "same bytes" : err);
		if (r1 == 0)
			free(z);
		if (r2 == 0)
			free(x);
	}
	return done();
}
