/*
 * front.c: from file names to one syntax tree with imports inlined.
 *
 * The first stage of the pipeline: read each file whole (kept in the unit
 * as a struct vsp_source so diagnostics can show source lines), parse it
 * (lang/parser.y), and replace each `import "x.vsp";` by the items of x.vsp
 * where it stands.  An import path is relative to the importing file's
 * directory; a bare name (`import "credentials";`: letters, digits, '-' and '_'
 * only) is a pack, found as NAME.vsp in the pack directories (vsp_front_add_dir,
 * VSP_POLICY_PATH, the installed stdlib-policies, the source tree's); the same file (by device and inode) is inlined once however
 * often it is imported; a cycle is an error that names the chain.  The
 * command-line files are handled in order, as if imported from an empty
 * root file.  The checker (lang/check.c) takes the unit from here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lang/front.h"
#include "lang/parser.h"

/* Larger files are refused: a policy is text an administrator wrote. */
#define FRONT_MAX_FILE (16u << 20)
/* errno for "not a regular file" (no errno of its own says so) */
#define FRONT_ENOTREG ENODEV
/* Deeper import chains are refused before the stack is at risk. */
#define FRONT_MAX_IMPORT_DEPTH 64

#ifndef VSP_POLICY_DEFAULT_DIR
#define VSP_POLICY_DEFAULT_DIR "/usr/local/share/vsp/stdlib-policies"
#endif
/* Directories given with --policy-path, searched first, in order. */
#define FRONT_MAX_DIRS 32
static const char *front_dirs[FRONT_MAX_DIRS];
static size_t front_ndirs;

struct front_file {
	dev_t dev;
	ino_t ino;
	const char *path;	/* interned by the unit */
	bool known;		/* dev and ino are real: a file on disk */
};

struct front {
	struct vsp_diags *d;
	struct vsp_unit *u;
	struct vsp_item *items;		/* the whole policy, in order */
	size_t nitems, cap;
	struct front_file stack[FRONT_MAX_IMPORT_DEPTH];	/* files being read */
	size_t nstack;
	struct front_file *done;	/* files already inlined */
	size_t ndone;
};

static void *front_grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return p;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	np = realloc(p, ncap * size);
	if (!np) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	*cap = ncap;
	return np;
}

static void front_push_item(struct front *fr, struct vsp_item *it)
{
	fr->items = front_grow(fr->items, &fr->cap, fr->nitems + 1,
			       sizeof *fr->items);
	fr->items[fr->nitems++] = *it;
}

static struct vsp_source *front_add_source(struct front *fr, const char *path,
					   char *text, size_t len)
{
	struct vsp_unit *u = fr->u;
	struct vsp_source *src = calloc(1, sizeof *src);
	struct vsp_source **v = realloc(u->sources,
					(u->nsources + 1) * sizeof *v);

	if (!src || !v || !(src->path = strdup(path))) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	src->text = text;
	src->len = len;
	u->sources = v;
	u->sources[u->nsources++] = src;
	fr->d->sources = u->sources;
	fr->d->nsources = u->nsources;
	return src;
}

/* The path of `rel` as seen from the file `from`: beside it. */
static char *front_join(const char *from, const char *rel)
{
	const char *slash = strrchr(from, '/');
	char *out;

	if (rel[0] == '/' || !slash) {
		out = strdup(rel);
	} else if (asprintf(&out, "%.*s/%s", (int)(slash - from), from,
			    rel) < 0) {
		out = NULL;
	}
	if (!out) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	return out;
}

/* Reads a whole file; on failure sets errno and returns NULL.  Only a
 * regular file is read, opened so that a FIFO or a device never blocks:
 * anything else is ENOTREG (its message says "not a regular file"). */
static char *front_read(const char *path, size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (fstat(fileno(f), st) < 0)
		goto fail_close;
	if (S_ISDIR(st->st_mode)) {
		errno = EISDIR;
		goto fail_close;
	}
	if (!S_ISREG(st->st_mode)) {
		errno = FRONT_ENOTREG;
		goto fail_close;
	}
	for (;;) {
		if (n == cap) {
			char *nb;

			if (cap >= FRONT_MAX_FILE) {
				errno = EFBIG;
				goto fail_free;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb)
				goto fail_free;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				goto fail_free;
			break;
		}
	}
	fclose(f);
	if (!buf && !(buf = malloc(1)))
		return NULL;
	buf[n] = '\0';
	*len = n;
	return buf;
fail_free:
	free(buf);
fail_close:
	{
		int e = errno;

		fclose(f);
		errno = e;
	}
	return NULL;
}

static void front_items(struct front *fr, struct vsp_source *src);

/* Parses one source and inlines what it imports. */
static void front_parse(struct front *fr, struct vsp_source *src,
			dev_t dev, ino_t ino, bool known)
{
	struct front_file *me = &fr->stack[fr->nstack++];

	me->dev = dev;
	me->ino = ino;
	me->path = src->path;
	me->known = known;
	front_items(fr, src);
	fr->nstack--;
	if (known) {
		fr->done = realloc(fr->done, (fr->ndone + 1) * sizeof *fr->done);
		if (!fr->done) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		fr->done[fr->ndone++] = *me;
	}
}

/* `path` without the directory part it shares with `base`. */
static const char *front_rel(const char *base, const char *path)
{
	const char *slash = strrchr(base, '/');
	size_t n = slash ? (size_t)(slash - base) + 1 : 0;

	if (n && strncmp(base, path, n) == 0)
		return path + n;
	return path;
}

static void front_cycle(struct front *fr, size_t from,
			const struct vsp_loc *at)
{
	char *chain = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&chain, &len);

	if (!m) {
		vsp_diag_error(fr->d, at, "import cycle");
		return;
	}
	/* names relative to the directory of the chain's first file: the
	 * location already says where that is */
	for (i = from; i < fr->nstack; i++)
		fprintf(m, "%s -> ", front_rel(fr->stack[from].path,
					       fr->stack[i].path));
	/* the file that closes the cycle is the first one, however named */
	fputs(front_rel(fr->stack[from].path, fr->stack[from].path), m);
	fclose(m);
	vsp_diag_error(fr->d, at, "import cycle: %s", chain);
	free(chain);
}

/* Loads `path`; `at` is the import that names it, NULL on the command line. */
static void front_file(struct front *fr, const char *path,
		       const struct vsp_loc *at)
{
	struct vsp_loc noloc = { .file = path };
	struct stat st;
	size_t len, i;
	char *text;

	if (fr->nstack == FRONT_MAX_IMPORT_DEPTH) {
		vsp_diag_error(fr->d, at,
			       "imports nested more than %d deep",
			       FRONT_MAX_IMPORT_DEPTH);
		return;
	}
	if (stat(path, &st) == 0) {
		for (i = 0; i < fr->nstack; i++)
			if (fr->stack[i].known && fr->stack[i].dev == st.st_dev &&
			    fr->stack[i].ino == st.st_ino) {
				front_cycle(fr, i, at);
				return;
			}
		for (i = 0; i < fr->ndone; i++)
			if (fr->done[i].dev == st.st_dev &&
			    fr->done[i].ino == st.st_ino)
				return;	/* inlined already */
	}
	text = front_read(path, &len, &st);
	if (!text) {
		/* A file past the limit names the limit, not just EFBIG. */
		char why[96];
		if (errno == EFBIG)
			snprintf(why, sizeof(why), "larger than the limit of %u MiB",
				 FRONT_MAX_FILE >> 20);
		else if (errno == FRONT_ENOTREG)
			snprintf(why, sizeof(why), "not a regular file");
		else
			snprintf(why, sizeof(why), "%s", strerror(errno));
		if (at)
			vsp_diag_error(fr->d, at, "cannot import '%s': %s",
				       path, why);
		else
			vsp_diag_error(fr->d, &noloc, "cannot read: %s", why);
		return;
	}
	front_parse(fr, front_add_source(fr, path, text, len), st.st_dev,
		    st.st_ino, true);
}

int vsp_front_add_dir(const char *dir)
{
	if (front_ndirs == FRONT_MAX_DIRS)
		return -1;
	front_dirs[front_ndirs++] = dir;
	return 0;
}

void vsp_front_clear_dirs(void)
{
	front_ndirs = 0;
}

bool vsp_front_is_pack_name(const char *name)
{
	const char *c;

	if (!name[0])
		return false;
	for (c = name; *c; c++)
		if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
		    !(*c >= '0' && *c <= '9') && *c != '-' && *c != '_')
			return false;
	return true;
}

/* The directory of the running program, "" when it cannot be read. */
static void front_exe_dir(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	char *slash;

	if (n <= 0) {
		out[0] = '\0';
		return;
	}
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (slash)
		*slash = '\0';
	else
		out[0] = '\0';
}

/* EXE_DIR/REL, resolved when it exists (so messages show no ".."); false
 * when it does not fit. */
static bool front_near_exe(char *out, size_t len, const char *exe_dir,
			   const char *rel)
{
	char raw[PATH_MAX + 64];

	if (snprintf(raw, sizeof(raw), "%s/%s", exe_dir, rel) >= (int)sizeof(raw))
		return false;
	if (len >= PATH_MAX && realpath(raw, out))
		return true;
	return snprintf(out, len, "%s", raw) < (int)len;
}

/* Calls `fn` on each pack directory in search order until it returns
 * true. */
static bool front_each_dir(bool (*fn)(void *, const char *), void *arg)
{
	const char *env = getenv("VSP_POLICY_PATH");
	char exe[PATH_MAX], dir[PATH_MAX + 64];
	char *copy, *tok, *save = NULL;
	size_t i;

	for (i = 0; i < front_ndirs; i++)
		if (fn(arg, front_dirs[i]))
			return true;
	if (env && env[0]) {
		copy = strdup(env);
		if (!copy) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		for (tok = strtok_r(copy, ":", &save); tok;
		     tok = strtok_r(NULL, ":", &save))
			if (fn(arg, tok)) {
				free(copy);
				return true;
			}
		free(copy);
	}
	/* installed next to the program (PREFIX/bin/vsp), then where the
	 * build installs, then the source tree of a build directory */
	front_exe_dir(exe, sizeof(exe));
	if (exe[0] && front_near_exe(dir, sizeof(dir), exe,
				     "../share/vsp/stdlib-policies") &&
	    fn(arg, dir))
		return true;
	if (fn(arg, VSP_POLICY_DEFAULT_DIR))
		return true;
	if (exe[0] && front_near_exe(dir, sizeof(dir), exe, "../stdlib-policies") &&
	    fn(arg, dir))
		return true;
	return false;
}

struct front_find {
	const char *name;
	char *found;		/* the first DIR/NAME.vsp that exists */
	FILE *tried;		/* the directories, for the error */
	size_t ntried;
};

static bool front_find_in(void *arg, const char *dir)
{
	struct front_find *ff = arg;
	char cand[PATH_MAX + 1];
	struct stat st;

	if (snprintf(cand, sizeof(cand), "%s/%s.vsp", dir, ff->name) >=
	    (int)sizeof(cand))
		return false;
	if (stat(cand, &st) == 0) {
		ff->found = strdup(cand);
		if (!ff->found) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		return true;
	}
	if (ff->tried)
		fprintf(ff->tried, "%s%s", ff->ntried ? ", " : "", dir);
	ff->ntried++;
	return false;
}

char *vsp_front_find_pack(const char *name, char **searched)
{
	struct front_find ff = { .name = name };
	size_t len = 0;

	if (searched) {
		*searched = NULL;
		ff.tried = open_memstream(searched, &len);
	}
	front_each_dir(front_find_in, &ff);
	if (ff.tried)
		fclose(ff.tried);
	if (ff.found && searched) {
		free(*searched);
		*searched = NULL;
	}
	return ff.found;
}

/* `import "NAME";` of a pack: the file from the pack directories. */
static void front_pack(struct front *fr, const char *name,
		       const struct vsp_loc *at)
{
	char *searched = NULL;
	char *path = vsp_front_find_pack(name, &searched);

	if (path) {
		front_file(fr, path, at);
		free(path);
		return;
	}
	vsp_diag_error(fr->d, at,
		       "cannot import '%s': no pack '%s.vsp' in %s", name, name,
		       searched && searched[0] ? searched : "any pack directory");
	free(searched);
}

static void front_items(struct front *fr, struct vsp_source *src)
{
	struct vsp_parse ps = { .d = fr->d, .file = src->path };
	size_t i;

	vsp_parse_buffer(&ps, src->text, src->len);
	for (i = 0; i < ps.nitems; i++) {
		struct vsp_item *it = &ps.items[i];
		char *path;

		if (it->kind != VSP_I_IMPORT) {
			front_push_item(fr, it);
			continue;
		}
		if (!it->u.import.path[0]) {
			vsp_diag_error(fr->d, &it->loc,
				       "the import file name is empty");
		} else if (vsp_front_is_pack_name(it->u.import.path)) {
			front_pack(fr, it->u.import.path, &it->loc);
		} else {
			path = front_join(src->path, it->u.import.path);
			front_file(fr, path, &it->loc);
			free(path);
		}
		vsp_item_release(it);
	}
	free(ps.items);
}

/* Builds the indexes of a unit from its items. */
static void front_finish(struct front *fr)
{
	struct vsp_unit *u = fr->u;
	size_t i, nr = 0, nd = 0, nx = 0;

	u->items = fr->items;
	u->nitems = fr->nitems;
	u->mode = VSP_MODE_UNSET;
	for (i = 0; i < u->nitems; i++) {
		if (u->items[i].kind == VSP_I_RULE)
			nr++;
		else if (u->items[i].kind == VSP_I_DECL)
			nd++;
		else if (u->items[i].kind == VSP_I_EXTERN)
			nx++;
	}
	u->rules = calloc(nr ? nr : 1, sizeof *u->rules);
	u->decls = calloc(nd ? nd : 1, sizeof *u->decls);
	u->externs = calloc(nx ? nx : 1, sizeof *u->externs);
	if (!u->rules || !u->decls || !u->externs) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	for (i = 0; i < u->nitems; i++) {
		struct vsp_item *it = &u->items[i];

		switch (it->kind) {
		case VSP_I_RULE:
			it->u.rule->index = (int)u->nrules;
			u->rules[u->nrules++] = it->u.rule;
			break;
		case VSP_I_DECL:
			u->decls[u->ndecls++] = it->u.decl;
			break;
		case VSP_I_EXTERN:
			it->u.ext->index = (uint32_t)u->nexterns;
			u->externs[u->nexterns++] = it->u.ext;
			break;
		case VSP_I_DEFAULT:
			u->def = &it->u.def;	/* the last one holds */
			break;
		case VSP_I_MODE:
			u->mode = it->u.mode;
			break;
		default:
			break;
		}
	}
	free(fr->done);
}

static struct vsp_unit *front_start(struct front *fr, struct vsp_diags *d)
{
	memset(fr, 0, sizeof *fr);
	fr->d = d;
	fr->u = calloc(1, sizeof *fr->u);
	if (!fr->u) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	fr->u->mode = VSP_MODE_UNSET;
	return fr->u;
}

struct vsp_unit *vsp_front_load(const char *const *files, size_t nfiles,
				struct vsp_diags *d)
{
	return vsp_front_load_with(files, nfiles, NULL, 0, d);
}

struct vsp_unit *vsp_front_load_with(const char *const *files, size_t nfiles,
				     const struct vsp_front_text *texts,
				     size_t ntexts, struct vsp_diags *d)
{
	struct front fr;
	struct vsp_unit *u = front_start(&fr, d);
	size_t i;

	for (i = 0; i < nfiles; i++)
		front_file(&fr, files[i], NULL);
	for (i = 0; i < ntexts; i++) {
		size_t len = texts[i].len;
		char *copy = malloc(len + 1);
		if (!copy) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		memcpy(copy, texts[i].text, len);
		copy[len] = '\0';
		if (len > FRONT_MAX_FILE) {
			struct vsp_loc at = { .file = texts[i].name };
			vsp_diag_error(d, &at, "cannot read: larger than the limit of %u MiB",
				       FRONT_MAX_FILE >> 20);
			len = 0;
		}
		front_parse(&fr, front_add_source(&fr, texts[i].name, copy, len),
			    0, 0, false);
	}
	front_finish(&fr);
	if (!u->nsources) {
		vsp_unit_free(u);
		d->sources = NULL;
		d->nsources = 0;
		return NULL;
	}
	return u;
}

struct vsp_unit *vsp_front_load_buffer(const char *name, const char *text,
				       size_t len, struct vsp_diags *d)
{
	struct front fr;
	struct vsp_unit *u = front_start(&fr, d);
	char *copy = malloc(len + 1);
	struct stat st;
	bool known;

	if (!copy) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (len > FRONT_MAX_FILE) {
		struct vsp_loc at = { .file = name };

		vsp_diag_error(d, &at, "cannot read: larger than the limit of %u MiB",
			       FRONT_MAX_FILE >> 20);
		len = 0;
	}
	/* when the name is a real file, an import of it is a cycle */
	known = stat(name, &st) == 0;
	front_parse(&fr, front_add_source(&fr, name, copy, len),
		    known ? st.st_dev : 0, known ? st.st_ino : 0, known);
	front_finish(&fr);
	return u;
}
