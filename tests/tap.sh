# tap.sh: a few TAP helpers for the shell tests (sourced).
#
#   plan N | ok COND NAME | is GOT WANT NAME | like TEXT REGEX NAME | done_testing
# Each test runs in a fresh temporary directory, removed at exit.
: "${VSP:?set VSP to the vsp binary (make check does)}"
TAP_N=0
TAP_FAIL=0
T=$(mktemp -d "${TMPDIR:-/tmp}/vsp-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

plan() { echo "1..$1"; }
pass() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
fail() { TAP_N=$((TAP_N + 1)); TAP_FAIL=$((TAP_FAIL + 1)); echo "not ok $TAP_N - $1"; }
ok() { if eval "$1"; then pass "$2"; else fail "$2"; fi; }
is() {
	if [ "$1" = "$2" ]; then pass "$3"; else
		fail "$3"; printf '#   got:  %s\n#   want: %s\n' "$1" "$2"; fi
}
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then pass "$3"; else
		fail "$3"; printf '#   text: %s\n#   does not match: %s\n' "$1" "$2" | head -20; fi
}
done_testing() { echo "1..$TAP_N"; [ "$TAP_FAIL" -eq 0 ]; }
