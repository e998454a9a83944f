#!/bin/bash
# Gate the systemd units: `systemd-analyze verify` prints nothing and
# `systemd-analyze security --offline` stays under the exposure bars.
set -u
BUILD=${BUILD:-build}
dir="$BUILD/units-local"
fail=0 pass=0
out=$(cd "$dir" && systemd-analyze verify --man=no ./*.socket ./gatehouse.service ./gatehouse-listener.service ./gatehouse-forwarder@.service ./gatehouse-metrics.service \
	./gatehouse-health.service ./gatehouse-config.service 2>&1)
if [ -n "$out" ]; then
	echo "FAIL verify:"; echo "$out"; fail=$((fail + 1))
else
	echo "PASS verify (no output)"; pass=$((pass + 1))
fi
gate() {	# unit threshold-x10
	local u=$1 t=$2 line
	line=$(cd "$dir" && systemd-analyze security --offline=true --threshold="$t" "./$u" 2>&1)
	local rc=$? score
	score=$(printf '%s\n' "$line" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ $rc -eq 0 ] && [ -n "$score" ]; then
		echo "PASS security $u: exposure $score (bar $(echo "$t" | sed 's/\(.\)$/.\1/'))"; pass=$((pass + 1))
	else
		echo "FAIL security $u: exposure ${score:-?} over bar $t/10"; fail=$((fail + 1))
		printf '%s\n' "$line" | grep '✗'
	fi
}
gate gatehouse-listener.service 10
gate gatehouse-forwarder@.service 15
gate gatehouse-health.service 15
gate gatehouse-metrics.service 10
gate gatehouse-config.service 9
echo "units: $pass passed, $fail failed"
[ $fail -eq 0 ]
