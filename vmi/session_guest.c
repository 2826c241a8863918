/*
 * session_guest.c: the session's commands that look at the guest and at
 * what was decided (vmi/mon.h; the loop, the policy commands and the
 * session's state are in vmi/session.c): regs, mem, sym and ps read the
 * stopped guest, tail and bt show the ring of recent decisions that the
 * decide path fills through mon_tail_add.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmi/linux.h"
#include "vmi/mon.h"

#define MON_MEM_MAX 4096

/* Bounded copy that never reads past `src`'s NUL. */
static void mon_copy(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;
	if (src)
		while (n + 1 < size && n < len && src[n])
			n++;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

static void mon_tail_print(struct mon *m, const struct mon_tail *e);

/* Keeps the decision for `tail`: fixed-size copies into a ring, nothing
 * read from the guest that the decision did not read already. */
void mon_tail_add(struct mon *m, const struct mon_trap *t,
		  const struct vsp_decision *d, bool applied)
{
	struct mon_tail *e = &m->tail[m->ntail++ % MON_TAIL];
	e->seq = m->ev.seq;
	e->time_ns = m->ev.time_ns;
	e->pid = m->ev.proc.pid;
	e->verdict = d->verdict;
	e->value = d->value;
	e->applied = applied;
	mon_copy(e->event, sizeof e->event, m->ev.name, SIZE_MAX);
	const char *rule = d->rule >= 0 ? vsp_policy_rule(m->p, (uint32_t)d->rule)->name
				       : "default";
	mon_copy(e->rule, sizeof e->rule, rule, SIZE_MAX);
	mon_copy(e->comm, sizeof e->comm, m->ev.proc.comm, sizeof m->ev.proc.comm);
	e->path[0] = 0;
	int pa = t->path_arg;
	if (pa >= 0 && m->str[pa].state == 1)
		mon_copy(e->path, sizeof e->path, m->str[pa].buf, m->str[pa].len);
	e->has_stack = m->ev.has_stack;
	e->stack_partial = m->ev.stack_partial;
	e->nstack = 0;
	size_t at = 0;
	for (uint32_t i = 0; e->has_stack && i < m->ev.nstack && i < 255; i++) {
		const char *f = m->ev.stack[i] ? m->ev.stack[i] : "?";
		size_t len = strnlen(f, 127);
		if (at + len + 1 > sizeof e->stack) {
			e->stack_partial = true;
			break;
		}
		memcpy(e->stack + at, f, len);
		e->stack[at + len] = 0;
		at += len + 1;
		e->nstack++;
	}
	if (m->follow) {
		mon_tail_print(m, e);
		fflush(m->out);
	}
}

/* One decision of the ring as a JSON object (no newline). */
static void mon_tail_json(struct mon *m, const struct mon_tail *e)
{
	FILE *out = m->out;

	fprintf(out, "{\"seq\":%" PRIu64 ",\"time_ns\":%" PRIu64 ",\"event\":",
		e->seq, e->time_ns);
	mon_json_str(out, e->event);
	fputs(",\"path\":", out);
	if (e->path[0])
		mon_json_str(out, e->path);
	else
		fputs("null", out);
	fprintf(out, ",\"pid\":%" PRId64 ",\"comm\":", e->pid);
	mon_json_str(out, e->pid >= 0 ? e->comm : "");
	fprintf(out, ",\"verdict\":\"%s\",\"value\":%" PRId64 ",\"rule\":",
		vsp_verdict_name(e->verdict), e->value);
	mon_json_str(out, e->rule);
	fprintf(out, ",\"applied\":%s}", e->applied ? "true" : "false");
}

static void mon_tail_print(struct mon *m, const struct mon_tail *e)
{
	if (m->follow_json) {
		mon_tail_json(m, e);
		fputc('\n', m->out);
		return;
	}
	fprintf(m->out, "#%" PRIu64 " %.3fs %s", e->seq,
		(double)e->time_ns / 1e9, e->event);
	if (e->path[0])
		fprintf(m->out, " %s", e->path);
	if (e->pid >= 0)
		fprintf(m->out, " pid %" PRId64 " %s", e->pid, e->comm);
	fprintf(m->out, " -> %s", vsp_verdict_name(e->verdict));
	if (e->verdict == VSP_V_DENY || e->verdict == VSP_V_RETURN)
		fprintf(m->out, " %" PRId64, e->value);
	fprintf(m->out, " (rule %s%s)\n", e->rule,
		e->applied ? ", applied" : "");
}

/* `bt --json`: {"seq", "event", "held", "verdict", "stack", "partial"};
 * stack null when there is no call path. */
static void mon_bt_json(struct mon *m, uint64_t seq, const char *event,
			const char *verdict, bool has, const char *const *frames,
			const char *packed, uint32_t n, bool partial)
{
	FILE *out = m->out;

	fprintf(out, "{\"seq\":%" PRIu64 ",\"event\":", seq);
	mon_json_str(out, event);
	fprintf(out, ",\"held\":%s,\"verdict\":", verdict ? "false" : "true");
	if (verdict)
		fprintf(out, "\"%s\"", verdict);
	else
		fputs("null", out);
	fputs(",\"stack\":", out);
	if (!has || !n) {
		fputs("null", out);
	} else {
		fputc('[', out);
		for (uint32_t i = 0; i < n; i++) {
			const char *f = frames ? frames[i] : packed;
			if (i)
				fputc(',', out);
			mon_json_str(out, f ? f : "?");
			if (!frames)
				packed += strlen(packed) + 1;
		}
		fputc(']', out);
	}
	fprintf(out, ",\"partial\":%s}\n", partial ? "true" : "false");
}

/* `bt` at the event `step` holds: its call path as the unwinder gave it. */
static void mon_bt_held(struct mon *m, bool json)
{
	const struct vsp_event *ev = &m->ev;

	if (json) {
		mon_bt_json(m, ev->seq, ev->name ? ev->name : "?", NULL,
			    ev->has_stack, ev->stack, NULL, ev->nstack,
			    ev->stack_partial);
		return;
	}

	fprintf(m->out, "#%" PRIu64 " %s %s", ev->seq, vsp_event_kind_name(ev->kind),
		ev->name ? ev->name : "?");
	if (ev->proc.pid >= 0)
		fprintf(m->out, " pid %" PRId64 " %s", ev->proc.pid, ev->proc.comm);
	fprintf(m->out, " (held, not yet decided)\n");
	if (!ev->has_stack || !ev->nstack) {
		fprintf(m->out, "  (no call path: %s)\n", ev->has_stack ?
			"the unwinder named no frame" :
			"not a kernel event, or no symbols to unwind with");
		return;
	}
	for (uint32_t i = 0; i < ev->nstack; i++)
		fprintf(m->out, "  %2u %s\n", i, ev->stack[i] ? ev->stack[i] : "?");
	if (ev->stack_partial)
		fprintf(m->out, "  .. (the unwinder stopped here)\n");
}

/* `bt [SEQ]`: the call path of the last decision (of the held event,
 * after `step`), or of decision #SEQ while the tail still holds it. */
void mon_cmd_bt(struct mon *m, const char *arg, bool json)
{
	const struct mon_tail *e = NULL;
	uint64_t seq = 0;
	if (!arg && m->held) {
		mon_bt_held(m, json);
		return;
	}
	if (arg) {
		char *end;
		seq = strtoull(arg[0] == '#' ? arg + 1 : arg, &end, 10);
		if (*end || !seq) {
			fprintf(m->out, "bt: usage: bt [SEQ], SEQ a decision's number "
				"as tail shows it\n");
			return;
		}
	}
	uint64_t first = m->ntail > MON_TAIL ? m->ntail - MON_TAIL : 0;
	for (uint64_t i = m->ntail; i-- > first && !e;)
		if (!seq || m->tail[i % MON_TAIL].seq == seq)
			e = &m->tail[i % MON_TAIL];
	if (!e) {
		if (seq)
			fprintf(m->out, "bt: no decision #%" PRIu64 " among the last "
				"%d\n", seq, MON_TAIL);
		else
			fprintf(m->out, "bt: no decisions yet\n");
		return;
	}
	if (json) {
		mon_bt_json(m, e->seq, e->event, vsp_verdict_name(e->verdict),
			    e->has_stack, NULL, e->stack, e->nstack,
			    e->stack_partial);
		return;
	}
	fprintf(m->out, "#%" PRIu64 " %s", e->seq, e->event);
	if (e->path[0])
		fprintf(m->out, " %s", e->path);
	if (e->pid >= 0)
		fprintf(m->out, " pid %" PRId64 " %s", e->pid, e->comm);
	fprintf(m->out, " -> %s\n", vsp_verdict_name(e->verdict));
	if (!e->has_stack || !e->nstack) {
		fprintf(m->out, "  (no call path: %s)\n", e->has_stack ?
			"the unwinder named no frame" :
			"not a kernel event, or no symbols to unwind with");
		return;
	}
	const char *f = e->stack;
	for (unsigned i = 0; i < e->nstack; i++, f += strlen(f) + 1)
		fprintf(m->out, "  %2u %s\n", i, f);
	if (e->stack_partial)
		fprintf(m->out, "  .. (the unwinder stopped here)\n");
}

/* `tail [-f] [N]`: the last N decisions; with -f each later one as it is
 * made, until Ctrl-C (or, from a pipe, the next command line). */
void mon_cmd_tail(struct mon *m, char **w, int nw, bool json)
{
	uint64_t n = 10;
	bool follow = false;
	for (int i = 1; i < nw; i++) {
		char *end;
		unsigned long long v;
		if (strcmp(w[i], "-f") == 0) {
			follow = true;
			continue;
		}
		v = strtoull(w[i], &end, 10);
		if (*end || v == 0) {
			fprintf(m->out, "tail: usage: tail [-f] [N] [--json], N a "
				"positive number\n");
			return;
		}
		n = v;
	}
	if (n > MON_TAIL)
		n = MON_TAIL;
	if (n > m->ntail)
		n = m->ntail;
	if (json) {
		/* One object; with -f, then one object a line per decision. */
		fputs("{\"tail\":[", m->out);
		for (uint64_t i = m->ntail - n; i < m->ntail; i++) {
			if (i != m->ntail - n)
				fputc(',', m->out);
			mon_tail_json(m, &m->tail[i % MON_TAIL]);
		}
		fputs("]}\n", m->out);
	} else {
		for (uint64_t i = m->ntail - n; i < m->ntail; i++)
			mon_tail_print(m, &m->tail[i % MON_TAIL]);
		if (!m->ntail && !follow)
			fprintf(m->out, "no decisions yet\n");
	}
	if (follow) {
		m->follow = true;
		m->follow_json = json;
		if (!json)
			fprintf(m->out, "(following decisions; Ctrl-C stops)\n");
	}
}

void mon_cmd_regs(struct mon *m, bool json)
{
	struct vsp_regs r;
	int rc = m->be.ops->regs_get(&m->be, m->vcpu, &r);
	if (rc < 0) {
		fprintf(m->out, "regs: %s\n", vsp_backend_error(&m->be, rc));
		return;
	}
	const struct { const char *n; uint64_t v; } f[] = {
		{ "rax", r.rax }, { "rbx", r.rbx }, { "rcx", r.rcx }, { "rdx", r.rdx },
		{ "rsi", r.rsi }, { "rdi", r.rdi }, { "rbp", r.rbp }, { "rsp", r.rsp },
		{ "r8", r.r8 }, { "r9", r.r9 }, { "r10", r.r10 }, { "r11", r.r11 },
		{ "r12", r.r12 }, { "r13", r.r13 }, { "r14", r.r14 }, { "r15", r.r15 },
		{ "rip", r.rip }, { "rflags", r.rflags }, { "cr0", r.cr0 },
		{ "cr3", r.cr3 }, { "cr4", r.cr4 }, { "fs_base", r.fs_base },
		{ "gs_base", r.gs_base }, { "kgs_base", r.kernel_gs_base },
	};
	char sym[160];
	bool named = m->syms && vsp_sym_format(m->syms, r.rip, sym, sizeof sym);
	if (json) {
		/* Values as hex strings: a JSON number loses bits past 2^53. */
		fprintf(m->out, "{\"vcpu\":%u", m->vcpu);
		for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
			fprintf(m->out, ",\"%s\":\"0x%016" PRIx64 "\"", f[i].n, f[i].v);
		fputs(",\"rip_symbol\":", m->out);
		if (named)
			mon_json_str(m->out, sym);
		else
			fputs("null", m->out);
		fputs("}\n", m->out);
		return;
	}
	fprintf(m->out, "vcpu %u\n", m->vcpu);
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		fprintf(m->out, "%-8s 0x%016" PRIx64 "%s", f[i].n, f[i].v,
			i % 2 ? "\n" : "   ");
	if (named)
		fprintf(m->out, "rip is %s\n", sym);
}

/* An address: a number (0x... or decimal) or a symbol. */
static int mon_parse_addr(struct mon *m, const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (!errno && *s && !*end) {
		*out = v;
		return 0;
	}
	if (m->syms && vsp_sym_addr(m->syms, s, out) == 0)
		return 0;
	return -1;
}

void mon_cmd_mem(struct mon *m, const char *a, const char *l, bool json)
{
	uint64_t addr, len;
	char *end;
	if (!a || !l) {
		fprintf(m->out, "mem: usage: mem ADDR|SYMBOL LEN\n");
		return;
	}
	if (mon_parse_addr(m, a, &addr) < 0) {
		fprintf(m->out, "mem: '%s' is neither an address nor a symbol\n", a);
		return;
	}
	errno = 0;
	len = strtoull(l, &end, 0);
	if (errno || *end || len == 0 || len > MON_MEM_MAX) {
		fprintf(m->out, "mem: LEN must be 1 to %d\n", MON_MEM_MAX);
		return;
	}
	uint8_t buf[MON_MEM_MAX];
	long n = m->be.ops->read(&m->be, m->vcpu, addr, buf, (size_t)len);
	if (n < 0) {
		fprintf(m->out, "mem: %s\n", vsp_backend_error(&m->be, (int)n));
		return;
	}
	if (json) {
		fprintf(m->out, "{\"addr\":\"0x%016" PRIx64 "\",\"asked\":%" PRIu64
			",\"len\":%ld,\"hex\":\"", addr, len, n);
		for (long i = 0; i < n; i++)
			fprintf(m->out, "%02x", buf[i]);
		fputs("\"}\n", m->out);
		return;
	}
	for (long i = 0; i < n; i += 16) {
		fprintf(m->out, "%016" PRIx64 " ", addr + (uint64_t)i);
		for (long k = i; k < i + 16; k++)
			if (k < n)
				fprintf(m->out, " %02x", buf[k]);
			else
				fputs("   ", m->out);
		fputs("  ", m->out);
		for (long k = i; k < i + 16 && k < n; k++)
			fputc(buf[k] >= 0x20 && buf[k] < 0x7f ? buf[k] : '.', m->out);
		fputc('\n', m->out);
	}
	if ((uint64_t)n < len)
		fprintf(m->out, "mem: %ld of %" PRIu64 " bytes readable\n", n, len);
}

void mon_cmd_sym(struct mon *m, const char *s, bool json)
{
	if (!s) {
		fprintf(m->out, "sym: usage: sym NAME|ADDR\n");
		return;
	}
	if (!m->syms) {
		fprintf(m->out, "sym: no symbols (give --symbols)\n");
		return;
	}
	uint64_t addr;
	if (vsp_sym_addr(m->syms, s, &addr) == 0) {
		if (json) {
			fputs("{\"name\":", m->out);
			mon_json_str(m->out, s);
			fprintf(m->out, ",\"addr\":\"0x%016" PRIx64 "\"}\n", addr);
		} else {
			fprintf(m->out, "%s = 0x%016" PRIx64 "\n", s, addr);
		}
		return;
	}
	char *end;
	errno = 0;
	addr = strtoull(s, &end, 0);
	char buf[160];
	if (errno || !*s || *end) {
		fprintf(m->out, "sym: no symbol '%s'\n", s);
		return;
	}
	bool named = vsp_sym_format(m->syms, addr, buf, sizeof buf);
	if (named && json) {
		fprintf(m->out, "{\"addr\":\"0x%016" PRIx64 "\",\"symbol\":", addr);
		mon_json_str(m->out, buf);
		fputs("}\n", m->out);
	} else if (named)
		fprintf(m->out, "0x%016" PRIx64 " = %s\n", addr, buf);
	else
		fprintf(m->out, "sym: nothing at 0x%" PRIx64 "\n", addr);
}

/* `ps`: the guest's processes, walked from init_task along
 * task_struct.tasks with the offsets of the kernel's own BTF; the guest
 * is stopped for the walk (each entry a few bounded reads) and let go
 * again.  At most MON_PS_MAX entries: a list a hostile guest made
 * circular elsewhere than at init_task ends there. */
#define MON_PS_MAX 4096
int mon_cmd_ps(struct mon *m, bool json)
{
	FILE *out = m->out;
	uint64_t init;
	if (!m->syms || vsp_sym_addr(m->syms, "init_task", &init) < 0) {
		fprintf(out, "ps: no symbol init_task\n");
		return 0;
	}
	bool was_paused = m->paused;
	int rc = mon_stop_guest(m);
	if (rc < 0)
		return rc;
	if (!m->have_lx)
		mon_guest_btf(m);
	if (!m->have_lx || !m->lx.have_tasks) {
		fprintf(out, "ps: the kernel's BTF does not give the task list\n");
		goto out;
	}
	if (json)
		fputs("{\"tasks\":[", out);
	else
		fprintf(out, "%7s %7s %6s %-16s %s\n", "PID", "PPID", "UID", "COMM", "EXE");
	uint64_t task = init;
	unsigned n = 0;
	for (; n < MON_PS_MAX; n++) {
		struct vsp_proc pr;
		char exe[64];
		vsp_linux_proc(&m->lx, mon_gread, m, task, &pr);
		vsp_linux_exe(&m->lx, mon_gread, m, task, exe, sizeof exe);
		if (json) {
			fprintf(out, "%s{\"pid\":%" PRId64 ",\"ppid\":%" PRId64
				",\"uid\":%" PRId64 ",\"comm\":", n ? "," : "",
				pr.pid, pr.ppid, pr.uid);
			mon_json_str(out, pr.comm);
			fputs(",\"exe\":", out);
			mon_json_str(out, exe);
			fputc('}', out);
		} else {
			fprintf(out, "%7" PRId64 " %7" PRId64 " %6" PRId64 " %-16s %s\n",
				pr.pid, pr.ppid, pr.uid, pr.comm, exe);
		}
		uint64_t next;
		if (vsp_linux_next_task(&m->lx, mon_gread, m, task, &next) < 0) {
			if (!json)
				fprintf(out, "ps: the list breaks after pid %" PRId64 "\n",
					pr.pid);
			n++;
			break;
		}
		if (next == init) {
			n++;
			break;
		}
		task = next;
	}
	if (json)
		fprintf(out, "],\"count\":%u}\n", n);
	else
		fprintf(out, "%u task%s%s\n", n, n == 1 ? "" : "s",
			n == MON_PS_MAX ? " (the most ps shows)" : "");
out:
	if (!was_paused && !m->rule_paused)
		rc = mon_go(m);
	return rc;
}
