/*
 * eval.c: `eval EXPR` of vsp repl (engine/engine.h, vsp_eval).
 *
 * The expression is not interpreted here: it becomes the one rule of a
 * policy compiled from the session's own files, `on EVENT: return
 * (EXPR)`, and the interpreter runs it on the event.  So eval sees the
 * fields, the lists, the macros and the glob semantics a rule sees, down
 * to the lazy reads of guest memory, and cannot disagree with a decision.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/catalog.h"
#include "engine/engine.h"
#include "interp/json.h"

/* A word the lexer reads as one identifier. */
static bool eval_ident(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

int vsp_event_clause(const struct vsp_event *ev, char *buf, size_t size)
{
	const char *name = ev->name;
	const struct vsp_call *c = NULL;
	int n;

	if (ev->kind == VSP_EV_SYSCALL && !name && (c = vsp_syscall_by_nr(ev->nr)))
		name = c->name;
	if (ev->kind == VSP_EV_HYPERCALL && !name &&
	    (c = vsp_hypercall_by_nr(ev->nr)))
		name = c->name;
	if (!eval_ident(name) || (unsigned)ev->kind >= VSP_EV_KIND_COUNT)
		return -1;
	if (ev->kind == VSP_EV_USER) {
		const char *lib = ev->lib ? strrchr(ev->lib, '/') : NULL;

		lib = lib ? lib + 1 : ev->lib;
		if (!lib || !*lib || strpbrk(lib, "\"\\\n"))
			return -1;
		n = snprintf(buf, size, "user \"%s\":%s", lib, name);
	} else {
		n = snprintf(buf, size, "%s %s", vsp_event_kind_name(ev->kind), name);
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int vsp_eval(const char *const *files, size_t nfiles,
	     const struct vsp_load_opts *o, const char *expr,
	     struct vsp_event *ev, struct vsp_eval *out)
{
	struct vsp_load_text texts[VSP_LOAD_MAX_TEXTS];
	struct vsp_load_opts lo = *o;
	struct vsp_decision d;
	char clause[320], *text;
	int nerr = 0;

	memset(out, 0, sizeof *out);
	if (vsp_event_clause(ev, clause, sizeof clause) < 0) {
		out->why = "the event has no name a rule can write";
		return -2;
	}
	if (o->ntexts + 1 > VSP_LOAD_MAX_TEXTS) {
		out->why = "too many rules added in the session";
		return -2;
	}
	/* The expression on its own line, so that a caret points into it
	 * alone: "<eval>:2:COL". */
	size_t len = strlen(clause) + strlen(expr) + 40;
	if (!(text = malloc(len))) {
		out->why = "out of memory";
		return -2;
	}
	snprintf(text, len, "rule \"eval\": on %s: return (\n%s\n);\n", clause,
		 expr);
	for (size_t i = 0; i < o->ntexts; i++)
		texts[i] = o->texts[i];
	texts[o->ntexts] = (struct vsp_load_text){ "<eval>", text, strlen(text) };
	lo.texts = texts;
	lo.ntexts = o->ntexts + 1;
	lo.eval = true;
	lo.eval_type = &out->type;
	lo.mode = VSP_MODE_ENFORCE;
	lo.no_cache = true;
	lo.no_fastpath = true;
	lo.warnings_as_errors = false;
	lo.on_partial = VSP_FAIL_RULES;
	struct vsp_policy *p = vsp_policy_load(files, nfiles, &lo, &nerr);
	free(text);
	if (!p)
		return -1;
	vsp_decide(p, ev, &d);
	int rc = 0;
	if (d.verdict != VSP_V_RETURN) {
		out->why = "the event did not reach the expression";
		rc = -2;
	} else if (out->type == VSP_EVAL_STRING) {
		out->len = d.redirect.len;
		if (!(out->str = malloc(out->len + 1))) {
			out->why = "out of memory";
			rc = -2;
		} else {
			if (out->len)
				memcpy(out->str, d.redirect.ptr, out->len);
			out->str[out->len] = 0;
		}
	} else {
		out->value = d.value;
	}
	out->partial = d.partial;
	out->steps = d.steps;
	vsp_policy_free(p);
	return rc;
}

void vsp_eval_print(FILE *out, const struct vsp_eval *e, bool json)
{
	static const char *const types[] = { "bool", "int", "string" };
	struct vsp_jbuf b;

	vsp_jbuf_init(&b);
	if (e->type == VSP_EVAL_STRING)
		vsp_jbuf_str(&b, e->str ? e->str : "", e->str ? e->len : 0);
	else if (e->type == VSP_EVAL_BOOL)
		vsp_jbuf_cstr(&b, e->value ? "true" : "false");
	else
		vsp_jbuf_int(&b, e->value);
	vsp_jbuf_raw(&b, "", 1);	/* the NUL */
	const char *v = b.oom || !b.p ? "?" : b.p;
	if (json)
		fprintf(out, "{\"type\":\"%s\",\"value\":%s,\"partial\":%s,"
			"\"steps\":%u}\n", types[e->type], v,
			e->partial ? "true" : "false", e->steps);
	else if (e->type == VSP_EVAL_INT && (e->value > 9 || e->value < -9))
		fprintf(out, "%s (0x%" PRIx64 ")%s\n", v, (uint64_t)e->value,
			e->partial ? "  (partial: a field could not be read in full)" : "");
	else
		fprintf(out, "%s%s\n", v,
			e->partial ? "  (partial: a field could not be read in full)" : "");
	vsp_jbuf_release(&b);
}
