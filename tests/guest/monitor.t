#!/bin/bash
# monitor.t: monitor mode decides and logs, and changes nothing in the guest.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run mon --mode monitor --stats "$POL/shadow.vsp" -- 'vsp_open /etc/shadow /etc/hostname'
r=$(result mon 1)
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "open(/etc/shadow) succeeds under monitor" grep -qx "VSP open /etc/shadow ok root:SECRET-HASH:19000:0:99999:7:::" <<<"$r"
ok "open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "the deny is logged" grep -q '"rule":"read-shadow","verdict":"deny"' "$T/mon.audit"
ok "logged as monitor, not applied" grep -q '"mode":"monitor","applied":false' "$T/mon.audit"
# Stop, registers, argument block, path: a trap left by skipping ftrace's
# NOP needs no more (no single step, no breakpoint removal).  Those four
# come to 4.75-4.9 per trap here with the detach's own round trips shared
# over the 8 traps; the integrity check's read of the syscall entry code
# (at most once a second) adds up to one more where the host is slow
# enough that traps come a second apart.  A single step with the
# breakpoint taken out and put back would add three.
rt=$(awk '/^per trap:/ { print $3 }' "$T/mon.err")
ok "few round trips per trap ($rt)" awk -v r="${rt:-99}" 'BEGIN { exit !(r >= 2 && r <= 6) }'
done_testing
