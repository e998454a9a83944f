#!/bin/bash
# Stress suite (issue #6): thousands of slow clients against the listener,
# and the routing tests with the daemons under valgrind. Needs root (network
# namespaces, fd limits) and the binaries in $BUILD.
#   BUILD=build bash tests/stress/run.sh [--short] [-k SUBSTRING]... [-v]
#   --short   the CI size (< 90 s): 1000 slow clients, 4 routing tests under valgrind
#   VALGRIND_BUILD=DIR  a build without seccomp filters for the valgrind test
#   KEEP_TMP=1 keeps the logs (they are kept anyway when a test fails).
# Last line: "stress: N passed, M failed"; exit 1 if M > 0.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/pysuite.sh
pysuite stress tests/stress/stress.py "$@"
