#!/bin/bash
# measure.sh: what interception costs on the bundled guest.
#
#   tests/guest/measure.sh [N [W]]
# runs `vsp_loop N /etc/hostname` (N openat+close pairs, default 500) in the
# guest four ways and prints one line each: no debugger at all; vsp
# attached with a policy that traps nothing; every openat trapped and
# allowed without reading anything; every openat trapped with its path read
# and matched (tests/guest/policies/shadow.vsp); and every open of any
# route trapped at the kernel's open hook with file.path resolved and
# matched (tests/guest/policies/hook-shadow.vsp), with the path cache and,
# to show what a first open costs, without it (VSP_PATH_CACHE=0).
# Then UN (default N/5) calls of a libc function trapped in a dynamically
# linked process: allowed (its first instruction run by vsp, and, to show
# what that saves, stepped: VSP_USER_EMULATE=0) and returned at the trap
# (`return 42`: nothing runs).
# Columns: the loop's time
# inside the guest, the whole run's wall time (boot to power off), traps
# hit, round trips per trap, vsp's own handling time per trap, and the
# engine's share of that.  After each attached run, the integrity checks
# (CR0/CR4 at every stop, free; the syscall entry code read at most once a
# second: those reads are all the round trips it adds).
#
# Then writes to kernel data: W writes of /proc/sys/kernel/modprobe, each
# changing one byte (/sbin/modprobX and back), watched by `on write
# modprobe_path : log`.  The kernel copies the string byte by byte and the
# watchpoint stops at every byte written, changed or not (15 per write);
# one of them changes a byte and is the event.  Columns: the loop's time
# inside the guest, watch hits, events, round trips and vsp's ms per hit.
#
# Last, attaching: on a KASLR guest, a policy whose rule reads call paths
# (so the monitor needs the kernel's symbols, BTF, ORC tables and tail
# jumps), from the bare stub to the traps placed, with nothing but the
# stub, with a profile of the symbols alone, and with a profile carrying
# the rest too (`vsp profile VMLINUZ`), its symbols verified by the
# profile's kallsyms digest and, as --verify-symbols=full does, by the
# guest's whole kallsyms table; and the time `vsp profile` takes on the
# kernel image (and on the other Debian builds, when rig.sh kernel has
# fetched them).  Columns: the attach's time and round trips, as `--stats`
# prints them.  MEASURE=attach runs this table alone, MEASURE=user the
# user-function one.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
RIG=$HERE/rig.sh
VSP=${VSP:-$TOP/${BUILD:-build}/vsp}
N=${1:-500}
"$RIG" symbols
eval "$("$RIG" paths)"
T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-measure.XXXXXX")
trap 'rm -rf "$T"' EXIT
echo '# no rules: nothing to trap' >"$T/empty.vsp"

loop_ms() { tr -d '\r' <"$1" | awk '$1 == "VSP" && $2 == "loop" { print $(NF) }'; }

run() {
	local name=$1 policy=${2:-} work=${3:-"vsp_loop $N /etc/hostname"}
	local t0 t1
	t0=$(date +%s%N)
	if [ -z "$policy" ]; then
		"$RIG" boot --no-stub --log "$T/$name.log" "$work" >/dev/null
		: >"$T/$name.err"
	else
		local qpid port
		read -r qpid port < <("$RIG" boot --bg --timeout 600 --log "$T/$name.log" "$work")
		"$VSP" attach -q --stats --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
			--audit /dev/null "$policy" 2>"$T/$name.err"
		while kill -0 "$qpid" 2>/dev/null; do sleep 0.1; done
	fi
	t1=$(date +%s%N)
	local hits rt ms share
	hits=$(awk '/^traps hit:/ { print $3 }' "$T/$name.err")
	rt=$(awk '/^per trap:/ { print $3 }' "$T/$name.err")
	ms=$(awk '/^per trap:/ { print $6 }' "$T/$name.err")
	share=$(awk '/^engine share:/ { print $3 }' "$T/$name.err")
	printf '%-28s %9s %9.2f %7s %7s %9s %9s\n' "$name" "$(loop_ms "$T/$name.log")" \
		"$(echo "($t1 - $t0) / 1000000000" | bc -l)" "${hits:-0}" "${rt:--}" "${ms:--}" "${share:--}"
	grep '^integrity:' "$T/$name.err" | sed 's/^/#   /' || true
}

if [ -z "${MEASURE:-}" ]; then
printf '%-28s %9s %9s %7s %7s %9s %9s\n' "vsp_loop $N" "loop ms" "wall s" traps "rt/trap" "ms/trap" "engine"
run "no monitor"
run "attached, no rules" "$T/empty.vsp"
run "openat trapped, allow" "$HERE/policies/opens.vsp"
run "openat trapped, path rule" "$HERE/policies/shadow.vsp"
run "file open, file.path rule" "$HERE/policies/hook-shadow.vsp"
grep -E '^(hook events|per hook event):' "$T/file open, file.path rule.err" | sed 's/^/#   /'
VSP_PATH_CACHE=0 run "file open, no path cache" "$HERE/policies/hook-shadow.vsp"
grep -E '^(hook events|per hook event):' "$T/file open, no path cache.err" | sed 's/^/#   /'

# User-space functions (progs-dyn/vsp_uloop.c, dynamically linked): UN
# calls of a libc function trapped at its entry in the process, wherever
# ASLR put libc.  The "user calls:" line is the function traps alone (the
# kernel's mapping-path traps are counted apart).
fi
if [ -z "${MEASURE:-}" ] || [ "$MEASURE" = user ]; then
UN=${UN:-$((N / 5))}
printf '%-28s %9s %9s %7s %7s %9s %9s\n' "vsp_uloop $UN" "loop ms" "wall s" traps "rt/trap" "ms/trap" "engine"
run "no monitor (user calls)" "" "vsp_uloop $UN getpid"
run "getpid() allowed" "$HERE/policies/user-loop.vsp" "vsp_uloop $UN getpid"
grep -E '^user calls( allowed)?:' "$T/getpid() allowed.err" | sed 's/^/#   /'
VSP_USER_EMULATE=0 run "getpid() allowed, stepped" "$HERE/policies/user-loop.vsp" "vsp_uloop $UN getpid"
grep -E '^user calls( allowed)?:' "$T/getpid() allowed, stepped.err" | sed 's/^/#   /'
run "system() returned at entry" "$HERE/policies/user-loop.vsp" "vsp_uloop $UN system 'echo nc x'"
grep '^user calls:' "$T/system() returned at entry.err" | sed 's/^/#   /'
fi
if [ -z "${MEASURE:-}" ]; then
W=${2:-20}
echo 'on write modprobe_path : log;' >"$T/write.vsp"
# busybox date has no %N: the loop's time from /proc/uptime.
wcmd="i=0; s=\$(cut -d' ' -f1 /proc/uptime); while [ \$i -lt $W ]; do echo /sbin/modprobX >/proc/sys/kernel/modprobe; echo /sbin/modprobe >/proc/sys/kernel/modprobe; i=\$((i + 2)); done; e=\$(cut -d' ' -f1 /proc/uptime); echo VSP wloop \$(awk \"BEGIN { print (\$e - \$s) * 1000 }\")"
wrun() {
	local name=$1 policy=${2:-}
	if [ -z "$policy" ]; then
		"$RIG" boot --no-stub --log "$T/$name.log" "$wcmd" >/dev/null
		: >"$T/$name.err"
	else
		local qpid port
		read -r qpid port < <("$RIG" boot --bg --timeout 600 --log "$T/$name.log" "$wcmd")
		"$VSP" attach -q --stats --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
			--audit /dev/null "$policy" 2>"$T/$name.err"
		while kill -0 "$qpid" 2>/dev/null; do sleep 0.1; done
	fi
	local ms hits ev rt per
	ms=$(tr -d '\r' <"$T/$name.log" | awk '$1 == "VSP" && $2 == "wloop" { print $3 }')
	hits=$(awk '/^watch hits:/ { print $3 }' "$T/$name.err")
	ev=$(awk '/^events:/ { print $2 }' "$T/$name.err")
	rt=$(awk '/^per watch hit:/ { print $4 }' "$T/$name.err")
	per=$(awk '/^per watch hit:/ { print $7 }' "$T/$name.err")
	printf '%-28s %9s %7s %7s %7s %9s\n' "$name" "${ms:--}" "${hits:-0}" "${ev:-0}" "${rt:--}" "${per:--}"
	grep '^integrity:' "$T/$name.err" | sed 's/^/#   /' || true
}
printf '\n%-28s %9s %7s %7s %7s %9s\n' "$W writes of modprobe" "loop ms" hits events "rt/hit" "ms/hit"
wrun "no monitor"
wrun "modprobe_path watched, log" "$T/write.vsp"
fi

if [ -z "${MEASURE:-}" ] || [ "$MEASURE" = attach ]; then
# Attaching.
cat >"$T/cred.vsp" <<'POL'
on kernel commit_creds when proc.comm startswith "cred_"
must arise from profile "cred.paths" : deny EPERM;
POL
: >"$T/cred.paths"
t0=$(date +%s%N)
"$VSP" profile -o "$T/full.profile" "$VMLINUZ"
t1=$(date +%s%N)
"$VSP" profile --symbols-only -o "$T/syms.profile" "$VMLINUZ"
arun() {
	local name=$1 qpid port
	shift
	read -r qpid port < <("$RIG" boot --bg --kaslr --timeout 600 --log "$T/$name.log" 'cred_walk 1')
	(cd "$T" && "$VSP" attach -q --stats --gdb "127.0.0.1:$port" "$@" \
		--audit /dev/null cred.vsp 2>"$T/$name.err")
	while kill -0 "$qpid" 2>/dev/null; do sleep 0.1; done
	local ms rt
	ms=$(awk '/^attach:/ { print $2 }' "$T/$name.err")
	rt=$(awk '/^attach:/ { print $5 }' "$T/$name.err")
	printf '%-40s %9s %9s\n' "$name" "${ms:--}" "${rt:--}"
}
printf '\n%-40s %9s %9s\n' "attach, call-path rule, KASLR" "ms" "rt"
arun "the stub alone"
arun "--profile, symbols only" --profile "$T/syms.profile"
arun "--profile with BTF, ORC, tail jumps" --profile "$T/full.profile"
arun "  the same, --verify-symbols=full" --profile "$T/full.profile" \
	--verify-symbols=full
printf '%-40s %9d\n' "vsp profile VMLINUZ (ms)" $(((t1 - t0) / 1000000))
# The other Debian builds kernels.t boots, if fetched (rig.sh kernel
# FLAVOUR): XZ payloads, where the bundled one is LZ4.
for k in "${VSP_CACHE:-$HOME/.cache/vsp}"/guest/kernels/*/vmlinuz; do
	[ -f "$k" ] || continue
	t0=$(date +%s%N)
	"$VSP" profile -o /dev/null "$k"
	t1=$(date +%s%N)
	f=${k%/vmlinuz}
	printf '%-40s %9d\n' "vsp profile of ${f##*/} (ms)" $(((t1 - t0) / 1000000))
done
fi
