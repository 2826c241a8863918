#!/bin/sh
# packs.t: the rule packs in stdlib-policies/, imported by name.
#   - every pack loads for the gdb backend, alone and all together; the
#     memory-write events of kernel-memory are refused for xen;
#   - xen-hypercalls is clean for xen, refused at attach on a kernel
#     without Xen's hypercall entry, alerts on calls off its profiles'
#     paths in a replayed trace and learns a guest's paths into a copy;
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
	kernel-integrity kernel-memory network persistence xen-hypercalls > all.vsp
"$VSP" disasm all.vsp > dis 2> err
is "$?" 0 "all packs imported by name load together"
ok '[ ! -s err ]' "... without diagnostics"
like "$(cat dis)" 'event file open:' "... and trap file open"

# xen-hypercalls: for Xen guests.  Clean for the xen backend; a kernel
# without Xen's hypercall entry is refused at attach, by rule and line,
# before connecting; by name, its profiles are read beside the pack.
"$VSP" check --backend xen "$PK/xen-hypercalls.vsp" > out 2>&1
is "$?" 0 "xen-hypercalls: clean for the xen backend"
ok '[ ! -s out ]' "xen-hypercalls: no warnings (its profiles are found)"
printf 'ffffffff81000000 T _stext\nffffffff81200000 T __x64_sys_openat\n' > nox.map
printf 'import "xen-hypercalls";\n' > xh.vsp
"$VSP" attach --gdb 127.0.0.1:1 --symbols nox.map xh.vsp > out 2> err
is "$?" 1 "xen-hypercalls on a kernel without Xen's hypercall entry: attach refuses"
like "$(cat err)" 'xen-hypercalls\.vsp:[0-9]+:[0-9]+: error: rule "mmu-update-path": hypercall mmu_update cannot be trapped through the gdb backend: the guest kernel has neither hypercall_page nor xen_hypercall_intel/_amd' \
	"... naming the rule and the reason"
ok '[ ! -s out ]' "... and writes no record"
printf 'ffffffff81000000 T _stext\nffffffff81001000 T xen_hypercall_intel\nffffffff81001040 T xen_hypercall_amd\n' > xen.map
"$VSP" attach --gdb 127.0.0.1:1 --symbols xen.map xh.vsp > out 2> err
is "$?" 3 "xen-hypercalls on a Xen guest kernel: on to connect (nothing listens: 3)"
# The kernel's own routes pass; a call from code of its own alerts, even
# through the multicall flush; learn mode adds the guest's paths.
cat > xh.jsonl <<'J'
{"seq":1,"kind":"hypercall","name":"mmu_update","nr":1,"args":[4096,1,0,32752,0],"proc":{"pid":9,"comm":"bash"},"stack":["mmu_update","xen_mc_flush","xen_set_pte","__handle_mm_fault","handle_mm_fault","exc_page_fault"]}
{"seq":2,"kind":"hypercall","name":"mmu_update","nr":1,"args":[4096,4,0,32752,0],"proc":{"pid":10,"comm":"insmod"},"stack":["mmu_update","xen_mc_flush","rootkit_hide_pages","do_one_initcall","do_init_module"]}
{"seq":3,"kind":"hypercall","name":"mmu_update","nr":1,"args":[4096,1,0,3,0],"proc":{"pid":11,"comm":"insmod"},"stack":["mmu_update","map_foreign_frame","do_one_initcall"]}
{"seq":4,"kind":"hypercall","name":"grant_table_op","nr":20,"args":[0,8192,2],"proc":{"pid":12,"comm":"blkback"},"stack":["grant_table_op","gnttab_map_refs","xen_blkbk_map","dispatch_rw_block_io"]}
{"seq":5,"kind":"hypercall","name":"grant_table_op","nr":20,"args":[0,8192,1],"proc":{"pid":13,"comm":"insmod"},"stack":["grant_table_op","steal_grant","do_one_initcall"]}
{"seq":6,"kind":"hypercall","name":"grant_table_op","nr":20,"args":[1,8192,1],"proc":{"pid":14,"comm":"xenwatch"},"stack":["grant_table_op","xenbus_unmap_ring","xenbus_unmap_ring_pv","xenbus_unmap_ring_vfree"]}
J
"$VSP" replay xh.vsp --trace xh.jsonl > a 2> err
is "$?" 0 "xen-hypercalls: the trace replays"
ok '[ ! -s err ]' "... without diagnostics"
is "$(grep -c . a)" 3 "three records: the calls off the kernel's paths"
like "$(grep '"seq":2,' a)" '"rule":"mmu-update-path","verdict":null,"severity":"alert"' "mmu_update through the multicall flush from a module's function: alert"
like "$(grep '"seq":3,' a)" '"rule":"mmu-update-path".*"msg":"mmu_update of 1 entries \(domain 3\) from an unlearned path"' "mmu_update of another domain's frame from a module: alert"
like "$(grep '"seq":5,' a)" '"rule":"grant-table-path","verdict":null,"severity":"alert"' "grant_table_op from a module: alert"
mkdir -p learn
cp "$PK"/xen-hypercalls.vsp "$PK"/xen-hypercalls-*.paths learn/
"$VSP" replay --policy-path learn xh.vsp --trace xh.jsonl --mode learn > a 2> err
is "$?" 0 "xen-hypercalls: learn mode on a copy of the pack"
ok 'grep -qx "map_foreign_frame <- do_one_initcall" learn/xen-hypercalls-mmu.paths' \
	"... adds the guest's mmu_update path to the copy's profile"
ok 'grep -qx "xen_mc_flush <- xen_\*" learn/xen-hypercalls-mmu.paths' "... keeping the shipped patterns"
ok 'grep -qx "steal_grant <- do_one_initcall" learn/xen-hypercalls-grant.paths' \
	"... and the grant_table_op path to the grant profile"
ok "! grep -q map_foreign_frame \"\$PK/xen-hypercalls-mmu.paths\"" "... and leaves the shipped profile alone"
"$VSP" replay --policy-path learn xh.vsp --trace xh.jsonl > a 2> err
is "$(grep -c . a)" 0 "after learning, the same trace raises nothing"

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
