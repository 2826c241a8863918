#!/bin/sh
# packs.t: the rule packs in stdlib-policies/, imported by name.
#   - every pack loads for the gdb backend, alone and all together; the
#     memory-write events of kernel-memory are refused for xen;
#   - `import "NAME";` finds a pack through --policy-path, VSP_POLICY_PATH,
#     the installed share/vsp/stdlib-policies beside the binary, and the
#     source tree; a name found nowhere names the places searched; a path
#     still imports a file;
#   - an allow rule before the import is an exception the pack never sees;
#   - docs/rules.md is what tools/gen-rules-doc.py makes of the packs.
. "$(dirname "$0")/../tap.sh"
cd "$T" || exit 1
PK=$ROOT/stdlib-policies

for f in "$PK"/*.vsp; do
	n=$(basename "$f" .vsp)
	"$VSP" check --backend gdb "$f" > out 2>&1
	is "$?" 0 "pack $n: clean for the gdb backend"
	ok '[ ! -s out ]' "pack $n: no warnings"
done
"$VSP" check --backend xen "$PK/kernel-memory.vsp" > out 2>&1
is "$?" 1 "kernel-memory: refused for the xen backend"
like "$(cat out)" 'syscall-table-write.*cannot be trapped through the xen backend: the Xen backend has no write watchpoints' \
	"kernel-memory: names the write events xen cannot trap"

printf 'import "%s";\n' containers credentials defense-evasion exec-hygiene \
	kernel-integrity kernel-memory network persistence > all.vsp
"$VSP" disasm all.vsp > dis 2> err
is "$?" 0 "all packs imported by name load together"
ok '[ ! -s err ]' "... without diagnostics"
like "$(cat dis)" 'event file open:' "... and trap file open"

# the search path
mkdir -p mine other
printf 'rule "mine": on syscall openat: log;\n' > mine/credentials.vsp
printf 'rule "other": on syscall openat: log;\n' > other/credentials.vsp
printf 'import "credentials";\n' > top.vsp
"$VSP" disasm --policy-path mine top.vsp > dis 2>&1
like "$(cat dis)" '"mine"' "--policy-path: its pack comes first"
VSP_POLICY_PATH=other:mine "$VSP" disasm top.vsp > dis 2>&1
like "$(cat dis)" '"other"' "VSP_POLICY_PATH: the first directory with the pack"
VSP_POLICY_PATH=other "$VSP" disasm --policy-path mine top.vsp > dis 2>&1
like "$(cat dis)" '"mine"' "--policy-path before VSP_POLICY_PATH"
"$VSP" disasm top.vsp > dis 2>&1
like "$(cat dis)" '"read-shadow"' "without either: the source tree's pack"

# an installed layout: PREFIX/bin/vsp finds PREFIX/share/vsp/stdlib-policies
mkdir -p inst/bin inst/share/vsp/stdlib-policies
cp "$VSP" inst/bin/vsp
printf 'rule "installed": on syscall openat: log;\n' > inst/share/vsp/stdlib-policies/site-pack.vsp
printf 'import "site-pack";\n' > site.vsp
inst/bin/vsp disasm site.vsp > dis 2>&1
like "$(cat dis)" '"installed"' "an installed vsp finds its installed packs"

printf 'policy "p";\nimport "no-such-pack";\n' > bad.vsp
VSP_POLICY_PATH=mine "$VSP" check --policy-path other bad.vsp > out 2>&1
is "$?" 1 "a pack found nowhere: exit 1"
like "$(head -1 out)" "^bad\\.vsp:2:8: error: cannot import 'no-such-pack': no pack 'no-such-pack\\.vsp' in other, mine, .*share/vsp/stdlib-policies, .*/stdlib-policies" \
	"... located, naming every directory searched"
"$VSP" check --policy-path '' bad.vsp > out 2>&1
is "$?" 2 "--policy-path '': a usage error"

cp "$PK/network.vsp" ./local.vsp
printf 'import "local.vsp";\n' > bypath.vsp
"$VSP" disasm bypath.vsp > dis 2>&1
like "$(cat dis)" '"cloud-metadata"' "an import ending in .vsp is still a file"

# an exception: an allow rule before the import
cat > site.vsp <<'P'
rule "backup-reads-shadow": on file open
when file.path == "/etc/shadow" and proc.exe == "/usr/sbin/backupd": allow;
import "credentials";
P
cat > t.jsonl <<'J'
{"seq":1,"kind":"file","name":"open","file":{"path":"/etc/shadow","fspath":"/etc/shadow","name":"shadow","mode":33152},"open":{"flags":0},"proc":{"pid":7,"comm":"backupd","exe":"/usr/sbin/backupd"}}
{"seq":2,"kind":"file","name":"open","file":{"path":"/etc/shadow","fspath":"/etc/shadow","name":"shadow","mode":33152},"open":{"flags":0},"proc":{"pid":8,"comm":"backupd","exe":"/tmp/backupd"}}
J
"$VSP" replay site.vsp --trace t.jsonl > a 2> err
is "$?" 0 "the exception replays"
like "$(grep '"seq":1,' a)" '"rule":"backup-reads-shadow","verdict":"allow"' "the excepted program is allowed by the exception"
ok '! grep -q "\"seq\":1,.*read-shadow" a' "... and the pack's rule never sees it"
like "$(grep '"seq":2,' a)" '"rule":"read-shadow","verdict":"deny","errno":13' "another program of the same name is still denied"

"$ROOT/tools/gen-rules-doc.py" --check "$ROOT" > out 2>&1
is "$?" 0 "docs/rules.md is current and every rule has its metadata"
[ -s out ] && sed 's/^/# /' out
done_testing
