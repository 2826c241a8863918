#!/bin/sh
# Never silent: an event the backend cannot trap is refused with its
# rule's location, by `vsp check --backend` ahead of time and by `vsp
# attach` before it connects (no guest needed).
. "$(dirname "$0")/../tap.sh"

cat > "$T/p.vsp" <<'P'
policy "t" version 1;
rule "shadow": on syscall openat when path == "/etc/shadow": deny EACCES;
rule "sh": on user "libc.so.6":system when arg0 != 0 : return 1;
on write modprobe_path : deny, alert;
P
cat > "$T/ok.vsp" <<'P'
rule "shadow": on syscall openat when path == "/etc/shadow": deny EACCES;
on kernel commit_creds : log;
P

"$VSP" check "$T/p.vsp" 2> "$T/err"
is "$?" 0 "check without --backend: clean"
"$VSP" check --backend gdb "$T/p.vsp" 2> "$T/err"
is "$?" 0 "check --backend gdb: every event of it traps there"
ok '! grep -q "p.vsp:3:.*error" "$T/err"' "the user event is trapped through the gdb backend"
ok '! grep -q "p.vsp:4:.*error" "$T/err"' "the write event is not refused: gdb places write watchpoints"
ok '! grep -q "p.vsp:2:.*error" "$T/err"' "the syscall event is not refused"
"$VSP" check --backend xen "$T/p.vsp" 2> "$T/err"
is "$?" 1 "check --backend xen: exit 1"
like "$(cat "$T/err")" 'write modprobe_path cannot be trapped through the xen backend: the Xen backend has no write watchpoints' \
	"xen: its own reason"
like "$(cat "$T/err")" 'p\.vsp:3:[0-9]+: error: rule "sh": user "libc.so.6":system cannot be trapped through the xen backend: ' \
	"xen: the user event, by file, line and rule"
"$VSP" check --backend gdb "$T/ok.vsp" 2> "$T/err"
is "$?" 0 "check --backend gdb: syscall and kernel events pass"
ok '! grep -q error "$T/err"' "and no error is printed (the path lint may warn)"
"$VSP" check --backend qemu "$T/ok.vsp" 2> "$T/err"
is "$?" 2 "an unknown backend is a usage error"
like "$(cat "$T/err")" "--backend takes gdb or xen, not 'qemu'" "and says which it takes"

# attach takes what the gdb backend traps and goes on to connect (nothing
# listens: 3).
"$VSP" attach --gdb 127.0.0.1:1 "$T/p.vsp" > "$T/out" 2> "$T/err"
is "$?" 3 "attach: syscall, user and write events: on to connect"
ok '! grep -q "p.vsp:.*error" "$T/err"' "attach: no event refused"
printf 'ffffffff81000000 T _stext\nffffffff81200000 T __x64_sys_openat\nffffffff81200100 T commit_creds\n' > "$T/System.map"
"$VSP" attach --gdb 127.0.0.1:1 --symbols "$T/System.map" "$T/ok.vsp" > "$T/out" 2> "$T/err"
is "$?" 3 "attach: a policy it can trap goes on to connect (nothing listens: 3)"

# A write event whose object the guest's symbols lack: refused by line
# and column before connecting; one they have goes on to connect.
printf 'rule "w": on write no_such_object : deny;\n' > "$T/w.vsp"
"$VSP" attach --gdb 127.0.0.1:1 --symbols "$T/System.map" "$T/w.vsp" > "$T/out" 2> "$T/err"
is "$?" 1 "attach: a write to an object the symbols lack: exit 1"
ok '! grep -q "cannot attach" "$T/err"' "attach: refused before it tried to connect"
ok '[ ! -s "$T/out" ]' "attach: no audit record"
like "$(cat "$T/err")" 'w\.vsp:1:[0-9]+: error: rule "w": write no_such_object cannot be trapped through the gdb backend: the guest kernel.s symbols have no no_such_object' \
	"attach: the write event refused by its rule, with the reason"
printf 'ffffffff81000000 T _stext\nffffffff82000000 D modprobe_path\nffffffff82000100 D other\n' > "$T/System.map"
printf 'on write modprobe_path : deny;\n' > "$T/w.vsp"
"$VSP" attach --gdb 127.0.0.1:1 --symbols "$T/System.map" "$T/w.vsp" > "$T/out" 2> "$T/err"
is "$?" 3 "attach: a write to an object the symbols have goes on to connect"
done_testing
