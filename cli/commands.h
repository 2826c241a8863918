/*
 * commands.h: the subcommands of `vsp`, one file each in cli/.
 *
 * Each takes the arguments after its name (argv[0] is the subcommand) and
 * returns the process exit status that interfaces.md defines for it.
 */
#ifndef VSP_COMMANDS_H
#define VSP_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>
#include "engine/engine.h"
#include "interp/extern.h"
#include "interp/sink.h"

int vsp_cmd_check(int argc, char **argv);
int vsp_cmd_disasm(int argc, char **argv);
int vsp_cmd_replay(int argc, char **argv);
int vsp_cmd_attach(int argc, char **argv);
int vsp_cmd_repl(int argc, char **argv);
int vsp_cmd_profile(int argc, char **argv);

/* Shared helpers (cli/util.c). */
/* 0 when every file can be opened for reading; otherwise prints
 * "vsp: cannot read FILE: reason" and returns 2. */
int vsp_cli_readable(char *const *files, int n);
/* Opens an output file; "-" is standard output.  NULL after a message. */
FILE *vsp_cli_open_out(const char *path);
/* Opens /dev/null onto whichever of fds 0, 1 and 2 is closed, so no file
 * or socket vsp opens later can become standard output (audit records
 * would then go into it).  -1 when /dev/null cannot be opened. */
int vsp_cli_guard_stdio(void);
/* Opens the audit sink SPEC names (FILE, "-", journal, syslog,
 * syslog://HOST:PORT, syslog+tcp://HOST:PORT); NULL after a message. */
struct vsp_sink *vsp_cli_open_sink(const char *cmd, const char *spec,
				   enum vsp_audit_format fmt, bool append);

/* A --config file turned into attach options (cli/config.c); argv is
 * NULL-terminated and owned. */
struct vsp_cli_config {
	char **argv;
	int argc, cap;
};
/* Appends FILE's options to c; 0, or 2 after FILE:LINE messages. */
int vsp_cli_config_read(const char *file, struct vsp_cli_config *c);
void vsp_cli_config_release(struct vsp_cli_config *c);

/* The extern and pack-directory options every command that loads a
 * policy takes. */
enum {
	VSP_CLI_OPT_EXTERN_PATH = 0x1000, VSP_CLI_OPT_EXTERN_ISOLATE,
	VSP_CLI_OPT_EXTERN_TIMEOUT, VSP_CLI_OPT_POLICY_PATH
};
#define VSP_CLI_EXTERN_OPTIONS                                              \
	{ "extern-path", required_argument, NULL, VSP_CLI_OPT_EXTERN_PATH },  \
	{ "extern-isolate", no_argument, NULL, VSP_CLI_OPT_EXTERN_ISOLATE },  \
	{ "extern-timeout", required_argument, NULL, VSP_CLI_OPT_EXTERN_TIMEOUT }, \
	{ "policy-path", required_argument, NULL, VSP_CLI_OPT_POLICY_PATH }
#define VSP_CLI_EXTERN_HELP                                                  \
	"      --extern-path DIR  a directory extern libraries may be loaded from\n" \
	"                         (repeatable; default " VSP_EXT_DEFAULT_DIR ")\n" \
	"      --extern-isolate   run extern functions in a child process\n"      \
	"      --extern-timeout MS  isolated: a call's time budget (default 100);\n" \
	"                         a call over it fails and the event is partial\n" \
	"      --policy-path DIR  a directory `import \"NAME\";` finds packs in,\n" \
	"                         before VSP_POLICY_PATH and the installed packs\n" \
	"                         (repeatable)\n"
/* Handles option c when it is one of the above: 1 handled, 0 not one of
 * them, -1 bad value (message printed). */
int vsp_cli_extern_opt(int c, const char *arg, struct vsp_ext_opts *o);

#define VSP_VERSION "0.1.0"

#endif
