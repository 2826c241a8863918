/*
 * vsp_system: a dynamically linked workload for `on user "libc.so.6":...`.
 *
 *   vsp_system CMD...           system(CMD) for each CMD, in order
 *   vsp_system -u N RET CMD...  system(CMD[0]) every 0.2 s until it returns
 *                               RET (at most N tries: a process that mapped
 *                               libc before vsp attached), then the rest
 *
 * It prints where this process's libc put system() (ASLR moves it per
 * process) and what each call returned, as "VSP" lines for the rig.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void run(const char *cmd)
{
	errno = 0;
	int r = system(cmd);
	if (r == -1)
		printf("VSP system %s = -1 errno %d\n", cmd, errno);
	else
		printf("VSP system %s = %d\n", cmd, r);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int i = 1;

	printf("VSP pid %d system at %p\n", (int)getpid(), (void *)system);
	fflush(stdout);
	if (argc > 3 && strcmp(argv[1], "-u") == 0) {
		int tries = atoi(argv[2]), want = atoi(argv[3]), n, r = -1;
		for (n = 1; n <= tries; n++) {
			r = system(argv[4]);
			if (r == want)
				break;
			usleep(200000);
		}
		printf("VSP system %s = %d after %d\n", argv[4], r, n);
		fflush(stdout);
		i = 5;
	}
	for (; i < argc; i++)
		run(argv[i]);
	return 0;
}
