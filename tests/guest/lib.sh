# lib.sh: shared by the live tests (tests/guest/*.t), sourced, not run.
#
# Each live test boots the bundled guest (rig.sh) paused under QEMU's GDB
# stub, runs `vsp attach` against it with a policy, lets the guest run its
# commands and power off, then asserts on what the guest printed (the
# serial log, VSP lines) and on vsp's audit log, trace and statistics.
# Output is TAP.

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG=$GUEST_DIR/rig.sh
POL=$GUEST_DIR/policies
t_n=0
t_fail=0

ok() {	# ok DESCRIPTION COMMAND...: passes when the command succeeds
	local desc=$1
	shift
	t_n=$((t_n + 1))
	if "$@"; then
		echo "ok $t_n - $desc"
	else
		echo "not ok $t_n - $desc"
		t_fail=$((t_fail + 1))
	fi
}

todo() {	# todo DESCRIPTION REASON COMMAND...: a known bug, not yet fixed
	local desc=$1 why=$2
	shift 2
	t_n=$((t_n + 1))
	if "$@"; then
		echo "ok $t_n - $desc # TODO $why"
	else
		echo "not ok $t_n - $desc # TODO $why"
	fi
}

skip() {	# skip DESCRIPTION REASON [N]: N checks (1) that cannot run here
	local i
	for i in $(seq "${3:-1}"); do
		t_n=$((t_n + 1))
		echo "ok $t_n - $1 # SKIP $2"
	done
}

done_testing() {
	echo "1..$t_n"
	[ $t_fail = 0 ]
}

guest_setup() {
	if [ -z "${VSP:-}" ] || [ ! -x "$VSP" ]; then
		echo "Bail out! VSP must name the vsp binary"
		exit 1
	fi
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "1..0 # SKIP qemu-system-x86_64 is not installed"
		exit 0
	fi
	# The first run fetches the kernel and records its symbols.
	if ! "$RIG" symbols >&2; then
		echo "Bail out! the guest rig could not be built"
		exit 1
	fi
	eval "$("$RIG" paths)"
	T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-live.XXXXXX")
	QPIDS=()
	trap guest_cleanup EXIT
}

guest_cleanup() {
	local p
	for p in "${QPIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	if [ -n "${VSP_KEEP:-}" ]; then
		echo "# files kept in $T" >&2
	else
		rm -rf "$T"
	fi
}

# guest_run NAME [VSP OPTIONS] POLICY... -- COMMAND...
# Boots, attaches, waits for both to end.  Leaves:
#   $T/NAME.log (console)  $T/NAME.audit (stdout)  $T/NAME.err (stderr)
#   VSP_RC (vsp's status)  QPID (QEMU's pid)
guest_run() {
	local name=$1
	shift
	local va=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		va+=("$1")
		shift
	done
	shift
	local port
	# shellcheck disable=SC2086
	# GUEST_TIMEOUT: seconds vsp may run (120); the guest gets 30 more.
	local tmo=${GUEST_TIMEOUT:-120}
	read -r QPID port < <("$RIG" boot --bg --timeout $((tmo + 30)) ${GUEST_BOOT_OPTS:-} \
		--log "$T/$name.log" "$@")
	QPIDS+=("$QPID")
	VSP_RC=0
	timeout -s INT "$tmo" "$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
		"${va[@]}" >"$T/$name.audit" 2>"$T/$name.err" || VSP_RC=$?
	[ "${GUEST_NO_WAIT:-}" ] || guest_wait "$QPID" 60
}

guest_wait() {	# guest_wait PID SECONDS: until QEMU ends
	local i
	for i in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# repl_start PORT ARGS...: `vsp repl --gdb` on the guest at PORT (ARGS:
# its options and policies), its commands through a FIFO on fd 9 (`echo
# CMD >&9`), answers into $T/r.out, audit and messages into $T/r.err, its
# pid in $vpid.  A session that ends early fails the tests that wait on
# it instead of killing the script with SIGPIPE.
repl_start() {
	local port=$1
	shift
	mkfifo "$T/in"
	trap '' PIPE
	"$VSP" repl --gdb "127.0.0.1:$port" "$@" <"$T/in" >"$T/r.out" 2>"$T/r.err" &
	vpid=$!
	exec 9>"$T/in"
}

# repl_wait SECONDS FILE RE: until FILE has a line matching RE, while the
# session of repl_start runs.
repl_wait() {
	local i
	for i in $(seq $(($1 * 10))); do
		grep -q -- "$3" "$2" 2>/dev/null && return 0
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# What guest command N printed (its VSP lines), and its exit status.
result() { "$RIG" result "$T/$1.log" "$2"; }
status() { "$RIG" status "$T/$1.log" "$2"; }
has() { grep -qF -- "$2" "$T/$1" ; }
hasnt() { ! grep -qF -- "$2" "$T/$1" ; }
eq() { [ "$1" = "$2" ] || { echo "# got '$1', want '$2'" >&2; return 1; }; }

# A guest command that prints its /proc/kallsyms into the console log,
# between markers guest_kallsyms finds.
KSYMS_DUMP='echo VSP-KSYMS-BEGIN; gzip -c /proc/kallsyms | base64; echo VSP-KSYMS-END'

# guest_kallsyms LOG: the core kernel's symbols (no module's) that
# $KSYMS_DUMP printed into LOG, as "address type name".
guest_kallsyms() {
	tr -d '\r' <"$1" | sed -n '/^VSP-KSYMS-BEGIN/,/^VSP-KSYMS-END/p' | sed '1d;$d' |
		base64 -d 2>/dev/null | gunzip -c 2>/dev/null | grep -v '\[' |
		awk '{ print $1, $2, $3 }'
}

# profile_symbols PROFILE [SLIDE]: the profile's symbols at run time, as
# guest_kallsyms gives them: link-time plus SLIDE (hex; when not given,
# the slide of the profile's "# slide:" line, else 0) for kernel-half
# addresses (per-CPU offsets do not move).
profile_symbols() {
	python3 - "$@" <<'EOF'
import sys
given = len(sys.argv) > 2
slide = int(sys.argv[2], 16) if given else 0
for line in open(sys.argv[1]):
    if line.startswith("# slide: ") and not given:
        slide = int(line.split()[2], 16)
    if line.startswith("#"):
        continue
    a, t, n = line.split()[:3]
    v = int(a, 16)
    if v >= 0xffff000000000000:
        v = (v + slide) & (2**64 - 1)
    print("%016x %s %s" % (v, t, n))
EOF
}

# How many traps vsp should set for these syscalls on the guest kernel:
# one per distinct address of the 64-bit handler and of the 32-bit
# (int $0x80) and x32 ones that exist (vmi/site_syscall.c, mon_sys_entries).
handlers() {
	local s
	for s in "$@"; do
		# As vmi/site_syscall.c picks them: one 64-bit handler (the
		# `new` name where there is one), every 32-bit one.
		awk -v s="$s" '
			$3 == "__x64_sys_new" s { new64 = $1 }
			$3 == "__x64_sys_" s { plain64 = $1 }
			$3 == "__x32_compat_sys_" s ||
			$3 == "__ia32_compat_sys_" s || $3 == "__ia32_sys_" s ||
			$3 == "__ia32_compat_sys_new" s || $3 == "__ia32_sys_new" s { print $1 }
			END { if (new64 != "") print new64; else if (plain64 != "") print plain64 }' "$SYSTEM_MAP"
	done | sort -u | wc -l
}
