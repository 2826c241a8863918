/*
 * symbols.h: the guest kernel's symbol table.
 *
 * vmi/ needs names for addresses in two directions: rules name kernel
 * functions (`on kernel commit_creds`), so the monitor turns names into trap
 * addresses; the unwinder turns return addresses into the function names
 * that make up a call path (struct vsp_event.stack).  The table is loaded
 * once from a System.map or a /proc/kallsyms dump ("ADDR TYPE NAME
 * [module]" per line), kept sorted by address for symbolisation and hashed
 * by name for lookups.  A KASLR slide (vmi/kaslr.c finds it) moves every
 * address at once: the file holds link-time addresses, lookups answer
 * run-time ones.
 *
 * Lookups never allocate and are safe from several threads once loading
 * and set_slide are done.  Names returned are owned by the table and live
 * until vsp_sym_free().
 */
#ifndef VSP_SYMBOLS_H
#define VSP_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vsp_symtab;

/* One symbol as loaded (link-time address). */
struct vsp_sym {
	uint64_t addr;
	uint64_t size;		/* distance to the next higher symbol; 0 last */
	const char *name;
	const char *module;	/* NULL for the core kernel */
	char type;		/* nm type letter: T t D d B b R r W A ... */
};

/*
 * Loads a System.map or kallsyms file (or a `vsp profile`, whose header
 * lines start with '#').  Blank and '#' lines are skipped; any other
 * line that does not parse is an error naming the file and line
 * ("System.map:12: bad address").  A file whose addresses are all zero (an
 * unprivileged /proc/kallsyms) is an error too.  Returns NULL with the
 * message in err (may be NULL) on failure.
 */
struct vsp_symtab *vsp_sym_load(const char *path, char *err, size_t errlen);

/* The same from a buffer of text; `name` is used in messages only. */
struct vsp_symtab *vsp_sym_load_mem(const char *text, size_t len,
				    const char *name, char *err,
				    size_t errlen);

/* The whole file at `path` (read to EOF, as /proc/kallsyms needs) into
 * *text, which the caller frees: for a caller that parses one file for
 * more than its symbols (a profile's sections, vmi/kprofile.h).  0, or -1
 * with a message. */
int vsp_sym_read_file(const char *path, char **text, size_t *len, char *err,
		      size_t errlen);

void vsp_sym_free(struct vsp_symtab *t);

/* Every address in and out of the table moves by `slide` (run - link). */
void vsp_sym_set_slide(struct vsp_symtab *t, int64_t slide);
int64_t vsp_sym_slide(const struct vsp_symtab *t);

/* Run-time address of `name`: 0, or -1 when there is no such symbol.  When
 * a name occurs more than once (static functions), the first text symbol
 * in file order wins. */
int vsp_sym_addr(const struct vsp_symtab *t, const char *name,
		 uint64_t *addr);

/* Like vsp_sym_addr, and the symbol's size (0 when unknown). */
int vsp_sym_lookup(const struct vsp_symtab *t, const char *name,
		   uint64_t *addr, uint64_t *size);

/*
 * The symbol that contains run-time address `addr` (the greatest symbol at
 * or below it) and the offset into it; NULL when addr lies below the first
 * symbol or past the end of the last one's extent (the last symbol counts
 * as empty: an address past every symbol is not the kernel's).
 */
const char *vsp_sym_at(const struct vsp_symtab *t, uint64_t addr,
		       uint64_t *off);

/* As vsp_sym_at with the whole record; addresses in it are link-time. */
const struct vsp_sym *vsp_sym_find(const struct vsp_symtab *t, uint64_t addr);

/* True when the symbol is code (nm types T, t, W, w). */
bool vsp_sym_is_text(const struct vsp_sym *s);

/* Number of symbols and the i-th in address order (link-time addresses). */
size_t vsp_sym_count(const struct vsp_symtab *t);
const struct vsp_sym *vsp_sym_get(const struct vsp_symtab *t, size_t i);

/* Run-time range of core kernel text (_stext/_text .. _etext); 0 or -1. */
int vsp_sym_text_range(const struct vsp_symtab *t, uint64_t *lo,
		       uint64_t *hi);

/* "name+0xoff" into buf (or "0xADDR" when unknown); returns buf. */
const char *vsp_sym_format(const struct vsp_symtab *t, uint64_t addr,
			   char *buf, size_t size);

#endif
