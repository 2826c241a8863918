/*
 * vsp_open32: opens files through the 32-bit system call entry.
 *
 * A 64-bit program may still execute `int $0x80`, which the kernel serves
 * from its i386 table (compat_sys_openat here), not from the handlers a
 * policy on `openat` names first.  This probe checks that vsp traps that
 * way in too.  For each path:
 *   VSP open32 PATH ok | VSP open32 PATH err NAME NUM
 * The path is copied below 4 GiB (static .bss) since the 32-bit entry
 * sees only the low half of each register.
 */
#include <stdio.h>
#include <string.h>

static char path32[4096];

static long sys32(long nr, long a, long b, long c, long d)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d)
			 : "memory");
	return ret;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		snprintf(path32, sizeof path32, "%s", argv[i]);
		/* i386: openat is 295, close is 6; AT_FDCWD is -100. */
		long fd = sys32(295, -100, (long)(unsigned long)path32, 0, 0);
		if (fd < 0)
			printf("VSP open32 %s err %s %ld\n", argv[i],
			       fd == -13 ? "EACCES" : fd == -2 ? "ENOENT" : "E?", -fd);
		else {
			printf("VSP open32 %s ok\n", argv[i]);
			sys32(6, fd, 0, 0, 0);
		}
	}
	fflush(stdout);
	return 0;
}
