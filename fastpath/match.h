/*
 * match.h: string matchers built once when a policy loads.
 *
 * Globs follow the language (docs/language.md): `*` any run of bytes but
 * '/', `**` any run including '/', `?` one byte but '/', classes `[abc]`,
 * `[a-z]`, `[!a]` (never '/'), `\` escapes; a glob matches the whole string.
 *
 * A matcher holds many patterns tested against one field (every glob,
 * literal and prefix an event's rules test there) and answers "which of
 * them match" in one pass, so 1,000 patterns cost about what 10 do.  It is
 * built at load time (no code generation) and matching never allocates.
 *
 * Sets hold the constants of `x in [...]` lists.  Path sets hold the
 * patterns of `must arise from` (frames joined by "<-", `*` one frame,
 * `**` any number, frames are globs).
 */
#ifndef VSP_MATCH_H
#define VSP_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Checks a glob's syntax: 0, or -1 with *err set and *at the byte offset. */
int vsp_glob_check(const char *pat, size_t plen, const char **err, size_t *at);

/* Direct match of one glob, for tests and the reference evaluator.
 * Bounded time (no exponential backtracking). */
bool vsp_glob_match(const char *pat, size_t plen, const char *s, size_t slen);

/* A set of patterns, each with an id (0..63 per matcher is enough for one
 * test site: ids name the pattern groups that a test site asks about). */
struct vsp_matcher;

struct vsp_matcher *vsp_fp_matcher_new(void);
/* Adds pattern `pat` as a glob (or, when literal, as an exact string) in
 * group `group`.  Returns 0 or -1 (bad glob, out of memory). */
int vsp_fp_matcher_add(struct vsp_matcher *m, const char *pat, size_t plen,
		       uint32_t group);
/* Freezes the matcher: builds the automaton / tables. */
int vsp_fp_matcher_build(struct vsp_matcher *m);
/* Bit g set when some pattern of group g matches the whole string. */
uint64_t vsp_fp_matcher_run(const struct vsp_matcher *m, const char *s,
			    size_t slen);
size_t vsp_fp_matcher_size(const struct vsp_matcher *m);	/* patterns */
void vsp_fp_matcher_free(struct vsp_matcher *m);

/* Hashed sets of integers and of byte strings (copied in). */
struct vsp_iset;
struct vsp_iset *vsp_fp_iset_new(const int64_t *v, size_t n);
bool vsp_fp_iset_has(const struct vsp_iset *s, int64_t v);
void vsp_fp_iset_free(struct vsp_iset *s);

struct vsp_sset;
struct vsp_sset *vsp_fp_sset_new(void);
int vsp_fp_sset_add(struct vsp_sset *s, const char *p, size_t len);
bool vsp_fp_sset_has(const struct vsp_sset *s, const char *p, size_t len);
void vsp_fp_sset_free(struct vsp_sset *s);

/* Call-path patterns. */
struct vsp_pathset;
struct vsp_pathset *vsp_fp_pathset_new(void);
/* Adds "a <- b <- **"; returns 0, or -1 with *err (empty frame, bad glob). */
int vsp_fp_pathset_add(struct vsp_pathset *ps, const char *pattern,
		       const char **err);
int vsp_fp_pathset_build(struct vsp_pathset *ps);
/* True when some pattern matches `path` (innermost first). */
bool vsp_fp_pathset_match(const struct vsp_pathset *ps,
			  const char *const *path, size_t n);
size_t vsp_fp_pathset_size(const struct vsp_pathset *ps);
void vsp_fp_pathset_free(struct vsp_pathset *ps);

/* The pattern language of one call path: a path as it would be learned,
 * frames joined by " <- ", innermost first.  Writes at most size bytes. */
size_t vsp_fp_path_format(const char *const *path, size_t n, char *buf,
			  size_t size);

/* Profiles (fastpath/profile.c): one call-path pattern per line, `#`
 * comments and blank lines skipped, spaces around a line trimmed.  A line
 * may hold at most VSP_FP_PROFILE_LINE_MAX bytes and no NUL; a profile is
 * a regular file of at most VSP_FP_PROFILE_MAX bytes. */
#define VSP_FP_PROFILE_LINE_MAX 8191
#define VSP_FP_PROFILE_MAX (64u << 20)

struct vsp_fp_profile_cb {
	/* a pattern line (or, with comments set, a comment line too) */
	int (*line)(void *arg, int lineno, const char *text);
	/* a bad line (lineno > 0) or file (lineno 0): msg says why */
	void (*bad)(void *arg, int lineno, const char *msg);
	void *arg;
	bool comments;
};

/*
 * Reads profile `path` and hands each line to cb->line, each bad line to
 * cb->bad (reading goes on, so every bad line is reported).  Never blocks
 * on a FIFO or a device.  Returns the number of bad lines (0: clean), or
 * -1 when the file cannot be opened or read (errno set, cb->bad not called
 * for ENOENT), or when cb->line returned nonzero (reading stops there, errno
 * is left as the callback set it).
 */
int vsp_fp_profile_read(const char *path, const struct vsp_fp_profile_cb *cb);

#endif
