/*
 * fuzz_gdb.c: fuzz target for GDB remote stub replies (vmi/gdb.h and the
 * backend over it, vmi/gdb_backend.c).
 *
 * A stub speaks for the guest, and a compromised host-side stub or a
 * man-in-the-middle on its socket speaks for the attacker.  The input is
 * everything the stub says: its bytes are queued on the stub's side of a
 * connection and the stub then stops talking (end of file), so the client
 * must finish every exchange from what it was given -- bad checksums,
 * truncated packets, huge lengths, run-length abuse, unexpected stop
 * replies -- with a result or an error, never a crash, and never a wait
 * (an exchange that waits for more after end of file hangs; libFuzzer's
 * -timeout reports it).
 *
 * Input: byte 0 picks the layer (bit 7: the backend operations of
 * vsp_be_gdb_ops over TCP loopback, else the client over a socketpair) and
 * the number of operations (low 4 bits); one byte per operation follows
 * (what to do and its size), then the stub's bytes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "vmi/backend.h"
#include "vmi/gdb.h"

/* Sizes and addresses operations use: small, odd, page-crossing, huge. */
static const size_t fz_sizes[] = { 0, 1, 7, 8, 4095, 4097, 70000, 1 << 20 };
static const uint64_t fz_addrs[] = { 0, 0xffffffff81000000ull, 0xfff,
	UINT64_MAX - 3, 0x7ffffffde000ull, 1 };

static uint8_t fz_buf[1 << 20];

/* Everything the client sent, read until it hangs up: the stub keeps
 * reading, as a live one does, so the client never blocks in a write. */
static void fz_drain(int fd)
{
	char sink[4096];
	ssize_t r;
	while ((r = read(fd, sink, sizeof(sink))) > 0 || (r < 0 && errno == EINTR))
		;
}

static void *fz_drain_thread(void *arg)
{
	fz_drain(*(int *)arg);
	return NULL;
}

static void fz_client_op(struct vsp_gdb *g, uint8_t op)
{
	struct vsp_gdb_stop st;
	size_t len = fz_sizes[(op >> 4) & 7];
	uint64_t addr = fz_addrs[(op >> 4) % 6];
	int rc = 0;
	uint64_t trips = g->round_trips;

	switch (op & 15) {
	case 0: rc = vsp_gdb_handshake(g, &st); break;
	case 1: rc = (int)vsp_gdb_regs_read(g, fz_buf, len); break;
	case 2: rc = (int)vsp_gdb_mem_read(g, addr, fz_buf, len); break;
	case 3: rc = vsp_gdb_mem_write(g, addr, fz_buf, len < 5000 ? len : 5000); break;
	case 4: rc = vsp_gdb_wait_stop(g, &st, -1); break;
	case 5: rc = vsp_gdb_wait_stop(g, &st, 20); break;
	case 6: rc = vsp_gdb_request(g, "qSupported:swbreak+"); break;
	case 7: rc = vsp_gdb_recv(g, 20); break;
	case 8: rc = vsp_gdb_break_insert(g, addr); break;
	case 9: rc = vsp_gdb_break_remove(g, addr); break;
	case 10: rc = vsp_gdb_continue(g, op & 0x10, addr); break;
	case 11: rc = vsp_gdb_step(g, op & 0x10, addr); break;
	case 12: rc = vsp_gdb_select_thread(g, op >> 4); break;
	case 13: rc = vsp_gdb_regs_write(g, fz_buf, len < 2000 ? len : 2000); break;
	case 14: rc = vsp_gdb_interrupt(g); break;
	default:
		/* A target description (the register number P takes) or
		 * a change of ack mode. */
		if (op & 0x80) {
			unsigned regno;
			rc = vsp_gdb_xml_regnum(g, "cr3", &regno);
		} else {
			g->noack = !g->noack;
		}
		break;
	}
	if (getenv("FZ_VERBOSE"))
		fprintf(stderr, "op %#x: %d %s\n", op, rc, rc < 0 ? g->err : "");
	/* After a reply was taken, it is bounded and NUL-terminated. */
	if (rc >= 0 && g->round_trips > trips && (g->pkt_len > VSP_GDB_MAX_PACKET ||
					g->pkt[g->pkt_len] != 0)) {
		fprintf(stderr, "fuzz invariant: reply of %zu bytes, unterminated\n",
			g->pkt_len);
		abort();
	}
	if (rc < 0 && !memchr(g->err, 0, sizeof(g->err)))
		abort();
	/* Every exchange may only read what it was asked for. */
	if ((op & 15) == 1 && rc > (long)len)
		abort();
}

static void fz_client(const uint8_t *ops, size_t nops, const uint8_t *data,
		      size_t size)
{
	struct vsp_gdb g;
	struct vsp_gdb_stop st;
	int sv[2];

	/* The stub's own payloads, parsed as stop replies. */
	vsp_gdb_parse_stop((const char *)data, size, &st);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(sv[1], data + off, size - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(sv[1], SHUT_WR);
	fcntl(sv[1], F_SETFL, 0);
	pthread_t drainer;
	if (vsp_gdb_init(&g) < 0) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pthread_create(&drainer, NULL, fz_drain_thread, &sv[1]) != 0) {
		vsp_gdb_release(&g);
		close(sv[0]);
		close(sv[1]);
		return;
	}
	g.timeout_ms = 50;
	vsp_gdb_attach_fd(&g, sv[0]);
	for (size_t i = 0; i < nops; i++)
		fz_client_op(&g, ops[i]);
	vsp_gdb_release(&g);	/* closes sv[0]: the drainer sees the end */
	pthread_join(drainer, NULL);
	close(sv[1]);
}

/* ---- the backend over TCP loopback, with a stub thread ----------------- */

static int fz_listen_fd = -1;
static char fz_target[64];
static pthread_t fz_stub_thread;
static sem_t fz_go, fz_done;
static const uint8_t *fz_stub_data;
static size_t fz_stub_size;

/* libFuzzer's timer signals interrupt waits: a wait must be finished. */
static void fz_sem_wait(sem_t *s)
{
	while (sem_wait(s) < 0 && errno == EINTR)
		;
}

static void *fz_stub(void *arg)
{
	for (;;) {
		fz_sem_wait(&fz_go);
		int c = accept(fz_listen_fd, NULL, NULL);
		if (c >= 0) {
			size_t off = 0;
			while (off < fz_stub_size) {
				ssize_t w = send(c, fz_stub_data + off,
						 fz_stub_size - off, MSG_NOSIGNAL);
				if (w <= 0)
					break;
				off += (size_t)w;
			}
			shutdown(c, SHUT_WR);
			fz_drain(c);	/* until the client hangs up */
			close(c);
		}
		sem_post(&fz_done);
	}
	return arg;
}

static int fz_backend_init(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);

	fz_listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fz_listen_fd < 0 || bind(fz_listen_fd, (void *)&sa, sizeof(sa)) < 0 ||
	    listen(fz_listen_fd, 4) < 0 ||
	    getsockname(fz_listen_fd, (void *)&sa, &sl) < 0)
		return -1;
	snprintf(fz_target, sizeof(fz_target), "127.0.0.1:%u",
		 ntohs(sa.sin_port));
	sem_init(&fz_go, 0, 0);
	sem_init(&fz_done, 0, 0);
	return pthread_create(&fz_stub_thread, NULL, fz_stub, NULL);
}

static void fz_backend(const uint8_t *ops, size_t nops, const uint8_t *data,
		       size_t size)
{
	const struct vsp_backend_ops *o = &vsp_be_gdb_ops;
	/* Half the inputs have a PTI guest: kernel reads at stops in user
	 * mode swap CR3 (a target description, P packets) and put it back. */
	struct vsp_backend be = { .ops = o, .guest_pti = nops && (ops[0] & 1) };
	struct vsp_regs r;
	struct vsp_stop st;
	struct vsp_resume how;

	if (fz_listen_fd < 0 && fz_backend_init() < 0) {
		perror("fuzz: loopback stub");
		abort();
	}
	fz_stub_data = data;
	fz_stub_size = size;
	sem_post(&fz_go);
	int rc = o->attach(&be, fz_target);
	if (getenv("FZ_VERBOSE"))
		fprintf(stderr, "attach: %d, %u vCPUs\n", rc, be.ncpus);
	if (rc == 0) {
		for (size_t i = 0; i < nops; i++) {
			uint8_t op = ops[i];
			uint32_t vcpu = (op >> 4) & 3;
			uint64_t addr = fz_addrs[(op >> 4) % 6];
			size_t len = fz_sizes[(op >> 4) & 7];

			switch (op & 15) {
			case 0: o->trap_add(&be, addr); break;
			case 1: o->trap_del(&be, addr); break;
			case 2: o->read(&be, vcpu, addr, fz_buf, len); break;
			case 3: o->write(&be, vcpu, addr, fz_buf, len < 64 ? len : 64); break;
			case 4:
				rc = o->regs_get(&be, vcpu, &r);
				if (getenv("FZ_VERBOSE"))
					fprintf(stderr, "regs: %d rip %#llx\n", rc,
						(unsigned long long)r.rip);
				break;
			case 5:
				memset(&r, 0x41, sizeof(r));
				o->regs_set(&be, vcpu, &r);
				break;
			case 6: o->wait(&be, &st, 20); break;
			case 7: o->wait(&be, &st, -1); break;
			case 8:
				how = (struct vsp_resume){ (op >> 4) & 3, addr };
				o->resume(&be, vcpu, &how);
				break;
			case 9: o->interrupt(&be); break;
			case 10: {
				struct vsp_read rs[3] = {
					{ addr, fz_buf, len < 64 ? len : 64, 0 },
					{ fz_addrs[0], fz_buf + 64, 8, 0 },
					{ fz_addrs[1], fz_buf + 72, 16, 0 },
				};
				o->read_many(&be, vcpu, rs, 1 + (size_t)(op >> 6) % 3);
				break;
			}
			default:
				o->regs_get(&be, vcpu, &r);
				o->wait(&be, &st, 20);
				break;
			}
		}
	}
	if (be.priv)
		o->detach(&be, nops && (ops[0] & 0x80));
	fz_sem_wait(&fz_done);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t nops = data[0] & 15;
	if (nops > size - 1)
		nops = size - 1;
	const uint8_t *ops = data + 1;
	const uint8_t *stub = data + 1 + nops;
	size_t nstub = size - 1 - nops;

	if (data[0] & 0x80)
		fz_backend(ops, nops, stub, nstub);
	else
		fz_client(ops, nops, stub, nstub);
	return 0;
}
