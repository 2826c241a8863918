/*
 * repl.c: `vsp repl`, an interactive session over the engine.
 *
 * A line-oriented loop (works with a terminal, a pipe or tmux): load
 * policies, type events as trace lines, step through a trace, and look at
 * decisions, rules, bytecode and statistics.  A live guest session
 * (--gdb, --xen) is `vsp attach` made interactive: the monitor loop
 * (vmi/monitor.c) enforces the policy and reads the session's commands
 * between stops; every attach option applies.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "interp/audit.h"
#include "vmi/trace.h"

static const char repl_help[] =
	"usage: vsp repl [--trace FILE | --gdb HOST:PORT | --xen DOMAIN] [POLICY...]\n\n"
	"Interactive session.  Commands (one per line):\n"
	"  load FILE...     load policies (replaces the current ones)\n"
	"  mode M           enforce, monitor or learn\n"
	"  {JSON}           decide one event written as a trace line\n"
	"  next [N]         decide the next N events of the trace (default 1)\n"
	"  run              decide the rest of the trace\n"
	"  rules            list the rules and their hits\n"
	"  events           list the events the policy traps\n"
	"  disasm           print the bytecode\n"
	"  stats            print statistics\n"
	"  help, quit\n\n"
	"Options:\n"
	VSP_CLI_EXTERN_HELP
	"\n"
	"With --gdb HOST:PORT or --xen DOMAIN the session attaches to the live\n"
	"guest as 'vsp attach' does (its options apply: --symbols, --mode,\n"
	"--audit, ...), enforces the policy and takes these commands:\n"
	"  status           attached, guest running or paused, events, traps\n"
	"  stats, rules     statistics; the rules and their hits\n"
	"  events           what is trapped, at which addresses\n"
	"  load FILE...     compile and swap in a new policy between two traps,\n"
	"                   moving the traps; on errors the old one stays\n"
	"  mode M           enforce, monitor or learn\n"
	"  pause, continue  stop the guest and keep it stopped; let it run\n"
	"  regs             the vCPU's registers (paused)\n"
	"  mem ADDR LEN     hex dump of guest-virtual memory (paused, <= 4096)\n"
	"  sym NAME|ADDR    symbol lookups\n"
	"  tail [N]         the last N decisions\n"
	"  detach, quit     remove every trap, let the guest run, exit 0\n"
	"End of input detaches too.  A guest paused by a pause rule stays\n"
	"paused after detach; one paused with 'pause' runs on.  Answers go to\n"
	"standard output; audit records go to --audit FILE, or without it to\n"
	"standard error, so they do not mix with the answers.\n";

struct repl {
	struct vsp_policy *p;
	struct vsp_load_opts lo;
	struct vsp_audit audit;
	struct vsp_run_stats rs;
	struct vsp_line_reader trace;
	FILE *trace_in;
	const char *trace_name;
	struct vsp_trace_event te;
	char **files;
	int nfiles;
};

static int repl_load(struct repl *r, char **files, int n)
{
	struct vsp_policy *p;

	if (n == 0) {
		fprintf(stderr, "load: no policy file given\n");
		return -1;
	}
	if (vsp_cli_readable(files, n))
		return -1;
	p = vsp_policy_load((const char *const *)files, (size_t)n, &r->lo, NULL);
	if (!p)
		return -1;
	if (r->p) {
		vsp_audit_release(&r->audit);
		vsp_policy_free(r->p);
	}
	r->p = p;
	vsp_audit_init(&r->audit, stdout, p);
	r->audit.flush_each = true;
	memset(&r->rs, 0, sizeof(r->rs));
	printf("loaded %u rule(s), %u event(s), mode %s\n", vsp_policy_nrules(p),
	       vsp_policy_nevents(p), vsp_mode_name(vsp_policy_mode(p)));
	return 0;
}

static void decide_line(struct repl *r, const char *line, size_t len,
			const char *where)
{
	char err[256];
	struct vsp_decision d;

	if (!r->p) {
		printf("no policy loaded: 'load FILE'\n");
		return;
	}
	if (vsp_trace_parse(&r->te, line, len, err, sizeof(err)) < 0) {
		printf("%s: error: %s\n", where, err);
		return;
	}
	vsp_event_reset_lazy(&r->te.ev);
	uint64_t t0 = vsp_cli_now_ns();
	vsp_decide(r->p, &r->te.ev, &d);
	vsp_latency_add(&r->rs.latency, vsp_cli_now_ns() - t0);
	for (uint32_t i = 0; i < d.nlearn; i++)
		vsp_policy_learn(r->p, d.learn_rule[i], &r->te.ev);
	printf("%s %s %s: %s", where, vsp_event_kind_name(r->te.ev.kind),
	       r->te.ev.name, vsp_verdict_name(d.verdict));
	if (d.verdict == VSP_V_DENY)
		printf(" errno %lld", (long long)d.value);
	else if (d.verdict == VSP_V_RETURN)
		printf(" %lld", (long long)d.value);
	else if (d.verdict == VSP_V_REDIRECT)
		printf(" \"%.*s\"", (int)d.redirect.len, d.redirect.ptr);
	printf(" (%s%s, %u steps)\n",
	       d.rule >= 0 ? vsp_policy_rule(r->p, (uint32_t)d.rule)->name : "default",
	       d.cached ? ", cached" : "", d.steps);
	vsp_audit_decision(&r->audit, &r->te.ev, &d,
			   vsp_policy_mode(r->p) == VSP_MODE_ENFORCE &&
			   d.verdict != VSP_V_ALLOW);
}

static void step(struct repl *r, long n)
{
	const char *line;
	size_t len;
	char where[64];

	if (!r->trace_in) {
		printf("no trace: start with --trace FILE\n");
		return;
	}
	while (n-- != 0) {
		int rc = vsp_line_read(&r->trace, &line, &len);
		if (rc == 0) {
			printf("end of trace\n");
			return;
		}
		snprintf(where, sizeof(where), "%s:%lu", r->trace_name,
			 r->trace.lineno);
		if (rc < 0) {
			printf("%s: error: line too long or unreadable\n", where);
			continue;
		}
		decide_line(r, line, len, where);
	}
}

static void list_rules(struct repl *r)
{
	for (uint32_t i = 0; i < vsp_policy_nrules(r->p); i++) {
		const struct vsp_rule_info *ri = vsp_policy_rule(r->p, i);
		printf("%4u  %-32s %s:%d  hits %llu\n", i, ri->name, ri->file,
		       ri->line,
		       (unsigned long long)vsp_policy_rule_hits(r->p, i));
	}
}

static void list_events(struct repl *r)
{
	for (uint32_t i = 0; i < vsp_policy_nevents(r->p); i++) {
		const struct vsp_event_key *k = vsp_policy_event(r->p, i);
		printf("%-9s %-24s worst case %u steps\n",
		       vsp_event_kind_name(k->kind), k->name, k->max_steps);
	}
}

/* Splits `line` in place into words; returns how many. */
static int split(char *line, char **w, int max)
{
	int n = 0;

	for (char *s = strtok(line, " \t"); s && n < max; s = strtok(NULL, " \t"))
		w[n++] = s;
	return n;
}

static void command(struct repl *r, char *line, size_t len)
{
	char *w[64];
	int n;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		line[--len] = '\0';
	while (*line == ' ' || *line == '\t') {
		line++;
		len--;
	}
	if (!*line || *line == '#')
		return;
	if (*line == '{') {
		decide_line(r, line, len, "event");
		return;
	}
	n = split(line, w, 64);
	if (strcmp(w[0], "help") == 0 || strcmp(w[0], "?") == 0) {
		fputs(repl_help, stdout);
	} else if (strcmp(w[0], "load") == 0) {
		repl_load(r, w + 1, n - 1);
	} else if (strcmp(w[0], "mode") == 0) {
		char modes[64];

		if (n != 2 || vsp_mode_parse(w[1], &r->lo.mode) < 0)
			printf("mode: %s\n",
			       vsp_mode_names(modes, sizeof modes, "or"));
		else if (r->nfiles)
			repl_load(r, r->files, r->nfiles);
	} else if (strcmp(w[0], "next") == 0) {
		step(r, n > 1 ? strtol(w[1], NULL, 10) : 1);
	} else if (strcmp(w[0], "run") == 0) {
		step(r, -1);
	} else if (!r->p) {
		printf("no policy loaded: 'load FILE'\n");
	} else if (strcmp(w[0], "rules") == 0) {
		list_rules(r);
	} else if (strcmp(w[0], "events") == 0) {
		list_events(r);
	} else if (strcmp(w[0], "disasm") == 0) {
		vsp_policy_disasm(r->p, stdout);
	} else if (strcmp(w[0], "stats") == 0) {
		vsp_stats_print(stdout, r->p, &r->rs, false);
	} else {
		printf("unknown command '%s': try 'help'\n", w[0]);
	}
}

int vsp_cmd_repl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "gdb", required_argument, NULL, 'g' },
		{ "xen", required_argument, NULL, 'x' },
		VSP_CLI_EXTERN_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct repl r;
	const char *trace = NULL;
	int c;

	/* A live session is the monitor, interactive, with every attach
	 * option: hand the whole command line over. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--gdb") == 0 || strcmp(a, "-g") == 0 ||
		    strcmp(a, "--xen") == 0 || strcmp(a, "-x") == 0 ||
		    strncmp(a, "--gdb=", 6) == 0 || strncmp(a, "--xen=", 6) == 0) {
			char **av = calloc((size_t)argc + 2, sizeof(*av));
			int an = 0;
			if (!av)
				return 2;
			av[an++] = "attach";
			av[an++] = "--interactive";
			for (int k = 1; k < argc; k++)
				av[an++] = argv[k];
			int rc = vsp_cmd_attach(an, av);
			free(av);
			return rc;
		}
	}

	memset(&r, 0, sizeof(r));
	r.lo.mode = VSP_MODE_UNSET;
	r.lo.diag = stdout;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:g:x:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			trace = optarg;
			break;
		case 'h':
			fputs(repl_help, stdout);
			return 0;
		default:
			switch (vsp_cli_extern_opt(c, optarg, &r.lo.ext)) {
			case 1:
				continue;
			case -1:
				return 2;
			}
			fputs(repl_help, stderr);
			return 2;
		}
	}
	r.files = argv + optind;
	r.nfiles = argc - optind;
	if (trace) {
		r.trace_in = fopen(trace, "r");
		if (!r.trace_in) {
			fprintf(stderr, "vsp: cannot read %s: %s\n", trace,
				strerror(errno));
			return 2;
		}
		r.trace_name = trace;
		vsp_line_reader_init(&r.trace, r.trace_in);
	}
	vsp_trace_event_init(&r.te);
	if (r.nfiles)
		repl_load(&r, r.files, r.nfiles);

	struct vsp_line_reader in;
	const char *line;
	size_t len;
	bool tty = isatty(0);
	vsp_line_reader_init(&in, stdin);
	for (;;) {
		if (tty) {
			fputs("vsp> ", stdout);
			fflush(stdout);
		}
		int rc = vsp_line_read(&in, &line, &len);
		if (rc == 0)
			break;
		if (rc < 0)
			continue;
		if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0)
			break;
		command(&r, (char *)line, len);
		fflush(stdout);
	}
	vsp_line_reader_release(&in);
	if (r.p) {
		if (vsp_policy_mode(r.p) == VSP_MODE_LEARN)
			vsp_policy_save_profiles(r.p, stderr);
		vsp_audit_release(&r.audit);
		vsp_policy_free(r.p);
	}
	vsp_trace_event_release(&r.te);
	if (r.trace_in) {
		vsp_line_reader_release(&r.trace);
		fclose(r.trace_in);
	}
	return 0;
}
