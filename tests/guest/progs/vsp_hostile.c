/*
 * vsp_hostile.c: a guest program that hands the monitor the worst
 * arguments it can (tests/guest/hostile.t).
 *
 * Every openat it makes goes through hs_open, which counts it, so the
 * live test can compare the guest's own count with the audit log's
 * records.  Cases (one per run):
 *
 *   long          a path of 64 KiB (the kernel says ENAMETOOLONG)
 *   edge          "/etc/shadow" ending at the last byte of a mapped page,
 *                 the next page unmapped, no NUL (EFAULT)
 *   edgez         the same with its NUL as the page's last byte (a real
 *                 path: the policy's verdict)
 *   null, unmapped, kernel
 *                 pointers to 0, to a page just unmapped, and into the
 *                 kernel's text (EFAULT)
 *   storm P N     P processes, N opens each, alternating /etc/shadow and
 *                 /etc/hostname
 *   kread SYM     read the first bytes of kernel function SYM through
 *                 /proc/kallsyms and /proc/kcore (what the guest itself
 *                 sees where a trap sits), then open /etc/shadow
 *
 * Output: `VSP hostile CASE ...` lines, and `VSP opens N` with the count.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long hs_opens;

/* openat through the raw syscall: no libc checks on the pointer. */
static int hs_open(const void *path)
{
	hs_opens++;
	long rc = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY, 0);
	return rc < 0 ? -errno : (int)rc;
}

static const char *hs_errname(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EAGAIN: return "EAGAIN";
	case EFAULT: return "EFAULT";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case ENOMEM: return "ENOMEM";
	default: return "E?";
	}
}

static void hs_report(const char *what, int rc)
{
	if (rc >= 0) {
		printf("VSP hostile %s ok\n", what);
		close(rc);
	} else {
		printf("VSP hostile %s err %s %d\n", what, hs_errname(-rc), -rc);
	}
}

static char *hs_page_end(const char *s, size_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	munmap(p + pg, (size_t)pg);
	memset(p, 'x', (size_t)pg);	/* every byte present, none zero */
	memcpy(p + pg - n, s, n);
	return p + pg - n;
}

static int hs_storm(int procs, int n)
{
	int pipefd[2];
	if (pipe(pipefd) < 0)
		return 1;
	for (int i = 0; i < procs; i++) {
		if (fork() == 0) {
			/* ok, denied, failed with EAGAIN (a late decision
			 * vsp could not make), other errors, shadow opens
			 * that succeeded */
			long c[5] = { 0, 0, 0, 0, 0 };
			for (int k = 0; k < n; k++) {
				bool shadow = !(k & 1);
				int rc = hs_open(shadow ? "/etc/shadow" : "/etc/hostname");
				if (rc >= 0)
					close(rc);
				c[rc >= 0 ? 0 : rc == -EACCES ? 1 : rc == -EAGAIN ? 2 : 3]++;
				if (rc >= 0 && shadow)
					c[4]++;
			}
			long out[6] = { c[0], c[1], c[2], c[3], c[4], hs_opens };
			if (write(pipefd[1], out, sizeof out) != sizeof out)
				_exit(1);
			_exit(0);
		}
	}
	close(pipefd[1]);
	long tot[6] = { 0, 0, 0, 0, 0, 0 }, in[6];
	int got = 0;
	while (read(pipefd[0], in, sizeof in) == sizeof in) {
		for (int k = 0; k < 6; k++)
			tot[k] += in[k];
		got++;
	}
	while (wait(NULL) > 0)
		;
	hs_opens += tot[5];
	printf("VSP hostile storm procs %d ok %ld denied %ld again %ld other %ld "
	       "escaped %ld\n", got, tot[0], tot[1], tot[2], tot[3], tot[4]);
	return got == procs ? 0 : 1;
}

/* Reads all of a small /proc file through counted opens. */
static ssize_t hs_slurp(const char *path, char *buf, size_t cap)
{
	int fd = hs_open(path);
	if (fd < 0)
		return fd;
	size_t len = 0;
	ssize_t n;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	return (ssize_t)len;
}

static int hs_kread(const char *sym)
{
	static char ks[64 << 20];
	ssize_t n = hs_slurp("/proc/kallsyms", ks, sizeof ks - 1);
	if (n < 0) {
		printf("VSP hostile kread unavailable kallsyms %d\n", (int)-n);
		return 1;
	}
	ks[n] = 0;
	uint64_t addr = 0;
	for (char *l = ks; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char name[128];
		unsigned long long a;
		char type;
		if (sscanf(l, "%llx %c %127s", &a, &type, name) == 3 &&
		    strcmp(name, sym) == 0) {
			addr = a;
			break;
		}
	}
	if (!addr) {
		printf("VSP hostile kread unavailable nosym\n");
		return 1;
	}
	int fd = hs_open("/proc/kcore");
	if (fd < 0) {
		printf("VSP hostile kread unavailable kcore %d\n", -fd);
		return 1;
	}
	Elf64_Ehdr eh;
	if (pread(fd, &eh, sizeof eh, 0) != sizeof eh || eh.e_phnum > 4096) {
		printf("VSP hostile kread unavailable ehdr\n");
		return 1;
	}
	uint8_t code[8];
	bool found = false;
	for (int i = 0; i < eh.e_phnum && !found; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    sizeof ph)
			break;
		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr ||
		    addr + sizeof code > ph.p_vaddr + ph.p_memsz)
			continue;
		found = pread(fd, code, sizeof code,
			      (off_t)(ph.p_offset + (addr - ph.p_vaddr))) == sizeof code;
	}
	close(fd);
	if (!found) {
		printf("VSP hostile kread unavailable segment\n");
		return 1;
	}
	printf("VSP hostile kread %s", sym);
	for (size_t i = 0; i < 5; i++)
		printf(" %02x", code[i]);
	printf("\n");
	hs_report("kread-then-shadow", hs_open("/etc/shadow"));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *c = argc > 1 ? argv[1] : "";
	int status = 0;
	if (strcmp(c, "long") == 0) {
		size_t len = 64 << 10;
		char *p = malloc(len);
		memset(p, 'a', len - 1);
		p[0] = '/';
		p[len - 1] = 0;
		hs_report("long", hs_open(p));
	} else if (strcmp(c, "edge") == 0) {
		char *p = hs_page_end("/etc/shadow", 11);
		hs_report("edge", p ? hs_open(p) : -ENOMEM);
	} else if (strcmp(c, "edgez") == 0) {
		char *p = hs_page_end("/etc/shadow", 12);
		hs_report("edgez", p ? hs_open(p) : -ENOMEM);
	} else if (strcmp(c, "null") == 0) {
		hs_report("null", hs_open(NULL));
	} else if (strcmp(c, "unmapped") == 0) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		strcpy(p, "/etc/shadow");
		munmap(p, 4096);
		hs_report("unmapped", hs_open(p));
	} else if (strcmp(c, "kernel") == 0) {
		hs_report("kernel", hs_open((const void *)0xffffffff81000000ull));
	} else if (strcmp(c, "storm") == 0 && argc > 3) {
		status = hs_storm(atoi(argv[2]), atoi(argv[3]));
	} else if (strcmp(c, "kread") == 0 && argc > 2) {
		status = hs_kread(argv[2]);
	} else {
		fprintf(stderr, "usage: vsp_hostile long|edge|edgez|null|unmapped|"
			"kernel|storm P N|kread SYM\n");
		return 2;
	}
	printf("VSP opens %ld\n", hs_opens);
	return status;
}
