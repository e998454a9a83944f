#!/bin/bash
# Integration suite: real gatehouse processes on loopback and in an IPv6
# network namespace, real clients (python ssl, curl, openssl s_client),
# in-process backends (tests/integration/gh.py). Needs root (ip netns) and
# the binaries in $BUILD.
#   BUILD=build bash tests/integration/run.sh [-k SUBSTRING]... [-v]
#   KEEP_TMP=1 keeps the logs (they are kept anyway when a test fails).
# Last line: "integration: N passed, M failed"; exit 1 if M > 0.
# tests/integration/mutate.py checks that every test can fail.
cd "$(dirname "$0")/../.." || exit 1
export BUILD="${BUILD:-build}"
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
out=$(mktemp)
"$PY" tests/integration/runner.py "$@" | tee "$out"
rc=${PIPESTATUS[0]}
if ! tail -n 1 "$out" | grep -q '^integration: [0-9]* passed, [0-9]* failed$'; then
	# the runner itself broke (import error, interpreter crash): say so
	echo "integration: 0 passed, 1 failed"
	rc=1
fi
rm -f "$out"
exit "$rc"
