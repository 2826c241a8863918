/*
 * false: a real /bin/false for the guest (busybox's applet would read
 * argv[0], which keeps the old name after an execve redirect, and fail with
 * "applet not found").  Prints "VSP false" so a test sees it ran; exits 1.
 */
#include <stdio.h>

int main(void)
{
	puts("VSP false");
	return 1;
}
