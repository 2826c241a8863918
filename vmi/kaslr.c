/*
 * kaslr.c: a read-only view of vmlinux, and the KASLR slide of a running
 * guest.
 *
 * The image is mmap'ed once; link-time addresses map to file offsets
 * through the PT_LOAD program headers, sections are found through the
 * section header string table.  Everything read from the file is bounds
 * checked: a truncated or hostile ELF gives an error, never a stray read.
 *
 * The slide search tries each 2 MiB-aligned base for _text in the kernel
 * image range, the base that puts the paused rip inside kernel text first.
 * At each base it reads a few probes through the caller's read callback:
 * the version banner (exact), a handful of function bodies from the image
 * past their first five bytes (ftrace rewrites those; alternatives and
 * static calls rewrite a few more, so a small mismatch is tolerated), and
 * without an image the ftrace entry NOPs themselves.  A wrong base reads
 * unmapped memory or unrelated bytes and fails at the first probe, so the
 * search costs about one read per candidate.
 */
#include "vmi/kaslr.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/errf.h"

#define KIMG_MAX_LOADS 16

struct kimg_load {
	uint64_t vaddr, filesz, offset;
};

struct vsp_kimg {
	const unsigned char *map;
	size_t size;
	char *path;
	const Elf64_Shdr *shdr;
	size_t nshdr;
	const char *shstr;
	size_t shstr_size;
	struct kimg_load loads[KIMG_MAX_LOADS];
	size_t nloads;
};

int vsp_gread_all(vsp_gread_fn read, void *ctx, uint64_t gva, void *buf,
		  size_t len)
{
	long n;

	if (len == 0)
		return 0;
	n = read(ctx, gva, buf, len);
	return n >= 0 && (size_t)n == len ? 0 : -1;
}

/* Sends the pieces p[0..k) and marks the reads they came from. */
static int gread_flush(vsp_gread_many_fn many, void *ctx, struct vsp_read *p,
		       const size_t *from, size_t k, struct vsp_read *r,
		       unsigned *batches)
{
	if (k == 0)
		return 0;
	(*batches)++;
	if (many(ctx, p, k) < 0)
		return -1;
	for (size_t j = 0; j < k; j++)
		if (p[j].got < 0 || (size_t)p[j].got != p[j].len)
			r[from[j]].got = -1;
	return 0;
}

int vsp_gread_batch(vsp_gread_many_fn many, vsp_gread_fn read, void *ctx,
		    struct vsp_read *r, size_t n, unsigned *batches)
{
	struct vsp_read p[VSP_GREAD_BATCH];
	size_t from[VSP_GREAD_BATCH], k = 0;
	unsigned nb = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		r[i].got = (long)r[i].len;
		if (!many) {
			nb += r[i].len != 0;
			if (vsp_gread_all(read, ctx, r[i].gva, r[i].buf, r[i].len) < 0)
				r[i].got = -1;
			continue;
		}
		for (size_t off = 0; off < r[i].len && rc == 0;) {
			uint64_t a = r[i].gva + off;
			size_t len = r[i].len - off;
			size_t to_page = 4096 - (size_t)(a & 4095);
			if (len > to_page)
				len = to_page;
			if (len > VSP_GREAD_PIECE)
				len = VSP_GREAD_PIECE;
			p[k] = (struct vsp_read){ a, (uint8_t *)r[i].buf + off, len, 0 };
			from[k++] = i;
			off += len;
			if (k == VSP_GREAD_BATCH) {
				rc = gread_flush(many, ctx, p, from, k, r, &nb);
				k = 0;
			}
		}
	}
	if (rc == 0)
		rc = gread_flush(many, ctx, p, from, k, r, &nb);
	if (batches)
		*batches = nb;
	return rc;
}

/* True when [off, off + len) lies inside the mapping. */
static bool kimg_in(const struct vsp_kimg *img, uint64_t off, uint64_t len)
{
	return off <= img->size && len <= img->size - off;
}

static int kimg_parse(struct vsp_kimg *img, char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const void *)img->map;
	const Elf64_Phdr *ph;

	if (img->size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
		vsp_errf(err, errlen, "%s: not an x86-64 ELF image",
			 img->path);
		return -1;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !kimg_in(img, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(*ph))) {
		vsp_errf(err, errlen, "%s: bad program headers", img->path);
		return -1;
	}
	ph = (const void *)(img->map + eh->e_phoff);
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_filesz == 0)
			continue;
		if (!kimg_in(img, ph[i].p_offset, ph[i].p_filesz) ||
		    img->nloads == KIMG_MAX_LOADS) {
			vsp_errf(err, errlen, "%s: bad PT_LOAD %zu",
				 img->path, i);
			return -1;
		}
		img->loads[img->nloads++] = (struct kimg_load){
			ph[i].p_vaddr, ph[i].p_filesz, ph[i].p_offset };
	}
	/* Sections are optional (only BTF and ORC need them). */
	if (eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shnum &&
	    kimg_in(img, eh->e_shoff,
		    (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)) &&
	    eh->e_shstrndx < eh->e_shnum) {
		const Elf64_Shdr *ss;

		img->shdr = (const void *)(img->map + eh->e_shoff);
		img->nshdr = eh->e_shnum;
		ss = &img->shdr[eh->e_shstrndx];
		if (kimg_in(img, ss->sh_offset, ss->sh_size)) {
			img->shstr = (const char *)img->map + ss->sh_offset;
			img->shstr_size = ss->sh_size;
		}
	}
	return 0;
}

struct vsp_kimg *vsp_kimg_open(const char *path, char *err, size_t errlen)
{
	struct vsp_kimg *img = calloc(1, sizeof(*img));
	struct stat st;
	int fd;
	void *m;

	if (!img || !(img->path = strdup(path))) {
		vsp_errf(err, errlen, "%s: out of memory", path);
		free(img);
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		vsp_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail_img;
	}
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		vsp_errf(err, errlen, "%s: empty or unreadable", path);
		goto fail_fd;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		vsp_errf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		goto fail_fd;
	}
	close(fd);
	img->map = m;
	img->size = (size_t)st.st_size;
	if (kimg_parse(img, err, errlen) < 0) {
		vsp_kimg_free(img);
		return NULL;
	}
	return img;

fail_fd:
	close(fd);
fail_img:
	free(img->path);
	free(img);
	return NULL;
}

void vsp_kimg_free(struct vsp_kimg *img)
{
	if (!img)
		return;
	if (img->map)
		munmap((void *)img->map, img->size);
	free(img->path);
	free(img);
}

const char *vsp_kimg_path(const struct vsp_kimg *img)
{
	return img->path;
}

size_t vsp_kimg_read(const struct vsp_kimg *img, uint64_t addr, void *buf,
		     size_t len)
{
	if (!img)
		return 0;
	for (size_t i = 0; i < img->nloads; i++) {
		const struct kimg_load *l = &img->loads[i];
		uint64_t n;

		if (addr < l->vaddr || addr - l->vaddr >= l->filesz)
			continue;
		n = l->filesz - (addr - l->vaddr);
		if (n > len)
			n = len;
		memcpy(buf, img->map + l->offset + (addr - l->vaddr), n);
		return (size_t)n;
	}
	return 0;
}

int vsp_kimg_section(const struct vsp_kimg *img, const char *name,
		     uint64_t *addr, const void **data, size_t *size)
{
	if (!img || !img->shstr)
		return -1;
	for (size_t i = 0; i < img->nshdr; i++) {
		const Elf64_Shdr *s = &img->shdr[i];
		const char *n;

		if (s->sh_name >= img->shstr_size)
			continue;
		n = img->shstr + s->sh_name;
		if (strnlen(n, img->shstr_size - s->sh_name) ==
			    img->shstr_size - s->sh_name ||
		    strcmp(n, name))
			continue;
		if (addr)
			*addr = s->sh_addr;
		if (size)
			*size = s->sh_size;
		if (data) {
			*data = NULL;
			if (s->sh_type != SHT_NOBITS) {
				if (!kimg_in(img, s->sh_offset, s->sh_size))
					return -1;
				*data = img->map + s->sh_offset;
			}
		}
		return 0;
	}
	return -1;
}

int vsp_kimg_build_id(const struct vsp_kimg *img, char *buf, size_t size)
{
	const unsigned char *p;
	size_t n, off = 0;

	if (vsp_kimg_section(img, ".notes", NULL, (const void **)&p, &n) < 0 &&
	    vsp_kimg_section(img, ".note.gnu.build-id", NULL,
			     (const void **)&p, &n) < 0)
		return -1;
	if (!p)
		return -1;
	while (off + 12 <= n) {
		uint32_t nsz, dsz, type;
		size_t d;

		memcpy(&nsz, p + off, 4);
		memcpy(&dsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		d = off + 12 + ((nsz + 3u) & ~3u);
		if (nsz > n || dsz > n || d > n || dsz > n - d)
			return -1;
		if (type == NT_GNU_BUILD_ID && nsz == 4 &&
		    !memcmp(p + off + 12, "GNU", 4)) {
			if (size < 2 * (size_t)dsz + 1)
				return -1;
			for (uint32_t i = 0; i < dsz; i++)
				snprintf(buf + 2 * i, 3, "%02x", p[d + i]);
			return 0;
		}
		off = d + ((dsz + 3u) & ~3u);
	}
	return -1;
}

/* ------------------------------------------------------------- slide */

#define KASLR_NPROBE 8
#define KASLR_CODE_LEN 32	/* bytes compared per function, after fentry */
#define KASLR_BANNER_LEN 48
_Static_assert(KASLR_BANNER_LEN >= KASLR_CODE_LEN, "probe buffer");

struct kaslr_probe {
	uint64_t link;		/* link-time address of the bytes */
	unsigned char want[KASLR_BANNER_LEN];	/* >= KASLR_CODE_LEN */
	size_t len;
};

struct kaslr_plan {
	struct kaslr_probe banner;
	bool have_banner;
	struct kaslr_probe code[KASLR_NPROBE];
	size_t ncode;
	bool code_from_image;	/* else: fentry NOPs expected at entries */
};

static const unsigned char kaslr_fentry_nop[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

static uint64_t kaslr_link(const struct vsp_symtab *syms, const char *name,
			   bool *found)
{
	uint64_t a = 0;

	*found = vsp_sym_addr(syms, name, &a) == 0;
	return a - (uint64_t)vsp_sym_slide(syms);
}

/* Functions spread over the text; with an image, those that start with
 * ftrace's call (so their body from byte 5 is plain code). */
static void kaslr_pick_code(struct kaslr_plan *plan,
			    const struct vsp_symtab *syms,
			    const struct vsp_kimg *img, uint64_t text_lo,
			    uint64_t text_hi)
{
	size_t n = vsp_sym_count(syms), step, tried = 0;

	step = n / (KASLR_NPROBE * 4) + 1;
	for (size_t i = 0; i < n && plan->ncode < KASLR_NPROBE; i++) {
		const struct vsp_sym *s = vsp_sym_get(syms, (i * step) % n);
		struct kaslr_probe *p = &plan->code[plan->ncode];
		unsigned char head[5 + KASLR_CODE_LEN];

		if (++tried > n)
			break;
		if (s->type != 'T' || s->module || s->size < 5 + KASLR_CODE_LEN ||
		    s->addr < text_lo || s->addr >= text_hi)
			continue;
		if (img) {
			if (vsp_kimg_read(img, s->addr, head, sizeof(head)) !=
				    sizeof(head) || head[0] != 0xe8)
				continue;
			p->link = s->addr + 5;
			memcpy(p->want, head + 5, KASLR_CODE_LEN);
			p->len = KASLR_CODE_LEN;
		} else {
			p->link = s->addr;
			memcpy(p->want, kaslr_fentry_nop, 5);
			p->len = 5;
		}
		plan->ncode++;
	}
	plan->code_from_image = img != NULL;
}

static int kaslr_plan(struct kaslr_plan *plan, const struct vsp_symtab *syms,
		      const struct vsp_kimg *img, uint64_t *text_lo,
		      uint64_t *text_hi, char *err, size_t errlen)
{
	bool f1, f2, fb;
	uint64_t b;

	memset(plan, 0, sizeof(*plan));
	*text_lo = kaslr_link(syms, "_text", &f1);
	*text_hi = kaslr_link(syms, "_etext", &f2);
	if (!f1 || !f2 || *text_hi <= *text_lo) {
		vsp_errf(err, errlen, "symbols lack _text/_etext");
		return -1;
	}
	b = kaslr_link(syms, "linux_banner", &fb);
	if (fb && img) {
		size_t n = vsp_kimg_read(img, b, plan->banner.want,
					 KASLR_BANNER_LEN);

		if (n >= 16 && !memcmp(plan->banner.want, "Linux version ", 14)) {
			plan->banner.link = b;
			plan->banner.len = n;
			plan->have_banner = true;
		}
	}
	kaslr_pick_code(plan, syms, img, *text_lo, *text_hi);
	if (plan->ncode < 4 && !plan->have_banner) {
		vsp_errf(err, errlen, "too few probe functions in the symbols");
		return -1;
	}
	return 0;
}

/* Tests one base: returns the VSP_KASLR_BY_* bits that confirmed it, 0 if
 * it is wrong. */
static unsigned kaslr_try(const struct kaslr_plan *plan, int64_t slide,
			  vsp_gread_fn read, void *ctx,
			  struct vsp_kaslr_stats *st)
{
	unsigned char got[sizeof(plan->banner.want)];
	unsigned by = 0;
	size_t bad = 0, total = 0, hits = 0;

	if (plan->have_banner) {
		st->reads++;
		if (vsp_gread_all(read, ctx, plan->banner.link + (uint64_t)slide,
				  got, plan->banner.len) < 0 ||
		    memcmp(got, plan->banner.want, plan->banner.len))
			return 0;
		by |= VSP_KASLR_BY_BANNER;
	}
	for (size_t i = 0; i < plan->ncode; i++) {
		const struct kaslr_probe *p = &plan->code[i];

		st->reads++;
		total += p->len;
		if (vsp_gread_all(read, ctx, p->link + (uint64_t)slide, got,
				  p->len) < 0) {
			bad += p->len;
		} else {
			size_t d = 0;

			for (size_t k = 0; k < p->len; k++)
				d += got[k] != p->want[k];
			bad += d;
			hits += d == 0;
		}
		/* Give up on a base as soon as it cannot reach the bar. */
		if (plan->code_from_image && bad * 4 > total + 3 * KASLR_CODE_LEN)
			return 0;
	}
	if (plan->code_from_image) {
		if (plan->ncode && bad * 4 <= total)
			by |= VSP_KASLR_BY_CODE;
		else if (plan->ncode)
			return 0;
	} else {
		if (hits * 2 < plan->ncode)
			return 0;
		by |= VSP_KASLR_BY_FENTRY;
	}
	return by;
}

int vsp_kaslr_find(const struct vsp_symtab *syms, const struct vsp_kimg *img,
		   vsp_gread_fn read, void *ctx, uint64_t hint_ip,
		   int64_t *slide, struct vsp_kaslr_stats *stats, char *err,
		   size_t errlen)
{
	struct kaslr_plan plan;
	struct vsp_kaslr_stats st = { 0 };
	uint64_t text_lo, text_hi, span, nbase, first = UINT64_MAX;
	int rc = -1;

	if (kaslr_plan(&plan, syms, img, &text_lo, &text_hi, err, errlen) < 0)
		return -1;
	span = text_hi - text_lo;
	nbase = (VSP_KASLR_HI - VSP_KASLR_LO) / VSP_KASLR_ALIGN;
	/* The base whose text holds the paused rip goes first: a guest
	 * stopped in kernel code almost always answers on the first try. */
	if (hint_ip >= VSP_KASLR_LO && hint_ip < VSP_KASLR_HI) {
		uint64_t b = (hint_ip - VSP_KASLR_LO) / VSP_KASLR_ALIGN;

		first = b;
		(void)span;
	}
	for (uint64_t pass = 0; pass < 2 && rc < 0; pass++) {
		for (uint64_t k = 0; k < nbase && rc < 0; k++) {
			uint64_t base;
			int64_t s;
			unsigned by;

			/* Pass 0: bases from the hint's downward through the
			 * text span; pass 1: every base. */
			if (pass == 0) {
				if (first == UINT64_MAX ||
				    k * VSP_KASLR_ALIGN > span || k > first)
					break;
				base = VSP_KASLR_LO + (first - k) * VSP_KASLR_ALIGN;
			} else {
				base = VSP_KASLR_LO + k * VSP_KASLR_ALIGN;
			}
			/* _text is not always 2 MiB aligned at link time
			 * (0xffffffff81000000 is); keep its low bits. */
			base += text_lo & (VSP_KASLR_ALIGN - 1);
			s = (int64_t)(base - text_lo);
			st.candidates++;
			by = kaslr_try(&plan, s, read, ctx, &st);
			if (by) {
				*slide = s;
				st.method = by;
				rc = 0;
			}
		}
	}
	if (rc < 0)
		vsp_errf(err, errlen,
			 "no kernel base in %#llx..%#llx matched the image "
			 "(%u bases, %u reads)",
			 (unsigned long long)VSP_KASLR_LO,
			 (unsigned long long)VSP_KASLR_HI, st.candidates,
			 st.reads);
	if (stats)
		*stats = st;
	return rc;
}
