/*
 * site_hcall.c: hypercall events of a Xen guest (vmi/mon.h).
 *
 * A trap on the hypercall's page entry (or on both vendors' stubs of
 * kernels with the XSA-466 change, each a hypercall trap: the kernel calls
 * the one its CPU wants, AMD's on an SVM host), placed and checked by
 * vmi/xen_hcall.c, which also reads the event at a stop and lets the call
 * into Xen or makes it return at once (vsp_xhc_finish).  Kill uses the
 * kernel path of kernel events (force_sig: the task dies on its way back
 * to user space, the hypercall is not made).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmi/mon.h"

static const char *hcall_lacks(const struct mon *m,
			       const struct vsp_event_key *k, char *buf,
			       size_t n)
{
	struct vsp_xhc_site site;

	if (k->nr >= VSP_XHC_MAX) {
		snprintf(buf, n, "hypercall %u has no hypercall page entry",
			 k->nr);
		return buf;
	}
	if (!m->syms)
		return "no kernel symbols (give --symbols)";
	if (vsp_xhc_site_find(m->syms, &site, buf, n) < 0)
		return buf;
	return NULL;
}

/* The monitor's hypercall trap at `addr`, kept from the last load or
 * new.  -1 when the table is full. */
static int hcall_trap(struct mon *m, uint64_t addr)
{
	struct mon_trap *old = mon_trap_at(m, addr);
	if (old && old->site == &mon_site_hcall && old->gen != m->gen) {
		old->gen = m->gen;
		m->kept++;
	} else if (!old) {
		struct mon_trap *t = mon_trap_new(m, addr, MON_T_EVENT);
		if (!t) {
			fprintf(stderr, "vsp attach: too many events\n");
			return -1;
		}
		t->site = &mon_site_hcall;
		t->name = vsp_event_kind_name(VSP_EV_HYPERCALL);
		t->gen = m->gen;
		t->checked = true;	/* vsp_xhc_finish leaves these */
		m->installed++;
	}
	return 0;
}

/* 1 when the guest's page refuses it, -1 only for errors that end the
 * attach.  The dry pass checks kernel code only. */
static int hcall_setup(struct mon *m, const struct vsp_event_key *k)
{
	char why[200];
	if (m->dry)
		return 0;
	if (k->nr >= VSP_XHC_MAX) {
		fprintf(stderr, "vsp attach: warning: hypercall %s (%u) has no "
			"hypercall page entry; not trapped\n", k->name, k->nr);
		return 0;
	}
	if (!m->have_xsite) {
		if (!m->syms || vsp_xhc_site_find(m->syms, &m->xsite, why,
						  sizeof why) < 0) {
			fprintf(stderr, "vsp attach: warning: hypercall %s not "
				"trapped: %s\n", k->name,
				m->syms ? why : "no --symbols");
			return 0;
		}
		m->have_xsite = true;
	}
	/* The stubs serve every hypercall: trapped once, for the first rule
	 * (a backend without -EEXIST would count a second trap_add). */
	uint64_t addr = vsp_xhc_entry(&m->xsite, k->nr);
	struct mon_trap *had = mon_trap_at(m, addr);
	int rc = 0;
	if (m->xsite.mode != VSP_XHC_STUB || !had ||
	    had->site != &mon_site_hcall)
		rc = vsp_xhc_place(&m->be, &m->xsite, k->nr, &addr, why,
				   sizeof why);
	if (rc < 0) {
		/* The guest's page is not what it should be: refused, as
		 * mon_refusals refuses what the symbols lack. */
		vsp_support_refuse(stderr, m->p, k, m->be.ops, why);
		return 1;
	}
	m->hkey[k->nr] = k;
	if (hcall_trap(m, addr) < 0)
		return -1;
	/* Both stubs are trapped and the kernel calls one of them: each is
	 * a hypercall trap of the monitor, or the other's stops are no
	 * one's. */
	if (m->xsite.mode == VSP_XHC_STUB && m->xsite.alt &&
	    hcall_trap(m, m->xsite.alt) < 0)
		return -1;
	if (m->xsite.mode == VSP_XHC_STUB && m->xsite.alt)
		mon_say(m, "trap hypercall %s at 0x%" PRIx64 " and 0x%" PRIx64,
			k->name, addr, m->xsite.alt);
	else
		mon_say(m, "trap hypercall %s at 0x%" PRIx64, k->name, addr);
	return 0;
}

static bool hcall_fill(struct mon *m, struct mon_trap *t, int *rc)
{
	struct vsp_event *ev = &m->ev;
	memset(ev, 0, offsetof(struct vsp_event, strs));
	vsp_event_reset_lazy(ev);
	if (vsp_xhc_event(&m->xsite, t->addr, &m->regs, ev) < 0) {
		*rc = mon_leave(m, t);
		return false;
	}
	uint32_t nr = ev->nr;
	const struct vsp_event_key *k = nr < VSP_XHC_MAX ? m->hkey[nr] : NULL;
	if (!k) {
		/* stub mode: a hypercall no rule names */
		*rc = vsp_xhc_finish(&m->be, m->vcpu, &m->xsite, nr, &m->regs,
				     true, 0);
		return false;
	}
	t->hits++;
	t->key = k;
	mon_event_begin(m, t, mon_fetch_none);
	m->args_loaded = true;
	for (int i = 0; i < 6; i++)
		m->str[i].state = 2;
	mon_event_proc(m, k);
	if (mon_wants_stack(m, k))
		vsp_xhc_callpath(m->uw, &m->regs, mon_gread, m, &m->xpath, ev);
	return true;
}

static void hcall_ret(struct mon *m, struct mon_trap *t, int64_t value,
		      struct mon_apply *a)
{
	(void)t;
	a->rc = vsp_xhc_finish(&m->be, m->vcpu, &m->xsite, m->ev.nr, &m->regs,
			       false, value);
	a->applied = a->resumed = a->rc == 0;
}

static void hcall_kill(struct mon *m, struct mon_trap *t, struct mon_apply *a)
{
	(void)t;
	mon_kill(m, m->fn_force_sig, a);
}

/* Into Xen, as if no trap were there. */
static int hcall_leave(struct mon *m, struct mon_trap *t)
{
	(void)t;
	return vsp_xhc_finish(&m->be, m->vcpu, &m->xsite, m->ev.nr, &m->regs,
			      true, 0);
}

const struct mon_site mon_site_hcall = {
	.kind = VSP_EV_HYPERCALL,
	.label = "hypercall %s",
	.lacks = hcall_lacks,
	.setup = hcall_setup,
	.fill = hcall_fill,
	.apply = {
		.ret = hcall_ret,
		.kill = hcall_kill,
		.leave = hcall_leave,
	},
};
