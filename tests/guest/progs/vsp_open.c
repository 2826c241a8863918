/*
 * vsp_open: the guest-side probe for file-open policies.
 *
 * Runs inside the test guest (tests/guest/rig.sh puts it in the
 * initramfs).  Opens each path named on the command line with openat() and
 * prints one line per path that the live tests parse from the serial log:
 *   VSP open PATH ok TEXT        (TEXT: the file's first line, sanitised)
 *   VSP open PATH err NAME NUM   (the errno the kernel, or the monitor, gave)
 * so a test can tell "denied", "allowed" and "redirected to another file".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EROFS: return "EROFS";
	case EINVAL: return "EINVAL";
	default: return "E?";
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int fd = openat(AT_FDCWD, argv[i], O_RDONLY);
		if (fd < 0) {
			int e = errno;
			printf("VSP open %s err %s %d\n", argv[i], errname(e), e);
			continue;
		}
		char buf[64];
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n < 0)
			n = 0;
		buf[n] = 0;
		/* One token, so a test can compare it whole. */
		for (ssize_t k = 0; k < n; k++) {
			if (buf[k] == '\n') {
				buf[k] = 0;
				break;
			}
			if (buf[k] == ' ' || buf[k] < 0x20 || buf[k] > 0x7e)
				buf[k] = '_';
		}
		printf("VSP open %s ok %s\n", argv[i], buf[0] ? buf : "-");
	}
	fflush(stdout);
	return 0;
}
