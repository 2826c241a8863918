#!/bin/bash
# detach.t: vsp detaches mid-run (after N events, and on SIGTERM), removes
# its traps, and the guest runs to completion.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run n --max-events 5 "$POL/opens.vsp" -- 'vsp_loop 30 /etc/hostname'
ok "--max-events: vsp exits 0" eq "$VSP_RC" 0
ok "--max-events: vsp detached" grep -q "5 events seen: detaching" "$T/n.err"
ok "--max-events: the loop completed" grep -qx "VSP loop 30 ok 30 err 0 .*" <<<"$(result n 1 | sed 's/ms .*/.*/')"
ok "--max-events: the guest ran to its end" has n.log VSP-DONE

read -r qpid port < <("$RIG" boot --bg --timeout 150 --log "$T/s.log" 'vsp_loop 60 /etc/hostname 50')
QPIDS+=("$qpid")
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" --stats "$POL/opens.vsp" \
	>"$T/s.audit" 2>"$T/s.err" &
vpid=$!
# Once the loop runs (it takes several seconds under traps), stop vsp.
for i in $(seq 300); do grep -q "^VSP-RUN 1" "$T/s.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -TERM "$vpid"
rc=0
wait "$vpid" || rc=$?
guest_wait "$qpid" 60
ok "SIGTERM: vsp exits 0" eq "$rc" 0
ok "SIGTERM: vsp detached" grep -q "signal 15: detaching" "$T/s.err"
ok "SIGTERM: some opens were trapped first" grep -Eq "traps hit: +[1-9]" "$T/s.err"
ok "SIGTERM: the loop completed" grep -q "^VSP loop 60 ok 60 err 0" "$T/s.log"
ok "SIGTERM: the guest ran to its end" has s.log VSP-DONE

# The guest vanishes under vsp (QEMU killed): exit 3, no hang.
read -r qpid port < <("$RIG" boot --bg --timeout 150 --log "$T/x.log" 'vsp_loop 60 /etc/hostname 50')
QPIDS+=("$qpid")
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" "$POL/opens.vsp" \
	>"$T/x.audit" 2>"$T/x.err" &
vpid=$!
for i in $(seq 300); do grep -q "^VSP-RUN 1" "$T/x.log" 2>/dev/null && break; sleep 0.1; done
kill -KILL "$qpid"
rc=0
for i in $(seq 100); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$vpid" 2>/dev/null && kill -INT "$vpid"
wait "$vpid" || rc=$?
ok "guest lost: vsp exits 3" eq "$rc" 3
ok "guest lost: vsp says so" grep -q "lost the guest" "$T/x.err"
done_testing
