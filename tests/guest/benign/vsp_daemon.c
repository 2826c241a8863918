/*
 * vsp_daemon: the system programs of the benign workload
 * (tests/guest/benign.t), copied in the guest to the paths the real ones
 * have (/usr/sbin/sshd, /usr/bin/su, /usr/bin/login, /usr/sbin/cron,
 * /usr/sbin/logrotate, /usr/bin/dpkg, /usr/bin/crontab), since the packs
 * trust programs by proc.exe, the path the kernel runs.
 *
 *   vsp_daemon read FILE... [-- SHELL-COMMAND]
 *       read each file whole (a daemon reading its keys, login and su
 *       reading the password hashes), then run the command with /bin/sh
 *   vsp_daemon rotate LOG KEEP
 *       logrotate: LOG.(KEEP-1) deleted, LOG.N renamed LOG.(N+1), LOG
 *       renamed LOG.1, a new empty LOG, LOG.2 compressed by a gzip child
 *   vsp_daemon churn ROOT N
 *       a package manager: N files written under ROOT/usr/share/pkg, a
 *       program installed with its mode set (one set-user-ID), the status
 *       database under ROOT/var/lib/pkg rewritten by rename, a unit file
 *       written, half the files removed again
 *   vsp_daemon write FILE TEXT
 *       write TEXT to FILE (crontab installing a user's table)
 *
 * Prints "VSP daemon ACTION ok" or the first failure with its errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
	printf("VSP daemon %s %s failed: %s\n", what, path, strerror(errno));
	return 1;
}

static int readall(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail("read", path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0 ? fail("read", path) : 0;
}

static int writefile(const char *path, const char *text, int flags, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, mode);

	if (fd < 0)
		return fail("write", path);
	if (write(fd, text, strlen(text)) < 0) {
		close(fd);
		return fail("write", path);
	}
	close(fd);
	return 0;
}

static int do_read(int argc, char **argv)
{
	int i, bad = 0;

	for (i = 2; i < argc && strcmp(argv[i], "--"); i++)
		bad |= readall(argv[i]);
	if (!bad)
		printf("VSP daemon read ok\n");
	fflush(stdout);
	if (i + 1 < argc) {
		execl("/bin/sh", "sh", "-c", argv[i + 1], (char *)NULL);
		return fail("exec", "/bin/sh");
	}
	return bad;
}

static int do_rotate(const char *log, int keep)
{
	char from[512], to[512];
	int n;
	pid_t p;

	snprintf(from, sizeof(from), "%s.%d", log, keep - 1);
	if (unlink(from) < 0 && errno != ENOENT)
		return fail("unlink", from);
	for (n = keep - 2; n >= 1; n--) {
		snprintf(from, sizeof(from), "%s.%d", log, n);
		snprintf(to, sizeof(to), "%s.%d", log, n + 1);
		if (rename(from, to) < 0 && errno != ENOENT)
			return fail("rename", from);
	}
	snprintf(to, sizeof(to), "%s.1", log);
	if (rename(log, to) < 0)
		return fail("rename", log);
	if (writefile(log, "", O_EXCL, 0640))
		return 1;
	snprintf(from, sizeof(from), "%s.2", log);
	if (access(from, F_OK) == 0) {
		p = fork();
		if (p == 0) {
			execl("/bin/gzip", "gzip", "-f", from, (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("VSP daemon gzip %s failed: status %d\n", from, st);
			return 1;
		}
	}
	printf("VSP daemon rotate ok\n");
	return 0;
}

static int do_churn(const char *root, int n)
{
	char dir[512], path[600], tmp[600];
	int i;

	snprintf(dir, sizeof(dir), "%s/usr/share/pkg", root);
	mkdir(dir, 0755);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/file%d.txt", dir, i);
		if (writefile(path, "package data\n", O_TRUNC, 0644))
			return 1;
	}
	snprintf(path, sizeof(path), "%s/usr/bin/pkgtool", root);
	if (writefile(path, "#!/bin/sh\necho VSP pkgtool\n", O_TRUNC, 0644) ||
	    chmod(path, 0755) < 0)
		return fail("install", path);
	snprintf(path, sizeof(path), "%s/usr/bin/pkgsuid", root);
	if (writefile(path, "#!/bin/sh\n", O_TRUNC, 0644) || chmod(path, 04755) < 0)
		return fail("install setuid", path);
	snprintf(path, sizeof(path), "%s/var/lib/pkg/status", root);
	snprintf(tmp, sizeof(tmp), "%s/var/lib/pkg/status-new", root);
	if (writefile(tmp, "Package: pkg\nStatus: installed\n", O_TRUNC, 0644) ||
	    rename(tmp, path) < 0)
		return fail("status", path);
	snprintf(path, sizeof(path), "%s/etc/systemd/system/pkg.service", root);
	if (writefile(path, "[Service]\nExecStart=/usr/bin/pkgtool\n", O_TRUNC, 0644))
		return 1;
	for (i = 0; i < n; i += 2) {
		snprintf(path, sizeof(path), "%s/file%d.txt", dir, i);
		if (unlink(path) < 0)
			return fail("remove", path);
	}
	printf("VSP daemon churn ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "read"))
		return do_read(argc, argv);
	if (argc > 3 && !strcmp(argv[1], "rotate"))
		return do_rotate(argv[2], atoi(argv[3]));
	if (argc > 3 && !strcmp(argv[1], "churn"))
		return do_churn(argv[2], atoi(argv[3]));
	if (argc > 3 && !strcmp(argv[1], "write")) {
		if (writefile(argv[2], argv[3], O_TRUNC, 0600))
			return 1;
		printf("VSP daemon write ok\n");
		return 0;
	}
	fprintf(stderr, "usage: vsp_daemon read|rotate|churn|write ...\n");
	return 2;
}
