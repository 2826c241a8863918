#!/bin/bash
# repl-tty.t: `vsp repl --gdb` at a terminal (tmux), on the live guest,
# typed as a person would: Tab completes a partly typed command, a kernel
# function from the symbols and a field of the event on the line; a rule
# added live bites on the guest's next open; Ctrl-C drops a half-typed
# line and neither detaches nor stops the guest; Ctrl-D detaches and the
# guest runs on to the end of its workload; the history comes back in the
# next session.
. "$(dirname "$0")/lib.sh"
guest_setup
if ! command -v tmux >/dev/null; then
	echo "1..0 # SKIP tmux is not installed"
	exit 0
fi
if ! pkg-config --exists libedit 2>/dev/null; then
	echo "1..0 # SKIP vsp was built without libedit"
	exit 0
fi
cat >"$T/log.vsp" <<'P'
rule "watch-shadow": on syscall openat when path == "/etc/shadow"
: log "shadow opened by %{proc.comm}";
P

read -r qpid port < <("$RIG" boot --bg --timeout 500 --log "$T/g.log" \
	'i=0; while [ $i -lt 300 ]; do vsp_open /etc/shadow /etc/hostname; sleep 0.3; i=$((i + 1)); done')
QPIDS+=("$qpid")
S=vsp-live-tty-$$
export TMUX_TMPDIR=$T
# Under SAN=1: libedit's own leak at exit (tests/lsan-libedit.supp).
export LSAN_OPTIONS="suppressions=$GUEST_DIR/../lsan-libedit.supp:${LSAN_OPTIONS:-}"
trap 'tmux kill-server 2>/dev/null; guest_cleanup' EXIT

start() {
	tmux new-session -d -s "$S" -x 160 -y 50 \
		"cd '$T' && HOME='$T' VSP_HISTORY='$T/hist' '$VSP' repl --gdb 127.0.0.1:$port --symbols '$SYSTEM_MAP' log.vsp 2> err; echo \"EXIT \$?\"; sleep 600"
}
screen() { tmux capture-pane -t "$S" -p -N -S -300 | sed "s/  *$/ /"; }
wait_screen() {	# up to 30 s for the screen to match an extended regex
	local i
	for i in $(seq 300); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
wait_for_cmd() {	# up to 30 s for a command to succeed
	local i
	for i in $(seq 300); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
keys() { tmux send-keys -t "$S" "$@"; }
text() { tmux send-keys -t "$S" -l "$1"; }	# literally (';' included)
# Waits up to 30 s for the guest's console to have a line matching RE.
wait_log() {
	local i
	for i in $(seq 300); do
		grep -q -- "$1" "$T/g.log" && return 0
		sleep 0.1
	done
	return 1
}

start
ok "the session attaches" wait_screen "^attached to 127.0.0.1:$port; [0-9]+ traps"
ok "the prompt" wait_screen "^vsp> ?$"
ok "the workload runs" wait_log "^VSP open /etc/shadow ok"
keys 'pau' Tab
ok "Tab completes a partly typed command" wait_screen "^vsp> pause $"
keys C-u 'rule add "k": on kernel do_sys_ope' Tab
ok "Tab completes a kernel function from the symbols" wait_screen 'on kernel do_sys_open ?$'
keys Tab
ok "and lists the ones that begin so" wait_screen '^do_sys_open +do_sys_openat2 ?$'
keys C-u 'rule add "no-host": on syscall openat when pa' Tab
ok "Tab completes a field of the event on the line" wait_screen 'on syscall openat when path $'
text ' == "/etc/hostname" : deny EPERM;'
keys Enter
ok "the rule is added live" wait_screen "^rule 1 added \(no-host\)"
ok "the guest's next open of /etc/hostname is denied" wait_log "^VSP open /etc/hostname err EPERM 1"
keys 'something half typed'
ok "a line half typed" wait_screen "^vsp> something half typed ?$"
keys C-c
ok "Ctrl-C drops it" wait_screen "^vsp> (something half typed)?\^C ?$"
keys 'status' Enter
ok "the session goes on after Ctrl-C, the guest running" wait_screen "^guest: running ?$"
n=$(wc -l <"$T/g.log")
sleep 2
ok "the guest kept running" [ "$(wc -l <"$T/g.log")" -gt "$n" ]
keys 'tail -f 1' Enter
ok "tail -f follows" wait_screen "^\(following decisions; Ctrl-C stops\)"
followed() { screen | sed -n '/^(following decisions/,$p' | grep -c '^#[0-9]'; }
f0=$(followed)
sleep 2
ok "each decision shows as it is made" [ "$(followed)" -gt "$f0" ]
keys C-c
ok "Ctrl-C stops following" wait_screen "^\(stopped following\)"
last_prompt() { [ "$(screen | grep -v '^ *$' | tail -n 1)" = "vsp> " ]; }
ok "the prompt is back" wait_for_cmd last_prompt
f1=$(screen | grep -c '^#[0-9]')
sleep 1.5
ok "nothing more is printed" [ "$(screen | grep -c '^#[0-9]')" = "$f1" ]
n=$(wc -l <"$T/g.log")
sleep 1.5
ok "the guest keeps running after the tail" [ "$(wc -l <"$T/g.log")" -gt "$n" ]
keys C-d
ok "Ctrl-D ends the session, exit 0" wait_screen "^EXIT 0 ?$"
ok "detached" grep -q "detached; the guest runs on" "$T/err"
ok "the history holds the commands" grep -q '^status$' "$T/hist"

tmux kill-session -t "$S"
# A second session on the same guest: the history of the first.
start
ok "attached again" wait_screen "^vsp> ?$"
keys Up
ok "Up recalls the last command of the last session" wait_screen "^vsp> tail -f 1 ?$"
keys C-u C-r 'no-ho'
ok "Ctrl-R finds the rule added there" wait_screen 'no-host.*deny EPERM'
keys C-e C-u
ok "the search ends, the line is killed" wait_screen "^vsp> ?$"
keys C-d
ok "Ctrl-D again" wait_screen "^EXIT 0 ?$"
guest_wait "$qpid" 200
ok "the guest finished its workload" has g.log VSP-DONE
ok "after the detach /etc/hostname opens again" \
	grep -q "^VSP open /etc/hostname ok" <<<"$(grep "^VSP open /etc/hostname" "$T/g.log" | tail -n 1)"
done_testing
