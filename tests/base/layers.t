#!/bin/bash
# layers.t: the source folders include downward only (docs/hacking.md,
# "Layers").  A file may include headers of its own folder and of the
# folders below it, never of one above: base/ is the ground floor, then
# fastpath/, interp/, lang/, engine/, vmi/, cli/, and bench/ on top.
. "$(dirname "$0")/../tap.sh"

LAYERS="base fastpath interp lang engine vmi cli bench"

floor() {
	local i=1 l
	for l in $LAYERS; do
		[ "$l" = "$1" ] && { echo $i; return; }
		i=$((i + 1))
	done
	echo 0
}

# Prints "file -> header" for every include of a file of folder $1 that
# names a folder above it; reads the files named after it.
upward() {
	local own=$(floor "$1") f inc dir
	shift
	for f in "$@"; do
		while IFS= read -r inc; do
			dir=${inc%%/*}
			[ "$(floor "$dir")" -gt "$own" ] && echo "$f -> $inc"
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\/[^"]*\)".*/\1/p' "$f")
	done
	return 0
}

cd "$ROOT"
for l in $LAYERS; do
	files=$(find "$l" -type f \( -name '*.c' -o -name '*.h' -o -name '*.y' -o -name '*.l' \) | sort)
	ok '[ -n "$files" ]' "$l/ has sources"
	bad=$(upward "$l" $files)
	is "$bad" "" "$l/ includes nothing above it"
done

# Every header a source names by folder is there (a moved header leaves
# no include behind that a stale build tree would still satisfy).
missing=$(for l in $LAYERS; do
	find "$l" -type f \( -name '*.c' -o -name '*.h' -o -name '*.y' -o -name '*.l' \) |
		xargs sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\/[^"]*\)".*/\1/p'
done | sort -u | while read -r inc; do
	case $inc in lang/parser.h|lang/lexer.h) continue ;; esac	# generated
	[ -f "$inc" ] || echo "$inc"
done)
is "$missing" "" "every included header exists"

# The check itself finds an upward include.
mkdir -p "$T/interp"
printf '#include "base/event.h"\n#include "engine/engine.h"\n' >"$T/interp/x.c"
is "$(upward interp "$T/interp/x.c")" "$T/interp/x.c -> engine/engine.h" \
	"an include of a higher folder is found"
is "$(upward engine "$T/interp/x.c")" "" "the same includes from engine/ are downward"

done_testing
