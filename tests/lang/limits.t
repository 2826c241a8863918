#!/bin/sh
# limits.t: every bound a policy cannot break, hit from just past it, with
# an error that names the limit; and just under it, accepted.  The policies
# are generated (some are megabytes): imports 64 deep, files of 16 MiB,
# expressions 1000 levels deep, macros 64 inside one another, 100,000 nodes once macros are inlined, 256
# stack slots, 64 lower() calls per event, 65,536 rules, lists of
# 1,048,576 items, string literals of 16,383 bytes.
if [ -z "$VSP" ] || [ ! -x "$VSP" ]; then
	echo "1..0 # SKIP \$VSP is not set to the vsp binary"
	exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-limits.XXXXXX")
trap 'rm -rf "$T"' EXIT
ROOT_EX=$(cd "$(dirname "$0")/../../examples" && pwd)
n=0
fail=0

# refused NAME FILE PATTERN: `vsp check FILE` exits 1 with an error
# matching PATTERN (a grep -E expression).
refused() {
	"$VSP" check "$2" >"$T/out" 2>&1
	rc=$?
	n=$((n + 1))
	if [ "$rc" = 1 ] && grep -Eq "$3" "$T/out"; then
		echo "ok $n - $1: refused, naming the limit"
	else
		echo "not ok $n - $1: exit $rc, wanted 1 and /$3/"
		grep -o 'error: .*' "$T/out" | cut -c1-200 | head -3 | sed 's/^/# /'
		fail=1
	fi
}

accepted() {
	"$VSP" check "$2" >"$T/out" 2>&1
	rc=$?
	n=$((n + 1))
	if [ "$rc" = 0 ]; then
		echo "ok $n - $1: accepted"
	else
		echo "not ok $n - $1: exit $rc"
		grep -o 'error: .*' "$T/out" | cut -c1-200 | head -3 | sed 's/^/# /'
		fail=1
	fi
}

# Imports: i0 imports i1 ... each one level deeper.
mkdir "$T/imp"
for i in $(seq 0 65); do printf 'import "i%d.vsp";\n' $((i + 1)) >"$T/imp/i$i.vsp"; done
echo 'rule "x": on syscall openat : deny EACCES;' >"$T/imp/i66.vsp"
refused "import depth 65" "$T/imp/i0.vsp" 'imports nested more than 64 deep'
accepted "import depth 64" "$T/imp/i3.vsp"

# A file over 16 MiB (comment lines).
awk 'BEGIN { s = "#"; while (length(s) < 1000) s = s s; for (i = 0; i < 17000; i++) print s }' >"$T/big.vsp"
refused "file of 17 MB" "$T/big.vsp" 'big\.vsp.*limit of 16 MiB'

# Nesting: a chain of `or` 1000 deep.
chain() { awk -v n="$1" 'BEGIN { printf "rule \"x\": on syscall openat when "; for (i = 0; i < n; i++) printf "dfd == %d or ", i; print "dfd == -1 : deny EACCES;" }'; }
chain 1000 >"$T/deep.vsp"
refused "expression 1001 levels deep" "$T/deep.vsp" 'nested too deeply \(more than 1000 levels\)'
chain 900 >"$T/deep-ok.vsp"
accepted "expression 901 levels deep" "$T/deep-ok.vsp"

# Macro expansion: m17 doubles m0 seventeen times.
awk 'BEGIN { print "macro m0 = dfd == 1;"; for (i = 1; i <= 17; i++) printf "macro m%d = m%d or m%d;\n", i, i - 1, i - 1; print "rule \"x\": on syscall openat when m17 : deny EACCES;" }' >"$T/macro.vsp"
refused "macros inlined past 100,000 nodes" "$T/macro.vsp" 'grows to [0-9]+ nodes .*the limit is 100000'

# Macros inside macros: as deep as the compiler inlines (64), no deeper;
# a chain of 4,001 once wrote past the checker's stack, one of 1,000
# passed the checker and then failed to compile with a misleading message.
mchain() { awk -v n="$1" 'BEGIN { print "macro m0 = dfd == 1;"; for (i = 1; i < n; i++) printf "macro m%d = m%d;\n", i, i - 1; printf "rule \"x\": on syscall openat when m%d : deny EACCES;\n", n - 1 }'; }
mchain 4001 >"$T/mchain.vsp"
refused "a chain of 4,001 macros" "$T/mchain.vsp" 'macros nested more than 64 deep'
mchain 1000 >"$T/mchain1k.vsp"
refused "a chain of 1,000 macros" "$T/mchain1k.vsp" "macros nested more than 64 deep \('m999' uses 'm998' \.\.\. uses 'm935'\)"
mchain 64 >"$T/mchain-ok.vsp"
accepted "a chain of 64 macros" "$T/mchain-ok.vsp"
rc=0
"$VSP" replay "$T/mchain-ok.vsp" --trace "$ROOT_EX/shadow.jsonl" >/dev/null 2>&1 || rc=$?
n=$((n + 1))
if [ $rc = 0 ]; then echo "ok $n - a chain of 64 macros compiles"; else echo "not ok $n - a chain of 64 macros compiles"; fail=1; fi

# The evaluation stack: 300 pending additions.
awk 'BEGIN { printf "rule \"x\": on syscall openat when 1 == "; for (i = 0; i < 300; i++) printf "(dfd + "; printf "1"; for (i = 0; i < 300; i++) printf ")"; print " : deny EACCES;" }' >"$T/stack.vsp"
refused "300 stack slots" "$T/stack.vsp" 'more than 256 stack slots'

# lower() keeps its result in a slot: 64 per event.
lowers() { awk -v n="$1" 'BEGIN { printf "rule \"x\": on syscall openat when "; for (i = 0; i < n; i++) printf "lower(path) == \"a%d\" or ", i; print "dfd == 1 : deny EACCES;" }'; }
lowers 65 >"$T/lower.vsp"
refused "65 lower() calls" "$T/lower.vsp" 'too many lower\(\) calls for one event \(at most 64\)'

# Rules per policy, imports included.
rules() { awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "rule \"r%d\": on syscall openat when dfd == %d : deny EACCES;\n", i, i }'; }
rules 65537 >"$T/rules.vsp"
refused "65,537 rules" "$T/rules.vsp" 'too many rules: 65537 in this policy, the limit is 65536'
rules 65536 >"$T/rules-ok.vsp"
accepted "65,536 rules" "$T/rules-ok.vsp"
mkdir "$T/ri"
rules 40000 >"$T/ri/a.vsp"
awk 'BEGIN { for (i = 0; i < 30000; i++) printf "rule \"s%d\": on syscall getpid when pid == %d : return 1;\n", i, i }' >"$T/ri/b.vsp"
printf 'import "a.vsp";\nimport "b.vsp";\n' >"$T/ri/top.vsp"
refused "70,000 rules through imports" "$T/ri/top.vsp" 'too many rules: 70000 in this policy, the limit is 65536'

# Items per list.
list() { awk -v n="$1" 'BEGIN { printf "list big = [0"; for (i = 1; i < n; i++) printf ",%d", i; print "];"; print "rule \"x\": on syscall openat when dfd in big : deny EACCES;" }'; }
list 1048577 >"$T/list.vsp"
refused "a list of 1,048,577 items" "$T/list.vsp" 'list of 1048577 items: the limit is 1048576'
list 1048576 >"$T/list-ok.vsp"
accepted "a list of 1,048,576 items" "$T/list-ok.vsp"

# String literals (and with them globs).
str() { awk -v n="$1" -v op="$2" 'BEGIN { printf "rule \"x\": on syscall openat when path %s \"/", op; for (i = 1; i < n; i++) printf "a"; print "\" : deny EACCES;" }'; }
str 16384 == >"$T/str.vsp"
refused "a string literal of 16,384 bytes" "$T/str.vsp" 'string literal of 16384 bytes: the limit is 16383'
str 16384 matches >"$T/glob.vsp"
refused "a glob of 16,384 bytes" "$T/glob.vsp" 'string literal of 16384 bytes: the limit is 16383'
str 16383 matches >"$T/glob-ok.vsp"
accepted "a glob of 16,383 bytes" "$T/glob-ok.vsp"

echo "1..$n"
exit $fail
