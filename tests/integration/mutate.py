# SPDX-License-Identifier: MIT
"""Self-check of the integration suite: every test must be able to fail.

For each test, one mutation of its expectations (or of what it does) is
applied to a copy of tests_all.py; the test is run alone and must FAIL.

    BUILD=build python3 tests/integration/mutate.py [-k SUBSTRING]

Not part of run.sh (it runs the suite ~20 times over).
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

# (test, old source text, new source text): first occurrence replaced
MUTATIONS = [
    ("test_routing_sni", '("x.b.example", "wild-tls")', '("x.b.example", "deep-tls")'),
    ("test_routing_host", '"dflt-http /b"', '"wild-http /b"'),
    ("test_routing_default_tls", 'check_eq(cn, "dflt-tls"', 'check_eq(cn, "a-tls"'),
    ("test_routing_reject", 'for sni in ("nope.example", "b.example", None):',
     'for sni in ("nope.example", "x.b.example", None):'),
    ("test_http_one_site_per_connection", 'b"GET /1 HTTP/1.1\\r\\nHost: a.example',
     'b"GET /1 HTTP/1.1\\r\\nHost: c.example'),
    ("test_clienthello_large", 'big_hello("pq.example", body_len=16385)', 'big_hello("pq.example", body_len=16384)'),
    ("test_reject_log_count", 'rejection records suppressed$"', 'rejection records dropped$"'),
    ("test_listener_errors", r'443\r\n\r\n", 405)', r'443\r\n\r\n", 400)'),
    ("test_redirect_https", '"https://a.example/path?query=1&b=2"', '"https://a.example/path"'),
    ("test_acme_strict", '("GET " + ACME + "AZaz09-_", ACME + "AZaz09-_"),',
     '("GET " + ACME + "AZaz09-_.", ACME + "AZaz09-_."),'),
    ("test_acme_one_request", 'check_eq(bytes(be.conns[0].data), head, "bytes the backend received")',
     'check_eq(bytes(be.conns[0].data), head[:-2], "bytes the backend received")'),
    ("test_absolute_host_mismatch", 'for host in ("c.example", "a.example:8080",',
     'for host in ("a.example:80", "a.example:8080",'),
    ("test_bulk_100mib", 't.backend("bulk-echo", "echo_body")', 't.backend("bulk-echo", "echo")'),
    ("test_half_close", "        s.shutdown(socket.SHUT_WR)\n        reply, how = recv_all(s, 10)",
     "        reply, how = recv_all(s, 10)"),
    ("test_server_first_eof", 'if (data, how) != (b"sf-fast\\n", "eof"):', 'if (data, how) != (b"sf-fast\\n", "reset"):'),
    ("test_failover", 'check_eq(st, 503, "status with every http server down")',
     'check_eq(st, 502, "status with every http server down")'),
    ("test_proxy_protocol", '"sport": cport, "dport": port}', '"sport": cport + 1, "dport": port}'),
    ("test_timeouts", '"idle-timeout 1s"', '"idle-timeout 20s"'),
    ("test_1000_concurrent", r'want = b"cc%d-http /%d\n" % (i % 2, i)', r'want = b"cc%d-http /%d\n" % ((i + 1) % 2, i)'),
    ("test_forwarder_fd_limit", "for i in served:\n            socks[i].close()", "for i in []:\n            socks[i].close()"),
    ("test_forwarder_killed", "os.kill(victim, signal.SIGKILL)", "os.kill(victim, 0)"),
    ("test_listener_killed", "os.kill(lst[0], signal.SIGKILL)", "os.kill(lst[0], 0)"),
    ("test_bogus_handoffs", '("wrong version", handoff_msg(version=5), "tcp")',
     '("wrong version", handoff_msg(version=4), "tcp")'),
    ("test_socket_activate", 'check_eq(cn, "sa-tls"', 'check_eq(cn, "sa-http"'),
    ("test_netns_ipv6_backend", '"    http [%s]:8080" % ns_ip', '"    http [%s]:8081" % ns_ip'),
    ("test_reload", "os.kill(g.proc.pid, signal.SIGHUP)", "os.kill(g.proc.pid, 0)"),
    ("test_reload_refused_then_restart", 'f.write("this is not a directive\\n")',
     'f.write("this is not a directive\\n" if False else open(g.conf).read())'),
    ("test_launcher", 'check_eq(rc, 0, "exit status after SIGINT")', 'check_eq(rc, 1, "exit status after SIGINT")'),
    ("test_launcher_gives_up", "check(starts <= 15,", "check(starts <= 0,"),
    ("test_sandbox_applied", '"site sb.example", "    http " + hb.addr, ""]), forwarders=2)',
     '"site sb.example", "    http " + hb.addr, ""]), forwarders=2, as_uid=65534)'),
    ("test_unprivileged_run", 'forwarders=1, as_uid=65534)', 'forwarders=1)'),
]


def run_mutations(mutations, sources, stage, args):
    """The engine, shared with tests/stress/mutate.py. Each mutation
    (FILE, TEST, OLD, NEW) replaces the first OLD in sources[FILE] by NEW;
    stage(tmpdir, FILE, text, TEST) puts a copy of the suite there with that
    text and returns the command that runs TEST alone, which must FAIL.
    Every test defined in sources needs a mutation. Returns the exit status."""
    filters = [args[i + 1] for i, a in enumerate(args) if a == "-k" and i + 1 < len(args)]
    env = dict(os.environ)
    env["BUILD"] = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
    covered = set(m[1] for m in mutations)
    names = [n for src in sources.values() for n in re.findall(r"^def (test_\w+)\(t\):", src, re.M)]
    missing = [n for n in names if n not in covered]
    ok = bad = 0
    for fname, name, old, new in mutations:
        if filters and not any(x in name for x in filters):
            continue
        if old not in sources[fname]:
            print("STALE %s: mutation text not found: %r" % (name, old))
            bad += 1
            continue
        tmp = tempfile.mkdtemp(prefix="gatehouse-mutate.")
        try:
            cmd = stage(tmp, fname, sources[fname].replace(old, new, 1), name)
            r = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
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


def main():
    with open(os.path.join(HERE, "tests_all.py")) as f:
        sources = {"tests_all.py": f.read()}

    def stage(tmp, fname, text, name):
        for fn in ("gh.py", "runner.py"):
            shutil.copy(os.path.join(HERE, fn), tmp)
        with open(os.path.join(tmp, fname), "w") as f:
            f.write(text)
        return [sys.executable, os.path.join(tmp, "runner.py"), "-k", name]

    return run_mutations([("tests_all.py",) + m for m in MUTATIONS], sources, stage, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
