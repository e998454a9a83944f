# SPDX-License-Identifier: MIT
"""Self-check of the issue #6 tests (tests/integration/tests_robust.py and
tests/stress/stress.py): every test must be able to fail.

For each test, one mutation of what it does (or, where nothing else can be
changed from outside the C code, of what it expects) is applied to a copy of
the suites; the test is run alone and must FAIL.

    BUILD=build python3 tests/stress/mutate.py [-k SUBSTRING]
"""
import os
import shutil
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
INTEG = os.path.join(ROOT, "tests", "integration")
sys.path.insert(0, INTEG)
from mutate import run_mutations  # noqa: E402  (the shared engine)

# (file, test, old source text, new source text): first occurrence replaced
MUTATIONS = [
    ("tests_robust.py", "test_backend_refused", 'check_eq(st, 503, "status with the only http server refusing',
     'check_eq(st, 502, "status with the only http server refusing'),
    ("tests_robust.py", "test_backend_blackhole", 'extra=["connect-timeout 1s"]', 'extra=["connect-timeout 4s"]'),
    ("tests_robust.py", "test_backend_reset_midstream", 'gh.ThreadBackend("rst-small", "reset", payload=small)',
     'gh.ThreadBackend("rst-small", "reset", payload=small[:-1])'),
    ("tests_robust.py", "test_backend_stops_reading", 'gh.ThreadBackend("stuck", "stuck")',
     'gh.ThreadBackend("stuck", "hold")'),
    ("tests_robust.py", "test_backend_closes_at_once", 'gh.ThreadBackend("closer", "close")',
     'gh.ThreadBackend("closer", "hold")'),
    ("tests_robust.py", "test_max_connections", '"max-connections 20"', '"max-connections 24"'),
    ("tests_robust.py", "test_max_connections_shared", "        for i in mine:\n            socks[i].close()",
     "        for i in mine[:0]:\n            socks[i].close()"),
    ("tests_robust.py", "test_fd_exhaustion_cpu", "forwarders=2, nofile=64, nofile_hard=64)\n", "forwarders=2)\n"),
    ("tests_robust.py", "test_launcher_low_nofile", 'nofile=64, nofile_hard=64)\n    st, h, body, raw = http_get(',
     'nofile=12, nofile_hard=12)\n    st, h, body, raw = http_get('),
    ("tests_robust.py", "test_forwarder_stopped", "    os.kill(victim, signal.SIGCONT)\n    collect(10.0)",
     "    os.kill(victim, 0)\n    collect(10.0)"),
    ("tests_robust.py", "test_least_loaded", "    os.kill(victim, signal.SIGCONT)\n    for i, s in waiting:",
     "    os.kill(victim, 0)\n    for i, s in waiting:"),
    ("tests_robust.py", "test_site_max_connections", '"    site-max-connections 3",', '"    site-max-connections 4",'),
    ("tests_robust.py", "test_early_send_partial", 'far.stdin.write("go %d 1.6\\n" % hp)', 'far.stdin.write("go %d 1.6\\n" % (hp + 1))'),
    ("tests_robust.py", "test_launcher_killed", 'g2 = t.gatehouse(conf, forwarders=2, name="gh2")',
     'g2 = t.gatehouse("bogus-directive\\n" + conf, forwarders=2, name="gh2")'),
    ("tests_robust.py", "test_handoff_flood", '"site a.example", "    http " + ra.addr,',
     '"site a.example", "    http " + decoy.addr,'),
    ("stress.py", "test_slow_clients", '"inspect-timeout 2s", "listen http', '"inspect-timeout 8s", "listen http'),
    ("stress.py", "test_valgrind_routing", "'--log-file=%s/%s.%%p.log %s \"$@\"\\n' % (vglogs, d, os.path.join(vgbuild, d))",
     "'--log-file=%s/%s.%%p.log %s \"$@\"\\n' % (vglogs, d, os.path.join(vgbuild, 'gatehouse-listener'))"),
]


def main():
    sources = {"tests_robust.py": open(os.path.join(INTEG, "tests_robust.py")).read(),
               "stress.py": open(os.path.join(HERE, "stress.py")).read()}

    def stage(tmp, fname, text, name):
        shutil.copytree(INTEG, os.path.join(tmp, "integration"))
        shutil.copytree(HERE, os.path.join(tmp, "stress"))
        where = "integration" if fname == "tests_robust.py" else "stress"
        with open(os.path.join(tmp, where, fname), "w") as f:
            f.write(text)
        if fname == "tests_robust.py":
            return [sys.executable, os.path.join(tmp, "integration", "runner.py"), "-k", name]
        return [sys.executable, os.path.join(tmp, "stress", "stress.py"), "--short", "-k", name]

    return run_mutations(MUTATIONS, sources, stage, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
