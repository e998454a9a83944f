#!/bin/bash
# Check bookkeeping for the scripts that run inside the nspawn containers
# (tests/system/inside.sh, tests/package/inside.sh; mounted at /srv/lib).
# Each check is begin N "what" ... end; `no REASON` fails it, `info` notes.
# Prints "PASS N what" or "FAIL N what" (reasons on the "  - " lines above
# it) to the console and to $RES/results, which the host's
# tests/lib/nspawn.sh counts. The caller sets RES before sourcing and ends
# with `finish`.
mkdir -p "$RES"
: >"$RES/results"

pass=0 fail=0 cur='' cur_desc='' cur_bad=0
out() { echo "$*"; echo "$*" >>"$RES/results"; }
begin() { cur=$1 cur_desc=$2 cur_bad=0; }
no() { out "  - $cur: $*"; cur_bad=1; }
info() { out "  . $cur: $*"; }
end() {
	if [ "$cur_bad" = 0 ]; then
		out "PASS $cur $cur_desc"; pass=$((pass + 1))
	else
		out "FAIL $cur $cur_desc"; fail=$((fail + 1))
	fi
}
# wait_for TENTHS CMD...: retry CMD every 0.1 s until it succeeds (quote
# what must be evaluated again on each try: wait_for 10 eval '[ "$(x)" ]')
wait_for() {
	local n=$1; shift
	while ! "$@"; do
		n=$((n - 1)); [ $n -le 0 ] && return 1
		sleep 0.1
	done
}
finish() {
	journalctl -b --no-pager -o short-precise >"$RES/journal.txt" 2>&1
	out "inside: done, $pass passed, $fail failed"
	[ $fail -eq 0 ]
	exit
}
# the container is being stopped (the host's time limit): say where we were
trap 'out "FAIL $cur $cur_desc (interrupted: the container is stopping)"; fail=$((fail + 1)); finish' TERM
