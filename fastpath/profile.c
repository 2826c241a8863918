/*
 * profile.c: reads a call-path profile, the file `must arise from profile
 * "F"` names and `--mode learn` writes (fastpath/match.h).
 *
 * The compiler (lang/compile.c) turns its lines into a path set; learn mode
 * (engine/policy.c) reads it back before it rewrites it.  Both go through
 * here so a file is judged one way: a line too long, a NUL byte, a file
 * that is not a regular file are errors with the line they are on, never a
 * pattern cut in two (a cut-off `**` would allow every call path) nor an
 * empty profile (every event denied), and learn mode never writes such
 * damage back.  The file is read whole and at once, opened so that a FIFO
 * or a device cannot block the reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fastpath/match.h"

static int prof_slurp(int fd, size_t hint, char **out, size_t *len)
{
	size_t cap = hint + 1, n = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -1;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > VSP_FP_PROFILE_MAX)
				break;
			nb = realloc(buf, 2 * cap + 1);
			if (!nb) {
				free(buf);
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

static bool prof_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int vsp_fp_profile_read(const char *path, const struct vsp_fp_profile_cb *cb)
{
	char msg[128], *buf;
	size_t len, at = 0;
	struct stat sb;
	int fd, bad = 0, lineno = 0;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		cb->bad(cb->arg, 0, S_ISDIR(sb.st_mode) ? "is a directory"
						      : "is not a regular file");
		return 1;
	}
	if ((uint64_t)sb.st_size > VSP_FP_PROFILE_MAX ||
	    prof_slurp(fd, (size_t)sb.st_size, &buf, &len) < 0) {
		int e = errno;

		close(fd);
		if ((uint64_t)sb.st_size <= VSP_FP_PROFILE_MAX) {
			errno = e;
			return -1;
		}
		snprintf(msg, sizeof msg, "a profile of %lld bytes: the limit is %u",
			 (long long)sb.st_size, VSP_FP_PROFILE_MAX);
		cb->bad(cb->arg, 0, msg);
		return 1;
	}
	close(fd);
	if (len > VSP_FP_PROFILE_MAX) {
		free(buf);
		snprintf(msg, sizeof msg, "a profile of more than %u bytes",
			 VSP_FP_PROFILE_MAX);
		cb->bad(cb->arg, 0, msg);
		return 1;
	}
	while (at < len) {
		char *s = buf + at, *nl = memchr(s, '\n', len - at), *e;
		size_t n = nl ? (size_t)(nl - s) : len - at;

		at += n + (nl != NULL);
		lineno++;
		if (memchr(s, '\0', n)) {
			snprintf(msg, sizeof msg, "a NUL byte at column %zu",
				 (size_t)((char *)memchr(s, '\0', n) - s) + 1);
			cb->bad(cb->arg, lineno, msg);
			bad++;
			continue;
		}
		e = s + n;
		while (e > s && prof_space(e[-1]))
			e--;
		while (s < e && prof_space(*s))
			s++;
		if ((size_t)(e - s) > VSP_FP_PROFILE_LINE_MAX) {
			snprintf(msg, sizeof msg,
				 "a line of %zu bytes: the limit is %d",
				 (size_t)(e - s), VSP_FP_PROFILE_LINE_MAX);
			cb->bad(cb->arg, lineno, msg);
			bad++;
			continue;
		}
		*e = 0;
		if (!*s || (*s == '#' && !cb->comments))
			continue;
		if (cb->line(cb->arg, lineno, s)) {
			free(buf);
			return -1;
		}
	}
	free(buf);
	return bad;
}
