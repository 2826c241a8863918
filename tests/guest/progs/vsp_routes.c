/*
 * vsp_routes: every route this test knows to a file, a program and an
 * address, for the hook-event tests (tests/guest/hooks.t).
 *
 *   vsp_routes read FILE    try each route to read FILE; one line per route
 *                           VSP route NAME ok|fail ERRNO, then
 *                           VSP reads FILE N   (routes whose read succeeded)
 *   vsp_routes exec PROG    try each route to run PROG (a copy of
 *                           vsp_hello): VSP exec NAME ran|fail ERRNO, then
 *                           VSP execs N
 *   vsp_routes net          connect and sendto 169.254.169.254:80
 *   vsp_routes self         the process as /proc shows it (VSP self ...)
 *
 * A route counts as a read only when bytes of the file came back: an
 * O_PATH open that succeeds reads nothing.  Runs as root in the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int nreads, nexecs;
static char want[64];	/* text the file holds, when the caller names it */

/* Reads from fd and checks for the expected content. */
static void report_fd(const char *route, int fd, int err)
{
	char buf[128];
	ssize_t n;

	if (fd < 0) {
		printf("VSP route %s fail %d\n", route, err);
		return;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		printf("VSP route %s noread %d\n", route, n < 0 ? errno : 0);
		return;
	}
	buf[n] = 0;
	if (want[0] && !strstr(buf, want)) {
		printf("VSP route %s other\n", route);
		return;
	}
	nreads++;
	printf("VSP route %s ok\n", route);
}

#define TRY(route, expr) do { errno = 0; int fd_ = (expr); \
	report_fd(route, fd_, errno); } while (0)

/* A minimal io_uring: one IORING_OP_OPENAT, its result. */
static int uring_open(const char *path)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int rfd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (rfd < 0)
		return -1;
	size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	char *sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			rfd, IORING_OFF_SQ_RING);
	char *cq = mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			rfd, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof *sqes,
					 PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_POPULATE, rfd,
					 IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		close(rfd);
		return -1;
	}
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
	unsigned *mask = (unsigned *)(sq + p.sq_off.ring_mask);
	unsigned *array = (unsigned *)(sq + p.sq_off.array);
	unsigned idx = *tail & *mask;
	memset(&sqes[idx], 0, sizeof sqes[idx]);
	sqes[idx].opcode = IORING_OP_OPENAT;
	sqes[idx].fd = AT_FDCWD;
	sqes[idx].addr = (unsigned long)path;
	sqes[idx].open_flags = O_RDONLY;
	array[idx] = idx;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	int rc = (int)syscall(__NR_io_uring_enter, rfd, 1, 1,
			      IORING_ENTER_GETEVENTS, NULL, 0);
	int res = -EIO;
	if (rc >= 0) {
		unsigned *chead = (unsigned *)(cq + p.cq_off.head);
		struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
		unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
		res = cqes[*chead & cmask].res;
	}
	close(rfd);
	if (res < 0) {
		errno = -res;
		return -1;
	}
	return res;
}

/* int $0x80 open(path, O_RDONLY) from this 64-bit program. */
static int open32(const char *path)
{
	/* The 32-bit ABI takes 32-bit pointers: copy below 4 GiB. */
	char *low = mmap((void *)0x10000000, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	long r;

	if (low == MAP_FAILED)
		return -1;
	strncpy(low, path, 4095);
	__asm__ volatile("int $0x80" : "=a"(r)
			 : "a"(5), "b"((long)low), "c"(0L), "d"(0L) : "memory");
	munmap(low, 4096);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static void routes_read(const char *file)
{
	char buf[1024], *slash = strrchr(file, '/');
	char dir[256], base[256];
	int fd;

	snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
	snprintf(base, sizeof base, "%s", slash + 1);
	TRY("plain", open(file, O_RDONLY));
	snprintf(buf, sizeof buf, "//%.*s//%s", (int)(slash - file - 1), file + 1, base);
	TRY("double-slash", open(buf, O_RDONLY));
	snprintf(buf, sizeof buf, "%s/./%s", dir, base);
	TRY("dot", open(buf, O_RDONLY));
	snprintf(buf, sizeof buf, "%s/../%s/%s", dir, dir + 1, base);
	TRY("dotdot", open(buf, O_RDONLY));
	if (chdir(dir) == 0) {
		TRY("relative", open(base, O_RDONLY));
		snprintf(buf, sizeof buf, "../%s/%s", dir + 1, base);
		TRY("relative-dotdot", open(buf, O_RDONLY));
		chdir("/");
	}
	unlink("/tmp/r-sl");
	symlink(file, "/tmp/r-sl");
	TRY("symlink", open("/tmp/r-sl", O_RDONLY));
	unlink("/tmp/r-sd");
	symlink(dir, "/tmp/r-sd");
	snprintf(buf, sizeof buf, "/tmp/r-sd/%s", base);
	TRY("symlinked-dir", open(buf, O_RDONLY));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	TRY("dirfd", openat(fd, base, O_RDONLY));
	close(fd);
	struct open_how how = { .flags = O_RDONLY };
	TRY("openat2", (int)syscall(__NR_openat2, AT_FDCWD, file, &how, sizeof how));
	TRY("io_uring", uring_open(file));
	TRY("int80", open32(file));
	fd = open(file, O_PATH);
	printf("VSP route o_path-open %s\n", fd >= 0 ? "done" : "fail");
	snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
	TRY("o_path-proc-fd", open(buf, O_RDONLY));
	close(fd);
	struct { struct file_handle fh; unsigned char b[128]; } h;
	int mnt_id;
	h.fh.handle_bytes = 128;
	if (name_to_handle_at(AT_FDCWD, file, &h.fh, &mnt_id, 0) == 0) {
		int mfd = open("/", O_RDONLY | O_DIRECTORY);
		TRY("open_by_handle_at", open_by_handle_at(mfd, &h.fh, O_RDONLY));
		close(mfd);
	} else {
		printf("VSP route open_by_handle_at nohandle %d\n", errno);
	}
	mkdir("/tmp/r-bind", 0755);
	if (mount(dir, "/tmp/r-bind", NULL, MS_BIND, NULL) == 0) {
		snprintf(buf, sizeof buf, "/tmp/r-bind/%s", base);
		TRY("bind-mount", open(buf, O_RDONLY));
		umount("/tmp/r-bind");
	} else {
		printf("VSP route bind-mount nomount %d\n", errno);
	}
	/* A hard link elsewhere on the same filesystem. */
	unlink("/root/r-hl");
	if (link(file, "/root/r-hl") == 0)
		TRY("hardlink", open("/root/r-hl", O_RDONLY));
	else
		printf("VSP route hardlink nolink %d\n", errno);
	pid_t pid = fork();
	if (pid == 0) {
		/* chroot into the file's directory's parent */
		if (chroot(dir) == 0 && chdir("/") == 0) {
			snprintf(buf, sizeof buf, "/%s", base);
			TRY("chroot", open(buf, O_RDONLY));
		} else {
			printf("VSP route chroot nochroot %d\n", errno);
		}
		fflush(stdout);
		_exit(nreads);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st))
		nreads += WEXITSTATUS(st);
	printf("VSP reads %s %d\n", file, nreads);
}

/* Runs argv[0] = path through `how`, in a child: did it run? */
static void exec_try(const char *route, int how, const char *path, int dfd)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *const av[] = { (char *)path, NULL };
		char *const env[] = { NULL };
		if (how == 0)
			execve(path, av, env);
		else
			syscall(__NR_execveat, dfd, path, av, env,
				how == 2 ? AT_EMPTY_PATH : 0);
		printf("VSP exec %s fail %d\n", route, errno);
		fflush(stdout);
		_exit(99);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		nexecs++;
		printf("VSP exec %s ran\n", route);
	}
}

static void routes_exec(const char *prog)
{
	char buf[600], dir[256];
	const char *slash = strrchr(prog, '/');
	int fd;

	snprintf(dir, sizeof dir, "%.*s", (int)(slash - prog), prog);
	exec_try("plain", 0, prog, 0);
	snprintf(buf, sizeof buf, "/%s/./%s", dir, slash + 1);
	exec_try("dot-slash", 0, buf, 0);
	chdir(dir);
	snprintf(buf, sizeof buf, "./%s", slash + 1);
	exec_try("relative", 0, buf, 0);
	chdir("/");
	unlink("/root/r-xl");
	symlink(prog, "/root/r-xl");
	exec_try("symlink", 0, "/root/r-xl", 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	exec_try("execveat-dirfd", 1, slash + 1, fd);
	close(fd);
	fd = open(prog, O_RDONLY);
	exec_try("execveat-empty-path", 2, "", fd);
	close(fd);
	/* A program with no name at all: a memfd copy of it. */
	int in = open("/bin/vsp_hello", O_RDONLY);
	int mfd = (int)syscall(__NR_memfd_create, "r-memfd", 0);
	char b[65536];
	ssize_t n;
	while (in >= 0 && mfd >= 0 && (n = read(in, b, sizeof b)) > 0)
		write(mfd, b, (size_t)n);
	exec_try("memfd", 2, "", mfd);
	close(in);
	close(mfd);
	printf("VSP execs %s %d\n", prog, nexecs);
}

static void routes_net(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
	int s;

	inet_pton(AF_INET, "169.254.169.254", &a.sin_addr);
	int rc;

	s = socket(AF_INET, SOCK_STREAM, 0);
	errno = 0;
	rc = connect(s, (struct sockaddr *)&a, sizeof a);
	printf("VSP net connect %d %d\n", rc, rc < 0 ? errno : 0);
	close(s);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	errno = 0;
	rc = (int)sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a);
	printf("VSP net sendto %d %d\n", rc, rc < 0 ? errno : 0);
	close(s);
	/* Another address stays reachable as far as the policy goes. */
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	a.sin_port = htons(9);
	s = socket(AF_INET, SOCK_STREAM, 0);
	errno = 0;
	rc = connect(s, (struct sockaddr *)&a, sizeof a);
	printf("VSP net connect-other %d %d\n", rc, rc < 0 ? errno : 0);
	close(s);
}

/* One line per /proc view, each value with spaces kept. */
static void cat_line(const char *what, const char *path, bool nul_to_space)
{
	char b[512];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, b, sizeof b - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\0'))
		n--;
	b[n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if (b[i] == '\0' && nul_to_space)
			b[i] = ' ';
	printf("VSP self %s %s\n", what, b);
}

static void link_line(const char *what, const char *path)
{
	char b[512];
	ssize_t n = readlink(path, b, sizeof b - 1);

	b[n > 0 ? n : 0] = 0;
	printf("VSP self %s %s\n", what, b);
}

static void routes_self(const char *probe)
{
	char p[64];

	chdir("/etc");
	link_line("exe", "/proc/self/exe");
	link_line("cwd", "/proc/self/cwd");
	cat_line("cmdline", "/proc/self/cmdline", true);
	cat_line("loginuid", "/proc/self/loginuid", false);
	cat_line("cgroup", "/proc/self/cgroup", false);
	int fd = open(probe, O_RDONLY);	/* the open the audit record shows */
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	link_line("fd", p);
	if (fd >= 0)
		close(fd);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "read") == 0) {
		if (argc >= 4)
			snprintf(want, sizeof want, "%s", argv[3]);
		routes_read(argv[2]);
	} else if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
		routes_exec(argv[2]);
	} else if (argc >= 2 && strcmp(argv[1], "net") == 0) {
		routes_net();
	} else if (argc >= 3 && strcmp(argv[1], "self") == 0) {
		routes_self(argv[2]);
	} else {
		fprintf(stderr, "usage: vsp_routes read FILE [TEXT] | exec PROG | net | self FILE\n");
		return 2;
	}
	return 0;
}
