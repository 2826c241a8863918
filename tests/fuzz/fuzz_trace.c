/*
 * fuzz_trace.c: fuzz target for recorded traces (vmi/trace.h).
 *
 * A trace file comes from disk, but what it holds came from the guest:
 * strings read from guest memory, process names, call paths.  The input is
 * split into lines as `vsp replay` splits it; each line goes through
 * vsp_trace_parse(), and an event it accepts has every string field
 * fetched and is written back with vsp_trace_write() (to /dev/null), as a
 * recording would.  The event is then decided against a fixed policy that
 * reads every kind of field (fz_policy below) and its audit record written
 * to /dev/null, as `vsp replay` does.  Invariant: a line is either
 * rejected with a message or yields an event whose strings are all
 * readable and which the engine decides; never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_common.h"
#include "vmi/trace.h"

static FILE *fz_null;
static struct vsp_policy *fz_pol;
static struct vsp_audit fz_audit;

static const char fz_policy[] =
	"policy \"trace-fuzz\" version 1;\n"
	"list shells = [\"/bin/sh\", \"/bin/*sh\", \"/usr/**\"];\n"
	"rule \"shadow\" priority high tags (\"t1\"):\n"
	"on syscall openat, open when path matches \"/etc/**\" and proc.uid != 0\n"
	": deny EACCES, alert \"%{proc.comm} (pid %{proc.pid}) %{path} %{vm}\";\n"
	"on syscall execve when path matches shells or lower(basename(path)) == \"nc\"\n"
	": redirect \"/bin/false\", log \"exec %{path} by %{proc.comm}\";\n"
	"on syscall kill when arg1 == 9 and arg0 / (proc.pid - 1) > 0: return -1, count \"kills\";\n"
	"on hypercall mmu_update must arise from \"xen_mc_flush <- **\": kill, alert;\n"
	"on kernel commit_creds when proc.euid == 0 must arise from \"__sys_setuid <- **\"\n"
	": pause, alert \"creds %{func}\";\n"
	"on user \"libc.so.6\":system when event.partial: log;\n"
	"on write sys_call_table[0..450] when value != old: deny EPERM, alert \"%{addr} %{len}\";\n"
	"on syscall ptrace when vcpu > 0 or cr3 == 0 or \"x\" in stack: deny;\n"
	"on file open, exec when file.path matches \"/etc/**\" or file.ino == 2 or\n"
	"  proc.exe == \"/x\" or proc.parent.pid == 1 or proc.loginuid == 0\n"
	": deny, alert \"%{file.fspath} %{proc.cmdline} %{proc.cgroup} %{file.mode}\";\n"
	"on net connect when sock.addr == \"1.2.3.4\" and sock.port == 80: deny;\n"
	"on task kill when target.pid == 1 or target.exe == \"/sbin/init\": kill, log \"%{target.comm}\";\n"
	"on task unshare, setns when flags != 0: deny;\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vsp_load_opts o = { .mode = VSP_MODE_UNSET, .cache_entries = 256 };

	fz_null = fopen("/dev/null", "w");
	fz_pol = fz_policy_load(fz_policy, sizeof(fz_policy) - 1, &o);
	if (!fz_pol)
		FZ_FAIL("the trace fuzzer's own policy does not load");
	vsp_audit_init(&fz_audit, fz_null, fz_pol);
	return 0;
}

static void fz_touch_strings(struct vsp_event *ev)
{
	static const enum vsp_field fields[] = {
		VSP_F_STR0, VSP_F_STR1, VSP_F_STR2, VSP_F_STR3, VSP_F_STR4,
		VSP_F_STR5, VSP_F_PATH, VSP_F_FUNC
	};
	volatile unsigned sum = 0;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct vsp_str s = { 0 };
		if (ev->fetch && ev->fetch(ev->fetch_ctx, ev, fields[i], &s) == 0)
			for (uint32_t k = 0; k < s.len; k++)
				sum += (unsigned char)s.ptr[k];
	}
	for (uint32_t i = 0; ev->has_stack && i < ev->nstack; i++)
		sum += (unsigned)strlen(ev->stack[i]);
	if (ev->name)
		sum += (unsigned)strlen(ev->name);
	if (ev->vm)
		sum += (unsigned)strlen(ev->vm);
	sum += (unsigned)strlen(ev->proc.comm);
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsp_trace_event te;
	char err[256];
	size_t pos = 0;

	if (!fz_null)
		LLVMFuzzerInitialize(NULL, NULL);
	vsp_trace_event_init(&te);
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
		/* An exact-size copy, so the parser's reads past the line's
		 * end are caught. */
		char *line = malloc(len ? len : 1);
		if (!line)
			break;
		memcpy(line, data + pos, len);
		err[0] = 0;
		if (vsp_trace_parse(&te, line, len, err, sizeof(err)) == 0) {
			vsp_event_reset_lazy(&te.ev);
			fz_touch_strings(&te.ev);
			vsp_event_reset_lazy(&te.ev);
			vsp_trace_write(fz_null, &te.ev);

			struct vsp_decision d;
			vsp_event_reset_lazy(&te.ev);
			vsp_decide(fz_pol, &te.ev, &d);
			fz_check_engine_decision(fz_pol, &d);
			vsp_audit_decision(&fz_audit, &te.ev, &d,
					   d.verdict != VSP_V_ALLOW);
		} else if (!err[0]) {
			fprintf(stderr, "trace line rejected without a message\n");
			abort();
		}
		free(line);
		pos += len + 1;
	}
	vsp_trace_event_release(&te);
	return 0;
}
