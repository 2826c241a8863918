/*
 * t_catalog.c: the event catalogs hold the kernel's and Xen's facts.
 *
 * Checks syscall and hypercall entries policies depend on, compares the
 * symbolic constants with the host's own headers, pins the suggestion
 * rules, and reruns tools/gen-catalog.sh to prove the committed tables are
 * what the generator makes from the installed headers.
 */
#include "base/catalog.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/mman.h>	/* MAP_HUGE_* */
#include <unistd.h>

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static void check_call(const struct vsp_call *c, const char *name,
		       uint32_t nr, const char *const *args, size_t nargs)
{
	if (!ok(c != NULL, "%s is in the catalog", name))
		return;
	ok(c->nr == nr, "%s is number %u (got %u)", name, nr, c->nr);
	ok(c->has_proto && c->nargs == nargs, "%s has %zu named args",
	       name, nargs);
	int same = 1;
	for (size_t i = 0; i < nargs && i < 6; i++)
		same &= streq(c->args[i].name, args[i]);
	ok(same, "%s argument names", name);
}

static void test_syscalls(void)
{
	ok(vsp_nsyscalls >= 330, "%zu syscalls", vsp_nsyscalls);
	size_t protos = 0;
	for (size_t i = 0; i < vsp_nsyscalls; i++)
		protos += vsp_syscalls[i].has_proto;
	ok(protos >= 130, "%zu syscalls have prototypes", protos);

	static const char *const openat[] = { "dfd", "filename", "flags", "mode" };
	const struct vsp_call *c = vsp_syscall_by_name("openat");
	check_call(c, "openat", 257, openat, 4);
	ok(c && c->args[1].type == VSP_ARG_PATH, "openat filename is a path");
	ok(vsp_call_path_arg(c) == 1, "openat path argument is 1");
	ok(vsp_syscall_by_nr(257) == c, "by_nr(257) is openat");
	ok(vsp_syscall_by_name("sys_openat") == c, "sys_openat is openat");

	static const char *const execve[] = { "filename", "argv", "envp" };
	check_call(vsp_syscall_by_name("execve"), "execve", 59, execve, 3);
	static const char *const mmap[] = { "addr", "len", "prot", "flags", "fd", "off" };
	check_call(vsp_syscall_by_name("mmap"), "mmap", 9, mmap, 6);
	ok(vsp_call_path_arg(vsp_syscall_by_name("mmap")) == -1,
	       "mmap has no path argument");
	static const char *const mount[] = { "dev_name", "dir_name", "type", "flags", "data" };
	c = vsp_syscall_by_name("mount");
	check_call(c, "mount", 165, mount, 5);
	ok(c && c->args[0].type == VSP_ARG_STR && c->args[2].type == VSP_ARG_STR &&
	       vsp_call_path_arg(c) == 1, "mount: strings and the mount point path");
	static const char *const ptrace[] = { "request", "pid", "addr", "data" };
	check_call(vsp_syscall_by_name("ptrace"), "ptrace", 101, ptrace, 4);
	static const char *const ren[] = { "olddfd", "oldname", "newdfd", "newname", "flags" };
	check_call(vsp_syscall_by_name("renameat2"), "renameat2", 316, ren, 5);
	c = vsp_syscall_by_name("getpid");
	ok(c && c->has_proto && c->nargs == 0, "getpid takes no arguments");

	/* A syscall without a prototype keeps the raw registers. */
	c = vsp_syscall_by_name("sched_yield");
	ok(c && !c->has_proto && c->nargs == 6 && streq(c->args[0].name, "arg0") &&
	       streq(c->args[5].name, "arg5"), "sched_yield has arg0..arg5 only");
	ok(vsp_call_path_arg(c) == -1, "no path without a prototype");
	ok(vsp_syscall_by_name("opnat") == NULL, "opnat is unknown");
	ok(vsp_syscall_by_name(NULL) == NULL, "NULL name is unknown");
	ok(vsp_syscall_by_nr(100000) == NULL, "nr 100000 is unknown");

	/* Numbers unique, names unique, arguments named within bounds. */
	int good = 1;
	for (size_t i = 0; i < vsp_nsyscalls; i++) {
		const struct vsp_call *a = &vsp_syscalls[i];
		good &= a->nargs <= 6;
		for (size_t j = 0; j < a->nargs; j++)
			good &= a->args[j].name != NULL;
		good &= vsp_syscall_by_nr(a->nr) == a;
		good &= vsp_syscall_by_name(a->name) == a;
	}
	ok(good, "syscall numbers and names are unique, args named");
}

static void test_hypercalls(void)
{
	ok(vsp_nhypercalls >= 40, "%zu hypercalls", vsp_nhypercalls);
	static const char *const mmu[] = { "req", "count", "pdone", "foreigndom" };
	check_call(vsp_hypercall_by_name("mmu_update"), "mmu_update", 1, mmu, 4);
	static const char *const uva[] = { "va", "val", "flags" };
	check_call(vsp_hypercall_by_name("update_va_mapping"), "update_va_mapping",
		   14, uva, 3);
	static const char *const mem[] = { "cmd", "arg" };
	check_call(vsp_hypercall_by_name("memory_op"), "memory_op", 12, mem, 2);
	static const char *const gnt[] = { "cmd", "uop", "count" };
	check_call(vsp_hypercall_by_name("grant_table_op"), "grant_table_op", 20, gnt, 3);
	ok(vsp_hypercall_by_nr(29) == vsp_hypercall_by_name("sched_op"),
	       "sched_op is 29");
	const struct vsp_call *c = vsp_hypercall_by_name("arch_0");
	ok(c && !c->has_proto && c->nargs == 5 && streq(c->args[4].name, "arg4"),
	       "arch_0 has arg0..arg4");
	ok(vsp_hypercall_by_name("openat") == NULL, "openat is no hypercall");
	ok(vsp_call_path_arg(vsp_hypercall_by_name("mmu_update")) == -1,
	       "hypercalls have no path");
}

struct host_const { const char *name; long long value; };
#define HC(x) { #x, (long long)(x) }

static void test_consts(void)
{
	static const struct host_const host[] = {
		HC(EPERM), HC(ENOENT), HC(ESRCH), HC(EINTR), HC(EIO), HC(E2BIG),
		HC(EBADF), HC(EAGAIN), HC(EWOULDBLOCK), HC(ENOMEM), HC(EACCES),
		HC(EFAULT), HC(EBUSY), HC(EEXIST), HC(EXDEV), HC(ENODEV),
		HC(ENOTDIR), HC(EISDIR), HC(EINVAL), HC(ENFILE), HC(EMFILE),
		HC(ETXTBSY), HC(ENOSPC), HC(EROFS), HC(EPIPE), HC(ERANGE),
		HC(EDEADLK), HC(EDEADLOCK), HC(ENAMETOOLONG), HC(ENOSYS),
		HC(ENOTEMPTY), HC(ELOOP), HC(ENOTSUP), HC(EOPNOTSUPP),
		HC(ECONNREFUSED), HC(EADDRINUSE), HC(ETIMEDOUT), HC(EHWPOISON),
		HC(EKEYREJECTED), HC(ECANCELED), HC(EOWNERDEAD), HC(ERFKILL),
		HC(EDQUOT), HC(ESTALE), HC(EPROTONOSUPPORT), HC(ENOTSOCK),
		HC(O_RDONLY), HC(O_WRONLY), HC(O_RDWR), HC(O_ACCMODE), HC(O_CREAT),
		HC(O_EXCL), HC(O_NOCTTY), HC(O_TRUNC), HC(O_APPEND), HC(O_NONBLOCK),
		HC(O_NDELAY), HC(O_DSYNC), HC(O_SYNC), HC(O_DIRECT), HC(O_DIRECTORY),
		HC(O_NOFOLLOW), HC(O_NOATIME), HC(O_CLOEXEC), HC(O_PATH),
		HC(O_TMPFILE), HC(AT_FDCWD), HC(AT_SYMLINK_NOFOLLOW),
		HC(AT_REMOVEDIR), HC(AT_SYMLINK_FOLLOW), HC(AT_EMPTY_PATH),
		HC(AT_NO_AUTOMOUNT), HC(AT_EACCESS),
		HC(PROT_NONE), HC(PROT_READ), HC(PROT_WRITE), HC(PROT_EXEC),
		HC(PROT_GROWSDOWN), HC(PROT_GROWSUP), HC(MAP_SHARED),
		HC(MAP_PRIVATE), HC(MAP_SHARED_VALIDATE), HC(MAP_FIXED),
		HC(MAP_ANONYMOUS), HC(MAP_32BIT), HC(MAP_GROWSDOWN),
		HC(MAP_DENYWRITE), HC(MAP_EXECUTABLE), HC(MAP_LOCKED),
		HC(MAP_NORESERVE), HC(MAP_POPULATE), HC(MAP_NONBLOCK),
		HC(MAP_STACK), HC(MAP_HUGETLB), HC(MAP_SYNC),
		HC(MAP_FIXED_NOREPLACE), HC(MAP_HUGE_2MB), HC(MAP_HUGE_1GB),
		HC(CLONE_VM), HC(CLONE_FS), HC(CLONE_FILES), HC(CLONE_SIGHAND),
		HC(CLONE_PIDFD), HC(CLONE_PTRACE), HC(CLONE_VFORK), HC(CLONE_PARENT),
		HC(CLONE_THREAD), HC(CLONE_NEWNS), HC(CLONE_SYSVSEM),
		HC(CLONE_SETTLS), HC(CLONE_PARENT_SETTID), HC(CLONE_CHILD_CLEARTID),
		HC(CLONE_UNTRACED), HC(CLONE_CHILD_SETTID), HC(CLONE_NEWCGROUP),
		HC(CLONE_NEWUTS), HC(CLONE_NEWIPC), HC(CLONE_NEWUSER),
		HC(CLONE_NEWPID), HC(CLONE_NEWNET), HC(CLONE_IO),
#ifdef CLONE_NEWTIME
		HC(CLONE_NEWTIME),
#endif
	};
	size_t bad = 0;
	for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) {
		const struct vsp_const *k = vsp_const_by_name(host[i].name);
		if (!k || k->value != host[i].value) {
			bad++;
			diag("%s: host %lld, catalog %lld", host[i].name,
				 host[i].value, k ? (long long)k->value : -1LL);
		}
	}
	ok(bad == 0, "%zu constants agree with the host headers",
	       sizeof host / sizeof host[0]);

	const struct vsp_const *k = vsp_const_by_name("EACCES");
	ok(k && k->cls == VSP_C_ERRNO, "EACCES is an errno");
	k = vsp_const_by_name("O_CREAT");
	ok(k && k->cls == VSP_C_OPEN, "O_CREAT is an open flag");
	k = vsp_const_by_name("AT_FDCWD");
	ok(k && k->cls == VSP_C_AT && k->value == -100, "AT_FDCWD is -100");
	k = vsp_const_by_name("PROT_EXEC");
	ok(k && k->cls == VSP_C_PROT, "PROT_EXEC is a prot flag");
	k = vsp_const_by_name("MAP_FIXED");
	ok(k && k->cls == VSP_C_MAP, "MAP_FIXED is a map flag");
	k = vsp_const_by_name("CLONE_NEWUSER");
	ok(k && k->cls == VSP_C_CLONE, "CLONE_NEWUSER is a clone flag");
	k = vsp_const_by_name("CLONE_INTO_CGROUP");
	ok(k && k->value == 0x200000000LL, "CLONE_INTO_CGROUP needs 64 bits");
	ok(vsp_const_by_name("EPRM") == NULL, "EPRM is unknown");
	ok(vsp_const_by_name("HUGETLB_FLAG_ENCODE_SHIFT") == NULL,
	       "helper macros stay out of the language");
	ok(vsp_const_by_name("CLONE_ARGS_SIZE_VER0") == NULL,
	       "struct sizes are no clone flags");

	size_t nerr = 0;
	for (size_t i = 0; i < vsp_nconsts; i++)
		nerr += vsp_consts[i].cls == VSP_C_ERRNO;
	ok(nerr >= 130, "%zu errno names", nerr);

	ok(streq(vsp_errno_name(13), "EACCES"), "errno 13 is EACCES");
	ok(streq(vsp_errno_name(1), "EPERM"), "errno 1 is EPERM");
	ok(streq(vsp_errno_name(11), "EAGAIN"), "errno 11 is EAGAIN, not an alias");
	ok(streq(vsp_errno_name(35), "EDEADLK"), "errno 35 is EDEADLK");
	ok(streq(vsp_errno_name(95), "EOPNOTSUPP"), "errno 95 is EOPNOTSUPP");
	ok(streq(vsp_errno_name(133), "EHWPOISON"), "errno 133 is EHWPOISON");
	ok(vsp_errno_name(0) == NULL && vsp_errno_name(4096) == NULL &&
	       vsp_errno_name(-13) == NULL, "no names for 0, 4096, -13");
}

static void test_suggest(void)
{
	ok(streq(vsp_suggest_syscall("opnat"), "openat"), "opnat -> openat");
	ok(streq(vsp_suggest_syscall("oepnat"), "openat"),
	       "oepnat -> openat (transposition)");
	ok(streq(vsp_suggest_syscall("exceve"), "execve"), "exceve -> execve");
	ok(vsp_suggest_syscall("openat") == NULL, "no suggestion for a known name");
	ok(vsp_suggest_syscall("frobnicate") == NULL, "frobnicate -> nothing");
	ok(streq(vsp_suggest_hypercall("mmu_updte"), "mmu_update"),
	       "mmu_updte -> mmu_update");
	ok(streq(vsp_suggest_const("EACCESS"), "EACCES"), "EACCESS -> EACCES");
	ok(streq(vsp_suggest_const("EPRM"), "EPERM"), "EPRM -> EPERM");
	ok(streq(vsp_suggest_const("O_CRAET"), "O_CREAT"), "O_CRAET -> O_CREAT");
	ok(streq(vsp_suggest_const("eacces"), "EACCES"), "eacces -> EACCES (case)");
	ok(streq(vsp_suggest_syscall("OpenAt"), "openat"), "OpenAt -> openat (case)");
	ok(vsp_suggest_const("") == NULL, "empty name -> nothing");
	ok(vsp_suggest_const(NULL) == NULL, "NULL name -> nothing");

	static const char *const names[] = { "proc.comm", "proc.pid", "path", NULL, "flags" };
	ok(streq(vsp_suggest("proc.com", names, 5), "proc.comm"),
	       "proc.com -> proc.comm");
	ok(streq(vsp_suggest("pth", names, 5), "path"), "pth -> path");
	ok(streq(vsp_suggest("flgas", names, 5), "flags"), "flgas -> flags");
	ok(vsp_suggest("xyz", names, 5) == NULL, "xyz -> nothing");
	/* "a third of the length": 9 letters allow 3 edits, not 4. */
	static const char *const far[] = { "abcdefghi" };
	ok(streq(vsp_suggest("abcxyzghi", far, 1), "abcdefghi"), "3 edits of 9 allowed");
	ok(vsp_suggest("abwxyzghi", far, 1) == NULL, "4 edits of 9 refused");
	static const char *const tie[] = { "reads", "read", "readv" };
	ok(streq(vsp_suggest("rread", tie, 3), "read"), "the closest wins");
}

static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	while (same) {
		int ca = getc(fa), cb = getc(fb);
		if (ca != cb)
			same = 0;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static void test_generator(void)
{
	if (access("tools/gen-catalog.sh", R_OK) != 0 ||
	    access("base/syscall-protos.txt", R_OK) != 0) {
		skip("not run from the source tree");
		return;
	}
	if (access("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", R_OK) != 0 ||
	    access("/usr/include/xen/xen.h", R_OK) != 0) {
		skip("kernel or Xen headers not installed");
		return;
	}
	char dir[] = "/tmp/vsp-catalog-XXXXXX";
	if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
		return;
	char cmd[256], a[128], b[128];
	snprintf(cmd, sizeof cmd, "sh tools/gen-catalog.sh %s 2>/dev/null", dir);
	ok(system(cmd) == 0, "gen-catalog.sh runs");
	static const char *const files[] = { "catalog_syscalls.c", "catalog_hypercalls.c" };
	for (int i = 0; i < 2; i++) {
		snprintf(a, sizeof a, "%s/%s", dir, files[i]);
		snprintf(b, sizeof b, "base/%s", files[i]);
		ok(same_file(a, b), "regenerated %s is identical", files[i]);
		unlink(a);
	}
	rmdir(dir);
}

/* The user-function table: each row well formed, names unique, a byte
 * buffer followed by its count, and the functions policies name there. */
static void test_userfns(void)
{
	bool rows = true, uniq = true, bufs = true;
	for (size_t i = 0; i < vsp_nuserfns; i++) {
		const struct vsp_call *c = &vsp_userfns[i];
		rows &= c->nr == i && c->has_proto && c->nargs <= 6;
		for (int a = 0; a < c->nargs; a++) {
			rows &= c->args[a].name != NULL;
			if (c->args[a].type == VSP_ARG_BUF)
				bufs &= a + 1 < c->nargs &&
					c->args[a + 1].type == VSP_ARG_INT;
		}
		for (size_t j = 0; j < i; j++)
			uniq &= strcmp(vsp_userfns[j].name, c->name) != 0;
	}
	ok(rows, "user functions: rows numbered, prototypes of at most 6 named arguments");
	ok(uniq, "user functions: names unique");
	ok(bufs, "user functions: every buffer is followed by its count");
	static const char *const want[] = {
		"system", "popen", "execve", "execv", "execvp", "execl", "posix_spawn",
		"posix_spawnp", "dlopen", "open", "fopen", "connect", "getaddrinfo",
		"setuid", "setresuid", "ptrace", "SSL_write", "SSL_read",
		"pam_authenticate"
	};
	bool all = true;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		all &= vsp_userfn_by_name(want[i]) != NULL;
	ok(all, "user functions: the families policies name are there");
	const struct vsp_call *c = vsp_userfn_by_name("system");
	ok(c && c->nargs == 1 && strcmp(c->args[0].name, "command") == 0 &&
	   c->args[0].type == VSP_ARG_STR, "system(command): a string");
	c = vsp_userfn_by_name("fopen");
	ok(c && vsp_call_path_arg(c) == 0, "fopen's pathname gives path");
	ok(vsp_userfn_by_name("frobnicate") == NULL, "an unknown function: none");
}

int main(void)
{
	test_syscalls();
	test_userfns();
	test_hypercalls();
	test_consts();
	test_suggest();
	test_generator();
	return done();
}
