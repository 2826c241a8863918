#!/bin/bash
# race.t: a thread rewrites the path between vsp's check at syscall entry
# and the kernel's copy of it.  With --pin-paths the kernel's copy is set
# to the very string the rules checked, so a denied file is never read.
. "$(dirname "$0")/lib.sh"
guest_setup

GUEST_BOOT_OPTS="--smp 2" guest_run race --pin-paths "$POL/shadow.vsp" -- 'vsp_race 200'
line=$(result race 1)
echo "# $line"
read -r _ _ n _ host _ shadow _ denied _ other <<<"$line"
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "the race ran" eq "${n:-}" 200
both() { [ "${host:-0}" -gt 0 ] && [ "${denied:-0}" -gt 0 ]; }
ok "both names reached the check" both
ok "the shadow file was never read" eq "${shadow:-x}" 0
ok "nothing else was opened" eq "${other:-x}" 0
done_testing
