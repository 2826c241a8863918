#!/bin/bash
# hooks2.t: the kill verdict on hook events, on the live guest.  The
# process that met the rule dies of SIGKILL, and the operation it was
# making did not happen: the file it unlinked is still there, the file it
# opened with O_TRUNC still holds its bytes, the process it signalled
# got nothing.  (The
# hook once returned whatever force_sig left in rax, so the operation
# could go on before the task died.)  And exec.argv: the arguments the
# kernel copied for the program about to run, read from the new mm.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run k "$POL/hooks2.vsp" -- \
	'echo kept > /tmp/keep-me && exec rm /tmp/keep-me' \
	'echo "VSP keep $(cat /tmp/keep-me)"' \
	'echo bytes > /tmp/src && ln /tmp/src /tmp/trunc-me && exec sh -c ": > /tmp/trunc-me"' \
	'echo "VSP trunc $(cat /tmp/trunc-me)"' \
	'sleep 60 & p=$!; while read c < /proc/$p/comm; [ "$c" != sleep ]; do :; done; echo $p > /tmp/pid; exec kill -TERM $p' \
	'echo "VSP sleep $(sed -n "s/^State:[[:space:]]*\\([A-Z]\\).*/\\1/p" /proc/$(cat /tmp/pid)/status)"' \
	'vsp_hello one "two  three" four; echo "VSP rc $?"' \
	'f=--vsp-; vsp_hello a ${f}forbidden b; echo "VSP rc $?"'
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "unlink: the process dies of SIGKILL" eq "$(status k 1)" 137
ok "unlink: the file is still there" grep -qx "VSP keep kept" <<<"$(result k 2)"
ok "open with O_TRUNC: the process dies of SIGKILL" eq "$(status k 3)" 137
ok "open with O_TRUNC: the file still holds its bytes" grep -qx "VSP trunc bytes" <<<"$(result k 4)"
ok "kill of a sleep: the process dies of SIGKILL" eq "$(status k 5)" 137
ok "kill of a sleep: the sleep got no SIGTERM (still sleeping)" grep -qx "VSP sleep S" <<<"$(result k 6)"
ok "exec.argv: an allowed program runs" grep -qx "VSP rc 0" <<<"$(result k 7)"
ok "exec.argv: joined by single spaces, as the kernel copied them" \
	grep -q '"rule":"argv-log".*"msg":"argv=vsp_hello one two  three four"' "$T/k.audit"
ok "exec.argv: a forbidden argument is refused" grep -qx "VSP rc 126" <<<"$(result k 8)"
ok "exec.argv: ... and recorded" grep -q '"rule":"argv","verdict":"deny".*"msg":"refused vsp_hello a --vsp-forbidden b"' "$T/k.audit"
ok "the guest ran to its end" has k.log VSP-DONE
ok "audit: the unlink rule killed" grep -q '"rule":"keep","verdict":"kill"' "$T/k.audit"
ok "audit: the open rule killed" grep -q '"rule":"no-trunc","verdict":"kill"' "$T/k.audit"
ok "audit: the kill rule names its target" grep -q '"rule":"spare-sleep","verdict":"kill".*"target":{[^}]*"comm":"sleep"' "$T/k.audit"
done_testing
