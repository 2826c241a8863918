#!/bin/bash
# pti.t: a guest whose kernel isolates its page tables (pti=on).  A vCPU
# stopped at a user function's trap runs on the user copy of its pgd,
# which maps almost none of the kernel, and QEMU's stub reads through the
# vCPU's own page tables: vsp reads X86_FEATURE_PTI from the kernel, puts
# the kernel's copy in CR3 for the stop's kernel reads (the register
# number from the stub's target description) and its own back before the
# vCPU runs.  Without that, a user-function event had no process (pid -1),
# no errno could be found for deny, and the guest saw errno 0.  Hook
# events, trapped in the kernel, are checked beside them, and what the
# guard puts back when vsp dies at such a stop.
. "$(dirname "$0")/lib.sh"
guest_setup

GUEST_BOOT_OPTS="--append pti=on" guest_run a --stats "$POL/user-system.vsp" \
	"$POL/user-late.vsp" "$GUEST_DIR/../../examples/demo.vsp" -- \
	'echo "VSP pti $(dmesg | grep -c "page tables isolation: enabled")"' \
	'vsp_system "echo benign-one" "echo nc evil" "wget x"' \
	'vsp_static 4 2 3' \
	'vsp_open /etc/hostname /etc/shadow; cd /etc && vsp_open shadow'
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "the guest kernel isolates its page tables" \
	grep -qx "VSP pti 1" <(result a 1)
ok "vsp read PTI from the kernel" \
	grep -q "the kernel isolates its page tables (PTI)" "$T/a.err"
r=$(result a 2)
ok "the benign command runs" grep -qx "VSP system echo benign-one = 0" <<<"$r"
ok "the hostile command returns the policy's value" \
	grep -qx "VSP system echo nc evil = 42" <<<"$r"
ok "deny EACCES: -1 with errno 13 in the thread's TLS" \
	grep -qx "VSP system wget x = -1 errno 13" <<<"$r"
ok "the events have their process (read through the kernel's page tables)" \
	grep -q '"rule":"no-netcat",.*"msg":"system(echo nc evil) by vsp_system (pid [0-9]*)".*"proc":{"pid":[0-9]*,"comm":"vsp_system"' "$T/a.audit"
ok "no event without its process" bash -c "! grep -q '\"pid\":-1' '$T/a.audit'"
r=$(result a 3)
ok "static: the rule's call returns the policy's value" grep -qx "VSP static 4 = 99" <<<"$r"
ok "static: deny sets the program's own TLS errno" \
	grep -qx "VSP static 3 = -1 errno 13" <<<"$r"
r=$(result a 4)
ok "hook event: open(/etc/shadow) denied" \
	grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
ok "hook event: ... and from /etc as shadow" \
	grep -qx "VSP open shadow err EACCES 13" <<<"$r"
ok "hook event: other files open" grep -q "^VSP open /etc/hostname ok" <<<"$r"
ok "no warning that kernel memory could not be read" \
	bash -c "! grep -q 'cannot be read while a vCPU' '$T/a.err'"
pr=$(sed -n 's/^user calls: .*placed \([0-9]*\), removed \([0-9]*\)$/\1 \2/p' "$T/a.err")
ok "every user trap placed was removed ($pr)" test -n "$pr" -a "${pr% *}" = "${pr#* }"
grep -E "isolates|user calls|per trap|warning" "$T/a.err" | sed 's/^/# /'

# vsp killed while a vCPU stopped at a user trap runs on the kernel's copy
# of its pgd: the guard puts the vCPU's own CR3 back.  vsp is made to
# block at such a stop (its audit log is a pipe of 4 KiB that nobody
# reads) and killed there; with --on-monitor-death pause the guard then
# leaves the guest paused, and QEMU's registers show the vCPU in user
# mode on the user copy of its pgd (CR3 bit 12), not on the kernel's.
mkfifo "$T/g.fifo"
python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, 1031, 4096)	# F_SETPIPE_SZ
time.sleep(240)' "$T/g.fifo" &
hold=$!
read -r qpid port < <("$RIG" boot --bg --append pti=on --timeout 200 \
	--qmp "$T/g.qmp" --log "$T/g.log" 'vsp_uloop 3000 getpid')
QPIDS+=("$qpid")
"$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
	--on-monitor-death pause --audit "$T/g.fifo" "$POL/user-log.vsp" \
	2>"$T/g.err" &
vpid=$!
for i in $(seq 600); do grep -q "^VSP-RUN 1" "$T/g.log" 2>/dev/null && break; sleep 0.1; done
sleep 4
guard=$(cat "/proc/$vpid/task/$vpid/children" 2>/dev/null | awk "{ print \$1 }")
blocked() { grep -q "pipe_write\|wait_woken\|pipe_wait" "/proc/$vpid/wchan" 2>/dev/null ||
	    [ "$(cat "/proc/$vpid/wchan" 2>/dev/null)" = "pipe_write" ]; }
ok "cr3: vsp is blocked writing its audit record at a user trap" blocked
kill -KILL "$vpid"
wait "$vpid" 2>/dev/null
for i in $(seq 300); do kill -0 "$guard" 2>/dev/null || break; sleep 0.1; done
ok "cr3: the guard ended" bash -c "! kill -0 $guard 2>/dev/null"
ok "cr3: it removed every trap and left the guest paused" \
	grep -q "its guard removed every trap" "$T/g.err"
regs=$(python3 - "$T/g.qmp" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ({"execute": "qmp_capabilities"},
            {"execute": "human-monitor-command",
             "arguments": {"command-line": "info registers"}}):
    f.write(json.dumps(cmd) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(r.get("return", ""))
PY
)
cpl=$(grep -o 'CPL=[0-9]' <<<"$regs" | head -1)
cr3=$(grep -o 'CR3=[0-9a-f]*' <<<"$regs" | head -1)
echo "# the paused vCPU: $cpl $cr3"
ok "cr3: the vCPU is stopped in user mode" eq "$cpl" "CPL=3"
ok "cr3: ... on the user copy of its pgd (bit 12 of CR3 set)" \
	test -n "$cr3" -a $(( 16#${cr3#CR3=} & 0x1000 )) -ne 0
kill "$hold" "$qpid" 2>/dev/null
done_testing
