#!/bin/bash
# rig.sh: Xen 4.17 under QEMU, with a PVH guest, for the live Xen tests.
#
# Beside tests/guest/rig.sh and with the same cache discipline: everything
# large lives in ${VSP_CACHE:-~/.cache/vsp}/xen and is made once.  Xen runs
# under QEMU's TCG (AMD SVM and NPT emulated); dom0 is Debian's generic
# kernel with an initramfs holding the toolstack and a freshly built vsp;
# the guest is the cloud kernel of tests/guest/rig.sh, booted PVH.
#
# Software-breakpoint events need a patched QEMU (qemu-svm-int3.patch: QEMU
# 7.2 checks int3 against the INTn intercept instead of the #BP exception
# intercept Xen sets).  `rig.sh qemu` builds qemu-system-x86_64 from
# Debian's own 7.2 source with the patch (about 6 minutes on 2 cores),
# cached by the hash of the patch.
#
# A boot runs a plan: a shell script executed in dom0 once the toolstack
# is up.  The plan starts guests (xg_start), runs vsp (xg_vsp ...) and sends
# files back to the host (xg_emit), framed in base64 on the one serial
# console; `rig.sh extract LOG DIR` unpacks them.  See tests/xen/README.md.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GRIG=$ROOT/tests/guest/rig.sh
CACHE=${VSP_CACHE:-$HOME/.cache/vsp}/xen
PATCH=$HERE/qemu-svm-int3.patch

say() { echo "xen-rig: $*" >&2; }
die() { echo "xen-rig: error: $*" >&2; exit 1; }

usage() {
	cat <<'EOF'
usage: rig.sh COMMAND [ARGS]

  fetch                 download Xen, the toolstack and dom0's kernel (once)
  qemu                  build the patched qemu-system-x86_64 (once per patch)
  qemu-path             print the patched QEMU's path, or fail if not built
  build VSP             fetch, then build dom0's base initramfs with VSP
  boot [OPTIONS] VSP PLAN
                        boot Xen with dom0 running the shell script PLAN
      --log FILE        the serial console (Xen, dom0, framed files)
      --files DIR       extra files: DIR/* lands in dom0's /files
      --timeout S       kill QEMU after S seconds (default 900)
      --stock           use the system's QEMU (no breakpoint events)
  extract LOG DIR       unpack the files the plan sent with xg_emit
  overlay OUT CMD...    a guest command list as an initramfs overlay
  clean                 remove the cache
EOF
}

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ----------------------------------------------------------------- fetch

dom0_kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

XEN_DEBS="xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils libxencall1
libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenmisc4.17 libxenstore4
libxentoollog1 libxentoolcore1 libxendevicemodel1 libxenhypfs1 libyajl2"

cmd_fetch() {
	mkdir -p "$CACHE"
	if [ -s "$CACHE/xen.stamp" ] && [ -d "$CACHE/x" ]; then
		return 0
	fi
	local kpkg
	kpkg=$(dom0_kernel_pkg)
	if [ -z "$kpkg" ]; then
		say "no package lists: apt-get update"
		sudo_ apt-get update -qq >/dev/null 2>&1 || true
		kpkg=$(dom0_kernel_pkg)
	fi
	[ -n "$kpkg" ] || die "apt-cache does not name a generic kernel for dom0"
	rm -rf "$CACHE/debs" "$CACHE/x"
	mkdir -p "$CACHE/debs"
	say "downloading Xen 4.17, its toolstack and $kpkg (about 75 MB, once)"
	# shellcheck disable=SC2086
	(cd "$CACHE/debs" && apt-get download $XEN_DEBS "$kpkg" >/dev/null 2>&1) ||
		die "apt-get download of the Xen packages failed"
	mkdir -p "$CACHE/x.tmp"
	local d
	for d in "$CACHE"/debs/*.deb; do
		dpkg -x "$d" "$CACHE/x.tmp"
	done
	[ -s "$CACHE/x.tmp/boot/xen-4.17-amd64.gz" ] || die "no xen-4.17-amd64.gz in the hypervisor package"
	gunzip -c "$CACHE/x.tmp/boot/xen-4.17-amd64.gz" >"$CACHE/xen"
	cp "$CACHE"/x.tmp/boot/vmlinuz-* "$CACHE/dom0-vmlinuz"
	rm -rf "$CACHE/debs"
	mv "$CACHE/x.tmp" "$CACHE/x"
	echo "$kpkg" >"$CACHE/xen.stamp"
}

# ------------------------------------------------------------------ qemu

qemu_dir() {
	echo "$CACHE/qemu-$(md5sum <"$PATCH" | cut -c1-12)"
}

cmd_qemu_path() {
	local q
	q=$(qemu_dir)/qemu-system-x86_64
	[ -x "$q" ] || return 1
	echo "$q"
}

QEMU_BUILD_DEPS="meson ninja-build libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev dpkg-dev"

cmd_qemu() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.qemu-lock"
	flock 9
	if cmd_qemu_path >/dev/null; then
		exec 9>&-
		return 0
	fi
	local dir src apt missing p
	dir=$(qemu_dir)
	missing=$(for p in $QEMU_BUILD_DEPS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
	if [ -n "$missing" ]; then
		say "installing QEMU's build dependencies:" $missing
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq $missing >/dev/null ||
			die "cannot install $missing"
	fi
	# Debian's own source of the QEMU the machine runs, through a private
	# apt state whose deb-src lines mirror the machine's deb lines.
	apt=$CACHE/apt
	rm -rf "$apt" "$dir.tmp"
	mkdir -p "$apt/lists/partial" "$apt/parts" "$apt/cache/archives/partial" "$dir.tmp"
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed 's/^Types: deb$/Types: deb-src/' "$f" >"$apt/parts/$(basename "$f")"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^deb /deb-src /p' "$f" >"$apt/parts/$(basename "$f")"
	done
	local o=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/parts"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
	say "fetching Debian's QEMU source"
	apt-get "${o[@]}" update -qq >/dev/null 2>&1 || die "apt-get update (deb-src) failed"
	(cd "$dir.tmp" && apt-get "${o[@]}" source --download-only qemu >/dev/null 2>&1) ||
		die "apt-get source qemu failed"
	(cd "$dir.tmp" && dpkg-source -x --no-check ./*.dsc src >/dev/null 2>&1) ||
		die "dpkg-source cannot unpack QEMU"
	src=$dir.tmp/src
	grep -q '^VERSION\|^7\.2' "$src/VERSION" 2>/dev/null || true
	(cd "$src" && patch -p1 --quiet <"$PATCH") || die "the patch does not apply to $(cat "$src/VERSION")"
	say "building qemu-system-x86_64 $(cat "$src/VERSION") with $(basename "$PATCH") (about 6 minutes)"
	mkdir -p "$src/b"
	(cd "$src/b" && ../configure --target-list=x86_64-softmmu --without-default-features \
		--enable-tcg --enable-fdt=system --disable-docs --disable-werror \
		>"$dir.tmp/configure.log" 2>&1) || die "configure failed: $dir.tmp/configure.log"
	(cd "$src/b" && ninja -j"$(nproc)" qemu-system-x86_64 >"$dir.tmp/build.log" 2>&1) ||
		die "build failed: $dir.tmp/build.log"
	cp "$src/b/qemu-system-x86_64" "$dir.tmp/"
	rm -rf "$src" "$apt" "$dir.tmp"/*.tar.* "$dir.tmp"/*.dsc
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	exec 9>&-
	say "patched QEMU: $dir/qemu-system-x86_64"
}

# ----------------------------------------------------------------- dom0

# Copy a program and every library ldd names into the root $1.
copy_with_libs() {
	local root=$1 bin=$2 dest=$3 lib
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$bin" "$root$dest"
	LD_LIBRARY_PATH=$CACHE/x/usr/lib/x86_64-linux-gnu ldd "$bin" 2>/dev/null |
		awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' |
		while read -r lib; do
			# The toolstack's own libraries come from the unpacked debs.
			local at=${lib#"$CACHE/x"}
			[ -e "$root$at" ] && continue
			mkdir -p "$root$(dirname "$at")"
			cp -L "$lib" "$root$at"
		done
}

dom0_init() {
	cat <<'EOF'
#!/bin/sh
# dom0's init in the Xen rig: the toolstack, then /plan.sh, then power off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /var/log/xen/console /var/lib/xen /var/lib/xenstored
M=/lib/modules/$(uname -r)/kernel/drivers/xen
for m in xen-evtchn xen-privcmd xenfs/xenfs xen-gntdev xen-gntalloc; do
	insmod "$M/$m.ko" || echo "XG-WARN insmod $m failed"
done
mount -t xenfs xenfs /proc/xen
xenstored
xen-init-dom0 >/dev/null 2>&1 || echo "XG-WARN xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console
echo "XG-DOM0-UP $(uname -r)"
. /lib/xg.sh
[ -f /plan.sh ] && . /plan.sh
echo "XG-PLAN-DONE"
xl list 2>/dev/null | awk 'NR > 2 { print $1 }' | while read -r d; do xl destroy "$d"; done
echo "XG-POWEROFF"
echo o >/proc/sysrq-trigger
sleep 30
EOF
}

# The helpers a plan uses (dom0's /lib/xg.sh).
xg_lib() {
	cat <<'EOF'
# xg.sh: helpers for plans run in dom0 by tests/xen/rig.sh.
G=/guest
XG_N=0

# xlt ARGS...: xl with a time limit, so that a toolstack call that never
# returns costs one step (and says so), not the whole plan.
xlt() {
	timeout 60 xl "$@"
	local rc=$?
	[ $rc = 143 ] && echo "XG-WARN xl $* did not return within 60 s"
	return $rc
}

# xg_emit NAME FILE: send FILE to the host, framed on the console.
xg_emit() {
	echo "XG-FILE-BEGIN $1"
	if [ -f "$2" ]; then gzip -c "$2" | base64; fi
	echo "XG-FILE-END $1"
}

# xg_start NAME INITRD [paused]: create a PVH guest NAME from the cloud
# kernel and INITRD; with "paused" it waits for xl unpause.
xg_start() {
	local name=$1 initrd=$2 p=""
	[ "${3:-}" = paused ] && p=-p
	cat >/tmp/$name.cfg <<CFG
name = "$name"
type = "pvh"
kernel = "$G/vmlinuz"
ramdisk = "$initrd"
extra = "console=hvc0 quiet loglevel=3 panic=-1 nokaslr"
memory = 256
vcpus = 1
tsc_mode = "native"
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
CFG
	: >/var/log/xen/console/guest-$name.log
	xlt create $p /tmp/$name.cfg >/tmp/$name.xl 2>&1 || { echo "XG-WARN xl create $name failed"; cat /tmp/$name.xl; return 1; }
}

# xg_guest_initrd OVERLAY OUT: the guest's initramfs with a command list.
xg_guest_initrd() {
	cat $G/initrd.gz "$1" >"$2"
}

# xg_wait_gone NAME SECONDS: wait until the domain has gone.
xg_wait_gone() {
	local i=0
	while xl domid "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt $(( $2 * 2 )) ] && { echo "XG-WARN $1 still alive after $2 s"; return 1; }
		sleep 0.5
	done
}

# xg_wait_line NAME REGEX SECONDS: wait for a guest console line.
xg_wait_line() {
	local i=0
	until grep -Eq "$2" /var/log/xen/console/guest-$1.log 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(( $3 * 2 )) ] && return 1
		sleep 0.5
	done
}

# xg_guest_log NAME: emit the guest's console as NAME.log.
xg_guest_log() {
	xg_emit "$1.log" /var/log/xen/console/guest-$1.log
}

# xg_attach NAME [VSP ATTACH OPTIONS AND POLICIES]: start guest NAME
# paused from /files/NAME.gz (a command-list overlay), attach vsp to it,
# unpause it once vsp holds it (attached, or waiting for its kernel), let it run its commands (until its
# console says VSP-DONE, or XG_SECS seconds), end it, and send back
# NAME.log (console), NAME.audit (vsp's stdout), NAME.err (stderr) and
# NAME.rc (vsp's exit status).  XG_SIGNAL=INT|TERM|KILL ends vsp with
# that signal once the guest has printed XG_SIGNAL_AT (a regex), and the
# guest runs on to its end.  NAME.state is the domain's xl state before
# it is destroyed; /tmp/NAME.trace (vsp --record) is sent if written.
# XG_REATTACH_AT (a regex): once the guest has printed it (after the
# signal), a second `vsp attach` with the same options joins the guest;
# NAME.rc is then its exit status, NAME.audit2 and NAME.err2 its output.
# XG_ATTACH_AT (a regex) attaches to the booted guest instead: it runs
# until its console prints that line, is paused there for the attach (so
# the command after the line, a short sleep, is where it waits) and
# unpaused once vsp holds it.
xg_attach() {
	local name=$1 vpid rc=0 i
	shift
	xg_guest_initrd /files/$name.gz /tmp/$name.gz
	if [ -n "${XG_ATTACH_AT:-}" ]; then
		xg_start $name /tmp/$name.gz || { echo 99 >/tmp/$name.rc; xg_emit $name.rc /tmp/$name.rc; return 1; }
		xg_wait_line $name "$XG_ATTACH_AT" ${XG_SECS:-120} || echo "XG-WARN $name: no '$XG_ATTACH_AT'"
		xlt pause $name
	else
		xg_start $name /tmp/$name.gz paused || { echo 99 >/tmp/$name.rc; xg_emit $name.rc /tmp/$name.rc; return 1; }
	fi
	vsp attach --xen $name --symbols $G/System.map "$@" >/tmp/$name.audit 2>/tmp/$name.err &
	vpid=$!
	i=0
	# vsp holds its own pause once it says either: the toolstack's can go.
	until grep -Eq "attached to|waiting for the guest kernel" /tmp/$name.err 2>/dev/null; do
		kill -0 $vpid 2>/dev/null || break
		i=$((i + 1)); [ $i -gt $((2 * ${XG_SECS:-120})) ] && break
		sleep 0.5
	done
	grep -Eq "attached to|waiting for the guest kernel" /tmp/$name.err 2>/dev/null ||
		echo "XG-WARN $name: vsp had not attached after ${XG_SECS:-120} s; unpaused"
	xlt unpause $name
	if [ -n "${XG_SIGNAL:-}" ]; then
		xg_wait_line $name "${XG_SIGNAL_AT:-VSP-DONE}" ${XG_SECS:-120} || echo "XG-WARN $name: no '$XG_SIGNAL_AT'"
		kill -$XG_SIGNAL $vpid
		i=0
		while kill -0 $vpid 2>/dev/null && [ $i -lt 60 ]; do i=$((i + 1)); sleep 0.5; done
	fi
	if [ -n "${XG_REATTACH_AT:-}" ]; then
		# The guest runs into the dead vsp's trap and stalls there.
		xg_wait_line $name "$XG_REATTACH_AT" ${XG_SECS:-120} || echo "XG-WARN $name: no '$XG_REATTACH_AT'"
		sleep 3
		vsp attach --xen $name --symbols $G/System.map "$@" >/tmp/$name.audit2 2>/tmp/$name.err2 &
		vpid=$!
	fi
	xg_wait_line $name VSP-DONE ${XG_SECS:-120} || echo "XG-WARN $name did not finish"
	xlt list $name 2>/dev/null | awk 'NR == 2 { print $5 }' >/tmp/$name.state
	[ -n "${XG_KEEP:-}" ] || xlt destroy $name 2>/dev/null
	i=0
	while kill -0 $vpid 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 60 ] && { echo "XG-WARN vsp did not end; killing it"; kill -KILL $vpid; }
		sleep 0.5
	done
	wait $vpid || rc=$?
	echo $rc >/tmp/$name.rc
	xg_guest_log $name
	xg_emit $name.audit /tmp/$name.audit
	xg_emit $name.err /tmp/$name.err
	xg_emit $name.rc /tmp/$name.rc
	xg_emit $name.state /tmp/$name.state
	[ -f /tmp/$name.trace ] && xg_emit $name.trace /tmp/$name.trace
	if [ -n "${XG_REATTACH_AT:-}" ]; then
		xg_emit $name.audit2 /tmp/$name.audit2
		xg_emit $name.err2 /tmp/$name.err2
	fi
	return 0
}
EOF
}

cmd_build() {
	local vsp=$1
	[ -x "$vsp" ] || die "build: no vsp binary at $vsp"
	cmd_fetch
	"$GRIG" symbols >&2 || die "the guest rig (tests/guest/rig.sh) could not be built"
	eval "$("$GRIG" paths | sed "s/^/G_/")"
	mkdir -p "$CACHE"
	exec 8>"$CACHE/.build-lock"
	flock 8
	local want
	want=$( (dom0_init; xg_lib; md5sum "$vsp" "$G_INITRD" "$G_VMLINUZ"; cat "$CACHE/xen.stamp"
		find "$ROOT/tests/guest/policies" "$HERE/policies" "$ROOT/stdlib-policies" -type f |
			LC_ALL=C sort | xargs md5sum) | md5sum | cut -d' ' -f1)
	if [ -s "$CACHE/dom0.gz" ] && [ "$(cat "$CACHE/dom0.stamp" 2>/dev/null)" = "$want" ]; then
		exec 8>&-
		return 0
	fi
	say "building dom0's initramfs"
	local r=$CACHE/root x=$CACHE/x b
	rm -rf "$r"
	mkdir -p "$r"/{bin,sbin,dev,proc,sys,tmp,run,etc/xen,root,lib,var/lib,var/log,guest,files}
	ln -s ../run "$r/var/run"
	cp /bin/busybox "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	for b in xl xenstored xenconsoled xen-init-dom0 xenctx xen-access libxl-save-helper; do
		copy_with_libs "$r" "$x/usr/lib/xen-4.17/bin/$b" "/usr/lib/xen-4.17/bin/$b"
	done
	local t
	for b in "$x"/usr/bin/xenstore*; do
		t=$b
		# Some are absolute symlinks into the package's own tree.
		if [ -L "$b" ]; then
			t=$(readlink "$b")
			case $t in /*) t=$x$t ;; *) t=$(dirname "$b")/$t ;; esac
		fi
		[ -f "$t" ] || continue	# xen-utils-common's wrapper: not needed
		copy_with_libs "$r" "$t" "/usr/bin/$(basename "$b")"
	done
	copy_with_libs "$r" "$vsp" /bin/vsp
	local gcc_s
	gcc_s=$(gcc -print-file-name=libgcc_s.so.1)
	mkdir -p "$r/lib/x86_64-linux-gnu"
	cp -L "$gcc_s" "$r/lib/x86_64-linux-gnu/libgcc_s.so.1"
	mkdir -p "$r/usr/lib/xen-4.17/boot" "$r/etc/xen/scripts"
	[ -d "$x/usr/lib/xen-4.17/boot" ] && cp -a "$x/usr/lib/xen-4.17/boot/." "$r/usr/lib/xen-4.17/boot/"
	echo 'autoballoon="off"' >"$r/etc/xen/xl.conf"
	local kver
	kver=$(ls "$x/lib/modules" | head -1)
	mkdir -p "$r/lib/modules/$kver/kernel/drivers"
	cp -a "$x/lib/modules/$kver/kernel/drivers/xen" "$r/lib/modules/$kver/kernel/drivers/"
	# The guest: cloud kernel, base initramfs, the symbols vsp needs.
	cp "$G_VMLINUZ" "$r/guest/vmlinuz"
	cp "$G_INITRD" "$r/guest/initrd.gz"
	cp "$G_SYSTEM_MAP" "$r/guest/System.map"
	cp "$G_VMLINUX" "$r/guest/vmlinux"
	cp -a "$ROOT/tests/guest/policies" "$r/guest/policies"
	cp -a "$HERE/policies" "$r/guest/xen-policies" 2>/dev/null || true
	cp -a "$ROOT/stdlib-policies" "$r/guest/packs"
	dom0_init >"$r/init"
	chmod 755 "$r/init"
	xg_lib >"$r/lib/xg.sh"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	(cd "$r" && { find . | LC_ALL=C sort | cpio -o -H newc --quiet; } | gzip -1) >"$CACHE/dom0.gz.tmp"
	# /dev/console must be in the archive or init has no output.
	local dd
	dd=$(mktemp -d)
	mkdir "$dd/dev" && sudo_ mknod -m 600 "$dd/dev/console" c 5 1
	(cd "$dd" && echo dev/console | cpio -o -H newc --quiet | gzip -1) >>"$CACHE/dom0.gz.tmp"
	rm -rf "$dd" "$r"
	mv "$CACHE/dom0.gz.tmp" "$CACHE/dom0.gz"
	echo "$want" >"$CACHE/dom0.stamp"
	exec 8>&-
	say "dom0 initramfs: $(du -h "$CACHE/dom0.gz" | cut -f1)"
}

# ------------------------------------------------------------------ boot

cmd_boot() {
	local log="" files="" timeout=900 stock=0
	while [ $# -gt 0 ]; do
		case $1 in
		--log) log=$2; shift 2 ;;
		--files) files=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--stock) stock=1; shift ;;
		--) shift; break ;;
		-*) die "boot: unknown option $1" ;;
		*) break ;;
		esac
	done
	[ $# = 2 ] || die "boot: want VSP and PLAN"
	local vsp=$1 plan=$2 qemu
	[ -f "$plan" ] || die "boot: no plan file $plan"
	cmd_build "$vsp"
	if [ $stock = 1 ]; then
		qemu=qemu-system-x86_64
	else
		qemu=$(cmd_qemu_path) || die "the patched QEMU is not built (rig.sh qemu)"
	fi
	local ov
	ov=$(mktemp -d)
	cp "$plan" "$ov/plan.sh"
	if [ -n "$files" ]; then
		mkdir -p "$ov/files"
		cp -a "$files/." "$ov/files/"
	fi
	local initrd
	initrd=$(mktemp "${TMPDIR:-/tmp}/vsp-dom0.XXXXXX")
	(cd "$ov" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$ov/o.gz"
	cat "$CACHE/dom0.gz" "$ov/o.gz" >"$initrd"
	rm -rf "$ov"
	[ -n "$log" ] || log=/dev/stdout
	: >"$log"
	local rc=0
	# spec-ctrl=eager-fpu: with Xen's lazy FPU switching (its default
	# on AMD), under this QEMU a guest's vector registers do not survive
	# the guest being paused for a vm_event and dom0 running: processes
	# interrupted in the middle of an SSE/AVX copy by a trapped hypercall
	# (the timer's vcpu_op, from interrupt context) died of SIGSEGV on
	# garbage data (docs/xen.md, Known problems).  XG_XEN_ARGS adds to
	# Xen's command line.
	timeout "$timeout" "$qemu" -L /usr/share/seabios -L /usr/share/qemu \
		-accel tcg -cpu max -m 2048 -smp 1 -nodefaults -display none \
		-no-reboot -monitor none -serial "file:$log" \
		-kernel "$CACHE/xen" \
		-append "console=com1 com1=115200 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 noreboot smap=0 spec-ctrl=eager-fpu ${XG_XEN_ARGS:-}" \
		-initrd "$CACHE/dom0-vmlinuz console=hvc0 earlyprintk=xen panic=-1 quiet loglevel=3,$initrd" \
		</dev/null || rc=$?
	rm -f "$initrd"
	return $rc
}

# A guest's command list as an initramfs overlay (the guest's init runs
# each command line in order, as tests/guest/rig.sh boot does): dom0 puts
# it behind /guest/initrd.gz (xg_guest_initrd).
# XG_ADD=DIR adds DIR's tree to the guest's root (a test's module, say).
cmd_overlay() {
	local out=$1 dir c
	shift
	dir=$(mktemp -d)
	mkdir "$dir/root"
	[ -n "${XG_ADD:-}" ] && cp -a "$XG_ADD/." "$dir/root/"
	for c in "$@"; do
		printf 'vsp_run %q\n' "$c"
	done >"$dir/root/run.sh"
	(cd "$dir/root" && find . ! -name . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$dir"
}

# Unpack the files a plan sent (xg_emit) from the console log into DIR.
cmd_extract() {
	local log=$1 dir=$2
	mkdir -p "$dir"
	tr -d '\r' <"$log" | awk -v dir="$dir" '
		/^XG-FILE-BEGIN / { name = $2; f = dir "/" name ".b64"; printf "" > f; on = 1; next }
		/^XG-FILE-END / { on = 0; close(f); next }
		on && /^[A-Za-z0-9+\/=]+$/ { print >> f }'
	local b
	for b in "$dir"/*.b64; do
		[ -e "$b" ] || continue
		base64 -d <"$b" 2>/dev/null | gunzip -c >"${b%.b64}" 2>/dev/null || true
		rm -f "$b"
	done
}

case ${1:-} in
fetch) shift; cmd_fetch ;;
qemu) shift; cmd_qemu ;;
qemu-path) shift; cmd_qemu_path ;;
build) shift; cmd_build "$@" ;;
boot) shift; cmd_boot "$@" ;;
extract) shift; cmd_extract "$@" ;;
overlay) shift; cmd_overlay "$@" ;;
clean) rm -rf "$CACHE" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
