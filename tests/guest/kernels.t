#!/bin/bash
# kernels.t: vsp on two more Debian kernel builds than the bundled cloud
# one: the generic amd64 kernel (PREEMPT_DYNAMIC) and the real-time one
# (PREEMPT_RT), each a different build with its own symbols, BTF and
# structure layouts.  For each, KASLR on: `vsp attach --gdb` with nothing
# else decodes the running kernel's symbols and BTF and enforces the demo
# policy (hook events, resolved paths); `vsp profile` of the kernel image
# gives exactly the symbols the running kernel lists in /proc/kallsyms;
# `vsp attach --profile` of that profile enforces too, with the profile's
# BTF; and the other flavour's profile is refused with exit 3, nothing
# placed, the guest untouched.  The kernels are fetched once (about 70 MB
# each) by `rig.sh kernel`; without network the test skips.
. "$(dirname "$0")/lib.sh"
guest_setup
DEMO=$GUEST_DIR/../../examples/demo.vsp
FLAVOURS=(amd64 rt-amd64)

declare -A KERNEL
for f in "${FLAVOURS[@]}"; do
	if ! KERNEL[$f]=$("$RIG" kernel "$f" 2>"$T/fetch-$f.err"); then
		echo "1..0 # SKIP cannot fetch the $f kernel: $(tail -1 "$T/fetch-$f.err")"
		exit 0
	fi
	"$VSP" profile -o "$T/$f.profile" "${KERNEL[$f]}" 2>"$T/profile-$f.err"
	ok "vsp profile of the $f image ($(grep -c '^[0-9a-f]' "$T/$f.profile") symbols)" \
		test "$(grep -c '^[0-9a-f]' "$T/$f.profile")" -gt 50000
done

krun() {	# krun NAME FLAVOUR VSP-ARGS... -- GUEST-COMMANDS...
	local name=$1 flavour=$2 va=() port
	shift 2
	while [ "$1" != "--" ]; do va+=("$1"); shift; done
	shift
	read -r QPID port < <("$RIG" boot --bg --kaslr --kernel "${KERNEL[$flavour]}" \
		--timeout 300 --log "$T/$name.log" "$@")
	QPIDS+=("$QPID")
	VSP_RC=0
	timeout -s INT 240 "$VSP" attach --gdb "127.0.0.1:$port" --stats "${va[@]}" \
		>"$T/$name.audit" 2>"$T/$name.err" || VSP_RC=$?
	guest_wait "$QPID" 60
}

i=0
for f in "${FLAVOURS[@]}"; do
	other=${FLAVOURS[$(((i + 1) % 2))]}
	i=$((i + 1))
	# -- nothing but the stub; then the guest dumps its own kallsyms.
	krun "$f-stub" "$f" "$DEMO" -- 'uname -r | sed "s/^/VSP uname /"' \
		'vsp_open /etc/hostname /etc/shadow' \
		"$KSYMS_DUMP"
	ok "$f, stub only: vsp attach exits 0" eq "$VSP_RC" 0
	ok "$f: the guest runs that kernel ($(result "$f-stub" 1))" \
		grep -qx "VSP uname $(cat "$(dirname "${KERNEL[$f]}")/release")" <<<"$(result "$f-stub" 1)"
	r=$(result "$f-stub" 2)
	ok "$f, stub only: open(/etc/shadow) fails with EACCES" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
	ok "$f, stub only: open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
	ok "$f, stub only: symbols and BTF from guest memory" \
		bash -c "grep -q 'kernel symbols from guest memory' '$T/$f-stub.err' &&
			grep -q \"process context from the guest's own BTF\" '$T/$f-stub.err'"
	ok "$f, stub only: the record names the resolved path and the process" \
		grep -q '"rule":"read-shadow","verdict":"deny".*"comm":"vsp_open".*"exe":"/bin/vsp_open".*"path":"/etc/shadow"' "$T/$f-stub.audit"
	grep -E "symbols from guest memory|own BTF|^attach:" "$T/$f-stub.err" | sed "s/^/# $f: /"
	# The image's profile against the running kernel's own list: every
	# core symbol, at link-time address plus the slide vsp found.
	slide=$(sed -n 's/.*kernel symbols from guest memory: .*KASLR slide \(0x[0-9a-f]*\).*/\1/p' "$T/$f-stub.err" | head -1)
	guest_kallsyms "$T/$f-stub.log" | sort >"$T/$f.kallsyms"
	profile_symbols "$T/$f.profile" "${slide:-0x0}" | sort >"$T/$f.run"
	n_k=$(wc -l <"$T/$f.kallsyms")
	n_same=$(comm -12 "$T/$f.run" "$T/$f.kallsyms" | wc -l)
	ok "$f: the guest dumped its kallsyms ($n_k core symbols, slide $slide)" test "$n_k" -gt 50000
	ok "$f: vsp profile of the image gives every one: name, type, address ($n_same of $n_k)" \
		eq "$n_same" "$n_k"
	ok "$f: and nothing else" eq "$(wc -l <"$T/$f.run")" "$n_k"

	# -- the image's profile (symbols, BTF, ORC, tail jumps).
	krun "$f-prof" "$f" --profile "$T/$f.profile" "$DEMO" -- 'vsp_open /etc/hostname /etc/shadow'
	r=$(result "$f-prof" 1)
	ok "$f, --profile: vsp attach exits 0" eq "$VSP_RC" 0
	ok "$f, --profile: open(/etc/shadow) fails with EACCES" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
	ok "$f, --profile: open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
	ok "$f, --profile: symbols verified by the profile's kallsyms digest" \
		grep -q "symbols verified by the profile's kallsyms digest" "$T/$f-prof.err"
	ok "$f, --profile: process context from the profile's BTF" \
		grep -q "process context from the profile's BTF" "$T/$f-prof.err"
	grep -E "profile's BTF|kallsyms digest|^attach:" "$T/$f-prof.err" | sed "s/^/# $f: /"

	# -- the other flavour's profile: another build, refused.
	krun "$f-other" "$f" --profile "$T/$other.profile" "$DEMO" -- 'vsp_open /etc/shadow'
	ok "$f, the $other profile: exit 3" eq "$VSP_RC" 3
	ok "$f, the $other profile: the message says what did not match" \
		grep -q "refusing: " "$T/$f-other.err"
	ok "$f, the $other profile: no trap placed" bash -c "! grep -q '^vsp attach: trap ' '$T/$f-other.err'"
	ok "$f, the $other profile: the guest ran on untouched" \
		grep -qx "VSP open /etc/shadow ok .*" <<<"$(result "$f-other" 1)"
	sed -n "s/^vsp attach: refusing/# $f: refusing/p" "$T/$f-other.err"
done
done_testing
