/*
 * kimage.c: bzImage payloads decompressed, ELF sections found (kimage.h).
 *
 * Every decompressor is bounded by an output limit (a vmlinux is some tens
 * of MiB; 512 MiB is refused) and stops when a round makes no progress (a
 * payload cut short), so a hostile image gets an error, not the host's
 * memory or a loop.
 */
#include "vmi/kimage.h"

#include <bzlib.h>
#include <elf.h>
#include <errno.h>
#include <lz4.h>
#include <stdbool.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "base/errf.h"

#define KI_MAX_OUT (512u << 20)
#define KI_MAX_IN (1024u << 20)
#define KI_HUGE (2u << 20)

static uint32_t ki_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A growing output buffer. */
struct ki_out {
	uint8_t *b;
	size_t len, cap;
};

/*
 * Tens of MiB written once, front to back: in 4 KiB pages that is some
 * 17,000 page faults and as many TLB misses, a third of an XZ image's
 * decompression here (more under nested paging).  The block is asked
 * for in 2 MiB pages; it is still an ordinary malloc() block for free()
 * and realloc(), and the advice is only that.
 */
static void *ki_alloc_huge(size_t n)
{
	if (n < KI_HUGE)
		return malloc(n);
	n = (n + KI_HUGE - 1) & ~(size_t)(KI_HUGE - 1);
	void *b = aligned_alloc(KI_HUGE, n);
	if (b)
		(void)madvise(b, n, MADV_HUGEPAGE);
	return b;
}

static int ki_grow(struct ki_out *o, size_t want)
{
	if (want <= o->cap)
		return 0;
	if (want > KI_MAX_OUT)
		return -1;
	size_t cap = o->cap ? o->cap : 64u << 20;
	while (cap < want)
		cap = o->cap ? cap * 2 : want;
	if (cap > KI_MAX_OUT)
		cap = KI_MAX_OUT;
	uint8_t *b = o->b ? realloc(o->b, cap) : ki_alloc_huge(cap);
	if (!b)
		return -1;
	o->b = b;
	o->cap = cap;
	return 0;
}

static int ki_gzip(const uint8_t *in, size_t n, struct ki_out *o)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	int rc = Z_OK;
	while (rc == Z_OK) {
		if (ki_grow(o, o->len + (1u << 20)) < 0)
			break;
		size_t before = o->len;
		z.next_out = o->b + o->len;
		z.avail_out = (uInt)(o->cap - o->len);
		rc = inflate(&z, Z_NO_FLUSH);
		o->len = o->cap - z.avail_out;
		if (rc == Z_OK && z.avail_in == 0 && o->len == before)
			break;
	}
	inflateEnd(&z);
	/* Trailing bytes after the stream (the appended size) are fine. */
	return rc == Z_STREAM_END ? 0 : -1;
}

static int ki_bzip2(const uint8_t *in, size_t n, struct ki_out *o)
{
	bz_stream z;
	memset(&z, 0, sizeof z);
	if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK)
		return -1;
	z.next_in = (char *)in;
	z.avail_in = (unsigned)n;
	int rc = BZ_OK;
	while (rc == BZ_OK) {
		if (ki_grow(o, o->len + (1u << 20)) < 0)
			break;
		size_t before = o->len;
		z.next_out = (char *)o->b + o->len;
		z.avail_out = (unsigned)(o->cap - o->len);
		rc = BZ2_bzDecompress(&z);
		o->len = o->cap - z.avail_out;
		if (rc == BZ_OK && z.avail_in == 0 && o->len == before)
			break;		/* input ended before the stream did */
	}
	BZ2_bzDecompressEnd(&z);
	return rc == BZ_STREAM_END ? 0 : -1;
}

/* liblzma's dictionary (32 MiB for a kernel) is written as the output is. */
static void *ki_lzma_alloc(void *opaque, size_t nmemb, size_t size)
{
	(void)opaque;
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	return ki_alloc_huge(nmemb * size);
}

static void ki_lzma_free(void *opaque, void *p)
{
	(void)opaque;
	free(p);
}

static int ki_xz(const uint8_t *in, size_t n, struct ki_out *o, bool alone)
{
	static const lzma_allocator huge = { ki_lzma_alloc, ki_lzma_free, NULL };
	lzma_stream z = LZMA_STREAM_INIT;
	z.allocator = &huge;
	lzma_ret rc = alone ? lzma_alone_decoder(&z, UINT64_MAX)
			    : lzma_stream_decoder(&z, UINT64_MAX, 0);
	if (rc != LZMA_OK)
		return -1;
	z.next_in = in;
	z.avail_in = n;
	while (rc == LZMA_OK) {
		if (ki_grow(o, o->len + (1u << 20)) < 0)
			break;
		size_t before = o->len;
		z.next_out = o->b + o->len;
		z.avail_out = o->cap - o->len;
		rc = lzma_code(&z, LZMA_FINISH);
		o->len = o->cap - z.avail_out;
		if (rc == LZMA_OK && z.avail_in == 0 && o->len == before)
			rc = LZMA_BUF_ERROR;
	}
	lzma_end(&z);
	/* The kernel's .lzma gives no size but ends with an end marker. */
	return rc == LZMA_STREAM_END ? 0 : -1;
}

/* LZ4 legacy frames: magic, then blocks of u32 size + data, each up to
 * 8 MiB decompressed; the kernel appends its size as 4 more bytes. */
static int ki_lz4(const uint8_t *in, size_t n, struct ki_out *o)
{
	size_t p = 4;
	while (p + 4 <= n) {
		uint32_t bl = ki_rd32(in + p);
		if (bl == 0x184c2102) {		/* a new frame */
			p += 4;
			continue;
		}
		if (bl > n - p - 4)
			break;			/* the size trailer */
		if (ki_grow(o, o->len + (8u << 20)) < 0)
			return -1;
		int r = LZ4_decompress_safe((const char *)in + p + 4,
					    (char *)o->b + o->len, (int)bl,
					    (int)(o->cap - o->len));
		if (r < 0)
			return -1;
		o->len += (size_t)r;
		p += 4 + bl;
	}
	return o->len ? 0 : -1;
}

static int ki_zstd(const uint8_t *in, size_t n, struct ki_out *o)
{
	ZSTD_DStream *z = ZSTD_createDStream();
	if (!z)
		return -1;
	ZSTD_initDStream(z);
	ZSTD_inBuffer ib = { in, n, 0 };
	size_t rc = 1;
	while (rc != 0) {
		if (ki_grow(o, o->len + (1u << 20)) < 0)
			break;
		size_t before = o->len, in_before = ib.pos;
		ZSTD_outBuffer ob = { o->b, o->cap, o->len };
		rc = ZSTD_decompressStream(z, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(rc) || (o->len == before && ib.pos == in_before))
			break;
	}
	ZSTD_freeDStream(z);
	return rc == 0 ? 0 : -1;
}

static bool ki_is_elf(const uint8_t *b, size_t n)
{
	return n >= sizeof(Elf64_Ehdr) && memcmp(b, ELFMAG, SELFMAG) == 0 &&
	       b[EI_CLASS] == ELFCLASS64;
}

int vsp_kimage_unpack(const uint8_t *in, size_t n, uint8_t **out,
		      size_t *len, const char **how, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		const uint8_t magic[6];
		size_t mlen;
	} kinds[] = {
		{ "gzip", { 0x1f, 0x8b }, 2 },
		{ "bzip2", { 'B', 'Z', 'h' }, 3 },
		{ "xz", { 0xfd, '7', 'z', 'X', 'Z', 0 }, 6 },
		{ "lzma", { 0x5d, 0, 0 }, 3 },
		{ "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
		{ "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
	};
	struct ki_out o = { 0 };
	*out = NULL;
	*len = 0;
	if (ki_is_elf(in, n)) {
		o.b = malloc(n);
		if (!o.b) {
			vsp_errf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(o.b, in, n);
		*out = o.b;
		*len = n;
		*how = "elf";
		return 0;
	}
	if (n < 0x250 || memcmp(in + 0x202, "HdrS", 4) != 0) {
		vsp_errf(err, errlen, "neither a vmlinux ELF nor a bzImage (no HdrS "
			 "setup header)");
		return -1;
	}
	size_t setup = ((size_t)in[0x1f1] ? in[0x1f1] : 4) + 1;
	size_t off = setup * 512 + ki_rd32(in + 0x248);
	size_t plen = ki_rd32(in + 0x24c);
	if (off >= n || plen > n - off || plen < 8) {
		vsp_errf(err, errlen, "bzImage payload (offset %zu, %zu bytes) lies "
			 "outside the %zu-byte file", off, plen, n);
		return -1;
	}
	const uint8_t *p = in + off;
	/* The kernel's build appends the decompressed size to the payload,
	 * whatever the method: the buffer is made that big at once (plus a
	 * block of LZ4's), not grown and copied.  A size that lies only
	 * costs the growing. */
	size_t hint = ki_rd32(p + plen - 4);
	if (hint >= (1u << 20) && hint <= KI_MAX_OUT - (8u << 20) &&
	    ki_grow(&o, hint + (8u << 20)) < 0) {
		vsp_errf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		if (memcmp(p, kinds[k].magic, kinds[k].mlen) != 0)
			continue;
		int rc;
		switch (k) {
		case 0: rc = ki_gzip(p, plen, &o); break;
		case 1: rc = ki_bzip2(p, plen, &o); break;
		case 2: rc = ki_xz(p, plen, &o, false); break;
		case 3: rc = ki_xz(p, plen, &o, true); break;
		case 4: rc = ki_lz4(p, plen, &o); break;
		default: rc = ki_zstd(p, plen, &o); break;
		}
		if (rc < 0 || !ki_is_elf(o.b, o.len)) {
			free(o.b);
			vsp_errf(err, errlen, "the %s payload did not decompress to a "
				 "vmlinux ELF%s", kinds[k].name,
				 o.len >= KI_MAX_OUT ? " (over 512 MiB)" : "");
			return -1;
		}
		*out = o.b;
		*len = o.len;
		*how = kinds[k].name;
		return 0;
	}
	vsp_errf(err, errlen, "bzImage payload compressed with an unknown method "
		 "(%02x %02x %02x %02x)", p[0], p[1], p[2], p[3]);
	return -1;
}

/* The file's name before an unpacking error. */
static int ki_path_err(int rc, const char *path, char *err, size_t errlen)
{
	if (rc < 0 && err && errlen) {
		char m[256];
		snprintf(m, sizeof m, "%s", err);
		vsp_errf(err, errlen, "%s: %s", path, m);
	}
	return rc;
}

int vsp_kimage_load(const char *path, uint8_t **out, size_t *len,
		    const char **how, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		vsp_errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* A regular file is mapped, not copied; a pipe is read. */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > 0 && (uint64_t)st.st_size < KI_MAX_IN) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			       fileno(f), 0);
		if (m != MAP_FAILED) {
			fclose(f);
			int rc = vsp_kimage_unpack(m, (size_t)st.st_size, out, len,
						   how, err, errlen);
			munmap(m, (size_t)st.st_size);
			return ki_path_err(rc, path, err, errlen);
		}
	}
	uint8_t *b = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			if (cap >= KI_MAX_IN)
				break;
			cap = cap ? cap * 2 : 32u << 20;
			uint8_t *nb = realloc(b, cap);
			if (!nb)
				break;
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	bool bad = ferror(f) || n == cap;
	fclose(f);
	if (bad) {
		free(b);
		vsp_errf(err, errlen, "%s: cannot read it (or over 1 GiB)", path);
		return -1;
	}
	int rc = vsp_kimage_unpack(b, n, out, len, how, err, errlen);
	free(b);
	return ki_path_err(rc, path, err, errlen);
}

int vsp_kimage_section(const uint8_t *b, size_t n, const char *name,
		       uint64_t *addr, const uint8_t **data, size_t *size)
{
	if (!ki_is_elf(b, n))
		return -1;
	Elf64_Ehdr eh;
	memcpy(&eh, b, sizeof eh);
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > n ||
	    (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > n - eh.e_shoff ||
	    eh.e_shstrndx >= eh.e_shnum)
		return -1;
	Elf64_Shdr str;
	memcpy(&str, b + eh.e_shoff + (size_t)eh.e_shstrndx * sizeof str, sizeof str);
	if (str.sh_offset > n || str.sh_size > n - str.sh_offset)
		return -1;
	size_t nl = strlen(name);
	for (size_t i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, b + eh.e_shoff + i * sizeof sh, sizeof sh);
		if (sh.sh_name >= str.sh_size || str.sh_size - sh.sh_name <= nl ||
		    memcmp(b + str.sh_offset + sh.sh_name, name, nl + 1) != 0)
			continue;
		*addr = sh.sh_addr;
		*size = sh.sh_size;
		if (sh.sh_type == SHT_NOBITS) {
			*data = NULL;
			return 0;
		}
		if (sh.sh_offset > n || sh.sh_size > n - sh.sh_offset)
			return -1;
		*data = b + sh.sh_offset;
		return 0;
	}
	return -1;
}

long vsp_kimage_read(const uint8_t *b, size_t n, uint64_t addr, void *buf,
		     size_t len)
{
	if (!ki_is_elf(b, n))
		return -1;
	Elf64_Ehdr eh;
	memcpy(&eh, b, sizeof eh);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > n ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > n - eh.e_phoff)
		return -1;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, b + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr ||
		    addr - ph.p_vaddr >= ph.p_filesz ||
		    len > ph.p_filesz - (addr - ph.p_vaddr))
			continue;
		uint64_t off = ph.p_offset + (addr - ph.p_vaddr);
		if (ph.p_offset > n || off > n || len > n - off)
			return -1;
		memcpy(buf, b + off, len);
		return (long)len;
	}
	return -1;
}

long vsp_kimage_gread(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct vsp_kimage_buf *k = ctx;
	return vsp_kimage_read(k->elf, k->len, addr, buf, len);
}
