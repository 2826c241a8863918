#!/bin/sh
# vsp replay of write events as `vsp attach --record` writes them
# (tests/guest/write.t records them live): the same decisions, and audit
# records whose event says what was written where, over what, by whom.
. "$(dirname "$0")/../tap.sh"

cat > "$T/w.vsp" <<'P'
policy "w" version 1;
rule "mp": on write modprobe_path : deny, alert "%{proc.comm} wrote modprobe_path at %{offset}: %{value} over %{old}";
rule "sct": on write sys_call_table[0..450] when offset >= 59 * 8 and offset < 60 * 8 : deny, alert "execve hooked";
rule "sct-log": on write sys_call_table[0..450] : log "sys_call_table at %{offset}";
rule "cp": on write core_pattern when value == 124 : pause;
P
cat > "$T/w.jsonl" <<'J'
{"seq":1,"time_ns":4226551088,"vm":"guest0","vcpu":0,"kind":"write","name":"modprobe_path","addr":-2103073215,"offset":1,"len":1,"value":116,"old":115,"proc":{"pid":85,"tid":85,"ppid":1,"comm":"sh","uid":0,"euid":0,"gid":0},"cr3":87285760,"stack":["proc_dostring","proc_sys_call_handler","vfs_write","ksys_write","do_syscall_64","entry_SYSCALL_64_after_hwframe"]}
{"seq":2,"kind":"write","name":"sys_call_table","addr":-2109730344,"offset":472,"len":8,"value":-1069547520,"old":-2130401184,"proc":{"pid":90,"comm":"insmod"}}
{"seq":3,"kind":"write","name":"sys_call_table","addr":-2109730816,"offset":0,"len":8,"value":1,"old":2,"proc":{"pid":90,"comm":"insmod"}}
{"seq":4,"kind":"write","name":"core_pattern","addr":-2101874208,"offset":0,"len":1,"value":124,"old":99,"proc":{"pid":86,"comm":"sh"}}
{"seq":5,"kind":"write","name":"core_pattern","addr":-2101874208,"offset":0,"len":1,"value":47,"old":99,"proc":{"pid":86,"comm":"sh"}}
J
"$VSP" replay "$T/w.vsp" --trace "$T/w.jsonl" > "$T/a" 2> "$T/err"
is "$?" 0 "write events replay"
like "$(grep '"seq":1,' "$T/a")" '"rule":"mp","verdict":"deny","errno":1,"severity":"alert"' "modprobe_path: denied"
like "$(grep '"seq":1,' "$T/a")" '"msg":"sh wrote modprobe_path at 1: 0x74 over 0x73"' "the message from the write's fields"
like "$(grep '"seq":1,' "$T/a")" '"addr":18446744071606478401,"offset":1,"len":1,"value":116,"old":115' "the record's event: addr, offset, len, value, old"
like "$(grep '"seq":1,' "$T/a")" '"stack":\["proc_dostring","proc_sys_call_handler","vfs_write"' "... and the writer's call path"
like "$(grep '"seq":2,' "$T/a")" '"rule":"sct","verdict":"deny"' "execve's entry (offset 472): denied"
like "$(grep '"seq":3,' "$T/a")" '"rule":"sct-log","verdict":null.*"msg":"sys_call_table at 0"' "another entry: logged only"
like "$(grep '"seq":4,' "$T/a")" '"rule":"cp","verdict":"pause"' "core_pattern piped to a program: pause"
ok '! grep -q "\"seq\":5," "$T/a"' "another core_pattern write: allowed, no record"
"$VSP" replay "$T/w.vsp" --trace "$T/w.jsonl" --stats > /dev/null 2> "$T/st"
like "$(cat "$T/st")" 'deny 2 return 0 redirect 0 kill 0 pause 1' "stats count the verdicts"
# The shipped pack's idt-write: the kernel's own IDT writes while it boots
# pass, whether vsp attached before the early handlers were set (from
# x86_64_start_kernel) or later (from start_kernel); a module's does not.
cat > "$T/idt.jsonl" <<'J'
{"seq":1,"kind":"write","name":"idt_table","addr":-2094317080,"offset":488,"len":8,"value":4294967295,"old":0,"proc":{"pid":0,"comm":"swapper"},"stack":["native_write_idt_entry","idt_setup_from_table.constprop.0","set_intr_gate","idt_setup_early_handler","x86_64_start_kernel"]}
{"seq":2,"kind":"write","name":"idt_table","addr":-2094317568,"offset":0,"len":8,"value":4294967295,"old":0,"proc":{"pid":0,"comm":"swapper"},"stack":["native_write_idt_entry","idt_setup_from_table.constprop.0","idt_setup_traps","trap_init","start_kernel","x86_64_start_reservations","x86_64_start_kernel"]}
{"seq":3,"kind":"write","name":"idt_table","addr":-2094317504,"offset":64,"len":8,"value":1,"old":2,"proc":{"pid":90,"comm":"insmod"},"stack":["vsp_kwrite_init","do_one_initcall","do_init_module","load_module","__do_sys_finit_module","do_syscall_64"]}
J
"$VSP" replay "$ROOT/stdlib-policies/kernel-memory.vsp" --trace "$T/idt.jsonl" > "$T/ia" 2> "$T/ierr"
is "$?" 0 "IDT writes replay against the kernel-memory pack"
ok '! grep -q "\"seq\":1," "$T/ia"' "idt-write: the early handlers' writes from x86_64_start_kernel pass"
ok '! grep -q "\"seq\":2," "$T/ia"' "idt-write: the writes from start_kernel pass"
like "$(grep '"seq":3,' "$T/ia")" '"rule":"idt-write","verdict":"deny"' "idt-write: a module's write is denied"
done_testing
