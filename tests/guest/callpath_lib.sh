# callpath_lib.sh: shared by the call-path live tests (callpath*.t),
# sourced after lib.sh.
#
# The truth for a call path is the kernel's own: the guest's function
# tracer, limited to the trapped functions, records a stack trace at each
# call (options/func_stack_trace), and the test prints the trace buffer on
# the console at the end.  callpath_probe traps the same functions just
# past their ftrace call site and prints vsp's path for each call.  The
# workload's processes are the pids the trace shows under the workload's
# name at least once (ftrace names some entries by the comm of the moment,
# some by the latest); every call of those pids is kept on both sides, and
# the two are paired in order per (function, pid).

# The probe is built here, against the library the suite just built.
callpath_build_probe() {
	local root=$GUEST_DIR/../..
	local pk="capstone json-c libffi libbpf" libs
	libs=$(pkg-config --libs $pk 2>/dev/null)
	if pkg-config --exists xencontrol xenevtchn xenforeignmemory 2>/dev/null; then
		libs="$libs $(pkg-config --libs xencontrol xenevtchn xenforeignmemory)"
	fi
	PROBE=$T/callpath_probe
	# VSP_SAN_FLAGS: a sanitizer build's libvsp.a needs its runtime.
	cc -std=c11 -D_GNU_SOURCE -O2 $VSP_SAN_FLAGS -I"$root" -I"$BUILD" \
		$(pkg-config --cflags $pk 2>/dev/null) \
		-o "$PROBE" "$GUEST_DIR/callpath_probe.c" "$BUILD/libvsp.a" \
		$libs -lm -lpthread
}

# The guest commands around a workload: tracing on for FUNCS first, the
# marker the probe waits for, then (after the workload) the trace dump.
CP_FUNCS="commit_creds prepare_creds do_sys_openat2 kernel_clone do_exit"
cp_trace_on() {
	echo "mount -t tracefs nodev /sys/kernel/tracing && cd /sys/kernel/tracing && echo $CP_FUNCS > set_ftrace_filter && echo 1 > options/func_stack_trace && echo function > current_tracer && echo VSP-READY && sleep 2"
}
cp_trace_dump() {
	echo 'echo 0 > /sys/kernel/tracing/tracing_on; echo VSP-TRACE-BEGIN; cat /sys/kernel/tracing/trace; echo VSP-TRACE-END; echo "VSP ksym $(grep " commit_creds$" /proc/kallsyms)"'
}

# callpath_run NAME [RIG BOOT OPTIONS] -- COMMAND...: boots, runs the probe
# until the guest ends.  Leaves $T/NAME.log (console), $T/NAME.probe.
callpath_run() {
	local name=$1
	shift
	local bo=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		bo+=("$1")
		shift
	done
	shift
	local port funcs
	funcs=$(echo $CP_FUNCS | tr ' ' ,)
	read -r QPID port < <("$RIG" boot --bg --timeout 240 --log "$T/$name.log" \
		"${bo[@]}" -- "$(cp_trace_on)" "$@" "$(cp_trace_dump)")
	QPIDS+=("$QPID")
	timeout 220 "$PROBE" --gdb "127.0.0.1:$port" --symbols "$SYSTEM_MAP" \
		--vmlinux "$VMLINUX" --funcs "$funcs" --log "$T/$name.log" \
		--ready VSP-READY \
		>"$T/$name.probe" 2>"$T/$name.probe.err" || true
	guest_wait "$QPID" 60
}

# callpath_compare NAME: pairs probe hits with trace entries; prints
#   hits matched orc_exact insn_exact frames_agree frames_total
#   orc_partial insn_partial mem_exact (insn from guest memory)
#   morc_exact morc_as_orc (ORC tables from guest memory, no vmlinux:
#   paths equal to the kernel's, and to those by the vmlinux's tables)
callpath_compare() {
	tr -d '\r' <"$T/$1.log" |
	sed -n '/^VSP-TRACE-BEGIN/,/^VSP-TRACE-END/p' |
	awk -v comm="${CP_COMM:-cred_walk}" '
		function flush() {
			if (cur != "" && path != "") {
				out[++n] = cur " " path
				opid[n] = curpid
			}
			cur = ""; path = ""
		}
		/^ => / {
			if (cur == "" || $2 ~ /^0x/) next
			path = path == "" ? $2 : path "<" $2
			next
		}
		/<stack trace>/ { next }
		/: [^ ]+ <-/ {
			flush()
			task = $1
			k = split(task, a, "-")
			pid = a[k]
			c = substr(task, 1, length(task) - length(pid) - 1)
			if (c == comm) mine[pid] = 1
			for (i = 1; i <= NF; i++)
				if ($i ~ /:$/ && $(i + 1) != "") { fn = $(i + 1); break }
			cur = fn " " pid
			curpid = pid
			next
		}
		END {
			flush()
			for (i = 1; i <= n; i++)
				if (opid[i] in mine) print "T", out[i]
		}' >"$T/$1.truth"
	awk '
		FNR == NR { tf[++nt] = $2; tp[nt] = $3; tpath[nt] = $4; pids[$3] = 1; next }
		$1 == "HIT" && ($4 in pids) {
			hits++
			orc = ""; insn = ""; mem = ""; morc = ""
			for (i = 6; i <= NF; i++) {
				if ($i ~ /^morc=/) morc = substr($i, 6)
				if ($i ~ /^orc=/) orc = substr($i, 5)
				if ($i ~ /^insn=/) insn = substr($i, 6)
				if ($i ~ /^mem=/) mem = substr($i, 5)
				if ($i == "orc-partial") op++
				if ($i == "insn-partial") ip++
			}
			for (j = next_j[$3 " " $4] + 1; j <= nt; j++)
				if (tf[j] == $3 && tp[j] == $4) break
			if (j > nt) { unmatched++; next }
			next_j[$3 " " $4] = j
			matched++
			if (orc == tpath[j]) oe++
			else print "# orc differs: " orc " vs " tpath[j] > "/dev/stderr"
			if (insn == tpath[j]) ie++
			else print "# insn differs: " insn " vs " tpath[j] > "/dev/stderr"
			if (mem == tpath[j]) me++
			else print "# mem differs: " mem " vs " tpath[j] > "/dev/stderr"
			if (morc == tpath[j]) mo++
			else print "# morc differs: " morc " vs " tpath[j] > "/dev/stderr"
			if (morc == orc) ms++
			no = split(orc, x, "<"); nk = split(tpath[j], y, "<")
			m = no > nk ? no : nk
			ft += m
			for (k = 1; k <= m; k++) if (k <= no && k <= nk && x[k] == y[k]) fa++
		}
		END { printf "%d %d %d %d %d %d %d %d %d %d %d\n", hits, matched, oe, ie, fa, ft, op, ip, me, mo, ms }
	' "$T/$1.truth" "$T/$1.probe"
}
