#!/bin/bash
# repl-bt.t: `bt` in `vsp repl --gdb` against the guest kernel's own
# stack traces.  The policy logs two kernel functions that a task blocks
# in: pipe_read (a cat reading a pipe whose writer sleeps) and fifo_open
# (a cat opening a FIFO nobody writes to, down the whole open path).
# Once both sleep the guest prints their /proc/PID/stack.  The call path
# vsp unwound at each trap, innermost first, must name the same
# functions, frame for frame, as the kernel's own unwinder does for the
# sleeping task.  That trace starts below the trapped function (the
# scheduler's frames are left out by the kernel; wait_for_partner is
# fifo_open's callee): only the frames from the trapped function out are
# compared.
. "$(dirname "$0")/lib.sh"
guest_setup

cat >"$T/block.vsp" <<'P'
rule "pipe-reads": on kernel pipe_read when proc.comm == "cat"
: log "pipe read by %{proc.comm}";
rule "fifo-opens": on kernel fifo_open when proc.comm == "cat"
: log "fifo opened by %{proc.comm}";
P

# Each dump, taken once the cat sleeps in the function (up to 30 s), sits
# between "VSP-STACK FUNC PID" and "VSP-STACK-END"; then the guest waits,
# so the session still has it when bt is asked.
read -r qpid port < <("$RIG" boot --bg --timeout 300 --log "$T/r.log" \
	'mkfifo /tmp/fifo; sleep 900 | cat & p=$!; cat /tmp/fifo & f=$!; for t in "pipe_read $p" "fifo_open $f"; do set -- $t; i=0; while ! grep -q "\] $1+" /proc/$2/stack && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done; echo "VSP-STACK $1 $2"; cat /proc/$2/stack; echo VSP-STACK-END; done; echo VSP-STACKS-DONE; sleep 40; kill $p $f')
QPIDS+=("$qpid")
repl_start "$port" --symbols "$SYSTEM_MAP" "$T/block.vsp"

# Waits until FILE has a line matching RE (up to 60 s, while vsp runs).
wait_for() { repl_wait 60 "$@"; }

# compare FUNC: bt of the last decision at FUNC by the blocked cat
# against the guest's trace of that cat, each as one name a line.
compare() {
	local fn=$1 pid seq
	read -r _ _ pid < <(grep -m1 "^VSP-STACK $fn " "$T/r.log" | tr -d '\r')
	echo "tail 64" >&9
	ok "$fn: tail has the cat's decision" \
		wait_for "$T/r.out" "^#[0-9]* .* $fn pid $pid cat -> "
	seq=$(grep "^#[0-9]* .* $fn pid $pid cat -> " "$T/r.out" | tail -n 1 |
		sed 's/^#\([0-9]*\) .*/\1/')
	echo "bt $seq" >&9
	echo "sym $fn" >&9	# marks where bt's frames end
	ok "$fn: bt shows decision #$seq" \
		wait_for "$T/r.out" "^#$seq $fn pid $pid cat -> "
	wait_for "$T/r.out" "^$fn = 0x"
	sed -n "/^#$seq $fn pid $pid cat -> /,/^$fn = 0x/p" "$T/r.out" |
		sed -n 's/^  *[0-9][0-9]* \(.*\)$/\1/p' >"$T/$fn.vsp"
	sed -n "/^VSP-STACK $fn $pid\r*\$/,/^VSP-STACK-END/p" "$T/r.log" | tr -d '\r' |
		sed -n 's/^\[<[0-9a-f]*>\] \([^+ ]*\)+0x.*/\1/p' |
		sed -n "/^$fn\$/,\$p" >"$T/$fn.guest"
	paste -d' ' "$T/$fn.guest" "$T/$fn.vsp" | sed "s/^/# $fn guest, vsp: /"
	ok "$fn: the guest's trace has it, 4 frames or more" \
		[ "$(wc -l <"$T/$fn.guest")" -ge 4 ]
	ok "$fn: bt names the guest's frames, frame for frame" \
		cmp -s "$T/$fn.guest" "$T/$fn.vsp"
	ok "$fn: bt's path is whole" bash -c \
		"! sed -n '/^#$seq $fn /,/^$fn = 0x/p' '$T/r.out' | grep -q 'the unwinder stopped'"
}

ok "the session starts" wait_for "$T/r.out" "^attached to"
ok "the guest printed both blocked cats' stacks" \
	wait_for "$T/r.log" "^VSP-STACKS-DONE"
compare pipe_read
compare fifo_open

echo quit >&9
exec 9>&-
rc=0
for _ in $(seq 150); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$vpid" 2>/dev/null && kill -INT "$vpid"
wait "$vpid" || rc=$?
ok "quit: vsp exits 0" eq "$rc" 0
done_testing
