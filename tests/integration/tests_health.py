# SPDX-License-Identifier: MIT
"""Issue #16, item 3: active health checks under `gatehouse run`. One
checker (gatehouse-health) per generation checks each server once per
interval and publishes the states in a sealed page every forwarder maps
read-only: a dead server is marked down within fall x interval and no
client is sent to it, it comes back after `rise` good checks, a site whose
servers are all down is answered at once (503 / close) without a connect,
and the checks' own connections do not grow with the forwarders."""
import json
import re
import socket
import subprocess
import threading
import time

import gh
from gh import test, check, check_eq, wait_for, free_port, http_get, connect, recv_all


class StatusBackend:
    """An HTTP server answering every request with `status`; keeps each
    request head it read and counts its accepts."""

    def __init__(self, status=200, name="sb"):
        self.status, self.name = status, name
        self.heads, self.accepts = [], 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.addr = "[::1]:%d" % self.port
        self.stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepts += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(5)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    break
                buf += d
            with self.lock:
                self.heads.append(buf)
            if buf:
                body = b"%s\n" % self.name.encode()
                c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                          % (self.status, len(body), body))
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _checker_pids(g):
    return gh.daemon_pids(g, "gatehouse-heal")


def _down(g, addr):
    return r"gatehouse-health\[\d+\]: %s \w+ \S+ server_down: " % re.escape(addr)


def _up(g, addr):
    return r"gatehouse-health\[\d+\]: %s \w+ \S+ server_up: " % re.escape(addr)


@test()
def test_health_down_and_back(t):
    """A server killed is marked down within fall x interval, then no client
    goes to it (every answer from the other, no connect to it in any
    forwarder's log); started again, it is up after `rise` good checks and
    gets clients again."""
    a = t.backend("hc-a", "http")
    b = t.backend("hc-b", "http")
    hp = free_port()
    conf = ["listen http [::1]:%d" % hp, "check inter 300ms rise 3 fall 2",
            "site hc.example", "    http %s %s" % (a.addr, b.addr), ""]
    g = t.gatehouse("\n".join(conf), forwarders=2)
    check_eq(len(_checker_pids(g)), 1, "one checker")
    wait_for(lambda: b.accepted >= 2, 5, "b checked twice")
    port_b = b.port
    b.close()
    t0 = time.monotonic()
    g.wait_log(_down(g, b.addr), timeout=5)
    took = time.monotonic() - t0
    # fall x inter = 0.6 s; the check that found it dead may start up to an
    # interval late, and a loaded machine gets half a second on top
    check(took <= 2 * 0.3 + 0.3 + 0.5, "marked down after %.2fs, over fall x inter (+ one interval, + 0.5s)" % took)
    for i in range(12):
        st, _, body, _ = http_get(hp, "hc.example", "/d%d" % i)
        check_eq((st, body), (200, b"hc-a /d%d\n" % i), "client %d while b is down" % i)
    check(("connect to %s" % b.addr) not in g.log(), "a forwarder dialled the down server")
    b2 = t.backend("hc-b2", "http", port=port_b)
    g.wait_log(_up(g, b2.addr), timeout=5)
    check(b2.accepted >= 3, "up after %d checks, rise is 3" % b2.accepted)
    check(re.search(_up(g, b2.addr) + r"3 good checks in a row", g.log()) is not None, "the up record's reason")
    seen = set()
    for i in range(12):
        st, _, body, _ = http_get(hp, "hc.example", "/u%d" % i)
        check_eq(st, 200, "client %d after b came back" % i)
        seen.add(body.split(b" ")[0])
    check_eq(seen, {b"hc-a", b"hc-b2"}, "both servers get clients again")


@test()
def test_health_all_down_http_answers_503_at_once(t):
    """Every server down (its checks answer 500, the check wants 200): an
    HTTP client gets gatehouse's own 503, and the server never sees the
    client's request: the forwarder did not even connect."""
    sb = StatusBackend(500, "sick")
    t.defer(sb.close)
    hp = free_port()
    conf = ["listen http [::1]:%d" % hp, "connect-timeout 30s",
            "site sick.example", "    http " + sb.addr, "    check inter 200ms fall 1 http-status 200 http-path /hc", ""]
    g = t.gatehouse("\n".join(conf), forwarders=2)
    g.wait_log(_down(g, sb.addr) + r"unexpected HTTP status")
    for i in range(4):
        st, _, body, _ = http_get(hp, "sick.example", "/client%d" % i)
        check_eq(st, 503, "client %d" % i)
        check(b"sick" not in body, "the answer came from the server: %r" % body)
    with sb.lock:
        heads = list(sb.heads)
    check(heads and all(h.startswith(b"GET /hc HTTP/1.1\r\nHost: sick.example\r\n") for h in heads),
          "only the checker's requests reached the server: %r" % heads[:3])
    check(not any(b"/client" in h for h in heads), "a client's request reached the down server")
    g.wait_log(r"gatehouse-forwarder\[\d+\]: \S+ http \S+ -> sick.example - in=0 out=0 ms=\d+ connect_failed$",
               count=4)


@test()
def test_health_all_down_tls_closes_at_once(t):
    """`check tls-hello` on a server that does not speak TLS: it is down,
    and a TLS client (SNI u.example, another name of the site) is closed
    without its ClientHello ever reaching the server; the checker's own
    ClientHellos (SNI t.example, the site's first name) did."""
    rb = t.backend("not-tls", "record")
    tp = free_port()
    conf = ["listen tls [::1]:%d" % tp, "connect-timeout 30s",
            "site t.example u.example", "    tls " + rb.addr, "    check inter 200ms fall 1 tls-hello", ""]
    g = t.gatehouse("\n".join(conf), forwarders=2)
    g.wait_log(_down(g, rb.addr) + r"not a TLS ServerHello")
    for i in range(3):
        s = connect(tp)
        s.sendall(gh.client_hello("u.example"))
        data, _ = recv_all(s, timeout=10)
        s.close()
        check_eq(data, b"", "client %d: closed without an answer" % i)
    g.wait_log(r"gatehouse-forwarder\[\d+\]: \S+ tls u.example -> t.example - in=0 out=0 ms=\d+ connect_failed$",
               count=3)
    with rb.lock:
        seen = [bytes(c.data) for c in rb.conns]
    check(any(b"t.example" in d for d in seen), "the checker's ClientHello reached the server")
    check(not any(b"u.example" in d for d in seen), "a client's ClientHello reached the down server")


@test()
def test_health_tls_hello_up(t):
    """`check tls-hello` (fall 1) on a real TLS server and on one that does
    not speak TLS, side by side: the second goes down, the first stays up
    round after round (its ServerHello counts), and clients are relayed."""
    tb = t.backend("real-tls", "http", tls=True)
    rb = t.backend("plain", "record")
    tp = free_port()
    conf = ["listen tls [::1]:%d" % tp, "check inter 200ms fall 1 tls-hello",
            "site tls.example", "    tls " + tb.addr,
            "site plain.example", "    tls " + rb.addr, ""]
    g = t.gatehouse("\n".join(conf), forwarders=1)
    g.wait_log(_down(g, rb.addr) + r"not a TLS ServerHello")
    n = rb.accepted
    wait_for(lambda: rb.accepted >= n + 3, 5, "three more rounds of checks")
    check(re.search(_down(g, tb.addr), g.log()) is None,
          "a TLS server's ServerHello counted as a failure:\n" + g.log()[-800:])
    check_eq(gh.tls_get(tp, "tls.example")[1], b"real-tls /\n", "relayed")


@test()
def test_health_checks_do_not_grow_with_forwarders(t):
    """4 forwarders, 2 servers, inter 200ms: over 10 intervals each server
    sees about 10 checks (one checker), not 40 (one per forwarder)."""
    a, b = StatusBackend(200, "sa"), StatusBackend(200, "sb")
    t.defer(a.close)
    t.defer(b.close)
    hp = free_port()
    conf = ["listen http [::1]:%d" % hp, "check inter 200ms", "site n.example", "    http %s %s" % (a.addr, b.addr), ""]
    g = t.gatehouse("\n".join(conf), forwarders=4)
    check_eq(len(gh.daemon_pids(g, "gatehouse-forw")), 4, "forwarders")
    wait_for(lambda: a.accepts >= 1 and b.accepts >= 1, 5, "first checks")
    n0 = (a.accepts, b.accepts)
    t0 = time.monotonic()
    time.sleep(2.0)	# the span the checks are counted over, not a synchronisation
    n1 = (a.accepts, b.accepts)
    span = time.monotonic() - t0
    rounds = span / 0.2
    for name, d in (("a", n1[0] - n0[0]), ("b", n1[1] - n0[1])):
        check(rounds - 4 <= d <= rounds + 2, "server %s: %d checks in %.1f intervals (4 forwarders)" % (name, d, rounds))


@test()
def test_health_in_metrics_and_status(t):
    """gatehouse_server_up{site,kind,server} is 1 for a live server and 0
    for a dead one, and `gatehouse status` (text and --json) shows both."""
    a = t.backend("hm-a", "http")
    hp, mp = free_port(), free_port()
    dead = "[::1]:%d" % gh.dead_port()
    conf = ["listen http [::1]:%d" % hp, "metrics [::1]:%d" % mp, "check inter 200ms fall 1",
            "site hm.example", "    http %s %s" % (a.addr, dead), ""]
    g = t.gatehouse("\n".join(conf), forwarders=2)
    g.wait_log(_down(g, dead))
    wait_for(lambda: a.accepted >= 1, 5, "a checked")
    import tests_metrics
    m = wait_for(lambda: (lambda m: m if ("gatehouse_server_up", frozenset(
        {("site", "hm.example"), ("kind", "http"), ("server", a.addr)})) in m else None)(tests_metrics.scrape(mp)),
        5, "a series for the live server")
    check_eq(tests_metrics.val(m, "gatehouse_server_up", site="hm.example", server=a.addr), 1, "live server")
    check_eq(tests_metrics.val(m, "gatehouse_server_up", site="hm.example", server=dead), 0, "dead server")
    p = subprocess.run([gh.GATEHOUSE, "status", "-c", g.conf, "--json", "--interval", "0"],
                       capture_output=True, timeout=20)
    check_eq(p.returncode, 0, "status --json: %s" % p.stderr.decode())
    servers = {(s["site"], s["server"]): s["up"] for s in json.loads(p.stdout)["servers"]}
    check_eq(servers, {("hm.example", a.addr): True, ("hm.example", dead): False}, "status --json servers")
    p = subprocess.run([gh.GATEHOUSE, "status", "-c", g.conf, "--interval", "0"], capture_output=True, timeout=20)
    out = p.stdout.decode()
    check(re.search(r"^hm\.example +http +%s +down$" % re.escape(dead), out, re.M) is not None,
          "status text shows the dead server down:\n" + out)
    check(re.search(r"^hm\.example +http +%s +up$" % re.escape(a.addr), out, re.M) is not None,
          "status text shows the live server up:\n" + out)


@test()
def test_health_reload_and_checker_loss(t):
    """A reload with another server list brings a checker of its own whose
    states are the new list's, and the old checker stops even while an old
    forwarder still drains a relay (checks stay one per server); a checker
    killed is replaced by a new generation, and its forwarders skip the
    dead server again."""
    import os
    import signal
    a = t.backend("hr-a", "http")
    hold = t.backend("hr-hold", "record")
    hp = free_port()
    dead1, dead2 = "[::1]:%d" % gh.dead_port(), "[::1]:%d" % gh.dead_port()
    conf = lambda dead: "\n".join(["listen http [::1]:%d" % hp, "check inter 200ms fall 1",
                                   "site hr.example", "    http %s %s" % (dead, a.addr),
                                   "site hold.example", "    http " + hold.addr, ""])
    g = t.gatehouse(conf(dead1), forwarders=2)
    g.wait_log(_down(g, dead1))
    old = _checker_pids(g)
    check_eq(len(old), 1, "one checker")
    held = connect(hp)
    t.defer(held.close)
    held.sendall(b"GET / HTTP/1.1\r\nHost: hold.example\r\n\r\n")
    check_eq(gh.recv_line(held), b"hr-hold\n", "a relay held open across the reload")
    old_fwds = gh.daemon_pids(g, "gatehouse-forw")
    # the dead server moves to the first place: slot 0 is now another server
    with open(g.conf, "w") as f:
        f.write(conf(dead2))
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(_down(g, dead2))
    wait_for(lambda: (lambda p: p if len(p) == 1 and p != old else None)(_checker_pids(g)), 10,
             "the old checker gone, one new one")
    check(any(gh.pid_alive(p) for p in old_fwds), "no old forwarder left draining: the point of the check is lost")
    held.sendall(b"more")
    wait_for(lambda: any(b"more" in bytes(c.data) for c in hold.conns), 5, "the old relay still flows")
    for i in range(8):
        st, _, body, _ = http_get(hp, "hr.example", "/r%d" % i)
        check_eq((st, body), (200, b"hr-a /r%d\n" % i), "client %d after the reload" % i)
    check(("connect to %s" % dead2) not in g.log(), "a forwarder dialled the down server after the reload")
    # the checker lost: a new generation, a new checker, the same verdict
    cur = _checker_pids(g)
    downs = len(re.findall(_down(g, dead2), g.log()))
    os.kill(cur[0], signal.SIGKILL)
    g.wait_log(r"health checker %d of generation \d+ is gone: starting a new generation" % cur[0])
    g.wait_log(_down(g, dead2), count=downs + 1)
    wait_for(lambda: (lambda p: p if len(p) == 1 and p != cur else None)(_checker_pids(g)), 10, "one new checker")
    for i in range(8):
        st, _, body, _ = http_get(hp, "hr.example", "/k%d" % i)
        check_eq((st, body), (200, b"hr-a /k%d\n" % i), "client %d after the checker was replaced" % i)
    check(("connect to %s" % dead2) not in g.log(), "a forwarder dialled the down server")
    # lost again within 10s: no loop of generations; servers count as up
    # (the dead one is dialled again, and failover still serves the client)
    again = _checker_pids(g)
    gens = g.log().count("starting a new listener generation")
    os.kill(again[0], signal.SIGKILL)
    g.wait_log(r"health checker %d of generation \d+ is gone again: every server counts as up" % again[0])
    check_eq(g.log().count("starting a new listener generation"), gens, "no new generation")
    check_eq(_checker_pids(g), [], "no checker")


def _lone_checker(t, conf_lines, name="chk"):
    """gatehouse-health as systemd runs it: its config and one listening
    SOCK_SEQPACKET socket (gatehouse-health.socket) it hands its page out
    on. Returns (socket path, log())."""
    import os
    path = os.path.join(t.tmp, name + ".sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls.bind(path)
    ls.listen(16)
    conf = os.path.join(t.tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("\n".join(conf_lines + [""]))
    try:
        proc, log = gh.lone_daemon(t, name, gh.FORWARDER.replace("gatehouse-forwarder", "gatehouse-health"),
                                   conf, [ls.fileno()], what="gatehouse-health")
    finally:
        ls.close()

    def stop():
        proc.terminate()
        proc.wait(10)
    t.defer(stop)
    return path, log


@test()
def test_health_page_over_the_socket(t):
    """Under systemd: forwarders ask gatehouse-health's socket for the page
    before their sandbox. A forwarder with the same config skips the down
    server; one whose config lists the servers otherwise refuses the page
    (it was made for another list) and counts every server up."""
    import os
    from tests_hostile import _listening, _pair, _handoff
    a = t.backend("hs-a", "record")
    dead = "[::1]:%d" % gh.dead_port()
    site = ["site hs.example", "    http %s %s" % (dead, a.addr), "    check inter 200ms fall 1"]
    path, clog = _lone_checker(t, site)
    wait_for(lambda: re.search(_down(None, dead), clog()), 5, "the checker marks %s down" % dead)
    os.environ["GATEHOUSE_HEALTH_SOCKET"] = path
    t.defer(os.environ.pop, "GATEHOUSE_HEALTH_SOCKET", None)
    proc, ours, flog = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port()] + site)
    lsock = _listening()
    t.defer(lsock.close)
    for i in range(6):
        c, srv = _pair(t, lsock)
        c.sendall(b"GET /s%d HTTP/1.1\r\nHost: hs.example\r\n\r\n" % i)
        _handoff(ours, c, srv, b"hs.example")
        check_eq(gh.recv_line(c), b"hs-a\n", "client %d reached the live server" % i)
    check(("connect to %s" % dead) not in flog(), "the forwarder dialled the down server:\n" + flog())
    check("no health page" not in flog(), "the forwarder got no page:\n" + flog())
    # handing pages out does not stop the checks: the server comes back
    back = t.backend("hs-back", "record", port=int(dead.rsplit(":", 1)[1]))
    wait_for(lambda: re.search(_up(None, back.addr), clog()), 5, "the checker marks %s up again" % back.addr)
    # the servers in another order: another list, another key
    other = ["site hs.example", "    http %s %s" % (a.addr, dead), "    check inter 200ms fall 1"]
    proc2, ours2, flog2 = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port()] + other, name="fwd2")
    check(re.search(r"no health page came from .*: Stale file handle", flog2()) is not None,
          "a page for another server list was not refused:\n" + flog2())


@test()
def test_health_in_metrics_under_systemd(t):
    """Under systemd there is no launcher to hand the exporter the
    checker's page: a forwarder brings the one it took with its counters
    page (GATEHOUSE_COUNTERS_SOCKET, as gatehouse-metrics' units set it),
    and a scrape says which server is down."""
    import os
    import tests_metrics
    a = t.backend("hm-a", "record")
    dead = "[::1]:%d" % gh.dead_port()
    site = ["site hm.example", "    http %s %s" % (dead, a.addr), "    check inter 200ms fall 1"]
    path, clog = _lone_checker(t, site)
    wait_for(lambda: re.search(_down(None, dead), clog()), 5, "the checker marks %s down" % dead)
    # the exporter with gatehouse-metrics.socket's and -forwarders.socket's sockets
    mport = free_port()
    scr = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    scr.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    scr.bind(("::1", mport))
    scr.listen(16)
    socks, paths = [scr], []
    for role in ("l", "f"):
        p = os.path.join(t.tmp, "counters-%s.sock" % role)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(p)
        s.listen(16)
        socks.append(s)
        paths.append(p)
    conf = os.path.join(t.tmp, "exp.conf")
    with open(conf, "w") as f:
        f.write("\n".join(site + [""]))
    try:
        exp, elog = gh.lone_daemon(t, "exp", gh.FORWARDER.replace("gatehouse-forwarder", "gatehouse-metrics"), conf,
                                   [s.fileno() for s in socks], names=["metrics", "metrics", "forwarders"],
                                   what="gatehouse-metrics")
    finally:
        for s in socks:
            s.close()

    def stop():
        exp.terminate()
        exp.wait(10)
    t.defer(stop)
    os.environ["GATEHOUSE_HEALTH_SOCKET"] = path
    t.defer(os.environ.pop, "GATEHOUSE_HEALTH_SOCKET", None)
    os.environ["GATEHOUSE_COUNTERS_SOCKET"] = paths[1]
    t.defer(os.environ.pop, "GATEHOUSE_COUNTERS_SOCKET", None)
    proc, ours, flog = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port()] + site)

    def up(addr):
        return tests_metrics.val(tests_metrics.scrape(mport), "gatehouse_server_up", site="hm.example", server=addr)
    wait_for(lambda: ("gatehouse_server_up", frozenset([("site", "hm.example"), ("kind", "http"), ("server", dead)]))
             in tests_metrics.scrape(mport), 5, "a gatehouse_server_up series for %s; forwarder: %s exporter: %s"
             % (dead, flog(), elog()))
    check_eq(up(dead), 0, "the dead server")
    check_eq(up(a.addr), 1, "the live server")
    check("refused" not in elog(), "the exporter refused a page:\n" + elog())
