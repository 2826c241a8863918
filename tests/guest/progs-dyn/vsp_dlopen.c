/*
 * vsp_dlopen: a module mapped late, for `on user "libvspdl.so":...`.
 *
 *   vsp_dlopen MS N...   wait MS milliseconds (libc and the rest are
 *                        mapped long before), dlopen libvspdl.so, call
 *                        vsp_dl_gate(N) for each N, dlclose it; then
 *                        put other code (x * 5) at the address the
 *                        function had and call that with the first N
 *
 * Prints where the library's function is and what each call returned, as
 * "VSP" lines for the rig.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* lea (%rdi,%rdi,4),%rax; ret */
static const unsigned char times5[] = { 0x48, 0x8d, 0x04, 0xbf, 0xc3 };

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vsp_dlopen MS N...\n");
		return 2;
	}
	printf("VSP pid %d\n", (int)getpid());
	fflush(stdout);
	usleep((useconds_t)atoi(argv[1]) * 1000);
	void *h = dlopen("libvspdl.so", RTLD_NOW);
	if (!h) {
		printf("VSP dlopen failed: %s\n", dlerror());
		return 1;
	}
	long (*gate)(long) = (long (*)(long))dlsym(h, "vsp_dl_gate");
	if (!gate) {
		printf("VSP dlsym failed: %s\n", dlerror());
		return 1;
	}
	printf("VSP vsp_dl_gate at %p\n", (void *)gate);
	for (int i = 2; i < argc; i++)
		printf("VSP gate %s = %ld\n", argv[i], gate(atol(argv[i])));
	printf("VSP dlclose %d\n", dlclose(h));
	fflush(stdout);
	if (argc < 3)
		return 0;

	/* The library is gone: its place may take other code. */
	uintptr_t at = (uintptr_t)gate, page = at & ~(uintptr_t)4095;
	void *p = mmap((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)page) {
		printf("VSP mmap at %p failed\n", (void *)page);
		return 1;
	}
	memcpy((char *)p + (at - page), times5, sizeof times5);
	printf("VSP other code at %p = %ld\n", (void *)at, gate(atol(argv[2])));
	fflush(stdout);
	return 0;
}
