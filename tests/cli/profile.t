#!/bin/sh
# profile.t: call-path profiles are read strictly and learned crash-safe.
#
# A line too long once split into two patterns (a trailing `**` then
# allowed every call path), a NUL cut a line short, a directory read as an
# empty profile (every event denied), and learn mode wrote the damage back;
# SIGKILL in learn mode lost every path learned.  Now each bad line is an
# error naming the file and line, learn mode leaves such a file alone, and
# each learned path is on disk (appended and synced) as soon as it is seen.
. "$(dirname "$0")/../tap.sh"
cd "$T" || exit 1
cp "$ROOT/examples/xen-mmu.vsp" m.vsp
TR=$ROOT/examples/xen-mmu.jsonl

# check_bad NAME PATTERN: `vsp check m.vsp` exits 1 with an error matching
# PATTERN, and learn mode leaves xen-mmu.paths as it was.
check_bad() {
	"$VSP" check m.vsp > out 2>&1
	is "$?" 1 "$1: vsp check refuses the policy"
	like "$(grep error: out | head -1)" "$2" "$1: the error names the file and line"
	if [ -f xen-mmu.paths ]; then
		cp xen-mmu.paths before
		"$VSP" replay m.vsp --trace "$TR" --mode learn > /dev/null 2>&1
		is "$?" 1 "$1: learn mode refuses it too"
		ok 'cmp -s before xen-mmu.paths' "$1: learn mode leaves the file as it was"
	fi
}

awk 'BEGIN { s = "xen_mc_flush"; while (length(s) < 9000) s = s " <- x"; print "mmu_update <- xen_set_pte"; print s " <- **" }' > xen-mmu.paths
check_bad "a line of 9,000 bytes" '^xen-mmu\.paths:2:1: error: bad profile line: a line of [0-9]+ bytes: the limit is 8191'

printf 'xen_mc_flush <- xen_set_pte <- **\nxen_mc_flush\000 <- **\n' > xen-mmu.paths
check_bad "a NUL byte" '^xen-mmu\.paths:2:1: error: bad profile line: a NUL byte at column 13'

printf 'xen_mc_flush <- <- **\n' > xen-mmu.paths
check_bad "an empty frame" '^xen-mmu\.paths:1:1: error: bad profile line: not a call-path pattern'

rm -f xen-mmu.paths
mkdir xen-mmu.paths
check_bad "a directory" '^xen-mmu\.paths: error: bad profile: is a directory'
rmdir xen-mmu.paths

mkfifo xen-mmu.paths
timeout 10 "$VSP" check m.vsp > out 2>&1
is "$?" 1 "a FIFO: refused at once, not waited on"
like "$(grep error: out | head -1)" 'xen-mmu\.paths: error: bad profile: is not a regular file' "a FIFO: the error says why"
rm -f xen-mmu.paths

# A line 8,191 bytes long is the longest accepted.
awk 'BEGIN { s = "xen_mc_flush <- **"; while (length(s) < 8191) s = "x" s; print s }' > xen-mmu.paths
"$VSP" check m.vsp > out 2>&1
is "$?" 0 "a line of 8,191 bytes is accepted"
rm -f xen-mmu.paths

# Learn mode killed with SIGKILL keeps every path it had learned.  The
# trace comes through a pipe that stays open, so vsp is mid-run when the
# signal comes; the three paths of the trace must be in the file by then.
: > xen-mmu.paths
mkfifo feed
"$VSP" replay m.vsp --trace feed --mode learn > learn.out 2> learn.err &
pid=$!
exec 3> feed
cat "$TR" >&3
i=0
while [ "$(grep -c . learn.out 2>/dev/null)" -lt 1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill -KILL $pid
wait $pid 2>/dev/null
exec 3>&-
is "$(grep -vc '^#' xen-mmu.paths)" 3 "SIGKILL mid-run: the three paths learned are on disk"
ok '! grep -q "^\$" xen-mmu.paths' "SIGKILL mid-run: no torn or empty line"
"$VSP" replay m.vsp --trace "$TR" > enf 2>&1
ok '! grep -q "\"rule\":\"mmu-update-path\"" enf' "the profile saved by appends admits the trace"

# A hand-written file without a final newline is appended to cleanly.
printf '# reviewed\nxen_mc_flush <- xen_set_pte <- __handle_mm_fault <- handle_mm_fault <- do_user_addr_fault <- exc_page_fault' > xen-mmu.paths
"$VSP" replay m.vsp --trace "$TR" --mode learn > /dev/null 2>&1
is "$?" 0 "learning into a file without a final newline"
is "$(grep -vc '^#' xen-mmu.paths)" "$(sort -u xen-mmu.paths | grep -vc '^#')" "no line joined to another, none twice"
ok 'head -1 xen-mmu.paths | grep -qx "# reviewed"' "comments stay at the top"
done_testing
