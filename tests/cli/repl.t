#!/bin/sh
# repl.t: `vsp repl` over a trace, commands through a pipe, as a script
# would send them: answers on stdout only, audit records on stderr or
# --audit, tail and status, --json forms, commands that span lines, the
# command list shared with the live session.
. "$(dirname "$0")/../tap.sh"
cd "$T" || exit 1
EX=$ROOT/examples

printf 'status\nnext 2\ntail\nstatus --json\nrules --json\nevents --json\nstats --json\nquit\nnext\n' |
	"$VSP" repl --trace "$EX/shadow.jsonl" "$EX/shadow.vsp" > out 2> err
is "$?" 0 "a piped session exits 0"
like "$(sed -n 1p out)" '^loaded 2 rules, 2 events, mode enforce$' "the policy loads"
like "$(cat out)" 'trace: .*shadow.jsonl, 0 lines read' "status before any step"
like "$(cat out)" 'shadow.jsonl:1 syscall openat: deny errno 13 \(read-shadow' "next: the first event denied"
like "$(cat out)" 'shadow.jsonl:1 syscall openat filename=/etc/shadow pid 412 cat -> deny 13 \(rule read-shadow\)' "tail: the deny"
like "$(cat out)" 'shadow.jsonl:2 syscall openat filename=/etc/shadow pid 413 passwd -> allow \(rule default\)' "tail: the allow after it"
ok '! grep -q "\"seq\"" out' "no audit record among the answers"
is "$(grep -c '"rule":"read-shadow"' err)" 1 "the deny's audit record on stderr"
ok 'grep "^{\"session\"" out | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"decided\"]==2 and d[\"verdicts\"]=={\"deny\":1,\"allow\":1} and d[\"line\"]==2"' "status --json: valid, counts the decisions"
ok 'grep "^{\"rules\"" out | python3 -c "import json,sys; d=json.load(sys.stdin); assert [r[\"hits\"] for r in d[\"rules\"]]==[1,0]"' "rules --json: the hits"
ok 'grep "^{\"events\":\[" out | python3 -c "import json,sys; d=json.load(sys.stdin); assert [e[\"name\"] for e in d[\"events\"]]==[\"openat\",\"open\"]"' "events --json"
ok 'grep -c "^{" out | grep -qx 4' "four JSON answers, one line each"
ok '! grep -q "shadow.jsonl:3" out' "quit ends the session: nothing after it runs"

# --audit FILE: the records go there, stderr stays quiet.
printf 'run\n' | "$VSP" repl --trace "$EX/shadow.jsonl" --audit a.jsonl "$EX/shadow.vsp" > out2 2> err2
is "$?" 0 "run with --audit: exit 0"
like "$(cat out2)" 'end of trace' "run reaches the end"
"$VSP" replay "$EX/shadow.vsp" --trace "$EX/shadow.jsonl" --audit r.jsonl > /dev/null 2>&1
is "$(sed 's/"time":"[^"]*",//' a.jsonl)" "$(sed 's/"time":"[^"]*",//' r.jsonl)" "the audit file holds what replay writes for the trace"
is "$(cat err2)" "" "nothing on stderr"

# A command that spans lines is one command: its lines are not run apart.
printf '{"seq":1,"kind":"syscall","name":"openat",\n"args":[0,0,0,0,0,0],\n"strings":{"filename":"/etc/shadow"},\n"proc":{"pid":7,"comm":"cat"}}\nstatus\n' |
	"$VSP" repl "$EX/shadow.vsp" > out3 2> err3
like "$(cat out3)" '^event syscall openat: deny errno 13' "a {JSON} event over four lines is decided once"
ok '! grep -q "unknown command" out3' "no line of it taken for a command"
like "$(cat out3)" 'decided: 1, deny 1' "status counts it"

# The session answers for commands of the other session and for errors,
# and goes on.
printf 'regs\nx 0 16\nbogus\nnext 0\ntail -3\nload /nonexistent.vsp\nhelp\nhelp next\nhelp nope\nstatus\n' |
	"$VSP" repl "$EX/shadow.vsp" > out4 2> err4
is "$?" 0 "errors do not end the session"
like "$(cat out4)" '^regs: works on a live guest only' "a live command on a trace says where it works"
like "$(cat out4)" '^x: works on a live guest only' "x too"
like "$(cat out4)" "^unknown command 'bogus'" "an unknown command"
like "$(cat out4)" '^next: N must be a positive number' "next 0"
like "$(cat out4)" '^tail: N must be a positive number' "tail -3"
like "$(cat out4)" '^load: cannot read /nonexistent.vsp' "a missing file"
ok 'grep -q "^  next \[N\]  *decide the next N events" out4' "help lists next"
ok '! grep -q "^  regs" out4' "help on a trace leaves out the live commands"
like "$(cat out4)" '^help: no command .nope.' "help on no command"
like "$(cat out4)" 'policy: .*shadow.vsp \(2 rules, 2 events\)' "still there at the end"

# A failed load keeps the old policy.
printf 'rule "broken": on syscall openat when nosuchfield == 1 : deny;\n' > bad.vsp
printf 'load bad.vsp\nrules\n' | "$VSP" repl "$EX/shadow.vsp" > out5 2>&1
like "$(cat out5)" 'bad.vsp:1:[0-9]*: error: .*nosuchfield' "the load's diagnostics, with location"
like "$(cat out5)" 'load: failed \(1 error\); the old policy stays' "it fails"
like "$(cat out5)" 'read-shadow' "the old rules are still listed"

# Input that ends inside a command: it runs as it is and says what it lacks.
printf 'rule "x":\n' | "$VSP" repl > out6 2>&1
is "$?" 0 "input ending inside a command: exit 0"
like "$(cat out6)" "unknown command 'rule'" "the half command is answered"
done_testing
