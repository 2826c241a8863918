#!/bin/sh
# Replays every saved fuzz input through its target, built without
# libFuzzer (BUILD/tests/fuzz/fuzz_NAME.replay): the seed corpora under
# corpus/NAME/ and the minimised crashers under regress/NAME/, each of which
# once crashed or hung vsp.  Under `make check SAN=1` the sanitizers watch
# the replay too.  A target whose replayer is missing fails its inputs.
. "$(dirname "$0")/../tap.sh"
: "${BUILD:?set BUILD to the build directory (make check does)}"
HERE="$ROOT/tests/fuzz"

for dir in "$HERE"/corpus/* "$HERE"/regress/*; do
	[ -d "$dir" ] || continue
	name=$(basename "$dir")
	kind=$(basename "$(dirname "$dir")")
	n=$(ls "$dir" | wc -l)
	[ "$n" -gt 0 ] || continue
	bin="$BUILD/tests/fuzz/fuzz_$name.replay"
	if [ ! -x "$bin" ]; then
		fail "$kind/$name: replayer $bin is built"
		continue
	fi
	# A hang is a failure too: no single input may take long.
	timeout 120 "$bin" "$dir" > "$T/out" 2> "$T/err"
	st=$?
	if [ "$st" -eq 0 ] && ! grep -q 'ERROR: \|runtime error:' "$T/err"; then
		pass "$kind/$name: $n inputs replay cleanly"
	else
		fail "$kind/$name: $n inputs replay cleanly (status $st)"
		tail -n 1 "$T/out" | sed 's/^/#   last: /'
		head -n 20 "$T/err" | sed 's/^/#   /'
	fi
	got=$(grep -c '^replayed ' "$T/out")
	is "$got" "$n" "$kind/$name: every input was run"
done
done_testing
