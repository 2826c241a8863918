/*
 * vsp_attack: harmless reproductions of the techniques the rule packs
 * stop (the .case files beside it, run by the pack-NAME.t tests).
 *
 *   vsp_attack [-u UID] TECHNIQUE [ARG...]
 *
 * Each technique makes the system calls the real attack makes, on the
 * guest's own test files, and prints one line "VSP TECHNIQUE rc=R
 * errno=NAME" (or what ran) so the test can see what the guest saw.  With
 * -u the program first drops to UID (and the same gid), as an unprivileged
 * attacker would be.  Nothing here changes the guest beyond its test
 * files: modules and kexec images are garbage the kernel refuses anyway
 * (but `kload`, which loads the test's own write primitive,
 * kmod/vsp_kwrite.c, whose writes undo themselves), ptrace targets are
 * the program's own child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case EFAULT: return "EFAULT";
	case ENOEXEC: return "ENOEXEC";
	case ENOSYS: return "ENOSYS";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ESRCH: return "ESRCH";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	default: return "other";
	}
}

static int report(const char *what, long rc)
{
	int e = rc < 0 ? errno : 0;

	printf("VSP %s rc=%ld errno=%s\n", what, rc < 0 ? -1L : rc, errname(e));
	fflush(stdout);
	return rc < 0 ? 1 : 0;
}

/* A copy of the file `src` in the descriptor `fd`. */
static int copy_into(int fd, const char *src)
{
	char buf[65536];
	int in = open(src, O_RDONLY);
	ssize_t n;

	if (in < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			close(in);
			return -1;
		}
	close(in);
	return n < 0 ? -1 : 0;
}

static char *const hello_argv[] = { "hello", NULL };
static char *const no_env[] = { NULL };

/* Fileless: the program lives only in an anonymous memory file. */
static int memfd_exec(const char *src, int via_proc)
{
	int fd = (int)syscall(SYS_memfd_create, "payload", 0);
	char path[64];

	if (fd < 0 || copy_into(fd, src) < 0)
		return report("memfd-exec-setup", -1);
	if (via_proc) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		execve(path, hello_argv, no_env);
	} else {
		syscall(SYS_execveat, fd, "", hello_argv, no_env, AT_EMPTY_PATH);
	}
	return report(via_proc ? "memfd-fexecve" : "memfd-execveat", -1);
}

/* A program run after its file was deleted. */
static int deleted_exec(const char *src, const char *dst)
{
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755), fd;

	if (out < 0 || copy_into(out, src) < 0)
		return report("deleted-exec-setup", -1);
	close(out);
	fd = open(dst, O_RDONLY);
	if (fd < 0 || unlink(dst) < 0)
		return report("deleted-exec-setup", -1);
	syscall(SYS_execveat, fd, "", hello_argv, no_env, AT_EMPTY_PATH);
	return report("deleted-exec", -1);
}

/* A reverse shell: a socket connected out, made the shell's stdio. */
static int revshell(const char *shell, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	char *argv[] = { (char *)shell, "-c", "echo VSP revshell-ran", NULL };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		return report("revshell-socket", -1);
	report("revshell-connect", connect(s, (struct sockaddr *)&sa, sizeof(sa)));
	/* the shell's output goes to the console as well, for the test */
	dup2(s, 0);
	execve(shell, argv, no_env);
	return report("revshell-exec", -1);
}

static int spawn(char **argv)
{
	execv(argv[0], argv);
	return report("spawn", -1);
}

static int net_connect(const char *addr, int port, int udp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);

	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (udp)
		return report("sendto", sendto(s, "GET /", 5, 0, (struct sockaddr *)&sa,
					       sizeof(sa)));
	return report("connect", connect(s, (struct sockaddr *)&sa, sizeof(sa)));
}

static int net_connect6(const char *addr, int port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int s = socket(AF_INET6, SOCK_STREAM, 0);

	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	return report("connect6", connect(s, (struct sockaddr *)&sa, sizeof(sa)));
}

/* A child of our own to attach to: sleeps until killed. */
static pid_t victim(void)
{
	pid_t p = fork();

	if (p == 0) {
		for (;;)
			pause();
	}
	usleep(100000);
	return p;
}

static void reap(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

static int do_ptrace(long req)
{
	pid_t p = victim();
	long rc = ptrace(req, p, 0, 0);
	int r = report(req == PTRACE_SEIZE ? "ptrace-seize" : "ptrace-attach", rc);

	reap(p);
	return r;
}

static int proc_mem(void)
{
	pid_t p = victim();
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)p);
	fd = open(path, O_RDWR);
	r = report("proc-mem-open", fd);
	reap(p);
	return r;
}

static int vm_writev(void)
{
	static char target[16] = "untouched";
	pid_t p = victim();
	char data[] = "written";
	struct iovec l = { data, sizeof(data) }, rv = { target, sizeof(data) };
	long rc = syscall(SYS_process_vm_writev, p, &l, 1UL, &rv, 1UL, 0UL);
	int r = report("process-vm-writev", rc);

	reap(p);
	return r;
}

static int setuid_bit(const char *how, const char *path)
{
	long rc;

	if (!strcmp(how, "chmod")) {
		rc = syscall(SYS_chmod, path, 04755);
	} else if (!strcmp(how, "fchmodat")) {
		rc = syscall(SYS_fchmodat, AT_FDCWD, path, 04755);
	} else if (!strcmp(how, "fchmod")) {
		int fd = open(path, O_RDONLY);
		rc = syscall(SYS_fchmod, fd, 04755);
	} else {	/* create: the bit set from the start */
		umask(0);
		rc = open(path, O_WRONLY | O_CREAT | O_EXCL, 04755);
	}
	return report(how, rc);
}

/* The kernel address of SYM, from /proc/kallsyms (root sees them). */
static unsigned long ksym(const char *sym)
{
	char line[256], name[128], type;
	unsigned long a;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %127s", &a, &type, name) == 3 &&
		    !strcmp(name, sym)) {
			fclose(f);
			return a;
		}
	}
	fclose(f);
	return 0;
}

/* An attacker's kernel write of LEN bytes at SYM + OFF, through the
 * primitive of kmod/vsp_kwrite.c (loaded by `kload`): prints "VSP kwrite
 * SYM+OFF undone" when the bytes hold their old value right after the
 * store, "stood" when the write stood (the module then puts them back).
 * HOW "alias": the store goes through the direct map ("VSP kwrite SYM+OFF
 * via direct map ..."). */
static int kwrite(const char *sym, const char *off, const char *len,
		  const char *how)
{
	char req[64], got[16] = "";
	unsigned long a = ksym(sym);
	int fd;
	ssize_t n;

	if (!a) {
		printf("VSP kwrite %s: no such symbol\n", sym);
		return 1;
	}
	fd = open("/proc/vsp_kwrite", O_RDWR);
	if (fd < 0)
		return report("kwrite-open", -1);
	n = snprintf(req, sizeof(req), "%lx %s%s%s", a + strtoul(off, NULL, 0), len,
		     how ? " " : "", how ? how : "");
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return report("kwrite", -1);
	}
	n = pread(fd, got, sizeof(got) - 1, 0);
	close(fd);
	got[n > 0 ? n : 0] = '\0';
	got[strcspn(got, "\n")] = '\0';
	printf("VSP kwrite %s+%s%s %s\n", sym, off, how ? " via direct map" : "", got);
	return strcmp(got, "undone") == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *t;

	if (argc > 2 && !strcmp(argv[1], "-u")) {
		int uid = atoi(argv[2]);

		if (setgid(uid) < 0 || setuid(uid) < 0)
			return report("drop", -1);
		argv += 2;
		argc -= 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: vsp_attack [-u UID] TECHNIQUE [ARG...]\n");
		return 2;
	}
	t = argv[1];
	if (!strcmp(t, "memfd-exec") && argc > 2)
		return memfd_exec(argv[2], 0);
	if (!strcmp(t, "memfd-fexecve") && argc > 2)
		return memfd_exec(argv[2], 1);
	if (!strcmp(t, "deleted-exec") && argc > 3)
		return deleted_exec(argv[2], argv[3]);
	if (!strcmp(t, "revshell") && argc > 3)
		return revshell(argv[2], atoi(argv[3]));
	if (!strcmp(t, "spawn") && argc > 2)
		return spawn(argv + 2);
	if (!strcmp(t, "connect") && argc > 3)
		return net_connect(argv[2], atoi(argv[3]), 0);
	if (!strcmp(t, "sendto") && argc > 3)
		return net_connect(argv[2], atoi(argv[3]), 1);
	if (!strcmp(t, "connect6") && argc > 3)
		return net_connect6(argv[2], atoi(argv[3]));
	if (!strcmp(t, "ptrace-attach"))
		return do_ptrace(PTRACE_ATTACH);
	if (!strcmp(t, "ptrace-seize"))
		return do_ptrace(PTRACE_SEIZE);
	if (!strcmp(t, "proc-mem"))
		return proc_mem();
	if (!strcmp(t, "vm-writev"))
		return vm_writev();
	if (!strcmp(t, "setuid") && argc > 3)
		return setuid_bit(argv[2], argv[3]);
	if (!strcmp(t, "init-module")) {
		static const char junk[64] = "not a module";
		return report(t, syscall(SYS_init_module, junk, sizeof(junk), ""));
	}
	if (!strcmp(t, "finit-module") && argc > 2) {
		int fd = open(argv[2], O_RDONLY);
		return report(t, syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(t, "kload") && argc > 2) {
		int fd = open(argv[2], O_RDONLY);
		return report(t, syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(t, "kwrite") && argc > 4)
		return kwrite(argv[2], argv[3], argv[4], argc > 5 ? argv[5] : NULL);
	if (!strcmp(t, "delete-module") && argc > 2)
		return report(t, syscall(SYS_delete_module, argv[2], O_NONBLOCK));
	if (!strcmp(t, "kexec"))
		return report(t, syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL));
	if (!strcmp(t, "iopl"))
		return report(t, syscall(SYS_iopl, 3));
	if (!strcmp(t, "ioperm"))
		return report(t, syscall(SYS_ioperm, 0x80UL, 1UL, 1));
	if (!strcmp(t, "bpf")) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY;
		a.key_size = 4;
		a.value_size = 4;
		a.max_entries = 1;
		return report(t, syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
	}
	if (!strcmp(t, "userfaultfd"))
		return report(t, syscall(SYS_userfaultfd, O_CLOEXEC));
	if (!strcmp(t, "keyctl"))
		return report(t, syscall(SYS_add_key, "user", "vsp-test", "x", 1L, -3L));
	if (!strcmp(t, "setns-init")) {
		int fd = open("/proc/1/ns/mnt", O_RDONLY);
		return report(t, syscall(SYS_setns, fd, 0));
	}
	if (!strcmp(t, "unshare-user"))
		return report(t, syscall(SYS_unshare, CLONE_NEWUSER));
	if (!strcmp(t, "clone-user")) {
		long p = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0L, 0L, 0L, 0L);
		if (p == 0)
			_exit(0);
		if (p > 0)
			waitpid((pid_t)p, NULL, 0);
		return report(t, p < 0 ? -1 : 0);
	}
	if (!strcmp(t, "open-by-handle")) {
		char h[sizeof(struct file_handle) + 128];
		struct file_handle *fh = (struct file_handle *)h;
		memset(h, 0, sizeof(h));
		fh->handle_bytes = 8;
		fh->handle_type = 1;
		return report(t, syscall(SYS_open_by_handle_at, AT_FDCWD, fh, O_RDONLY));
	}
	if (!strcmp(t, "mount-dev") && argc > 3)
		return report(t, mount(argv[2], argv[3], "ext4", MS_RDONLY, NULL));
	if (!strcmp(t, "mmap-exec") && argc > 2) {
		int fd = open(argv[2], O_RDONLY);
		void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		return report(t, p == MAP_FAILED ? -1 : 0);
	}
	fprintf(stderr, "vsp_attack: unknown technique or missing argument: %s\n", t);
	return 2;
}
