/*
 * catalog_hooks.c: the hook events of language 1.1 (section 7.1) and the
 * guest kernel functions they trap.
 *
 * Each hook sits where the kernel itself decides on the object, after it
 * resolved every name: Linux's LSM hooks, which every route to the object
 * passes (open, openat, openat2, io_uring, open_by_handle_at, the opens
 * inside execve all reach security_file_open).  A deny emulates the hook's
 * return with -E, so the operation fails whatever route it took and
 * nothing of it has run.  setns and unshare have no LSM hook of their
 * own in Linux 6.1: unshare traps ksys_unshare (io_uring cannot unshare)
 * and setns its syscall handler, the only way in.
 *
 * A mount is three places.  security_sb_mount sees mount(2) before the
 * kernel looked its source up: for a bind mount the source is the
 * caller's string, so a bind is decided where the kernel has resolved
 * it, at __do_loopback called from path_mount (the site keeps the mount
 * point from security_sb_mount); __do_loopback called from open_tree
 * only clones a tree, mounted later by move_mount(2), which
 * security_move_mount sees with both ends resolved.
 *
 * This is data: the monitor (vmi/site_hook.c) reads `at[]` and `fields`
 * and checks every function against the guest's symbols at attach.
 */
#include "base/catalog.h"

#include <string.h>

#define F(kind) VSP_EV_##kind
#define AT1(fn, a) { { fn, VSP_HA_##a } }
#define AT2(f1, a1, f2, a2) { { f1, VSP_HA_##a1 }, { f2, VSP_HA_##a2 } }
#define AT3(f1, a1, f2, a2, f3, a3) \
	{ { f1, VSP_HA_##a1 }, { f2, VSP_HA_##a2 }, { f3, VSP_HA_##a3 } }

const struct vsp_hook vsp_hooks[] = {
	{ "open", F(FILE), VSP_HF_FILE | VSP_HF_OPEN,
	  AT1("security_file_open", FILE) },
	{ "exec", F(FILE), VSP_HF_FILE | VSP_HF_EXEC,
	  AT1("security_bprm_check", BPRM) },
	{ "mmap", F(FILE), VSP_HF_FILE | VSP_HF_MMAP,
	  AT1("security_mmap_file", MMAP) },
	{ "link", F(FILE), VSP_HF_FILE | VSP_HF_TPATH,
	  AT1("security_path_link", LINK) },
	{ "rename", F(FILE), VSP_HF_FILE | VSP_HF_TPATH,
	  AT1("security_path_rename", RENAME) },
	{ "unlink", F(FILE), VSP_HF_FILE,
	  AT1("security_path_unlink", DIR_DENTRY) },
	{ "symlink", F(FILE), VSP_HF_FILE | VSP_HF_TPATH,
	  AT1("security_path_symlink", SYMLINK) },
	{ "truncate", F(FILE), VSP_HF_FILE,
	  AT1("security_path_truncate", PATH) },
	{ "chmod", F(FILE), VSP_HF_FILE,
	  AT1("security_path_chmod", PATH) },
	{ "chown", F(FILE), VSP_HF_FILE,
	  AT1("security_path_chown", PATH) },
	{ "mount", F(FILE), VSP_HF_FILE | VSP_HF_TPATH,
	  AT3("security_sb_mount", MOUNT, "__do_loopback", LOOPBACK,
	      "security_move_mount", MOVE_MOUNT) },
	{ "connect", F(NET), VSP_HF_SOCK,
	  AT1("security_socket_connect", SOCKADDR) },
	{ "bind", F(NET), VSP_HF_SOCK,
	  AT1("security_socket_bind", SOCKADDR) },
	{ "listen", F(NET), VSP_HF_SOCK,
	  AT1("security_socket_listen", SOCK) },
	{ "accept", F(NET), VSP_HF_SOCK,
	  AT1("security_socket_accept", SOCK) },
	{ "sendmsg", F(NET), VSP_HF_SOCK,
	  AT1("security_socket_sendmsg", SENDMSG) },
	{ "ptrace", F(TASK), VSP_HF_TTASK,
	  AT1("security_ptrace_access_check", TASK) },
	{ "kill", F(TASK), VSP_HF_TTASK,
	  AT1("security_task_kill", TASK) },
	{ "setuid", F(TASK), VSP_HF_NEW,
	  AT1("security_task_fix_setuid", SETUID) },
	{ "setns", F(TASK), VSP_HF_FLAGS,
	  AT1("__x64_sys_setns", SETNS) },
	{ "unshare", F(TASK), VSP_HF_FLAGS,
	  AT1("ksys_unshare", FLAGS) },
	{ "module", F(TASK), VSP_HF_MODULE | VSP_HF_FILE,
	  AT2("security_kernel_read_file", READ_FILE,
	      "security_kernel_load_data", LOAD_DATA) },
	{ "bpf", F(TASK), VSP_HF_BPF,
	  AT1("security_bpf", BPF) },
};

const size_t vsp_nhooks = sizeof vsp_hooks / sizeof vsp_hooks[0];

const struct vsp_hook *vsp_hook_by_name(enum vsp_event_kind kind,
					const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < vsp_nhooks; i++)
		if (vsp_hooks[i].kind == kind &&
		    strcmp(vsp_hooks[i].name, name) == 0)
			return &vsp_hooks[i];
	return NULL;
}

const char *vsp_suggest_hook(enum vsp_event_kind kind, const char *name)
{
	const char *names[64];
	size_t n = 0;

	for (size_t i = 0; i < vsp_nhooks && n < 64; i++)
		if (vsp_hooks[i].kind == kind)
			names[n++] = vsp_hooks[i].name;
	return vsp_suggest(name, names, n);
}

unsigned vsp_hook_field_group(enum vsp_field f)
{
	switch (f) {
	case VSP_F_FILE_INO: case VSP_F_FILE_DEV: case VSP_F_FILE_NLINK:
	case VSP_F_FILE_MODE: case VSP_F_FILE_UID: case VSP_F_FILE_GID:
	case VSP_F_FILE_PATH: case VSP_F_FILE_FSPATH: case VSP_F_FILE_NAME:
	case VSP_F_FILE_TYPE: case VSP_F_FILE_FS:
		return VSP_HF_FILE;
	case VSP_F_OPEN_FLAGS:
		return VSP_HF_OPEN;
	case VSP_F_MMAP_PROT: case VSP_F_MMAP_FLAGS:
		return VSP_HF_MMAP;
	case VSP_F_EXEC_ARGV: case VSP_F_EXEC_INTERP:
		return VSP_HF_EXEC;
	case VSP_F_TARGET_PATH:
		return VSP_HF_TPATH;
	case VSP_F_SOCK_FAMILY: case VSP_F_SOCK_TYPE: case VSP_F_SOCK_ADDR:
	case VSP_F_SOCK_PORT:
		return VSP_HF_SOCK;
	case VSP_F_TARGET_PID: case VSP_F_TARGET_COMM: case VSP_F_TARGET_EXE:
		return VSP_HF_TTASK;
	case VSP_F_NEW_UID: case VSP_F_NEW_EUID:
		return VSP_HF_NEW;
	case VSP_F_FLAGS:
		return VSP_HF_FLAGS;
	case VSP_F_MODULE_NAME:
		return VSP_HF_MODULE;
	case VSP_F_BPF_CMD:
		return VSP_HF_BPF;
	default:
		return 0;
	}
}
