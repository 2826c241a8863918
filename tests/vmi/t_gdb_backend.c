/*
 * t_gdb_backend.c: the GDB backend's operations (vmi/gdb_backend.c)
 * against a simulated stub.
 *
 * A thread plays a small x86-64 target behind a loopback TCP socket: two
 * vCPUs, a register file laid out as QEMU's, two mapped pages of memory,
 * software breakpoints, continue/step/interrupt and a detach.  The test
 * drives the backend through struct vsp_backend_ops exactly as the
 * monitor does and checks what the simulated target saw: registers parsed
 * and written back (general registers only), reads across an unmapped page
 * returning the mapped prefix, traps reported at their address, steps and
 * interrupts told apart, every breakpoint gone after detach, round trips
 * counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmi/backend.h"
#include "tests/tap.h"

/* ---------------------------------------------------- simulated target */

#define SIM_MEM_BASE 0x1000
#define SIM_MEM_LEN 0x2000
#define SIM_EXIT_RIP 0xdeadull

struct sim {
	int lfd, fd;
	uint16_t port;
	uint8_t regs[608];
	uint8_t mem[SIM_MEM_LEN];
	uint64_t bps[16];
	int nbps;
	uint64_t wps[2], wlen[2];	/* two debug registers, as a small KVM */
	int nwps;
	int last_G_len;
	bool noack, detached, got_hg;
	bool deaf;	/* ignores interrupts, then takes a second client */
	bool acks;	/* offers no QStartNoAckMode: every packet acked */
	int slow_ms;	/* answers an interrupt only after this long */
	bool halted;	/* stopped by an interrupt: another one is ignored */
	int accepts;
	char in[70000];
};

static struct sim sim;
static volatile int sims_running;	/* threads not yet returned */

static void sim_put64(int off, uint64_t v)
{
	memcpy(sim.regs + off, &v, 8);
}

static uint64_t sim_get64(int off)
{
	uint64_t v;
	memcpy(&v, sim.regs + off, 8);
	return v;
}

static void sim_send(const char *payload)
{
	char buf[4096];
	unsigned sum = 0;
	for (const char *p = payload; *p; p++)
		sum += (unsigned char)*p;
	int n = snprintf(buf, sizeof buf, "$%s#%02x", payload, sum & 0xff);
	if (write(sim.fd, buf, (size_t)n) != n)
		exit(2);
}

/* Reads one packet (or the interrupt byte); returns its payload length,
 * -2 for 0x03, -1 when the client went away. */
static int sim_recv(void)
{
	char c;
	size_t n = 0;
	for (;;) {
		if (read(sim.fd, &c, 1) != 1)
			return -1;
		if (c == 3)
			return -2;
		if (c == '$')
			break;
	}
	for (;;) {
		if (read(sim.fd, &c, 1) != 1)
			return -1;
		if (c == '#')
			break;
		if (n < sizeof sim.in - 1)
			sim.in[n++] = c;
	}
	char cs[2];
	if (read(sim.fd, cs, 2) != 2)
		return -1;
	sim.in[n] = 0;
	if (!sim.noack && write(sim.fd, "+", 1) != 1)
		return -1;
	return (int)n;
}

static void sim_hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void sim_stop_at_bp(void)
{
	uint64_t rip = sim_get64(128);
	if (rip == SIM_EXIT_RIP) {
		sim_send("W00");
		return;
	}
	if (sim.nwps) {		/* the guest writes the watched bytes */
		char r[80];
		snprintf(r, sizeof r, "T05thread:01;watch:%llx;",
			 (unsigned long long)sim.wps[0] + 2);
		sim_send(r);
		return;
	}
	if (sim.nbps == 0)
		return;	/* runs until interrupted */
	sim_put64(128, sim.bps[0]);
	sim_send("T05thread:01;");
}

static void *sim_main(void *arg)
{
	(void)arg;
	static char reply[70000];
again:
	sim.fd = accept(sim.lfd, NULL, NULL);
	if (sim.fd < 0) {
		sims_running--;
		return NULL;
	}
	sim.accepts++;
	for (;;) {
		int n = sim_recv();
		if (n == -1)
			break;
		if (n == -2) {
			/* QEMU stops a running guest on the byte and
			 * ignores it once the guest stands still. */
			if (sim.halted)
				continue;
			if (sim.slow_ms)
				usleep((useconds_t)sim.slow_ms * 1000);
			if (!sim.deaf) {
				sim_send("T02thread:01;");
				sim.halted = true;
			}
			continue;
		}
		char *p = sim.in;
		unsigned long long a, l;
		if (strncmp(p, "qSupported", 10) == 0) {
			sim_send(sim.acks ? "PacketSize=200" :
				 "PacketSize=200;QStartNoAckMode+");
		} else if (strcmp(p, "QStartNoAckMode") == 0) {
			sim_send("OK");
			sim.noack = true;
		} else if (strcmp(p, "?") == 0) {
			sim_send("T05thread:01;");
		} else if (strcmp(p, "qfThreadInfo") == 0) {
			sim_send("m01,02");
		} else if (strcmp(p, "qsThreadInfo") == 0) {
			sim_send("l");
		} else if (p[0] == 'H' && p[1] == 'g') {
			sim.got_hg = true;
			sim_send("OK");
		} else if (strcmp(p, "g") == 0) {
			sim_hex(reply, sim.regs, sizeof sim.regs);
			sim_send(reply);
		} else if (p[0] == 'G') {
			size_t len = strlen(p + 1) / 2;
			for (size_t i = 0; i < len && i < sizeof sim.regs; i++) {
				unsigned v;
				sscanf(p + 1 + 2 * i, "%2x", &v);
				sim.regs[i] = (uint8_t)v;
			}
			sim.last_G_len = (int)len;
			sim_send("OK");
		} else if (sscanf(p, "m%llx,%llx", &a, &l) == 2) {
			/* Like QEMU: one unmapped byte fails the whole request. */
			if (a < SIM_MEM_BASE || a + l > SIM_MEM_BASE + SIM_MEM_LEN ||
			    l > 2000) {
				sim_send("E14");
			} else {
				sim_hex(reply, sim.mem + (a - SIM_MEM_BASE), l);
				sim_send(reply);
			}
		} else if (sscanf(p, "M%llx,%llx:", &a, &l) == 2) {
			char *h = strchr(p, ':') + 1;
			if (a < SIM_MEM_BASE || a + l > SIM_MEM_BASE + SIM_MEM_LEN) {
				sim_send("E14");
			} else {
				for (size_t i = 0; i < l; i++) {
					unsigned v;
					sscanf(h + 2 * i, "%2x", &v);
					sim.mem[a - SIM_MEM_BASE + i] = (uint8_t)v;
				}
				sim_send("OK");
			}
		} else if (sscanf(p, "Z0,%llx,", &a) == 1) {
			if (sim.nbps < 16)
				sim.bps[sim.nbps++] = a;
			/* Like QEMU under KVM: int3 goes into guest memory. */
			if (a >= SIM_MEM_BASE && a < SIM_MEM_BASE + SIM_MEM_LEN)
				sim.mem[a - SIM_MEM_BASE] = 0xcc;
			sim_send("OK");
		} else if (sscanf(p, "z0,%llx,", &a) == 1) {
			for (int i = 0; i < sim.nbps; i++)
				if (sim.bps[i] == a) {
					sim.bps[i] = sim.bps[--sim.nbps];
					break;
				}
			sim_send("OK");
		} else if (sscanf(p, "Z2,%llx,%llx", &a, &l) == 2) {
			if (sim.nwps == 2) {
				sim_send("E22");
			} else {
				sim.wps[sim.nwps] = a;
				sim.wlen[sim.nwps++] = l;
				sim_send("OK");
			}
		} else if (sscanf(p, "z2,%llx,%llx", &a, &l) == 2) {
			for (int i = 0; i < sim.nwps; i++)
				if (sim.wps[i] == a && sim.wlen[i] == l) {
					sim.wps[i] = sim.wps[--sim.nwps];
					sim.wlen[i] = sim.wlen[sim.nwps];
					break;
				}
			sim_send("OK");
		} else if (p[0] == 'c') {
			sim.halted = false;
			if (p[1] && sscanf(p + 1, "%llx", &a) == 1)
				sim_put64(128, a);
			if (!sim.deaf && !sim.slow_ms)
				sim_stop_at_bp();
		} else if (p[0] == 's') {
			sim_put64(128, sim_get64(128) + 1);
			sim_send("T05thread:01;");
		} else if (strcmp(p, "D") == 0) {
			sim.detached = true;
			sim_send("OK");
		} else {
			sim_send("");
		}
	}
	close(sim.fd);
	if (sim.deaf) {
		sim.deaf = false;
		sim.noack = false;
		goto again;
	}
	sims_running--;
	return NULL;
}

static void sim_start(void)
{
	/* The last stub's thread must be done with the state first. */
	for (int i = 0; sims_running > 0 && i < 500; i++)
		usleep(10 * 1000);
	if (sims_running == 0 && sim.lfd > 0)
		close(sim.lfd);
	memset(&sim, 0, sizeof sim);
	sims_running++;
	sim_put64(0, 1);				/* rax */
	sim_put64(7 * 8, 0x2ff0);			/* rsp */
	sim_put64(128, 0xffffffff81000000ull);		/* rip */
	uint32_t fl = 0x202;
	memcpy(sim.regs + 136, &fl, 4);			/* eflags */
	sim_put64(172, 0xffff888000000000ull);		/* gs_base */
	sim_put64(188, 0x80050033);			/* cr0 */
	sim_put64(204, 0x1234000);			/* cr3 */
	for (int i = 0; i < SIM_MEM_LEN; i++)
		sim.mem[i] = (uint8_t)(i * 7);
	sim.lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	if (bind(sim.lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(sim.lfd, 1) < 0 ||
	    getsockname(sim.lfd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("sim socket");
		exit(1);
	}
	sim.port = ntohs(sa.sin_port);
	pthread_t th;
	pthread_create(&th, NULL, sim_main, NULL);
	pthread_detach(th);
}

/* ---------------------------------------------------------------- tests */

/* The guard's last words, into the pipe the test reads. */
static void t_last_words(void *ctx, const char *msg)
{
	int fd = *(int *)ctx;
	if (write(fd, msg, strlen(msg)) < 0)
		perror("last words");
}

int main(void)
{
	sim_start();
	struct vsp_backend be = { .ops = &vsp_be_gdb_ops };
	char target[32];
	snprintf(target, sizeof target, "127.0.0.1:%u", sim.port);

	ok(be.ops->attach(&be, target) == 0, "attach");
	ok(be.ncpus == 2, "two vCPUs counted from the thread list");
	ok(sim.noack, "no-ack mode agreed");
	uint64_t rt = be.round_trips;
	ok(rt >= 4, "round trips counted");

	struct vsp_regs r;
	ok(be.ops->regs_get(&be, 0, &r) == 0, "regs_get");
	ok(r.rax == 1 && r.rsp == 0x2ff0 && r.rip == 0xffffffff81000000ull,
	   "general registers and rip parsed");
	ok(r.rflags == 0x202 && r.cr3 == 0x1234000 && r.cr0 == 0x80050033 &&
	   r.gs_base == 0xffff888000000000ull, "eflags, control registers, gs_base");
	ok(be.round_trips == rt + 1, "one round trip for the registers");
	rt = be.round_trips;
	ok(be.ops->regs_get(&be, 0, &r) == 0 && be.round_trips == rt,
	   "registers cached while the guest is stopped");

	uint8_t buf[0x200];
	long n = be.ops->read(&be, 0, 0x2f80, buf, sizeof buf);
	ok(n == 0x80, "read across the end of mapped memory: the mapped prefix");
	ok(n > 0 && buf[0] == (uint8_t)((0x2f80 - SIM_MEM_BASE) * 7) &&
	   buf[0x7f] == (uint8_t)((0x2fff - SIM_MEM_BASE) * 7), "prefix bytes right");
	n = be.ops->read(&be, 0, 0x1000, buf, 0x200);
	ok(n == 0x200, "a read larger than a packet is chunked");
	ok(be.ops->read(&be, 0, 0x5000, buf, 16) < 0, "unmapped: an error");
	const char w[] = "/etc/decoy";
	ok(be.ops->write(&be, 0, 0x1800, w, sizeof w) == (long)sizeof w &&
	   memcmp(sim.mem + 0x800, w, sizeof w) == 0, "write lands in guest memory");

	ok(be.ops->trap_add(&be, 0x1100) == 0, "a trap in readable memory");
	ok(sim.mem[0x100] == 0xcc, "the stub put int3 there");
	ok(be.ops->read(&be, 0, 0x10f8, buf, 16) == 16 &&
	   buf[8] == (uint8_t)(0x100 * 7), "reads show the guest's byte, not the trap");
	uint8_t rb1[16], rb2[16], rb3[16];
	struct vsp_read rs[3] = { { 0x1000, rb1, 16, 0 }, { 0x5000, rb2, 16, 0 },
				  { 0x10f8, rb3, 16, 0 } };
	rt = be.round_trips;
	ok(be.ops->read_many(&be, 0, rs, 3) == 0 && be.round_trips == rt + 1,
	   "read_many: three reads, one round trip");
	ok(rs[0].got == 16 && rb1[1] == 7 && rs[1].got == -EIO,
	   "each read answered in order; the unmapped one fails alone");
	ok(rs[2].got == 16 && rb3[8] == (uint8_t)(0x100 * 7),
	   "batched reads show the guest's byte, not the trap");
	struct vsp_read big = { 0x1000, buf, sizeof buf, 0 };
	ok(be.ops->read_many(&be, 0, &big, 1) == -EINVAL,
	   "a read larger than a packet is refused, not cut");
	/* The guest (or another debugger) writes over the trap: reads must
	 * show the new byte, so the monitor can notice. */
	sim.mem[0x100] = 0x90;
	ok(be.ops->read(&be, 0, 0x10f8, buf, 16) == 16 && buf[8] == 0x90,
	   "a write over the trap is not hidden");
	ok(be.ops->trap_del(&be, 0x1100) == 0, "and it goes again");
	ok(be.ops->trap_add(&be, 0xffffffff81000010ull) == 0, "trap_add");
	ok(be.ops->trap_add(&be, 0xffffffff81000020ull) == 0, "second trap");
	ok(sim.nbps == 2, "the stub holds both breakpoints");
	struct vsp_resume go = { .how = VSP_RESUME_CONTINUE };
	ok(be.ops->resume(&be, 0, &go) == 0, "resume");
	struct vsp_stop st;
	ok(be.ops->wait(&be, &st, 2000) == 0 && st.kind == VSP_STOP_TRAP &&
	   st.addr == 0xffffffff81000010ull && st.vcpu == 0,
	   "the stop is reported as our trap, at its address");

	ok(be.ops->regs_get(&be, 0, &r) == 0 && r.rip == 0xffffffff81000010ull,
	   "registers of the stop");
	r.rax = (uint64_t)-13;
	r.rsp += 8;
	ok(be.ops->regs_set(&be, 0, &r) == 0, "regs_set");
	ok(sim_get64(0) == (uint64_t)-13 && sim_get64(56) == 0x2ff8,
	   "rax and rsp written");
	ok(sim.last_G_len == 136, "only rax..rip written (eflags unchanged)");
	ok(sim_get64(204) == 0x1234000, "control registers untouched");
	r.rflags = 0x246;
	ok(be.ops->regs_set(&be, 0, &r) == 0 && sim.last_G_len == 140,
	   "a changed eflags is written too");

	struct vsp_resume step = { .how = VSP_RESUME_STEP };
	ok(be.ops->resume(&be, 0, &step) == 0 &&
	   be.ops->wait(&be, &st, 2000) == 0 && st.kind == VSP_STOP_STEP,
	   "a single step is reported as a step");

	ok(be.ops->trap_del(&be, 0xffffffff81000010ull) == 0 &&
	   be.ops->trap_del(&be, 0xffffffff81000020ull) == 0, "trap_del");
	ok(be.ops->trap_del(&be, 0x1234) == -ENOENT, "deleting an unknown trap");
	ok(be.ops->resume(&be, 0, &go) == 0, "resume with no traps");
	ok(be.ops->wait(&be, &st, 100) == 0 && st.kind == VSP_STOP_TIMEOUT,
	   "nothing happens: timeout");
	ok(be.ops->interrupt(&be) == 0 && be.ops->wait(&be, &st, 2000) == 0 &&
	   st.kind == VSP_STOP_INTERRUPT, "interrupt stops the guest");

	ok(be.ops->regs_get(&be, 1, &r) == 0 && sim.got_hg,
	   "another vCPU's registers select its thread");
	ok(be.ops->watch_add(&be, 0x1200, 8) == 0 && be.ops->watch_add(&be, 0x1300, 8) == 0 &&
	   sim.nwps == 2 && sim.wlen[0] == 8, "watch_add: two write watchpoints (Z2)");
	ok(be.ops->watch_add(&be, 0x1400, 8) == -ENOSPC,
	   "a third: the stub refuses, -ENOSPC");
	ok(be.ops->resume(&be, 0, &go) == 0 && be.ops->wait(&be, &st, 2000) == 0 &&
	   st.kind == VSP_STOP_WATCH && st.addr == 0x1202,
	   "a watchpoint hit is a watch stop at the written address");
	ok(be.ops->watch_del(&be, 0x1300, 8) == 0 && sim.nwps == 1, "watch_del (z2)");
	ok(be.ops->watch_del(&be, 0x1300, 8) == -ENOENT, "deleting an unknown watchpoint");
	ok(be.ops->trap_add(&be, 0xffffffff81000030ull) == 0, "a trap left behind");
	be.ops->detach(&be, false);
	usleep(100 * 1000);
	ok(sim.nbps == 0, "detach removed every breakpoint");
	ok(sim.nwps == 0, "detach removed every watchpoint");
	ok(sim.detached, "detach sent D (the stub resumes the guest)");
	ok(be.priv == NULL, "backend state freed");

	/* The guest exits while we wait. */
	sim_start();
	snprintf(target, sizeof target, "127.0.0.1:%u", sim.port);
	struct vsp_backend b2 = { .ops = &vsp_be_gdb_ops };
	ok(b2.ops->attach(&b2, target) == 0, "attach again");
	struct vsp_resume at = { .how = VSP_RESUME_AT, .addr = SIM_EXIT_RIP };
	ok(b2.ops->resume(&b2, 0, &at) == 0 &&
	   b2.ops->wait(&b2, &st, 2000) == 0 && st.kind == VSP_STOP_EXITED,
	   "guest exit is reported");
	b2.ops->detach(&b2, false);

	/* A stub that keeps acking: batched reads still share one wait. */
	sim_start();
	sim.acks = true;
	snprintf(target, sizeof target, "127.0.0.1:%u", sim.port);
	struct vsp_backend b6 = { .ops = &vsp_be_gdb_ops };
	ok(b6.ops->attach(&b6, target) == 0 && !sim.noack, "attach, acks on");
	rs[0].got = rs[1].got = rs[2].got = 0;
	rt = b6.round_trips;
	ok(b6.ops->read_many(&b6, 0, rs, 3) == 0 && b6.round_trips == rt + 1 &&
	   rs[0].got == 16 && rs[1].got == -EIO && rs[2].got == 16 &&
	   rb1[1] == 7, "read_many with acks: the same answers, one round trip");
	b6.ops->detach(&b6, false);
	/* A loaded host stops the guest late: detach still waits for the
	 * stop and removes its traps. */
	sim_start();
	snprintf(target, sizeof target, "127.0.0.1:%u", sim.port);
	struct vsp_backend b4 = { .ops = &vsp_be_gdb_ops };
	ok(b4.ops->attach(&b4, target) == 0 &&
	   b4.ops->trap_add(&b4, 0xffffffff81000040ull) == 0, "attach, a trap");
	sim.slow_ms = 4000;	/* and the trap is not reached */
	ok(b4.ops->resume(&b4, 0, &go) == 0 && sim.nbps == 1, "the guest runs");
	b4.ops->detach(&b4, false);
	sim.slow_ms = 0;
	usleep(100 * 1000);
	ok(sim.nbps == 0 && sim.detached,
	   "an interrupt answered after 4 s: the trap is removed, D sent");

	/* --on-monitor-death pause: vsp (a child here) dies with traps
	 * placed; its guard takes the stub, removes each trap itself from
	 * the list vsp kept it told of, and closes without D (the guest
	 * stays paused); its last words reach vsp's audit. */
	sim_start();
	snprintf(target, sizeof target, "127.0.0.1:%u", sim.port);
	int words[2];
	ok(pipe(words) == 0, "a pipe for the guard's last words");
	sim.deaf = true;	/* takes the guard's connection after vsp's */
	fflush(NULL);	/* the child must not print our buffered lines again */
	pid_t vsp = fork();
	if (vsp == 0) {
		struct vsp_backend b5 = { .ops = &vsp_be_gdb_ops };
		b5.guard.on_death = VSP_DEATH_PAUSE;
		b5.guard.last_words = t_last_words;
		b5.guard.ctx = &words[1];
		b5.guard.keep[b5.guard.nkeep++] = words[1];
		close(words[0]);
		if (b5.ops->attach(&b5, target) != 0 ||
		    b5.ops->trap_add(&b5, 0xffffffff81000050ull) != 0 ||
		    b5.ops->trap_add(&b5, 0xffffffff81000060ull) != 0 ||
		    b5.ops->trap_del(&b5, 0xffffffff81000060ull) != 0 ||
		    b5.ops->trap_add(&b5, 0xffffffff81000070ull) != 0)
			_exit(1);
		_exit(0);	/* dies without a detach */
	}
	close(words[1]);
	int wst = -1;
	waitpid(vsp, &wst, 0);
	ok(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "vsp placed three traps, "
	   "removed one, and died");
	char said[400] = "";
	size_t got = 0;
	ssize_t rd;
	while (got < sizeof said - 1 &&
	       (rd = read(words[0], said + got, sizeof said - 1 - got)) > 0)
		got += (size_t)rd;
	said[got] = 0;
	ok(sim.accepts == 2 && sim.nbps == 0, "the guard removed both traps itself");
	ok(!sim.detached, "and sent no D: the guest stays paused");
	ok(strstr(said, "removed every trap (2) and left the guest paused") != NULL,
	   "its last words say so: %s", said);
	close(words[0]);

	struct vsp_backend b3 = { .ops = &vsp_be_gdb_ops };
	ok(b3.ops->attach(&b3, "127.0.0.1:1") < 0, "nothing listening: attach fails");
	b3.ops->detach(&b3, false);
	return done();
}
