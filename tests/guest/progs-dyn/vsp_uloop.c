/*
 * vsp_uloop: what a trapped user-space function costs, for measure.sh.
 *
 *   vsp_uloop N system CMD   system(CMD) N times (a rule returns at once)
 *   vsp_uloop N getpid       getpid() N times through libc (allowed)
 *
 * Prints "VSP loop N FUNC ms" with the loop's time, as vsp_loop does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Through the PLT into libc, where the trap is. */
pid_t (*volatile get_pid)(void) = getpid;

int main(int argc, char **argv)
{
	struct timespec a, b;
	int n = argc > 2 ? atoi(argv[1]) : 0;
	long sum = 0;

	if (n <= 0 || (strcmp(argv[2], "system") == 0 && argc < 4)) {
		fprintf(stderr, "usage: vsp_uloop N system CMD | N getpid\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		sum += strcmp(argv[2], "system") == 0 ? system(argv[3]) : get_pid();
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("VSP loop %d %s sum %ld ms %ld\n", n, argv[2], sum,
	       (long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000));
	return 0;
}
