/*
 * sink.c: audit sinks, files, the journal and syslog (see sink.h).
 *
 * The syslog framing follows RFC 5424: "<PRI>1 TIMESTAMP HOSTNAME vsp
 * PROCID audit [vsp@32473 ...] MSG", facility auth (4), the severity from
 * the record, TIMESTAMP the record's time cut to microseconds (RFC 5424
 * allows six fractional digits), the structured data naming the VM, rule,
 * verdict and sequence number (32473 is the private enterprise number
 * RFC 5612 sets aside for examples), and MSG the JSON record.  Over TCP
 * each message is prefixed by its length and a space (RFC 6587 octet
 * counting), so records with newlines inside cannot split.
 */
#include "interp/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef VSP_HAVE_SYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "interp/json.h"

#define SINK_HDR 2048
/* journald's native socket (sd_journal_sendv writes here). */
#define SINK_JOURNAL "/run/systemd/journal/socket"

struct vsp_sink {
	enum vsp_sink_kind kind;
	enum vsp_audit_format fmt;
	char hostname[256];
	/* FILE */
	FILE *f;
	bool own_f;
	char *path;
	bool trunc_pending;	/* opened to truncate, not truncated yet */
	/* syslog */
	int fd;
	int socktype;		/* SOCK_DGRAM or SOCK_STREAM */
	bool tcp;		/* octet-counted framing */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char hdr[SINK_HDR];
	/* journal: VSP_RECORD= needs the JSON behind its name */
	struct vsp_jbuf rec;
};

bool vsp_sink_have_journal(void)
{
#ifdef VSP_HAVE_SYSTEMD
	return true;
#else
	return false;
#endif
}

int vsp_audit_format_parse(const char *s, enum vsp_audit_format *out)
{
	if (strcmp(s, "vsp") == 0)
		*out = VSP_AUDIT_FMT_VSP;
	else if (strcmp(s, "falco") == 0)
		*out = VSP_AUDIT_FMT_FALCO;
	else
		return -1;
	return 0;
}

static struct vsp_sink *sink_new(enum vsp_sink_kind kind,
				 enum vsp_audit_format fmt)
{
	struct vsp_sink *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->kind = kind;
	s->fmt = fmt;
	s->fd = -1;
	vsp_jbuf_init(&s->rec);
	if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0 ||
	    !s->hostname[0])
		strcpy(s->hostname, "-");
	return s;
}

struct vsp_sink *vsp_sink_stream(FILE *f, enum vsp_audit_format fmt)
{
	struct vsp_sink *s = sink_new(VSP_SINK_FILE, fmt);

	if (s)
		s->f = f;
	return s;
}

/* --- sockets ------------------------------------------------------- */

static int sock_connect(struct vsp_sink *s)
{
	int fd = socket(s->addr.ss_family, s->socktype | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&s->addr, s->addrlen) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT", numeric or by name. */
static int sock_resolve(struct vsp_sink *s, const char *hp, char *err,
			size_t errlen)
{
	char host[256];
	const char *port;
	size_t hl;

	if (hp[0] == '[') {
		const char *e = strchr(hp, ']');
		if (!e || e[1] != ':') {
			snprintf(err, errlen, "'%s': want [ADDRESS]:PORT", hp);
			return -1;
		}
		hl = (size_t)(e - hp - 1);
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, hp + 1, hl);
		port = e + 2;
	} else {
		const char *c = strrchr(hp, ':');
		if (!c || c == hp) {
			snprintf(err, errlen, "'%s': want HOST:PORT", hp);
			return -1;
		}
		hl = (size_t)(c - hp);
		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, hp, hl);
		port = c + 1;
	}
	host[hl] = 0;
	struct addrinfo hints = { .ai_socktype = s->socktype }, *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "'%s': %s", hp, gai_strerror(rc));
		return -1;
	}
	memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
	s->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int open_syslog(struct vsp_sink *s, const char *spec, char *err,
		       size_t errlen)
{
	const char *rest = NULL;

	if (strcmp(spec, "syslog") == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&s->addr;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, "/dev/log");
		s->addrlen = sizeof(*un);
		s->socktype = SOCK_DGRAM;
		int rc = sock_connect(s);
		if (rc == -EPROTOTYPE) {
			/* A stream /dev/log takes newline-ended messages. */
			s->socktype = SOCK_STREAM;
			rc = sock_connect(s);
		}
		if (rc < 0) {
			snprintf(err, errlen, "/dev/log: %s", strerror(-rc));
			return -1;
		}
		return 0;
	}
	if (strncmp(spec, "syslog://", 9) == 0) {
		rest = spec + 9;
		s->socktype = SOCK_DGRAM;
	} else if (strncmp(spec, "syslog+udp://", 13) == 0) {
		rest = spec + 13;
		s->socktype = SOCK_DGRAM;
	} else if (strncmp(spec, "syslog+tcp://", 13) == 0) {
		rest = spec + 13;
		s->socktype = SOCK_STREAM;
		s->tcp = true;
	} else {
		snprintf(err, errlen, "'%s': want syslog, syslog://HOST:PORT "
			 "or syslog+tcp://HOST:PORT", spec);
		return -1;
	}
	if (sock_resolve(s, rest, err, errlen) < 0)
		return -1;
	int rc = sock_connect(s);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", rest, strerror(-rc));
		return -1;
	}
	return 0;
}

struct vsp_sink *vsp_sink_open(const char *spec, enum vsp_audit_format fmt,
			       bool append, char *err, size_t errlen)
{
	struct vsp_sink *s;

	if (strcmp(spec, "-") == 0)
		return vsp_sink_stream(stdout, fmt);
	if (strcmp(spec, "journal") == 0) {
		if (!vsp_sink_have_journal()) {
			snprintf(err, errlen, "journal: this vsp was built "
				 "without libsystemd");
			return NULL;
		}
		/* sd_journal_sendv drops records without a word when no
		 * journal listens: refuse here, check again per write. */
		if (access(SINK_JOURNAL, F_OK) < 0) {
			snprintf(err, errlen, "journal: no journald at %s: %s",
				 SINK_JOURNAL, strerror(errno));
			return NULL;
		}
		s = sink_new(VSP_SINK_JOURNAL, fmt);
		if (!s)
			snprintf(err, errlen, "%s", strerror(ENOMEM));
		return s;
	}
	if (strcmp(spec, "syslog") == 0 || strncmp(spec, "syslog:", 7) == 0 ||
	    strncmp(spec, "syslog+", 7) == 0) {
		s = sink_new(VSP_SINK_SYSLOG, fmt);
		if (!s) {
			snprintf(err, errlen, "%s", strerror(ENOMEM));
			return NULL;
		}
		if (open_syslog(s, spec, err, errlen) < 0) {
			vsp_sink_close(s);
			return NULL;
		}
		return s;
	}
	s = sink_new(VSP_SINK_FILE, fmt);
	if (!s || !(s->path = strdup(spec))) {
		free(s);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return NULL;
	}
	/* Never truncated at open: a run that fails before its first
	 * record must leave what the file held (vsp_sink_start). */
	s->f = fopen(spec, "ae");
	s->trunc_pending = !append;
	if (!s->f) {
		snprintf(err, errlen, "cannot write %s: %s", spec, strerror(errno));
		free(s->path);
		free(s);
		return NULL;
	}
	s->own_f = true;
	return s;
}

/* --- writing ------------------------------------------------------- */

static size_t put(char *dst, size_t at, size_t cap, const char *src, size_t n)
{
	if (at >= cap)
		return at;
	if (n > cap - at)
		n = cap - at;
	memcpy(dst + at, src, n);
	return at + n;
}

static size_t put_s(char *dst, size_t at, size_t cap, const char *src)
{
	return put(dst, at, cap, src, strlen(src));
}

static size_t put_u(char *dst, size_t at, size_t cap, uint64_t v)
{
	char t[24];
	int n = 0;

	do {
		t[sizeof(t) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(dst, at, cap, t + sizeof(t) - n, (size_t)n);
}

/* An RFC 5424 PARAM-VALUE: '"', '\' and ']' escaped, at most 128 bytes. */
static size_t put_sdval(char *dst, size_t at, size_t cap, const char *v)
{
	for (size_t i = 0; v[i] && i < 128; i++) {
		if (v[i] == '"' || v[i] == '\\' || v[i] == ']')
			at = put(dst, at, cap, "\\", 1);
		at = put(dst, at, cap, v + i, 1);
	}
	return at;
}

/* The RFC 5424 header and structured data, up to MSG. */
static size_t syslog_header(struct vsp_sink *s, const struct vsp_audit_rec *r)
{
	char *h = s->hdr;
	size_t cap = sizeof(s->hdr), n = 0;
	int level = r->level < 0 ? 0 : r->level > 7 ? 7 : r->level;

	n = put_s(h, n, cap, "<");
	n = put_u(h, n, cap, 4 * 8 + (unsigned)level);	/* facility auth */
	n = put_s(h, n, cap, ">1 ");
	/* 2026-12-01T20:26:02.123456789Z -> 2026-12-01T20:26:02.123456Z */
	if (r->time && strlen(r->time) == 30) {
		n = put(h, n, cap, r->time, 26);
		n = put_s(h, n, cap, "Z ");
	} else {
		n = put_s(h, n, cap, "- ");
	}
	n = put(h, n, cap, s->hostname, strnlen(s->hostname, 255));
	n = put_s(h, n, cap, " vsp ");
	n = put_u(h, n, cap, (uint64_t)getpid());
	n = put_s(h, n, cap, " audit [vsp@32473 vm=\"");
	n = put_sdval(h, n, cap, r->vm ? r->vm : "");
	n = put_s(h, n, cap, "\" rule=\"");
	n = put_sdval(h, n, cap, r->rule ? r->rule : "");
	n = put_s(h, n, cap, "\" verdict=\"");
	n = put_sdval(h, n, cap, r->verdict ? r->verdict : "");
	n = put_s(h, n, cap, "\" seq=\"");
	n = put_u(h, n, cap, r->seq);
	n = put_s(h, n, cap, "\"] ");
	return n;
}

static int send_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int syslog_send(struct vsp_sink *s, const struct vsp_audit_rec *r,
		       size_t hl)
{
	size_t body = r->len && r->line[r->len - 1] == '\n' ? r->len - 1 : r->len;
	char lenp[24];
	struct iovec iov[4];
	int n = 0;

	if (s->tcp) {
		size_t ln = put_u(lenp, 0, sizeof(lenp) - 1, hl + body);
		lenp[ln++] = ' ';
		iov[n++] = (struct iovec){ lenp, ln };
	}
	iov[n++] = (struct iovec){ s->hdr, hl };
	iov[n++] = (struct iovec){ (char *)r->line, body };
	if (s->socktype == SOCK_STREAM && !s->tcp)
		iov[n++] = (struct iovec){ "\n", 1 };
	if (s->socktype == SOCK_STREAM)
		return send_all(s->fd, iov, n);
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	for (;;) {
		if (sendmsg(s->fd, &mh, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static int write_syslog(struct vsp_sink *s, const struct vsp_audit_rec *r)
{
	size_t hl = syslog_header(s, r);
	int rc = s->fd >= 0 ? syslog_send(s, r, hl) : -ENOTCONN;

	/* A restarted receiver: connect again, once. */
	if (rc < 0 && rc != -EMSGSIZE && sock_connect(s) == 0)
		rc = syslog_send(s, r, hl);
	return rc;
}

#ifdef VSP_HAVE_SYSTEMD
static int write_journal(struct vsp_sink *s, const struct vsp_audit_rec *r)
{
	char msg[1100], prio[16], vm[300], rule[300], verdict[40], seq[40],
	     when[48];
	struct iovec iov[10];
	int n = 0;

#define FIELD(buf, name, val) do { \
		snprintf(buf, sizeof(buf), name "=%s", (val)); \
		iov[n++] = (struct iovec){ buf, strlen(buf) }; \
	} while (0)
	FIELD(msg, "MESSAGE", r->msg ? r->msg : "");
	snprintf(prio, sizeof(prio), "PRIORITY=%d", r->level);
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ "SYSLOG_IDENTIFIER=vsp", 21 };
	FIELD(vm, "VSP_VM", r->vm ? r->vm : "");
	if (r->rule)
		FIELD(rule, "VSP_RULE", r->rule);
	if (r->verdict)
		FIELD(verdict, "VSP_VERDICT", r->verdict);
	snprintf(seq, sizeof(seq), "VSP_SEQ=%llu", (unsigned long long)r->seq);
	iov[n++] = (struct iovec){ seq, strlen(seq) };
	FIELD(when, "VSP_TIME", r->time ? r->time : "");
#undef FIELD
	size_t body = r->len && r->line[r->len - 1] == '\n' ? r->len - 1 : r->len;
	s->rec.len = 0;
	vsp_jbuf_raw(&s->rec, "VSP_RECORD=", 11);
	vsp_jbuf_raw(&s->rec, r->line, body);
	if (s->rec.oom)
		return -ENOMEM;
	iov[n++] = (struct iovec){ s->rec.p, s->rec.len };
	int rc = sd_journal_sendv(iov, n);
	if (rc == 0 && access(SINK_JOURNAL, F_OK) < 0)
		rc = -errno;	/* journald went away: nothing was written */
	return rc < 0 ? rc : 0;
}
#endif

int vsp_sink_start(struct vsp_sink *s)
{
	if (!s || !s->trunc_pending)
		return 0;
	s->trunc_pending = false;
	struct stat st;
	if (fflush(s->f) != 0)
		return errno ? -errno : -EIO;
	/* A device or pipe (/dev/full, /dev/stdout) has nothing to empty. */
	if (fstat(fileno(s->f), &st) == 0 && !S_ISREG(st.st_mode))
		return 0;
	if (ftruncate(fileno(s->f), 0) < 0)
		return errno ? -errno : -EIO;
	return 0;
}

int vsp_sink_write(struct vsp_sink *s, const struct vsp_audit_rec *r)
{
	int rc;

	switch (s->kind) {
	case VSP_SINK_FILE:
		if (s->trunc_pending && (rc = vsp_sink_start(s)) < 0)
			return rc;
		if (fwrite(r->line, 1, r->len, s->f) != r->len)
			return errno ? -errno : -EIO;
		return 0;
	case VSP_SINK_SYSLOG:
		return write_syslog(s, r);
	case VSP_SINK_JOURNAL:
#ifdef VSP_HAVE_SYSTEMD
		return write_journal(s, r);
#else
		return -ENOSYS;
#endif
	}
	return -EINVAL;
}

int vsp_sink_fd(const struct vsp_sink *s)
{
	if (!s)
		return -1;
	if (s->kind == VSP_SINK_FILE)
		return s->f ? fileno(s->f) : -1;
	return s->kind == VSP_SINK_SYSLOG ? s->fd : -1;
}

void vsp_sink_keep(struct vsp_sink *s)
{
	if (s)
		s->trunc_pending = false;
}

int vsp_sink_flush(struct vsp_sink *s)
{
	if (s->kind == VSP_SINK_FILE && fflush(s->f) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

int vsp_sink_reopen(struct vsp_sink *s)
{
	if (s->kind == VSP_SINK_SYSLOG)
		return sock_connect(s);
	if (s->kind != VSP_SINK_FILE || !s->path)
		return 0;
	FILE *nf = fopen(s->path, "ae");
	if (!nf)
		return -errno;
	int rc = fflush(s->f) != 0 ? -errno : 0;
	fclose(s->f);
	s->f = nf;
	return rc;
}

int vsp_sink_close(struct vsp_sink *s)
{
	int rc = 0;

	if (!s)
		return 0;
	if (s->f) {
		if (fflush(s->f) != 0)
			rc = errno ? -errno : -EIO;
		if (s->own_f && fclose(s->f) != 0 && !rc)
			rc = errno ? -errno : -EIO;
	}
	if (s->fd >= 0)
		close(s->fd);
	vsp_jbuf_release(&s->rec);
	free(s->path);
	free(s);
	return rc;
}

enum vsp_sink_kind vsp_sink_kind(const struct vsp_sink *s)
{
	return s->kind;
}

enum vsp_audit_format vsp_sink_format(const struct vsp_sink *s)
{
	return s->fmt;
}

const char *vsp_sink_hostname(const struct vsp_sink *s)
{
	return s->hostname;
}
