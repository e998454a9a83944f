# SPDX-License-Identifier: MIT
"""Self-check of the issue #6 tests (tests/integration/tests_robust.py and
tests/stress/stress.py): every test must be able to fail.

For each test, one mutation of what it does (or, where nothing else can be
changed from outside the C code, of what it expects) is applied to a copy of
the suites; the test is run alone and must FAIL.

    BUILD=build python3 tests/stress/mutate.py [-k SUBSTRING]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
INTEG = os.path.join(ROOT, "tests", "integration")

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
    args = sys.argv[1:]
    filters = [args[i + 1] for i, a in enumerate(args) if a == "-k" and i + 1 < len(args)]
    env = dict(os.environ)
    env["BUILD"] = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
    sources = {"tests_robust.py": open(os.path.join(INTEG, "tests_robust.py")).read(),
               "stress.py": open(os.path.join(HERE, "stress.py")).read()}
    covered = set(m[1] for m in MUTATIONS)
    names = [n for src in sources.values() for n in re.findall(r"^def (test_\w+)\(t\):", src, re.M)]
    missing = [n for n in names if n not in covered]
    ok = bad = 0
    for fname, name, old, new in MUTATIONS:
        if filters and not any(x in name for x in filters):
            continue
        if old not in sources[fname]:
            print("STALE %s: mutation text not found: %r" % (name, old))
            bad += 1
            continue
        tmp = tempfile.mkdtemp(prefix="gatehouse-mutate.")
        try:
            shutil.copytree(INTEG, os.path.join(tmp, "integration"))
            shutil.copytree(HERE, os.path.join(tmp, "stress"))
            where = os.path.join(tmp, "integration" if fname == "tests_robust.py" else "stress", fname)
            with open(where, "w") as f:
                f.write(sources[fname].replace(old, new, 1))
            script = os.path.join(tmp, "integration", "runner.py") if fname == "tests_robust.py" else \
                os.path.join(tmp, "stress", "stress.py")
            r = subprocess.run([sys.executable, script, "--short", "-k", name] if fname == "stress.py"
                               else [sys.executable, script, "-k", name], env=env, capture_output=True, timeout=600)
            out = r.stdout.decode("utf-8", "replace")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        line = next((l for l in out.splitlines() if l.startswith(("PASS " + name, "FAIL " + name))), "")
        if line.startswith("FAIL") and r.returncode == 1:
            ok += 1
            print("caught  %s: %s" % (name, line[len("FAIL " + name) + 2:][:110]))
        else:
            bad += 1
            print("MISSED  %s: mutated test did not fail: %s" % (name, line or out[-300:]))
    for n in missing:
        print("NO MUTATION for %s" % n)
    print("mutations: %d caught, %d missed, %d tests without one" % (ok, bad, len(missing)))
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main())
