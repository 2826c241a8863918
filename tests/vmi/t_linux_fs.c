/*
 * t_linux_fs.c: the kernel-object readers of vmi/linux_fs.c on a memory
 * image built here: dentries, mounts, inodes, a task, sockaddrs, laid out
 * at the offsets of Linux 6.1 (the tests set struct vsp_lxfs by hand, so
 * no guest kernel is needed).  Paths through mounts, bind mounts and a
 * chroot; hostile chains (a loop, a name with '/', an unmapped parent, a
 * name too long, a path too long for the buffer) fail instead of hanging
 * or overrunning.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/linux_fs.h"

#define BASE 0xffff888000000000ull
#define SIZE (1u << 18)
static uint8_t mem[SIZE];
static unsigned nreads;

static long mem_read(void *ctx, uint64_t gva, void *buf, size_t len)
{
	(void)ctx;
	nreads++;
	if (gva < BASE || gva - BASE >= SIZE)
		return -1;
	size_t off = (size_t)(gva - BASE);
	if (len > SIZE - off)
		len = SIZE - off;
	memcpy(buf, mem + off, len);
	return (long)len;
}

static struct vsp_lxfs fs;

static void put64(uint64_t at, uint64_t v) { memcpy(mem + (at - BASE), &v, 8); }
static void put32(uint64_t at, uint32_t v) { memcpy(mem + (at - BASE), &v, 4); }

static uint64_t next = BASE + 0x100;

/* A dentry named `name` under `parent` (0: its own parent). */
static uint64_t dent(uint64_t parent, const char *name)
{
	uint64_t d = next;
	size_t len = strlen(name);

	next += 192;
	put64(d + fs.d_parent, parent ? parent : d);
	put32(d + fs.d_name + 4, (uint32_t)len);
	if (len < 32) {
		memcpy(mem + (d + fs.d_iname - BASE), name, len + 1);
		put64(d + fs.d_name + 8, d + fs.d_iname);
	} else {
		uint64_t s = next;
		next += (len + 16) & ~7ull;
		memcpy(mem + (s - BASE), name, len + 1);
		put64(d + fs.d_name + 8, s);
	}
	return d;
}

/* A mount with root `root` on `mountpoint` in `parent` (0: itself); its
 * vfsmount's address. */
static uint64_t mnt(uint64_t root, uint64_t parent_vfs, uint64_t mountpoint)
{
	uint64_t m = next;

	next += 320;
	put64(m + fs.mnt_parent, parent_vfs ? parent_vfs - fs.mnt_mnt : m);
	put64(m + fs.mnt_mountpoint, mountpoint ? mountpoint : root);
	put64(m + fs.mnt_mnt + fs.mnt_root, root);
	return m + fs.mnt_mnt;
}

static int path(uint64_t m, uint64_t d, uint64_t rm, uint64_t rd, char *buf,
		size_t size)
{
	struct vsp_lxpath p = { m, d }, r = { rm, rd };
	uint32_t len = 0;
	int rc = vsp_lxfs_d_path(&fs, mem_read, NULL, &p, &r, buf, size, &len);

	if (rc == 0 && len != strlen(buf))
		return -2;
	return rc;
}

int main(void)
{
	char buf[4097];
	uint32_t len;

	/* struct offsets of Linux 6.1 x86-64 (pahole) */
	fs.file_path = 16; fs.path_mnt = 0; fs.path_dentry = 8;
	fs.d_parent = 24; fs.d_name = 32; fs.d_inode = 48; fs.d_iname = 56;
	fs.d_sb = 104; fs.d_span_lo = 24; fs.d_span_len = 64;
	fs.mnt_parent = 16; fs.mnt_mountpoint = 24; fs.mnt_mnt = 32;
	fs.mnt_root = 0;
	fs.task_fs = 0x700; fs.task_mm = 0x6f0; fs.fs_root = 24; fs.fs_pwd = 40;
	fs.mm_arg_start = 312; fs.mm_arg_end = 320;

	uint64_t root = dent(0, "/");
	uint64_t etc = dent(root, "etc"), shadow = dent(etc, "shadow");
	uint64_t tmp = dent(root, "tmp"), b = dent(tmp, "b");
	uint64_t top = mnt(root, 0, 0);

	ok(path(top, shadow, top, root, buf, sizeof buf) == 0 &&
	   strcmp(buf, "/etc/shadow") == 0, "d_path: /etc/shadow (%s)", buf);
	ok(path(top, root, top, root, buf, sizeof buf) == 0 &&
	   strcmp(buf, "/") == 0, "d_path: the root is /");
	ok(vsp_lxfs_fspath(&fs, mem_read, NULL, shadow, buf, sizeof buf, &len) == 0 &&
	   strcmp(buf, "/etc/shadow") == 0 && len == 11, "fspath: /etc/shadow");
	ok(vsp_lxfs_dname(&fs, mem_read, NULL, shadow, buf, sizeof buf, &len) == 0 &&
	   strcmp(buf, "shadow") == 0, "dname: shadow");

	/* /etc bound on /tmp/b */
	uint64_t bind = mnt(etc, top, b);
	ok(path(bind, shadow, top, root, buf, sizeof buf) == 0 &&
	   strcmp(buf, "/tmp/b/shadow") == 0, "bind mount: /tmp/b/shadow (%s)", buf);
	ok(vsp_lxfs_fspath(&fs, mem_read, NULL, shadow, buf, sizeof buf, &len) == 0 &&
	   strcmp(buf, "/etc/shadow") == 0, "bind mount: fspath stays /etc/shadow");

	/* a process chrooted into /etc */
	ok(path(top, shadow, top, etc, buf, sizeof buf) == 0 &&
	   strcmp(buf, "/shadow") == 0, "chroot /etc: /shadow (%s)", buf);
	/* ... that holds a descriptor of something outside it */
	ok(path(top, tmp, top, etc, buf, sizeof buf) == 0 &&
	   strcmp(buf, "/tmp") == 0, "outside the chroot: from the namespace's root");

	/* a filesystem mounted on /tmp: its own root stands for /tmp */
	uint64_t troot = dent(0, "/"), x = dent(troot, "x");
	uint64_t tm = mnt(troot, top, tmp);
	ok(path(tm, x, top, root, buf, sizeof buf) == 0 && strcmp(buf, "/tmp/x") == 0,
	   "a mount: /tmp/x (%s)", buf);
	ok(vsp_lxfs_fspath(&fs, mem_read, NULL, x, buf, sizeof buf, &len) == 0 &&
	   strcmp(buf, "/x") == 0, "a mount: fspath /x");

	/* a memfd: a dentry of no directory in an internal mount */
	uint64_t shmroot = dent(0, "/"), memfd = dent(0, "memfd:r-memfd");
	uint64_t shm = mnt(shmroot, 0, 0);
	ok(path(shm, memfd, top, root, buf, sizeof buf) == 0 &&
	   strcmp(buf, "/memfd:r-memfd") == 0, "memfd: /memfd:r-memfd (%s)", buf);

	/* names that do not fit inline */
	char longname[201];
	memset(longname, 'n', 200);
	longname[200] = 0;
	uint64_t ln = dent(etc, longname);
	ok(path(top, ln, top, root, buf, sizeof buf) == 0 && strlen(buf) == 205 &&
	   strncmp(buf, "/etc/nnn", 8) == 0, "a 200-byte name read out of line");

	/* hostile chains */
	uint64_t l1 = dent(root, "a"), l2 = dent(l1, "b");
	put64(l1 + fs.d_parent, l2);	/* a loop: a -> b -> a */
	nreads = 0;
	ok(path(top, l2, top, root, buf, sizeof buf) == -1, "a loop in the dentry chain fails");
	ok(nreads < 2 * VSP_LXFS_MAX_DEPTH + 8, "... after a bounded walk (%u reads)", nreads);
	uint64_t slash = dent(etc, "a/b");
	ok(path(top, slash, top, root, buf, sizeof buf) == -1, "a name holding '/' fails");
	uint64_t bad = dent(etc, "x");
	put64(bad + fs.d_parent, 0xffff999900000000ull);
	ok(path(top, bad, top, root, buf, sizeof buf) == -1, "an unmapped parent fails");
	put64(bad + fs.d_parent, 0x1000);
	ok(path(top, bad, top, root, buf, sizeof buf) == -1, "a user-space parent fails");
	uint64_t huge = dent(etc, "y");
	put32(huge + fs.d_name + 4, 100000);
	ok(path(top, huge, top, root, buf, sizeof buf) == -1, "a name longer than NAME_MAX fails");
	uint64_t nul = dent(etc, "abcdef");
	mem[nul + fs.d_iname + 2 - BASE] = 0;
	ok(path(top, nul, top, root, buf, sizeof buf) == -1, "a name with a NUL in it fails");
	char small[12];
	ok(path(top, shadow, top, root, small, 11) == -1,
	   "a path longer than the buffer fails (no overrun)");
	ok(path(top, shadow, top, root, small, sizeof small) == 0 &&
	   strcmp(small, "/etc/shadow") == 0, "a path that just fits");
	ok(path(top, shadow, top, root, buf, 1) == -1, "a buffer of one byte fails");
	/* a deep tree, deeper than the walk allows */
	uint64_t d = root;
	for (int i = 0; i < VSP_LXFS_MAX_DEPTH + 4 && next + 256 < BASE + SIZE - 2048; i++)
		d = dent(d, "d");
	ok(path(top, d, top, root, buf, sizeof buf) == -1, "a tree deeper than %d fails",
	   VSP_LXFS_MAX_DEPTH);

	/* the process's arguments: NULs become spaces */
	uint64_t task = BASE + SIZE - 4096, mm = BASE + SIZE - 2048;
	uint64_t args = BASE + SIZE - 512;
	memcpy(mem + (args - BASE), "cat\0/etc/shadow\0", 16);
	put64(task + fs.task_mm, mm);
	put64(mm + fs.mm_arg_start, args);
	put64(mm + fs.mm_arg_end, args + 16);
	/* (the arguments are user memory in a guest; here any address) */
	ok(vsp_lxfs_task_cmdline(&fs, mem_read, NULL, task, buf, sizeof buf, &len) == -1,
	   "cmdline: arguments in the kernel half are refused");

	/* exec.argv: the new stack's pages, found through the new mm's page
	 * tables in the direct map (physical X is BASE + X here); the two
	 * pages the strings cross lie in physical memory in reverse order. */
	{
		const uint64_t pgd = 0x20000, pud = 0x21000, pmd = 0x22000,
			       pt = 0x23000, pg0 = 0x25000, pg1 = 0x24000;
		const uint64_t va = 0x7ffffffde000ull, p = va + 4096 - 6;
		const uint64_t var = BASE + 0x30000, bprm = BASE + 0x31000,
			       bmm = BASE + 0x31800;
		const uint64_t nx = 1ull << 63;
		static const char strs[] = "cat\0/etc/shadow\0--x\0HOME=/\0";

		fs.bprm_mm = 16; fs.bprm_p = 24; fs.bprm_argc = 72; fs.mm_pgd = 80;
		fs.page_offset_base = var;
		put64(var, BASE);
		put64(bprm + fs.bprm_mm, bmm);
		put64(bprm + fs.bprm_p, p);
		put32(bprm + fs.bprm_argc, 3);
		put64(bmm + fs.mm_pgd, BASE + pgd);
		put64(BASE + pgd + ((va >> 39) & 511) * 8, pud | 0x67);
		put64(BASE + pud + ((va >> 30) & 511) * 8, pmd | 0x67);
		put64(BASE + pmd + ((va >> 21) & 511) * 8, pt | 0x67);
		put64(BASE + pt + ((va >> 12) & 511) * 8, pg0 | 0x67 | nx);
		put64(BASE + pt + (((va >> 12) + 1) & 511) * 8, pg1 | 0x67 | nx);
		memcpy(mem + pg0 + 4090, strs, 6);
		memcpy(mem + pg1, strs + 6, sizeof strs - 6);
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == 0 &&
		   strcmp(buf, "cat /etc/shadow --x") == 0 && len == 19,
		   "exec.argv: argc strings across two pages, joined by spaces (%s)", buf);
		nreads = 0;
		vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len);
		ok(nreads <= 16, "exec.argv: %u reads for two pages", nreads);
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, 8, &len) == -1 &&
		   len == 7, "exec.argv: too long for the buffer fails, bounded");
		put32(bprm + fs.bprm_argc, 0x7fffffff);
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == -1,
		   "exec.argv: a hostile argc fails");
		put32(bprm + fs.bprm_argc, 5000);	/* zeros after: empty strings */
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == -1,
		   "exec.argv: strings running past the mapped pages fail");
		put32(bprm + fs.bprm_argc, 3);
		put64(BASE + pt + (((va >> 12) + 1) & 511) * 8, pg1 | 0x66);
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == -1 &&
		   len == 6, "exec.argv: a page not present fails, after what was read");
		put64(BASE + pt + (((va >> 12) + 1) & 511) * 8, pg1 | 0x67);
		put64(BASE + pmd + ((va >> 21) & 511) * 8, 0xfffff000ull | 0x67);
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == -1,
		   "exec.argv: a page table outside memory fails");
		put64(BASE + pmd + ((va >> 21) & 511) * 8, pt | 0x67);
		put64(bprm + fs.bprm_p, BASE);
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == -1,
		   "exec.argv: a kernel address as the stack fails");
		/* five levels: a new top table above the same four */
		{
			const uint64_t pml5 = 0x26000, l5 = BASE + 0x30100;
			const uint64_t va5 = (1ull << 50) | va, p5 = va5 + 4096 - 6;

			put64(BASE + pml5 + ((va5 >> 48) & 511) * 8, pgd | 0x67);
			put64(bmm + fs.mm_pgd, BASE + pml5);
			put64(bprm + fs.bprm_p, p5);
			fs.pgtable_l5 = l5;
			put32(l5, 1);
			ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == 0 &&
			   strcmp(buf, "cat /etc/shadow --x") == 0,
			   "exec.argv: five levels of page tables, a 57-bit address");
			put32(l5, 0);
			ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == -1,
			   "exec.argv: ... which four levels cannot reach");
			fs.pgtable_l5 = 0;
			put64(bmm + fs.mm_pgd, BASE + pgd);
		}
		fs.page_offset_base = 0;
		put64(bprm + fs.bprm_p, p);
		ok(vsp_lxfs_bprm_argv(&fs, mem_read, NULL, bprm, buf, sizeof buf, &len) == -1,
		   "exec.argv: without page_offset_base, a failed read");
	}

	/* addresses the kernel copied */
	struct vsp_lxsock sk = { 0 };
	uint64_t sa = BASE + SIZE - 256;
	uint8_t in4[16] = { 2, 0, 0, 80, 169, 254, 169, 254 };
	memcpy(mem + (sa - BASE), in4, 16);
	ok(vsp_lxfs_sockaddr(mem_read, NULL, sa, 16, &sk) == 0 &&
	   strcmp(sk.family, "inet") == 0 && strcmp(sk.addr, "169.254.169.254") == 0 &&
	   sk.port == 80, "sockaddr_in: inet 169.254.169.254:80");
	uint8_t in6[28] = { 10, 0, 0x1f, 0x90 };
	in6[8] = 0x20; in6[9] = 0x01; in6[10] = 0x0d; in6[11] = 0xb8; in6[23] = 1;
	memcpy(mem + (sa - BASE), in6, 28);
	ok(vsp_lxfs_sockaddr(mem_read, NULL, sa, 28, &sk) == 0 &&
	   strcmp(sk.family, "inet6") == 0 && strcmp(sk.addr, "2001:db8::1") == 0 &&
	   sk.port == 8080, "sockaddr_in6: RFC 5952 text (%s)", sk.addr);
	uint8_t un[110] = { 1, 0 };
	memcpy(un + 2, "/run/docker.sock", 17);
	memcpy(mem + (sa - BASE), un, 110);
	ok(vsp_lxfs_sockaddr(mem_read, NULL, sa, 110, &sk) == 0 &&
	   strcmp(sk.family, "unix") == 0 && strcmp(sk.addr, "/run/docker.sock") == 0,
	   "sockaddr_un: the path");
	memset(un + 2, 'z', 108);
	un[2] = 0;
	memcpy(mem + (sa - BASE), un, 110);
	ok(vsp_lxfs_sockaddr(mem_read, NULL, sa, 110, &sk) == 0 && sk.addr[0] == '@' &&
	   strlen(sk.addr) == 108, "sockaddr_un: abstract, unterminated, bounded");
	ok(vsp_lxfs_sockaddr(mem_read, NULL, sa, 1, &sk) == -1, "a 1-byte sockaddr fails");
	ok(vsp_lxfs_sockaddr(mem_read, NULL, 0x1000, 16, &sk) == -1,
	   "a user-space sockaddr fails");
	ok(strcmp(vsp_lxfs_type_name(0100644), "file") == 0 &&
	   strcmp(vsp_lxfs_type_name(0040755), "dir") == 0 &&
	   strcmp(vsp_lxfs_type_name(0120777), "symlink") == 0 &&
	   strcmp(vsp_lxfs_type_name(-1), "") == 0, "file types from i_mode");
	return done();
}
