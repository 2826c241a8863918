#!/bin/bash
# monitor.t: monitor mode decides and logs, and changes nothing in the guest.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run mon --mode monitor "$POL/shadow.vsp" -- 'vsp_open /etc/shadow /etc/hostname'
r=$(result mon 1)
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "open(/etc/shadow) succeeds under monitor" grep -qx "VSP open /etc/shadow ok root:SECRET-HASH:19000:0:99999:7:::" <<<"$r"
ok "open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "the deny is logged" grep -q '"rule":"read-shadow","verdict":"deny"' "$T/mon.audit"
ok "logged as monitor, not applied" grep -q '"mode":"monitor","applied":false' "$T/mon.audit"
done_testing
