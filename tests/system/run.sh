#!/bin/bash
# System test: real systemd as PID 1 in systemd-nspawn (see TESTING.md).
#   BUILD=build bash tests/system/run.sh
# Stages `make install` (PREFIX=/opt/gatehouse, units and generator under
# /etc) from its own build tree, boots the host's /usr as a throw-away
# container with that /etc on top, and runs tests/system/inside.sh there as
# gatehouse-systemtest.service. Needs root. Per-check PASS/FAIL lines come
# from the container's console; results and the container's journal stay in
# $BUILD/system/results. Last line: "system: N passed, M failed"; exit 1 if
# M > 0. SYSTEM_TIMEOUT (default 120 s) bounds the container's life.
# SKIPs (exit 0) only when systemd-nspawn is not installed.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
TIMEOUT=${SYSTEM_TIMEOUT:-120}

if ! command -v systemd-nspawn >/dev/null 2>&1; then
	echo "SKIP system test: systemd-nspawn not installed (apt-get install systemd-container)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "FAIL system test: needs root (systemd-nspawn)"
	echo "system: 0 passed, 1 failed"
	exit 1
fi

top=$PWD
# A build tree of its own: the Makefile bakes PREFIX into the binaries and
# the rendered units, and does not rebuild them when PREFIX changes.
mkdir -p "$BUILD/system" || exit 1
sdir=$(cd "$BUILD/system" && pwd)
sbuild=$sdir/build
res=$sdir/results
machine=gh-systest-$$
stage=$(mktemp -d /tmp/gh-systest-stage.XXXXXX)
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
	rm -rf "/run/systemd/nspawn/propagate/$machine" "$stage"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail_setup() {
	echo "FAIL system test setup: $*"
	echo "system: 0 passed, 1 failed"
	exit 1
}

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

SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout -k 5 "$TIMEOUT" systemd-nspawn --quiet \
	--volatile=yes -D / -M "$machine" --register=no --keep-unit --private-network \
	--system-call-filter=bpf --capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN \
	--overlay="$stage/etc::/etc" \
	--bind-ro="$stage/opt/gatehouse:/opt/gatehouse" \
	--bind-ro="$top/tests/system:/srv/systemtest" \
	--bind-ro="$top/tests/system/units:/run/systemd/system" \
	--bind="$res:/srv/results" \
	--console=read-only --boot -- \
	systemd.wants=gatehouse-systemtest.service systemd.show_status=false \
	systemd.mask=systemd-networkd-wait-online.service systemd.mask=systemd-firstboot.service \
	systemd.mask=systemd-machine-id-commit.service systemd.mask=console-getty.service \
	systemd.mask=haproxy.service systemd.mask=nginx.service systemd.mask=apache2.service \
	systemd.mask=postgresql.service </dev/null 2> >(grep -v 'Attempted to remove disk file system' >&2) &
nspawn_pid=$!
wait $nspawn_pid
rc=$?
nspawn_pid=

pass=$(grep -c '^PASS ' "$res/results" 2>/dev/null)
fail=$(grep -c '^FAIL ' "$res/results" 2>/dev/null)
pass=${pass:-0} fail=${fail:-0}
if ! grep -q '^inside: done' "$res/results" 2>/dev/null; then
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "FAIL system test: the container did not finish within ${TIMEOUT}s"
	else
		echo "FAIL system test: inside.sh did not finish (container exit $rc)"
	fi
	fail=$((fail + 1))
elif [ $rc -eq 124 ]; then
	echo "note: the container was stopped at the ${TIMEOUT}s limit"
elif [ $rc -ne 0 ] && [ "$fail" -eq 0 ]; then
	echo "FAIL system test: container exit $rc although every check passed"
	fail=$((fail + 1))
fi
[ "$fail" -eq 0 ] || [ ! -s "$res/journal.txt" ] || echo "journal of the container: $res/journal.txt"
echo "system: $pass passed, $fail failed ($(($(date +%s) - start))s)"
[ "$fail" -eq 0 ]
