/*
 * uelf.h: functions of a user-space ELF module, found from the module as
 * it sits in guest memory.
 *
 * A `user "libc.so.6":system` event needs the address of system() in each
 * process that maps libc, wherever ASLR put it.  Nothing on the guest's
 * disk is read: given where the module's first page is mapped, this reads
 * its ELF header and program headers there, follows PT_DYNAMIC to the
 * dynamic symbol table (DT_SYMTAB, DT_STRTAB, DT_STRSZ) and looks the name
 * up through DT_GNU_HASH, or DT_HASH when a module has only that, with the
 * symbol versions (DT_VERSYM) choosing the default version of a name that
 * has several.  The dynamic entries hold link-time values before the
 * dynamic loader has run and relocated ones after (glibc adds the load
 * bias in place); both are accepted when they fall inside the module.  A
 * static program has none of these: its functions are in the .symtab its
 * section headers name, outside every segment, read by file offset
 * (vsp_uelf_symtab_lookup).
 *
 * The guest controls every byte: each read is bounded (headers within the
 * first page, at most VSP_UELF_MAX_DYN dynamic entries, hash tables at
 * most VSP_UELF_MAX_STEPS entries, one hash chain at most
 * VSP_UELF_MAX_CHAIN entries, names at most
 * VSP_UELF_MAX_NAME bytes), so a hostile module gives an error, never a
 * crash or a hang.  Nothing allocates.
 */
#ifndef VSP_UELF_H
#define VSP_UELF_H

#include <stddef.h>
#include <stdint.h>

#include "vmi/kaslr.h"

#define VSP_UELF_MAX_PHDR 64
#define VSP_UELF_MAX_DYN 256
#define VSP_UELF_MAX_STEPS 65536
/*
 * A hash chain longer than this is a lie: the linker sizes a table for a
 * few symbols per bucket, and each step costs guest reads (three or more, each a round trip
 * on some backends), so a chain of VSP_UELF_MAX_STEPS stalled a lookup.
 */
#define VSP_UELF_MAX_CHAIN 1024
#define VSP_UELF_MAX_NAME 256
#define VSP_UELF_MAX_SHDR 128
#define VSP_UELF_MAX_STRTAB (16u << 20)

struct vsp_uelf {
	uint64_t base;		/* where file offset 0 is mapped */
	uint64_t bias;		/* added to link-time addresses */
	uint64_t lo, hi;	/* the module's mapped extent [lo, hi) */
	uint16_t type;		/* ET_DYN or ET_EXEC */
	/* From PT_DYNAMIC, as guest addresses; 0 when absent. */
	uint64_t symtab, strtab, strsz, gnu_hash, hash, versym;
	uint64_t soname;	/* the DT_SONAME string's address, or 0 */
	uint64_t tls_memsz;	/* PT_TLS: the module has thread-local data */
};

/*
 * Reads the module whose file offset 0 is mapped at `base`.  0, or -1
 * with a message in err.
 */
int vsp_uelf_open(struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		  uint64_t base, char *err, size_t errlen);

/*
 * The address of the function `name` (a defined STT_FUNC symbol; an
 * IFUNC resolver is refused, since its address is not the function's).
 * 0, or -1 with a message.
 */
int vsp_uelf_lookup(const struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		    const char *name, uint64_t *addr, char *err,
		    size_t errlen);

/*
 * A function of a program with no dynamic symbols (a static one), from
 * the symbol table its section headers name (SHT_SYMTAB and the string
 * table it links).  Those sections are in the file but not in any
 * segment, so `read_file` reads by file offset (a vsp_gread_fn whose
 * addresses are offsets into the file: vsp_pcmod_file_read), never
 * through a process's memory.  *value is the symbol's link-time address
 * (add the load bias).  A global or weak definition is taken; a local one
 * only when it is the only one of the name.  Bounded: at most
 * VSP_UELF_MAX_SHDR section headers, VSP_UELF_MAX_STEPS symbols and
 * VSP_UELF_MAX_STRTAB bytes of names.  0, or -1 with a message.
 */
int vsp_uelf_symtab_lookup(vsp_gread_fn read_file, void *ctx,
			   const char *name, uint64_t *value, char *err,
			   size_t errlen);

/* The module's DT_SONAME into buf (NUL-terminated); 0 or -1. */
int vsp_uelf_soname(const struct vsp_uelf *e, vsp_gread_fn read, void *ctx,
		    char *buf, size_t size);

/*
 * Where a thread's errno lives, as an offset from its thread pointer
 * (fs_base on x86-64): read from glibc's own __errno_location, which
 * loads the offset from its GOT and adds %fs:0.  Only that exact code is
 * accepted.  0, or -1 with a message.
 */
int vsp_uelf_errno_tpoff(const struct vsp_uelf *e, vsp_gread_fn read,
			 void *ctx, int64_t *tpoff, char *err, size_t errlen);

/*
 * The same for a statically linked program, from its file (read by file
 * offset, as vsp_uelf_symtab_lookup): the thread-local `errno` of its
 * .symtab placed in its PT_TLS block, which ends at the thread pointer.
 * 0, or -1 with a message (no PT_TLS, no such symbol, a stripped file).
 */
int vsp_uelf_static_errno_tpoff(vsp_gread_fn read_file, void *ctx,
				int64_t *tpoff, char *err, size_t errlen);

#endif
