/*
 * qmp.c: QMP, just enough to start and stop the GDB stub (qmp.h).
 *
 * QMP is JSON lines over a Unix socket: a greeting, qmp_capabilities,
 * then commands, with asynchronous events ({"event": ...}) interleaved
 * among the replies; a reply is the first line with "return" or "error".
 */
#include "vmi/qmp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define QMP_LINE_MAX (1u << 20)
#define QMP_TIMEOUT_MS 5000
#define QMP_LINE 8192

static void qmp_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void qmp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* One line into buf (NUL-terminated, newline dropped, cut at size): 0 or
 * -1.  A peer that sends QMP_LINE_MAX bytes without a newline is not QMP. */
static int qmp_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	for (size_t total = 0; total < QMP_LINE_MAX; total++) {
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, QMP_TIMEOUT_MS);
		if (r <= 0)
			return -1;
		char c;
		ssize_t k = read(fd, &c, 1);
		if (k <= 0)
			return -1;
		if (c == '\n') {
			buf[n] = 0;
			return 0;
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	return -1;
}

/* Sends one command and waits for its reply (events skipped). */
static int qmp_cmd(int fd, const char *json, char *reply, size_t size)
{
	size_t len = strlen(json);
	if (write(fd, json, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		return -1;
	for (int i = 0; i < 64; i++) {
		if (qmp_line(fd, reply, size) < 0)
			return -1;
		if (strstr(reply, "\"return\"") || strstr(reply, "\"error\""))
			return strstr(reply, "\"error\"") ? -2 : 0;
	}
	return -1;
}

/* A loopback port nobody listens on now. */
static int qmp_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	int port = -1;
	if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(s);
	return port;
}

int vsp_qmp_open_stub(struct vsp_qmp *q, const char *path, char *err,
		      size_t errlen)
{
	char line[QMP_LINE], cmd[256];
	memset(q, 0, sizeof *q);
	q->fd = -1;
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a.sun_path) {
		qmp_err(err, errlen, "QMP socket path too long: %s", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		qmp_err(err, errlen, "QMP %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (qmp_line(fd, line, sizeof line) < 0 || !strstr(line, "\"QMP\"")) {
		qmp_err(err, errlen, "QMP %s: no QMP greeting", path);
		goto fail;
	}
	if (qmp_cmd(fd, "{\"execute\":\"qmp_capabilities\"}", line, sizeof line)) {
		qmp_err(err, errlen, "QMP %s: qmp_capabilities refused: %.200s", path,
			line);
		goto fail;
	}
	int port = qmp_free_port();
	if (port <= 0) {
		qmp_err(err, errlen, "no free loopback port: %s", strerror(errno));
		goto fail;
	}
	snprintf(cmd, sizeof cmd, "{\"execute\":\"human-monitor-command\","
		 "\"arguments\":{\"command-line\":\"gdbserver tcp:127.0.0.1:%d\"}}",
		 port);
	if (qmp_cmd(fd, cmd, line, sizeof line)) {
		qmp_err(err, errlen, "QMP %s: gdbserver: %.200s", path, line);
		goto fail;
	}
	/* HMP answers in text: success reads "Waiting for gdb connection on
	 * device 'tcp:...'", failure names the problem. */
	if (!strstr(line, "Waiting for gdb")) {
		qmp_err(err, errlen, "QMP %s: gdbserver did not start: %.200s", path,
			line);
		goto fail;
	}
	q->fd = fd;
	q->port = port;
	snprintf(q->target, sizeof q->target, "127.0.0.1:%d", port);
	return 0;
fail:
	close(fd);
	return -1;
}

int vsp_qmp_close_stub(struct vsp_qmp *q, char *err, size_t errlen)
{
	char line[QMP_LINE];
	int rc = 0;
	if (q->fd < 0)
		return 0;
	if (qmp_cmd(q->fd, "{\"execute\":\"human-monitor-command\","
		    "\"arguments\":{\"command-line\":\"gdbserver none\"}}",
		    line, sizeof line)) {
		qmp_err(err, errlen, "QMP: gdbserver none: %.200s", line);
		rc = -1;
	}
	close(q->fd);
	q->fd = -1;
	return rc;
}
