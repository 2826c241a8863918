#!/bin/sh
# vsp attach --config FILE: key = value lines become options before the
# command line's; errors name FILE:LINE; relative paths are the file's.
. "$(dirname "$0")/../tap.sh"
mkdir -p "$T/etc"
# No events: nothing to refuse without the guest's symbols, so the runs
# below get as far as the attach (which fails: no guest there).
echo 'policy "none" version 1;' > "$T/etc/p.vsp"
run() { "$VSP" attach "$@" > "$T/out" 2> "$T/err"; rc=$?; }
conf() { printf '%s\n' "$@" > "$T/etc/g.conf"; }

conf '# a comment' '' 'gdb = 127.0.0.1:1' 'policy = p.vsp' '  mode  =  monitor  '
run --config "$T/etc/g.conf"
is "$rc" 3 "a good file: parsed, then the attach fails (no guest): 3"
like "$(cat "$T/err")" "cannot attach to 127.0.0.1:1" "  ... the target from the file"
run --config="$T/etc/g.conf" --gdb 127.0.0.1:2
like "$(cat "$T/err")" "cannot attach to 127.0.0.1:2" "the command line wins over the file"
conf 'gdb = 127.0.0.1:1' 'policy = nothere.vsp'
run -c "$T/etc/g.conf"
is "$rc" 2 "a missing policy: 2"
like "$(cat "$T/err")" "cannot read $T/etc/nothere.vsp" "  ... relative to the file's folder"
conf 'gdb = 127.0.0.1:1' 'policy = p.vsp' 'colour = blue'
run --config "$T/etc/g.conf"
is "$rc" 2 "an unknown key: 2"
like "$(cat "$T/err")" "g.conf:3: error: unknown key 'colour'" "  ... FILE:LINE and the key"
conf 'gdb 127.0.0.1:1'
run --config "$T/etc/g.conf"
like "$(cat "$T/err")" "g.conf:1: error: want 'key = value'" "a line without '=': FILE:LINE"
conf 'pin-paths = sometimes'
run --config "$T/etc/g.conf"
like "$(cat "$T/err")" "g.conf:1: error: 'pin-paths' is yes or no" "a yes/no key with another value"
conf 'mode ='
run --config "$T/etc/g.conf"
like "$(cat "$T/err")" "g.conf:1: error: 'mode' needs a value" "a key without a value"
conf 'qmp = qemu.sock' 'policy = p.vsp'
run --config "$T/etc/g.conf"
is "$rc" 3 "qmp = SOCKET: parsed, then the attach fails (no QEMU there): 3"
like "$(cat "$T/err")" "QMP $T/etc/qemu.sock" "  ... the socket relative to the file's folder"
conf 'libvirt = web0' 'libvirt-uri = test:///default' 'policy = p.vsp'
run --config "$T/etc/g.conf"
is "$rc" 3 "libvirt = DOMAIN: parsed, then the attach fails (no such domain): 3"
like "$(cat "$T/err")" "libvirt" "  ... through libvirt, with the file's URI"
conf 'gdb = 127.0.0.1:1' 'qmp = qemu.sock' 'policy = p.vsp'
run --config "$T/etc/g.conf"
is "$rc" 2 "two ways to reach the guest in one file: 2"
conf 'gdb = 127.0.0.1:1' 'policy = p.vsp' 'mode = sideways'
run --config "$T/etc/g.conf"
is "$rc" 2 "a bad value: the option's own check (2)"
like "$(cat "$T/err")" "--mode must be enforce, monitor or learn, not 'sideways'" "  ... with the option's message"
run --config "$T/etc/none.conf"
is "$rc" 2 "a missing file: 2"
like "$(cat "$T/err")" "cannot read $T/etc/none.conf" "  ... named"
run --config
is "$rc" 2 "--config without a file: 2"
# An audit file named in a config is appended to, never truncated.
echo '{"old":1}' > "$T/etc/audit.jsonl"
conf 'gdb = 127.0.0.1:1' 'policy = p.vsp' 'audit = audit.jsonl'
run --config "$T/etc/g.conf"
is "$(cat "$T/etc/audit.jsonl")" '{"old":1}' "the file's audit log is appended to (a restart keeps it)"
run --gdb 127.0.0.1:1 --audit "$T/etc/audit.jsonl" "$T/etc/p.vsp"
is "$(cat "$T/etc/audit.jsonl")" '{"old":1}' "--audit FILE on the command line: a failed attach leaves it as it was"
run --gdb 127.0.0.1:1 --metrics 127.0.0.1 "$T/etc/p.vsp"
is "$rc" 2 "--metrics without a port: 2"
run --gdb 127.0.0.1:1 --metrics-interval 0 "$T/etc/p.vsp"
is "$rc" 2 "--metrics-interval 0: 2"
done_testing
