/*
 * peers.h: the same rules in the systems vsp is compared with.
 *
 * bench.c times vsp's engine on in-memory events; the peers here decide
 * the same events by the same twelve rules: hand-written C (the floor),
 * a libseccomp filter exported as classic BPF and run by libpcap's
 * interpreter, and a Lua 5.4 function.  Each answers with the errno of a
 * deny, or 0 for allow, so answers compare directly.
 */
#ifndef VSP_BENCH_PEERS_H
#define VSP_BENCH_PEERS_H

#include <stddef.h>
#include <stdint.h>

/* One syscall as every peer sees it. */
struct bench_ev {
	uint32_t nr;
	int64_t args[6];
	uint32_t bpf_data[16];	/* struct seccomp_data, words byte-swapped */
};

/*
 * Workload (a): a web server's hardening pack of 50 rules on syscall
 * numbers and integer arguments.  One table (peers.c) gives the vsp
 * policy text, the libseccomp filter and the Lua function; the C
 * contender is written out by hand from the same table.
 */
#define BENCH_NRULES 50
/* The rules as vsp policy text; the caller frees it. */
char *bench_policy_text(void);

int bench_c(const struct bench_ev *e);

/* Classic BPF from libseccomp.  Returns 0 or -1 with a message. */
int bench_bpf_init(const char **err);
int bench_bpf(const struct bench_ev *e);
void bench_bpf_fill(struct bench_ev *e);	/* sets bpf_data */
unsigned bench_bpf_len(void);			/* instructions */

int bench_lua_init(const char **err);
int bench_lua(const struct bench_ev *e);

/* Workload (c) in Lua: the call path joined with " <- " and looked up
 * in a table of the learned paths (the way a Lua author would write it). */
int bench_lua_paths_set_init(const char *const *learned, size_t n, const char **err);
int bench_lua_callpath(const char *const *stack, size_t nstack);

/* The path scenario in Lua: globs turned into anchored Lua patterns,
 * tried in order; EACCES on the first match. */
int bench_lua_paths_init(const char *const *globs, size_t n, const char **err);
int bench_lua_paths(const char *path);

#endif
