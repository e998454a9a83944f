#!/bin/bash
# Shared by tests/system/run.sh and tests/package/run.sh: boot the host's
# own /usr as a throw-away systemd-nspawn container (real systemd as PID 1,
# see TESTING.md), run one test unit inside, and turn the PASS/FAIL lines
# it writes to /srv/results/results into the suite's last line.
#
# The caller sets NSPAWN_LABEL (the suite: "system", "package") before
# sourcing, then calls nspawn_boot and nspawn_report; it may append paths
# to NSPAWN_CLEAN for the exit trap.

NSPAWN_CLEAN=()
nspawn_pid=
machine=gh-$NSPAWN_LABEL-$$

fail_setup() {
	echo "FAIL $NSPAWN_LABEL test setup: $*"
	echo "$NSPAWN_LABEL: 0 passed, 1 failed"
	exit 1
}

if ! command -v systemd-nspawn >/dev/null 2>&1; then
	echo "SKIP $NSPAWN_LABEL test: systemd-nspawn not installed (apt-get install systemd-container)"
	exit 0
fi
[ "$(id -u)" = 0 ] || fail_setup "needs root (systemd-nspawn)"

nspawn_cleanup() {
	# nspawn_pid is timeout(1)'s: TERM makes it stop the container (a
	# clean halt takes a few seconds); KILL it and nspawn if that hangs
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		local i
		local -a child
		mapfile -t child < <(pgrep -P "$nspawn_pid")
		kill -TERM "$nspawn_pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "${child[@]}" "$nspawn_pid" 2>/dev/null
	fi
	rm -rf "/run/systemd/nspawn/propagate/$machine" "${NSPAWN_CLEAN[@]}"
}
trap nspawn_cleanup EXIT
trap 'exit 130' INT TERM

# nspawn_boot TIMEOUT UNIT [nspawn options...]: boot until UNIT (wanted by
# the default target) has run and powered the container off, or TIMEOUT
# seconds. Sets nspawn_rc. The host's enabled units boot too (its /etc is
# an overlay's lower layer): its servers and timers are masked (apt-daily
# would take dpkg's lock).
nspawn_boot() {
	local timeout=$1 unit=$2
	shift 2
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout -k 5 "$timeout" systemd-nspawn --quiet \
		--volatile=yes -D / -M "$machine" --register=no --keep-unit --private-network \
		--system-call-filter=bpf --capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN \
		"$@" \
		--console=read-only --boot -- \
		systemd.wants="$unit" systemd.show_status=false \
		systemd.mask=systemd-networkd-wait-online.service systemd.mask=systemd-firstboot.service \
		systemd.mask=systemd-machine-id-commit.service systemd.mask=console-getty.service \
		systemd.mask=getty@tty1.service systemd.mask=systemd-timesyncd.service \
		systemd.mask=haproxy.service systemd.mask=nginx.service systemd.mask=apache2.service \
		systemd.mask=postgresql.service systemd.mask=e2scrub_reap.service \
		systemd.mask=apt-daily.timer systemd.mask=apt-daily-upgrade.timer \
		systemd.mask=apt-daily.service systemd.mask=apt-daily-upgrade.service \
		systemd.mask=dpkg-db-backup.timer systemd.mask=man-db.timer systemd.mask=e2scrub_all.timer \
		systemd.mask=fstrim.timer </dev/null \
		2> >(grep -vE 'Attempted to remove disk file system|refusing to link journals' >&2) &
	nspawn_pid=$!
	wait $nspawn_pid
	nspawn_rc=$?
	nspawn_pid=
}

# nspawn_report RESDIR TIMEOUT START: count the checks, fail the suite if
# the test unit did not finish, print the last line; returns its verdict.
nspawn_report() {
	local res=$1 timeout=$2 start=$3 pass fail
	pass=$(grep -c '^PASS ' "$res/results" 2>/dev/null)
	fail=$(grep -c '^FAIL ' "$res/results" 2>/dev/null)
	pass=${pass:-0} fail=${fail:-0}
	if ! grep -q '^inside: done' "$res/results" 2>/dev/null; then
		if [ "$nspawn_rc" -eq 124 ] || [ "$nspawn_rc" -eq 137 ]; then
			echo "FAIL $NSPAWN_LABEL test: the container did not finish within ${timeout}s"
		else
			echo "FAIL $NSPAWN_LABEL test: inside.sh did not finish (container exit $nspawn_rc)"
		fi
		fail=$((fail + 1))
	elif [ "$nspawn_rc" -eq 124 ]; then
		echo "note: the container was stopped at the ${timeout}s limit"
	elif [ "$nspawn_rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "FAIL $NSPAWN_LABEL test: container exit $nspawn_rc although every check passed"
		fail=$((fail + 1))
	fi
	[ "$fail" -eq 0 ] || [ ! -s "$res/journal.txt" ] || echo "journal of the container: $res/journal.txt"
	echo "$NSPAWN_LABEL: $pass passed, $fail failed ($(($(date +%s) - start))s)"
	[ "$fail" -eq 0 ]
}
