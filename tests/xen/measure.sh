#!/bin/bash
# measure.sh: what interception costs on a PVH guest under Xen in QEMU,
# the Xen twin of tests/guest/measure.sh (same workload, same policies).
#
#   tests/xen/measure.sh [N]
# boots Xen once and runs `vsp_loop N /etc/hostname` (N openat+close
# pairs, default 200) in a fresh guest four ways: no monitor; vsp attached
# with a policy that traps nothing; every openat trapped and allowed; every
# openat trapped with its path read and matched.  Columns as in
# tests/guest/measure.sh: the loop's time inside the guest, traps hit,
# round trips per trap, vsp's own handling time per trap (ms), the
# engine's share, and events per second of guest loop time.  Needs the
# patched QEMU (rig.sh qemu).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
XRIG=$HERE/rig.sh
VSP=${VSP:-$TOP/${BUILD:-build}/vsp}
N=${1:-200}
"$XRIG" qemu-path >/dev/null || { echo "measure: the patched QEMU is not built (tests/xen/rig.sh qemu)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-xmeasure.XXXXXX")
trap '[ -n "${VSP_KEEP:-}" ] && echo "# files kept in $T" >&2 || rm -rf "$T"' EXIT
mkdir -p "$T/files" "$T/out"
echo '# no rules: nothing to trap' >"$T/files/empty.vsp"
for n in none empty opens shadow; do
	"$XRIG" overlay "$T/files/m$n.gz" "vsp_loop $N /etc/hostname"
done
cat >"$T/plan.sh" <<'PLAN'
P=/guest/policies
xg_guest_initrd /files/mnone.gz /tmp/mnone.gz
xg_start mnone /tmp/mnone.gz
xg_wait_line mnone VSP-DONE 300
xl destroy mnone
xg_guest_log mnone
# Not -q: xg_attach unpauses the new guest when vsp says it is waiting
# for the kernel or attached.
xg_attach mempty --stats --audit /dev/null /files/empty.vsp
XG_SECS=600 xg_attach mopens --stats --audit /dev/null $P/opens.vsp
XG_SECS=600 xg_attach mshadow --stats --audit /dev/null $P/shadow.vsp
PLAN
"$XRIG" boot --timeout 2400 --log "$T/xen.log" --files "$T/files" "$VSP" "$T/plan.sh" >&2
"$XRIG" extract "$T/xen.log" "$T/out"

loop_ms() { tr -d '\r' <"$1" 2>/dev/null | awk '$1 == "VSP" && $2 == "loop" { print $(NF) }'; }
row() {
	local name=$1 f=$2 hits rt ms share lm eps
	# A run without vsp has no stderr of vsp's: its columns are "-".
	hits=$(awk '/^traps hit:/ { print $3 }' "$T/out/$f.err" 2>/dev/null || true)
	rt=$(awk '/^per trap:/ { print $3 }' "$T/out/$f.err" 2>/dev/null || true)
	ms=$(awk '/^per trap:/ { print $6 }' "$T/out/$f.err" 2>/dev/null || true)
	share=$(awk '/^engine share:/ { print $3 }' "$T/out/$f.err" 2>/dev/null || true)
	lm=$(loop_ms "$T/out/$f.log" | sed 's/ms$//' || true)
	eps=-
	if [ -n "${hits:-}" ] && [ "${hits:-0}" -gt 0 ] && [ -n "$lm" ]; then
		eps=$(echo "$hits * 1000 / ${lm%%[!0-9.]*}" | bc -l | xargs printf '%.0f')
	fi
	printf '%-28s %9s %7s %7s %9s %9s %9s\n' "$name" "${lm:--}" "${hits:-0}" "${rt:--}" "${ms:--}" "${share:--}" "$eps"
}
printf '%-28s %9s %7s %7s %9s %9s %9s\n' "Xen PVH, vsp_loop $N" "loop ms" traps "rt/trap" "ms/trap" "engine" "events/s"
row "no monitor" mnone
row "attached, no rules" mempty
row "openat trapped, allow" mopens
row "openat trapped, path rule" mshadow
