#!/bin/bash
# sigkill.t: vsp killed with SIGKILL while its traps are in the guest.
# QEMU keeps a GDB client's breakpoints after the client's connection
# closes, so without help the guest would stop at the next trapped call and
# wait for a debugger forever.  vsp's guard process (vmi/gdb_backend.c)
# sees vsp die, connects to the stub and sends `D`: QEMU removes every
# breakpoint and the guest runs on.  Checked: the workload finishes, the
# calls after the kill run untrapped, and the audit log holds whole lines.
. "$(dirname "$0")/lib.sh"
guest_setup

read -r qpid port < <("$RIG" boot --bg --timeout 150 --log "$T/k.log" \
	'vsp_loop 80 /etc/hostname 50' 'vsp_open /etc/shadow')
QPIDS+=("$qpid")
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" "$POL/shadow.vsp" \
	>"$T/k.audit" 2>"$T/k.err" &
vpid=$!
for i in $(seq 300); do grep -q "^VSP-RUN 1" "$T/k.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
guard=$(cat "/proc/$vpid/task/$vpid/children" 2>/dev/null | awk "{ print \$1 }")
ok "a guard process runs beside vsp attach" test -n "$guard"
kill -KILL "$vpid"
rc=0
wait "$vpid" 2>/dev/null || rc=$?
ok "vsp died of SIGKILL" eq "$rc" 137
ok "the guest finished its workload" guest_wait "$qpid" 60
ok "the loop completed" grep -q "^VSP loop 80 ok 80 err 0" "$T/k.log"
ok "the guest ran to its end" has k.log VSP-DONE
# After the kill nothing is trapped: the denied file opens.
ok "no trap left: the shadow file opens after the kill" \
	grep -qx "VSP open /etc/shadow ok root:SECRET-HASH:19000:0:99999:7:::" <<<"$(result k 2)"
gone() { ! kill -0 "$guard" 2>/dev/null; }
ok "the guard has ended" gone
whole() { ! grep -qv '^{.*}$' "$T/k.audit"; }
ok "the audit log holds whole records only" whole

# A clean exit (SIGTERM) ends the guard without touching the guest.
read -r qpid port < <("$RIG" boot --bg --timeout 150 --log "$T/t.log" \
	'vsp_loop 40 /etc/hostname 50')
QPIDS+=("$qpid")
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" "$POL/opens.vsp" \
	>"$T/t.audit" 2>"$T/t.err" &
vpid=$!
for i in $(seq 300); do grep -q "^VSP-RUN 1" "$T/t.log" 2>/dev/null && break; sleep 0.1; done
guard=$(cat "/proc/$vpid/task/$vpid/children" 2>/dev/null | awk "{ print \$1 }")
kill -TERM "$vpid"
rc=0
wait "$vpid" || rc=$?
ok "SIGTERM: vsp exits 0" eq "$rc" 0
sleep 0.5
ok "SIGTERM: the guard ended with vsp" gone
ok "SIGTERM: the guest ran to its end" guest_wait "$qpid" 60
done_testing
