/*
 * gdb_guard.c: the guard of a GDB-stub guest (gdb_guard.h).
 *
 * A small process forked at attach holds the read end of a pipe; a clean
 * detach writes 'D' and the guard exits.  If the pipe reaches end of file
 * without it, vsp is gone: the guard connects to the stub (QEMU accepts the
 * next client once the old one has closed, and pauses the guest for it)
 * and then, as vsp_guard_conf.on_death says, either sends `D`, on which
 * QEMU removes every breakpoint and resumes the guest, or removes each trap
 * and watchpoint itself and closes without `D`, which leaves the guest
 * paused and clean for an operator (a new `vsp attach`, or QMP `cont`).
 * For that it needs the trap list: in pause mode vsp writes each change
 * down the pipe (a 9- or 17-byte message, so one write is atomic).  Then
 * it says what it did on standard error and through last_words (the last
 * audit record).  It ignores the terminal's signals and has its own
 * session, so a Ctrl-C or a signal to vsp's process group leaves it to do
 * its job; it holds no descriptor but its pipe, standard error and those
 * last_words writes to.
 */
#include "vmi/gdb_guard.h"

#include "vmi/gdb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { GUARD_TRAP = 'T', GUARD_UNTRAP = 't', GUARD_WATCH = 'W',
       GUARD_UNWATCH = 'w', GUARD_CR3 = 'C', GUARD_UNCR3 = 'c',
       GUARD_DONE = 'D' };

/* What the guard would undo, kept from vsp's messages. */
struct guard_copy {
	uint64_t traps[VSP_GDB_MAX_TRAPS];
	size_t ntraps;
	uint64_t watch_at[VSP_GDB_MAX_WATCH], watch_len[VSP_GDB_MAX_WATCH];
	size_t nwatch;
	bool cr3_swapped;
	unsigned cr3_regno;
	uint32_t cr3_thread;
	uint64_t cr3_own;
};

static size_t guard_msg_len(uint8_t op)
{
	return op == GUARD_DONE ? 1 :
	       op == GUARD_WATCH || op == GUARD_UNWATCH || op == GUARD_CR3 ? 17 : 9;
}

/*
 * Traps and watchpoints are told only in pause mode (a detaching guard's
 * `D` removes them all).  'C' (CR3 swapped for a kernel read: the thread
 * and register number in a, the vCPU's own CR3 in len) and 'c' (put back)
 * go in either mode: a vCPU left running on the kernel's copy of its pgd
 * would fault at its first user instruction, so the guard puts its CR3
 * back before anything else.
 */
static void guard_note(struct vsp_gdb_guard *gd, uint8_t op, uint64_t a,
		       uint64_t len)
{
	uint8_t msg[17];
	size_t n = guard_msg_len(op);
	if (gd->fd < 0 || (gd->conf.on_death != VSP_DEATH_PAUSE &&
			   op != GUARD_CR3 && op != GUARD_UNCR3))
		return;
	msg[0] = op;
	memcpy(msg + 1, &a, 8);
	if (n == 17)
		memcpy(msg + 9, &len, 8);
	if (write(gd->fd, msg, n) != (ssize_t)n) {
		/* the guard is gone: nothing to tell */
	}
}

void vsp_gdb_guard_trap(struct vsp_gdb_guard *gd, bool on, uint64_t addr)
{
	guard_note(gd, on ? GUARD_TRAP : GUARD_UNTRAP, addr, 0);
}

void vsp_gdb_guard_watch(struct vsp_gdb_guard *gd, bool on, uint64_t addr,
			 uint64_t len)
{
	guard_note(gd, on ? GUARD_WATCH : GUARD_UNWATCH, addr, len);
}

void vsp_gdb_guard_cr3(struct vsp_gdb_guard *gd, int regno, uint32_t thread,
		       uint64_t own)
{
	if (regno < 0)
		guard_note(gd, GUARD_UNCR3, 0, 0);
	else
		guard_note(gd, GUARD_CR3, (uint64_t)regno << 32 | thread, own);
}

static void guard_apply(struct guard_copy *s, const uint8_t *m)
{
	uint64_t a, len = 0;
	memcpy(&a, m + 1, 8);
	if (guard_msg_len(m[0]) == 17)
		memcpy(&len, m + 9, 8);
	switch (m[0]) {
	case GUARD_CR3:
		s->cr3_swapped = true;
		s->cr3_thread = (uint32_t)a;
		s->cr3_regno = (unsigned)(a >> 32);
		s->cr3_own = len;
		break;
	case GUARD_UNCR3:
		s->cr3_swapped = false;
		break;
	case GUARD_TRAP:
		if (s->ntraps < VSP_GDB_MAX_TRAPS)
			s->traps[s->ntraps++] = a;
		break;
	case GUARD_UNTRAP:
		for (size_t i = 0; i < s->ntraps; i++)
			if (s->traps[i] == a) {
				s->traps[i] = s->traps[--s->ntraps];
				break;
			}
		break;
	case GUARD_WATCH:
		if (s->nwatch < VSP_GDB_MAX_WATCH) {
			s->watch_at[s->nwatch] = a;
			s->watch_len[s->nwatch++] = len;
		}
		break;
	case GUARD_UNWATCH:
		for (size_t i = 0; i < s->nwatch; i++)
			if (s->watch_at[i] == a && s->watch_len[i] == len) {
				s->nwatch--;
				s->watch_at[i] = s->watch_at[s->nwatch];
				s->watch_len[i] = s->watch_len[s->nwatch];
				break;
			}
		break;
	}
}

/* Reads vsp's messages until 'D' (1: a clean detach) or end of file (0:
 * vsp is gone). */
static int guard_listen(struct guard_copy *s, int rfd)
{
	uint8_t buf[4096 + 17];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(rfd, buf + have, sizeof buf - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		have += (size_t)n;
		size_t at = 0;
		while (at < have) {
			uint8_t op = buf[at];
			size_t len = guard_msg_len(op);
			if (op == GUARD_DONE)
				return 1;
			if (have - at < len)
				break;
			guard_apply(s, buf + at);
			at += len;
		}
		memmove(buf, buf + at, have - at);
		have -= at;
	}
}

/* Connected to the stub on fd, the guest paused for us: the CR3 of a
 * kernel read put back, then (pause) every trap and watchpoint out and
 * close without D, or (detach) D.  0 when each went, else the reason in
 * why. */
static int guard_session(const struct guard_copy *s, int fd, bool pause,
			 char *why, size_t n)
{
	struct vsp_gdb g;
	struct vsp_gdb_stop st;
	if (vsp_gdb_init(&g) < 0) {
		close(fd);
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	vsp_gdb_attach_fd(&g, fd);
	int rc = vsp_gdb_handshake(&g, &st);
	if (rc == 0 && s->cr3_swapped) {
		unsigned regno;
		/* The description again: this connection has not read it. */
		rc = vsp_gdb_xml_regnum(&g, "cr3", &regno);
		if (rc == 0 && regno != s->cr3_regno)
			rc = -EPROTO;
		if (rc == 0)
			rc = vsp_gdb_select_thread(&g, s->cr3_thread);
		if (rc == 0)
			rc = vsp_gdb_reg_write(&g, regno,
					       (const uint8_t *)&s->cr3_own, 8);
	}
	if (rc == 0 && !pause) {
		rc = vsp_gdb_request(&g, "D");
		if (rc < 0)
			snprintf(why, n, "%s", g.err[0] ? g.err : strerror(-rc));
		vsp_gdb_release(&g);
		return rc;
	}
	/* The stub's "no such breakpoint" (-EIO) is no failure: vsp died
	 * stepping over that trap, with it lifted. */
	for (size_t i = 0; rc == 0 && i < s->ntraps; i++)
		if ((rc = vsp_gdb_break_remove(&g, s->traps[i])) == -EIO)
			rc = 0;
	for (size_t i = 0; rc == 0 && i < s->nwatch; i++)
		if ((rc = vsp_gdb_watch_remove(&g, s->watch_at[i],
					       s->watch_len[i])) == -EIO)
			rc = 0;
	if (rc < 0)
		snprintf(why, n, "%s", g.err[0] ? g.err : strerror(-rc));
	vsp_gdb_release(&g);
	return rc;
}

/* Only the pipe, standard error and last_words' descriptors stay open. */
static void guard_detach_from_vsp(const struct vsp_guard_conf *conf, int rfd)
{
	struct sigaction ign;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	setsid();
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 1024; fd++) {
		bool keep = fd == rfd || fd == 2;
		for (int k = 0; k < conf->nkeep; k++)
			keep |= fd == conf->keep[k];
		if (keep || fd == null)
			continue;
		if (fd < 3 && null >= 0)
			dup2(null, fd);
		else
			close(fd);
	}
	if (null > 2)
		close(null);
}

static void guard_main(const struct vsp_guard_conf *conf, int rfd,
		       const struct sockaddr_storage *sa, socklen_t salen)
{
	static struct guard_copy copy;
	struct guard_copy *s = &copy;
	guard_detach_from_vsp(conf, rfd);
	if (guard_listen(s, rfd))
		_exit(0);	/* detached cleanly */
	bool pause = conf->on_death == VSP_DEATH_PAUSE;
	bool done = false;
	char why[160] = "";
	/* vsp died: up to 10 s for the stub to take us (it accepts once it
	 * has seen the old connection close), 12 s in all: a stub that
	 * accepts and never answers must not keep the guard for ever. */
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int tries = 0; tries < 50 && !done; tries++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 12)
			break;
		int fd = socket(sa->ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			break;
		if (connect(fd, (const struct sockaddr *)sa, salen) == 0) {
			if (pause || s->cr3_swapped) {
				done = guard_session(s, fd, pause, why,
						     sizeof why) == 0;
				break;
			}
			static const char pkt[] = "+$D#44";
			if (write(fd, pkt, sizeof pkt - 1) == (ssize_t)sizeof pkt - 1) {
				struct pollfd p = { .fd = fd, .events = POLLIN };
				char buf[64];
				done = poll(&p, 1, 5000) > 0 && read(fd, buf, sizeof buf) > 0;
			}
		}
		int err = errno;
		close(fd);
		/* Nobody listens at all (the guest is gone too): 2 s is
		 * plenty for a stub that is only slow to accept. */
		if (done || (err == ECONNREFUSED && tries >= 10))
			break;
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	char msg[256];
	if (!done && why[0])
		snprintf(msg, sizeof msg, "vsp ended without detaching, and its "
			 "guard could not remove the traps (%s): the guest is left "
			 "paused", why);
	else if (!done)
		snprintf(msg, sizeof msg, "vsp ended without detaching, and its "
			 "guard could not reach the stub: the traps may still be "
			 "in the guest");
	else if (pause)
		snprintf(msg, sizeof msg, "vsp ended without detaching: its guard "
			 "removed every trap (%zu) and left the guest paused "
			 "(--on-monitor-death pause); attach again, or resume it",
			 s->ntraps + s->nwatch);
	else
		snprintf(msg, sizeof msg, "vsp ended without detaching: its guard "
			 "detached, and the guest runs on unguarded");
	fprintf(stderr, "vsp attach: alert: %s\n", msg);
	/* An audit sink that takes nothing (the pipe of a stuck reader) must
	 * not keep the guard for ever: its work is done, only the record
	 * would be lost. */
	signal(SIGALRM, SIG_DFL);
	alarm(10);
	if (conf->last_words)
		conf->last_words(conf->ctx, msg);
	_exit(done ? 0 : 1);
}

void vsp_gdb_guard_start(struct vsp_gdb_guard *gd, int stub_fd,
			 const struct vsp_guard_conf *conf)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	int p[2];
	gd->pid = 0;
	gd->fd = -1;
	gd->conf = *conf;
	if (getpeername(stub_fd, (struct sockaddr *)&sa, &salen) < 0 ||
	    pipe2(p, O_CLOEXEC) < 0)
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		guard_main(&gd->conf, p[0], &sa, salen);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return;
	}
	gd->pid = pid;
	gd->fd = p[1];
}

void vsp_gdb_guard_stop(struct vsp_gdb_guard *gd)
{
	if (gd->fd >= 0) {
		char done = GUARD_DONE;
		if (write(gd->fd, &done, 1) != 1) {
			/* the guard is gone already */
		}
		close(gd->fd);
		gd->fd = -1;
	}
	if (gd->pid > 0) {
		while (waitpid(gd->pid, NULL, 0) < 0 && errno == EINTR)
			;
		gd->pid = 0;
	}
}
