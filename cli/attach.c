/*
 * attach.c: `vsp attach --gdb HOST:PORT | --xen DOMAIN [...] POLICY...`.
 *
 * The command line end of the live path: it parses options, loads and
 * verifies the policy (the same vsp_policy_load every command uses), opens
 * the audit and trace outputs, and hands the rest to the monitor loop in
 * vmi/monitor.c with the backend the options name.  Exit statuses follow
 * interfaces.md: 0 the guest ended or we detached, 1 policy errors,
 * 2 usage or I/O errors, 3 cannot attach or lost the guest.
 *
 * `vsp repl --gdb|--xen` comes here too (cli/repl.c passes --interactive):
 * the same attach, with commands read from standard input between stops
 * and audit records on standard error unless --audit names a file, so
 * standard output carries only the session's answers.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "vmi/monitor.h"
#include "vmi/support.h"

static const char attach_help[] =
	"usage: vsp attach (--gdb HOST:PORT | --xen DOMAIN)\n"
	"                  [--symbols FILE | --profile FILE]\n"
	"                  [--vmlinux FILE] [--mode M] [--audit FILE]\n"
	"                  [--record FILE] [--stats[=json]] [--on-partial P]\n"
	"                  POLICY...\n\n"
	"Attaches to a running (or paused) guest, installs a trap for each\n"
	"event the policies name and nothing else, decides every trapped event\n"
	"and applies the verdicts: deny and return make the call return at\n"
	"once, redirect rewrites the kernel's copy of the path, kill ends the\n"
	"calling process, pause leaves the guest stopped.  Detaches cleanly,\n"
	"leaving no trap behind, on SIGINT or SIGTERM and when the guest ends.\n"
	"A policy naming an event that cannot be trapped through the backend\n"
	"or on this guest is refused (exit 1), each such event reported with\n"
	"its rule's location and the reason.\n\n"
	"  -g, --gdb HOST:PORT    a GDB remote stub (QEMU -gdb, KVM, any gdbstub)\n"
	"  -x, --xen DOMAIN       a Xen domain, by name or id (vm_event)\n"
	"  -S, --symbols FILE     the guest kernel's System.map or a kallsyms dump\n"
	"                         (default: the running kernel's own kallsyms,\n"
	"                         decoded from guest memory)\n"
	"  -P, --profile FILE     a profile written by 'vsp profile'\n"
	"                         (symbols from a file are verified against the\n"
	"                         running kernel; a mismatch is refused, exit 3)\n"
	"      --vmlinux FILE     the guest's vmlinux, for process context (BTF)\n"
	"                         and KASLR; default: vmlinux beside --symbols\n"
	"  -m, --mode M           enforce, monitor or learn (overrides the files)\n"
	"  -a, --audit FILE       where audit records go (default -, stdout)\n"
	"  -r, --record FILE      also write every trapped event as a trace line\n"
	"                         (replay it with 'vsp replay')\n"
	"  -s, --stats[=json]     print statistics to standard error at the end\n"
	"      --vm NAME          the VM name in records (default guest0)\n"
	"      --max-events N     detach after N events\n"
	"      --pin-paths        allowed calls run with the very path the rules\n"
	"                         read: written into the kernel's own copy, so a\n"
	"                         thread that changes the buffer after the check\n"
	"                         gains nothing (two more stops per such call)\n"
	"      --on-partial P     when an event's inputs cannot be read in full\n"
	"                         (unreadable string, unfinished call path):\n"
	"                         rules (default), default, closed (deny EPERM)\n"
	"                         or open (allow)\n"
	"      --fail-closed, --fail-open   short for --on-partial closed/open\n"
	"  -q, --quiet            no progress messages\n"
	VSP_CLI_EXTERN_HELP
	"  -h, --help             show this help\n\n"
	"Exit status: 0 the guest ended or vsp detached, 1 policy errors,\n"
	"2 usage or I/O error, 3 cannot attach or lost the guest.\n";

enum {
	OPT_VMLINUX = 256, OPT_VM, OPT_MAX_EVENTS, OPT_PIN_PATHS, OPT_ON_PARTIAL,
	OPT_FAIL_CLOSED, OPT_FAIL_OPEN, OPT_INTERACTIVE
};

struct attach_args {
	const char *gdb, *xen, *audit, *record;
	struct vsp_monitor_opts mo;
	struct vsp_load_opts lo;
	bool audit_given;
};

static int attach_parse(int argc, char **argv, struct attach_args *aa)
{
	static const struct option opts[] = {
		{ "gdb", required_argument, NULL, 'g' },
		{ "xen", required_argument, NULL, 'x' },
		{ "symbols", required_argument, NULL, 'S' },
		{ "profile", required_argument, NULL, 'P' },
		{ "vmlinux", required_argument, NULL, OPT_VMLINUX },
		{ "mode", required_argument, NULL, 'm' },
		{ "audit", required_argument, NULL, 'a' },
		{ "record", required_argument, NULL, 'r' },
		{ "stats", optional_argument, NULL, 's' },
		{ "vm", required_argument, NULL, OPT_VM },
		{ "max-events", required_argument, NULL, OPT_MAX_EVENTS },
		{ "pin-paths", no_argument, NULL, OPT_PIN_PATHS },
		{ "on-partial", required_argument, NULL, OPT_ON_PARTIAL },
		{ "fail-closed", no_argument, NULL, OPT_FAIL_CLOSED },
		{ "fail-open", no_argument, NULL, OPT_FAIL_OPEN },
		{ "interactive", no_argument, NULL, OPT_INTERACTIVE },
		{ "quiet", no_argument, NULL, 'q' },
		VSP_CLI_EXTERN_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	memset(aa, 0, sizeof *aa);
	aa->audit = "-";
	aa->lo.mode = VSP_MODE_UNSET;
	aa->lo.diag = stderr;
	optind = 1;
	while ((c = getopt_long(argc, argv, "g:x:S:P:m:a:r:sqh", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			aa->gdb = optarg;
			break;
		case 'x':
			aa->xen = optarg;
			break;
		case 'S':
		case 'P':
			if (aa->mo.symbols) {
				fprintf(stderr, "vsp attach: give one of --symbols "
					"and --profile\n");
				return 2;
			}
			aa->mo.symbols = optarg;
			break;
		case OPT_VMLINUX:
			aa->mo.vmlinux = optarg;
			break;
		case 'm':
			if (vsp_mode_parse(optarg, &aa->lo.mode) < 0) {
				char modes[64];

				fprintf(stderr, "vsp attach: --mode must be %s, not '%s'\n",
					vsp_mode_names(modes, sizeof modes, "or"),
					optarg);
				return 2;
			}
			break;
		case 'a':
			aa->audit = optarg;
			aa->audit_given = true;
			break;
		case 'r':
			aa->record = optarg;
			break;
		case 's':
			aa->mo.stats = true;
			if (optarg && strcmp(optarg, "json") == 0)
				aa->mo.stats_json = true;
			else if (optarg && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "vsp attach: --stats takes 'json' or "
					"'text', not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_VM:
			aa->mo.vm = optarg;
			break;
		case OPT_MAX_EVENTS: {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 1000000000) {
				fprintf(stderr, "vsp attach: --max-events takes a "
					"positive number\n");
				return 2;
			}
			aa->mo.max_events = (int)v;
			break;
		}
		case OPT_PIN_PATHS:
			aa->mo.pin_paths = true;
			break;
		case OPT_ON_PARTIAL:
			if (vsp_fail_policy_parse(optarg, &aa->lo.on_partial) < 0) {
				fprintf(stderr, "vsp attach: --on-partial takes rules, "
					"default, closed or open, not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_FAIL_CLOSED:
			aa->lo.on_partial = VSP_FAIL_CLOSED;
			break;
		case OPT_FAIL_OPEN:
			aa->lo.on_partial = VSP_FAIL_OPEN;
			break;
		case OPT_INTERACTIVE:
			aa->mo.interactive = true;
			break;
		case 'q':
			aa->mo.quiet = true;
			break;
		case 'h':
			fputs(attach_help, stdout);
			return -1;
		default:
			switch (vsp_cli_extern_opt(c, optarg, &aa->lo.ext)) {
			case 1:
				continue;
			case -1:
				return 2;
			}
			fputs(attach_help, stderr);
			return 2;
		}
	}
	if (!aa->gdb == !aa->xen) {
		fprintf(stderr, "vsp attach: give exactly one of --gdb HOST:PORT "
			"and --xen DOMAIN\n");
		return 2;
	}
	/* A session may start with nothing loaded and `load` later. */
	if (optind >= argc && !aa->mo.interactive) {
		fprintf(stderr, "vsp attach: no policy file given\n");
		return 2;
	}
	return 0;
}

int vsp_cmd_attach(int argc, char **argv)
{
	struct attach_args aa;
	int status = attach_parse(argc, argv, &aa);
	if (status)
		return status < 0 ? 0 : status;
	if (vsp_cli_readable(argv + optind, argc - optind))
		return 2;
	char *const extra[] = { (char *)aa.mo.symbols, (char *)aa.mo.vmlinux };
	for (int i = 0; i < 2; i++)
		if (extra[i] && vsp_cli_readable(&extra[i], 1))
			return 2;

	/* An empty file is the empty policy: no events, no traps. */
	static const char *const none[] = { "/dev/null" };
	const char *const *files = optind < argc ? (const char *const *)argv + optind
						 : none;
	size_t nfiles = optind < argc ? (size_t)(argc - optind) : 1;
	struct vsp_policy *p = vsp_policy_load(files, nfiles, &aa.lo, NULL);
	if (!p)
		return 1;
	/* Nothing the policy names goes unenforced: refuse before attaching
	 * what this backend can never trap (vmi/support.h). */
	const char *bname = aa.gdb ? vsp_be_gdb_ops.name : vsp_be_xen_ops.name;
	if (vsp_support_check(p, bname, stderr) > 0) {
		fprintf(stderr, "vsp attach: the policy names events the %s "
			"backend cannot trap; nothing attached\n", bname);
		status = 1;
		goto out_policy;
	}

	FILE *audit = aa.mo.interactive && !aa.audit_given ? stderr
						      : vsp_cli_open_out(aa.audit);
	FILE *record = NULL;
	if (!audit) {
		status = 2;
		goto out_policy;
	}
	if (aa.record) {
		record = vsp_cli_open_out(aa.record);
		if (!record) {
			status = 2;
			goto out_audit;
		}
	}
	aa.mo.ops = aa.gdb ? &vsp_be_gdb_ops : &vsp_be_xen_ops;
	aa.mo.target = aa.gdb ? aa.gdb : aa.xen;
	aa.mo.policy = p;
	aa.mo.audit = audit;
	aa.mo.record = record;
	if (aa.mo.interactive) {
		aa.mo.ctl_fd = 0;
		aa.mo.ctl_out = stdout;
		aa.mo.load = &aa.lo;
	}
	status = vsp_monitor_run(&aa.mo);

	if (record && record != stdout && fclose(record) != 0 && !status) {
		fprintf(stderr, "vsp attach: closing %s: %s\n", aa.record,
			strerror(errno));
		status = 2;
	}
out_audit:
	if (audit != stdout && audit != stderr && fclose(audit) != 0 && !status) {
		fprintf(stderr, "vsp attach: closing %s: %s\n", aa.audit,
			strerror(errno));
		status = 2;
	}
out_policy:
	vsp_policy_free(p);
	return status;
}
