#!/bin/bash
# callpath_learn.t: learn, then enforce, a call-path profile on
# commit_creds with `vsp attach`.  Learning watches the benign flows of
# cred_walk (setuid, setgid, fork); enforcing lets them run again and
# denies cred_sneak's setreuid, whose path to commit_creds was never seen.
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
done_testing
