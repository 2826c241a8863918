#!/bin/bash
# pause.t: a pause verdict leaves the guest stopped and vsp says so.
. "$(dirname "$0")/lib.sh"
guest_setup

GUEST_NO_WAIT=1 guest_run p "$POL/pause.vsp" -- 'vsp_open /etc/hostname /etc/shadow /etc/passwd'
ok "vsp attach exits 0 after pausing" eq "$VSP_RC" 0
ok "vsp reports the pause" grep -q "guest paused at openat (rule freeze" "$T/p.err"
ok "vsp says the guest stays paused" grep -q "stays paused" "$T/p.err"
sleep 2
ok "QEMU is still there" kill -0 "$QPID"
ok "the guest did not go on past the open" hasnt p.log "VSP open /etc/shadow"
ok "nor to its end" hasnt p.log VSP-DONE
ok "the open before it completed" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(result p 1)"
kill "$QPID" 2>/dev/null
done_testing
