#!/bin/bash
# Integration suite: real gatehouse processes on loopback and in an IPv6
# network namespace, real clients (python ssl, curl, openssl s_client),
# in-process backends. Needs root (ip netns) and the binaries in $BUILD.
#   BUILD=build bash tests/integration/run.sh [-k SUBSTRING]... [-v]
# Last line: "integration: N passed, M failed"; exit 1 if M > 0.
cd "$(dirname "$0")/../.." || exit 1
export BUILD="${BUILD:-build}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" tests/integration/runner.py "$@"
