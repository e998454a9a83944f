#!/bin/bash
# Shared by tests/integration/run.sh and tests/stress/run.sh:
#   pysuite LABEL SCRIPT ARGS...
# runs a Python test runner whose last line is "LABEL: N passed, M failed",
# and turns a runner that broke before saying so (import error, interpreter
# crash) into a failure of its own. Returns the runner's status.
pysuite() {
	local label=$1 script=$2 out rc py=/usr/bin/python3
	shift 2
	[ -x "$py" ] || py=python3
	export BUILD="${BUILD:-build}" PYTHONDONTWRITEBYTECODE=1
	out=$(mktemp)
	# one runner at a time on this machine: `make check -j` would run the
	# plain and the ASan integration suites (and the stress one) side by
	# side, and a gatehouse whose config leaves a kind to its default
	# address binds the real :80/:443 — the second one fails to start
	exec 9>>"${TMPDIR:-/tmp}/gatehouse-pysuite.lock"
	flock 9
	"$py" "$script" "$@" | tee "$out"
	rc=${PIPESTATUS[0]}
	flock -u 9
	exec 9>&-
	if ! tail -n 1 "$out" | grep -q "^$label: [0-9]* passed, [0-9]* failed\$"; then
		echo "$label: 0 passed, 1 failed"
		rc=1
	fi
	rm -f "$out"
	return "$rc"
}
