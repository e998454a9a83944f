# SPDX-License-Identifier: MIT
"""gatehouse stress suite (issue #6, the long part): thousands of slow
clients, and the routing tests with the daemons under valgrind.

    BUILD=build python3 tests/stress/stress.py [--short] [-k SUBSTRING]... [-v]

Same harness as the integration suite (tests/integration/runner.py, gh.py);
last line `stress: N passed, M failed`. --short is the CI size (< 90 s).
Environment:
  VALGRIND_BUILD  build directory whose daemons run under valgrind (default
                  $BUILD). The seccomp filters kill valgrind's own system
                  calls, so this must be a build without them.
"""
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import gh  # noqa: E402
import runner  # noqa: E402  (also registers the integration tests in gh.TESTS; we run our own list)
import tests_all  # noqa: E402
from gh import check, check_eq, TestFailure, free_port, http_get  # noqa: E402

SHORT = "--short" in sys.argv
STRESS = []


def stress_test(timeout):
    def deco(fn):
        fn.timeout = timeout
        STRESS.append(fn)
        return fn
    return deco


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


# ====================================================================== 1 slow and idle clients

@stress_test(timeout=120)
def test_slow_clients(t):
    """N clients (5000; 1000 with --short) that trickle a request head or a
    ClientHello one byte a second, or send nothing, under inspect-timeout 2s:
    every one is cut (408 for a partial head, a silent close otherwise)
    within the timeout plus a few seconds, never before it; meanwhile a
    normal client's requests all succeed at a latency within a few times the
    unloaded one, and the listener's memory grows by well under 1 KiB per
    waiting client."""
    N = 1000 if SHORT else 5000
    timeout = 2.0
    web = t.backend("slow-http", "http")
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join(["inspect-timeout 2s", "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
                               "site slow.example", "    http " + web.addr, "    tls " + web.addr,
                               "site web.example", "    http " + web.addr, ""]), forwarders=2)
    lst = gh.daemon_pids(g, "gatehouse-list")
    check_eq(len(lst), 1, "listener processes")
    lst = lst[0]

    def timed_get(i):
        t0 = time.monotonic()
        st, h, body, raw = http_get(hp, "web.example", "/n%d" % i, timeout=10)
        dt = time.monotonic() - t0
        if (st, body) != (200, b"slow-http /n%d\n" % i):
            raise TestFailure("normal request %d: %r %r" % (i, st, body[:80]))
        return dt

    for i in range(20):     # warm-up
        timed_get(i)
    unloaded = [timed_get(i) for i in range(300)]
    rss0, fds0 = gh.proc_status_kb(lst), gh.proc_nfds(lst)
    helper = subprocess.Popen([sys.executable, os.path.join(HERE, "slowclients.py"), "::1", str(hp), str(tp),
                               str(N), str(timeout + 8)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t.defer(lambda: (helper.poll() is None and helper.kill(), helper.wait(5)))
    lines = []
    reader = threading.Thread(target=lambda: [lines.append(l) for l in helper.stdout], daemon=True)
    reader.start()
    gh.wait_for(lambda: lines or helper.poll() is not None, 20, "the slow clients to connect")
    m = re.match(rb"connected (\d+) (\d+) ([\d.]+)", lines[0] if lines else b"")
    check(m, "slow-client helper: %r %r" % (lines[:1], helper.stderr.read(2000) if helper.poll() is not None else ""))
    check_eq((int(m.group(1)), int(m.group(2))), (N, 0), "slow clients connected (ok, failed)")
    # the listener's memory and fds while they wait
    samples = []
    stop = []

    def sampler():
        while not stop:
            samples.append((gh.proc_status_kb(lst) or 0, gh.proc_nfds(lst) or 0))
            time.sleep(0.05)
    sth = threading.Thread(target=sampler, daemon=True)
    sth.start()
    loaded, errors = [], []
    i = 1000
    while len(lines) < 2 and helper.poll() is None:
        try:
            loaded.append(timed_get(i))
        except Exception as e:  # noqa: BLE001
            errors.append("request %d: %s: %s" % (i, type(e).__name__, e))
        i += 1
    reader.join(10)
    stop.append(1)
    sth.join(5)
    check(len(lines) >= 2, "slow-client helper gave no result: %r %r" % (lines, helper.stderr.read(2000)))
    res = json.loads(lines[1])
    check(not errors, "%d of %d normal requests failed under load, e.g. %s" % (len(errors), len(loaded) + len(errors),
                                                                              errors[:2]))
    check(len(loaded) >= 20, "only %d normal requests while the slow clients waited" % len(loaded))
    # every slow client cut, the right way, at the right time
    want = {"http_trickle": "408", "tls_trickle": "eof", "http_silent": "eof", "tls_silent": "eof"}
    late = timeout + 5.0
    for kind, r in sorted(res.items()):
        check_eq(r["outcomes"], {want[kind]: r["n"]}, "outcomes of the %d %s clients" % (r["n"], kind))
        check(r["cuts"] and r["cuts"][-1] <= late, "%s: the last client was cut %.2fs after connecting "
              "(inspect-timeout 2s, allowed %.1fs)" % (kind, r["cuts"][-1] if r["cuts"] else -1, late))
        check(r["cuts"][0] >= timeout - 0.2, "%s: a client was cut %.2fs after connecting, before "
              "inspect-timeout 2s" % (kind, r["cuts"][0]))
        if kind.endswith("trickle"):
            check(r["sent_max"] >= 2, "%s clients sent only %d bytes (not trickling?)" % (kind, r["sent_max"]))
    # memory per waiting client
    check(samples, "no listener samples")
    rss_max = max(s[0] for s in samples)
    fds_max = max(s[1] for s in samples)
    waiting = fds_max - fds0
    check(waiting >= N // 2, "at most %d of %d slow clients were in the listener at once" % (waiting, N))
    per = (rss_max - rss0) / waiting
    check(per < 1.0, "listener VmRSS grew %d KiB for %d waiting clients (%.2f KiB each), want < 1 KiB each"
          % (rss_max - rss0, waiting, per))
    # the normal client's latency
    u50, u99 = statistics.median(unloaded), pct(unloaded, 99)
    l50, l99 = statistics.median(loaded), pct(loaded, 99)
    check(l50 < 10 * u50 + 0.05, "normal request median %.1f ms under load, %.1f ms unloaded" % (l50 * 1e3, u50 * 1e3))
    check(l99 < 10 * u99 + 0.2, "normal request p99 %.1f ms under load, %.1f ms unloaded" % (l99 * 1e3, u99 * 1e3))
    cuts = {k: "%.2f-%.2fs" % (r["cuts"][0], r["cuts"][-1]) for k, r in sorted(res.items())}
    print("  %d slow clients (connected in %ss), cut after %s" % (N, m.group(3).decode(), cuts))
    print("  normal requests: unloaded p50 %.2f ms p99 %.2f ms (%d); under load p50 %.2f ms p99 %.2f ms (%d)"
          % (u50 * 1e3, u99 * 1e3, len(unloaded), l50 * 1e3, l99 * 1e3, len(loaded)))
    print("  listener: VmRSS %d -> %d KiB with %d clients waiting: %.3f KiB (%.0f bytes) per waiting client"
          % (rss0, rss_max, waiting, per, per * 1024))


# ====================================================================== 6 valgrind

VG_TESTS = ["test_routing_sni", "test_routing_host", "test_routing_default_tls", "test_routing_reject",
            "test_http_one_site_per_connection", "test_listener_errors", "test_redirect_https",
            "test_half_close", "test_failover", "test_proxy_protocol", "test_timeouts",
            "test_backend_reset_midstream", "test_backend_closes_at_once", "test_max_connections",
            "test_handoff_flood"]
VG_TESTS_FULL = VG_TESTS + ["test_bulk_100mib", "test_1000_concurrent", "test_server_first_eof",
                            "test_forwarder_fd_limit", "test_backend_refused", "test_backend_blackhole",
                            "test_backend_stops_reading", "test_forwarder_stopped", "test_fd_exhaustion_cpu",
                            "test_netns_ipv6_backend", "test_bogus_handoffs"]
# Not here: test_socket_activate (finds forwarders by comm, which valgrind
# changes), test_reload (5 reloads in 0.75 s: under valgrind each generation
# takes seconds to start, longer than its clients' 5 s), test_*_killed (SIGKILL
# leaves no valgrind summary).


@stress_test(timeout=900)
def test_valgrind_routing(t):
    """The integration routing tests (more without --short) against daemons
    run under valgrind --leak-check=full: each test passes, and every daemon
    exits on its own with no error, no leak, no fatal signal."""
    if not shutil.which("valgrind"):
        raise TestFailure("valgrind is not installed (apt-get install valgrind)")
    vgbuild = os.path.abspath(os.environ.get("VALGRIND_BUILD") or gh.BUILD)
    bindir = os.path.join(t.tmp, "bin")
    os.makedirs(bindir)
    shutil.copy(os.path.join(vgbuild, "gatehouse"), os.path.join(bindir, "gatehouse"))
    vglogs = os.path.join(t.tmp, "vg")
    os.makedirs(vglogs)
    for d in ("gatehouse-listener", "gatehouse-forwarder"):
        with open(os.path.join(bindir, d), "w") as f:
            f.write('#!/bin/sh\nexec valgrind --leak-check=full --error-exitcode=99 --track-fds=no '
                    '--log-file=%s/%s.%%p.log %s "$@"\n' % (vglogs, d, os.path.join(vgbuild, d)))
        os.chmod(os.path.join(bindir, d), 0o755)
    for var, fname in (("GATEHOUSE", "gatehouse"), ("LISTENER", "gatehouse-listener"),
                       ("FORWARDER", "gatehouse-forwarder")):
        t.defer(setattr, gh, var, getattr(gh, var))
        setattr(gh, var, os.path.join(bindir, fname))
    names = VG_TESTS if SHORT else VG_TESTS_FULL
    fns = {fn.__name__: fn for fn in gh.TESTS}
    failures, sigsys = [], []
    for name in names:
        sub = runner.Ctx(name, t.tmp)
        try:
            fns[name](sub)
        except Exception as e:  # noqa: BLE001
            failures.append("%s: %s: %s" % (name, type(e).__name__, str(e)[:300]))
        finally:
            sub.cleanup()
        # what the launcher saw of its children
        for f in os.listdir(sub.tmp):
            if not f.endswith(".log"):
                continue
            text = open(os.path.join(sub.tmp, f), errors="replace").read()
            for m in re.finditer(r"(listener|forwarder) (\d+) (killed by signal \d+|exited with status \d+)", text):
                if m.group(3) == "killed by signal 31":
                    sigsys.append(m.group(0))
                elif m.group(3) not in ("killed by signal 15", "exited with status 99"):   # 99: valgrind's report
                    failures.append("%s: %s" % (name, m.group(0)))
        if sigsys:
            break
    if sigsys:
        audit = ""
        try:
            dm = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=5).stdout
            nrs = re.findall(r'comm="memcheck[^"]*".* sig=31 .*syscall=(\d+)', dm)
            if nrs:
                audit = " (kernel audit: syscall %s)" % ", ".join(sorted(set(nrs)))
        except (OSError, subprocess.SubprocessError):
            pass
        raise TestFailure("the daemons' seccomp filters kill valgrind itself: %s%s. Valgrind makes system calls "
                          "of its own (rt_sigprocmask around every guest syscall) that the filters do not list; "
                          "it needs a build without the filters, given as VALGRIND_BUILD=DIR"
                          % (sigsys[0], audit))
    # valgrind's own reports
    logs = sorted(os.listdir(vglogs))
    check(logs, "no valgrind logs in %s" % vglogs)
    leaks, errors, unfinished = [], [], []
    for f in logs:
        text = open(os.path.join(vglogs, f), errors="replace").read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if not m:
            unfinished.append(f)
            continue
        if int(m.group(1)):
            first = re.search(r"^==\d+== (Invalid .*|Conditional jump.*|Syscall param.*|.*uninitialised.*|"
                              r"Mismatched free.*|.*definitely lost.*)$", text, re.M)
            errors.append("%s: %s errors (%s)" % (f, m.group(1), first.group(1) if first else "see log"))
        for kind in ("definitely", "indirectly", "possibly"):
            lm = re.search(r"%s lost: ([\d,]+) bytes in ([\d,]+) blocks" % kind, text)
            if lm and lm.group(1) != "0":
                leaks.append("%s: %s lost %s bytes in %s blocks" % (f, kind, lm.group(1), lm.group(2)))
        m = re.search(r"Process terminating with default action of signal (\d+).*", text)
        if m and m.group(1) != "15":   # SIGTERM before the handler is up: a stop during a slow start
            errors.append("%s: %s" % (f, m.group(0)))
    problems = failures[:3] + errors[:3] + leaks[:3] + \
        ["no ERROR SUMMARY (did not finish): %s" % f for f in unfinished[:2]]
    check(not problems, "under valgrind: %s" % "; ".join(problems))
    print("  valgrind: %d tests, %d daemon runs: 0 errors, 0 bytes lost" % (len(names), len(logs)))


def main():
    args = [a for a in sys.argv[1:] if a != "--short"]
    if os.geteuid() == 0:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1 << 16
        if hard < want:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            except (ValueError, OSError):
                pass
    print("stress: %s mode" % ("short" if SHORT else "full"), flush=True)
    return runner.main(args, STRESS, "stress")


if __name__ == "__main__":
    sys.exit(main())
