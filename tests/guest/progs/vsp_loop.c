/*
 * vsp_loop: a syscall-heavy guest workload for timing and detach tests.
 *
 *   vsp_loop N PATH [SLEEP_MS]
 * opens and closes PATH N times (a trap per open when a policy names
 * openat), sleeping SLEEP_MS between rounds when given, and prints
 *   VSP loop N ok OK err ERR ms MS
 * so a test sees that the whole run completed and how long it took inside
 * the guest.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: vsp_loop N PATH [SLEEP_MS]\n");
		return 2;
	}
	long n = atol(argv[1]);
	long sleep_ms = argc > 3 ? atol(argv[3]) : 0;
	long ok = 0, err = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int fd = openat(AT_FDCWD, argv[2], O_RDONLY);
		if (fd >= 0) {
			ok++;
			close(fd);
		} else {
			err++;
		}
		if (sleep_ms > 0)
			usleep(sleep_ms * 1000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("VSP loop %ld ok %ld err %ld ms %ld\n", n, ok, err, ms);
	fflush(stdout);
	return 0;
}
