/*
 * vsp_race: tries to slip a path past a check made at syscall entry.
 *
 *   vsp_race N
 * One thread keeps rewriting a buffer between "/etc/hostname" and
 * "/etc/shadow" while the main thread opens the buffer N times.  A monitor
 * that reads the user's string at entry may check one name while the
 * kernel then copies the other.  Prints
 *   VSP race N hostname H shadow S denied D other O
 * where S counts opens that read the shadow file's content: with a deny
 * rule on /etc/shadow and `vsp attach --pin-paths` it must stay 0.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[64] = "/etc/hostname";
static atomic_int stop;

static void *flipper(void *arg)
{
	(void)arg;
	/* Each name holds for a while, so both are seen at entry and at the
	 * copy, in every combination. */
	while (!atomic_load(&stop)) {
		memcpy(buf, "/etc/shadow", 12);
		__asm__ volatile("" ::: "memory");	/* both stores happen */
		for (volatile int i = 0; i < 3000; i++)
			;
		memcpy(buf, "/etc/hostname", 14);
		__asm__ volatile("" ::: "memory");
		for (volatile int i = 0; i < 3000; i++)
			;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	long host = 0, shadow = 0, denied = 0, other = 0;
	pthread_t th;
	pthread_create(&th, NULL, flipper, NULL);
	for (long i = 0; i < n; i++) {
		int fd = open(buf, O_RDONLY);
		if (fd < 0) {
			denied++;
			continue;
		}
		char c[8] = { 0 };
		ssize_t r = read(fd, c, 4);
		close(fd);
		if (r == 4 && memcmp(c, "root", 4) == 0)
			shadow++;
		else if (r == 4 && memcmp(c, "vspg", 4) == 0)
			host++;
		else
			other++;
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	printf("VSP race %ld hostname %ld shadow %ld denied %ld other %ld\n",
	       n, host, shadow, denied, other);
	fflush(stdout);
	return 0;
}
