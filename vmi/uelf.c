/*
 * uelf.c: dynamic symbols of a user-space ELF module read from guest
 * memory, and a static program's .symtab read from its file (uelf.h).
 *
 * Everything read is checked before it is used as an address or a count:
 * each address must fall inside the module's mapped extent, and each walk
 * has a step limit, so a chain that loops or an index past a table ends
 * with a message.
 */
#include "vmi/uelf.h"

#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/errf.h"

#define UE_PAGE 4096ull
/* A module larger than this is not a module. */
#define UE_MAX_SPAN (1ull << 36)

static bool ue_in(const struct vsp_uelf *e, uint64_t a, uint64_t len)
{
	return a >= e->lo && a < e->hi && len <= e->hi - a;
}

/* A dynamic entry's address: relocated (inside the module) or link-time
 * (inside once the bias is added).  0 when it is neither. */
static uint64_t ue_fix(const struct vsp_uelf *e, uint64_t v)
{
	if (ue_in(e, v, 1))
		return v;
	if (v <= UINT64_MAX - e->bias && ue_in(e, v + e->bias, 1))
		return v + e->bias;
	return 0;
}

static int ue_phdrs(struct vsp_uelf *e, const Elf64_Phdr *ph, unsigned n,
		    uint64_t *dyn, uint64_t *ndyn, char *err, size_t errlen)
{
	uint64_t minv = UINT64_MAX, maxv = 0;
	bool have0 = false;

	*dyn = *ndyn = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_memsz > UE_MAX_SPAN || ph[i].p_vaddr > UE_MAX_SPAN ||
		    ph[i].p_vaddr > UINT64_MAX - UE_MAX_SPAN)
			return vsp_errf(err, errlen, "a PT_LOAD segment is out of range");
		uint64_t lo = ph[i].p_vaddr & ~(UE_PAGE - 1);
		uint64_t hi = ph[i].p_vaddr + ph[i].p_memsz;
		if (lo < minv)
			minv = lo;
		if (hi > maxv)
			maxv = hi;
		if (ph[i].p_offset == 0 && !have0) {
			have0 = true;
			if (e->base < lo)
				return vsp_errf(err, errlen, "the headers' segment "
						"lies above the mapping");
			e->bias = e->base - lo;
		}
	}
	if (!have0)
		return vsp_errf(err, errlen, "no PT_LOAD maps the ELF header");
	if (e->type == ET_EXEC && e->bias)
		return vsp_errf(err, errlen, "an ET_EXEC module mapped away from "
				"its link address");
	if (maxv - minv > UE_MAX_SPAN || e->bias > UINT64_MAX - maxv)
		return vsp_errf(err, errlen, "the segments span too much");
	e->lo = e->bias + minv;
	e->hi = e->bias + maxv;
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type == PT_TLS)
			e->tls_memsz = ph[i].p_memsz;
		if (ph[i].p_type != PT_DYNAMIC)
			continue;
		if (ph[i].p_vaddr > UE_MAX_SPAN ||
		    !ue_in(e, e->bias + ph[i].p_vaddr, sizeof(Elf64_Dyn)))
			return vsp_errf(err, errlen, "PT_DYNAMIC lies outside the "
					"module");
		*dyn = e->bias + ph[i].p_vaddr;
		*ndyn = ph[i].p_memsz / sizeof(Elf64_Dyn);
	}
	return 0;
}

int vsp_uelf_open(struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		  uint64_t base, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[VSP_UELF_MAX_PHDR];
	Elf64_Dyn d[VSP_UELF_MAX_DYN];
	uint64_t dyn, ndyn;

	memset(e, 0, sizeof(*e));
	e->base = base;
	if (base & (UE_PAGE - 1))
		return vsp_errf(err, errlen, "0x%llx is not a page address",
				(unsigned long long)base);
	if (vsp_gread_all(read, ctx, base, &eh, sizeof(eh)) < 0)
		return vsp_errf(err, errlen, "cannot read the ELF header at 0x%llx",
				(unsigned long long)base);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return vsp_errf(err, errlen, "not a 64-bit little-endian ELF");
	if (eh.e_type != ET_DYN && eh.e_type != ET_EXEC)
		return vsp_errf(err, errlen, "ELF type %u is not a program or "
				"a shared object", eh.e_type);
	if (eh.e_machine != EM_X86_64)
		return vsp_errf(err, errlen, "ELF machine %u is not x86-64",
				eh.e_machine);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > VSP_UELF_MAX_PHDR || eh.e_phoff > UE_PAGE ||
	    eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > UE_PAGE)
		return vsp_errf(err, errlen, "the program headers do not fit the "
				"first page");
	e->type = eh.e_type;
	if (vsp_gread_all(read, ctx, base + eh.e_phoff, ph,
			  eh.e_phnum * sizeof(Elf64_Phdr)) < 0)
		return vsp_errf(err, errlen, "cannot read the program headers");
	if (ue_phdrs(e, ph, eh.e_phnum, &dyn, &ndyn, err, errlen) < 0)
		return -1;
	if (!dyn)
		return vsp_errf(err, errlen, "no PT_DYNAMIC: a static program has "
				"no dynamic symbols");
	if (ndyn > VSP_UELF_MAX_DYN)
		ndyn = VSP_UELF_MAX_DYN;
	if (dyn + ndyn * sizeof(Elf64_Dyn) > e->hi)
		ndyn = (e->hi - dyn) / sizeof(Elf64_Dyn);
	if (vsp_gread_all(read, ctx, dyn, d, ndyn * sizeof(Elf64_Dyn)) < 0)
		return vsp_errf(err, errlen, "cannot read the dynamic section");
	uint64_t soname = UINT64_MAX;
	for (uint64_t i = 0; i < ndyn && d[i].d_tag != DT_NULL; i++) {
		uint64_t v = d[i].d_un.d_val;
		switch (d[i].d_tag) {
		case DT_SYMTAB:
			e->symtab = ue_fix(e, v);
			break;
		case DT_STRTAB:
			e->strtab = ue_fix(e, v);
			break;
		case DT_STRSZ:
			e->strsz = v;
			break;
		case DT_GNU_HASH:
			e->gnu_hash = ue_fix(e, v);
			break;
		case DT_HASH:
			e->hash = ue_fix(e, v);
			break;
		case DT_VERSYM:
			e->versym = ue_fix(e, v);
			break;
		case DT_SONAME:
			soname = v;
			break;
		case DT_SYMENT:
			if (v != sizeof(Elf64_Sym))
				return vsp_errf(err, errlen, "DT_SYMENT is %llu, "
						"not %zu", (unsigned long long)v,
						sizeof(Elf64_Sym));
			break;
		}
	}
	if (!e->symtab || !e->strtab)
		return vsp_errf(err, errlen, "no usable DT_SYMTAB and DT_STRTAB");
	if (!e->gnu_hash && !e->hash)
		return vsp_errf(err, errlen, "neither DT_GNU_HASH nor DT_HASH");
	/* The string table ends inside the module. */
	if (!e->strsz || e->strsz > e->hi - e->strtab)
		e->strsz = e->hi - e->strtab;
	if (soname < e->strsz)
		e->soname = e->strtab + soname;
	return 0;
}

static uint32_t ue_gnu_hash(const char *s)
{
	uint32_t h = 5381;

	for (; *s; s++)
		h = h * 33 + (uint8_t)*s;
	return h;
}

static uint32_t ue_sysv_hash(const char *s)
{
	uint32_t h = 0, g;

	for (; *s; s++) {
		h = (h << 4) + (uint8_t)*s;
		g = h & 0xf0000000u;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static int ue_u32(vsp_gread_fn read, void *ctx, const struct vsp_uelf *e,
		  uint64_t a, uint32_t *v)
{
	if (!ue_in(e, a, 4))
		return -1;
	return vsp_gread_all(read, ctx, a, v, 4);
}

enum { UE_NO, UE_YES, UE_BAD };

/* Whether symbol i is `name` (len bytes): UE_YES, UE_NO or UE_BAD. */
static int ue_sym_is(const struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		     uint64_t i, const char *name, size_t len, Elf64_Sym *sym)
{
	char buf[VSP_UELF_MAX_NAME + 1];

	if (i > (e->hi - e->symtab) / sizeof(*sym) ||
	    !ue_in(e, e->symtab + i * sizeof(*sym), sizeof(*sym)) ||
	    vsp_gread_all(read, ctx, e->symtab + i * sizeof(*sym), sym,
			  sizeof(*sym)) < 0)
		return UE_BAD;
	if (sym->st_name >= e->strsz || e->strsz - sym->st_name < len + 1)
		return sym->st_name >= e->strsz ? UE_BAD : UE_NO;
	if (vsp_gread_all(read, ctx, e->strtab + sym->st_name, buf,
			  len + 1) < 0)
		return UE_BAD;
	return memcmp(buf, name, len) == 0 && buf[len] == '\0' ? UE_YES : UE_NO;
}

/* The best match so far: a default version beats a hidden one. */
struct ue_pick {
	bool found, hidden;
	Elf64_Sym sym;
};

static void ue_consider(const struct vsp_uelf *e, vsp_gread_fn read,
			void *ctx, uint64_t i, const Elf64_Sym *sym,
			struct ue_pick *pk)
{
	uint16_t ver = 0;

	if (sym->st_shndx == SHN_UNDEF)
		return;
	if (e->versym && ue_in(e, e->versym + i * 2, 2))
		(void)vsp_gread_all(read, ctx, e->versym + i * 2, &ver, 2);
	bool hidden = (ver & 0x8000) != 0;
	if (!pk->found || (pk->hidden && !hidden)) {
		pk->found = true;
		pk->hidden = hidden;
		pk->sym = *sym;
	}
}

static int ue_walk_gnu(const struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		       const char *name, struct ue_pick *pk, char *err,
		       size_t errlen)
{
	uint32_t hdr[4];
	size_t len = strlen(name);
	uint32_t h = ue_gnu_hash(name);

	if (!ue_in(e, e->gnu_hash, sizeof(hdr)) ||
	    vsp_gread_all(read, ctx, e->gnu_hash, hdr, sizeof(hdr)) < 0)
		return vsp_errf(err, errlen, "cannot read DT_GNU_HASH");
	uint32_t nb = hdr[0], symoff = hdr[1], bloom = hdr[2];
	if (nb == 0 || nb > VSP_UELF_MAX_STEPS * 16u || bloom > (1u << 20))
		return vsp_errf(err, errlen, "DT_GNU_HASH has %u buckets and %u "
				"bloom words", nb, bloom);
	uint64_t buckets = e->gnu_hash + 16 + (uint64_t)bloom * 8;
	uint64_t chains = buckets + (uint64_t)nb * 4;
	uint32_t i;
	if (ue_u32(read, ctx, e, buckets + (uint64_t)(h % nb) * 4, &i) < 0)
		return vsp_errf(err, errlen, "a DT_GNU_HASH bucket lies outside "
				"the module");
	if (i == 0 || i < symoff)
		return 0;
	for (uint32_t n = 0; n < VSP_UELF_MAX_CHAIN; n++, i++) {
		uint32_t c;
		Elf64_Sym sym;
		if (i < symoff ||
		    ue_u32(read, ctx, e, chains + (uint64_t)(i - symoff) * 4, &c) < 0)
			return vsp_errf(err, errlen, "a DT_GNU_HASH chain runs out "
					"of the module");
		if ((c | 1) == (h | 1)) {
			int r = ue_sym_is(e, read, ctx, i, name, len, &sym);
			if (r == UE_BAD)
				return vsp_errf(err, errlen, "symbol %u lies outside "
						"the symbol table", i);
			if (r == UE_YES)
				ue_consider(e, read, ctx, i, &sym, pk);
		}
		if (c & 1)
			return 0;
	}
	return vsp_errf(err, errlen, "a DT_GNU_HASH chain does not end within "
			"%d entries", VSP_UELF_MAX_CHAIN);
}

static int ue_walk_sysv(const struct vsp_uelf *e, vsp_gread_fn read,
			void *ctx, const char *name, struct ue_pick *pk,
			char *err, size_t errlen)
{
	uint32_t hdr[2];
	size_t len = strlen(name);

	if (!ue_in(e, e->hash, sizeof(hdr)) ||
	    vsp_gread_all(read, ctx, e->hash, hdr, sizeof(hdr)) < 0)
		return vsp_errf(err, errlen, "cannot read DT_HASH");
	uint32_t nb = hdr[0], nchain = hdr[1];
	if (nb == 0)
		return vsp_errf(err, errlen, "DT_HASH has no buckets");
	uint64_t buckets = e->hash + 8, chains = buckets + (uint64_t)nb * 4;
	uint32_t i;
	if (ue_u32(read, ctx, e, buckets + (uint64_t)(ue_sysv_hash(name) % nb) * 4,
		   &i) < 0)
		return vsp_errf(err, errlen, "a DT_HASH bucket lies outside the "
				"module");
	for (uint32_t n = 0; i != STN_UNDEF; n++) {
		Elf64_Sym sym;
		if (n >= VSP_UELF_MAX_CHAIN || n > nchain)
			return vsp_errf(err, errlen, "a DT_HASH chain does not end "
					"within %d entries", VSP_UELF_MAX_CHAIN);
		if (i >= nchain)
			return vsp_errf(err, errlen, "DT_HASH index %u past its %u "
					"chains", i, nchain);
		int r = ue_sym_is(e, read, ctx, i, name, len, &sym);
		if (r == UE_BAD)
			return vsp_errf(err, errlen, "symbol %u lies outside the "
					"symbol table", i);
		if (r == UE_YES)
			ue_consider(e, read, ctx, i, &sym, pk);
		if (ue_u32(read, ctx, e, chains + (uint64_t)i * 4, &i) < 0)
			return vsp_errf(err, errlen, "a DT_HASH chain lies outside "
					"the module");
	}
	return 0;
}

int vsp_uelf_lookup(const struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		    const char *name, uint64_t *addr, char *err,
		    size_t errlen)
{
	struct ue_pick pk = { 0 };
	size_t len = strlen(name);
	int rc;

	if (len == 0 || len > VSP_UELF_MAX_NAME)
		return vsp_errf(err, errlen, "bad symbol name");
	if (e->gnu_hash)
		rc = ue_walk_gnu(e, read, ctx, name, &pk, err, errlen);
	else
		rc = ue_walk_sysv(e, read, ctx, name, &pk, err, errlen);
	if (rc < 0)
		return -1;
	if (!pk.found)
		return vsp_errf(err, errlen, "the module defines no %s", name);
	unsigned type = ELF64_ST_TYPE(pk.sym.st_info);
	if (type == STT_GNU_IFUNC)
		return vsp_errf(err, errlen, "%s is an IFUNC: its symbol is the "
				"resolver, not the function", name);
	if (type != STT_FUNC)
		return vsp_errf(err, errlen, "%s is not a function", name);
	uint64_t a = pk.sym.st_value;
	if (a > UE_MAX_SPAN || !ue_in(e, a + e->bias, 1))
		return vsp_errf(err, errlen, "%s lies outside the module", name);
	*addr = a + e->bias;
	return 0;
}

/* ---- a static program's .symtab, by file offset ---- */

#define UE_CHUNK 4096u
#define UE_MAX_HITS 16

/* The offsets in the string table [off, off + size) where `name` (len
 * bytes) is a whole string or a string's tail (a linker may share tails):
 * up to UE_MAX_HITS of them into hit; how many, or -1. */
static int ue_str_hits(vsp_gread_fn read, void *ctx, uint64_t off,
		       uint64_t size, const char *name, size_t len,
		       uint32_t *hit)
{
	char buf[UE_CHUNK];
	int n = 0;

	/* Chunks overlap by len + 1 bytes, so no string is cut unseen. */
	for (uint64_t pos = 0; pos < size; pos += UE_CHUNK - (len + 1)) {
		size_t want = size - pos < UE_CHUNK ? (size_t)(size - pos) : UE_CHUNK;
		if (vsp_gread_all(read, ctx, off + pos, buf, want) < 0)
			return -1;
		for (size_t i = 0; i + len < want; i++) {
			if (buf[i + len] != '\0' || memcmp(buf + i, name, len))
				continue;
			uint64_t at = pos + i;
			if (n && hit[n - 1] == at)
				continue;	/* seen in the overlap */
			if (n < UE_MAX_HITS)
				hit[n++] = (uint32_t)at;
		}
		if (want < UE_CHUNK)
			break;
	}
	return n;
}

static bool ue_hit(const uint32_t *hit, int n, uint32_t v)
{
	for (int i = 0; i < n; i++)
		if (hit[i] == v)
			return true;
	return false;
}

/* The one definition of `name` in the file's .symtab, whatever its type. */
static int ue_symtab_find(vsp_gread_fn read_file, void *ctx, const char *name,
			  Elf64_Sym *out, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh, st;
	size_t len = strlen(name);
	uint32_t hit[UE_MAX_HITS];

	if (len == 0 || len > VSP_UELF_MAX_NAME)
		return vsp_errf(err, errlen, "bad symbol name");
	if (vsp_gread_all(read_file, ctx, 0, &eh, sizeof eh) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		return vsp_errf(err, errlen, "cannot read a 64-bit ELF header");
	if (!eh.e_shoff || !eh.e_shnum)
		return vsp_errf(err, errlen, "no section headers (stripped?)");
	if (eh.e_shentsize != sizeof sh || eh.e_shnum > VSP_UELF_MAX_SHDR ||
	    eh.e_shoff > UE_MAX_SPAN)
		return vsp_errf(err, errlen, "the section headers are out of range");
	unsigned i;
	for (i = 0; i < eh.e_shnum; i++) {
		if (vsp_gread_all(read_file, ctx, eh.e_shoff + i * sizeof sh, &sh,
				  sizeof sh) < 0)
			return vsp_errf(err, errlen, "cannot read section header %u "
					"(not in the page cache?)", i);
		if (sh.sh_type == SHT_SYMTAB)
			break;
	}
	if (i == eh.e_shnum)
		return vsp_errf(err, errlen, "no .symtab (stripped)");
	if (sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh.e_shnum ||
	    sh.sh_size / sizeof(Elf64_Sym) > VSP_UELF_MAX_STEPS ||
	    sh.sh_offset > UE_MAX_SPAN)
		return vsp_errf(err, errlen, ".symtab is out of range");
	if (vsp_gread_all(read_file, ctx, eh.e_shoff + sh.sh_link * sizeof st,
			  &st, sizeof st) < 0 || st.sh_type != SHT_STRTAB ||
	    st.sh_size > VSP_UELF_MAX_STRTAB || st.sh_offset > UE_MAX_SPAN)
		return vsp_errf(err, errlen, ".symtab's string table is unreadable "
				"or out of range");
	int nh = ue_str_hits(read_file, ctx, st.sh_offset, st.sh_size, name, len,
			     hit);
	if (nh < 0)
		return vsp_errf(err, errlen, "cannot read .strtab (not in the page "
				"cache?)");
	if (nh == 0)
		return vsp_errf(err, errlen, "the program defines no %s", name);

	/* The symbols, a chunk at a time. */
	Elf64_Sym buf[UE_CHUNK / sizeof(Elf64_Sym)], pick = { 0 };
	uint64_t nsym = sh.sh_size / sizeof(Elf64_Sym);
	unsigned nglobal = 0, nlocal = 0;
	for (uint64_t k = 0; k < nsym; k += sizeof buf / sizeof buf[0]) {
		uint64_t n = nsym - k < sizeof buf / sizeof buf[0] ?
			nsym - k : sizeof buf / sizeof buf[0];
		if (vsp_gread_all(read_file, ctx, sh.sh_offset + k * sizeof buf[0],
				  buf, n * sizeof buf[0]) < 0)
			return vsp_errf(err, errlen, "cannot read .symtab (not in "
					"the page cache?)");
		for (uint64_t j = 0; j < n; j++) {
			const Elf64_Sym *s = &buf[j];
			if (s->st_shndx == SHN_UNDEF || !ue_hit(hit, nh, s->st_name))
				continue;
			bool local = ELF64_ST_BIND(s->st_info) == STB_LOCAL;
			if (local ? nlocal++ == 0 && !nglobal : nglobal++ == 0)
				pick = *s;
		}
	}
	if (!nglobal && !nlocal)
		return vsp_errf(err, errlen, "the program defines no %s", name);
	if (!nglobal && nlocal > 1)
		return vsp_errf(err, errlen, "%u local symbols are named %s",
				nlocal, name);
	*out = pick;
	return 0;
}

int vsp_uelf_symtab_lookup(vsp_gread_fn read_file, void *ctx,
			   const char *name, uint64_t *value, char *err,
			   size_t errlen)
{
	Elf64_Sym pick;

	if (ue_symtab_find(read_file, ctx, name, &pick, err, errlen) < 0)
		return -1;
	unsigned type = ELF64_ST_TYPE(pick.st_info);
	if (type == STT_GNU_IFUNC)
		return vsp_errf(err, errlen, "%s is an IFUNC: its symbol is the "
				"resolver, not the function", name);
	if (type != STT_FUNC)
		return vsp_errf(err, errlen, "%s is not a function", name);
	*value = pick.st_value;
	return 0;
}

int vsp_uelf_soname(const struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		    char *buf, size_t size)
{
	if (!e->soname || size == 0)
		return -1;
	uint64_t room = e->strtab + e->strsz - e->soname;
	size_t want = size - 1 < room ? size - 1 : (size_t)room;
	long n = read(ctx, e->soname, buf, want);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return memchr(buf, '\0', (size_t)n) || (size_t)n == want ? 0 : -1;
}

int vsp_uelf_errno_tpoff(const struct vsp_uelf *e, vsp_gread_fn read,
			 void *ctx, int64_t *tpoff, char *err, size_t errlen)
{
	/* mov disp(%rip),%rax; add %fs:0,%rax; ret */
	static const uint8_t tail[10] = { 0x64, 0x48, 0x03, 0x04, 0x25,
					  0, 0, 0, 0, 0xc3 };
	uint8_t code[17];
	uint64_t fn;
	int32_t disp;
	int64_t off;

	if (vsp_uelf_lookup(e, read, ctx, "__errno_location", &fn, err,
			    errlen) < 0)
		return -1;
	if (!ue_in(e, fn, sizeof(code)) ||
	    vsp_gread_all(read, ctx, fn, code, sizeof(code)) < 0)
		return vsp_errf(err, errlen, "cannot read __errno_location");
	if (code[0] != 0x48 || code[1] != 0x8b || code[2] != 0x05 ||
	    memcmp(code + 7, tail, sizeof(tail)))
		return vsp_errf(err, errlen, "__errno_location is not the code "
				"expected (mov GOT,%%rax; add %%fs:0,%%rax)");
	memcpy(&disp, code + 3, 4);
	uint64_t got = fn + 7 + (uint64_t)(int64_t)disp;
	if (!ue_in(e, got, 8) || vsp_gread_all(read, ctx, got, &off, 8) < 0)
		return vsp_errf(err, errlen, "cannot read errno's TLS offset");
	/* Variant II TLS: static blocks sit below the thread pointer. */
	if (off >= 0 || off < -(int64_t)(1 << 30))
		return vsp_errf(err, errlen, "errno's TLS offset %lld is not "
				"below the thread pointer (not relocated yet?)",
				(long long)off);
	*tpoff = off;
	return 0;
}

int vsp_uelf_static_errno_tpoff(vsp_gread_fn read_file, void *ctx,
				int64_t *tpoff, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	Elf64_Sym sym;
	unsigned i;

	if (vsp_gread_all(read_file, ctx, 0, &eh, sizeof eh) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		return vsp_errf(err, errlen, "cannot read a 64-bit ELF header");
	if (eh.e_phentsize != sizeof ph || eh.e_phnum > VSP_UELF_MAX_PHDR ||
	    eh.e_phoff > UE_MAX_SPAN)
		return vsp_errf(err, errlen, "the program headers are out of range");
	for (i = 0; i < eh.e_phnum; i++) {
		if (vsp_gread_all(read_file, ctx, eh.e_phoff + i * sizeof ph, &ph,
				  sizeof ph) < 0)
			return vsp_errf(err, errlen, "cannot read program header %u",
					i);
		if (ph.p_type == PT_TLS)
			break;
	}
	if (i == eh.e_phnum)
		return vsp_errf(err, errlen, "no PT_TLS: the program has no "
				"thread-local errno");
	uint64_t align = ph.p_align ? ph.p_align : 1;
	if ((align & (align - 1)) || align > 4096 || ph.p_memsz > (1u << 30) ||
	    (ph.p_vaddr & (align - 1)))
		return vsp_errf(err, errlen, "PT_TLS is out of range or unaligned");
	if (ue_symtab_find(read_file, ctx, "errno", &sym, err, errlen) < 0)
		return -1;
	if (ELF64_ST_TYPE(sym.st_info) != STT_TLS ||
	    sym.st_value + 4 > ph.p_memsz)
		return vsp_errf(err, errlen, "errno is not a thread-local int of "
				"the program's TLS block");
	/* The static TLS block of the program ends at the thread pointer
	 * (variant II), rounded up to its alignment, as glibc's
	 * __libc_setup_tls lays it out. */
	uint64_t block = (ph.p_memsz + align - 1) & ~(align - 1);
	*tpoff = (int64_t)sym.st_value - (int64_t)block;
	return 0;
}
