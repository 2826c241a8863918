/*
 * linux_fs.c: paths, inodes, process and socket identity from a Linux
 * guest's kernel objects (see linux_fs.h).
 *
 * The path walk is the kernel's prepend_path, read from outside: at a
 * mount's root the walk continues at the mount point in the parent mount;
 * elsewhere at d_parent; it stops at the process's root, or at a dentry
 * that is its own parent in a mount that is its own parent (the global
 * root).  Each dentry costs one read: its parent pointer, its name's
 * length and pointer and the inline name buffer lie within a hundred
 * bytes, and most names are short enough to sit inline.  Names are
 * written from the end of the buffer backwards, then moved to its start.
 */
#include "vmi/linux_fs.h"

#include <arpa/inet.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmi/linux.h"

#define FS_KERNEL_HALF 0xff00000000000000ULL
#define FS_DSPAN_MAX 192	/* bytes of a dentry read at once */

static bool fs_kptr(uint64_t p)
{
	return p >= FS_KERNEL_HALF;
}

static int fs_ptr(vsp_gread_fn read, void *ctx, uint64_t gva, uint64_t *out)
{
	uint64_t v;

	if (!fs_kptr(gva) || vsp_gread_all(read, ctx, gva, &v, 8) < 0 ||
	    !fs_kptr(v))
		return -1;
	*out = v;
	return 0;
}

static int fs_u32(vsp_gread_fn read, void *ctx, uint64_t gva, uint32_t *out)
{
	if (!fs_kptr(gva))
		return -1;
	return vsp_gread_all(read, ctx, gva, out, 4);
}

/* The offsets from parsed BTF (freed here). */
static int fs_init_btf(struct vsp_lxfs *fs, struct btf *btf, char *err,
		       size_t errlen)
{
	int rc = -1;
	uint32_t qlen = 4, qname = 8;

#define OFF(s, m, dst) \
	if (vsp_linux_btf_offset(btf, s, m, &fs->dst, err, errlen)) goto out
	OFF("file", "f_path", file_path);
	OFF("file", "f_inode", file_inode);
	OFF("file", "f_flags", file_flags);
	OFF("path", "mnt", path_mnt);
	OFF("path", "dentry", path_dentry);
	OFF("dentry", "d_parent", d_parent);
	OFF("dentry", "d_name", d_name);
	OFF("dentry", "d_inode", d_inode);
	OFF("dentry", "d_iname", d_iname);
	OFF("dentry", "d_sb", d_sb);
	OFF("mount", "mnt_parent", mnt_parent);
	OFF("mount", "mnt_mountpoint", mnt_mountpoint);
	OFF("mount", "mnt", mnt_mnt);
	OFF("vfsmount", "mnt_root", mnt_root);
	OFF("inode", "i_mode", i_mode);
	OFF("inode", "i_uid", i_uid);
	OFF("inode", "i_gid", i_gid);
	OFF("inode", "i_ino", i_ino);
	OFF("inode", "i_nlink", i_nlink);
	OFF("inode", "i_sb", i_sb);
	OFF("super_block", "s_dev", sb_dev);
	OFF("super_block", "s_type", sb_type);
	OFF("file_system_type", "name", fst_name);
	OFF("task_struct", "fs", task_fs);
	OFF("task_struct", "mm", task_mm);
	OFF("task_struct", "real_parent", task_real_parent);
	OFF("task_struct", "comm", task_comm);
	OFF("fs_struct", "root", fs_root);
	OFF("fs_struct", "pwd", fs_pwd);
	OFF("mm_struct", "exe_file", mm_exe_file);
	OFF("mm_struct", "arg_start", mm_arg_start);
	OFF("mm_struct", "arg_end", mm_arg_end);
	OFF("linux_binprm", "file", bprm_file);
	OFF("linux_binprm", "interp", bprm_interp);
	OFF("linux_binprm", "mm", bprm_mm);
	OFF("linux_binprm", "p", bprm_p);
	OFF("linux_binprm", "argc", bprm_argc);
	OFF("mm_struct", "pgd", mm_pgd);
	OFF("socket", "type", sock_type);
	OFF("socket", "sk", sock_sk);
	OFF("sock_common", "skc_family", skc_family);
	OFF("sock_common", "skc_daddr", skc_daddr);
	OFF("sock_common", "skc_rcv_saddr", skc_rcv_saddr);
	OFF("sock_common", "skc_dport", skc_dport);
	OFF("sock_common", "skc_num", skc_num);
	OFF("msghdr", "msg_name", msg_name);
	OFF("msghdr", "msg_namelen", msg_namelen);
	OFF("cred", "uid", cred_uid);
	OFF("cred", "euid", cred_euid);
#undef OFF
	/* IPv6 and audit and cgroups are configuration options. */
	if (vsp_linux_btf_offset(btf, "sock_common", "skc_v6_daddr",
				 &fs->skc_v6_daddr, NULL, 0) ||
	    vsp_linux_btf_offset(btf, "sock_common", "skc_v6_rcv_saddr",
				 &fs->skc_v6_rcv_saddr, NULL, 0))
		fs->skc_v6_daddr = fs->skc_v6_rcv_saddr = 0;
	fs->have_audit =
		!vsp_linux_btf_offset(btf, "task_struct", "loginuid",
				      &fs->task_loginuid, NULL, 0) &&
		!vsp_linux_btf_offset(btf, "task_struct", "sessionid",
				      &fs->task_sessionid, NULL, 0);
	fs->have_cgroup =
		!vsp_linux_btf_offset(btf, "task_struct", "cgroups",
				      &fs->task_cgroups, NULL, 0) &&
		!vsp_linux_btf_offset(btf, "css_set", "dfl_cgrp",
				      &fs->css_dfl_cgrp, NULL, 0) &&
		!vsp_linux_btf_offset(btf, "cgroup", "kn", &fs->cgrp_kn, NULL, 0) &&
		!vsp_linux_btf_offset(btf, "kernfs_node", "parent",
				      &fs->kn_parent, NULL, 0) &&
		!vsp_linux_btf_offset(btf, "kernfs_node", "name", &fs->kn_name,
				      NULL, 0);
	/* struct qstr { union { struct { u32 hash, len; }; u64 hash_len; };
	 * const unsigned char *name; } */
	if (vsp_linux_btf_offset(btf, "qstr", "len", &qlen, err, errlen) ||
	    vsp_linux_btf_offset(btf, "qstr", "name", &qname, err, errlen))
		goto out;
	/* One read of a dentry: parent, name length and pointer, inline name. */
	{
		uint32_t lo = fs->d_parent, hi = fs->d_iname + 32;

		if (fs->d_name < lo)
			lo = fs->d_name;
		if (fs->d_inode < lo)
			lo = fs->d_inode;
		if (fs->d_name + 16 > hi)
			hi = fs->d_name + 16;
		if (fs->d_inode + 8 > hi)
			hi = fs->d_inode + 8;
		if (qlen != 4 || qname != 8 || hi - lo > FS_DSPAN_MAX) {
			snprintf(err, errlen, "BTF: struct dentry is laid out "
				 "as no kernel this reader knows");
			goto out;
		}
		fs->d_span_lo = lo;
		fs->d_span_len = hi - lo;
	}
	rc = 0;
out:
	btf__free(btf);
	return rc;
}

int vsp_lxfs_init(struct vsp_lxfs *fs, const char *btf_path, char *err,
		  size_t errlen)
{
	struct btf *btf;

	memset(fs, 0, sizeof *fs);
	btf = btf__parse(btf_path, NULL);
	if (!btf) {
		snprintf(err, errlen, "%s: no usable BTF (%s)", btf_path,
			 strerror(errno));
		return -1;
	}
	return fs_init_btf(fs, btf, err, errlen);
}

int vsp_lxfs_init_mem(struct vsp_lxfs *fs, const void *data, size_t size,
		      const char *name, char *err, size_t errlen)
{
	struct btf *btf;

	memset(fs, 0, sizeof *fs);
	if (size > UINT32_MAX) {
		snprintf(err, errlen, "%s: BTF of %zu bytes is too large", name,
			 size);
		return -1;
	}
	btf = btf__new(data, (uint32_t)size);
	if (!btf) {
		snprintf(err, errlen, "%s: no usable BTF (%s)", name,
			 strerror(errno));
		return -1;
	}
	return fs_init_btf(fs, btf, err, errlen);
}

bool vsp_lxfs_locks(struct vsp_lxfs *fs, const struct vsp_symtab *syms)
{
	uint64_t r, m;

	fs->rename_lock = fs->mount_lock = 0;
	fs->page_offset_base = fs->pgtable_l5 = 0;
	if (syms && vsp_sym_addr(syms, "page_offset_base", &r) == 0)
		fs->page_offset_base = r;
	if (syms && vsp_sym_addr(syms, "__pgtable_l5_enabled", &r) == 0)
		fs->pgtable_l5 = r;
	if (!syms || vsp_sym_addr(syms, "rename_lock", &r) < 0 ||
	    vsp_sym_addr(syms, "mount_lock", &m) < 0)
		return false;
	fs->rename_lock = r;
	fs->mount_lock = m;
	return true;
}

int vsp_lxfs_seq(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		 uint64_t *seq)
{
	uint32_t r, m;

	if (!fs->rename_lock || !fs->mount_lock)
		return -1;
	/* Neighbours on this kernel (128 bytes apart): one read for both. */
	if (fs->mount_lock > fs->rename_lock &&
	    fs->mount_lock - fs->rename_lock <= 256 &&
	    (fs->rename_lock >> 12) == ((fs->mount_lock + 4) >> 12)) {
		uint8_t b[260];
		size_t n = (size_t)(fs->mount_lock - fs->rename_lock) + 4;

		if (vsp_gread_all(read, ctx, fs->rename_lock, b, n) < 0)
			return -1;
		memcpy(&r, b, 4);
		memcpy(&m, b + n - 4, 4);
	} else if (fs_u32(read, ctx, fs->rename_lock, &r) < 0 ||
		   fs_u32(read, ctx, fs->mount_lock, &m) < 0) {
		return -1;
	}
	/* An odd count: a writer is inside; nothing is stable now. */
	if ((r | m) & 1)
		return -1;
	*seq = (uint64_t)r << 32 | m;
	return 0;
}

int vsp_lxfs_read_path(const struct vsp_lxfs *fs, vsp_gread_fn read,
		       void *ctx, uint64_t gva, struct vsp_lxpath *out)
{
	uint64_t b[2];

	if (!fs_kptr(gva) || fs->path_mnt > 8 || fs->path_dentry > 8 ||
	    vsp_gread_all(read, ctx, gva, b, sizeof b) < 0)
		return -1;
	out->mnt = b[fs->path_mnt / 8];
	out->dentry = b[fs->path_dentry / 8];
	return fs_kptr(out->mnt) && fs_kptr(out->dentry) ? 0 : -1;
}

/* One dentry: its parent and its name (copied into name[], at most
 * VSP_LXFS_NAME_MAX bytes). */
struct fs_dent {
	uint64_t parent, inode;
	uint32_t len;
	char name[VSP_LXFS_NAME_MAX + 1];
};

static int fs_dentry(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		     uint64_t d, struct fs_dent *out)
{
	uint8_t b[FS_DSPAN_MAX];
	uint64_t nameptr;
	uint32_t len;

	if (!fs_kptr(d) ||
	    vsp_gread_all(read, ctx, d + fs->d_span_lo, b, fs->d_span_len) < 0)
		return -1;
	memcpy(&out->parent, b + (fs->d_parent - fs->d_span_lo), 8);
	memcpy(&out->inode, b + (fs->d_inode - fs->d_span_lo), 8);
	memcpy(&len, b + (fs->d_name + 4 - fs->d_span_lo), 4);
	memcpy(&nameptr, b + (fs->d_name + 8 - fs->d_span_lo), 8);
	if (!fs_kptr(out->parent) || len > VSP_LXFS_NAME_MAX)
		return -1;
	out->len = 0;
	out->name[0] = '\0';
	if (nameptr == d + fs->d_iname && len < 32) {
		memcpy(out->name, b + (fs->d_iname - fs->d_span_lo), len);
	} else if (!fs_kptr(nameptr) ||
		   vsp_gread_all(read, ctx, nameptr, out->name, len) < 0) {
		return -1;
	}
	out->name[len] = '\0';
	/* A name never holds '/' or NUL; one that does is not the kernel's.
	 * A filesystem's root is its own parent and is named "/". */
	if (strlen(out->name) != len ||
	    (out->parent != d && memchr(out->name, '/', len)))
		return -1;
	out->len = len;
	return 0;
}

/* The mount around a vfsmount: its parent, mount point and root dentry. */
struct fs_mnt {
	uint64_t parent_vfs, mountpoint, root;
	bool top;		/* its own parent: the namespace's root mount */
};

static int fs_mount(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		    uint64_t vfsmnt, struct fs_mnt *out)
{
	uint64_t mnt = vfsmnt - fs->mnt_mnt, parent;

	if (!fs_kptr(vfsmnt) ||
	    fs_ptr(read, ctx, mnt + fs->mnt_parent, &parent) < 0 ||
	    fs_ptr(read, ctx, mnt + fs->mnt_mountpoint, &out->mountpoint) < 0 ||
	    fs_ptr(read, ctx, vfsmnt + fs->mnt_root, &out->root) < 0)
		return -1;
	out->top = parent == mnt;
	out->parent_vfs = parent + fs->mnt_mnt;
	return 0;
}

/* Puts "/name" before buf[*at]; false when it does not fit. */
static bool fs_prepend(char *buf, size_t *at, const char *name, uint32_t len)
{
	if (*at < (size_t)len + 1)
		return false;
	*at -= len;
	memcpy(buf + *at, name, len);
	buf[--*at] = '/';
	return true;
}

static int fs_finish(char *buf, size_t size, size_t at, uint32_t *len)
{
	size_t n = size - 1 - at;

	if (n == 0) {
		buf[0] = '/';
		n = 1;
	} else {
		memmove(buf, buf + at, n);
	}
	buf[n] = '\0';
	*len = (uint32_t)n;
	return 0;
}

int vsp_lxfs_d_path(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		    const struct vsp_lxpath *p, const struct vsp_lxpath *root,
		    char *buf, size_t size, uint32_t *len)
{
	uint64_t d = p->dentry, vfs = p->mnt;
	struct fs_mnt mt;
	struct fs_dent de;
	size_t at;
	bool have_mt = false;

	*len = 0;
	if (size < 2)
		return -1;
	buf[0] = '\0';
	at = size - 1;
	buf[at] = '\0';
	for (int depth = 0; depth < VSP_LXFS_MAX_DEPTH; depth++) {
		if (d == root->dentry && vfs == root->mnt)
			return fs_finish(buf, size, at, len);
		if (!have_mt) {
			if (fs_mount(fs, read, ctx, vfs, &mt) < 0)
				return -1;
			have_mt = true;
		}
		if (d == mt.root) {
			/* The root of this mount: go on at its mount point,
			 * or stop at the root of the namespace. */
			if (mt.top)
				return fs_finish(buf, size, at, len);
			d = mt.mountpoint;
			vfs = mt.parent_vfs;
			have_mt = false;
			continue;
		}
		if (fs_dentry(fs, read, ctx, d, &de) < 0)
			return -1;
		if (de.parent == d) {
			/* A dentry of no directory (a memfd, a pipe, an
			 * anonymous inode): its name alone, as the kernel's
			 * d_dname gives it ("/memfd:NAME"). */
			if (at == size - 1 && de.len && de.name[0] != '/' &&
			    !fs_prepend(buf, &at, de.name, de.len))
				return -1;
			return fs_finish(buf, size, at, len);
		}
		if (!fs_prepend(buf, &at, de.name, de.len))
			return -1;
		d = de.parent;
	}
	return -1;	/* deeper than any real tree: a loop */
}

int vsp_lxfs_fspath(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		    uint64_t dentry, char *buf, size_t size, uint32_t *len)
{
	struct fs_dent de;
	uint64_t d = dentry;
	size_t at;

	*len = 0;
	if (size < 2)
		return -1;
	buf[0] = '\0';
	at = size - 1;
	buf[at] = '\0';
	for (int depth = 0; depth < VSP_LXFS_MAX_DEPTH; depth++) {
		if (fs_dentry(fs, read, ctx, d, &de) < 0)
			return -1;
		if (de.parent == d)
			return fs_finish(buf, size, at, len);
		if (!fs_prepend(buf, &at, de.name, de.len))
			return -1;
		d = de.parent;
	}
	return -1;
}

int vsp_lxfs_dname(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		   uint64_t dentry, char *buf, size_t size, uint32_t *len)
{
	struct fs_dent de;

	*len = 0;
	if (size == 0 || fs_dentry(fs, read, ctx, dentry, &de) < 0 ||
	    de.len >= size)
		return -1;
	/* The root's name is "/". */
	memcpy(buf, de.name, de.len + 1);
	*len = de.len;
	return 0;
}

/* The user-space encoding of a dev_t, as stat(2) returns it. */
static int64_t fs_dev(uint32_t kdev)
{
	uint32_t major = kdev >> 20, minor = kdev & 0xfffff;

	return (int64_t)((minor & 0xff) | (major << 8) |
			 ((uint64_t)(minor & ~0xffu) << 12));
}

int vsp_lxfs_inode(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		   uint64_t dentry, struct vsp_lxinode *out)
{
	uint64_t inode, sb, type, name, ino;
	uint32_t mode = 0, uid, gid, nlink, dev;
	uint16_t m16;

	out->ino = out->dev = out->nlink = out->mode = out->uid = out->gid = -1;
	out->fs[0] = '\0';
	if (fs_ptr(read, ctx, dentry + fs->d_inode, &inode) < 0 ||
	    vsp_gread_all(read, ctx, inode + fs->i_mode, &m16, 2) < 0 ||
	    fs_u32(read, ctx, inode + fs->i_uid, &uid) < 0 ||
	    fs_u32(read, ctx, inode + fs->i_gid, &gid) < 0 ||
	    vsp_gread_all(read, ctx, inode + fs->i_ino, &ino, 8) < 0 ||
	    fs_u32(read, ctx, inode + fs->i_nlink, &nlink) < 0 ||
	    fs_ptr(read, ctx, inode + fs->i_sb, &sb) < 0 ||
	    fs_u32(read, ctx, sb + fs->sb_dev, &dev) < 0)
		return -1;
	mode = m16;
	out->mode = mode;
	out->uid = uid;
	out->gid = gid;
	out->ino = (int64_t)ino;
	out->nlink = nlink;
	out->dev = fs_dev(dev);
	if (fs_ptr(read, ctx, sb + fs->sb_type, &type) < 0 ||
	    fs_ptr(read, ctx, type + fs->fst_name, &name) < 0)
		return -1;
	/* A short name, bounded by the buffer; cut at the first NUL. */
	long n = read(ctx, name, out->fs, sizeof out->fs - 1);
	if (n <= 0)
		return -1;
	out->fs[n] = '\0';
	out->fs[strnlen(out->fs, (size_t)n)] = '\0';
	return 0;
}

const char *vsp_lxfs_type_name(int64_t mode)
{
	if (mode < 0)
		return "";
	switch (mode & 0170000) {
	case 0100000: return "file";
	case 0040000: return "dir";
	case 0120000: return "symlink";
	case 0020000: return "char";
	case 0060000: return "block";
	case 0010000: return "fifo";
	case 0140000: return "socket";
	default: return "";
	}
}

int vsp_lxfs_task_fs(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		     uint64_t task, struct vsp_lxpath *root,
		     struct vsp_lxpath *pwd)
{
	uint64_t f;

	if (fs_ptr(read, ctx, task + fs->task_fs, &f) < 0)
		return -1;
	if (root && vsp_lxfs_read_path(fs, read, ctx, f + fs->fs_root, root) < 0)
		return -1;
	if (pwd && vsp_lxfs_read_path(fs, read, ctx, f + fs->fs_pwd, pwd) < 0)
		return -1;
	return 0;
}

int vsp_lxfs_task_exe(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		      uint64_t task, struct vsp_lxpath *exe)
{
	uint64_t mm, file;

	if (fs_ptr(read, ctx, task + fs->task_mm, &mm) < 0 ||
	    fs_ptr(read, ctx, mm + fs->mm_exe_file, &file) < 0)
		return -1;
	return vsp_lxfs_read_path(fs, read, ctx, file + fs->file_path, exe);
}

int vsp_lxfs_task_cmdline(const struct vsp_lxfs *fs, vsp_gread_fn read,
			  void *ctx, uint64_t task, char *buf, size_t size,
			  uint32_t *len)
{
	uint64_t mm, start, end;
	size_t n, got = 0;

	*len = 0;
	if (size == 0 || fs_ptr(read, ctx, task + fs->task_mm, &mm) < 0 ||
	    vsp_gread_all(read, ctx, mm + fs->mm_arg_start, &start, 8) < 0 ||
	    vsp_gread_all(read, ctx, mm + fs->mm_arg_end, &end, 8) < 0 ||
	    end < start || start >= FS_KERNEL_HALF || end >= FS_KERNEL_HALF)
		return -1;
	n = end - start;
	if (n > size - 1)
		n = size - 1;
	/* Page by page: a page not present ends what can be read. */
	while (got < n) {
		size_t to_page = 4096 - (size_t)((start + got) & 4095);
		size_t want = n - got < to_page ? n - got : to_page;
		long r = read(ctx, start + got, buf + got, want);

		if (r <= 0)
			break;
		got += (size_t)r;
		if ((size_t)r < want)
			break;
	}
	if (got == 0 && n)
		return -1;
	size_t nread = got;
	while (got && buf[got - 1] == '\0')
		got--;
	for (size_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[got] = '\0';
	*len = (uint32_t)got;
	/* Cut by a missing page or by the buffer: partial. */
	return nread < (size_t)(end - start) ? -1 : 0;
}

#define FS_PTE_PRESENT 1ULL
#define FS_PTE_HUGE (1ULL << 7)
#define FS_PTE_ADDR 0x000ffffffffff000ULL	/* bits 12-51 */
#define FS_ARGV_MAX 65536	/* bprm->argc beyond this is hostile */

int vsp_lxfs_mm_addr(vsp_gread_fn read, void *ctx, uint64_t pob, int levels,
		     uint64_t pgd, uint64_t va, uint64_t *kva)
{
	/* 9 bits of the address per level: PGD (bits 48-56 with 5 levels),
	 * P4D or PGD (39-47), PUD (30-38), PMD (21-29), PTE (12-20); a PUD
	 * or PMD entry with the huge bit maps 1 GB or 2 MB itself. */
	uint64_t table = pgd, e = 0;
	int shift = levels == 5 ? 48 : 39;

	if ((levels != 4 && levels != 5) || va >> (shift + 9) || !fs_kptr(pob))
		return -1;
	for (; shift >= 12; shift -= 9) {
		uint64_t at = table + ((va >> shift) & 511) * 8;

		if (!fs_kptr(at) || vsp_gread_all(read, ctx, at, &e, 8) < 0 ||
		    !(e & FS_PTE_PRESENT))
			return -1;
		if ((shift == 30 || shift == 21) && (e & FS_PTE_HUGE)) {
			uint64_t span = 1ULL << shift;

			*kva = pob + ((e & FS_PTE_ADDR & ~(span - 1)) |
				      (va & (span - 1)));
			return fs_kptr(*kva) ? 0 : -1;
		}
		table = pob + (e & FS_PTE_ADDR);
		if (!fs_kptr(table))
			return -1;
	}
	*kva = table + (va & 4095);
	return 0;
}

int vsp_lxfs_bprm_argv(const struct vsp_lxfs *fs, vsp_gread_fn read,
		       void *ctx, uint64_t bprm, char *buf, size_t size,
		       uint32_t *len)
{
	uint64_t mm, pgd, p, pob, kva;
	uint32_t l5 = 0;
	int32_t argc, seen = 0;
	size_t got = 0, cap;

	*len = 0;
	if (size == 0)
		return -1;
	buf[0] = '\0';
	if (!fs->page_offset_base ||
	    vsp_gread_all(read, ctx, fs->page_offset_base, &pob, 8) < 0 ||
	    (fs->pgtable_l5 && fs_u32(read, ctx, fs->pgtable_l5, &l5) < 0) ||
	    fs_ptr(read, ctx, bprm + fs->bprm_mm, &mm) < 0 ||
	    fs_ptr(read, ctx, mm + fs->mm_pgd, &pgd) < 0 ||
	    vsp_gread_all(read, ctx, bprm + fs->bprm_p, &p, 8) < 0 ||
	    vsp_gread_all(read, ctx, bprm + fs->bprm_argc, &argc, 4) < 0 ||
	    argc < 0 || argc > FS_ARGV_MAX)
		return -1;
	cap = size - 1;
	/* Page by page of the new stack, until argc strings have ended. */
	while (seen < argc && got < cap) {
		size_t to_page = 4096 - (size_t)((p + got) & 4095);
		size_t want = cap - got < to_page ? cap - got : to_page;

		if (vsp_lxfs_mm_addr(read, ctx, pob, l5 ? 5 : 4, pgd, p + got,
				     &kva) < 0 ||
		    vsp_gread_all(read, ctx, kva, buf + got, want) < 0)
			break;
		for (size_t i = got; i < got + want; i++)
			if (buf[i] == '\0' && ++seen == argc) {
				want = i + 1 - got;
				break;
			}
		got += want;
	}
	/* The strings are NUL-separated: spaces between, none after. */
	if (got && buf[got - 1] == '\0')
		got--;
	for (size_t i = 0; i < got; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[got] = '\0';
	*len = (uint32_t)got;
	return seen == argc ? 0 : -1;
}

int vsp_lxfs_task_cgroup(const struct vsp_lxfs *fs, vsp_gread_fn read,
			 void *ctx, uint64_t task, char *buf, size_t size,
			 uint32_t *len)
{
	uint64_t cset, cgrp, kn, parent, name;
	size_t at;

	*len = 0;
	if (!fs->have_cgroup || size < 2 ||
	    fs_ptr(read, ctx, task + fs->task_cgroups, &cset) < 0 ||
	    fs_ptr(read, ctx, cset + fs->css_dfl_cgrp, &cgrp) < 0 ||
	    fs_ptr(read, ctx, cgrp + fs->cgrp_kn, &kn) < 0)
		return -1;
	at = size - 1;
	buf[at] = '\0';
	for (int depth = 0; depth < VSP_LXFS_MAX_DEPTH; depth++) {
		char nm[VSP_LXFS_NAME_MAX + 1];
		uint64_t p;

		/* The root node has no parent: the path ends there. */
		if (vsp_gread_all(read, ctx, kn + fs->kn_parent, &p, 8) < 0)
			return -1;
		if (p == 0)
			return fs_finish(buf, size, at, len);
		parent = p;
		if (!fs_kptr(parent) ||
		    fs_ptr(read, ctx, kn + fs->kn_name, &name) < 0)
			return -1;
		long r = read(ctx, name, nm, sizeof nm - 1);
		if (r <= 0)
			return -1;
		nm[r] = '\0';
		size_t l = strnlen(nm, (size_t)r);
		if (l == (size_t)r && r == (long)sizeof nm - 1)
			return -1;	/* no NUL within NAME_MAX */
		if (!fs_prepend(buf, &at, nm, (uint32_t)l))
			return -1;
		kn = parent;
	}
	return -1;
}

int vsp_lxfs_task_audit(const struct vsp_lxfs *fs, vsp_gread_fn read,
			void *ctx, uint64_t task, int64_t *loginuid,
			int64_t *sessionid)
{
	uint32_t l, s;

	*loginuid = *sessionid = -1;
	if (!fs->have_audit || fs_u32(read, ctx, task + fs->task_loginuid, &l) < 0 ||
	    fs_u32(read, ctx, task + fs->task_sessionid, &s) < 0)
		return -1;
	*loginuid = l;
	*sessionid = s;
	return 0;
}

const char *vsp_lxfs_family_name(int64_t family)
{
	switch (family) {
	case 1: return "unix";
	case 2: return "inet";
	case 10: return "inet6";
	case 16: return "netlink";
	case 17: return "packet";
	case 40: return "vsock";
	case 0: return "unspec";
	default: return "other";
	}
}

static const char *fs_sock_type(int64_t t)
{
	switch (t & 0xf) {
	case 1: return "stream";
	case 2: return "dgram";
	case 3: return "raw";
	case 4: return "rdm";
	case 5: return "seqpacket";
	case 6: return "dccp";
	case 10: return "packet";
	default: return "other";
	}
}

int vsp_lxfs_socket(const struct vsp_lxfs *fs, vsp_gread_fn read, void *ctx,
		    uint64_t socket, bool peer, struct vsp_lxsock *out)
{
	uint64_t sk;
	uint16_t type, family, port;
	uint8_t a6[16];
	uint32_t a4;

	out->family = out->type = "";
	out->addr[0] = '\0';
	out->port = -1;
	if (!fs_kptr(socket) ||
	    vsp_gread_all(read, ctx, socket + fs->sock_type, &type, 2) < 0)
		return -1;
	out->type = fs_sock_type(type);
	if (fs_ptr(read, ctx, socket + fs->sock_sk, &sk) < 0 ||
	    vsp_gread_all(read, ctx, sk + fs->skc_family, &family, 2) < 0)
		return -1;
	out->family = vsp_lxfs_family_name(family);
	if (family == 2) {
		if (fs_u32(read, ctx, sk + (peer ? fs->skc_daddr : fs->skc_rcv_saddr),
			   &a4) < 0)
			return -1;
		inet_ntop(AF_INET, &a4, out->addr, sizeof out->addr);
	} else if (family == 10 && fs->skc_v6_daddr) {
		if (vsp_gread_all(read, ctx, sk + (peer ? fs->skc_v6_daddr :
						   fs->skc_v6_rcv_saddr),
				  a6, 16) < 0)
			return -1;
		inet_ntop(AF_INET6, a6, out->addr, sizeof out->addr);
	} else {
		return 0;	/* no address a rule could name */
	}
	if (vsp_gread_all(read, ctx, sk + (peer ? fs->skc_dport : fs->skc_num),
			  &port, 2) < 0)
		return -1;
	/* skc_dport is in network order, skc_num in host order. */
	out->port = peer ? ntohs(port) : port;
	return 0;
}

int vsp_lxfs_sockaddr(vsp_gread_fn read, void *ctx, uint64_t sa, int64_t len,
		      struct vsp_lxsock *out)
{
	uint8_t b[112];
	uint16_t family, port;

	if (len < 2 || !fs_kptr(sa))
		return -1;
	if (len > (int64_t)sizeof b)
		len = sizeof b;
	if (vsp_gread_all(read, ctx, sa, b, (size_t)len) < 0)
		return -1;
	memcpy(&family, b, 2);
	out->family = vsp_lxfs_family_name(family);
	out->addr[0] = '\0';
	out->port = -1;
	if (family == 2 && len >= 8) {
		memcpy(&port, b + 2, 2);
		inet_ntop(AF_INET, b + 4, out->addr, sizeof out->addr);
		out->port = ntohs(port);
	} else if (family == 10 && len >= 24) {
		memcpy(&port, b + 2, 2);
		inet_ntop(AF_INET6, b + 8, out->addr, sizeof out->addr);
		out->port = ntohs(port);
	} else if (family == 1) {
		/* sun_path: NUL-terminated, or (abstract) starting with NUL */
		size_t n = (size_t)len - 2, l;
		const char *p = (const char *)b + 2;

		if (n && p[0] == '\0') {
			out->addr[0] = '@';
			l = strnlen(p + 1, n - 1);
			memcpy(out->addr + 1, p + 1, l);
			out->addr[l + 1] = '\0';
		} else {
			l = strnlen(p, n);
			memcpy(out->addr, p, l);
			out->addr[l] = '\0';
		}
	}
	return 0;
}
