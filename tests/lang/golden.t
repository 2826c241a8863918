#!/bin/sh
# golden.t: `vsp check` on every tests/lang/bad/NAME.vsp must print exactly
# NAME.vsp.err (diagnostics, source lines and carets) and exit 1 (0 for the
# warn_* cases, which only warn); every tests/lang/good/*.vsp must check
# clean with exit 0 and no output, or, where good/NAME.vsp.err exists,
# print exactly the warnings it holds.  UPDATE_GOLDEN=1 rewrites the .err files
# from what vsp prints: review the diff before committing it.
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$VSP" ] || [ ! -x "$VSP" ]; then
	echo "1..0 # SKIP \$VSP is not set to the vsp binary"
	exit 0
fi
# extern libraries come from the build's extension directory
ext="${BUILD:-$(dirname "$VSP")}/extensions"
n=0
fail=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

cd "$here/bad" || exit 1
for f in *.vsp; do
	"$VSP" check --extern-path "$ext" "$f" >"$tmp" 2>&1
	rc=$?
	if [ -n "$UPDATE_GOLDEN" ]; then
		cp "$tmp" "$f.err"
	fi
	case $f in warn_*) want=0 ;; *) want=1 ;; esac
	n=$((n + 1))
	if cmp -s "$tmp" "$f.err"; then
		echo "ok $n - bad/$f: diagnostics match $f.err"
	else
		echo "not ok $n - bad/$f: diagnostics differ from $f.err"
		diff -u "$f.err" "$tmp" | sed 's/^/# /'
		fail=1
	fi
	n=$((n + 1))
	if [ "$rc" = "$want" ]; then
		echo "ok $n - bad/$f: exit status $rc"
	else
		echo "not ok $n - bad/$f: exit status $rc, expected $want"
		fail=1
	fi
done

cd "$here/good" || exit 1
for f in *.vsp; do
	"$VSP" check --extern-path "$ext" "$f" >"$tmp" 2>&1
	rc=$?
	n=$((n + 1))
	if [ -n "$UPDATE_GOLDEN" ] && [ "$rc" = 0 ] && [ -s "$tmp" ]; then
		cp "$tmp" "$f.err"
	fi
	if [ "$rc" = 0 ] && { { [ ! -s "$tmp" ] && [ ! -e "$f.err" ]; } ||
	   { [ -e "$f.err" ] && cmp -s "$tmp" "$f.err"; }; }; then
		echo "ok $n - good/$f: checks clean (or with its expected warnings)"
	else
		echo "not ok $n - good/$f: exit status $rc"
		sed 's/^/# /' "$tmp"
		fail=1
	fi
done
echo "1..$n"
exit $fail
