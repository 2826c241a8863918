/*
 * qmp.c: QMP, just enough to start and stop the GDB stub (qmp.h).
 *
 * QMP is JSON lines over a Unix socket: a greeting, qmp_capabilities,
 * then commands, with asynchronous events ({"event": ...}) interleaved
 * among the replies; a reply is the line with "return" or "error" that
 * carries the command's "id" back.
 */
#include "vmi/qmp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define QMP_BYTES (64u << 20)
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

static uint64_t qmp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Reads lines until one satisfies `want` (its text in reply, cut at size,
 * NUL-terminated, newline dropped): 0, or -1 when the peer closes, QMP_BYTES
 * pass or QMP_TIMEOUT_MS run out first.  The stub's stops and resumes each
 * queue an event, thousands over an attach, so lines are skipped by the
 * chunk, not counted.
 */
static int qmp_wait(int fd, bool (*want)(const char *line, const void *arg),
		    const void *arg, char *reply, size_t size)
{
	char chunk[4096];
	size_t n = 0, total = 0;
	uint64_t deadline = qmp_now_ms() + QMP_TIMEOUT_MS;

	reply[0] = 0;
	while (total < QMP_BYTES) {
		uint64_t now = qmp_now_ms();
		if (now >= deadline)
			return -1;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;	/* a signal (the monitor's timer) */
		if (r <= 0)
			return -1;
		ssize_t k = read(fd, chunk, sizeof chunk);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		total += (size_t)k;
		for (ssize_t i = 0; i < k; i++) {
			if (chunk[i] != '\n') {
				if (n + 1 < size)
					reply[n++] = chunk[i];
				continue;
			}
			reply[n] = 0;
			if (want(reply, arg))
				return 0;
			n = 0;
		}
	}
	return -1;
}

static bool qmp_is_greeting(const char *line, const void *arg)
{
	(void)arg;
	return strstr(line, "\"QMP\"") != NULL;
}

/* A reply carries the command's id back: "id": "vsp-N". */
static bool qmp_is_reply(const char *line, const void *arg)
{
	return strstr(line, (const char *)arg) != NULL &&
	       (strstr(line, "\"return\"") || strstr(line, "\"error\""));
}

/* Drops what is already queued (events), without waiting. */
static void qmp_drain(int fd)
{
	char chunk[4096];
	for (size_t total = 0; total < QMP_BYTES;) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 0) <= 0)
			return;
		ssize_t k = read(fd, chunk, sizeof chunk);
		if (k <= 0)
			return;
		total += (size_t)k;
	}
}

/* Sends one command (`args` NULL or a JSON object) and waits for its
 * reply: 0, -2 for a QMP error, -1 for no reply. */
static int qmp_cmd(int fd, const char *execute, const char *args,
		   char *reply, size_t size)
{
	static unsigned seq;
	char cmd[512], id[32];

	qmp_drain(fd);
	snprintf(id, sizeof id, "\"vsp-%u\"", ++seq);
	int len = snprintf(cmd, sizeof cmd, "{\"execute\":\"%s\"%s%s,\"id\":%s}\n",
			   execute, args ? ",\"arguments\":" : "", args ? args : "",
			   id);
	if (len < 0 || (size_t)len >= sizeof cmd ||
	    write(fd, cmd, (size_t)len) != len) {
		snprintf(reply, size, "cannot send the command");
		return -1;
	}
	if (qmp_wait(fd, qmp_is_reply, id, reply, size) < 0) {
		snprintf(reply, size, "no reply in %d ms", QMP_TIMEOUT_MS);
		return -1;
	}
	return strstr(reply, "\"error\"") ? -2 : 0;
}

int vsp_qmp_free_port(void)
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
	if (qmp_wait(fd, qmp_is_greeting, NULL, line, sizeof line) < 0) {
		qmp_err(err, errlen, "QMP %s: no QMP greeting", path);
		goto fail;
	}
	if (qmp_cmd(fd, "qmp_capabilities", NULL, line, sizeof line)) {
		qmp_err(err, errlen, "QMP %s: qmp_capabilities refused: %.200s", path,
			line);
		goto fail;
	}
	int port = vsp_qmp_free_port();
	if (port <= 0) {
		qmp_err(err, errlen, "no free loopback port: %s", strerror(errno));
		goto fail;
	}
	snprintf(cmd, sizeof cmd, "{\"command-line\":\"gdbserver tcp:127.0.0.1:%d\"}",
		 port);
	if (qmp_cmd(fd, "human-monitor-command", cmd, line, sizeof line)) {
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
	if (qmp_cmd(q->fd, "human-monitor-command",
		    "{\"command-line\":\"gdbserver none\"}", line, sizeof line)) {
		qmp_err(err, errlen, "QMP: gdbserver none: %.200s", line);
		rc = -1;
	}
	close(q->fd);
	q->fd = -1;
	return rc;
}
