#!/bin/bash
# rig.sh: the bundled Linux test guest for `vsp attach`.
#
# The live tests (tests/guest/*.t), `make guest` and `make demo` use this
# script to get a real Linux kernel running under QEMU with its GDB stub
# on loopback, so vsp's GDB backend and monitor loop have something real to
# attach to.  Everything large (the Debian cloud kernel, vmlinux, the
# initramfs, the symbol file) lives in a cache outside the work tree and is
# made once.  See tests/guest/README.md for the subcommands and the console
# protocol the guest speaks.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VSP_CACHE:-$HOME/.cache/vsp}/guest
QEMU=${QEMU:-qemu-system-x86_64}
# Where a guest booted with --bg sends QEMU's own messages (a crash, an
# abort): nowhere unless this names a file.
QEMU_STDERR=${QEMU_STDERR:-/dev/null}
CC_STATIC=${CC_STATIC:-gcc}
CC_DYN=${CC_DYN:-gcc}
# The host's dynamic loader and libc, copied into the guest for the
# dynamically linked programs (progs-dyn/*.c): the same Debian as the
# guest's busybox userland.
DYN_LIBS=${DYN_LIBS:-"/lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/libc.so.6"}

say() { echo "rig: $*" >&2; }
die() { echo "rig: error: $*" >&2; exit 1; }

usage() {
	cat <<'EOF'
usage: rig.sh COMMAND [ARGS]

  build                 fetch the kernel (once), extract vmlinux, build the
                        workload programs and the base initramfs
  symbols               boot once and save /proc/kallsyms as System.map
  kernel FLAVOUR        fetch (once) the vmlinuz of another Debian kernel
                        flavour (amd64, rt-amd64: the package
                        linux-image-FLAVOUR depends on) and print its path
  paths                 print the cached files as NAME=PATH lines
  port                  print a free loopback TCP port
  boot [OPTIONS] [--] CMD...
                        boot the guest paused under a GDB stub; the guest
                        runs each CMD (a shell command line) in order,
                        reports on its console, and powers off
      --port P          GDB stub port (default: a free one, printed)
      --log FILE        serial console log (default: stdout)
      --kaslr           leave KASLR on (default: nokaslr)
      --append ARGS     add ARGS to the kernel command line (pti=on)
      --kernel FILE     boot this vmlinuz instead of the cloud kernel
                        (see `kernel`); the same initramfs
      --smp N           vCPUs (default 1)
      --bg              start QEMU in the background; print "PID PORT"
                        (QEMU's pid) once the stub listens
      --pidfile F       with --bg, also write QEMU's pid to F
      --no-stub         boot without a GDB stub and without -S
      --qmp PATH        also a QMP socket at PATH (unix, server)
      --running         a GDB stub, but the guest starts at once (no -S)
      --timeout S       kill QEMU after S seconds (default 120)
      --add DIR         also unpack DIR's tree into the guest's root, for
                        this boot only (files of the pack tests)
  initrd OUT CMD...     write the initramfs that boot would use for CMD...
                        (the base one and /run.sh) to OUT, and print the
                        kernel command line to go with it, for guests
                        started by something else (libvirt)
  result LOG N          print what command N printed (its VSP lines)
  status LOG N          print command N's exit status, or nothing
  clean                 remove the cache
EOF
}

# ----------------------------------------------------------------- build

cloud_kernel_pkg() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

kernel_fetch() {
	local kdir=$CACHE/kernel
	if [ -s "$CACHE/vmlinuz" ]; then
		return 0
	fi
	mkdir -p "$kdir"
	local pkg
	pkg=$(cloud_kernel_pkg)
	if [ -z "$pkg" ]; then
		# A fresh machine may have no package lists yet.
		local sudo=""
		[ "$(id -u)" = 0 ] || sudo=sudo
		say "no package lists: apt-get update"
		$sudo apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(cloud_kernel_pkg)
	fi
	[ -n "$pkg" ] || die "apt-cache does not name a cloud kernel (run apt-get update?)"
	say "downloading $pkg (about 27 MB, once) into $kdir"
	(cd "$kdir" && apt-get download "$pkg" >/dev/null 2>&1) ||
		die "apt-get download $pkg failed"
	local deb
	deb=$(ls "$kdir"/*.deb | head -1)
	say "unpacking $(basename "$deb")"
	rm -rf "$kdir/x"
	dpkg -x "$deb" "$kdir/x"
	local vmlinuz
	vmlinuz=$(ls "$kdir"/x/boot/vmlinuz-* | head -1)
	[ -s "$vmlinuz" ] || die "no vmlinuz in $deb"
	cp "$vmlinuz" "$CACHE/vmlinuz.tmp"
	basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$CACHE/release"
	rm -rf "$kdir/x" "$deb"
	mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
}

# Another flavour's kernel, for the tests that run vsp on more than one
# Debian kernel build: $CACHE/kernels/FLAVOUR/vmlinuz and its release.
cmd_kernel() {
	local flavour=${1:-}
	case $flavour in
	amd64 | rt-amd64 | cloud-amd64) ;;
	*) die "kernel: want amd64, rt-amd64 or cloud-amd64, not '$flavour'" ;;
	esac
	local kdir=$CACHE/kernels/$flavour
	mkdir -p "$kdir"
	exec 7>"$kdir/.lock"
	flock 7
	if [ ! -s "$kdir/vmlinuz" ]; then
		local pkg
		pkg=$(apt-cache depends "linux-image-$flavour" 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[ -n "$pkg" ] || die "apt-cache does not name a kernel for linux-image-$flavour (run apt-get update?)"
		say "downloading $pkg (about 70 MB, once) into $kdir"
		rm -rf "$kdir/dl"
		mkdir -p "$kdir/dl"
		(cd "$kdir/dl" && apt-get download "$pkg" >/dev/null 2>&1) ||
			die "apt-get download $pkg failed"
		say "unpacking $pkg"
		dpkg -x "$kdir"/dl/*.deb "$kdir/dl/x"
		local vmlinuz
		vmlinuz=$(ls "$kdir"/dl/x/boot/vmlinuz-* | head -1)
		[ -s "$vmlinuz" ] || die "no vmlinuz in $pkg"
		basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$kdir/release"
		cp "$vmlinuz" "$kdir/vmlinuz.tmp"
		mv "$kdir/vmlinuz.tmp" "$kdir/vmlinuz"
		rm -rf "$kdir/dl"
	fi
	exec 7>&-
	echo "$kdir/vmlinuz"
}

# vmlinuz carries an LZ4 (legacy frame) compressed ELF; the call-path code
# wants its .BTF and ORC tables, so decompress it next to the kernel.
vmlinux_extract() {
	if [ -s "$CACHE/vmlinux" ]; then
		return 0
	fi
	say "extracting vmlinux from vmlinuz"
	local off
	for off in $(grep -obUaP '\x02\x21\x4c\x18' "$CACHE/vmlinuz" | cut -d: -f1); do
		tail -c +$((off + 1)) "$CACHE/vmlinuz" |
			lz4 -dc 2>/dev/null >"$CACHE/vmlinux.tmp" || true
		if [ "$(head -c 4 "$CACHE/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
			mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux"
			return 0
		fi
	done
	rm -f "$CACHE/vmlinux.tmp"
	die "no LZ4-compressed ELF found in vmlinuz"
}

progs_build() {
	mkdir -p "$CACHE/progs"
	local src out
	for src in "$HERE"/progs/*.c; do
		out=$CACHE/progs/$(basename "$src" .c)
		if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
			say "compiling $(basename "$src") (static)"
			$CC_STATIC -static -O2 -Wall -Wextra -o "$out" "$src" ||
				die "cannot build $src"
		fi
	done
	# Dynamically linked ones, against the host's libc (copied in below).
	mkdir -p "$CACHE/progs-dyn"
	for src in "$HERE"/progs-dyn/*.c; do
		[ -e "$src" ] || continue
		out=$CACHE/progs-dyn/$(basename "$src" .c)
		if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
			say "compiling $(basename "$src") (dynamic)"
			$CC_DYN -O2 -Wall -Wextra -o "$out" "$src" ||
				die "cannot build $src"
		fi
	done
	# Shared libraries no program links (a process dlopen()s them), put
	# where ld.so searches, beside libc.
	mkdir -p "$CACHE/progs-lib"
	for src in "$HERE"/progs-lib/*.c; do
		[ -e "$src" ] || continue
		out=$CACHE/progs-lib/$(basename "$src" .c).so
		if [ ! -s "$out" ] || [ "$src" -nt "$out" ]; then
			say "compiling $(basename "$src") (shared)"
			$CC_DYN -O2 -Wall -Wextra -shared -fPIC -o "$out" "$src" ||
				die "cannot build $src"
		fi
	done
}

# The reproductions and benign programs of the pack tests: built apart
# from progs/, so the base initramfs (shared by every test) stays as it
# is; the tests put them in the guest with `boot --add`.
packs_build() {
	mkdir -p "$CACHE/packs"
	local src out
	for src in "$HERE"/attacks/*.c "$HERE"/benign/*.c; do
		[ -e "$src" ] || continue
		out=$CACHE/packs/$(basename "$src" .c)
		if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
			say "compiling $(basename "$src") (static)"
			$CC_STATIC -static -O2 -Wall -Wextra -o "$out.tmp" "$src" ||
				die "cannot build $src"
			mv "$out.tmp" "$out"
		fi
	done
}

# The test modules of attacks/kmod/ (vsp_kwrite, the kernel-memory
# reproductions' write primitive; vsp_hcall, hypercalls from a module's own
# code for the Xen pack test), built for the cached kernel against
# Debian's headers for its release (linux-headers-RELEASE, installed here
# when missing).  Without them they are not built and the tests that need
# them say so.
kmod_build() {
	local rel src=$HERE/attacks/kmod dir=$CACHE/packs m fresh=1
	rel=$(cat "$CACHE/release" 2>/dev/null) || return 0
	for m in vsp_kwrite vsp_hcall; do
		if [ ! -s "$dir/$m.ko" ] || [ "$src/$m.c" -nt "$dir/$m.ko" ] ||
			[ "$src/Kbuild" -nt "$dir/$m.ko" ] ||
			[ "$(cat "$dir/$m.ko.release" 2>/dev/null)" != "$rel" ]; then
			fresh=0
		fi
	done
	[ $fresh = 1 ] && return 0
	local kb=/usr/src/linux-headers-$rel
	if [ ! -d "$kb" ]; then
		local sudo=""
		[ "$(id -u)" = 0 ] || sudo=sudo
		say "installing linux-headers-$rel (for attacks/kmod, once)"
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "linux-headers-$rel" \
			>/dev/null 2>&1 || { say "linux-headers-$rel not installed: no test modules"; return 0; }
	fi
	local d
	d=$(mktemp -d)
	cp "$src"/*.c "$src/Kbuild" "$d/"
	say "compiling the test modules (attacks/kmod) for $rel"
	make -s -C "$kb" M="$d" modules >"$d/log" 2>&1
	mkdir -p "$dir"
	for m in vsp_kwrite vsp_hcall; do
		if [ -s "$d/$m.ko" ]; then
			cp "$d/$m.ko" "$dir/$m.ko.tmp"
			mv "$dir/$m.ko.tmp" "$dir/$m.ko"
			echo "$rel" >"$dir/$m.ko.release"
		else
			say "$m.ko did not build: $(tail -3 "$d/log" | tr '\n' ' ')"
		fi
	done
	rm -rf "$d"
}

init_script() {
	cat <<'EOF'
#!/bin/sh
# The test guest's init: mount the basics, run /run.sh (added per boot by
# rig.sh), report on the console, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
cp /bin/vsp_hello /tmp/x
echo "VSP-BOOT $(uname -r)"
n=0
vsp_run() {
	n=$((n + 1))
	echo "VSP-RUN $n $*"
	sh -c "$*"
	echo "VSP-EXIT $n $?"
}
[ -f /run.sh ] && . /run.sh
echo "VSP-DONE"
echo o >/proc/sysrq-trigger
sleep 10
EOF
}

initrd_build() {
	local stamp=$CACHE/initrd.stamp
	local want
	# Rebuilt when the init script, a program, busybox or a library
	# copied in changes (ls -L: the libraries' own files, not links).
	# shellcheck disable=SC2086
	want=$( (init_script; ls -l --time-style=+%s "$CACHE"/progs/ "$CACHE"/progs-dyn/ "$CACHE"/progs-lib/ /bin/busybox
		ls -lL --time-style=+%s $DYN_LIBS) | md5sum | cut -d' ' -f1)
	if [ -s "$CACHE/initrd.gz" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	say "building the base initramfs"
	local root=$CACHE/root
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,root}
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	local p
	for p in "$CACHE"/progs/* "$CACHE"/progs-dyn/*; do
		[ -e "$p" ] && cp "$p" "$root/bin/"
	done
	# At the paths the programs name (PT_INTERP) and ld.so searches.
	local lib
	for lib in $DYN_LIBS; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	for p in "$CACHE"/progs-lib/*.so; do
		[ -e "$p" ] && cp "$p" "$root/lib/x86_64-linux-gnu/"
	done
	init_script >"$root/init"
	chmod 755 "$root/init"
	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:SECRET-HASH:19000:0:99999:7:::" >"$root/etc/shadow"
	chmod 600 "$root/etc/shadow"
	echo "vspguest" >"$root/etc/hostname"
	echo "DECOY-CONTENT" >"$root/etc/decoy"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$CACHE/initrd.gz.tmp"
	mv "$CACHE/initrd.gz.tmp" "$CACHE/initrd.gz"
	rm -rf "$root"
	echo "$want" >"$stamp"
}

cmd_build() {
	mkdir -p "$CACHE"
	# Several tests may build at once: one at a time.
	exec 9>"$CACHE/.lock"
	flock 9
	kernel_fetch
	vmlinux_extract
	progs_build
	packs_build
	kmod_build
	initrd_build
	exec 9>&-	# QEMU must not inherit the lock
}

# ------------------------------------------------------------------ boot

# Is a TCP port in LISTEN state on this host?  Read from /proc so the rig
# needs no iproute2.
port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v h="$hex" '$4 == "0A" { split($2, a, ":"); if (a[2] == h) f = 1 } END { exit !f }'
}

free_port() {
	local p tries=0
	while [ $tries -lt 200 ]; do
		p=$((20000 + RANDOM % 40000))
		if ! port_listening "$p"; then
			echo "$p"
			return 0
		fi
		tries=$((tries + 1))
	done
	die "no free port found"
}

# The per-boot part of the initramfs: /run.sh with the commands.  The kernel
# unpacks concatenated archives in order, so it rides behind the base one.
overlay_initrd() {
	local out=$1
	shift
	local dir
	dir=$(mktemp -d)
	{
		local c
		for c in "$@"; do
			printf 'vsp_run %q\n' "$c"
		done
	} >"$dir/run.sh"
	if [ -n "${BOOT_ADD:-}" ]; then
		mkdir "$dir/root"
		cp -a "$BOOT_ADD/." "$dir/root/"
		cp "$dir/run.sh" "$dir/root/run.sh"
		(cd "$dir/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$dir/o.gz"
	else
		(cd "$dir" && echo run.sh | cpio -o -H newc --quiet | gzip -1) >"$dir/o.gz"
	fi
	cat "$CACHE/initrd.gz" "$dir/o.gz" >"$out"
	rm -rf "$dir"
}

BOOT_ADD=
cmd_boot() {
	local port="" log="" kaslr=0 bg=0 stub=1 timeout=120 pidfile="" smp=1 running=0 qmp=
	local kernel=$CACHE/vmlinuz extra=
	while [ $# -gt 0 ]; do
		case $1 in
		--port) port=$2; shift 2 ;;
		--log) log=$2; shift 2 ;;
		--kaslr) kaslr=1; shift ;;
		--append) extra="$extra $2"; shift 2 ;;
		--kernel) kernel=$2; shift 2 ;;
		--smp) smp=$2; shift 2 ;;
		--bg) bg=1; shift ;;
		--no-stub) stub=0; shift ;;
		--running) running=1; shift ;;
		--qmp) qmp=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--pidfile) pidfile=$2; shift 2 ;;
		--add) BOOT_ADD=$2; shift 2 ;;
		--) shift; break ;;
		-*) die "boot: unknown option $1" ;;
		*) break ;;
		esac
	done
	cmd_build
	[ -n "$port" ] || port=$(free_port)
	local initrd
	initrd=$(mktemp "${TMPDIR:-/tmp}/vsp-initrd.XXXXXX")
	overlay_initrd "$initrd" "$@"
	# no_timer_check: on a loaded host TCG can miss the IO-APIC timer
	# probe's deadline and the kernel panics in setup_IO_APIC.
	local append="console=ttyS0 quiet panic=-1 loglevel=3 no_timer_check"
	[ $kaslr = 1 ] || append="$append nokaslr"
	append="$append$extra"
	local serial
	if [ -n "$log" ]; then
		: >"$log"
		serial="file:$log"
	else
		serial=stdio
	fi
	local args=(-accel tcg -cpu max -m 512 -smp "$smp" -nographic -no-reboot
		-monitor none -serial "$serial"
		-kernel "$kernel" -initrd "$initrd" -append "$append")
	if [ $stub = 1 ]; then
		args+=(-chardev "socket,id=g0,host=127.0.0.1,port=$port,server=on,wait=off,nodelay=on"
			-gdb chardev:g0)
		[ $running = 1 ] || args+=(-S)
	fi
	[ -n "$qmp" ] && args+=(-qmp "unix:$qmp,server=on,wait=off")
	if [ $bg = 0 ]; then
		[ $stub = 1 ] && say "GDB stub on 127.0.0.1:$port (guest paused until a debugger continues it)"
		local rc=0
		timeout "$timeout" "$QEMU" "${args[@]}" </dev/null || rc=$?
		rm -f "$initrd"
		return $rc
	fi
	# In the background: the initrd is deleted when QEMU ends.  QEMU
	# writes its own pid, so callers can stop it (a paused guest).
	local qpf
	qpf=$(mktemp "${TMPDIR:-/tmp}/vsp-qemu.XXXXXX")
	rm -f "$qpf"
	( timeout "$timeout" "$QEMU" "${args[@]}" -pidfile "$qpf"; rm -f "$initrd" "$qpf" ) \
		</dev/null >/dev/null 2>"$QEMU_STDERR" &
	local sub=$! pid="" i
	for i in $(seq 200); do
		[ -z "$pid" ] && [ -s "$qpf" ] && pid=$(cat "$qpf" 2>/dev/null)
		if [ -n "$pid" ] && { [ -z "$qmp" ] || [ -S "$qmp" ]; }; then
			[ $stub = 0 ] && break
			port_listening "$port" && break
		fi
		kill -0 "$sub" 2>/dev/null || die "QEMU exited at once"
		sleep 0.05
	done
	[ -n "$pid" ] || die "QEMU did not start"
	[ -n "$pidfile" ] && echo "$pid" >"$pidfile"
	echo "$pid $port"
}

# ------------------------------------------------------------- symbols

cmd_symbols() {
	cmd_build
	exec 8>"$CACHE/.symlock"
	flock 8
	if [ -s "$CACHE/System.map" ]; then
		exec 8>&-
		return 0
	fi
	say "booting once to record /proc/kallsyms (nokaslr) as System.map"
	local log
	log=$(mktemp)
	cmd_boot --no-stub --log "$log" --timeout 300 \
		'echo VSP-KSYMS-BEGIN; gzip -c /proc/kallsyms | base64; echo VSP-KSYMS-END' ||
		true
	tr -d '\r' <"$log" | sed -n '/^VSP-KSYMS-BEGIN/,/^VSP-KSYMS-END/p' |
		sed '1d;$d' | base64 -d 2>/dev/null | gunzip -c >"$CACHE/System.map.tmp" 2>/dev/null || true
	rm -f "$log"
	local n
	n=$(grep -c ' T ' "$CACHE/System.map.tmp" 2>/dev/null || echo 0)
	[ "$n" -gt 1000 ] || die "kallsyms dump failed (only $n text symbols)"
	grep -q ' __x64_sys_openat$' "$CACHE/System.map.tmp" || die "kallsyms dump has no __x64_sys_openat"
	mv "$CACHE/System.map.tmp" "$CACHE/System.map"
	say "System.map: $(wc -l <"$CACHE/System.map") symbols"
	exec 8>&-
}

cmd_paths() {
	echo "CACHE=$CACHE"
	echo "VMLINUZ=$CACHE/vmlinuz"
	echo "VMLINUX=$CACHE/vmlinux"
	echo "INITRD=$CACHE/initrd.gz"
	echo "SYSTEM_MAP=$CACHE/System.map"
	echo "RELEASE=$(cat "$CACHE/release" 2>/dev/null || true)"
	echo "PACKS_BIN=$CACHE/packs"
}

# Console parsing helpers for tests: what command N printed.
cmd_result() {
	tr -d '\r' <"$1" | awk -v n="$2" '
		$1 == "VSP-RUN" && $2 == n { on = 1; next }
		$1 == "VSP-EXIT" && $2 == n { on = 0 }
		on && $1 == "VSP" { print }'
}

cmd_status() {
	tr -d '\r' <"$1" | awk -v n="$2" '$1 == "VSP-EXIT" && $2 == n { print $3 }'
}

case ${1:-} in
build) shift; cmd_build "$@" ;;
symbols) shift; cmd_symbols "$@" ;;
kernel) shift; cmd_kernel "$@" ;;
paths) shift; cmd_paths ;;
port) free_port ;;
boot) shift; cmd_boot "$@" ;;
initrd) shift; cmd_build; overlay_initrd "$@"
	echo "console=ttyS0 quiet panic=-1 loglevel=3 no_timer_check" ;;
result) shift; cmd_result "$@" ;;
status) shift; cmd_status "$@" ;;
clean) rm -rf "$CACHE" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
