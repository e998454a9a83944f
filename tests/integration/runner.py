# SPDX-License-Identifier: MIT
"""gatehouse integration suite: real processes on loopback (and in an IPv6
network namespace), real clients, in-process backends.

    BUILD=build-it python3 tests/integration/runner.py [-k SUBSTRING]... [-v]

Prints PASS/FAIL per test and, last, `integration: N passed, M failed`.
"""
import importlib
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gh  # noqa: E402

# a daemon crashing, or a sanitizer report, fails whatever test saw it
SANITY = [
    r"ERROR: AddressSanitizer",
    r"ERROR: LeakSanitizer: detected",
    r"runtime error: ",
    r"(killed by signal|terminated by signal) (?!9\b|15\b)\d+",
]


class Ctx:
    def __init__(self, name, base):
        self.name = name
        self.tmp = os.path.join(base, name)
        os.makedirs(self.tmp)
        self._cleanups = []
        self._logs = []

    def defer(self, fn, *args, **kw):
        self._cleanups.append((fn, args, kw))

    def watch_log(self, path):
        """After the test (and its cleanup), the log must show no sanitizer
        report and no daemon killed by a signal the test did not send."""
        self._logs.append(path)

    def log_problems(self):
        out = []
        for path in self._logs:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for rx in SANITY:
                m = re.search(rx, text, re.M)
                if m:
                    line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0]
                    out.append("%s: %s" % (os.path.basename(path), line.strip()))
        return out

    def cleanup(self):
        while self._cleanups:
            fn, args, kw = self._cleanups.pop()
            try:
                fn(*args, **kw)
            except Exception as e:  # cleanup must go on
                print("  (cleanup of %s: %s: %s)" % (self.name, type(e).__name__, e), flush=True)

    def backend(self, name, mode="http", **kw):
        b = gh.Backend(name, mode, **kw)
        self.defer(b.close)
        return b

    def gatehouse(self, config, **kw):
        return gh.Gatehouse(self, config, **kw)


def run_one(fn, base, verbose):
    ctx = Ctx(fn.__name__, base)
    result = {}

    def body():
        try:
            fn(ctx)
            result["ok"] = True
        except gh.TestFailure as e:
            result["err"] = str(e)
        except Exception as e:
            result["err"] = "%s: %s" % (type(e).__name__, e)
            result["tb"] = traceback.format_exc()

    t0 = time.monotonic()
    th = threading.Thread(target=body, name=fn.__name__, daemon=True)
    th.start()
    th.join(fn.timeout)
    if th.is_alive():
        result = {"err": "timed out after %ds" % fn.timeout}
    ctx.cleanup()
    problems = ctx.log_problems()
    if problems and result.get("ok"):
        result = {"err": "daemon trouble in the logs: " + "; ".join(problems[:4])}
    dt = time.monotonic() - t0
    if result.get("ok"):
        print("PASS %s (%.1fs)" % (fn.__name__, dt), flush=True)
        return True
    msg = result["err"].replace("\n", "\n    ")
    print("FAIL %s: %s (%.1fs)" % (fn.__name__, msg, dt), flush=True)
    if verbose and result.get("tb"):
        print(result["tb"], flush=True)
    return False


def main(argv=None, tests=None, label="integration"):
    """Run tests (default: every registered integration test) with the
    command line's -k filters; the last line is `LABEL: N passed, M failed`."""
    args = sys.argv[1:] if argv is None else argv
    tests = gh.TESTS if tests is None else tests
    verbose = "-v" in args
    filters = [args[i + 1] for i, a in enumerate(args) if a == "-k" and i + 1 < len(args)]
    for b in (gh.GATEHOUSE, gh.LISTENER, gh.FORWARDER):
        if not os.access(b, os.X_OK):
            print("FAIL setup: %s is missing (make BUILD=%s all)" % (b, os.environ.get("BUILD", "build")))
            print("%s: 0 passed, 1 failed" % label)
            return 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    base = tempfile.mkdtemp(prefix="gatehouse-%s." % ("it" if label == "integration" else label))
    gh.CERTS = gh.Certs(base)
    t0 = time.monotonic()
    passed = failed = 0
    try:
        for fn in tests:
            if filters and not any(f in fn.__name__ for f in filters):
                continue
            if run_one(fn, base, verbose):
                passed += 1
            else:
                failed += 1
    finally:
        if os.environ.get("KEEP_TMP") or failed:
            print("(logs kept in %s)" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print("(%.1fs)" % (time.monotonic() - t0))
    print("%s: %d passed, %d failed" % (label, passed, failed), flush=True)
    return 1 if failed else 0


import tests_all  # noqa: E402,F401  (registers the tests in order)
# more suites, each registering its tests in order; mutate.py runs a copy
# of tests_all.py with gh.py and runner.py only, so a missing one is fine
for _suite in ("tests_robust",    # hostile clients, broken backends, dying processes
               "tests_listener",  # the listener alone: its accept path and loop
               "tests_hostile",   # a hostile listener driving a real forwarder
               "tests_launcher",  # what `gatehouse run` hands its children
               "tests_load",      # TCP under load: no reset, every relay the fd limit allows
               "tests_alpn",      # tls-alpn routes (issue #15.4)
               "tests_metrics",   # counters, the exporter, `gatehouse status`
               "tests_health",    # health checks: one checker, a page every forwarder reads
               "tests_acl",       # allow/deny lists with clients from several addresses
               "tests_srcaddr",   # source-prefix: a backend in a namespace sees the client
               "tests_limits",    # per-source rate and inspection caps
               "tests_proxy",     # accept-proxy: PROXY headers from a front balancer
               "tests_quic",      # QUIC passthrough by SNI with ngtcp2 (issue #14)
               "tests_sites",     # many sites: the compiled config every daemon maps
               "tests_configd"):  # gatehouse-config: the image under systemd
    try:
        importlib.import_module(_suite)
    except ModuleNotFoundError as e:
        if e.name != _suite:
            raise

if __name__ == "__main__":
    sys.exit(main())
