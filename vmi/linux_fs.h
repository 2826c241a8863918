/*
 * linux_fs.h: what the kernel resolved, read from its own objects.
 *
 * Hook events (language 1.1) decide on the file, program, socket or task
 * the kernel is about to act on, not on the string the guest passed.
 * This module reads those objects of a Linux guest: a struct path (mount
 * and dentry) walked up through d_parent and the mounts' mnt_parent and
 * mnt_mountpoint to the process's root (`file.path`, as d_path builds
 * it) or to its filesystem's root (`file.fspath`); the inode and
 * superblock (`file.ino`, `file.fs`, ...); a task's executable, working
 * directory, arguments, cgroup and audit identity; a socket's addresses.
 * Every offset comes from the guest kernel's BTF; every walk is bounded in
 * depth and length, so a hostile dentry chain (a loop, a huge name) ends
 * in a failed read, never a hang.  Nothing allocates; reads go through
 * the caller's callback.  Like vmi/linux.c, this knows Linux and never
 * the backend.
 */
#ifndef VSP_LINUX_FS_H
#define VSP_LINUX_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmi/kaslr.h"
#include "vmi/symbols.h"

#define VSP_LXFS_MAX_DEPTH 256	/* path components walked, mounts included */
#define VSP_LXFS_NAME_MAX 255	/* a dentry name longer than this is hostile */

struct vsp_lxfs {
	/* struct file, struct path */
	uint32_t file_path, file_inode, file_flags;
	uint32_t path_mnt, path_dentry;
	/* struct dentry and its qstr */
	uint32_t d_parent, d_name, d_inode, d_iname, d_sb;
	uint32_t d_span_lo, d_span_len;	/* one read covers all of them */
	/* struct mount (vfsmount embedded at mnt_mnt), struct vfsmount */
	uint32_t mnt_parent, mnt_mountpoint, mnt_mnt, mnt_root;
	/* struct inode, super_block, file_system_type */
	uint32_t i_mode, i_uid, i_gid, i_ino, i_nlink, i_sb;
	uint32_t sb_dev, sb_type, fst_name;
	/* struct task_struct, fs_struct, mm_struct */
	uint32_t task_fs, task_mm, task_real_parent, task_comm;
	uint32_t task_loginuid, task_sessionid, task_cgroups;
	bool have_audit, have_cgroup;
	uint32_t fs_root, fs_pwd;
	uint32_t mm_exe_file, mm_arg_start, mm_arg_end;
	uint32_t css_dfl_cgrp, cgrp_kn, kn_parent, kn_name;
	/* struct linux_binprm */
	uint32_t bprm_file, bprm_interp, bprm_mm, bprm_p, bprm_argc;
	uint32_t mm_pgd;
	/* struct socket, sock_common, msghdr */
	uint32_t sock_type, sock_sk;
	uint32_t skc_family, skc_daddr, skc_rcv_saddr, skc_dport, skc_num;
	uint32_t skc_v6_daddr, skc_v6_rcv_saddr;
	uint32_t msg_name, msg_namelen;
	/* struct cred */
	uint32_t cred_uid, cred_euid;
	/* rename_lock and mount_lock: their sequence counts say whether
	 * any dentry moved or any mount changed since a path was cached. */
	uint64_t rename_lock, mount_lock;
	/* The variable page_offset_base: where the kernel maps all physical
	 * memory, so that another mm's page tables and pages can be read
	 * (exec.argv).  0 when the symbol is missing.  __pgtable_l5_enabled
	 * says whether the page tables have 5 levels (0: the symbol is
	 * missing, 4 levels). */
	uint64_t page_offset_base, pgtable_l5;
};

/* Reads the offsets from BTF at `btf_path`.  0, or -1 with a message. */
int vsp_lxfs_init(struct vsp_lxfs *fs, const char *btf_path, char *err,
		  size_t errlen);
/* The same from raw BTF bytes (borrowed): the running kernel's own .BTF
 * read from guest memory when no vmlinux is given.  `name` for messages. */
int vsp_lxfs_init_mem(struct vsp_lxfs *fs, const void *data, size_t size,
		      const char *name, char *err, size_t errlen);
/* Locates rename_lock and mount_lock in the (slid) symbols; false when
 * either is missing (then no path is cached).  Also page_offset_base,
 * for exec.argv (left 0 when missing). */
bool vsp_lxfs_locks(struct vsp_lxfs *fs, const struct vsp_symtab *syms);
/* The two sequence counts in one word (rename << 32 | mount): -1 when
 * unreadable. */
int vsp_lxfs_seq(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		 uint64_t *seq);

struct vsp_lxpath {
	uint64_t mnt, dentry;	/* struct vfsmount *, struct dentry * */
};

/* A struct path at `gva`. */
int vsp_lxfs_read_path(const struct vsp_lxfs *fs, vsp_gread_fn read,
		       void *ctx, uint64_t gva, struct vsp_lxpath *out);

/*
 * The absolute path of `p` as a process with root `root` reaches it, the
 * way the kernel's d_path builds it: names from the dentry up, through
 * every mount to its mount point, until the root.  A path that is not
 * under `root` (reached through a file descriptor from outside a chroot)
 * is given from the global root, as d_path gives it.  Writes at most
 * `size` - 1 bytes and a NUL into buf; *len is the length.  0, or -1 when
 * a read failed, the walk was too deep or the path too long.
 */
int vsp_lxfs_d_path(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		    const struct vsp_lxpath *p, const struct vsp_lxpath *root,
		    char *buf, size_t size, uint32_t *len);

/* The path of `dentry` inside its own filesystem, from its root. */
int vsp_lxfs_fspath(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		    uint64_t dentry, char *buf, size_t size, uint32_t *len);

/* The dentry's own name (the last component).  NUL-terminated. */
int vsp_lxfs_dname(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		   uint64_t dentry, char *buf, size_t size, uint32_t *len);

/* Identity of a dentry's inode. */
struct vsp_lxinode {
	int64_t ino, dev, nlink, mode, uid, gid;
	char fs[32];		/* the filesystem type's name */
};

int vsp_lxfs_inode(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		   uint64_t dentry, struct vsp_lxinode *out);
/* "file", "dir", "symlink", "char", "block", "fifo", "socket" or "". */
const char *vsp_lxfs_type_name(int64_t mode);

/* The task's root and working directory (task->fs). */
int vsp_lxfs_task_fs(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		     uint64_t task, struct vsp_lxpath *root,
		     struct vsp_lxpath *pwd);
/* The task's executable (mm->exe_file's path); -1 for kernel threads. */
int vsp_lxfs_task_exe(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		      uint64_t task, struct vsp_lxpath *exe);
/* mm->arg_start..arg_end, NULs made spaces, trailing ones cut.  The
 * arguments are user memory of the task: readable when it is the one
 * running on the vCPU (the current task). */
int vsp_lxfs_task_cmdline(const struct vsp_lxfs *fs, vsp_gread_fn read,
			  void *ctx, uint64_t task, char *buf, size_t size,
			  uint32_t *len);
/*
 * exec.argv: the arguments of the program about to run, as the kernel
 * copied them onto its new stack (bprm->p on, bprm->argc strings), joined
 * by single spaces.  They live in the new mm, not the current one: its
 * page tables (4 or 5 levels) are walked through the kernel's direct map of
 * physical memory (page_offset_base, located by vsp_lxfs_locks), so what a
 * racing thread writes into its own argv afterwards changes nothing.
 * At most `size` - 1 bytes; -1 when a read failed or the arguments do not
 * fit (*len then holds what was read).
 */
int vsp_lxfs_bprm_argv(const struct vsp_lxfs *fs, vsp_gread_fn read,
		       void *ctx, uint64_t bprm, char *buf, size_t size,
		       uint32_t *len);
/* The user address `va` of the mm whose top page table is at `pgd` (a
 * kernel address), with `levels` (4 or 5) of page tables, as an address
 * in the direct map that starts at `pob` (page_offset_base's value); -1
 * when not mapped.  One read per level. */
int vsp_lxfs_mm_addr(vsp_gread_fn read, void *ctx, uint64_t pob, int levels,
		     uint64_t pgd, uint64_t va, uint64_t *kva);

/* The cgroup v2 path of the task's default-hierarchy cgroup ("/" at the
 * root), from its kernfs node up. */
int vsp_lxfs_task_cgroup(const struct vsp_lxfs *fs, vsp_gread_fn read,
			 void *ctx, uint64_t task, char *buf, size_t size,
			 uint32_t *len);
/* loginuid (4294967295 when unset, as /proc shows it) and sessionid. */
int vsp_lxfs_task_audit(const struct vsp_lxfs *fs, vsp_gread_fn read,
			void *ctx, uint64_t task, int64_t *loginuid,
			int64_t *sessionid);

/* A socket's family ("inet", ...), type ("stream", ...), and one of its
 * addresses: the peer (`peer`) or the local one, as text and port. */
struct vsp_lxsock {
	const char *family, *type;
	char addr[112];		/* dotted IPv4, RFC 5952 IPv6, unix path */
	int64_t port;
};

int vsp_lxfs_socket(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		    uint64_t socket, bool peer, struct vsp_lxsock *out);
/* The address of a struct sockaddr the kernel copied (`len` bytes at
 * `sa`); family and address replace those of `out`. */
int vsp_lxfs_sockaddr(vsp_gread_fn read, void *ctx, uint64_t sa, int64_t len,
		      struct vsp_lxsock *out);
const char *vsp_lxfs_family_name(int64_t family);

#endif
