/*
 * ast.h: the syntax tree of a policy, from the parser to the compiler.
 *
 * The parser (lang/parser.y) builds it with a location on every node; the
 * front end (lang/front.c) inlines imports so one struct vsp_unit holds the
 * whole policy in source order; the checker (lang/check.c) resolves names,
 * sets every expression's type and marks what is used; the compiler
 * (lang/compile.c) reads the checked tree and never reports user errors
 * except the few only it can see (it then uses the same diagnostics).
 *
 * Ownership: every node, string and array belongs to the unit and is freed
 * by vsp_unit_free().  Strings are byte strings with a length (a policy may
 * hold "\0"); `name`-like identifiers are NUL-terminated.
 */
#ifndef VSP_AST_H
#define VSP_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/event.h"
#include "base/rules.h"

/* A source range; `file` is interned by the unit and outlives the tree. */
struct vsp_loc {
	const char *file;
	int line, col;		/* 1-based, first byte */
	int end_line, end_col;	/* 1-based, last byte (inclusive) */
};

enum vsp_type {
	VSP_T_ERROR,		/* already reported: stay quiet */
	VSP_T_INT,
	VSP_T_BOOL,
	VSP_T_STRING,
	VSP_T_LIST_INT,
	VSP_T_LIST_STRING,
	VSP_T_LIST_EMPTY	/* [] : fits either list type */
};

enum vsp_expr_kind {
	VSP_E_INT,
	VSP_E_STRING,
	VSP_E_BOOL,
	VSP_E_LIST,		/* [a, b, ...]; after checking every item is
				 * a VSP_E_INT or VSP_E_STRING literal: the
				 * checker folds constant items in place */
	VSP_E_NAME,		/* identifier or dotted field name */
	VSP_E_CALL,		/* builtin(args) */
	VSP_E_UNARY,
	VSP_E_BINARY
};

enum vsp_op {
	VSP_OP_OR, VSP_OP_AND, VSP_OP_NOT,
	VSP_OP_EQ, VSP_OP_NE, VSP_OP_LT, VSP_OP_LE, VSP_OP_GT, VSP_OP_GE,
	VSP_OP_IN, VSP_OP_NOT_IN, VSP_OP_MATCHES,
	VSP_OP_STARTSWITH, VSP_OP_ENDSWITH, VSP_OP_CONTAINS,
	VSP_OP_BOR, VSP_OP_BXOR, VSP_OP_BAND, VSP_OP_SHL, VSP_OP_SHR,
	VSP_OP_ADD, VSP_OP_SUB, VSP_OP_MUL, VSP_OP_DIV, VSP_OP_MOD,
	VSP_OP_NEG, VSP_OP_BNOT
};

enum vsp_builtin {
	VSP_B_NONE, VSP_B_BASENAME, VSP_B_DIRNAME, VSP_B_LOWER, VSP_B_LEN,
	VSP_B_EXTERN		/* a declared extern: u.call.ext */
};

/* What a VSP_E_NAME turned out to be, set by the checker. */
enum vsp_name_kind {
	VSP_N_UNRESOLVED,
	VSP_N_FIELD,		/* resolved per event: see vsp_field_resolve() */
	VSP_N_CONST,		/* decl->value, folded into decl->ival/sval */
	VSP_N_LIST,
	VSP_N_MACRO,		/* inlined by the compiler */
	VSP_N_SYMBOL		/* errno, O_*, AT_*, ...: value in `symval` */
};

struct vsp_decl;
struct vsp_extern_decl;

/* Deepest expression the parser builds; deeper nesting is an error, so no
 * later stage recurses without bound on hostile input. */
#define VSP_MAX_DEPTH 1000
/* Macros and consts inside one another: the checker refuses a chain deeper
 * than this and the compiler inlines up to it, so a policy the checker
 * passes always compiles. */
#define VSP_MAX_MACRO_DEPTH 64

struct vsp_expr {
	enum vsp_expr_kind kind;
	struct vsp_loc loc;
	enum vsp_type type;	/* set by the checker */
	uint32_t depth;		/* parser: nesting depth, at most VSP_MAX_DEPTH */
	union {
		int64_t ival;				/* VSP_E_INT */
		bool bval;				/* VSP_E_BOOL */
		struct { char *ptr; uint32_t len; } str;	/* VSP_E_STRING */
		struct {				/* VSP_E_LIST */
			struct vsp_expr **items;
			size_t n;
		} list;
		struct {				/* VSP_E_NAME */
			char *id;	/* "path", "proc.comm", "EACCES", ... */
			enum vsp_name_kind rkind;
			struct vsp_decl *decl;	/* CONST, LIST, MACRO */
			int64_t symval;		/* SYMBOL */
		} name;
		struct {				/* VSP_E_CALL */
			char *fn;
			enum vsp_builtin builtin;
			struct vsp_extern_decl *ext;	/* VSP_B_EXTERN */
			struct vsp_expr **args;
			size_t n;
		} call;
		struct {				/* VSP_E_UNARY, VSP_E_BINARY */
			enum vsp_op op;
			struct vsp_expr *a, *b;	/* b is NULL when unary */
		} op;
	} u;
};

enum vsp_decl_kind { VSP_D_CONST, VSP_D_LIST, VSP_D_MACRO };

struct vsp_decl {
	enum vsp_decl_kind kind;
	char *name;
	struct vsp_loc loc;	/* the name */
	struct vsp_expr *value;	/* const/macro: the expression; list: a VSP_E_LIST */
	enum vsp_type type;	/* set by the checker */
	bool used;
	bool checking;		/* the checker's cycle guard */
	/* const only, after folding: */
	int64_t ival;
	bool bval;
	struct { char *ptr; uint32_t len; } sval;
};

struct vsp_event_ref {
	enum vsp_event_kind kind;
	char *name;		/* syscall, hypercall, function or symbol; for a
				 * syscall the catalog's name (no sys_) */
	char *lib;		/* user events: the library string */
	int64_t lo, hi;		/* write IDENT[lo..hi]; -1 when absent */
	uint32_t nr;		/* syscall or hypercall number (checker) */
	int catalog;		/* index in the syscall/hypercall catalog, or -1;
				 * -2 and -3 are the parser's marks for a bad
				 * or not yet settled event: a unit that
				 * checked clean has neither */
	struct vsp_loc loc;
};

/* `must arise from`: patterns, each split into frames by the checker. */
struct vsp_pattern {
	char *text;		/* as written: "a <- b <- **" */
	char **frames;		/* trimmed, innermost first */
	size_t nframes;
	struct vsp_loc loc;
};

struct vsp_pathspec {
	bool present;
	bool is_profile;
	char *profile;		/* as written */
	char *profile_path;	/* resolved against the declaring file's directory */
	struct vsp_pattern *patterns;
	size_t npatterns;
	struct vsp_loc loc;
};

enum vsp_action_kind { VSP_A_VERDICT, VSP_A_EFFECT };

struct vsp_action {
	enum vsp_action_kind kind;
	struct vsp_loc loc;
	enum vsp_verdict verdict;	/* VSP_A_VERDICT */
	enum vsp_effect_kind effect;	/* VSP_A_EFFECT: log, alert, count */
	bool is_count;			/* VSP_A_EFFECT from `count` */
	char *errno_name;		/* deny NAME: as written, else NULL */
	int64_t errno_val;		/* deny: resolved (EPERM when absent) */
	bool has_errno;
	struct vsp_expr *value;		/* return EXPR */
	char *str;			/* redirect path, message, counter; NULL */
	uint32_t str_len;
};

struct vsp_rule {
	char *name;		/* NULL when unnamed */
	struct vsp_loc loc;	/* the rule's first token */
	enum vsp_priority priority;
	char **tags;
	size_t ntags;
	struct vsp_event_ref *events;
	size_t nevents;
	struct vsp_expr *when;	/* NULL: always */
	struct vsp_pathspec arise;
	struct vsp_action *actions;
	size_t nactions;
	int index;		/* position in the unit, source order */
};

/* Most arguments an extern function takes. */
#define VSP_EXTERN_MAX_ARGS 8

/*
 * `extern "LIB" fn NAME(TYPE, ...) -> TYPE [pure] [cost N];`: a native
 * function of a shared library (interp/extern.h binds it at load).
 */
struct vsp_extern_decl {
	char *name;		/* the function and its symbol */
	char *lib;		/* as written */
	struct vsp_loc loc;	/* the name */
	struct vsp_loc lib_loc;
	struct vsp_loc item_loc;
	enum vsp_type args[VSP_EXTERN_MAX_ARGS];
	size_t nargs;
	enum vsp_type ret;
	int64_t cost;		/* steps charged per call */
	bool has_cost;
	bool pure;		/* same arguments, same result: may be cached */
	bool bad;		/* the parser reported it */
	bool used;
	uint32_t index;		/* in the unit's externs, and the image's */
};

enum vsp_item_kind {
	VSP_I_HEADER, VSP_I_IMPORT, VSP_I_DECL, VSP_I_DEFAULT, VSP_I_MODE,
	VSP_I_RULE, VSP_I_EXTERN
};

struct vsp_item {
	enum vsp_item_kind kind;
	struct vsp_loc loc;
	union {
		struct { char *name; int64_t version; bool has_version; } header;
		struct { char *path; } import;	/* as written */
		struct vsp_decl *decl;
		struct vsp_action def;		/* a VSP_A_VERDICT */
		enum vsp_mode mode;
		struct vsp_rule *rule;
		struct vsp_extern_decl *ext;
	} u;
};

/* A source file kept whole for diagnostics (source line and caret). */
struct vsp_source {
	char *path;		/* as opened; interned: locations point here */
	char *text;
	size_t len;
};

/*
 * The whole policy with imports inlined: items in source order, imports
 * replaced by the imported file's items.  `rules` and `decls` index into
 * the items for convenience.
 */
struct vsp_unit {
	struct vsp_item *items;
	size_t nitems;
	struct vsp_rule **rules;
	size_t nrules;
	struct vsp_decl **decls;
	size_t ndecls;
	struct vsp_extern_decl **externs;
	size_t nexterns;
	struct vsp_source **sources;
	size_t nsources;
	struct vsp_action *def;	/* the default verdict, or NULL: allow */
	enum vsp_mode mode;	/* VSP_MODE_UNSET when no file sets it */
	/* `eval` in vsp repl: `return` takes a bool, an int or a string, on
	 * any event kind (the checker and the compiler read it). */
	bool eval;
};

void vsp_unit_free(struct vsp_unit *u);

/* Pieces, for the parser's error recovery and for tests.  Each frees what
 * it is given and everything under it; NULL is a no-op. */
void vsp_expr_free(struct vsp_expr *e);
void vsp_decl_free(struct vsp_decl *d);
void vsp_rule_free(struct vsp_rule *r);
void vsp_action_release(struct vsp_action *a);
void vsp_event_ref_release(struct vsp_event_ref *ev);
void vsp_pathspec_release(struct vsp_pathspec *ps);
void vsp_item_release(struct vsp_item *it);

#endif
