/*
 * gdb_guard.h: what happens to a GDB-stub guest when vsp dies without
 * detaching (SIGKILL, a crash, the OOM killer).
 *
 * QEMU keeps a client's breakpoints after the connection closes, so the
 * guest would stop at the next trap and wait for a debugger forever.  The
 * GDB backend (vmi/gdb_backend.c) starts a guard at attach: a small process
 * holding the read end of a pipe.  The backend tells it, down the pipe,
 * what it would have to undo (the traps and watchpoints in pause mode, and
 * in either mode a CR3 swapped for a kernel read); a clean detach says so
 * and the guard ends.  If the pipe reaches end of file first, vsp is gone:
 * the guard connects to the stub itself and applies vsp_guard_conf.on_death
 * (vmi/backend.h).
 */
#ifndef VSP_GDB_GUARD_H
#define VSP_GDB_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmi/backend.h"

/* The backend places at most these; the guard keeps a copy as large. */
#define VSP_GDB_MAX_TRAPS 4096
#define VSP_GDB_MAX_WATCH 1024

struct vsp_gdb_guard {
	pid_t pid;		/* 0: none running */
	int fd;			/* our end of its pipe; -1: none */
	struct vsp_guard_conf conf;
};

/* Forks the guard for the stub connected on stub_fd (its peer address is
 * where the guard connects).  Without a guard (no peer address, no pipe,
 * no fork) gd->pid stays 0 and the notes below do nothing. */
void vsp_gdb_guard_start(struct vsp_gdb_guard *gd, int stub_fd,
			 const struct vsp_guard_conf *conf);

/* A trap, or a watchpoint, placed (on) or removed (!on). */
void vsp_gdb_guard_trap(struct vsp_gdb_guard *gd, bool on, uint64_t addr);
void vsp_gdb_guard_watch(struct vsp_gdb_guard *gd, bool on, uint64_t addr,
			 uint64_t len);

/* vCPU thread's CR3 replaced for kernel reads (own: its value, regno: its
 * number in P packets), or (regno < 0) put back. */
void vsp_gdb_guard_cr3(struct vsp_gdb_guard *gd, int regno, uint32_t thread,
		       uint64_t own);

/* A clean detach: the guard leaves the guest alone and ends. */
void vsp_gdb_guard_stop(struct vsp_gdb_guard *gd);

#endif
