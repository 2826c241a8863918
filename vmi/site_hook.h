/*
 * site_hook.h: the hook-event site of the monitor (language 1.1).
 *
 * A hook event traps a kernel decision point named in the hook catalog
 * (base/catalog_hooks.c): an LSM hook such as security_file_open.  At the
 * trap the monitor hands this site the argument registers and the current
 * task; the site answers the engine's fetches of resolved fields
 * (file.*, sock.*, target.*, exec.*, ..., and proc.exe, proc.cwd, ... on
 * every event kind) from the kernel objects those arguments point at,
 * through vmi/linux_fs.c, reading only what a rule asks for.  A deny is
 * applied by the monitor as an emulated return of -E from the hook, so the
 * operation fails whichever route reached it.
 *
 * Resolved paths of file.path are cached by (dentry, mount, root) and
 * checked, at each use, against the leaf dentry as it is now and the
 * kernel's rename and mount sequence counts (rename_lock, mount_lock):
 * any rename or mount change anywhere drops every cached path.
 */
#ifndef VSP_SITE_HOOK_H
#define VSP_SITE_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/event.h"
#include "base/catalog.h"
#include "vmi/linux.h"
#include "vmi/linux_fs.h"

#define VSP_HOOK_STR_MAX 4096
#define VSP_HOOK_CACHE 64	/* cached file.path entries */
#define VSP_HOOK_BINDS 8	/* bind mounts between their two stops */

struct vsp_hook_cache_ent {
	uint64_t dentry, mnt, rdentry, rmnt;	/* key; dentry 0: empty */
	uint64_t parent, seq;			/* checks */
	uint32_t len;
	char path[VSP_HOOK_STR_MAX + 1];
};

struct vsp_hook_str {
	uint8_t state;		/* 0 unread, 1 read, 2 failed */
	uint32_t len;
	char buf[VSP_HOOK_STR_MAX + 1];
};

struct vsp_hook_stats {
	uint64_t events, skipped;	/* trapped; let pass undecided */
	uint64_t path_walks, cache_hits, cache_stale;
};

struct vsp_hook_site {
	const struct vsp_lxfs *fs;
	const struct vsp_linux *lx;
	vsp_gread_fn read;
	void *ctx;
	bool cache_on;		/* rename_lock and mount_lock were found */
	struct vsp_hook_cache_ent *cache;	/* VSP_HOOK_CACHE, or NULL */
	struct vsp_hook_stats st;
	const struct vsp_symtab *syms;

	/* mount(2) binds, seen at security_sb_mount and decided at
	 * __do_loopback in the same call: the kernel stack pointer at the
	 * first stop and the mount point (a struct path *) it named. */
	struct { uint64_t sp, path; } bind[VSP_HOOK_BINDS];
	unsigned bind_next;
	uint64_t bind_target;		/* this event's mount point, or 0 */

	/* The event being decided. */
	const struct vsp_hook *hook;	/* NULL: not a hook event */
	enum vsp_hook_args args;
	uint64_t a[6];			/* rdi rsi rdx rcx r8 r9 */
	uint64_t task;			/* current task, 0 when unknown */
	bool objs_done;			/* objs below were looked for */
	bool have_file, have_target_dir, have_root;
	struct vsp_lxpath file;		/* the object */
	struct vsp_lxpath target_dir;	/* new name's directory */
	uint64_t target_dentry;		/* new name's dentry */
	uint64_t target_task, sock;
	struct vsp_lxpath root;		/* the current task's root */
	bool inode_done, inode_ok;
	struct vsp_lxinode inode;
	bool sock_done, sock_ok;
	struct vsp_lxsock sk;
	struct vsp_hook_str s[VSP_F_COUNT - VSP_F_RES_FIRST];
};

/* Sets the site up (allocates its cache).  0, or -1 when out of memory. */
int vsp_hook_site_init(struct vsp_hook_site *s, const struct vsp_lxfs *fs,
		       const struct vsp_linux *lx, const struct vsp_symtab *syms,
		       vsp_gread_fn read, void *ctx);
void vsp_hook_site_release(struct vsp_hook_site *s);

/*
 * A new event: `hook` (NULL for events that are no hook event, which still
 * get proc.exe and the other resolved process fields), which of its
 * functions trapped (`at`), the argument registers and the current task
 * (0: unknown).  Reads nothing.
 */
void vsp_hook_site_begin(struct vsp_hook_site *s, const struct vsp_hook *hook,
			 unsigned at, const uint64_t a[6], uint64_t task);

/* False when the trapped call is not the hook's business (an mmap
 * without PROT_EXEC, a firmware read at the module hook, a bind mount at
 * security_sb_mount, decided later where its source is resolved, or
 * __do_loopback cloning a tree for open_tree): it then runs undecided.
 * `sp` is the kernel stack pointer at the trap; reads nothing but, at
 * __do_loopback, the return address there. */
bool vsp_hook_site_wanted(struct vsp_hook_site *s, uint64_t sp);

/*
 * Answers the engine's fetch of resolved field f (VSP_F_RES_FIRST and up)
 * as a vsp_fetch_fn does: 0 with `out` set (a resolved integer goes to
 * ev->rint), -1 when it cannot be read.
 */
int vsp_hook_site_fetch(struct vsp_hook_site *s, struct vsp_event *ev,
			enum vsp_field f, struct vsp_str *out);

#endif
