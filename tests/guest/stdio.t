#!/bin/bash
# stdio.t: guest-chosen bytes never reach the GDB stub.
#
# With standard output closed, the first descriptor vsp opens would become
# fd 1; if that is the stub's socket, every audit record goes into QEMU's
# gdbstub stream.  A guest that opens a path spelled like a complete
# `qRcmd` packet would then have QEMU run a monitor command on the host
# (here `pmemsave`, which writes a host file).  Before the fix, vsp lost
# the protocol ("odd number of hex digits"), exited 3 and left the guest
# stopped at its trap for good.  Checked with stdout closed (audit to
# standard output, the default), with all three closed, and with stdout
# closed and --audit to a file: the host file is never written, the guest
# sees the deny and runs to its end, and vsp exits 0 with the audit (when
# asked for) in its file.
. "$(dirname "$0")/lib.sh"
guest_setup

# The packet QEMU would act on: $qRcmd,<hex of the command>#<checksum>.
packet() {
	python3 - "$1" <<'PY'
import sys
payload = "qRcmd," + sys.argv[1].encode().hex()
print("$%s#%02x" % (payload, sum(payload.encode()) % 256))
PY
}

attack() {	# attack NAME [VSP OPTIONS]: run one attach with fds closed by the caller
	local name=$1
	shift
	local pwn="$T/$name.pwn"
	local path="/tmp/$(packet "pmemsave 0 4096 $pwn")"
	read -r qpid port < <("$RIG" boot --bg --timeout 150 --log "$T/$name.log" \
		"vsp_open '$path' /etc/hostname")
	QPIDS+=("$qpid")
	VSP_RC=0
	ATTACH=(timeout -s INT 120 "$VSP" attach --gdb "127.0.0.1:$port"
		--symbols "$SYSTEM_MAP" "$@" "$POL/stdio.vsp")
	PWN=$pwn
	PATHX=$path
}

attack stdout
"${ATTACH[@]}" >&- 2>"$T/stdout.err" || VSP_RC=$?
ok "stdout closed: vsp exits 0 when the guest ends" eq "$VSP_RC" 0
ok "stdout closed: the guest ran to its end" guest_wait "$qpid" 60
ok "stdout closed: QEMU ran no monitor command (no host file)" test ! -e "$PWN"
ok "stdout closed: the guest saw the deny" \
	grep -qxF "VSP open $PATHX err EACCES 13" <<<"$(result stdout 1)"

attack closed
"${ATTACH[@]}" <&- >&- 2>&- || VSP_RC=$?
ok "all three closed: vsp exits 0 when the guest ends" eq "$VSP_RC" 0
ok "all three closed: the guest ran to its end" guest_wait "$qpid" 60
ok "all three closed: QEMU ran no monitor command (no host file)" test ! -e "$PWN"
ok "all three closed: the guest saw the deny" \
	grep -qxF "VSP open $PATHX err EACCES 13" <<<"$(result closed 1)"
ok "all three closed: other opens still succeed" \
	grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(result closed 1)"

attack audit --audit "$T/audit.audit"
"${ATTACH[@]}" >&- 2>"$T/audit.err" || VSP_RC=$?
ok "stdout closed, --audit FILE: vsp exits 0" eq "$VSP_RC" 0
ok "stdout closed, --audit FILE: the guest ran to its end" guest_wait "$qpid" 60
ok "stdout closed, --audit FILE: no host file" test ! -e "$PWN"
ok "stdout closed, --audit FILE: one record, in the file" eq "$(grep -c . "$T/audit.audit")" 1
ok "stdout closed, --audit FILE: the record names the rule" \
	grep -q '"rule":"tmp-open","verdict":"deny","errno":13' "$T/audit.audit"
ok "stdout closed, --audit FILE: the path is in the record, untouched" \
	grep -qF "qRcmd," "$T/audit.audit"
done_testing
