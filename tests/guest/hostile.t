#!/bin/bash
# hostile.t: a guest that hands vsp the worst syscall arguments it can: a
# 64 KiB path, a path running into an unmapped page with no NUL, NULL,
# unmapped and kernel pointers, a storm of opens from several processes on
# two vCPUs, and a read of the kernel code where a trap sits.  Every open
# is trapped and logged by a policy that reads `path`.  vsp must keep
# deciding, end cleanly, and write exactly one audit record per open the
# guest made (the guest counts them too).
. "$(dirname "$0")/lib.sh"
guest_setup

STORM=${VSP_STORM:-4 50}	# processes, opens each
GUEST_BOOT_OPTS="--smp 2" guest_run h --stats "$POL/hostile.vsp" -- \
	'vsp_hostile long' 'vsp_hostile edge' 'vsp_hostile edgez' \
	'vsp_hostile null' 'vsp_hostile unmapped' 'vsp_hostile kernel' \
	'vsp_hostile kread __x64_sys_openat' "vsp_hostile storm $STORM"
line() { grep "^VSP hostile $1 " "$T/h.log" | tr -d '\r'; }

ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "the guest ran to its end" has h.log VSP-DONE
ok "vsp never lost the guest" hasnt h.err "lost the guest"
ok "64 KiB path: the kernel's ENAMETOOLONG" eq "$(line long)" "VSP hostile long err ENAMETOOLONG 36"
ok "path into an unmapped page, no NUL: EFAULT" eq "$(line edge)" "VSP hostile edge err EFAULT 14"
ok "path whose NUL is a page's last byte: read whole, denied" \
	eq "$(line edgez)" "VSP hostile edgez err EACCES 13"
ok "NULL pointer: EFAULT" eq "$(line null)" "VSP hostile null err EFAULT 14"
ok "unmapped pointer: EFAULT" eq "$(line unmapped)" "VSP hostile unmapped err EFAULT 14"
ok "kernel pointer: EFAULT" eq "$(line kernel)" "VSP hostile kernel err EFAULT 14"

# The trap is invisible to the guest: under QEMU the breakpoint lives in
# the stub, not in guest memory, so the guest reads ftrace's NOP.
kr=$(line "kread __x64")
if [ -n "$kr" ]; then
	ok "the guest reads the trapped entry's own bytes (NOP, no int3)" \
		eq "$kr" "VSP hostile kread __x64_sys_openat 0f 1f 44 00 00"
else
	echo "ok $((t_n += 1)) # SKIP no /proc/kcore in the guest: $(line kread)"
fi
ok "after the read the trap still denies" \
	eq "$(line kread-then-shadow)" "VSP hostile kread-then-shadow err EACCES 13"
ok "no tampering reported (ftrace's own patching is not)" hasnt h.err "alert: code under the trap"

read -r procs n <<<"$STORM"
read -r _ _ _ _ sp _ sok _ sden _ sagain _ soth _ sesc <<<"$(line storm)"
echo "# storm: $(line storm)"
ok "storm: every process reported" eq "${sp:-x}" "$procs"
ok "storm: every open got an answer" \
	eq "$((${sok:-0} + ${sden:-0} + ${sagain:-0}))" "$((procs * n))"
ok "storm: no other errors" eq "${soth:-x}" 0

# Exactly one record per open: the guest's own count against the log.
guest_opens=$(grep '^VSP opens ' "$T/h.log" | tr -d '\r' | awk '{ s += $3 } END { print s + 0 }')
logged=$(grep -c '"comm":"vsp_hostile"' "$T/h.audit")
echo "# guest opens $guest_opens, records $logged"
ok "one audit record per open the guest made ($guest_opens)" eq "$logged" "$guest_opens"
whole() { ! grep -qv '^{.*}$' "$T/h.audit"; }
ok "every record is one whole line" whole
partial=$(grep -c '"partial":true' "$T/h.audit")
ok "the five unreadable paths are marked event.partial ($partial)" eq "$partial" 5
events=$(awk '/^events:/ { print $2 }' "$T/h.err")
ok "vsp counted every record's event ($events)" test "${events:-0}" -ge "$logged"

# A string in a page the process has not touched yet (a forked child's
# first use of a literal) cannot be read at the syscall's entry; vsp then
# decides at getname's return on the kernel's copy, and where even that
# cannot be done the call fails with EAGAIN, so no open escapes.
echo "# $(grep 'calls restarted' "$T/h.err" || echo 'calls restarted: 0')"
ok "storm: every shadow open denied, none escaped through an unread page" eq "${sesc:-x}" 0
late=$(grep -c '"path":"/etc/shadow"' "$T/h.audit")
ok "storm: each denial logged with the path" test "$late" -ge "${sden:-0}"
failed=$(grep -c 'the late decision could not be made' "$T/h.audit")
ok "storm: each open failed with EAGAIN has its alert record (${sagain:-0})" \
	test "$failed" -ge "${sagain:-0}"
done_testing
