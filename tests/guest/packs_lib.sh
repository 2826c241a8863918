# packs_lib.sh: the pack tests (tests/guest/pack-*.t) and the benign
# workload (tests/guest/benign.t), sourced after lib.sh.
#
# The guest gets, for this boot only (rig.sh boot --add), the files the
# techniques aim at (/etc/gshadow, sudoers, ssh keys, logs, cron and
# systemd directories), the reproductions (tests/guest/attacks/*.c, as
# /bin/vsp_attack and a few renamed copies), the benign
# system programs (tests/guest/benign/vsp_daemon.c, copied to the paths
# of sshd, su, login, cron, logrotate, dpkg, crontab) and marker files.
#
# Each case file tests/guest/attacks/*.case names a technique, the pack
# and rule that must meet it, blocked or alerted, and its variants:
#
#   variant: NAME | GUEST COMMAND | WHAT THE GUEST MUST SEE (an ERE)
#
# packs_cases PACK boots the guest once with every pack loaded and runs
# every variant of the pack's cases, each after a read of its marker file
# /vsp-mark/N, which a rule of the test's own (policies/packs-mark.vsp)
# logs: the audit records between two markers are that variant's.  A
# variant passes when the guest saw what it must (the errno, a kill, or
# the operation done), and its records hold exactly one of the rule's,
# with the verdict the case expects (deny or kill for blocked, an alert
# without a verdict for alerted).
#
# PACKS_PRE, when set, is a guest command run once before the cases (its
# output is checked by the caller with `result p 1`); PACKS_POLICIES are
# policies loaded after the marker's and before the packs (exceptions of
# the test's own).

PACKS_DIR=$(cd "$GUEST_DIR/../../stdlib-policies" && pwd)
ATTACKS_DIR=$GUEST_DIR/attacks
# Every pack the gdb backend can enforce (xen-hypercalls needs a Xen
# guest's hypercalls).
packs_all() {
	local f
	for f in "$PACKS_DIR"/*.vsp; do
		[ "$(basename "$f")" = xen-hypercalls.vsp ] && continue
		echo "$f"
	done
}

# packs_stage DIR NMARKS: the guest's extra files.
packs_stage() {
	local r=$1 n=$2 i
	mkdir -p "$r"/etc/{sudoers.d,ssh,cron.d,systemd/system} "$r"/root/.ssh \
		"$r"/var/log "$r"/var/spool/cron/crontabs "$r"/var/lib/pkg "$r"/var/tmp \
		"$r"/bin "$r"/usr/bin "$r"/usr/sbin "$r"/usr/share "$r"/vsp-mark \
		"$r"/root/build "$r"/dev/shm
	echo "root:!:19000::::::" >"$r/etc/gshadow"
	echo "root ALL=(ALL:ALL) ALL" >"$r/etc/sudoers"
	echo "%admin ALL=(ALL) ALL" >"$r/etc/sudoers.d/admins"
	chmod 440 "$r/etc/sudoers" "$r/etc/sudoers.d/admins"
	chmod 640 "$r/etc/gshadow"
	echo "PRIVATE-HOST-KEY" >"$r/etc/ssh/ssh_host_ed25519_key"
	echo "ssh-ed25519 AAAA host" >"$r/etc/ssh/ssh_host_ed25519_key.pub"
	echo "PRIVATE-USER-KEY" >"$r/root/.ssh/id_ed25519"
	echo "ssh-ed25519 AAAA root" >"$r/root/.ssh/id_ed25519.pub"
	echo "ssh-ed25519 AAAA admin" >"$r/root/.ssh/authorized_keys"
	chmod 600 "$r/etc/ssh/ssh_host_ed25519_key" "$r/root/.ssh/id_ed25519"
	echo "# ~/.profile" >"$r/root/.profile"
	echo "# ~/.bashrc" >"$r/root/.bashrc"
	echo "SHELL=/bin/sh" >"$r/etc/crontab"
	echo "# job" >"$r/etc/cron.d/sysstat"
	for i in auth.log messages syslog; do
		echo "Dec  2 00:00:00 vspguest boot: $i" >"$r/var/log/$i"
	done
	echo "not a module" >"$r/root/fake.ko"
	# a symlink made before any policy was loaded
	ln -s /etc/shadow "$r/root/shadow-link"
	cp "$PACKS_BIN/vsp_attack" "$r/bin/vsp_attack"
	# the same program under other names: a web server, and a reverse
	# shell renamed to look like a system tool
	cp "$PACKS_BIN/vsp_attack" "$r/usr/sbin/nginx"
	cp "$PACKS_BIN/vsp_attack" "$r/usr/bin/updatedb"
	# the kernel-memory cases' write primitive and its loader
	# (attacks/kmod/vsp_kwrite.c; policies/packs-kmod.vsp lets only
	# this loader load it)
	cp "$PACKS_BIN/vsp_attack" "$r/bin/vsp_kload"
	if [ -s "$PACKS_BIN/vsp_kwrite.ko" ]; then
		mkdir -p "$r/lib/vsp"
		cp "$PACKS_BIN/vsp_kwrite.ko" "$r/lib/vsp/vsp_kwrite.ko"
	fi
	for i in usr/sbin/sshd usr/bin/su usr/bin/login usr/sbin/cron usr/sbin/logrotate \
		usr/bin/dpkg usr/bin/crontab; do
		cp "$PACKS_BIN/vsp_daemon" "$r/$i"
	done
	for i in $(seq "$n"); do
		: >"$r/vsp-mark/$i"
	done
}

# The fields of case file $1: technique, pack, rule, expect.
case_field() { sed -n "s/^$2: *//p" "$1" | head -1; }

# packs_cases PACK: boot once, run every variant of the pack's cases,
# check each.  Leaves TAP lines.
packs_cases() {
	local pack=$1 c name cmd want n=0 pre=0
	local -a cmds=() vcase=() vname=() vwant=()
	if [ -n "${PACKS_PRE:-}" ]; then
		cmds+=("$PACKS_PRE")
		pre=1
	fi
	for c in "$ATTACKS_DIR"/*.case; do
		[ "$(case_field "$c" pack)" = "$pack" ] || continue
		while IFS= read -r line; do
			case $line in variant:*) ;; *) continue ;; esac
			line=${line#variant:}
			# NAME | COMMAND | WANT: split at " | ", so a command may
			# hold a pipe written without spaces
			name=$(awk -F ' [|] ' '{ sub(/^ */, "", $1); print $1 }' <<<"$line")
			want=$(awk -F ' [|] ' '{ print $NF }' <<<"$line")
			cmd=$(awk -F ' [|] ' '{ s = $2; for (i = 3; i < NF; i++) s = s " | " $i; print s }' <<<"$line")
			n=$((n + 1))
			vcase+=("$c")
			vname+=("$name")
			vwant+=("$want")
			cmds+=("cat /vsp-mark/$n; ( $cmd ) >/tmp/.out 2>&1; echo \"VSP rc \$?\"; sed 's/^/VSP out /' /tmp/.out")
		done <"$c"
	done
	if [ "$n" = 0 ]; then
		ok "pack $pack has cases" false
		return
	fi
	packs_stage "$T/root" "$n"
	# shellcheck disable=SC2046
	# shellcheck disable=SC2086
	# Every pack's traps on one slow TCG guest: 44-100 s alone, more
	# beside a second suite; the limit only costs time when it is needed.
	GUEST_TIMEOUT=${GUEST_TIMEOUT:-300} GUEST_BOOT_OPTS="--add $T/root" guest_run p "$POL/packs-mark.vsp" ${PACKS_POLICIES:-} \
		$(packs_all) -- "${cmds[@]}"
	ok "$pack: vsp attach with every pack exits 0" eq "$VSP_RC" 0
	[ "$VSP_RC" = 0 ] || sed 's/^/# /' "$T/p.err" | tail -5 >&2
	ok "$pack: the guest ran every case" has p.log VSP-DONE
	local i rule expect out recs mine verdict
	for i in $(seq "$n"); do
		c=${vcase[$((i - 1))]}
		rule=$(case_field "$c" rule)
		expect=$(case_field "$c" expect)
		out=$(result p $((i + pre)))
		ok "$(basename "$c" .case) / ${vname[$((i - 1))]}: the guest sees ${vwant[$((i - 1))]}" \
			grep -Eq -- "${vwant[$((i - 1))]}" <<<"$out"
		# the records between marker i and the next one
		recs=$(awk -v a="/vsp-mark/$i\"" -v b="/vsp-mark/$((i + 1))\"" '
			index($0, "\"rule\":\"mark\"") && index($0, a) { on = 1; next }
			index($0, "\"rule\":\"mark\"") && index($0, b) { on = 0 }
			on' "$T/p.audit")
		mine=$(grep -F "\"rule\":\"$rule\"" <<<"$recs" || true)
		if [ "$expect" = blocked ]; then
			verdict='"verdict":"(deny|kill)"'
		else
			verdict='"verdict":null,.*"severity":"alert"'
		fi
		ok "$(basename "$c" .case) / ${vname[$((i - 1))]}: one record, rule $rule, $expect" \
			one_record "$mine" "$verdict"
	done
}

one_record() {	# one_record RECORDS VERDICT-ERE
	local got
	got=$(grep -c . <<<"$1")
	[ -n "$1" ] || got=0
	if [ "$got" != 1 ]; then
		echo "# $got records of the rule" >&2
		return 1
	fi
	grep -Eq -- "$2" <<<"$1"
}
