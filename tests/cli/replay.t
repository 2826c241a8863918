#!/bin/sh
# vsp replay: exit statuses, malformed traces, audit records and statistics.
. "$(dirname "$0")/../tap.sh"

cat > "$T/p.vsp" <<'P'
policy "t" version 1;
rule "no-shadow": on syscall openat when path == "/etc/shadow": deny EACCES, alert "shadow by %{proc.comm}";
on syscall openat when path startswith "/etc/": log;
P
good='{"seq":1,"kind":"syscall","name":"openat","nr":257,"args":[-100,1,0,0,0,0],"strings":{"filename":"/etc/shadow"},"proc":{"pid":7,"comm":"cat","uid":1000}}'
other='{"seq":2,"kind":"syscall","name":"openat","args":[-100,1,0,0,0,0],"strings":{"filename":"/etc/hosts"},"proc":{"pid":8,"comm":"cat"}}'

# A malformed line on line 3: status 2, the message names the line, no audit.
check_bad() {	# name, bad line
	printf '%s\n%s\n%s\n' "$good" "$other" "$2" > "$T/bad.jsonl"
	"$VSP" replay "$T/p.vsp" --trace "$T/bad.jsonl" --audit "$T/audit" 2> "$T/err"
	st=$?
	is "$st" 2 "$1: exit status 2"
	like "$(cat "$T/err")" 'bad\.jsonl:3: error: ' "$1: message names line 3"
	ok '[ ! -s "$T/audit" ]' "$1: nothing written to the audit log"
}
check_bad "truncated line" '{"seq":3,"kind":"syscall","name":"openat","args":[1,2'
check_bad "args of the wrong type" '{"kind":"syscall","name":"openat","args":"many"}'
check_bad "pid of the wrong type" '{"kind":"syscall","name":"openat","proc":{"pid":"seven"}}'
check_bad "huge number" '{"kind":"syscall","name":"openat","args":[99999999999999999999,0]}'
check_bad "number just past int64" '{"kind":"syscall","name":"openat","args":[9223372036854775808]}'
check_bad "fraction where an integer goes" '{"kind":"syscall","name":"openat","args":[1.5]}'
check_bad "not an object" '[1,2,3]'
check_bad "unknown kind" '{"kind":"hypervisor","name":"x"}'
check_bad "missing kind" '{"name":"openat"}'
check_bad "a key twice (a shadow filename)" '{"kind":"syscall","name":"openat","strings":{"filename":"/etc/shadow","filename":"/tmp/x"}}'
check_bad "leading zeros" '{"seq":007,"kind":"syscall","name":"openat"}'
check_bad "negative seq" '{"seq":-5,"kind":"syscall","name":"openat"}'
check_bad "trailing garbage" '{"kind":"syscall","name":"openat"} x'
check_bad "too many args" '{"kind":"syscall","name":"openat","args":[1,2,3,4,5,6,7]}'
printf '{"kind":"syscall","name":"openat","strings":{"filename":"/etc/\377\376"}}' > "$T/utf8"
check_bad "invalid UTF-8" "$(cat "$T/utf8")"

# A 10 MB line is refused by line number without holding it in memory.
printf '%s\n%s\n' "$good" "$other" > "$T/big.jsonl"
head -c 10485760 /dev/zero | tr '\0' 'a' | sed 's/^/{"kind":"syscall","name":"/' >> "$T/big.jsonl"
printf '"}\n' >> "$T/big.jsonl"
"$VSP" replay "$T/p.vsp" --trace "$T/big.jsonl" --audit "$T/audit" 2> "$T/err"
is "$?" 2 "10 MB line: exit status 2"
like "$(cat "$T/err")" 'big\.jsonl:3: error: line longer than' "10 MB line: named"

# A good trace.
printf '%s\n\n%s\n' "$good" "$other" > "$T/ok.jsonl"
"$VSP" replay "$T/p.vsp" --trace "$T/ok.jsonl" --audit "$T/audit" 2> "$T/err"
is "$?" 0 "good trace: exit 0"
is "$(wc -l < "$T/audit" | tr -d ' ')" 2 "one record per decision and per effect"
first=$(sed -n 1p "$T/audit")
like "$first" '"rule":"no-shadow"' "deciding rule named"
like "$first" '"verdict":"deny"' "deny verdict"
like "$first" '"errno":13' "errno of EACCES"
like "$first" '"severity":"alert"' "alert severity"
like "$first" '"mode":"enforce"' "enforce mode"
like "$first" '"applied":true' "applied in enforce"
like "$first" '"msg":"shadow by cat"' "message interpolated"
like "$first" '"event":\{"kind":"syscall","name":"openat"' "event kind and name"
like "$first" '"path":"/etc/shadow"' "event path"
second=$(sed -n 2p "$T/audit")
like "$second" '"verdict":null' "effect-only record for the log rule"
like "$second" '"severity":"info"' "log is info"
like "$second" '"rule":"[^"]*p\.vsp:3"' "an unnamed rule is file:line"

# "time": the wall clock of the decision, RFC 3339 in UTC with nanoseconds;
# the records of one decision share it, and it lies within the run.
cat > "$T/two.vsp" <<'P'
policy "t" version 1;
rule "a": on syscall openat when path startswith "/etc/": log "a";
rule "b": on syscall openat when path == "/etc/shadow": deny EACCES, alert "b";
P
before=$(date -u +%s)
"$VSP" replay "$T/two.vsp" --trace "$T/ok.jsonl" --audit "$T/audit" 2> "$T/err"
after=$(date -u +%s)
is "$(wc -l < "$T/audit" | tr -d ' ')" 3 "two records for the first event, one for the second"
times=$(sed -E 's/.*"time":"([^"]*)".*/\1/' "$T/audit")
like "$(echo $times)" '^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z ?){3}$' "three RFC 3339 times"
is "$(echo "$times" | sed -n 1p)" "$(echo "$times" | sed -n 2p)" "one decision's records share its time"
ok '[ "$(echo "$times" | sed -n 2p)" "<" "$(echo "$times" | sed -n 3p)" ]' "a later decision has a later time"
t1=$(date -u -d "$(echo "$times" | sed -n 1p)" +%s)
ok '[ "$t1" -ge "$before" ] && [ "$t1" -le "$after" ]' "the time is the wall clock during the run ($t1 in $before..$after)"
like "$(sed -n 1p "$T/audit")" '^\{"seq":1,"time_ns":[0-9]+,"time":"' "time follows time_ns"

# Standard input, monitor mode, statistics.
"$VSP" replay "$T/p.vsp" --trace - --mode monitor --stats=json < "$T/ok.jsonl" > "$T/audit" 2> "$T/stats"
is "$?" 0 "trace from stdin"
like "$(sed -n 1p "$T/audit")" '"mode":"monitor".*"applied":false' "monitor mode applies nothing"
like "$(cat "$T/stats")" '"events":2' "stats count events"
like "$(cat "$T/stats")" '"deny":1' "stats count verdicts"
like "$(cat "$T/stats")" '"latency_ns":\{"median":[0-9]+,"p99":[0-9]+,"max":[0-9]+\}' "stats latency"

# Usage and policy errors.
"$VSP" replay "$T/p.vsp" 2> /dev/null
is "$?" 2 "missing --trace is a usage error"
"$VSP" replay "$T/p.vsp" --trace "$T/ok.jsonl" --mode sideways 2> /dev/null
is "$?" 2 "bad mode is a usage error"
"$VSP" replay "$T/p.vsp" --trace "$T/nope.jsonl" 2> /dev/null
is "$?" 2 "missing trace file"
"$VSP" replay "$T/nope.vsp" --trace "$T/ok.jsonl" 2> /dev/null
is "$?" 2 "missing policy file"
echo 'on syscall opnat: deny;' > "$T/bad.vsp"
"$VSP" replay "$T/bad.vsp" --trace "$T/ok.jsonl" 2> "$T/err"
is "$?" 1 "policy errors exit 1"
like "$(cat "$T/err")" "did you mean 'openat'" "policy error suggests"
"$VSP" replay --help > "$T/help"
is "$?" 0 "--help exits 0"
like "$(cat "$T/help")" 'usage: vsp replay' "--help prints usage"

# The failure policy for events whose inputs could not be read in full.
cat > "$T/fp.vsp" <<'P'
policy "fp" version 1;
default deny EACCES;
on syscall openat when path startswith "/etc/": deny;
on syscall openat when event.partial: log "partial read";
on syscall openat: allow;
P
printf '%s\n' '{"kind":"syscall","name":"openat","strings":{"filename":"/etc/x"}}' \
	'{"kind":"syscall","name":"openat"}' > "$T/fp.jsonl"
"$VSP" replay "$T/fp.vsp" --trace "$T/fp.jsonl" > "$T/a" 2>/dev/null
like "$(sed -n 3p "$T/a")" '"rule":"[^"]*fp.vsp:5","verdict":"allow"' "by default the rules decide a partial event"
like "$(sed -n 2p "$T/a")" '"msg":"partial read".*"partial":true' "event.partial is true for a rule to test"
"$VSP" replay "$T/fp.vsp" --trace "$T/fp.jsonl" --fail-closed > "$T/a" 2>/dev/null
like "$(sed -n 3p "$T/a")" '"rule":null,"verdict":"deny","errno":1,.*"failed":true' "--fail-closed denies a partial event with EPERM"
like "$(sed -n 1p "$T/a")" '"verdict":"deny","errno":1,' "--fail-closed leaves complete events to the rules"
"$VSP" replay "$T/fp.vsp" --trace "$T/fp.jsonl" --on-partial default > "$T/a" 2>/dev/null
like "$(sed -n 3p "$T/a")" '"rule":null,"verdict":"deny","errno":13,.*"failed":true' "--on-partial default applies the policy's default"
"$VSP" replay "$T/fp.vsp" --trace "$T/fp.jsonl" --fail-open > "$T/a" 2>/dev/null
like "$(sed -n 3p "$T/a")" '"rule":null,"verdict":"allow",.*"failed":true' "--fail-open allows, and still writes a record"
"$VSP" replay "$T/fp.vsp" --trace "$T/fp.jsonl" --on-partial sideways 2> /dev/null
is "$?" 2 "a bad --on-partial is a usage error"

# A trace that cannot be read twice is read once, as it comes: a FIFO,
# <(...), /dev/stdin and - all decide both events (a checking pass once
# used them up and replay decided nothing, exit 0).
printf '%s\n%s\n' "$good" "$other" > "$T/two.jsonl"
# records carry the wall-clock time of each decision: compare without it
untime() { sed -E 's/,"time":"[^"]*"//'; }
"$VSP" replay "$T/p.vsp" --trace "$T/two.jsonl" 2>&1 | untime > "$T/want"
is "$(grep -c "^{" "$T/want")" 2 "a regular file: two records"
mkfifo "$T/fifo"
cat "$T/two.jsonl" > "$T/fifo" &
"$VSP" replay "$T/p.vsp" --trace "$T/fifo" 2>&1 | untime > "$T/got"
ok 'cmp -s "$T/want" "$T/got"' "a FIFO decides as the file does"
wait
cat "$T/two.jsonl" | "$VSP" replay "$T/p.vsp" --trace /dev/stdin 2>&1 | untime > "$T/got"
ok 'cmp -s "$T/want" "$T/got"' "/dev/stdin on a pipe decides as the file does"
cat "$T/two.jsonl" | "$VSP" replay "$T/p.vsp" --trace - 2>&1 | untime > "$T/got"
ok 'cmp -s "$T/want" "$T/got"' "- on a pipe decides as the file does"
if [ -n "$BASH_VERSION" ] || command -v bash > /dev/null; then
	bash -c '"$1" replay "$2" --trace <(cat "$3")' _ "$VSP" "$T/p.vsp" "$T/two.jsonl" 2>&1 | untime > "$T/got"
	ok 'cmp -s "$T/want" "$T/got"' "<(...) decides as the file does"
fi
# A malformed line in a stream stops there, after the lines before it.
printf '%s\n{"kind":1}\n%s\n' "$good" "$other" | "$VSP" replay "$T/p.vsp" --trace - > "$T/got" 2> "$T/err"
is "$?" 2 "a stream with a malformed line 2: exit status 2"
like "$(cat "$T/err")" '<stdin>:2: error: ' "the message names line 2"
is "$(grep -c . "$T/got")" 1 "the record of line 1 was written, none after line 2"
# An endless pipe: decided as it comes, in bounded memory (it was spooled
# to a deleted temporary file without limit, deciding nothing until its
# end).  Records must come out while it flows, under a 256 MB address
# space limit, until the reader has seen 20,000 of them.  AddressSanitizer
# reserves terabytes of address space and cannot start under any such
# limit: the sanitizer build checks the streaming, the plain build the bound.
lim="ulimit -v 262144"
[ -z "${VSP_SAN_FLAGS:-}" ] || lim=:
got=$(timeout 60 sh -c 'yes "$1" | ($4; "$2" replay "$3" --trace - 2>/dev/null) | head -n 20000 | grep -c "\"rule\":\"no-shadow\""' _ "$good" "$VSP" "$T/p.vsp" "$lim")
is "$got" 20000 "an endless pipe: records written while it flows, in bounded memory"
# A default holds only for the events the rules name, live and in replay
# alike: a live monitor traps no other event.  Replay once denied every
# event of the trace under `default deny`, while live allowed the unnamed.
cat > "$T/dd.vsp" <<'P'
default deny EPERM;
rule "hosts": on syscall openat when path == "/etc/hosts": allow;
P
printf '%s\n%s\n%s\n' "$good" '{"kind":"syscall","name":"getpid","proc":{"pid":9,"comm":"sh"}}' "$other" > "$T/dd.jsonl"
"$VSP" check "$T/dd.vsp" > "$T/out" 2>&1
is "$?" 0 "a default deny checks clean (a warning only)"
like "$(cat "$T/out")" "warning: the default 'deny' holds only for events a rule names" "vsp check warns that the default applies to named events only"
"$VSP" replay "$T/dd.vsp" --trace "$T/dd.jsonl" --stats > "$T/a" 2> "$T/err"
is "$?" 0 "replay of a default deny"
like "$(cat "$T/err")" "warning: the default 'deny' holds only" "replay warns too"
is "$(grep -c . "$T/a")" 2 "two records: the openat the rule allows, the one the default denies"
like "$(cat "$T/a")" '"verdict":"deny","errno":1,.*"name":"openat"' "that one is denied by the default"
ok '! grep -q getpid "$T/a"' "getpid, which no rule names, is not decided (live never traps it)"
like "$(cat "$T/err")" 'events no rule names \(not trapped live, not decided\): 1' "--stats counts the skipped event"
"$VSP" replay "$T/dd.vsp" --trace "$T/dd.jsonl" --all-events > "$T/a" 2> /dev/null
is "$(grep -c '"verdict":"deny"' "$T/a")" 2 "--all-events: the default decides getpid too"
done_testing
