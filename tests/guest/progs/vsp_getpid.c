/*
 * vsp_getpid: the guest-side probe for `return` verdicts.
 *
 * Calls getpid() and getppid() through syscall(2) (libc must not answer
 * from a cache) and prints "VSP getpid N" and "VSP getppid N": a policy
 * that returns a constant from getpid shows up as that constant.
 */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	printf("VSP getpid %ld\n", syscall(SYS_getpid));
	printf("VSP getppid %ld\n", syscall(SYS_getppid));
	fflush(stdout);
	return 0;
}
