/*
 * catalog.h: what the language knows about guest events, as data.
 *
 * The syscall table (x86-64 Linux) is generated from the installed
 * <asm/unistd_64.h> joined with a table of prototypes (base/syscall-protos.txt);
 * syscalls without a prototype get arg0..arg5.  The hypercall table comes
 * from Xen's public headers.  Symbolic constants (errno names, O_*, AT_*,
 * PROT_*, MAP_*, CLONE_*) carry x86-64 Linux values.  The generated tables
 * live in base/catalog_*.c; tools/gen-catalog.sh remakes them.
 */
#ifndef VSP_CATALOG_H
#define VSP_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/event.h"

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
/* User-space functions by C name (base/catalog_user.c): whichever module
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

/*
 * Hook events (language 1.1 section 7.1), as data: each names the kernel
 * function it traps (an LSM hook every route to the object passes), how
 * that function's arguments give the event's objects, and which groups of
 * resolved fields the event offers.  The table is base/catalog_hooks.c;
 * the monitor checks each function against the guest's symbols at attach.
 */
enum vsp_hook_field_group {
	VSP_HF_FILE = 1u << 0,		/* file.* */
	VSP_HF_OPEN = 1u << 1,		/* open.flags */
	VSP_HF_EXEC = 1u << 2,		/* exec.argv, exec.interp */
	VSP_HF_MMAP = 1u << 3,		/* mmap.prot, mmap.flags */
	VSP_HF_TPATH = 1u << 4,		/* target.path */
	VSP_HF_SOCK = 1u << 5,		/* sock.* */
	VSP_HF_TTASK = 1u << 6,		/* target.pid, target.comm, target.exe */
	VSP_HF_NEW = 1u << 7,		/* new.uid, new.euid */
	VSP_HF_FLAGS = 1u << 8,		/* flags */
	VSP_HF_MODULE = 1u << 9,	/* module.name */
	VSP_HF_BPF = 1u << 10		/* bpf.cmd */
};

/* How the trapped function's arguments (rdi, rsi, rdx, ...) give the
 * event's objects; the monitor's hook site reads them accordingly. */
enum vsp_hook_args {
	VSP_HA_FILE,		/* (struct file *): open */
	VSP_HA_BPRM,		/* (struct linux_binprm *): exec */
	VSP_HA_MMAP,		/* (struct file *, prot, flags) */
	VSP_HA_PATH,		/* (const struct path *, ...): truncate chmod chown */
	VSP_HA_DIR_DENTRY,	/* (const struct path *dir, struct dentry *): unlink */
	VSP_HA_LINK,		/* (struct dentry *old, const struct path *dir, struct dentry *new) */
	VSP_HA_RENAME,		/* (const struct path *, struct dentry *, const struct path *, struct dentry *) */
	VSP_HA_SYMLINK,		/* (const struct path *dir, struct dentry *, const char *old) */
	VSP_HA_MOUNT,		/* (const char *dev, const struct path *, type, flags, data) */
	VSP_HA_LOOPBACK,	/* (const struct path *old, bool recurse): a bind's source */
	VSP_HA_MOVE_MOUNT,	/* (const struct path *from, const struct path *to) */
	VSP_HA_SOCKADDR,	/* (struct socket *, struct sockaddr *, int): connect bind */
	VSP_HA_SOCK,		/* (struct socket *, ...): listen accept */
	VSP_HA_SENDMSG,		/* (struct socket *, struct msghdr *, int) */
	VSP_HA_TASK,		/* (struct task_struct *, ...): ptrace kill */
	VSP_HA_SETUID,		/* (struct cred *new, const struct cred *old, int) */
	VSP_HA_FLAGS,		/* (unsigned long flags): unshare */
	VSP_HA_SETNS,		/* __x64_sys_setns(struct pt_regs *): its nstype */
	VSP_HA_READ_FILE,	/* (struct file *, enum kernel_read_file_id, bool) */
	VSP_HA_LOAD_DATA,	/* (enum kernel_load_data_id, bool) */
	VSP_HA_BPF		/* (int cmd, union bpf_attr *, unsigned int) */
};

#define VSP_HOOK_FUNCS 3

struct vsp_hook {
	const char *name;		/* "open": first, for vsp_suggest */
	enum vsp_event_kind kind;	/* VSP_EV_FILE, _NET or _TASK */
	unsigned fields;		/* VSP_HF_* */
	struct {
		const char *func;	/* "security_file_open"; NULL: unused */
		enum vsp_hook_args args;
	} at[VSP_HOOK_FUNCS];		/* every function is trapped */
};

extern const struct vsp_hook vsp_hooks[];
extern const size_t vsp_nhooks;

/* NULL when `kind` has no hook `name`. */
const struct vsp_hook *vsp_hook_by_name(enum vsp_event_kind kind,
					const char *name);
/* The nearest hook name of that kind, for "did you mean". */
const char *vsp_suggest_hook(enum vsp_event_kind kind, const char *name);
/* The hook group a field belongs to (VSP_HF_*), 0 for fields that are
 * not hook fields. */
unsigned vsp_hook_field_group(enum vsp_field f);

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
