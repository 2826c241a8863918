/*
 * support.c: the table of event kinds each backend traps (support.h).
 *
 * One row per event kind and backend; a NULL reason means the kind is
 * live there.  When a kind becomes live in the monitor, its row changes
 * here and nowhere else; the CLI and the monitor only ask.
 */
#include "vmi/support.h"

#include <inttypes.h>
#include <string.h>

enum { SUP_GDB, SUP_XEN, SUP_OTHER, SUP_NBACKENDS };

static const char *const sup_names[SUP_NBACKENDS] = { "gdb", "xen", NULL };

/* A kind with no row at all is refused with this. */
static const char sup_unknown[] =
	"the monitor has no trap site for this event kind";

struct sup_row {
	bool listed;
	const char *why[SUP_NBACKENDS];	/* NULL: live on that backend */
};

static const struct sup_row sup_rows[VSP_EV_KIND_COUNT] = {
	[VSP_EV_SYSCALL] = { true, { NULL, NULL, NULL } },
	[VSP_EV_KERNEL] = { true, { NULL, NULL, NULL } },
	/* Through the guest's hypercall page (a Xen PV guest): whether the
	 * guest has one is checked at attach. */
	[VSP_EV_HYPERCALL] = { true, { NULL, NULL, NULL } },
	[VSP_EV_USER] = { true, {
		"traps inside guest processes are not implemented yet",
		"traps inside guest processes are not implemented yet",
		"traps inside guest processes are not implemented yet" } },
	[VSP_EV_WRITE] = { true, {
		"writes to kernel data need write watchpoints, which the "
		"monitor does not place yet",
		"the Xen backend has no write watchpoints (it would need "
		"EPT write protection)",
		"writes to kernel data need write watchpoints, which the "
		"monitor does not place yet" } },
};

static int sup_backend(const char *backend)
{
	for (int i = 0; i < SUP_OTHER; i++)
		if (backend && strcmp(backend, sup_names[i]) == 0)
			return i;
	return SUP_OTHER;
}

bool vsp_support_backend_known(const char *backend)
{
	return sup_backend(backend) != SUP_OTHER;
}

const char *vsp_support_why(const char *backend, const struct vsp_event_key *k)
{
	if ((unsigned)k->kind >= VSP_EV_KIND_COUNT || !sup_rows[k->kind].listed)
		return sup_unknown;
	return sup_rows[k->kind].why[sup_backend(backend)];
}

void vsp_support_event_name(const struct vsp_event_key *k, char *buf,
			    size_t size)
{
	const char *kind = vsp_event_kind_name(k->kind);
	const char *name = k->name ? k->name : "?";

	if (k->kind == VSP_EV_USER)
		snprintf(buf, size, "%s \"%s\":%s", kind, k->lib ? k->lib : "",
			 name);
	else if (k->kind == VSP_EV_WRITE && k->lo >= 0)
		snprintf(buf, size, "%s %s[%" PRId64 "..%" PRId64 "]", kind,
			 name, k->lo, k->hi);
	else
		snprintf(buf, size, "%s %s", kind, name);
}

void vsp_support_refuse(FILE *out, const struct vsp_policy *p,
			const struct vsp_event_key *k, const char *backend,
			const char *why)
{
	char ev[300];
	const struct vsp_rule_info *ri = NULL;

	vsp_support_event_name(k, ev, sizeof ev);
	if (k->file && k->rule < vsp_policy_nrules(p))
		ri = vsp_policy_rule(p, k->rule);
	fprintf(out, "%s:%d:%d: error: ", k->file ? k->file : "<policy>",
		k->line, k->col);
	if (ri && ri->named)
		fprintf(out, "rule \"%s\": ", ri->name);
	fprintf(out, "%s cannot be trapped through the %s backend: %s\n", ev,
		backend ? backend : "?", why);
}

int vsp_support_check(const struct vsp_policy *p, const char *backend,
		      FILE *out)
{
	int n = 0;
	uint32_t nev = vsp_policy_nevents(p);

	for (uint32_t i = 0; i < nev; i++) {
		const struct vsp_event_key *k = vsp_policy_event(p, i);
		const char *why = vsp_support_why(backend, k);

		if (why) {
			vsp_support_refuse(out, p, k, backend, why);
			n++;
		}
	}
	return n;
}
