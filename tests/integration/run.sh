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
. tests/lib/pysuite.sh
pysuite integration tests/integration/runner.py "$@"
