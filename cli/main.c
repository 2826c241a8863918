/*
 * main.c: `vsp`, a git-style front door to the subcommands.
 *
 * The command line is the outside contract (docs/vsp.1, interfaces.md):
 * each subcommand lives in its own file and returns its exit status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "vmi/xen.h"

static const struct {
	const char *name;
	int (*run)(int, char **);
	const char *what;
} commands[] = {
	{ "check", vsp_cmd_check, "parse and type-check policies" },
	{ "disasm", vsp_cmd_disasm, "print a policy's bytecode and step bounds" },
	{ "replay", vsp_cmd_replay, "decide every event of a recorded trace" },
	{ "attach", vsp_cmd_attach, "enforce policies on a live guest" },
	{ "repl", vsp_cmd_repl, "interactive session on a guest or a trace" },
	{ "profile", vsp_cmd_profile, "write a kernel's symbols from its image or a live guest" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: vsp <command> [options] [args]\n\n"
		"vsp enforces security policies on guest virtual machines from the\n"
		"hypervisor.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].what);
	fprintf(out, "\n'vsp <command> --help' describes a command; "
		"'man vsp' and docs/ describe the language.\n");
}

/* What went to standard output must have arrived: `vsp disasm > /dev/full`
 * or `--help` into a closed pipe is an I/O error, status 2. */
static int finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "vsp: writing standard output: %s\n",
			strerror(errno ? errno : EIO));
		return rc ? rc : 2;
	}
	return rc;
}

int main(int argc, char **argv)
{
	/* Before anything is opened: a closed stdout would otherwise be
	 * handed to the next descriptor vsp opens, the GDB stub's socket
	 * for one, and every audit record would be sent into it. */
	if (vsp_cli_guard_stdio() < 0)
		return 2;
	/* A reader that goes away (`vsp attach | head -1`) is a write error
	 * to handle, not a death: SIGPIPE would kill the monitor between two
	 * traps, and its guard would then take every trap out. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			char *hargv[] = { argv[2], "--help", NULL };
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (strcmp(argv[2], commands[i].name) == 0)
					return finish(commands[i].run(2, hargv));
		}
		usage(stdout);
		return finish(0);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("vsp %s (policy language version 1)\n", VSP_VERSION);
		printf("backends: gdb%s\n", vsp_be_xen_built() ? " xen" :
		       " (no xen: built without libxen-dev)");
		return finish(0);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return finish(commands[i].run(argc - 1, argv + 1));
	fprintf(stderr, "vsp: '%s' is not a vsp command; see 'vsp --help'\n",
		argv[1]);
	return 2;
}
