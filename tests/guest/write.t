#!/bin/bash
# write.t: `on write SYM` live, through the GDB stub's write watchpoints
# (vmi/site_write.c).
#  - deny: the guest writes /proc/sys/kernel/modprobe and core_pattern
#    and reads back the old values; one record per write;
#  - alert: the write stands, one record with addr, offset, len, value,
#    old, the writer and its kernel call path; the trace replays to the
#    same decisions;
#  - kill: the writer dies on its way back to user space, the write
#    undone;
#  - detach: after --max-events 1 the watchpoints are gone and the
#    guest's next write succeeds (the denied one was followed to its end);
#  - stdlib-policies/kernel-memory.vsp attaches whole, sys_call_table
#    watched, a write of modprobe_path denied.
. "$(dirname "$0")/lib.sh"
guest_setup

mod='echo /tmp/evil > /proc/sys/kernel/modprobe; echo "VSP mod $(cat /proc/sys/kernel/modprobe)"'
core='echo "|/tmp/x %p" > /proc/sys/kernel/core_pattern; echo "VSP core $(cat /proc/sys/kernel/core_pattern)"'

guest_run d --stats --record "$T/d.trace" "$POL/write.vsp" -- "$mod" "$core"
ok "deny: vsp attach exits 0" eq "$VSP_RC" 0
ok "deny: the guest ran to its end" has d.log VSP-DONE
ok "deny: modprobe_path and core_pattern watched" \
	grep -q 'watch modprobe_path at 0x.*watch core_pattern at 0x' <(tr '\n' ' ' <"$T/d.err")
ok "deny: modprobe_path reads back its old value" eq "$(result d 1)" "VSP mod /sbin/modprobe"
ok "deny: core_pattern reads back its old value" eq "$(result d 2)" "VSP core core"
ok "deny: one record for the modprobe write" \
	eq "$(grep -c '"rule":"modprobe-path","verdict":"deny"' "$T/d.audit")" 1
ok "deny: one record for the core_pattern write" \
	eq "$(grep -c '"rule":"core-pattern","verdict":"deny"' "$T/d.audit")" 1
# "/tmp/evil" over "/sbin/modprobe": the first byte that differs is
# offset 1, 't' (116) over 's' (115).
ok "deny: the record says what was written where, and by whom" \
	grep -q '"applied":true,"msg":"modprobe_path written by sh at offset 1: 0x74 over 0x73"' "$T/d.audit"
ok "deny: core_pattern's record, applied" \
	grep -q '"rule":"core-pattern","verdict":"deny","errno":1,"severity":"alert","mode":"enforce","applied":true' "$T/d.audit"
ok "deny: the later bytes folded into their write" grep -q '^watch hits: .*[1-9][0-9]* bytes folded' "$T/d.err"

guest_run a --stats --record "$T/a.trace" "$POL/write-alert.vsp" -- "$mod"
ok "alert: vsp attach exits 0" eq "$VSP_RC" 0
ok "alert: the write stands" eq "$(result a 1)" "VSP mod /tmp/evil"
ok "alert: one audit record" eq "$(grep -c . "$T/a.audit")" 1
rec=$(cat "$T/a.audit")
ok "alert: severity alert, allowed" \
	grep -q '"rule":"modprobe-seen","verdict":null,"severity":"alert","mode":"enforce","applied":false' <<<"$rec"
ok "alert: the message from the fields" \
	grep -q '"msg":"modprobe_path written by sh at offset 1 (1 bytes): 0x74 over 0x73"' <<<"$rec"
sym=$(awk '$3 == "modprobe_path" { print $1 }' "$SYSTEM_MAP")
ok "alert: addr is modprobe_path + 1" \
	grep -q "\"addr\":$(printf %u $(( 16#$sym + 1 ))),\"offset\":1,\"len\":1,\"value\":116,\"old\":115" <<<"$rec"
ok "alert: the writer's process" grep -q '"proc":{"pid":[0-9]*,"comm":"sh"' <<<"$rec"
ok "alert: the writer's kernel call path" grep -q '"stack":\[[^]]*proc_do[^]]*vfs_write' <<<"$rec"
ok "alert: the trace has the write event" \
	grep -q '"kind":"write","name":"modprobe_path","addr":-\?[0-9]*,"offset":1,"len":1,"value":116,"old":115' "$T/a.trace"

for run in d a; do
	pol=$POL/write.vsp
	[ $run = a ] && pol=$POL/write-alert.vsp
	"$VSP" replay "$pol" --trace "$T/$run.trace" >"$T/$run.replay" 2>"$T/$run.rerr"
	live=$(grep -o '"rule":"[a-z-]*","verdict":"[a-z]*"' "$T/$run.audit" | sort | uniq -c)
	again=$(grep -o '"rule":"[a-z-]*","verdict":"[a-z]*"' "$T/$run.replay" | sort | uniq -c)
	ok "replay of the recorded writes ($run) decides as live" eq "$again" "$live"
done

later='sleep 3; echo /tmp/later > /proc/sys/kernel/modprobe; echo "VSP mod $(cat /proc/sys/kernel/modprobe)"'
guest_run x --max-events 1 "$POL/write.vsp" -- "$mod" "$later"
ok "detach: vsp attach exits 0" eq "$VSP_RC" 0
ok "detach: after one event" has x.err "1 events seen: detaching"
ok "detach: the denied write was undone to its end" eq "$(result x 1)" "VSP mod /sbin/modprobe"
ok "detach: the guest's later write succeeds" eq "$(result x 2)" "VSP mod /tmp/later"
ok "detach: one record" eq "$(grep -c . "$T/x.audit")" 1
# kill: the writer (the shell running echo) dies on its way back to user
# space, its write undone; the shell that ran it goes on.
kmod='sh -c "echo /tmp/evil > /proc/sys/kernel/modprobe; echo VSP survived"; echo "VSP kill $? $(cat /proc/sys/kernel/modprobe)"'
kmod2='sh -c "printf /tmp/two > /proc/sys/kernel/modprobe"; echo "VSP kill2 $? $(cat /proc/sys/kernel/modprobe)"'
guest_run q "$POL/write-kill.vsp" -- "$kmod" "$kmod2"
ok "kill: vsp attach exits 0" eq "$VSP_RC" 0
ok "kill: the writer was killed (137) and the write undone" \
	eq "$(result q 1)" "VSP kill 137 /sbin/modprobe"
ok "kill: the writer did not run on" \
	bash -c "! tr -d '\r' <'$T/q.log' | grep -qx 'VSP survived'"
ok "kill: the record says applied" \
	grep -q '"rule":"modprobe-kill","verdict":"kill","severity":"alert","mode":"enforce","applied":true' "$T/q.audit"
ok "kill: an alert names the killed writer" \
	grep -q '"msg":"sh (pid [0-9]*) killed on its way back to user space, for its write of modprobe_path"' "$T/q.audit"
ok "kill: the next writer is killed too" eq "$(result q 2)" "VSP kill2 137 /sbin/modprobe"
ok "kill: one record per write, one alert per kill" \
	eq "$(grep -c . "$T/q.audit")" 4
# The stdlib pack guards what it says on this kernel: sys_call_table's 451
# entries, modprobe_path and core_pattern watched, a write denied.
guest_run k "$(dirname "$0")/../../stdlib-policies/kernel-memory.vsp" -- "$mod"
ok "kernel-memory.vsp: attach exits 0" eq "$VSP_RC" 0
ok "kernel-memory.vsp: sys_call_table[0..450] watched" \
	grep -q 'watch sys_call_table at 0x[0-9a-f]*, 3608 bytes' "$T/k.err"
ok "kernel-memory.vsp: nothing refused" hasnt k.err "cannot be trapped"
ok "kernel-memory.vsp: modprobe_path reads back its old value" eq "$(result k 1)" "VSP mod /sbin/modprobe"
ok "kernel-memory.vsp: one alert naming the writer" \
	eq "$(grep -c '"rule":"modprobe-path-write","verdict":"deny".*"msg":"sh wrote modprobe_path at offset 1"' "$T/k.audit")" 1
echo "# $(grep -E '^(per trap|watch hits|per watch hit|integrity)' "$T/d.err" | tr '\n' ' ')"
done_testing
