/*
 * t_uelf.c: resolving user functions from an ELF module in memory
 * (vmi/uelf.h), against the real libc.
 *
 * Two "guests": this very process, whose libc the dynamic loader has
 * relocated (its dynamic entries hold run-time addresses), read through
 * process_vm_readv so an unmapped page gives a short read as in a guest;
 * and an image built from the libc file on disk, mapped segment by segment
 * at a base of our choosing, as the kernel maps it before ld.so runs (its
 * dynamic entries hold link-time values).  The answers must be what the
 * dynamic loader itself gives (dlsym, __errno_location).  Then the image
 * is damaged as a hostile guest would: every case must end in an error.
 * Last, this test's own executable as a file, for a static program's
 * .symtab (vsp_uelf_symtab_lookup): the distance between two functions
 * must be what the process sees, and damaged headers must end in errors.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tests/tap.h"
#include "vmi/uelf.h"

static long self_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	(void)ctx;
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)gva, len };
	ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return n < 0 ? -EFAULT : n;
}

struct img {
	uint64_t base;
	uint8_t *p;
	size_t len;
	uint64_t reads;
};

static long img_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	struct img *m = ctx;
	m->reads++;
	if (gva < m->base || gva - m->base >= m->len)
		return -EFAULT;
	size_t n = m->len - (gva - m->base);
	if (n > len)
		n = len;
	memcpy(buf, m->p + (gva - m->base), n);
	return (long)n;
}

static const char *libc_path;
static uint64_t libc_base;

static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (info->dlpi_name && strstr(info->dlpi_name, "libc.so.6")) {
		libc_path = strdup(info->dlpi_name);
		/* The mapping of file offset 0: the bias plus the first
		 * PT_LOAD's page (0 for a shared object). */
		for (int i = 0; i < info->dlpi_phnum; i++)
			if (info->dlpi_phdr[i].p_type == PT_LOAD) {
				libc_base = info->dlpi_addr +
					    (info->dlpi_phdr[i].p_vaddr & ~0xfffull);
				break;
			}
		return 1;
	}
	return 0;
}

/* Maps the file's PT_LOAD segments at `base` as the kernel would. */
static int img_build(struct img *m, const char *path, uint64_t base)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	rewind(f);
	uint8_t *file = malloc((size_t)sz);
	if (fread(file, 1, (size_t)sz, f) != (size_t)sz) {
		fclose(f);
		return -1;
	}
	fclose(f);
	Elf64_Ehdr *eh = (void *)file;
	Elf64_Phdr *ph = (void *)(file + eh->e_phoff);
	uint64_t hi = 0;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > hi)
			hi = ph[i].p_vaddr + ph[i].p_memsz;
	m->base = base;
	m->len = (size_t)hi;
	m->p = calloc(1, m->len);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD)
			memcpy(m->p + ph[i].p_vaddr, file + ph[i].p_offset,
			       ph[i].p_filesz);
	free(file);
	return 0;
}

/* The dynamic entry with tag `tag` in the image. */
static Elf64_Dyn *img_dyn(struct img *m, int64_t tag)
{
	Elf64_Ehdr *eh = (void *)m->p;
	Elf64_Phdr *ph = (void *)(m->p + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			for (Elf64_Dyn *d = (void *)(m->p + ph[i].p_vaddr);
			     d->d_tag != DT_NULL; d++)
				if (d->d_tag == tag)
					return d;
	return NULL;
}

static void hostile(const struct img *good)
{
	struct img m = *good;
	struct vsp_uelf e;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	char err[200];
	uint64_t a;
	m.p = malloc(m.len);

#define FRESH() memcpy(m.p, good->p, m.len)
	FRESH();
	eh = (void *)m.p;
	ph = (void *)(m.p + eh->e_phoff);
	((Elf64_Ehdr *)m.p)->e_phnum = 1000;
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) < 0 &&
	   strstr(err, "program headers"), "hostile: e_phnum 1000: %s", err);
	FRESH();
	((Elf64_Ehdr *)m.p)->e_phoff = 4000;
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) < 0,
	   "hostile: program headers past the first page: %s", err);
	FRESH();
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			ph[i].p_vaddr = 0x7fffffffffffull;
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) < 0,
	   "hostile: PT_DYNAMIC far outside: %s", err);
	FRESH();
	img_dyn(&m, DT_SYMTAB)->d_un.d_ptr = 0xdead00000000ull;
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) < 0 &&
	   strstr(err, "DT_SYMTAB"), "hostile: DT_SYMTAB outside: %s", err);

	/* GNU hash: every chain word without its end bit, to the end of
	 * the module; then buckets pointing past the symbol table. */
	FRESH();
	uint64_t gh = img_dyn(&m, DT_GNU_HASH)->d_un.d_ptr;
	uint32_t *h = (uint32_t *)(m.p + gh);
	uint32_t nb = h[0], bloom = h[2];
	uint32_t *chains = h + 4 + bloom * 2 + nb;
	/* Up to the dynamic section, which must stay readable. */
	uint64_t dynv = 0;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			dynv = ph[i].p_vaddr;
	for (uint8_t *q = (uint8_t *)chains; q + 4 <= m.p + dynv; q += 4)
		memset(q, 0x42, 4);
	m.reads = 0;
	int rc = vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) == 0 &&
		 vsp_uelf_lookup(&e, img_read, &m, "system", &a, err, sizeof err) < 0;
	ok(rc, "hostile: a GNU hash chain that never ends: %s", err);
	ok(m.reads < 2 * VSP_UELF_MAX_CHAIN + 100, "hostile: bounded (%llu reads)",
	   (unsigned long long)m.reads);
	FRESH();
	for (uint32_t i = 0; i < nb; i++)
		h[4 + bloom * 2 + i] = 0x7ffffff0u;
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) == 0 &&
	   vsp_uelf_lookup(&e, img_read, &m, "system", &a, err, sizeof err) < 0,
	   "hostile: a symbol index out of range: %s", err);

	/* SysV hash only, then a chain that loops on itself. */
	FRESH();
	img_dyn(&m, DT_GNU_HASH)->d_tag = DT_DEBUG;
	uint64_t want;
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) == 0 &&
	   vsp_uelf_lookup(&e, img_read, &m, "system", &want, err, sizeof err) == 0,
	   "DT_HASH alone: system found");
	uint32_t *sh = (uint32_t *)(m.p + img_dyn(&m, DT_HASH)->d_un.d_ptr);
	uint32_t snb = sh[0], snc = sh[1];
	for (uint32_t i = 0; i < snc; i++)
		sh[2 + snb + i] = i;
	for (uint32_t i = 0; i < snb; i++)
		if (sh[2 + i] == 0)
			sh[2 + i] = 1;
	m.reads = 0;
	rc = vsp_uelf_lookup(&e, img_read, &m, "no_such_function_at_all", &a,
			     err, sizeof err);
	ok(rc < 0 && strstr(err, "does not end"),
	   "hostile: a DT_HASH chain with a cycle: %s", err);
	ok(m.reads < 3 * VSP_UELF_MAX_CHAIN + 100, "hostile: bounded (%llu reads)",
	   (unsigned long long)m.reads);
	FRESH();
	img_dyn(&m, DT_GNU_HASH)->d_tag = DT_DEBUG;
	sh[1] = 5;	/* nchain smaller than the indexes in the buckets */
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) == 0 &&
	   vsp_uelf_lookup(&e, img_read, &m, "system", &a, err, sizeof err) < 0,
	   "hostile: a DT_HASH index past nchain: %s", err);
	FRESH();
	memcpy(m.p, "\x7f" "ELF\x01", 5);
	ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) < 0,
	   "hostile: a 32-bit ELF: %s", err);
	ok(vsp_uelf_open(&e, img_read, &m, m.base + 1, err, sizeof err) < 0,
	   "an address that is not a page: refused");
	free(m.p);
}

/* A function only the .symtab names (not exported). */
__attribute__((noinline)) long t_uelf_probe(long x)
{
	return x + 1;
}

__attribute__((noinline)) long t_uelf_probe2(long x)
{
	return x + 2;
}

long (*volatile t_uelf_probe_p)(long) = t_uelf_probe;
long (*volatile t_uelf_probe2_p)(long) = t_uelf_probe2;

static int load_file(struct img *m, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	memset(m, 0, sizeof *m);
	m->p = malloc(64u << 20);
	m->len = m->p ? fread(m->p, 1, 64u << 20, f) : 0;
	fclose(f);
	return m->len ? 0 : -1;
}

static void symtab(void)
{
	struct img m;
	uint64_t a, b;
	char err[256] = "";

	if (load_file(&m, "/proc/self/exe") < 0) {
		ok(0, "cannot read /proc/self/exe");
		return;
	}
	ok(vsp_uelf_symtab_lookup(img_read, &m, "t_uelf_probe", &a, err,
				  sizeof err) == 0 &&
	   vsp_uelf_symtab_lookup(img_read, &m, "t_uelf_probe2", &b, err,
				  sizeof err) == 0 &&
	   a - b == (uint64_t)((uintptr_t)t_uelf_probe_p -
			       (uintptr_t)t_uelf_probe2_p),
	   ".symtab: two functions as far apart as in the process (%s)", err);
	ok(vsp_uelf_symtab_lookup(img_read, &m, "t_uelf_no_such", &a, err,
				  sizeof err) < 0 && strstr(err, "defines no"),
	   ".symtab: an unknown name: %s", err);
	ok(vsp_uelf_symtab_lookup(img_read, &m, "uelf_probe", &a, err,
				  sizeof err) < 0 && strstr(err, "defines no"),
	   ".symtab: a name's tail is not the name: %s", err);
	ok(vsp_uelf_symtab_lookup(img_read, &m, "t_uelf_probe_p", &a, err,
				  sizeof err) < 0 && strstr(err, "not a function"),
	   ".symtab: a variable is not a function");

	int64_t tpoff;
	ok(vsp_uelf_static_errno_tpoff(img_read, &m, &tpoff, err,
				       sizeof err) < 0 &&
	   (strstr(err, "no PT_TLS") || strstr(err, "defines no errno")),
	   "static errno: refused for a program that keeps none: %s", err);

	Elf64_Ehdr *eh = (Elf64_Ehdr *)m.p;
	size_t len = m.len;
	m.len = eh->e_shoff + 10;
	ok(vsp_uelf_symtab_lookup(img_read, &m, "main", &a, err, sizeof err) < 0,
	   ".symtab: section headers cut short: %s", err);
	m.len = len;
	uint64_t shoff = eh->e_shoff;
	eh->e_shoff = 0;
	ok(vsp_uelf_symtab_lookup(img_read, &m, "main", &a, err, sizeof err) < 0 &&
	   strstr(err, "no section headers"), ".symtab: %s", err);
	eh->e_shoff = shoff;
	uint16_t shnum = eh->e_shnum;
	eh->e_shnum = VSP_UELF_MAX_SHDR + 1;
	ok(vsp_uelf_symtab_lookup(img_read, &m, "main", &a, err, sizeof err) < 0 &&
	   strstr(err, "out of range"), ".symtab: too many section headers");
	eh->e_shnum = shnum;
	Elf64_Shdr *sh = (Elf64_Shdr *)(m.p + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB) {
			Elf64_Shdr *st = &sh[sh[i].sh_link];
			uint64_t size = st->sh_size;
			st->sh_size = VSP_UELF_MAX_STRTAB + 1;
			ok(vsp_uelf_symtab_lookup(img_read, &m, "main", &a, err,
						  sizeof err) < 0 &&
			   strstr(err, "out of range"),
			   ".symtab: a huge string table: %s", err);
			st->sh_size = size;
			sh[i].sh_size = (uint64_t)(VSP_UELF_MAX_STEPS + 1) * sizeof(Elf64_Sym);
			ok(vsp_uelf_symtab_lookup(img_read, &m, "main", &a, err,
						  sizeof err) < 0 &&
			   strstr(err, "out of range"), ".symtab: too many symbols");
			sh[i].sh_type = SHT_PROGBITS;
			break;
		}
	ok(vsp_uelf_symtab_lookup(img_read, &m, "main", &a, err, sizeof err) < 0 &&
	   strstr(err, "stripped"), ".symtab: none (stripped): %s", err);
	free(m.p);
}

int main(void)
{
	struct vsp_uelf e;
	char err[200];
	uint64_t a;

	dl_iterate_phdr(find_libc, NULL);
	if (!libc_path) {
		printf("1..0 # SKIP no libc.so.6 in this process\n");
		return 0;
	}
	/* This process: ld.so has relocated libc's dynamic section. */
	ok(vsp_uelf_open(&e, self_read, NULL, libc_base, err, sizeof err) == 0,
	   "self: libc opens at 0x%llx (%s)", (unsigned long long)libc_base, err);
	/* libc's own definitions, not a sanitizer's interceptors. */
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *sys = libc ? dlsym(libc, "system") : NULL;
	ok(vsp_uelf_lookup(&e, self_read, NULL, "system", &a, err, sizeof err) == 0 &&
	   a == (uint64_t)(uintptr_t)sys, "self: system at dlsym's address");
	void *ps = libc ? dlsym(libc, "posix_spawn") : NULL;
	ok(vsp_uelf_lookup(&e, self_read, NULL, "posix_spawn", &a, err, sizeof err) == 0 &&
	   a == (uint64_t)(uintptr_t)ps,
	   "self: posix_spawn, of two versions the default one");
	ok(vsp_uelf_lookup(&e, self_read, NULL, "no_such_function", &a, err,
			   sizeof err) < 0 && strstr(err, "defines no"),
	   "self: an unknown name: %s", err);
	ok(vsp_uelf_lookup(&e, self_read, NULL, "errno", &a, err, sizeof err) < 0 &&
	   strstr(err, "not a function"), "self: errno is not a function");
	char so[64];
	ok(vsp_uelf_soname(&e, self_read, NULL, so, sizeof so) == 0 &&
	   strcmp(so, "libc.so.6") == 0, "self: DT_SONAME is libc.so.6");
	int64_t tp;
	uint64_t fs;
	__asm__("mov %%fs:0, %0" : "=r"(fs));
	ok(vsp_uelf_errno_tpoff(&e, self_read, NULL, &tp, err, sizeof err) == 0 &&
	   fs + (uint64_t)tp == (uint64_t)(uintptr_t)&errno,
	   "self: fs_base + errno's TLS offset is &errno (%s)", err);

	/* The file as mapped before ld.so: link-time dynamic entries. */
	struct img m = { 0 };
	if (img_build(&m, libc_path, 0x7f1234560000ull) < 0) {
		ok(0, "cannot read %s", libc_path);
	} else {
		uint64_t off = (uint64_t)(uintptr_t)sys - libc_base;
		ok(vsp_uelf_open(&e, img_read, &m, m.base, err, sizeof err) == 0 &&
		   vsp_uelf_lookup(&e, img_read, &m, "system", &a, err, sizeof err) == 0 &&
		   a == m.base + off, "image at another base: system moves with it");
		ok(vsp_uelf_errno_tpoff(&e, img_read, &m, &tp, err, sizeof err) < 0 &&
		   strstr(err, "not relocated"),
		   "image: errno's offset is not known before relocation");
		hostile(&m);
		free(m.p);
	}
	symtab();
	return done();
}
