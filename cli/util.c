/*
 * util.c: small pieces every subcommand shares.
 */
#include "cli/commands.h"
#include "lang/front.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vsp_cli_readable(char *const *files, int n)
{
	for (int i = 0; i < n; i++) {
		/* non-blocking: a FIFO must not hang vsp before the loader
		 * refuses it as not a regular file */
		int fd = open(files[i], O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "vsp: cannot read %s: %s\n", files[i],
				strerror(errno));
			return 2;
		}
		close(fd);
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

int vsp_cli_extern_opt(int c, const char *arg, struct vsp_ext_opts *o)
{
	static const char *dirs[64];
	char *end;
	unsigned long v;

	switch (c) {
	case VSP_CLI_OPT_EXTERN_PATH:
		if (o->ndirs >= sizeof(dirs) / sizeof(dirs[0])) {
			fprintf(stderr, "vsp: at most %zu --extern-path directories\n",
				sizeof(dirs) / sizeof(dirs[0]));
			return -1;
		}
		if (o->dirs && o->dirs != dirs) {
			fprintf(stderr, "vsp: --extern-path given twice over\n");
			return -1;
		}
		dirs[o->ndirs++] = arg;
		o->dirs = dirs;
		return 1;
	case VSP_CLI_OPT_POLICY_PATH:
		if (!arg[0] || vsp_front_add_dir(arg) < 0) {
			fprintf(stderr, "vsp: %s\n", arg[0] ?
				"at most 32 --policy-path directories" :
				"--policy-path takes a directory");
			return -1;
		}
		return 1;
	case VSP_CLI_OPT_EXTERN_ISOLATE:
		o->isolate = true;
		return 1;
	case VSP_CLI_OPT_EXTERN_TIMEOUT:
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || !arg[0] || v == 0 || v > 600000) {
			fprintf(stderr, "vsp: --extern-timeout takes milliseconds, "
				"1 to 600000, not '%s'\n", arg);
			return -1;
		}
		o->timeout_ms = (uint32_t)v;
		return 1;
	default:
		return 0;
	}
}

struct vsp_sink *vsp_cli_open_sink(const char *cmd, const char *spec,
				   enum vsp_audit_format fmt, bool append)
{
	char err[512];
	struct vsp_sink *s = vsp_sink_open(spec, fmt, append, err, sizeof(err));

	if (!s)
		fprintf(stderr, "vsp %s: --audit %s\n", cmd, err);
	return s;
}
