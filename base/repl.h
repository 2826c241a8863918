/*
 * repl.h: the command language of `vsp repl`, declared once.
 *
 * Two sessions speak it: the one over a trace (cli/repl.c) and the one on
 * a live guest (the monitor's session).  Both read this list for their
 * dispatch, `help` and completion, so a command has one name, one usage
 * and one line of help wherever it is typed; each session implements the
 * commands its flags say it has and answers the others with where they
 * work.  Beside it: when typed text is a whole command (a rule may span
 * lines) and how a line splits into words.
 */
#ifndef VSP_REPL_H
#define VSP_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Where a command works. */
enum {
	VSP_REPL_TRACE = 1,	/* the session over a trace */
	VSP_REPL_LIVE = 2,	/* the session on a live guest */
	VSP_REPL_BOTH = 3
};

/* X(ID, name, usage, where, help), in the order `help` lists them. */
#define VSP_REPL_COMMAND_LIST(X)                                              \
	X(HELP, "help", "[CMD] [--json]", VSP_REPL_BOTH,                               \
	  "the commands, or one command's usage")                             \
	X(STATUS, "status", "[--json]", VSP_REPL_BOTH,                        \
	  "policy, mode, events decided; live: guest running or paused, traps") \
	X(LOAD, "load", "FILE...", VSP_REPL_BOTH,                             \
	  "compile policies and swap them in; on errors the old ones stay")   \
	X(RELOAD, "reload", "", VSP_REPL_BOTH,                                \
	  "compile the loaded files again (rules added here kept) and swap")  \
	X(MODE, "mode", "[MODE] [--json]", VSP_REPL_BOTH,                     \
	  "the mode (enforce, monitor, learn), kept across loads")            \
	X(RULES, "rules", "[--json]", VSP_REPL_BOTH,                          \
	  "the rules with their hits, and the counters")                      \
	X(RULE, "rule", "add TEXT | del N", VSP_REPL_BOTH,                    \
	  "add a rule (checked, then swapped in), or delete one added so")    \
	X(EVENTS, "events", "[--json]", VSP_REPL_BOTH,                        \
	  "the events the policy names; live: where each is trapped")         \
	X(STATS, "stats", "[--json]", VSP_REPL_BOTH,                          \
	  "engine statistics and a latency histogram; live: traps too")       \
	X(TAIL, "tail", "[-f] [N] [--json]", VSP_REPL_BOTH,                            \
	  "the last N decisions (default 10, at most 64); live, -f follows")  \
	X(DISASM, "disasm", "", VSP_REPL_BOTH,                                \
	  "the policy's bytecode, with source lines and step bounds")         \
	X(EVAL, "eval", "[--json] EXPR", VSP_REPL_BOTH,                       \
	  "EXPR on the current event (trace: the last decided; live: step's)") \
	X(DECIDE, "{JSON}", "", VSP_REPL_TRACE,                               \
	  "decide one event written as a trace line")                         \
	X(NEXT, "next", "[N] [--json]", VSP_REPL_TRACE,                                \
	  "decide the next N events of the trace (default 1)")                \
	X(RUN, "run", "[--json]", VSP_REPL_TRACE,                                     \
	  "decide the rest of the trace")                                     \
	X(PAUSE, "pause", "", VSP_REPL_LIVE,                                  \
	  "stop the guest and keep it stopped")                               \
	X(CONTINUE, "continue", "", VSP_REPL_LIVE,                            \
	  "let a paused guest run")                                           \
	X(STEP, "step", "", VSP_REPL_LIVE,                                    \
	  "stop the guest at its next event, before it is decided")           \
	X(REGS, "regs", "[--json]", VSP_REPL_LIVE,                                    \
	  "the stopped vCPU's registers (paused)")                            \
	X(MEM, "x", "ADDR|SYM LEN [--json]", VSP_REPL_LIVE,                            \
	  "hex dump of guest-virtual memory (paused, at most 4096 bytes)")    \
	X(SYM, "sym", "NAME|ADDR [--json]", VSP_REPL_LIVE,                             \
	  "symbol to address, address to symbol")                            \
	X(BT, "bt", "[SEQ] [--json]", VSP_REPL_LIVE,                                   \
	  "the call path of the last decision (or of #SEQ), innermost first")  \
	X(PS, "ps", "[--json]", VSP_REPL_LIVE,                                \
	  "the guest's processes, from init_task.tasks through BTF")          \
	X(QUIT, "quit", "", VSP_REPL_BOTH,                                    \
	  "end the session; live: remove every trap, the guest runs on")

enum vsp_repl_cmd {
#define VSP_REPL_ENUM(id, name, usage, where, help) VSP_REPL_##id,
	VSP_REPL_COMMAND_LIST(VSP_REPL_ENUM)
#undef VSP_REPL_ENUM
	VSP_REPL_NCOMMANDS,
	VSP_REPL_UNKNOWN = -1
};

struct vsp_repl_command {
	const char *name, *usage, *help;
	unsigned where;
};

/* Indexed by enum vsp_repl_cmd. */
extern const struct vsp_repl_command vsp_repl_commands[VSP_REPL_NCOMMANDS];

/* The command `word` names (its name, a word starting with '{' for
 * DECIDE, or an alias: "?" for help, "exit"
 * and "detach" for quit, "cont" for continue, "mem" for x, "traps" for events), or
 * VSP_REPL_UNKNOWN. */
enum vsp_repl_cmd vsp_repl_lookup(const char *word);

/* `help` for a session (VSP_REPL_TRACE or VSP_REPL_LIVE): every command
 * it has, one a line; with `cmd`, that command's usage and help.  0, or
 * -1 when `cmd` is no command (a message is written). */
int vsp_repl_help(FILE *out, unsigned where, const char *cmd);

/* "the x command works only on a live guest" and the like, for a
 * command the session `where` lacks. */
const char *vsp_repl_elsewhere(enum vsp_repl_cmd c, unsigned where);

/* True when `text` (len bytes, may hold newlines) is not yet a whole
 * command: a string, brace, bracket or parenthesis is still open, its
 * last line ends with ':' (a rule's conditions come on the next line), or
 * it is a `rule add` that went on to a second line and does not end with
 * ';' yet.
 * '#' starts a comment to the end of its line outside strings. */
bool vsp_repl_incomplete(const char *text, size_t len);

/* What `rule add TEXT` compiles: TEXT with the keyword `rule` put in
 * front when it was left out, a name ("added-SEQ") when it has none,
 * and the final ';' when it lacks one.  Malloc'd; NULL when out of
 * memory or when TEXT is blank.  vsp_repl_rule_add: where the text of a
 * `rule add` command starts in `line`, or NULL when it is none. */
char *vsp_repl_rule_text(const char *text, unsigned seq);
const char *vsp_repl_rule_add(const char *line);

/* Where the text after command word `name` starts in `line` (blanks
 * skipped), or NULL when the line is not that command: for commands
 * that take the rest of the line as it is (`eval`). */
const char *vsp_repl_after(const char *line, const char *name);
/* `text` past a leading "--json" word (then *json is true) and blanks. */
const char *vsp_repl_json_opt(const char *text, bool *json);

/* Takes a "--json" word out of w[1..*n) (the commands whose other words
 * are their own); true when there was one. */
bool vsp_repl_take_json(char **w, int *n);

/* The commands that act (load, reload, rule add/del, pause, continue,
 * step, disasm, quit) take --json too: their text answer then comes as
 * one object (interp/json.h, vsp_json_answer).  True when `line` is such a
 * command with a "--json" word, which is blanked out in place; `name`
 * gets the command ("load", "rule add", ...). */
bool vsp_repl_action_json(char *line, char *name, size_t size);

/* `help --json`: {"commands":[{"name","usage","help"}]} for a session. */
void vsp_repl_help_json(FILE *out, unsigned where);

/* Splits `line` in place into at most max words separated by blanks;
 * returns how many. */
int vsp_repl_split(char *line, char **w, int max);

#endif
