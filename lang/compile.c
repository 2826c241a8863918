/*
 * compile.c: the checked syntax tree becomes bytecode.
 *
 * Input is a unit that vsp_check() accepted (lang/front.h); output is one
 * struct vsp_image (interp/program.h) holding one program per event that
 * some rule names, plus progs[0], the default program that every other
 * event runs.  Each program is the rules naming its event, in source
 * order (language.md §5):
 *
 *     rule k:   [write range test]  [when: jump to next if false]
 *               [must arise from: jump to next if the path matches]
 *               FIRE each effect...  [verdict]
 *     next:     rule k+1 ...
 *               default verdict
 *
 * so every matching rule's effects fire and the first matching rule with a
 * verdict ends the program.  A rule that always decides ends the program
 * where it stands (what follows could never run, and the verifier rejects
 * unreachable code).  In learn mode a rule with `must arise from profile`
 * whose `when` holds emits LEARN instead of its effects and verdict.
 *
 * Field names resolve per event with vsp_field_resolve(), because a named
 * argument is a different register (and sometimes a string) for each
 * syscall.  Constants fold here, including the event's own name, kind and
 * number, which are fixed within one program; macros are inlined at each
 * use.  `and`/`or` short-circuit through jump lists.  Constant lists
 * become hashed sets.  With the fast path on, every glob of the program
 * tested against one field shares one matcher (fastpath/match.h) that runs
 * once per event: each test site is a group of it.  `must arise from`
 * becomes a call-path set; a profile file is read here, once.
 *
 * `write SYM[lo..hi]` ranges count 8-byte elements (tables of pointers,
 * such as sys_call_table): the rule applies to writes whose offset into
 * SYM lies in [lo*8, hi*8+7].
 *
 * Every instruction carries the location of the source text it came from.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath/match.h"
#include "lang/compile.h"
#include "lang/fields.h"
#include "lang/fold.h"

struct plist {
	uint32_t *v;
	size_t n, cap;
};

/* A folded constant. */
struct kval {
	enum vsp_type t;
	int64_t i;
	const char *p;
	uint32_t len;
};

struct setmemo {
	const void *key;	/* the list node */
	uint32_t idx;
	bool strings;
};

struct cc {
	const struct vsp_unit *u;
	const struct vsp_compile_opts *o;
	struct vsp_diags *d;
	struct vsp_image *im;
	enum vsp_mode mode;
	int errors;

	/* pool capacities */
	size_t cap_ints, cap_strs, cap_isets, cap_ssets, cap_globs, cap_match,
	       cap_paths, cap_files;

	/* the program being built */
	vsp_insn *code;
	struct vsp_srcpos *pos;
	uint32_t n, cap;
	bool too_long, too_deep;
	int depth;		/* operand stack depth after the last emit */
	const struct vsp_event_ref *ref;
	const struct vsp_loc *loc;
	uint32_t slots;
	int32_t fmatch[VSP_F_COUNT];	/* field-bound matcher, or -1 */
	uint32_t fgroups[VSP_F_COUNT];	/* groups used in it */
	int inline_depth;

	int32_t *rule_ps;	/* per rule: path set, -1 not yet built */
	uint32_t *rule_eff0;	/* per rule: its first effect */

	struct setmemo *sets;
	size_t nsets, cap_sets;

	char **tmp;		/* strings made while folding */
	size_t ntmp, cap_tmp;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	return q;
}

#define GROW(arr, n, cap)                                                  \
	do {                                                               \
		if ((n) >= (cap)) {                                        \
			(cap) = (cap) ? 2 * (cap) : 8;                     \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));   \
		}                                                          \
	} while (0)

static char *xstrndup(const char *s, size_t n)
{
	char *p = xrealloc(NULL, n + 1);

	if (n)
		memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

__attribute__((format(printf, 3, 4)))
static void cerror(struct cc *c, const struct vsp_loc *loc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vsp_diag_error(c->d, loc, "%s", msg);
	c->errors++;
}

/* ---- pools ------------------------------------------------------------- */

static uint32_t add_int(struct cc *c, int64_t v)
{
	struct vsp_image *im = c->im;

	for (uint32_t i = 0; i < im->nints; i++)
		if (im->ints[i] == v)
			return i;
	GROW(im->ints, im->nints, c->cap_ints);
	im->ints[im->nints] = v;
	return im->nints++;
}

static uint32_t add_str(struct cc *c, const char *p, uint32_t len)
{
	struct vsp_image *im = c->im;

	for (uint32_t i = 0; i < im->nstrs; i++)
		if (im->strs[i].len == len && (!len || !memcmp(im->strs[i].ptr, p, len)))
			return i;
	GROW(im->strs, im->nstrs, c->cap_strs);
	im->strs[im->nstrs] = (struct vsp_str){ xstrndup(p, len), len };
	return im->nstrs++;
}

static uint32_t file_index(struct cc *c, const char *file)
{
	struct vsp_image *im = c->im;

	if (!file)
		file = "<unknown>";
	for (uint32_t i = 0; i < im->nfiles; i++)
		if (!strcmp(im->files[i], file))
			return i;
	GROW(im->files, im->nfiles, c->cap_files);
	im->files[im->nfiles] = xstrdup(file);
	return im->nfiles++;
}

static char *keep_tmp(struct cc *c, char *s)
{
	GROW(c->tmp, c->ntmp, c->cap_tmp);
	c->tmp[c->ntmp++] = s;
	return s;
}

/* ---- emitting ---------------------------------------------------------- */

static uint32_t emit(struct cc *c, unsigned op, uint32_t a, uint32_t b)
{
	if (c->n >= VSP_PROG_MAX - 1) {
		if (!c->too_long)
			cerror(c, c->loc, "the program for this event is too long");
		c->too_long = true;
		return 0;
	}
	if (c->n >= c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->code = xrealloc(c->code, c->cap * sizeof(*c->code));
		c->pos = xrealloc(c->pos, c->cap * sizeof(*c->pos));
	}
	/* Track the stack so a too-deep expression is a located error. */
	if (op == VSP_OPC_XCALL)
		c->depth += 1 - (int)c->im->externs[a].nargs;
	else
		c->depth += vsp_opinfo[op].npushes - vsp_opinfo[op].npops;
	if (c->depth > VSP_VM_STACK && !c->too_deep) {
		cerror(c, c->loc, "expression too deep: it needs more than %d stack slots",
		       VSP_VM_STACK);
		c->too_deep = true;
	}
	c->code[c->n] = VSP_INS(op, a, b);
	c->pos[c->n] = (struct vsp_srcpos){
		file_index(c, c->loc ? c->loc->file : NULL),
		c->loc ? (uint32_t)c->loc->line : 0 };
	return c->n++;
}

static void plist_add(struct plist *l, uint32_t pc)
{
	GROW(l->v, l->n, l->cap);
	l->v[l->n++] = pc;
}

static void patch_here(struct cc *c, struct plist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		vsp_insn in = c->code[l->v[i]];

		c->code[l->v[i]] = VSP_INS(VSP_INS_OP(in), c->n, VSP_INS_B(in));
	}
	l->n = 0;
}

static void plist_free(struct plist *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void jump(struct cc *c, unsigned op, struct plist *l)
{
	plist_add(l, emit(c, op, 0, 0));
}

/* ---- folding ----------------------------------------------------------- */

static bool fold(struct cc *c, const struct vsp_expr *e, struct kval *k);

static const char *dot = ".", *slash = "/";

static void k_basename(struct kval *k)
{
	uint32_t end = k->len, start;

	if (!end) {
		k->p = dot, k->len = 1;
		return;
	}
	while (end && k->p[end - 1] == '/')
		end--;
	if (!end) {
		k->p = slash, k->len = 1;
		return;
	}
	for (start = end; start && k->p[start - 1] != '/'; start--)
		;
	k->p += start;
	k->len = end - start;
}

static void k_dirname(struct kval *k)
{
	uint32_t end = k->len;

	while (end && k->p[end - 1] == '/')
		end--;
	if (!end) {
		k->p = k->len ? slash : dot;
		k->len = 1;
		return;
	}
	while (end && k->p[end - 1] != '/')
		end--;
	if (!end) {
		k->p = dot, k->len = 1;
		return;
	}
	while (end && k->p[end - 1] == '/')
		end--;
	if (!end) {
		k->p = slash, k->len = 1;
		return;
	}
	k->len = end;
}

static int kstrcmp(const struct kval *a, const struct kval *b)
{
	uint32_t n = a->len < b->len ? a->len : b->len;
	int r = n ? memcmp(a->p, b->p, n) : 0;

	return r ? r : (a->len > b->len) - (a->len < b->len);
}

/* The items of a list expression (literal, named list, macro), or false. */
static bool list_items(struct cc *c, const struct vsp_expr *e,
		       struct vsp_expr ***items, size_t *n, const void **key)
{
	if (e->kind == VSP_E_LIST) {
		*items = e->u.list.items;
		*n = e->u.list.n;
		*key = e;
		return true;
	}
	if (e->kind == VSP_E_NAME && e->u.name.decl &&
	    (e->u.name.rkind == VSP_N_LIST || e->u.name.rkind == VSP_N_MACRO) &&
	    e->u.name.decl->value && c->inline_depth < VSP_MAX_MACRO_DEPTH) {
		bool r;

		c->inline_depth++;
		r = list_items(c, e->u.name.decl->value, items, n, key);
		c->inline_depth--;
		if (r && e->u.name.rkind == VSP_N_LIST)
			*key = e->u.name.decl;
		return r;
	}
	return false;
}

static bool all_const(struct cc *c, struct vsp_expr **items, size_t n)
{
	struct kval k;

	for (size_t i = 0; i < n; i++)
		if (!fold(c, items[i], &k))
			return false;
	return true;
}

static bool field_of(struct cc *c, const struct vsp_expr *e, enum vsp_field *f,
		     enum vsp_type *t)
{
	if (e->kind != VSP_E_NAME || e->u.name.rkind != VSP_N_FIELD || !c->ref)
		return false;
	return vsp_field_resolve(c->ref, e->u.name.id, f, t) == 0;
}

static bool fold_field(struct cc *c, const struct vsp_expr *e, struct kval *k)
{
	enum vsp_field f;
	enum vsp_type t;

	if (!field_of(c, e, &f, &t))
		return false;
	switch (f) {
	case VSP_F_EVENT_KIND:
		k->t = VSP_T_STRING;
		k->p = vsp_event_kind_name(c->ref->kind);
		k->len = (uint32_t)strlen(k->p);
		return true;
	case VSP_F_EVENT_NAME:
		if (!c->ref->name)
			return false;
		k->t = VSP_T_STRING;
		k->p = c->ref->name;
		k->len = (uint32_t)strlen(k->p);
		return true;
	case VSP_F_NR:
		if (c->ref->kind != VSP_EV_SYSCALL && c->ref->kind != VSP_EV_HYPERCALL)
			return false;
		k->t = VSP_T_INT;
		k->i = c->ref->nr;
		return true;
	default:
		return false;
	}
}

static bool fold_name(struct cc *c, const struct vsp_expr *e, struct kval *k)
{
	const struct vsp_decl *dl = e->u.name.decl;
	bool r;

	switch (e->u.name.rkind) {
	case VSP_N_SYMBOL:
		k->t = VSP_T_INT;
		k->i = e->u.name.symval;
		return true;
	case VSP_N_CONST:
		if (!dl)
			return false;
		if (dl->value && c->inline_depth < VSP_MAX_MACRO_DEPTH) {
			c->inline_depth++;
			r = fold(c, dl->value, k);
			c->inline_depth--;
			if (r)
				return true;
		}
		k->t = dl->type;
		if (dl->type == VSP_T_INT)
			k->i = dl->ival;
		else if (dl->type == VSP_T_BOOL)
			k->i = dl->bval;
		else if (dl->type == VSP_T_STRING)
			k->p = dl->sval.ptr ? dl->sval.ptr : "", k->len = dl->sval.len;
		else
			return false;
		return true;
	case VSP_N_MACRO:
		if (!dl || !dl->value || c->inline_depth >= VSP_MAX_MACRO_DEPTH)
			return false;
		c->inline_depth++;
		r = fold(c, dl->value, k);
		c->inline_depth--;
		return r;
	case VSP_N_FIELD:
		return fold_field(c, e, k);
	default:
		return false;
	}
}

static bool fold_call(struct cc *c, const struct vsp_expr *e, struct kval *k)
{
	if (e->u.call.n != 1 || !fold(c, e->u.call.args[0], k) || k->t != VSP_T_STRING)
		return false;
	switch (e->u.call.builtin) {
	case VSP_B_LEN:
		k->t = VSP_T_INT;
		k->i = k->len;
		return true;
	case VSP_B_LOWER: {
		uint32_t n = k->len > VSP_VM_SLOT_SIZE ? VSP_VM_SLOT_SIZE : k->len;
		char *s = keep_tmp(c, xstrndup(k->p, n));

		for (uint32_t i = 0; i < n; i++)
			if (s[i] >= 'A' && s[i] <= 'Z')
				s[i] = (char)(s[i] + 32);
		k->p = s;
		k->len = n;
		return true;
	}
	case VSP_B_BASENAME:
		k_basename(k);
		return true;
	case VSP_B_DIRNAME:
		k_dirname(k);
		return true;
	default:
		return false;
	}
}

static bool const_in(struct cc *c, const struct kval *x, struct vsp_expr **items,
		      size_t n)
{
	struct kval k;

	for (size_t i = 0; i < n; i++) {
		fold(c, items[i], &k);
		if (x->t == VSP_T_STRING ? (k.t == VSP_T_STRING && !kstrcmp(x, &k))
					 : (k.t != VSP_T_STRING && k.i == x->i))
			return true;
	}
	return false;
}

static bool fold_binary(struct cc *c, const struct vsp_expr *e, struct kval *k)
{
	enum vsp_op op = e->u.op.op;
	struct kval a, b;
	struct vsp_expr **items;
	size_t n;
	const void *key;

	if (op == VSP_OP_AND || op == VSP_OP_OR) {
		if (!fold(c, e->u.op.a, &a))
			return false;
		if ((op == VSP_OP_AND) != (a.i != 0)) {
			*k = a;		/* false and _, true or _ */
			return true;
		}
		return fold(c, e->u.op.b, k);
	}
	if (op == VSP_OP_IN || op == VSP_OP_NOT_IN || op == VSP_OP_MATCHES) {
		if (!fold(c, e->u.op.a, &a))
			return false;
		if (list_items(c, e->u.op.b, &items, &n, &key)) {
			if (!all_const(c, items, n))
				return false;
		} else if (op == VSP_OP_MATCHES && fold(c, e->u.op.b, &b)) {
			items = NULL;
			n = 0;
			k->t = VSP_T_BOOL;
			k->i = b.t == VSP_T_STRING &&
			       vsp_glob_match(b.p, b.len, a.p, a.len);
			return true;
		} else {
			return false;
		}
		k->t = VSP_T_BOOL;
		if (op == VSP_OP_MATCHES) {
			k->i = 0;
			for (size_t i = 0; i < n && !k->i; i++) {
				fold(c, items[i], &b);
				k->i = vsp_glob_match(b.p, b.len, a.p, a.len);
			}
		} else {
			k->i = const_in(c, &a, items, n) == (op == VSP_OP_IN);
		}
		return true;
	}
	if (!fold(c, e->u.op.a, &a) || !fold(c, e->u.op.b, &b))
		return false;
	k->t = VSP_T_BOOL;
	switch (op) {
	case VSP_OP_EQ: case VSP_OP_NE: case VSP_OP_LT:
	case VSP_OP_LE: case VSP_OP_GT: case VSP_OP_GE: {
		int r = a.t == VSP_T_STRING ? kstrcmp(&a, &b)
					   : (a.i > b.i) - (a.i < b.i);

		k->i = op == VSP_OP_EQ ? r == 0 : op == VSP_OP_NE ? r != 0 :
		       op == VSP_OP_LT ? r < 0 : op == VSP_OP_LE ? r <= 0 :
		       op == VSP_OP_GT ? r > 0 : r >= 0;
		return true;
	}
	case VSP_OP_STARTSWITH:
		k->i = a.len >= b.len && (!b.len || !memcmp(a.p, b.p, b.len));
		return true;
	case VSP_OP_ENDSWITH:
		k->i = a.len >= b.len &&
		       (!b.len || !memcmp(a.p + a.len - b.len, b.p, b.len));
		return true;
	case VSP_OP_CONTAINS:
		k->i = !b.len || memmem(a.p, a.len, b.p, b.len) != NULL;
		return true;
	default:
		break;
	}
	/* x / 0 and out-of-range shifts are left to run time, so the event
	 * is flagged. */
	k->t = VSP_T_INT;
	return vsp_fold_int(op, a.i, b.i, &k->i);
}

static bool fold(struct cc *c, const struct vsp_expr *e, struct kval *k)
{
	memset(k, 0, sizeof(*k));
	switch (e->kind) {
	case VSP_E_INT:
		k->t = VSP_T_INT;
		k->i = e->u.ival;
		return true;
	case VSP_E_BOOL:
		k->t = VSP_T_BOOL;
		k->i = e->u.bval;
		return true;
	case VSP_E_STRING:
		k->t = VSP_T_STRING;
		k->p = e->u.str.ptr ? e->u.str.ptr : "";
		k->len = e->u.str.len;
		return true;
	case VSP_E_NAME:
		return fold_name(c, e, k);
	case VSP_E_CALL:
		return fold_call(c, e, k);
	case VSP_E_UNARY:
		if (!fold(c, e->u.op.a, k))
			return false;
		if (e->u.op.op == VSP_OP_NOT) {
			k->i = !k->i;
			return true;
		}
		return vsp_fold_int(e->u.op.op, k->i, 0, &k->i);
	case VSP_E_BINARY:
		return fold_binary(c, e, k);
	default:
		return false;
	}
}

/* ---- expressions ------------------------------------------------------- */

static void value(struct cc *c, const struct vsp_expr *e);
static void jump_if(struct cc *c, const struct vsp_expr *e, bool sense,
		    struct plist *l);

static void push_const(struct cc *c, const struct kval *k)
{
	switch (k->t) {
	case VSP_T_BOOL:
		emit(c, VSP_OPC_PUSHB, 0, k->i != 0);
		break;
	case VSP_T_STRING:
		emit(c, VSP_OPC_PUSHS, add_str(c, k->p, k->len), 0);
		break;
	default:
		if (k->i >= INT32_MIN && k->i <= INT32_MAX)
			emit(c, VSP_OPC_PUSHI, 0, (uint32_t)(int32_t)k->i);
		else
			emit(c, VSP_OPC_PUSHK, add_int(c, k->i), 0);
		break;
	}
}

static void load_field(struct cc *c, const struct vsp_expr *e)
{
	enum vsp_field f;
	enum vsp_type t;

	if (!field_of(c, e, &f, &t)) {
		cerror(c, &e->loc, "'%s' is not a field of %s %s", e->u.name.id,
		       c->ref ? vsp_event_kind_name(c->ref->kind) : "the default",
		       c->ref && c->ref->name ? c->ref->name : "verdict");
		return;
	}
	switch (vsp_field_type(f)) {
	case VSP_T_INT:
		emit(c, VSP_OPC_LDI, f, 0);
		break;
	case VSP_T_BOOL:
		emit(c, VSP_OPC_LDB, f, 0);
		break;
	case VSP_T_LIST_STRING:
		emit(c, VSP_OPC_LDL, f, 0);
		break;
	default:
		emit(c, VSP_OPC_LDS, f, 0);
		break;
	}
}

/* A hashed set for a constant list, shared by every use of a named list. */
static void set_test(struct cc *c, const void *key, struct vsp_expr **items,
		     size_t n, bool strings)
{
	struct vsp_image *im = c->im;
	struct kval k;
	uint32_t idx;

	for (size_t i = 0; i < c->nsets; i++)
		if (c->sets[i].key == key && c->sets[i].strings == strings) {
			emit(c, strings ? VSP_OPC_INS : VSP_OPC_INI, c->sets[i].idx, 0);
			return;
		}
	if (strings) {
		struct vsp_sset *s = vsp_fp_sset_new();

		for (size_t i = 0; s && i < n; i++) {
			fold(c, items[i], &k);
			if (vsp_fp_sset_add(s, k.p, k.len)) {
				vsp_fp_sset_free(s);
				s = NULL;
			}
		}
		if (!s) {
			cerror(c, c->loc, "cannot build a set for this list");
			return;
		}
		GROW(im->ssets, im->nssets, c->cap_ssets);
		idx = im->nssets;
		im->ssets[im->nssets++] = s;
	} else {
		int64_t *v = xrealloc(NULL, (n ? n : 1) * sizeof(*v));
		struct vsp_iset *s;

		for (size_t i = 0; i < n; i++) {
			fold(c, items[i], &k);
			v[i] = k.i;
		}
		s = vsp_fp_iset_new(v, n);
		free(v);
		if (!s) {
			cerror(c, c->loc, "cannot build a set for this list");
			return;
		}
		GROW(im->isets, im->nisets, c->cap_isets);
		idx = im->nisets;
		im->isets[im->nisets++] = s;
	}
	GROW(c->sets, c->nsets, c->cap_sets);
	c->sets[c->nsets++] = (struct setmemo){ key, idx, strings };
	emit(c, strings ? VSP_OPC_INS : VSP_OPC_INI, idx, 0);
}

static bool is_string(const struct vsp_expr *e)
{
	return e->type == VSP_T_STRING;
}

/* `x in L` (sense true) / `x not in L`: one value on the stack. */
static void in_value(struct cc *c, const struct vsp_expr *e)
{
	const struct vsp_expr *x = e->u.op.a, *l = e->u.op.b;
	struct vsp_expr **items;
	size_t n;
	const void *key;
	enum vsp_field f;
	enum vsp_type t;

	if (list_items(c, l, &items, &n, &key) && all_const(c, items, n)) {
		struct kval k;

		if (n == 0) {
			k = (struct kval){ .t = VSP_T_BOOL, .i = e->u.op.op == VSP_OP_NOT_IN };
			push_const(c, &k);
			return;
		}
		value(c, x);
		set_test(c, key, items, n, is_string(x));
	} else if (field_of(c, l, &f, &t) && t == VSP_T_LIST_STRING) {
		value(c, x);
		emit(c, VSP_OPC_LDL, f, 0);
		emit(c, VSP_OPC_INL, 0, 0);
	} else {
		/* A list with computed items: compare one by one. */
		struct plist fl = { 0 }, end = { 0 };

		jump_if(c, e, false, &fl);
		emit(c, VSP_OPC_PUSHB, 0, 1);
		if (fl.n) {
			jump(c, VSP_OPC_JMP, &end);
			c->depth--;
			patch_here(c, &fl);
			emit(c, VSP_OPC_PUSHB, 0, 0);
			patch_here(c, &end);
		}
		plist_free(&fl);
		plist_free(&end);
		return;
	}
	if (e->u.op.op == VSP_OP_NOT_IN)
		emit(c, VSP_OPC_NOT, 0, 0);
}

static void add_glob(struct cc *c, struct vsp_matcher *m, const struct kval *g,
		     uint32_t group)
{
	if (vsp_fp_matcher_add(m, g->p, g->len, group))
		cerror(c, c->loc, "bad glob \"%.*s\"", (int)g->len, g->p);
}

/* The matcher of field f in this program with a free group, or -1. */
static int32_t field_site(struct cc *c, enum vsp_field f)
{
	struct vsp_image *im = c->im;
	int32_t m = c->fmatch[f];

	if (m >= 0 && c->fgroups[f] < 64)
		return m;
	GROW(im->matchers, im->nmatchers, c->cap_match);
	im->mfield = xrealloc(im->mfield, c->cap_match * sizeof(*im->mfield));
	im->matchers[im->nmatchers] = vsp_fp_matcher_new();
	if (!im->matchers[im->nmatchers]) {
		cerror(c, c->loc, "out of memory for a matcher");
		return -1;
	}
	im->mfield[im->nmatchers] = f;
	m = c->fmatch[f] = (int32_t)im->nmatchers++;
	c->fgroups[f] = 0;
	return m;
}

/*
 * With the fast path, `FIELD == "s"`, `!=`, `startswith`, `endswith` and
 * `contains` against a constant join the field's matcher as an escaped
 * glob ("s", "s**", "**s", "**s**"), so many such tests on one field cost
 * one pass over it.  Returns false when the expression is not of that
 * shape and nothing was emitted.
 */
static bool string_site(struct cc *c, const struct vsp_expr *e)
{
	enum vsp_op op = e->u.op.op;
	enum vsp_field f;
	enum vsp_type t;
	struct kval k;
	char *g;
	size_t n = 0;
	int32_t m;

	if (c->o->no_fastpath ||
	    (op != VSP_OP_EQ && op != VSP_OP_NE && op != VSP_OP_STARTSWITH &&
	     op != VSP_OP_ENDSWITH && op != VSP_OP_CONTAINS) ||
	    !field_of(c, e->u.op.a, &f, &t) || t != VSP_T_STRING ||
	    !fold(c, e->u.op.b, &k) || k.t != VSP_T_STRING)
		return false;
	m = field_site(c, f);
	if (m < 0)
		return true;
	g = keep_tmp(c, xrealloc(NULL, 2 * (size_t)k.len + 5));
	if (op == VSP_OP_ENDSWITH || op == VSP_OP_CONTAINS)
		g[n++] = '*', g[n++] = '*';
	for (uint32_t i = 0; i < k.len; i++) {
		if (strchr("*?[]\\", k.p[i]) && k.p[i])
			g[n++] = '\\';
		g[n++] = k.p[i];
	}
	if (op == VSP_OP_STARTSWITH || op == VSP_OP_CONTAINS)
		g[n++] = '*', g[n++] = '*';
	k.p = g;
	k.len = (uint32_t)n;
	add_glob(c, c->im->matchers[m], &k, c->fgroups[f]);
	emit(c, VSP_OPC_MATCHF, (uint32_t)m, c->fgroups[f]++);
	if (op == VSP_OP_NE)
		emit(c, VSP_OPC_NOT, 0, 0);
	return true;
}

static void matches_value(struct cc *c, const struct vsp_expr *e)
{
	const struct vsp_expr *x = e->u.op.a, *gl = e->u.op.b;
	struct vsp_expr **items, *one[1];
	size_t n;
	const void *key;
	struct kval k;
	enum vsp_field f;
	enum vsp_type t;
	struct vsp_image *im = c->im;

	if (!list_items(c, gl, &items, &n, &key)) {
		one[0] = (struct vsp_expr *)gl;
		items = one;
		n = 1;
	}
	if (!all_const(c, items, n)) {
		cerror(c, &gl->loc, "a glob must be a constant string");
		return;
	}
	if (n == 0) {
		k = (struct kval){ .t = VSP_T_BOOL, .i = 0 };
		push_const(c, &k);
		return;
	}
	if (c->o->no_fastpath) {
		value(c, x);
		if (n == 1) {
			fold(c, items[0], &k);
			emit(c, VSP_OPC_GLOB, add_str(c, k.p, k.len), 0);
			return;
		}
		GROW(im->globlists, im->nglobs, c->cap_globs);
		im->globlists[im->nglobs].globs = xrealloc(NULL, n * sizeof(struct vsp_str));
		im->globlists[im->nglobs].n = (uint32_t)n;
		for (size_t i = 0; i < n; i++) {
			uint32_t si;

			fold(c, items[i], &k);
			si = add_str(c, k.p, k.len);	/* may move im->strs */
			im->globlists[im->nglobs].globs[i] = im->strs[si];
		}
		emit(c, VSP_OPC_GLOBS, im->nglobs++, 0);
		return;
	}
	if (field_of(c, x, &f, &t) && t == VSP_T_STRING) {
		int32_t m = field_site(c, f);

		if (m < 0)
			return;
		for (size_t i = 0; i < n; i++) {
			fold(c, items[i], &k);
			add_glob(c, im->matchers[m], &k, c->fgroups[f]);
		}
		emit(c, VSP_OPC_MATCHF, (uint32_t)m, c->fgroups[f]++);
		return;
	}
	value(c, x);
	GROW(im->matchers, im->nmatchers, c->cap_match);
	im->mfield = xrealloc(im->mfield, c->cap_match * sizeof(*im->mfield));
	im->matchers[im->nmatchers] = vsp_fp_matcher_new();
	if (!im->matchers[im->nmatchers]) {
		cerror(c, c->loc, "out of memory for a matcher");
		return;
	}
	im->mfield[im->nmatchers] = VSP_F_COUNT;
	for (size_t i = 0; i < n; i++) {
		fold(c, items[i], &k);
		add_glob(c, im->matchers[im->nmatchers], &k, 0);
	}
	emit(c, VSP_OPC_MATCH, im->nmatchers++, 0);
}

static int cmpkind(enum vsp_op op)
{
	switch (op) {
	case VSP_OP_EQ: return VSP_CMP_EQ;
	case VSP_OP_NE: return VSP_CMP_NE;
	case VSP_OP_LT: return VSP_CMP_LT;
	case VSP_OP_LE: return VSP_CMP_LE;
	case VSP_OP_GT: return VSP_CMP_GT;
	case VSP_OP_GE: return VSP_CMP_GE;
	default: return -1;
	}
}

/* A boolean expression as a value, through its jump form. */
static void bool_value(struct cc *c, const struct vsp_expr *e)
{
	struct plist fl = { 0 }, end = { 0 };

	jump_if(c, e, false, &fl);
	emit(c, VSP_OPC_PUSHB, 0, 1);
	if (fl.n) {
		jump(c, VSP_OPC_JMP, &end);
		c->depth--;	/* the false arm starts without the true */
		patch_here(c, &fl);
		emit(c, VSP_OPC_PUSHB, 0, 0);
		patch_here(c, &end);
	}
	plist_free(&fl);
	plist_free(&end);
}

/* NAME(args): the arguments left to right, then XCALL. */
static void extern_call(struct cc *c, const struct vsp_expr *e)
{
	const struct vsp_extern_decl *x = e->u.call.ext;
	uint32_t slot = 0;

	for (size_t i = 0; i < e->u.call.n; i++)
		value(c, e->u.call.args[i]);
	c->loc = &e->loc;
	if (x->ret == VSP_T_STRING) {
		if (c->slots >= VSP_VM_SLOTS_MAX) {
			cerror(c, &e->loc, "too many string results of lower() and extern calls for one event (at most %d)",
			       VSP_VM_SLOTS_MAX);
			return;
		}
		slot = c->slots++;
	}
	emit(c, VSP_OPC_XCALL, x->index, slot);
}

static void value(struct cc *c, const struct vsp_expr *e)
{
	const struct vsp_loc *saved = c->loc;
	struct kval k;

	c->loc = &e->loc;
	if (fold(c, e, &k)) {
		push_const(c, &k);
		goto out;
	}
	switch (e->kind) {
	case VSP_E_NAME:
		if (e->u.name.rkind == VSP_N_MACRO && e->u.name.decl &&
		    c->inline_depth < VSP_MAX_MACRO_DEPTH) {
			c->inline_depth++;
			value(c, e->u.name.decl->value);
			c->inline_depth--;
		} else if (e->u.name.rkind == VSP_N_FIELD) {
			load_field(c, e);
		} else {
			cerror(c, &e->loc, "'%s' cannot be used as a value here",
			       e->u.name.id);
		}
		break;
	case VSP_E_CALL:
		if (e->u.call.builtin == VSP_B_EXTERN) {
			extern_call(c, e);
			break;
		}
		if (e->u.call.n != 1) {
			cerror(c, &e->loc, "%s() takes one argument", e->u.call.fn);
			break;
		}
		value(c, e->u.call.args[0]);
		c->loc = &e->loc;
		switch (e->u.call.builtin) {
		case VSP_B_LEN:
			emit(c, VSP_OPC_LEN, 0, 0);
			break;
		case VSP_B_BASENAME:
			emit(c, VSP_OPC_BASENAME, 0, 0);
			break;
		case VSP_B_DIRNAME:
			emit(c, VSP_OPC_DIRNAME, 0, 0);
			break;
		case VSP_B_LOWER:
			if (c->slots >= VSP_VM_SLOTS_MAX) {
				cerror(c, &e->loc, "too many lower() calls for one event (at most %d)",
				       VSP_VM_SLOTS_MAX);
				break;
			}
			emit(c, VSP_OPC_LOWER, c->slots++, 0);
			break;
		default:
			cerror(c, &e->loc, "unknown function '%s'", e->u.call.fn);
		}
		break;
	case VSP_E_UNARY:
		if (e->u.op.op == VSP_OP_NOT) {
			bool_value(c, e);
			break;
		}
		value(c, e->u.op.a);
		c->loc = &e->loc;
		emit(c, vsp_op_opcode(e->u.op.op), 0, 0);
		break;
	case VSP_E_BINARY: {
		enum vsp_op op = e->u.op.op;
		int ck = cmpkind(op);

		if (op == VSP_OP_AND || op == VSP_OP_OR) {
			bool_value(c, e);
		} else if (op == VSP_OP_IN || op == VSP_OP_NOT_IN) {
			in_value(c, e);
		} else if (op == VSP_OP_MATCHES) {
			matches_value(c, e);
		} else if (string_site(c, e)) {
			/* emitted as a matcher group */
		} else if (ck >= 0) {
			value(c, e->u.op.a);
			value(c, e->u.op.b);
			c->loc = &e->loc;
			emit(c, is_string(e->u.op.a) ? VSP_OPC_SCMP : VSP_OPC_CMP, 0,
			     (uint32_t)ck);
		} else if (vsp_op_opcode(op) != VSP_OPC_COUNT) {
			value(c, e->u.op.a);
			value(c, e->u.op.b);
			c->loc = &e->loc;
			emit(c, vsp_op_opcode(op), 0, 0);
		} else {
			cerror(c, &e->loc, "operator not supported here");
		}
		break;
	}
	case VSP_E_LIST:
		cerror(c, &e->loc, "a list cannot be used as a value here");
		break;
	default:
		cerror(c, &e->loc, "expression not supported here");
	}
out:
	c->loc = saved;
}

/*
 * Emits code that jumps to a label of `l` when e evaluates to `sense` and
 * falls through otherwise; the heart of short-circuit evaluation.
 */
static void jump_if(struct cc *c, const struct vsp_expr *e, bool sense,
		    struct plist *l)
{
	const struct vsp_loc *saved = c->loc;
	struct vsp_expr **items;
	size_t n;
	const void *key;
	struct kval k;

	c->loc = &e->loc;
	if (fold(c, e, &k)) {
		/* A conditional jump on a constant keeps both edges alive. */
		if ((k.i != 0) == sense) {
			emit(c, VSP_OPC_PUSHB, 0, k.i != 0);
			jump(c, sense ? VSP_OPC_JNZ : VSP_OPC_JZ, l);
		}
		goto out;
	}
	if (e->kind == VSP_E_UNARY && e->u.op.op == VSP_OP_NOT) {
		jump_if(c, e->u.op.a, !sense, l);
		goto out;
	}
	if (e->kind == VSP_E_NAME && e->u.name.rkind == VSP_N_MACRO &&
	    e->u.name.decl && c->inline_depth < VSP_MAX_MACRO_DEPTH) {
		c->inline_depth++;
		jump_if(c, e->u.name.decl->value, sense, l);
		c->inline_depth--;
		goto out;
	}
	if (e->kind == VSP_E_BINARY &&
	    (e->u.op.op == VSP_OP_AND || e->u.op.op == VSP_OP_OR)) {
		/* and: jump on false as soon as one is false; or: dually. */
		bool shortcut = e->u.op.op == VSP_OP_OR;

		if (sense == shortcut) {
			jump_if(c, e->u.op.a, sense, l);
			jump_if(c, e->u.op.b, sense, l);
		} else {
			struct plist skip = { 0 };

			jump_if(c, e->u.op.a, !sense, &skip);
			jump_if(c, e->u.op.b, sense, l);
			patch_here(c, &skip);
			plist_free(&skip);
		}
		goto out;
	}
	if (e->kind == VSP_E_BINARY &&
	    (e->u.op.op == VSP_OP_IN || e->u.op.op == VSP_OP_NOT_IN) &&
	    list_items(c, e->u.op.b, &items, &n, &key) && !all_const(c, items, n)) {
		/* x in [a, b]: x == a or x == b, evaluated left to right. */
		bool s = e->u.op.op == VSP_OP_IN ? sense : !sense;
		unsigned cmp = is_string(e->u.op.a) ? VSP_OPC_SCMP : VSP_OPC_CMP;
		struct plist skip = { 0 };

		for (size_t i = 0; i < n; i++) {
			value(c, e->u.op.a);
			value(c, items[i]);
			c->loc = &e->loc;
			emit(c, cmp, 0, VSP_CMP_EQ);
			if (s)
				jump(c, VSP_OPC_JNZ, l);
			else if (i + 1 < n)
				jump(c, VSP_OPC_JNZ, &skip);
			else
				jump(c, VSP_OPC_JZ, l);
		}
		patch_here(c, &skip);
		plist_free(&skip);
		goto out;
	}
	value(c, e);
	c->loc = &e->loc;
	jump(c, sense ? VSP_OPC_JNZ : VSP_OPC_JZ, l);
out:
	c->loc = saved;
}

/* ---- rules ------------------------------------------------------------- */

struct prof_load {
	struct cc *c;
	const struct vsp_pathspec *ps;
	const char *path;
	struct vsp_pathset *set;
};

static void prof_error(struct prof_load *pl, int lineno, const char *msg)
{
	struct vsp_loc at = { .file = pl->path, .line = lineno, .col = 1,
			      .end_line = lineno, .end_col = 1 };

	cerror(pl->c, &at, "%s: %s", lineno ? "bad profile line" : "bad profile",
	       msg);
	vsp_diag_note(pl->c->d, &pl->ps->loc, "in profile '%s', used here",
		      pl->ps->profile ? pl->ps->profile : "?");
}

static int prof_line(void *arg, int lineno, const char *text)
{
	struct prof_load *pl = arg;
	const char *err = NULL;
	char msg[160];

	if (vsp_fp_pathset_add(pl->set, text, &err)) {
		snprintf(msg, sizeof msg, "not a call-path pattern: %s",
			 err ? err : "bad pattern");
		prof_error(pl, lineno, msg);
	}
	return 0;
}

static void prof_bad(void *arg, int lineno, const char *msg)
{
	prof_error(arg, lineno, msg);
}

/* A bad line is an error, never a line skipped: a pattern cut short or
 * left out changes which call paths are allowed. */
static void load_profile(struct cc *c, const struct vsp_pathspec *ps,
			 struct vsp_pathset *set)
{
	const char *path = ps->profile_path ? ps->profile_path : ps->profile;
	struct prof_load pl = { c, ps, path, set };
	struct vsp_fp_profile_cb cb = { prof_line, prof_bad, &pl, false };

	if (!path)
		return;
	if (vsp_fp_profile_read(path, &cb) >= 0)
		return;
	if (errno == ENOENT) {
		if (c->mode != VSP_MODE_LEARN)
			vsp_diag_warning(c->d, &ps->loc,
					 "profile '%s' does not exist: no call path is expected",
					 ps->profile ? ps->profile : "?");
		return;
	}
	cerror(c, &ps->loc, "profile '%s' cannot be read: %s",
	       ps->profile ? ps->profile : "?", strerror(errno));
}

static int32_t rule_pathset(struct cc *c, uint32_t ri)
{
	const struct vsp_pathspec *ps = &c->u->rules[ri]->arise;
	struct vsp_image *im = c->im;
	struct vsp_pathset *set;

	if (c->rule_ps[ri] >= 0)
		return c->rule_ps[ri];
	set = vsp_fp_pathset_new();
	if (!set) {
		cerror(c, &ps->loc, "out of memory for a path set");
		return -1;
	}
	if (ps->is_profile) {
		load_profile(c, ps, set);
	} else {
		for (size_t i = 0; i < ps->npatterns; i++) {
			const char *err = NULL;

			if (vsp_fp_pathset_add(set, ps->patterns[i].text, &err))
				cerror(c, &ps->patterns[i].loc, "bad call-path pattern: %s",
				       err ? err : "?");
		}
	}
	if (vsp_fp_pathset_build(set)) {
		cerror(c, &ps->loc, "cannot build the call-path set");
		vsp_fp_pathset_free(set);
		return -1;
	}
	GROW(im->pathsets, im->npathsets, c->cap_paths);
	im->pathsets[im->npathsets] = set;
	c->rule_ps[ri] = (int32_t)im->npathsets++;
	return c->rule_ps[ri];
}

static const struct vsp_action *rule_verdict(const struct vsp_rule *r)
{
	for (size_t i = 0; i < r->nactions; i++)
		if (r->actions[i].kind == VSP_A_VERDICT)
			return &r->actions[i];
	return NULL;
}

static void emit_verdict(struct cc *c, const struct vsp_action *a, uint32_t rule)
{
	const struct vsp_loc *saved = c->loc;

	c->loc = &a->loc;
	switch (a->verdict) {
	case VSP_V_DENY:
		emit(c, VSP_OPC_DENY, rule,
		     (uint32_t)(int32_t)(a->has_errno || a->errno_val ? a->errno_val : EPERM));
		break;
	case VSP_V_RETURN:
		if (a->value && a->value->type == VSP_T_BOOL) {
			/* Only `eval` returns a bool: 1 or 0. */
			struct plist no = { 0 };

			jump_if(c, a->value, false, &no);
			c->loc = &a->loc;
			emit(c, VSP_OPC_PUSHI, 0, 1);
			emit(c, VSP_OPC_RETV, rule, 0);
			patch_here(c, &no);
			plist_free(&no);
			c->loc = &a->loc;
			emit(c, VSP_OPC_PUSHI, 0, 0);
			emit(c, VSP_OPC_RETV, rule, 0);
			break;
		}
		if (a->value)
			value(c, a->value);
		else
			emit(c, VSP_OPC_PUSHI, 0, 0);
		c->loc = &a->loc;
		emit(c, a->value && a->value->type == VSP_T_STRING ?
		     VSP_OPC_RETS : VSP_OPC_RETV, rule, 0);
		break;
	case VSP_V_REDIRECT:
		emit(c, VSP_OPC_REDIR, rule, add_str(c, a->str ? a->str : "", a->str_len));
		break;
	case VSP_V_KILL:
		emit(c, VSP_OPC_KILL, rule, 0);
		break;
	case VSP_V_PAUSE:
		emit(c, VSP_OPC_PAUSE, rule, 0);
		break;
	default:
		emit(c, VSP_OPC_ALLOW, rule, 0);
		break;
	}
	c->loc = saved;
}

/* Compiles rule ri for event ref; returns true when it always decides. */
static bool compile_rule(struct cc *c, uint32_t ri, const struct vsp_event_ref *ref)
{
	const struct vsp_rule *r = c->u->rules[ri];
	const struct vsp_action *v = rule_verdict(r);
	struct plist next = { 0 };
	struct kval k;
	bool always;

	c->ref = ref;
	c->loc = &r->loc;
	c->depth = 0;
	if (ref->kind == VSP_EV_WRITE && ref->lo >= 0) {
		c->loc = &ref->loc;
		emit(c, VSP_OPC_LDI, VSP_F_OFFSET, 0);
		push_const(c, &(struct kval){ .t = VSP_T_INT, .i = ref->lo * 8 });
		emit(c, VSP_OPC_CMP, 0, VSP_CMP_GE);
		jump(c, VSP_OPC_JZ, &next);
		emit(c, VSP_OPC_LDI, VSP_F_OFFSET, 0);
		push_const(c, &(struct kval){ .t = VSP_T_INT, .i = ref->hi * 8 + 7 });
		emit(c, VSP_OPC_CMP, 0, VSP_CMP_LE);
		jump(c, VSP_OPC_JZ, &next);
	}
	if (r->when) {
		if (fold(c, r->when, &k) && !k.i) {
			/* Never holds: the rule emits nothing. */
			patch_here(c, &next);
			plist_free(&next);
			return false;
		}
		jump_if(c, r->when, false, &next);
	}
	if (c->mode == VSP_MODE_LEARN && r->arise.present && r->arise.is_profile) {
		/* learning adds to the file: it must be sound to begin with */
		struct vsp_pathset *check = vsp_fp_pathset_new();

		if (check) {
			load_profile(c, &r->arise, check);
			vsp_fp_pathset_free(check);
		}
		c->loc = &r->arise.loc;
		emit(c, VSP_OPC_LEARN, ri, 0);
		patch_here(c, &next);
		plist_free(&next);
		return false;
	}
	if (r->arise.present) {
		int32_t ps = rule_pathset(c, ri);

		c->loc = &r->arise.loc;
		if (ps >= 0) {
			emit(c, VSP_OPC_ARISE, (uint32_t)ps, 0);
			jump(c, VSP_OPC_JNZ, &next);
		}
	}
	for (size_t i = 0, e = 0; i < r->nactions; i++) {
		if (r->actions[i].kind != VSP_A_EFFECT)
			continue;
		c->loc = &r->actions[i].loc;
		emit(c, VSP_OPC_FIRE, ri, c->rule_eff0[ri] + (uint32_t)e++);
	}
	if (v)
		emit_verdict(c, v, ri);
	always = v && next.n == 0;
	patch_here(c, &next);
	plist_free(&next);
	return always;
}

static bool ref_same(const struct vsp_event_ref *a, const struct vsp_event_ref *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case VSP_EV_SYSCALL:
	case VSP_EV_HYPERCALL:
		return a->nr == b->nr;
	case VSP_EV_USER:
		if (!a->lib != !b->lib || (a->lib && strcmp(a->lib, b->lib)))
			return false;
		/* fall through */
	default:
		return a->name && b->name && !strcmp(a->name, b->name);
	}
}

static void finish_prog(struct cc *c, struct vsp_prog *pr)
{
	pr->code = c->code;
	pr->pos = c->pos;
	pr->ncode = c->n;
	c->code = NULL;
	c->pos = NULL;
	c->n = c->cap = 0;
	c->depth = 0;
	c->too_deep = false;
	if (c->slots > c->im->nslots)
		c->im->nslots = c->slots;
	c->slots = 0;
	for (int f = 0; f < VSP_F_COUNT; f++)
		c->fmatch[f] = -1;
}

static void compile_default_tail(struct cc *c)
{
	static const struct vsp_loc none = { NULL, 0, 0, 0, 0 };
	const struct vsp_action *def = c->u->def;

	c->ref = NULL;
	c->depth = 0;
	c->loc = def ? &def->loc : &none;
	if (def)
		emit_verdict(c, def, VSP_RULE_DEFAULT);
	else
		emit(c, VSP_OPC_ALLOW, VSP_RULE_DEFAULT, 0);
}

static void compile_event(struct cc *c, struct vsp_prog *pr,
			  const struct vsp_event_ref *key)
{
	bool decided = false;

	for (size_t ri = 0; ri < c->u->nrules && !decided; ri++) {
		const struct vsp_rule *r = c->u->rules[ri];

		for (size_t j = 0; j < r->nevents; j++) {
			if (!ref_same(&r->events[j], key))
				continue;
			decided = compile_rule(c, (uint32_t)ri, &r->events[j]);
			break;
		}
	}
	if (!decided)
		compile_default_tail(c);
	finish_prog(c, pr);
}

/* ---- extern functions ---------------------------------------------------- */

static char type_char(enum vsp_type t)
{
	return t == VSP_T_INT ? 'i' : t == VSP_T_BOOL ? 'b' : 's';
}

/*
 * The image's extern table, every library confined to the allowed
 * directories and every symbol bound; errors at the declaration.
 */
static void extern_table(struct cc *c)
{
	static const struct vsp_ext_opts none = { 0 };
	const struct vsp_ext_opts *xo = c->o->ext ? c->o->ext : &none;
	const struct vsp_unit *u = c->u;
	struct vsp_image *im = c->im;
	char err[VSP_EXT_ERR], (*errs)[VSP_EXT_ERR];
	int bad = 0, n;

	_Static_assert(VSP_EXTERN_MAX_ARGS == VSP_EXT_MAX_ARGS,
		       "one bound on extern arguments");
	if (!u->nexterns)
		return;
	im->externs = xrealloc(NULL, u->nexterns * sizeof(*im->externs));
	memset(im->externs, 0, u->nexterns * sizeof(*im->externs));
	im->nexterns = (uint32_t)u->nexterns;
	for (size_t i = 0; i < u->nexterns; i++) {
		const struct vsp_extern_decl *d = u->externs[i];
		struct vsp_extern *x = &im->externs[i];
		char *dir = xstrdup(d->item_loc.file ? d->item_loc.file : "");
		char *slash = strrchr(dir, '/');

		x->name = xstrdup(d->name);
		x->lib = xstrdup(d->lib);
		for (size_t k = 0; k < d->nargs; k++)
			x->args[k] = type_char(d->args[k]);
		x->nargs = (uint8_t)d->nargs;
		x->ret[0] = type_char(d->ret);
		x->cost = (uint32_t)d->cost;
		x->pure = d->pure;
		if (slash)
			*slash = 0;
		else
			strcpy(dir, ".");
		if (vsp_ext_resolve(xo, d->lib, dir, &x->path, err, sizeof(err))) {
			cerror(c, &d->lib_loc, "%s", err);
			bad++;
		}
		free(dir);
	}
	if (bad)
		return;
	errs = xrealloc(NULL, u->nexterns * sizeof(*errs));
	n = vsp_ext_bind(im, xo, errs);
	if (n < 0)
		cerror(c, &u->externs[0]->item_loc, "%s", errs[0]);
	for (size_t i = 0; n > 0 && i < u->nexterns; i++)
		if (errs[i][0])
			cerror(c, &u->externs[i]->loc, "%s", errs[i]);
	free(errs);
}

/* ---- rules, effects, counters, events ----------------------------------- */

static void rule_tables(struct cc *c)
{
	const struct vsp_unit *u = c->u;
	struct vsp_image *im = c->im;
	uint32_t neff = 0;

	im->nrules = (uint32_t)u->nrules;
	im->rules = xrealloc(NULL, (u->nrules ? u->nrules : 1) * sizeof(*im->rules));
	memset(im->rules, 0, (u->nrules ? u->nrules : 1) * sizeof(*im->rules));
	c->rule_ps = xrealloc(NULL, (u->nrules ? u->nrules : 1) * sizeof(*c->rule_ps));
	c->rule_eff0 = xrealloc(NULL, (u->nrules ? u->nrules : 1) * sizeof(*c->rule_eff0));
	for (size_t i = 0; i < u->nrules; i++) {
		const struct vsp_rule *r = u->rules[i];
		struct vsp_rule_info *ri = &im->rules[i];
		char buf[512];

		c->rule_ps[i] = -1;
		c->rule_eff0[i] = neff;
		if (r->name) {
			ri->name = xstrdup(r->name);
			ri->named = true;
		} else {
			snprintf(buf, sizeof(buf), "%s:%d",
				 r->loc.file ? r->loc.file : "?", r->loc.line);
			ri->name = xstrdup(buf);
		}
		ri->file = im->files[file_index(c, r->loc.file)];
		ri->line = r->loc.line;
		ri->priority = r->priority;
		if (r->ntags) {
			char **tags = xrealloc(NULL, r->ntags * sizeof(*tags));

			for (size_t t = 0; t < r->ntags; t++)
				tags[t] = xstrdup(r->tags[t]);
			ri->tags = (const char *const *)tags;
			ri->ntags = (uint32_t)r->ntags;
		}
		if (r->arise.present && r->arise.is_profile)
			ri->profile = xstrdup(r->arise.profile_path ? r->arise.profile_path
								    : r->arise.profile);
		for (size_t a = 0; a < r->nactions; a++)
			neff += r->actions[a].kind == VSP_A_EFFECT;
	}
	im->neffects = neff;
	im->effects = xrealloc(NULL, (neff ? neff : 1) * sizeof(*im->effects));
	im->effect_counter = xrealloc(NULL, (neff ? neff : 1) * sizeof(*im->effect_counter));
	for (size_t i = 0, e = 0; i < u->nrules; i++) {
		const struct vsp_rule *r = u->rules[i];

		for (size_t a = 0; a < r->nactions; a++) {
			const struct vsp_action *ac = &r->actions[a];
			struct vsp_effect_info *ei;

			if (ac->kind != VSP_A_EFFECT)
				continue;
			ei = &im->effects[e];
			ei->kind = ac->is_count ? VSP_EFF_COUNT_ : ac->effect;
			ei->rule = (uint32_t)i;
			ei->text = ac->str ? xstrndup(ac->str, strnlen(ac->str, ac->str_len))
					   : NULL;
			im->effect_counter[e] = -1;
			if (ei->kind == VSP_EFF_COUNT_) {
				const char *name = ei->text ? ei->text : im->rules[i].name;
				uint32_t k;

				for (k = 0; k < im->ncounters; k++)
					if (!strcmp(im->counters[k], name))
						break;
				if (k == im->ncounters) {
					im->counters = xrealloc(im->counters,
								(k + 1) * sizeof(*im->counters));
					im->counters[k] = xstrdup(name);
					im->ncounters++;
				}
				im->effect_counter[e] = (int32_t)k;
			}
			e++;
		}
	}
}

/* The distinct events the rules name, first appearance first. */
static void event_keys(struct cc *c, const struct vsp_event_ref ***keys, size_t *nkeys)
{
	const struct vsp_unit *u = c->u;
	const struct vsp_event_ref **v = NULL;
	size_t n = 0, cap = 0;

	for (size_t ri = 0; ri < u->nrules; ri++) {
		const struct vsp_rule *r = u->rules[ri];

		for (size_t j = 0; j < r->nevents; j++) {
			size_t k;

			for (k = 0; k < n; k++)
				if (ref_same(v[k], &r->events[j]))
					break;
			if (k == n) {
				GROW(v, n, cap);
				v[n++] = &r->events[j];
			}
		}
	}
	*keys = v;
	*nkeys = n;
}

static void fill_key(struct cc *c, struct vsp_event_key *k,
		     const struct vsp_event_ref *ref)
{
	const struct vsp_unit *u = c->u;

	k->kind = ref->kind;
	k->nr = ref->nr;
	k->name = xstrdup(ref->name);
	k->lib = xstrdup(ref->lib);
	k->lo = ref->lo;
	k->hi = ref->hi;
	k->file = c->im->files[file_index(c, ref->loc.file)];
	k->line = ref->loc.line;
	k->col = ref->loc.col;
	/* The first reference, which event_keys took as the key. */
	for (size_t ri = u->nrules; ri-- > 0;)
		for (size_t j = 0; j < u->rules[ri]->nevents; j++)
			if (&u->rules[ri]->events[j] == ref)
				k->rule = (uint32_t)ri;
	if (ref->kind != VSP_EV_WRITE) {
		k->lo = k->hi = -1;
		return;
	}
	/* The trap covers every range any rule names on this symbol. */
	for (size_t ri = 0; ri < u->nrules; ri++)
		for (size_t j = 0; j < u->rules[ri]->nevents; j++) {
			const struct vsp_event_ref *o = &u->rules[ri]->events[j];

			if (!ref_same(o, ref))
				continue;
			if (o->lo < 0 || k->lo < 0) {
				k->lo = k->hi = -1;
			} else {
				if (o->lo < k->lo)
					k->lo = o->lo;
				if (o->hi > k->hi)
					k->hi = o->hi;
			}
		}
}

enum vsp_mode vsp_compile_mode(const struct vsp_unit *u,
			       const struct vsp_compile_opts *o)
{
	if (o && o->mode != VSP_MODE_UNSET)
		return o->mode;
	if (u->mode != VSP_MODE_UNSET)
		return u->mode;
	return VSP_MODE_ENFORCE;
}

struct vsp_image *vsp_compile(const struct vsp_unit *u,
			      const struct vsp_compile_opts *o,
			      struct vsp_diags *d)
{
	static const struct vsp_compile_opts defaults = { VSP_MODE_UNSET, false, NULL };
	static const struct vsp_loc nowhere = { "<policy>", 0, 0, 0, 0 };
	struct cc c = { 0 };
	const struct vsp_event_ref **keys = NULL;
	size_t nkeys = 0;
	struct vsp_image *im;

	c.u = u;
	c.o = o ? o : &defaults;
	c.d = d;
	c.mode = vsp_compile_mode(u, c.o);
	c.im = im = xrealloc(NULL, sizeof(*im));
	memset(im, 0, sizeof(*im));
	im->mode = c.mode;
	for (int f = 0; f < VSP_F_COUNT; f++)
		c.fmatch[f] = -1;
	for (size_t i = 0; i < u->nsources; i++)
		file_index(&c, u->sources[i]->path);

	rule_tables(&c);
	extern_table(&c);
	event_keys(&c, &keys, &nkeys);
	im->nprogs = (uint32_t)nkeys + 1;
	im->progs = xrealloc(NULL, im->nprogs * sizeof(*im->progs));
	memset(im->progs, 0, im->nprogs * sizeof(*im->progs));

	im->progs[0].is_default = true;
	im->progs[0].key.lo = im->progs[0].key.hi = -1;
	compile_default_tail(&c);
	finish_prog(&c, &im->progs[0]);
	for (size_t i = 0; i < nkeys; i++) {
		fill_key(&c, &im->progs[i + 1].key, keys[i]);
		compile_event(&c, &im->progs[i + 1], keys[i]);
	}
	for (uint32_t i = 0; i < im->nmatchers; i++)
		if (vsp_fp_matcher_build(im->matchers[i]))
			cerror(&c, &nowhere, "cannot build a string matcher");

	free(keys);
	free(c.code);
	free(c.pos);
	free(c.rule_ps);
	free(c.rule_eff0);
	free(c.sets);
	for (size_t i = 0; i < c.ntmp; i++)
		free(c.tmp[i]);
	free(c.tmp);
	if (c.errors) {
		vsp_image_free(im);
		return NULL;
	}
	return im;
}
