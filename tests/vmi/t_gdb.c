/*
 * t_gdb.c: the GDB remote protocol client (vmi/gdb.c) against a fake stub.
 *
 * The stub is the other end of a socketpair, played by this test: it
 * writes the bytes a stub would send before the client asks (the socket
 * buffers them), then reads back what the client sent.  That covers
 * framing, checksums, acks and NAKs, QStartNoAckMode, run-length and escape
 * decoding, chunked memory reads and their partial results, stop replies,
 * console output, and the malformed replies a hostile stub can send: bad
 * checksums, truncation, oversized packets, run-length abuse, unexpected
 * stops.  Every case must end in a clear error code, never a hang.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmi/gdb.h"
#include "tests/tap.h"

struct fake {
	struct vsp_gdb g;
	int peer;
};

static void fake_open(struct fake *f, bool noack)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	vsp_gdb_init(&f->g);
	vsp_gdb_attach_fd(&f->g, sv[0]);
	f->g.noack = noack;
	f->g.timeout_ms = 200;
	f->peer = sv[1];
}

static void fake_close(struct fake *f)
{
	if (f->peer >= 0)
		close(f->peer);
	vsp_gdb_release(&f->g);
}

static void raw(struct fake *f, const char *s, size_t n)
{
	if (write(f->peer, s, n) != (ssize_t)n) {
		perror("write");
		exit(1);
	}
}

/* Frames a payload as a stub would ($...#cs), without escaping. */
static void pkt(struct fake *f, const char *payload)
{
	unsigned sum = 0;
	size_t n = strlen(payload);
	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)payload[i];
	char tail[4];
	snprintf(tail, sizeof tail, "#%02x", sum & 0xff);
	raw(f, "$", 1);
	raw(f, payload, n);
	raw(f, tail, 3);
}

/* A payload as the client must frame it (no special bytes inside). */
static const char *framed(const char *payload)
{
	static char out[256];
	unsigned sum = 0;
	for (const char *p = payload; *p; p++)
		sum += (unsigned char)*p;
	snprintf(out, sizeof out, "$%s#%02x", payload, sum & 0xff);
	return out;
}

/* Everything the client sent so far. */
static size_t sent(struct fake *f, char *buf, size_t max)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = recv(f->peer, buf + n, max - 1 - n, MSG_DONTWAIT);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	return n;
}

static void test_framing(void)
{
	struct fake f;
	char buf[4096];
	fake_open(&f, true);
	ok(vsp_gdb_send(&f.g, "m1234,4", 7) == 0, "send in no-ack mode");
	sent(&f, buf, sizeof buf);
	ok(strcmp(buf, framed("m1234,4")) == 0, "packet framed with its checksum");
	ok(vsp_gdb_send(&f.g, "a#b$c}d*", 8) == 0, "send with special bytes");
	sent(&f, buf, sizeof buf);
	ok(strncmp(buf, "$a}\x03" "b}\x04" "c}]d}\x0a#", 14) == 0,
	   "#, $, } and * are escaped");
	ok(vsp_gdb_send(&f.g, "m1\n2", 4) == -EINVAL &&
	   vsp_gdb_send(&f.g, "M0,1:\xff", 6) == -EINVAL,
	   "a packet that is not printable text is refused");
	ok(sent(&f, buf, sizeof buf) == 0, "and nothing of it reaches the stub");
	fake_close(&f);
}

static void test_acks(void)
{
	struct fake f;
	char buf[4096];
	fake_open(&f, false);
	raw(&f, "+", 1);
	pkt(&f, "OK");
	ok(vsp_gdb_request(&f.g, "Hg1") == 0 && strcmp(f.g.pkt, "OK") == 0,
	   "ack mode: request answered");
	sent(&f, buf, sizeof buf);
	ok(strcmp(buf, "$Hg1#e0+") == 0, "ack mode: client acks the reply");

	raw(&f, "-+", 2);
	pkt(&f, "OK");
	ok(vsp_gdb_request(&f.g, "Hg1") == 0, "NAK: the packet is sent again");
	sent(&f, buf, sizeof buf);
	ok(strcmp(buf, "$Hg1#e0$Hg1#e0+") == 0, "NAK: two copies on the wire");

	raw(&f, "+$OK#00", 7);
	pkt(&f, "OK");
	ok(vsp_gdb_request(&f.g, "Hg1") == 0, "bad checksum: the client asks again");
	sent(&f, buf, sizeof buf);
	ok(strcmp(buf, "$Hg1#e0-+") == 0, "bad checksum: NAK, then ack");

	raw(&f, "----", 4);
	ok(vsp_gdb_request(&f.g, "Hg1") == -EPROTO, "endless NAKs end in an error");
	fake_close(&f);
}

static void test_decoding(void)
{
	struct fake f;
	fake_open(&f, true);
	pkt(&f, "0* 1");
	ok(vsp_gdb_request(&f.g, "g") == 0 && strcmp(f.g.pkt, "00001") == 0,
	   "run-length: '0* ' is four zeros");
	pkt(&f, "a}\x03" "b");
	ok(vsp_gdb_request(&f.g, "g") == 0 && strcmp(f.g.pkt, "a#b") == 0,
	   "escape: }\\x03 is #");
	raw(&f, "junk+-", 6);
	pkt(&f, "OK");
	ok(vsp_gdb_request(&f.g, "g") == 0 && strcmp(f.g.pkt, "OK") == 0,
	   "bytes outside packets are skipped");
	pkt(&f, "*x");
	ok(vsp_gdb_request(&f.g, "g") == -EPROTO, "run-length with nothing to repeat");
	pkt(&f, "0*\x1f");
	ok(vsp_gdb_request(&f.g, "g") == -EPROTO, "run-length count out of range");
	fake_close(&f);

	fake_open(&f, true);
	/* 800 marks of 97 repeats each: 77,600 bytes from 2,400 sent. */
	char *bomb = malloc(2402);
	bomb[0] = 'a';
	for (int i = 0; i < 800; i++)
		memcpy(bomb + 1 + 3 * i, "*~a", 3);
	bomb[2401] = 0;
	pkt(&f, bomb);
	ok(vsp_gdb_request(&f.g, "g") == -EMSGSIZE, "run-length bomb is refused");
	free(bomb);
	fake_close(&f);

	fake_open(&f, true);
	size_t big = VSP_GDB_MAX_PACKET + 100;
	char *huge = malloc(big + 1);
	memset(huge, 'f', big);
	huge[big] = 0;
	pkt(&f, huge);
	ok(vsp_gdb_request(&f.g, "g") == -EMSGSIZE, "oversized reply is refused");
	free(huge);
	fake_close(&f);

	fake_open(&f, true);
	raw(&f, "$OK#9", 5);
	ok(vsp_gdb_request(&f.g, "g") == -ETIMEDOUT, "truncated reply times out");
	raw(&f, "$OK#zz", 6);
	ok(vsp_gdb_request(&f.g, "g") == -EPROTO, "checksum that is not hex");
	pkt(&f, "OK");
	raw(&f, "", 0);
	fake_close(&f);

	fake_open(&f, true);
	raw(&f, "$OK#9", 5);
	close(f.peer);
	f.peer = -1;
	ok(vsp_gdb_request(&f.g, "g") == -ENOTCONN, "stub gone mid-packet");
	ok(vsp_gdb_request(&f.g, "g") == -ENOTCONN, "and it stays gone");
	fake_close(&f);

	fake_open(&f, true);
	pkt(&f, "OK");
	raw(&f, "$OK#00", 6);	/* a bad checksum in no-ack mode */
	ok(vsp_gdb_request(&f.g, "g") == 0, "first reply fine");
	ok(vsp_gdb_request(&f.g, "g") == -EPROTO, "no-ack mode: bad checksum is an error");
	fake_close(&f);

	fake_open(&f, true);
	pkt(&f, "E14");
	ok(vsp_gdb_request(&f.g, "m0,1") == -EIO, "Exx is -EIO");
	pkt(&f, "");
	ok(vsp_gdb_request(&f.g, "vFoo") == -ENOTSUP, "empty reply is -ENOTSUP");
	ok(vsp_gdb_request(&f.g, "g") == -ETIMEDOUT && f.g.err[0],
	   "silence times out with a message");
	fake_close(&f);
}

static void test_handshake(void)
{
	struct fake f;
	struct vsp_gdb_stop st;
	char buf[4096];
	fake_open(&f, false);
	raw(&f, "+", 1);
	pkt(&f, "PacketSize=200;QStartNoAckMode+;multiprocess+");
	raw(&f, "+", 1);
	pkt(&f, "OK");
	pkt(&f, "T05thread:02;");
	pkt(&f, "vCont;c;C;s;S");
	ok(vsp_gdb_handshake(&f.g, &st) == 0, "handshake");
	ok(f.g.vcont_step, "vCont;s offered: steps run one vCPU");
	ok(f.g.pkt_max == 0x200, "PacketSize taken (hex)");
	ok(f.g.noack, "no-ack mode agreed");
	ok(st.kind == VSP_GDB_STOP_SIGNAL && st.sig == 5 && st.thread == 2,
	   "initial stop: SIGTRAP in thread 2");
	sent(&f, buf, sizeof buf);
	ok(strstr(buf, "$QStartNoAckMode#b0+$?#3f$vCont?#49") != NULL,
	   "QStartNoAckMode acked, then '?' and 'vCont?' without acks");
	ok(vsp_gdb_step_thread(&f.g, 2) == 0, "a step of thread 2 sent");
	sent(&f, buf, sizeof buf);
	ok(strstr(buf, "$vCont;s:2#") != NULL, "  ... as vCont;s:2, the others stopped");
	fake_close(&f);

	/* QEMU stops a running guest on connect and says so first. */
	fake_open(&f, true);
	pkt(&f, "T02thread:01;");
	pkt(&f, "PacketSize=800");
	pkt(&f, "T05thread:01;");
	pkt(&f, "vCont;c;C");
	ok(vsp_gdb_handshake(&f.g, &st) == 0 && f.g.pkt_max == 0x800 &&
	   st.sig == 5, "a stop reported before the qSupported answer is skipped");
	ok(!f.g.vcont_step, "vCont without s: no one-vCPU steps");
	fake_close(&f);

	fake_open(&f, true);
	pkt(&f, "PacketSize=zz");
	pkt(&f, "S05");
	pkt(&f, "");
	ok(vsp_gdb_handshake(&f.g, &st) == 0 && f.g.pkt_max == 1024,
	   "a bad PacketSize keeps the default");
	ok(!f.g.vcont_step && vsp_gdb_step_thread(&f.g, 1) == 0,
	   "a stub without vCont: steps are 's'");
	sent(&f, buf, sizeof buf);
	ok(strstr(buf, "$s#73") != NULL, "  ... sent as 's'");
	fake_close(&f);
}

static void test_memory(void)
{
	struct fake f;
	char buf[4096];
	uint8_t mem[64];
	fake_open(&f, true);
	f.g.pkt_max = 64;	/* 28 bytes per m request */
	char r1[57], r2[57];
	for (int i = 0; i < 28; i++) {
		sprintf(r1 + 2 * i, "%02x", i);
		sprintf(r2 + 2 * i, "%02x", 28 + i);
	}
	pkt(&f, r1);
	pkt(&f, r2);
	pkt(&f, "38393a3b");
	long n = vsp_gdb_mem_read(&f.g, 0x1000, mem, 60);
	ok(n == 60, "60 bytes read in chunks");
	int good = 1;
	for (int i = 0; i < 60; i++)
		good &= mem[i] == i;
	ok(good, "chunks land in order");
	sent(&f, buf, sizeof buf);
	ok(strstr(buf, "$m1000,1c#") && strstr(buf, "$m101c,1c#") &&
	   strstr(buf, "$m1038,4#"), "requests chunked by packet size");

	/* Crossing into an unmapped page: the mapped prefix comes back. */
	pkt(&f, "E14");
	pkt(&f, "00112233445566778899aabbccddeeff");
	pkt(&f, "E14");
	n = vsp_gdb_mem_read(&f.g, 0x1ff0, mem, 40);
	ok(n == 16 && mem[15] == 0xff, "read across an unmapped page: mapped prefix");
	sent(&f, buf, sizeof buf);
	ok(strstr(buf, "$m1ff0,10#") != NULL, "retried up to the page end");

	pkt(&f, "E14");
	ok(vsp_gdb_mem_read(&f.g, 0x1000, mem, 8) == -EFAULT,
	   "nothing readable: -EFAULT");
	pkt(&f, "0011223344");
	ok(vsp_gdb_mem_read(&f.g, 0x1000, mem, 2) == -EPROTO,
	   "more bytes than asked for is malformed");
	pkt(&f, "0g");
	ok(vsp_gdb_mem_read(&f.g, 0x1000, mem, 1) == -EPROTO, "bad hex is malformed");
	pkt(&f, "0011");
	pkt(&f, "");
	n = vsp_gdb_mem_read(&f.g, 0x1000, mem, 4);
	ok(n == -ENOTSUP, "a stub without m fails clearly");

	sent(&f, buf, sizeof buf);
	pkt(&f, "OK");
	uint8_t w[3] = { 0xde, 0xad, 0x01 };
	ok(vsp_gdb_mem_write(&f.g, 0xffff8000, w, 3) == 0, "M write");
	sent(&f, buf, sizeof buf);
	ok(strncmp(buf, "$Mffff8000,3:dead01#", 20) == 0, "M packet contents");
	pkt(&f, "E14");
	ok(vsp_gdb_mem_write(&f.g, 0x10, w, 3) == -EFAULT, "failed M is -EFAULT");
	fake_close(&f);
}

static void test_regs_and_run(void)
{
	struct fake f;
	char buf[4096];
	uint8_t regs[16];
	fake_open(&f, true);
	pkt(&f, "0102xxxx0304");
	long n = vsp_gdb_regs_read(&f.g, regs, sizeof regs);
	ok(n == 6 && regs[0] == 1 && regs[2] == 0 && regs[5] == 4,
	   "g reply decoded, 'xx' as zero");
	pkt(&f, "00112233445566778899aabbccddeeff00");
	ok(vsp_gdb_regs_read(&f.g, regs, sizeof regs) == -EPROTO,
	   "g reply larger than the buffer");
	sent(&f, buf, sizeof buf);
	pkt(&f, "OK");
	const uint8_t w[4] = { 1, 2, 3, 0xff };
	ok(vsp_gdb_regs_write(&f.g, w, 4) == 0, "G write");
	sent(&f, buf, sizeof buf);
	ok(strncmp(buf, "$G010203ff#", 11) == 0, "G packet contents");
	pkt(&f, "OK");
	ok(vsp_gdb_break_insert(&f.g, 0xffffffff81000000ull) == 0, "Z0");
	pkt(&f, "OK");
	ok(vsp_gdb_break_remove(&f.g, 0xffffffff81000000ull) == 0, "z0");
	sent(&f, buf, sizeof buf);
	ok(strstr(buf, "$Z0,ffffffff81000000,1#") && strstr(buf, "$z0,ffffffff81000000,1#"),
	   "breakpoint packets");
	pkt(&f, "");
	ok(vsp_gdb_break_insert(&f.g, 1) == -ENOTSUP, "Z0 unsupported");
	pkt(&f, "E01");
	ok(vsp_gdb_break_insert(&f.g, 1) == -EIO, "Z0 refused");
	pkt(&f, "Yes");
	ok(vsp_gdb_break_insert(&f.g, 1) == -EPROTO, "Z0 odd reply");
	sent(&f, buf, sizeof buf);
	pkt(&f, "OK");
	ok(vsp_gdb_watch_insert(&f.g, 0xffffffff82a5e2c0ull, 256) == 0, "Z2");
	pkt(&f, "OK");
	ok(vsp_gdb_watch_remove(&f.g, 0xffffffff82a5e2c0ull, 256) == 0, "z2");
	sent(&f, buf, sizeof buf);
	ok(strstr(buf, "$Z2,ffffffff82a5e2c0,100#") && strstr(buf, "$z2,ffffffff82a5e2c0,100#"),
	   "watchpoint packets: address and length in hex");
	pkt(&f, "E22");
	ok(vsp_gdb_watch_insert(&f.g, 8, 8) == -EIO, "Z2 refused (no debug register left)");
	pkt(&f, "");
	ok(vsp_gdb_watch_insert(&f.g, 8, 8) == -ENOTSUP, "Z2 unsupported");
	ok(vsp_gdb_watch_insert(&f.g, 8, 0) == -EINVAL, "Z2 of no bytes: not sent");
	sent(&f, buf, sizeof buf);
	ok(vsp_gdb_continue(&f.g, true, 0xffffffff81000005ull) == 0 &&
	   vsp_gdb_step(&f.g, false, 0) == 0 && vsp_gdb_interrupt(&f.g) == 0,
	   "c ADDR, s, interrupt sent");
	sent(&f, buf, sizeof buf);
	ok(strncmp(buf, "$cffffffff81000005#", 19) == 0 && strstr(buf, "$s#73") &&
	   buf[strlen(buf) - 1] == 3, "resume packets and the interrupt byte");
	fake_close(&f);
}

/* The register numbers P takes, from the target description as QEMU
 * writes it: an include, registers commented out, a regnum restart. */
static void test_target_xml(void)
{
	struct fake f;
	char buf[4096];
	unsigned n = 99;

	fake_open(&f, true);
	pkt(&f, "l<?xml version=\"1.0\"?><target><architecture>i386:x86-64"
		"</architecture><xi:include href=\"i386-64bit.xml\"/></target>");
	pkt(&f, "m<feature><reg name=\"rax\" bitsize=\"64\" regnum=\"0\"/>"
		"<reg name=\"rbx\"/><!--reg name=\"cs_base\"/>\n<reg "
		"name=\"ss_base\"/--><flags id=\"cr\"><field name=\"PG\"/>");
	pkt(&f, "l</flags><reg name=\"cr0\" regnum=\"27\"/><reg name=\"cr2\"/>"
		"<reg name='cr3' bitsize=\"64\"/></feature>");
	ok(vsp_gdb_xml_regnum(&f.g, "cr3", &n) == 0 && n == 29,
	   "cr3's number: commented registers skipped, regnum restarts (%u)", n);
	sent(&f, buf, sizeof buf);
	int parts = 0;
	for (const char *p = buf; (p = strstr(p, "$qXfer:features:read:i386-64bit.xml:")); p++)
		parts++;
	ok(strstr(buf, "$qXfer:features:read:target.xml:0,") &&
	   strstr(buf, "$qXfer:features:read:i386-64bit.xml:0,") && parts == 2,
	   "the description and its include are read, the include in 2 parts (%d)",
	   parts);
	static const struct { const char *reply; int rc; const char *what; } bad[] = {
		{ "l<target><reg name=\"rax\"/></target>", -ENOTSUP,
		  "a description without the register: -ENOTSUP" },
		{ "l<target><xi:include href=\"../../etc/x:1\"/></target>", -EPROTO,
		  "an include of a name vsp would not ask for is refused" },
		{ "", -ENOTSUP, "a stub without descriptions: -ENOTSUP" },
		{ "l<target><reg name=\"cr3\" regnum=\"99999\"/></target>", -EPROTO,
		  "an absurd regnum is refused" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		pkt(&f, bad[i].reply);
		ok(vsp_gdb_xml_regnum(&f.g, "cr3", &n) == bad[i].rc, "%s", bad[i].what);
	}
	sent(&f, buf, sizeof buf);
	const uint8_t v[8] = { 0, 0x10, 0, 0, 0, 0, 0, 0 };
	pkt(&f, "OK");
	ok(vsp_gdb_reg_write(&f.g, 29, v, 8) == 0, "P write");
	sent(&f, buf, sizeof buf);
	ok(strncmp(buf, "$P1d=0010000000000000#", 22) == 0, "P packet contents");
	fake_close(&f);
}

static char out_text[64];

static void on_out(void *ctx, const char *text, size_t len)
{
	(void)ctx;
	snprintf(out_text, sizeof out_text, "%.*s", (int)len, text);
}

#define STOP(s) vsp_gdb_parse_stop(s, strlen(s), &st)

static void test_stops(void)
{
	struct vsp_gdb_stop st;
	ok(STOP("T05thread:01;swbreak:;") == 0 &&
	   st.thread == 1 && st.swbreak && st.sig == 5, "T with thread and swbreak");
	ok(STOP("T05thread:p1.2;10:00ff;") == 0 && st.thread == 2,
	   "multiprocess thread id, register pairs skipped");
	ok(STOP("T05watch:1000;") == 0 && st.watch &&
	   st.watch_addr == 0x1000, "watchpoint stop");
	ok(STOP("S02") == 0 && st.sig == 2, "S");
	ok(STOP("W00") == 0 && st.kind == VSP_GDB_STOP_EXITED,
	   "W");
	ok(STOP("W01;process:1") == 0 && st.sig == 1, "W with process");
	ok(STOP("X09") == 0 && st.kind == VSP_GDB_STOP_KILLED, "X");
	ok(STOP("T0") < 0, "short T");
	ok(STOP("T05thread") < 0, "pair without a colon");
	ok(STOP("T05thread:01") < 0, "pair without ';'");
	ok(STOP("T05thread:123456789;") < 0, "thread id too large");
	ok(STOP("Q05") < 0, "unknown stop letter");
	ok(STOP("Szz") < 0, "signal not hex");

	struct fake f;
	fake_open(&f, true);
	f.g.on_output = on_out;
	pkt(&f, "O48690a");
	pkt(&f, "T05thread:01;");
	ok(vsp_gdb_wait_stop(&f.g, &st, 500) == 0 && st.thread == 1,
	   "stop after console output");
	ok(strcmp(out_text, "Hi\n") == 0, "console output delivered");
	pkt(&f, "OK");
	ok(vsp_gdb_wait_stop(&f.g, &st, 500) == -EPROTO, "unexpected reply while running");
	ok(vsp_gdb_wait_stop(&f.g, &st, 50) == -ETIMEDOUT, "wait times out");
	pkt(&f, "W00");
	ok(vsp_gdb_wait_stop(&f.g, &st, 500) == 0 && st.kind == VSP_GDB_STOP_EXITED,
	   "guest exit");
	close(f.peer);
	f.peer = -1;
	ok(vsp_gdb_wait_stop(&f.g, &st, 500) == -ENOTCONN, "link lost while waiting");
	fake_close(&f);
}

static void test_connect(void)
{
	struct vsp_gdb g;
	vsp_gdb_init(&g);
	ok(vsp_gdb_connect(&g, "nonsense", 0) == -EINVAL, "HOST:PORT required");
	ok(vsp_gdb_connect(&g, "127.0.0.1:99x", 0) == -EINVAL, "port must be a number");
	ok(vsp_gdb_connect(&g, "127.0.0.1:1", 100) < 0 && g.err[0],
	   "refused connection fails with a message");
	vsp_gdb_release(&g);
}

int main(void)
{
	test_framing();
	test_acks();
	test_decoding();
	test_handshake();
	test_memory();
	test_regs_and_run();
	test_target_xml();
	test_stops();
	test_connect();
	return done();
}
