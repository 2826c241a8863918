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
#define MEMLEN 8192

static struct {
	uint8_t mem[MEMLEN];
	bool kvm;		/* 4 watchpoints of <= 8 aligned bytes */
	int nwp, adds, dels;
	uint64_t writes;
} fb;

static long fb_read(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		    void *buf, size_t len)
{
	(void)be, (void)vcpu;
	if (gva < BASE || gva - BASE + len > MEMLEN)
		return -EFAULT;
	memcpy(buf, fb.mem + (gva - BASE), len);
	return (long)len;
}

static long fb_write(struct vsp_backend *be, uint32_t vcpu, uint64_t gva,
		     const void *buf, size_t len)
{
	(void)be, (void)vcpu;
	if (gva < BASE || gva - BASE + len > MEMLEN)
		return -EFAULT;
	memcpy(fb.mem + (gva - BASE), buf, len);
	fb.writes++;
	return (long)len;
}

static int fb_watch_add(struct vsp_backend *be, uint64_t addr, uint64_t len)
{
	(void)be;
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

	/* KVM-like: 8-byte aligned pieces, four at most. */
	memset(&fb.nwp, 0, sizeof fb - offsetof(__typeof__(fb), nwp));
	fb.kvm = true;
	vsp_watch_init(&ws);
	ok(vsp_watch_place(&ws, &be, 0, &kmod, MOD, MOD + 4, 20, why, sizeof why) == 0 &&
	   fb.nwp == 3, "KVM-like: 20 bytes at +4 in three aligned pieces");
	ok(vsp_watch_place(&ws, &be, 0, &ksct, SCT, SCT, 451 * 8, why, sizeof why) < 0 &&
	   strstr(why, "needs 451 write watchpoints") && strstr(why, "took 1") &&
	   fb.nwp == 3, "KVM-like: sys_call_table refused with the count: %s", why);
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
