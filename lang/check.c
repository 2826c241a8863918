/*
 * check.c: names, types and meaning of a parsed policy (reference §4).
 *
 * The stage between the front end (lang/front.c, which hands over one unit
 * with imports inlined) and the compiler (lang/compile.c, which trusts what
 * is settled here).  It resolves every name (declarations, fields per event
 * through lang/fields.c, symbolic constants and events through the catalog
 * in base/catalog.h), gives every expression its type, folds consts and
 * list items, splits call-path patterns into frames, and checks actions.
 * Errors are queued and checking goes on; an expression whose type is
 * VSP_T_ERROR has been reported already, so nothing above it complains
 * again.  Last come the warnings: unused declarations and rules that an
 * earlier rule always pre-empts.
 */
#include <stdlib.h>
#include <string.h>
#include "fastpath/match.h"
#include "base/catalog.h"
#include "lang/fields.h"
#include "lang/fold.h"
#include "lang/front.h"

/* Deeper recursion (through macros) is refused: a hostile policy must not
 * exhaust the stack. */
#define CHK_MAX_DEPTH 4000
/* A condition may not grow past this many nodes once its macros are
 * inlined (m1 = m0 and m0; m2 = m1 and m1; ... doubles at each step). */
#define CHK_MAX_NODES 100000
/* What one policy may hold.  Each bound is far above any real policy and
 * keeps the compiled form's tables, the decision cache's rule masks and
 * the time `vsp check` takes in proportion to what an administrator can
 * read: rules per policy (imports included), items per list, and bytes
 * per string literal (the longest glob the matcher takes). */
#define CHK_MAX_RULES 65536
#define CHK_MAX_LIST 1048576
#define CHK_MAX_STRING 16383

/* A declaration in the name table. */
struct chk_decl {
	struct vsp_decl *decl;
	unsigned checked_ctx;	/* macros: the context it was last typed in */
	enum vsp_type ctx_type;
	bool defined;		/* consts and lists: value checked */
	bool cycle_reported;	/* macros: a cycle through it was reported */
	uint8_t size_state;	/* macros: 0 unknown, 1 being sized, 2 known */
	uint64_t size;		/* macros: nodes once every macro is inlined */
};

/* A folded constant; strings are borrowed from the tree. */
struct chk_val {
	enum vsp_type type;
	int64_t i;
	bool b;
	const char *s;
	uint32_t len;
};

struct chk {
	struct vsp_unit *u;
	struct vsp_diags *d;
	int errors0;

	struct chk_decl *tab;	/* open addressing, size a power of two */
	size_t tabsize;

	/* the context names are resolved in */
	unsigned ctx;		/* the current context: macros are retyped */
	unsigned last_ctx;	/* contexts handed out so far */
	const struct vsp_event_ref *evs;	/* the rule's events */
	size_t nev;
	const char *nofields;	/* "a const", ...: fields are an error */

	struct vsp_decl *stack[CHK_MAX_DEPTH];	/* macros and consts open */
	size_t nstack;
	unsigned nmacros;	/* how many of them are macros */
	bool nest_reported;	/* a chain too deep: reported once per unit */
	unsigned depth;
	bool too_deep;
};

static enum vsp_type chk_expr(struct chk *c, struct vsp_expr *e);
static bool chk_fold(struct chk *c, const struct vsp_expr *e,
		     struct chk_val *v, unsigned depth);

static const char *chk_type_name(enum vsp_type t)
{
	switch (t) {
	case VSP_T_INT: return "int";
	case VSP_T_BOOL: return "bool";
	case VSP_T_STRING: return "string";
	case VSP_T_LIST_INT: return "list<int>";
	case VSP_T_LIST_STRING: return "list<string>";
	case VSP_T_LIST_EMPTY: return "empty list";
	default: return "error";
	}
}

static bool chk_is_list(enum vsp_type t)
{
	return t == VSP_T_LIST_INT || t == VSP_T_LIST_STRING ||
	       t == VSP_T_LIST_EMPTY;
}

static const char *chk_decl_kind(enum vsp_decl_kind k)
{
	return k == VSP_D_CONST ? "const" : k == VSP_D_LIST ? "list" : "macro";
}

static const char *chk_op_name(enum vsp_op op)
{
	static const char *const names[] = {
		[VSP_OP_OR] = "or", [VSP_OP_AND] = "and", [VSP_OP_NOT] = "not",
		[VSP_OP_EQ] = "==", [VSP_OP_NE] = "!=", [VSP_OP_LT] = "<",
		[VSP_OP_LE] = "<=", [VSP_OP_GT] = ">", [VSP_OP_GE] = ">=",
		[VSP_OP_IN] = "in", [VSP_OP_NOT_IN] = "not in",
		[VSP_OP_MATCHES] = "matches",
		[VSP_OP_STARTSWITH] = "startswith",
		[VSP_OP_ENDSWITH] = "endswith", [VSP_OP_CONTAINS] = "contains",
		[VSP_OP_BOR] = "|", [VSP_OP_BXOR] = "^", [VSP_OP_BAND] = "&",
		[VSP_OP_SHL] = "<<", [VSP_OP_SHR] = ">>", [VSP_OP_ADD] = "+",
		[VSP_OP_SUB] = "-", [VSP_OP_MUL] = "*", [VSP_OP_DIV] = "/",
		[VSP_OP_MOD] = "%", [VSP_OP_NEG] = "-", [VSP_OP_BNOT] = "~",
	};
	return names[op];
}

static bool chk_is_hook(enum vsp_event_kind k)
{
	return k == VSP_EV_FILE || k == VSP_EV_NET || k == VSP_EV_TASK;
}

/*
 * The hook event that sees resolved what a syscall's `path` names, for
 * the lint of section 7.2; NULL when none does.  `what` finishes the
 * warning: "'on file open' decides on the file the kernel opens".
 */
static const char *chk_path_hook(const char *sys, const char **what)
{
	static const struct {
		const char *sys, *hook, *what;
	} t[] = {
		{ "open", "open", "the file the kernel opens" },
		{ "openat", "open", "the file the kernel opens" },
		{ "openat2", "open", "the file the kernel opens" },
		{ "creat", "open", "the file the kernel opens" },
		{ "uselib", "open", "the file the kernel opens" },
		{ "execve", "exec", "the program the kernel runs" },
		{ "execveat", "exec", "the program the kernel runs" },
		{ "unlink", "unlink", "the file the kernel removes" },
		{ "unlinkat", "unlink", "the file the kernel removes" },
		{ "rename", "rename", "the file the kernel renames" },
		{ "renameat", "rename", "the file the kernel renames" },
		{ "renameat2", "rename", "the file the kernel renames" },
		{ "link", "link", "the file the kernel links" },
		{ "linkat", "link", "the file the kernel links" },
		{ "symlink", "symlink", "the link the kernel makes" },
		{ "symlinkat", "symlink", "the link the kernel makes" },
		{ "truncate", "truncate", "the file the kernel truncates" },
		{ "chmod", "chmod", "the file the kernel changes" },
		{ "fchmodat", "chmod", "the file the kernel changes" },
		{ "chown", "chown", "the file the kernel changes" },
		{ "lchown", "chown", "the file the kernel changes" },
		{ "fchownat", "chown", "the file the kernel changes" },
		{ "mount", "mount", "the mount the kernel makes" },
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(t[i].sys, sys) == 0) {
			*what = t[i].what;
			return t[i].hook;
		}
	return NULL;
}

/* "syscall openat", "user \"libc.so.6\":system", for messages. */
static const char *chk_event_desc(const struct vsp_event_ref *ev, char *buf,
				  size_t size)
{
	if (ev->kind == VSP_EV_USER)
		snprintf(buf, size, "%s \"%s\":%s", vsp_event_kind_name(ev->kind),
			 ev->lib ? ev->lib : "", ev->name);
	else
		snprintf(buf, size, "%s %s", vsp_event_kind_name(ev->kind),
			 ev->name);
	return buf;
}

/* ---- the name table ---- */

static size_t chk_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static struct chk_decl *chk_lookup(struct chk *c, const char *name)
{
	size_t i;

	if (!c->tabsize)
		return NULL;
	for (i = chk_hash(name) & (c->tabsize - 1); c->tab[i].decl;
	     i = (i + 1) & (c->tabsize - 1))
		if (strcmp(c->tab[i].decl->name, name) == 0)
			return &c->tab[i];
	return NULL;
}

static const char *const chk_builtins[] = {
	"basename", "dirname", "lower", "len"
};

/* Enters every declaration; the first of a name wins. */
static void chk_declare(struct chk *c)
{
	struct vsp_unit *u = c->u;
	size_t i, j;

	c->tabsize = 16;
	while (c->tabsize < u->ndecls * 2 + 2)
		c->tabsize *= 2;
	c->tab = calloc(c->tabsize, sizeof *c->tab);
	if (!c->tab) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	for (i = 0; i < u->ndecls; i++) {
		struct vsp_decl *dl = u->decls[i];
		struct chk_decl *old = chk_lookup(c, dl->name);

		dl->type = VSP_T_ERROR;
		if (old) {
			vsp_diag_error(c->d, &dl->loc,
				       "'%s' is already defined", dl->name);
			vsp_diag_note(c->d, &old->decl->loc,
				      "the first definition (a %s) is here",
				      chk_decl_kind(old->decl->kind));
			dl->used = true;	/* no unused warning on top */
			continue;
		}
		for (j = 0; j < sizeof chk_builtins / sizeof *chk_builtins; j++)
			if (strcmp(dl->name, chk_builtins[j]) == 0)
				break;
		if (vsp_field_known(dl->name))
			vsp_diag_error(c->d, &dl->loc,
				       "cannot define '%s': it is the name of a field",
				       dl->name);
		else if (vsp_const_by_name(dl->name))
			vsp_diag_error(c->d, &dl->loc,
				       "cannot define '%s': it is a symbolic constant",
				       dl->name);
		else if (j < sizeof chk_builtins / sizeof *chk_builtins)
			vsp_diag_error(c->d, &dl->loc,
				       "cannot define '%s': it is a builtin function",
				       dl->name);
		for (j = chk_hash(dl->name) & (c->tabsize - 1); c->tab[j].decl;
		     j = (j + 1) & (c->tabsize - 1))
			;
		c->tab[j].decl = dl;
	}
}

/* The nearest name to `name` among decls, the fields of the context and
 * the symbolic constants. */
static const char *chk_suggest_name(struct chk *c, const char *name)
{
	const char *cands[256], *best;
	size_t n = 0, i;

	if (c->nev)
		n = vsp_field_names(&c->evs[0], cands, 200);
	for (i = 0; i < c->tabsize && n < 255; i++)
		if (c->tab[i].decl)
			cands[n++] = c->tab[i].decl->name;
	best = vsp_suggest(name, cands, n);
	if (!best && strchr(name, '.') == NULL)
		best = vsp_suggest_const(name);
	return best;
}

/* ---- constants ---- */

static void chk_check_const(struct chk *c, struct chk_decl *cd);
static void chk_check_list(struct chk *c, struct chk_decl *cd);

static bool chk_fold_name(struct chk *c, const struct vsp_expr *e,
			  struct chk_val *v, unsigned depth)
{
	struct vsp_decl *dl = e->u.name.decl;

	switch (e->u.name.rkind) {
	case VSP_N_SYMBOL:
		v->type = VSP_T_INT;
		v->i = e->u.name.symval;
		return true;
	case VSP_N_CONST:
		if (!dl || dl->type == VSP_T_ERROR)
			return false;
		v->type = dl->type;
		v->i = dl->ival;
		v->b = dl->bval;
		v->s = dl->sval.ptr;
		v->len = dl->sval.len;
		return true;
	case VSP_N_MACRO:
		return dl && chk_fold(c, dl->value, v, depth + 1);
	default:
		return false;
	}
}

static bool chk_mem_has(const char *h, uint32_t hl, const char *n, uint32_t nl)
{
	uint32_t i;

	if (nl > hl)
		return false;
	for (i = 0; i + nl <= hl; i++)
		if (memcmp(h + i, n, nl) == 0)
			return true;
	return false;
}

static bool chk_fold_binary(struct chk *c, const struct vsp_expr *e,
			    struct chk_val *v, unsigned depth)
{
	struct chk_val a, b;
	enum vsp_op op = e->u.op.op;

	if (!chk_fold(c, e->u.op.a, &a, depth + 1) ||
	    !chk_fold(c, e->u.op.b, &b, depth + 1))
		return false;
	if (a.type != b.type)
		return false;
	v->type = VSP_T_BOOL;
	switch (op) {
	case VSP_OP_OR: v->b = a.b || b.b; return a.type == VSP_T_BOOL;
	case VSP_OP_AND: v->b = a.b && b.b; return a.type == VSP_T_BOOL;
	case VSP_OP_EQ:
	case VSP_OP_NE:
		if (a.type == VSP_T_INT)
			v->b = a.i == b.i;
		else if (a.type == VSP_T_BOOL)
			v->b = a.b == b.b;
		else if (a.type == VSP_T_STRING)
			v->b = a.len == b.len && !memcmp(a.s, b.s, a.len);
		else
			return false;
		if (op == VSP_OP_NE)
			v->b = !v->b;
		return true;
	case VSP_OP_LT: v->b = a.i < b.i; return a.type == VSP_T_INT;
	case VSP_OP_LE: v->b = a.i <= b.i; return a.type == VSP_T_INT;
	case VSP_OP_GT: v->b = a.i > b.i; return a.type == VSP_T_INT;
	case VSP_OP_GE: v->b = a.i >= b.i; return a.type == VSP_T_INT;
	case VSP_OP_STARTSWITH:
		v->b = b.len <= a.len && !memcmp(a.s, b.s, b.len);
		return a.type == VSP_T_STRING;
	case VSP_OP_ENDSWITH:
		v->b = b.len <= a.len &&
		       !memcmp(a.s + a.len - b.len, b.s, b.len);
		return a.type == VSP_T_STRING;
	case VSP_OP_CONTAINS:
		v->b = chk_mem_has(a.s, a.len, b.s, b.len);
		return a.type == VSP_T_STRING;
	default:
		v->type = VSP_T_INT;
		return a.type == VSP_T_INT && vsp_fold_int(op, a.i, b.i, &v->i);
	}
}

/* The value of a checked expression when it is a constant. */
static bool chk_fold(struct chk *c, const struct vsp_expr *e,
		     struct chk_val *v, unsigned depth)
{
	memset(v, 0, sizeof *v);
	if (!e || e->type == VSP_T_ERROR || depth > CHK_MAX_DEPTH)
		return false;
	switch (e->kind) {
	case VSP_E_INT:
		v->type = VSP_T_INT;
		v->i = e->u.ival;
		return true;
	case VSP_E_BOOL:
		v->type = VSP_T_BOOL;
		v->b = e->u.bval;
		return true;
	case VSP_E_STRING:
		v->type = VSP_T_STRING;
		v->s = e->u.str.ptr;
		v->len = e->u.str.len;
		return true;
	case VSP_E_NAME:
		return chk_fold_name(c, e, v, depth);
	case VSP_E_UNARY:
		if (!chk_fold(c, e->u.op.a, v, depth + 1))
			return false;
		if (e->u.op.op == VSP_OP_NOT && v->type == VSP_T_BOOL) {
			v->b = !v->b;
			return true;
		}
		return v->type == VSP_T_INT &&
		       vsp_fold_int(e->u.op.op, v->i, 0, &v->i);
	case VSP_E_BINARY:
		return chk_fold_binary(c, e, v, depth);
	case VSP_E_CALL:
		if (e->u.call.builtin == VSP_B_LEN && e->u.call.n == 1 &&
		    chk_fold(c, e->u.call.args[0], v, depth + 1) &&
		    v->type == VSP_T_STRING) {
			v->type = VSP_T_INT;
			v->i = v->len;
			return true;
		}
		return false;
	default:
		return false;
	}
}

/* ---- names ---- */

/* Checks a field name against every event of the rule. */
static enum vsp_type chk_field(struct chk *c, struct vsp_expr *e,
			       const char *name, bool in_message)
{
	enum vsp_type type = VSP_T_ERROR, t;
	enum vsp_field f;
	char buf[160], buf2[160];
	const struct vsp_event_ref *first = NULL;
	size_t i;

	if (c->nofields) {
		if (!vsp_field_known(name))
			return VSP_T_ERROR;
		vsp_diag_error(c->d, &e->loc, "%s cannot read the field '%s'",
			       c->nofields, name);
		return VSP_T_ERROR;
	}
	if (!c->nev) {
		/* a macro no rule uses: the field must exist somewhere */
		if (!vsp_field_guess(name, &type))
			return VSP_T_ERROR;
		return type;
	}
	for (i = 0; i < c->nev; i++)
		if (c->evs[i].catalog != -2)
			break;
	if (i == c->nev) {
		/* every event is unknown (reported): the fields every event
		 * has still type, so the rest of the condition is checked */
		if (!vsp_field_common(name, &type))
			return VSP_T_ERROR;
		return type;
	}
	for (i = 0; i < c->nev; i++) {
		const struct vsp_event_ref *ev = &c->evs[i];

		if (ev->catalog == -2)
			continue;	/* not an event: reported */
		if (vsp_field_resolve(ev, name, &f, &t) < 0) {
			const char *names[256], *s;
			size_t n = vsp_field_names(ev, names, 256);

			s = vsp_suggest(name, names, n);
			chk_event_desc(ev, buf, sizeof buf);
			if (s)
				vsp_diag_error(c->d, &e->loc,
					       "%sfield '%s' does not exist for %s; did you mean '%s'?",
					       in_message ? "message " : "",
					       name, buf, s);
			else
				vsp_diag_error(c->d, &e->loc,
					       "%sfield '%s' does not exist for %s",
					       in_message ? "message " : "",
					       name, buf);
			return VSP_T_ERROR;
		}
		if (first && t != type) {
			vsp_diag_error(c->d, &e->loc,
				       "field '%s' is %s %s for %s but %s %s for %s",
				       name, type == VSP_T_INT ? "an" : "a",
				       chk_type_name(type),
				       chk_event_desc(first, buf, sizeof buf),
				       t == VSP_T_INT ? "an" : "a",
				       chk_type_name(t),
				       chk_event_desc(ev, buf2, sizeof buf2));
			return VSP_T_ERROR;
		}
		if (!first) {
			first = ev;
			type = t;
		}
	}
	if (!in_message && strcmp(name, "path") == 0) {
		for (i = 0; i < c->nev; i++) {
			const struct vsp_event_ref *ev = &c->evs[i];
			const char *what, *hook;

			if (ev->catalog == -2 || ev->kind != VSP_EV_SYSCALL)
				continue;
			hook = chk_path_hook(ev->name, &what);
			if (!hook)
				continue;
			vsp_diag_warning(c->d, &e->loc,
					 "'path' is the string the guest passed; 'on file %s' decides on %s",
					 hook, what);
			break;
		}
	}
	return type;
}

static void chk_decl_value(struct chk *c, struct chk_decl *cd)
{
	if (cd->decl->kind == VSP_D_CONST)
		chk_check_const(c, cd);
	else if (cd->decl->kind == VSP_D_LIST)
		chk_check_list(c, cd);
}

/* Whether one more macro or const fits inside those open (macros: as many
 * as the compiler inlines); reports the chain once per rule when not. */
static bool chk_push_fits(struct chk *c, const struct vsp_expr *e,
			  const struct vsp_decl *dl)
{
	bool macro = dl->kind == VSP_D_MACRO;

	if (c->nstack < CHK_MAX_DEPTH &&
	    (!macro || c->nmacros < VSP_MAX_MACRO_DEPTH))
		return true;
	if (!c->nest_reported)
		vsp_diag_error(c->d, &e->loc,
			       "%s nested more than %d deep ('%s' uses '%s' "
			       "... uses '%s')",
			       macro ? "macros" : "consts and macros",
			       macro ? VSP_MAX_MACRO_DEPTH : CHK_MAX_DEPTH,
			       c->stack[0]->name, c->stack[1]->name, dl->name);
	c->nest_reported = true;
	return false;
}

static enum vsp_type chk_macro(struct chk *c, struct vsp_expr *e,
			       struct chk_decl *cd)
{
	struct vsp_decl *dl = cd->decl;
	int before = c->d->errors;
	enum vsp_type t;
	size_t i;

	for (i = 0; i < c->nstack; i++)
		if (c->stack[i] == dl)
			break;
	if (i < c->nstack) {
		char chain[512];
		bool seen = false;
		size_t j;

		/* one report per cycle, whichever macro it is entered by */
		for (j = i; j < c->nstack; j++) {
			struct chk_decl *o = chk_lookup(c, c->stack[j]->name);

			if (o && o->cycle_reported)
				seen = true;
			if (o)
				o->cycle_reported = true;
		}
		if (seen)
			return VSP_T_ERROR;
		size_t len = 0;

		for (j = i; j < c->nstack && len < sizeof chain; j++)
			len += (size_t)snprintf(chain + len, sizeof chain - len,
						"%s -> ", c->stack[j]->name);
		if (len < sizeof chain)
			snprintf(chain + len, sizeof chain - len, "%s",
				 dl->name);
		vsp_diag_error(c->d, &e->loc, "macro cycle: %s", chain);
		return VSP_T_ERROR;
	}
	if (cd->checked_ctx == c->ctx)
		return cd->ctx_type;	/* typed already for these events */
	if (!chk_push_fits(c, e, dl))
		return VSP_T_ERROR;
	c->stack[c->nstack++] = dl;
	c->nmacros++;
	t = chk_expr(c, dl->value);
	c->nmacros--;
	c->nstack--;
	cd->checked_ctx = c->ctx;
	cd->ctx_type = t;
	dl->type = t;
	/* point at the rule's use of the outermost macro only */
	if (c->d->errors > before && c->nev && !c->nstack)
		vsp_diag_note(c->d, &e->loc, "in macro '%s', used here",
			      dl->name);
	return t;
}

static enum vsp_type chk_name(struct chk *c, struct vsp_expr *e)
{
	const char *name = e->u.name.id;
	struct chk_decl *cd = chk_lookup(c, name);
	const struct vsp_const *k;
	enum vsp_type t;
	const char *s;

	if (cd) {
		cd->decl->used = true;
		e->u.name.decl = cd->decl;
		switch (cd->decl->kind) {
		case VSP_D_CONST:
			e->u.name.rkind = VSP_N_CONST;
			chk_decl_value(c, cd);
			return cd->decl->type;
		case VSP_D_LIST:
			e->u.name.rkind = VSP_N_LIST;
			chk_decl_value(c, cd);
			return cd->decl->type;
		case VSP_D_MACRO:
			e->u.name.rkind = VSP_N_MACRO;
			return chk_macro(c, e, cd);
		}
	}
	k = strchr(name, '.') ? NULL : vsp_const_by_name(name);
	if (k) {
		e->u.name.rkind = VSP_N_SYMBOL;
		e->u.name.symval = k->value;
		return VSP_T_INT;
	}
	if (vsp_field_known(name)) {
		t = chk_field(c, e, name, false);
		if (t != VSP_T_ERROR)
			e->u.name.rkind = VSP_N_FIELD;
		return t;	/* or reported */
	}
	s = chk_suggest_name(c, name);
	if (s)
		vsp_diag_error(c->d, &e->loc,
			       "unknown %s '%s'; did you mean '%s'?",
			       strchr(name, '.') ? "field" : "name", name, s);
	else
		vsp_diag_error(c->d, &e->loc, "unknown %s '%s'",
			       strchr(name, '.') ? "field" : "name", name);
	return VSP_T_ERROR;
}

/* ---- extern functions ---- */

static struct vsp_extern_decl *chk_extern_find(struct chk *c, const char *name)
{
	for (size_t i = 0; i < c->u->nexterns; i++)
		if (strcmp(c->u->externs[i]->name, name) == 0)
			return c->u->externs[i];
	return NULL;
}

/* Extern names: unique, and never a builtin's. */
static void chk_externs(struct chk *c)
{
	for (size_t i = 0; i < c->u->nexterns; i++) {
		struct vsp_extern_decl *x = c->u->externs[i];
		struct vsp_extern_decl *first = chk_extern_find(c, x->name);

		if (first != x) {
			vsp_diag_error(c->d, &x->loc,
				       "extern '%s' is already declared", x->name);
			vsp_diag_note(c->d, &first->loc,
				      "the first declaration is here");
			x->used = true;
			continue;
		}
		for (size_t j = 0; j < sizeof chk_builtins / sizeof *chk_builtins; j++)
			if (strcmp(x->name, chk_builtins[j]) == 0) {
				vsp_diag_error(c->d, &x->loc,
					       "cannot declare '%s': it is a builtin function",
					       x->name);
				x->bad = true;
			}
	}
}

/* NAME(args) of a declared extern; the arguments are typed already. */
static enum vsp_type chk_extern_call(struct chk *c, struct vsp_expr *e,
				     struct vsp_extern_decl *x, bool arg_failed)
{
	e->u.call.builtin = VSP_B_EXTERN;
	e->u.call.ext = x;
	x->used = true;
	if (e->u.call.n != x->nargs) {
		vsp_diag_error(c->d, &e->loc,
			       "'%s' takes %zu argument%s, not %zu", x->name,
			       x->nargs, x->nargs == 1 ? "" : "s", e->u.call.n);
		return VSP_T_ERROR;
	}
	if (arg_failed || x->bad)
		return VSP_T_ERROR;
	for (size_t i = 0; i < x->nargs; i++) {
		enum vsp_type t = e->u.call.args[i]->type;

		if (t != x->args[i]) {
			vsp_diag_error(c->d, &e->u.call.args[i]->loc,
				       "argument %zu of '%s' must be %s, not %s", i + 1,
				       x->name, chk_type_name(x->args[i]),
				       chk_type_name(t));
			return VSP_T_ERROR;
		}
	}
	return x->ret;
}

/* ---- expressions ---- */

static enum vsp_type chk_call(struct chk *c, struct vsp_expr *e)
{
	static const enum vsp_builtin ids[] = {
		VSP_B_BASENAME, VSP_B_DIRNAME, VSP_B_LOWER, VSP_B_LEN };
	const char *fn = e->u.call.fn, *s;
	enum vsp_type t = VSP_T_ERROR;
	size_t i, which = 4;

	for (i = 0; i < e->u.call.n; i++)
		if (chk_expr(c, e->u.call.args[i]) == VSP_T_ERROR)
			t = VSP_T_INT;	/* mark: an argument failed */
	for (i = 0; i < 4; i++)
		if (strcmp(fn, chk_builtins[i]) == 0)
			which = i;
	if (which == 4 && chk_extern_find(c, fn))
		return chk_extern_call(c, e, chk_extern_find(c, fn), t != VSP_T_ERROR);
	if (which == 4) {
		const char *cands[4 + 64];
		size_t nc = 4;

		memcpy(cands, chk_builtins, sizeof chk_builtins);
		for (i = 0; i < c->u->nexterns && nc < 4 + 64; i++)
			cands[nc++] = c->u->externs[i]->name;
		s = vsp_suggest(fn, cands, nc);
		if (s)
			vsp_diag_error(c->d, &e->loc,
				       "unknown function '%s'; did you mean '%s'?",
				       fn, s);
		else
			vsp_diag_error(c->d, &e->loc,
				       "unknown function '%s' (the functions are basename, dirname, lower and len)",
				       fn);
		return VSP_T_ERROR;
	}
	e->u.call.builtin = ids[which];
	if (e->u.call.n != 1) {
		vsp_diag_error(c->d, &e->loc,
			       "'%s' takes 1 argument, not %zu", fn,
			       e->u.call.n);
		return VSP_T_ERROR;
	}
	if (t != VSP_T_ERROR)
		return VSP_T_ERROR;	/* the argument was reported */
	if (e->u.call.args[0]->type != VSP_T_STRING) {
		vsp_diag_error(c->d, &e->u.call.args[0]->loc,
			       "'%s' takes a string, not %s", fn,
			       chk_type_name(e->u.call.args[0]->type));
		return VSP_T_ERROR;
	}
	return ids[which] == VSP_B_LEN ? VSP_T_INT : VSP_T_STRING;
}

/* Frees what an expression node holds, keeping the node itself. */
static void chk_expr_clear(struct vsp_expr *e)
{
	size_t i;

	switch (e->kind) {
	case VSP_E_NAME:
		free(e->u.name.id);
		break;
	case VSP_E_UNARY:
	case VSP_E_BINARY:
		vsp_expr_free(e->u.op.a);
		vsp_expr_free(e->u.op.b);
		break;
	case VSP_E_CALL:
		for (i = 0; i < e->u.call.n; i++)
			vsp_expr_free(e->u.call.args[i]);
		free(e->u.call.args);
		free(e->u.call.fn);
		break;
	default:
		break;
	}
}

/* Replaces a constant list item by its literal value, so the compiler
 * sees only literals in lists. */
static void chk_fold_item(struct vsp_expr *it, const struct chk_val *v)
{
	char *p;

	if (it->kind == VSP_E_INT || it->kind == VSP_E_STRING)
		return;
	if (v->type == VSP_T_STRING) {
		p = malloc(v->len + 1);
		if (!p) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		memcpy(p, v->s, v->len);
		p[v->len] = '\0';
		chk_expr_clear(it);
		it->kind = VSP_E_STRING;
		it->u.str.ptr = p;
		it->u.str.len = v->len;
	} else {
		chk_expr_clear(it);
		it->kind = VSP_E_INT;
		it->u.ival = v->i;
	}
}

static enum vsp_type chk_list(struct chk *c, struct vsp_expr *e)
{
	enum vsp_type elem = VSP_T_ERROR;
	bool bad = false;
	size_t i;

	if (e->u.list.n > CHK_MAX_LIST) {
		vsp_diag_error(c->d, &e->loc,
			       "list of %zu items: the limit is %d",
			       e->u.list.n, CHK_MAX_LIST);
		return VSP_T_ERROR;
	}
	for (i = 0; i < e->u.list.n; i++) {
		struct vsp_expr *it = e->u.list.items[i];
		enum vsp_type t = chk_expr(c, it);
		struct chk_val v;

		if (t == VSP_T_ERROR) {
			bad = true;
			continue;
		}
		if (t != VSP_T_INT && t != VSP_T_STRING) {
			vsp_diag_error(c->d, &it->loc,
				       "a list holds ints or strings, not %s",
				       chk_type_name(t));
			bad = true;
			continue;
		}
		if (elem != VSP_T_ERROR && t != elem) {
			vsp_diag_error(c->d, &it->loc,
				       "a list of %ss cannot hold %s %s",
				       chk_type_name(elem),
				       t == VSP_T_INT ? "an" : "a",
				       chk_type_name(t));
			bad = true;
			continue;
		}
		elem = t;
		if (!chk_fold(c, it, &v, 0)) {
			vsp_diag_error(c->d, &it->loc,
				       "a list item must be a constant");
			bad = true;
			continue;
		}
		chk_fold_item(it, &v);
		it->type = t;
	}
	if (bad)
		return VSP_T_ERROR;
	if (elem == VSP_T_ERROR)
		return VSP_T_LIST_EMPTY;
	return elem == VSP_T_INT ? VSP_T_LIST_INT : VSP_T_LIST_STRING;
}

/* Checks one glob; `str` is the literal it came from, for the column. */
static void chk_glob(struct chk *c, const char *p, uint32_t len,
		     const struct vsp_expr *str)
{
	const char *err = NULL;
	size_t at = 0;
	struct vsp_loc loc = str->loc;

	if (vsp_glob_check(p, len, &err, &at) == 0)
		return;
	/* point at the byte when the literal has no escapes */
	if (str->kind == VSP_E_STRING && loc.line == loc.end_line &&
	    loc.end_col - loc.col + 1 == (int)len + 2 && at < len) {
		loc.col += 1 + (int)at;
		loc.end_col = loc.col;
	}
	vsp_diag_error(c->d, &loc, "bad glob \"%.*s\": %s", (int)len, p,
		       err ? err : "invalid");
}

/* The pattern of `matches`: a constant string or list of strings. */
static bool chk_patterns(struct chk *c, const struct vsp_expr *e,
			 unsigned depth)
{
	struct vsp_decl *dl;
	size_t i;

	if (depth > CHK_MAX_DEPTH)
		return false;
	switch (e->kind) {
	case VSP_E_STRING:
		chk_glob(c, e->u.str.ptr, e->u.str.len, e);
		return true;
	case VSP_E_LIST:
		for (i = 0; i < e->u.list.n; i++)
			if (e->u.list.items[i]->kind == VSP_E_STRING)
				chk_glob(c, e->u.list.items[i]->u.str.ptr,
					 e->u.list.items[i]->u.str.len,
					 e->u.list.items[i]);
		return true;
	case VSP_E_NAME:
		dl = e->u.name.decl;
		if (!dl)
			return false;
		if (e->u.name.rkind == VSP_N_CONST) {
			if (dl->value && dl->value->kind == VSP_E_STRING)
				return chk_patterns(c, dl->value, depth + 1);
			chk_glob(c, dl->sval.ptr, dl->sval.len, e);
			return true;
		}
		if (e->u.name.rkind == VSP_N_LIST ||
		    e->u.name.rkind == VSP_N_MACRO)
			return chk_patterns(c, dl->value, depth + 1);
		return false;
	default:
		return false;
	}
}

static enum vsp_type chk_binary(struct chk *c, struct vsp_expr *e)
{
	enum vsp_op op = e->u.op.op;
	struct vsp_expr *a = e->u.op.a, *b = e->u.op.b;
	enum vsp_type ta = chk_expr(c, a), tb = chk_expr(c, b);
	const char *on = chk_op_name(op);
	struct chk_val v;

	switch (op) {
	case VSP_OP_OR:
	case VSP_OP_AND:
		if (ta == VSP_T_ERROR || tb == VSP_T_ERROR)
			return VSP_T_ERROR;
		if (ta != VSP_T_BOOL || tb != VSP_T_BOOL) {
			struct vsp_expr *bad = ta != VSP_T_BOOL ? a : b;

			vsp_diag_error(c->d, &bad->loc,
				       "'%s' needs bool operands, not %s%s", on,
				       chk_type_name(bad->type),
				       bad->type == VSP_T_INT ?
				       " (compare with != 0)" : "");
			return VSP_T_ERROR;
		}
		return VSP_T_BOOL;
	case VSP_OP_EQ:
	case VSP_OP_NE:
		if (ta == VSP_T_ERROR || tb == VSP_T_ERROR)
			return VSP_T_ERROR;
		if (chk_is_list(ta) || chk_is_list(tb)) {
			vsp_diag_error(c->d, &e->loc,
				       "cannot compare lists with '%s' (use 'in' to test membership)",
				       on);
			return VSP_T_ERROR;
		}
		if (ta != tb) {
			vsp_diag_error(c->d, &e->loc,
				       "cannot compare %s with %s",
				       chk_type_name(ta), chk_type_name(tb));
			return VSP_T_ERROR;
		}
		return VSP_T_BOOL;
	case VSP_OP_LT: case VSP_OP_LE: case VSP_OP_GT: case VSP_OP_GE:
		if (ta == VSP_T_ERROR || tb == VSP_T_ERROR)
			return VSP_T_ERROR;
		if (ta != VSP_T_INT || tb != VSP_T_INT) {
			vsp_diag_error(c->d, &e->loc,
				       "'%s' orders ints only, not %s and %s",
				       on, chk_type_name(ta), chk_type_name(tb));
			return VSP_T_ERROR;
		}
		return VSP_T_BOOL;
	case VSP_OP_IN:
	case VSP_OP_NOT_IN:
		if (ta == VSP_T_ERROR || tb == VSP_T_ERROR)
			return VSP_T_ERROR;
		if (!chk_is_list(tb)) {
			vsp_diag_error(c->d, &b->loc,
				       "the right side of '%s' must be a list, not %s%s",
				       on, chk_type_name(tb),
				       tb == VSP_T_STRING ?
				       " (use 'contains' to search a string)" :
				       "");
			return VSP_T_ERROR;
		}
		if (ta != VSP_T_INT && ta != VSP_T_STRING) {
			vsp_diag_error(c->d, &a->loc,
				       "the left side of '%s' must be an int or a string, not %s",
				       on, chk_type_name(ta));
			return VSP_T_ERROR;
		}
		if ((tb == VSP_T_LIST_INT && ta != VSP_T_INT) ||
		    (tb == VSP_T_LIST_STRING && ta != VSP_T_STRING)) {
			vsp_diag_error(c->d, &e->loc,
				       "'%s' tests %s %s against a %s",
				       on, ta == VSP_T_INT ? "an" : "a",
				       chk_type_name(ta), chk_type_name(tb));
			return VSP_T_ERROR;
		}
		return VSP_T_BOOL;
	case VSP_OP_MATCHES:
		if (ta == VSP_T_ERROR || tb == VSP_T_ERROR)
			return VSP_T_ERROR;
		if (ta != VSP_T_STRING) {
			vsp_diag_error(c->d, &a->loc,
				       "'matches' tests a string, not %s",
				       chk_type_name(ta));
			return VSP_T_ERROR;
		}
		if (tb != VSP_T_STRING && tb != VSP_T_LIST_STRING &&
		    tb != VSP_T_LIST_EMPTY) {
			vsp_diag_error(c->d, &b->loc,
				       "the pattern of 'matches' must be a string or a list of strings, not %s",
				       chk_type_name(tb));
			return VSP_T_ERROR;
		}
		if (!chk_patterns(c, b, 0)) {
			vsp_diag_error(c->d, &b->loc,
				       "the pattern of 'matches' must be a constant (a glob literal, a const or a list)");
			return VSP_T_ERROR;
		}
		return VSP_T_BOOL;
	case VSP_OP_STARTSWITH:
	case VSP_OP_ENDSWITH:
	case VSP_OP_CONTAINS:
		if (ta == VSP_T_ERROR || tb == VSP_T_ERROR)
			return VSP_T_ERROR;
		if (ta != VSP_T_STRING || tb != VSP_T_STRING) {
			vsp_diag_error(c->d, &e->loc,
				       "'%s' needs string operands, not %s and %s",
				       on, chk_type_name(ta), chk_type_name(tb));
			return VSP_T_ERROR;
		}
		return VSP_T_BOOL;
	default:
		break;
	}
	/* arithmetic and bitwise operators */
	if (ta == VSP_T_ERROR || tb == VSP_T_ERROR)
		return VSP_T_ERROR;
	if (ta != VSP_T_INT || tb != VSP_T_INT) {
		vsp_diag_error(c->d, &e->loc,
			       "'%s' needs int operands, not %s and %s%s", on,
			       chk_type_name(ta), chk_type_name(tb),
			       op == VSP_OP_ADD && ta == VSP_T_STRING ?
			       " (strings cannot be joined)" : "");
		return VSP_T_ERROR;
	}
	if ((op == VSP_OP_DIV || op == VSP_OP_MOD) && chk_fold(c, b, &v, 0) &&
	    v.i == 0) {
		vsp_diag_error(c->d, &b->loc, "%s by zero",
			       op == VSP_OP_DIV ? "division" : "modulo");
		return VSP_T_ERROR;
	}
	if ((op == VSP_OP_SHL || op == VSP_OP_SHR) && chk_fold(c, b, &v, 0) &&
	    (v.i < 0 || v.i > 63)) {
		vsp_diag_error(c->d, &b->loc,
			       "shift by %lld is out of range (0 to 63)",
			       (long long)v.i);
		return VSP_T_ERROR;
	}
	return VSP_T_INT;
}

static enum vsp_type chk_unary(struct chk *c, struct vsp_expr *e)
{
	enum vsp_type t = chk_expr(c, e->u.op.a);
	const char *on = chk_op_name(e->u.op.op);

	if (t == VSP_T_ERROR)
		return t;
	if (e->u.op.op == VSP_OP_NOT) {
		if (t != VSP_T_BOOL) {
			vsp_diag_error(c->d, &e->u.op.a->loc,
				       "'not' needs a bool operand, not %s",
				       chk_type_name(t));
			return VSP_T_ERROR;
		}
		return VSP_T_BOOL;
	}
	if (t != VSP_T_INT) {
		vsp_diag_error(c->d, &e->u.op.a->loc,
			       "unary '%s' needs an int operand, not %s", on,
			       chk_type_name(t));
		return VSP_T_ERROR;
	}
	return VSP_T_INT;
}

static enum vsp_type chk_expr(struct chk *c, struct vsp_expr *e)
{
	enum vsp_type t = VSP_T_ERROR;

	if (!e)
		return VSP_T_ERROR;
	if (c->depth >= CHK_MAX_DEPTH) {
		if (!c->too_deep)
			vsp_diag_error(c->d, &e->loc,
				       "expression nested too deeply (through macros)");
		c->too_deep = true;
		e->type = VSP_T_ERROR;
		return VSP_T_ERROR;
	}
	c->depth++;
	switch (e->kind) {
	case VSP_E_INT: t = VSP_T_INT; break;
	case VSP_E_BOOL: t = VSP_T_BOOL; break;
	case VSP_E_STRING:
		t = VSP_T_STRING;
		if (e->u.str.len > CHK_MAX_STRING) {
			vsp_diag_error(c->d, &e->loc,
				       "string literal of %u bytes: the limit is %d",
				       (unsigned)e->u.str.len, CHK_MAX_STRING);
			t = VSP_T_ERROR;
		}
		break;
	case VSP_E_LIST: t = chk_list(c, e); break;
	case VSP_E_NAME: t = chk_name(c, e); break;
	case VSP_E_CALL: t = chk_call(c, e); break;
	case VSP_E_UNARY: t = chk_unary(c, e); break;
	case VSP_E_BINARY: t = chk_binary(c, e); break;
	}
	c->depth--;
	e->type = t;
	return t;
}

/* ---- declarations ---- */

/* Types and folds a const, once, wherever it is first needed. */
static void chk_check_const(struct chk *c, struct chk_decl *cd)
{
	struct vsp_decl *dl = cd->decl;
	const struct vsp_event_ref *evs = c->evs;
	const char *nofields = c->nofields;
	size_t nev = c->nev, i;
	unsigned ctx = c->ctx;
	struct chk_val v;
	enum vsp_type t;

	if (cd->defined)
		return;
	for (i = 0; i < c->nstack; i++)
		if (c->stack[i] == dl) {
			vsp_diag_error(c->d, &dl->loc,
				       "const '%s' is defined in terms of itself",
				       dl->name);
			dl->type = VSP_T_ERROR;
			return;
		}
	if (!chk_push_fits(c, dl->value, dl)) {
		dl->type = VSP_T_ERROR;
		return;
	}
	c->stack[c->nstack++] = dl;
	c->evs = NULL;
	c->nev = 0;
	c->nofields = "a const";
	c->ctx = ++c->last_ctx;
	t = chk_expr(c, dl->value);
	c->ctx = ctx;
	c->evs = evs;
	c->nev = nev;
	c->nofields = nofields;
	c->nstack--;
	cd->defined = true;
	dl->type = VSP_T_ERROR;
	if (t == VSP_T_ERROR)
		return;
	if (chk_is_list(t)) {
		vsp_diag_error(c->d, &dl->value->loc,
			       "a const cannot be a list; write 'list %s = [...];'",
			       dl->name);
		return;
	}
	if (!chk_fold(c, dl->value, &v, 0)) {
		vsp_diag_error(c->d, &dl->value->loc,
			       "the value of const '%s' is not a constant",
			       dl->name);
		return;
	}
	dl->type = t;
	dl->ival = v.i;
	dl->bval = v.b;
	if (t == VSP_T_STRING) {
		dl->sval.ptr = malloc(v.len + 1);
		if (!dl->sval.ptr) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		memcpy(dl->sval.ptr, v.s, v.len);
		dl->sval.ptr[v.len] = '\0';
		dl->sval.len = v.len;
	}
}

static void chk_check_list(struct chk *c, struct chk_decl *cd)
{
	struct vsp_decl *dl = cd->decl;
	const struct vsp_event_ref *evs = c->evs;
	const char *nofields = c->nofields;
	size_t nev = c->nev;
	unsigned ctx = c->ctx;

	if (cd->defined)
		return;
	cd->defined = true;
	c->evs = NULL;
	c->nev = 0;
	c->nofields = "a list";
	c->ctx = ++c->last_ctx;
	dl->type = chk_expr(c, dl->value);
	c->ctx = ctx;
	c->evs = evs;
	c->nev = nev;
	c->nofields = nofields;
}

/* ---- size after inlining ---- */

static uint64_t chk_sat_add(uint64_t a, uint64_t b)
{
	return a + b < a || a + b > UINT32_MAX ? UINT32_MAX : a + b;
}

/* Nodes of an expression with every macro inlined, as the compiler will
 * see it; saturates, and each macro is sized once. */
static uint64_t chk_size(struct chk *c, const struct vsp_expr *e,
			 unsigned depth)
{
	struct chk_decl *cd;
	uint64_t n = 1;
	size_t i;

	if (!e || depth > CHK_MAX_DEPTH)
		return 1;
	switch (e->kind) {
	case VSP_E_LIST:
		return chk_sat_add(1, e->u.list.n);
	case VSP_E_NAME:
		if (e->u.name.rkind != VSP_N_MACRO || !e->u.name.decl)
			return 1;
		cd = chk_lookup(c, e->u.name.decl->name);
		if (!cd || cd->decl != e->u.name.decl || cd->size_state == 1)
			return 1;	/* a cycle: reported elsewhere */
		if (cd->size_state == 0) {
			cd->size_state = 1;
			cd->size = chk_size(c, cd->decl->value, depth + 1);
			cd->size_state = 2;
		}
		return cd->size;
	case VSP_E_CALL:
		for (i = 0; i < e->u.call.n; i++)
			n = chk_sat_add(n, chk_size(c, e->u.call.args[i],
						    depth + 1));
		return n;
	case VSP_E_UNARY:
	case VSP_E_BINARY:
		n = chk_sat_add(n, chk_size(c, e->u.op.a, depth + 1));
		return chk_sat_add(n, chk_size(c, e->u.op.b, depth + 1));
	default:
		return 1;
	}
}

static void chk_expansion(struct chk *c, const struct vsp_expr *e)
{
	uint64_t n;

	if (!e || e->type == VSP_T_ERROR)
		return;
	n = chk_size(c, e, 0);
	if (n >= UINT32_MAX)
		vsp_diag_error(c->d, &e->loc,
			       "this expression grows past 4 billion nodes once its macros are inlined (the limit is %d)",
			       CHK_MAX_NODES);
	else if (n > CHK_MAX_NODES)
		vsp_diag_error(c->d, &e->loc,
			       "this expression grows to %llu nodes once its macros are inlined (the limit is %d)",
			       (unsigned long long)n, CHK_MAX_NODES);
}

/* ---- rules ---- */

static void chk_events(struct chk *c, struct vsp_rule *r)
{
	char buf[160];
	size_t i, j;

	for (i = 0; i < r->nevents; i++) {
		struct vsp_event_ref *ev = &r->events[i];
		const struct vsp_call *call;
		const char *s;

		if (ev->catalog == -2)
			continue;
		if (chk_is_hook(ev->kind)) {
			const struct vsp_hook *h = vsp_hook_by_name(ev->kind,
								    ev->name);

			if (!h) {
				const char *kn = ev->kind == VSP_EV_FILE ? "file" :
						 ev->kind == VSP_EV_NET ? "net" : "task";

				s = vsp_suggest_hook(ev->kind, ev->name);
				if (s)
					vsp_diag_error(c->d, &ev->loc,
						       "unknown %s hook '%s'; did you mean '%s'?",
						       kn, ev->name, s);
				else
					vsp_diag_error(c->d, &ev->loc,
						       "unknown %s hook '%s'", kn,
						       ev->name);
				ev->catalog = -2;
				continue;
			}
			ev->catalog = (int)(h - vsp_hooks);
		}
		if (ev->kind == VSP_EV_SYSCALL || ev->kind == VSP_EV_HYPERCALL) {
			bool sys = ev->kind == VSP_EV_SYSCALL;

			call = sys ? vsp_syscall_by_name(ev->name)
				   : vsp_hypercall_by_name(ev->name);
			if (!call) {
				s = sys ? vsp_suggest_syscall(ev->name)
					: vsp_suggest_hypercall(ev->name);
				if (s)
					vsp_diag_error(c->d, &ev->loc,
						       "unknown %s '%s'; did you mean '%s'?",
						       vsp_event_kind_name(ev->kind),
						       ev->name, s);
				else
					vsp_diag_error(c->d, &ev->loc,
						       "unknown %s '%s'",
						       vsp_event_kind_name(ev->kind),
						       ev->name);
				ev->catalog = -2;
				continue;
			}
			ev->catalog = (int)(call - (sys ? vsp_syscalls
						      : vsp_hypercalls));
			ev->nr = call->nr;
			if (strcmp(ev->name, call->name) != 0) {
				free(ev->name);
				ev->name = strdup(call->name);
				if (!ev->name) {
					fputs("vsp: out of memory\n", stderr);
					abort();
				}
			}
		}
		for (j = 0; j < i; j++) {
			const struct vsp_event_ref *o = &r->events[j];

			if (o->kind == ev->kind && o->catalog != -2 &&
			    strcmp(o->name, ev->name) == 0 &&
			    !strcmp(o->lib ? o->lib : "", ev->lib ? ev->lib : "") &&
			    o->lo == ev->lo && o->hi == ev->hi) {
				vsp_diag_warning(c->d, &ev->loc,
						 "the rule names %s twice",
						 chk_event_desc(ev, buf, sizeof buf));
				break;
			}
		}
	}
}

static void chk_arise(struct chk *c, struct vsp_rule *r)
{
	struct vsp_pathspec *ps = &r->arise;
	size_t i;

	if (!ps->present)
		return;
	if (ps->is_profile) {
		const char *file = ps->loc.file ? ps->loc.file : "";
		const char *slash = strrchr(file, '/');

		if (ps->profile[0] == '/' || !slash)
			ps->profile_path = strdup(ps->profile);
		else if (asprintf(&ps->profile_path, "%.*s/%s",
				  (int)(slash - file), file, ps->profile) < 0)
			ps->profile_path = NULL;
		if (!ps->profile_path) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		return;
	}
	for (i = 0; i < ps->npatterns; i++) {
		struct vsp_pattern *pt = &ps->patterns[i];
		const char *p = pt->text;
		bool bad = false;

		for (;;) {
			const char *sep = strstr(p, "<-");
			const char *end = sep ? sep : p + strlen(p);
			const char *b = p, *e = end, *err = NULL;
			size_t at;
			char **nf;

			while (b < e && (*b == ' ' || *b == '\t'))
				b++;
			while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (b == e) {
				vsp_diag_error(c->d, &pt->loc,
					       "empty frame in call-path pattern \"%s\" (frames are joined by '<-')",
					       pt->text);
				bad = true;
			} else if (vsp_glob_check(b, (size_t)(e - b), &err,
						  &at) < 0) {
				vsp_diag_error(c->d, &pt->loc,
					       "bad glob \"%.*s\" in call-path pattern: %s",
					       (int)(e - b), b,
					       err ? err : "invalid");
				bad = true;
			} else if (!bad) {
				nf = realloc(pt->frames,
					     (pt->nframes + 1) * sizeof *nf);
				if (!nf || !(nf[pt->nframes] =
					     strndup(b, (size_t)(e - b)))) {
					fputs("vsp: out of memory\n", stderr);
					abort();
				}
				pt->frames = nf;
				pt->nframes++;
			}
			if (!sep || bad)
				break;
			p = sep + 2;
		}
	}
}

/* The location of the last `n` columns of a one-line location. */
static struct vsp_loc chk_tail(const struct vsp_loc *l, size_t n)
{
	struct vsp_loc t = *l;

	if (t.line == t.end_line && t.end_col - (int)n + 1 >= t.col) {
		t.col = t.end_col - (int)n + 1;
	}
	return t;
}

static void chk_errno(struct chk *c, struct vsp_action *a)
{
	static const char *errnos[512];
	static size_t nerrnos;
	const struct vsp_const *k;
	struct chk_decl *cd;
	struct vsp_loc at;
	const char *s;
	size_t i;

	if (!a->has_errno) {
		a->errno_val = 1;	/* EPERM */
		return;
	}
	if (!a->errno_name) {
		if (a->errno_val < 1 || a->errno_val > 4095)
			vsp_diag_error(c->d, &a->loc,
				       "errno %lld is out of range (1 to 4095)",
				       (long long)a->errno_val);
		return;
	}
	at = chk_tail(&a->loc, strlen(a->errno_name));
	cd = chk_lookup(c, a->errno_name);
	if (cd && cd->decl->kind == VSP_D_CONST) {
		cd->decl->used = true;
		chk_check_const(c, cd);
		if (cd->decl->type == VSP_T_ERROR)
			return;
		if (cd->decl->type != VSP_T_INT) {
			vsp_diag_error(c->d, &at,
				       "const '%s' is %s, not an errno number",
				       a->errno_name,
				       chk_type_name(cd->decl->type));
			return;
		}
		a->errno_val = cd->decl->ival;
		if (a->errno_val < 1 || a->errno_val > 4095)
			vsp_diag_error(c->d, &at,
				       "errno %lld is out of range (1 to 4095)",
				       (long long)a->errno_val);
		return;
	}
	k = vsp_const_by_name(a->errno_name);
	if (k && k->cls == VSP_C_ERRNO) {
		a->errno_val = k->value;
		return;
	}
	if (k || cd) {
		vsp_diag_error(c->d, &at, "'%s' is not an errno",
			       a->errno_name);
		return;
	}
	if (!nerrnos)
		for (i = 0; i < vsp_nconsts && nerrnos < 512; i++)
			if (vsp_consts[i].cls == VSP_C_ERRNO)
				errnos[nerrnos++] = vsp_consts[i].name;
	s = vsp_suggest(a->errno_name, errnos, nerrnos);
	if (s)
		vsp_diag_error(c->d, &at, "unknown errno '%s'; did you mean '%s'?",
			       a->errno_name, s);
	else
		vsp_diag_error(c->d, &at, "unknown errno '%s'", a->errno_name);
}

/* Checks the %{field} references of a message. */
static void chk_message(struct chk *c, struct vsp_action *a)
{
	const char *p = a->str, *end;
	struct vsp_expr fake;

	if (!p)
		return;
	end = p + a->str_len;
	while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
		const char *close;
		char name[128];

		if (p + 1 >= end || p[1] != '{') {
			p++;
			continue;
		}
		close = memchr(p + 2, '}', (size_t)(end - p - 2));
		if (!close) {
			vsp_diag_error(c->d, &a->loc,
				       "unterminated '%%{' in the message");
			return;
		}
		if ((size_t)(close - p - 2) >= sizeof name ||
		    close == p + 2) {
			vsp_diag_error(c->d, &a->loc,
				       "bad field reference in the message");
			p = close + 1;
			continue;
		}
		memcpy(name, p + 2, (size_t)(close - p - 2));
		name[close - p - 2] = '\0';
		memset(&fake, 0, sizeof fake);
		fake.loc = a->loc;
		if (!vsp_field_known(name)) {
			const char *cands[256], *s = NULL;
			size_t n = c->nev ? vsp_field_names(&c->evs[0], cands,
							    256) : 0;

			s = vsp_suggest(name, cands, n);
			if (s)
				vsp_diag_error(c->d, &a->loc,
					       "unknown field '%s' in the message; did you mean '%s'?",
					       name, s);
			else
				vsp_diag_error(c->d, &a->loc,
					       "unknown field '%s' in the message",
					       name);
		} else if (c->nev) {
			chk_field(c, &fake, name, true);
		}
		p = close + 1;
	}
}

static void chk_redirect(struct chk *c, struct vsp_rule *r,
			 struct vsp_action *a)
{
	char buf[160];
	size_t i;

	if (!a->str_len)
		vsp_diag_error(c->d, &a->loc, "the redirect path is empty");
	else if (memchr(a->str, '\0', a->str_len))
		vsp_diag_error(c->d, &a->loc,
			       "the redirect path cannot contain a NUL byte");
	if (!r) {
		vsp_diag_error(c->d, &a->loc,
			       "'redirect' cannot be the default verdict: only events with a path argument accept it");
		return;
	}
	for (i = 0; i < r->nevents; i++) {
		const struct vsp_event_ref *ev = &r->events[i];

		if (ev->catalog == -2)
			continue;
		if (vsp_kind_accepts(ev->kind, VSP_V_REDIRECT) &&
		    ev->kind == VSP_EV_SYSCALL &&
		    vsp_call_path_arg(&vsp_syscalls[ev->catalog]) >= 0)
			continue;
		vsp_diag_error(c->d, &a->loc,
			       "'redirect' needs an event with a path argument; %s has none",
			       chk_event_desc(ev, buf, sizeof buf));
		return;
	}
}

/* "allow, deny, kill and pause": the verdicts events of kind k accept. */
static const char *chk_verdict_set(enum vsp_event_kind k, char *buf,
				   size_t size)
{
	const char *names[VSP_V_COUNT];
	size_t n = 0, len = 0;

	for (int v = VSP_V_ALLOW; v < VSP_V_COUNT; v++)
		if (vsp_kind_accepts(k, (enum vsp_verdict)v))
			names[n++] = vsp_verdict_name((enum vsp_verdict)v);
	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					!i ? "" : i + 1 == n ? " and " : ", ",
					names[i]);
	return buf;
}

/* A verdict every event of the rule must accept (base/kinds.h);
 * `redirect` has its own check, which also wants a path argument. */
static void chk_verdict_kinds(struct chk *c, const struct vsp_rule *r,
			      const struct vsp_action *a)
{
	char ev_buf[160], set_buf[96];
	size_t i;

	if (a->verdict == VSP_V_REDIRECT ||
	    (a->verdict == VSP_V_RETURN && c->u->eval))
		return;
	for (i = 0; i < r->nevents; i++) {
		const struct vsp_event_ref *ev = &r->events[i];

		if (ev->catalog == -2 || vsp_kind_accepts(ev->kind, a->verdict))
			continue;
		vsp_diag_error(c->d, &a->loc,
			       "'%s' cannot decide %s: a %s event takes %s",
			       vsp_verdict_name(a->verdict),
			       chk_event_desc(ev, ev_buf, sizeof ev_buf),
			       vsp_event_kind_name(ev->kind),
			       chk_verdict_set(ev->kind, set_buf,
					       sizeof set_buf));
		return;
	}
}

static void chk_actions(struct chk *c, struct vsp_rule *r,
			struct vsp_action *acts, size_t n)
{
	struct vsp_action *first = NULL;
	enum vsp_type t;
	size_t i;

	for (i = 0; i < n; i++) {
		struct vsp_action *a = &acts[i];

		if (a->kind == VSP_A_EFFECT) {
			if (a->is_count && a->str && !a->str_len)
				vsp_diag_error(c->d, &a->loc,
					       "the counter name is empty");
			else if (!a->is_count)
				chk_message(c, a);
			continue;
		}
		if (first) {
			vsp_diag_error(c->d, &a->loc,
				       "a rule has at most one verdict");
			vsp_diag_note(c->d, &first->loc,
				      "the first verdict is here");
			continue;
		}
		first = a;
		chk_verdict_kinds(c, r, a);
		switch (a->verdict) {
		case VSP_V_DENY:
			chk_errno(c, a);
			break;
		case VSP_V_REDIRECT:
			chk_redirect(c, r, a);
			break;
		case VSP_V_RETURN:
			t = chk_expr(c, a->value);
			if (c->u->eval && t != VSP_T_ERROR && t != VSP_T_INT &&
			    t != VSP_T_BOOL && t != VSP_T_STRING)
				vsp_diag_error(c->d, &a->value->loc,
					       "eval takes a bool, an int or a "
					       "string, not %s", chk_type_name(t));
			else if (!c->u->eval && t != VSP_T_ERROR && t != VSP_T_INT)
				vsp_diag_error(c->d, &a->value->loc,
					       "'return' takes an int, not %s",
					       chk_type_name(t));
			chk_expansion(c, a->value);
			break;
		default:
			break;
		}
	}
}

static void chk_rule(struct chk *c, struct vsp_rule *r)
{
	enum vsp_type t;

	chk_events(c, r);
	c->ctx = ++c->last_ctx;
	c->evs = r->events;
	c->nev = r->nevents;
	c->nofields = NULL;
	c->depth = 0;
	c->too_deep = false;
	if (r->when) {
		t = chk_expr(c, r->when);
		if (t != VSP_T_ERROR && t != VSP_T_BOOL)
			vsp_diag_error(c->d, &r->when->loc,
				       "the 'when' condition must be bool, not %s",
				       chk_type_name(t));
		chk_expansion(c, r->when);
	}
	chk_arise(c, r);
	chk_actions(c, r, r->actions, r->nactions);
	c->evs = NULL;
	c->nev = 0;
}

/* ---- items of one file: header, default, mode ---- */

struct chk_file {
	const char *file;
	const struct vsp_item *header, *def, *mode;
	bool other;		/* an item other than the header came first */
};

static void chk_file_items(struct chk *c)
{
	struct vsp_unit *u = c->u;
	struct chk_file *files = calloc(u->nsources + 1, sizeof *files);
	size_t i, j, nf = 0;

	if (!files) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	for (i = 0; i < u->nitems; i++) {
		const struct vsp_item *it = &u->items[i];
		struct chk_file *f = NULL;

		for (j = 0; j < nf; j++)
			if (files[j].file == it->loc.file)
				f = &files[j];
		if (!f) {
			if (nf > u->nsources)
				continue;
			f = &files[nf++];
			f->file = it->loc.file;
		}
		switch (it->kind) {
		case VSP_I_HEADER:
			if (f->header) {
				vsp_diag_error(c->d, &it->loc,
					       "the file already has a 'policy' header");
				vsp_diag_note(c->d, &f->header->loc,
					      "the first header is here");
			} else if (f->other) {
				vsp_diag_error(c->d, &it->loc,
					       "the 'policy' header must come first in the file");
			}
			if (!f->header)
				f->header = it;
			if (it->u.header.has_version && it->u.header.version != 1)
				vsp_diag_error(c->d, &it->loc,
					       "unsupported language version %lld (this vsp reads version 1)",
					       (long long)it->u.header.version);
			break;
		case VSP_I_DEFAULT:
			if (f->def) {
				vsp_diag_error(c->d, &it->loc,
					       "the file already sets a default verdict");
				vsp_diag_note(c->d, &f->def->loc,
					      "the first 'default' is here");
			} else {
				f->def = it;
			}
			f->other = true;
			break;
		case VSP_I_MODE:
			if (f->mode) {
				vsp_diag_error(c->d, &it->loc,
					       "the file already sets a mode");
				vsp_diag_note(c->d, &f->mode->loc,
					      "the first 'mode' is here");
			} else {
				f->mode = it;
			}
			f->other = true;
			break;
		default:
			f->other = true;
			break;
		}
	}
	free(files);
}

static void chk_default(struct chk *c, struct vsp_action *a)
{
	int errors = c->d->errors;
	struct chk_val v;
	enum vsp_type t;

	switch (a->verdict) {
	case VSP_V_DENY:
		chk_errno(c, a);
		break;
	case VSP_V_REDIRECT:
		chk_redirect(c, NULL, a);
		break;
	case VSP_V_RETURN:
		c->ctx = ++c->last_ctx;
		c->nofields = "the default verdict";
		t = chk_expr(c, a->value);
		c->nofields = NULL;
		if (t == VSP_T_ERROR)
			break;
		if (t != VSP_T_INT)
			vsp_diag_error(c->d, &a->value->loc,
				       "'return' takes an int, not %s",
				       chk_type_name(t));
		else if (!chk_fold(c, a->value, &v, 0))
			vsp_diag_error(c->d, &a->value->loc,
				       "the default 'return' value must be a constant");
		break;
	default:
		break;
	}
	/* A live monitor traps only the events some rule names, so the
	 * default decides those alone; every other event runs untouched
	 * (and vsp replay decides it the same way). */
	if (a->verdict != VSP_V_ALLOW && c->d->errors == errors)
		vsp_diag_warning(c->d, &a->loc,
				 "the default '%s' holds only for events a rule "
				 "names: no other event is trapped, so those run "
				 "as allowed", vsp_verdict_name(a->verdict));
}

/* ---- warnings ---- */

static bool chk_always_decides(const struct vsp_rule *r)
{
	size_t i;

	if (r->when || r->arise.present)
		return false;
	for (i = 0; i < r->nactions; i++)
		if (r->actions[i].kind == VSP_A_VERDICT)
			return true;
	return false;
}

/* True when every event `b` stands for is an event `a` stands for. */
static bool chk_covers(const struct vsp_event_ref *a,
		       const struct vsp_event_ref *b)
{
	if (a->kind != b->kind || a->catalog == -2 || b->catalog == -2 ||
	    strcmp(a->name, b->name) != 0)
		return false;
	if (a->kind == VSP_EV_USER)
		return strcmp(a->lib ? a->lib : "", b->lib ? b->lib : "") == 0;
	if (a->kind == VSP_EV_WRITE) {
		if (a->lo < 0)
			return true;
		return b->lo >= 0 && a->lo <= b->lo && b->hi <= a->hi;
	}
	return true;
}

/* "rule 'name'" or "the rule on line N", for messages. */
static void chk_rule_name(const struct vsp_rule *r, char *buf, size_t size)
{
	if (r->name)
		snprintf(buf, size, "rule '%s'", r->name);
	else
		snprintf(buf, size, "the rule on line %d", r->loc.line);
}

/* A string-keyed map to indexes, for the checks over all rules (a policy
 * may have tens of thousands). */
struct chk_map {
	struct chk_slot {
		char *key;
		size_t val;
	} *s;
	size_t size, n;
};

static size_t *chk_map_slot(struct chk_map *m, const char *key, bool *found)
{
	size_t i;

	if (m->n * 2 + 2 > m->size) {
		struct chk_map g = { 0 };
		size_t j;

		g.size = m->size ? m->size * 2 : 64;
		g.s = calloc(g.size, sizeof *g.s);
		if (!g.s) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		for (j = 0; j < m->size; j++) {
			if (!m->s[j].key)
				continue;
			for (i = chk_hash(m->s[j].key) & (g.size - 1); g.s[i].key;
			     i = (i + 1) & (g.size - 1))
				;
			g.s[i] = m->s[j];
		}
		g.n = m->n;
		free(m->s);
		*m = g;
	}
	for (i = chk_hash(key) & (m->size - 1); m->s[i].key;
	     i = (i + 1) & (m->size - 1))
		if (strcmp(m->s[i].key, key) == 0) {
			*found = true;
			return &m->s[i].val;
		}
	m->s[i].key = strdup(key);
	if (!m->s[i].key) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	m->n++;
	*found = false;
	return &m->s[i].val;
}

static void chk_map_release(struct chk_map *m)
{
	size_t i;

	for (i = 0; i < m->size; i++)
		free(m->s[i].key);
	free(m->s);
}

/* "kind:lib:name": events that can cover each other share a key. */
static char *chk_event_key(const struct vsp_event_ref *ev, char *buf,
			   size_t size)
{
	snprintf(buf, size, "%d:%s:%s", (int)ev->kind, ev->lib ? ev->lib : "",
		 ev->name);
	return buf;
}

struct chk_cover {
	const struct vsp_rule *rule;
	const struct vsp_event_ref *ev;
	size_t next;		/* index + 1 of the next entry, 0 at the end */
};

static void chk_shadowed(struct chk *c)
{
	struct vsp_unit *u = c->u;
	struct chk_map map = { 0 };
	struct chk_cover *cov = NULL;
	size_t ncov = 0, cap = 0, i, e, k;
	char a[200], b[200], ev[160], key[512];
	bool found;

	for (i = 0; i < u->nrules; i++) {
		const struct vsp_rule *r = u->rules[i];
		const struct vsp_rule *by = NULL;
		const struct vsp_event_ref *first_ev = NULL;

		for (e = 0; r->nevents && e < r->nevents; e++) {
			const struct vsp_rule *cover = NULL;
			size_t *head;

			if (r->events[e].catalog == -2)
				break;
			head = chk_map_slot(&map, chk_event_key(&r->events[e],
								key, sizeof key),
					    &found);
			if (!found)
				*head = 0;
			for (k = *head; k; k = cov[k - 1].next)
				if (chk_covers(cov[k - 1].ev, &r->events[e]) &&
				    (!cover || cov[k - 1].rule->index < cover->index))
					cover = cov[k - 1].rule;
			if (!cover)
				break;
			if (!by) {
				by = cover;
				first_ev = &r->events[e];
			}
		}
		if (r->nevents && e == r->nevents && by) {
			chk_rule_name(r, a, sizeof a);
			chk_rule_name(by, b, sizeof b);
			vsp_diag_warning(c->d, &r->loc,
					 "%s can never decide: an earlier rule always decides %s%s first",
					 a, chk_event_desc(first_ev, ev, sizeof ev),
					 r->nevents > 1 ? " and its other events" : "");
			vsp_diag_note(c->d, &by->loc,
				      "%s decides every such event: it has a verdict and no condition",
				      b);
		}
		if (!chk_always_decides(r))
			continue;
		for (e = 0; e < r->nevents; e++) {
			size_t *head;

			if (r->events[e].catalog == -2)
				continue;
			head = chk_map_slot(&map, chk_event_key(&r->events[e],
								key, sizeof key),
					    &found);
			if (!found)
				*head = 0;
			if (ncov == cap) {
				cap = cap ? cap * 2 : 64;
				cov = realloc(cov, cap * sizeof *cov);
				if (!cov) {
					fputs("vsp: out of memory\n", stderr);
					abort();
				}
			}
			cov[ncov].rule = r;
			cov[ncov].ev = &r->events[e];
			cov[ncov].next = *head;
			*head = ++ncov;
		}
	}
	free(cov);
	chk_map_release(&map);
}

static void chk_unused(struct chk *c)
{
	size_t i;

	for (i = 0; i < c->u->ndecls; i++) {
		struct vsp_decl *dl = c->u->decls[i];

		if (!dl->used)
			vsp_diag_warning(c->d, &dl->loc,
					 "%s '%s' is never used",
					 chk_decl_kind(dl->kind), dl->name);
	}
	for (i = 0; i < c->u->nexterns; i++)
		if (!c->u->externs[i]->used && !c->u->externs[i]->bad)
			vsp_diag_warning(c->d, &c->u->externs[i]->loc,
					 "extern '%s' is never used",
					 c->u->externs[i]->name);
}

static void chk_rule_names(struct chk *c)
{
	struct vsp_unit *u = c->u;
	struct chk_map map = { 0 };
	size_t i, *first;
	bool found;

	for (i = 0; i < u->nrules; i++) {
		if (!u->rules[i]->name)
			continue;
		first = chk_map_slot(&map, u->rules[i]->name, &found);
		if (!found) {
			*first = i;
			continue;
		}
		vsp_diag_error(c->d, &u->rules[i]->loc,
			       "rule '%s' is already defined", u->rules[i]->name);
		vsp_diag_note(c->d, &u->rules[*first]->loc,
			      "the first rule of that name is here");
	}
	chk_map_release(&map);
}

int vsp_check(struct vsp_unit *u, struct vsp_diags *d)
{
	struct chk *c;
	size_t i;
	int errors;

	if (!u)
		return 0;
	c = calloc(1, sizeof *c);
	if (!c) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	c->u = u;
	c->d = d;
	c->ctx = c->last_ctx = 1;	/* 0: a macro never typed */
	c->errors0 = d->errors;
	d->sources = u->sources;
	d->nsources = u->nsources;
	chk_declare(c);
	chk_externs(c);
	chk_file_items(c);
	for (i = 0; i < u->ndecls; i++) {
		struct chk_decl *cd = chk_lookup(c, u->decls[i]->name);

		if (cd && cd->decl == u->decls[i])
			chk_decl_value(c, cd);
	}
	chk_rule_names(c);
	if (u->nrules > CHK_MAX_RULES)
		vsp_diag_error(c->d, &u->rules[CHK_MAX_RULES]->loc,
			       "too many rules: %zu in this policy, the limit is %d",
			       u->nrules, CHK_MAX_RULES);
	for (i = 0; i < u->nrules; i++)
		chk_rule(c, u->rules[i]);
	for (i = 0; i < u->nitems; i++)
		if (u->items[i].kind == VSP_I_DEFAULT)
			chk_default(c, &u->items[i].u.def);
	/* macros no rule uses are still checked, against any event */
	for (i = 0; i < u->ndecls; i++) {
		struct chk_decl *cd = chk_lookup(c, u->decls[i]->name);

		if (cd && cd->decl == u->decls[i] &&
		    cd->decl->kind == VSP_D_MACRO &&
		    cd->checked_ctx == 0) {
			c->ctx = ++c->last_ctx;
			c->depth = 0;
			c->too_deep = false;
			c->stack[c->nstack++] = cd->decl;
			c->nmacros++;
			cd->decl->type = chk_expr(c, cd->decl->value);
			c->nmacros--;
			c->nstack--;
			cd->checked_ctx = c->ctx;
			cd->ctx_type = cd->decl->type;
		}
	}
	chk_unused(c);
	chk_shadowed(c);
	errors = d->errors - c->errors0;
	free(c->tab);
	free(c);
	return errors;
}
