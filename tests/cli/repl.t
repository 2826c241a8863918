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
like "$(grep "^loaded" out)" '^loaded 2 rules, 2 events, mode enforce$' "the policy loads (after the checker's warnings, with their carets)"
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
ok 'grep -q "^  next \[N\] \[--json\]  *decide the next N events" out4' "help lists next"
ok '! grep -q "^  regs" out4' "help on a trace leaves out the live commands"
like "$(cat out4)" '^help: no command .nope.' "help on no command"
like "$(cat out4)" 'policy: .*shadow.vsp \(2 rules, 2 events\)' "still there at the end"

# A failed load keeps the old policy.
printf 'rule "broken": on syscall openat when nosuchfield == 1 : deny;\n' > bad.vsp
printf 'load bad.vsp\nrules\n' | "$VSP" repl "$EX/shadow.vsp" > out5 2>&1
like "$(cat out5)" 'bad.vsp:1:[0-9]*: error: .*nosuchfield' "the load's diagnostics, with location"
like "$(cat out5)" 'load: failed \(1 error\); the old policy stays' "it fails"
like "$(cat out5)" 'read-shadow' "the old rules are still listed"

# rule add: checked with the usual diagnostics, then decides; a rule
# spanning lines ends at its ';'; rule del takes back only added rules.
cat > in7 <<'IN'
rule add on syscall openat when nosuch == 1 : deny
rule add "no-hostname":
  on syscall openat
  when path == "/etc/hostname"
  : deny EPERM;
rules
run
rule del 0
rule del 2
rules
IN
"$VSP" repl --trace "$EX/shadow.jsonl" "$EX/shadow.vsp" < in7 > out7 2> err7
like "$(cat out7)" "<rule 1>:1:[0-9]*: error: unknown name 'nosuch'" "rule add: an error names the rule's place"
like "$(cat out7)" '\^~~~~~' "with the caret under it"
like "$(cat out7)" 'rule add: failed \(1 error\); the old policy stays' "and the old policy stays"
like "$(cat out7)" 'rule 2 added \(no-hostname\)' "a rule over four lines is added"
like "$(cat out7)" '   2  no-hostname  *<rule 1>:1  hits 0' "rules lists it with its place"
like "$(cat out7)" 'shadow.jsonl:3 syscall openat: deny errno 1 \(no-hostname' "it decides the event the trace has for it"
is "$(grep -c '"rule":"no-hostname"' err7)" 1 "and audits it"
like "$(cat out7)" 'rule del: rule 0 \(read-shadow\) is in .*shadow.vsp:16; rules from files change with the file' "rule del refuses a rule of a file"
like "$(cat out7)" 'rule 2 deleted' "rule del takes an added rule away"
ok '[ "$(tail -n 2 out7 | grep -c "no-hostname")" = 0 ]' "the last listing no longer has it"

# stats draws the decision latency as a histogram; reload compiles the
# files again and keeps the rules added in the session.
cp "$ROOT/examples/shadow.vsp" "$T/re.vsp"
printf 'load %s\nrule add on syscall openat when path == "/etc/hostname": deny;\nrun\nstats\nreload\nrules\n' "$T/re.vsp" |
	"$VSP" repl --trace "$ROOT/examples/shadow.jsonl" > out8 2>err8
is "$?" 0 "stats and reload: exit 0"
like "$(cat out8)" 'decision latency \(ns\), [0-9]+ samples:' "stats titles the histogram with its sample count"
like "$(cat out8)" '\[[0-9]+K?, [0-9]+K?\) +[0-9]+ \|@+ *\|' "one line per power of two, a bar of @"
total=$(awk -F'|' '/^\[/ { split($1, f, " "); s += f[length(f)] } END { print s + 0 }' out8)
samples=$(sed -n 's/^decision latency (ns), \([0-9]*\) samples:$/\1/p' out8)
is "$total" "$samples" "the bars count every sample"
like "$(cat out8)" 'reloaded 1 file' "reload says what it compiled"
like "$(cat out8)" '   2  .*<rule 1>:1  hits 0' "the rule added here survives the reload"
printf 'reload\n' | "$VSP" repl > out9 2>&1
like "$(cat out9)" "reload: nothing loaded yet" "reload without a policy says so"

# Input that ends inside a command: it runs as it is and says what it lacks.
printf 'rule add "x":\n  on syscall openat\n' | "$VSP" repl > out6 2>&1
is "$?" 0 "input ending inside a command: exit 0"
like "$(cat out6)" "<rule 1>:2:[0-9]*: error: unexpected ';', expecting 'when'" "the half rule is compiled and says what it lacks"
# eval: an expression of the policy's language on the last event decided,
# compiled against the loaded files' lists and macros and run by the
# interpreter, so it agrees with the decision.
printf 'eval path\nnext 2\neval path\neval path matches secrets and not auth_tool\neval auth_tool\neval proc.pid * 2 + 1\neval --json basename(path)\neval secrets\neval nosuchfield == 1\neval\nrule add on syscall openat when proc.pid == 413: deny EPERM;\neval proc.pid == 413\nhelp eval\n' |
	"$VSP" repl --trace "$EX/shadow.jsonl" "$EX/shadow.vsp" > out10 2>err10
is "$?" 0 "eval: exit 0"
like "$(cat out10)" "^eval: no event yet: 'next'" "eval before any event says so"
like "$(cat out10)" 'shadow.jsonl:2 syscall openat: allow \(default' "the second event is allowed (passwd may read shadow)"
ok 'grep -qx "\"/etc/shadow\"" out10' "a string field, quoted"
is "$(grep -xc 'false' out10)" 1 "the deny rule's condition is false on the event it allowed"
is "$(grep -xc 'true' out10)" 2 "its macro is true there, and so is a condition of a rule added later"
ok 'grep -qx "827 (0x33b)" out10' "integer arithmetic on a field, with the hex"
like "$(cat out10)" '\{"type":"string","value":"shadow","partial":false,"steps":[0-9]+\}' "--json: one object"
like "$(cat out10)" '<eval>:2:1: error: eval takes a bool, an int or a string, not list<string>' "a list is refused, with its place"
like "$(cat out10)" "<eval>:2:1: error: unknown name 'nosuchfield'" "an unknown name, as the checker says it"
ok 'grep -qx "    ^~~~~~~~~~~" out10' "with the caret under the expression alone"
like "$(cat out10)" 'eval: usage: eval \[--json\] EXPR' "eval alone: the usage"
ok 'grep -q "^  eval \[--json\] EXPR  *EXPR on the current event" out10' "help eval"
printf 'next\neval path\neval auth_tool\n' | "$VSP" repl --trace "$EX/shadow.jsonl" "$EX/shadow.vsp" > out11 2>&1
printf 'next\n' | "$VSP" repl --trace "$EX/shadow.jsonl" "$EX/shadow.vsp" > out12 2>&1
is "$(grep -c warning: out11)" "$(grep -c warning: out12)" "the files' warnings are not repeated at each eval"
# The --json forms of the trace session's own commands.
printf 'next --json\nnext 2 --json\ntail --json 2\nmode --json\nhelp --json\n' |
	"$VSP" repl --trace "$EX/shadow.jsonl" "$EX/shadow.vsp" > out13 2>/dev/null
ok 'grep "^{" out13 | python3 -c "
import json, sys
ls = [json.loads(l) for l in sys.stdin]
d = [l for l in ls if \"where\" in l]
assert [x[\"verdict\"] for x in d] == [\"deny\", \"allow\", \"allow\"] and d[0][\"rule\"] == \"read-shadow\" and d[0][\"value\"] == 13, d
t = [l for l in ls if \"tail\" in l][0][\"tail\"]
assert [x[\"verdict\"] for x in t] == [\"allow\", \"allow\"] and t[0][\"comm\"] == \"passwd\", t
assert [l for l in ls if \"mode\" in l] == [{\"mode\": \"enforce\"}]
c = [l for l in ls if \"commands\" in l][0][\"commands\"]
assert \"next\" in [x[\"name\"] for x in c] and \"regs\" not in [x[\"name\"] for x in c], c
"' "next, tail, mode and help --json: one object a line, the decisions' verdicts and rules"
# The commands that act answer, with --json, one object of their lines.
printf 'load --json %s\nload --json /nonexistent.vsp\nrule add --json on syscall openat when nosuch == 1: deny;\nrule add --json on syscall openat when path == "/x": deny;\nrule del --json 2\npause --json\nquit --json\n' "$EX/shadow.vsp" |
	"$VSP" repl --trace "$EX/shadow.jsonl" > out14 2>/dev/null
ok 'python3 -c "
import json, sys
a = [json.loads(l) for l in open(\"out14\")]
got = [(x[\"command\"], x[\"ok\"], x[\"lines\"][-1] if x[\"lines\"] else None) for x in a]
assert got == [
    (\"load\", True, \"loaded 2 rules, 2 events, mode enforce\"),
    (\"load\", False, \"load: cannot read /nonexistent.vsp: No such file or directory\"),
    (\"rule add\", False, \"rule add: failed (1 error); the old policy stays\"),
    (\"rule add\", True, \"rule 2 added (added-1)\"),
    (\"rule del\", True, \"rule 2 deleted (<rule 1>)\"),
    (\"pause\", False, \"pause: works on a live guest only (vsp repl --gdb|--xen)\"),
    (\"quit\", True, None)], got
assert any(\"error: unknown name\" in l for l in a[2][\"lines\"]), a[2]
"' "load, rule add, rule del, pause and quit --json: their lines, ok false on the errors"
done_testing
