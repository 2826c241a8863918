#!/bin/bash
# ksyms.t: attaching with nothing but the stub.  On a KASLR guest,
# `vsp attach --gdb` with no --symbols decodes the running kernel's own
# kallsyms from guest memory and enforces; `vsp profile --gdb` writes the
# same table, which must agree with the guest's own /proc/kallsyms (every
# symbol: name, type, address) and with `vsp profile` of the kernel image
# (the BTF and ORC tables the profiles carry too);
# symbols that do not match the running kernel (a System.map of another
# build, kernel text changed at a trapped function) are refused with exit
# 3, no trap placed, and the guest runs on untouched.
. "$(dirname "$0")/lib.sh"
guest_setup

# -- 1: no symbols given, KASLR on: enforced.
read -r qpid port < <("$RIG" boot --bg --kaslr --timeout 150 --log "$T/a.log" \
	'vsp_open /etc/hostname /etc/shadow')
QPIDS+=("$qpid")
rc=0
timeout -s INT 120 "$VSP" attach --gdb "127.0.0.1:$port" --stats \
	"$GUEST_DIR/../../examples/demo.vsp" >"$T/a.audit" 2>"$T/a.err" || rc=$?
guest_wait "$qpid" 60
r=$(result a 1)
ok "no --symbols: vsp attach exits 0" eq "$rc" 0
ok "symbols decoded from guest memory" grep -Eq "kernel symbols from guest memory: [0-9]{5,}, KASLR slide 0x[0-9a-f]+" "$T/a.err"
ok "verified before the first trap" grep -q "symbols verified against the running kernel" "$T/a.err"
ok "open(/etc/shadow) fails with EACCES" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$r"
ok "open(/etc/hostname) succeeds" grep -qx "VSP open /etc/hostname ok vspguest" <<<"$r"
ok "the deny is audited" grep -q '"rule":"read-shadow","verdict":"deny"' "$T/a.audit"
ok "process context from the guest's own BTF" grep -q "process context from the guest's own BTF" "$T/a.err"
ok "the record names the process (BTF offsets from guest memory)" \
	grep -q '"comm":"vsp_open"' "$T/a.audit"
ok "--stats gives the attach time and round trips" grep -Eq "^attach: +[0-9]+ ms and [0-9]+ round trips" "$T/a.err"
grep -E "kernel symbols from guest memory|own BTF|^attach:|per trap" "$T/a.err" | sed 's/^/# /'

# -- 2: the profile of the live guest against its own /proc/kallsyms.
read -r qpid port < <("$RIG" boot --bg --running --kaslr --timeout 400 --log "$T/p.log" \
	"$KSYMS_DUMP" 'vsp_loop 300 /etc/hostname 100')
QPIDS+=("$qpid")
for i in $(seq 1800); do grep -q "^VSP-RUN 2" "$T/p.log" 2>/dev/null && break; sleep 0.1; done
rc=0
"$VSP" profile --gdb "127.0.0.1:$port" --stats -o "$T/live.profile" 2>"$T/p.err" || rc=$?
kill "$qpid" 2>/dev/null
ok "vsp profile --gdb exits 0" eq "$rc" 0
sed 's/^/# /' "$T/p.err"
# Run-time addresses from the profile: the slide given in its header.
profile_symbols "$T/live.profile" >"$T/live.run"
guest_kallsyms "$T/p.log" >"$T/kallsyms.core"
n_k=$(wc -l <"$T/kallsyms.core")
n_same=$(comm -12 <(sort "$T/live.run") <(sort "$T/kallsyms.core") | wc -l)
ok "the guest dumped its kallsyms ($n_k core symbols)" test "$n_k" -gt 50000
ok "every symbol of /proc/kallsyms decoded: name, type, address ($n_same of $n_k)" \
	eq "$n_same" "$n_k"
ok "and nothing else ($(wc -l <"$T/live.run") decoded)" eq "$(wc -l <"$T/live.run")" "$n_k"
ok "text and data symbols all there" test "$(grep -c ' [TtDdBbRr] ' "$T/kallsyms.core")" -eq \
	"$(comm -12 <(sort "$T/live.run") <(sort "$T/kallsyms.core") | grep -c ' [TtDdBbRr] ')"
"$VSP" profile -o "$T/image.profile" "$VMLINUZ" 2>/dev/null
ok "vsp profile of the vmlinuz gives the same symbols" \
	cmp <(grep -v '^#' "$T/image.profile") <(grep -v '^#' "$T/live.profile")
ok "  ... and the same kallsyms digest, link-time, from the image and the live guest ($(grep -c '^# kallsyms-window ' "$T/live.profile") windows)" \
	bash -c "grep -q '^# kallsyms-digest 1 ' '$T/live.profile' &&
		cmp <(grep '^# kallsyms-' '$T/image.profile') <(grep '^# kallsyms-' '$T/live.profile')"
# The sections after the symbols: the BTF and ORC tables the guest runs
# with are the image's, byte for byte.  The tail jumps scanned from the
# running text are the image's but for the returns: in the image every
# `ret` is a `jmp __x86_return_thunk`, which boot patches back into `ret`.
python3 - "$T/image.profile" "$T/live.profile" >"$T/sections" <<'EOF'
import base64, struct, sys, zlib
def sections(path):
    out, name, data, syms = {}, None, [], {}
    for line in list(open(path)) + ["#end\n"]:
        if line.startswith("#="):
            data.append(line[2:].strip())
            continue
        if name:
            out[name] = zlib.decompress(base64.b64decode("".join(data)))
            name, data = None, []
        if line.startswith("# section "):
            name = line.split()[2]
        elif not line.startswith("#"):
            f = line.split()
            syms.setdefault(int(f[0], 16), f[2])
    return out, syms
(img, isyms), (live, lsyms) = sections(sys.argv[1]), sections(sys.argv[2])
for n in ("btf", "orc_unwind_ip", "orc_unwind"):
    a, b = img.get(n), live.get(n)
    print(n, len(a or b""), len(b or b""), "same" if a == b else "differ")
def jumps(t, syms):
    return {(syms.get(to), syms.get(fr)) for to, fr in
            (struct.unpack("<QQ", t[i:i + 16]) for i in range(0, len(t), 16))
            if syms.get(to) != "__x86_return_thunk"}
i, l = jumps(img.get("tails", b""), isyms), jumps(live.get("tails", b""), lsyms)
print("tails", len(i), len(l), len(i & l))
chain = {("__x64_sys_setuid", "x64_sys_call"), ("__sys_setuid", "__x64_sys_setuid")}
print("chain", int(chain <= i), int(chain <= l))
EOF
sed 's/^/# section: /' "$T/sections"
for s in btf orc_unwind_ip orc_unwind; do
	ok "the live profile's $s is the image's" grep -Eq "^$s [1-9][0-9]* [0-9]+ same$" "$T/sections"
done
ok "the tail jumps but the returns: the same in both, give or take 1%" \
	awk '$1 == "tails" { exit !($2 > 10000 && ($2 - $4) * 100 <= $2 && ($3 - $4) * 100 <= $3) }' "$T/sections"
ok "both hold setuid's chain (x64_sys_call -> __x64_sys_setuid -> __sys_setuid)" \
	grep -qx "chain 1 1" "$T/sections"

# -- 3: a System.map of another build (symbols moved by 0x40 from the
# middle of the text on) is refused; the guest runs on unguarded.
mid=$(awk '$3 == "__x64_sys_openat" { print $1 }' "$SYSTEM_MAP")
python3 - "$SYSTEM_MAP" "$mid" >"$T/other.map" <<'EOF'
import sys
lo = int(sys.argv[2], 16) - 0x200000
for line in open(sys.argv[1]):
    f = line.split()
    v = int(f[0], 16)
    if v >= lo:
        f[0] = "%016x" % (v + 0x40)
    print(" ".join(f))
EOF
read -r qpid port < <("$RIG" boot --bg --kaslr --timeout 150 --log "$T/w.log" \
	'vsp_open /etc/shadow')
QPIDS+=("$qpid")
rc=0
timeout -s INT 120 "$VSP" attach --gdb "127.0.0.1:$port" --symbols "$T/other.map" \
	"$POL/shadow.vsp" >"$T/w.audit" 2>"$T/w.err" || rc=$?
guest_wait "$qpid" 60
ok "another build's System.map: exit 3" eq "$rc" 3
ok "the message says what did not match" grep -q "refusing: .*\(does not match\|do not match\)" "$T/w.err"
ok "no trap placed" bash -c "! grep -q '^vsp attach: trap ' '$T/w.err'"
ok "the guest ran on untouched" grep -qx "VSP open /etc/shadow ok .*" <<<"$(result w 1)"
ok "the guest ran to its end" has w.log VSP-DONE
sed -n 's/^vsp attach: refusing/# refusing/p' "$T/w.err"

# -- 3b: one handler moved (the slide is found from the rest): the
# check against the guest's own kallsyms names it.
python3 - "$SYSTEM_MAP" >"$T/one.map" <<'EOF'
import sys
for line in open(sys.argv[1]):
    f = line.split()
    if f[2] == "__x64_sys_openat":
        f[0] = "%016x" % (int(f[0], 16) + 0x10)
    print(" ".join(f))
EOF
read -r qpid port < <("$RIG" boot --bg --kaslr --timeout 150 --log "$T/o.log" \
	'vsp_open /etc/shadow')
QPIDS+=("$qpid")
rc=0
timeout -s INT 120 "$VSP" attach --gdb "127.0.0.1:$port" --symbols "$T/one.map" \
	"$POL/shadow.vsp" >"$T/o.audit" 2>"$T/o.err" || rc=$?
guest_wait "$qpid" 60
ok "one symbol off: exit 3" eq "$rc" 3
ok "the message names it and both addresses" \
	grep -q "refusing: .*__x64_sys_openat is at 0x[0-9a-f]* in the symbols but at 0x[0-9a-f]* in the running kernel" "$T/o.err"
ok "no trap placed" bash -c "! grep -q '^vsp attach: trap ' '$T/o.err'"
ok "the guest ran on untouched" grep -qx "VSP open /etc/shadow ok .*" <<<"$(result o 1)"
sed -n 's/^vsp attach: refusing/# refusing/p' "$T/o.err"

# -- 4: kernel text changed at a trapped function: refused, with the
# symbols from the file and with those from the guest alike.
read -r qpid port < <("$RIG" boot --bg --running --timeout 150 --log "$T/h.log" \
	'vsp_loop 500 /etc/shadow 50' 'vsp_open /etc/shadow')
QPIDS+=("$qpid")
for i in $(seq 1200); do grep -q "^VSP-RUN 1" "$T/h.log" 2>/dev/null && break; sleep 0.1; done
openat=$(awk '$3 == "__x64_sys_openat" { print $1 }' "$SYSTEM_MAP")
# `jmp .+5` over the ftrace NOP: harmless, but a hook's shape.
python3 - "$port" "$openat" <<'EOF'
import socket, sys
port, addr = int(sys.argv[1]), int(sys.argv[2], 16)
s = socket.create_connection(("127.0.0.1", port))
def pkt(p):
    s.sendall(b"$%s#%02x" % (p, sum(p) & 0xff))
    buf = b""
    while True:
        buf += s.recv(4096)
        if b"#" in buf[buf.find(b"$"):] and len(buf) - buf.rfind(b"#") >= 3:
            return buf
s.sendall(b"\x03")
s.recv(4096)
pkt(b"M%x,5:e900000000" % addr)
s.sendall(b"$D#44")
s.recv(64)
s.close()
EOF
rc1=0 rc2=0
timeout -s INT 60 "$VSP" attach --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
	"$POL/shadow.vsp" >/dev/null 2>"$T/h1.err" || rc1=$?
timeout -s INT 60 "$VSP" attach --gdb "127.0.0.1:$port" \
	"$POL/shadow.vsp" >/dev/null 2>"$T/h2.err" || rc2=$?
guest_wait "$qpid" 90
ok "changed text, --symbols: exit 3" eq "$rc1" 3
ok "changed text, guest symbols: exit 3" eq "$rc2" 3
ok "the message names the function and the bytes" \
	grep -q "kernel text at __x64_sys_openat (0x$openat) is e9 00 00 00 00" "$T/h1.err"
ok "the same refusal with the guest's own symbols" \
	grep -q "refusing: .*kernel text at __x64_sys_openat (0x$openat) is e9 00 00 00 00" "$T/h2.err"
ok "no trap placed either time" bash -c "! grep -q '^vsp attach: trap ' '$T/h1.err' '$T/h2.err'"
ok "the guest ran on: its loop and last open succeeded" \
	grep -qx "VSP open /etc/shadow ok .*" <<<"$(result h 2)"
sed -n 's/^vsp attach: refusing/# refusing/p' "$T/h2.err"
done_testing
