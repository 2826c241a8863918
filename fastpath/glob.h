/*
 * glob.h: the one reading of glob syntax, shared inside fastpath/.
 *
 * A glob is a sequence of tokens.  Every token consumes one byte of a set
 * (a literal byte, `?`, a class); a run of stars is one looping token that
 * consumes any number of bytes of its set (`*`: all but '/', `**` and
 * longer runs: all).  vsp_glob_match (glob.c) simulates these tokens
 * directly; the multi-pattern matcher (matcher.c) compiles them into an
 * automaton; both read them only through this header, so the two can never
 * disagree about what a pattern means.  Not part of the stage contract:
 * match.h is.
 */
#ifndef VSP_FP_GLOB_H
#define VSP_FP_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest glob vsp_glob_check accepts.  Guest strings are at most 4096
 * bytes, so a longer glob could only ever fail to match; refusing it lets
 * every matcher keep its state on the stack. */
#define VSP_GLOB_MAX 16383

struct vsp_gtok {
	uint64_t set[4];	/* bytes the token consumes */
	bool loop;		/* a star run: zero or more bytes of set */
};

/*
 * Reads the token at pat[i] (i < plen) and returns the offset after it.
 * Malformed syntax is read leniently (an unterminated '[' is a literal
 * '[', a trailing '\' a literal '\'); vsp_glob_check rejects it first.
 */
size_t vsp_glob_tok(const char *pat, size_t plen, size_t i,
		    struct vsp_gtok *t);

/* Does the token at pat[i] consume byte c?  Sets *end past the token and
 * *loop.  Cheaper than vsp_glob_tok: no set is built. */
bool vsp_glob_tok_accepts(const char *pat, size_t plen, size_t i,
			  unsigned char c, size_t *end, bool *loop);

enum vsp_glob_shape {
	VSP_GLOB_LITERAL,	/* no wildcard: one exact string */
	VSP_GLOB_PREFIX,	/* a literal followed by a final `**` */
	VSP_GLOB_GENERAL
};

/*
 * Classifies a (valid) glob.  For LITERAL and PREFIX, writes the literal
 * with escapes removed into out (at most plen bytes) and its length.
 */
enum vsp_glob_shape vsp_glob_shape(const char *pat, size_t plen, char *out,
				   size_t *outlen);

static inline bool vsp_gset_has(const uint64_t set[4], unsigned char c)
{
	return (set[c >> 6] >> (c & 63)) & 1;
}

#endif
