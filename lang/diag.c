/*
 * diag.c: diagnostics as queued records, printed with source and caret.
 *
 * The lexer, parser, front end, checker and compiler all report here and
 * keep going, so one run shows every problem.  A record is a severity, a
 * location and a message; a note attaches to the record before it.  The
 * same record reported twice (a macro body checked once per rule that uses
 * it) is kept once, with its notes.
 *
 * Printing sorts records by the order the sources were loaded, then line
 * and column, keeping each note with its record, and shows the source line
 * with `^~~~` under the located text:
 *
 *   a.vsp:3:12: error: unknown syscall 'opnat'; did you mean 'openat'?
 *       on syscall opnat
 *                  ^~~~~
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "lang/diag.h"

void vsp_diags_init(struct vsp_diags *d)
{
	memset(d, 0, sizeof *d);
}

void vsp_diags_release(struct vsp_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].msg);
		free((char *)d->v[i].loc.file);
	}
	free(d->v);
	free(d->seen);
	memset(d, 0, sizeof *d);
}

static bool diag_same_file(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static size_t diag_hash(enum vsp_diag_level level, const struct vsp_loc *loc,
			const char *msg)
{
	size_t h = (size_t)level * 31 + (size_t)loc->line * 131 +
		   (size_t)loc->col;
	const char *p;

	for (p = loc->file ? loc->file : ""; *p; p++)
		h = h * 33 + (unsigned char)*p;
	for (p = msg; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return h;
}

static bool diag_equal(const struct vsp_diag *r, enum vsp_diag_level level,
		       const struct vsp_loc *loc, const char *msg)
{
	return r->level == level && r->loc.line == loc->line &&
	       r->loc.col == loc->col && diag_same_file(r->loc.file, loc->file) &&
	       strcmp(r->msg, msg) == 0;
}

/* Records are hashed so a policy with thousands of errors stays fast. */
static bool diag_is_dup(struct vsp_diags *d, enum vsp_diag_level level,
			const struct vsp_loc *loc, const char *msg)
{
	size_t i, mask;

	if (!d->seen_size)
		return false;
	mask = d->seen_size - 1;
	for (i = diag_hash(level, loc, msg) & mask; d->seen[i];
	     i = (i + 1) & mask)
		if (diag_equal(&d->v[d->seen[i] - 1], level, loc, msg))
			return true;
	return false;
}

static void diag_remember(struct vsp_diags *d, size_t idx)
{
	const struct vsp_diag *r = &d->v[idx];
	size_t i, j, mask;

	if ((d->n + 1) * 2 > d->seen_size) {
		size_t size = d->seen_size ? d->seen_size * 2 : 64;
		size_t *seen = calloc(size, sizeof *seen);

		if (!seen)
			return;		/* no dedupe: still correct output */
		free(d->seen);
		d->seen = seen;
		d->seen_size = size;
		/* rehash every record but notes */
		for (j = 0; j < d->n; j++) {
			const struct vsp_diag *o = &d->v[j];

			if (j == idx || o->level == VSP_DIAG_NOTE)
				continue;
			for (i = diag_hash(o->level, &o->loc, o->msg) & (size - 1);
			     seen[i]; i = (i + 1) & (size - 1))
				;
			seen[i] = j + 1;
		}
	}
	mask = d->seen_size - 1;
	for (i = diag_hash(r->level, &r->loc, r->msg) & mask; d->seen[i];
	     i = (i + 1) & mask)
		;
	d->seen[i] = idx + 1;
}

static void diag_add(struct vsp_diags *d, enum vsp_diag_level level,
		     const struct vsp_loc *loc, const char *fmt, va_list ap)
{
	static const struct vsp_loc noloc;
	struct vsp_diag *r;
	char *msg = NULL;

	if (!loc)
		loc = &noloc;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	if (level == VSP_DIAG_NOTE) {
		if (d->drop_notes) {
			free(msg);
			return;
		}
	} else {
		d->drop_notes = diag_is_dup(d, level, loc, msg);
		if (d->drop_notes) {
			free(msg);
			return;
		}
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct vsp_diag *v = realloc(d->v, cap * sizeof *v);

		if (!v) {
			free(msg);
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	r = &d->v[d->n++];
	r->level = level;
	r->loc = *loc;
	r->loc.file = loc->file ? strdup(loc->file) : NULL;
	r->msg = msg;
	if (level == VSP_DIAG_ERROR)
		d->errors++;
	else if (level == VSP_DIAG_WARNING)
		d->warnings++;
	if (level != VSP_DIAG_NOTE)
		diag_remember(d, d->n - 1);
}

void vsp_diag_error(struct vsp_diags *d, const struct vsp_loc *loc,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, VSP_DIAG_ERROR, loc, fmt, ap);
	va_end(ap);
}

void vsp_diag_warning(struct vsp_diags *d, const struct vsp_loc *loc,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, VSP_DIAG_WARNING, loc, fmt, ap);
	va_end(ap);
}

void vsp_diag_note(struct vsp_diags *d, const struct vsp_loc *loc,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, VSP_DIAG_NOTE, loc, fmt, ap);
	va_end(ap);
}

/* A group is a record and the notes after it; groups sort as units. */
struct diag_group {
	size_t first, n;
	size_t file_rank;
	int line, col;
};

static const struct vsp_diags *diag_sort_ctx;

static size_t diag_file_rank(const struct vsp_diags *d, const char *file)
{
	size_t i;

	if (!file)
		return (size_t)-1;
	for (i = 0; i < d->nsources; i++)
		if (strcmp(d->sources[i]->path, file) == 0)
			return i;
	return d->nsources;
}

static int diag_group_cmp(const void *pa, const void *pb)
{
	const struct diag_group *a = pa, *b = pb;

	if (a->file_rank != b->file_rank)
		return a->file_rank < b->file_rank ? -1 : 1;
	if (a->file_rank == diag_sort_ctx->nsources) {
		/* files that were never loaded (command-line files that could
		 * not be read): by name */
		int c = strcmp(diag_sort_ctx->v[a->first].loc.file,
			       diag_sort_ctx->v[b->first].loc.file);
		if (c)
			return c;
	}
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	/* keep report order: qsort is not stable */
	return a->first < b->first ? -1 : a->first > b->first;
}

/* Where each line of a source starts, built once per print. */
struct diag_lines {
	const struct vsp_source *src;
	size_t *start;		/* start[i]: offset of line i + 1 */
	size_t n;
};

static void diag_lines_build(struct diag_lines *l, const struct vsp_source *src)
{
	size_t i, n = 1;

	l->src = src;
	for (i = 0; i < src->len; i++)
		n += src->text[i] == '\n';
	l->start = malloc(n * sizeof *l->start);
	l->n = 0;
	if (!l->start)
		return;
	l->start[l->n++] = 0;
	for (i = 0; i < src->len; i++)
		if (src->text[i] == '\n')
			l->start[l->n++] = i + 1;
}

/* Finds line `line` (1-based); sets *len to its length without the
 * newline. */
static const char *diag_line(const struct diag_lines *l, int line,
			     size_t *len)
{
	const char *p, *end = l->src->text + l->src->len, *nl;

	if (line < 1 || (size_t)line > l->n)
		return NULL;
	p = l->src->text + l->start[line - 1];
	nl = memchr(p, '\n', (size_t)(end - p));
	*len = (size_t)((nl ? nl : end) - p);
	if (*len && p[*len - 1] == '\r')
		(*len)--;
	return p;
}

static void diag_print_source(const struct vsp_diags *d,
			      struct diag_lines *lines,
			      const struct vsp_diag *r, FILE *out)
{
	size_t rank = diag_file_rank(d, r->loc.file);
	const char *line;
	size_t len, i, start, stop;

	if (rank >= d->nsources || r->loc.line <= 0 || r->loc.col <= 0)
		return;
	if (!lines[rank].src)
		diag_lines_build(&lines[rank], d->sources[rank]);
	line = diag_line(&lines[rank], r->loc.line, &len);
	if (!line)
		return;
	fputs("    ", out);
	fwrite(line, 1, len, out);
	fputc('\n', out);
	start = (size_t)r->loc.col - 1;
	if (start > len)
		start = len;
	if (r->loc.end_line == r->loc.line && r->loc.end_col >= r->loc.col)
		stop = (size_t)r->loc.end_col;
	else
		stop = len;		/* spans lines: underline to the end */
	if (stop > len)
		stop = len;
	fputs("    ", out);
	/* tabs stay tabs so the caret lines up under the text */
	for (i = 0; i < start; i++)
		fputc(line[i] == '\t' ? '\t' : ' ', out);
	fputc('^', out);
	for (i = start + 1; i < stop; i++)
		fputc('~', out);
	fputc('\n', out);
}

static const char *const diag_level_names[] = {
	[VSP_DIAG_ERROR] = "error",
	[VSP_DIAG_WARNING] = "warning",
	[VSP_DIAG_NOTE] = "note",
};

static void diag_print_one(const struct vsp_diags *d, struct diag_lines *lines,
			   const struct vsp_diag *r, FILE *out)
{
	if (r->loc.file && r->loc.line > 0)
		fprintf(out, "%s:%d:%d: ", r->loc.file, r->loc.line, r->loc.col);
	else if (r->loc.file)
		fprintf(out, "%s: ", r->loc.file);
	else
		fputs("vsp: ", out);
	fprintf(out, "%s: %s\n", diag_level_names[r->level], r->msg);
	if (lines)
		diag_print_source(d, lines, r, out);
}

static void diag_print_all(const struct vsp_diags *d, FILE *out);

/* Prints through one buffer: `out` is often unbuffered stderr. */
void vsp_diags_print(const struct vsp_diags *d, FILE *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (!d->n)
		return;
	m = open_memstream(&buf, &len);
	if (!m) {
		diag_print_all(d, out);
		return;
	}
	diag_print_all(d, m);
	fclose(m);
	fwrite(buf, 1, len, out);
	fflush(out);
	free(buf);
}

static void diag_print_all(const struct vsp_diags *d, FILE *out)
{
	struct diag_lines *lines;
	struct diag_group *g;
	size_t ng = 0, i, j;

	if (!d->n)
		return;
	g = calloc(d->n, sizeof *g);
	lines = calloc(d->nsources + 1, sizeof *lines);
	if (!g || !lines) {
		for (i = 0; i < d->n; i++)
			diag_print_one(d, NULL, &d->v[i], out);
		free(g);
		free(lines);
		return;
	}
	for (i = 0; i < d->n; i++) {
		if (d->v[i].level == VSP_DIAG_NOTE && ng) {
			g[ng - 1].n++;
			continue;
		}
		g[ng].first = i;
		g[ng].n = 1;
		g[ng].file_rank = diag_file_rank(d, d->v[i].loc.file);
		g[ng].line = d->v[i].loc.line;
		g[ng].col = d->v[i].loc.col;
		ng++;
	}
	diag_sort_ctx = d;
	qsort(g, ng, sizeof *g, diag_group_cmp);
	for (i = 0; i < ng; i++)
		for (j = 0; j < g[i].n; j++)
			diag_print_one(d, lines, &d->v[g[i].first + j], out);
	for (i = 0; i < d->nsources; i++)
		free(lines[i].start);
	free(lines);
	free(g);
}
