/*
 * t_integrity.c: CR0.WP, CR4.SMEP/SMAP and the syscall entry code
 * compared with their values at attach (vmi/integrity.h).
 */
#include <errno.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/integrity.h"

#define ENTRY 0xffffffff81e00000ull
static uint8_t code[64];
static bool unreadable;

static long rd(void *ctx, uint64_t gva, void *buf, size_t len)
{
	(void)ctx;
	if (unreadable || gva < ENTRY || gva - ENTRY + len > sizeof code)
		return -EFAULT;
	memcpy(buf, code + (gva - ENTRY), len);
	return (long)len;
}

int main(void)
{
	struct vsp_integ g;
	struct vsp_regs r = { .cr0 = 0x80050033, .cr4 = 0x3506f0 | VSP_CR4_SMEP | VSP_CR4_SMAP };
	char msg[300];

	for (int i = 0; i < 64; i++)
		code[i] = (uint8_t)(0x90 + i);
	vsp_integ_init(&g, &r, rd, NULL, ENTRY);
	ok(g.have_code, "attach: the entry code is recorded");
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == 0 && !msg[0],
	   "nothing changed: nothing reported");
	r.cr0 &= ~VSP_CR0_WP;
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == VSP_INTEG_WP &&
	   strstr(msg, "CR0.WP cleared"), "CR0.WP cleared: %s", msg);
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == 0,
	   "the same change is reported once");
	r.cr0 |= VSP_CR0_WP;
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == 0,
	   "set back: nothing new");
	r.cr0 &= ~VSP_CR0_WP;
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == VSP_INTEG_WP,
	   "cleared a second time: reported again");
	r.cr0 |= VSP_CR0_WP;
	r.cr4 &= ~(VSP_CR4_SMEP | VSP_CR4_SMAP);
	unsigned c = vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg);
	ok(c == (VSP_INTEG_SMEP | VSP_INTEG_SMAP) && strstr(msg, "SMEP cleared") &&
	   strstr(msg, "SMAP cleared"), "SMEP and SMAP cleared: %s", msg);
	r.cr4 |= VSP_CR4_SMEP | VSP_CR4_SMAP;
	vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg);
	code[5] = 0xe9;	/* a jmp patched into the entry */
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == VSP_INTEG_ENTRY &&
	   strstr(msg, "entry_SYSCALL_64"), "the entry code patched: %s", msg);
	unreadable = true;
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == 0,
	   "an unreadable entry is no change");
	unreadable = false;
	code[5] = 0x90 + 5;
	vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg);
	code[6] = 0xcc;
	ok(vsp_integ_check(&g, &r, NULL, NULL, msg, sizeof msg) == 0,
	   "without a read the entry code is not looked at");
	ok(vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg) == VSP_INTEG_ENTRY,
	   "the next check that reads it finds the change");
	ok(vsp_integ_check(&g, &r, NULL, NULL, msg, sizeof msg) == 0 &&
	   (g.reported & VSP_INTEG_ENTRY),
	   "a check without the read keeps it reported, not forgotten");
	code[6] = 0x90 + 6;
	vsp_integ_check(&g, &r, rd, NULL, msg, sizeof msg);
	struct vsp_regs rx = r;
	rx.lstar = 0xffffffff81e00000ull;
	struct vsp_integ gx;
	vsp_integ_init(&gx, &rx, rd, NULL, ENTRY);
	rx.lstar = 0xffffffffc0001000ull;
	ok(vsp_integ_check(&gx, &rx, NULL, NULL, msg, sizeof msg) == VSP_INTEG_LSTAR &&
	   strstr(msg, "MSR_LSTAR") && strstr(msg, "0xffffffffc0001000"),
	   "MSR_LSTAR moved (a backend that shows it): %s", msg);
	ok(vsp_integ_check(&g, &rx, NULL, NULL, msg, sizeof msg) == 0,
	   "LSTAR is not compared where the backend did not show it at attach");
	unreadable = true;
	struct vsp_integ g2;
	vsp_integ_init(&g2, &r, rd, NULL, ENTRY);
	ok(!g2.have_code && vsp_integ_check(&g2, &r, rd, NULL, msg, sizeof msg) == 0,
	   "entry unreadable at attach: only the registers are compared");
	return done();
}
