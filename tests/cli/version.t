#!/bin/bash
# version.t: `vsp --version` names the backends built in, and the Xen
# backend is in exactly when pkg-config finds libxen (the build probes it
# after `make deps`, in $(BUILD)/config.mk).
. "$(dirname "$0")/../tap.sh"

out=$("$VSP" --version)
like "$out" '^vsp [0-9]+\.[0-9]+' "the first line names the version"
line=$(printf '%s\n' "$out" | grep '^backends:' || true)
like "$line" '^backends: gdb' "a backends line lists the GDB backend"
if pkg-config --exists xencontrol xenevtchn xenforeignmemory xenstore; then
	like "$line" ' xen$' "libxen is installed, so the Xen backend is built in"
else
	like "$line" 'no xen: built without libxen-dev' "no libxen: the line says the Xen backend is out and why"
fi
cfg=${BUILD:-$ROOT/build}/config.mk
if [ -f "$cfg" ]; then
	if grep -q '^HAVE_XEN := 1' "$cfg"; then want=' xen$'; else want='no xen'; fi
	like "$line" "$want" "the binary agrees with the probed configuration ($cfg)"
else
	TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP no config.mk beside this binary"
fi
done_testing
