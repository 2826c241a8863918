#!/bin/sh
# vsp replay of hook events (language 1.1): resolved fields from the trace's
# objects, absent fields decided as failed reads, malformed objects refused
# by line number, and the audit record carrying what was resolved.
. "$(dirname "$0")/../tap.sh"

cat > "$T/h.vsp" <<'P'
policy "h" version 1;
rule "secret": on file open when file.path == "/etc/shadow": deny EACCES, alert "%{proc.exe} read %{file.path}";
rule "fs": on file open when file.fspath == "/shadow" and file.fs == "ext4": deny EPERM;
rule "meta": on net connect when sock.addr == "169.254.169.254" and sock.port == 80: deny ECONNREFUSED;
rule "init": on task kill when target.pid == 1 and proc.loginuid != 0: deny EPERM;
rule "part": on file open when event.partial: log "partial";
P
cat > "$T/h.jsonl" <<'J'
{"seq":1,"kind":"file","name":"open","file":{"path":"/etc/shadow","type":"file","ino":42},"proc":{"pid":7,"comm":"cat","exe":"/bin/busybox"}}
{"seq":2,"kind":"file","name":"open","file":{"path":"/mnt/x/shadow","fspath":"/shadow","fs":"ext4"},"proc":{"pid":7,"comm":"cat"}}
{"seq":3,"kind":"file","name":"open","file":{"path":"/etc/hosts","fspath":"/etc/hosts","fs":"ext4"},"proc":{"pid":7,"comm":"cat"}}
{"seq":4,"kind":"net","name":"connect","sock":{"family":"inet","type":"stream","addr":"169.254.169.254","port":80},"proc":{"pid":9,"comm":"wget"}}
{"seq":5,"kind":"task","name":"kill","target":{"pid":1,"comm":"init"},"proc":{"pid":9,"comm":"kill","loginuid":1000}}
{"seq":6,"kind":"task","name":"kill","target":{"pid":1,"comm":"init"},"proc":{"pid":9,"comm":"kill","loginuid":0}}
{"seq":7,"kind":"file","name":"open","proc":{"pid":7,"comm":"cat"}}
J
"$VSP" replay "$T/h.vsp" --trace "$T/h.jsonl" > "$T/a" 2> "$T/err"
is "$?" 0 "hook events replay"
like "$(grep '"seq":1,' "$T/a")" '"rule":"secret","verdict":"deny","errno":13' "file.path decides"
like "$(grep '"seq":1,' "$T/a")" '"msg":"/bin/busybox read /etc/shadow"' "resolved fields interpolate"
like "$(grep '"seq":1,' "$T/a")" '"file":\{"path":"/etc/shadow"' "the audit record carries file.path"
like "$(grep '"seq":1,' "$T/a")" '"proc":\{[^}]*"exe":"/bin/busybox"' "... and proc.exe in proc"
like "$(grep '"seq":2,' "$T/a")" '"rule":"fs","verdict":"deny","errno":1' "file.fspath and file.fs decide"
ok '! grep -q "\"seq\":3," "$T/a"' "an allowed file writes no record"
like "$(grep '"seq":4,' "$T/a")" '"rule":"meta","verdict":"deny","errno":111' "sock.addr and sock.port decide"
like "$(grep '"seq":4,' "$T/a")" '"sock":\{[^}]*"addr":"169.254.169.254"' "the record names the address"
like "$(grep '"seq":4,' "$T/a")" '"sock":\{[^}]*"port":80' "... and the port"
like "$(grep '"seq":5,' "$T/a")" '"rule":"init","verdict":"deny"' "target.pid and proc.loginuid decide"
ok '! grep -q "\"seq\":6," "$T/a"' "loginuid 0 is allowed"
like "$(grep '"seq":7,' "$T/a")" '"msg":"partial".*"partial":true' "an absent field is a failed read: event.partial"

# Guest bytes that are not UTF-8 travel as {"hex":..} in resolved objects
# too, and decide byte for byte: /etc/shadow spelt in hex is denied, a
# byte 0xff after it is another file.
printf '%s\n' '{"seq":8,"kind":"file","name":"open","file":{"path":{"hex":"2f6574632f736861646f77"},"fspath":"/x","fs":"tmpfs"},"proc":{"pid":7,"comm":"cat"}}' \
	'{"seq":9,"kind":"file","name":"open","file":{"path":{"hex":"2f6574632f736861646f77ff"},"fspath":"/x","fs":"tmpfs"},"proc":{"pid":7,"comm":"cat"}}' > "$T/hex.jsonl"
"$VSP" replay "$T/h.vsp" --trace "$T/hex.jsonl" > "$T/a" 2> "$T/err"
is "$?" 0 "hex resolved paths replay"
like "$(grep '"seq":8,' "$T/a")" '"rule":"secret","verdict":"deny"' "a hex file.path decides as its bytes"
ok '! grep -q "\"seq\":9," "$T/a"' "a byte 0xff more is another file"
# Falco's alert names a file hook's object in fd.name.
"$VSP" replay "$T/h.vsp" --trace "$T/h.jsonl" --audit-format falco > "$T/a" 2> "$T/err"
like "$(grep '"evt.num":1,' "$T/a")" '"fd.name":"/etc/shadow"' "falco format: fd.name is the resolved file.path"

# Malformed resolved objects: status 2 and the line number.
check_bad() {	# name, bad line
	printf '%s\n%s\n' "$(sed -n 1p "$T/h.jsonl")" "$2" > "$T/bad.jsonl"
	"$VSP" replay "$T/h.vsp" --trace "$T/bad.jsonl" --audit "$T/audit" 2> "$T/err"
	is "$?" 2 "$1: exit status 2"
	like "$(cat "$T/err")" 'bad\.jsonl:2: error: ' "$1: message names line 2"
	ok '[ ! -s "$T/audit" ]' "$1: nothing written to the audit log"
}
check_bad "file not an object" '{"kind":"file","name":"open","file":"/etc/shadow"}'
check_bad "file.path not a string" '{"kind":"file","name":"open","file":{"path":7}}'
check_bad "file.ino not an integer" '{"kind":"file","name":"open","file":{"ino":"x"}}'
check_bad "sock.port not an integer" '{"kind":"net","name":"connect","sock":{"port":"80"}}'
check_bad "proc.exe not a string" '{"kind":"file","name":"open","proc":{"exe":1}}'
check_bad "proc.parent not an object" '{"kind":"file","name":"open","proc":{"parent":3}}'
check_bad "proc.parent.pid not an integer" '{"kind":"file","name":"open","proc":{"parent":{"pid":"1"}}}'
check_bad "file.path of bad hex" '{"kind":"file","name":"open","file":{"path":{"hex":"2f7"}}}'
check_bad "unknown hook" '{"kind":"file","name":"opne"}'

done_testing
