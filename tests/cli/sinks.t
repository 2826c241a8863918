#!/bin/bash
# Audit sinks and formats, through vsp replay (the same audit code as
# attach): syslog over UDP and TCP to a receiver on loopback, syslog to
# /dev/log and the journal's native socket inside a private mount
# namespace (so the host's own are never touched), and --audit-format
# falco checked field by field against Falco's JSON alert.  Every record
# must arrive once, in order, equal to what the file sink writes.
. "$(dirname "$0")/../tap.sh"
RECV="$ROOT/tests/cli/sinkrecv.py"

cat > "$T/p.vsp" <<'P'
policy "sinks" version 1;
list secrets = ["/etc/shadow", "/etc/sudoers.d/**"];
rule "read-shadow" priority critical tags ("attack.T1003.008", "vsp"):
  on syscall openat when path matches secrets : deny EACCES, alert "secret %{path} by %{proc.comm}";
rule "etc-watch": on syscall openat when path startswith "/etc/" : log "etc %{path}";
rule "tmp-exec" priority low: on syscall openat when path startswith "/tmp/" : return 7;
P
python3 - "$T/trace.jsonl" <<'PY'
import json, sys
paths = ["/etc/shadow", "/etc/hosts", "/tmp/x", "/usr/lib/y", "/etc/sudoers.d/a", 'quote"]\\']
with open(sys.argv[1], "w") as f:
    for i in range(1, 121):
        p = paths[i % len(paths)]
        f.write(json.dumps({"seq": i, "time_ns": i * 1000, "vm": "web0", "kind": "syscall",
            "name": "openat", "nr": 257, "args": [-100, 1, 0, 0, 0, 0],
            "strings": {"filename": p}, "proc": {"pid": 100 + i, "comm": "cat", "uid": 1000}}) + "\n")
PY

"$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit "$T/file.audit" 2> "$T/err"
is "$?" 0 "file sink: replay exits 0"
N=$(wc -l < "$T/file.audit")
ok '[ "$N" -gt 50 ]' "file sink: $N records"

# compare KIND RECEIVED: every record once, in order, the same JSON.
compare() {
	python3 - "$1" "$T/file.audit" "$2" "$(hostname)" <<'PY'
import json, sys, re
kind, want_path, got_path, host = sys.argv[1:5]
strip = lambda r: {k: v for k, v in r.items() if k != "time"}
want = [json.loads(l) for l in open(want_path)]
got = [json.loads(l) for l in open(got_path)]
errs = []
if len(got) != len(want):
    errs.append(f"{len(got)} messages for {len(want)} records")
prio = {"critical": 2, "high": 3, "medium": 4, "low": 5}
for i, (g, w) in enumerate(zip(got, want)):
    if "bad" in g:
        errs.append(f"message {i}: {g['bad']}"); continue
    if kind == "journal":
        rec = json.loads(g["VSP_RECORD"])
        lvl = prio.get(w.get("priority"), 4 if w["severity"] == "alert" else 6)
        checks = [("MESSAGE", g.get("MESSAGE"), w["msg"]),
                  ("PRIORITY", g.get("PRIORITY"), str(lvl)),
                  ("SYSLOG_IDENTIFIER", g.get("SYSLOG_IDENTIFIER"), "vsp"),
                  ("VSP_VM", g.get("VSP_VM"), w["vm"]),
                  ("VSP_RULE", g.get("VSP_RULE"), w["rule"]),
                  ("VSP_VERDICT", g.get("VSP_VERDICT"), w["verdict"]),
                  ("VSP_SEQ", g.get("VSP_SEQ"), str(w["seq"])),
                  ("VSP_TIME", g.get("VSP_TIME"), rec["time"])]
    else:
        rec = json.loads(g["msg"])
        lvl = prio.get(w.get("priority"), 4 if w["severity"] == "alert" else 6)
        checks = [("pri", g["pri"], 4 * 8 + lvl), ("version", g["version"], 1),
                  ("timestamp", g["timestamp"], rec["time"][:26] + "Z"),
                  ("hostname", g["hostname"], host), ("app", g["app"], "vsp"),
                  ("msgid", g["msgid"], "audit"), ("sdid", g["sdid"], "vsp@32473"),
                  ("sd vm", g["sd"].get("vm"), w["vm"]),
                  ("sd rule", g["sd"].get("rule"), w["rule"] or ""),
                  ("sd verdict", g["sd"].get("verdict"), w["verdict"] or ""),
                  ("sd seq", g["sd"].get("seq"), str(w["seq"]))]
    checks.append(("record", strip(rec), strip(w)))
    checks.append(("time form", bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", rec["time"])), True))
    for what, a, b in checks:
        if a != b:
            errs.append(f"record {i} {what}: got {a!r}, want {b!r}")
for e in errs[:10]:
    print("# " + e)
sys.exit(1 if errs else 0)
PY
}

# wait_lines FILE N: until FILE has N lines (10 s at most).
wait_lines() {
	for _ in $(seq 100); do
		[ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

for proto in udp tcp; do
	rm -f "$T/port"
	python3 "$RECV" "$proto" "$T/port" "$T/$proto.got" 30 & rp=$!
	for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
	url="syslog://127.0.0.1:$(cat "$T/port")"
	[ "$proto" = tcp ] && url="syslog+tcp://127.0.0.1:$(cat "$T/port")"
	"$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit "$url" 2> "$T/err"
	is "$?" 0 "syslog $proto: replay to $url exits 0"
	wait_lines "$T/$proto.got" "$N"
	sleep 0.3
	kill "$rp" 2>/dev/null; wait "$rp" 2>/dev/null
	ok 'compare syslog "$T/$proto.got"' "syslog $proto: all $N records once, in order, RFC 5424 header and structured data right"
done

# Nothing listening: a TCP target that refuses is an error at start.
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' > "$T/free"
"$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit "syslog+tcp://127.0.0.1:$(cat "$T/free")" 2> "$T/err"
is "$?" 2 "syslog tcp: a refused connection is exit status 2"
like "$(cat "$T/err")" 'vsp replay: --audit 127\.0\.0\.1:[0-9]+: Connection refused' "  ... with the reason"
"$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit "syslog://nohost" 2> "$T/err"
is "$?" 2 "syslog://HOST without a port is a usage error"
"$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit-format json 2> "$T/err"
is "$?" 2 "--audit-format json is refused"
like "$(cat "$T/err")" "takes vsp or falco" "  ... naming the choices"

# /dev/log and the journal's socket, in a mount namespace of their own.
if unshare -m true 2>/dev/null; then
	cat > "$T/ns.sh" <<'NS'
set -e
T=$1 VSP=$2 RECV=$3 N=$4
mount -t tmpfs none /dev
mkdir -p /run/systemd && mount -t tmpfs none /run/systemd && mkdir /run/systemd/journal
python3 "$RECV" unix /dev/log "$T/devlog.got" 30 & a=$!
python3 "$RECV" journal /run/systemd/journal/socket "$T/journal.got" 30 & b=$!
for _ in $(seq 50); do [ -S /dev/log ] && [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
rc=0; "$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit syslog 2> "$T/devlog.err" || rc=$?; echo "devlog $rc" > "$T/ns.rc"
rc=0; "$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit journal 2> "$T/journal.err" || rc=$?; echo "journal $rc" >> "$T/ns.rc"
for f in devlog journal; do
	for _ in $(seq 100); do [ -f "$T/$f.got" ] && [ "$(wc -l < "$T/$f.got")" -ge "$N" ] && break; sleep 0.1; done
done
sleep 0.3
kill $a $b; wait
# No journal listening: refused at the start, not dropped in silence.
rm /run/systemd/journal/socket
rc=0; "$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit journal 2> "$T/nojournal.err" || rc=$?; echo "nojournal $rc" >> "$T/ns.rc"
NS
	unshare -m bash "$T/ns.sh" "$T" "$VSP" "$RECV" "$N" 2> "$T/ns.err"
	is "$(cat "$T/ns.rc" | tr '\n' ' ')" "devlog 0 journal 0 nojournal 2 " "/dev/log and journal: replay's exit statuses"
	ok 'compare syslog "$T/devlog.got"' "/dev/log: all $N records once, RFC 5424"
	if grep -q . "$T/journal.got" 2>/dev/null || ! grep -q "without libsystemd" "$T/journal.err"; then
		ok 'compare journal "$T/journal.got"' "journal: all $N records once, MESSAGE, PRIORITY, VSP_RULE, VSP_VERDICT, VSP_VM, VSP_SEQ, VSP_TIME, VSP_RECORD"
		like "$(cat "$T/nojournal.err")" "vsp replay: --audit journal: no journald at /run/systemd/journal/socket: No such file" "no journal: refused with the reason"
	else
		pass "# SKIP vsp built without libsystemd"
		pass "# SKIP vsp built without libsystemd"
	fi
else
	for i in 1 2 3 4; do pass "# SKIP no mount namespaces here"; done
fi

# Falco's JSON alert, field by field (falco_formats::format_event with
# json_output): exactly time, rule, priority, output, output_fields,
# source, tags and hostname; the same decisions as the vsp format.
"$VSP" replay "$T/p.vsp" --trace "$T/trace.jsonl" --audit-format falco --audit "$T/falco.audit" 2> "$T/err"
is "$?" 0 "falco format: replay exits 0"
python3 - "$T/falco.audit" "$T/file.audit" "$(hostname)" > "$T/falco.check" <<'PY'
import json, re, sys, calendar, time
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2])]
host = sys.argv[3]
PRIOS = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"]
vsp_prio = {"critical": "Critical", "high": "Error", "medium": "Warning", "low": "Notice"}
errs = []
def check(i, what, a, b):
    if a != b:
        errs.append(f"record {i} {what}: got {a!r}, want {b!r}")
check("-", "count", len(got), len(want))
for i, (g, w) in enumerate(zip(got, want)):
    check(i, "keys", sorted(g), sorted(["time", "rule", "priority", "output", "output_fields", "source", "tags", "hostname"]))
    check(i, "key order (Falco writes them sorted)", list(g), sorted(g))
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z", g["time"])
    check(i, "time is RFC 3339 with ns", bool(m), True)
    if m:
        ns = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(m.group(2))
        check(i, "output_fields evt.time is time in ns", g["output_fields"].get("evt.time"), ns)
    check(i, "rule", g["rule"], w["rule"] if w["rule"] is not None else "(default)")
    check(i, "priority is one of Falco's", g["priority"] in PRIOS, True)
    want_prio = vsp_prio.get(w.get("priority"), "Warning" if w["severity"] == "alert" else "Informational")
    check(i, "priority", g["priority"], want_prio)
    check(i, "output", g["output"], f"{g['time']}: {g['priority']} {w['msg']}")
    check(i, "source", g["source"], "vsp")
    check(i, "tags", g["tags"], w.get("tags", []))
    check(i, "tags are strings", all(isinstance(t, str) for t in g["tags"]), True)
    check(i, "hostname", g["hostname"], host)
    of = g["output_fields"]
    check(i, "output_fields is an object of scalars and lists",
          isinstance(of, dict) and all(isinstance(v, (str, int, bool, list, type(None))) for v in of.values()), True)
    ev = w["event"]
    for k, v in [("evt.num", w["seq"]), ("evt.type", ev["name"]), ("proc.name", ev["proc"]["comm"]),
                 ("proc.pid", ev["proc"]["pid"]), ("user.uid", ev["proc"]["uid"]),
                 ("fd.name", ev.get("path")), ("vsp.vm", w["vm"]), ("vsp.verdict", w["verdict"]),
                 ("vsp.mode", w["mode"]), ("vsp.applied", w["applied"]), ("vsp.severity", w["severity"]),
                 ("vsp.kind", ev["kind"]), ("vsp.time_ns", w["time_ns"]),
                 ("vsp.errno", w.get("errno")), ("vsp.value", w.get("value"))]:
        check(i, "output_fields " + k, of.get(k), v)
print(f"# {len(got)} Falco records checked, {len(errs)} differences")
for e in errs[:10]:
    print("# " + e)
sys.exit(1 if errs else 0)
PY
rc=$?
cat "$T/falco.check"
is "$rc" 0 "falco format: every record has Falco's fields, types and values"
ok 'grep -q "\"priority\":\"Critical\"" "$T/falco.audit" && grep -q "\"priority\":\"Notice\"" "$T/falco.audit" && grep -q "\"priority\":\"Informational\"" "$T/falco.audit"' \
	"falco format: rule priorities map to Falco's (Critical, Notice, Informational seen)"

done_testing
