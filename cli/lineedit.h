/*
 * lineedit.h: how `vsp repl` reads its commands.
 *
 * At a terminal, through libedit: Emacs keys, Ctrl-R searching the
 * history, Tab completing through the session's callback, a history file
 * kept across sessions (bounded), a command that spans lines (a rule
 * whose braces or quotes are still open, or a line ending in ':'; see
 * vsp_repl_incomplete) gathered under a continuation prompt, Ctrl-C
 * dropping the line being typed, Ctrl-D ending the input.  Elsewhere (a
 * pipe, a file, no libedit) the same commands line by line, with no
 * prompt and no history.
 *
 * A live session reads its commands from a descriptor inside the monitor
 * loop, which must never block on a person: vsp_edit_serve runs the
 * reader on its own thread and hands the loop a pipe.
 */
#ifndef VSP_LINEEDIT_H
#define VSP_LINEEDIT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Completion candidates: strings the callback offers for the word under
 * the cursor. */
struct vsp_edit_cands {
	char **v;
	size_t n, cap;
	const char *prefix;	/* the part of the word already typed */
	size_t plen;
};

/* Adds `word` when it starts with c->prefix and is not there yet (only
 * `n` bytes of it when n is not (size_t)-1). */
void vsp_edit_offer(struct vsp_edit_cands *c, const char *word, size_t n);

struct vsp_edit_opts {
	const char *history;	/* history file; NULL or "": none */
	int history_size;	/* entries kept; 0: 1000 */
	const char *prompt;	/* "vsp> " */
	const char *prompt_more;	/* continuation lines: "...> " */
	/* Tab: `line` is the text before the cursor (the earlier lines of
	 * a command that spans lines are not in it); the callback offers
	 * candidates for the word that ends at the cursor, whose first byte
	 * is line + *start (set it; c->prefix is then that word). */
	void (*complete)(void *ctx, const char *line, size_t *start,
			 struct vsp_edit_cands *c);
	void *ctx;
};

struct vsp_edit;

/* Reads from `in` (answers and the prompt go to `out`); with a terminal
 * and libedit, edits.  Borrows the options' strings. */
struct vsp_edit *vsp_edit_open(FILE *in, FILE *out, const struct vsp_edit_opts *o);
/* True when it edits (a terminal and libedit). */
bool vsp_edit_interactive(const struct vsp_edit *e);
/* The next command, its lines joined by '\n', without the last newline;
 * valid until the next call.  1: a command, 0: end of input (Ctrl-D). */
int vsp_edit_read(struct vsp_edit *e, const char **cmd, size_t *len);
/* Saves the history and frees everything. */
void vsp_edit_close(struct vsp_edit *e);

/* Set by SIGINT while vsp_edit_sigint(true) holds: the line being typed
 * is dropped, and a long command (a `run` over a trace) may look at it
 * to stop early.  Reset it before such a command. */
extern volatile sig_atomic_t vsp_edit_interrupted;
/* Installs (on) or removes the SIGINT handler that only sets the flag. */
void vsp_edit_sigint(bool on);

/* A live session: starts a thread that reads commands from e and writes
 * each, newline-terminated, into a pipe whose reading end is *fd; at the
 * end of input the pipe is closed.  Before each prompt the thread waits
 * for vsp_edit_ready (the previous command has been answered).  0, or -1
 * with errno. */
int vsp_edit_serve(struct vsp_edit *e, int *fd);
/* The session is ready for the next command (any thread). */
void vsp_edit_ready(void *e);
/* Joins the thread started by vsp_edit_serve (closing the pipe first if
 * it is still open, which ends a prompt that is waiting), then closes e. */
void vsp_edit_finish(struct vsp_edit *e);

/* The history file: --history FILE, else $VSP_HISTORY, else
 * ~/.vsp_history; NULL when none can be named.  The result is `arg`,
 * the environment's string or a static buffer. */
const char *vsp_edit_history_path(const char *arg);

#endif
