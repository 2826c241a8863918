/*
 * cred_sneak: a credential change along a path the benign flows never
 * take, for the learn-then-enforce test.
 *
 * cred_walk changes credentials through setuid, setresuid and setgid.
 * This program instead calls setfsuid and setreuid (dropping its euid
 * to 1000), which reach
 * commit_creds through __sys_setfsuid and __sys_setreuid: a profile
 * learned from cred_walk has neither, so an enforcing policy stops the
 * call.  Prints "VSP cred_sneak setreuid=R errno=E" so the test can see
 * whether the change went through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <unistd.h>

int main(void)
{
	int rc, e;

	setfsuid(getuid());
	errno = 0;
	/* A real change (euid 0 -> 1000), so commit_creds runs. */
	rc = setreuid(0, 1000);
	e = errno;
	printf("VSP cred_sneak setreuid=%d errno=%d\n", rc, e);
	return 0;
}
