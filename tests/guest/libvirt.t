#!/bin/bash
# libvirt.t: `vsp attach --libvirt DOMAIN` on a guest that libvirt runs
# with no GDB stub: vsp starts QEMU's stub through libvirt's QEMU monitor
# command, enforces, and closes the stub on detach.  When no libvirt
# daemon runs, one is started for the test alone, in its own mount
# namespace, with its config, run, state and cache dirs (and a passwd with
# the libvirt-qemu user its QEMU driver insists on) under $T; QEMU runs
# under TCG as root with no security driver.  Lookup errors and the
# not-QEMU error are checked on libvirt's built-in test driver.
. "$(dirname "$0")/lib.sh"
guest_setup

# Errors, without a daemon: test:///default has one domain, 'test'.
rc=0
"$VSP" attach --libvirt nosuch --libvirt-uri test:///default "$POL/shadow.vsp" 2>"$T/e1" >/dev/null || rc=$?
ok "an unknown domain: exit 3" eq "$rc" 3
ok "the message names it" grep -q "vsp attach: libvirt: domain 'nosuch' not found" "$T/e1"
rc=0
"$VSP" attach --libvirt test --libvirt-uri test:///default "$POL/shadow.vsp" 2>"$T/e2" >/dev/null || rc=$?
ok "a domain of another driver: exit 3" eq "$rc" 3
ok "the message says it is not QEMU" grep -q "domain 'test' is run by the TEST driver, not QEMU" "$T/e2"

if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
	echo "# SKIP the live part: libvirtd or virsh is not installed"
	done_testing; exit
fi
L=$T/lv
mkdir -p "$L/etc" "$L/run" "$L/lib" "$L/cache" "$L/log"
printf 'unix_sock_dir = "/run/libvirt"\nauth_unix_ro = "none"\nauth_unix_rw = "none"\n' >"$L/etc/libvirtd.conf"
printf 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\ndynamic_ownership = 0\nremember_owner = 0\nstdio_handler = "file"\n' >"$L/etc/qemu.conf"
cp /etc/passwd "$L/passwd"; cp /etc/group "$L/group"
getent passwd libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin" >>"$L/passwd"
getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:" >>"$L/group"
getent group kvm >/dev/null || echo "kvm:x:64056:" >>"$L/group"
cat >"$L/start.sh" <<EOS
set -e
mount --bind "$L/passwd" /etc/passwd; mount --bind "$L/group" /etc/group
mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
mount --bind "$L/etc" /etc/libvirt; mount --bind "$L/run" /run/libvirt
mount --bind "$L/lib" /var/lib/libvirt; mount --bind "$L/cache" /var/cache/libvirt
mount --bind "$L/log" /var/log/libvirt
exec libvirtd -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid
EOS
unshare -m --propagation private bash "$L/start.sh" >"$L/daemon.log" 2>&1 &
dpid=$!
U="qemu:///system?socket=$L/run/libvirt-sock"
for i in $(seq 150); do virsh -c "$U" version >/dev/null 2>&1 && break; kill -0 $dpid 2>/dev/null || break; sleep 0.2; done
if ! virsh -c "$U" version >/dev/null 2>&1; then
	sed 's/^/# libvirtd: /' "$L/daemon.log" | tail -5
	kill $dpid 2>/dev/null
	echo "1..0 # SKIP a private libvirtd (unshare -m, dirs under \$T) did not start"
	exit 0
fi
"$RIG" initrd "$L/initrd" 'sleep 30' 'vsp_open /etc/shadow' 'sleep 10' 'vsp_open /etc/shadow' >/dev/null
cat >"$L/dom.xml" <<EOX
<domain type='qemu'>
  <name>vsp-t</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VMLINUZ</kernel><initrd>$L/initrd</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 loglevel=3 no_timer_check</cmdline></os>
  <cpu mode='maximum' migratable='off'/>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices><serial type='file'><source path='$L/console.log'/><target port='0'/></serial>
    <memballoon model='none'/></devices>
</domain>
EOX
ok "libvirt starts the guest" virsh -c "$U" create "$L/dom.xml"
for i in $(seq 1200); do grep -q "^VSP-RUN 1" "$L/console.log" 2>/dev/null && break; sleep 0.1; done
timeout -s INT 200 "$VSP" attach --libvirt vsp-t --libvirt-uri "$U" "$POL/shadow.vsp" \
	>"$T/l.audit" 2>"$T/l.err" &
vpid=$!
for i in $(seq 1500); do
	tr -d '\r' <"$L/console.log" | grep -q "^VSP-EXIT 2 " && break
	kill -0 "$vpid" 2>/dev/null || break
	sleep 0.1
done
kill -INT "$vpid" 2>/dev/null
rc=0; wait "$vpid" || rc=$?
port=$(sed -n 's/.*GDB stub started through libvirt domain vsp-t on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/l.err")
ok "vsp attach --libvirt exits 0 on SIGINT" eq "$rc" 0
ok "the stub was started on a loopback port ($port)" test -n "$port"
ok "the first open of /etc/shadow is denied" grep -qx "VSP open /etc/shadow err EACCES 13" <<<"$("$RIG" result "$L/console.log" 2)"
ok "the deny is audited" grep -q '"verdict":"deny"' "$T/l.audit"
ok "the stub was closed on detach" grep -q "GDB stub closed" "$T/l.err"
ok "the port refuses connections" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"
for i in $(seq 600); do grep -q VSP-DONE "$L/console.log" && break; sleep 0.1; done
ok "the guest ran on after the detach (second open succeeds)" \
	grep -qx "VSP open /etc/shadow ok .*" <<<"$("$RIG" result "$L/console.log" 4)"
virsh -c "$U" destroy vsp-t >/dev/null 2>&1 || true
kill $dpid 2>/dev/null; wait $dpid 2>/dev/null || true
done_testing
