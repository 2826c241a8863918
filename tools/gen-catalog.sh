#!/bin/sh
# gen-catalog.sh: remakes the generated event catalogs of the language.
#
#   tools/gen-catalog.sh [OUTDIR]        (default: base/)
#
# The language names guest events and constants by their x86-64 Linux and
# Xen names; the sources of truth are the installed kernel and Xen headers.
# This script reads them and writes
#   catalog_syscalls.c    syscall numbers (<asm/unistd_64.h>) joined with the
#                         prototypes of base/syscall-protos.txt, and the
#                         symbolic constants (errno, O_*, AT_*, PROT_*, MAP_*,
#                         CLONE_*) evaluated from the uapi headers;
#   catalog_hypercalls.c  hypercall numbers (<xen/xen.h>) joined with the
#                         argument names of Xen's public headers (below).
# Both outputs are committed, so a build needs neither the headers nor this
# script; tests/lang/t_catalog.c reruns it and compares byte for byte.
# POSIX sh and awk only (mawk is enough: no bitwise builtins are used).
# VSP_INCLUDE points at another include root (default /usr/include).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/base}
inc=${VSP_INCLUDE:-/usr/include}
protos=$top/base/syscall-protos.txt

unistd=$inc/x86_64-linux-gnu/asm/unistd_64.h
[ -r "$unistd" ] || unistd=$inc/asm/unistd_64.h
xenh=$inc/xen/xen.h
asmdir=$inc/x86_64-linux-gnu/asm
[ -d "$asmdir" ] || asmdir=$inc/asm

for f in "$unistd" "$xenh" "$protos" "$inc/asm-generic/errno-base.h" \
	 "$inc/asm-generic/errno.h" "$inc/asm-generic/fcntl.h" \
	 "$inc/linux/fcntl.h" "$inc/asm-generic/mman-common.h" \
	 "$inc/asm-generic/mman.h" "$asmdir/mman.h" "$inc/linux/mman.h" \
	 "$inc/asm-generic/hugetlb_encode.h" "$inc/linux/sched.h"; do
	if [ ! -r "$f" ]; then
		echo "gen-catalog: cannot read $f" >&2
		exit 1
	fi
done
mkdir -p "$out"

# Shared awk: emits one catalog entry.  `list` holds "name:type" words.
emit_awk='
function emit(name, nr, list, unknown_n,   n, a, i, parts, ty, line) {
	if (list == "-") {
		line = sprintf("\t{ \"%s\", %d, %d, false, {", name, nr, unknown_n)
		for (i = 0; i < unknown_n; i++)
			line = line sprintf(" { \"arg%d\", VSP_ARG_INT },", i)
		sub(/,$/, "", line)
		print line " } },"
		return
	}
	n = (list == "") ? 0 : split(list, a, " ")
	line = sprintf("\t{ \"%s\", %d, %d, true, {", name, nr, n)
	for (i = 1; i <= n; i++) {
		split(a[i], parts, ":")
		ty = "VSP_ARG_INT"
		if (parts[2] == "str") ty = "VSP_ARG_STR"
		else if (parts[2] == "path") ty = "VSP_ARG_PATH"
		else if (parts[2] != "") {
			print "gen-catalog: " name ": bad type " parts[2] > "/dev/stderr"
			bad = 1
		}
		line = line sprintf(" { \"%s\", %s },", parts[1], ty)
	}
	sub(/,$/, "", line)
	if (n == 0) line = line " { 0 }"
	print line " } },"
}'

# Constant expressions of the uapi headers: numbers (hex, octal, decimal,
# with U/L suffixes), names defined before, unary -, |, << and parentheses.
eval_awk='
function pow2(k,   r) { r = 1; while (k-- > 0) r *= 2; return r }
function bor(a, b,   r, bit) {
	r = 0; bit = 1
	while (a > 0 || b > 0) {
		if (a % 2 == 1 || b % 2 == 1) r += bit
		a = int(a / 2); b = int(b / 2); bit *= 2
	}
	return r
}
function num(t,   v, i, c, d) {
	sub(/[uUlL]+$/, "", t)
	v = 0
	if (t ~ /^0[xX]/) {
		for (i = 3; i <= length(t); i++) {
			c = tolower(substr(t, i, 1))
			d = index("0123456789abcdef", c) - 1
			if (d < 0) { err = 1; return 0 }
			v = v * 16 + d
		}
	} else if (t ~ /^0/) {
		for (i = 2; i <= length(t); i++) {
			d = index("01234567", substr(t, i, 1)) - 1
			if (d < 0) { err = 1; return 0 }
			v = v * 8 + d
		}
	} else if (t ~ /^[0-9]+$/) {
		v = t + 0
	} else
		err = 1
	return v
}
function lex(s,   i, j, c, L) {
	ntok = 0; i = 1; L = length(s)
	while (i <= L) {
		c = substr(s, i, 1)
		if (c == " " || c == "\t") { i++; continue }
		if (c ~ /[A-Za-z0-9_]/) {
			j = i
			while (j <= L && substr(s, j, 1) ~ /[A-Za-z0-9_]/) j++
			tok[++ntok] = substr(s, i, j - i); i = j; continue
		}
		if (substr(s, i, 2) == "<<") { tok[++ntok] = "<<"; i += 2; continue }
		tok[++ntok] = c; i++
	}
	pos = 1; err = 0
}
function p_or(   v) {
	v = p_shift()
	while (pos <= ntok && tok[pos] == "|") { pos++; v = bor(v, p_shift()) }
	return v
}
function p_shift(   v) {
	v = p_unary()
	while (pos <= ntok && tok[pos] == "<<") { pos++; v = v * pow2(p_unary()) }
	return v
}
function p_unary(   t, v) {
	if (pos > ntok) { err = 1; return 0 }
	t = tok[pos++]
	if (t == "-") return -p_unary()
	if (t == "(") {
		v = p_or()
		if (pos > ntok || tok[pos] != ")") err = 1
		pos++
		return v
	}
	if (t ~ /^[0-9]/) return num(t)
	if (t in val) return val[t]
	err = 1
	return 0
}'

# ---------------------------------------------------------------- syscalls
tmp=$out/.catalog_syscalls.c.$$
trap 'rm -f "$out"/.catalog_*.c.$$' EXIT INT TERM
{
cat <<'EOF'
/*
 * catalog_syscalls.c: the x86-64 Linux tables of the language (generated).
 *
 * Made by tools/gen-catalog.sh from <asm/unistd_64.h>, the prototypes in
 * base/syscall-protos.txt and the uapi headers that define errno, O_*,
 * AT_*, PROT_*, MAP_* and CLONE_*.  Do not edit: change the script or the
 * prototypes and rerun it.  base/catalog.c searches these tables.
 */
#include "base/catalog.h"

const struct vsp_call vsp_syscalls[] = {
EOF
awk "$emit_awk"'
FNR == NR {
	sub(/#.*/, "")
	if (NF == 0) next
	name = $1; $1 = ""; sub(/^ +/, "")
	if (NF > 6) { print "gen-catalog: " name ": more than 6 arguments" > "/dev/stderr"; bad = 1 }
	if (name in proto) { print "gen-catalog: " name ": listed twice" > "/dev/stderr"; bad = 1 }
	proto[name] = $0; order[++np] = name
	next
}
$1 == "#define" && $2 ~ /^__NR_/ && $3 ~ /^[0-9]+$/ {
	name = substr($2, 6)
	seen[name] = 1
	emit(name, $3, (name in proto) ? proto[name] : "-", 6)
}
END {
	for (i = 1; i <= np; i++)
		if (!(order[i] in seen))
			print "gen-catalog: no syscall " order[i] " in the header; left out" > "/dev/stderr"
	if (bad) exit 1
}' "$protos" "$unistd"
cat <<'EOF'
};
const size_t vsp_nsyscalls = sizeof vsp_syscalls / sizeof vsp_syscalls[0];

/* First name of a value wins in reverse lookups: primary errno names come
 * before their aliases. */
const struct vsp_const vsp_consts[] = {
EOF
# glibc's ENOTSUP is EOPNOTSUPP on Linux; the uapi headers do not name it.
printf '#define ENOTSUP EOPNOTSUPP\n' |
awk "$eval_awk"'
/^#[ \t]*define[ \t]/ {
	line = $0
	sub(/\/\*.*/, "", line); sub(/\/\/.*/, "", line)
	sub(/^#[ \t]*define[ \t]+/, "", line)
	name = line; sub(/[ \t(].*/, "", name)
	if (substr(line, length(name) + 1, 1) == "(") next	# function-like
	rest = substr(line, length(name) + 1)
	if (rest ~ /^[ \t]*$/) next
	lex(rest)
	v = p_or()
	if (err || pos <= ntok) next
	if (name in val) next
	val[name] = v
	cls = ""
	if (errfile && name ~ /^E[A-Z0-9]+$/) cls = "VSP_C_ERRNO"
	else if (envonly) cls = ""
	else if (name ~ /^O_[A-Z]/) cls = "VSP_C_OPEN"
	else if (name ~ /^AT_[A-Z]/) cls = "VSP_C_AT"
	else if (name ~ /^PROT_[A-Z]/) cls = "VSP_C_PROT"
	else if (name ~ /^MAP_[A-Z0-9]/) cls = "VSP_C_MAP"
	else if (name ~ /^CLONE_[A-Z]/ && name !~ /^CLONE_ARGS_/) cls = "VSP_C_CLONE"
	if (cls != "")
		printf "\t{ \"%s\", %.0f, %s },\n", name, v, cls
}' errfile=1 envonly=0 "$inc/asm-generic/errno-base.h" "$inc/asm-generic/errno.h" - \
   errfile=0 envonly=0 "$inc/asm-generic/fcntl.h" "$inc/linux/fcntl.h" \
   envonly=1 "$inc/asm-generic/hugetlb_encode.h" \
   envonly=0 "$inc/asm-generic/mman-common.h" "$asmdir/mman.h" \
   "$inc/asm-generic/mman.h" "$inc/linux/mman.h" "$inc/linux/sched.h"
cat <<'EOF'
};
const size_t vsp_nconsts = sizeof vsp_consts / sizeof vsp_consts[0];
EOF
} > "$tmp"
mv "$tmp" "$out/catalog_syscalls.c"

# -------------------------------------------------------------- hypercalls
# Argument names from Xen's public headers (the HYPERVISOR_* prototypes
# documented in xen/include/public/*.h and used by guest kernels).
# Pointers and handles are integers here: a policy tests their values.
tmp=$out/.catalog_hypercalls.c.$$
{
cat <<'EOF'
/*
 * catalog_hypercalls.c: the Xen hypercall table of the language (generated).
 *
 * Made by tools/gen-catalog.sh from <xen/xen.h> and the argument names of
 * Xen's public headers.  Do not edit: change the script and rerun it.
 * Hypercalls without a known prototype have arg0..arg4.
 */
#include "base/catalog.h"

const struct vsp_call vsp_hypercalls[] = {
EOF
awk "$emit_awk"'
FNR == NR {
	if (NF == 0) next
	name = $1; $1 = ""; sub(/^ +/, "")
	proto[name] = $0
	next
}
$1 == "#define" && $2 ~ /^__HYPERVISOR_/ && $3 ~ /^[0-9]+$/ {
	name = substr($2, 14)
	if (name in seen) next
	seen[name] = 1
	emit(name, $3, (name in proto) ? proto[name] : "-", 5)
}
END { if (bad) exit 1 }' - "$xenh" <<'EOF'
set_trap_table traps
mmu_update req count pdone foreigndom
set_gdt frame_list entries
stack_switch ss esp
set_callbacks event_address failsafe_address syscall_address
fpu_taskswitch set
sched_op_compat cmd arg
platform_op op
set_debugreg reg value
get_debugreg reg
update_descriptor ma desc
memory_op cmd arg
multicall call_list nr_calls
update_va_mapping va val flags
set_timer_op timeout
event_channel_op_compat op
xen_version cmd arg
console_io cmd count buffer
physdev_op_compat op
grant_table_op cmd uop count
vm_assist cmd type
update_va_mapping_otherdomain va val flags domid
iret
vcpu_op cmd vcpuid arg
set_segment_base which base
mmuext_op op count pdone foreigndom
xsm_op op
nmi_op cmd arg
sched_op cmd arg
callback_op cmd arg
xenoprof_op op arg
event_channel_op cmd arg
physdev_op cmd arg
hvm_op op arg
sysctl op
domctl op
kexec_op op uarg
tmem_op ops
argo_op cmd arg1 arg2 arg3 arg4
xenpmu_op op arg
dm_op domid nr_bufs bufs
hypfs_op cmd arg1 arg2 arg3 arg4
EOF
cat <<'EOF'
};
const size_t vsp_nhypercalls = sizeof vsp_hypercalls / sizeof vsp_hypercalls[0];
EOF
} > "$tmp"
mv "$tmp" "$out/catalog_hypercalls.c"
