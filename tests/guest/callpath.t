#!/bin/bash
# callpath.t: vsp's call paths at traps on five kernel functions, held
# against the kernel's own stack traces for the same calls (ftrace's
# func_stack_trace), over at least 200 traps; every unwinding source is
# measured: ORC, instruction analysis of vmlinux's code, instruction
# analysis of code read from guest memory (a System.map and no vmlinux),
# and ORC by the tables read from guest memory (no vmlinux at all).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/callpath_lib.sh"
guest_setup

ok "the probe builds against libvsp.a" callpath_build_probe
callpath_run acc -- 'cred_walk 30'
read -r hits matched oe ie fa ft op ip me mo ms < <(callpath_compare acc 2>"$T/acc.diff")
echo "# hits=$hits matched=$matched orc_exact=$oe insn_exact=$ie mem_exact=$me morc_exact=$mo morc_as_orc=$ms frames=$fa/$ft orc_partial=$op insn_partial=$ip"
sed -n 's/^DONE /# probe: /p' "$T/acc.probe"
head -5 "$T/acc.diff" >&2

ok "the workload ran" grep -q "VSP cred_walk 30 ok" "$T/acc.log"
ok "nokaslr: slide 0 found" grep -q "^SLIDE 0 " "$T/acc.probe"
ok "at least 200 traps in the workload" test "${hits:-0}" -ge 200
ok "almost every trap paired with a kernel trace" \
	test $((${matched:-0} * 100)) -ge $((${hits:-1} * 95))
ok "ORC paths equal the kernel's (>= 98%)" \
	test $((${oe:-0} * 100)) -ge $((${matched:-1} * 98))
ok "instruction-analysis paths equal the kernel's (>= 95%)" \
	test $((${ie:-0} * 100)) -ge $((${matched:-1} * 95))
ok "instruction analysis from guest memory alone (>= 95%)" \
	test $((${me:-0} * 100)) -ge $((${matched:-1} * 95))
ok "ORC tables from guest memory give the vmlinux tables' paths at every trap" \
	eq "${ms:-x}" "${hits:-y}"
ok "frame agreement (ORC) >= 99%" test $((${fa:-0} * 100)) -ge $((${ft:-1} * 99))
ok "no partial ORC path" test "${op:-1}" = 0
ok "setuid reaches commit_creds through __sys_setuid (tail jumps allowed)" \
	grep -q "orc=commit_creds<__sys_setuid<do_syscall_64<entry_SYSCALL_64_after_hwframe" "$T/acc.probe"
# Process context (BTF offsets) at the same traps: each forked child's
# do_exit names the parent whose kernel_clone came just before.
read -r forks kids < <(awk '$1 == "HIT" && $5 == "cred_walk" {
		if ($3 == "kernel_clone") parent = $4
		if ($3 == "do_exit" && $4 != parent) {
			n++
			for (i = 6; i <= NF; i++) if ($i == "ppid=" parent) k++
		}
	} END { print n + 0, k + 0 }' "$T/acc.probe")
ok "children's ppid is the forking parent ($kids of $forks)" \
	test "${forks:-0}" -ge 25 -a "${kids:-0}" = "${forks:-x}"
ok "uid and euid read as root's" \
	bash -c "! awk '\$1 == \"HIT\" && \$5 == \"cred_walk\"' '$T/acc.probe' | grep -v 'uid=0 euid=0'"
rpu=$(sed -n 's/.*reads_per_unwind \([0-9.]*\).*/\1/p' "$T/acc.probe")
ok "about one stack read per unwind ($rpu)" awk -v r="${rpu:-9}" 'BEGIN { exit !(r <= 1.5) }'
done_testing
