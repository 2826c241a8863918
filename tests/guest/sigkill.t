#!/bin/bash
# sigkill.t: vsp killed with SIGKILL while its traps are in the guest.
# QEMU keeps a GDB client's breakpoints after the client's connection
# closes, so without help the guest would stop at the next trapped call and
# wait for a debugger forever.  vsp's guard process (vmi/gdb_backend.c)
# sees vsp die, connects to the stub and sends `D`: QEMU removes every
# breakpoint and the guest runs on.  Checked: the workload finishes, the
# calls after the kill run untrapped, the audit log holds whole lines and
# ends with the guard's record.  With --on-monitor-death pause the guard
# removes the traps itself and leaves the guest paused (QMP says so) until
# a new vsp attaches.
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
whole() { ! grep -qv '^{.*}$' "$T/$1"; }
ok "the audit log holds whole records only" whole k.audit
ok "the guard's last record says the guest runs on unguarded" \
	grep -q 'its guard detached, and the guest runs on unguarded".*"kind":"monitor"' "$T/k.audit"
ok "the guard said so on standard error" has k.err "alert: vsp ended without detaching"

# --on-monitor-death pause: the guard removes every trap and leaves the
# guest paused; a new vsp attach takes it from there and guards again.
qmp_status() {	# qmp_status SOCKET: QEMU's run state
	python3 - "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", "query-status"):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(r.get("return", {}).get("status", "?"))
PY
}
read -r qpid port < <("$RIG" boot --bg --timeout 200 --qmp "$T/p.qmp" --log "$T/p.log" \
	'vsp_loop 300 /etc/hostname 50' 'vsp_open /etc/shadow')
QPIDS+=("$qpid")
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" --on-monitor-death pause \
	--audit "$T/p.audit" "$POL/shadow.vsp" 2>"$T/p.err" &
vpid=$!
for i in $(seq 300); do grep -q "^VSP-RUN 1" "$T/p.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
guard=$(cat "/proc/$vpid/task/$vpid/children" 2>/dev/null | awk "{ print \$1 }")
kill -KILL "$vpid"
wait "$vpid" 2>/dev/null
for i in $(seq 300); do gone && break; sleep 0.1; done
ok "pause: the guard ended once it had done its work" gone
# "debug" when a vCPU had stopped at a trap before the guard came.
stopped() { case "$(qmp_status "$T/p.qmp")" in paused|debug) return 0 ;; esac; return 1; }
ok "pause: QEMU says the guest is stopped (paused, or debug at a trap)" stopped
sleep 2
ok "pause: the guest is still paused 2 s later, its loop unfinished" \
	hasnt p.log "VSP-EXIT 1"
ok "pause: the last record says every trap went and the guest waits" \
	grep -q 'removed every trap ([0-9]*) and left the guest paused.*"kind":"monitor"' "$T/p.audit"
ok "pause: the audit log holds whole records only" whole p.audit
# The operator attaches again: the guest runs on, guarded.
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
	--audit "$T/p2.audit" "$POL/shadow.vsp" 2>"$T/p2.err" &
vpid=$!
ok "pause: after a new attach the guest runs to its end" guest_wait "$qpid" 120
rc=0
wait "$vpid" || rc=$?
ok "pause: the new vsp attach exits 0 with the guest" eq "$rc" 0
ok "pause: the loop completed" grep -q "^VSP loop 300 ok 300 err 0" "$T/p.log"
ok "pause: the shadow open after it is denied by the new attach" \
	grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$(result p 2)"

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
