/*
 * gdb_backend.c: the backend operations (vmi/backend.h) over a GDB remote
 * stub, through the RSP client in vmi/gdb.c.
 *
 * The monitor loop speaks only struct vsp_backend_ops; this file turns each
 * operation into as few packets as it can, because under QEMU TCG every
 * stop already costs tens of milliseconds: the register file is read once
 * per stop (that read also tells which breakpoint was hit) and kept until
 * the guest runs again, and register writes send only the general
 * registers and rip (a short G packet, which stubs apply register by
 * register) so control and segment registers are never rewritten.
 *
 * Register layout of the x86-64 `g` reply (QEMU's, the same as gdb's
 * i386:x86-64 description): rax..r15 and rip (8 bytes each), eflags and
 * cs ss ds es fs gs (4 each), fs_base gs_base k_gs_base, cr0 cr2 cr3 cr4
 * cr8 efer (8 each), then FPU and SSE state we do not use.
 */
#include "vmi/backend.h"
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

#define GBE_REG_RIP 128
#define GBE_REG_EFLAGS 136
#define GBE_REG_FS_BASE 164
#define GBE_REG_GS_BASE 172
#define GBE_REG_KGS_BASE 180
#define GBE_REG_CR0 188
#define GBE_REG_CR3 204
#define GBE_REG_CR4 212
/* Linux PTI: the user copy of a pgd is the kernel's + 4 KiB; with PCIDs
 * its CR3 also has the user PCID bit. */
#define GBE_CR3_PTI_USER (1ull << 12)
#define GBE_CR3_PTI_PCID (1ull << 11)
#define GBE_REGS_MIN 140	/* up to eflags: all a monitor must have */
#define GBE_REGS_MAX 1024
#define GBE_MAX_TRAPS 4096
#define GBE_MAX_WATCH 1024

struct gbe {
	struct vsp_gdb g;
	uint8_t regs[GBE_REGS_MAX];
	size_t nregs;
	bool regs_valid;	/* regs hold the stopped vCPU's state */
	uint32_t regs_thread;
	bool running;
	bool stepping;		/* the last resume was a single step */
	bool interrupting;	/* we sent the interrupt byte */
	uint64_t traps[GBE_MAX_TRAPS];
	/* The byte under each trap as read before inserting it: a stub that
	 * writes int3 into memory (QEMU under KVM does) would show it in
	 * reads, and readers must see the guest's own bytes. */
	uint8_t saved[GBE_MAX_TRAPS];
	bool saved_ok[GBE_MAX_TRAPS];
	size_t ntraps;
	/* Write watchpoints, removed at detach like the traps. */
	uint64_t watch_at[GBE_MAX_WATCH], watch_len[GBE_MAX_WATCH];
	size_t nwatch;
	/* A vCPU stopped on the user copy of its pgd under PTI reads
	 * kernel memory with the kernel's copy in CR3 (gbe_kernel_view),
	 * its own CR3 put back before it runs or another vCPU is read. */
	bool cr3_swapped;
	int cr3_regno;		/* in P packets; -1 not asked yet, -2 none */
	uint32_t cr3_thread;
	uint64_t cr3_own;
	/* The guard process (gbe_guard_start), our end of its pipe, and
	 * what it does when vsp dies (the backend's copy at attach). */
	pid_t guard_pid;
	int guard_fd;
	struct vsp_guard_conf guard;
};

static struct gbe *gbe_of(struct vsp_backend *be)
{
	return be->priv;
}

static void gbe_sync(struct vsp_backend *be)
{
	be->round_trips = gbe_of(be)->g.round_trips;
}

static uint64_t gbe_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);	/* the stub sends target (little-endian) order */
	return v;
}

static uint32_t gbe_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int gbe_load_regs(struct vsp_backend *be, uint32_t vcpu)
{
	struct gbe *s = gbe_of(be);
	uint32_t thread = vcpu + 1;
	if (s->regs_valid && s->regs_thread == thread)
		return 0;
	if (s->g.cur_thread && s->g.cur_thread != thread) {
		int rc = vsp_gdb_select_thread(&s->g, thread);
		if (rc < 0)
			return rc;
	}
	long n = vsp_gdb_regs_read(&s->g, s->regs, sizeof s->regs);
	gbe_sync(be);
	if (n < 0)
		return (int)n;
	if (n < GBE_REGS_MIN) {
		snprintf(s->g.err, sizeof s->g.err,
			 "register block too short (%ld bytes): not an x86-64 target", n);
		return -EPROTO;
	}
	memset(s->regs + n, 0, sizeof s->regs - (size_t)n);
	/* The registers are the vCPU's own, not those of a kernel read. */
	if (s->cr3_swapped && s->cr3_thread == thread)
		memcpy(s->regs + GBE_REG_CR3, &s->cr3_own, 8);
	s->nregs = (size_t)n;
	s->regs_valid = true;
	s->regs_thread = thread;
	return 0;
}

/*
 * The guard: what happens to the guest when vsp dies without detaching
 * (SIGKILL, a crash, the OOM killer).  QEMU keeps a client's breakpoints
 * after the connection closes, so the guest would stop at the next trap and
 * wait for a debugger forever.  A small process forked at attach holds the
 * read end of a pipe; a clean detach writes 'D' and the guard exits.  If
 * the pipe reaches end of file without it, vsp is gone: the guard connects
 * to the stub (QEMU accepts the next client once the old one has closed,
 * and pauses the guest for it) and then, as vsp_guard_conf.on_death says,
 * either sends `D`, on which QEMU removes every breakpoint and resumes the
 * guest, or removes each trap and watchpoint itself and closes without
 * `D`, which leaves the guest paused and clean for an operator (a new
 * `vsp attach`, or QMP `cont`).  For that it needs the trap list: in pause
 * mode vsp writes each change down the pipe (a 9- or 17-byte message, so
 * one write is atomic).  Then it says what it did on standard error and
 * through last_words (the last audit record).  It ignores the terminal's
 * signals and has its own session, so a Ctrl-C or a signal to vsp's
 * process group leaves it to do its job; it holds no descriptor but its
 * pipe, standard error and those last_words writes to.
 */
enum { GUARD_TRAP = 'T', GUARD_UNTRAP = 't', GUARD_WATCH = 'W',
       GUARD_UNWATCH = 'w', GUARD_CR3 = 'C', GUARD_UNCR3 = 'c',
       GUARD_DONE = 'D' };

/*
 * 'C' (CR3 swapped for a kernel read: the thread and register number in a,
 * the vCPU's own CR3 in len) and 'c' (put back) go in either mode: a vCPU
 * left running on the kernel's copy of its pgd would fault at its first
 * user instruction, so the guard puts its CR3 back before anything else.
 */
static void gbe_guard_note(struct gbe *s, uint8_t op, uint64_t a, uint64_t len)
{
	uint8_t msg[17];
	size_t n = 9;
	if (s->guard_fd < 0 || (s->guard.on_death != VSP_DEATH_PAUSE &&
				op != GUARD_CR3 && op != GUARD_UNCR3))
		return;
	msg[0] = op;
	memcpy(msg + 1, &a, 8);
	if (op == GUARD_WATCH || op == GUARD_UNWATCH || op == GUARD_CR3) {
		memcpy(msg + 9, &len, 8);
		n = 17;
	}
	if (write(s->guard_fd, msg, n) != (ssize_t)n) {
		/* the guard is gone: nothing to tell */
	}
}

/* The guard's copy of the trap table, kept from vsp's messages. */
static void gbe_guard_apply(struct gbe *s, const uint8_t *m)
{
	uint64_t a, len = 0;
	memcpy(&a, m + 1, 8);
	if (m[0] == GUARD_WATCH || m[0] == GUARD_UNWATCH || m[0] == GUARD_CR3)
		memcpy(&len, m + 9, 8);
	switch (m[0]) {
	case GUARD_CR3:
		s->cr3_swapped = true;
		s->cr3_thread = (uint32_t)a;
		s->cr3_regno = (int)(a >> 32);
		s->cr3_own = len;
		break;
	case GUARD_UNCR3:
		s->cr3_swapped = false;
		break;
	case GUARD_TRAP:
		if (s->ntraps < GBE_MAX_TRAPS)
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
		if (s->nwatch < GBE_MAX_WATCH) {
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
static int gbe_guard_listen(struct gbe *s, int rfd)
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
			size_t len = op == GUARD_DONE ? 1 :
				     op == GUARD_WATCH || op == GUARD_UNWATCH ||
				     op == GUARD_CR3 ? 17 : 9;
			if (op == GUARD_DONE)
				return 1;
			if (have - at < len)
				break;
			gbe_guard_apply(s, buf + at);
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
static int gbe_guard_session(struct gbe *s, int fd, bool pause, char *why,
			     size_t n)
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
		if (rc == 0 && regno != (unsigned)s->cr3_regno)
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

static void gbe_guard_main(struct gbe *s, int rfd,
			   const struct sockaddr_storage *sa, socklen_t salen)
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
		for (int k = 0; k < s->guard.nkeep; k++)
			keep |= fd == s->guard.keep[k];
		if (keep || fd == null)
			continue;
		if (fd < 3 && null >= 0)
			dup2(null, fd);
		else
			close(fd);
	}
	if (null > 2)
		close(null);
	s->ntraps = 0;
	s->nwatch = 0;
	s->cr3_swapped = false;
	if (gbe_guard_listen(s, rfd))
		_exit(0);	/* detached cleanly */
	bool pause = s->guard.on_death == VSP_DEATH_PAUSE;
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
				done = gbe_guard_session(s, fd, pause, why,
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
	if (s->guard.last_words)
		s->guard.last_words(s->guard.ctx, msg);
	_exit(done ? 0 : 1);
}

static void gbe_guard_start(struct gbe *s)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	int p[2];
	s->guard_pid = 0;
	s->guard_fd = -1;
	if (getpeername(s->g.fd, (struct sockaddr *)&sa, &salen) < 0 ||
	    pipe2(p, O_CLOEXEC) < 0)
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		gbe_guard_main(s, p[0], &sa, salen);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return;
	}
	s->guard_pid = pid;
	s->guard_fd = p[1];
}

/* A clean detach: the guard leaves the guest alone and ends. */
static void gbe_guard_stop(struct gbe *s)
{
	if (s->guard_fd >= 0) {
		char done = GUARD_DONE;
		if (write(s->guard_fd, &done, 1) != 1) {
			/* the guard is gone already */
		}
		close(s->guard_fd);
		s->guard_fd = -1;
	}
	if (s->guard_pid > 0) {
		while (waitpid(s->guard_pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->guard_pid = 0;
	}
}

static int gbe_attach(struct vsp_backend *be, const char *target)
{
	struct gbe *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int rc = vsp_gdb_init(&s->g);
	if (rc < 0) {
		free(s);
		return rc;
	}
	be->priv = s;
	be->ncpus = 1;
	s->guard_fd = -1;
	s->cr3_regno = -1;
	s->guard = be->guard;
	rc = vsp_gdb_connect(&s->g, target, 3000);
	if (rc < 0)
		goto fail;
	gbe_guard_start(s);
	struct vsp_gdb_stop st;
	rc = vsp_gdb_handshake(&s->g, &st);
	if (rc == -ETIMEDOUT) {
		/* QEMU's stub takes one client: a second one is accepted by
		 * the kernel's backlog and then never hears a byte */
		snprintf(s->g.err, sizeof s->g.err,
			 "the stub is busy: it took the connection but does not "
			 "answer (another debugger attached?)");
		goto fail;
	}
	if (rc < 0)
		goto fail;
	if (st.kind != VSP_GDB_STOP_SIGNAL) {
		snprintf(s->g.err, sizeof s->g.err, "the target has already exited");
		rc = -ENOTCONN;
		goto fail;
	}
	/* Count the vCPUs (threads); a stub without the query has one. */
	uint32_t n = 0;
	if (vsp_gdb_request(&s->g, "qfThreadInfo") == 0) {
		while (s->g.pkt[0] == 'm' && n < 4096) {
			for (const char *p = s->g.pkt + 1; *p; p++)
				if (*p == ',')
					n++;
			n++;
			if (vsp_gdb_request(&s->g, "qsThreadInfo") < 0)
				break;
		}
	}
	be->ncpus = n ? n : 1;
	gbe_sync(be);
	return 0;
fail:
	gbe_sync(be);
	return rc;
}

static int gbe_trap_add(struct vsp_backend *be, uint64_t addr)
{
	struct gbe *s = gbe_of(be);
	if (s->ntraps >= GBE_MAX_TRAPS)
		return -ENOSPC;
	uint8_t orig;
	bool have = vsp_gdb_mem_read(&s->g, addr, &orig, 1) == 1;
	int rc = vsp_gdb_break_insert(&s->g, addr);
	gbe_sync(be);
	if (rc < 0)
		return rc;
	s->saved[s->ntraps] = orig;
	s->saved_ok[s->ntraps] = have;
	s->traps[s->ntraps++] = addr;
	gbe_guard_note(s, GUARD_TRAP, addr, 0);
	return 0;
}

static int gbe_trap_del(struct vsp_backend *be, uint64_t addr)
{
	struct gbe *s = gbe_of(be);
	size_t i;
	for (i = 0; i < s->ntraps && s->traps[i] != addr; i++)
		;
	if (i == s->ntraps)
		return -ENOENT;
	int rc = vsp_gdb_break_remove(&s->g, addr);
	gbe_sync(be);
	if (rc < 0)
		return rc;
	--s->ntraps;
	s->traps[i] = s->traps[s->ntraps];
	s->saved[i] = s->saved[s->ntraps];
	s->saved_ok[i] = s->saved_ok[s->ntraps];
	gbe_guard_note(s, GUARD_UNTRAP, addr, 0);
	return 0;
}

/* Puts back the CR3 gbe_kernel_view replaced, on the vCPU it replaced it
 * on (the one selected: only gbe_select changes that, and it calls this
 * first). */
static int gbe_cr3_restore(struct gbe *s)
{
	if (!s->cr3_swapped)
		return 0;
	int rc = vsp_gdb_reg_write(&s->g, (unsigned)s->cr3_regno,
				   (const uint8_t *)&s->cr3_own, 8);
	if (rc == 0) {
		s->cr3_swapped = false;
		gbe_guard_note(s, GUARD_UNCR3, 0, 0);
	}
	return rc;
}

/* cr3's number in P packets, from the stub's target description (reading
 * it is also what lets QEMU's stub take P).  Said once when there is none:
 * kernel memory then cannot be read at this PTI guest's user-mode stops. */
static int gbe_cr3_regno(struct gbe *s)
{
	unsigned n;

	if (s->cr3_regno == -2)
		return -1;
	if (vsp_gdb_xml_regnum(&s->g, "cr3", &n) < 0) {
		fprintf(stderr, "vsp: warning: the stub does not let CR3 be "
			"written (%s): kernel memory cannot be read while a vCPU "
			"of this PTI guest is stopped in user mode\n", s->g.err);
		s->cr3_regno = -2;
		return -1;
	}
	s->cr3_regno = (int)n;
	return 0;
}

static int gbe_select(struct gbe *s, uint32_t vcpu)
{
	uint32_t thread = vcpu + 1;
	if (s->g.cur_thread && s->g.cur_thread != thread) {
		int rc = gbe_cr3_restore(s);
		if (rc < 0)
			return rc;
		return vsp_gdb_select_thread(&s->g, thread);
	}
	return 0;
}

/*
 * Under PTI a vCPU stopped in user mode (or in the entry code before it
 * switches) runs on the user copy of its pgd, which maps the kernel's
 * entry code and little else, and a stub reads through the vCPU's own
 * page tables.  Before the first kernel address read or written at such a
 * stop, the kernel's copy goes into CR3 (one P packet; the user copy's
 * user half is the same, so user reads see the same memory); it stays
 * until the vCPU runs again.  Only when the monitor has read from the
 * kernel itself that PTI is on (be->guest_pti): elsewhere the page 4 KiB
 * below a pgd is any page at all.
 */
static void gbe_kernel_view(struct vsp_backend *be, uint32_t vcpu,
			    uint64_t gva)
{
	struct gbe *s = gbe_of(be);
	if (!be->guest_pti || !(gva >> 63) || s->cr3_swapped ||
	    gbe_load_regs(be, vcpu) < 0 || s->nregs < GBE_REG_CR3 + 8)
		return;
	uint64_t cr3 = gbe_u64(s->regs + GBE_REG_CR3);
	if (!(cr3 & GBE_CR3_PTI_USER))
		return;
	uint64_t k = cr3 & ~(GBE_CR3_PTI_USER | GBE_CR3_PTI_PCID);
	if (s->cr3_regno < 0 && gbe_cr3_regno(s) < 0) {
		gbe_sync(be);
		return;
	}
	if (vsp_gdb_reg_write(&s->g, (unsigned)s->cr3_regno,
			      (const uint8_t *)&k, 8) == 0) {
		s->cr3_swapped = true;
		s->cr3_thread = vcpu + 1;
		s->cr3_own = cr3;
		gbe_guard_note(s, GUARD_CR3, (uint64_t)s->cr3_regno << 32 |
			       s->cr3_thread, cr3);
	}
	gbe_sync(be);
}

/* A stub that keeps its breakpoints in guest memory (QEMU under KVM)
 * shows its int3 in the n bytes read at gva: put the guest's byte back.
 * Any other byte is the guest's own (TCG keeps breakpoints out of
 * memory) or a write over the trap, which the monitor must see. */
static void gbe_unpatch(const struct gbe *s, uint64_t gva, void *buf, long n)
{
	for (size_t i = 0; n > 0 && i < s->ntraps; i++)
		if (s->saved_ok[i] && s->traps[i] >= gva &&
		    s->traps[i] < gva + (uint64_t)n &&
		    ((uint8_t *)buf)[s->traps[i] - gva] == 0xcc)
			((uint8_t *)buf)[s->traps[i] - gva] = s->saved[i];
}

static long gbe_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     void *buf, size_t len)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_select(s, vcpu);
	if (rc < 0)
		return rc;
	gbe_kernel_view(be, vcpu, gva);
	long n = len ? vsp_gdb_mem_read(&s->g, gva, buf, len) : 0;
	gbe_sync(be);
	gbe_unpatch(s, gva, buf, n);
	return n;
}

static int gbe_read_many(struct vsp_backend *be, uint32_t vcpu,
			 struct vsp_read *r, size_t n)
{
	struct gbe *s = gbe_of(be);
	struct vsp_gdb_read gr[VSP_GDB_READ_MANY_MAX];
	int rc = gbe_select(s, vcpu);
	if (rc < 0)
		return rc;
	if (n > VSP_GDB_READ_MANY_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		gbe_kernel_view(be, vcpu, r[i].gva);
	for (size_t i = 0; i < n; i++)
		gr[i] = (struct vsp_gdb_read){ r[i].gva, r[i].buf, r[i].len, -EIO };
	rc = vsp_gdb_mem_read_many(&s->g, gr, n);
	gbe_sync(be);
	for (size_t i = 0; i < n; i++) {
		r[i].got = rc < 0 ? rc : gr[i].got;
		gbe_unpatch(s, r[i].gva, r[i].buf, r[i].got);
	}
	return rc;
}

static long gbe_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		      const void *buf, size_t len)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_select(s, vcpu);
	if (rc < 0)
		return rc;
	gbe_kernel_view(be, vcpu, gva);
	rc = vsp_gdb_mem_write(&s->g, gva, buf, len);
	gbe_sync(be);
	return rc < 0 ? rc : (long)len;
}

static int gbe_regs_get(struct vsp_backend *be, uint32_t vcpu,
			struct vsp_regs *r)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_load_regs(be, vcpu);
	if (rc < 0)
		return rc;
	const uint8_t *p = s->regs;
	uint64_t *gp = &r->rax;	/* rax..r15 are laid out as in the packet */
	for (int i = 0; i < 16; i++)
		gp[i] = gbe_u64(p + 8 * i);
	r->rip = gbe_u64(p + GBE_REG_RIP);
	r->rflags = gbe_u32(p + GBE_REG_EFLAGS);
	r->fs_base = gbe_u64(p + GBE_REG_FS_BASE);
	r->gs_base = gbe_u64(p + GBE_REG_GS_BASE);
	r->kernel_gs_base = gbe_u64(p + GBE_REG_KGS_BASE);
	r->cr0 = gbe_u64(p + GBE_REG_CR0);
	r->cr3 = gbe_u64(p + GBE_REG_CR3);
	r->cr4 = gbe_u64(p + GBE_REG_CR4);
	return 0;
}

static int gbe_regs_set(struct vsp_backend *be, uint32_t vcpu,
			const struct vsp_regs *r)
{
	struct gbe *s = gbe_of(be);
	int rc = gbe_load_regs(be, vcpu);
	if (rc < 0)
		return rc;
	uint8_t blk[GBE_REGS_MIN];
	const uint64_t *gp = &r->rax;
	for (int i = 0; i < 16; i++)
		memcpy(blk + 8 * i, &gp[i], 8);
	memcpy(blk + GBE_REG_RIP, &r->rip, 8);
	uint32_t fl = (uint32_t)r->rflags;
	memcpy(blk + GBE_REG_EFLAGS, &fl, 4);
	/* Leave eflags out unless it changed: fewer bytes, less to go wrong. */
	size_t len = memcmp(blk + GBE_REG_EFLAGS, s->regs + GBE_REG_EFLAGS, 4) ?
		GBE_REGS_MIN : GBE_REG_EFLAGS;
	rc = vsp_gdb_regs_write(&s->g, blk, len);
	gbe_sync(be);
	if (rc < 0) {
		s->regs_valid = false;
		return rc;
	}
	memcpy(s->regs, blk, len);
	return 0;
}

static bool gbe_is_trap(const struct gbe *s, uint64_t addr)
{
	for (size_t i = 0; i < s->ntraps; i++)
		if (s->traps[i] == addr)
			return true;
	return false;
}

static int gbe_wait(struct vsp_backend *be, struct vsp_stop *stop,
		    int timeout_ms)
{
	struct gbe *s = gbe_of(be);
	struct vsp_gdb_stop gs;
	memset(stop, 0, sizeof *stop);
	if (!s->running) {
		/* Nothing runs, so nothing can stop: the caller asked to wait
		 * on a paused guest. */
		stop->kind = VSP_STOP_TIMEOUT;
		return 0;
	}
	int rc = vsp_gdb_wait_stop(&s->g, &gs, timeout_ms);
	gbe_sync(be);
	if (rc == -ETIMEDOUT) {
		stop->kind = VSP_STOP_TIMEOUT;
		return 0;
	}
	if (rc < 0)
		return rc;
	s->running = false;
	s->regs_valid = false;
	if (gs.kind != VSP_GDB_STOP_SIGNAL) {
		stop->kind = VSP_STOP_EXITED;
		stop->code = gs.sig;
		return 0;
	}
	stop->vcpu = gs.thread ? gs.thread - 1 : (s->g.cur_thread ? s->g.cur_thread - 1 : 0);
	bool stepping = s->stepping, interrupting = s->interrupting;
	s->stepping = false;
	/* The registers tell which trap, and the monitor needs them anyway. */
	rc = gbe_load_regs(be, stop->vcpu);
	if (rc < 0)
		return rc;
	uint64_t rip = gbe_u64(s->regs + GBE_REG_RIP);
	if (gs.sig == 5 && gs.watch && s->nwatch) {
		stop->kind = VSP_STOP_WATCH;
		stop->addr = gs.watch_addr;
	} else if (gs.sig == 5 && gbe_is_trap(s, rip) && !stepping) {
		stop->kind = VSP_STOP_TRAP;
		stop->addr = rip;
	} else if (stepping && gs.sig == 5) {
		stop->kind = VSP_STOP_STEP;
		stop->addr = rip;
	} else if (interrupting || gs.sig == 2) {
		s->interrupting = false;
		stop->kind = VSP_STOP_INTERRUPT;
		stop->addr = rip;
	} else {
		stop->kind = VSP_STOP_OTHER;
		stop->addr = rip;
		stop->code = gs.sig;
	}
	return 0;
}

static int gbe_resume(struct vsp_backend *be, uint32_t vcpu,
		      const struct vsp_resume *how)
{
	struct gbe *s = gbe_of(be);
	int rc = 0;
	/* A GDB stub resumes every vCPU together; a step, where the stub
	 * can, runs the stopped one alone. */
	if (how->how != VSP_RESUME_STAY) {
		rc = gbe_cr3_restore(s);
		gbe_sync(be);
		if (rc < 0)
			return rc;
	}
	switch (how->how) {
	case VSP_RESUME_STAY:
		return 0;
	case VSP_RESUME_CONTINUE:
		rc = vsp_gdb_continue(&s->g, false, 0);
		break;
	case VSP_RESUME_AT:
		rc = vsp_gdb_continue(&s->g, true, how->addr);
		break;
	case VSP_RESUME_STEP:
		rc = vsp_gdb_step_thread(&s->g, vcpu + 1);
		s->stepping = rc == 0;
		break;
	}
	if (rc < 0)
		return rc;
	s->running = true;
	s->regs_valid = false;
	return 0;
}

static int gbe_interrupt(struct vsp_backend *be)
{
	struct gbe *s = gbe_of(be);
	if (!s->running)
		return 0;
	s->interrupting = true;
	return vsp_gdb_interrupt(&s->g);
}

static int64_t gbe_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void gbe_detach(struct vsp_backend *be, bool stay_paused)
{
	struct gbe *s = gbe_of(be);
	if (!s)
		return;
	if (s->g.fd >= 0) {
		/* 3 s for the interrupt's stop, then, if the stub is still
		 * connected and traps are placed, one more interrupt and 10 s:
		 * a loaded host can take longer than 3 s to stop a TCG guest,
		 * and traps left behind stay in QEMU.  A stub that hung up
		 * fails the wait at once, so only a live but silent one costs
		 * the full time.  A signal (a second Ctrl-C) does not cut a
		 * wait short. */
		static const int wait_ms[] = { 3000, 10000 };
		for (int tries = 0; s->running && tries < 2; tries++) {
			struct vsp_gdb_stop gs;
			if (tries == 1) {
				if (s->ntraps + s->nwatch == 0)
					break;
				fprintf(stderr, "vsp: the guest has not stopped 3 s "
					"after the interrupt; waiting up to 10 s more "
					"to remove %zu trap%s\n", s->ntraps + s->nwatch,
					s->ntraps + s->nwatch == 1 ? "" : "s");
			}
			s->interrupting = true;
			int rc = vsp_gdb_interrupt(&s->g);
			int64_t end = gbe_now_ms() + wait_ms[tries];
			while (rc == 0 || rc == -EINTR) {
				int64_t left = end - gbe_now_ms();
				if (left <= 0) {
					rc = -ETIMEDOUT;
					break;
				}
				rc = vsp_gdb_wait_stop(&s->g, &gs, (int)left);
				if (rc == 0)
					break;
			}
			if (rc == 0) {
				s->running = false;
			} else if (rc != -ETIMEDOUT) {
				break;	/* the stub is gone or out of step */
			}
		}
		if (s->running && s->ntraps + s->nwatch > 0)
			fprintf(stderr, "vsp: the stub did not stop the guest; "
				"%zu trap%s left in place until a GDB client "
				"detaches\n", s->ntraps + s->nwatch,
				s->ntraps + s->nwatch == 1 ? "" : "s");
		if (!s->running) {
			bool dead = gbe_cr3_restore(s) < 0 && s->cr3_swapped;
			for (size_t i = s->ntraps; i-- > 0 && !dead;) {
				int rc = vsp_gdb_break_remove(&s->g, s->traps[i]);
				/* A stub that is gone or out of step will not
				 * answer the rest either: do not wait for each. */
				dead = rc == -ENOTCONN || rc == -ETIMEDOUT ||
				       rc == -EPROTO || rc == -EMSGSIZE;
			}
			s->ntraps = 0;
			for (size_t i = s->nwatch; i-- > 0 && !dead;) {
				int rc = vsp_gdb_watch_remove(&s->g, s->watch_at[i],
							      s->watch_len[i]);
				dead = rc == -ENOTCONN || rc == -ETIMEDOUT ||
				       rc == -EPROTO || rc == -EMSGSIZE;
			}
			s->nwatch = 0;
			/* D lets the stub drop its own state and resume the
			 * guest; closing without it leaves a QEMU guest paused. */
			if (!dead && !stay_paused && vsp_gdb_request(&s->g, "D") < 0)
				vsp_gdb_continue(&s->g, false, 0);
		}
	}
	gbe_sync(be);
	vsp_gdb_release(&s->g);
	gbe_guard_stop(s);
	free(s);
	be->priv = NULL;
}

static int gbe_watch_add(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	struct gbe *s = gbe_of(be);
	if (s->nwatch == GBE_MAX_WATCH)
		return -ENOSPC;
	int rc = vsp_gdb_watch_insert(&s->g, addr, len);
	gbe_sync(be);
	if (rc == -EIO)
		return -ENOSPC;	/* the stub said no: no room, or not this */
	if (rc < 0)
		return rc;
	s->watch_at[s->nwatch] = addr;
	s->watch_len[s->nwatch] = len;
	s->nwatch++;
	gbe_guard_note(s, GUARD_WATCH, addr, len);
	return 0;
}

static int gbe_watch_del(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	struct gbe *s = gbe_of(be);
	for (size_t i = 0; i < s->nwatch; i++) {
		if (s->watch_at[i] != addr || s->watch_len[i] != len)
			continue;
		int rc = vsp_gdb_watch_remove(&s->g, addr, len);
		gbe_sync(be);
		s->nwatch--;
		s->watch_at[i] = s->watch_at[s->nwatch];
		s->watch_len[i] = s->watch_len[s->nwatch];
		gbe_guard_note(s, GUARD_UNWATCH, addr, len);
		return rc;
	}
	return -ENOENT;
}

/* The client's last error message, for the monitor's reports. */
const char *vsp_be_gdb_error(struct vsp_backend *be)
{
	struct gbe *s = be ? gbe_of(be) : NULL;
	return s && s->g.err[0] ? s->g.err : "unknown error";
}

static const char *gbe_error(struct vsp_backend *be)
{
	struct gbe *s = be->priv ? gbe_of(be) : NULL;
	return s && s->g.err[0] ? s->g.err : NULL;
}

const struct vsp_backend_ops vsp_be_gdb_ops = {
	.name = "gdb",
	.caps = {
		/* Writes through Z2 watchpoints (watch_add); whether the
		 * monitor has a site for a kind is its own table's say. */
		.kinds = VSP_BE_KIND(SYSCALL) | VSP_BE_KIND(KERNEL) |
			 VSP_BE_KIND(HYPERCALL) | VSP_BE_KIND(WRITE) |
			 VSP_BE_KIND(FILE) | VSP_BE_KIND(NET) |
			 VSP_BE_KIND(TASK) | VSP_BE_KIND(USER),
		.watchpoints = true,
		.single_step = true,
		.guard = true,
	},
	.error = gbe_error,
	.attach = gbe_attach,
	.trap_add = gbe_trap_add,
	.trap_del = gbe_trap_del,
	.watch_add = gbe_watch_add,
	.watch_del = gbe_watch_del,
	.read = gbe_read,
	.read_many = gbe_read_many,
	.write = gbe_write,
	.regs_get = gbe_regs_get,
	.regs_set = gbe_regs_set,
	.wait = gbe_wait,
	.resume = gbe_resume,
	.interrupt = gbe_interrupt,
	.detach = gbe_detach,
};
