/*
 * peers.c: the benchmark's rules in C, classic BPF (via libseccomp and
 * libpcap) and Lua 5.4.  See peers.h.
 */
#include "fastpath/bench/peers.h"

#include <errno.h>
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

#define READ_IMPLIES_EXEC 0x0400000
#define AF_PACKET_ 17

const char bench_policy[] =
	"policy \"bench\" version 1;\n"
	"on syscall ptrace: deny EPERM;\n"
	"on syscall init_module, finit_module, delete_module: deny EPERM;\n"
	"on syscall mount, umount2, pivot_root: deny EPERM;\n"
	"on syscall bpf: deny EPERM;\n"
	"on syscall kexec_load, kexec_file_load: deny EPERM;\n"
	"on syscall openat when flags & O_CREAT != 0 and dfd != AT_FDCWD: deny EACCES;\n"
	"on syscall socket when family == 17: deny EACCES;\n"
	"on sys_kill when sig == 9 and pid == 1: deny EPERM;\n"
	"on syscall setuid when uid == 0: deny EPERM;\n"
	"on syscall unshare when unshare_flags & CLONE_NEWUSER != 0: deny EPERM;\n"
	"on syscall personality when personality == 0x0400000: deny EPERM;\n"
	"on syscall mprotect when prot & (PROT_WRITE | PROT_EXEC) == (PROT_WRITE | PROT_EXEC)"
	": deny EACCES;\n";

/* ------------------------------------------------------------------ C */

int bench_c(const struct bench_ev *e)
{
	const int64_t *a = e->args;
	switch (e->nr) {
	case SYS_ptrace:
	case SYS_init_module:
	case SYS_finit_module:
	case SYS_delete_module:
	case SYS_mount:
	case SYS_umount2:
	case SYS_pivot_root:
	case SYS_bpf:
	case SYS_kexec_load:
	case SYS_kexec_file_load:
		return EPERM;
	case SYS_openat:
		return (a[2] & O_CREAT) && a[0] != AT_FDCWD ? EACCES : 0;
	case SYS_socket:
		return a[0] == AF_PACKET_ ? EACCES : 0;
	case SYS_kill:
		return a[1] == 9 && a[0] == 1 ? EPERM : 0;
	case SYS_setuid:
		return a[0] == 0 ? EPERM : 0;
	case SYS_unshare:
		return a[0] & CLONE_NEWUSER ? EPERM : 0;
	case SYS_personality:
		return a[0] == READ_IMPLIES_EXEC ? EPERM : 0;
	case SYS_mprotect:
		return (a[2] & (PROT_WRITE | PROT_EXEC)) == (PROT_WRITE | PROT_EXEC)
			       ? EACCES : 0;
	}
	return 0;
}

/* ---------------------------------------------------------- seccomp BPF */

static struct bpf_insn *bpf_prog;
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
	static const int eperm_all[] = {
		SCMP_SYS(ptrace), SCMP_SYS(init_module), SCMP_SYS(finit_module),
		SCMP_SYS(delete_module), SCMP_SYS(mount), SCMP_SYS(umount2),
		SCMP_SYS(pivot_root), SCMP_SYS(bpf), SCMP_SYS(kexec_load),
		SCMP_SYS(kexec_file_load),
	};
	int r = 0;
	for (size_t i = 0; i < sizeof eperm_all / sizeof eperm_all[0]; i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), eperm_all[i], 0);
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 2,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT),
			      SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)(int64_t)AT_FDCWD));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_PACKET_));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 2,
			      SCMP_A0(SCMP_CMP_EQ, 1), SCMP_A1(SCMP_CMP_EQ, 9));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setuid), 1,
			      SCMP_A0(SCMP_CMP_EQ, 0));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
			      SCMP_A0(SCMP_CMP_EQ, READ_IMPLIES_EXEC));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(mprotect), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC,
				      PROT_WRITE | PROT_EXEC));
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

static lua_State *L;
static int lua_fn;

int bench_lua_init(const char **err)
{
	char src[2048];
	snprintf(src, sizeof src,
		 "return function(nr, a0, a1, a2, a3, a4, a5)\n"
		 "  if nr == %d or nr == %d or nr == %d or nr == %d or nr == %d\n"
		 "     or nr == %d or nr == %d or nr == %d or nr == %d or nr == %d then\n"
		 "    return %d\n"
		 "  elseif nr == %d then\n"
		 "    if a2 & %d ~= 0 and a0 ~= %d then return %d end\n"
		 "  elseif nr == %d then\n"
		 "    if a0 == %d then return %d end\n"
		 "  elseif nr == %d then\n"
		 "    if a1 == 9 and a0 == 1 then return %d end\n"
		 "  elseif nr == %d then\n"
		 "    if a0 == 0 then return %d end\n"
		 "  elseif nr == %d then\n"
		 "    if a0 & %d ~= 0 then return %d end\n"
		 "  elseif nr == %d then\n"
		 "    if a0 == %d then return %d end\n"
		 "  elseif nr == %d then\n"
		 "    if a2 & %d == %d then return %d end\n"
		 "  end\n"
		 "  return 0\n"
		 "end\n",
		 SYS_ptrace, SYS_init_module, SYS_finit_module, SYS_delete_module,
		 SYS_mount, SYS_umount2, SYS_pivot_root, SYS_bpf, SYS_kexec_load,
		 SYS_kexec_file_load, EPERM,
		 SYS_openat, O_CREAT, AT_FDCWD, EACCES,
		 SYS_socket, AF_PACKET_, EACCES,
		 SYS_kill, EPERM,
		 SYS_setuid, EPERM,
		 SYS_unshare, CLONE_NEWUSER, EPERM,
		 SYS_personality, READ_IMPLIES_EXEC, EPERM,
		 SYS_mprotect, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC, EACCES);
	if (!L) {
		L = luaL_newstate();
		if (!L) {
			*err = "luaL_newstate failed";
			return -1;
		}
		luaL_openlibs(L);
	}
	if (luaL_loadstring(L, src) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
		*err = lua_tostring(L, -1);
		return -1;
	}
	lua_fn = luaL_ref(L, LUA_REGISTRYINDEX);
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
