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
done_testing
