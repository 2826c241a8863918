#!/bin/bash
# mount.t: `on file mount` decides a bind mount on its source as the
# kernel resolved it, whatever the caller typed.  security_sb_mount sees
# mount(2) before the source is looked up, so a bind is decided at
# __do_loopback, called from path_mount with the resolved path (the
# mount point kept from the first stop); the new mount API (open_tree's
# clone, then move_mount) at security_move_mount.  A deny fails the
# mount with the rule's errno, by every route; other binds go through.
. "$(dirname "$0")/lib.sh"
guest_setup

guest_run m "$POL/mount.vsp" -- \
	'mkdir -p /mnt/a; cd / && vsp_mount bind etc /mnt/a' \
	'vsp_mount bind /tmp/../etc /mnt/a' \
	'ln -s /etc /tmp/etclink && vsp_mount bind /tmp/etclink /mnt/a' \
	'cd /tmp && vsp_mount bind ../etc//./ /mnt/a' \
	'touch /tmp/hostname-copy && vsp_mount bind /etc/hostname /tmp/hostname-copy' \
	'vsp_mount tree /etc /mnt/a' \
	'cd /etc && vsp_mount tree . /mnt/a' \
	'mkdir -p /tmp/ok && vsp_mount bind /tmp/ok /mnt/a && umount /mnt/a' \
	'mkdir -p /tmp/ok2 && cd /tmp && vsp_mount tree ok2 /mnt/a && umount /mnt/a' \
	'mount -t tmpfs tmpfs /mnt/a && echo "VSP tmpfs mounted" && umount /mnt/a'
ok "vsp attach exits 0" eq "$VSP_RC" 0
ok "a relative source is denied" grep -qx "VSP mount bind etc = -1 errno 1" <(result m 1)
ok "a source through .. is denied" grep -qx "VSP mount bind /tmp/../etc = -1 errno 1" <(result m 2)
ok "a source through a symlink is denied" grep -qx "VSP mount bind /tmp/etclink = -1 errno 1" <(result m 3)
ok "a source spelt with .., // and . from another cwd is denied" \
	grep -qx "VSP mount bind ../etc//./ = -1 errno 1" <(result m 4)
ok "a file under the source's tree is denied" \
	grep -qx "VSP mount bind /etc/hostname = -1 errno 1" <(result m 5)
ok "open_tree + move_mount of /etc is denied" grep -qx "VSP mount tree /etc = -1 errno 1" <(result m 6)
ok "... and of . in /etc" grep -qx "VSP mount tree . = -1 errno 1" <(result m 7)
ok "another bind goes through" grep -qx "VSP mount bind /tmp/ok = 0" <(result m 8)
ok "another tree goes through" grep -qx "VSP mount tree ok2 = 0" <(result m 9)
ok "a tmpfs mount goes through" grep -qx "VSP tmpfs mounted" <(result m 10)
ok "the relative bind is recorded resolved, with its mount point" \
	grep -q '"rule":"no-etc-bind","verdict":"deny".*"msg":"bind /etc (/etc) on /mnt/a"' "$T/m.audit"
ok "the symlinked bind is recorded as the directory it reached" \
	test "$(grep -c '"msg":"bind /etc (/etc) on /mnt/a"' "$T/m.audit")" -ge 4
ok "the file's bind names its own mount point" \
	grep -q '"msg":"bind /etc/hostname (/etc/hostname) on /tmp/hostname-copy"' "$T/m.audit"
ok "an allowed bind is recorded with both ends resolved" \
	grep -q '"rule":"mounts".*"msg":"mount /tmp/ok ([^)]*) on /mnt/a"' "$T/m.audit"
ok "an allowed tree names its mount point" \
	grep -q '"rule":"mounts".*"msg":"mount [^ ]* ([^)]*ok2) on /mnt/a"' "$T/m.audit"
ok "a tmpfs mount is recorded with its source as given" \
	grep -q '"rule":"mounts".*"msg":"mount tmpfs () on /mnt/a"' "$T/m.audit"
ok "the guest ran to its end" has m.log VSP-DONE
grep -o '"msg":"[^"]*"' "$T/m.audit" | sed 's/^/# /'
done_testing
