#!/bin/bash
# attach-cli.t: `vsp attach` usage and attach failures (no guest needed).
. "$(dirname "$0")/lib.sh"
[ -x "${VSP:-}" ] || { echo "Bail out! VSP must name the vsp binary"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

run() { rc=0; "$VSP" "$@" >"$T/out" 2>"$T/err" || rc=$?; }

run attach --help
ok "--help exits 0" eq "$rc" 0
ok "--help shows the usage" grep -q "usage: vsp attach" "$T/out"
run attach "$POL/shadow.vsp"
ok "no target: usage error 2" eq "$rc" 2
run attach --gdb 127.0.0.1:1 --xen d "$POL/shadow.vsp"
ok "two targets: usage error 2" eq "$rc" 2
run attach --gdb 127.0.0.1:1
ok "no policy: usage error 2" eq "$rc" 2
run attach --gdb 127.0.0.1:1 --mode fast "$POL/shadow.vsp"
ok "bad mode: usage error 2" eq "$rc" 2
printf 'on syscall opnat : deny;\n' >"$T/bad.vsp"
run attach --gdb 127.0.0.1:1 "$T/bad.vsp"
ok "policy errors: 1" eq "$rc" 1
run attach --gdb 127.0.0.1:1 --symbols "$T/nonexistent" "$POL/shadow.vsp"
ok "unreadable symbols: 2" eq "$rc" 2
# Without symbols they come from the guest (ksyms.t): no guest, exit 3.
run attach --gdb 127.0.0.1:1 "$POL/shadow.vsp"
ok "no symbols and no guest: cannot attach, 3" eq "$rc" 3
ok "and says why" grep -q "cannot attach to 127.0.0.1:1" "$T/err"
printf 'ffffffff81000000 T _stext\nffffffff81200000 T __x64_sys_openat\n' >"$T/System.map"
S="--symbols $T/System.map"
run attach --gdb 127.0.0.1:1 $S "$POL/shadow.vsp"
ok "nothing listening: cannot attach, 3" eq "$rc" 3
ok "and says why" grep -q "cannot attach to 127.0.0.1:1" "$T/err"
run attach --gdb nosuchhost.invalid:1234 $S "$POL/shadow.vsp"
ok "unknown host: 3" eq "$rc" 3
run attach --xen vsp-no-such-domain $S "$POL/shadow.vsp"
ok "--xen without a Xen host: 3" eq "$rc" 3
ok "--xen: a clear message" grep -q "cannot attach to vsp-no-such-domain" "$T/err"

# A stub that answers garbage: the attach fails cleanly, no hang.
if command -v python3 >/dev/null; then
	python3 - "$T/port" <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept()
c.recv(100)
c.sendall(b"+$" + b"*" * 100 + b"#00")
c.recv(100)
c.close()
PY
	for i in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
	run attach --gdb "127.0.0.1:$(cat "$T/port")" $S "$POL/shadow.vsp"
	ok "garbage from the stub: 3" eq "$rc" 3
	wait
fi

# The port is checked before anything is opened.
run attach --gdb 127.0.0.1:99999 "$POL/shadow.vsp"
ok "port 99999: usage error 2" eq "$rc" 2
ok "port 99999: says the range" grep -q "the port must be 1 to 65535" "$T/err"
run attach --gdb 127.0.0.1:0 "$POL/shadow.vsp"
ok "port 0: usage error 2" eq "$rc" 2
run attach --gdb 127.0.0.1:12x "$POL/shadow.vsp"
ok "port 12x: usage error 2" eq "$rc" 2

# A failed attach leaves an existing audit log as it was (it was emptied
# when the file was opened for writing before connecting).
printf '{"seq":1,"earlier":"run"}\n' >"$T/kept.audit"
cp "$T/kept.audit" "$T/kept.want"
run attach --gdb 127.0.0.1:1 $S --audit "$T/kept.audit" "$POL/shadow.vsp"
ok "failed attach with --audit: 3" eq "$rc" 3
ok "failed attach: the audit log keeps what it held" cmp -s "$T/kept.audit" "$T/kept.want"

# A FIFO as the policy is refused at once, not waited on.
mkfifo "$T/fifo.vsp"
rc=0; timeout 10 "$VSP" attach --gdb 127.0.0.1:1 "$T/fifo.vsp" >"$T/out" 2>"$T/err" || rc=$?
ok "a FIFO as the policy: refused, not waited on ($rc)" test "$rc" = 1 -o "$rc" = 2
ok "a FIFO as the policy: not a regular file" grep -q "not a regular file" "$T/err"

# A stub that takes the connection and never answers, as QEMU's does for a
# second client while a first one is attached: "busy", not a bare timeout.
if command -v python3 >/dev/null; then
	rm -f "$T/port"
	python3 - "$T/port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept()
time.sleep(30)
PY
	spid=$!
	for i in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
	run attach --gdb "127.0.0.1:$(cat "$T/port")" $S "$POL/shadow.vsp"
	ok "a silent stub: cannot attach, 3" eq "$rc" 3
	ok "a silent stub: the stub is busy" grep -q "the stub is busy" "$T/err"
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
fi

# attach warns, as check does, that a default holds only for named events.
printf 'default deny;\nrule "r": on syscall openat when path == "/x": allow;\n' >"$T/dd.vsp"
run attach --gdb 127.0.0.1:1 "$T/dd.vsp"
ok "default deny: attach warns it applies to trapped events only" \
	grep -q "the default 'deny' holds only for events a rule names" "$T/err"
done_testing
