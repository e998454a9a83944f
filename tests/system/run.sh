#!/bin/bash
# System test: real systemd as PID 1 in systemd-nspawn (see TESTING.md).
#   BUILD=build bash tests/system/run.sh
# Stages `make install` (PREFIX=/opt/gatehouse, units and generator under
# /etc) from its own build tree, boots the host's /usr as a throw-away
# container with that /etc on top, and runs tests/system/inside.sh there as
# gatehouse-systemtest.service. Needs root. Per-check PASS/FAIL lines come
# from the container's console; results and the container's journal stay in
# $BUILD/system/results. Last line: "system: N passed, M failed"; exit 1 if
# M > 0. SYSTEM_TIMEOUT (default 180 s) bounds the container's life.
# SYSTEM_SITES=N adds check M: N sites, a reload, each daemon's memory.
# SKIPs (exit 0) only when systemd-nspawn is not installed.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
TIMEOUT=${SYSTEM_TIMEOUT:-180}
NSPAWN_LABEL=system
. tests/lib/nspawn.sh

top=$PWD
# A build tree of its own: the Makefile bakes PREFIX into the binaries and
# the rendered units, and does not rebuild them when PREFIX changes.
mkdir -p "$BUILD/system" || fail_setup "mkdir $BUILD/system"
sdir=$(cd "$BUILD/system" && pwd)
sbuild=$sdir/build
res=$sdir/results
stage=$(mktemp -d /tmp/gh-systest-stage.XXXXXX)
NSPAWN_CLEAN+=("$stage")

start=$(date +%s)
# not the caller's make flags: `make check-asan` must not turn SAN=1 on here
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j"$(nproc)" SAN=0 BUILD="$sbuild" install DESTDIR="$stage" PREFIX=/opt/gatehouse \
	SYSCONFDIR=/etc SYSTEMDUNITDIR=/etc/systemd/system \
	SYSTEMDGENERATORDIR=/etc/systemd/system-generators \
	SYSUSERSDIR=/etc/sysusers.d TMPFILESDIR=/etc/tmpfiles.d >"$stage.make.log" 2>&1; then
	cat "$stage.make.log"; rm -f "$stage.make.log"
	fail_setup "make install into the staging tree failed"
fi
rm -f "$stage.make.log"
# every program the installed units run must be what make install put there
for u in "$stage"/etc/systemd/system/gatehouse*; do
	for p in $(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$u"); do
		case "$p" in /opt/gatehouse/*) ;; /bin/* | /usr/*) continue ;; *)
			fail_setup "$(basename "$u") runs $p, outside the staged PREFIX /opt/gatehouse" ;;
		esac
		[ -x "$stage$p" ] || fail_setup "$(basename "$u") runs $p, which make install did not install"
	done
done
# a machine id makes this an ordinary boot, not a first boot that would
# preset-enable every unit on the host (and ours) behind the test's back
systemd-id128 new >"$stage/etc/machine-id"
{ rm -rf "$res" && mkdir -p "$res"; } || fail_setup "mkdir $res"
# SYSTEM_SITES=N: also measure N sites under this real systemd (check M;
# figures only, no threshold)
[ -z "${SYSTEM_SITES:-}" ] || echo "$SYSTEM_SITES" >"$res/sites"

nspawn_boot "$TIMEOUT" gatehouse-systemtest.service \
	--overlay="$stage/etc::/etc" \
	--bind-ro="$stage/opt/gatehouse:/opt/gatehouse" \
	--bind-ro="$top/tests/system:/srv/systemtest" \
	--bind-ro="$top/tests/system/units:/run/systemd/system" \
	--bind-ro="$top/tests/lib:/srv/lib" \
	--bind="$res:/srv/results"
nspawn_report "$res" "$TIMEOUT" "$start"
