#!/bin/bash
# repl-tty.t: `vsp repl` at a terminal, typed into tmux as a person would:
# Tab completes a partly typed command, a file name, a mode, an event
# and a field, and lists the choices when there are several; Ctrl-C drops the line and the
# session goes on; a rule spanning lines gets the continuation prompt;
# Ctrl-D ends the session; the history comes back after a restart (Up,
# Ctrl-R).
. "$(dirname "$0")/../tap.sh"
cd "$T" || exit 1
if ! command -v tmux >/dev/null; then
	echo "1..0 # SKIP tmux is not installed"
	exit 0
fi
if [ -z "$(pkg-config --exists libedit 2>/dev/null && echo y)" ]; then
	echo "1..0 # SKIP vsp was built without libedit"
	exit 0
fi
EX=$ROOT/examples
cp "$EX/shadow.vsp" "$EX/shadow.jsonl" .
S=vsp-repl-tty-$$
export TMUX_TMPDIR=$T	# a tmux server of our own
# Under SAN=1: libedit's own leak at exit (tests/lsan-libedit.supp).
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan-libedit.supp:${LSAN_OPTIONS:-}"
trap 'tmux kill-server 2>/dev/null; rm -rf "$T"' EXIT

start() {
	tmux new-session -d -s "$S" -x 120 -y 40 \
		"cd '$T' && HOME='$T' VSP_HISTORY='$T/hist' '$VSP' repl --trace shadow.jsonl shadow.vsp 2> err; echo \"EXIT \$?\"; sleep 600"
}
screen() { tmux capture-pane -t "$S" -p -N -S -200 | sed "s/  *$/ /"; }
# Waits up to 10 s for the screen to match an extended regex.
wait_screen() {
	local i
	for i in $(seq 100); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
keys() { tmux send-keys -t "$S" "$@"; }

start
ok 'wait_screen "^vsp> $"' "the prompt"
keys 'ne' Tab
ok 'wait_screen "^vsp> next $"' "Tab completes a partly typed command"
keys '2' Enter
ok 'wait_screen "shadow.jsonl:2 syscall openat: allow"' "the completed command runs"
keys 'sta' Tab
ok 'wait_screen "^vsp> stat ?$"' "Tab goes as far as the choices agree"
keys Tab
ok 'wait_screen "^stats +status *$"' "a second Tab lists the choices"
keys 'us' Enter
ok 'wait_screen "^decided: 2, allow 1, deny 1"' "status after completion"
keys 'load sha' Tab
ok 'wait_screen "^vsp> load shadow\. ?$"' "Tab completes a file name after load, as far as the files agree"
keys 'v' Tab Enter
ok 'wait_screen "^vsp> load shadow\.vsp $"' "and to the end"
ok 'wait_screen "^loaded 2 rules, 2 events, mode enforce ?$"' "the completed file loads"
keys 'mode mo' Tab
ok 'wait_screen "^vsp> mode monitor $"' "Tab completes a mode"
# Rule text: event kinds, events of a kind, the fields of the events
# named, the policy's lists and macros.
keys C-u 'rule add "z": on sys' Tab
ok 'wait_screen "^vsp> rule add \"z\": on syscall $"' "Tab completes an event kind"
keys 'opena' Tab
ok 'wait_screen "^vsp> rule add \"z\": on syscall openat ?$"' "and a partly typed syscall (openat and openat2 agree that far)"
keys ' when fil' Tab
ok 'wait_screen "^vsp> rule add \"z\": on syscall openat when filename $"' "a field of the event on the line"
keys C-u 'rule add "z": on syscall read when fil' Tab
ok '! wait_screen "read when filename"' "not one the event lacks"
keys C-u 'rule add "z": on syscall openat when path in sec' Tab
ok 'wait_screen "when path in secrets $"' "a list the loaded policy declares"
keys C-u 'rule add "z": on syscall openat when proc.co' Tab
ok 'wait_screen "when proc.comm $"' "a field every event has"
keys ' in ["cat"] and not aut' Tab
ok 'wait_screen "and not auth_tool $"' "a macro of the policy"
keys C-u 'rule add "z": on file op' Tab
ok 'wait_screen "^vsp> rule add \"z\": on file open $"' "Tab completes a hook of the event catalog"
keys 'when file.pa' Tab
ok 'wait_screen "on file open when file.path $"' "and a resolved field of that hook"
keys C-u 'rule add "z": on net con' Tab
ok 'wait_screen "on net connect $"' "hooks of their own kind only"
keys 'when sock.po' Tab
ok 'wait_screen "on net connect when sock.port $"' "with their own fields"
keys C-u 'eval proc.co' Tab
ok 'wait_screen "^vsp> eval proc.comm $"' "eval completes fields too"
keys C-u 'something half typed'
ok 'wait_screen "^vsp> something half typed ?$"' "C-u kills the line, the new text is typed"
keys C-c
ok 'wait_screen "^vsp> (something half typed)?\^C ?$"' "Ctrl-C drops the line"
keys 'tail 1' Enter
ok 'wait_screen "^vsp> tail 1 ?$"' "a fresh prompt after Ctrl-C: nothing left of the dropped line"
ok 'wait_screen "shadow.jsonl:2 syscall openat filename=/etc/shadow pid 413 passwd -> allow"' "the session goes on after Ctrl-C"
keys '{"kind":"syscall","name":"openat",' Enter
ok 'wait_screen "^\.\.\.> $"' "an open brace continues on the next line"
keys '"strings":{"filename":"/etc/shadow"},"proc":{"comm":"cat"}}' Enter
ok 'wait_screen "^event syscall openat: deny errno 13"' "the two lines are decided as one event"
keys C-d
ok 'wait_screen "^EXIT 0 ?$"' "Ctrl-D ends the session, exit 0"
ok 'grep -q "^status" hist && grep -q "^tail\\\\0401" hist' "the history file holds the commands"
ok '! grep -q "something half typed" hist' "not the dropped line"
ok '[ "$(stat -c %a hist)" = 600 ]' "the history file is private (0600)"
ok 'grep -q "\"rule\":\"read-shadow\"" err && ! screen | grep -q "\"seq\""' "audit records on stderr, not on the terminal"

# The second session starts before the first goes: killing the server's
# last session makes it exit, and a session started meanwhile can meet the
# dying server ("no server running").
old=$S
S=$S-2
start
tmux kill-session -t "$old"
ok 'wait_screen "^vsp> $"' "restarted"
keys Up
ok 'wait_screen "^vsp> \{\"kind\":\"syscall\",\"name\":\"openat\", \"strings\""' "Up recalls the last command of the last session, its lines joined"
keys C-u C-r 'tai'
ok 'wait_screen "tail 1"' "Ctrl-R finds an older command"
keys Enter
ok 'wait_screen "^no decisions yet ?$"' "the recalled command runs"
keys C-d
ok 'wait_screen "^EXIT 0 ?$"' "Ctrl-D again"
done_testing
