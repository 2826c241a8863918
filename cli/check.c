/*
 * check.c: `vsp check FILE...` and `vsp disasm FILE`.
 *
 * check loads each file on its own (so one file's names never clash with
 * another's) and prints every diagnostic; disasm loads one policy and
 * prints its bytecode with step bounds.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "vmi/support.h"

static const char check_help[] =
	"usage: vsp check [--werror] [--backend gdb|xen] FILE...\n\n"
	"Parses, type-checks and compiles each policy file on its own and prints\n"
	"every diagnostic to standard error as FILE:LINE:COL: error: MESSAGE,\n"
	"with the source line and a caret.\n\n"
	"  -W, --werror        treat warnings as errors\n"
	"  -b, --backend B     also report, as errors, every event that the\n"
	"                      backend B (gdb or xen) cannot trap, as\n"
	"                      'vsp attach' would refuse it\n"
	VSP_CLI_EXTERN_HELP
	"  -h, --help          show this help\n\n"
	"Exit status: 0 clean (warnings allowed), 1 errors, 2 usage or I/O error.\n";

static const char disasm_help[] =
	"usage: vsp disasm [--no-fastpath] FILE...\n\n"
	"Compiles the policy (files in order, as if imported one after another)\n"
	"and prints the verified bytecode of every event it names: each\n"
	"instruction with its source line, and the worst-case step count.\n\n"
	"  --no-fastpath  show the programs without fast-path folding\n"
	VSP_CLI_EXTERN_HELP
	"  -h, --help     show this help\n\n"
	"Exit status: 0 clean, 1 errors, 2 usage or I/O error.\n";

int vsp_cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "werror", no_argument, NULL, 'W' },
		{ "backend", required_argument, NULL, 'b' },
		VSP_CLI_EXTERN_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET, .diag = stderr };
	const struct vsp_backend_ops *backend = NULL;
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "Wb:h", opts, NULL)) != -1) {
		switch (c) {
		case 'W':
			lo.warnings_as_errors = true;
			break;
		case 'b':
			backend = vsp_backend_find(optarg);
			if (!backend) {
				fprintf(stderr, "vsp check: --backend takes gdb or "
					"xen, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(check_help, stdout);
			return 0;
		default:
			c = vsp_cli_extern_opt(c, optarg, &lo.ext);
			if (c > 0)
				break;
			if (c < 0)
				return 2;
			fputs(check_help, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "vsp check: no policy file given\n");
		fputs(check_help, stderr);
		return 2;
	}
	if (vsp_cli_readable(argv + optind, argc - optind))
		return 2;
	for (int i = optind; i < argc; i++) {
		const char *file = argv[i];
		struct vsp_policy *p = vsp_policy_load(&file, 1, &lo, NULL);
		if (!p || (backend && vsp_support_check(p, backend, stderr) > 0))
			status = 1;
		vsp_policy_free(p);
	}
	return status;
}

int vsp_cmd_disasm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-fastpath", no_argument, NULL, 'F' },
		VSP_CLI_EXTERN_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vsp_load_opts lo = { .mode = VSP_MODE_UNSET, .diag = stderr };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			lo.no_fastpath = true;
			break;
		case 'h':
			fputs(disasm_help, stdout);
			return 0;
		default:
			c = vsp_cli_extern_opt(c, optarg, &lo.ext);
			if (c > 0)
				break;
			if (c < 0)
				return 2;
			fputs(disasm_help, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "vsp disasm: no policy file given\n");
		fputs(disasm_help, stderr);
		return 2;
	}
	if (vsp_cli_readable(argv + optind, argc - optind))
		return 2;
	struct vsp_policy *p = vsp_policy_load((const char *const *)argv + optind,
					       (size_t)(argc - optind), &lo, NULL);
	if (!p)
		return 1;
	vsp_policy_disasm(p, stdout);
	vsp_policy_free(p);
	return 0;
}
