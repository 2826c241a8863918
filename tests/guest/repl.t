#!/bin/bash
# repl.t: `vsp repl --gdb` on the live guest.  Commands come through a
# FIFO with pauses between them, as a user at a terminal would type them;
# the guest loops opening /etc/shadow and /etc/hostname meanwhile.  A
# policy that only logs is swapped for one that denies, the guest is
# paused and resumed, a broken policy is refused, one on another syscall
# moves the traps, and quitting detaches so the guest finishes its
# workload.  Rules typed in the session (rule add, on one line or over
# several) bite on the guest's next open and go again with rule del.
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

# About 80 s of opens under TCG; each round prints its results.
read -r qpid port < <("$RIG" boot --bg --timeout 300 --log "$T/r.log" \
	'sleep 900 & echo "VSP bg $! $$"; i=0; while [ $i -lt 180 ]; do vsp_open /etc/shadow /etc/hostname; sleep 0.3; i=$((i + 1)); done; kill $!')
QPIDS+=("$qpid")
repl_start "$port" --symbols "$SYSTEM_MAP" "$T/log.vsp"

# Waits until FILE has a line matching RE (up to 30 s, while vsp runs).
wait_for() { repl_wait 30 "$@"; }
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

# Waits until FILE has more lines matching RE than it had when called.
wait_for_more_match() {
	local i n0
	n0=$(grep -c -- "$2" "$1")
	for i in $(seq 300); do
		[ "$(grep -c -- "$2" "$1")" -gt "$n0" ] && return 0
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

# A rule typed in the session: checked, swapped in, and the guest's next
# open sees it; taken back with rule del.
echo 'rule add on syscall openat when nosuch == 1 : deny' >&9
ok "rule add: a bad rule gets its diagnostic" wait_for "$T/r.out" "^<rule 1>:1:[0-9]*: error: unknown name 'nosuch'"
ok "rule add: and the policy stays" wait_for "$T/r.out" "^rule add: failed (1 error); the old policy stays"
echo 'rule add "no-hostname": on syscall openat when path == "/etc/hostname" : deny EPERM;' >&9
ok "rule add: the rule is in" wait_for "$T/r.out" "^rule 1 added (no-hostname)"
ok "rule add: swapped in with the traps kept" wait_for "$T/r.out" "^now 2 rules, 1 event, mode enforce; traps: [1-9][0-9]* kept, 0 added, 0 removed"
ok "the guest's next open of /etc/hostname is denied" wait_for "$T/r.log" "^VSP open /etc/hostname err EPERM 1"
ok "audit: the added rule's deny" wait_for "$T/r.err" '"rule":"no-hostname","verdict":"deny","errno":1'
echo rules >&9
ok "rules: the added rule, numbered, with hits" wait_for "$T/r.out" "^   1  no-hostname  *<rule 1>:1  hits [1-9]"
echo 'rule del 0' >&9
ok "rule del: a rule of a file is refused" wait_for "$T/r.out" "^rule del: rule 0 (watch-shadow) is in .*log.vsp:1"
echo 'rule del 1' >&9
ok "rule del: the added rule goes" wait_for "$T/r.out" "^rule 1 deleted (<rule 1>)"
nh=$(grep -c "^VSP open /etc/hostname ok" "$T/r.log")
sleep 2
ok "/etc/hostname opens again" [ "$(grep -c "^VSP open /etc/hostname ok" "$T/r.log")" -gt "$nh" ]
# Over several lines, as a person types a longer rule into the pipe.
printf 'rule add "host-two":\n  on syscall openat\n  when path == "/etc/hostname"\n  : deny EACCES;\n' >&9
ok "rule add over four lines" wait_for "$T/r.out" "^rule 1 added (host-two)"
ok "its deny reaches the guest" wait_for "$T/r.log" "^VSP open /etc/hostname err EACCES 13"
echo 'status --json' >&9
ok "status --json: one JSON line" wait_for "$T/r.out" '^{"session":"live",.*"guest":"running",.*"rules_added":1}$'
echo 'help' >&9
ok "help: the live commands" wait_for "$T/r.out" "^  x ADDR|SYM LEN \[--json\]  *hex dump"
echo 'next' >&9
ok "a trace's command says where it works" wait_for "$T/r.out" "^next: works on a trace only"

n0=$(grep -c "^VSP open /etc/shadow err EACCES" "$T/r.log")
nl=$(wc -l <"$T/r.log")
echo "load $T/deny.vsp" >&9
ok "load: the rules added here go with the old policy" wait_for "$T/r.out" "^(1 rule added here dropped with the old policy)"
ok "load: the new policy is in" wait_for "$T/r.out" "^loaded 1 rule, 1 event, mode enforce; traps: [1-9][0-9]* kept, 0 added, 0 removed"
ok "the guest now sees EACCES for /etc/shadow" wait_for "$T/r.log" "^VSP open /etc/shadow err EACCES 13"
ok "no EACCES before the load" eq "$n0" 0
# The old policy denied /etc/hostname (host-two): an open after the load
# is allowed again (the guest's next one, however slow the host).
opens_after_load() {
	local i
	for i in $(seq 300); do
		tail -n +$((nl + 1)) "$T/r.log" | grep -q '^VSP open /etc/hostname ok vspguest' && return 0
		sleep 0.1
	done
	return 1
}
ok "/etc/hostname opens again under the loaded policy" opens_after_load
ok "audit: the deny" wait_for "$T/r.err" '"rule":"no-shadow","verdict":"deny","errno":13'

# disasm, mode and a {JSON} line on a live guest.
echo disasm >&9
ok "disasm: the live policy's bytecode" wait_for "$T/r.out" "^event syscall openat (nr 257): [0-9]* instructions, at most [0-9]* steps"
echo '{"kind":"syscall","name":"openat"}' >&9
ok "a {JSON} event says it is a trace's" wait_for "$T/r.out" '^{"kind":"syscall","name":"openat"}: works on a trace only'
echo 'mode monitor' >&9
ok "mode monitor" wait_for "$T/r.out" "^mode monitor$"
ok "monitor: the guest's shadow open goes through" wait_for_more_match "$T/r.log" "^VSP open /etc/shadow ok"
ok "monitor: audited as a deny not applied" wait_for "$T/r.err" '"rule":"no-shadow","verdict":"deny","errno":13,.*"mode":"monitor","applied":false'
echo 'mode --json' >&9
ok "mode --json" wait_for "$T/r.out" '^{"mode":"monitor"}$'
echo 'mode enforce' >&9
ok "mode enforce" wait_for "$T/r.out" "^mode enforce$"
ok "enforce: denied again" wait_for_more_match "$T/r.log" "^VSP open /etc/shadow err EACCES 13"

echo stats >&9
ok "stats" wait_for "$T/r.out" "^traps hit: *[1-9]"
ok "stats: the trap latency drawn" wait_for "$T/r.out" "^trap latency, stop to resume (ns), [1-9][0-9]* samples:"
ok "stats: a bar per power of two" wait_for "$T/r.out" "^\[[0-9]*[KM]*, [0-9]*[KM]*) *[1-9][0-9]* |@"
echo rules >&9
ok "rules: with hits" wait_for "$T/r.out" "^   0  no-shadow .* hits [1-9]"
echo "tail 3" >&9
ok "tail: recent decisions" wait_for "$T/r.out" "openat /etc/shadow .*-> deny 13 (rule no-shadow, applied)"
echo bt >&9
ok "bt: the last decision's call path, from the trapped handler" wait_for "$T/r.out" "^   0 __x64_sys_openat$"
ok "bt: then the syscall entry that called it" wait_for "$T/r.out" "^   1 do_syscall_64$"
echo "bt 99999999" >&9
ok "bt: a decision the tail no longer holds" wait_for "$T/r.out" "^bt: no decision #99999999 among the last 64$"

# step stops the guest at its next event before it is decided; eval looks
# at that event in the policy's own language (its strings read from the
# stopped guest), bt shows its call path, and continue decides it as the
# trap would have: the decision agrees with what eval said of the rule's
# condition.
echo step >&9
ok "step: the guest stops at its next event" wait_for "$T/r.out" "^stopped at #[0-9]* syscall openat, pid [0-9]* [a-z_]*, not yet decided"
seq=$(sed -n 's/^stopped at #\([0-9]*\) .*/\1/p' "$T/r.out" | tail -n 1)
lines=$(wc -l <"$T/r.log")
echo 'eval path' >&9
ok "eval: the path of the held open, read from the guest" wait_for "$T/r.out" '^"/[^"]*"$'
echo 'eval --json path == "/etc/shadow"' >&9
ok "eval --json: the deny rule's condition" wait_for "$T/r.out" '^{"type":"bool","value":[a-z]*,"partial":false'
cond=$(sed -n 's/^{"type":"bool","value":\([a-z]*\),.*/\1/p' "$T/r.out" | tail -n 1)
echo 'eval proc.pid > 1 and len(proc.comm) > 0' >&9
ok "eval: the process fields of the held event" wait_for "$T/r.out" '^true$'
echo bt >&9
ok "bt: the held event's own call path" wait_for "$T/r.out" "^#$seq syscall openat .*(held, not yet decided)$"
sleep 1
ok "the guest waits while the event is held" eq "$(wc -l <"$T/r.log")" "$lines"
echo status >&9
ok "status: paused" wait_for "$T/r.out" "^guest: paused$"
echo continue >&9
ok "continue: the guest runs on" wait_for "$T/r.out" "^running$"
echo "tail 64" >&9
if [ "$cond" = true ]; then want="-> deny 13 (rule no-shadow, applied)"; else want="-> allow (rule default"; fi
ok "the decision agrees with eval ($cond)" wait_for "$T/r.out" "^#$seq [0-9.]*s openat .*$want"
echo 'eval path' >&9
ok "eval with no event held says so" wait_for "$T/r.out" "^eval: no event is held: 'step' stops the guest at its next one$"

echo reload >&9
ok "reload: the files compiled again, the traps kept" wait_for "$T/r.out" "^reloaded 1 file$"
echo "tail -f 1" >&9
ok "tail -f: follows" wait_for "$T/r.out" "^(following decisions; Ctrl-C stops)$"
followed() { sed -n '/^(following decisions/,$p' "$T/r.out" | grep -c '^#[0-9]'; }
f0=$(followed)
more_followed() {
	local i
	for i in $(seq 300); do
		[ "$(followed)" -gt "$f0" ] && return 0
		sleep 0.1
	done
	return 1
}
ok "tail -f: decisions appear as they are made" more_followed
echo status >&9
ok "tail -f: the next command line ends the following" wait_for "$T/r.out" "^(stopped following)$"

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
echo "x __x64_sys_openat 16" >&9
ok "x: memory at a symbol, from its address" wait_for "$T/r.out" \
	"^$(awk '$3 == "__x64_sys_openat" { print $1; exit }' "$SYSTEM_MAP")  [0-9a-f][0-9a-f] "
# ps: the guest's own view of a process it started (pid, parent, comm).
read -r _ _ bgpid shpid < <(grep -m1 "^VSP bg " "$T/r.log" | tr -d "\r")
echo ps >&9
ok "ps: the process the guest started, with its parent" \
	wait_for "$T/r.out" "^ *$bgpid  *$shpid  *0 sleep  *busybox$"
ok "ps: init" wait_for "$T/r.out" "^ *1  *0  *0 "
ok "ps: the count" wait_for "$T/r.out" "^[1-9][0-9]* tasks$"
echo "sym __x64_sys_openat" >&9
ok "sym: name to address" wait_for "$T/r.out" "^__x64_sys_openat = 0x"
# The --json forms, for scripts: one object a line, parsed here.
jline() { grep "^{\"$1\"" "$T/r.out" | tail -n 1; }
echo "sym --json __x64_sys_openat" >&9
ok "sym --json" wait_for "$T/r.out" '^{"name":"__x64_sys_openat","addr":"0x'
echo "regs --json" >&9
ok "regs --json" wait_for "$T/r.out" '^{"vcpu":0,"rax":"0x'
ok "regs --json: the registers as hex strings, rip named" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert int(d["rip"], 16) >> 63 == 1 and d["rip_symbol"] and len(d) == 26, d' "$(jline vcpu)"
echo "x __x64_sys_openat 16 --json" >&9
ok "x --json" wait_for "$T/r.out" '^{"addr":"0x'
ok "x --json: the bytes at the symbol, as sym gave its address" python3 -c '
import json, sys
x, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert x["addr"] == s["addr"] and x["len"] == 16 and len(bytes.fromhex(x["hex"])) == 16, (x, s)' \
	"$(jline addr)" "$(jline name)"
echo "tail 3 --json" >&9
ok "tail --json" wait_for "$T/r.out" '^{"tail":\['
ok "tail --json: three decisions of openat" python3 -c '
import json, sys
t = json.loads(sys.argv[1])["tail"]
assert len(t) == 3 and all(e["event"] == "openat" and e["verdict"] in ("allow", "deny") for e in t), t' "$(jline tail)"
echo "bt --json" >&9
ok "bt --json" wait_for "$T/r.out" '^{"seq":[0-9]*,"event":"openat","held":false'
ok "bt --json: the call path as a list" python3 -c '
import json, sys
b = json.loads(sys.argv[1])
assert b["stack"][:2] == ["__x64_sys_openat", "do_syscall_64"], b' "$(jline seq)"
echo "help --json" >&9
ok "help --json: the live commands" wait_for "$T/r.out" '^{"commands":\[{"name":"help"'
echo continue >&9
ok "continue" wait_for "$T/r.out" "^running$"
ok "the guest runs again" wait_for_more "$T/r.log" "$lines"
echo "pause --json" >&9
ok "pause --json: its answer as one object" wait_for "$T/r.out" '^{"command":"pause","lines":\["paused"\],"ok":true}$'
echo "continue --json" >&9
ok "continue --json" wait_for "$T/r.out" '^{"command":"continue","lines":\["running"\],"ok":true}$'

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

# mode learn compiles the policy for learning and mode enforce saves what
# it learned: a call path denied while unlearned opens once learned.
: >"$T/host.paths"
cat >"$T/learn.vsp" <<P
rule "host-path": on syscall openat when path == "/etc/hostname"
must arise from profile "$T/host.paths" : deny EPERM;
P
echo "load $T/learn.vsp" >&9
ok "load: a call-path rule on an empty profile" wait_for "$T/r.out" "^loaded 1 rule, 1 event, mode enforce"
ok "unlearned: the guest's hostname open is denied" wait_for_more_match "$T/r.log" "^VSP open /etc/hostname err EPERM 1"
echo "mode learn" >&9
ok "mode learn: compiled again for learning" wait_for "$T/r.out" "^now 1 rule, 1 event, mode learn; traps: [1-9][0-9]* kept"
ok "learning: the open goes through" wait_for_more_match "$T/r.log" "^VSP open /etc/hostname ok"
echo "mode enforce" >&9
ok "mode enforce" wait_for "$T/r.out" "^now 1 rule, 1 event, mode enforce; traps: [1-9][0-9]* kept"
ok "the learned path is saved" grep -q "^do_syscall_64 <- " "$T/host.paths"
ok "learned: the same open is allowed under enforce" wait_for_more_match "$T/r.log" "^VSP open /etc/hostname ok"
echo "rules" >&9
ok "rules: learned, not denied" wait_for "$T/r.out" "^   0  host-path "

echo quit >&9
exec 9>&-
rc=0
for i in $(seq 150); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$vpid" 2>/dev/null && kill -INT "$vpid"
wait "$vpid" || rc=$?
ok "quit: vsp exits 0" eq "$rc" 0
ok "quit: detached" grep -q "detached; the guest runs on" "$T/r.err"
guest_wait "$qpid" 150
ok "the guest finished its workload" has r.log VSP-DONE
ok "after detach /etc/shadow opens again" \
	grep -q "^VSP open /etc/shadow ok" <<<"$(grep "^VSP open /etc/shadow" "$T/r.log" | tail -n 1)"
done_testing
