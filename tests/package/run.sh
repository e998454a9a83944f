#!/bin/bash
# Package test: install the built .deb into a throw-away systemd-nspawn
# container (real systemd as PID 1, see TESTING.md), route through the
# PACKAGED units, purge, and check that nothing is left.
#   bash tests/package/run.sh [DEBDIR]
# DEBDIR holds gatehouse_*.deb (default $BUILD/package/deb); when it has
# none, scripts/build-deb.sh --no-lintian builds one there first (with
# DEB_BUILD_OPTIONS=nocheck unless the caller set DEB_BUILD_OPTIONS).
#
# The container boots the host's own /usr, /etc and /var, each under a
# throw-away overlay (--volatile=yes plus --overlay=DIR::DIR; nspawn refuses
# --volatile=overlay on -D /): dpkg writes there, the host stays untouched. tests/package/inside.sh runs as
# gh-packagetest.service. Per-check PASS/FAIL lines come from the
# container's console; results and the container's journal stay in
# $BUILD/package/results. Last line: "package: N passed, M failed"; exit 1
# if M > 0. PACKAGE_TIMEOUT (default 90 s) bounds the container's life.
# SKIPs (exit 0) only when systemd-nspawn is not installed.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$PWD
BUILD=${BUILD:-build}
TIMEOUT=${PACKAGE_TIMEOUT:-90}

fail_setup() {
	echo "FAIL package test setup: $*"
	echo "package: 0 passed, 1 failed"
	exit 1
}
if ! command -v systemd-nspawn >/dev/null 2>&1; then
	echo "SKIP package test: systemd-nspawn not installed (apt-get install systemd-container)"
	exit 0
fi
[ "$(id -u)" = 0 ] || fail_setup "needs root (systemd-nspawn)"

debdir=${1:-$BUILD/package/deb}
mkdir -p "$debdir" || fail_setup "mkdir $debdir"
debdir=$(cd "$debdir" && pwd)
debs=("$debdir"/gatehouse_*.deb)
if [ ! -e "${debs[0]}" ]; then
	echo "package test: no gatehouse_*.deb in $debdir, building one (scripts/build-deb.sh)"
	if ! DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck} \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL scripts/build-deb.sh --install-deps --no-lintian "$debdir" >"$debdir/build.log" 2>&1; then
		tail -n 30 "$debdir/build.log"
		fail_setup "scripts/build-deb.sh failed (log: $debdir/build.log)"
	fi
	debs=("$debdir"/gatehouse_*.deb)
fi
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || fail_setup "expected one gatehouse_*.deb in $debdir, found: ${debs[*]}"

mkdir -p "$BUILD/package" || fail_setup "mkdir $BUILD/package"
res=$(cd "$BUILD/package" && pwd)/results
machine=gh-pkgtest-$$
# only the one .deb goes into the container (not the dbgsym package)
debs_in=$(mktemp -d /tmp/gh-pkgtest-debs.XXXXXX)
nspawn_pid=

cleanup() {
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
	rm -rf "/run/systemd/nspawn/propagate/$machine" "$debs_in"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "${debs[0]}" "$debs_in/" || fail_setup "cp ${debs[0]}"
{ rm -rf "$res" && mkdir -p "$res"; } || fail_setup "mkdir $res"

start=$(date +%s)
# The host's enabled units boot too (its /etc is the overlay's lower layer,
# and its machine-id makes this an ordinary boot, not a first boot):
# mask the servers and the timers (apt-daily would take dpkg's lock).
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout -k 5 "$TIMEOUT" systemd-nspawn --quiet \
	--volatile=yes -D / -M "$machine" --register=no --keep-unit --private-network \
	--system-call-filter=bpf --capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN \
	--overlay=/usr::/usr --overlay=/etc::/etc --overlay=/var::/var \
	--bind-ro="$debs_in:/opt/debs" \
	--bind-ro="$top/tests/package:/srv/pkgtest" \
	--bind-ro="$top/tests/system/backend.py:/srv/backend.py" \
	--bind-ro="$top/tests/package/units:/run/systemd/system" \
	--bind="$res:/srv/results" \
	--console=read-only --boot -- \
	systemd.wants=gh-packagetest.service systemd.show_status=false \
	systemd.mask=systemd-networkd-wait-online.service systemd.mask=systemd-firstboot.service \
	systemd.mask=systemd-machine-id-commit.service systemd.mask=console-getty.service \
	systemd.mask=getty@tty1.service systemd.mask=systemd-timesyncd.service \
	systemd.mask=haproxy.service systemd.mask=nginx.service systemd.mask=apache2.service \
	systemd.mask=postgresql.service systemd.mask=e2scrub_reap.service \
	systemd.mask=apt-daily.timer systemd.mask=apt-daily-upgrade.timer \
	systemd.mask=apt-daily.service systemd.mask=apt-daily-upgrade.service \
	systemd.mask=dpkg-db-backup.timer systemd.mask=man-db.timer systemd.mask=e2scrub_all.timer \
	systemd.mask=fstrim.timer </dev/null 2> >(grep -vE 'Attempted to remove disk file system|refusing to link journals' >&2) &
nspawn_pid=$!
wait $nspawn_pid
rc=$?
nspawn_pid=

pass=$(grep -c '^PASS ' "$res/results" 2>/dev/null)
fail=$(grep -c '^FAIL ' "$res/results" 2>/dev/null)
pass=${pass:-0} fail=${fail:-0}
if ! grep -q '^inside: done' "$res/results" 2>/dev/null; then
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "FAIL package test: the container did not finish within ${TIMEOUT}s"
	else
		echo "FAIL package test: inside.sh did not finish (container exit $rc)"
	fi
	fail=$((fail + 1))
elif [ $rc -eq 124 ]; then
	echo "note: the container was stopped at the ${TIMEOUT}s limit"
elif [ $rc -ne 0 ] && [ "$fail" -eq 0 ]; then
	echo "FAIL package test: container exit $rc although every check passed"
	fail=$((fail + 1))
fi
[ "$fail" -eq 0 ] || [ ! -s "$res/journal.txt" ] || echo "journal of the container: $res/journal.txt"
echo "package: $pass passed, $fail failed ($(($(date +%s) - start))s)"
[ "$fail" -eq 0 ]
