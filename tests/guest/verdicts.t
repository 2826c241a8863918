#!/bin/bash
# verdicts.t: return, redirect (open and execve) and kill on the live guest,
# which stays healthy and runs its later commands.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run v --stats=json "$POL/verdicts.vsp" -- \
	'vsp_getpid' \
	'vsp_open /etc/shadow /etc/hostname' \
	'vsp_exec /tmp/x' \
	'vsp_exec /bin/vsp_hello' \
	'vsp_open /etc/kill-me' \
	'vsp_open /etc/hostname' \
	'n=$(uname -n); echo "VSP uname [$n]"'
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "return: getpid() gives 4242" grep -qx "VSP getpid 4242" <<<"$(result v 1)"
ok "return: getppid() untouched" grep -qx "VSP getppid 1" <<<"$(result v 1)"
ok "redirect: open(/etc/shadow) reads /etc/decoy" grep -qx "VSP open /etc/shadow ok DECOY-CONTENT" <<<"$(result v 2)"
ok "redirect: other opens untouched" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(result v 2)"
ok "redirect: execve(/tmp/x) runs /bin/false" grep -qx "VSP exec /tmp/x status 1" <<<"$(result v 3)"
ok "redirect: /bin/false printed its line" grep -qx "VSP false" <<<"$(result v 3)"
ok "other programs run as they are" grep -qx "VSP exec /bin/vsp_hello status 0" <<<"$(result v 4)"
ok "kill: the process dies of SIGKILL" eq "$(status v 5)" 137
ok "kill: the open never returned" eq "$(result v 5)" ""
ok "after the kill the guest runs on" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(result v 6)"
# busybox uname ignores the call's failure and prints the zeroed name.
ok "deny: uname(2), whose 64-bit handler is __x64_sys_newuname, fails" \
	grep -qx "VSP uname \[\]" <<<"$(result v 7)"
ok "the guest ran to its end" has v.log VSP-DONE
n=$(handlers getpid openat execve uname)
ok "traps on getpid, openat, execve, uname handlers only ($n)" grep -q "\"traps_installed\":$n[,}]" "$T/v.err"
ok "audit: redirect carries the new path" grep -q '"verdict":"redirect","redirect":"/etc/decoy"' "$T/v.audit"
ok "audit: return carries the value" grep -q '"verdict":"return","value":4242' "$T/v.audit"
ok "audit: kill" grep -q '"rule":"kill-switch","verdict":"kill"' "$T/v.audit"
done_testing
