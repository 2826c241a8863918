/*
 * vsp_static: a statically linked program, for `on user "/bin/vsp_static":`
 * on a function only its .symtab names (no dynamic symbols).
 *
 *   vsp_static N...   vsp_static_gate(N) for each N
 *
 * Prints what each call returned, as "VSP" lines for the rig, and errno
 * after a call that returned -1 (a deny sets it in the thread's TLS).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Called through a volatile pointer so the call is not folded away. */
__attribute__((noinline)) long vsp_static_gate(long x)
{
	return x * 3;
}

long (*volatile gate)(long) = vsp_static_gate;

int main(int argc, char **argv)
{
	printf("VSP pid %d gate at %p\n", (int)getpid(), (void *)vsp_static_gate);
	for (int i = 1; i < argc; i++) {
		errno = 0;
		long r = gate(atol(argv[i]));
		int e = errno;
		if (r == -1)
			printf("VSP static %s = -1 errno %d\n", argv[i], e);
		else
			printf("VSP static %s = %ld\n", argv[i], r);
	}
	fflush(stdout);
	return 0;
}
