#!/bin/sh
# faults.t: small faults of the command line, each once let through.
#   - output that never arrived (a full disk) exited 0;
#   - a FIFO as a policy or an import blocked vsp forever;
#   - a NUL byte in a comment was accepted though the language calls a NUL
#     an error.
. "$(dirname "$0")/../tap.sh"
cd "$T" || exit 1
EX=$ROOT/examples

if [ -w /dev/full ]; then
	"$VSP" disasm "$EX/shadow.vsp" > /dev/full 2> err
	is "$?" 2 "vsp disasm into /dev/full: exit 2"
	like "$(cat err)" 'writing standard output: No space left' "and says why"
	"$VSP" --help > /dev/full 2> /dev/null
	is "$?" 2 "vsp --help into /dev/full: exit 2"
	"$VSP" replay --help > /dev/full 2> /dev/null
	is "$?" 2 "vsp replay --help into /dev/full: exit 2"
	"$VSP" replay "$EX/shadow.vsp" --trace "$EX/shadow.jsonl" > /dev/full 2> /dev/null
	is "$?" 2 "vsp replay, audit into /dev/full: exit 2"
fi
"$VSP" disasm "$EX/shadow.vsp" > /dev/null
is "$?" 0 "vsp disasm into /dev/null: exit 0"

mkfifo fifo.vsp
timeout 10 "$VSP" check fifo.vsp > out 2>&1
st=$?
ok '[ $st = 1 ] || [ $st = 2 ]' "a FIFO as the policy: refused at once (exit $st)"
like "$(cat out)" 'fifo\.vsp.*not a regular file' "a FIFO as the policy: not a regular file"
printf 'import "fifo.vsp";\nrule "r": on syscall openat: deny;\n' > top.vsp
timeout 10 "$VSP" check top.vsp > out 2>&1
is "$?" 1 "a FIFO as an import: refused at once"
like "$(cat out)" "cannot import 'fifo\\.vsp': not a regular file" "a FIFO as an import: says why"
timeout 10 "$VSP" replay fifo.vsp --trace "$EX/shadow.jsonl" > out 2>&1
st=$?
ok '[ $st = 1 ] || [ $st = 2 ]' "replay with a FIFO as the policy: refused at once (exit $st)"

# An audit file is emptied by the first record, not at open: a replay that
# fails before it leaves the file as it was; one that runs replaces it.
printf '{"earlier":"run"}\n' > kept.audit
cp kept.audit kept.want
printf 'not json\n' > bad.jsonl
"$VSP" replay "$EX/shadow.vsp" --trace bad.jsonl --audit kept.audit > /dev/null 2>&1
is "$?" 2 "replay of a malformed trace: exit 2"
ok 'cmp -s kept.audit kept.want' "a failed replay leaves the audit file as it was"
"$VSP" replay "$EX/shadow.vsp" --trace "$EX/shadow.jsonl" --audit kept.audit > /dev/null 2>&1
is "$?" 0 "replay into the same audit file: exit 0"
ok '! grep -q earlier kept.audit && [ -s kept.audit ]' "a replay that runs replaces what the file held"

printf 'rule "r": on syscall openat: deny; # a \000 here\n' > nul.vsp
"$VSP" check nul.vsp > out 2>&1
is "$?" 1 "a NUL byte in a comment is an error"
like "$(cat out)" '^nul\.vsp:1:40: error: a NUL byte in a comment' "at the NUL's column"
# --on-monitor-death: two values; pause needs a backend with a guard.
echo 'rule "r": on syscall openat: deny;' > r.vsp
"$VSP" attach --gdb 127.0.0.1:1 --on-monitor-death later r.vsp > out 2>&1
is "$?" 2 "--on-monitor-death with an unknown action is a usage error"
like "$(cat out)" "on-monitor-death takes detach or pause, not 'later'" "naming both"
if "$VSP" --version | grep -q xen; then
	"$VSP" attach --xen nosuch --on-monitor-death pause r.vsp > out 2>&1
	is "$?" 2 "--on-monitor-death pause on Xen is refused"
	like "$(cat out)" "the xen backend has no guard process" "and says why"
fi
done_testing
