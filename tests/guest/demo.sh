#!/bin/bash
# demo.sh: `make demo`.  Boots the bundled guest paused under QEMU's GDB
# stub, attaches `vsp attach` with examples/demo.vsp, and shows side by side
# what the guest's programs saw (its console) and what vsp decided (the
# audit log).  The first run downloads Debian's cloud kernel (~27 MB).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
RIG=$HERE/rig.sh
VSP=${VSP:-$TOP/${BUILD:-build}/vsp}
POLICY=${1:-$TOP/examples/demo.vsp}

[ -x "$VSP" ] || { echo "demo: build vsp first (make)" >&2; exit 1; }
echo "== preparing the guest (kernel, initramfs, symbols; cached after the first run)"
"$RIG" symbols
eval "$("$RIG" paths)"

T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-demo.XXXXXX")
trap 'rm -rf "$T"' EXIT

echo "== booting Linux $RELEASE under QEMU (TCG), paused for vsp"
read -r qpid port < <("$RIG" boot --bg --timeout 120 --log "$T/console" \
	'cat /etc/hostname' \
	'cat /etc/shadow' \
	'cd /etc && cat shadow' \
	'cat //etc//shadow' \
	'cat /etc/../etc/shadow' \
	'ln -s /etc/shadow /tmp/s && cat /tmp/s' \
	'vsp_open /etc/passwd /etc/shadow /etc/gshadow' \
	'vsp_exec /tmp/x' \
	'vsp_exec /bin/vsp_hello')

echo "== vsp attach --gdb 127.0.0.1:$port --symbols System.map $(basename "$POLICY")"
echo "   (audit records, JSON Lines, follow)"
rc=0
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" --stats "$POLICY" || rc=$?
for i in $(seq 100); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done

echo
echo "== what the guest's programs saw (serial console)"
tr -d '\r' <"$T/console" | sed -n '/VSP-BOOT/,$p' | sed 's/^.*VSP-BOOT/VSP-BOOT/' | grep -v '^\[ *[0-9]' | sed 's/^/   guest| /' || true
echo
if [ $rc = 0 ]; then
	echo "== done: /etc/shadow was denied (EACCES) by every spelling, /tmp/x was refused"
else
	echo "== vsp attach exited with status $rc" >&2
fi
exit $rc
