#!/bin/bash
# callpath_learn.t: learn, then enforce, a call-path profile on
# commit_creds with `vsp attach`.  Learning watches the benign flows of
# cred_walk (setuid, setgid, fork); enforcing lets them run again and
# denies cred_sneak's setreuid, whose path to commit_creds was never seen.
# Then the same with nothing but the stub on a KASLR guest: symbols, BTF
# and the ORC tables from guest memory; learning there must give the very
# profile learned with the vmlinux's tables, and enforcing it must let the
# same flows run and deny the same call.  Last, a profile of the kernel
# image carrying the BTF, ORC tables and tail jumps stands in for all of
# them, and one whose BTF is another kernel's is refused.
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

# 4. A profile of the kernel image (`vsp profile VMLINUZ`) carries the BTF,
# the ORC tables and the tail jumps: an attach with it copies none of them
# from the guest, enforces the same, and starts in fewer round trips.
"$VSP" profile -o "$T/k.profile" "$VMLINUZ" 2>"$T/prof.err"
ok "vsp profile of the vmlinuz carries the BTF, ORC tables and tail jumps" \
	test "$(grep -c '^# section \(btf\|orc_unwind_ip\|orc_unwind\|tails\) ' "$T/k.profile")" -eq 4
kaslr_run penforce --stats --profile "$T/k.profile" "$T/cred.vsp" -- 'cred_walk 2' 'cred_sneak'
ok "profile, enforce: vsp attach exits 0" eq "$VSP_RC" 0
ok "profile: its symbols verified by its kallsyms digest, not by decoding the guest's table" \
	bash -c "grep -q \"symbols verified by the profile's kallsyms digest\" '$T/penforce.err' &&
		! grep -q 'kernel symbols from guest memory' '$T/penforce.err'"
ok "profile: process context from the profile's BTF" \
	grep -q "process context from the profile's BTF" "$T/penforce.err"
ok "profile: call paths by the profile's ORC tables" \
	grep -Eq "call paths by the profile's ORC tables \([0-9]{5,} entries" "$T/penforce.err"
ok "profile: tail jumps from the profile" grep -Eq "tail jumps from the profile \([0-9]{4,}\)" "$T/penforce.err"
ok "profile: nothing of the text copied" bash -c "! grep -q \"tail jumps from the guest's kernel text\" '$T/penforce.err'"
ok "profile, enforce: learned flows still run" grep -q "VSP cred_walk 2 ok" "$T/penforce.log"
ok "profile, enforce: the unlearned path is denied (EPERM)" \
	grep -q "VSP cred_sneak setreuid=-1 errno=1" "$T/penforce.log"
ok "profile, enforce: its path is the setreuid one" \
	grep -q '"stack":\["commit_creds","__sys_setreuid","do_syscall_64","entry_SYSCALL_64_after_hwframe"\]' "$T/penforce.audit"
rt_of() { sed -n 's/^attach: .* ms and \([0-9]*\) round trips.*/\1/p' "$T/$1.err"; }
ok "profile: fewer round trips to the first trap ($(rt_of penforce) against $(rt_of menforce) copying from the guest)" \
	test "$(rt_of penforce)" -lt "$(rt_of menforce)"
grep -E "profile's|tail jumps|^attach:" "$T/penforce.err" | sed 's/^/# /'

# 5. A profile whose BTF is not the running kernel's (a byte changed in
# the first window the attach compares, re-encoded): refused, exit 3,
# nothing placed, the guest runs on.
python3 - "$T/k.profile" "$T/other.profile" <<'PY'
import base64, sys, zlib
out, sec, data, hdr = [], None, [], None
def flush():
    global sec, data
    if sec is None:
        return
    raw = bytearray(zlib.decompress(base64.b64decode("".join(data))))
    if sec[2] == "btf":
        raw[0x20] ^= 0xff
    z = base64.b64encode(zlib.compress(bytes(raw))).decode()
    out.append("# section %s %s %d zlib %d\n" % (sec[2], sec[3], len(raw), len(base64.b64decode(z))))
    out.extend("#=%s\n" % z[i:i + 76] for i in range(0, len(z), 76))
    sec, data = None, []
for line in open(sys.argv[1]):
    if line.startswith("#="):
        data.append(line[2:].strip())
        continue
    flush()
    if line.startswith("# section "):
        sec = line.split()
    else:
        out.append(line)
flush()
open(sys.argv[2], "w").writelines(out)
PY
kaslr_run pother --profile "$T/other.profile" "$T/cred.vsp" -- 'cred_sneak'
ok "another kernel's BTF in the profile: exit 3" eq "$VSP_RC" 3
ok "  ... the message names the BTF" grep -q "refusing: the profile's BTF is not the running kernel's" "$T/pother.err"
ok "  ... no trap placed" bash -c "! grep -q '^vsp attach: trap ' '$T/pother.err'"
ok "  ... the guest ran on untouched" grep -q "VSP cred_sneak setreuid=0" "$T/pother.log"

# 6. A profile whose kallsyms digest is not the running kernel's (one
# window's CRC changed): refused by the digest, exit 3, nothing placed.
python3 - "$T/k.profile" "$T/digest.profile" <<'PY'
import sys
out, done = [], False
for line in open(sys.argv[1]):
    f = line.split()
    if not done and line.startswith("# kallsyms-window names "):
        f[5] = "0x%08x" % (int(f[5], 16) ^ 1)
        line, done = " ".join(f) + "\n", True
    out.append(line)
open(sys.argv[2], "w").writelines(out)
PY
ok "  (one window of kallsyms_names changed)" bash -c "! cmp -s '$T/k.profile' '$T/digest.profile'"
kaslr_run pdigest --profile "$T/digest.profile" "$T/cred.vsp" -- 'cred_sneak'
ok "another kernel's kallsyms in the digest: exit 3" eq "$VSP_RC" 3
ok "  ... the message names the table" \
	grep -q "refusing: .*kallsyms digest does not match the running kernel's kallsyms_names" "$T/pdigest.err"
ok "  ... no trap placed" bash -c "! grep -q '^vsp attach: trap ' '$T/pdigest.err'"
ok "  ... the guest ran on untouched" grep -q "VSP cred_sneak setreuid=0" "$T/pdigest.log"
done_testing
