/*
 * trace_write.c: writing JSON Lines traces (vmi/trace.h; the reader is
 * in vmi/trace.c).
 *
 * `vsp attach --record` writes one line per event the backend saw, with
 * every string the event's catalog entry names read through its fetch
 * callback and, for hook events, the resolved fields of its hook, so
 * that a replay of any policy finds what it reads.  Each line is built
 * in a buffer and written at once, so a crash never leaves half a line.
 */
#include "vmi/trace.h"

#include <stdbool.h>
#include <string.h>

vsp_fmask vsp_trace_record_fields(const struct vsp_event *ev)
{
	vsp_fmask m = 0;
	const struct vsp_hook *h = vsp_hook_by_name(ev->kind, ev->name);

	for (int f = VSP_F_RES_FIRST; h && f < VSP_F_COUNT; f++)
		if (h->fields & vsp_hook_field_group((enum vsp_field)f))
			m |= VSP_FBIT(f);
	return m;
}

static void write_proc(struct vsp_jbuf *b, struct vsp_event *ev)
{
	const struct vsp_proc *p = &ev->proc;
	bool first = true;

	vsp_jbuf_raw(b, "{", 1);
	vsp_jbuf_key(b, "pid", &first);
	vsp_jbuf_int(b, p->pid);
	vsp_jbuf_key(b, "tid", &first);
	vsp_jbuf_int(b, p->tid);
	vsp_jbuf_key(b, "ppid", &first);
	vsp_jbuf_int(b, p->ppid);
	vsp_jbuf_key(b, "comm", &first);
	vsp_jbuf_bytes(b, p->comm, strnlen(p->comm, sizeof(p->comm)));
	vsp_jbuf_key(b, "uid", &first);
	vsp_jbuf_int(b, p->uid);
	vsp_jbuf_key(b, "euid", &first);
	vsp_jbuf_int(b, p->euid);
	vsp_jbuf_key(b, "gid", &first);
	vsp_jbuf_int(b, p->gid);
	/* What some rule read of the resolved process. */
	vsp_json_resolved_proc(b, ev, ev->strs_valid & VSP_FMASK_RESOLVED,
			       true, &first);
	vsp_jbuf_raw(b, "}", 1);
}

int vsp_trace_write(FILE *out, struct vsp_event *ev)
{
	struct vsp_jbuf b;
	bool first = true;
	int rc = 0;

	vsp_jbuf_init(&b);
	vsp_jbuf_raw(&b, "{", 1);
	vsp_jbuf_key(&b, "seq", &first);
	vsp_jbuf_uint(&b, ev->seq);
	vsp_jbuf_key(&b, "time_ns", &first);
	vsp_jbuf_uint(&b, ev->time_ns);
	vsp_jbuf_key(&b, "vm", &first);
	vsp_jbuf_str(&b, ev->vm ? ev->vm : "", ev->vm ? strlen(ev->vm) : 0);
	vsp_jbuf_key(&b, "vcpu", &first);
	vsp_jbuf_int(&b, ev->vcpu);
	vsp_jbuf_key(&b, "kind", &first);
	vsp_jbuf_cstr(&b, "\"");
	vsp_jbuf_cstr(&b, vsp_event_kind_name(ev->kind));
	vsp_jbuf_cstr(&b, "\"");
	vsp_jbuf_key(&b, "name", &first);
	vsp_jbuf_str(&b, ev->name, strlen(ev->name));
	if (ev->lib) {
		vsp_jbuf_key(&b, "lib", &first);
		vsp_jbuf_str(&b, ev->lib, strlen(ev->lib));
	}
	if (vsp_kind_has(ev->kind, VSP_FG_NR)) {
		vsp_jbuf_key(&b, "nr", &first);
		vsp_jbuf_uint(&b, ev->nr);
	}
	if (vsp_kind_has(ev->kind, VSP_FG_WRITE)) {
		vsp_jbuf_key(&b, "addr", &first);
		vsp_jbuf_int(&b, (int64_t)ev->addr);
		vsp_jbuf_key(&b, "offset", &first);
		vsp_jbuf_int(&b, (int64_t)ev->offset);
		vsp_jbuf_key(&b, "len", &first);
		vsp_jbuf_int(&b, (int64_t)ev->len);
		vsp_jbuf_key(&b, "value", &first);
		vsp_jbuf_int(&b, (int64_t)ev->value);
		vsp_jbuf_key(&b, "old", &first);
		vsp_jbuf_int(&b, (int64_t)ev->old);
	}
	if (vsp_kind_nargs(ev->kind)) {
		int nargs = vsp_kind_nargs(ev->kind);
		vsp_jbuf_key(&b, "args", &first);
		vsp_jbuf_raw(&b, "[", 1);
		for (int i = 0; i < nargs; i++) {
			if (i)
				vsp_jbuf_raw(&b, ",", 1);
			vsp_jbuf_int(&b, ev->args[i]);
		}
		vsp_jbuf_raw(&b, "]", 1);
	}

	/* Every string argument the catalog knows, so a replay has them. */
	const struct vsp_call *call = NULL;
	if (ev->kind == VSP_EV_SYSCALL)
		call = vsp_syscall_by_nr(ev->nr);
	else if (ev->kind == VSP_EV_USER)
		call = vsp_userfn_by_name(ev->name);
	if (call && call->has_proto) {
		bool sfirst = true;
		for (int i = 0; i < call->nargs; i++) {
			struct vsp_str s;
			if (call->args[i].type == VSP_ARG_INT)
				continue;
			if (!vsp_event_string(ev, (enum vsp_field)(VSP_F_STR0 + i), &s))
				continue;
			if (sfirst) {
				vsp_jbuf_key(&b, "strings", &first);
				vsp_jbuf_raw(&b, "{", 1);
			}
			vsp_jbuf_key(&b, call->args[i].name, &sfirst);
			vsp_jbuf_bytes(&b, s.ptr, s.len);
		}
		if (!sfirst)
			vsp_jbuf_raw(&b, "}", 1);
	}
	vsp_json_resolved(&b, ev, vsp_trace_record_fields(ev) |
			  (ev->strs_valid & VSP_FMASK_RESOLVED), true, &first);
	vsp_jbuf_key(&b, "proc", &first);
	write_proc(&b, ev);
	vsp_jbuf_key(&b, "cr3", &first);
	vsp_jbuf_int(&b, (int64_t)ev->cr3);
	if (ev->partial) {
		vsp_jbuf_key(&b, "partial", &first);
		vsp_jbuf_cstr(&b, "true");
	}
	if (ev->has_stack) {
		vsp_jbuf_key(&b, "stack", &first);
		vsp_jbuf_raw(&b, "[", 1);
		for (uint32_t i = 0; i < ev->nstack; i++) {
			if (i)
				vsp_jbuf_raw(&b, ",", 1);
			vsp_jbuf_str(&b, ev->stack[i], strlen(ev->stack[i]));
		}
		vsp_jbuf_raw(&b, "]", 1);
		if (ev->stack_partial) {
			vsp_jbuf_key(&b, "stack_partial", &first);
			vsp_jbuf_cstr(&b, "true");
		}
	}
	vsp_jbuf_raw(&b, "}\n", 2);
	if (b.oom || fwrite(b.p, 1, b.len, out) != b.len)
		rc = -1;
	vsp_jbuf_release(&b);
	return rc;
}
