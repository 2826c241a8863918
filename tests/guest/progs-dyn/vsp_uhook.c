/*
 * vsp_uhook: a process that rewrites a libc function in its own memory,
 * as a hooking library or self-hiding code does.
 *
 *   vsp_uhook N
 * calls getpid() through libc, then writes over getpid's first bytes
 * `mov $0x1234,%eax; ret` (the page made writable with mprotect, its
 * private copy), then calls it N times.  Prints "VSP uhook before PID",
 * "VSP uhook wrote", and "VSP uhook after K of N own" where K calls
 * returned what the process wrote.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

pid_t (*volatile get_pid)(void) = getpid;

int main(int argc, char **argv)
{
	static const uint8_t own[] = { 0xb8, 0x34, 0x12, 0x00, 0x00, 0xc3 };
	int n = argc > 1 ? atoi(argv[1]) : 0;
	long pg = sysconf(_SC_PAGESIZE);

	if (n <= 0) {
		fprintf(stderr, "usage: vsp_uhook N\n");
		return 2;
	}
	printf("VSP uhook before %d\n", (int)get_pid());
	fflush(stdout);
	uint8_t *fn = (uint8_t *)(uintptr_t)get_pid;
	uintptr_t page = (uintptr_t)fn & ~(uintptr_t)(pg - 1);
	size_t len = (size_t)((uintptr_t)fn + sizeof own - page);
	if (mprotect((void *)page, len, PROT_READ | PROT_WRITE | PROT_EXEC) < 0) {
		perror("mprotect");
		return 1;
	}
	memcpy(fn, own, sizeof own);
	printf("VSP uhook wrote\n");
	fflush(stdout);
	int k = 0;
	for (int i = 0; i < n; i++)
		k += get_pid() == 0x1234;
	printf("VSP uhook after %d of %d own\n", k, n);
	return 0;
}
