#!/bin/bash
# deny.t: enforce a deny rule on the live guest; record the run and replay
# the trace to the same decisions.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run deny --stats=json --record "$T/deny.trace" "$POL/shadow.vsp" -- \
	'vsp_open /etc/hostname /etc/shadow /etc/passwd' \
	'vsp_open32 /etc/shadow /etc/hostname'
r=$(result deny 1)
ok "vsp attach exits 0 when the guest ends" eq "$VSP_RC" 0
ok "open(/etc/shadow) fails with EACCES" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
ok "open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "open(/etc/passwd) succeeds" grep -qx "VSP open /etc/passwd ok root:x:0:0:root:/root:/bin/sh" <<<"$r"
ok "the guest ran to its end" has deny.log VSP-DONE
ok "int \$0x80 does not get around it" grep -qx "VSP open32 /etc/shadow err EACCES 13" <<<"$(result deny 2)"
ok "int \$0x80 opens of other files succeed" grep -qx "VSP open32 /etc/hostname ok" <<<"$(result deny 2)"
ok "two audit records" eq "$(grep -c . "$T/deny.audit")" 2
ok "audit: rule, verdict, errno" grep -q '"rule":"read-shadow","verdict":"deny","errno":13' "$T/deny.audit"
ok "audit: enforce mode, applied" grep -q '"mode":"enforce","applied":true' "$T/deny.audit"
ok "audit: the path" grep -q '"path":"/etc/shadow"' "$T/deny.audit"
n=$(handlers openat)
ok "traps on openat's handlers only ($n)" grep -q "\"traps_installed\":$n[,}]" "$T/deny.err"
ok "trace recorded every open" grep -q '"filename":"/etc/hostname"' "$T/deny.trace"
ok "trace carries the call path" grep -q '"stack":\["__x64_sys_openat","do_syscall_64"' "$T/deny.trace"
ok "audit: the process behind the call" grep -q '"comm":"vsp_open"' "$T/deny.audit"

rc=0
"$VSP" replay "$POL/shadow.vsp" --trace "$T/deny.trace" >"$T/replay.audit" 2>"$T/replay.err" || rc=$?
ok "the recorded trace replays" eq "$rc" 0
ok "audit: each record has the RFC 3339 wall-clock time" \
	eq "$(grep -cE '"time_ns":[0-9]+,"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z"' "$T/deny.audit")" 2
# "time" is when each was decided, so it differs between the two runs.
untime() { sed -E 's/,"time":"[^"]*"//' "$1"; }
ok "replay decides as the live run did" diff -u <(untime "$T/deny.audit") <(untime "$T/replay.audit")
done_testing
