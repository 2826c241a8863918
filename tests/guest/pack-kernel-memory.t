#!/bin/bash
# pack-kernel-memory.t: the kernel-memory pack against its techniques on the live guest.
# Every pack is loaded (as an administrator would), the guest boots once
# and runs each variant of the cases in tests/guest/attacks/*.case whose
# pack is kernel-memory; each must be blocked by the rule the case names,
# one record each (packs_lib.sh says how).  The reproductions write
# kernel memory as an attacker with kernel code execution does, through
# the test's own module (attacks/kmod/vsp_kwrite.c: CR0.WP cleared, one
# store, read back), loaded first by /bin/vsp_kload under the test's
# exception (policies/packs-kmod.vsp); "undone" is what the guest sees
# when vsp put the old bytes back; a variant writes through the direct
# map, the other mapping of the same bytes.  The same bytes' writes through
# /proc/sys are kernel-integrity's and containers' cases.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packs_lib.sh"
guest_setup
if [ ! -s "$PACKS_BIN/vsp_kwrite.ko" ]; then
	echo "1..0 # SKIP no vsp_kwrite.ko for $RELEASE (rig.sh builds it with linux-headers-$RELEASE)"
	exit 0
fi
PACKS_PRE="vsp_kload kload /lib/vsp/vsp_kwrite.ko"
PACKS_POLICIES=$POL/packs-kmod.vsp
packs_cases kernel-memory
ok "kernel-memory: the write primitive loaded (the exception let it)" \
	grep -q 'VSP kload rc=0 errno=0' <<<"$(result p 1)"
ok "kernel-memory: its load passed kernel-integrity's module-load" \
	eq "$(grep -c '"rule":"module-load"' "$T/p.audit")" 0
ok "kernel-memory: sys_call_table, modprobe_path, core_pattern, poweroff_cmd, security_hook_heads, idt_table watched" \
	grep -q 'watch sys_call_table at .*watch modprobe_path at .*watch core_pattern at .*watch poweroff_cmd at .*watch security_hook_heads at .*watch idt_table at ' \
	<(tr '\n' ' ' <"$T/p.err")
ok "kernel-memory: each also at its direct-map alias" \
	eq "$(grep -c 'watch [a-z_]*: and at its direct-map alias 0x' "$T/p.err")" 6
ok "kernel-memory: no object without its alias watched" \
	hasnt p.err "a write through another mapping of it is not seen"
done_testing
