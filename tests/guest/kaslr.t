#!/bin/bash
# kaslr.t: a guest booted with KASLR on.  vsp lets the paused guest start
# its kernel, finds the slide, moves every symbol by it and enforces as
# usual with the System.map recorded under nokaslr.
. "$(dirname "$0")/lib.sh"
guest_setup

GUEST_BOOT_OPTS=--kaslr guest_run k "$POL/shadow.vsp" -- 'vsp_open /etc/hostname /etc/shadow'
r=$(result k 1)
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "vsp waited for the kernel and found the slide" grep -q "kernel found; KASLR slide 0x" "$T/k.err"
ok "the trap sits at the slid handler address" grep -q "trap __x64_sys_openat at 0xffffffff" "$T/k.err"
ok "open(/etc/shadow) fails with EACCES" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
ok "open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "the guest ran to its end" has k.log VSP-DONE

# Attaching to a guest that already runs user programs (no -S): the stub
# stops it on connect, vsp finds the kernel and the slide, and enforces
# from then on.
read -r qpid port < <("$RIG" boot --bg --running --kaslr --timeout 150 --log "$T/r.log" \
	'vsp_loop 80 /etc/shadow 30' 'vsp_open /etc/shadow')
QPIDS+=("$qpid")
for i in $(seq 300); do grep -q "^VSP-RUN 1" "$T/r.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
rc=0
timeout -s INT 120 "$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
	"$POL/shadow.vsp" >"$T/r.audit" 2>"$T/r.err" || rc=$?
guest_wait "$qpid" 60
ok "running guest: vsp exits 0" eq "$rc" 0
ok "running guest: slide found" grep -q "KASLR slide 0x" "$T/r.err"
ok "running guest: opens denied once attached" grep -Eq "^VSP loop 80 ok [0-9]+ err [1-9]" "$T/r.log"
ok "running guest: later program denied" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$(result r 2)"
done_testing
