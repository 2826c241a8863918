/*
 * catalog_user.c: prototypes of user-space functions a policy names,
 * so `on user "libc.so.6":system when command contains "nc "` reads the
 * argument by its name and as a string from the process's memory.
 *
 * Data, by C name (the module is not part of the key: a static program's
 * system() takes the same arguments as libc's), with the argument names of
 * the functions' manual pages.  `str` arguments are NUL-terminated strings,
 * `path` ones name a file (and give `path`), `buf` ones are bytes whose
 * count is the next argument.  `nr` is the row's index.  A function not
 * listed has arg0..arg5 only.
 */
#include "base/catalog.h"

#define I(n) { n, VSP_ARG_INT }
#define S(n) { n, VSP_ARG_STR }
#define P(n) { n, VSP_ARG_PATH }
#define B(n) { n, VSP_ARG_BUF }

const struct vsp_call vsp_userfns[] = {
	/* running commands */
	{ "system", 0, 1, true, { S("command") } },
	{ "popen", 1, 2, true, { S("command"), S("type") } },
	{ "execve", 2, 3, true, { P("pathname"), I("argv"), I("envp") } },
	{ "execv", 3, 2, true, { P("pathname"), I("argv") } },
	{ "execvp", 4, 2, true, { S("file"), I("argv") } },
	{ "execvpe", 5, 3, true, { S("file"), I("argv"), I("envp") } },
	{ "execl", 6, 2, true, { P("pathname"), S("arg") } },
	{ "execlp", 7, 2, true, { S("file"), S("arg") } },
	{ "execle", 8, 2, true, { P("pathname"), S("arg") } },
	{ "fexecve", 9, 3, true, { I("fd"), I("argv"), I("envp") } },
	{ "posix_spawn", 10, 6, true, { I("pid"), P("pathname"), I("file_actions"),
					I("attrp"), I("argv"), I("envp") } },
	{ "posix_spawnp", 11, 6, true, { I("pid"), S("file"), I("file_actions"),
					 I("attrp"), I("argv"), I("envp") } },
	/* loading code */
	{ "dlopen", 12, 2, true, { S("filename"), I("flags") } },
	{ "dlmopen", 13, 3, true, { I("lmid"), S("filename"), I("flags") } },
	/* files */
	{ "open", 14, 3, true, { P("pathname"), I("flags"), I("mode") } },
	{ "open64", 15, 3, true, { P("pathname"), I("flags"), I("mode") } },
	{ "openat", 16, 4, true, { I("dirfd"), P("pathname"), I("flags"), I("mode") } },
	{ "creat", 17, 2, true, { P("pathname"), I("mode") } },
	{ "fopen", 18, 2, true, { P("pathname"), S("mode") } },
	{ "fopen64", 19, 2, true, { P("pathname"), S("mode") } },
	{ "freopen", 20, 3, true, { P("pathname"), S("mode"), I("stream") } },
	/* network */
	{ "connect", 21, 3, true, { I("sockfd"), I("addr"), I("addrlen") } },
	{ "getaddrinfo", 22, 4, true, { S("node"), S("service"), I("hints"), I("res") } },
	{ "gethostbyname", 23, 1, true, { S("name") } },
	/* credentials */
	{ "setuid", 24, 1, true, { I("uid") } },
	{ "setgid", 25, 1, true, { I("gid") } },
	{ "seteuid", 26, 1, true, { I("euid") } },
	{ "setegid", 27, 1, true, { I("egid") } },
	{ "setreuid", 28, 2, true, { I("ruid"), I("euid") } },
	{ "setregid", 29, 2, true, { I("rgid"), I("egid") } },
	{ "setresuid", 30, 3, true, { I("ruid"), I("euid"), I("suid") } },
	{ "setresgid", 31, 3, true, { I("rgid"), I("egid"), I("sgid") } },
	/* other processes */
	{ "ptrace", 32, 4, true, { I("request"), I("pid"), I("addr"), I("data") } },
	/* OpenSSL: the plaintext as it goes out; at SSL_read's entry its
	 * buffer holds nothing yet, so there buf is the pointer only. */
	{ "SSL_write", 33, 3, true, { I("ssl"), B("buf"), I("num") } },
	{ "SSL_read", 34, 3, true, { I("ssl"), I("buf"), I("num") } },
	/* Linux-PAM */
	{ "pam_authenticate", 35, 2, true, { I("pamh"), I("flags") } },
	{ "pam_start", 36, 4, true, { S("service_name"), S("user"), I("pam_conversation"),
				      I("pamh") } },
};

const size_t vsp_nuserfns = sizeof(vsp_userfns) / sizeof(vsp_userfns[0]);
