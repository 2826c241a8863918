/*
 * t_watch.c: write watchpoints, shadow copies and restores (vmi/watch.h)
 * on a scripted backend that behaves as QEMU's stubs do: under TCG any
 * length in one watchpoint, under KVM four debug registers of at most 8
 * aligned bytes.  The guest's writes are made to the backend's memory
 * between the calls, as a vCPU's store would land before the stop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/watch.h"

#define BASE 0xffffffff82000000ull
#define ALIAS 0xffff888002000000ull	/* the direct map of the same bytes */
#define MEMLEN 8192

static struct {
	uint8_t mem[MEMLEN];
	bool kvm;		/* 4 watchpoints of <= 8 aligned bytes */
	int nwp, adds, dels;
	uint64_t writes, last_at;
} fb;

static long fb_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		    void *buf, size_t len)
{
	(void)be, (void)vcpu;
	if (gva >= ALIAS && gva < ALIAS + MEMLEN)
		gva = gva - ALIAS + BASE;
	if (gva < BASE || gva - BASE + len > MEMLEN)
		return -EFAULT;
	memcpy(buf, fb.mem + (gva - BASE), len);
	return (long)len;
}

static long fb_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     const void *buf, size_t len)
{
	(void)be, (void)vcpu;
	if (gva >= ALIAS && gva < ALIAS + MEMLEN)
		gva = gva - ALIAS + BASE;
	if (gva < BASE || gva - BASE + len > MEMLEN)
		return -EFAULT;
	memcpy(fb.mem + (gva - BASE), buf, len);
	fb.writes++;
	return (long)len;
}

static int fb_watch_add(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	(void)be;
	fb.last_at = addr;
	if (fb.kvm && (len > 8 || (addr & (len - 1)) || fb.nwp == 4))
		return fb.nwp == 4 ? -ENOSPC : -EINVAL;
	fb.nwp++;
	fb.adds++;
	return 0;
}

static int fb_watch_del(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	(void)be, (void)addr, (void)len;
	fb.nwp--;
	fb.dels++;
	return 0;
}

static const struct vsp_backend_ops fb_ops = {
	.name = "scripted", .read = fb_read, .write = fb_write,
	.watch_add = fb_watch_add, .watch_del = fb_watch_del,
};

int main(void)
{
	struct vsp_backend be = { .ops = &fb_ops, .ncpus = 1 };
	struct vsp_event_key kmod = { .kind = VSP_EV_WRITE, .name = "modprobe_path",
				      .lo = -1, .hi = -1 };
	struct vsp_event_key ksct = { .kind = VSP_EV_WRITE, .name = "sys_call_table",
				      .lo = 0, .hi = 450 };
	struct vsp_watchset ws;
	struct vsp_whit h;
	char why[200];
	const uint64_t MOD = BASE + 0x100, SCT = BASE + 0x400;

	memset(&fb, 0, sizeof fb);
	strcpy((char *)fb.mem + 0x100, "/sbin/modprobe");
	for (int i = 0; i < 451; i++) {
		uint64_t v = 0xffffffff81000000ull + (uint64_t)i * 0x100;
		memcpy(fb.mem + 0x400 + i * 8, &v, 8);
	}
	vsp_watch_init(&ws);
	ok(vsp_watch_place(&ws, &be, 0, &kmod, MOD, MOD, 256, why, sizeof why) == 0 &&
	   fb.nwp == 1, "TCG-like: modprobe_path in one watchpoint");
	ok(vsp_watch_place(&ws, &be, 0, &ksct, SCT, SCT, 451 * 8, why, sizeof why) == 0 &&
	   fb.nwp == 2, "TCG-like: sys_call_table[0..450] in one watchpoint");

	/* The guest writes modprobe_path: "/tmp/x\0" over the start. */
	memcpy(fb.mem + 0x100, "/tmp/x", 7);
	ok(vsp_watch_hit(&ws, &be, 0, MOD + 3, &h) == 1 && h.range == 0 &&
	   h.addr == MOD + 1 && h.offset == 1, "hit: the first changed byte, offset 1 "
	   "('/' stays)");
	uint64_t want_old, want_new;
	memcpy(&want_old, "sbin/mod", 8);
	memcpy(&want_new, "tmp/x\0od", 8);
	ok(h.len == 6 && h.value == (want_new & 0xffffffffffffull) &&
	   h.old == (want_old & 0xffffffffffffull),
	   "hit: len 6 (up to the last changed byte), value and old exact");
	ok(h.nchanged == 6, "hit: six bytes changed in all");
	uint64_t w0 = fb.writes;
	ok(vsp_watch_restore(&ws, &be, 0, &h) == 0 &&
	   strcmp((char *)fb.mem + 0x100, "/sbin/modprobe") == 0 && fb.writes == w0 + 1,
	   "deny: the old bytes are back, in one write");
	ok(vsp_watch_hit(&ws, &be, 0, MOD, &h) == 0, "after the restore nothing differs");

	/* An allowed write moves the shadow: the next old is the new value. */
	memcpy(fb.mem + 0x100, "/bin/true", 10);
	ok(vsp_watch_hit(&ws, &be, 0, MOD, &h) == 1 && vsp_watch_accept(&ws, &be, 0, &h) == 0,
	   "allow: the write stands");
	memcpy(fb.mem + 0x100, "/bin/fals", 9);
	memcpy(&want_old, "true", 4);
	ok(vsp_watch_hit(&ws, &be, 0, MOD, &h) == 1 && h.offset == 5 &&
	   (h.old & 0xffffffff) == (want_old & 0xffffffff),
	   "allow: old is what the allowed write left");
	vsp_watch_restore(&ws, &be, 0, &h);

	/* sys_call_table[59] = hook, reported at an address of the other
	 * range: the diff finds it anyway. */
	uint64_t hook = 0xffffffffc0001234ull;
	memcpy(fb.mem + 0x400 + 59 * 8, &hook, 8);
	ok(vsp_watch_hit(&ws, &be, 0, MOD, &h) == 1 && h.range == 1 &&
	   h.offset == 59 * 8 + 0 && h.value == hook &&
	   h.old == 0xffffffff81000000ull + 59 * 0x100,
	   "sys_call_table[59]: the whole entry, the hook and the old handler");
	ok(vsp_watch_restore(&ws, &be, 0, &h) == 0 &&
	   vsp_watch_hit(&ws, &be, 0, SCT, &h) == 0, "deny: the handler is back");
	memcpy(fb.mem + 0x100, "/bin/true", 10);
	ok(vsp_watch_hit(&ws, &be, 0, MOD, &h) == 0, "a write of the same bytes: no change");
	vsp_watch_release(&ws, &be);
	ok(fb.nwp == 0, "release: every watchpoint removed");

	/* The direct-map alias: watched too, its writes told and undone
	 * through the object's own address. */
	vsp_watch_init(&ws);
	ok(vsp_watch_place(&ws, &be, 0, &kmod, MOD, MOD, 256, why, sizeof why) == 0 &&
	   vsp_watch_alias(&ws, &be, 0, 0, MOD - BASE + ALIAS, why, sizeof why) == 0 &&
	   fb.nwp == 2 && fb.last_at == MOD - BASE + ALIAS &&
	   ws.r[0].alias == MOD - BASE + ALIAS, "alias: a second watchpoint there");
	memcpy(fb.mem + 0x100, "/tmp/y", 7);
	w0 = fb.writes;
	ok(vsp_watch_hit(&ws, &be, 0, MOD - BASE + ALIAS + 1, &h) == 1 &&
	   h.range == 0 && h.addr == MOD + 1 && h.offset == 1,
	   "alias: a write there is the object's, at its offset");
	ok(vsp_watch_restore(&ws, &be, 0, &h) == 0 &&
	   strcmp((char *)fb.mem + 0x100, "/bin/true") == 0 && fb.writes == w0 + 2,
	   "alias: deny puts the old bytes back (two runs: the '/' at 4 stayed)");
	ok(vsp_watch_alias(&ws, &be, 0, 0, MOD - BASE + ALIAS, why, sizeof why) < 0 &&
	   strstr(why, "has an alias") && fb.nwp == 2, "alias: one per object");
	ok(vsp_watch_place(&ws, &be, 0, &ksct, SCT, SCT, 64, why, sizeof why) == 0 &&
	   vsp_watch_alias(&ws, &be, 0, 1, MOD - BASE + ALIAS, why, sizeof why) < 0 &&
	   strstr(why, "does not hold its bytes") && fb.nwp == 3 && !ws.r[1].alias,
	   "alias: an address with other bytes is refused: %s", why);
	ok(vsp_watch_alias(&ws, &be, 0, 2, ALIAS, why, sizeof why) < 0 &&
	   strstr(why, "no such object"), "alias: of an object not placed: %s", why);
	ok(vsp_watch_alias(&ws, &be, 0, 1, ALIAS + MEMLEN, why, sizeof why) < 0 &&
	   strstr(why, "cannot be read") && fb.nwp == 3,
	   "alias: an unreadable one is refused: %s", why);
	vsp_watch_release(&ws, &be);
	ok(fb.nwp == 0, "alias: release removes its watchpoints too");

	/* KVM-like: 8-byte aligned pieces, four at most. */
	memset(&fb.nwp, 0, sizeof fb - offsetof(__typeof__(fb), nwp));
	fb.kvm = true;
	vsp_watch_init(&ws);
	ok(vsp_watch_place(&ws, &be, 0, &kmod, MOD, MOD + 4, 20, why, sizeof why) == 0 &&
	   fb.nwp == 3, "KVM-like: 20 bytes at +4 in three aligned pieces");
	ok(vsp_watch_place(&ws, &be, 0, &ksct, SCT, SCT, 451 * 8, why, sizeof why) < 0 &&
	   strstr(why, "needs 451 write watchpoints") && strstr(why, "took 1") &&
	   fb.nwp == 3, "KVM-like: sys_call_table refused with the count: %s", why);
	ok(vsp_watch_alias(&ws, &be, 0, 0, MOD - BASE + ALIAS + 4, why, sizeof why) < 0 &&
	   strstr(why, "took 1") && fb.nwp == 3 && !ws.r[0].alias,
	   "KVM-like: an alias beyond the registers is refused, the object's "
	   "own watchpoints kept: %s", why);
	vsp_watch_release(&ws, &be);
	ok(fb.nwp == 0 && fb.adds == fb.dels, "KVM-like: nothing left behind");

	struct vsp_backend_ops none = fb_ops;
	none.watch_add = NULL;
	none.watch_del = NULL;
	struct vsp_backend nobe = { .ops = &none };
	ok(vsp_watch_place(&ws, &nobe, 0, &kmod, MOD, MOD, 256, why, sizeof why) < 0 &&
	   strstr(why, "no write watchpoints"), "a backend without watchpoints: %s", why);
	ok(vsp_watch_place(&ws, &be, 0, &kmod, BASE + MEMLEN, BASE + MEMLEN, 8, why,
			   sizeof why) < 0 && fb.nwp == 0,
	   "unreadable memory is refused before any watchpoint: %s", why);
	vsp_watch_release(&ws, &be);
	return done();
}
