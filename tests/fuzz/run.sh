#!/bin/sh
# run.sh: runs every libFuzzer target built by `make fuzz`.
#
#   tests/fuzz/run.sh BUILDDIR [TARGET...]
#
# Each target (BUILDDIR/tests/fuzz/fuzz_NAME.fuzz) runs for FUZZ_SECONDS
# (default 60) on a working corpus seeded from tests/fuzz/corpus/NAME/;
# new inputs it finds stay in BUILDDIR/corpus/NAME/ for the next run, never
# in the tree.  A crash leaves its input in BUILDDIR/crashes/NAME/ and the
# log in BUILDDIR/logs/NAME.log; minimise it with `-minimize_crash=1` and
# keep it under tests/fuzz/regress/NAME/ (README.md).  Prints one summary
# line per target (seconds, executions, coverage, crashes) and exits 1 when
# any target crashed.
set -u
B=${1:?usage: run.sh BUILDDIR [TARGET...]}
shift
SECS=${FUZZ_SECONDS:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
# A bug reported but not yet fixed need not stop the search: list it in
# known-bugs.asan (ASan run-time suppressions, README.md).
if [ -f "$HERE/known-bugs.asan" ]; then
	ASAN_OPTIONS="suppressions=$HERE/known-bugs.asan:${ASAN_OPTIONS:-}"
	export ASAN_OPTIONS
fi

if [ $# -eq 0 ]; then
	set -- $(cd "$B/tests/fuzz" && ls fuzz_*.fuzz | sed 's/^fuzz_//; s/\.fuzz$//')
fi

status=0
for name in "$@"; do
	bin="$B/tests/fuzz/fuzz_$name.fuzz"
	seeds="$HERE/corpus/$name"
	work="$B/corpus/$name"
	crashes="$B/crashes/$name"
	log="$B/logs/$name.log"
	mkdir -p "$work" "$crashes" "$B/logs"
	before=$(ls "$crashes" | wc -l)
	dict=
	[ -f "$HERE/$name.dict" ] && dict="-dict=$HERE/$name.dict"
	# -timeout: one input may not take a second (a hang is a bug here);
	# -rss_limit_mb: a policy or trace must not make us balloon either.
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" \
		$dict "$work" "$seeds" < /dev/null > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
	ncrash=$(( $(ls "$crashes" | wc -l) - before ))
	printf 'fuzz %-9s %4ss  %10s execs  cov %6s  crashes %s  rc %s\n' \
		"$name" "$SECS" "${execs:-?}" "${cov:-?}" "$ncrash" "$rc"
	if [ "$rc" -ne 0 ]; then
		status=1
		grep -m1 -A12 'ERROR:\|runtime error' "$log" | sed 's/^/    /'
	fi
done
exit $status
