#!/bin/bash
# qmp.t: a guest started with a QMP socket and no GDB stub is guarded
# without a restart.  `vsp attach --qmp SOCKET` starts QEMU's stub on a
# free loopback port through QMP (gdbserver), decodes the kernel's symbols
# from guest memory, enforces, and on detach closes the stub again: the
# port no longer listens and the guest runs on.
. "$(dirname "$0")/lib.sh"
guest_setup

sock=$T/qmp.sock
# The guest idles (no open, so no trap to slow it under a loaded host)
# while vsp starts the stub and attaches, then opens the shadow file twice.
read -r qpid _ < <("$RIG" boot --bg --no-stub --kaslr --qmp "$sock" --timeout 300 \
	--log "$T/q.log" 'sleep 30' 'vsp_open /etc/shadow' \
	'sleep 10' 'vsp_open /etc/shadow')
QPIDS+=("$qpid")
for i in $(seq 1200); do grep -q "^VSP-RUN 1" "$T/q.log" 2>/dev/null && break; sleep 0.1; done
ok "no GDB stub before: QEMU listens on no TCP port" \
	bash -c "! ss -ltnp 2>/dev/null | grep -q 'pid=$qpid,'"
# vsp guards the first open of the shadow file and is stopped (SIGINT)
# while the guest sleeps, before the second.
timeout -s INT 200 "$VSP" attach --qmp "$sock" "$POL/shadow.vsp" \
	>"$T/q.audit" 2>"$T/q.err" &
vpid=$!
for i in $(seq 1500); do
	tr -d '\r' <"$T/q.log" | grep -q "^VSP-EXIT 2 " && break
	kill -0 "$vpid" 2>/dev/null || break
	sleep 0.1
done
kill -INT "$vpid" 2>/dev/null
rc=0; wait "$vpid" || rc=$?
port=$(sed -n 's/.*GDB stub started through .* on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/q.err")
ok "vsp attach --qmp exits 0 on SIGINT" eq "$rc" 0
ok "the stub was started on a loopback port ($port)" test -n "$port"
ok "the first open of /etc/shadow is denied" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$(result q 2)"
ok "the deny is audited" grep -q '"verdict":"deny"' "$T/q.audit"
ok "the stub was closed on detach" grep -q "GDB stub closed" "$T/q.err"
ok "nothing listens on the port any more" bash -c "! ss -ltn 2>/dev/null | grep -q ':$port '"
guest_wait "$qpid" 120
ok "the guest ran on after the detach (second open, unguarded, succeeds)" \
	grep -qx "VSP open /etc/shadow ok .*" <<<"$(result q 4)"
ok "the guest ran to its end" has q.log VSP-DONE
if ! has q.log VSP-DONE; then	# what vsp and the guest said, for the record
	sed 's/^/# vsp: /' "$T/q.err"
	tr -d '\r' <"$T/q.log" | grep "^VSP" | sed 's/^/# guest: /'
fi
sed -n 's/^vsp attach: //p' "$T/q.err" | grep -E "stub|symbols from" | sed 's/^/# /'

# A socket that is not QMP, or none: exit 3 with the reason.
rc=0
"$VSP" attach --qmp "$T/nothing.sock" "$POL/shadow.vsp" 2>"$T/n.err" >/dev/null || rc=$?
ok "no such socket: exit 3" eq "$rc" 3
ok "the message names the socket" grep -q "cannot open the GDB stub: QMP $T/nothing.sock" "$T/n.err"
done_testing
