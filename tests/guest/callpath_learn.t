#!/bin/bash
# callpath_learn.t: learn, then enforce, a call-path profile on
# commit_creds with `vsp attach`.  Learning watches the benign flows of
# cred_walk (setuid, setgid, fork); enforcing lets them run again and
# denies cred_sneak's setreuid, whose path to commit_creds was never seen.
# Then the same with nothing but the stub on a KASLR guest: symbols, BTF
# and the ORC tables from guest memory; learning there must give the very
# profile learned with the vmlinux's tables, and enforcing it must let the
# same flows run and deny the same call.
. "$(dirname "$0")/lib.sh"
guest_setup

cat >"$T/cred.vsp" <<'POL'
policy "cred-paths";
rule "cred-path" priority high:
on kernel commit_creds
when proc.comm startswith "cred_"
must arise from profile "cred.paths"
: deny EPERM, alert "credential change from an unlearned path by %{proc.comm}";
POL

# 1. Learn.
guest_run learn --mode learn --stats=json "$T/cred.vsp" -- 'cred_walk 3'
ok "learn: vsp attach exits 0" eq "$VSP_RC" 0
ok "learn: the workload ran undisturbed" grep -q "VSP cred_walk 3 ok" "$T/learn.log"
ok "learn: the profile was written" test -s "$T/cred.paths"
sed 's/^/# learned: /' "$T/cred.paths" 2>/dev/null
ok "learn: setuid's path is in it" grep -q "^__sys_setuid <- do_syscall_64" "$T/cred.paths"
ok "learn: setgid's path is in it" grep -q "^__sys_setgid <- do_syscall_64" "$T/cred.paths"
ok "learn: every path reaches the syscall entry" \
	bash -c "! grep -v 'entry_SYSCALL_64_after_hwframe\$' '$T/cred.paths'"
ok "learn: setreuid was never seen" bash -c "! grep -q __sys_setreuid '$T/cred.paths'"
ok "learn: no denial while learning" bash -c "! grep -q '\"verdict\":\"deny\"' '$T/learn.audit'"

# 2. Enforce what was learned.
guest_run enforce --stats=json "$T/cred.vsp" -- 'cred_walk 2' 'cred_sneak'
ok "enforce: vsp attach exits 0" eq "$VSP_RC" 0
ok "enforce: learned flows still run" grep -q "VSP cred_walk 2 ok" "$T/enforce.log"
ok "enforce: the unlearned path is denied (EPERM)" \
	grep -q "VSP cred_sneak setreuid=-1 errno=1" "$T/enforce.log"
ok "enforce: exactly one denial" eq "$(grep -c '"verdict":"deny"' "$T/enforce.audit")" 1
ok "enforce: the denial names the rule and the process" \
	grep -q '"rule":"cred-path","verdict":"deny","errno":1.*cred_sneak' "$T/enforce.audit"

# 3. Nothing but --gdb, KASLR on: the guest's own ORC tables.
sed 's/cred\.paths/cred-mem.paths/' "$T/cred.vsp" >"$T/cred-mem.vsp"
kaslr_run() {	# kaslr_run NAME VSP-ARGS... -- GUEST-COMMANDS...
	local name=$1 va=() port
	shift
	while [ "$1" != "--" ]; do va+=("$1"); shift; done
	shift
	read -r QPID port < <("$RIG" boot --bg --kaslr --timeout 150 --log "$T/$name.log" "$@")
	QPIDS+=("$QPID")
	VSP_RC=0
	timeout -s INT 120 "$VSP" attach --gdb "127.0.0.1:$port" "${va[@]}" \
		>"$T/$name.audit" 2>"$T/$name.err" || VSP_RC=$?
	guest_wait "$QPID" 60
}
kaslr_run mlearn --mode learn --stats "$T/cred-mem.vsp" -- 'cred_walk 3'
ok "stub only, learn: vsp attach exits 0" eq "$VSP_RC" 0
ok "stub only: call paths by the guest's own ORC tables" \
	grep -Eq "call paths by the guest's own ORC tables \([0-9]{5,} entries" "$T/mlearn.err"
ok "stub only: the guest was randomised" \
	bash -c "! grep -q 'KASLR slide 0x0 ' '$T/mlearn.err'"
grep -E "symbols from guest memory|own BTF|own ORC|tail jumps|^attach:" "$T/mlearn.err" | sed 's/^/# /'
ok "stub only, learn: the same profile as with the vmlinux's tables" \
	cmp "$T/cred.paths" "$T/cred-mem.paths"
diff "$T/cred.paths" "$T/cred-mem.paths" | sed 's/^/# /'
kaslr_run menforce --stats "$T/cred.vsp" -- 'cred_walk 2' 'cred_sneak'
ok "stub only, enforce: vsp attach exits 0" eq "$VSP_RC" 0
ok "stub only, enforce: learned flows still run" grep -q "VSP cred_walk 2 ok" "$T/menforce.log"
ok "stub only, enforce: the unlearned path is denied (EPERM)" \
	grep -q "VSP cred_sneak setreuid=-1 errno=1" "$T/menforce.log"
ok "stub only, enforce: exactly one denial" eq "$(grep -c '"verdict":"deny"' "$T/menforce.audit")" 1
ok "stub only, enforce: its path is the setreuid one" \
	grep -q '"stack":\["commit_creds","__sys_setreuid","do_syscall_64","entry_SYSCALL_64_after_hwframe"\]' "$T/menforce.audit"
done_testing
