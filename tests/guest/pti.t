#!/bin/bash
# pti.t: a guest whose kernel isolates its page tables (pti=on).  A vCPU
# stopped at a user function's trap runs on the user copy of its pgd,
# which maps almost none of the kernel, and QEMU's stub reads through the
# vCPU's own page tables: vsp reads X86_FEATURE_PTI from the kernel, puts
# the kernel's copy in CR3 for the stop's kernel reads (the register
# number from the stub's target description) and its own back before the
# vCPU runs.  Without that, a user-function event had no process (pid -1),
# no errno could be found for deny, and the guest saw errno 0.  Hook
# events, trapped in the kernel, are checked beside them.
. "$(dirname "$0")/lib.sh"
guest_setup

GUEST_BOOT_OPTS="--append pti=on" guest_run a --stats "$POL/user-system.vsp" \
	"$POL/user-late.vsp" "$GUEST_DIR/../../examples/demo.vsp" -- \
	'echo "VSP pti $(dmesg | grep -c "page tables isolation: enabled")"' \
	'vsp_system "echo benign-one" "echo nc evil" "wget x"' \
	'vsp_static 4 2 3' \
	'vsp_open /etc/hostname /etc/shadow; cd /etc && vsp_open shadow'
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "the guest kernel isolates its page tables" \
	grep -qx "VSP pti 1" <(result a 1)
ok "vsp read PTI from the kernel" \
	grep -q "the kernel isolates its page tables (PTI)" "$T/a.err"
r=$(result a 2)
ok "the benign command runs" grep -qx "VSP system echo benign-one = 0" <<<"$r"
ok "the hostile command returns the policy's value" \
	grep -qx "VSP system echo nc evil = 42" <<<"$r"
ok "deny EACCES: -1 with errno 13 in the thread's TLS" \
	grep -qx "VSP system wget x = -1 errno 13" <<<"$r"
ok "the events have their process (read through the kernel's page tables)" \
	grep -q '"rule":"no-netcat",.*"msg":"system(echo nc evil) by vsp_system (pid [0-9]*)".*"proc":{"pid":[0-9]*,"comm":"vsp_system"' "$T/a.audit"
ok "no event without its process" bash -c "! grep -q '\"pid\":-1' '$T/a.audit'"
r=$(result a 3)
ok "static: the rule's call returns the policy's value" grep -qx "VSP static 4 = 99" <<<"$r"
ok "static: deny sets the program's own TLS errno" \
	grep -qx "VSP static 3 = -1 errno 13" <<<"$r"
r=$(result a 4)
ok "hook event: open(/etc/shadow) denied" \
	grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
ok "hook event: ... and from /etc as shadow" \
	grep -qx "VSP open shadow err EACCES 13" <<<"$r"
ok "hook event: other files open" grep -q "^VSP open /etc/hostname ok" <<<"$r"
ok "no warning that kernel memory could not be read" \
	bash -c "! grep -q 'cannot be read while a vCPU' '$T/a.err'"
pr=$(sed -n 's/^user calls: .*placed \([0-9]*\), removed \([0-9]*\)$/\1 \2/p' "$T/a.err")
ok "every user trap placed was removed ($pr)" test -n "$pr" -a "${pr% *}" = "${pr#* }"
grep -E "isolates|user calls|per trap|warning" "$T/a.err" | sed 's/^/# /'
done_testing
