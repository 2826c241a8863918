#!/bin/bash
# extern.t: extern functions on the live guest.  With --extern-isolate, a
# sorted-hash lookup (examples/extensions/pathhash.c) denies an open the
# guest program sees fail with EACCES; an extension that crashes in the
# middle of the run fails that one event (as partial: with --fail-closed
# the guest's open gets EPERM) and the next events are decided by a new
# child, the guest running on.
. "$(dirname "$0")/lib.sh"
guest_setup
ext="${BUILD:-$(dirname "$VSP")}/extensions"

guest_run extern --extern-path "$ext" --extern-isolate --fail-closed --stats=json \
	--record "$T/extern.trace" "$POL/extern.vsp" -- \
	'vsp_open /etc/hostname /etc/ld.so.preload /etc/passwd /etc/ld.so.preload'
r=$(result extern 1)
ok "vsp attach exits 0 when the guest ends" eq "$VSP_RC" 0
ok "a blocked path fails with EACCES in the guest" grep -qx "VSP open /etc/ld.so.preload err EACCES 13" <<<"$r"
ok "other opens succeed" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "the open whose extension crashed fails closed (EPERM)" \
	grep -qx "VSP open /etc/passwd err EPERM 1" <<<"$r"
ok "after the crash the lookup still denies" eq "$(grep -c 'VSP open /etc/ld.so.preload err EACCES 13' <<<"$r")" 2
ok "the guest ran to its end" has extern.log VSP-DONE
pw=$(grep '"path":"/etc/passwd"' "$T/extern.audit")
ok "audit: the crashed call's event failed" grep -q '"failed":true' <<<"$pw"
ok "audit: and is partial" grep -q '"partial":true' <<<"$pw"
ok "audit: only that event failed" eq "$(grep -c '"failed":true' "$T/extern.audit")" 1
ok "audit: two denials by the lookup" eq "$(grep -c '"rule":"blocked","verdict":"deny","errno":13' "$T/extern.audit")" 2

rc=0
"$VSP" replay --extern-path "$ext" "$POL/extern.vsp" --trace "$T/extern.trace" \
	>"$T/replay.audit" 2>"$T/replay.err" --extern-isolate --fail-closed || rc=$?
ok "the recorded trace replays" eq "$rc" 0
# "time" is when each was decided, so it differs between the two runs.
untime() { sed -E 's/,"time":"[^"]*"//' "$1"; }
ok "replay decides as the live run did" diff -u <(untime "$T/extern.audit") <(untime "$T/replay.audit")
done_testing
