#!/bin/bash
# callpath_kaslr.t: KASLR on, two boots.  The probe finds each boot's
# slide by itself from the paused rip (checked against the guest's own
# /proc/kallsyms), and the call paths it then rebuilds still match the
# kernel's stack traces -- also by the ORC tables read from the slid
# guest memory with no vmlinux, which must give the vmlinux tables' paths.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callpath_lib.sh"
guest_setup

ok "the probe builds against libvsp.a" callpath_build_probe
link=$(awk '$3 == "commit_creds" { print $1; exit }' "$SYSTEM_MAP")
slides=()
for b in 1 2; do
	callpath_run "k$b" --kaslr -- 'cred_walk 2'
	run=$(tr -d '\r' <"$T/k$b.log" | awk '$1 == "VSP" && $2 == "ksym" { print $3 }')
	found=$(awk '$1 == "SLIDE" { print $2 }' "$T/k$b.probe")
	want=$(printf '%#x' $((0x${run:-0} - 0x$link)))
	echo "# boot $b: commit_creds at ${run:-?}, slide $want, probe found ${found:-none}" \
		"($(awk '$1 == "SLIDE" { print "method " $4 ", " $6 " reads" }' "$T/k$b.probe"))"
	slides+=("$want")
	# KASLR may draw the link-time slot itself (one slot of ~500).
	if [ "$want" = 0 ]; then
		echo "ok $((++t_n)) # SKIP boot $b: KASLR drew slide 0 this time"
	else
		ok "boot $b: the guest really is randomised" test "$want" != 0
	fi
	ok "boot $b: the probe's slide is the guest's" eq "${found:-none}" "$want"
	read -r hits matched oe ie fa ft op ip me mo ms < <(callpath_compare "k$b" 2>/dev/null)
	echo "# boot $b: hits=$hits matched=$matched orc_exact=$oe insn_exact=$ie morc_exact=$mo morc_as_orc=$ms"
	ok "boot $b: traps hit at the slid addresses" test "${hits:-0}" -ge 10
	ok "boot $b: ORC paths equal the kernel's" eq "${oe:-x}" "${matched:-y}"
	ok "boot $b: instruction-analysis paths equal the kernel's" eq "${ie:-x}" "${matched:-y}"
	ok "boot $b: ORC tables read from guest memory: paths equal the kernel's" \
		eq "${mo:-x}" "${matched:-y}"
	ok "boot $b: ... and the vmlinux tables' paths at every trap" eq "${ms:-x}" "${hits:-y}"
	ok "boot $b: all the tables read" grep -Eq "^ORCMEM entries [0-9]{5,} " "$T/k$b.probe"
done
if [ "${slides[0]}" = "${slides[1]}" ]; then
	echo "ok $((++t_n)) # SKIP both boots drew the same slide (${slides[0]})"
else
	ok "two boots, two different slides (${slides[0]}, ${slides[1]})" true
fi
done_testing
