/*
 * cred_walk: the benign credential flows of the call-path tests.
 *
 * Each round changes credentials the ordinary ways (setuid, setresuid,
 * setgid: each reaches commit_creds through its own syscall), opens a
 * file, and forks a child that exits, so the kernel functions the tests
 * trap (commit_creds, prepare_creds, do_sys_openat2, kernel_clone,
 * do_exit) are called from several distinct paths.  Run as root, every
 * change is to the same ids and succeeds.  Usage: cred_walk [ROUNDS]
 * (default 20); prints "VSP cred_walk ROUNDS ok".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	int bad = 0;

	for (int i = 0; i < rounds; i++) {
		int fd;
		pid_t pid;

		bad |= setuid(getuid()) != 0;
		bad |= setresuid(getuid(), getuid(), getuid()) != 0;
		bad |= setgid(getgid()) != 0;
		fd = open("/etc/hostname", O_RDONLY);
		bad |= fd < 0;
		if (fd >= 0)
			close(fd);
		pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			bad = 1;
	}
	printf("VSP cred_walk %d %s\n", rounds, bad ? "failed" : "ok");
	return bad;
}
