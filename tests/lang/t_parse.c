/*
 * t_parse.c: unit tests of the language front end on in-memory buffers.
 *
 * Drives lang/lexer.l, lang/parser.y, lang/front.c, lang/check.c,
 * lang/fields.c and lang/diag.c through their headers: the shape and
 * locations of the tree, literal values, name resolution and types after
 * checking, events and actions as the compiler will read them, field
 * resolution per event, diagnostics counts and printing, and survival of
 * hostile input (random bytes, deep nesting).  TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/catalog.h"
#include "lang/fields.h"
#include "lang/front.h"
#include "tests/tap.h"

struct res {
	struct vsp_diags d;
	struct vsp_unit *u;
	int check_errors;
	char *out;		/* printed diagnostics */
};

static void load(struct res *r, const char *text, bool check)
{
	size_t len = 0;
	FILE *m;

	vsp_diags_init(&r->d);
	r->u = vsp_front_load_buffer("t.vsp", text, strlen(text), &r->d);
	r->check_errors = check ? vsp_check(r->u, &r->d) : 0;
	r->out = NULL;
	m = open_memstream(&r->out, &len);
	vsp_diags_print(&r->d, m);
	fclose(m);
}

static void res_free(struct res *r)
{
	vsp_unit_free(r->u);
	vsp_diags_release(&r->d);
	free(r->out);
}

static struct vsp_expr *when_of(struct res *r, size_t rule)
{
	return rule < r->u->nrules ? r->u->rules[rule]->when : NULL;
}

static void test_precedence(void)
{
	struct res r;
	struct vsp_expr *e;

	load(&r, "on syscall read when fd == 1 or fd == 2 and not fd == 3: deny;",
	     true);
	e = when_of(&r, 0);
	ok(r.d.errors == 0, "precedence: checks clean");
	ok(e && e->kind == VSP_E_BINARY && e->u.op.op == VSP_OP_OR,
	   "'or' binds loosest");
	ok(e && e->u.op.b->u.op.op == VSP_OP_AND, "'and' under 'or'");
	ok(e && e->u.op.b->u.op.b->kind == VSP_E_UNARY &&
	   e->u.op.b->u.op.b->u.op.op == VSP_OP_NOT &&
	   e->u.op.b->u.op.b->u.op.a->u.op.op == VSP_OP_EQ,
	   "'not' takes a whole comparison");
	res_free(&r);

	load(&r, "on syscall read when fd + 2 * 3 << 1 & 7 | 8 ^ 9 == 0: deny;",
	     true);
	e = when_of(&r, 0);
	ok(e && e->u.op.op == VSP_OP_EQ, "comparison above bit operators");
	e = e ? e->u.op.a : NULL;
	ok(e && e->u.op.op == VSP_OP_BOR, "'|' below '^'");
	ok(e && e->u.op.b->u.op.op == VSP_OP_BXOR, "'^' under '|'");
	ok(e && e->u.op.a->u.op.op == VSP_OP_BAND, "'&' under '|'");
	ok(e && e->u.op.a->u.op.a->u.op.op == VSP_OP_SHL, "'<<' under '&'");
	ok(e && e->u.op.a->u.op.a->u.op.a->u.op.op == VSP_OP_ADD,
	   "'+' under '<<'");
	ok(e && e->u.op.a->u.op.a->u.op.a->u.op.b->u.op.op == VSP_OP_MUL,
	   "'*' under '+'");
	res_free(&r);

	load(&r, "on syscall openat when path not in [\"/a\"] and 10 - 4 - 3 == 3: deny;",
	     true);
	e = when_of(&r, 0);
	ok(e && e->u.op.a->u.op.op == VSP_OP_NOT_IN, "'not in' is one operator");
	ok(e && e->u.op.b->u.op.a->u.op.op == VSP_OP_SUB &&
	   e->u.op.b->u.op.a->u.op.a->kind == VSP_E_BINARY,
	   "'-' is left-associative");
	res_free(&r);

	load(&r, "on syscall read when 1 < fd < 3: deny;", true);
	ok(r.d.errors == 1 && strstr(r.out, "do not chain"),
	   "comparisons do not chain");
	res_free(&r);
}

static void test_literals(void)
{
	struct res r;
	struct vsp_decl **dl;

	load(&r, "const a = 0x_FF; const b = 0o17; const c = 0b1_0; "
		 "const d = 1_000; const e = -9223372036854775808; "
		 "const f = \"a\\0b\\x41\\n\"; const g = 9223372036854775807; "
		 "on syscall read when fd in [a, b, c, d, e, g] and len(f) == 5: deny;",
	     true);
	dl = r.u->decls;
	ok(r.d.errors == 0, "literals: check clean: %s", r.out);
	ok(r.u->ndecls == 7 && dl[0]->ival == 255, "hex with '_' after prefix");
	ok(r.u->ndecls == 7 && dl[1]->ival == 15, "octal");
	ok(r.u->ndecls == 7 && dl[2]->ival == 2, "binary with separator");
	ok(r.u->ndecls == 7 && dl[3]->ival == 1000, "decimal with separator");
	ok(r.u->ndecls == 7 && dl[4]->ival == INT64_MIN, "INT64_MIN literal");
	ok(r.u->ndecls == 7 && dl[5]->sval.len == 5 &&
	   memcmp(dl[5]->sval.ptr, "a\0bA\n", 5) == 0,
	   "escapes, NUL kept in a byte string");
	ok(r.u->ndecls == 7 && dl[6]->ival == INT64_MAX, "INT64_MAX literal");
	res_free(&r);

	load(&r, "const a = 9223372036854775808;", false);
	ok(r.d.errors == 1, "2^63 without '-' is out of range");
	res_free(&r);
	load(&r, "const a = 18446744073709551616;", false);
	ok(r.d.errors == 1, "2^64 overflows");
	res_free(&r);
	load(&r, "const a = 0x;\nconst b = 12ab;\nconst c = 1_;\nconst d = 0o8;", false);
	ok(r.d.errors == 4, "four malformed numbers, four errors (%d)",
	   r.d.errors);
	res_free(&r);
	load(&r, "const a = \"\\q\";\nconst b = \"\\x4\";\nconst c = \"abc", false);
	ok(r.d.errors == 3, "bad escape, short \\x, unterminated, no cascade (%d)",
	   r.d.errors);
	res_free(&r);
}

static void test_locations(void)
{
	struct res r;
	struct vsp_expr *e;

	load(&r, "# comment\n\ton syscall openat\n  when  path == \"/x\": deny;",
	     true);
	e = when_of(&r, 0);
	ok(e && e->loc.line == 3 && e->loc.col == 9 && e->loc.end_col == 20,
	   "binary node spans its operands (3:9-20)");
	ok(e && e->u.op.a->loc.col == 9 && e->u.op.a->loc.end_col == 12,
	   "name node spans the name");
	ok(r.u->nrules == 1 && r.u->rules[0]->loc.line == 2 &&
	   r.u->rules[0]->loc.col == 2, "rule located at 'on' after a tab");
	ok(r.u->nrules == 1 && r.u->rules[0]->events[0].loc.col == 5,
	   "event located at its kind");
	res_free(&r);

	load(&r, "\ton syscall opnat: deny;\n", true);
	ok(strstr(r.out, "t.vsp:1:5: error: unknown syscall 'opnat'; did you mean 'openat'?\n"
		  "    \ton syscall opnat: deny;\n"
		  "    \t   ^~~~~~~~~~~~~\n") != NULL,
	   "caret keeps tabs and spans the text");
	res_free(&r);
}

static void test_resolution(void)
{
	struct res r;
	struct vsp_expr *e;
	struct vsp_rule *rl;

	load(&r, "list l = [\"a\"]; macro m = proc.uid == 0; const k = 3;\n"
		 "on syscall openat when m and flags & O_CREAT != k and filename in l"
		 " and path != \"\": deny EACCES;",
	     true);
	/* the one warning: the lint on `path` of a syscall (language 1.1) */
	ok(r.d.errors == 0 && r.d.warnings == 1 &&
	   strstr(r.out, "warning: 'path' is the string the guest passed; "
		  "'on file open' decides on the file the kernel opens"),
	   "resolution: clean but for the path lint: %s", r.out);
	rl = r.u->rules[0];
	e = rl->when;
	/* ((m and (flags & O_CREAT != k)) and filename in l) and path != "" */
	ok(e->u.op.a->u.op.a->u.op.a->u.name.rkind == VSP_N_MACRO, "macro name");
	ok(e->u.op.a->u.op.a->u.op.b->u.op.a->u.op.b->u.name.rkind ==
	   VSP_N_SYMBOL &&
	   e->u.op.a->u.op.a->u.op.b->u.op.a->u.op.b->u.name.symval == 0100,
	   "O_CREAT is a symbol with its x86-64 value");
	ok(e->u.op.a->u.op.a->u.op.b->u.op.b->u.name.rkind == VSP_N_CONST,
	   "const name");
	ok(e->u.op.a->u.op.b->u.op.b->u.name.rkind == VSP_N_LIST &&
	   e->u.op.a->u.op.b->type == VSP_T_BOOL, "list name, 'in' is bool");
	ok(e->u.op.a->u.op.b->u.op.a->u.name.rkind == VSP_N_FIELD &&
	   e->u.op.a->u.op.b->u.op.a->type == VSP_T_STRING,
	   "named string argument is a string field");
	ok(rl->events[0].catalog >= 0 && rl->events[0].nr == 257,
	   "openat resolved to number 257");
	ok(rl->actions[0].errno_val == 13, "EACCES is 13");
	ok(r.u->decls[0]->type == VSP_T_LIST_STRING, "list type");
	ok(r.u->decls[1]->type == VSP_T_BOOL, "macro type");
	ok(r.u->decls[2]->type == VSP_T_INT && r.u->decls[2]->ival == 3,
	   "const folded");
	res_free(&r);

	load(&r, "macro three = 3;\nconst k = three + 1;\n"
		 "on syscall read when fd == k and three == 3: deny;", true);
	ok(r.d.errors == 0 && r.u->decls[1]->ival == 4,
	   "a const may use a macro that is constant: %s", r.out);
	res_free(&r);
	load(&r, "on syscall read when f == 0: deny;\nmacro f = proc.uid;\n"
		 "const k = f;\non syscall write when fd == k: deny;", true);
	ok(r.d.errors == 1 && strstr(r.out, "a const cannot read the field 'proc.uid'"),
	   "a macro used by a rule and a const is checked in each: %s", r.out);
	res_free(&r);

	load(&r, "on syscall read: deny;", true);
	ok(r.u->rules[0]->actions[0].errno_val == 1 &&
	   !r.u->rules[0]->actions[0].has_errno, "deny defaults to EPERM");
	res_free(&r);
}

static void test_events(void)
{
	struct res r;
	struct vsp_rule *rl;

	load(&r, "on syscall openat, open, sys_read: log;\n"
		 "on sys_write, kill: log;\n"
		 "on user \"libc.so.6\":system, popen: log;\n"
		 "on write sys_call_table[0..450], idt_table: log;\n"
		 "on hypercall mmu_update: log;\n"
		 "on kernel commit_creds: log;\n", true);
	ok(r.d.errors == 0, "events: clean: %s", r.out);
	rl = r.u->rules[0];
	ok(rl->nevents == 3 && rl->events[1].kind == VSP_EV_SYSCALL &&
	   !strcmp(rl->events[1].name, "open") &&
	   !strcmp(rl->events[2].name, "read"),
	   "bare names continue a syscall list; sys_ prefix dropped");
	rl = r.u->rules[1];
	ok(rl->nevents == 2 && !strcmp(rl->events[0].name, "write") &&
	   !strcmp(rl->events[1].name, "kill") &&
	   rl->events[1].kind == VSP_EV_SYSCALL, "sys_write, then keyword kill");
	rl = r.u->rules[2];
	ok(rl->nevents == 2 && rl->events[1].kind == VSP_EV_USER &&
	   !strcmp(rl->events[1].lib, "libc.so.6") &&
	   !strcmp(rl->events[1].name, "popen"), "user library carried over");
	rl = r.u->rules[3];
	ok(rl->events[0].lo == 0 && rl->events[0].hi == 450 &&
	   rl->events[1].lo == -1 && rl->events[1].kind == VSP_EV_WRITE,
	   "write ranges");
	rl = r.u->rules[4];
	ok(rl->events[0].kind == VSP_EV_HYPERCALL && rl->events[0].nr == 1,
	   "mmu_update is hypercall 1");
	ok(r.u->rules[5]->events[0].kind == VSP_EV_KERNEL &&
	   r.u->rules[5]->events[0].catalog == -1, "kernel function");
	ok(r.u->rules[3]->index == 3, "rule index in source order");
	res_free(&r);
}

static void test_fields(void)
{
	struct vsp_event_ref ev = { .kind = VSP_EV_SYSCALL, .name = "openat",
				    .catalog = -1, .lo = -1, .hi = -1 };
	enum vsp_field f;
	enum vsp_type t;
	const char *names[64];

	ok(vsp_field_resolve(&ev, "path", &f, &t) == 0 && f == VSP_F_PATH &&
	   t == VSP_T_STRING, "openat: path");
	ok(vsp_field_resolve(&ev, "filename", &f, &t) == 0 &&
	   f == VSP_F_STR1 && t == VSP_T_STRING, "openat: filename is STR1");
	ok(vsp_field_resolve(&ev, "flags", &f, &t) == 0 && f == VSP_F_ARG2 &&
	   t == VSP_T_INT, "openat: flags is ARG2");
	ok(vsp_field_resolve(&ev, "proc.comm", &f, &t) == 0 &&
	   f == VSP_F_COMM, "context field on a syscall");
	ok(vsp_field_resolve(&ev, "func", &f, &t) < 0, "no func on a syscall");
	ok(vsp_field_resolve(&ev, "stack", &f, &t) == 0 &&
	   t == VSP_T_LIST_STRING, "stack is a list of strings");
	ev.name = "read";
	ok(vsp_field_resolve(&ev, "path", &f, &t) < 0, "read: no path");
	ok(vsp_field_resolve(&ev, "count", &f, &t) == 0 && f == VSP_F_ARG2,
	   "read: count is ARG2");
	ev.kind = VSP_EV_HYPERCALL;
	ev.name = "mmu_update";
	ok(vsp_field_resolve(&ev, "foreigndom", &f, &t) == 0 &&
	   f == VSP_F_ARG3 && t == VSP_T_INT, "hypercall named argument");
	ok(vsp_field_resolve(&ev, "arg5", &f, &t) < 0,
	   "hypercalls have five arguments");
	ev.kind = VSP_EV_WRITE;
	ev.name = "sys_call_table";
	ok(vsp_field_resolve(&ev, "len", &f, &t) == 0 && f == VSP_F_LEN,
	   "write: len");
	ok(vsp_field_resolve(&ev, "nr", &f, &t) < 0, "write: no nr");
	ev.kind = VSP_EV_KERNEL;
	ok(vsp_field_resolve(&ev, "func", &f, &t) == 0 && f == VSP_F_FUNC &&
	   vsp_field_resolve(&ev, "arg5", &f, &t) == 0, "kernel: func, arg5");
	ok(vsp_field_names(&ev, names, 64) > 10 &&
	   vsp_field_names(&ev, names, 2) == 1 && names[1] == NULL,
	   "field names respect the array size");
	ok(vsp_field_known("foreigndom") && !vsp_field_known("nonsense"),
	   "known fields");
	ok(!strcmp(vsp_field_name(VSP_F_COMM), "proc.comm") &&
	   vsp_field_type(VSP_F_EVENT_PARTIAL) == VSP_T_BOOL, "field table");
}

static void test_actions(void)
{
	struct res r;
	struct vsp_rule *rl;
	struct vsp_pattern *p;

	load(&r, "rule \"x\" priority critical tags (\"a\", \"b\"):\n"
		 "on kernel commit_creds\n"
		 "must arise from \" __sys_setuid<-*  <- ** \", \"a\"\n"
		 ": kill, alert \"uid %{proc.uid}\", count \"c\";\n"
		 "on hypercall mmu_update must arise from profile \"p/m.paths\": deny 13;\n"
		 "on syscall openat: return -1, log;\n"
		 "default return 38;\nmode learn;\n",
	     true);
	ok(r.d.errors == 0, "actions: clean: %s", r.out);
	rl = r.u->rules[0];
	ok(rl->priority == VSP_PRIO_CRITICAL && rl->ntags == 2 &&
	   !strcmp(rl->tags[1], "b") && !strcmp(rl->name, "x"),
	   "name, priority and tags");
	p = rl->arise.patterns;
	ok(rl->arise.present && rl->arise.npatterns == 2 && p[0].nframes == 3 &&
	   !strcmp(p[0].frames[0], "__sys_setuid") &&
	   !strcmp(p[0].frames[1], "*") && !strcmp(p[0].frames[2], "**"),
	   "patterns split into trimmed frames, innermost first");
	ok(rl->nactions == 3 && rl->actions[1].effect == VSP_EFF_ALERT &&
	   rl->actions[2].is_count && !strcmp(rl->actions[2].str, "c"),
	   "effects");
	rl = r.u->rules[1];
	ok(rl->arise.is_profile && !strcmp(rl->arise.profile_path, "p/m.paths"),
	   "profile path beside a file in the current directory");
	ok(rl->actions[0].errno_val == 13, "numeric errno");
	rl = r.u->rules[2];
	ok(rl->actions[0].verdict == VSP_V_RETURN &&
	   rl->actions[0].value->kind == VSP_E_INT &&
	   rl->actions[0].value->u.ival == -1, "return value folded from -1");
	ok(r.u->def && r.u->def->verdict == VSP_V_RETURN, "default verdict");
	ok(r.u->mode == VSP_MODE_LEARN, "mode");
	res_free(&r);
}

static void test_lists(void)
{
	struct res r;
	struct vsp_expr *l;

	load(&r, "const p = \"/etc\"; list l = [p, \"/x\"];\n"
		 "on syscall openat when flags in [O_RDONLY, 1 + 1] and path in l: deny;",
	     true);
	ok(r.d.errors == 0, "lists: clean: %s", r.out);
	l = r.u->decls[1]->value;
	ok(l->u.list.items[0]->kind == VSP_E_STRING &&
	   !strcmp(l->u.list.items[0]->u.str.ptr, "/etc"),
	   "const item folded to its string");
	l = r.u->rules[0]->when->u.op.a->u.op.b;
	ok(l->kind == VSP_E_LIST && l->u.list.items[1]->kind == VSP_E_INT &&
	   l->u.list.items[1]->u.ival == 2 &&
	   l->u.list.items[0]->kind == VSP_E_INT, "inline list items folded");
	res_free(&r);
}

static void test_errors(void)
{
	struct res r;

	load(&r, "on syscall openat when : deny;\nconst = 3;\n"
		 "on syscall read: deny EPERM EACCES;\non syscall write: allow;\n",
	     true);
	ok(r.d.errors == 3, "three syntax errors in one run (%d)", r.d.errors);
	ok(r.u->nrules == 1, "the good rule survives recovery");
	res_free(&r);

	load(&r, "on syscall read when fd == \"x\" or nosuch == 1 or fd: deny;",
	     true);
	ok(r.d.errors == 2, "type errors do not cascade (%d): %s", r.d.errors,
	   r.out);
	res_free(&r);

	load(&r, "macro a = b; macro b = c; macro c = a;\n"
		 "on syscall read when a: deny;\non syscall write when b: deny;",
	     true);
	ok(r.d.errors == 1 && strstr(r.out, "macro cycle: a -> b -> c -> a"),
	   "one macro cycle, reported once: %s", r.out);
	res_free(&r);

	load(&r, "policy \"p\" version 1;\nimport \"/nonexistent/x.vsp\";\n", true);
	ok(r.d.errors == 1 && strstr(r.out, "cannot import"), "missing import");
	res_free(&r);

	load(&r, "on syscall read: deny;\non syscall read when fd == 1: allow;\n",
	     true);
	ok(r.d.errors == 0 && r.d.warnings == 1 &&
	   strstr(r.out, "note: the rule on line 1"), "shadowed rule warning: %s",
	   r.out);
	res_free(&r);
}

/* `import "NAME";` finds NAME.vsp in the pack directories, the first one
 * that has it; a path still means a file; a name found nowhere names the
 * places searched. */
static void test_import_packs(void)
{
	char d1[] = "/tmp/vsp-t-pack1-XXXXXX", d2[] = "/tmp/vsp-t-pack2-XXXXXX";
	char p1[256], p2[256], main[256], env[600], *searched = NULL, *found;
	struct vsp_diags d;
	struct vsp_unit *u;
	const char *files[1];
	FILE *f;

	if (!mkdtemp(d1) || !mkdtemp(d2)) {
		ok(0, "mkdtemp");
		return;
	}
	ok(vsp_front_is_pack_name("credentials") &&
	   vsp_front_is_pack_name("exec-hygiene") &&
	   !vsp_front_is_pack_name("credentials.vsp") &&
	   !vsp_front_is_pack_name("common.inc") &&
	   !vsp_front_is_pack_name("./credentials") &&
	   !vsp_front_is_pack_name("/x/credentials") &&
	   !vsp_front_is_pack_name(""), "pack names: letters, digits, - and _ only");
	snprintf(p1, sizeof p1, "%s/mypack.vsp", d1);
	f = fopen(p1, "w");
	fputs("on syscall read: log;\n", f);
	fclose(f);
	snprintf(p2, sizeof p2, "%s/mypack.vsp", d2);
	f = fopen(p2, "w");
	fputs("on syscall write: log;\non syscall close: log;\n", f);
	fclose(f);
	snprintf(main, sizeof main, "%s/main.vsp", d1);
	f = fopen(main, "w");
	fputs("import \"mypack\";\n", f);
	fclose(f);
	files[0] = main;

	/* VSP_POLICY_PATH, in order: the first directory with the pack wins */
	snprintf(env, sizeof env, "/nonexistent-dir:%s:%s", d2, d1);
	setenv("VSP_POLICY_PATH", env, 1);
	vsp_diags_init(&d);
	u = vsp_front_load(files, 1, &d);
	ok(u && d.errors == 0 && u->nrules == 2 &&
	   !strcmp(u->rules[0]->events[0].name, "write"),
	   "VSP_POLICY_PATH: the first directory holding the pack is used");
	vsp_unit_free(u);
	vsp_diags_release(&d);

	/* an added directory comes before VSP_POLICY_PATH */
	ok(vsp_front_add_dir(d1) == 0, "add a pack directory");
	vsp_diags_init(&d);
	u = vsp_front_load(files, 1, &d);
	ok(u && d.errors == 0 && u->nrules == 1 &&
	   !strcmp(u->rules[0]->events[0].name, "read"),
	   "--policy-path directories are searched before VSP_POLICY_PATH");
	vsp_unit_free(u);
	vsp_diags_release(&d);
	found = vsp_front_find_pack("mypack", NULL);
	ok(found && !strcmp(found, p1), "find_pack: %s", found ? found : "(null)");
	free(found);
	vsp_front_clear_dirs();

	/* not found: the error names every directory searched */
	unsetenv("VSP_POLICY_PATH");
	f = fopen(main, "w");
	fputs("import \"no-such-pack\";\n", f);
	fclose(f);
	setenv("VSP_POLICY_PATH", d2, 1);
	vsp_diags_init(&d);
	u = vsp_front_load(files, 1, &d);
	ok(d.errors == 1 && d.n && strstr(d.v[0].msg, "cannot import 'no-such-pack': no pack "
					  "'no-such-pack.vsp' in ") &&
	   strstr(d.v[0].msg, d2) && strstr(d.v[0].msg, VSP_POLICY_DEFAULT_DIR) &&
	   d.v[0].loc.line == 1 && d.v[0].loc.col == 8,
	   "unknown pack: located, names the directories: %s", d.n ? d.v[0].msg : "");
	vsp_unit_free(u);
	vsp_diags_release(&d);
	ok(!vsp_front_find_pack("no-such-pack", &searched) && searched &&
	   strstr(searched, d2), "find_pack: the places searched");
	free(searched);
	unsetenv("VSP_POLICY_PATH");

	/* a path with a '/' or a .vsp name is still a file beside the importer */
	f = fopen(main, "w");
	fputs("import \"mypack.vsp\";\n", f);
	fclose(f);
	vsp_diags_init(&d);
	u = vsp_front_load(files, 1, &d);
	ok(u && d.errors == 0 && u->nrules == 1 &&
	   !strcmp(u->rules[0]->events[0].name, "read"), "a .vsp name is a path");
	vsp_unit_free(u);
	vsp_diags_release(&d);
	unlink(p1);
	unlink(p2);
	unlink(main);
	rmdir(d1);
	rmdir(d2);
}

static void test_imports(void)
{
	char dir[] = "/tmp/vsp-t-parse-XXXXXX", path[256], main[256];
	struct vsp_diags d;
	struct vsp_unit *u;
	const char *files[2];
	FILE *f;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/lib.vsp", dir);
	f = fopen(path, "w");
	fputs("const x = 1;\non syscall read when fd == x: log;\n", f);
	fclose(f);
	snprintf(main, sizeof main, "%s/main.vsp", dir);
	f = fopen(main, "w");
	fputs("import \"lib.vsp\";\non syscall write: allow;\nimport \"lib.vsp\";\n", f);
	fclose(f);
	files[0] = main;
	files[1] = path;
	vsp_diags_init(&d);
	u = vsp_front_load(files, 2, &d);
	ok(u && vsp_check(u, &d) == 0 && d.errors == 0, "imports: clean");
	ok(u && u->nrules == 2 && u->rules[0]->events[0].kind == VSP_EV_SYSCALL &&
	   !strcmp(u->rules[0]->events[0].name, "read"),
	   "imported file inlined where it stands, once");
	ok(u && u->nsources == 2, "two sources kept for diagnostics");
	vsp_unit_free(u);
	vsp_diags_release(&d);

	f = fopen(path, "w");
	fputs("import \"main.vsp\";\n", f);
	fclose(f);
	vsp_diags_init(&d);
	u = vsp_front_load(files, 1, &d);
	ok(d.errors == 1 &&
	   !strcmp(d.v[0].msg, "import cycle: main.vsp -> lib.vsp -> main.vsp"),
	   "import cycle names the chain relative to its first file: %s", d.n ? d.v[0].msg : "");
	vsp_unit_free(u);
	vsp_diags_release(&d);
	unlink(path);
	unlink(main);
	rmdir(dir);

	vsp_diags_init(&d);
	files[0] = "/nonexistent/policy.vsp";
	u = vsp_front_load(files, 1, &d);
	ok(!u && d.errors == 1, "unreadable file: NULL and one error");
	vsp_diags_release(&d);
}

/* Random bytes and mutations of a real policy: never a crash or a hang. */
static void test_hostile(void)
{
	static const char base[] =
		"policy \"p\" version 1;\nlist l = [\"/etc/**\", \"/x\"];\n"
		"macro m = proc.uid == 0 and path matches l;\n"
		"rule \"r\" priority high tags (\"t\"):\non syscall openat, open "
		"when m or flags & O_CREAT != 0 must arise from \"a <- **\""
		": deny EACCES, alert \"%{proc.comm}\";\n";
	static const char alphabet[] = "\"\\#[](){}<>=!-~+*/%&|^,.:;0x_aZ \n\t\xff";
	char buf[sizeof base + 64], *deep;
	struct res r;
	unsigned seed = 12345, i, j, survived = 0;
	size_t n;

	for (i = 0; i < 3000; i++) {
		memcpy(buf, base, sizeof base);
		n = sizeof base - 1;
		for (j = 0; j < 1 + i % 8; j++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % n] =
				alphabet[(seed >> 20) % (sizeof alphabet - 1)];
		}
		vsp_diags_init(&r.d);
		r.u = vsp_front_load_buffer("fuzz.vsp", buf, n, &r.d);
		vsp_check(r.u, &r.d);
		vsp_unit_free(r.u);
		vsp_diags_release(&r.d);
		survived++;
	}
	ok(survived == 3000, "3000 mutated policies parsed and checked");

	n = 200000;
	deep = malloc(n + 64);
	strcpy(deep, "on syscall read when ");
	for (j = strlen(deep); j < n; j++)
		deep[j] = '(';
	strcpy(deep + n, "fd: deny;");
	load(&r, deep, true);
	ok(r.d.errors >= 1, "100000 nested parentheses: an error, no crash");
	res_free(&r);
	strcpy(deep, "on syscall read when fd == 1");
	for (j = strlen(deep); j + 5 < n; j += 5)
		memcpy(deep + j, " or x", 5);
	strcpy(deep + j, ": deny;");
	load(&r, deep, true);
	ok(r.d.errors >= 1 && strstr(r.out, "nested too deeply"),
	   "a 40000-term chain is refused before it gets deep");
	res_free(&r);
	free(deep);

	vsp_diags_init(&r.d);
	r.u = vsp_front_load_buffer("nul.vsp", "const a\0= 1;", 12, &r.d);
	ok(r.d.errors >= 1, "a NUL byte in the source is an error");
	vsp_unit_free(r.u);
	vsp_diags_release(&r.d);
}

int main(void)
{
	test_precedence();
	test_literals();
	test_locations();
	test_resolution();
	test_events();
	test_fields();
	test_actions();
	test_lists();
	test_errors();
	test_imports();
	test_import_packs();
	test_hostile();
	return done();
}
