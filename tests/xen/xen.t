#!/bin/bash
# xen.t: the Xen backend against a live PVH guest under Xen 4.17 (in QEMU).
#
# One Xen boot serves every step: the plan below runs in dom0, each step
# starts a guest with its own command list, attaches `vsp attach --xen` to
# it, and sends the guest's console, vsp's audit, stderr and exit status
# back over the serial console (tests/xen/rig.sh).  The assertions then
# read them here, step by step.
#
# Software-breakpoint events need the patched QEMU (qemu-svm-int3.patch);
# without it the test is skipped and says why.  `make check` builds it.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../guest/lib.sh"
XRIG=$HERE/rig.sh

if [ -z "${VSP:-}" ] || [ ! -x "$VSP" ]; then
	echo "Bail out! VSP must name the vsp binary"
	exit 1
fi
if ! "$VSP" --version | grep -q '^backends:.* xen'; then
	echo "1..0 # SKIP vsp was built without the Xen backend (no libxen-dev)"
	exit 0
fi
if ! "$XRIG" qemu-path >/dev/null; then
	echo "1..0 # SKIP needs the QEMU with the SVM #BP intercept fix (tests/xen/qemu-svm-int3.patch), not built: run tests/xen/rig.sh qemu"
	exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-xen.XXXXXX")
trap '[ -n "${VSP_KEEP:-}" ] && echo "# files kept in $T" >&2 || rm -rf "$T"' EXIT
mkdir -p "$T/files" "$T/out"
ov() { local n=$1; shift; "$XRIG" overlay "$T/files/$n.gz" "$@"; }
P=/guest/policies

# ---- the plan: every step in one boot
HV=/sys/hypervisor
ov deny 'vsp_open /etc/hostname /etc/shadow /etc/passwd'
ov verd 'vsp_getpid' 'vsp_open /etc/shadow /etc/hostname' 'vsp_open /etc/kill-me' \
	'vsp_open /etc/hostname'
ov kf 'cred_walk 3'
ov paus 'vsp_open /etc/hostname /etc/shadow /etc/passwd'
ov det 'vsp_open /etc/shadow' 'sleep 30' 'vsp_hostile kread __x64_sys_openat'
ov kill 'vsp_open /etc/shadow' 'sleep 8' 'vsp_open /etc/shadow /etc/hostname'
# The hypercall steps attach to the booted guest (XG_ATTACH_AT): every
# hypercall stops at the stub, and a boot makes too many of them.  The
# guest is paused at its first command, a short sleep, for the attach.
ov learn 'sleep 5' "f=\$(cat $HV/properties/features); echo \"VSP features rc \$? \$f\"" \
	"f=\$(cat $HV/properties/features); echo \"VSP features rc \$? \$f\""
rd() { echo "f=\$(cat $1 2>&1); echo \"VSP $2 rc \$? \$f\""; }
# Enforce: then, with the test's module (below), a grant_table_op from
# its own code, a path the learn step never saw.
enf=('sleep 5' "$(rd $HV/properties/features features)"
	"$(rd $HV/compilation/compiled_by compiled_by)"
	"$(rd $HV/properties/features features)")
kmsg='dmesg | grep -iA3 "segfault\|int3:\|Oops\|BUG:\|general protection" | sed "s/^/VSP kmsg /" | head -60'
# The xen-hypercalls pack: its cases (tests/guest/attacks/*.case with
# "pack: xen-hypercalls"), each variant run in the guest after the test's
# module (attacks/kmod/vsp_hcall.c) is loaded; the variants make their
# hypercalls from the module's own code, off the paths the pack ships.
# The guest rig builds the module (cached; the Xen boot below builds the
# rest of it anyway).
"$GUEST_DIR/rig.sh" build >&2 || true
eval "$("$GUEST_DIR/rig.sh" paths | grep '^PACKS_BIN=')"
case_field() { sed -n "s/^$2: *//p" "$1" | head -1; }
xcmds=() xcase=() xname=() xwant=()
for c in "$GUEST_DIR"/attacks/*.case; do
	[ "$(case_field "$c" pack)" = xen-hypercalls ] || continue
	while IFS= read -r line; do
		case $line in variant:*) ;; *) continue ;; esac
		line=${line#variant:}
		xname+=("$(awk -F ' [|] ' '{ sub(/^ */, "", $1); print $1 }' <<<"$line")")
		xwant+=("$(awk -F ' [|] ' '{ print $NF }' <<<"$line")")
		xcase+=("$c")
		cmd=$(awk -F ' [|] ' '{ s = $2; for (i = 3; i < NF; i++) s = s " | " $i; print s }' <<<"$line")
		xcmds+=("( $cmd ) >/tmp/.out 2>&1; echo \"VSP rc \$?\"; sed 's/^/VSP out /' /tmp/.out")
	done <"$c"
done
if [ -s "$PACKS_BIN/vsp_hcall.ko" ]; then
	mkdir -p "$T/add/lib/vsp"
	cp "$PACKS_BIN/vsp_hcall.ko" "$T/add/lib/vsp/"
	XG_ADD=$T/add ov pack 'sleep 5' 'insmod /lib/vsp/vsp_hcall.ko; echo "VSP insmod rc $?"' \
		"${xcmds[@]}"
	XG_ADD=$T/add ov enf "${enf[@]}" 'insmod /lib/vsp/vsp_hcall.ko; echo "VSP insmod rc $?"' \
		'echo grant >/proc/vsp_hcall; echo "VSP $(cat /proc/vsp_hcall)"' "$kmsg"
else
	ov enf "${enf[@]}" "$kmsg"
fi
cat >"$T/plan.sh" <<'PLAN'
X=/guest/xen-policies
xg_attach deny --stats=json $P/shadow.vsp
xg_attach verd --stats=json $P/verdicts.vsp
xg_attach kf --record /tmp/kf.trace $X/kfunc.vsp
# pause: the guest never ends by itself; 40 s is the wait for its end.
XG_SECS=40 xg_attach paus --stats=json $P/pause.vsp
XG_SECS=
XG_SIGNAL=TERM XG_SIGNAL_AT="VSP-RUN 2" xg_attach det --stats $P/shadow.vsp
XG_SIGNAL= XG_SIGNAL_AT=
# SIGKILL: vsp dies with its int3 bytes in the guest; the guest runs
# into one and stalls; the next attach takes the ring over.
XG_SIGNAL=KILL XG_SIGNAL_AT="VSP-RUN 2" XG_REATTACH_AT="VSP-RUN 3" xg_attach kill --stats $P/shadow.vsp
XG_SIGNAL= XG_SIGNAL_AT= XG_REATTACH_AT=

# Hypercalls: learn the paths on a clean run, then enforce.  Each
# hypercall costs a few ms here and a step makes 5,000 to 16,000 of them:
# up to 300 s each on a loaded host (a step that ends sooner costs no
# more).
XG_SECS=300 XG_ATTACH_AT="^VSP-RUN 1 sleep" xg_attach learn --mode learn --stats=json $X/hcall.vsp
xg_emit hcall.paths $X/hcall.paths
XG_SECS=300 XG_ATTACH_AT="^VSP-RUN 1 sleep" xg_attach enf --stats=json $X/hcall.vsp
[ -f /files/pack.gz ] && XG_SECS=300 XG_ATTACH_AT="^VSP-RUN 1 sleep" xg_attach pack --stats=json /guest/packs/xen-hypercalls.vsp
XG_SECS= XG_ATTACH_AT=
PLAN
sed -i "1i P=$P" "$T/plan.sh"

t0=$(date +%s)
if ! "$XRIG" boot --timeout 1500 --log "$T/xen.log" --files "$T/files" "$VSP" "$T/plan.sh" >&2; then
	echo "# the Xen boot failed or timed out; last lines:"
	tail -n 20 "$T/xen.log" | sed 's/^/# /'
fi
echo "# Xen boot and plan: $(( $(date +%s) - t0 )) s"
"$XRIG" extract "$T/xen.log" "$T/out"
O=$T/out
ok "dom0 came up with the toolstack" grep -q "^XG-DOM0-UP" "$T/xen.log"
ok "the plan ran to its end" grep -q "^XG-PLAN-DONE" "$T/xen.log"
# On stderr, so that prove shows them: a step that timed out says so.
grep -h "^XG-WARN" "$T/xen.log" | sed 's/^/# /' >&2
res() { "$GUEST_DIR/rig.sh" result "$O/$1.log" "$2"; }

# ---- deny: an openat rule, seen by the guest
r=$(res deny 1)
ok "deny: vsp attach exits 0 when the guest ends" eq "$(cat "$O/deny.rc")" 0
ok "deny: open(/etc/shadow) fails with EACCES" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
ok "deny: open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "deny: open(/etc/passwd) succeeds" grep -qx "VSP open /etc/passwd ok root:x:0:0:root:/root:/bin/sh" <<<"$r"
ok "deny: the guest ran to its end" grep -q VSP-DONE "$O/deny.log"
ok "deny: one audit record, applied" grep -q '"rule":"read-shadow","verdict":"deny","errno":13' "$O/deny.audit"
ok "deny: the process behind the call" grep -q '"comm":"vsp_open"' "$O/deny.audit"

# ---- verdicts: return, redirect, kill
ok "verdicts: vsp exits 0" eq "$(cat "$O/verd.rc")" 0
ok "return: getpid() gives 4242" grep -qx "VSP getpid 4242" <<<"$(res verd 1)"
ok "redirect: open(/etc/shadow) reads /etc/decoy" grep -qx "VSP open /etc/shadow ok DECOY-CONTENT" <<<"$(res verd 2)"
ok "redirect: other opens untouched" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(res verd 2)"
ok "kill: the process dies of SIGKILL" eq "$("$GUEST_DIR/rig.sh" status "$O/verd.log" 3)" 137
ok "after the kill the guest runs on" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(res verd 4)"
ok "audit: return carries the value" grep -q '"verdict":"return","value":4242' "$O/verd.audit"

# ---- pause: the guest stopped at the call, and left so
ok "pause: vsp exits 0 after pausing" eq "$(cat "$O/paus.rc")" 0
ok "pause: vsp reports the pause" grep -q "guest paused at openat (rule freeze" "$O/paus.err"
ok "pause: vsp says the guest stays paused" grep -q "stays paused" "$O/paus.err"
ok "pause: the domain is paused when the test ends it" grep -q p "$O/paus.state"
ok "pause: the open before it completed" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(res paus 1)"
ok "pause: the guest did not go on past the open" bash -c "! grep -q 'VSP open /etc/shadow\|VSP-DONE' '$O/paus.log'"

# ---- a kernel function: process context and call path
ok "kfunc: vsp exits 0" eq "$(cat "$O/kf.rc")" 0
ok "kfunc: the workload ran" grep -q "VSP cred_walk 3 ok" "$O/kf.log"
ok "kfunc: commit_creds events logged by cred_walk" grep -q '"msg":"commit_creds by cred_walk"' "$O/kf.audit"
ok "kfunc: setuid reaches commit_creds through __sys_setuid" \
	grep -q '"stack":\["commit_creds","__sys_setuid","do_syscall_64","entry_SYSCALL_64_after_hwframe"' "$O/kf.trace"

# ---- detach on SIGTERM: nothing left behind
ok "SIGTERM: vsp exits 0" eq "$(cat "$O/det.rc")" 0
ok "SIGTERM: vsp detached" grep -q "signal 15: detaching" "$O/det.err"
ok "SIGTERM: enforced before" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$(res det 1)"
# The original bytes: the kernel image's, since ftrace_init, which runs
# after an attach at boot, cannot patch a function with an int3 in it
# and leaves every `call __fentry__` as it was compiled.
eval "$("$GUEST_DIR/rig.sh" paths | sed 's/^/G_/')"
oa=$(awk '$3 == "__x64_sys_openat" { print $1; exit }' "$G_SYSTEM_MAP")
orig=$(objdump -d --start-address=0x$oa --stop-address=$(printf '0x%x' $((0x$oa + 5))) "$G_VMLINUX" 2>/dev/null |
	awk -F'\t' '/^ *ffffffff/ { printf "%s", $2 }' | xargs)
kr=$(res det 3 | sed -n 's/^VSP hostile kread __x64_sys_openat //p')
echo "# openat's first bytes: $kr in the guest after detach, $orig in vmlinux"
ok "SIGTERM: the guest reads its own openat handler after detach: no int3" \
	test -n "$kr" -a "${kr%% *}" != cc
ok "SIGTERM: ... and the bytes are the kernel image's" eq "$kr" "$orig"
ok "SIGTERM: no trap left: the shadow file opens" \
	grep -Eqx "VSP hostile kread-then-shadow ok( .*)?" <<<"$(res det 3)"
ok "SIGTERM: the guest ran to its end, not paused" grep -q VSP-DONE "$O/det.log"

ok "SIGKILL: enforced before the kill" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$(res kill 1)"
ok "SIGKILL: the next attach takes over the dead vsp's ring" \
	grep -q "took over the vm_event ring a vsp that died left" "$O/kill.err2"
ok "SIGKILL: the vCPU held at the dead vsp's trap runs on, and the call is decided" \
	grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$(res kill 3)"
ok "SIGKILL: other opens succeed" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$(res kill 3)"
ok "SIGKILL: the guest ran to its end" grep -q VSP-DONE "$O/kill.log"
ok "SIGKILL: the second vsp exits 0 when the guest ends" eq "$(cat "$O/kill.rc")" 0
ok "SIGKILL: the second vsp's deny is audited" \
	grep -q '"rule":"read-shadow","verdict":"deny","errno":13' "$O/kill.audit2"

# ---- hypercalls (XSA-466 stub on AMD): learn, then enforce
ok "learn: vsp exits 0" eq "$(cat "$O/learn.rc")" 0
ok "learn: the reads succeed" grep -q "^VSP features rc 0" <<<"$(res learn 2)"
ok "learn: xen_version events arrive, with their named argument" \
	grep -q '"msg":"xen_version cmd 6 by ' "$O/learn.audit"
ok "learn: ... and the other PVH hypercalls" grep -Eq '"pvh":[1-9]' "$O/learn.err"
ok "learn: a path was learned for xen_version" grep -q "^features_show <- " "$O/hcall.paths"
ok "learn: nothing denied" eq "$(grep -c '"verdict":"deny"' "$O/learn.audit")" 0
ok "enforce: vsp exits 0" eq "$(cat "$O/enf.rc")" 0
ok "enforce: the learned path is allowed" grep -q "^VSP features rc 0" <<<"$(res enf 2)"
ok "enforce: an unlearned path is denied, the guest sees EPERM" \
	grep -q "^VSP compiled_by rc 1 .*Operation not permitted" <<<"$(res enf 3)"
ok "enforce: the learned path still allowed after" grep -q "^VSP features rc 0" <<<"$(res enf 4)"
ok "enforce: the audit names the rule, the argument and the path" \
	grep -q '"rule":"version-path","verdict":"deny","errno":1,.*"msg":"xen_version cmd 2 from an unlearned path".*"stack":\["xen_version","compiled_by_show"' "$O/enf.audit"
# busybox cat tries sendfile, then read: the same unlearned handler twice.
nd=$(grep -c '"rule":"version-path","verdict":"deny"' "$O/enf.audit")
ok "enforce: every xen_version deny is the compiled_by read (sendfile, then read)" \
	eq "$(grep -c '"verdict":"deny".*"stack":\["xen_version","compiled_by_show"' "$O/enf.audit")" "$nd"
if [ -s "$PACKS_BIN/vsp_hcall.ko" ]; then
	ok "enforce: a grant_table_op from a module's own code is denied, the guest sees -EPERM" \
		grep -qx "VSP grant_table_op rc -1" <<<"$(res enf 6)"
	ok "enforce: one deny of it, by grant-path, with its command" \
		eq "$(grep -c '"rule":"grant-path","verdict":"deny","errno":1,.*"msg":"grant_table_op cmd 6 from an unlearned path"' "$O/enf.audit")" 1
	ok "enforce: no other grant_table_op denied" \
		eq "$(grep -c '"rule":"grant-path"' "$O/enf.audit")" 1
else
	skip "enforce: grant_table_op" "no vsp_hcall.ko for the guest kernel" 3
fi
ok "enforce: the other PVH hypercalls were seen" grep -Eq '"pvh":[1-9]' "$O/enf.err"
ok "enforce: the guest ran to its end" grep -q VSP-DONE "$O/enf.log"
# Every hypercall stops at the stub, most from interrupt context: no guest
# process may die of it (Xen's lazy FPU lost their vector registers under
# this QEMU until the rig booted Xen with spec-ctrl=eager-fpu).
ok "enforce: no guest process dies while the hypercall stubs are trapped" \
	bash -c "! tr -d '\r' <'$O/enf.log' | grep -v '^VSP-RUN' | grep -q 'Segmentation fault\|segfault'"
if ! grep -q '"verdict":"deny"' "$O/enf.audit" 2>/dev/null; then
	# What vsp and the guest said, for a run that denied nothing.
	{ echo "# enforce denied nothing; vsp said:"; sed 's/^/#   /' "$O/enf.err"
	  echo "# the guest printed:"; tr -d '\r' <"$O/enf.log" | grep -E '^VSP' | sed 's/^/#   /'
	  echo "# learned:"; sed 's/^/#   /' "$O/hcall.paths"; } >&2 2>/dev/null
fi

# ---- the xen-hypercalls pack against hypercalls from a module's own code
nx=${#xcase[@]}
if [ ! -s "$PACKS_BIN/vsp_hcall.ko" ]; then
	skip "pack" "no vsp_hcall.ko for the guest kernel (tests/guest/rig.sh builds it with its linux-headers)" $((3 + 2 * nx))
else
	ok "pack: vsp exits 0" eq "$(cat "$O/pack.rc")" 0
	ok "pack: the module loads" grep -qx "VSP insmod rc 0" <<<"$(res pack 2)"
	# One alert per call: the call is one event even when interrupts bring
	# the vCPU back to the stub before its vmmcall ran.
	for i in $(seq "$nx"); do
		c=${xcase[$((i - 1))]}
		rule=$(case_field "$c" rule)
		ok "$(basename "$c" .case) / ${xname[$((i - 1))]}: the guest sees ${xwant[$((i - 1))]}" \
			grep -Eq -- "${xwant[$((i - 1))]}" <<<"$(res pack $((i + 2)))"
		ok "$(basename "$c" .case) / ${xname[$((i - 1))]}: one record, rule $rule, an alert" \
			eq "$(grep -c "\"rule\":\"$rule\",\"verdict\":null,.*\"severity\":\"alert\"" "$O/pack.audit")" 1
	done
	ok "pack: no other record (no alert on the kernel's own calls)" \
		eq "$(grep -c . "$O/pack.audit")" "$nx"
fi
done_testing
