/*
 * replay.c: `vsp replay POLICY... --trace FILE`.
 *
 * Runs a recorded trace through the engine exactly as a live backend
 * would: each line becomes a struct vsp_event whose string fields are
 * answered lazily from the line, the engine decides, the audit log gets
 * its records.  A regular file is checked whole before anything is
 * decided, so a malformed line stops the run with status 2 and no audit
 * output at all.  Anything else (standard input, a pipe, a FIFO, `<(...)`)
 * is read once, as it comes, in bounded memory: each line is decided as it
 * arrives, and a malformed line stops the run there, with status 2, after
 * the records of the lines before it.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cli/commands.h"
#include "engine/audit.h"
#include "vmi/trace.h"

static const char replay_help[] =
	"usage: vsp replay POLICY... --trace FILE [--mode M] [--audit WHERE]\n"
	"                  [--audit-format vsp|falco] [--stats[=json]] [--no-fastpath] [--no-cache]\n"
	"                  [--cache-entries N] [--on-partial P]\n\n"
	"Decides every event of a recorded JSON Lines trace (as written by\n"
	"'vsp attach --record') and writes one audit record per decision that is\n"
	"not a plain default allow, and per log or alert effect.\n\n"
	"  -t, --trace FILE       the trace; - reads standard input (a pipe or\n"
	"                         FIFO is decided line by line as it comes)\n"
	"  -m, --mode M           enforce, monitor or learn (overrides the files)\n"
	"  -a, --audit WHERE      where audit records go: FILE, - (stdout, the\n"
	"                         default), journal, syslog, syslog://HOST:PORT,\n"
	"                         syslog+tcp://HOST:PORT (see vsp attach --help)\n"
	"      --audit-format F   vsp (the default) or falco (Falco's JSON alert)\n"
	"  -s, --stats[=json]     print statistics to standard error at the end\n"
	"      --no-fastpath      interpreter only: no constant verdicts or matchers\n"
	"      --no-cache         no decision cache\n"
	"      --cache-entries N  decision cache size (default 65536)\n"
	"      --on-partial P     when an event's inputs could not be read in full:\n"
	"                         rules (default: the rules decide, seeing empty\n"
	"                         strings and event.partial), default (the policy's\n"
	"                         default verdict), closed (deny EPERM), open (allow)\n"
	"      --fail-closed      the same as --on-partial closed\n"
	"      --fail-open        the same as --on-partial open\n"
	VSP_CLI_EXTERN_HELP
	"      --all-events       decide every event of the trace, also those no\n"
	"                         rule names (a live monitor traps only named\n"
	"                         events: by default they are skipped, as live)\n"
	"  -h, --help             show this help\n\n"
	"In learn mode the profile files named by 'must arise from profile' get\n"
	"every call path seen (sorted, without duplicates, merged with what they\n"
	"held).\n\n"
	"Exit status: 0 done, 1 policy errors, 2 usage, I/O error or malformed\n"
	"trace (the message names the line).\n";

enum {
	OPT_NO_FASTPATH = 256, OPT_NO_CACHE, OPT_CACHE_ENTRIES, OPT_ON_PARTIAL,
	OPT_FAIL_CLOSED, OPT_FAIL_OPEN, OPT_AUDIT_FORMAT, OPT_ALL_EVENTS
};

struct replay_args {
	const char *trace, *audit;
	bool stats, stats_json;
	enum vsp_audit_format audit_fmt;
	bool all_events;	/* decide unnamed events too (not as live) */
	struct vsp_load_opts lo;
};

static int parse_args(int argc, char **argv, struct replay_args *ra)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "audit", required_argument, NULL, 'a' },
		{ "audit-format", required_argument, NULL, OPT_AUDIT_FORMAT },
		{ "stats", optional_argument, NULL, 's' },
		{ "no-fastpath", no_argument, NULL, OPT_NO_FASTPATH },
		{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
		{ "cache-entries", required_argument, NULL, OPT_CACHE_ENTRIES },
		{ "on-partial", required_argument, NULL, OPT_ON_PARTIAL },
		{ "fail-closed", no_argument, NULL, OPT_FAIL_CLOSED },
		{ "fail-open", no_argument, NULL, OPT_FAIL_OPEN },
		VSP_CLI_EXTERN_OPTIONS,
		{ "all-events", no_argument, NULL, OPT_ALL_EVENTS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	memset(ra, 0, sizeof(*ra));
	ra->audit = "-";
	ra->lo.mode = VSP_MODE_UNSET;
	ra->lo.diag = stderr;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:m:a:sh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			ra->trace = optarg;
			break;
		case 'm':
			if (vsp_mode_parse(optarg, &ra->lo.mode) < 0) {
				char modes[64];

				fprintf(stderr, "vsp replay: --mode must be %s, not '%s'\n",
					vsp_mode_names(modes, sizeof modes, "or"),
					optarg);
				return 2;
			}
			break;
		case 'a':
			ra->audit = optarg;
			break;
		case OPT_AUDIT_FORMAT:
			if (vsp_audit_format_parse(optarg, &ra->audit_fmt) < 0) {
				fprintf(stderr, "vsp replay: --audit-format takes "
					"vsp or falco, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			ra->stats = true;
			if (optarg && strcmp(optarg, "json") == 0)
				ra->stats_json = true;
			else if (optarg && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "vsp replay: --stats takes 'json' "
					"or 'text', not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_NO_FASTPATH:
			ra->lo.no_fastpath = true;
			break;
		case OPT_NO_CACHE:
			ra->lo.no_cache = true;
			break;
		case OPT_CACHE_ENTRIES: {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || v == 0 || v > (1ul << 26)) {
				fprintf(stderr, "vsp replay: --cache-entries takes a "
					"number from 1 to %lu\n", 1ul << 26);
				return 2;
			}
			ra->lo.cache_entries = (uint32_t)v;
			break;
		}
		case OPT_ON_PARTIAL:
			if (vsp_fail_policy_parse(optarg, &ra->lo.on_partial) < 0) {
				fprintf(stderr, "vsp replay: --on-partial takes rules, "
					"default, closed or open, not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_FAIL_CLOSED:
			ra->lo.on_partial = VSP_FAIL_CLOSED;
			break;
		case OPT_FAIL_OPEN:
			ra->lo.on_partial = VSP_FAIL_OPEN;
			break;
		case OPT_ALL_EVENTS:
			ra->all_events = true;
			break;
		case 'h':
			fputs(replay_help, stdout);
			return -1;
		default:
			switch (vsp_cli_extern_opt(c, optarg, &ra->lo.ext)) {
			case 1:
				continue;
			case -1:
				return 2;
			}
			fputs(replay_help, stderr);
			return 2;
		}
	}
	if (!ra->trace) {
		fprintf(stderr, "vsp replay: --trace FILE is required\n");
		return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "vsp replay: no policy file given\n");
		return 2;
	}
	return 0;
}

static FILE *open_trace(const char *path)
{
	if (strcmp(path, "-") == 0)
		return stdin;
	FILE *f = fopen(path, "r");
	if (!f)
		fprintf(stderr, "vsp: cannot read %s: %s\n", path,
			strerror(errno));
	return f;
}

/* Whether the trace can be read twice: a regular file, not a stream. */
static bool rereadable(FILE *in)
{
	struct stat sb;

	return fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) &&
	       ftell(in) == 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/*
 * One pass over the trace.  With `p` NULL it only checks every line;
 * otherwise it decides each event.  Returns 0, or 2 after a message.
 */
static int run_pass(FILE *in, const char *name, struct vsp_policy *p,
		    struct vsp_audit *audit, struct vsp_run_stats *rs,
		    uint64_t *events, bool all_events, uint64_t *skipped)
{
	struct vsp_line_reader lr;
	struct vsp_trace_event te;
	const char *line;
	size_t len;
	char err[256];
	int r, status = 0;
	bool learn = p && vsp_policy_mode(p) == VSP_MODE_LEARN;
	bool enforce = p && vsp_policy_mode(p) == VSP_MODE_ENFORCE;

	vsp_line_reader_init(&lr, in);
	vsp_trace_event_init(&te);
	while ((r = vsp_line_read(&lr, &line, &len)) != 0) {
		if (r < 0) {
			if (ferror(in))
				fprintf(stderr, "vsp: %s: read error: %s\n", name,
					strerror(errno));
			else
				fprintf(stderr, "%s:%lu: error: line longer than "
					"%u bytes (%zu)\n", name, lr.lineno,
					VSP_TRACE_MAX_LINE, len);
			status = 2;
			break;
		}
		if (blank(line, len))
			continue;
		if (vsp_trace_parse(&te, line, len, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s:%lu: error: %s\n", name, lr.lineno, err);
			status = 2;
			break;
		}
		if (!p) {
			(*events)++;
			continue;
		}
		/* As live: an event no rule names is never trapped, so it is
		 * not decided (its default would otherwise apply here only). */
		if (!all_events && !vsp_policy_names(p, &te.ev)) {
			(*skipped)++;
			continue;
		}
		struct vsp_decision d;
		vsp_event_reset_lazy(&te.ev);
		uint64_t t0 = vsp_now_ns();
		vsp_decide(p, &te.ev, &d);
		vsp_latency_add(&rs->latency, vsp_now_ns() - t0);
		for (uint32_t i = 0; learn && i < d.nlearn; i++)
			if (vsp_policy_learn(p, d.learn_rule[i], &te.ev) < 0) {
				fprintf(stderr, "vsp: learning a path: %s\n",
					strerror(errno));
				status = 2;
			}
		vsp_audit_decision(audit, &te.ev, &d,
				   enforce && d.verdict != VSP_V_ALLOW);
		if (audit->failed) {
			fprintf(stderr, "vsp: writing the audit log: %s\n",
				strerror(-audit->last_error));
			status = 2;
			break;
		}
	}
	vsp_trace_event_release(&te);
	vsp_line_reader_release(&lr);
	return status;
}

int vsp_cmd_replay(int argc, char **argv)
{
	struct replay_args ra;
	struct vsp_run_stats rs;
	struct vsp_audit audit;
	uint64_t events = 0, skipped = 0;
	int status;

	status = parse_args(argc, argv, &ra);
	if (status)
		return status < 0 ? 0 : status;
	if (vsp_cli_readable(argv + optind, argc - optind))
		return 2;
	struct vsp_policy *p = vsp_policy_load((const char *const *)argv + optind,
					       (size_t)(argc - optind), &ra.lo,
					       NULL);
	if (!p)
		return 1;

	FILE *in = open_trace(ra.trace);
	if (!in) {
		status = 2;
		goto out_policy;
	}
	const char *tname = strcmp(ra.trace, "-") == 0 ? "<stdin>" : ra.trace;
	if (rereadable(in)) {
		status = run_pass(in, tname, NULL, NULL, NULL, &events, true,
				  &skipped);
		if (status)
			goto out_trace;
		rewind(in);
	}

	struct vsp_sink *out = vsp_cli_open_sink("replay", ra.audit,
						 ra.audit_fmt, false);
	if (!out) {
		status = 2;
		goto out_trace;
	}
	memset(&rs, 0, sizeof(rs));
	vsp_audit_init_sink(&audit, out, p);
	status = run_pass(in, tname, p, &audit, &rs, &events, ra.all_events,
			  &skipped);
	vsp_audit_release(&audit);
	if (audit.failed && !status) {
		fprintf(stderr, "vsp: writing the audit log: %s\n",
			strerror(audit.last_error ? -audit.last_error : EIO));
		status = 2;
	}
	int rc = vsp_sink_close(out);
	if (rc < 0 && !status) {
		fprintf(stderr, "vsp: closing %s: %s\n", ra.audit, strerror(-rc));
		status = 2;
	}
	if (!status && vsp_policy_mode(p) == VSP_MODE_LEARN &&
	    vsp_policy_save_profiles(p, stderr) < 0)
		status = 2;
	if (ra.stats)
		vsp_stats_print(stderr, p, &rs, ra.stats_json);
	if (ra.stats && !ra.stats_json && skipped)
		fprintf(stderr, "events no rule names (not trapped live, not "
			"decided): %" PRIu64 "\n", skipped);
out_trace:
	if (in != stdin)
		fclose(in);
out_policy:
	vsp_policy_free(p);
	return status;
}
