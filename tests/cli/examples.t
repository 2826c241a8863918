#!/bin/sh
# The examples and rule packs check clean, and each example's trace replays
# to the audit log kept beside this test (reviewed by hand against the
# language's meaning; rewrite with UPDATE_GOLDEN=1 and review the diff).
. "$(dirname "$0")/../tap.sh"
cd "$ROOT" || exit 1

RFC3339='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z'
untime() { sed -E 's/,"time":"[^"]*"//'; }

for f in examples/*.vsp stdlib-policies/*.vsp; do
	"$VSP" check "$f" 2> "$T/err"
	is "$?" 0 "vsp check $f"
	ok '! grep -q "error:" "$T/err"' "$f: no diagnostics of error level"
done

for want in tests/cli/examples/*.audit; do
	name=$(basename "$want" .audit)
	"$VSP" replay "examples/$name.vsp" --trace "examples/$name.jsonl" > "$T/raw" 2> "$T/err"
	is "$?" 0 "replay examples/$name.vsp"
	# "time" is the wall clock of the decision: checked for form here,
	# left out of the comparison.
	ok '! grep -Evq "^\{\"seq\":[0-9]+,\"time_ns\":[0-9]+,\"time\":\"$RFC3339\"," "$T/raw"' \
		"$name: every record has an RFC 3339 time after time_ns"
	untime < "$T/raw" > "$T/got"
	if [ -n "$UPDATE_GOLDEN" ]; then cp "$T/got" "$want"; fi
	if cmp -s "$T/got" "$want"; then pass "$name: audit log as expected"; else
		fail "$name: audit log as expected"; diff "$want" "$T/got" | sed 's/^/# /' | head -20; fi
done

# The same decisions with the fast path and the cache off.
for want in tests/cli/examples/*.audit; do
	name=$(basename "$want" .audit)
	"$VSP" replay "examples/$name.vsp" --trace "examples/$name.jsonl" --no-fastpath --no-cache 2>/dev/null | untime > "$T/got"
	ok 'cmp -s "$T/got" "$want"' "$name: interpreter alone decides the same"
done

# The extension example: its library comes from the build (make builds
# examples/extensions/*.c into $BUILD/extensions), in process and isolated.
ext="${BUILD:-$(dirname "$VSP")}/extensions"
for f in examples/extensions/*.vsp; do
	"$VSP" check --extern-path "$ext" "$f" 2> "$T/err"
	is "$?" 0 "vsp check $f"
	ok '! grep -v "is the string the guest passed" "$T/err" | grep -q "warning:\|error:"' "$f: no diagnostics but the path lint"
done
for want in tests/cli/examples/extensions/*.audit; do
	name=$(basename "$want" .audit)
	for how in "" "--extern-isolate" "--no-fastpath --no-cache" "--extern-isolate --no-cache"; do
		# shellcheck disable=SC2086
		"$VSP" replay "examples/extensions/$name.vsp" --trace "examples/extensions/$name.jsonl" \
			--extern-path "$ext" $how > "$T/raw" 2> "$T/err"
		is "$?" 0 "replay examples/extensions/$name.vsp $how"
		untime < "$T/raw" > "$T/got"
		if [ -n "$UPDATE_GOLDEN" ] && [ -z "$how" ]; then cp "$T/got" "$want"; fi
		if cmp -s "$T/got" "$want"; then pass "extensions/$name $how: audit log as expected"; else
			fail "extensions/$name $how: audit log as expected"; diff "$want" "$T/got" | sed 's/^/# /' | head -20; fi
	done
done

# Learn, then enforce: a profile learned from a trace admits that trace.
cp examples/xen-mmu.vsp "$T/mmu.vsp"
: > "$T/xen-mmu.paths"
"$VSP" replay "$T/mmu.vsp" --trace examples/xen-mmu.jsonl --mode learn > "$T/learn" 2> "$T/err"
is "$?" 0 "learn mode replay"
is "$(grep -vc '^#' "$T/xen-mmu.paths")" 3 "three distinct paths learned"
ok 'sort -c "$T/xen-mmu.paths" 2>/dev/null || grep -q "^#" "$T/xen-mmu.paths"' "profile sorted"
ok '! grep -q "\"verdict\":\"deny\"" "$T/learn"' "learn mode does not fire the profile rule"
"$VSP" replay "$T/mmu.vsp" --trace examples/xen-mmu.jsonl > "$T/enf" 2>&1
ok '! grep -q "\"rule\":\"mmu-update-path\"" "$T/enf"' "enforce after learning: every learned path allowed"
"$VSP" replay "$T/mmu.vsp" --trace examples/xen-mmu.jsonl --mode learn > /dev/null 2>&1
is "$(grep -vc '^#' "$T/xen-mmu.paths")" 3 "learning again adds no duplicates"

done_testing
