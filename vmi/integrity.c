/*
 * integrity.c: CR0.WP, CR4.SMEP/SMAP and the syscall entry against their
 * values at attach (integrity.h).
 */
#include "vmi/integrity.h"

#include <stdio.h>
#include <string.h>

void vsp_integ_init(struct vsp_integ *g, const struct vsp_regs *r,
		    vsp_gread_fn read, void *ctx, uint64_t entry)
{
	memset(g, 0, sizeof(*g));
	g->cr0 = r->cr0 & VSP_CR0_WP;
	g->cr4 = r->cr4 & (VSP_CR4_SMEP | VSP_CR4_SMAP);
	g->lstar = r->lstar;
	g->entry = entry;
	if (entry)
		g->have_code = vsp_gread_all(read, ctx, entry, g->code,
					     sizeof(g->code)) == 0;
}

static void integ_say(char *msg, size_t n, size_t *at, const char *what)
{
	if (*at < n) {
		int w = snprintf(msg + *at, n - *at, "%s%s", *at ? "; " : "",
				 what);
		*at += w > 0 ? (size_t)w : 0;
	}
}

static void integ_lstar(char *msg, size_t n, size_t *at, uint64_t was,
			uint64_t now)
{
	char what[120];

	snprintf(what, sizeof what, "MSR_LSTAR (the syscall entry) is 0x%llx, "
		 "was 0x%llx", (unsigned long long)now, (unsigned long long)was);
	integ_say(msg, n, at, what);
}

unsigned vsp_integ_check(struct vsp_integ *g, const struct vsp_regs *r,
			 vsp_gread_fn read, void *ctx, char *msg, size_t n)
{
	unsigned now = 0;
	uint8_t code[VSP_INTEG_ENTRY_BYTES];

	g->checks++;
	if ((r->cr0 & VSP_CR0_WP) != g->cr0)
		now |= VSP_INTEG_WP;
	if ((r->cr4 & VSP_CR4_SMEP) != (g->cr4 & VSP_CR4_SMEP))
		now |= VSP_INTEG_SMEP;
	if ((r->cr4 & VSP_CR4_SMAP) != (g->cr4 & VSP_CR4_SMAP))
		now |= VSP_INTEG_SMAP;
	if (g->lstar && r->lstar != g->lstar)
		now |= VSP_INTEG_LSTAR;
	if (g->have_code && read) {
		if (vsp_gread_all(read, ctx, g->entry, code, sizeof(code)) != 0)
			now |= g->reported & VSP_INTEG_ENTRY;	/* not known now */
		else if (memcmp(code, g->code, sizeof(code)) != 0)
			now |= VSP_INTEG_ENTRY;
	} else {
		now |= g->reported & VSP_INTEG_ENTRY;
	}
	unsigned fresh = now & ~g->reported;
	g->reported = now;	/* what changed back is forgotten */
	if (msg && n)
		msg[0] = '\0';
	size_t at = 0;
	if (fresh & VSP_INTEG_WP)
		integ_say(msg, n, &at, r->cr0 & VSP_CR0_WP ?
			  "CR0.WP set again" : "CR0.WP cleared: kernel "
			  "write protection is off");
	if (fresh & VSP_INTEG_SMEP)
		integ_say(msg, n, &at, r->cr4 & VSP_CR4_SMEP ?
			  "CR4.SMEP set" : "CR4.SMEP cleared");
	if (fresh & VSP_INTEG_SMAP)
		integ_say(msg, n, &at, r->cr4 & VSP_CR4_SMAP ?
			  "CR4.SMAP set" : "CR4.SMAP cleared");
	if (fresh & VSP_INTEG_LSTAR)
		integ_lstar(msg, n, &at, g->lstar, r->lstar);
	if (fresh & VSP_INTEG_ENTRY)
		integ_say(msg, n, &at, "the syscall entry code "
			  "(entry_SYSCALL_64) changed");
	return fresh;
}
