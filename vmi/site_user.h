/*
 * site_user.h: what the two halves of the user-function site share
 * (vmi/site_user.c: where processes map a module and the event;
 * vmi/site_user_flow.c: the verdicts and how an allowed call leaves its
 * trap).  Private to them.
 */
#ifndef VSP_SITE_USER_H
#define VSP_SITE_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "vmi/emulate.h"
#include "vmi/mon.h"
#include "vmi/pcache.h"

#define MU_EVS 16		/* user events of one policy */
#define MU_FILES 8		/* mapped files resolved per event */
#define MU_MAPS 256		/* (process, address) pairs known */
#define MU_TASKS 4096		/* tasks walked at attach */
#define MU_VM_EXEC 4ull
#define MU_DYN_BIAS 0x100000000000ull	/* where an image is seen (pcache.h) */
#define MU_CR3_MASK 0x000ffffffffff000ull
#define MU_PTI_USER 0x1000ull	/* the user half's copy of the pgd */
#define MU_KERNEL_HALF 0xff00000000000000ull	/* 5-level paging included */
#define MU_NR_KILL 62
#define MU_SIGKILL 9

enum { MU_FUNC, MU_H_MMAP, MU_H_EXIT, MU_H_UNMAP };

struct mu_file {
	uint64_t mapping;	/* the file's address_space */
	bool ok;
	uint64_t foff;		/* FUNC's file offset */
	uint64_t kill_foff;	/* a `syscall` in _exit, or 0 */
	uint64_t errno_fn;	/* __errno_location in the image, or 0 */
	bool is_static;		/* no dynamic symbols: errno from its TLS */
	uint64_t img_fn;	/* FUNC in the image */
	struct vsp_emu emu;	/* FUNC's first instruction */
	uint8_t code[16];	/* ... its bytes in the file */
	uint8_t clen;		/* how many are compared with the process's */
	char err[160];
};

struct mu_ev {
	const struct vsp_event_key *k;
	const struct vsp_call *call;
	struct mu_file f[MU_FILES];
	unsigned nf;
};

/* One process's mapping of one event's function; ev NULL: the process
 * has something else at the address (a negative answer, kept). */
struct mu_map {
	uint64_t mm, pgd, addr;
	struct mu_ev *ev;
	struct mu_file *file;
	int64_t pid;
	bool have_tpoff, tried_tpoff;
	int64_t tpoff;
	bool changed;		/* the process rewrote FUNC: stepped for good */
	uint32_t since;		/* stepped calls since its code was compared */
	uint64_t compared_ns;	/* when; 0: never */
};

struct mon_user {
	uint32_t gen;
	struct vsp_pcache pc;
	struct mu_ev ev[MU_EVS];
	unsigned nev;
	struct mu_map map[MU_MAPS];
	unsigned nmap;
	bool helpers;
	uint64_t placed, removed, foreign;
	uint64_t emulated, stepped;	/* how allowed calls left the trap */
	uint64_t unlike;		/* code unreadable or not the file's */
	uint64_t tampered;		/* mappings whose code was rewritten */
	bool no_emulate;		/* VSP_USER_EMULATE=0: step them all */
	/* Per kind of trap: the function's own, and the mapping path's. */
	uint64_t fn_hits, fn_rt, fn_ns, map_hits, map_rt, map_ns;
	struct mu_map *cur;	/* the map entry of the event being decided */
};

/* vmi/site_user_flow.c: the site's verdicts (struct mon_apply). */
void mu_ret(struct mon *m, struct mon_trap *t, int64_t value,
	    struct mon_apply *a);
void mu_deny(struct mon *m, struct mon_trap *t, int64_t err,
	     struct mon_apply *a);
void mu_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a);
int mu_leave(struct mon *m, struct mon_trap *t);

#endif
