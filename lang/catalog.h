/*
 * catalog.h: what the language knows about guest events, as data.
 *
 * The syscall table (x86-64 Linux) is generated from the installed
 * <asm/unistd_64.h> joined with a table of prototypes (lang/syscall-protos.txt);
 * syscalls without a prototype get arg0..arg5.  The hypercall table comes
 * from Xen's public headers.  Symbolic constants (errno names, O_*, AT_*,
 * PROT_*, MAP_*, CLONE_*) carry x86-64 Linux values.  The generated tables
 * live in lang/catalog_*.c; tools/gen-catalog.sh remakes them.
 */
#ifndef VSP_CATALOG_H
#define VSP_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vsp_arg_type {
	VSP_ARG_INT,		/* an integer or a pointer not read as a string */
	VSP_ARG_STR,		/* const char __user *: read as a string field */
	VSP_ARG_PATH,		/* a string that names a file: also `path` */
	VSP_ARG_BUF		/* bytes whose count is the next argument
				 * (SSL_write's buf, num): a string field */
};

struct vsp_call_arg {
	const char *name;
	enum vsp_arg_type type;
};

struct vsp_call {
	const char *name;	/* "openat", "mmu_update" */
	uint32_t nr;
	uint8_t nargs;		/* 6 (syscalls) or 5 (hypercalls) when unknown */
	bool has_proto;		/* false: args are arg0..argN only */
	struct vsp_call_arg args[6];
};

extern const struct vsp_call vsp_syscalls[];
extern const size_t vsp_nsyscalls;
extern const struct vsp_call vsp_hypercalls[];
extern const size_t vsp_nhypercalls;
/* User-space functions by C name (lang/catalog_user.c): whichever module
 * defines system() (libc.so.6, a static program) has its prototype. */
extern const struct vsp_call vsp_userfns[];
extern const size_t vsp_nuserfns;

/* NULL when unknown.  Linear or binary search; not on the decision path. */
const struct vsp_call *vsp_syscall_by_name(const char *name);
const struct vsp_call *vsp_syscall_by_nr(uint32_t nr);
const struct vsp_call *vsp_hypercall_by_name(const char *name);
const struct vsp_call *vsp_hypercall_by_nr(uint32_t nr);
const struct vsp_call *vsp_userfn_by_name(const char *name);

/* Index of the first VSP_ARG_PATH argument, or -1. */
int vsp_call_path_arg(const struct vsp_call *c);

enum vsp_const_class {
	VSP_C_ERRNO, VSP_C_OPEN, VSP_C_AT, VSP_C_PROT, VSP_C_MAP, VSP_C_CLONE,
	VSP_C_OTHER
};

struct vsp_const {
	const char *name;
	int64_t value;
	enum vsp_const_class cls;
};

extern const struct vsp_const vsp_consts[];
extern const size_t vsp_nconsts;

const struct vsp_const *vsp_const_by_name(const char *name);
/* "EACCES" for 13; NULL when no errno has that value. */
const char *vsp_errno_name(int64_t value);

/*
 * The closest of `n` names to `name` (Damerau-Levenshtein, at most a third
 * of the length away), or NULL: for "did you mean" suggestions.
 */
const char *vsp_suggest(const char *name, const char *const *names, size_t n);
/* The same over a catalog's names. */
const char *vsp_suggest_syscall(const char *name);
const char *vsp_suggest_hypercall(const char *name);
const char *vsp_suggest_const(const char *name);

#endif
