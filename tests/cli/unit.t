#!/bin/sh
# vsp@.service as `make install` writes it passes `systemd-analyze verify`
# with no warning, names the installed binary and the guest's file, and
# is a Type=notify unit with a watchdog; the example guest file parses.
. "$(dirname "$0")/../tap.sh"
cd "$ROOT" || exit 1
if ! command -v systemd-analyze >/dev/null; then
	echo "1..0 # SKIP systemd-analyze is not installed (make deps)"
	exit 0
fi
make -s install PREFIX="$T/usr" SYSCONFDIR="$T/etc" BUILD="${BUILD:-build}" > "$T/install.out" 2>&1
is "$?" 0 "make install PREFIX=... SYSCONFDIR=..."
unit="$T/usr/lib/systemd/system/vsp@.service"
ok '[ -f "$unit" ]' "the unit is installed in PREFIX/lib/systemd/system"
ok '[ -x "$T/usr/bin/vsp" ] && [ -f "$T/usr/share/vsp/guest.conf.example" ] && [ -f "$T/usr/share/doc/vsp/service.md" ]' \
	"with the binary, the example guest file and docs/service.md"
# A template is verified through an instance of it.
cp "$unit" "$T/vsp@web0.service"
(cd "$T" && systemd-analyze verify "vsp@web0.service") > "$T/verify" 2>&1
is "$?" 0 "systemd-analyze verify vsp@web0.service: exit 0"
is "$(cat "$T/verify")" "" "  ... and no warning"
like "$(grep '^ExecStart=' "$unit")" "^ExecStart=$T/usr/bin/vsp attach --config $T/etc/vsp/guests/%i.conf\$" \
	"ExecStart: the installed vsp on SYSCONFDIR/vsp/guests/NAME.conf"
ok 'grep -qx "Type=notify" "$unit" && grep -q "^WatchdogSec=" "$unit" && grep -q "^ExecReload=.*-HUP" "$unit"' \
	"Type=notify, WatchdogSec, reload by SIGHUP"
ok 'grep -qx "Restart=on-failure" "$unit" && grep -qx "RestartPreventExitStatus=1 2" "$unit" && grep -qx "KillMode=mixed" "$unit"' \
	"restart policy: on failure, not on policy or usage errors; SIGTERM to vsp alone"
# The same check fails on a broken unit, so the one above can fail.
sed 's|^ExecStart=[^ ]*|ExecStart=/nonexistent/vsp|' "$unit" > "$T/vsp@bad.service"
(cd "$T" && systemd-analyze verify "vsp@bad.service") > "$T/verify.bad" 2>&1
ok '[ -s "$T/verify.bad" ]' "verify complains about a unit whose binary is missing"
# The example file is read by vsp attach --config (only the guest is absent;
# a policy with no events, so nothing is refused for want of symbols).
echo 'policy "none" version 1;' > "$T/none.vsp"
sed -e 's|^gdb = .*|gdb = 127.0.0.1:1|' -e "/^symbols = /d" \
	-e "s|^policy = .*|policy = $T/none.vsp|" -e 's|^audit = .*|audit = -|' \
	"$T/usr/share/vsp/guest.conf.example" > "$T/web0.conf"
"$VSP" attach --config "$T/web0.conf" > /dev/null 2> "$T/err"
is "$?" 3 "the example guest file parses: the attach itself fails (status 3, no guest)"
like "$(cat "$T/err")" "cannot attach to 127.0.0.1:1" "  ... at the attach, not at the file"
done_testing
