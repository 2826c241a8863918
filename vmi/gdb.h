/*
 * gdb.h: a client for the GDB remote serial protocol (RSP).
 *
 * The GDB backend (vmi/gdb_backend.c) reaches a guest through any GDB
 * remote stub (QEMU's gdbstub over TCP, a KVM host's, a hardware probe's)
 * with this client: packet framing and checksums, acknowledgements (off
 * once QStartNoAckMode is agreed), run-length and escape decoding, and the
 * few commands a monitor needs (registers, memory, software breakpoints,
 * continue, step, interrupt, stop replies).
 *
 * Everything the stub sends is untrusted: replies are bounded
 * (VSP_GDB_MAX_PACKET decoded bytes), every wait has a deadline, and a
 * malformed reply is an error with a message in g->err, never a crash or
 * a hang.  Functions return 0 (or a count) on success and a negative errno
 * code otherwise:
 *   -ETIMEDOUT  no reply in time       -ENOTCONN  the stub went away
 *   -EPROTO     malformed reply        -EMSGSIZE  reply over the bound
 *   -EIO        the stub said Exx      -ENOTSUP   empty reply (unsupported)
 *   -EFAULT     memory not readable    -EINTR     a signal ended a wait
 * After -EPROTO or -EMSGSIZE the stream may be out of step; callers treat
 * the link as lost.
 */
#ifndef VSP_GDB_H
#define VSP_GDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSP_GDB_MAX_PACKET 65536	/* decoded bytes we accept in a reply */
#define VSP_GDB_DEFAULT_TIMEOUT_MS 5000

struct vsp_gdb {
	int fd;
	bool noack;		/* QStartNoAckMode agreed */
	size_t pkt_max;		/* the stub's PacketSize (bytes it accepts) */
	int timeout_ms;		/* for command replies */

	/* Raw bytes read but not yet parsed. */
	char in[8192];
	size_t in_len, in_pos;

	/* The last decoded reply, NUL-terminated (owned, VSP_GDB_MAX_PACKET+1). */
	char *pkt;
	size_t pkt_len;

	/* Outgoing frame under construction (owned). */
	char *out;
	size_t out_cap;

	uint64_t round_trips;	/* requests answered, stops waited for */
	uint32_t cur_thread;	/* thread id of the last stop (1-based) */
	bool vcont_step;	/* vCont;s:T steps one thread, the others stay */

	/* Console output ('O' packets) while the target runs; may be NULL. */
	void (*on_output)(void *ctx, const char *text, size_t len);
	void *output_ctx;

	bool debug;		/* log packets to stderr (VSP_GDB_DEBUG) */
	char err[160];		/* what went wrong last */
};

enum vsp_gdb_stop_kind {
	VSP_GDB_STOP_SIGNAL,	/* S or T: stopped with a signal */
	VSP_GDB_STOP_EXITED,	/* W: the process (guest) exited */
	VSP_GDB_STOP_KILLED	/* X: terminated by a signal */
};

struct vsp_gdb_stop {
	enum vsp_gdb_stop_kind kind;
	int sig;		/* signal or exit status */
	uint32_t thread;	/* T: thread:NN, 0 when absent */
	bool swbreak, hwbreak, watch;
	uint64_t watch_addr;
};

/* Sets up an unconnected client (fd -1); allocates the buffers. */
int vsp_gdb_init(struct vsp_gdb *g);
/* Frees the buffers and closes the descriptor. */
void vsp_gdb_release(struct vsp_gdb *g);

/* Connects to "HOST:PORT" ("[v6]:PORT" too), retrying a refused connection
 * until timeout_ms passes (a stub that is still starting). */
int vsp_gdb_connect(struct vsp_gdb *g, const char *hostport, int timeout_ms);
/* Takes over an already connected descriptor (tests use a socketpair). */
void vsp_gdb_attach_fd(struct vsp_gdb *g, int fd);

/* qSupported (PacketSize, QStartNoAckMode), `?` (fills *stop with the
 * stub's idea of why the target is stopped), then `vCont?`. */
int vsp_gdb_handshake(struct vsp_gdb *g, struct vsp_gdb_stop *stop);

/* Low level: one framed packet out (waiting for its ack unless noack). */
int vsp_gdb_send(struct vsp_gdb *g, const char *payload, size_t len);
/* Low level: the next packet in, decoded into g->pkt.  'O' packets are not
 * special here. */
int vsp_gdb_recv(struct vsp_gdb *g, int timeout_ms);
/* Send, then receive the reply (a round trip).  "Exx" becomes -EIO, an
 * empty reply -ENOTSUP. */
int vsp_gdb_request(struct vsp_gdb *g, const char *payload);

/* g: raw register bytes (target order), returns how many (<= max). */
long vsp_gdb_regs_read(struct vsp_gdb *g, uint8_t *buf, size_t max);
/* G: writes the first len bytes of the register file. */
int vsp_gdb_regs_write(struct vsp_gdb *g, const uint8_t *buf, size_t len);
/*
 * The number of register `name` in the stub's target description
 * (qXfer:features:read of target.xml and the files it includes, the
 * registers counted in document order, a regnum attribute restarting the
 * count), as P packets take it; a stub such as QEMU's takes P only from a
 * client that has read the description.  0, -ENOTSUP (no description, or
 * no such register) or a link error.
 */
int vsp_gdb_xml_regnum(struct vsp_gdb *g, const char *name, unsigned *regno);

/* Writes the message into g->err and returns code: how this client and
 * its parts (gdb_xml.c) fail. */
int vsp_gdb_fail(struct vsp_gdb *g, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* P: writes register regno (the stub's numbering) with len bytes. */
int vsp_gdb_reg_write(struct vsp_gdb *g, unsigned regno, const uint8_t *buf,
		      size_t len);
/* Hg: selects the thread g/G/m/M act on. */
int vsp_gdb_select_thread(struct vsp_gdb *g, uint32_t thread);

/* m, chunked by packet size: returns bytes read from the start (short at
 * the first unreadable page), -EFAULT when none could be read. */
long vsp_gdb_mem_read(struct vsp_gdb *g, uint64_t addr, void *buf,
		      size_t len);
/* Several reads sent as m requests before the first reply is read, so
 * they cost one round trip.  Each r[i].len must fit one reply packet; r[i].got is the
 * bytes read or -EIO where the stub answered with an error.  Returns 0
 * or a link error (the stub gone, out of step, or silent). */
struct vsp_gdb_read {
	uint64_t addr;
	void *buf;
	size_t len;
	long got;
};
#define VSP_GDB_READ_MANY_MAX 16
int vsp_gdb_mem_read_many(struct vsp_gdb *g, struct vsp_gdb_read *r, size_t n);
/* The largest r[i].len vsp_gdb_mem_read_many takes. */
size_t vsp_gdb_read_chunk(const struct vsp_gdb *g);
/* M, chunked: returns 0 or an error (part may have been written). */
int vsp_gdb_mem_write(struct vsp_gdb *g, uint64_t addr, const void *buf,
		      size_t len);

/* Z0/z0 (software breakpoint, kind 1 for x86). */
int vsp_gdb_break_insert(struct vsp_gdb *g, uint64_t addr);
int vsp_gdb_break_remove(struct vsp_gdb *g, uint64_t addr);
/* Z2/z2: a write watchpoint on [addr, addr + len).  -ENOTSUP when the stub
 * has none, -EIO when it refuses this one (out of debug registers, a
 * length or alignment it cannot watch). */
int vsp_gdb_watch_insert(struct vsp_gdb *g, uint64_t addr, uint64_t len);
int vsp_gdb_watch_remove(struct vsp_gdb *g, uint64_t addr, uint64_t len);

/* c / c ADDR and s / s ADDR: no reply until the target stops. */
int vsp_gdb_continue(struct vsp_gdb *g, bool at, uint64_t addr);
int vsp_gdb_step(struct vsp_gdb *g, bool at, uint64_t addr);
/* Steps thread `thread` alone (vCont;s:T) when the stub has vCont: the
 * other vCPUs stay stopped, so none runs past a trap removed for the step
 * (QEMU's `s` resumes them all).  Without vCont, or thread 0, `s`. */
int vsp_gdb_step_thread(struct vsp_gdb *g, uint32_t thread);
/* Sends the interrupt byte (0x03); a stop reply follows. */
int vsp_gdb_interrupt(struct vsp_gdb *g);

/* Waits for a stop reply (skipping 'O' output).  timeout_ms -1: forever.
 * A signal during the wait returns -EINTR so the caller can act on it. */
int vsp_gdb_wait_stop(struct vsp_gdb *g, struct vsp_gdb_stop *stop,
		      int timeout_ms);
/* Parses a stop reply payload (exposed for tests). */
int vsp_gdb_parse_stop(const char *p, size_t len, struct vsp_gdb_stop *stop);

/* The GDB backend's last error message (vmi/gdb_backend.c), for reports. */
struct vsp_backend;
const char *vsp_be_gdb_error(struct vsp_backend *be);

#endif
