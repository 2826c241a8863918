/*
 * gdb.c: the GDB remote serial protocol client (see gdb.h).
 *
 * The GDB backend is the only user.  The design choices come from the
 * stub being untrusted and slow: every read is bounded by a deadline and by
 * VSP_GDB_MAX_PACKET, decoding (escapes, run-length) happens in one pass
 * with the checksum, and memory reads are chunked to the stub's PacketSize
 * with a fallback to page-sized pieces, so a read that runs into an
 * unmapped page still returns the readable prefix.
 */
#include "vmi/gdb.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/hex.h"

#define GDB_PAGE 4096ull
#define GDB_MAX_GARBAGE 65536	/* bytes outside packets before we give up */
#define GDB_MAX_RETRIES 3	/* resends after a NAK, re-reads after a bad sum */

int vsp_gdb_fail(struct vsp_gdb *g, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->err, sizeof g->err, fmt, ap);
	va_end(ap);
	return code;
}

static int64_t gdb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char gdb_hexdig[] = "0123456789abcdef";

int vsp_gdb_init(struct vsp_gdb *g)
{
	memset(g, 0, sizeof *g);
	g->fd = -1;
	g->pkt_max = 1024;
	g->timeout_ms = VSP_GDB_DEFAULT_TIMEOUT_MS;
	g->pkt = malloc(VSP_GDB_MAX_PACKET + 1);
	g->out_cap = 2 * VSP_GDB_MAX_PACKET + 8;
	g->out = malloc(g->out_cap);
	if (!g->pkt || !g->out) {
		free(g->pkt);
		free(g->out);
		g->pkt = g->out = NULL;
		return -ENOMEM;
	}
	g->pkt[0] = 0;
	/* VSP_GDB_DEBUG=1 logs every packet to stderr, for stub problems. */
	const char *dbg = getenv("VSP_GDB_DEBUG");
	g->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
	return 0;
}

void vsp_gdb_release(struct vsp_gdb *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	free(g->pkt);
	free(g->out);
	g->pkt = g->out = NULL;
}

void vsp_gdb_attach_fd(struct vsp_gdb *g, int fd)
{
	g->fd = fd;
	g->in_len = g->in_pos = 0;
}

/*
 * The stub's socket never sits on fd 0, 1 or 2: whatever writes to
 * standard output or error (audit records carry guest-chosen strings)
 * must not reach the stub's command stream.  Returns the descriptor to use.
 */
static int gdb_fd_above_stdio(int fd)
{
	if (fd > 2)
		return fd;
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int err = errno;
	close(fd);
	errno = err;
	return high;
}

int vsp_gdb_connect(struct vsp_gdb *g, const char *hostport, int timeout_ms)
{
	char host[256], port[16];
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || !colon[1] ||
	    strlen(colon + 1) >= sizeof port ||
	    (size_t)(colon - hostport) >= sizeof host)
		return vsp_gdb_fail(g, -EINVAL, "'%s': expected HOST:PORT", hostport);
	size_t hl = colon - hostport;
	const char *h = hostport;
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	strcpy(port, colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return vsp_gdb_fail(g, -EINVAL, "'%s': bad port", hostport);
	long pn = strtol(port, NULL, 10);
	if (pn < 1 || pn > 65535)
		return vsp_gdb_fail(g, -EINVAL, "'%s': the port must be 1 to 65535",
				hostport);

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return vsp_gdb_fail(g, -EHOSTUNREACH, "%s: %s", host, gai_strerror(rc));

	int64_t deadline = gdb_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	int err = ECONNREFUSED;
	for (;;) {
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
					ai->ai_protocol);
			if (fd < 0) {
				err = errno;
				continue;
			}
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				freeaddrinfo(res);
				fd = gdb_fd_above_stdio(fd);
				if (fd < 0)
					return vsp_gdb_fail(g, -errno, "connect %s: %s",
							hostport, strerror(errno));
				vsp_gdb_attach_fd(g, fd);
				return 0;
			}
			err = errno;
			close(fd);
		}
		/* A stub that is still starting refuses; anything else is final. */
		if (err != ECONNREFUSED || gdb_now_ms() >= deadline)
			break;
		usleep(50 * 1000);
	}
	freeaddrinfo(res);
	return vsp_gdb_fail(g, -err, "connect %s: %s", hostport, strerror(err));
}

/* ---------------------------------------------------------------- input */

/* The next raw byte, or a negative code.  deadline < 0: none.  With
 * `intr`, a signal ends the wait with -EINTR. */
static int gdb_getc(struct vsp_gdb *g, int64_t deadline, bool intr)
{
	if (g->in_pos < g->in_len)
		return (unsigned char)g->in[g->in_pos++];
	if (g->fd < 0)
		return vsp_gdb_fail(g, -ENOTCONN, "not connected");
	for (;;) {
		int wait = -1;
		if (deadline >= 0) {
			int64_t left = deadline - gdb_now_ms();
			wait = left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0;
		}
		struct pollfd pfd = { .fd = g->fd, .events = POLLIN };
		int n = poll(&pfd, 1, wait);
		if (n < 0) {
			if (errno == EINTR) {
				if (intr)
					return vsp_gdb_fail(g, -EINTR, "interrupted");
				continue;
			}
			return vsp_gdb_fail(g, -errno, "poll: %s", strerror(errno));
		}
		if (n == 0)
			return vsp_gdb_fail(g, -ETIMEDOUT, "no reply from the stub in time");
		ssize_t r = read(g->fd, g->in, sizeof g->in);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ECONNRESET || errno == EPIPE)
				return vsp_gdb_fail(g, -ENOTCONN, "the stub closed the connection");
			return vsp_gdb_fail(g, -errno, "read: %s", strerror(errno));
		}
		if (r == 0)
			return vsp_gdb_fail(g, -ENOTCONN, "the stub closed the connection");
		g->in_len = (size_t)r;
		g->in_pos = 1;
		return (unsigned char)g->in[0];
	}
}

static int gdb_write_all(struct vsp_gdb *g, const char *p, size_t n)
{
	if (g->fd < 0)
		return vsp_gdb_fail(g, -ENOTCONN, "not connected");
	/* A stub that talks but never reads would block send() forever:
	 * every write waits for room at most the reply timeout. */
	int64_t deadline = gdb_now_ms() + (g->timeout_ms > 0 ? g->timeout_ms : 5000);
	while (n > 0) {
		struct pollfd pfd = { .fd = g->fd, .events = POLLOUT };
		int64_t left = deadline - gdb_now_ms();
		int pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return vsp_gdb_fail(g, -ETIMEDOUT, "the stub stopped reading "
					"what vsp sends");
		ssize_t w = send(g->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
				return vsp_gdb_fail(g, -ENOTCONN, "the stub closed the connection");
			/* A socketpair in tests is not a socket to send(). */
			if (errno == ENOTSOCK) {
				w = write(g->fd, p, n);
				if (w < 0)
					return vsp_gdb_fail(g, -errno, "write: %s", strerror(errno));
			} else {
				return vsp_gdb_fail(g, -errno, "send: %s", strerror(errno));
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads one packet's body after its '$' and decodes it into g->pkt.
 * Returns 0, 1 when the checksum is wrong, or a negative code.
 */
static int gdb_read_body(struct vsp_gdb *g, int64_t deadline, bool intr)
{
	size_t n = 0;
	unsigned sum = 0;
	bool esc = false;
	for (;;) {
		int c = gdb_getc(g, deadline, intr);
		if (c < 0)
			return c;
		if (c == '#' && !esc)
			break;
		if (c == '$') {
			/* A new packet starts: the old one was cut short. */
			n = 0;
			sum = 0;
			esc = false;
			continue;
		}
		sum += (unsigned)c;
		if (esc) {
			if (n >= VSP_GDB_MAX_PACKET)
				return vsp_gdb_fail(g, -EMSGSIZE, "reply longer than %d bytes",
						VSP_GDB_MAX_PACKET);
			g->pkt[n++] = (char)(c ^ 0x20);
			esc = false;
		} else if (c == '}') {
			esc = true;
		} else if (c == '*') {
			int r = gdb_getc(g, deadline, intr);
			if (r < 0)
				return r;
			sum += (unsigned)r;
			if (n == 0)
				return vsp_gdb_fail(g, -EPROTO, "run-length mark with nothing to repeat");
			if (r < 32 || r > 126 || r == '#' || r == '$')
				return vsp_gdb_fail(g, -EPROTO, "bad run-length count 0x%02x", r);
			size_t rep = (size_t)(r - 29);
			if (n + rep > VSP_GDB_MAX_PACKET)
				return vsp_gdb_fail(g, -EMSGSIZE, "reply longer than %d bytes",
						VSP_GDB_MAX_PACKET);
			memset(g->pkt + n, g->pkt[n - 1], rep);
			n += rep;
		} else {
			if (n >= VSP_GDB_MAX_PACKET)
				return vsp_gdb_fail(g, -EMSGSIZE, "reply longer than %d bytes",
						VSP_GDB_MAX_PACKET);
			g->pkt[n++] = (char)c;
		}
	}
	int h = gdb_getc(g, deadline, intr);
	if (h < 0)
		return h;
	int l = gdb_getc(g, deadline, intr);
	if (l < 0)
		return l;
	int hv = vsp_hexval(h), lv = vsp_hexval(l);
	if (hv < 0 || lv < 0)
		return vsp_gdb_fail(g, -EPROTO, "bad checksum digits");
	g->pkt[n] = 0;
	g->pkt_len = n;
	if (g->debug)
		fprintf(stderr, "gdb <- %.200s%s\n", g->pkt, n > 200 ? "..." : "");
	return (unsigned)(hv * 16 + lv) == (sum & 0xff) ? 0 : 1;
}

static int gdb_recv_deadline(struct vsp_gdb *g, int64_t deadline, bool intr)
{
	size_t garbage = 0;
	int bad = 0;
	for (;;) {
		int c = gdb_getc(g, deadline, intr);
		if (c < 0)
			return c;
		if (c == '+' || c == '-')
			continue;	/* a stray ack */
		if (c != '$' && c != '%') {
			if (++garbage > GDB_MAX_GARBAGE)
				return vsp_gdb_fail(g, -EPROTO, "stub sends bytes outside packets");
			continue;
		}
		int rc = gdb_read_body(g, deadline, intr);
		if (rc < 0)
			return rc;
		if (c == '%')
			continue;	/* a non-stop notification: not used */
		if (rc == 1) {
			if (g->noack || ++bad > GDB_MAX_RETRIES)
				return vsp_gdb_fail(g, -EPROTO, "bad checksum in reply");
			int w = gdb_write_all(g, "-", 1);
			if (w < 0)
				return w;
			continue;
		}
		if (!g->noack) {
			int w = gdb_write_all(g, "+", 1);
			if (w < 0)
				return w;
		}
		return 0;
	}
}

int vsp_gdb_recv(struct vsp_gdb *g, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : gdb_now_ms() + timeout_ms;
	return gdb_recv_deadline(g, deadline, false);
}

/* --------------------------------------------------------------- output */

/* Frames payload into g->out; returns the frame's length or < 0. */
static long gdb_frame(struct vsp_gdb *g, const char *payload, size_t len)
{
	if (!g->out)
		return vsp_gdb_fail(g, -ENOMEM, "client not initialised");
	if (2 * len + 4 > g->out_cap)
		return vsp_gdb_fail(g, -EMSGSIZE, "request too long");
	/* Every packet vsp sends is printable text, guest bytes only ever as
	 * hex digits: anything else is a bug that must not reach the stub. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)payload[i] < 0x20 || (unsigned char)payload[i] > 0x7e)
			return vsp_gdb_fail(g, -EINVAL, "refusing to send a non-text packet");
	size_t n = 0;
	unsigned sum = 0;
	g->out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)payload[i];
		if (c == '$' || c == '#' || c == '}' || c == '*') {
			g->out[n++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		g->out[n++] = (char)c;
		sum += c;
	}
	g->out[n++] = '#';
	g->out[n++] = gdb_hexdig[(sum >> 4) & 0xf];
	g->out[n++] = gdb_hexdig[sum & 0xf];
	if (g->debug)
		fprintf(stderr, "gdb -> %.*s%s\n", (int)(len > 200 ? 200 : len),
			payload, len > 200 ? "..." : "");
	return (long)n;
}

int vsp_gdb_send(struct vsp_gdb *g, const char *payload, size_t len)
{
	long framed = gdb_frame(g, payload, len);
	if (framed < 0)
		return (int)framed;
	size_t n = (size_t)framed;
	for (int tries = 0;; tries++) {
		int rc = gdb_write_all(g, g->out, n);
		if (rc < 0)
			return rc;
		if (g->noack)
			return 0;
		int64_t deadline = gdb_now_ms() + g->timeout_ms;
		size_t garbage = 0;
		for (;;) {
			int c = gdb_getc(g, deadline, false);
			if (c < 0)
				return c;
			if (c == '+')
				return 0;
			if (c == '-')
				break;
			if (c == '$') {
				/* The reply came without an ack: take it as one. */
				g->in_pos--;
				return 0;
			}
			if (++garbage > GDB_MAX_GARBAGE)
				return vsp_gdb_fail(g, -EPROTO, "no ack from the stub");
		}
		if (tries >= GDB_MAX_RETRIES)
			return vsp_gdb_fail(g, -EPROTO, "the stub keeps rejecting a packet");
	}
}

static bool gdb_is_output(const char *p, size_t n)
{
	if (n < 3 || p[0] != 'O' || (n - 1) % 2)
		return false;
	for (size_t i = 1; i < n; i++)
		if (vsp_hexval((unsigned char)p[i]) < 0)
			return false;
	return true;
}

static void gdb_deliver_output(struct vsp_gdb *g)
{
	char text[VSP_GDB_MAX_PACKET / 2];
	size_t m = 0;
	for (size_t i = 1; i + 1 < g->pkt_len && m < sizeof text; i += 2)
		text[m++] = (char)(vsp_hexval((unsigned char)g->pkt[i]) * 16 +
				   vsp_hexval((unsigned char)g->pkt[i + 1]));
	if (g->on_output)
		g->on_output(g->output_ctx, text, m);
}

/* The reply in g->pkt is the stub's error, Exx. */
static bool gdb_is_error(const struct vsp_gdb *g)
{
	return g->pkt_len == 3 && g->pkt[0] == 'E' &&
	       vsp_hexval((unsigned char)g->pkt[1]) >= 0 &&
	       vsp_hexval((unsigned char)g->pkt[2]) >= 0;
}

int vsp_gdb_request(struct vsp_gdb *g, const char *payload)
{
	int rc = vsp_gdb_send(g, payload, strlen(payload));
	if (rc < 0)
		return rc;
	int64_t deadline = gdb_now_ms() + g->timeout_ms;
	for (;;) {
		rc = gdb_recv_deadline(g, deadline, false);
		if (rc < 0)
			return rc;
		if (!gdb_is_output(g->pkt, g->pkt_len))
			break;
		gdb_deliver_output(g);
	}
	g->round_trips++;
	if (g->pkt_len == 0)
		return vsp_gdb_fail(g, -ENOTSUP, "'%.20s' not supported by the stub", payload);
	if (gdb_is_error(g))
		return vsp_gdb_fail(g, -EIO, "'%.20s': stub error %s", payload, g->pkt);
	return 0;
}

static int gdb_expect_ok(struct vsp_gdb *g, const char *payload)
{
	int rc = vsp_gdb_request(g, payload);
	if (rc < 0)
		return rc;
	if (strcmp(g->pkt, "OK") != 0)
		return vsp_gdb_fail(g, -EPROTO, "'%.20s': unexpected reply '%.20s'",
				payload, g->pkt);
	return 0;
}

/* ------------------------------------------------------------ handshake */

int vsp_gdb_handshake(struct vsp_gdb *g, struct vsp_gdb_stop *stop)
{
	int rc = vsp_gdb_request(g, "qSupported:swbreak+;hwbreak+");
	bool noack_offered = false;
	/* A stub that stops a running guest when we connect (QEMU does)
	 * may report that stop before answering: the answer comes next. */
	struct vsp_gdb_stop early;
	for (int i = 0; i < 4 && rc == 0 &&
	     vsp_gdb_parse_stop(g->pkt, g->pkt_len, &early) == 0; i++) {
		rc = gdb_recv_deadline(g, gdb_now_ms() + g->timeout_ms, false);
		if (rc == 0 && g->pkt_len == 0)
			rc = -ENOTSUP;
	}
	if (rc == 0) {
		char *save = NULL;
		for (char *f = strtok_r(g->pkt, ";", &save); f;
		     f = strtok_r(NULL, ";", &save)) {
			if (strncmp(f, "PacketSize=", 11) == 0) {
				char *end;
				errno = 0;
				unsigned long long v = strtoull(f + 11, &end, 16);
				if (errno == 0 && *end == 0 && end != f + 11)
					g->pkt_max = v < 64 ? 64 :
						v > VSP_GDB_MAX_PACKET ? VSP_GDB_MAX_PACKET : v;
			} else if (strcmp(f, "QStartNoAckMode+") == 0) {
				noack_offered = true;
			}
		}
	} else if (rc != -ENOTSUP) {
		return rc;
	}
	if (noack_offered) {
		rc = gdb_expect_ok(g, "QStartNoAckMode");
		if (rc == 0)
			g->noack = true;
		else if (rc != -ENOTSUP && rc != -EIO)
			return rc;
	}
	rc = vsp_gdb_request(g, "?");
	if (rc < 0)
		return rc;
	struct vsp_gdb_stop tmp;
	rc = vsp_gdb_parse_stop(g->pkt, g->pkt_len, stop ? stop : &tmp);
	if (rc < 0)
		return vsp_gdb_fail(g, rc, "'?': unexpected reply '%.20s'", g->pkt);
	if ((stop ? stop : &tmp)->thread)
		g->cur_thread = (stop ? stop : &tmp)->thread;
	/* Whether a step can leave the other vCPUs stopped.  A stub without
	 * vCont answers empty: `s` it is. */
	rc = vsp_gdb_request(g, "vCont?");
	if (rc == 0 && strncmp(g->pkt, "vCont", 5) == 0) {
		char *save = NULL;
		for (char *f = strtok_r(g->pkt + 5, ";", &save); f;
		     f = strtok_r(NULL, ";", &save))
			if (strcmp(f, "s") == 0)
				g->vcont_step = true;
	} else if (rc < 0 && rc != -ENOTSUP && rc != -EIO) {
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ registers */

static long gdb_unhex(struct vsp_gdb *g, const char *p, size_t n, uint8_t *buf,
		      size_t max)
{
	if (n % 2)
		return vsp_gdb_fail(g, -EPROTO, "odd number of hex digits");
	if (n / 2 > max)
		return vsp_gdb_fail(g, -EPROTO, "reply longer than asked for");
	for (size_t i = 0; i < n; i += 2) {
		/* 'xx' marks a register the stub cannot read. */
		if (p[i] == 'x' && p[i + 1] == 'x') {
			buf[i / 2] = 0;
			continue;
		}
		int h = vsp_hexval((unsigned char)p[i]);
		int l = vsp_hexval((unsigned char)p[i + 1]);
		if (h < 0 || l < 0)
			return vsp_gdb_fail(g, -EPROTO, "bad hex digit in reply");
		buf[i / 2] = (uint8_t)(h * 16 + l);
	}
	return (long)(n / 2);
}

long vsp_gdb_regs_read(struct vsp_gdb *g, uint8_t *buf, size_t max)
{
	int rc = vsp_gdb_request(g, "g");
	if (rc < 0)
		return rc;
	return gdb_unhex(g, g->pkt, g->pkt_len, buf, max);
}

int vsp_gdb_regs_write(struct vsp_gdb *g, const uint8_t *buf, size_t len)
{
	if (2 * len + 2 > g->pkt_max || 2 * len + 2 > VSP_GDB_MAX_PACKET)
		return vsp_gdb_fail(g, -EMSGSIZE, "register block larger than a packet");
	char req[2 * 1024 + 2];
	if (2 * len + 2 > sizeof req)
		return vsp_gdb_fail(g, -EMSGSIZE, "register block too large");
	req[0] = 'G';
	for (size_t i = 0; i < len; i++) {
		req[1 + 2 * i] = gdb_hexdig[buf[i] >> 4];
		req[2 + 2 * i] = gdb_hexdig[buf[i] & 0xf];
	}
	req[1 + 2 * len] = 0;
	return gdb_expect_ok(g, req);
}

int vsp_gdb_reg_write(struct vsp_gdb *g, unsigned regno, const uint8_t *buf,
		      size_t len)
{
	char req[64];
	int n = snprintf(req, sizeof req, "P%x=", regno);

	if (len > (sizeof req - (size_t)n - 1) / 2)
		return vsp_gdb_fail(g, -EMSGSIZE, "register value too large");
	for (size_t i = 0; i < len; i++) {
		req[n + 2 * i] = gdb_hexdig[buf[i] >> 4];
		req[n + 2 * i + 1] = gdb_hexdig[buf[i] & 0xf];
	}
	req[n + 2 * len] = 0;
	return gdb_expect_ok(g, req);
}

int vsp_gdb_select_thread(struct vsp_gdb *g, uint32_t thread)
{
	char req[32];
	snprintf(req, sizeof req, "Hg%" PRIx32, thread);
	int rc = gdb_expect_ok(g, req);
	if (rc == 0)
		g->cur_thread = thread;
	return rc;
}

/* --------------------------------------------------------------- memory */

/* The largest read one m request may ask for. */
static size_t gdb_read_chunk(const struct vsp_gdb *g)
{
	size_t lim = g->pkt_max < VSP_GDB_MAX_PACKET ? g->pkt_max : VSP_GDB_MAX_PACKET;
	size_t c = (lim - 8) / 2;
	return c < 16 ? 16 : c;
}

/* One m request: bytes read (maybe fewer than asked), or negative. */
static long gdb_read_once(struct vsp_gdb *g, uint64_t addr, uint8_t *buf,
			  size_t len)
{
	char req[48];
	snprintf(req, sizeof req, "m%" PRIx64 ",%zx", addr, len);
	int rc = vsp_gdb_request(g, req);
	if (rc < 0)
		return rc;
	return gdb_unhex(g, g->pkt, g->pkt_len, buf, len);
}

long vsp_gdb_mem_read(struct vsp_gdb *g, uint64_t addr, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t done = 0, chunk = gdb_read_chunk(g);
	while (done < len) {
		size_t want = len - done < chunk ? len - done : chunk;
		uint64_t a = addr + done;
		long n = gdb_read_once(g, a, p + done, want);
		if (n == -EIO) {
			/* Maybe only a later page is unmapped: retry up to the
			 * page end so the readable prefix comes back. */
			size_t to_page = (size_t)(GDB_PAGE - (a & (GDB_PAGE - 1)));
			if (to_page < want)
				n = gdb_read_once(g, a, p + done, to_page);
		}
		if (n < 0) {
			if (n == -EIO)
				break;
			return n;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (done == 0 && len > 0)
		return vsp_gdb_fail(g, -EFAULT, "guest memory at 0x%" PRIx64 " not readable",
				addr);
	return (long)done;
}

size_t vsp_gdb_read_chunk(const struct vsp_gdb *g)
{
	return gdb_read_chunk(g);
}

int vsp_gdb_mem_read_many(struct vsp_gdb *g, struct vsp_gdb_read *r, size_t n)
{
	size_t chunk = gdb_read_chunk(g);
	if (n > VSP_GDB_READ_MANY_MAX)
		return vsp_gdb_fail(g, -EINVAL, "more than %d reads at once",
				VSP_GDB_READ_MANY_MAX);
	for (size_t i = 0; i < n; i++)
		if (r[i].len == 0 || r[i].len > chunk)
			return vsp_gdb_fail(g, -EINVAL, "a read of %zu bytes in a batch",
					r[i].len);
	/* Sent without waiting for acks: the stub acks each packet as it
	 * takes it, before its reply, and the reader skips acks. */
	for (size_t i = 0; i < n; i++) {
		char req[48];
		int len = snprintf(req, sizeof req, "m%" PRIx64 ",%zx", r[i].addr,
				   r[i].len);
		long framed = gdb_frame(g, req, (size_t)len);
		int rc = framed < 0 ? (int)framed :
			 gdb_write_all(g, g->out, (size_t)framed);
		if (rc < 0)
			return rc;
	}
	/* The stub answers in order; all replies share one deadline. */
	int64_t deadline = gdb_now_ms() + g->timeout_ms;
	for (size_t i = 0; i < n; i++) {
		for (;;) {
			int rc = gdb_recv_deadline(g, deadline, false);
			if (rc < 0)
				return rc;
			if (!gdb_is_output(g->pkt, g->pkt_len))
				break;
			gdb_deliver_output(g);
		}
		if (gdb_is_error(g)) {
			r[i].got = -EIO;
			continue;
		}
		if (g->pkt_len == 0)
			return vsp_gdb_fail(g, -EPROTO, "an empty reply to m");
		r[i].got = gdb_unhex(g, g->pkt, g->pkt_len, r[i].buf, r[i].len);
		if (r[i].got < 0)
			return (int)r[i].got;	/* out of step: the rest is lost */
	}
	g->round_trips++;
	return 0;
}

int vsp_gdb_mem_write(struct vsp_gdb *g, uint64_t addr, const void *buf,
		      size_t len)
{
	const uint8_t *p = buf;
	size_t lim = g->pkt_max < VSP_GDB_MAX_PACKET ? g->pkt_max : VSP_GDB_MAX_PACKET;
	size_t chunk = lim > 64 ? (lim - 40) / 2 : 8;
	if (chunk > 2048)
		chunk = 2048;
	char req[48 + 2 * 2048];
	size_t done = 0;
	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		int k = snprintf(req, sizeof req, "M%" PRIx64 ",%zx:", addr + done, n);
		for (size_t i = 0; i < n; i++) {
			req[k++] = gdb_hexdig[p[done + i] >> 4];
			req[k++] = gdb_hexdig[p[done + i] & 0xf];
		}
		req[k] = 0;
		int rc = gdb_expect_ok(g, req);
		if (rc < 0)
			return rc == -EIO ? vsp_gdb_fail(g, -EFAULT,
				"guest memory at 0x%" PRIx64 " not writable", addr + done) : rc;
		done += n;
	}
	return 0;
}

/* ---------------------------------------------------- breakpoints, run */

int vsp_gdb_break_insert(struct vsp_gdb *g, uint64_t addr)
{
	char req[40];
	snprintf(req, sizeof req, "Z0,%" PRIx64 ",1", addr);
	return gdb_expect_ok(g, req);
}

int vsp_gdb_break_remove(struct vsp_gdb *g, uint64_t addr)
{
	char req[40];
	snprintf(req, sizeof req, "z0,%" PRIx64 ",1", addr);
	return gdb_expect_ok(g, req);
}

int vsp_gdb_watch_insert(struct vsp_gdb *g, uint64_t addr, uint64_t len)
{
	char req[60];
	if (len == 0)
		return -EINVAL;
	snprintf(req, sizeof req, "Z2,%" PRIx64 ",%" PRIx64, addr, len);
	return gdb_expect_ok(g, req);
}

int vsp_gdb_watch_remove(struct vsp_gdb *g, uint64_t addr, uint64_t len)
{
	char req[60];
	snprintf(req, sizeof req, "z2,%" PRIx64 ",%" PRIx64, addr, len);
	return gdb_expect_ok(g, req);
}

static int gdb_resume(struct vsp_gdb *g, char cmd, bool at, uint64_t addr)
{
	char req[40];
	if (at)
		snprintf(req, sizeof req, "%c%" PRIx64, cmd, addr);
	else
		snprintf(req, sizeof req, "%c", cmd);
	return vsp_gdb_send(g, req, strlen(req));
}

int vsp_gdb_continue(struct vsp_gdb *g, bool at, uint64_t addr)
{
	return gdb_resume(g, 'c', at, addr);
}

int vsp_gdb_step(struct vsp_gdb *g, bool at, uint64_t addr)
{
	return gdb_resume(g, 's', at, addr);
}

int vsp_gdb_step_thread(struct vsp_gdb *g, uint32_t thread)
{
	if (!g->vcont_step || !thread)
		return gdb_resume(g, 's', false, 0);
	char req[32];
	snprintf(req, sizeof req, "vCont;s:%" PRIx32, thread);
	return vsp_gdb_send(g, req, strlen(req));
}

int vsp_gdb_interrupt(struct vsp_gdb *g)
{
	return gdb_write_all(g, "\x03", 1);
}

/* ---------------------------------------------------------------- stops */

static int gdb_parse_hex_u64(const char *p, size_t n, uint64_t *out)
{
	if (n == 0 || n > 16)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = vsp_hexval((unsigned char)p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

int vsp_gdb_parse_stop(const char *p, size_t len, struct vsp_gdb_stop *st)
{
	memset(st, 0, sizeof *st);
	if (len < 3)
		return -EPROTO;
	uint64_t v;
	if (gdb_parse_hex_u64(p + 1, 2, &v) < 0)
		return -EPROTO;
	st->sig = (int)v;
	switch (p[0]) {
	case 'S':
		st->kind = VSP_GDB_STOP_SIGNAL;
		return len == 3 ? 0 : -EPROTO;
	case 'W':
		st->kind = VSP_GDB_STOP_EXITED;
		return len == 3 || p[3] == ';' ? 0 : -EPROTO;
	case 'X':
		st->kind = VSP_GDB_STOP_KILLED;
		return len == 3 || p[3] == ';' ? 0 : -EPROTO;
	case 'T':
		st->kind = VSP_GDB_STOP_SIGNAL;
		break;
	default:
		return -EPROTO;
	}
	/* T: n:r; pairs.  Unknown keys and register values are skipped. */
	size_t i = 3;
	while (i < len) {
		size_t k = i;
		while (k < len && p[k] != ':' && p[k] != ';')
			k++;
		if (k >= len || p[k] != ':')
			return -EPROTO;
		size_t vstart = k + 1, e = vstart;
		while (e < len && p[e] != ';')
			e++;
		size_t klen = k - i, vlen = e - vstart;
		const char *key = p + i, *val = p + vstart;
		if (klen == 6 && memcmp(key, "thread", 6) == 0) {
			/* "p<pid>.<tid>" in multiprocess form: keep the tid. */
			const char *dot = memchr(val, '.', vlen);
			if (dot) {
				vlen -= (size_t)(dot + 1 - val);
				val = dot + 1;
			}
			if (gdb_parse_hex_u64(val, vlen, &v) < 0 || v > UINT32_MAX)
				return -EPROTO;
			st->thread = (uint32_t)v;
		} else if (klen == 7 && memcmp(key, "swbreak", 7) == 0) {
			st->swbreak = true;
		} else if (klen == 7 && memcmp(key, "hwbreak", 7) == 0) {
			st->hwbreak = true;
		} else if ((klen == 5 && memcmp(key, "watch", 5) == 0) ||
			   (klen == 6 && memcmp(key, "rwatch", 6) == 0) ||
			   (klen == 6 && memcmp(key, "awatch", 6) == 0)) {
			st->watch = true;
			if (gdb_parse_hex_u64(val, vlen, &st->watch_addr) < 0)
				return -EPROTO;
		}
		if (e >= len)
			return -EPROTO;	/* every pair ends with ';' */
		i = e + 1;
	}
	return 0;
}

int vsp_gdb_wait_stop(struct vsp_gdb *g, struct vsp_gdb_stop *stop,
		      int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : gdb_now_ms() + timeout_ms;
	for (;;) {
		int rc = gdb_recv_deadline(g, deadline, true);
		if (rc < 0)
			return rc;
		if (gdb_is_output(g->pkt, g->pkt_len)) {
			gdb_deliver_output(g);
			continue;
		}
		g->round_trips++;
		rc = vsp_gdb_parse_stop(g->pkt, g->pkt_len, stop);
		if (rc < 0)
			return vsp_gdb_fail(g, rc, "unexpected reply while running: '%.20s'",
					g->pkt);
		if (stop->thread)
			g->cur_thread = stop->thread;
		return 0;
	}
}
