/*
 * t_kinds.c: the ground-floor tables of base/kinds.h read back, and the
 * field list of base/event.h checked against them.
 */
#include <string.h>

#include "base/kinds.h"
#include "base/event.h"
#include "tests/tap.h"

static const enum vsp_field_group field_group[VSP_F_COUNT] = {
#define ROW(id, name, type, group) [VSP_F_##id] = VSP_FG_##group,
	VSP_FIELD_LIST(ROW)
#undef ROW
};

int main(void)
{
	char buf[160];

	for (int k = 0; k < VSP_EV_KIND_COUNT; k++) {
		enum vsp_event_kind back = VSP_EV_KIND_COUNT;
		const char *name = vsp_event_kind_name((enum vsp_event_kind)k);

		ok(vsp_event_kind_parse(name, &back) == 0 && back == (enum vsp_event_kind)k,
		   "kind %s reads back", name);
		ok(vsp_kind_has((enum vsp_event_kind)k, VSP_FG_COMMON),
		   "kind %s has the common fields", name);
		ok(!vsp_kind_has((enum vsp_event_kind)k, VSP_FG_HAND),
		   "kind %s lists no hand-resolved group", name);
		ok(vsp_kind_accepts((enum vsp_event_kind)k, VSP_V_ALLOW) &&
		   !vsp_kind_accepts((enum vsp_event_kind)k, VSP_V_NONE),
		   "kind %s accepts allow, never none", name);
	}
	enum vsp_event_kind k;
	ok(vsp_event_kind_parse("syscal", &k) < 0, "a misspelt kind is none");
	ok(vsp_event_kind_parse("", &k) < 0, "the empty name is none");
	ok(strcmp(vsp_event_kind_name(VSP_EV_KIND_COUNT), "unknown") == 0,
	   "a kind out of range is unknown");
	ok(strcmp(vsp_event_kind_names(buf, sizeof buf, "and"),
		  "syscall, hypercall, kernel, user, write, file, net and task") == 0,
	   "kinds joined: %s", buf);
	ok(strlen(vsp_event_kind_names(buf, 12, "or")) == 11,
	   "a short buffer is cut and terminated: %s", buf);

	/* The language reference, §5 and §6. */
	ok(vsp_kind_accepts(VSP_EV_SYSCALL, VSP_V_REDIRECT) &&
	   !vsp_kind_accepts(VSP_EV_HYPERCALL, VSP_V_REDIRECT) &&
	   !vsp_kind_accepts(VSP_EV_KERNEL, VSP_V_REDIRECT),
	   "only syscalls accept redirect");
	ok(vsp_kind_nargs(VSP_EV_SYSCALL) == 6 &&
	   vsp_kind_nargs(VSP_EV_HYPERCALL) == 5 &&
	   vsp_kind_nargs(VSP_EV_KERNEL) == 6 &&
	   vsp_kind_nargs(VSP_EV_WRITE) == 0, "argument registers per kind");
	ok(vsp_kind_has(VSP_EV_SYSCALL, VSP_FG_NR) &&
	   vsp_kind_has(VSP_EV_HYPERCALL, VSP_FG_NR) &&
	   !vsp_kind_has(VSP_EV_KERNEL, VSP_FG_NR), "nr on numbered kinds");

	/* Every group a field names is carried by some kind (or is HAND). */
	for (int f = 0; f < VSP_F_COUNT; f++) {
		bool carried = field_group[f] == VSP_FG_HAND;

		for (int kk = 0; kk < VSP_EV_KIND_COUNT; kk++)
			carried |= vsp_kind_has((enum vsp_event_kind)kk,
						field_group[f]);
		if (!carried)
			ok(0, "field %d is on no event kind", f);
	}
	ok(1, "every field is on some event kind");

	for (int v = 0; v < VSP_V_COUNT; v++)
		ok(vsp_verdict_name((enum vsp_verdict)v)[0] != '\0',
		   "verdict %d is named %s", v,
		   vsp_verdict_name((enum vsp_verdict)v));
	ok(strcmp(vsp_verdict_name(VSP_V_REDIRECT), "redirect") == 0 &&
	   strcmp(vsp_verdict_name(VSP_V_COUNT), "none") == 0,
	   "verdict names, out of range none");

	enum vsp_mode m = VSP_MODE_UNSET;
	ok(vsp_mode_parse("learn", &m) == 0 && m == VSP_MODE_LEARN,
	   "learn reads back");
	ok(vsp_mode_parse("Learn", &m) < 0, "modes are case-sensitive");
	ok(strcmp(vsp_mode_name(VSP_MODE_UNSET), "unset") == 0, "unset mode");
	ok(strcmp(vsp_mode_names(buf, sizeof buf, "or"),
		  "enforce, monitor or learn") == 0, "modes joined: %s", buf);
	return done();
}
