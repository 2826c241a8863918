/*
 * peers.c: the benchmark's rules in C, classic BPF (via libseccomp and
 * libpcap) and Lua 5.4.  See peers.h.
 */
#include "bench/peers.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <pcap/bpf.h>
#include <seccomp.h>
#include <linux/audit.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>


/*
 * Workload (a): what a web server never needs.  Most entries deny a call
 * outright; the rest look at one or two integer arguments.  A condition
 * is (arg & mask) == k, or != k when `ne`; mask ~0 means no mask.  One
 * rule per syscall, so every contender's "first match" is the same rule.
 */
struct cond {
	int arg;
	uint64_t mask;
	int64_t k;
	bool ne;
};

struct web_rule {
	int nr;
	const char *name;
	int err;
	int ncond;
	struct cond c[2];
};

#define ALL ~0ull
#define TIOCSTI_ 0x5412
#define MADV_HWPOISON_ 100

static const struct web_rule web_rules[BENCH_NRULES] = {
	{ SYS_ptrace, "ptrace", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_init_module, "init_module", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_finit_module, "finit_module", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_delete_module, "delete_module", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_mount, "mount", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_umount2, "umount2", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_pivot_root, "pivot_root", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_bpf, "bpf", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_kexec_load, "kexec_load", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_kexec_file_load, "kexec_file_load", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_reboot, "reboot", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_swapon, "swapon", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_swapoff, "swapoff", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_acct, "acct", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_settimeofday, "settimeofday", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_clock_settime, "clock_settime", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_adjtimex, "adjtimex", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_sethostname, "sethostname", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_setdomainname, "setdomainname", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_iopl, "iopl", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_ioperm, "ioperm", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_perf_event_open, "perf_event_open", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_userfaultfd, "userfaultfd", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_process_vm_writev, "process_vm_writev", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_process_vm_readv, "process_vm_readv", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_keyctl, "keyctl", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_add_key, "add_key", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_request_key, "request_key", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_syslog, "syslog", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_chroot, "chroot", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_open_by_handle_at, "open_by_handle_at", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_name_to_handle_at, "name_to_handle_at", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_setns, "setns", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_clone3, "clone3", ENOSYS, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_uselib, "uselib", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_quotactl, "quotactl", EPERM, 0, {{ 0, 0, 0, false }, { 0, 0, 0, false }} },
	{ SYS_openat, "openat", EACCES, 2,
	  {{ 2, O_CREAT, O_CREAT, false }, { 0, ALL, AT_FDCWD, true }} },
	{ SYS_socket, "socket", EACCES, 1, {{ 0, ALL, 17, false }} },
	{ SYS_kill, "kill", EPERM, 2, {{ 1, ALL, 9, false }, { 0, ALL, 1, false }} },
	{ SYS_setuid, "setuid", EPERM, 1, {{ 0, ALL, 0, false }} },
	{ SYS_setgid, "setgid", EPERM, 1, {{ 0, ALL, 0, false }} },
	{ SYS_unshare, "unshare", EPERM, 1, {{ 0, CLONE_NEWUSER, 0, true }} },
	{ SYS_clone, "clone", EPERM, 1, {{ 0, CLONE_NEWUSER, 0, true }} },
	{ SYS_personality, "personality", EPERM, 1, {{ 0, ALL, 0x0400000, false }} },
	{ SYS_mprotect, "mprotect", EACCES, 1,
	  {{ 2, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC, false }} },
	{ SYS_mmap, "mmap", EACCES, 1,
	  {{ 2, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC, false }} },
	{ SYS_ioctl, "ioctl", EPERM, 1, {{ 1, ALL, TIOCSTI_, false }} },
	{ SYS_fchmodat, "fchmodat", EPERM, 1, {{ 2, 06000, 0, true }} },
	{ SYS_madvise, "madvise", EPERM, 1, {{ 2, ALL, MADV_HWPOISON_, false }} },
	{ SYS_tkill, "tkill", EPERM, 1, {{ 1, ALL, 9, false }} },
};

static const char *errname(int e)
{
	return e == EPERM ? "EPERM" : e == EACCES ? "EACCES" : "ENOSYS";
}

char *bench_policy_text(void)
{
	size_t size = 256 + BENCH_NRULES * 160;
	char *text = malloc(size), *w = text;

	if (!text)
		return NULL;
	w += sprintf(w, "policy \"web\" version 1;\n");
	for (int i = 0; i < BENCH_NRULES; i++) {
		const struct web_rule *r = &web_rules[i];

		w += sprintf(w, "on syscall %s", r->name);
		for (int k = 0; k < r->ncond; k++) {
			const struct cond *c = &r->c[k];

			w += sprintf(w, " %s ", k ? "and" : "when");
			if (c->mask == ALL)
				w += sprintf(w, "arg%d", c->arg);
			else
				w += sprintf(w, "arg%d & %llu", c->arg, (unsigned long long)c->mask);
			w += sprintf(w, " %s %lld", c->ne ? "!=" : "==", (long long)c->k);
		}
		w += sprintf(w, ": deny %s;\n", errname(r->err));
	}
	return text;
}

/* ------------------------------------------------------------------ C */

/* Written out by hand, the way one would in a C monitor. */
int bench_c(const struct bench_ev *e)
{
	const int64_t *a = e->args;
	switch (e->nr) {
	case SYS_ptrace: case SYS_init_module: case SYS_finit_module:
	case SYS_delete_module: case SYS_mount: case SYS_umount2:
	case SYS_pivot_root: case SYS_bpf: case SYS_kexec_load:
	case SYS_kexec_file_load: case SYS_reboot: case SYS_swapon:
	case SYS_swapoff: case SYS_acct: case SYS_settimeofday:
	case SYS_clock_settime: case SYS_adjtimex: case SYS_sethostname:
	case SYS_setdomainname: case SYS_iopl: case SYS_ioperm:
	case SYS_perf_event_open: case SYS_userfaultfd:
	case SYS_process_vm_writev: case SYS_process_vm_readv: case SYS_keyctl:
	case SYS_add_key: case SYS_request_key: case SYS_syslog: case SYS_chroot:
	case SYS_open_by_handle_at: case SYS_name_to_handle_at: case SYS_setns:
	case SYS_uselib: case SYS_quotactl:
		return EPERM;
	case SYS_clone3:
		return ENOSYS;
	case SYS_openat:
		return (a[2] & O_CREAT) && a[0] != AT_FDCWD ? EACCES : 0;
	case SYS_socket:
		return a[0] == 17 ? EACCES : 0;
	case SYS_kill:
		return a[1] == 9 && a[0] == 1 ? EPERM : 0;
	case SYS_setuid:
	case SYS_setgid:
		return a[0] == 0 ? EPERM : 0;
	case SYS_unshare:
	case SYS_clone:
		return a[0] & CLONE_NEWUSER ? EPERM : 0;
	case SYS_personality:
		return a[0] == 0x0400000 ? EPERM : 0;
	case SYS_mprotect:
	case SYS_mmap:
		return (a[2] & (PROT_WRITE | PROT_EXEC)) == (PROT_WRITE | PROT_EXEC)
			       ? EACCES : 0;
	case SYS_ioctl:
		return a[1] == TIOCSTI_ ? EPERM : 0;
	case SYS_fchmodat:
		return a[2] & 06000 ? EPERM : 0;
	case SYS_madvise:
		return a[2] == MADV_HWPOISON_ ? EPERM : 0;
	case SYS_tkill:
		return a[1] == 9 ? EPERM : 0;
	}
	return 0;
}

/* ---------------------------------------------------------- seccomp BPF */

static struct bpf_insn *bpf_prog;
static lua_State *L;
static int lua_fn;
static unsigned bpf_n;

unsigned bench_bpf_len(void)
{
	return bpf_n;
}

int bench_bpf_init(const char **err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		*err = "seccomp_init failed";
		return -1;
	}
	/* The binary-tree layout: what a tuned deployment would use. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	int r = 0;
	for (int i = 0; i < BENCH_NRULES; i++) {
		const struct web_rule *wr = &web_rules[i];
		struct scmp_arg_cmp a[2];

		for (int k = 0; k < wr->ncond; k++) {
			const struct cond *c = &wr->c[k];

			if (c->mask == ALL)
				a[k] = (struct scmp_arg_cmp){ (unsigned)c->arg,
					c->ne ? SCMP_CMP_NE : SCMP_CMP_EQ, (scmp_datum_t)c->k, 0 };
			else if (!c->ne)
				a[k] = (struct scmp_arg_cmp){ (unsigned)c->arg, SCMP_CMP_MASKED_EQ,
					(scmp_datum_t)c->mask, (scmp_datum_t)c->k };
			else if (c->k == 0)
				/* (x & m) != 0 for a one-bit or any-bit mask: classic
				 * BPF has no masked "not equal", so test "set" by a
				 * rule per bit... one bit here, as in the table. */
				a[k] = (struct scmp_arg_cmp){ (unsigned)c->arg, SCMP_CMP_MASKED_EQ,
					(scmp_datum_t)c->mask, (scmp_datum_t)c->mask };
		}
		if (wr->nr == SYS_fchmodat) {
			/* mode & 06000 != 0: set-uid or set-gid, two rules */
			struct scmp_arg_cmp u = { 2, SCMP_CMP_MASKED_EQ, 04000, 04000 };
			struct scmp_arg_cmp g = { 2, SCMP_CMP_MASKED_EQ, 02000, 02000 };
			r |= seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(wr->err), wr->nr, 1, &u);
			r |= seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(wr->err), wr->nr, 1, &g);
			continue;
		}
		r |= seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(wr->err), wr->nr,
					    (unsigned)wr->ncond, a);
	}
	if (r) {
		seccomp_release(ctx);
		*err = "seccomp_rule_add failed";
		return -1;
	}
	/* Export without loading: classic BPF into a memory file. */
	FILE *f = tmpfile();
	if (!f || seccomp_export_bpf(ctx, fileno(f)) != 0) {
		seccomp_release(ctx);
		if (f)
			fclose(f);
		*err = "seccomp_export_bpf failed";
		return -1;
	}
	seccomp_release(ctx);
	long size = lseek(fileno(f), 0, SEEK_END);
	lseek(fileno(f), 0, SEEK_SET);
	bpf_prog = malloc((size_t)size);
	if (!bpf_prog || size <= 0 ||
	    read(fileno(f), bpf_prog, (size_t)size) != size) {
		fclose(f);
		*err = "cannot read the exported filter";
		return -1;
	}
	fclose(f);
	bpf_n = (unsigned)((size_t)size / sizeof *bpf_prog);
	return 0;
}

/*
 * libpcap loads 32-bit words big-endian; the kernel loads struct
 * seccomp_data in host order.  Swapping every word of the data makes
 * libpcap see what the kernel would.
 */
void bench_bpf_fill(struct bench_ev *e)
{
	uint32_t w[16];
	w[0] = e->nr;
	w[1] = AUDIT_ARCH_X86_64;
	w[2] = 0x401000;	/* instruction pointer, low and high */
	w[3] = 0;
	for (int i = 0; i < 6; i++) {
		uint64_t v = (uint64_t)e->args[i];
		w[4 + 2 * i] = (uint32_t)v;
		w[5 + 2 * i] = (uint32_t)(v >> 32);
	}
	for (int i = 0; i < 16; i++)
		e->bpf_data[i] = __builtin_bswap32(w[i]);
}

int bench_bpf(const struct bench_ev *e)
{
	unsigned r = bpf_filter(bpf_prog, (const u_char *)e->bpf_data,
				sizeof e->bpf_data, sizeof e->bpf_data);
	switch (r & 0xffff0000u) {
	case 0x7fff0000u:	/* SECCOMP_RET_ALLOW */
		return 0;
	case 0x00050000u:	/* SECCOMP_RET_ERRNO */
		return (int)(r & 0xffff);
	}
	return -1;
}

/* ---------------------------------------------------------------- Lua */

static void lua_cond(luaL_Buffer *b, const struct cond *c)
{
	char t[128];

	if (c->mask == ALL)
		snprintf(t, sizeof t, "a%d %s %lld", c->arg, c->ne ? "~=" : "==",
			 (long long)c->k);
	else
		snprintf(t, sizeof t, "a%d & %llu %s %lld", c->arg,
			 (unsigned long long)c->mask, c->ne ? "~=" : "==", (long long)c->k);
	luaL_addstring(b, t);
}

/* The Lua a person would write: a table for the calls denied outright,
 * an if-chain for the rest. */
int bench_lua_init(const char **err)
{
	luaL_Buffer b;
	char t[128];

	if (!L) {
		L = luaL_newstate();
		if (!L) {
			*err = "luaL_newstate failed";
			return -1;
		}
		luaL_openlibs(L);
	}
	luaL_buffinit(L, &b);
	luaL_addstring(&b, "local deny = {");
	for (int i = 0; i < BENCH_NRULES; i++)
		if (!web_rules[i].ncond) {
			snprintf(t, sizeof t, "[%d] = %d, ", web_rules[i].nr, web_rules[i].err);
			luaL_addstring(&b, t);
		}
	luaL_addstring(&b, "}\nreturn function(nr, a0, a1, a2, a3, a4, a5)\n"
			   "  local d = deny[nr]\n  if d then return d end\n");
	bool first = true;
	for (int i = 0; i < BENCH_NRULES; i++) {
		const struct web_rule *r = &web_rules[i];

		if (!r->ncond)
			continue;
		snprintf(t, sizeof t, "  %s nr == %d then\n    if ", first ? "if" : "elseif", r->nr);
		luaL_addstring(&b, t);
		first = false;
		for (int k = 0; k < r->ncond; k++) {
			if (k)
				luaL_addstring(&b, " and ");
			lua_cond(&b, &r->c[k]);
		}
		snprintf(t, sizeof t, " then return %d end\n", r->err);
		luaL_addstring(&b, t);
	}
	luaL_addstring(&b, "  end\n  return 0\nend\n");
	luaL_pushresult(&b);
	const char *src = lua_tostring(L, -1);
	if (luaL_loadstring(L, src) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
		*err = lua_tostring(L, -1);
		return -1;
	}
	lua_fn = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pop(L, 1);
	return 0;
}

int bench_lua(const struct bench_ev *e)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, lua_fn);
	lua_pushinteger(L, e->nr);
	for (int i = 0; i < 6; i++)
		lua_pushinteger(L, e->args[i]);
	lua_call(L, 7, 1);
	int r = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return r;
}

static int lua_paths_fn;

/* `**` is `.*`, `*` is `[^/]*`, `?` is `[^/]`, classes carry over (`!`
 * becomes `^`), every other byte is escaped: enough for the benchmark's
 * globs, which use no escapes. */
static void glob_to_lua(const char *g, luaL_Buffer *b)
{
	luaL_addchar(b, '^');
	for (size_t i = 0; g[i]; i++) {
		if (g[i] == '*' && g[i + 1] == '*') {
			while (g[i + 1] == '*')
				i++;
			luaL_addstring(b, ".*");
		} else if (g[i] == '*') {
			luaL_addstring(b, "[^/]*");
		} else if (g[i] == '?') {
			luaL_addstring(b, "[^/]");
		} else if (g[i] == '[') {
			luaL_addchar(b, '[');
			if (g[i + 1] == '!')
				luaL_addchar(b, '^'), i++;
			while (g[i + 1] && g[i + 1] != ']')
				luaL_addchar(b, g[++i]);
			luaL_addchar(b, ']');
			if (g[i + 1])
				i++;
		} else {
			if (!((g[i] >= 'a' && g[i] <= 'z') || (g[i] >= 'A' && g[i] <= 'Z') ||
			      (g[i] >= '0' && g[i] <= '9') || g[i] == '/'))
				luaL_addchar(b, '%');
			luaL_addchar(b, g[i]);
		}
	}
	luaL_addchar(b, '$');
}

int bench_lua_paths_init(const char *const *globs, size_t n, const char **err)
{
	static const char src[] =
		"local pats = ...\n"
		"local find = string.find\n"
		"local n = #pats\n"
		"return function(s)\n"
		"  for i = 1, n do\n"
		"    if find(s, pats[i]) then return 13 end\n"
		"  end\n"
		"  return 0\n"
		"end\n";
	if (!L) {
		L = luaL_newstate();
		if (!L) {
			*err = "luaL_newstate failed";
			return -1;
		}
		luaL_openlibs(L);
	}
	if (luaL_loadstring(L, src) != LUA_OK) {
		*err = lua_tostring(L, -1);
		return -1;
	}
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		luaL_Buffer b;
		luaL_buffinit(L, &b);
		glob_to_lua(globs[i], &b);
		luaL_pushresult(&b);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		*err = lua_tostring(L, -1);
		return -1;
	}
	if (lua_paths_fn)
		luaL_unref(L, LUA_REGISTRYINDEX, lua_paths_fn);
	lua_paths_fn = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

int bench_lua_paths(const char *path)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, lua_paths_fn);
	lua_pushstring(L, path);
	lua_call(L, 1, 1);
	int r = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return r;
}

static int lua_cp_fn;

int bench_lua_paths_set_init(const char *const *learned, size_t n, const char **err)
{
	static const char src[] =
		"local learned = ...\n"
		"local set = {}\n"
		"for _, p in ipairs(learned) do set[p] = true end\n"
		"local concat = table.concat\n"
		"return function(stack)\n"
		"  if set[concat(stack, ' <- ')] then return 0 end\n"
		"  return 1\n"
		"end\n";
	if (!L) {
		L = luaL_newstate();
		if (!L) {
			*err = "luaL_newstate failed";
			return -1;
		}
		luaL_openlibs(L);
	}
	if (luaL_loadstring(L, src) != LUA_OK) {
		*err = lua_tostring(L, -1);
		return -1;
	}
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, learned[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		*err = lua_tostring(L, -1);
		return -1;
	}
	lua_cp_fn = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* The caller passes the call path's first frames (the depth of the
 * learned paths); 1 when it is not learned. */
int bench_lua_callpath(const char *const *stack, size_t nstack)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, lua_cp_fn);
	lua_createtable(L, (int)nstack, 0);
	for (size_t i = 0; i < nstack; i++) {
		lua_pushstring(L, stack[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_call(L, 1, 1);
	int r = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return r;
}
