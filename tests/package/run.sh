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
# if M > 0. PACKAGE_TIMEOUT (default 120 s) bounds the container's life.
# SKIPs (exit 0) only when systemd-nspawn is not installed.
set -u
cd "$(dirname "$0")/../.." || exit 1
top=$PWD
BUILD=${BUILD:-build}
TIMEOUT=${PACKAGE_TIMEOUT:-120}
NSPAWN_LABEL=package
. tests/lib/nspawn.sh

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
# only the one .deb goes into the container (not the dbgsym package)
debs_in=$(mktemp -d /tmp/gh-pkgtest-debs.XXXXXX)
NSPAWN_CLEAN+=("$debs_in")

cp "${debs[0]}" "$debs_in/" || fail_setup "cp ${debs[0]}"
{ rm -rf "$res" && mkdir -p "$res"; } || fail_setup "mkdir $res"

start=$(date +%s)
nspawn_boot "$TIMEOUT" gh-packagetest.service \
	--overlay=/usr::/usr --overlay=/etc::/etc --overlay=/var::/var \
	--bind-ro="$debs_in:/opt/debs" \
	--bind-ro="$top/tests/package:/srv/pkgtest" \
	--bind-ro="$top/debian/tests:/srv/debtests" \
	--bind-ro="$top/tests/system/backend.py:/srv/backend.py" \
	--bind-ro="$top/tests/package/units:/run/systemd/system" \
	--bind-ro="$top/tests/lib:/srv/lib" \
	--bind="$res:/srv/results"
nspawn_report "$res" "$TIMEOUT" "$start"
