/*
 * util.c: small pieces every subcommand shares.
 */
#include "cli/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int vsp_cli_readable(char *const *files, int n)
{
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "r");
		if (!f) {
			fprintf(stderr, "vsp: cannot read %s: %s\n", files[i],
				strerror(errno));
			return 2;
		}
		fclose(f);
	}
	return 0;
}

FILE *vsp_cli_open_out(const char *path)
{
	if (strcmp(path, "-") == 0)
		return stdout;
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "vsp: cannot write %s: %s\n", path,
			strerror(errno));
	return f;
}

uint64_t vsp_cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int vsp_cli_guard_stdio(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* open() takes the lowest free descriptor: this one. */
		int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (null < 0)
			return -1;
		if (null != fd) {
			dup2(null, fd);
			close(null);
		}
	}
	return 0;
}
