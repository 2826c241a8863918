/*
 * attach.c: `vsp attach --gdb HOST:PORT | --xen DOMAIN [...] POLICY...`.
 *
 * The command line end of the live path: it parses options, loads and
 * verifies the policy (the same vsp_policy_load every command uses), opens
 * the audit and trace outputs, and hands the rest to the monitor loop in
 * vmi/monitor.c (split by concern, vmi/mon.h) with the backend the
 * options name, found in the registry (vmi/backend.c).  Exit statuses follow
 * interfaces.md: 0 the guest ended or we detached, 1 policy errors,
 * 2 usage or I/O errors, 3 cannot attach or lost the guest, 4 audit or
 * trace records lost (--on-audit-error).
 *
 * `vsp repl --gdb|--xen` comes here too (cli/repl.c passes --interactive):
 * the same attach, with commands read from standard input between stops
 * and audit records on standard error unless --audit names a file, so
 * standard output carries only the session's answers.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/repl.h"
#include "cli/commands.h"
#include "cli/complete.h"
#include "cli/lineedit.h"
#include "cli/service.h"
#include "vmi/monitor.h"
#include "vmi/libvirt.h"
#include "vmi/qmp.h"
#include "vmi/support.h"

static const char attach_help[] =
	"usage: vsp attach (--gdb HOST:PORT | --qmp SOCKET | --libvirt DOMAIN |\n"
	"                   --xen DOMAIN | --config FILE) [--libvirt-uri URI]\n"
	"                  [--symbols FILE | --profile FILE]\n"
	"                  [--vmlinux FILE] [--mode M] [--audit WHERE]\n"
	"                  [--audit-format vsp|falco]\n"
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
	"its rule's location and the reason.\n"
	"SIGHUP compiles the policy files again and swaps them in between two\n"
	"traps (the old ones stay if they do not compile); SIGUSR1 reopens the\n"
	"audit file.  Under systemd (vsp@.service) it tells READY=1 once the\n"
	"traps are placed and keeps the watchdog fed.\n\n"
	"  -g, --gdb HOST:PORT    a GDB remote stub (QEMU -gdb, KVM, any gdbstub)\n"
	"      --qmp SOCKET       a running QEMU's QMP socket: vsp starts its GDB\n"
	"                         stub on a free loopback port (gdbserver), attaches\n"
	"                         to it, and closes it again on detach\n"
	"      --libvirt DOMAIN   a running libvirt QEMU domain, by name: the same\n"
	"                         as --qmp, through libvirt's QEMU monitor command\n"
	"      --libvirt-uri URI  the libvirt connection (default:\n"
	"                         $LIBVIRT_DEFAULT_URI, else qemu:///system)\n"
	"  -x, --xen DOMAIN       a Xen domain, by name or id (vm_event)\n"
	"  -S, --symbols FILE     the guest kernel's System.map or a kallsyms dump\n"
	"                         (default: the running kernel's own kallsyms,\n"
	"                         decoded from guest memory)\n"
	"  -P, --profile FILE     a profile written by 'vsp profile': its symbols,\n"
	"                         and its BTF, ORC tables and tail jumps instead\n"
	"                         of copies from the guest (symbols and sections\n"
	"                         are verified against the running kernel; a\n"
	"                         mismatch is refused, exit 3)\n"
	"      --verify-symbols HOW  how a profile's symbols are verified: digest\n"
	"                         (the default: windows of the kernel's kallsyms\n"
	"                         tables the profile recorded, a few round trips)\n"
	"                         or full (the running kernel's whole table\n"
	"                         decoded and every trap site compared with it)\n"
	"      --vmlinux FILE     the guest's vmlinux, for process context (BTF),\n"
	"                         KASLR and call paths (ORC); default: vmlinux\n"
	"                         beside --symbols, else BTF and ORC tables are\n"
	"                         read from the running kernel's memory\n"
	"  -m, --mode M           enforce, monitor or learn (overrides the files)\n"
	"  -a, --audit WHERE      where audit records go: FILE, - (stdout, the\n"
	"                         default), journal (systemd's journal, with\n"
	"                         VSP_RULE=, VSP_VERDICT=, VSP_VM=, PRIORITY=),\n"
	"                         syslog (RFC 5424 to /dev/log),\n"
	"                         syslog://HOST:PORT (UDP) or\n"
	"                         syslog+tcp://HOST:PORT\n"
	"      --audit-format F   vsp (the default) or falco (Falco's JSON alert:\n"
	"                         time, rule, priority, output, output_fields,\n"
	"                         source, tags, hostname)\n"
	"      --audit-append     append to an audit FILE instead of truncating it\n"
	"  -c, --config FILE      read options from FILE first (key = value lines,\n"
	"                         the option names without --; policy = FILE for\n"
	"                         each policy; relative paths from FILE's folder;\n"
	"                         audit files appended to); the command line\n"
	"                         wins; vsp@NAME.service reads\n"
	"                         /etc/vsp/guests/NAME.conf this way\n"
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
	"      --on-audit-error A  when an audit record or a --record line cannot\n"
	"                         be written (disk full, closed pipe): stop\n"
	"                         (default: detach cleanly at once), pause (detach\n"
	"                         and leave the guest stopped) or continue\n"
	"                         (enforce on); each counts what is lost and ends\n"
	"                         with exit status 4\n"
	"      --on-monitor-death A  when vsp dies without detaching (SIGKILL,\n"
	"                         a crash, the OOM killer), its guard process\n"
	"                         removes every trap and then: detach (default:\n"
	"                         the guest runs on unguarded) or pause (the\n"
	"                         guest waits, paused, for an operator); either\n"
	"                         way it writes a last audit record\n"
	"      --metrics ADDR:PORT  serve Prometheus metrics over HTTP on this\n"
	"                         address (numeric; loopback unless you mean it)\n"
	"      --metrics-file FILE  write the same metrics to FILE (atomically,\n"
	"                         for node_exporter's textfile collector) every\n"
	"                         --metrics-interval seconds (default 15) and at exit\n"
	"  -q, --quiet            no progress messages\n"
	VSP_CLI_EXTERN_HELP
	"  -h, --help             show this help\n\n"
	"Exit status: 0 the guest ended or vsp detached, 1 policy errors,\n"
	"2 usage or I/O error, 3 cannot attach or lost the guest, 4 audit or\n"
	"trace records were lost.\n";

enum {
	OPT_VMLINUX = 256, OPT_VM, OPT_MAX_EVENTS, OPT_PIN_PATHS, OPT_ON_PARTIAL,
	OPT_ON_AUDIT_ERROR,
	OPT_ON_MONITOR_DEATH,
	OPT_FAIL_CLOSED, OPT_FAIL_OPEN, OPT_INTERACTIVE, OPT_AUDIT_FORMAT,
	OPT_AUDIT_APPEND, OPT_METRICS, OPT_METRICS_FILE, OPT_METRICS_INTERVAL, OPT_QMP,
	OPT_LIBVIRT, OPT_LIBVIRT_URI,
	OPT_HISTORY, OPT_VERIFY_SYMBOLS
};

struct attach_args {
	const char *gdb, *xen, *qmp, *libvirt, *libvirt_uri, *audit, *record;
	struct vsp_monitor_opts mo;
	struct vsp_load_opts lo;
	bool audit_given, audit_append;
	bool death_given;
	const char *metrics, *metrics_file;
	const char *history;	/* repl: the history file */
	unsigned metrics_interval;
	enum vsp_audit_format audit_fmt;
};

static int vsp_attach_run(int argc, char **argv);

/* What Tab offers live: the policy files of the command line and, with
 * --symbols or --profile, the kernel's names. */
static char **attach_files;
static int attach_nfiles;
static struct vsp_repl_complete attach_complete = {
	.where = VSP_REPL_LIVE, .files = &attach_files, .nfiles = &attach_nfiles,
};

/*
 * A session at a terminal gets a line editor (cli/lineedit.h) on its own
 * thread, so the loop never waits on a person: commands reach it through
 * a pipe, and Ctrl-C is the editor's (it drops the line) and never
 * detaches; SIGINT is blocked in this thread, so it lands in the editor's
 * read.  Elsewhere (a pipe) the loop reads standard input itself.
 */
static int attach_editor(struct attach_args *aa, struct vsp_edit **out)
{
	*out = NULL;
	if (!isatty(0) || !isatty(1))
		return 0;
	struct vsp_edit_opts eo = {
		.history = vsp_edit_history_path(aa->history),
		.complete = vsp_repl_complete, .ctx = &attach_complete,
	};
	struct vsp_edit *ed = vsp_edit_open(stdin, stdout, &eo);
	if (!ed) {
		fprintf(stderr, "vsp repl: cannot set up the terminal\n");
		return -1;
	}
	if (!vsp_edit_interactive(ed)) {
		vsp_edit_close(ed);	/* no libedit: the loop reads stdin */
		return 0;
	}
	if (aa->mo.symbols)
		attach_complete.syms = vsp_sym_load(aa->mo.symbols, NULL, 0);
	int fd;
	vsp_edit_sigint(true);
	if (vsp_edit_serve(ed, &fd) < 0) {
		fprintf(stderr, "vsp repl: cannot start the line editor: %s\n",
			strerror(errno));
		vsp_edit_sigint(false);
		vsp_edit_close(ed);
		return -1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	aa->mo.ctl_fd = fd;
	aa->mo.ctl_ready = vsp_edit_ready;
	aa->mo.ctl_ctx = ed;
	aa->mo.ctl_sigint = true;
	*out = ed;
	return 0;
}

static int attach_parse(int argc, char **argv, struct attach_args *aa)
{
	static const struct option opts[] = {
		{ "gdb", required_argument, NULL, 'g' },
		{ "xen", required_argument, NULL, 'x' },
		{ "qmp", required_argument, NULL, OPT_QMP },
		{ "libvirt", required_argument, NULL, OPT_LIBVIRT },
		{ "libvirt-uri", required_argument, NULL, OPT_LIBVIRT_URI },
		{ "symbols", required_argument, NULL, 'S' },
		{ "profile", required_argument, NULL, 'P' },
		{ "vmlinux", required_argument, NULL, OPT_VMLINUX },
		{ "verify-symbols", required_argument, NULL, OPT_VERIFY_SYMBOLS },
		{ "mode", required_argument, NULL, 'm' },
		{ "audit", required_argument, NULL, 'a' },
		{ "audit-format", required_argument, NULL, OPT_AUDIT_FORMAT },
		{ "audit-append", no_argument, NULL, OPT_AUDIT_APPEND },
		{ "config", required_argument, NULL, 'c' },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "metrics-file", required_argument, NULL, OPT_METRICS_FILE },
		{ "metrics-interval", required_argument, NULL, OPT_METRICS_INTERVAL },
		{ "record", required_argument, NULL, 'r' },
		{ "stats", optional_argument, NULL, 's' },
		{ "vm", required_argument, NULL, OPT_VM },
		{ "max-events", required_argument, NULL, OPT_MAX_EVENTS },
		{ "pin-paths", no_argument, NULL, OPT_PIN_PATHS },
		{ "on-partial", required_argument, NULL, OPT_ON_PARTIAL },
		{ "on-audit-error", required_argument, NULL, OPT_ON_AUDIT_ERROR },
		{ "on-monitor-death", required_argument, NULL, OPT_ON_MONITOR_DEATH },
		{ "fail-closed", no_argument, NULL, OPT_FAIL_CLOSED },
		{ "fail-open", no_argument, NULL, OPT_FAIL_OPEN },
		{ "interactive", no_argument, NULL, OPT_INTERACTIVE },
		{ "history", required_argument, NULL, OPT_HISTORY },
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
	while ((c = getopt_long(argc, argv, "g:x:S:P:m:a:r:c:sqh", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			aa->gdb = optarg;
			break;
		case 'x':
			aa->xen = optarg;
			break;
		case OPT_QMP:
			aa->qmp = optarg;
			break;
		case OPT_LIBVIRT:
			aa->libvirt = optarg;
			break;
		case OPT_LIBVIRT_URI:
			aa->libvirt_uri = optarg;
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
		case OPT_VERIFY_SYMBOLS:
			if (strcmp(optarg, "full") != 0 && strcmp(optarg, "digest") != 0) {
				fprintf(stderr, "vsp attach: --verify-symbols must be "
					"digest or full, not '%s'\n", optarg);
				return 2;
			}
			aa->mo.verify_symbols_full = strcmp(optarg, "full") == 0;
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
		case OPT_METRICS:
			aa->metrics = optarg;
			break;
		case OPT_METRICS_FILE:
			aa->metrics_file = optarg;
			break;
		case OPT_METRICS_INTERVAL: {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 86400) {
				fprintf(stderr, "vsp attach: --metrics-interval takes "
					"seconds, 1 to 86400\n");
				return 2;
			}
			aa->metrics_interval = (unsigned)v;
			break;
		}
		case OPT_AUDIT_APPEND:
			aa->audit_append = true;
			break;
		case 'c':
			/* Read before parsing (vsp_cmd_attach): one only. */
			fprintf(stderr, "vsp attach: --config given twice\n");
			return 2;
		case OPT_AUDIT_FORMAT:
			if (vsp_audit_format_parse(optarg, &aa->audit_fmt) < 0) {
				fprintf(stderr, "vsp attach: --audit-format takes "
					"vsp or falco, not '%s'\n", optarg);
				return 2;
			}
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
		case OPT_ON_AUDIT_ERROR:
			if (vsp_on_record_error_parse(optarg, &aa->mo.on_audit_error) < 0) {
				fprintf(stderr, "vsp attach: --on-audit-error takes "
					"stop, pause or continue, not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_ON_MONITOR_DEATH:
			if (strcmp(optarg, "detach") == 0)
				aa->mo.on_death = VSP_DEATH_DETACH;
			else if (strcmp(optarg, "pause") == 0)
				aa->mo.on_death = VSP_DEATH_PAUSE;
			else {
				fprintf(stderr, "vsp attach: --on-monitor-death takes "
					"detach or pause, not '%s'\n", optarg);
				return 2;
			}
			aa->death_given = true;
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
		case OPT_HISTORY:
			aa->history = optarg;
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
	if (!!aa->gdb + !!aa->xen + !!aa->qmp + !!aa->libvirt != 1) {
		fprintf(stderr, "vsp attach: give exactly one of --gdb HOST:PORT, "
			"--qmp SOCKET, --libvirt DOMAIN and --xen DOMAIN\n");
		return 2;
	}
	if (aa->gdb) {
		const char *colon = strrchr(aa->gdb, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;

		if (!colon || colon == aa->gdb || !colon[1] || *end ||
		    colon[1] == '-' || colon[1] == '+') {
			fprintf(stderr, "vsp attach: --gdb takes HOST:PORT, not "
				"'%s'\n", aa->gdb);
			return 2;
		}
		if (port < 1 || port > 65535) {
			fprintf(stderr, "vsp attach: --gdb %s: the port must be "
				"1 to 65535\n", aa->gdb);
			return 2;
		}
	}
	/* A session may start with nothing loaded and `load` later. */
	if (optind >= argc && !aa->mo.interactive) {
		fprintf(stderr, "vsp attach: no policy file given\n");
		return 2;
	}
	return 0;
}

/*
 * --config FILE: the file's options go first, then the command line's
 * (without the --config), so the command line wins.  *cfg owns the
 * strings; *argvp points into it.
 */
static int attach_config(int *argcp, char ***argvp, struct vsp_cli_config *cfg)
{
	int argc = *argcp, at = -1, skip = 0;
	char **argv = *argvp;
	const char *file = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "vsp attach: --config needs a file\n");
				return 2;
			}
			file = argv[i + 1];
			skip = 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
			skip = 1;
		} else {
			continue;
		}
		at = i;
		break;
	}
	if (at < 0)
		return 0;
	struct vsp_cli_config rest = { 0 };
	int status = vsp_cli_config_read(file, &rest);
	if (status) {
		vsp_cli_config_release(&rest);
		return status;
	}
	/* argv[0], the file's options, then the rest of the command line. */
	size_t n = (size_t)(1 + rest.argc + argc - skip);
	char **v = calloc(n, sizeof(*v));
	if (!v) {
		vsp_cli_config_release(&rest);
		return 2;
	}
	int k = 0;
	v[k++] = strdup(argv[0]);
	for (int i = 0; i < rest.argc; i++)
		v[k++] = rest.argv[i];
	for (int i = 1; i < argc; i++)
		if (i < at || i >= at + skip)
			v[k++] = strdup(argv[i]);
	free(rest.argv);
	cfg->argv = v;
	cfg->argc = k;
	cfg->cap = (int)n;
	*argcp = k;
	*argvp = v;
	return 0;
}

int vsp_cmd_attach(int argc, char **argv)
{
	struct vsp_cli_config cfg = { 0 };
	int status = attach_config(&argc, &argv, &cfg);
	if (status)
		return status;
	status = vsp_attach_run(argc, argv);
	vsp_cli_config_release(&cfg);
	return status;
}

static int vsp_attach_run(int argc, char **argv)
{
	struct attach_args aa;
	int rc, status = attach_parse(argc, argv, &aa);
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
	attach_files = argv + optind;
	attach_nfiles = argc - optind;
	struct vsp_policy *p = vsp_policy_load(files, nfiles, &aa.lo, NULL);
	if (!p)
		return 1;
	/* Nothing the policy names goes unenforced: refuse before attaching
	 * what this backend can never trap (vmi/support.h). */
	/* --qmp starts a GDB stub: the gdb backend attaches to it. */
	const char *bname = aa.gdb || aa.qmp || aa.libvirt ? "gdb" : "xen";
	const struct vsp_backend_ops *ops = vsp_backend_find(bname);
	if (aa.death_given && aa.mo.on_death == VSP_DEATH_PAUSE && !ops->caps.guard) {
		fprintf(stderr, "vsp attach: --on-monitor-death pause: the %s "
			"backend has no guard process to pause the guest when vsp "
			"dies\n", ops->name);
		status = 2;
		goto out_policy;
	}
	if (vsp_support_check(p, ops, stderr) > 0) {
		fprintf(stderr, "vsp attach: the policy names events the %s "
			"backend cannot trap; nothing attached\n", ops->name);
		status = 1;
		goto out_policy;
	}

	struct vsp_sink *audit = aa.mo.interactive && !aa.audit_given ?
		vsp_sink_stream(stderr, aa.audit_fmt) :
		vsp_cli_open_sink("attach", aa.audit, aa.audit_fmt,
				  aa.audit_append);
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
	aa.mo.ops = ops;
	aa.mo.policy = p;
	aa.mo.audit_sink = audit;
	aa.mo.record = record;
	struct vsp_edit *ed = NULL;
	if (aa.mo.interactive) {
		aa.mo.ctl_fd = 0;
		aa.mo.ctl_out = stdout;
		aa.mo.load = &aa.lo;
		aa.mo.files = (const char *const *)argv + optind;
		aa.mo.nfiles = optind < argc ? (size_t)(argc - optind) : 0;
		if (attach_editor(&aa, &ed) < 0) {
			status = 2;
			goto out_record;
		}
	}
	struct vsp_service svc;
	bool have_svc = false;
	if (!aa.mo.interactive) {
		/* SIGHUP compiles the same files with the same options. */
		struct vsp_service_opts so = {
			.vm = aa.mo.vm, .metrics = aa.metrics,
			.metrics_file = aa.metrics_file,
			.metrics_interval_s = aa.metrics_interval,
			.audit = audit, .audit_name = aa.audit,
			.files = files, .nfiles = nfiles,
		};
		if (vsp_service_init(&svc, &so) < 0) {
			vsp_service_release(&svc);
			status = 2;
			goto out_record;
		}
		have_svc = true;
		aa.mo.hooks = &svc.hooks;
		aa.mo.load = &aa.lo;
	}
	/* Opened last: nothing before the monitor can fail with the stub
	 * left listening. */
	struct vsp_qmp qmp = { .fd = -1 };
	if (aa.qmp) {
		char err[300];
		if (vsp_qmp_open_stub(&qmp, aa.qmp, err, sizeof err) < 0) {
			fprintf(stderr, "vsp attach: cannot open the GDB stub: %s\n", err);
			status = 3;
			goto out_service;
		}
		if (!aa.mo.quiet)
			fprintf(stderr, "vsp attach: GDB stub started through %s on %s\n",
				aa.qmp, qmp.target);
		aa.gdb = qmp.target;
	}
	struct vsp_libvirt lv = { 0 };
	if (aa.libvirt) {
		char err[600];
		if (vsp_libvirt_open_stub(&lv, aa.libvirt_uri, aa.libvirt, err,
					  sizeof err) < 0) {
			fprintf(stderr, "vsp attach: %s\n", err);
			status = 3;
			goto out_service;
		}
		if (!aa.mo.quiet)
			fprintf(stderr, "vsp attach: GDB stub started through libvirt "
				"domain %s on %s\n", aa.libvirt, lv.target);
		aa.gdb = lv.target;
	}
	aa.mo.target = aa.gdb ? aa.gdb : aa.xen;
	status = vsp_monitor_run(&aa.mo);
	if (aa.libvirt) {
		char err[600];
		if (vsp_libvirt_close_stub(&lv, err, sizeof err) < 0) {
			fprintf(stderr, "vsp attach: %s\n", err);
			if (!status)
				status = 3;
		} else if (!aa.mo.quiet) {
			fprintf(stderr, "vsp attach: GDB stub closed\n");
		}
	}
	if (aa.qmp) {
		char err[300];
		if (vsp_qmp_close_stub(&qmp, err, sizeof err) < 0) {
			fprintf(stderr, "vsp attach: %s\n", err);
			if (!status)
				status = 3;
		} else if (!aa.mo.quiet) {
			fprintf(stderr, "vsp attach: GDB stub closed\n");
		}
	}
out_service:
	if (have_svc)
		vsp_service_release(&svc);
	if (ed) {
		vsp_edit_finish(ed);
		if (attach_complete.syms)
			vsp_sym_free((struct vsp_symtab *)attach_complete.syms);
		attach_complete.syms = NULL;
		close(aa.mo.ctl_fd);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		vsp_edit_sigint(false);
	}
out_record:

	if (record && record != stdout && fclose(record) != 0 && !status) {
		fprintf(stderr, "vsp attach: closing %s: %s\n", aa.record,
			strerror(errno));
		status = 2;
	}
out_audit:
	if ((rc = vsp_sink_close(audit)) < 0 && !status) {
		fprintf(stderr, "vsp attach: closing %s: %s\n", aa.audit,
			strerror(-rc));
		status = 2;
	}
out_policy:
	vsp_policy_free(p);
	return status;
}
