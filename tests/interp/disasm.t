#!/bin/sh
# disasm.t: `vsp disasm` against golden files.
#
# Each tests/interp/dis/NAME.vsp is disassembled from inside that
# directory (so file names in the output are as short as in the golden
# file) and compared with NAME.vsp.dis byte for byte.  VSP_UPDATE=1
# rewrites the golden files instead; review the diff before committing.
dir=$(cd "$(dirname "$0")/dis" && pwd)
VSP=${VSP:-$(pwd)/build/vsp}
ext="${BUILD:-$(dirname "$VSP")}/extensions"
n=0
fail=0
cd "$dir" || exit 1
for f in *.vsp; do
	n=$((n + 1))
	out=$("$VSP" disasm --extern-path "$ext" "$f" 2>&1)
	status=$?
	if [ -n "$VSP_UPDATE" ]; then
		printf '%s\n' "$out" > "$f.dis"
	fi
	if [ $status -eq 0 ] && printf '%s\n' "$out" | cmp -s - "$f.dis"; then
		echo "ok $n - disasm $f"
	else
		echo "not ok $n - disasm $f (status $status)"
		printf '%s\n' "$out" | diff -u "$f.dis" - | sed 's/^/# /'
		fail=$((fail + 1))
	fi
done
# A policy with errors prints diagnostics and exits 1, with no bytecode.
n=$((n + 1))
tmp=$(mktemp -d)
printf 'on syscall opnat : deny;\n' > "$tmp/bad.vsp"
out=$("$VSP" disasm "$tmp/bad.vsp" 2>&1)
status=$?
if [ $status -eq 1 ] && ! printf '%s' "$out" | grep -q 'instructions'; then
	echo "ok $n - disasm of a bad policy fails with status 1"
else
	echo "not ok $n - disasm of a bad policy fails with status 1 (got $status)"
	fail=$((fail + 1))
fi
rm -rf "$tmp"
echo "1..$n"
exit $fail
