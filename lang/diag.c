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
	memset(d, 0, sizeof *d);
}

static bool diag_same_file(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool diag_is_dup(const struct vsp_diags *d, enum vsp_diag_level level,
			const struct vsp_loc *loc, const char *msg)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct vsp_diag *r = &d->v[i];

		if (r->level == level && r->loc.line == loc->line &&
		    r->loc.col == loc->col && diag_same_file(r->loc.file, loc->file) &&
		    strcmp(r->msg, msg) == 0)
			return true;
	}
	return false;
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

static const struct vsp_source *diag_source(const struct vsp_diags *d,
					    const char *file)
{
	size_t i;

	if (!file)
		return NULL;
	for (i = 0; i < d->nsources; i++)
		if (strcmp(d->sources[i]->path, file) == 0)
			return d->sources[i];
	return NULL;
}

/* Finds line `line` (1-based) of a source; sets *len to its length without
 * the newline. */
static const char *diag_line(const struct vsp_source *src, int line,
			     size_t *len)
{
	const char *p = src->text, *end = src->text + src->len, *nl;
	int n;

	for (n = 1; n < line; n++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	if (p > end)
		return NULL;
	nl = memchr(p, '\n', (size_t)(end - p));
	*len = (size_t)((nl ? nl : end) - p);
	if (*len && p[*len - 1] == '\r')
		(*len)--;
	return p;
}

static void diag_print_source(const struct vsp_diags *d,
			      const struct vsp_diag *r, FILE *out)
{
	const struct vsp_source *src = diag_source(d, r->loc.file);
	const char *line;
	size_t len, i, start, stop;

	if (!src || r->loc.line <= 0 || r->loc.col <= 0)
		return;
	line = diag_line(src, r->loc.line, &len);
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

static void diag_print_one(const struct vsp_diags *d, const struct vsp_diag *r,
			   FILE *out)
{
	if (r->loc.file && r->loc.line > 0)
		fprintf(out, "%s:%d:%d: ", r->loc.file, r->loc.line, r->loc.col);
	else if (r->loc.file)
		fprintf(out, "%s: ", r->loc.file);
	else
		fputs("vsp: ", out);
	fprintf(out, "%s: %s\n", diag_level_names[r->level], r->msg);
	diag_print_source(d, r, out);
}

void vsp_diags_print(const struct vsp_diags *d, FILE *out)
{
	struct diag_group *g;
	size_t ng = 0, i, j;

	if (!d->n)
		return;
	g = calloc(d->n, sizeof *g);
	if (!g) {
		for (i = 0; i < d->n; i++)
			diag_print_one(d, &d->v[i], out);
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
			diag_print_one(d, &d->v[g[i].first + j], out);
	free(g);
}
