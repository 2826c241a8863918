/*
 * parser.y: the grammar of .vsp files (language reference §3).
 *
 * A pure bison parser fed by the reentrant scanner in lang/lexer.l.  It
 * builds the syntax tree of lang/ast.h, one item at a time, into the
 * struct vsp_parse the front end (lang/front.c) hands it; every node gets
 * the location of the text it came from.  Names are not resolved here:
 * that is the checker's job (lang/check.c).  A syntax error is reported
 * with the tokens that could have come instead, and the parser skips to
 * the next ';' so one run reports every broken item.
 */
%define api.pure full
%define api.prefix {vsp_yy}
%define api.location.type {struct vsp_loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0

%param {yyscan_t scanner}
%parse-param {struct vsp_parse *ps}

%code requires {
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lang/ast.h"
#include "lang/diag.h"

/* A string literal as the scanner decoded it: bytes and length. */
struct vsp_strlit {
	char *ptr;
	uint32_t len;
};

/* A growable array of pointers, for the lists inside one item. */
struct vsp_pvec {
	void **v;
	size_t n, cap;
	void (*free_elem)(void *);
};

/* `rule "name" priority ... tags (...)`, before the rule exists. */
struct vsp_rattrs {
	char *name;
	struct vsp_loc name_loc;	/* `rule "name"` */
	enum vsp_priority priority;
	bool has_priority, has_tags;
	struct vsp_pvec *tags;
};

/* What one file's parse needs and produces. */
struct vsp_parse {
	struct vsp_diags *d;
	const char *file;	/* interned: locations point here */
	int line, col;		/* the scanner's position */
	int last_tok;		/* the scanner's previous token */
	bool oom;
	struct vsp_item *items;	/* output, in source order */
	size_t nitems, cap;
};

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A range from the first symbol's start to the last one's end; an empty
 * rule sits where the previous symbol ended. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                        \
	do {                                                               \
		if (N) {                                                   \
			(Cur).file = YYRHSLOC(Rhs, 1).file;                \
			(Cur).line = YYRHSLOC(Rhs, 1).line;                \
			(Cur).col = YYRHSLOC(Rhs, 1).col;                  \
			(Cur).end_line = YYRHSLOC(Rhs, N).end_line;        \
			(Cur).end_col = YYRHSLOC(Rhs, N).end_col;          \
		} else {                                                   \
			(Cur) = YYRHSLOC(Rhs, 0);                          \
			(Cur).line = (Cur).end_line;                       \
			(Cur).col = (Cur).end_col;                         \
		}                                                          \
	} while (0)
}

%code provides {
/*
 * Parses one file held in memory; items are appended to ps->items and
 * errors go to ps->d.  Returns the number of errors found while parsing.
 */
int vsp_parse_buffer(struct vsp_parse *ps, const char *text, size_t len);
}

%union {
	int64_t ival;
	char *id;
	struct vsp_strlit str;
	struct vsp_expr *expr;
	struct vsp_pvec *vec;
	struct vsp_event_ref *ev;
	struct vsp_action *act;
	struct vsp_rattrs *attrs;
	struct vsp_pathspec *spec;
	struct vsp_extern_decl *ext;
	int kw;
}

%code {
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/catalog.h"
#define YYSTYPE VSP_YYSTYPE
#define YYLTYPE VSP_YYLTYPE
#include "lang/lexer.h"

static void yyerror(const YYLTYPE *loc, yyscan_t scanner,
		    struct vsp_parse *ps, const char *msg);

static void *p_alloc(size_t n);
static char *p_strdup(const char *s);
static struct vsp_pvec *pvec_new(void (*free_elem)(void *));
static void pvec_push(struct vsp_pvec *v, void *p);
static void pvec_free(struct vsp_pvec *v);
static struct vsp_item *p_item(struct vsp_parse *ps, enum vsp_item_kind kind,
			       const YYLTYPE *loc);
static struct vsp_expr *p_expr(enum vsp_expr_kind kind, const YYLTYPE *loc);
static struct vsp_expr *p_binary(struct vsp_parse *ps, enum vsp_op op,
				 struct vsp_expr *a, struct vsp_expr *b,
				 const YYLTYPE *loc);
static struct vsp_expr *p_unary(struct vsp_parse *ps, enum vsp_op op,
				struct vsp_expr *a, const YYLTYPE *loc);
static struct vsp_expr *p_list(struct vsp_pvec *items, const YYLTYPE *loc);
static struct vsp_expr *p_name(char *id, const YYLTYPE *loc);
static void p_decl(struct vsp_parse *ps, enum vsp_decl_kind kind, char *name,
		   const YYLTYPE *name_loc, struct vsp_expr *value,
		   const YYLTYPE *loc);
static struct vsp_event_ref *p_event(enum vsp_event_kind kind, char *name,
				     const YYLTYPE *loc);
static void p_event_free(void *p);
static void p_event_first(struct vsp_parse *ps, struct vsp_event_ref *ev);
static void p_event_next(struct vsp_parse *ps, const struct vsp_event_ref *prev,
			 struct vsp_event_ref *ev);
static struct vsp_action *p_verdict(enum vsp_verdict v, const YYLTYPE *loc);
static struct vsp_action *p_effect(enum vsp_effect_kind k, bool is_count,
				   struct vsp_strlit *msg, const YYLTYPE *loc);
static void p_action_free(void *p);
static void p_attrs_free(struct vsp_rattrs *a);
static void p_spec_free(struct vsp_pathspec *s);
static void p_rule(struct vsp_parse *ps, struct vsp_rattrs *attrs,
		   const YYLTYPE *on_loc, struct vsp_pvec *events,
		   struct vsp_expr *when, struct vsp_pathspec *arise,
		   struct vsp_pvec *actions);
static char *p_cstr(struct vsp_parse *ps, struct vsp_strlit *s,
		    const YYLTYPE *loc, const char *what);
static void p_strlit_free(void *p);
static struct vsp_strlit *p_located(char *id, const YYLTYPE *loc);
static void p_ext_attr(struct vsp_parse *ps, struct vsp_extern_decl *x,
		       char *attr, const YYLTYPE *loc, bool has_n, int64_t n,
		       const YYLTYPE *nloc);
static void p_extern(struct vsp_parse *ps, struct vsp_strlit *lib,
		     const YYLTYPE *lib_loc, char *fn, const YYLTYPE *fn_loc,
		     char *name, const YYLTYPE *name_loc, struct vsp_pvec *args,
		     char *ret, const YYLTYPE *ret_loc, struct vsp_extern_decl *x,
		     const YYLTYPE *loc);

/* A binary or unary node; a tree too deep for the later stages ends the
 * item (p_binary/p_unary already reported it and freed the operands). */
#define BIN(op, out, a, b, loc)                                            \
	do {                                                               \
		(out) = p_binary(ps, (op), (a), (b), (loc));               \
		if (!(out))                                                \
			YYERROR;                                           \
	} while (0)
}

%initial-action {
	@$.file = ps->file;
	@$.line = @$.col = @$.end_line = @$.end_col = 1;
}

%token <id> IDENT "identifier"
%token <ival> INT "integer"
%token <str> STRING "string"
%token POLICY "policy" VERSION "version" IMPORT "import" CONST "const"
%token LIST "list" MACRO "macro" DEFAULT "default" MODE "mode" RULE "rule"
%token PRIORITY "priority" TAGS "tags" ON "on" WHEN "when" MUST "must"
%token ARISE "arise" FROM "from" PROFILE "profile"
%token AND "and" OR "or" NOT "not" IN "in" NOTIN "not in"
%token MATCHES "matches" STARTSWITH "startswith" ENDSWITH "endswith"
%token CONTAINS "contains"
%token ALLOW "allow" DENY "deny" REDIRECT "redirect" RETURN "return"
%token KILL "kill" PAUSE "pause" LOG "log" ALERT "alert" COUNT "count"
%token TRUE "true" FALSE "false"
%token SYSCALL "syscall" HYPERCALL "hypercall" KERNEL "kernel" USER "user"
%token WRITE "write" ENFORCE "enforce" MONITOR "monitor" LEARN "learn"
%token EQ "==" NE "!=" LE "<=" GE ">=" SHL "<<" SHR ">>" DOTDOT ".."
%token EXTERN "extern" ARROW "->"

%type <expr> expr primary listlit
%type <vec> exprs events actions strings types opt_types
%type <ext> ext_attrs
%type <ev> event
%type <act> action verdict effect
%type <attrs> rulehead attrs
%type <spec> opt_arise
%type <id> anyname fieldkw
%type <expr> opt_when
%type <kw> modekind

%destructor { free($$); } <id>
%destructor { free($$.ptr); } <str>
%destructor { vsp_expr_free($$); } <expr>
%destructor { pvec_free($$); } <vec>
%destructor { p_event_free($$); } <ev>
%destructor { p_action_free($$); } <act>
%destructor { p_attrs_free($$); } <attrs>
%destructor { p_spec_free($$); } <spec>
%destructor { free($$); } <ext>
%destructor { } <ival> <kw>

%left OR
%left AND
%precedence NOT
%nonassoc EQ NE '<' LE '>' GE IN NOTIN MATCHES STARTSWITH ENDSWITH CONTAINS
%left '|'
%left '^'
%left '&'
%left SHL SHR
%left '+' '-'
%left '*' '/' '%'
%precedence NEG

%%

file
	: %empty
	| file item
	;

item
	: POLICY STRING ';'
		{
			struct vsp_item *it = p_item(ps, VSP_I_HEADER, &@$);
			it->u.header.name = p_cstr(ps, &$2, &@2, "a policy name");
		}
	| POLICY STRING VERSION INT ';'
		{
			struct vsp_item *it = p_item(ps, VSP_I_HEADER, &@$);
			it->u.header.name = p_cstr(ps, &$2, &@2, "a policy name");
			it->u.header.version = $4;
			it->u.header.has_version = true;
		}
	| IMPORT STRING ';'
		{
			struct vsp_item *it = p_item(ps, VSP_I_IMPORT, &@$);
			it->loc = @2;
			it->u.import.path = p_cstr(ps, &$2, &@2, "a file name");
		}
	| CONST IDENT '=' expr ';'
		{ p_decl(ps, VSP_D_CONST, $2, &@2, $4, &@$); }
	| LIST IDENT '=' listlit ';'
		{ p_decl(ps, VSP_D_LIST, $2, &@2, $4, &@$); }
	| MACRO IDENT '=' expr ';'
		{ p_decl(ps, VSP_D_MACRO, $2, &@2, $4, &@$); }
	| DEFAULT verdict ';'
		{
			struct vsp_item *it = p_item(ps, VSP_I_DEFAULT, &@$);
			it->u.def = *$2;
			free($2);
		}
	| MODE modekind ';'
		{
			struct vsp_item *it = p_item(ps, VSP_I_MODE, &@$);
			it->u.mode = (enum vsp_mode)$2;
		}
	| rulehead ON events opt_when opt_arise ':' actions ';'
		{ p_rule(ps, $1, &@2, $3, $4, $5, $7); }
	| EXTERN STRING IDENT IDENT '(' opt_types ')' ARROW IDENT ext_attrs ';'
		{ p_extern(ps, &$2, &@2, $3, &@3, $4, &@4, $6, $9, &@9, $10, &@$); }
	| error ';'
		{ yyerrok; }
	;

modekind
	: ENFORCE	{ $$ = VSP_MODE_ENFORCE; }
	| MONITOR	{ $$ = VSP_MODE_MONITOR; }
	| LEARN		{ $$ = VSP_MODE_LEARN; }
	;

rulehead
	: %empty	{ $$ = NULL; }
	| RULE STRING attrs ':'
		{
			$$ = $3;
			$$->name = p_cstr(ps, &$2, &@2, "a rule name");
			$$->name_loc = @1;
			$$->name_loc.end_line = @2.end_line;
			$$->name_loc.end_col = @2.end_col;
		}
	;

attrs
	: %empty
		{
			$$ = p_alloc(sizeof *$$);
			$$->tags = pvec_new(free);
		}
	| attrs PRIORITY IDENT
		{
			static const char *const names[] = {
				"low", "medium", "high", "critical" };
			size_t i;

			$$ = $1;
			if ($$->has_priority)
				vsp_diag_error(ps->d, &@2,
					       "the rule already has a priority");
			$$->has_priority = true;
			for (i = 0; i < 4; i++)
				if (strcmp($3, names[i]) == 0)
					break;
			if (i < 4) {
				$$->priority = (enum vsp_priority)(VSP_PRIO_LOW + i);
			} else {
				const char *s = vsp_suggest($3, names, 4);

				if (s)
					vsp_diag_error(ps->d, &@3,
						       "unknown priority '%s'; did you mean '%s'?",
						       $3, s);
				else
					vsp_diag_error(ps->d, &@3,
						       "unknown priority '%s' (use low, medium, high or critical)",
						       $3);
			}
			free($3);
		}
	| attrs TAGS '(' strings ')'
		{
			size_t i;

			$$ = $1;
			if ($$->has_tags)
				vsp_diag_error(ps->d, &@2,
					       "the rule already has tags");
			$$->has_tags = true;
			for (i = 0; i < $4->n; i++) {
				struct vsp_strlit *s = $4->v[i];

				pvec_push($$->tags, p_strdup(s->ptr));
			}
			pvec_free($4);
		}
	;

events
	: event
		{
			p_event_first(ps, $1);
			$$ = pvec_new(p_event_free);
			pvec_push($$, $1);
		}
	| events ',' event
		{
			$$ = $1;
			p_event_next(ps, $$->v[$$->n - 1], $3);
			pvec_push($$, $3);
		}
	;

event
	: SYSCALL anyname	{ $$ = p_event(VSP_EV_SYSCALL, $2, &@$); }
	| HYPERCALL anyname	{ $$ = p_event(VSP_EV_HYPERCALL, $2, &@$); }
	| KERNEL anyname	{ $$ = p_event(VSP_EV_KERNEL, $2, &@$); }
	| USER STRING ':' anyname
		{
			$$ = p_event(VSP_EV_USER, $4, &@$);
			$$->lib = p_cstr(ps, &$2, &@2, "a library name");
			if (!$$->lib[0])
				vsp_diag_error(ps->d, &@2,
					       "the library name is empty");
		}
	| WRITE anyname		{ $$ = p_event(VSP_EV_WRITE, $2, &@$); }
	| WRITE anyname '[' INT DOTDOT INT ']'
		{
			$$ = p_event(VSP_EV_WRITE, $2, &@$);
			$$->lo = $4;
			$$->hi = $6;
			if ($4 > $6)
				vsp_diag_error(ps->d, &@4,
					       "empty range [%lld..%lld]: the first index is larger than the last",
					       (long long)$4, (long long)$6);
		}
	| IDENT
		{
			/* a bare name: its kind is settled by `events` */
			$$ = p_event(VSP_EV_SYSCALL, $1, &@$);
			$$->catalog = -3;
		}
	| IDENT anyname
		{
			/* An event kind that is no keyword of the lexer
			 * (base/kinds.h), or a misspelt one: `on syscal
			 * openat`. */
			enum vsp_event_kind k;

			if (vsp_event_kind_parse($1, &k) == 0) {
				$$ = p_event(k, $2, &@$);
			} else {
				const char *s = vsp_suggest($1,
					vsp_event_kind_name_list,
					VSP_EV_KIND_COUNT);
				char kinds[128];

				$$ = p_event(VSP_EV_SYSCALL, $2, &@$);
				$$->catalog = -2;	/* reported: not an event */
				if (s)
					vsp_diag_error(ps->d, &@1,
						       "unknown event kind '%s'; did you mean '%s'?",
						       $1, s);
				else
					vsp_diag_error(ps->d, &@1,
						       "unknown event kind '%s' (the kinds are %s)",
						       $1, vsp_event_kind_names(kinds,
							       sizeof kinds, "and"));
			}
			free($1);
		}
	/* syscalls named like keywords, in `on syscall read, write, kill` */
	| WRITE
		{
			$$ = p_event(VSP_EV_SYSCALL, p_strdup("write"), &@$);
			$$->catalog = -3;
		}
	| KILL
		{
			$$ = p_event(VSP_EV_SYSCALL, p_strdup("kill"), &@$);
			$$->catalog = -3;
		}
	| PAUSE
		{
			$$ = p_event(VSP_EV_SYSCALL, p_strdup("pause"), &@$);
			$$->catalog = -3;
		}
	;

/* Event names may be keywords: `syscall write`, `syscall kill`. */
anyname
	: IDENT		{ $$ = $1; }
	| fieldkw	{ $$ = $1; }
	| WRITE		{ $$ = p_strdup("write"); }
	| KILL		{ $$ = p_strdup("kill"); }
	| PAUSE		{ $$ = p_strdup("pause"); }
	| ALLOW		{ $$ = p_strdup("allow"); }
	| DENY		{ $$ = p_strdup("deny"); }
	| RETURN	{ $$ = p_strdup("return"); }
	| REDIRECT	{ $$ = p_strdup("redirect"); }
	| LOG		{ $$ = p_strdup("log"); }
	| ALERT		{ $$ = p_strdup("alert"); }
	| VERSION	{ $$ = p_strdup("version"); }
	| IMPORT	{ $$ = p_strdup("import"); }
	| CONST		{ $$ = p_strdup("const"); }
	| MACRO		{ $$ = p_strdup("macro"); }
	| DEFAULT	{ $$ = p_strdup("default"); }
	| RULE		{ $$ = p_strdup("rule"); }
	| PROFILE	{ $$ = p_strdup("profile"); }
	| LEARN		{ $$ = p_strdup("learn"); }
	| MONITOR	{ $$ = p_strdup("monitor"); }
	;

/* Keywords that are also argument names (open's `mode`, read's `count`,
 * chown's `user`, listxattr's `list`, sched_setscheduler's `policy`,
 * ioperm's `from`): in an expression they are fields. */
fieldkw
	: MODE		{ $$ = p_strdup("mode"); }
	| COUNT		{ $$ = p_strdup("count"); }
	| USER		{ $$ = p_strdup("user"); }
	| LIST		{ $$ = p_strdup("list"); }
	| POLICY	{ $$ = p_strdup("policy"); }
	| FROM		{ $$ = p_strdup("from"); }
	;

opt_when
	: %empty	{ $$ = NULL; }
	| WHEN expr	{ $$ = $2; }
	;

opt_arise
	: %empty
		{ $$ = NULL; }
	| MUST ARISE FROM strings
		{
			size_t i;

			$$ = p_alloc(sizeof *$$);
			$$->present = true;
			$$->loc = @$;
			$$->patterns = p_alloc($4->n * sizeof *$$->patterns);
			for (i = 0; i < $4->n; i++) {
				struct vsp_strlit *s = $4->v[i];
				struct vsp_pattern *pt = &$$->patterns[i];

				pt->text = p_strdup(s->ptr);
				pt->loc = *(struct vsp_loc *)(s + 1);
				if (strlen(s->ptr) != s->len)
					vsp_diag_error(ps->d, &pt->loc,
						       "a call-path pattern cannot contain a NUL byte");
			}
			$$->npatterns = $4->n;
			pvec_free($4);
		}
	| MUST ARISE FROM PROFILE STRING
		{
			$$ = p_alloc(sizeof *$$);
			$$->present = true;
			$$->is_profile = true;
			$$->loc = @5;
			$$->profile = p_cstr(ps, &$5, &@5, "a profile file name");
			if (!$$->profile[0])
				vsp_diag_error(ps->d, &@5,
					       "the profile file name is empty");
		}
	;

/* Each element is a struct vsp_strlit followed by its location. */
strings
	: STRING
		{
			struct vsp_strlit *s = p_alloc(sizeof *s + sizeof(struct vsp_loc));

			*s = $1;
			*(struct vsp_loc *)(s + 1) = @1;
			$$ = pvec_new(p_strlit_free);
			pvec_push($$, s);
		}
	| strings ',' STRING
		{
			struct vsp_strlit *s = p_alloc(sizeof *s + sizeof(struct vsp_loc));

			*s = $3;
			*(struct vsp_loc *)(s + 1) = @3;
			$$ = $1;
			pvec_push($$, s);
		}
	;

/* extern: argument types and attributes; each type a located name. */
opt_types
	: %empty	{ $$ = pvec_new(p_strlit_free); }
	| types		{ $$ = $1; }
	;

types
	: IDENT
		{
			$$ = pvec_new(p_strlit_free);
			pvec_push($$, p_located($1, &@1));
		}
	| types ',' IDENT
		{
			$$ = $1;
			pvec_push($$, p_located($3, &@3));
		}
	;

ext_attrs
	: %empty	{ $$ = p_alloc(sizeof *$$); }
	| ext_attrs IDENT
		{ $$ = $1; p_ext_attr(ps, $$, $2, &@2, false, 0, NULL); }
	| ext_attrs IDENT INT
		{ $$ = $1; p_ext_attr(ps, $$, $2, &@2, true, $3, &@3); }
	;

actions
	: action		{ $$ = pvec_new(p_action_free); pvec_push($$, $1); }
	| actions ',' action	{ $$ = $1; pvec_push($$, $3); }
	;

action
	: verdict	{ $$ = $1; }
	| effect	{ $$ = $1; }
	;

verdict
	: ALLOW		{ $$ = p_verdict(VSP_V_ALLOW, &@$); }
	| DENY		{ $$ = p_verdict(VSP_V_DENY, &@$); }
	| DENY IDENT
		{
			$$ = p_verdict(VSP_V_DENY, &@$);
			$$->errno_name = $2;
			$$->has_errno = true;
		}
	| DENY INT
		{
			$$ = p_verdict(VSP_V_DENY, &@$);
			$$->errno_val = $2;
			$$->has_errno = true;
		}
	| REDIRECT STRING
		{
			$$ = p_verdict(VSP_V_REDIRECT, &@$);
			$$->str = $2.ptr;
			$$->str_len = $2.len;
		}
	| RETURN expr
		{
			$$ = p_verdict(VSP_V_RETURN, &@$);
			$$->value = $2;
		}
	| KILL		{ $$ = p_verdict(VSP_V_KILL, &@$); }
	| PAUSE		{ $$ = p_verdict(VSP_V_PAUSE, &@$); }
	;

effect
	: LOG		{ $$ = p_effect(VSP_EFF_LOG, false, NULL, &@$); }
	| LOG STRING	{ $$ = p_effect(VSP_EFF_LOG, false, &$2, &@$); }
	| ALERT		{ $$ = p_effect(VSP_EFF_ALERT, false, NULL, &@$); }
	| ALERT STRING	{ $$ = p_effect(VSP_EFF_ALERT, false, &$2, &@$); }
	| COUNT		{ $$ = p_effect(VSP_EFF_COUNT_, true, NULL, &@$); }
	| COUNT STRING	{ $$ = p_effect(VSP_EFF_COUNT_, true, &$2, &@$); }
	;

expr
	: expr OR expr		{ BIN(VSP_OP_OR, $$, $1, $3, &@$); }
	| expr AND expr		{ BIN(VSP_OP_AND, $$, $1, $3, &@$); }
	| NOT expr
		{
			$$ = p_unary(ps, VSP_OP_NOT, $2, &@$);
			if (!$$)
				YYERROR;
		}
	| expr EQ expr		{ BIN(VSP_OP_EQ, $$, $1, $3, &@$); }
	| expr NE expr		{ BIN(VSP_OP_NE, $$, $1, $3, &@$); }
	| expr '<' expr		{ BIN(VSP_OP_LT, $$, $1, $3, &@$); }
	| expr LE expr		{ BIN(VSP_OP_LE, $$, $1, $3, &@$); }
	| expr '>' expr		{ BIN(VSP_OP_GT, $$, $1, $3, &@$); }
	| expr GE expr		{ BIN(VSP_OP_GE, $$, $1, $3, &@$); }
	| expr IN expr		{ BIN(VSP_OP_IN, $$, $1, $3, &@$); }
	| expr NOTIN expr	{ BIN(VSP_OP_NOT_IN, $$, $1, $3, &@$); }
	| expr MATCHES expr	{ BIN(VSP_OP_MATCHES, $$, $1, $3, &@$); }
	| expr STARTSWITH expr	{ BIN(VSP_OP_STARTSWITH, $$, $1, $3, &@$); }
	| expr ENDSWITH expr	{ BIN(VSP_OP_ENDSWITH, $$, $1, $3, &@$); }
	| expr CONTAINS expr	{ BIN(VSP_OP_CONTAINS, $$, $1, $3, &@$); }
	| expr '|' expr		{ BIN(VSP_OP_BOR, $$, $1, $3, &@$); }
	| expr '^' expr		{ BIN(VSP_OP_BXOR, $$, $1, $3, &@$); }
	| expr '&' expr		{ BIN(VSP_OP_BAND, $$, $1, $3, &@$); }
	| expr SHL expr		{ BIN(VSP_OP_SHL, $$, $1, $3, &@$); }
	| expr SHR expr		{ BIN(VSP_OP_SHR, $$, $1, $3, &@$); }
	| expr '+' expr		{ BIN(VSP_OP_ADD, $$, $1, $3, &@$); }
	| expr '-' expr		{ BIN(VSP_OP_SUB, $$, $1, $3, &@$); }
	| expr '*' expr		{ BIN(VSP_OP_MUL, $$, $1, $3, &@$); }
	| expr '/' expr		{ BIN(VSP_OP_DIV, $$, $1, $3, &@$); }
	| expr '%' expr		{ BIN(VSP_OP_MOD, $$, $1, $3, &@$); }
	| '-' expr %prec NEG
		{
			if ($2->kind == VSP_E_INT) {
				/* fold, wrapping: -9223372036854775808 */
				$$ = $2;
				$$->u.ival = (int64_t)(0 - (uint64_t)$$->u.ival);
				$$->loc.line = @1.line;
				$$->loc.col = @1.col;
			} else {
				$$ = p_unary(ps, VSP_OP_NEG, $2, &@$);
				if (!$$)
					YYERROR;
			}
		}
	| '~' expr %prec NEG
		{
			$$ = p_unary(ps, VSP_OP_BNOT, $2, &@$);
			if (!$$)
				YYERROR;
		}
	| primary		{ $$ = $1; }
	;

primary
	: INT
		{
			$$ = p_expr(VSP_E_INT, &@$);
			$$->u.ival = $1;
		}
	| STRING
		{
			$$ = p_expr(VSP_E_STRING, &@$);
			$$->u.str.ptr = $1.ptr;
			$$->u.str.len = $1.len;
		}
	| TRUE
		{
			$$ = p_expr(VSP_E_BOOL, &@$);
			$$->u.bval = true;
		}
	| FALSE
		{
			$$ = p_expr(VSP_E_BOOL, &@$);
			$$->u.bval = false;
		}
	| IDENT			{ $$ = p_name($1, &@$); }
	| fieldkw		{ $$ = p_name($1, &@$); }
	| IDENT '(' ')'
		{
			$$ = p_expr(VSP_E_CALL, &@$);
			$$->u.call.fn = $1;
		}
	| IDENT '(' exprs ')'
		{
			size_t i;

			$$ = p_expr(VSP_E_CALL, &@$);
			$$->u.call.fn = $1;
			$$->u.call.args = (struct vsp_expr **)$3->v;
			$$->u.call.n = $3->n;
			for (i = 0; i < $3->n; i++)
				if ($$->depth <= $$->u.call.args[i]->depth)
					$$->depth = $$->u.call.args[i]->depth + 1;
			$3->v = NULL;
			$3->n = 0;
			pvec_free($3);
		}
	| '(' expr ')'		{ $$ = $2; }
	| listlit		{ $$ = $1; }
	;

listlit
	: '[' ']'		{ $$ = p_list(NULL, &@$); }
	| '[' exprs ']'		{ $$ = p_list($2, &@$); }
	| '[' exprs ',' ']'	{ $$ = p_list($2, &@$); }
	;

exprs
	: expr			{ $$ = pvec_new((void (*)(void *))vsp_expr_free); pvec_push($$, $1); }
	| exprs ',' expr	{ $$ = $1; pvec_push($$, $3); }
	;

%%

static void *p_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		fputs("vsp: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *p_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(p_alloc(n), s, n);
}

/* An element of `strings`: a literal followed by its location. */
static void p_strlit_free(void *p)
{
	struct vsp_strlit *s = p;

	if (s)
		free(s->ptr);
	free(s);
}

static struct vsp_pvec *pvec_new(void (*free_elem)(void *))
{
	struct vsp_pvec *v = p_alloc(sizeof *v);

	v->free_elem = free_elem;
	return v;
}

static void pvec_push(struct vsp_pvec *v, void *p)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 4;
		void **nv = realloc(v->v, cap * sizeof *nv);

		if (!nv) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = p;
}

static void pvec_free(struct vsp_pvec *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++)
		if (v->free_elem)
			v->free_elem(v->v[i]);
	free(v->v);
	free(v);
}

static struct vsp_item *p_item(struct vsp_parse *ps, enum vsp_item_kind kind,
			       const YYLTYPE *loc)
{
	struct vsp_item *it;

	if (ps->nitems == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		struct vsp_item *v = realloc(ps->items, cap * sizeof *v);

		if (!v) {
			fputs("vsp: out of memory\n", stderr);
			abort();
		}
		ps->items = v;
		ps->cap = cap;
	}
	it = &ps->items[ps->nitems++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	it->loc = *loc;
	return it;
}

static struct vsp_expr *p_expr(enum vsp_expr_kind kind, const YYLTYPE *loc)
{
	struct vsp_expr *e = p_alloc(sizeof *e);

	e->kind = kind;
	e->loc = *loc;
	e->type = VSP_T_ERROR;
	e->depth = 1;
	return e;
}

static bool p_too_deep(struct vsp_parse *ps, uint32_t depth,
		       const YYLTYPE *loc)
{
	if (depth <= VSP_MAX_DEPTH)
		return false;
	vsp_diag_error(ps->d, loc,
		       "expression nested too deeply (more than %d levels)",
		       VSP_MAX_DEPTH);
	return true;
}

static struct vsp_expr *p_binary(struct vsp_parse *ps, enum vsp_op op,
				 struct vsp_expr *a, struct vsp_expr *b,
				 const YYLTYPE *loc)
{
	uint32_t depth = (a->depth > b->depth ? a->depth : b->depth) + 1;
	struct vsp_expr *e;

	if (p_too_deep(ps, depth, loc)) {
		vsp_expr_free(a);
		vsp_expr_free(b);
		return NULL;
	}
	e = p_expr(VSP_E_BINARY, loc);
	e->u.op.op = op;
	e->u.op.a = a;
	e->u.op.b = b;
	e->depth = depth;
	return e;
}

static struct vsp_expr *p_unary(struct vsp_parse *ps, enum vsp_op op,
				struct vsp_expr *a, const YYLTYPE *loc)
{
	struct vsp_expr *e;

	if (p_too_deep(ps, a->depth + 1, loc)) {
		vsp_expr_free(a);
		return NULL;
	}
	e = p_expr(VSP_E_UNARY, loc);
	e->u.op.op = op;
	e->u.op.a = a;
	e->depth = a->depth + 1;
	return e;
}

static struct vsp_expr *p_list(struct vsp_pvec *items, const YYLTYPE *loc)
{
	struct vsp_expr *e = p_expr(VSP_E_LIST, loc);
	size_t i;

	if (!items)
		return e;
	e->u.list.items = (struct vsp_expr **)items->v;
	e->u.list.n = items->n;
	for (i = 0; i < items->n; i++)
		if (e->depth <= e->u.list.items[i]->depth)
			e->depth = e->u.list.items[i]->depth + 1;
	items->v = NULL;
	items->n = 0;
	pvec_free(items);
	return e;
}

static struct vsp_expr *p_name(char *id, const YYLTYPE *loc)
{
	struct vsp_expr *e = p_expr(VSP_E_NAME, loc);

	e->u.name.id = id;
	return e;
}

/* A NUL-terminated copy of a string literal for places that hold names;
 * a NUL byte inside is an error (the name would be cut there). */
static char *p_cstr(struct vsp_parse *ps, struct vsp_strlit *s,
		    const YYLTYPE *loc, const char *what)
{
	if (strlen(s->ptr) != s->len)
		vsp_diag_error(ps->d, loc, "%s cannot contain a NUL byte",
			       what);
	return s->ptr;
}

/* A name with its location, in the layout `strings` uses. */
static struct vsp_strlit *p_located(char *id, const YYLTYPE *loc)
{
	struct vsp_strlit *s = p_alloc(sizeof *s + sizeof(struct vsp_loc));

	s->ptr = id;
	s->len = (uint32_t)strlen(id);
	*(struct vsp_loc *)(s + 1) = *loc;
	return s;
}

/* The highest cost an extern may declare: far above any real lookup, and
 * low enough that a program's step bound stays meaningful. */
#define P_MAX_COST 1000000

static void p_ext_attr(struct vsp_parse *ps, struct vsp_extern_decl *x,
		       char *attr, const YYLTYPE *loc, bool has_n, int64_t n,
		       const YYLTYPE *nloc)
{
	int errors = ps->d->errors;

	if (strcmp(attr, "pure") == 0 && !has_n) {
		if (x->pure)
			vsp_diag_error(ps->d, loc, "the extern is already declared pure");
		x->pure = true;
	} else if (strcmp(attr, "cost") == 0 && has_n) {
		if (x->has_cost)
			vsp_diag_error(ps->d, loc, "the extern already has a cost");
		else if (n < 1 || n > P_MAX_COST)
			vsp_diag_error(ps->d, nloc,
				       "cost %lld out of range (1 to %d steps)",
				       (long long)n, P_MAX_COST);
		x->has_cost = true;
		x->cost = n;
	} else if (strcmp(attr, "cost") == 0) {
		vsp_diag_error(ps->d, loc,
			       "'cost' takes a number of steps: cost 20");
	} else {
		vsp_diag_error(ps->d, has_n ? nloc : loc,
			       "unexpected '%s' after the result type (write 'pure' or 'cost N')",
			       attr);
	}
	if (ps->d->errors != errors)
		x->bad = true;
	free(attr);
}

static bool p_type(struct vsp_parse *ps, const char *id, const YYLTYPE *loc,
		   enum vsp_type *out)
{
	static const char *const names[] = { "int", "bool", "string" };
	static const enum vsp_type types[] = {
		VSP_T_INT, VSP_T_BOOL, VSP_T_STRING };
	const char *s;

	for (size_t i = 0; i < 3; i++)
		if (strcmp(id, names[i]) == 0) {
			*out = types[i];
			return true;
		}
	s = vsp_suggest(id, names, 3);
	if (s)
		vsp_diag_error(ps->d, loc, "unknown type '%s'; did you mean '%s'?",
			       id, s);
	else
		vsp_diag_error(ps->d, loc,
			       "unknown type '%s' (an extern takes and returns int, bool or string)",
			       id);
	return false;
}

/* Takes lib's bytes, fn, name, args, ret and x. */
static void p_extern(struct vsp_parse *ps, struct vsp_strlit *lib,
		     const YYLTYPE *lib_loc, char *fn, const YYLTYPE *fn_loc,
		     char *name, const YYLTYPE *name_loc, struct vsp_pvec *args,
		     char *ret, const YYLTYPE *ret_loc, struct vsp_extern_decl *x,
		     const YYLTYPE *loc)
{
	struct vsp_item *it = p_item(ps, VSP_I_EXTERN, loc);

	it->u.ext = x;
	x->lib = p_cstr(ps, lib, lib_loc, "a library name");
	x->lib_loc = *lib_loc;
	x->name = name;
	x->loc = *name_loc;
	x->item_loc = *loc;
	if (!x->has_cost)
		x->cost = 100;
	if (strcmp(fn, "fn") != 0) {
		vsp_diag_error(ps->d, fn_loc,
			       "expected 'fn' after the library name, not '%s'", fn);
		x->bad = true;
	}
	if (!x->lib[0]) {
		vsp_diag_error(ps->d, lib_loc, "the library name is empty");
		x->bad = true;
	}
	if (strchr(name, '.')) {
		vsp_diag_error(ps->d, name_loc,
			       "an extern function name cannot contain '.'");
		x->bad = true;
	}
	for (size_t i = 0; i < args->n; i++) {
		struct vsp_strlit *a = args->v[i];
		const struct vsp_loc *al = (const struct vsp_loc *)(a + 1);

		if (i == VSP_EXTERN_MAX_ARGS) {
			vsp_diag_error(ps->d, al,
				       "an extern takes at most %d arguments",
				       VSP_EXTERN_MAX_ARGS);
			x->bad = true;
			break;
		}
		if (!p_type(ps, a->ptr, al, &x->args[i]))
			x->bad = true;
	}
	x->nargs = args->n > VSP_EXTERN_MAX_ARGS ? VSP_EXTERN_MAX_ARGS : args->n;
	if (!p_type(ps, ret, ret_loc, &x->ret))
		x->bad = true;
	free(fn);
	free(ret);
	pvec_free(args);
}

static void p_decl(struct vsp_parse *ps, enum vsp_decl_kind kind, char *name,
		   const YYLTYPE *name_loc, struct vsp_expr *value,
		   const YYLTYPE *loc)
{
	struct vsp_item *it = p_item(ps, VSP_I_DECL, loc);
	struct vsp_decl *d = p_alloc(sizeof *d);

	d->kind = kind;
	d->name = name;
	d->loc = *name_loc;
	d->value = value;
	d->type = VSP_T_ERROR;
	it->u.decl = d;
	if (strchr(name, '.'))
		vsp_diag_error(ps->d, name_loc,
			       "a %s name cannot contain '.' (dotted names are fields)",
			       kind == VSP_D_CONST ? "const" :
			       kind == VSP_D_LIST ? "list" : "macro");
}

static struct vsp_event_ref *p_event(enum vsp_event_kind kind, char *name,
				     const YYLTYPE *loc)
{
	struct vsp_event_ref *ev = p_alloc(sizeof *ev);

	ev->kind = kind;
	ev->name = name;
	ev->lo = ev->hi = -1;
	ev->catalog = -1;
	ev->loc = *loc;
	return ev;
}

/*
 * A bare name first in the list: `sys_openat` is `syscall openat`;
 * anything else is an error (catalog -2: reported, skip it later).
 */
static void p_event_first(struct vsp_parse *ps, struct vsp_event_ref *ev)
{
	const char *n = ev->name;

	if (ev->catalog != -3)
		return;
	ev->catalog = -1;
	if (strncmp(n, "sys_", 4) == 0 && n[4] && !strchr(n, '.')) {
		memmove(ev->name, n + 4, strlen(n + 4) + 1);
		return;
	}
	ev->catalog = -2;
	vsp_diag_error(ps->d, &ev->loc,
		       "'%s' is not an event; write 'syscall %s', 'sys_%s', 'kernel %s', ...",
		       n, n, n, n);
}

/* A bare name after a comma names another event of the previous kind:
 * `on syscall openat, open`, `on user "libc.so.6":system, popen`. */
static void p_event_next(struct vsp_parse *ps, const struct vsp_event_ref *prev,
			 struct vsp_event_ref *ev)
{
	if (ev->catalog != -3)
		return;
	if (prev->catalog == -2) {
		ev->catalog = -2;	/* the list's kind was reported */
		return;
	}
	ev->catalog = -1;
	ev->kind = prev->kind;
	if (prev->lib)
		ev->lib = p_strdup(prev->lib);
	if (ev->kind == VSP_EV_SYSCALL && strncmp(ev->name, "sys_", 4) == 0 &&
	    ev->name[4])
		memmove(ev->name, ev->name + 4, strlen(ev->name + 4) + 1);
}

static void p_event_free(void *p)
{
	vsp_event_ref_release(p);
	free(p);
}

static struct vsp_action *p_verdict(enum vsp_verdict v, const YYLTYPE *loc)
{
	struct vsp_action *a = p_alloc(sizeof *a);

	a->kind = VSP_A_VERDICT;
	a->verdict = v;
	a->loc = *loc;
	a->errno_val = 1;	/* EPERM until the checker resolves it */
	return a;
}

static struct vsp_action *p_effect(enum vsp_effect_kind k, bool is_count,
				   struct vsp_strlit *msg, const YYLTYPE *loc)
{
	struct vsp_action *a = p_alloc(sizeof *a);

	a->kind = VSP_A_EFFECT;
	a->effect = k;
	a->is_count = is_count;
	a->loc = *loc;
	if (msg) {
		a->str = msg->ptr;
		a->str_len = msg->len;
	}
	return a;
}

static void p_action_free(void *p)
{
	vsp_action_release(p);
	free(p);
}

static void p_attrs_free(struct vsp_rattrs *a)
{
	if (!a)
		return;
	free(a->name);
	pvec_free(a->tags);
	free(a);
}

static void p_spec_free(struct vsp_pathspec *s)
{
	if (!s)
		return;
	vsp_pathspec_release(s);
	free(s);
}

static void p_rule(struct vsp_parse *ps, struct vsp_rattrs *attrs,
		   const YYLTYPE *on_loc, struct vsp_pvec *events,
		   struct vsp_expr *when, struct vsp_pathspec *arise,
		   struct vsp_pvec *actions)
{
	struct vsp_rule *r = p_alloc(sizeof *r);
	struct vsp_item *it;
	size_t i;

	r->loc = *on_loc;
	if (attrs) {
		r->name = attrs->name;
		attrs->name = NULL;
		r->loc = attrs->name_loc;
		r->priority = attrs->priority;
		r->ntags = attrs->tags->n;
		r->tags = (char **)attrs->tags->v;
		attrs->tags->v = NULL;
		attrs->tags->n = 0;
		p_attrs_free(attrs);
	}
	r->events = p_alloc(events->n * sizeof *r->events);
	for (i = 0; i < events->n; i++) {
		r->events[i] = *(struct vsp_event_ref *)events->v[i];
		free(events->v[i]);
	}
	r->nevents = events->n;
	events->n = 0;
	pvec_free(events);
	r->when = when;
	if (arise) {
		r->arise = *arise;
		free(arise);
	}
	r->actions = p_alloc(actions->n * sizeof *r->actions);
	for (i = 0; i < actions->n; i++) {
		r->actions[i] = *(struct vsp_action *)actions->v[i];
		free(actions->v[i]);
	}
	r->nactions = actions->n;
	actions->n = 0;
	pvec_free(actions);
	it = p_item(ps, VSP_I_RULE, &r->loc);
	it->u.rule = r;
}

static void yyerror(const YYLTYPE *loc, yyscan_t scanner,
		    struct vsp_parse *ps, const char *msg)
{
	(void)scanner;
	if (strstr(msg, "exhausted"))
		vsp_diag_error(ps->d, loc,
			       "the file is nested too deeply to parse");
	else
		vsp_diag_error(ps->d, loc, "%s", msg);
}

/* How a token reads in a message: keywords and punctuation quoted. */
static const char *p_tok_name(yysymbol_kind_t sym, char *buf, size_t size)
{
	const char *n;

	switch (sym) {
	case YYSYMBOL_YYEOF: return "end of file";
	case YYSYMBOL_IDENT: return "identifier";
	case YYSYMBOL_INT: return "integer";
	case YYSYMBOL_STRING: return "string";
	case YYSYMBOL_YYUNDEF: return "invalid token";
	default: break;
	}
	n = yysymbol_name(sym);
	if (n[0] == '\'')
		return n;		/* punctuation: already quoted */
	snprintf(buf, size, "'%s'", n);
	return buf;
}

static bool p_starts_expr(yysymbol_kind_t s)
{
	switch (s) {
	case YYSYMBOL_INT: case YYSYMBOL_STRING: case YYSYMBOL_IDENT:
	case YYSYMBOL_TRUE: case YYSYMBOL_FALSE: case YYSYMBOL_NOT:
	case YYSYMBOL_MODE: case YYSYMBOL_COUNT: case YYSYMBOL_USER:
	case YYSYMBOL_LIST: case YYSYMBOL_POLICY: case YYSYMBOL_FROM:
		return true;
	default:
		/* punctuation symbols are numbered by bison: go by name */
		return strchr("([-~", yysymbol_name(s)[1]) &&
		       yysymbol_name(s)[0] == '\'';
	}
}

/* Binary operators: after a complete expression they are all possible,
 * and listing them helps nobody. */
static bool p_is_operator(yysymbol_kind_t s)
{
	const char *n;

	switch (s) {
	case YYSYMBOL_OR: case YYSYMBOL_AND: case YYSYMBOL_IN:
	case YYSYMBOL_NOTIN: case YYSYMBOL_MATCHES: case YYSYMBOL_STARTSWITH:
	case YYSYMBOL_ENDSWITH: case YYSYMBOL_CONTAINS: case YYSYMBOL_EQ:
	case YYSYMBOL_NE: case YYSYMBOL_LE: case YYSYMBOL_GE: case YYSYMBOL_SHL:
	case YYSYMBOL_SHR:
		return true;
	default:
		n = yysymbol_name(s);
		return n[0] == '\'' && n[1] && strchr("<>|^&+-*/%", n[1]);
	}
}

static bool p_is_comparison(yysymbol_kind_t s)
{
	const char *n;

	switch (s) {
	case YYSYMBOL_IN: case YYSYMBOL_NOTIN: case YYSYMBOL_MATCHES:
	case YYSYMBOL_STARTSWITH: case YYSYMBOL_ENDSWITH: case YYSYMBOL_CONTAINS:
	case YYSYMBOL_EQ: case YYSYMBOL_NE: case YYSYMBOL_LE: case YYSYMBOL_GE:
		return true;
	default:
		n = yysymbol_name(s);
		return n[0] == '\'' && (n[1] == '<' || n[1] == '>');
	}
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner,
				 struct vsp_parse *ps)
{
	yysymbol_kind_t exp[YYNTOKENS];
	yysymbol_kind_t la = yypcontext_token(ctx);
	const YYLTYPE *loc = yypcontext_location(ctx);
	char msg[512], name[64];
	const char *parts[8];
	char partbuf[8][64];
	size_t np = 0, i, len;
	int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
	bool expr = false, paren = false, oper = false, anyname = false;
	bool item = false, action = false, errno_ = false, ident = false;
	bool effect = false;

	(void)scanner;
	if (la == YYSYMBOL_YYUNDEF)
		return 0;	/* the scanner already reported it */
	if (n < 0)
		n = 0;
	for (i = 0; i < (size_t)n; i++) {
		const char *sn = yysymbol_name(exp[i]);

		if (exp[i] == YYSYMBOL_INT)
			expr = true;
		if (sn[0] == '\'' && sn[1] == '(')
			paren = true;
		if (exp[i] == YYSYMBOL_KILL && n > 10)
			anyname = true;
		if (exp[i] == YYSYMBOL_RULE && n > 6)
			item = true;
		if (exp[i] == YYSYMBOL_OR)
			oper = true;
		if (exp[i] == YYSYMBOL_ALLOW)
			action = true;
		if (exp[i] == YYSYMBOL_LOG)
			effect = true;
		if (exp[i] == YYSYMBOL_IDENT)
			ident = true;
	}
	/* after `deny`: a name or number, which is an errno */
	errno_ = expr && ident && !paren;
	expr = expr && paren;
	if (oper && p_is_comparison(la)) {
		vsp_diag_error(ps->d, loc,
			       "unexpected %s: comparisons do not chain (write 'a < b and b < c')",
			       p_tok_name(la, name, sizeof name));
		return 0;
	}
	if (anyname) {
		parts[np++] = "a name";
	} else if (item) {
		parts[np++] = "a declaration or a rule";
	} else if (action) {
		parts[np++] = effect ? "a verdict or an effect" : "a verdict";
	} else {
		if (errno_)
			parts[np++] = "an errno";
		if (expr)
			parts[np++] = "an expression";
		for (i = 0; i < (size_t)n && np < 7; i++) {
			if (expr && p_starts_expr(exp[i]))
				continue;
			if (oper && p_is_operator(exp[i]))
				continue;
			if (errno_ && (exp[i] == YYSYMBOL_IDENT ||
				       exp[i] == YYSYMBOL_INT))
				continue;
			parts[np] = p_tok_name(exp[i], partbuf[np],
					       sizeof partbuf[np]);
			np++;
		}
		if (oper)
			parts[np++] = "an operator";
	}
	len = (size_t)snprintf(msg, sizeof msg, "unexpected %s",
			       p_tok_name(la, name, sizeof name));
	if (np && np <= 5) {
		for (i = 0; i < np && len < sizeof msg; i++)
			len += (size_t)snprintf(msg + len, sizeof msg - len,
						"%s%s",
						i == 0 ? ", expecting " :
						i + 1 == np ? " or " : ", ",
						parts[i]);
	}
	/* `list deny = ...`: say why a word is not a name */
	if (n == 1 && exp[0] == YYSYMBOL_IDENT && len < sizeof msg &&
	    yysymbol_name(la)[0] >= 'a' && yysymbol_name(la)[0] <= 'z' &&
	    la != YYSYMBOL_IDENT && la != YYSYMBOL_INT &&
	    la != YYSYMBOL_STRING && la != YYSYMBOL_YYEOF)
		snprintf(msg + len, sizeof msg - len,
			 " ('%s' is a reserved word)", yysymbol_name(la));
	vsp_diag_error(ps->d, loc, "%s", msg);
	return 0;
}

int vsp_parse_buffer(struct vsp_parse *ps, const char *text, size_t len)
{
	yyscan_t scanner;
	YY_BUFFER_STATE buf;
	int before = ps->d->errors;

	ps->line = 1;
	ps->col = 1;
	ps->last_tok = 0;
	if (vsp_yylex_init_extra(ps, &scanner)) {
		vsp_diag_error(ps->d, NULL, "cannot start the scanner");
		return 1;
	}
	buf = vsp_yy_scan_bytes(text, (int)len, scanner);
	vsp_yyparse(scanner, ps);
	vsp_yy_delete_buffer(buf, scanner);
	vsp_yylex_destroy(scanner);
	return ps->d->errors - before;
}
