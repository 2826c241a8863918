#!/bin/bash
# hooks.t: hook events on the live guest (language 1.1).  One rule per
# object (tests/guest/policies/hooks.vsp); a guest program tries every
# route it knows to each (vsp_routes): first with the policy in monitor
# mode, where every route must work and reach the hook, then enforced,
# where every route must fail.  The resolved process fields are compared
# with the guest's own /proc view; the recorded trace replays to the same
# decisions.
. "$(dirname "$0")/lib.sh"
guest_setup
# Two boots of many traps each: room for a loaded machine.
GUEST_TIMEOUT=${GUEST_TIMEOUT:-420}

SECRET=SECRET-HASH
ROUTES='plain double-slash dot dotdot relative relative-dotdot symlink symlinked-dir dirfd openat2 io_uring int80 o_path-proc-fd open_by_handle_at bind-mount hardlink chroot'
EXECS='plain dot-slash relative symlink execveat-dirfd execveat-empty-path memfd'
cmds=("vsp_routes read /etc/shadow $SECRET"
      "vsp_routes read /etc/hostname vspguest"
      "vsp_routes exec /tmp/x"
      "vsp_routes exec /bin/vsp_hello"
      "vsp_routes net"
      'mount -t cgroup2 none /sys/fs/cgroup && mkdir -p /sys/fs/cgroup/vsp.slice/t1 && echo $$ > /sys/fs/cgroup/vsp.slice/t1/cgroup.procs && exec vsp_routes self /etc/decoy')

# --- monitor mode: the routes work, and each one reaches the hook.
guest_run mon --mode monitor --stats "$POL/hooks.vsp" -- "${cmds[@]}"
ok "monitor: vsp attach exits 0" eq "$VSP_RC" 0
r=$(result mon 1)
for x in $ROUTES; do
	ok "monitor: route $x reads the secret" grep -qx "VSP route $x ok" <<<"$r"
done
x=$(result mon 3)
for e in $EXECS; do
	ok "monitor: exec route $e runs the program" grep -qx "VSP exec $e ran" <<<"$x"
done
# Each route's open meets the rule, but for the hard link, whose making
# meets the link rule (a link made before the policy is another object's
# name: only file.ino and file.dev would know it).
n=$(grep -c '"rule":"secret","verdict":"deny"' "$T/mon.audit")
ok "monitor: every read route but the hard link met the open rule ($n records)" [ "$n" -ge 16 ]
ok "monitor: the hard link met the link rule" grep -q '"rule":"secret-link","verdict":"deny"' "$T/mon.audit"
ok "monitor: verdicts not applied" grep -q '"rule":"secret","verdict":"deny","errno":13,"severity":"alert","mode":"monitor","applied":false' "$T/mon.audit"

# --- enforced: no route reads the secret, the allowed file stays readable.
guest_run enf --stats --record "$T/enf.trace" "$POL/hooks.vsp" -- "${cmds[@]}"
ok "enforce: vsp attach exits 0" eq "$VSP_RC" 0
ok "enforce: the guest ran to its end" has enf.log VSP-DONE
r=$(result enf 1)
for x in $ROUTES; do
	ok "enforce: route $x is denied" bash -c "grep -q '^VSP route $x ' <<<\"\$1\" && ! grep -qx 'VSP route $x ok' <<<\"\$1\"" _ "$r"
done
ok "enforce: the guest's own count of secret reads is 0" grep -qx "VSP reads /etc/shadow 0" <<<"$r"
ok "enforce: routes fail with EACCES" grep -qx "VSP route relative fail 13" <<<"$r"
h=$(result enf 2)
for x in $ROUTES; do
	ok "enforce: route $x still reads /etc/hostname" grep -qx "VSP route $x ok" <<<"$h"
done
x=$(result enf 3)
ok "enforce: no route runs a program from /tmp" grep -qx "VSP execs /tmp/x 0" <<<"$x"
for e in $EXECS; do
	ok "enforce: exec route $e is denied" bash -c "grep -q '^VSP exec $e fail' <<<\"\$1\"" _ "$x"
done
y=$(result enf 4)
ok "enforce: programs elsewhere run (all but the memfd route)" grep -qx "VSP execs /bin/vsp_hello 6" <<<"$y"
nt=$(result enf 5)
ok "enforce: connect to the metadata address is refused" grep -qx "VSP net connect -1 111" <<<"$nt"
ok "enforce: sendto the metadata address is refused" grep -qx "VSP net sendto -1 111" <<<"$nt"
ok "enforce: another address is not the rule's" bash -c "! grep -qx 'VSP net connect-other -1 111' <<<\"\$1\"" _ "$nt"
ok "audit: the metadata record names the address" grep -q '"msg":"inet stream 169.254.169.254:80"' "$T/enf.audit"

# --- resolved process fields against the guest's own /proc view.
s=$(result enf 6)
self() { sed -n "s/^VSP self $1 //p" <<<"$s"; }
probe=$(grep '"rule":"probe".*"comm":"vsp_routes"' "$T/enf.audit" | head -1)
ok "probe: one record" [ -n "$probe" ]
ok "proc.exe is /proc/self/exe ($(self exe))" grep -qF "exe=$(self exe) " <<<"$probe"
ok "proc.cwd is /proc/self/cwd ($(self cwd))" grep -qF "cwd=$(self cwd) " <<<"$probe"
ok "proc.cmdline is /proc/self/cmdline ($(self cmdline))" grep -qF "cmdline=$(self cmdline) cgroup" <<<"$probe"
cg=$(self cgroup | sed 's/^0:://')
ok "the guest's own cgroup is the test's" eq "$cg" /vsp.slice/t1
ok "proc.cgroup is /proc/self/cgroup ($cg)" grep -qF "cgroup=$cg " <<<"$probe"
ok "proc.loginuid is /proc/self/loginuid ($(self loginuid))" grep -qF "loginuid=$(self loginuid) " <<<"$probe"
ok "file.path is readlink /proc/self/fd/N ($(self fd))" grep -qF '"path":"'"$(self fd)"'"' <<<"$probe"
ok "file.name, file.type" grep -qF "name=decoy type=file" <<<"$probe"

# --- statistics and the replay.
ok "stats: hook events counted" grep -q '^hook events:' "$T/enf.err"
ok "stats: paths came from the cache" grep -Eq 'from the cache [1-9]' "$T/enf.err"
# Round trips per hook event, split by where its paths came from (the
# cache or a walk); tests/guest/measure.sh compares the two on one rule.
ph=$(grep '^per hook event:' "$T/enf.err")
ok "stats: round trips per hook event, cached and walked ($ph)" \
	grep -Eq '^per hook event: +[0-9.]+ round trips with every path from the cache \([1-9][0-9]*\), [0-9.]+ with a path walked \([1-9][0-9]*\)$' <<<"$ph"
rc=0
"$VSP" replay "$POL/hooks.vsp" --trace "$T/enf.trace" >"$T/replay.audit" 2>"$T/replay.err" || rc=$?
ok "the recorded trace replays" eq "$rc" 0
# The live records hold every field the recording read; compare decisions.
decisions() { sed -E 's/"time_ns":[0-9]+,//; s/"time":"[^"]*",//; s/,"event".*//' "$1"; }
ok "replay decides as the live run did" diff -u <(decisions "$T/enf.audit") <(decisions "$T/replay.audit")
ok "trace lines carry file objects" grep -q '"kind":"file","name":"open".*"file":{' "$T/enf.trace"
done_testing
