#!/bin/bash
# service.t: vsp attach --config as vsp@.service runs it, on the live guest.
#
# Run A: audit to a file, NOTIFY_SOCKET and WATCHDOG_USEC as systemd sets
# them, metrics over HTTP.  While the guest runs: the audit file is moved
# and SIGUSR1 sent (logrotate), a broken policy and then a good one are
# sent with SIGHUP.  Every denied open the guest counts must have exactly
# one record, across both files; the reload must take effect between two
# traps with the traps moved; the broken one must leave the old in force.
# Run B: audit as Falco alerts over syslog (UDP, a receiver on loopback)
# and --metrics-file, checked against --stats=json of the same run.
. "$(dirname "$0")/lib.sh"
guest_setup
RECV=$GUEST_DIR/../cli/sinkrecv.py
# The Debian package installs for the system's python3, whatever PATH says.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
if ! $PY -c 'import prometheus_client' 2>/dev/null; then
	echo "1..0 # SKIP python3-prometheus-client is not installed (make deps)"
	exit 0
fi

wait_for() {	# wait_for SECONDS COMMAND...: until COMMAND succeeds
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

cat > "$T/deny-shadow.vsp" <<'P'
policy "svc-a" version 1;
rule "deny-shadow" priority high: on syscall openat when path == "/etc/shadow"
  : deny EACCES, alert "shadow by %{proc.comm}";
P
cat > "$T/deny-hostname.vsp" <<'P'
policy "svc-b" version 1;
rule "deny-hostname" priority low: on syscall openat when path == "/etc/hostname"
  : deny EPERM, log "hostname by %{proc.comm}";
rule "watch-exec" : on syscall execve when path == "/nonexistent" : log;
P
cp "$T/deny-shadow.vsp" "$T/policy.vsp"

# ---------------------------------------------------------------- run A
read -r QPID port < <("$RIG" boot --bg --timeout 200 --log "$T/a.log" \
	'vsp_loop 25 /etc/shadow 60' 'sleep 12' \
	'vsp_loop 20 /etc/hostname 30' 'vsp_loop 10 /etc/shadow 30')
QPIDS+=("$QPID")
mport=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$T/a.conf" <<EOF
# run A
gdb = 127.0.0.1:$port
symbols = $SYSTEM_MAP
policy = policy.vsp
audit = audit.jsonl
vm = svc-a
metrics = 127.0.0.1:$mport
stats = json
EOF
: > "$T/notify.got"
$PY "$RECV" journal "$T/notify.sock" "$T/notify.got" 150 & npid=$!
wait_for 5 test -S "$T/notify.sock"
# vsp itself in the background (not under timeout(1), which would take
# the signals meant for it); a guard interrupts it after 150 s.
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=2000000 \
	"$VSP" attach --config "$T/a.conf" 2> "$T/a.err" & vpid=$!
(sleep 150; kill -INT "$vpid" 2>/dev/null) & gpid=$!

ok "READY=1 once the traps are placed" wait_for 60 grep -q '"READY": "1"' "$T/notify.got"
ok "  ... after the attach message" grep -q "traps* installed" "$T/a.err"

# logrotate, while the first loop runs: move the file, then SIGUSR1.
wait_for 60 grep -q "^VSP-RUN 1" "$T/a.log"
wait_for 20 test -s "$T/audit.jsonl"
sleep 0.8
mv "$T/audit.jsonl" "$T/audit.jsonl.1"
kill -USR1 "$vpid"
ok "SIGUSR1: the audit log reopened" wait_for 10 grep -q "SIGUSR1: audit log .* reopened" "$T/a.err"

# A scrape while the guest runs, parsed by prometheus_client.
wait_for 60 grep -q "^VSP-RUN 2" "$T/a.log"
$PY - "$mport" > "$T/scrape.txt" 2> "$T/scrape.err" <<'PY'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
fam = {f.name: f for f in text_string_to_metric_families(body)}
def val(name, **labels):
    for f in fam.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
print("up", val("vsp_up", vm="svc-a"))
print("traps", val("vsp_traps_installed"))
print("deny", val("vsp_decisions_total", verdict="deny"))
print("families", len(fam))
PY
ok "metrics served while the guest runs, parsed by prometheus_client" grep -q "^up 1.0$" "$T/scrape.txt"
n=$(handlers openat)
ok "  ... traps installed: $n (openat's handlers)" grep -q "^traps $n.0$" "$T/scrape.txt"

# SIGHUP with a broken policy: the old stays.
printf 'policy "broken" version 1;\nrule "x": on syscall openat when path ==== 3 : deny;\n' > "$T/policy.vsp"
kill -HUP "$vpid"
ok "SIGHUP, broken policy: the error is logged" wait_for 20 grep -q "the old ones stay in force" "$T/a.err"
ok "  ... with its location" grep -q "policy.vsp:2:" "$T/a.err"
ok "  ... RELOADING=1 then READY=1 sent" \
	$PY -c 'import json,sys; ev=[json.loads(l) for l in open(sys.argv[1])]; r=[i for i,e in enumerate(ev) if e.get("RELOADING")=="1"]; sys.exit(0 if r and any(e.get("READY")=="1" for e in ev[r[0]+1:]) else 1)' "$T/notify.got"
# SIGHUP with a good one: it swaps in between two traps.
cp "$T/deny-hostname.vsp" "$T/policy.vsp"
kill -HUP "$vpid"
ok "SIGHUP, good policy: in force" wait_for 20 grep -q "SIGHUP: new policies in force" "$T/a.err"
ok "  ... traps moved: execve added, openat kept" grep -Eq "traps: [0-9]+ kept, [1-9][0-9]* added, 0 removed" "$T/a.err"
wait $vpid
rc=$?
kill "$gpid" "$npid" 2>/dev/null; wait "$npid" 2>/dev/null
guest_wait "$QPID" 60
ok "run A: vsp exits 0 when the guest ends" eq "$rc" 0

r1=$(result a 1) r3=$(result a 3) r4=$(result a 4)
ok "the guest: 25 shadow opens denied under the first policy" grep -q "VSP loop 25 ok 0 err 25" <<<"$r1"
ok "the guest: 20 hostname opens denied under the second" grep -q "VSP loop 20 ok 0 err 20" <<<"$r3"
ok "the guest: shadow allowed under the second" grep -q "VSP loop 10 ok 10 err 0" <<<"$r4"
cat "$T/audit.jsonl.1" "$T/audit.jsonl" > "$T/all.jsonl" 2>/dev/null
ok "records before the move and after it" test -s "$T/audit.jsonl.1" -a -s "$T/audit.jsonl"
ok "one record per denied open, none lost or doubled across the move (45)" \
	eq "$(grep -c '"verdict":"deny"' "$T/all.jsonl")" 45
ok "  ... each seq once" eq "$(grep -o '"seq":[0-9]*' "$T/all.jsonl" | sort | uniq -d | wc -l)" 0
ok "  ... 25 by the first policy's rule, 20 by the second's" \
	eq "$(grep -c '"rule":"deny-shadow"' "$T/all.jsonl") $(grep -c '"rule":"deny-hostname"' "$T/all.jsonl")" "25 20"
ok "  ... the first loop's records split across the two files" \
	eq "$(grep -c '"rule":"deny-shadow"' "$T/audit.jsonl.1")" "$(( 25 - $(grep -c '"rule":"deny-shadow"' "$T/audit.jsonl") ))"
ok "WATCHDOG=1 sent from the loop" grep -q '"WATCHDOG": "1"' "$T/notify.got"
ok "STOPPING=1 at the end" grep -q '"STOPPING": "1"' "$T/notify.got"

# ---------------------------------------------------------------- run B
read -r QPID port < <("$RIG" boot --bg --timeout 150 --log "$T/b.log" \
	'vsp_loop 30 /etc/shadow 20' 'vsp_loop 5 /etc/hostname 20')
QPIDS+=("$QPID")
rm -f "$T/sport"
$PY "$RECV" udp "$T/sport" "$T/syslog.got" 120 & rpid=$!
wait_for 5 test -s "$T/sport"
cp "$T/deny-shadow.vsp" "$T/policy.vsp"
cat > "$T/b.conf" <<EOF
gdb = 127.0.0.1:$port
symbols = $SYSTEM_MAP
policy = policy.vsp
audit = syslog://127.0.0.1:$(cat "$T/sport")
audit-format = falco
vm = svc-b
metrics-file = b.prom
metrics-interval = 1
EOF
rc=0
timeout -s INT 120 "$VSP" attach --config "$T/b.conf" --stats=json 2> "$T/b.err" || rc=$?
guest_wait "$QPID" 60
ok "run B: vsp exits 0" eq "$rc" 0
ok "the guest: 30 shadow opens denied" grep -q "VSP loop 30 ok 0 err 30" <<<"$(result b 1)"
wait_for 5 test "$(wc -l < "$T/syslog.got")" -ge 30
kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
ok "syslog: 30 messages for 30 denied opens" eq "$(wc -l < "$T/syslog.got")" 30
$PY - "$T/syslog.got" "$(hostname)" > "$T/falco.check" <<'PY'
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
bad = []
seqs = set()
for m in msgs:
    if "bad" in m or m["app"] != "vsp" or m["sd"].get("vm") != "svc-b" or m["pri"] != 4 * 8 + 3:
        bad.append(m); continue
    a = json.loads(m["msg"])
    if sorted(a) != ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"] \
       or a["rule"] != "deny-shadow" or a["priority"] != "Error" or a["source"] != "vsp" \
       or a["hostname"] != sys.argv[2] or a["output_fields"]["fd.name"] != "/etc/shadow" \
       or a["output_fields"]["vsp.verdict"] != "deny" or a["output_fields"]["vsp.errno"] != 13 \
       or not a["output"].endswith("Error shadow by vsp_loop"):
        bad.append(a)
    seqs.add(a["output_fields"]["evt.num"])
print(f"{len(msgs)} messages, {len(bad)} bad, {len(seqs)} distinct seq")
for b in bad[:3]:
    print("#", b)
sys.exit(1 if bad or len(seqs) != len(msgs) else 0)
PY
ok "syslog: RFC 5424 messages carrying Falco alerts, each right and once ($(head -1 "$T/falco.check"))" test $? = 0
$PY - "$T/b.prom" "$T/b.err" > "$T/cmp.txt" <<'PY'
import json, re, sys
from prometheus_client.parser import text_string_to_metric_families
fam = list(text_string_to_metric_families(open(sys.argv[1]).read()))
samples = [s for f in fam for s in f.samples]
def get(name, **labels):
    v = [s.value for s in samples if s.name == name and all(s.labels.get(k) == w for k, w in labels.items())]
    return v[0] if v else None
stats = None
for line in open(sys.argv[2]):
    if line.startswith("{\"events\""):
        stats = json.loads(line)
errs = []
def eq(what, a, b):
    if a != b:
        errs.append(f"{what}: metrics {a}, stats {b}")
eq("events", get("vsp_engine_events_total"), stats["events"])
for v, n in stats["decisions"].items():
    eq("decisions " + v, get("vsp_decisions_total", verdict=v), n)
for r, n in stats["rules"].items():
    eq("rule " + r, get("vsp_rule_hits_total", rule=r), n)
eq("cache hits", get("vsp_cache_hits_total"), stats["cache"]["hits"])
eq("cache misses", get("vsp_cache_misses_total"), stats["cache"]["misses"])
eq("traps", get("vsp_traps_installed"), stats["traps_installed"])
eq("round trips", get("vsp_round_trips_total"), stats.get("round_trips", 0))
eq("latency count", get("vsp_decision_latency_seconds_count"), stats["events"])
eq("audit records", get("vsp_audit_records_total"), 30)
eq("syscall events >= decisions", get("vsp_events_total", kind="syscall") >= stats["events"], True)
eq("+Inf bucket", get("vsp_trap_latency_seconds_bucket", le="+Inf"), get("vsp_trap_latency_seconds_count"))
print(f"# {len(samples)} samples compared; {len(errs)} differences")
for e in errs:
    print("# " + e)
sys.exit(1 if errs else 0)
PY
rc=$?
cat "$T/cmp.txt"
ok "--metrics-file agrees with --stats=json of the same run" test "$rc" = 0
ok "  ... written atomically: no .tmp left" test ! -e "$T/b.prom.tmp"
done_testing
