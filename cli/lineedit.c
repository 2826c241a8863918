/*
 * lineedit.c: the command reader of `vsp repl` (see lineedit.h).
 *
 * libedit reads one line at a time; this file gathers the lines of one
 * command (vsp_repl_incomplete), keeps the history file, turns Tab into
 * the session's completion and Ctrl-C into "drop this line".  libedit
 * reads the terminal through our own read function, which also watches a
 * stop pipe, so a live session that ends can end a prompt that waits.
 */
#include "cli/lineedit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#ifdef VSP_HAVE_EDIT
#include <histedit.h>
#endif

#include "base/repl.h"

#define EDIT_LINE_MAX 65536	/* one command, all its lines */

volatile sig_atomic_t vsp_edit_interrupted;

struct vsp_edit {
	FILE *in, *out;
	struct vsp_edit_opts o;
	char *buf;		/* the command being gathered */
	size_t len, cap;
	bool more;		/* inside a command that spans lines */
	char *raw;		/* getline's buffer (no libedit) */
	size_t rawcap;
	/* vsp_edit_serve */
	bool served;
	pthread_t thread;
	int cmd_w;		/* the pipe the thread writes commands into */
	int ready[2];		/* the session's "answered" bytes */
	int stop[2];		/* written by vsp_edit_finish */
#ifdef VSP_HAVE_EDIT
	EditLine *el;
	History *hist;
	HistEvent hev;
#endif
};

static void edit_on_sigint(int sig)
{
	(void)sig;
	vsp_edit_interrupted = 1;
}

void vsp_edit_sigint(bool on)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on ? edit_on_sigint : SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the read under the prompt must see it. */
	sigaction(SIGINT, &sa, NULL);
}

const char *vsp_edit_history_path(const char *arg)
{
	static char path[4096];
	if (arg)
		return arg;
	const char *env = getenv("VSP_HISTORY");
	if (env)
		return env;
	const char *home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	if ((size_t)snprintf(path, sizeof path, "%s/.vsp_history", home) >= sizeof path)
		return NULL;
	return path;
}

void vsp_edit_offer(struct vsp_edit_cands *c, const char *word, size_t n)
{
	if (n == (size_t)-1)
		n = strlen(word);
	if (n < c->plen || strncmp(word, c->prefix, c->plen) != 0)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->v[i]) == n && strncmp(c->v[i], word, n) == 0)
			return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		char **v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return;
		c->v = v;
		c->cap = cap;
	}
	char *s = strndup(word, n);
	if (s)
		c->v[c->n++] = s;
}

static void edit_cands_release(struct vsp_edit_cands *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	memset(c, 0, sizeof *c);
}

static int edit_append(struct vsp_edit *e, const char *s, size_t n)
{
	if (e->len + n + 2 > EDIT_LINE_MAX)
		return -1;
	if (e->len + n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap : 256;
		while (cap < e->len + n + 2)
			cap *= 2;
		char *b = realloc(e->buf, cap);
		if (!b)
			return -1;
		e->buf = b;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = 0;
	return 0;
}

/* One line read; 1: the command is whole, 0: more lines, -1: too long. */
static int edit_take(struct vsp_edit *e, const char *line, size_t n)
{
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (e->more && edit_append(e, "\n", 1) < 0)
		return -1;
	if (edit_append(e, line, n) < 0)
		return -1;
	e->more = vsp_repl_incomplete(e->buf, e->len);
	return e->more ? 0 : 1;
}

#ifdef VSP_HAVE_EDIT

static struct vsp_edit *edit_of(EditLine *el)
{
	void *p = NULL;
	el_get(el, EL_CLIENTDATA, &p);
	return p;
}

static char *edit_prompt(EditLine *el)
{
	struct vsp_edit *e = edit_of(el);
	return (char *)(e->more ? e->o.prompt_more : e->o.prompt);
}

/* libedit's read: one character from the terminal, or the end when the
 * session stops us; a SIGINT returns -1 so el_gets gives up the line. */
static int edit_getc(EditLine *el, wchar_t *wc)
{
	struct vsp_edit *e = edit_of(el);
	int fd = fileno(e->in);
	unsigned char b[MB_LEN_MAX];
	size_t n = 0;

	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = e->served ? e->stop[0] : -1, .events = POLLIN },
		};
		if (vsp_edit_interrupted)
			return -1;
		int k = poll(pf, 2, -1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pf[1].revents)
			return 0;
		ssize_t r = read(fd, b + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? 0 : -1;
		n++;
		mbstate_t st;
		memset(&st, 0, sizeof st);
		size_t c = mbrtowc(wc, (const char *)b, n, &st);
		if (c == (size_t)-2 && n < sizeof b)
			continue;	/* more bytes of one character */
		if (c == (size_t)-1 || c == (size_t)-2)
			*wc = b[0];
		return 1;
	}
}

static void edit_columns(struct vsp_edit *e, struct vsp_edit_cands *c)
{
	size_t w = 0;
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->v[i]) > w)
			w = strlen(c->v[i]);
	w += 2;
	size_t cols = 80 / w ? 80 / w : 1;
	fputc('\n', e->out);
	size_t shown = c->n > 200 ? 200 : c->n;
	for (size_t i = 0; i < shown; i++)
		fprintf(e->out, "%-*s%s", (int)w, c->v[i],
			(i + 1) % cols == 0 || i + 1 == shown ? "\n" : "");
	if (shown < c->n)
		fprintf(e->out, "... and %zu more\n", c->n - shown);
	fflush(e->out);
}

static int edit_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Tab: the one candidate is written out, several share their longest
 * common part, and a second Tab with nothing to add lists them. */
static unsigned char edit_complete(EditLine *el, int ch)
{
	struct vsp_edit *e = edit_of(el);
	const LineInfo *li = el_line(el);
	/* The earlier lines of the command come first, so the event named
	 * on one line gives the fields on the next. */
	size_t before = e->more ? e->len + 1 : 0;
	size_t cur = (size_t)(li->cursor - li->buffer);
	char *line = malloc(before + cur + 1);
	unsigned char rc = CC_REFRESH;
	(void)ch;

	if (!line || !e->o.complete) {
		free(line);
		return CC_ERROR;
	}
	if (before) {
		memcpy(line, e->buf, e->len);
		line[e->len] = '\n';
	}
	memcpy(line + before, li->buffer, cur);
	cur += before;
	line[cur] = 0;
	size_t start = cur;
	while (start > before && line[start - 1] != ' ' && line[start - 1] != '\t')
		start--;
	struct vsp_edit_cands c;
	memset(&c, 0, sizeof c);
	e->o.complete(e->o.ctx, line, &start, &c);
	if (start > cur)
		start = cur;
	c.prefix = line + start;
	c.plen = cur - start;
	/* The callback offered before the prefix was fixed: filter now. */
	size_t k = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (strncmp(c.v[i], c.prefix, c.plen) == 0)
			c.v[k++] = c.v[i];
		else
			free(c.v[i]);
	}
	c.n = k;
	if (c.n == 0) {
		rc = CC_ERROR;
		goto out;
	}
	qsort(c.v, c.n, sizeof *c.v, edit_cmp);
	size_t common = strlen(c.v[0]);
	for (size_t i = 1; i < c.n; i++) {
		size_t j = 0;
		while (j < common && c.v[i][j] == c.v[0][j])
			j++;
		common = j;
	}
	if (common > c.plen) {
		char *add = strndup(c.v[0] + c.plen, common - c.plen);
		if (add)
			el_insertstr(el, add);
		free(add);
	}
	if (c.n == 1) {
		size_t l = strlen(c.v[0]);
		if (l && c.v[0][l - 1] != '/' && c.v[0][l - 1] != '.')
			el_insertstr(el, " ");
	} else if (common <= c.plen) {
		edit_columns(e, &c);
		rc = CC_REDISPLAY;
	}
out:
	edit_cands_release(&c);
	free(line);
	return rc;
}

static void edit_history_save(struct vsp_edit *e)
{
	if (!e->hist || !e->o.history || !*e->o.history)
		return;
	/* Private: commands may name what the administrator looks for. */
	int fd = open(e->o.history, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	history(e->hist, &e->hev, H_SAVE, e->o.history);
}

static int edit_el_open(struct vsp_edit *e)
{
	e->el = el_init("vsp", e->in, e->out, stderr);
	if (!e->el)
		return -1;
	e->hist = history_init();
	if (e->hist) {
		history(e->hist, &e->hev, H_SETSIZE,
			e->o.history_size > 0 ? e->o.history_size : 1000);
		history(e->hist, &e->hev, H_SETUNIQUE, 1);
		if (e->o.history && *e->o.history)
			history(e->hist, &e->hev, H_LOAD, e->o.history);
		el_set(e->el, EL_HIST, history, e->hist);
	}
	el_set(e->el, EL_CLIENTDATA, e);
	el_set(e->el, EL_EDITOR, "emacs");
	el_set(e->el, EL_PROMPT, edit_prompt);
	el_set(e->el, EL_GETCFN, edit_getc);
	el_set(e->el, EL_ADDFN, "vsp-complete", "complete a command, event, "
	       "field or file name", edit_complete);
	el_set(e->el, EL_BIND, "^I", "vsp-complete", NULL);
	el_set(e->el, EL_BIND, "^R", "em-inc-search-prev", NULL);
	/* ~/.editrc may rebind keys, as in every libedit program. */
	el_source(e->el, NULL);
	return 0;
}

static int edit_read_el(struct vsp_edit *e, const char **cmd, size_t *len)
{
	for (;;) {
		int n = 0;
		const char *l = el_gets(e->el, &n);
		if (vsp_edit_interrupted) {
			/* Ctrl-C: the line, and any earlier lines of its
			 * command, are dropped. */
			vsp_edit_interrupted = 0;
			fputs("^C\n", e->out);
			fflush(e->out);
			e->len = 0;
			e->more = false;
			continue;
		}
		if (!l || n <= 0) {
			if (e->more) {
				/* Ctrl-D in the middle: what was typed goes. */
				fputc('\n', e->out);
				e->more = false;
				if (e->len)
					goto whole;
			}
			fputc('\n', e->out);
			fflush(e->out);
			return 0;
		}
		int rc = edit_take(e, l, (size_t)n);
		if (rc < 0) {
			fprintf(e->out, "command too long: dropped\n");
			e->len = 0;
			e->more = false;
			continue;
		}
		if (rc == 0)
			continue;
whole:
		if (e->hist && e->len) {
			/* One entry per command; its lines joined, so a recalled
			 * rule is one line to edit. */
			char *h = strndup(e->buf, e->len);
			if (h) {
				for (char *p = h; *p; p++)
					if (*p == '\n')
						*p = ' ';
				history(e->hist, &e->hev, H_ENTER, h);
				free(h);
				edit_history_save(e);
			}
		}
		*cmd = e->buf;
		*len = e->len;
		return 1;
	}
}

#endif /* VSP_HAVE_EDIT */

static int edit_read_plain(struct vsp_edit *e, const char **cmd, size_t *len)
{
	for (;;) {
		errno = 0;
		ssize_t n = getline(&e->raw, &e->rawcap, e->in);
		if (n < 0) {
			if (errno == EINTR && !feof(e->in)) {
				clearerr(e->in);
				vsp_edit_interrupted = 0;
				continue;
			}
			if (e->more && e->len) {
				/* The input ended inside a command: it is run as
				 * it is, and says what it lacks. */
				e->more = false;
				*cmd = e->buf;
				*len = e->len;
				return 1;
			}
			return 0;
		}
		int rc = edit_take(e, e->raw, (size_t)n);
		if (rc < 0) {
			fprintf(e->out, "command too long: dropped\n");
			fflush(e->out);
			e->len = 0;
			e->more = false;
			continue;
		}
		if (rc == 0)
			continue;
		*cmd = e->buf;
		*len = e->len;
		return 1;
	}
}

struct vsp_edit *vsp_edit_open(FILE *in, FILE *out, const struct vsp_edit_opts *o)
{
	struct vsp_edit *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->in = in;
	e->out = out;
	e->o = *o;
	if (!e->o.prompt)
		e->o.prompt = "vsp> ";
	if (!e->o.prompt_more)
		e->o.prompt_more = "...> ";
	e->cmd_w = e->ready[0] = e->ready[1] = e->stop[0] = e->stop[1] = -1;
#ifdef VSP_HAVE_EDIT
	if (isatty(fileno(in)) && isatty(fileno(out)) && edit_el_open(e) < 0) {
		free(e);
		return NULL;
	}
#endif
	return e;
}

bool vsp_edit_interactive(const struct vsp_edit *e)
{
#ifdef VSP_HAVE_EDIT
	return e->el != NULL;
#else
	(void)e;
	return false;
#endif
}

int vsp_edit_read(struct vsp_edit *e, const char **cmd, size_t *len)
{
	vsp_edit_interrupted = 0;	/* a Ctrl-C that stopped a command */
	e->len = 0;
	e->more = false;
	if (e->buf)
		e->buf[0] = 0;
#ifdef VSP_HAVE_EDIT
	if (e->el)
		return edit_read_el(e, cmd, len);
#endif
	return edit_read_plain(e, cmd, len);
}

void vsp_edit_close(struct vsp_edit *e)
{
	if (!e)
		return;
#ifdef VSP_HAVE_EDIT
	if (e->el) {
		edit_history_save(e);
		el_end(e->el);
	}
	if (e->hist)
		history_end(e->hist);
#endif
	free(e->buf);
	free(e->raw);
	free(e);
}

/* ------------------------------------------------------- a live session */

/* Waits for the session's "answered" (or the stop); false: stop. */
static bool edit_wait_ready(struct vsp_edit *e)
{
	for (;;) {
		struct pollfd pf[2] = {
			{ .fd = e->ready[0], .events = POLLIN },
			{ .fd = e->stop[0], .events = POLLIN },
		};
		int k = poll(pf, 2, -1);
		if (k < 0 && errno == EINTR) {
			/* Ctrl-C while a command runs (tail -f): the session
			 * hears of it as a line of its own, "\x03". */
			if (vsp_edit_interrupted && e->cmd_w >= 0) {
				ssize_t w = write(e->cmd_w, "\x03\n", 2);
				(void)w;
				/* after the terminal's own "^C" */
				fputc('\n', e->out);
				fflush(e->out);
			}
			vsp_edit_interrupted = 0;
			continue;
		}
		if (k < 0 || pf[1].revents)
			return false;
		char b[64];
		if (read(e->ready[0], b, sizeof b) > 0)
			return true;
	}
}

static bool edit_write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

static void *edit_thread(void *arg)
{
	struct vsp_edit *e = arg;
	const char *cmd;
	size_t len;

	while (edit_wait_ready(e) && vsp_edit_read(e, &cmd, &len) == 1) {
		/* The session gathers the lines of one command again by the
		 * same rule, so they travel as typed. */
		if (!edit_write_all(e->cmd_w, cmd, len) ||
		    !edit_write_all(e->cmd_w, "\n", 1))
			break;
	}
	close(e->cmd_w);
	e->cmd_w = -1;
	return NULL;
}

int vsp_edit_serve(struct vsp_edit *e, int *fd)
{
	int cmd[2];
	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(e->ready, O_CLOEXEC | O_NONBLOCK) < 0)
		goto out_cmd;
	if (pipe2(e->stop, O_CLOEXEC) < 0)
		goto out_ready;
	e->cmd_w = cmd[1];
	e->served = true;
	int err = pthread_create(&e->thread, NULL, edit_thread, e);
	if (err) {
		errno = err;
		e->served = false;
		goto out_stop;
	}
	*fd = cmd[0];
	return 0;
out_stop:
	close(e->stop[0]);
	close(e->stop[1]);
out_ready:
	close(e->ready[0]);
	close(e->ready[1]);
out_cmd:
	close(cmd[0]);
	close(cmd[1]);
	e->cmd_w = e->ready[0] = e->ready[1] = e->stop[0] = e->stop[1] = -1;
	return -1;
}

void vsp_edit_ready(void *arg)
{
	struct vsp_edit *e = arg;
	if (e && e->served) {
		ssize_t w = write(e->ready[1], "r", 1);
		(void)w;	/* full: one is waiting already */
	}
}

void vsp_edit_finish(struct vsp_edit *e)
{
	if (!e)
		return;
	if (e->served) {
		ssize_t w = write(e->stop[1], "s", 1);
		(void)w;
		pthread_join(e->thread, NULL);
		close(e->stop[0]);
		close(e->stop[1]);
		close(e->ready[0]);
		close(e->ready[1]);
	}
	vsp_edit_close(e);
}
