/*
 * site_hook.c: resolved fields of hook events, from the hooks' arguments
 * (see site_hook.h).
 *
 * Which argument register holds which object is the catalog's
 * `enum vsp_hook_args`; this file turns it into the event's objects once
 * per event (no reads: pointers only, except where an argument is a struct
 * path that must be read), and each field then costs the reads of its own
 * object.  Strings are kept per event in the site's buffers, which the
 * engine's strings point into until the next event.
 */
#include "vmi/site_hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SH_PROT_EXEC 4
#define SH_READING_MODULE 2	/* enum kernel_read_file_id */
#define SH_LOADING_MODULE 2	/* enum kernel_load_data_id */
#define SH_PT_SI 0x68		/* struct pt_regs: si (setns's nstype) */
#define SH_MS_REMOUNT 0x20
#define SH_MS_BIND 0x1000

int vsp_hook_site_init(struct vsp_hook_site *s, const struct vsp_lxfs *fs,
		       const struct vsp_linux *lx, const struct vsp_symtab *syms,
		       vsp_gread_fn read, void *ctx)
{
	memset(s, 0, sizeof *s);
	s->fs = fs;
	s->lx = lx;
	s->read = read;
	s->ctx = ctx;
	s->syms = syms;
	s->cache_on = vsp_lxfs_locks((struct vsp_lxfs *)fs, syms);
	/* VSP_PATH_CACHE=0: every path walked, to measure what a first
	 * open costs (tests/guest/measure.sh). */
	const char *env = getenv("VSP_PATH_CACHE");
	if (env && strcmp(env, "0") == 0)
		s->cache_on = false;
	if (s->cache_on) {
		s->cache = calloc(VSP_HOOK_CACHE, sizeof *s->cache);
		if (!s->cache)
			return -1;
	}
	return 0;
}

void vsp_hook_site_release(struct vsp_hook_site *s)
{
	free(s->cache);
	s->cache = NULL;
}

void vsp_hook_site_begin(struct vsp_hook_site *s, const struct vsp_hook *hook,
			 unsigned at, const uint64_t a[6], uint64_t task)
{
	s->hook = hook;
	s->args = hook && at < VSP_HOOK_FUNCS ? hook->at[at].args : VSP_HA_FILE;
	memcpy(s->a, a, sizeof s->a);
	s->task = task;
	s->objs_done = s->have_file = s->have_target_dir = s->have_root = false;
	s->target_dentry = s->target_task = s->sock = s->bind_target = 0;
	s->inode_done = s->sock_done = false;
	for (size_t i = 0; i < sizeof s->s / sizeof s->s[0]; i++)
		s->s[i].state = 0;
	if (hook)
		s->st.events++;
}

/* Remembers a bind mount's mount point until its source is resolved. */
static void sh_bind_begin(struct vsp_hook_site *s, uint64_t sp)
{
	unsigned i = s->bind_next++ % VSP_HOOK_BINDS;

	s->bind[i].sp = sp;
	s->bind[i].path = s->a[1];
}

/*
 * __do_loopback: a bind mount when called from path_mount (or, in
 * kernels that keep it apart, do_loopback or do_mount); its mount point
 * is the one security_sb_mount saw just above on the same kernel stack.
 * Called from open_tree it only clones the tree, for move_mount.
 */
static bool sh_bind_end(struct vsp_hook_site *s, uint64_t sp)
{
	static const char *const callers[] = { "path_mount", "do_loopback",
					       "do_mount" };
	uint64_t ret, best = UINT64_MAX;
	const char *fn;

	if (!s->syms || vsp_gread_all(s->read, s->ctx, sp, &ret, 8) < 0)
		return true;	/* decided, on what can be read */
	fn = vsp_sym_at(s->syms, ret, NULL);
	bool bind = false;
	for (size_t i = 0; fn && i < sizeof callers / sizeof callers[0]; i++)
		bind |= strcmp(fn, callers[i]) == 0;
	if (!bind)
		return false;
	/* The nearest stop at or above this one on its stack: the same
	 * frame when do_loopback is inlined into path_mount, as in 6.1. */
	for (unsigned i = 0; i < VSP_HOOK_BINDS; i++) {
		uint64_t d = s->bind[i].sp - sp;

		if (s->bind[i].sp >= sp && d < 8192 && d < best) {
			best = d;
			s->bind_target = s->bind[i].path;
		}
	}
	for (unsigned i = 0; i < VSP_HOOK_BINDS; i++)
		if (s->bind[i].path == s->bind_target)
			s->bind[i].sp = 0;
	return true;
}

bool vsp_hook_site_wanted(struct vsp_hook_site *s, uint64_t sp)
{
	if (!s->hook)
		return true;
	switch (s->args) {
	case VSP_HA_MMAP:
		return s->a[0] && (s->a[1] & SH_PROT_EXEC);
	case VSP_HA_READ_FILE:
		return (uint32_t)s->a[1] == SH_READING_MODULE;
	case VSP_HA_LOAD_DATA:
		return (uint32_t)s->a[0] == SH_LOADING_MODULE;
	case VSP_HA_MOUNT:
		if ((s->a[3] & SH_MS_BIND) && !(s->a[3] & SH_MS_REMOUNT)) {
			sh_bind_begin(s, sp);
			return false;
		}
		return true;
	case VSP_HA_LOOPBACK:
		return sh_bind_end(s, sp);
	default:
		return true;
	}
}

/* A struct file's path. */
static bool sh_file_path(struct vsp_hook_site *s, uint64_t file,
			 struct vsp_lxpath *out)
{
	return file && vsp_lxfs_read_path(s->fs, s->read, s->ctx,
					  file + s->fs->file_path, out) == 0;
}

/* The event's objects, from the argument registers. */
static void sh_objects(struct vsp_hook_site *s)
{
	struct vsp_lxpath dir;
	uint64_t v;

	if (s->objs_done)
		return;
	s->objs_done = true;
	switch (s->args) {
	case VSP_HA_FILE:
	case VSP_HA_MMAP:
	case VSP_HA_READ_FILE:
		s->have_file = sh_file_path(s, s->a[0], &s->file);
		break;
	case VSP_HA_BPRM:
		if (vsp_gread_all(s->read, s->ctx, s->a[0] + s->fs->bprm_file,
				  &v, 8) == 0)
			s->have_file = sh_file_path(s, v, &s->file);
		break;
	case VSP_HA_PATH:
		s->have_file = vsp_lxfs_read_path(s->fs, s->read, s->ctx, s->a[0],
						  &s->file) == 0;
		break;
	case VSP_HA_DIR_DENTRY:
		if (vsp_lxfs_read_path(s->fs, s->read, s->ctx, s->a[0], &dir) == 0) {
			s->file = (struct vsp_lxpath){ dir.mnt, s->a[1] };
			s->have_file = true;
		}
		break;
	case VSP_HA_LINK:
		if (vsp_lxfs_read_path(s->fs, s->read, s->ctx, s->a[1],
				       &s->target_dir) == 0) {
			s->have_target_dir = true;
			s->target_dentry = s->a[2];
			/* A hard link stays within its mount. */
			s->file = (struct vsp_lxpath){ s->target_dir.mnt, s->a[0] };
			s->have_file = true;
		}
		break;
	case VSP_HA_RENAME:
		if (vsp_lxfs_read_path(s->fs, s->read, s->ctx, s->a[0], &dir) == 0) {
			s->file = (struct vsp_lxpath){ dir.mnt, s->a[1] };
			s->have_file = true;
		}
		if (vsp_lxfs_read_path(s->fs, s->read, s->ctx, s->a[2],
				       &s->target_dir) == 0) {
			s->have_target_dir = true;
			s->target_dentry = s->a[3];
		}
		break;
	case VSP_HA_SYMLINK:
		if (vsp_lxfs_read_path(s->fs, s->read, s->ctx, s->a[0],
				       &s->target_dir) == 0) {
			s->have_target_dir = true;
			s->target_dentry = s->a[1];
		}
		break;
	case VSP_HA_MOUNT:
		/* The mount point is the target; the source is a string (a
		 * device, a filesystem's name: no bind, which is decided at
		 * __do_loopback). */
		if (vsp_lxfs_read_path(s->fs, s->read, s->ctx, s->a[1],
				       &s->target_dir) == 0)
			s->have_target_dir = true;
		break;
	case VSP_HA_LOOPBACK:
		/* The source as the kernel resolved it; the mount point kept
		 * from security_sb_mount. */
		s->have_file = vsp_lxfs_read_path(s->fs, s->read, s->ctx,
						  s->a[0], &s->file) == 0;
		s->have_target_dir = s->bind_target &&
			vsp_lxfs_read_path(s->fs, s->read, s->ctx,
					   s->bind_target, &s->target_dir) == 0;
		break;
	case VSP_HA_MOVE_MOUNT:
		s->have_file = vsp_lxfs_read_path(s->fs, s->read, s->ctx,
						  s->a[0], &s->file) == 0;
		s->have_target_dir = vsp_lxfs_read_path(s->fs, s->read, s->ctx,
							s->a[1],
							&s->target_dir) == 0;
		break;
	case VSP_HA_SOCKADDR:
	case VSP_HA_SOCK:
	case VSP_HA_SENDMSG:
		s->sock = s->a[0];
		break;
	case VSP_HA_TASK:
		s->target_task = s->a[0];
		break;
	default:
		break;
	}
}

static bool sh_root(struct vsp_hook_site *s)
{
	if (s->have_root)
		return true;
	s->have_root = s->task &&
		vsp_lxfs_task_fs(s->fs, s->read, s->ctx, s->task, &s->root,
				 NULL) == 0;
	return s->have_root;
}

static struct vsp_hook_str *sh_str(struct vsp_hook_site *s, enum vsp_field f)
{
	return &s->s[f - VSP_F_RES_FIRST];
}

/* d_path with the cache in front. */
static int sh_d_path(struct vsp_hook_site *s, const struct vsp_lxpath *p,
		     struct vsp_hook_str *out, bool cache)
{
	struct vsp_hook_cache_ent *e = NULL;
	uint64_t seq = 0, parent = 0;
	uint32_t len;

	if (!sh_root(s))
		return -1;
	if (cache && s->cache) {
		uint64_t h = (p->dentry >> 6) ^ (p->mnt >> 5) ^ (s->root.dentry >> 7);

		e = &s->cache[h % VSP_HOOK_CACHE];
		/* The leaf as it is now: a dentry freed and reused for another
		 * name has another parent or name; a moved one, another
		 * rename count. */
		if (vsp_gread_all(s->read, s->ctx, p->dentry + s->fs->d_parent,
				  &parent, 8) < 0 ||
		    vsp_lxfs_seq(s->fs, s->read, s->ctx, &seq) < 0) {
			e = NULL;
		} else if (e->dentry == p->dentry && e->mnt == p->mnt &&
			   e->rdentry == s->root.dentry && e->rmnt == s->root.mnt) {
			if (e->parent == parent && e->seq == seq) {
				memcpy(out->buf, e->path, e->len + 1);
				out->len = e->len;
				s->st.cache_hits++;
				return 0;
			}
			s->st.cache_stale++;
		}
	}
	s->st.path_walks++;
	if (vsp_lxfs_d_path(s->fs, s->read, s->ctx, p, &s->root, out->buf,
			    sizeof out->buf, &len) < 0)
		return -1;
	out->len = len;
	if (e) {
		e->dentry = p->dentry;
		e->mnt = p->mnt;
		e->rdentry = s->root.dentry;
		e->rmnt = s->root.mnt;
		e->parent = parent;
		e->seq = seq;
		e->len = len;
		memcpy(e->path, out->buf, len + 1);
	}
	return 0;
}

/* A NUL-terminated kernel string of at most VSP_HOOK_STR_MAX bytes. */
static int sh_kstr(struct vsp_hook_site *s, uint64_t p, struct vsp_hook_str *out)
{
	size_t got = 0;

	if (p < 0xff00000000000000ULL)
		return -1;
	while (got < VSP_HOOK_STR_MAX) {
		size_t to_page = 4096 - (size_t)((p + got) & 4095);
		size_t want = VSP_HOOK_STR_MAX - got;
		long r;

		if (want > to_page)
			want = to_page;
		if (want > 256 && got == 0)
			want = 256;
		r = s->read(s->ctx, p + got, out->buf + got, want);
		if (r <= 0)
			return -1;
		char *nul = memchr(out->buf + got, 0, (size_t)r);
		if (nul) {
			out->len = (uint32_t)(nul - out->buf);
			return 0;
		}
		got += (size_t)r;
	}
	return -1;
}

/* "dir" + "/" + the dentry's name. */
static int sh_new_name(struct vsp_hook_site *s, struct vsp_hook_str *out)
{
	char name[VSP_LXFS_NAME_MAX + 1];
	uint32_t nl;

	if (!s->have_target_dir || sh_d_path(s, &s->target_dir, out, false) < 0)
		return -1;
	if (!s->target_dentry)
		return 0;	/* a mount point: the directory itself */
	if (vsp_lxfs_dname(s->fs, s->read, s->ctx, s->target_dentry, name,
			   sizeof name, &nl) < 0)
		return -1;
	if (out->len == 1)
		out->len = 0;	/* "/" + name, not "//name" */
	if (out->len + 1 + nl > VSP_HOOK_STR_MAX)
		return -1;
	out->buf[out->len] = '/';
	memcpy(out->buf + out->len + 1, name, nl + 1);
	out->len += 1 + nl;
	return 0;
}

static int sh_task_exe(struct vsp_hook_site *s, uint64_t task,
		       struct vsp_hook_str *out)
{
	struct vsp_lxpath exe;

	if (!task || vsp_lxfs_task_exe(s->fs, s->read, s->ctx, task, &exe) < 0)
		return -1;
	return sh_d_path(s, &exe, out, true);
}

static int sh_comm(struct vsp_hook_site *s, uint64_t task,
		   struct vsp_hook_str *out)
{
	char c[16];

	if (!task || vsp_gread_all(s->read, s->ctx, task + s->lx->task_comm,
				   c, sizeof c) < 0)
		return -1;
	out->len = (uint32_t)strnlen(c, sizeof c);
	memcpy(out->buf, c, out->len);
	out->buf[out->len] = '\0';
	return 0;
}

static uint64_t sh_parent(struct vsp_hook_site *s)
{
	uint64_t p;

	if (!s->task || vsp_gread_all(s->read, s->ctx,
				      s->task + s->lx->task_real_parent, &p, 8) < 0 ||
	    p < 0xff00000000000000ULL)
		return 0;
	return p;
}

static bool sh_inode(struct vsp_hook_site *s)
{
	if (!s->inode_done) {
		s->inode_done = true;
		sh_objects(s);
		s->inode_ok = s->have_file &&
			vsp_lxfs_inode(s->fs, s->read, s->ctx, s->file.dentry,
				       &s->inode) == 0;
	}
	return s->inode_ok;
}

static bool sh_sock(struct vsp_hook_site *s)
{
	if (s->sock_done)
		return s->sock_ok;
	s->sock_done = true;
	sh_objects(s);
	if (!s->sock)
		return s->sock_ok = false;
	switch (s->args) {
	case VSP_HA_SOCKADDR:
		/* The address the kernel copied, and the socket's type. */
		s->sock_ok = vsp_lxfs_socket(s->fs, s->read, s->ctx, s->sock,
					     false, &s->sk) == 0 &&
			vsp_lxfs_sockaddr(s->read, s->ctx, s->a[1],
					  (int64_t)(int32_t)s->a[2], &s->sk) == 0;
		break;
	case VSP_HA_SENDMSG: {
		uint64_t name = 0;
		int32_t nlen = 0;

		s->sock_ok = vsp_lxfs_socket(s->fs, s->read, s->ctx, s->sock,
					     true, &s->sk) == 0;
		if (s->sock_ok &&
		    vsp_gread_all(s->read, s->ctx, s->a[1] + s->fs->msg_name,
				  &name, 8) == 0 && name &&
		    vsp_gread_all(s->read, s->ctx, s->a[1] + s->fs->msg_namelen,
				  &nlen, 4) == 0)
			s->sock_ok = vsp_lxfs_sockaddr(s->read, s->ctx, name, nlen,
						       &s->sk) == 0;
		break;
	}
	default:
		s->sock_ok = vsp_lxfs_socket(s->fs, s->read, s->ctx, s->sock,
					     false, &s->sk) == 0;
		break;
	}
	return s->sock_ok;
}

static void sh_set(struct vsp_hook_str *o, const char *v)
{
	size_t n = strlen(v);

	if (n > VSP_HOOK_STR_MAX)
		n = VSP_HOOK_STR_MAX;
	memcpy(o->buf, v, n);
	o->buf[n] = '\0';
	o->len = (uint32_t)n;
}

/* Reads string field f into its buffer: 0 or -1. */
static int sh_string(struct vsp_hook_site *s, enum vsp_field f,
		     struct vsp_hook_str *o)
{
	struct vsp_lxpath p;
	uint64_t v, t;
	uint32_t len;

	switch (f) {
	case VSP_F_FILE_PATH:
		sh_objects(s);
		if (s->args == VSP_HA_SYMLINK)
			/* the link's text: nothing the kernel resolved */
			return sh_kstr(s, s->a[2], o);
		if (s->args == VSP_HA_MOUNT)
			return sh_kstr(s, s->a[0], o);
		return s->have_file ? sh_d_path(s, &s->file, o, true) : -1;
	case VSP_F_FILE_FSPATH:
		sh_objects(s);
		if (!s->have_file ||
		    vsp_lxfs_fspath(s->fs, s->read, s->ctx, s->file.dentry, o->buf,
				    sizeof o->buf, &len) < 0)
			return -1;
		o->len = len;
		return 0;
	case VSP_F_FILE_NAME:
		sh_objects(s);
		if (!s->have_file ||
		    vsp_lxfs_dname(s->fs, s->read, s->ctx, s->file.dentry, o->buf,
				   sizeof o->buf, &len) < 0)
			return -1;
		o->len = len;
		return 0;
	case VSP_F_FILE_TYPE:
		if (!sh_inode(s))
			return -1;
		sh_set(o, vsp_lxfs_type_name(s->inode.mode));
		return 0;
	case VSP_F_FILE_FS:
		if (!sh_inode(s))
			return -1;
		sh_set(o, s->inode.fs);
		return 0;
	case VSP_F_EXEC_INTERP:
		if (s->args != VSP_HA_BPRM ||
		    vsp_gread_all(s->read, s->ctx, s->a[0] + s->fs->bprm_interp,
				  &v, 8) < 0)
			return -1;
		return sh_kstr(s, v, o);
	case VSP_F_TARGET_PATH:
		sh_objects(s);
		return sh_new_name(s, o);
	case VSP_F_TARGET_COMM:
		sh_objects(s);
		return sh_comm(s, s->target_task, o);
	case VSP_F_TARGET_EXE:
		sh_objects(s);
		return sh_task_exe(s, s->target_task, o);
	case VSP_F_SOCK_FAMILY:
		if (!sh_sock(s))
			return -1;
		sh_set(o, s->sk.family);
		return 0;
	case VSP_F_SOCK_TYPE:
		if (!sh_sock(s))
			return -1;
		sh_set(o, s->sk.type);
		return 0;
	case VSP_F_SOCK_ADDR:
		if (!sh_sock(s))
			return -1;
		sh_set(o, s->sk.addr);
		return 0;
	case VSP_F_MODULE_NAME: {
		/* finit_module: the file's name without .ko and its
		 * compression suffix; init_module has no name yet. */
		char *dot;

		sh_objects(s);
		if (s->args != VSP_HA_READ_FILE || !s->have_file ||
		    vsp_lxfs_dname(s->fs, s->read, s->ctx, s->file.dentry, o->buf,
				   sizeof o->buf, &len) < 0)
			return -1;
		dot = strstr(o->buf, ".ko");
		if (dot)
			*dot = '\0';
		o->len = (uint32_t)strlen(o->buf);
		return 0;
	}
	case VSP_F_EXE:
		return sh_task_exe(s, s->task, o);
	case VSP_F_CWD:
		if (!s->task || !sh_root(s) ||
		    vsp_lxfs_task_fs(s->fs, s->read, s->ctx, s->task, NULL, &p) < 0)
			return -1;
		return sh_d_path(s, &p, o, true);
	case VSP_F_CMDLINE:
		if (!s->task ||
		    vsp_lxfs_task_cmdline(s->fs, s->read, s->ctx, s->task, o->buf,
					  sizeof o->buf, &len) < 0)
			return -1;
		o->len = len;
		return 0;
	case VSP_F_PARENT_COMM:
		return sh_comm(s, sh_parent(s), o);
	case VSP_F_PARENT_EXE:
		t = sh_parent(s);
		return sh_task_exe(s, t, o);
	case VSP_F_CGROUP:
		if (!s->task ||
		    vsp_lxfs_task_cgroup(s->fs, s->read, s->ctx, s->task, o->buf,
					 sizeof o->buf, &len) < 0)
			return -1;
		o->len = len;
		return 0;
	case VSP_F_EXEC_ARGV:
		if (s->args != VSP_HA_BPRM ||
		    vsp_lxfs_bprm_argv(s->fs, s->read, s->ctx, s->a[0], o->buf,
				       sizeof o->buf, &len) < 0)
			return -1;
		o->len = len;
		return 0;
	default:
		return -1;
	}
}

/* Reads integer field f: 0 or -1. */
static int sh_int(struct vsp_hook_site *s, enum vsp_field f, int64_t *v)
{
	uint64_t p;
	int32_t i32;
	uint32_t u32;
	int64_t a, b;

	switch (f) {
	case VSP_F_FILE_INO: case VSP_F_FILE_DEV: case VSP_F_FILE_NLINK:
	case VSP_F_FILE_MODE: case VSP_F_FILE_UID: case VSP_F_FILE_GID:
		if (!sh_inode(s))
			return -1;
		*v = f == VSP_F_FILE_INO ? s->inode.ino :
		     f == VSP_F_FILE_DEV ? s->inode.dev :
		     f == VSP_F_FILE_NLINK ? s->inode.nlink :
		     f == VSP_F_FILE_MODE ? s->inode.mode :
		     f == VSP_F_FILE_UID ? s->inode.uid : s->inode.gid;
		return 0;
	case VSP_F_OPEN_FLAGS:
		if (s->args != VSP_HA_FILE ||
		    vsp_gread_all(s->read, s->ctx, s->a[0] + s->fs->file_flags,
				  &u32, 4) < 0)
			return -1;
		*v = u32;
		return 0;
	case VSP_F_MMAP_PROT:
		*v = (int64_t)s->a[1];
		return s->args == VSP_HA_MMAP ? 0 : -1;
	case VSP_F_MMAP_FLAGS:
		*v = (int64_t)s->a[2];
		return s->args == VSP_HA_MMAP ? 0 : -1;
	case VSP_F_SOCK_PORT:
		if (!sh_sock(s) || s->sk.port < 0)
			return -1;
		*v = s->sk.port;
		return 0;
	case VSP_F_TARGET_PID:
		sh_objects(s);
		if (!s->target_task ||
		    vsp_gread_all(s->read, s->ctx, s->target_task + s->lx->task_tgid,
				  &i32, 4) < 0)
			return -1;
		*v = i32;
		return 0;
	case VSP_F_NEW_UID: case VSP_F_NEW_EUID:
		if (s->args != VSP_HA_SETUID ||
		    vsp_gread_all(s->read, s->ctx, s->a[0] +
				  (f == VSP_F_NEW_UID ? s->fs->cred_uid :
				   s->fs->cred_euid), &u32, 4) < 0)
			return -1;
		*v = u32;
		return 0;
	case VSP_F_FLAGS:
		if (s->args == VSP_HA_FLAGS) {
			*v = (int64_t)s->a[0];
			return 0;
		}
		if (s->args == VSP_HA_SETNS &&
		    vsp_gread_all(s->read, s->ctx, s->a[0] + SH_PT_SI, &p, 8) == 0) {
			*v = (int32_t)(uint32_t)p;
			return 0;
		}
		return -1;
	case VSP_F_BPF_CMD:
		*v = (int32_t)(uint32_t)s->a[0];
		return s->args == VSP_HA_BPF ? 0 : -1;
	case VSP_F_PARENT_PID:
		p = sh_parent(s);
		if (!p || vsp_gread_all(s->read, s->ctx, p + s->lx->task_tgid,
					&i32, 4) < 0)
			return -1;
		*v = i32;
		return 0;
	case VSP_F_LOGINUID: case VSP_F_SESSIONID:
		if (!s->task || vsp_lxfs_task_audit(s->fs, s->read, s->ctx, s->task,
						    &a, &b) < 0)
			return -1;
		*v = f == VSP_F_LOGINUID ? a : b;
		return 0;
	default:
		return -1;
	}
}

int vsp_hook_site_fetch(struct vsp_hook_site *s, struct vsp_event *ev,
			enum vsp_field f, struct vsp_str *out)
{
	struct vsp_hook_str *o;
	int64_t v = -1;

	if (f < VSP_F_RES_FIRST || f >= VSP_F_COUNT)
		return -1;
	/* Hook fields exist only on hook events (the checker sees to it);
	 * the resolved process on every event. */
	if (!s->hook && vsp_hook_field_group(f))
		return -1;
	if (vsp_field_is_rint(f)) {
		int rc = sh_int(s, f, &v);

		ev->rint[f - VSP_F_RINT_FIRST] = rc == 0 ? v : -1;
		*out = (struct vsp_str){ "", 0 };
		return rc;
	}
	o = sh_str(s, f);
	if (o->state == 0) {
		o->len = 0;
		o->state = sh_string(s, f, o) == 0 ? 1 : 2;
		if (o->state == 2)
			o->len = 0;
		o->buf[o->len] = '\0';
	}
	out->ptr = o->buf;
	out->len = o->len;
	return o->state == 1 ? 0 : -1;
}
