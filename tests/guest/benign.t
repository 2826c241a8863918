#!/bin/bash
# benign.t: an administrator's ordinary day with every pack loaded
# (tests/guest/benign/workload): logins and su reading the password
# hashes, sshd reading its keys, a package manager churning /usr and
# /var/lib (a set-user-ID program installed, a unit file written), a
# build loop, temporary files, logging and log rotation (old logs
# deleted, one compressed by a gzip child), cron and crontab, an admin
# looking around, local network.  Every step must work and the audit
# log must stay empty: no alert, no denial, no kill.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packs_lib.sh"
guest_setup

names=() wants=() cmds=()
while IFS= read -r line; do
	case $line in '#'* | '') continue ;; esac
	names+=("$(awk -F ' [|] ' '{ print $1 }' <<<"$line")")
	wants+=("$(awk -F ' [|] ' '{ print $NF }' <<<"$line")")
	cmd=$(awk -F ' [|] ' '{ s = $2; for (i = 3; i < NF; i++) s = s " | " $i; print s }' <<<"$line")
	cmds+=("( $cmd ) >/tmp/.out 2>&1; echo \"VSP rc \$?\"; sed 's/^/VSP out /' /tmp/.out")
done <"$GUEST_DIR/benign/workload"

packs_stage "$T/root" 0
# shellcheck disable=SC2046
GUEST_BOOT_OPTS="--add $T/root" guest_run b --stats $(packs_all) -- "${cmds[@]}"
ok "vsp attach with every pack exits 0" eq "$VSP_RC" 0
ok "the guest ran the whole workload" has b.log VSP-DONE
for i in "${!names[@]}"; do
	out=$(result b $((i + 1)))
	ok "${names[$i]}: works (${wants[$i]})" grep -Eq -- "${wants[$i]}" <<<"$out"
	ok "${names[$i]}: exit status 0" grep -qx "VSP rc 0" <<<"$out"
done
ok "no audit record: 0 alerts, 0 denials" eq "$(grep -c . "$T/b.audit")" 0
if [ -s "$T/b.audit" ]; then
	sed 's/^/# /' "$T/b.audit" | cut -c1-300 | head -20 >&2
fi
# the traps the packs placed were used: the workload was seen
events=$(sed -n 's/^events[: ]*\([0-9]*\).*/\1/p' "$T/b.err" | head -1)
ok "the monitor decided the workload's events (${events:-?})" test "${events:-0}" -gt 100
done_testing
