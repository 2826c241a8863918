/*
 * t_differential.c: the compiled engine against a tree-walking evaluator.
 *
 * A generator writes random well-typed policies as source text (lists,
 * consts, macros, rules over a few events with random conditions, effects,
 * verdicts and `must arise from` patterns, a random default) and random
 * events.  The reference below evaluates the checked syntax tree directly
 * by language.md §5, written as plainly as possible and sharing nothing
 * with the compiler: its own glob and call-path matchers, its own
 * arithmetic.  The engine must give the same decision (verdict, deciding
 * rule, errno or value, redirect, every fired effect in order, flagged)
 * for every event, with the fast path and the cache in all four
 * combinations, deciding each event twice.  (Whether a decision is
 * partial is not compared: the engine reads every string field the
 * event's program uses, which the reference does not know.)
 *
 * VSP_DIFF_SEED and VSP_DIFF_ROUNDS in the environment change the seed and
 * the number of policies.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "base/catalog.h"
#include "lang/fields.h"
#include "lang/front.h"
#include "tests/tap.h"

/* ---- randomness ---------------------------------------------------------- */

static uint64_t rs;

static uint32_t rnd(uint32_t n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return n ? (uint32_t)(rs % n) : 0;
}

#define PICK(arr) (arr[rnd(sizeof(arr) / sizeof(arr[0]))])

/* ---- the events ---------------------------------------------------------- */

enum { EV_OPENAT, EV_READ, EV_EXECVE, EV_CREDS, EV_MMU, EV_WRITE, NEV };

#define E(x) (1u << EV_##x)
#define ALL ((1u << NEV) - 1)
#define CALLS (E(OPENAT) | E(READ) | E(EXECVE) | E(CREDS))

static const char *const ev_src[NEV] = { "syscall openat", "syscall read",
	"syscall execve", "kernel commit_creds", "hypercall mmu_update",
	"write sys_call_table" };
static const bool ev_has_path[NEV] = { true, false, true, false, false, false };

/* Every field the generator uses, and the events that have it. */
static const struct { const char *name; bool str; unsigned evs; } fields[] = {
	{ "proc.pid", false, ALL }, { "proc.uid", false, ALL },
	{ "proc.euid", false, ALL }, { "proc.gid", false, ALL },
	{ "vcpu", false, ALL }, { "arg0", false, CALLS | E(MMU) },
	{ "arg1", false, CALLS | E(MMU) }, { "arg4", false, CALLS | E(MMU) },
	{ "arg5", false, CALLS }, { "nr", false, E(OPENAT) | E(READ) | E(EXECVE) | E(MMU) },
	{ "flags", false, E(OPENAT) }, { "dfd", false, E(OPENAT) },
	{ "fd", false, E(READ) }, { "count", false, E(READ) | E(MMU) },
	{ "argv", false, E(EXECVE) }, { "foreigndom", false, E(MMU) },
	{ "req", false, E(MMU) }, { "offset", false, E(WRITE) },
	{ "value", false, E(WRITE) }, { "old", false, E(WRITE) },
	{ "proc.comm", true, ALL }, { "vm", true, ALL }, { "event.name", true, ALL },
	{ "path", true, E(OPENAT) | E(EXECVE) }, { "filename", true, E(OPENAT) | E(EXECVE) },
	{ "func", true, E(CREDS) },
};

static const char *const strpool[] = { "/etc/shadow", "/etc/passwd", "/tmp/x",
	"/tmp/a/b", "cat", "sh", "ETC", "", "/", "a.so", "x", "/etc/", "Cat",
	"openat", "commit_creds", "guest0", "/usr/lib/a.so" };
static const char *const globpool[] = { "/etc/*", "/tmp/**", "*.so", "/e?c/*",
	"[a-c]*", "**", "/etc/[!p]*", "c*", "*", "/usr/**/*.so", "\\*", "sh" };
static const char *const framepool[] = { "a", "b", "c", "x", "fa", "fb" };
static const char *const patpool[] = { "a <- **", "* <- b", "a <- * <- c",
	"x", "f* <- **", "b <- ** <- c", "*", "a <- b <- c" };
static const int64_t intpool[] = { 0, 1, 2, 3, 7, -1, -100, 64, 1000, 4096,
	0x40, INT64_MAX, INT64_MIN, 63 };

/* ---- the generator ------------------------------------------------------- */

struct gen {
	char *buf;
	size_t len, cap;
	unsigned evmask;	/* events of the rule being written */
	int nconst_i, nconst_s, nlist_i, nlist_s, nglist, nmacro;
};

__attribute__((format(printf, 2, 3)))
static void out(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		/* No pointer arithmetic on a NULL buffer (the first call). */
		n = vsnprintf(g->buf ? g->buf + g->len : NULL, g->cap - g->len,
			      fmt, ap);
		va_end(ap);
		if ((size_t)n < g->cap - g->len)
			break;
		g->cap = 2 * g->cap + (size_t)n + 64;
		g->buf = realloc(g->buf, g->cap);
	}
	g->len += (size_t)n;
}

static void gen_str(struct gen *g, int d);

static void quoted(struct gen *g, const char *s)
{
	out(g, "\"");
	for (; *s; s++)
		out(g, *s == '\\' || *s == '"' ? "\\%c" : "%c", *s);
	out(g, "\"");
}

static const char *field_for(struct gen *g, bool str)
{
	const char *cand[32];
	uint32_t n = 0;
	unsigned need = g->evmask ? g->evmask : ALL;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].str == str && (fields[i].evs & need) == need)
			cand[n++] = fields[i].name;
	return cand[rnd(n)];
}

static void gen_int(struct gen *g, int d)
{
	static const char *const ops[] = { "+", "-", "*", "/", "%", "&", "|", "^",
					   "<<", ">>" };
	uint32_t k = d <= 0 ? rnd(2) : rnd(8);

	switch (k) {
	case 0: {
		int64_t v = PICK(intpool);

		if (v == INT64_MIN)
			out(g, "(-9223372036854775807 - 1)");
		else
			out(g, "%lld", (long long)v);
		break;
	}
	case 1:
		out(g, "%s", field_for(g, false));
		break;
	case 2:
	case 3:
	case 4: {
		const char *op = PICK(ops);

		out(g, "(");
		gen_int(g, d - 1);
		out(g, " %s ", op);
		/* A constant zero divisor is a compile-time error: keep a field. */
		if (!strcmp(op, "/") || !strcmp(op, "%") || !strcmp(op, "<<") ||
		    !strcmp(op, ">>"))
			out(g, "%s", rnd(3) ? field_for(g, false) : "3");
		else
			gen_int(g, d - 1);
		out(g, ")");
		break;
	}
	case 5:
		out(g, rnd(2) ? "-" : "~");
		out(g, "(");
		gen_int(g, d - 1);
		out(g, ")");
		break;
	case 6:
		out(g, "len(");
		gen_str(g, d - 1);
		out(g, ")");
		break;
	default:
		if (g->nconst_i)
			out(g, "ci%u", rnd((uint32_t)g->nconst_i));
		else
			out(g, "5");
	}
}

static void gen_str(struct gen *g, int d)
{
	static const char *const fns[] = { "lower", "basename", "dirname" };

	switch (d <= 0 ? rnd(2) : rnd(5)) {
	case 0:
		quoted(g, PICK(strpool));
		break;
	case 1:
		out(g, "%s", field_for(g, true));
		break;
	case 2:
	case 3:
		out(g, "%s(", PICK(fns));
		gen_str(g, d - 1);
		out(g, ")");
		break;
	default:
		if (g->nconst_s)
			out(g, "cs%u", rnd((uint32_t)g->nconst_s));
		else
			quoted(g, "cat");
	}
}

static void gen_bool(struct gen *g, int d)
{
	static const char *const cmps[] = { "==", "!=", "<", "<=", ">", ">=" };
	static const char *const sops[] = { "==", "!=", "startswith", "endswith",
					    "contains" };

	switch (d <= 0 ? rnd(4) : rnd(13)) {
	case 0:
		gen_int(g, d - 1);
		out(g, " %s ", PICK(cmps));
		gen_int(g, d - 1);
		break;
	case 1:
		gen_str(g, d - 1);
		out(g, " %s ", PICK(sops));
		gen_str(g, 0);
		break;
	case 2:
		gen_str(g, d - 1);
		out(g, " matches ");
		if (g->nglist && rnd(2)) {
			out(g, "gl%u", rnd((uint32_t)g->nglist));
		} else if (rnd(2)) {
			quoted(g, PICK(globpool));
		} else {
			out(g, "[");
			quoted(g, PICK(globpool));
			out(g, ", ");
			quoted(g, PICK(globpool));
			out(g, "]");
		}
		break;
	case 3:
		out(g, rnd(4) ? "" : "not ");
		out(g, "%s", rnd(2) ? "true" : "false");
		break;
	case 4:
	case 5:
		out(g, "(");
		gen_bool(g, d - 1);
		out(g, rnd(2) ? " and " : " or ");
		gen_bool(g, d - 1);
		out(g, ")");
		break;
	case 6:
		out(g, "not (");
		gen_bool(g, d - 1);
		out(g, ")");
		break;
	case 7:
		gen_int(g, d - 1);
		out(g, rnd(2) ? " in " : " not in ");
		if (g->nlist_i && rnd(2)) {
			out(g, "li%u", rnd((uint32_t)g->nlist_i));
		} else {
			out(g, "[%lld, %lld]", (long long)intpool[rnd(6)],
			    (long long)intpool[rnd(11)]);
		}
		break;
	case 8:
		gen_str(g, d - 1);
		out(g, rnd(2) ? " in " : " not in ");
		if (g->nlist_s && rnd(2)) {
			out(g, "ls%u", rnd((uint32_t)g->nlist_s));
		} else {
			out(g, "[");
			quoted(g, PICK(strpool));
			out(g, ", ");
			quoted(g, PICK(strpool));
			out(g, "]");
		}
		break;
	case 9:
		quoted(g, PICK(framepool));
		out(g, " in stack");
		break;
	case 10:
		if (g->nmacro) {
			out(g, "m%u", rnd((uint32_t)g->nmacro));
			break;
		}
		/* fall through */
	default:
		out(g, "(");
		gen_bool(g, d - 1);
		out(g, ") == (");
		gen_bool(g, d - 1);
		out(g, ")");
	}
}

static void gen_policy(struct gen *g)
{
	static const char *const effects[] = { "log", "alert \"m %{proc.comm}\"",
					       "count \"n\"", "count", "log \"x\"" };
	int nrules = 1 + (int)rnd(7), neff = 0;

	g->len = 0;
	g->nconst_i = g->nconst_s = g->nlist_i = g->nlist_s = g->nglist = g->nmacro = 0;
	out(g, "policy \"random\";\n");
	g->evmask = 0;		/* declarations use common fields only */
	for (int i = 0, n = (int)rnd(3); i < n; i++)
		out(g, "const ci%d = %lld;\n", g->nconst_i++, (long long)intpool[rnd(12)]);
	for (int i = 0, n = (int)rnd(3); i < n; i++) {
		out(g, "const cs%d = ", g->nconst_s++);
		quoted(g, PICK(strpool));
		out(g, ";\n");
	}
	for (int i = 0, n = (int)rnd(2); i < n; i++)
		out(g, "list li%d = [%lld, %lld, %lld];\n", g->nlist_i++,
		    (long long)PICK(intpool), (long long)PICK(intpool), (long long)PICK(intpool));
	for (int i = 0, n = (int)rnd(2); i < n; i++) {
		out(g, "list ls%d = [", g->nlist_s++);
		quoted(g, PICK(strpool));
		out(g, ", ");
		quoted(g, PICK(strpool));
		out(g, "];\n");
	}
	for (int i = 0, n = (int)rnd(2); i < n; i++) {
		out(g, "list gl%d = [", g->nglist++);
		quoted(g, PICK(globpool));
		out(g, ", ");
		quoted(g, PICK(globpool));
		out(g, "];\n");
	}
	for (int i = 0, n = (int)rnd(3); i < n; i++) {
		out(g, "macro m%d = ", g->nmacro);
		gen_bool(g, 1);
		g->nmacro++;
		out(g, ";\n");
	}
	if (rnd(3) == 0) {
		static const char *const defs[] = { "deny", "deny EACCES", "kill",
						    "return -38", "allow", "pause" };

		out(g, "default %s;\n", PICK(defs));
	}
	for (int r = 0; r < nrules; r++) {
		bool path_ok = true, has_verdict = rnd(4) != 0;
		int nev = 1 + (int)rnd(2), ne;

		g->evmask = 0;
		for (int i = 0; i < nev; i++)
			g->evmask |= 1u << rnd(NEV);
		if (rnd(2))
			out(g, "rule \"r%d\":\n", r);
		out(g, "on ");
		for (int e = 0, first = 1; e < NEV; e++)
			if (g->evmask & (1u << e)) {
				out(g, "%s%s", first ? "" : ", ", ev_src[e]);
				if (e == EV_WRITE && rnd(2))
					out(g, "[%u..%u]", rnd(2), 2 + rnd(3));
				path_ok &= ev_has_path[e];
				first = 0;
			}
		if (rnd(5)) {
			out(g, " when ");
			gen_bool(g, 1 + (int)rnd(3));
		}
		if (rnd(4) == 0) {
			out(g, " must arise from ");
			quoted(g, PICK(patpool));
			if (rnd(2)) {
				out(g, ", ");
				quoted(g, PICK(patpool));
			}
		}
		out(g, " : ");
		ne = (int)rnd(3);
		if (neff + ne > 24)
			ne = 0;
		if (!ne)
			has_verdict = true;
		for (int i = 0; i < ne; i++)
			out(g, "%s%s", i ? ", " : "", PICK(effects));
		neff += ne;
		if (has_verdict) {
			out(g, "%s", ne ? ", " : "");
			switch (rnd(path_ok ? 7 : 6)) {
			case 0: out(g, "allow"); break;
			case 1: out(g, "deny"); break;
			case 2: out(g, "deny %d", 1 + (int)rnd(40)); break;
			case 3: out(g, "kill"); break;
			case 4: out(g, "pause"); break;
			case 5: out(g, "return "); gen_int(g, 2); break;
			default: out(g, "redirect \"/bin/false\""); break;
			}
		}
		out(g, ";\n");
	}
}

/* ---- random events ------------------------------------------------------- */

struct tev {
	struct vsp_event ev;
	uint64_t fail;		/* bit f: reading field f fails */
	char strs[6][64];
	const char *stack[6];
	const struct vsp_call *call;
};

static int tev_fetch(void *ctx, struct vsp_event *ev, enum vsp_field f,
		     struct vsp_str *o)
{
	struct tev *t = ctx;
	int i;

	if (f == VSP_F_FUNC) {
		*o = (struct vsp_str){ ev->name, (uint32_t)strlen(ev->name) };
		return 0;
	}
	if (t->fail & (1ull << f))
		return -1;
	if (f == VSP_F_PATH)
		i = t->call ? vsp_call_path_arg(t->call) : -1;
	else
		i = (int)f - VSP_F_STR0;
	if (i < 0 || i > 5)
		return -1;
	*o = (struct vsp_str){ t->strs[i], (uint32_t)strlen(t->strs[i]) };
	return 0;
}

static void gen_event(struct tev *t)
{
	int e = (int)rnd(NEV + 1);

	memset(t, 0, sizeof(*t));
	t->ev.fetch = tev_fetch;
	t->ev.fetch_ctx = t;
	t->ev.vm = rnd(2) ? "guest0" : "x";
	t->ev.vcpu = rnd(3);
	t->ev.proc.pid = PICK(intpool);
	t->ev.proc.uid = rnd(2) ? 0 : 1000;
	t->ev.proc.euid = PICK(intpool);
	t->ev.proc.gid = rnd(3);
	snprintf(t->ev.proc.comm, sizeof(t->ev.proc.comm), "%s", PICK(strpool));
	for (int i = 0; i < 6; i++) {
		t->ev.args[i] = PICK(intpool);
		snprintf(t->strs[i], sizeof(t->strs[i]), "%s", PICK(strpool));
	}
	switch (e) {
	case EV_OPENAT:
	case EV_READ:
	case EV_EXECVE:
		t->ev.kind = VSP_EV_SYSCALL;
		t->ev.name = e == EV_OPENAT ? "openat" : e == EV_READ ? "read" : "execve";
		t->call = vsp_syscall_by_name(t->ev.name);
		t->ev.nr = t->call->nr;
		break;
	case EV_CREDS:
		t->ev.kind = VSP_EV_KERNEL;
		t->ev.name = "commit_creds";
		break;
	case EV_MMU:
		t->ev.kind = VSP_EV_HYPERCALL;
		t->ev.name = "mmu_update";
		t->call = vsp_hypercall_by_name(t->ev.name);
		t->ev.nr = t->call->nr;
		break;
	case EV_WRITE: {
		static const uint64_t offs[] = { 0, 7, 8, 24, 31, 39, 40, 100 };

		t->ev.kind = VSP_EV_WRITE;
		t->ev.name = "sys_call_table";
		t->ev.offset = PICK(offs);
		t->ev.value = (uint64_t)PICK(intpool);
		t->ev.old = (uint64_t)PICK(intpool);
		break;
	}
	default:
		t->ev.kind = VSP_EV_SYSCALL;
		t->ev.name = "write";
		t->ev.nr = 1;
	}
	if (rnd(6) == 0)
		t->fail = rnd(2) ? 1ull << VSP_F_PATH : 1ull << (VSP_F_STR0 + rnd(6));
	if (rnd(4)) {
		t->ev.has_stack = true;
		t->ev.nstack = rnd(6);
		for (uint32_t i = 0; i < t->ev.nstack; i++)
			t->stack[i] = PICK(framepool);
		t->ev.stack = t->stack;
	}
}

/* ---- the reference evaluator --------------------------------------------- */

/* Plain recursive glob: '*' within a segment, '**' across, '?', classes. */
static bool rglob(const char *p, const char *pe, const char *s, const char *se)
{
	if (p == pe)
		return s == se;
	if (*p == '*') {
		bool deep = p + 1 < pe && p[1] == '*';
		const char *q = p;

		while (q < pe && *q == '*')
			q++;
		for (const char *t = s;; t++) {
			if (rglob(q, pe, t, se))
				return true;
			if (t == se || (!deep && *t == '/'))
				return false;
		}
	}
	if (s == se)
		return false;
	if (*p == '?')
		return *s != '/' && rglob(p + 1, pe, s + 1, se);
	if (*p == '[') {
		const char *q = p + 1;
		bool neg = q < pe && *q == '!', hit = false;

		if (neg)
			q++;
		for (bool first = true; q < pe && (first || *q != ']'); first = false) {
			unsigned char lo = (unsigned char)*q, hi = lo;

			if (*q == '\\' && q + 1 < pe)
				lo = hi = (unsigned char)*++q;
			if (q + 2 < pe && q[1] == '-' && q[2] != ']') {
				hi = (unsigned char)q[2];
				q += 2;
			}
			if ((unsigned char)*s >= lo && (unsigned char)*s <= hi)
				hit = true;
			q++;
		}
		if (q < pe && *s != '/' && hit != neg)
			return rglob(q + 1, pe, s + 1, se);
		if (q < pe)
			return false;
		/* unterminated: a literal '[' */
	}
	if (*p == '\\' && p + 1 < pe)
		p++;
	return *p == *s && rglob(p + 1, pe, s + 1, se);
}

static bool rglob_str(const char *pat, size_t pl, const char *s, size_t sl)
{
	return rglob(pat, pat + pl, s, s + sl);
}

static bool rpath(char **pf, size_t np, const char *const *path, size_t n)
{
	if (np == 0)
		return true;
	if (!strcmp(pf[0], "**")) {
		for (size_t k = 0; k <= n; k++)
			if (rpath(pf + 1, np - 1, path + k, n - k))
				return true;
		return false;
	}
	if (n == 0)
		return false;
	if (strcmp(pf[0], "*") && !rglob_str(pf[0], strlen(pf[0]), path[0], strlen(path[0])))
		return false;
	return rpath(pf + 1, np - 1, path + 1, n - 1);
}

struct rval {
	int64_t i;
	char s[8192];
	size_t len;
};

struct rctx {
	struct tev *t;
	const struct vsp_event_ref *ref;
	bool flagged, partial;
};

static void reval(struct rctx *c, const struct vsp_expr *e, struct rval *v);

static bool rfield(struct rctx *c, const char *name, struct rval *v)
{
	enum vsp_field f;
	enum vsp_type ty;
	struct vsp_event *ev = &c->t->ev;
	struct vsp_str s;

	if (vsp_field_resolve(c->ref, name, &f, &ty))
		abort();
	v->len = 0;
	switch (f) {
	case VSP_F_PID: v->i = ev->proc.pid; return true;
	case VSP_F_UID: v->i = ev->proc.uid; return true;
	case VSP_F_EUID: v->i = ev->proc.euid; return true;
	case VSP_F_GID: v->i = ev->proc.gid; return true;
	case VSP_F_VCPU: v->i = ev->vcpu; return true;
	case VSP_F_NR: v->i = ev->nr; return true;
	case VSP_F_COMM: s.ptr = ev->proc.comm; s.len = (uint32_t)strlen(s.ptr); break;
	case VSP_F_VM: s.ptr = ev->vm; s.len = (uint32_t)strlen(s.ptr); break;
	case VSP_F_EVENT_NAME: s.ptr = ev->name; s.len = (uint32_t)strlen(s.ptr); break;
	default:
		if (f >= VSP_F_ARG0 && f <= VSP_F_ARG5) {
			v->i = ev->args[f - VSP_F_ARG0];
			return true;
		}
		if (f == VSP_F_OFFSET || f == VSP_F_VALUE || f == VSP_F_OLD) {
			v->i = (int64_t)(f == VSP_F_OFFSET ? ev->offset :
					 f == VSP_F_VALUE ? ev->value : ev->old);
			return true;
		}
		if (tev_fetch(c->t, ev, f, &s)) {
			s = (struct vsp_str){ "", 0 };	/* a failed read is empty */
			c->partial = true;
		}
	}
	memcpy(v->s, s.ptr, s.len);
	v->len = s.len;
	return true;
}

static const struct vsp_expr *list_of(const struct vsp_expr *e)
{
	while (e->kind == VSP_E_NAME && e->u.name.decl)
		e = e->u.name.decl->value;
	return e->kind == VSP_E_LIST ? e : NULL;
}

static bool rbool(struct rctx *c, const struct vsp_expr *e)
{
	struct rval v;

	reval(c, e, &v);
	return v.i != 0;
}

static void rbinary(struct rctx *c, const struct vsp_expr *e, struct rval *v)
{
	struct rval a, b;
	enum vsp_op op = e->u.op.op;
	const struct vsp_expr *l;

	if (op == VSP_OP_AND) {
		v->i = rbool(c, e->u.op.a) && rbool(c, e->u.op.b);
		return;
	}
	if (op == VSP_OP_OR) {
		v->i = rbool(c, e->u.op.a) || rbool(c, e->u.op.b);
		return;
	}
	reval(c, e->u.op.a, &a);
	if (op == VSP_OP_IN || op == VSP_OP_NOT_IN || op == VSP_OP_MATCHES) {
		bool hit = false;

		if (e->u.op.b->kind == VSP_E_NAME && !strcmp(e->u.op.b->u.name.id, "stack")) {
			struct vsp_event *ev = &c->t->ev;

			for (uint32_t i = 0; ev->has_stack && i < ev->nstack; i++)
				hit |= strlen(ev->stack[i]) == a.len &&
				       !memcmp(ev->stack[i], a.s, a.len);
		} else if ((l = list_of(e->u.op.b))) {
			for (size_t i = 0; i < l->u.list.n; i++) {
				reval(c, l->u.list.items[i], &b);
				if (op == VSP_OP_MATCHES)
					hit |= rglob_str(b.s, b.len, a.s, a.len);
				else if (e->u.op.a->type == VSP_T_STRING)
					hit |= a.len == b.len && !memcmp(a.s, b.s, a.len);
				else
					hit |= a.i == b.i;
			}
		} else {
			reval(c, e->u.op.b, &b);
			hit = rglob_str(b.s, b.len, a.s, a.len);
		}
		v->i = op == VSP_OP_NOT_IN ? !hit : hit;
		return;
	}
	reval(c, e->u.op.b, &b);
	uint64_t x = (uint64_t)a.i, y = (uint64_t)b.i;

	switch (op) {
	case VSP_OP_EQ: case VSP_OP_NE: case VSP_OP_LT:
	case VSP_OP_LE: case VSP_OP_GT: case VSP_OP_GE: {
		int r;

		if (e->u.op.a->type == VSP_T_STRING) {
			size_t n = a.len < b.len ? a.len : b.len;

			r = n ? memcmp(a.s, b.s, n) : 0;
			if (!r)
				r = a.len < b.len ? -1 : a.len > b.len;
		} else {
			r = a.i < b.i ? -1 : a.i > b.i;
		}
		v->i = op == VSP_OP_EQ ? r == 0 : op == VSP_OP_NE ? r != 0 :
		       op == VSP_OP_LT ? r < 0 : op == VSP_OP_LE ? r <= 0 :
		       op == VSP_OP_GT ? r > 0 : r >= 0;
		return;
	}
	case VSP_OP_STARTSWITH:
		v->i = a.len >= b.len && !memcmp(a.s, b.s, b.len);
		return;
	case VSP_OP_ENDSWITH:
		v->i = a.len >= b.len && !memcmp(a.s + a.len - b.len, b.s, b.len);
		return;
	case VSP_OP_CONTAINS:
		v->i = 0;
		for (size_t k = 0; k + b.len <= a.len && !v->i; k++)
			v->i = !memcmp(a.s + k, b.s, b.len);
		return;
	case VSP_OP_ADD: v->i = (int64_t)(x + y); return;
	case VSP_OP_SUB: v->i = (int64_t)(x - y); return;
	case VSP_OP_MUL: v->i = (int64_t)(x * y); return;
	case VSP_OP_BAND: v->i = a.i & b.i; return;
	case VSP_OP_BOR: v->i = a.i | b.i; return;
	case VSP_OP_BXOR: v->i = a.i ^ b.i; return;
	case VSP_OP_DIV:
	case VSP_OP_MOD:
		if (b.i == 0) {
			c->flagged = true;
			v->i = 0;
		} else if (b.i == -1) {
			v->i = op == VSP_OP_DIV ? (int64_t)(0 - x) : 0;
		} else {
			v->i = op == VSP_OP_DIV ? a.i / b.i : a.i % b.i;
		}
		return;
	case VSP_OP_SHL:
	case VSP_OP_SHR:
		if (b.i < 0 || b.i > 63) {
			c->flagged = true;
			v->i = 0;
		} else if (op == VSP_OP_SHL) {
			v->i = (int64_t)(x << b.i);
		} else {
			/* floor division by a power of two */
			v->i = a.i >= 0 ? a.i >> b.i : -(int64_t)((~x >> b.i)) - 1;
		}
		return;
	default:
		abort();
	}
}

static void rcall(struct rctx *c, const struct vsp_expr *e, struct rval *v)
{
	struct rval a;
	size_t end, start;

	reval(c, e->u.call.args[0], &a);
	*v = a;
	switch (e->u.call.builtin) {
	case VSP_B_LEN:
		v->i = (int64_t)a.len;
		return;
	case VSP_B_LOWER:
		for (size_t i = 0; i < v->len; i++)
			if (v->s[i] >= 'A' && v->s[i] <= 'Z')
				v->s[i] += 32;
		return;
	case VSP_B_BASENAME:
	case VSP_B_DIRNAME:
		end = a.len;
		while (end && a.s[end - 1] == '/')
			end--;
		if (a.len == 0 || end == 0) {
			v->len = 1;
			v->s[0] = a.len == 0 ? '.' : '/';
			return;
		}
		start = end;
		while (start && a.s[start - 1] != '/')
			start--;
		if (e->u.call.builtin == VSP_B_BASENAME) {
			memmove(v->s, a.s + start, end - start);
			v->len = end - start;
			return;
		}
		if (start == 0) {
			v->s[0] = '.';
			v->len = 1;
			return;
		}
		while (start && a.s[start - 1] == '/')
			start--;
		if (start == 0) {
			v->s[0] = '/';
			v->len = 1;
			return;
		}
		v->len = start;
		return;
	default:
		abort();
	}
}

static void reval(struct rctx *c, const struct vsp_expr *e, struct rval *v)
{
	v->i = 0;
	v->len = 0;
	switch (e->kind) {
	case VSP_E_INT: v->i = e->u.ival; return;
	case VSP_E_BOOL: v->i = e->u.bval; return;
	case VSP_E_STRING:
		memcpy(v->s, e->u.str.ptr, e->u.str.len);
		v->len = e->u.str.len;
		return;
	case VSP_E_NAME:
		switch (e->u.name.rkind) {
		case VSP_N_FIELD: rfield(c, e->u.name.id, v); return;
		case VSP_N_SYMBOL: v->i = e->u.name.symval; return;
		case VSP_N_CONST:
		case VSP_N_MACRO: reval(c, e->u.name.decl->value, v); return;
		default: abort();
		}
	case VSP_E_CALL: rcall(c, e, v); return;
	case VSP_E_UNARY:
		reval(c, e->u.op.a, v);
		v->i = e->u.op.op == VSP_OP_NOT ? !v->i :
		       e->u.op.op == VSP_OP_NEG ? (int64_t)(0 - (uint64_t)v->i) : ~v->i;
		return;
	case VSP_E_BINARY: rbinary(c, e, v); return;
	default: abort();
	}
}

static bool names_event(const struct vsp_rule *r, const struct vsp_event *ev,
			const struct vsp_event_ref **ref)
{
	for (size_t j = 0; j < r->nevents; j++) {
		const struct vsp_event_ref *x = &r->events[j];

		if (x->kind == ev->kind && !strcmp(x->name, ev->name)) {
			*ref = x;
			/* write SYM[lo..hi]: 8-byte elements lo to hi */
			return x->lo < 0 || (ev->offset >= (uint64_t)x->lo * 8 &&
					     ev->offset <= (uint64_t)x->hi * 8 + 7);
		}
	}
	return false;
}

static void reference(const struct vsp_unit *u, struct tev *t, struct vsp_decision *d)
{
	uint32_t eff = 0;
	struct rval v;

	memset(d, 0, sizeof(*d));
	d->rule = -1;
	for (size_t ri = 0; ri < u->nrules; ri++) {
		const struct vsp_rule *r = u->rules[ri];
		const struct vsp_event_ref *ref;
		struct rctx c = { t, NULL, false, false };
		uint32_t e0 = eff;
		bool hold = true;

		for (size_t a = 0; a < r->nactions; a++)
			eff += r->actions[a].kind == VSP_A_EFFECT;
		if (!names_event(r, &t->ev, &ref))
			continue;
		c.ref = ref;
		if (r->when)
			hold = rbool(&c, r->when);
		d->flagged |= c.flagged;
		d->partial |= c.partial;
		if (hold && r->arise.present) {
			const struct vsp_event *ev = &t->ev;
			bool m = false;

			for (size_t p = 0; ev->has_stack && ev->nstack > 1 &&
					   p < r->arise.npatterns; p++)
				m |= rpath(r->arise.patterns[p].frames,
					   r->arise.patterns[p].nframes, ev->stack + 1,
					   ev->nstack - 1);
			hold = !m;
		}
		if (!hold)
			continue;
		for (size_t a = 0, k = 0; a < r->nactions; a++)
			if (r->actions[a].kind == VSP_A_EFFECT)
				d->fired[d->nfired++] = (struct vsp_fired){ (uint32_t)ri,
									    e0 + (uint32_t)k++ };
		for (size_t a = 0; a < r->nactions; a++) {
			const struct vsp_action *ac = &r->actions[a];

			if (ac->kind != VSP_A_VERDICT)
				continue;
			d->verdict = ac->verdict;
			d->rule = (int32_t)ri;
			if (ac->verdict == VSP_V_DENY)
				d->value = ac->errno_val ? ac->errno_val : 1;
			if (ac->verdict == VSP_V_RETURN) {
				reval(&c, ac->value, &v);
				d->flagged |= c.flagged;
				d->partial |= c.partial;
				d->value = v.i;
			}
			if (ac->verdict == VSP_V_REDIRECT)
				d->redirect = (struct vsp_str){ ac->str, ac->str_len };
			return;
		}
	}
	if (u->def) {
		struct rctx c = { t, NULL, false, false };

		d->verdict = u->def->verdict;
		if (u->def->verdict == VSP_V_DENY)
			d->value = u->def->errno_val ? u->def->errno_val : 1;
		if (u->def->verdict == VSP_V_RETURN) {
			reval(&c, u->def->value, &v);
			d->value = v.i;
		}
	} else {
		d->verdict = VSP_V_ALLOW;
	}
}

/* ---- comparing ----------------------------------------------------------- */

static bool same(const struct vsp_decision *a, const struct vsp_decision *b)
{
	if (a->verdict != b->verdict || a->rule != b->rule || a->flagged != b->flagged ||
	    a->nfired != b->nfired)
		return false;
	if ((a->verdict == VSP_V_DENY || a->verdict == VSP_V_RETURN) && a->value != b->value)
		return false;
	if (a->verdict == VSP_V_REDIRECT &&
	    (a->redirect.len != b->redirect.len ||
	     memcmp(a->redirect.ptr, b->redirect.ptr, a->redirect.len)))
		return false;
	for (uint32_t i = 0; i < a->nfired; i++)
		if (a->fired[i].rule != b->fired[i].rule || a->fired[i].effect != b->fired[i].effect)
			return false;
	return true;
}

static void show(const char *who, const struct vsp_decision *d)
{
	printf("#   %s: %s value %lld rule %d flagged %d partial %d fired", who,
	       vsp_verdict_name(d->verdict), (long long)d->value, d->rule, d->flagged,
	       d->partial);
	for (uint32_t i = 0; i < d->nfired; i++)
		printf(" %u/%u", d->fired[i].rule, d->fired[i].effect);
	printf("\n");
}

int main(void)
{
	const char *seed = getenv("VSP_DIFF_SEED"), *rounds_s = getenv("VSP_DIFF_ROUNDS");
	unsigned rounds = rounds_s ? (unsigned)atoi(rounds_s) : 400, bad = 0,
		 checked = 0, policies = 0, rejected = 0, events = 60;
	char path[] = "/tmp/vsp-diff-XXXXXX";
	int fd = mkstemp(path);
	struct gen g = { 0 };
	FILE *null = fopen("/dev/null", "w");

	rs = seed ? strtoull(seed, NULL, 0) : 0x5eed5eedull;
	diag("seed 0x%llx, %u policies, %u events each", (unsigned long long)rs, rounds,
	     events);
	for (unsigned round = 0; round < rounds && bad < 5; round++) {
		struct vsp_diags d;
		struct vsp_unit *u;
		struct vsp_policy *p[4];
		bool ok_load = true;
		const char *file = path;

		gen_policy(&g);
		vsp_diags_init(&d);
		u = vsp_front_load_buffer(path, g.buf, g.len, &d);
		if (!u || (vsp_check(u, &d), d.errors)) {
			/* Rare: e.g. a constant that folds to a zero divisor. */
			rejected++;
			if (rejected < 4) {
				diag("generated policy rejected:\n%s", g.buf);
				d.sources = u ? u->sources : NULL;
				d.nsources = u ? u->nsources : 0;
				vsp_diags_print(&d, stdout);
			}
			vsp_diags_release(&d);
			vsp_unit_free(u);
			continue;
		}
		if (ftruncate(fd, 0) || pwrite(fd, g.buf, g.len, 0) != (ssize_t)g.len)
			abort();
		for (int k = 0; k < 4; k++) {
			struct vsp_load_opts o = { .mode = VSP_MODE_ENFORCE, .diag = null,
						   .no_fastpath = k & 1, .no_cache = (k & 2) != 0 };

			p[k] = vsp_policy_load(&file, 1, &o, NULL);
			ok_load &= p[k] != NULL;
		}
		policies++;
		if (!ok_load) {
			bad++;
			ok(0, "policy %u loads in all four configurations", round);
			printf("%s", g.buf);
		}
		for (unsigned e = 0; ok_load && e < events; e++) {
			struct tev t;
			struct vsp_decision want, got;

			gen_event(&t);
			reference(u, &t, &want);
			for (int k = 0; k < 4; k++)
				for (int rep = 0; rep < 2; rep++) {
					struct tev t2 = t;

					t2.ev.fetch_ctx = &t2;
					if (t.ev.stack)
						t2.ev.stack = t2.stack;
					vsp_decide(p[k], &t2.ev, &got);
					checked++;
					if (same(&want, &got))
						continue;
					if (++bad <= 3) {
						ok(0, "policy %u event %u (fast path %s, cache %s, pass %d)",
						   round, e, k & 1 ? "off" : "on", k & 2 ? "off" : "on",
						   rep + 1);
						printf("%s# event %s %s uid %lld comm %s\n", g.buf,
						       vsp_event_kind_name(t.ev.kind), t.ev.name,
						       (long long)t.ev.proc.uid, t.ev.proc.comm);
						show("reference", &want);
						show("engine", &got);
					}
					k = 4;
					break;
				}
		}
		for (int k = 0; k < 4; k++)
			vsp_policy_free(p[k]);
		vsp_diags_release(&d);
		vsp_unit_free(u);
	}
	ok(policies > rounds * 9 / 10, "%u of %u generated policies were accepted", policies,
	   rounds);
	ok(bad == 0, "%u decisions compared, all agree with the reference", checked);
	close(fd);
	unlink(path);
	free(g.buf);
	fclose(null);
	return done();
}
