#!/bin/bash
# auditerr.t: audit records and trace lines that cannot be written.
#
# Before, `--audit /dev/full` lost every record with exit status 0 and no
# word while enforcement went on, `--record /dev/full` printed warnings and
# exited 0, and `vsp attach | head -1` died of SIGPIPE, leaving its guard to
# take every trap out in silence.  Now SIGPIPE is ignored and a lost record
# is handled by --on-audit-error: stop (the default) detaches cleanly at
# once naming the error, pause detaches and leaves the guest stopped,
# continue enforces on; each counts what it lost (--stats, the last line)
# and exits 4.  The guest loops 40 opens of /etc/hostname, each denied.
. "$(dirname "$0")/lib.sh"
guest_setup

LOOP='vsp_loop 40 /etc/hostname 50'
denied() { "$RIG" result "$T/$1.log" 1 | sed -n 's/^VSP loop 40 ok [0-9]* err \([0-9]*\).*/\1/p'; }
lastline() { tail -n 1 "$T/$1.err"; }

# stop: the first lost record ends the attach; the guest runs on untrapped.
guest_run full --audit /dev/full "$POL/auditerr.vsp" -- "$LOOP"
ok "/dev/full, stop: exit status 4" eq "$VSP_RC" 4
ok "/dev/full, stop: the error is named" \
	grep -q "an audit record lost at event [0-9]*: No space left on device; detaching, every trap removed (--on-audit-error stop)" "$T/full.err"
ok "/dev/full, stop: nothing about emptying the device" hasnt full.err "emptying"
ok "/dev/full, stop: the last line counts the lost record" \
	eq "$(lastline full)" "vsp attach: 1 audit record and 0 trace lines lost (audit: No space left on device)"
ok "/dev/full, stop: the guest ran to its end" has full.log VSP-DONE
d=$(denied full)
ok "/dev/full, stop: the first open was denied, none after the detach" eq "$d" 1

# continue: every call still denied, every record counted as lost.
guest_run cont --audit /dev/full --on-audit-error continue --stats \
	"$POL/auditerr.vsp" -- "$LOOP"
ok "/dev/full, continue: exit status 4" eq "$VSP_RC" 4
ok "/dev/full, continue: enforcement went on (40 of 40 denied)" eq "$(denied cont)" 40
ok "/dev/full, continue: said once" eq "$(grep -c "audit record lost" "$T/cont.err")" 1
ok "/dev/full, continue: --stats counts them" grep -qx "records lost: *audit 40 trace 0" "$T/cont.err"
ok "/dev/full, continue: the last line counts them" \
	eq "$(lastline cont)" "vsp attach: 40 audit records and 0 trace lines lost (audit: No space left on device)"

# pause: detached with the guest left stopped.
GUEST_NO_WAIT=1 guest_run pause --audit /dev/full --on-audit-error pause \
	"$POL/auditerr.vsp" -- "$LOOP"
ok "/dev/full, pause: exit status 4" eq "$VSP_RC" 4
ok "/dev/full, pause: says the guest stays paused" grep -q "the guest stays paused" "$T/pause.err"
sleep 2
ok "/dev/full, pause: QEMU is still there" kill -0 "$QPID"
ok "/dev/full, pause: the guest did not go on to its end" hasnt pause.log VSP-DONE
kill "$QPID" 2>/dev/null

# --record into /dev/full: the same, for trace lines.
guest_run rec --record /dev/full --audit "$T/rec.jsonl" "$POL/auditerr.vsp" -- "$LOOP"
ok "--record /dev/full: exit status 4" eq "$VSP_RC" 4
ok "--record /dev/full: the error is named" \
	grep -q "a trace line (--record) lost at event [0-9]*: No space left on device" "$T/rec.err"
ok "--record /dev/full: the last line counts it" \
	eq "$(lastline rec)" "vsp attach: 0 audit records and 1 trace line lost (trace: No space left on device)"

# A reader that goes away: `vsp attach | head -1`.
read -r qpid port < <("$RIG" boot --bg --timeout 150 --log "$T/pipe.log" "$LOOP")
QPIDS+=("$qpid")
timeout -s INT 120 "$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
	"$POL/auditerr.vsp" 2>"$T/pipe.err" | head -1 >"$T/pipe.audit"
prc=${PIPESTATUS[0]}
ok "| head -1: vsp was not killed by SIGPIPE (exit 4, not 141)" eq "$prc" 4
ok "| head -1: the closed pipe is named" grep -q "audit record lost at event [0-9]*: Broken pipe" "$T/pipe.err"
ok "| head -1: head got a whole record" grep -q '^{.*"rule":"deny-hostname".*}$' "$T/pipe.audit"
ok "| head -1: the guest ran to its end" guest_wait "$qpid" 60
ok "| head -1: vsp detached cleanly" grep -q "detached" "$T/pipe.err"

# A small full filesystem: what fits is written, the rest is counted.
mnt=$T/small
mkdir -p "$mnt"
if mount -t tmpfs -o size=8k tmpfs "$mnt" 2>/dev/null; then
	guest_run small --audit "$mnt/a.jsonl" --on-audit-error continue \
		"$POL/auditerr.vsp" -- "$LOOP"
	n=$(grep -c '^{.*}$' "$mnt/a.jsonl")
	lost=$(sed -n 's/^vsp attach: \([0-9]*\) audit records.*/\1/p' "$T/small.err" | tail -n 1)
	umount "$mnt"
	ok "full tmpfs: exit status 4" eq "$VSP_RC" 4
	ok "full tmpfs: some records fit, some were lost" test "$n" -gt 0 -a "${lost:-0}" -gt 0
	ok "full tmpfs: written and lost add up to the 40 denies" eq "$((n + ${lost:-0}))" 40
	ok "full tmpfs: every call was denied" eq "$(denied small)" 40
else
	echo "# skipped the tmpfs case: cannot mount a tmpfs here"
fi
done_testing
