/*
 * astwalk.c: a tree-walking evaluator of checked policies, for the
 * benchmark only (astwalk.h).
 *
 * Every event walks the rules in source order: does the rule name this
 * event, then its `when` tree node by node, then its `must arise from`
 * patterns frame by frame, then its first verdict.  That is language.md
 * section 5 read literally.  Values are tagged unions on the C stack; the
 * only state kept between events is the memo of which field a name means
 * for which event, filled on first use.
 */
#include "bench/astwalk.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath/match.h"
#include "interp/program.h"
#include "lang/ast.h"
#include "lang/diag.h"
#include "lang/fields.h"
#include "lang/front.h"

struct val {
	enum vsp_type t;
	int64_t i;
	const char *s;
	uint32_t len;
	const struct vsp_expr *list;	/* a list value: the literal */
};

#define MEMO_SIZE 65536u

struct memo {
	const void *node, *ref;
	enum vsp_field f;
	enum vsp_type t;
	bool bad;
};

/* A learned or written call-path pattern, split into frames. */
struct pat {
	char **frames;
	size_t n;
};

struct rule_pats {
	struct pat *p;
	size_t n;
};

struct astwalk {
	struct vsp_unit *u;
	struct memo *memo;
	struct rule_pats *pats;	/* per rule */
	char lower_buf[4096];
	const char *unsupported;
};

/* ---- loading ------------------------------------------------------------- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int split_pattern(const char *text, struct pat *p)
{
	char *copy = strdup(text), *s = copy, *sep;

	if (!copy)
		return -1;
	p->frames = NULL;
	p->n = 0;
	for (;;) {
		sep = strstr(s, "<-");
		if (sep)
			*sep = 0;
		char **nv = realloc(p->frames, (p->n + 1) * sizeof(*nv));
		if (!nv)
			return -1;
		p->frames = nv;
		p->frames[p->n++] = strdup(trim(s));
		if (!sep)
			break;
		s = sep + 2;
	}
	free(copy);
	return 0;
}

static int load_patterns(struct astwalk *w)
{
	w->pats = calloc(w->u->nrules ? w->u->nrules : 1, sizeof(*w->pats));
	if (!w->pats)
		return -1;
	for (size_t r = 0; r < w->u->nrules; r++) {
		const struct vsp_pathspec *ps = &w->u->rules[r]->arise;
		struct rule_pats *rp = &w->pats[r];

		if (!ps->present)
			continue;
		if (!ps->is_profile) {
			rp->p = calloc(ps->npatterns ? ps->npatterns : 1, sizeof(*rp->p));
			for (size_t i = 0; rp->p && i < ps->npatterns; i++)
				if (split_pattern(ps->patterns[i].text, &rp->p[rp->n++]))
					return -1;
			continue;
		}
		FILE *f = fopen(ps->profile_path, "r");
		char line[8192];

		if (!f)
			continue;	/* no profile yet: no learned path */
		while (fgets(line, sizeof(line), f)) {
			char *s = trim(line);

			if (!*s || *s == '#')
				continue;
			struct pat *nv = realloc(rp->p, (rp->n + 1) * sizeof(*nv));
			if (!nv || split_pattern(s, &nv[rp->n])) {
				fclose(f);
				return -1;
			}
			rp->p = nv;
			rp->n++;
		}
		fclose(f);
	}
	return 0;
}

struct astwalk *astwalk_load(const char *file, const char **err)
{
	struct vsp_diags d;
	struct astwalk *w = calloc(1, sizeof(*w));

	*err = NULL;
	if (!w) {
		*err = "out of memory";
		return NULL;
	}
	vsp_diags_init(&d);
	w->u = vsp_front_load(&file, 1, &d);
	if (w->u)
		vsp_check(w->u, &d);
	if (!w->u || d.errors) {
		*err = "the policy does not check";
		vsp_diags_release(&d);
		astwalk_free(w);
		return NULL;
	}
	vsp_diags_release(&d);
	w->memo = calloc(MEMO_SIZE, sizeof(*w->memo));
	if (!w->memo || load_patterns(w)) {
		*err = "out of memory";
		astwalk_free(w);
		return NULL;
	}
	return w;
}

void astwalk_free(struct astwalk *w)
{
	if (!w)
		return;
	for (size_t r = 0; w->pats && w->u && r < w->u->nrules; r++) {
		for (size_t i = 0; i < w->pats[r].n; i++) {
			for (size_t k = 0; k < w->pats[r].p[i].n; k++)
				free(w->pats[r].p[i].frames[k]);
			free(w->pats[r].p[i].frames);
		}
		free(w->pats[r].p);
	}
	free(w->pats);
	free(w->memo);
	vsp_unit_free(w->u);
	free(w);
}

/* ---- evaluation ---------------------------------------------------------- */

static bool resolve(struct astwalk *w, const struct vsp_expr *e,
		    const struct vsp_event_ref *ref, enum vsp_field *f,
		    enum vsp_type *t)
{
	uintptr_t h = ((uintptr_t)e >> 4) * 31 + ((uintptr_t)ref >> 4);

	for (uint32_t k = 0; k < 8; k++) {
		struct memo *m = &w->memo[(h + k) & (MEMO_SIZE - 1)];

		if (m->node == e && m->ref == ref) {
			*f = m->f;
			*t = m->t;
			return !m->bad;
		}
		if (!m->node) {
			m->node = e;
			m->ref = ref;
			m->bad = vsp_field_resolve(ref, e->u.name.id, &m->f, &m->t) != 0;
			*f = m->f;
			*t = m->t;
			return !m->bad;
		}
	}
	return vsp_field_resolve(ref, e->u.name.id, f, t) == 0;
}

struct ctx {
	struct astwalk *w;
	struct vsp_event *ev;
	const struct vsp_event_ref *ref;
};

static struct val eval(struct ctx *c, const struct vsp_expr *e);

static struct val vint(enum vsp_type t, int64_t i)
{
	return (struct val){ t, i, NULL, 0, NULL };
}

static const struct vsp_expr *list_of(const struct vsp_expr *e)
{
	if (e->kind == VSP_E_LIST)
		return e;
	if (e->kind == VSP_E_NAME && e->u.name.rkind == VSP_N_LIST)
		return e->u.name.decl->value;
	return NULL;
}

static bool str_eq(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static int str_cmp3(const struct val *a, const struct val *b)
{
	uint32_t n = a->len < b->len ? a->len : b->len;
	int r = n ? memcmp(a->s, b->s, n) : 0;

	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

static bool in_list(struct ctx *c, const struct val *x, const struct vsp_expr *b)
{
	const struct vsp_expr *l = list_of(b);

	if (!l) {
		/* `x in stack` */
		struct val s = eval(c, b);
		(void)s;
		if (!c->ev->has_stack || !c->ev->stack)
			return false;
		for (uint32_t i = 0; i < c->ev->nstack; i++) {
			const char *f = c->ev->stack[i] ? c->ev->stack[i] : "";

			if (str_eq(f, (uint32_t)strlen(f), x->s, x->len))
				return true;
		}
		return false;
	}
	for (size_t i = 0; i < l->u.list.n; i++) {
		const struct vsp_expr *it = l->u.list.items[i];

		if (it->kind == VSP_E_INT ? x->i == it->u.ival
					  : str_eq(x->s, x->len, it->u.str.ptr, it->u.str.len))
			return true;
	}
	return false;
}

static bool matches(struct ctx *c, const struct val *x, const struct vsp_expr *b)
{
	const struct vsp_expr *l = list_of(b);

	if (!l) {
		struct val g = eval(c, b);

		return vsp_glob_match(g.s, g.len, x->s, x->len);
	}
	for (size_t i = 0; i < l->u.list.n; i++) {
		const struct vsp_expr *it = l->u.list.items[i];

		if (vsp_glob_match(it->u.str.ptr, it->u.str.len, x->s, x->len))
			return true;
	}
	return false;
}

static struct val eval_name(struct ctx *c, const struct vsp_expr *e)
{
	const struct vsp_decl *d = e->u.name.decl;
	enum vsp_field f;
	enum vsp_type t;

	switch (e->u.name.rkind) {
	case VSP_N_SYMBOL:
		return vint(VSP_T_INT, e->u.name.symval);
	case VSP_N_CONST:
		if (d->type == VSP_T_STRING)
			return (struct val){ VSP_T_STRING, 0, d->sval.ptr, d->sval.len, NULL };
		return vint(d->type, d->type == VSP_T_BOOL ? d->bval : d->ival);
	case VSP_N_MACRO:
		return eval(c, d->value);
	case VSP_N_LIST:
		return (struct val){ d->type, 0, NULL, 0, d->value };
	case VSP_N_FIELD:
		if (!resolve(c->w, e, c->ref, &f, &t))
			break;
		if (t == VSP_T_STRING) {
			struct vsp_str s = vsp_vm_field_str(c->ev, f);

			return (struct val){ t, 0, s.ptr, s.len, NULL };
		}
		return vint(t, vsp_vm_field_int(c->ev, f));
	default:
		break;
	}
	c->w->unsupported = e->u.name.id;
	return vint(VSP_T_ERROR, 0);
}

static int64_t arith(enum vsp_op op, int64_t a, int64_t b)
{
	uint64_t ua = (uint64_t)a, ub = (uint64_t)b;

	switch (op) {
	case VSP_OP_ADD: return (int64_t)(ua + ub);
	case VSP_OP_SUB: return (int64_t)(ua - ub);
	case VSP_OP_MUL: return (int64_t)(ua * ub);
	case VSP_OP_DIV: return b == 0 ? 0 : b == -1 ? (int64_t)(0 - ua) : a / b;
	case VSP_OP_MOD: return b == 0 || b == -1 ? 0 : a % b;
	case VSP_OP_BAND: return a & b;
	case VSP_OP_BOR: return a | b;
	case VSP_OP_BXOR: return a ^ b;
	case VSP_OP_SHL: return b < 0 || b > 63 ? 0 : (int64_t)(ua << b);
	case VSP_OP_SHR: return b < 0 || b > 63 ? 0 : a < 0 ? ~(~a >> b) : a >> b;
	default: return 0;
	}
}

static bool compare(enum vsp_op op, int r)
{
	switch (op) {
	case VSP_OP_EQ: return r == 0;
	case VSP_OP_NE: return r != 0;
	case VSP_OP_LT: return r < 0;
	case VSP_OP_LE: return r <= 0;
	case VSP_OP_GT: return r > 0;
	default: return r >= 0;
	}
}

static struct val eval_binary(struct ctx *c, const struct vsp_expr *e)
{
	enum vsp_op op = e->u.op.op;
	struct val a, b;

	if (op == VSP_OP_AND || op == VSP_OP_OR) {
		a = eval(c, e->u.op.a);
		if ((op == VSP_OP_AND) != (a.i != 0))
			return vint(VSP_T_BOOL, a.i != 0);
		b = eval(c, e->u.op.b);
		return vint(VSP_T_BOOL, b.i != 0);
	}
	a = eval(c, e->u.op.a);
	switch (op) {
	case VSP_OP_IN:
	case VSP_OP_NOT_IN:
		return vint(VSP_T_BOOL, in_list(c, &a, e->u.op.b) == (op == VSP_OP_IN));
	case VSP_OP_MATCHES:
		return vint(VSP_T_BOOL, matches(c, &a, e->u.op.b));
	default:
		break;
	}
	b = eval(c, e->u.op.b);
	switch (op) {
	case VSP_OP_EQ: case VSP_OP_NE: case VSP_OP_LT:
	case VSP_OP_LE: case VSP_OP_GT: case VSP_OP_GE:
		if (a.t == VSP_T_STRING)
			return vint(VSP_T_BOOL, compare(op, str_cmp3(&a, &b)));
		return vint(VSP_T_BOOL, compare(op, (a.i > b.i) - (a.i < b.i)));
	case VSP_OP_STARTSWITH:
		return vint(VSP_T_BOOL, a.len >= b.len && (!b.len || !memcmp(a.s, b.s, b.len)));
	case VSP_OP_ENDSWITH:
		return vint(VSP_T_BOOL, a.len >= b.len &&
				       (!b.len || !memcmp(a.s + a.len - b.len, b.s, b.len)));
	case VSP_OP_CONTAINS:
		return vint(VSP_T_BOOL, !b.len || memmem(a.s, a.len, b.s, b.len) != NULL);
	default:
		return vint(VSP_T_INT, arith(op, a.i, b.i));
	}
}

static struct val eval(struct ctx *c, const struct vsp_expr *e)
{
	switch (e->kind) {
	case VSP_E_INT:
		return vint(VSP_T_INT, e->u.ival);
	case VSP_E_BOOL:
		return vint(VSP_T_BOOL, e->u.bval);
	case VSP_E_STRING:
		return (struct val){ VSP_T_STRING, 0, e->u.str.ptr, e->u.str.len, NULL };
	case VSP_E_LIST:
		return (struct val){ e->type, 0, NULL, 0, e };
	case VSP_E_NAME:
		return eval_name(c, e);
	case VSP_E_UNARY: {
		struct val a = eval(c, e->u.op.a);

		if (e->u.op.op == VSP_OP_NOT)
			return vint(VSP_T_BOOL, !a.i);
		if (e->u.op.op == VSP_OP_NEG)
			return vint(VSP_T_INT, (int64_t)(0 - (uint64_t)a.i));
		return vint(VSP_T_INT, ~a.i);
	}
	case VSP_E_BINARY:
		return eval_binary(c, e);
	case VSP_E_CALL:
		if (e->u.call.builtin == VSP_B_LEN && e->u.call.n == 1) {
			struct val a = eval(c, e->u.call.args[0]);

			return vint(VSP_T_INT, a.len);
		}
		if (e->u.call.builtin == VSP_B_LOWER && e->u.call.n == 1) {
			struct val a = eval(c, e->u.call.args[0]);
			uint32_t n = a.len < sizeof(c->w->lower_buf) ? a.len
								       : sizeof(c->w->lower_buf);

			for (uint32_t i = 0; i < n; i++) {
				unsigned char ch = (unsigned char)a.s[i];

				c->w->lower_buf[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
			}
			return (struct val){ VSP_T_STRING, 0, c->w->lower_buf, n, NULL };
		}
		c->w->unsupported = e->u.call.fn;
		return vint(VSP_T_ERROR, 0);
	}
	return vint(VSP_T_ERROR, 0);
}

/* Does pattern frames p[i..] match call path s[j..]? */
static bool pat_match(const struct pat *p, size_t i, const char *const *s,
		      size_t n, size_t j)
{
	for (; i < p->n; i++, j++) {
		const char *f = p->frames[i];

		if (!strcmp(f, "**")) {
			for (size_t k = j; k <= n; k++)
				if (pat_match(p, i + 1, s, n, k))
					return true;
			return false;
		}
		if (j >= n)
			return false;
		if (strcmp(f, "*") && !vsp_glob_match(f, strlen(f), s[j], strlen(s[j])))
			return false;
	}
	return true;	/* frames past the pattern's end are ignored */
}

static bool arises(const struct rule_pats *rp, const struct vsp_event *ev)
{
	if (!ev->has_stack || !ev->stack || ev->nstack == 0)
		return false;
	for (size_t i = 0; i < rp->n; i++)
		if (pat_match(&rp->p[i], 0, ev->stack + 1, ev->nstack - 1, 0))
			return true;
	return false;
}

static const char *base(const char *lib)
{
	const char *s = lib ? strrchr(lib, '/') : NULL;

	return s ? s + 1 : lib ? lib : "";
}

static bool names_event(const struct vsp_event_ref *r, const struct vsp_event *ev)
{
	if (r->kind != ev->kind)
		return false;
	switch (r->kind) {
	case VSP_EV_SYSCALL:
	case VSP_EV_HYPERCALL:
		return r->nr == ev->nr;
	case VSP_EV_USER:
		if (strcmp(base(r->lib), base(ev->lib)))
			return false;
		break;
	case VSP_EV_WRITE:
		if (r->lo >= 0 && (ev->offset < (uint64_t)r->lo * 8 ||
				   ev->offset > (uint64_t)r->hi * 8 + 7))
			return false;
		break;
	default:
		break;
	}
	return ev->name && r->name && !strcmp(r->name, ev->name);
}

enum vsp_verdict astwalk_decide(struct astwalk *w, struct vsp_event *ev,
				int64_t *value)
{
	const struct vsp_unit *u = w->u;

	*value = 0;
	for (size_t r = 0; r < u->nrules; r++) {
		const struct vsp_rule *ru = u->rules[r];
		const struct vsp_event_ref *ref = NULL;

		for (size_t j = 0; j < ru->nevents && !ref; j++)
			if (names_event(&ru->events[j], ev))
				ref = &ru->events[j];
		if (!ref)
			continue;
		struct ctx c = { w, ev, ref };

		if (ru->when && !eval(&c, ru->when).i)
			continue;
		if (ru->arise.present && arises(&w->pats[r], ev))
			continue;
		for (size_t a = 0; a < ru->nactions; a++) {
			const struct vsp_action *ac = &ru->actions[a];

			if (ac->kind != VSP_A_VERDICT)
				continue;
			if (ac->verdict == VSP_V_DENY)
				*value = ac->errno_val;
			else if (ac->verdict == VSP_V_RETURN && ac->value)
				*value = eval(&c, ac->value).i;
			return ac->verdict;
		}
	}
	if (u->def) {
		if (u->def->verdict == VSP_V_DENY)
			*value = u->def->errno_val;
		return u->def->verdict;
	}
	return VSP_V_ALLOW;
}
