#!/bin/sh
# extern.t: extern functions from the command line: a crashing extension
# in isolated mode fails its event as partial and the run goes on; in
# process its crash is vsp's (as docs/language.md says); option errors;
# the step bound that disasm states counts each call's declared cost.
. "$(dirname "$0")/../tap.sh"
ext="${BUILD:-$(dirname "$VSP")}/extensions"
if [ ! -f "$ext/vsptest.so" ]; then echo "1..0 # SKIP $ext/vsptest.so not built"; exit 0; fi

cat > "$T/crash.vsp" <<'P'
extern "vsptest.so" fn t_crash(int) -> bool;
rule "c": on syscall getpid when t_crash(arg0) : deny;
P
i=0
for a in 2 1 2 0 1 2; do
	i=$((i + 1))
	echo "{\"seq\":$i,\"time_ns\":$i,\"vm\":\"v\",\"vcpu\":0,\"kind\":\"syscall\",\"name\":\"getpid\",\"nr\":39,\"args\":[$a,0,0,0,0,0],\"proc\":{\"pid\":9,\"tid\":9,\"ppid\":1,\"comm\":\"t\",\"uid\":0,\"euid\":0,\"gid\":0},\"cr3\":1}"
done > "$T/crash.jsonl"

"$VSP" replay "$T/crash.vsp" --trace "$T/crash.jsonl" --extern-path "$ext" \
	--extern-isolate --stats=json > "$T/out" 2> "$T/err"
is "$?" 0 "isolated: a crashing extension does not end the run"
is "$(grep -c '"rule":"c"' "$T/out")" 3 "isolated: the three calls that answer decide"
is "$(grep -c '"partial":true' "$T/out")" 0 "isolated: by default the rules decide a failed call (false: no record)"
"$VSP" replay "$T/crash.vsp" --trace "$T/crash.jsonl" --extern-path "$ext" \
	--extern-isolate --fail-closed > "$T/out" 2> "$T/err"
is "$?" 0 "isolated, fail-closed: the run completes"
is "$(grep -c '"failed":true' "$T/out")" 2 "isolated, fail-closed: both crashed calls fail their events"
ok 'grep "\"seq\":5" "$T/out" | grep -q "\"partial\":true"' "isolated: the crashed event is audited as partial"
ok 'grep "\"seq\":6" "$T/out" | grep -q "\"rule\":\"c\""' "isolated: the call after a crash is answered by a new child"

"$VSP" replay "$T/crash.vsp" --trace "$T/crash.jsonl" --extern-path "$ext" > "$T/out" 2> "$T/err"
rc=$?
ok '[ "$rc" -ne 0 ]' "in process: the extension's crash is vsp's crash (status $rc)"

cat > "$T/slow.vsp" <<'P'
extern "vsptest.so" fn t_sleep(int) -> bool;
rule "s": on syscall getpid when t_sleep(arg0) : deny;
P
sed 's/"args":\[1,/"args":[3000,/' "$T/crash.jsonl" > "$T/slow.jsonl"
start=$(date +%s)
"$VSP" replay "$T/slow.vsp" --trace "$T/slow.jsonl" --extern-path "$ext" \
	--extern-isolate --extern-timeout 100 --fail-closed > "$T/out" 2> "$T/err"
is "$?" 0 "isolated: a call over the time budget does not hold the run"
is "$(grep -c '"failed":true' "$T/out")" 2 "isolated: each call over the budget fails its event"
ok '[ $(( $(date +%s) - start )) -lt 5 ]' "isolated: the run took less than the sleeps would"

"$VSP" replay "$T/slow.vsp" --trace "$T/slow.jsonl" --extern-timeout 0 > /dev/null 2> "$T/err"
is "$?" 2 "--extern-timeout 0 is a usage error"
"$VSP" check "$T/slow.vsp" --extern-path "$ext" --extern-path 2> "$T/err"
is "$?" 2 "--extern-path without a directory is a usage error"
"$VSP" check "$T/slow.vsp" 2> "$T/err"
is "$?" 1 "without --extern-path the library is looked for in the installed directory only"
like "$(cat "$T/err")" 'library "vsptest.so" not found in the extension directories' "and the error says so"
for cmd in check disasm replay attach; do
	like "$("$VSP" "$cmd" --help)" '--extern-path DIR' "vsp $cmd --help lists --extern-path"
done

cat > "$T/cost.vsp" <<'P'
extern "vsptest.so" fn t_add(int, int) -> int cost 500;
on syscall openat when t_add(flags, 1) == 2 and t_add(mode, 2) == 3 : deny;
P
"$VSP" disasm "$T/cost.vsp" --extern-path "$ext" > "$T/dis"
like "$(head -1 "$T/dis")" 'at most 1011 steps' "disasm: the longest path, 11 instructions and two calls of cost 500"
done_testing
