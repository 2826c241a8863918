/*
 * support.c: whether an event can be trapped here (support.h).
 *
 * Nothing here is a table of its own: the backend's capabilities say
 * what it traps (and why not, where it has a reason of its own), the
 * monitor's site table says which kinds it has a site for.  When a kind
 * becomes live, its site goes into vmi/decide.c and its bit into the
 * capabilities of the backends that trap it; the CLI and the monitor
 * only ask.
 */
#include "vmi/support.h"

#include <inttypes.h>
#include <string.h>

#include "vmi/monitor.h"

static const char sup_unknown[] =
	"the monitor has no trap site for this event kind";
static const char sup_backend[] =
	"the backend has no way to trap events of this kind";

const char *vsp_support_why(const struct vsp_backend_ops *ops,
			    const struct vsp_event_key *k)
{
	if ((unsigned)k->kind >= VSP_EV_KIND_COUNT)
		return sup_unknown;
	bool can = vsp_backend_can_trap(ops, k->kind);
	if (!can && ops->caps.why[k->kind])
		return ops->caps.why[k->kind];
	const char *why = vsp_monitor_why_not(k->kind);
	if (why)
		return why;
	return can ? NULL : sup_backend;
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
			const struct vsp_event_key *k,
			const struct vsp_backend_ops *ops, const char *why)
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
		ops && ops->name ? ops->name : "?", why);
}

int vsp_support_check(const struct vsp_policy *p,
		      const struct vsp_backend_ops *ops, FILE *out)
{
	int n = 0;
	uint32_t nev = vsp_policy_nevents(p);

	for (uint32_t i = 0; i < nev; i++) {
		const struct vsp_event_key *k = vsp_policy_event(p, i);
		const char *why = vsp_support_why(ops, k);

		if (why) {
			vsp_support_refuse(out, p, k, ops, why);
			n++;
		}
	}
	return n;
}
