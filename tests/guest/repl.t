#!/bin/bash
# repl.t: `vsp repl --gdb` on the live guest.  Commands come through a
# FIFO with pauses between them, as a user at a terminal would type them;
# the guest loops opening /etc/shadow and /etc/hostname meanwhile.  A
# policy that only logs is swapped for one that denies, the guest is
# paused and resumed, a broken policy is refused, one on another syscall
# moves the traps, and quitting detaches so the guest finishes its
# workload.
. "$(dirname "$0")/lib.sh"
guest_setup

cat >"$T/log.vsp" <<'P'
rule "watch-shadow": on syscall openat when path == "/etc/shadow"
: log "shadow opened by %{proc.comm}";
P
cat >"$T/deny.vsp" <<'P'
rule "no-shadow": on syscall openat when path == "/etc/shadow" : deny EACCES;
P
cat >"$T/close.vsp" <<'P'
rule "closes": on syscall close : count "closes";
P
cat >"$T/bad.vsp" <<'P'
rule "broken": on syscall openat when nosuchfield == 3 : deny EACCES;
P

# About 40 s of opens under TCG; each round prints its results.
read -r qpid port < <("$RIG" boot --bg --timeout 150 --log "$T/r.log" \
	'i=0; while [ $i -lt 90 ]; do vsp_open /etc/shadow /etc/hostname; sleep 0.3; i=$((i + 1)); done')
QPIDS+=("$qpid")
mkfifo "$T/in"
# A session that ended early must fail the tests, not kill the script.
trap '' PIPE
"$VSP" repl --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" "$T/log.vsp" \
	<"$T/in" >"$T/r.out" 2>"$T/r.err" &
vpid=$!
exec 9>"$T/in"

# Waits until FILE has a line matching RE (up to 30 s, while vsp runs).
wait_for() {
	local i
	for i in $(seq 300); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$vpid" 2>/dev/null || break	# the session ended
		sleep 0.1
	done
	return 1
}
# Waits until FILE has more than N lines (up to 30 s).
wait_for_more() {
	local i
	for i in $(seq 300); do
		[ "$(wc -l <"$1")" -gt "$2" ] && return 0
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

ok "the session starts" wait_for "$T/r.out" "^attached to"
ok "the workload runs" wait_for "$T/r.log" "^VSP open /etc/shadow ok"
echo status >&9
ok "status: attached" wait_for "$T/r.out" "^attached: 127.0.0.1:$port (gdb"
ok "status: guest running" wait_for "$T/r.out" "^guest: running"
echo events >&9
ok "events: openat's handlers with addresses" \
	wait_for "$T/r.out" "^0x[0-9a-f]\{16\}  syscall  openat"
ok "the log-only policy audits shadow opens (stderr)" \
	wait_for "$T/r.err" '"rule":"watch-shadow"'

n0=$(grep -c "^VSP open /etc/shadow err EACCES" "$T/r.log")
echo "load $T/deny.vsp" >&9
ok "load: the new policy is in" wait_for "$T/r.out" "^loaded 1 rule, 1 event, mode enforce; traps: [1-9][0-9]* kept, 0 added, 0 removed"
ok "the guest now sees EACCES for /etc/shadow" wait_for "$T/r.log" "^VSP open /etc/shadow err EACCES 13"
ok "no EACCES before the load" eq "$n0" 0
ok "/etc/hostname still opens" grep -q '^VSP open /etc/hostname ok vspguest' <<<"$(tail -n 4 "$T/r.log")"
ok "audit: the deny" wait_for "$T/r.err" '"rule":"no-shadow","verdict":"deny","errno":13'

echo stats >&9
ok "stats" wait_for "$T/r.out" "^traps hit: *[1-9]"
echo rules >&9
ok "rules: with hits" wait_for "$T/r.out" "^no-shadow .* hits [1-9]"
echo "tail 3" >&9
ok "tail: recent decisions" wait_for "$T/r.out" "openat /etc/shadow .*-> deny 13 (rule no-shadow, applied)"

echo pause >&9
ok "pause" wait_for "$T/r.out" "^paused$"
echo status >&9
ok "status says paused" wait_for "$T/r.out" "^guest: paused$"
lines=$(wc -l <"$T/r.log")
sleep 2
ok "a paused guest prints nothing" eq "$(wc -l <"$T/r.log")" "$lines"
echo regs >&9
ok "regs while paused" wait_for "$T/r.out" "^rip      0x"
echo "mem sys_call_table 32" >&9
ok "mem while paused" wait_for "$T/r.out" "^ffffffff[0-9a-f]\{8\}  [0-9a-f][0-9a-f] "
echo "sym __x64_sys_openat" >&9
ok "sym: name to address" wait_for "$T/r.out" "^__x64_sys_openat = 0x"
echo continue >&9
ok "continue" wait_for "$T/r.out" "^running$"
ok "the guest runs again" wait_for_more "$T/r.log" "$lines"

echo "load $T/bad.vsp" >&9
ok "a bad policy: diagnostics shown" wait_for "$T/r.out" "nosuchfield"
ok "a bad policy: the old one stays" wait_for "$T/r.out" "^load: failed (1 error); the old policy stays"
echo "status" >&9
sleep 1
n1=$(grep -c "^VSP open /etc/shadow err EACCES" "$T/r.log")
sleep 2
ok "still denied after the failed load" \
	[ "$(grep -c "^VSP open /etc/shadow err EACCES" "$T/r.log")" -gt "$n1" ]

# Traps follow the policy: openat's go, close's come.
echo "load $T/close.vsp" >&9
ok "load: openat's traps removed, close's added" wait_for "$T/r.out" \
	"^loaded 1 rule, 1 event, mode enforce; traps: 0 kept, [1-9][0-9]* added, $(handlers openat) removed"
echo events >&9
ok "events: close trapped now" wait_for "$T/r.out" "^0x[0-9a-f]\{16\}  syscall  close "
n2=$(grep -c "^VSP open /etc/shadow ok" "$T/r.log")
sleep 2
ok "/etc/shadow opens again under the new policy" \
	[ "$(grep -c "^VSP open /etc/shadow ok" "$T/r.log")" -gt "$n2" ]
echo rules >&9
ok "the new policy counts closes" wait_for "$T/r.out" "^counter closes  *[1-9]"

echo quit >&9
exec 9>&-
rc=0
for i in $(seq 150); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$vpid" 2>/dev/null && kill -INT "$vpid"
wait "$vpid" || rc=$?
ok "quit: vsp exits 0" eq "$rc" 0
ok "quit: detached" grep -q "detached; the guest runs on" "$T/r.err"
guest_wait "$qpid" 60
ok "the guest finished its workload" has r.log VSP-DONE
ok "after detach /etc/shadow opens again" \
	grep -q "^VSP open /etc/shadow ok" <<<"$(grep "^VSP open /etc/shadow" "$T/r.log" | tail -n 1)"
done_testing
