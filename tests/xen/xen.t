#!/bin/bash
# xen.t: the Xen backend against a live PVH guest under Xen 4.17 (in QEMU).
#
# One Xen boot serves every step: the plan below runs in dom0, each step
# starts a guest with its own command list, attaches `vsp attach --xen` to
# it, and sends the guest's console, vsp's audit, stderr and exit status
# back over the serial console (tests/xen/rig.sh).  The assertions then
# read them here, step by step.
#
# Software-breakpoint events need the patched QEMU (qemu-svm-int3.patch);
# without it the test is skipped and says why.  `make check` builds it.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../guest/lib.sh"
XRIG=$HERE/rig.sh

if [ -z "${VSP:-}" ] || [ ! -x "$VSP" ]; then
	echo "Bail out! VSP must name the vsp binary"
	exit 1
fi
if ! "$VSP" --version | grep -q '^backends:.* xen'; then
	echo "1..0 # SKIP vsp was built without the Xen backend (no libxen-dev)"
	exit 0
fi
if ! "$XRIG" qemu-path >/dev/null; then
	echo "1..0 # SKIP needs the QEMU with the SVM #BP intercept fix (tests/xen/qemu-svm-int3.patch), not built: run tests/xen/rig.sh qemu"
	exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-xen.XXXXXX")
trap '[ -n "${VSP_KEEP:-}" ] && echo "# files kept in $T" >&2 || rm -rf "$T"' EXIT
mkdir -p "$T/files" "$T/out"
ov() { local n=$1; shift; "$XRIG" overlay "$T/files/$n.gz" "$@"; }
P=/guest/policies

# ---- the plan: every step in one boot
ov deny 'vsp_open /etc/hostname /etc/shadow /etc/passwd'
cat >"$T/plan.sh" <<'PLAN'
xg_attach deny --stats=json $P/shadow.vsp
PLAN
sed -i "1i P=$P" "$T/plan.sh"

t0=$(date +%s)
if ! "$XRIG" boot --timeout 1200 --log "$T/xen.log" --files "$T/files" "$VSP" "$T/plan.sh" >&2; then
	echo "# the Xen boot failed or timed out; last lines:"
	tail -n 20 "$T/xen.log" | sed 's/^/# /'
fi
echo "# Xen boot and plan: $(( $(date +%s) - t0 )) s"
"$XRIG" extract "$T/xen.log" "$T/out"
O=$T/out
ok "dom0 came up with the toolstack" grep -q "^XG-DOM0-UP" "$T/xen.log"
ok "the plan ran to its end" grep -q "^XG-PLAN-DONE" "$T/xen.log"
grep -h "^XG-WARN" "$T/xen.log" | sed 's/^/# /'
res() { "$GUEST_DIR/rig.sh" result "$O/$1.log" "$2"; }

# ---- deny: an openat rule, seen by the guest
r=$(res deny 1)
ok "deny: vsp attach exits 0 when the guest ends" eq "$(cat "$O/deny.rc")" 0
ok "deny: open(/etc/shadow) fails with EACCES" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
ok "deny: open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "deny: open(/etc/passwd) succeeds" grep -qx "VSP open /etc/passwd ok root:x:0:0:root:/root:/bin/sh" <<<"$r"
ok "deny: the guest ran to its end" grep -q VSP-DONE "$O/deny.log"
ok "deny: one audit record, applied" grep -q '"rule":"read-shadow","verdict":"deny","errno":13' "$O/deny.audit"
ok "deny: the process behind the call" grep -q '"comm":"vsp_open"' "$O/deny.audit"
done_testing
