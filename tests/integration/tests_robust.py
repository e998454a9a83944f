# SPDX-License-Identifier: MIT
"""Issue #6, the quick part: hostile clients, broken backends, dying
processes. Each test asserts one outcome and prints what it measured (the
long ones live in tests/stress/)."""
import array
import collections
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import gh
from gh import (test, check, check_eq, wait_for, TestFailure, free_port, dead_port, connect,
                recv_all, recv_line, recv_exact, http_get)


def raw_exchange(port, data, addr="::1", timeout=5):
    s = connect(port, addr, timeout)
    try:
        s.sendall(data)
        return recv_all(s, timeout)
    finally:
        s.close()


def _sysctl_max(name):
    with open("/proc/sys/net/ipv4/" + name) as f:
        return int(f.read().split()[2])


def relay_owners(hp, socks, pids):
    """{client socket: the forwarder (of pids) holding its accepted side, or
    None}; /proc read once for all of them."""
    by_port = {}
    for lp, rp, ino in gh._tcp_table():
        if lp == hp and ino:
            by_port[rp] = ino
    held = {p: gh.pid_socket_inodes(p) for p in pids}
    out = {}
    for s in socks:
        ino = by_port.get(s.getsockname()[1])
        owners = [p for p in pids if ino and ino in held[p]]
        out[s] = owners[0] if len(owners) == 1 else None
    return out


def get_req(host, i):
    """A keep-alive GET (an echo backend sends it straight back)."""
    return b"GET /%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (i, host.encode())


def open_req(t, hp, host, i):
    """A client that has sent get_req(host, i) to the HTTP side."""
    s = connect(hp, timeout=10)
    t.defer(s.close)
    s.sendall(get_req(host, i))
    return s


def relay_owner(hp, s, pids):
    """The forwarder (of pids) holding the accepted side of client socket s."""
    return relay_owners(hp, [s], pids)[s]


# ====================================================================== a client beside the fault

class Bystander:
    """A well-behaved client running beside a fault: one long relay to an
    echo site pinged every 20 ms, and fresh requests to a plain site every
    50 ms, each from its own thread. stop() fails the test if any of it
    broke or waited long."""

    MAX_WAIT = 0.5   # seconds; a forwarder blocked by the fault would show 1 s and more

    def __init__(self, port, echo_host, http_host, http_name):
        self.port, self.http_host, self.http_name = port, http_host, http_name
        self.errors, self.pings, self.reqs = [], [], []
        self.stopping = False
        s = connect(port, timeout=5)
        req = b"GET /bystander HTTP/1.1\r\nHost: %s\r\n\r\n" % echo_host.encode()
        s.sendall(req)
        check_eq(recv_exact(s, len(req)), req, "bystander relay: echo of its request")
        self.relay = s
        self.threads = [threading.Thread(target=self._pinger, daemon=True),
                        threading.Thread(target=self._requester, daemon=True)]
        for th in self.threads:
            th.start()

    def _pinger(self):
        i = 0
        while not self.stopping:
            msg = b"ping %d\n" % i
            t0 = time.monotonic()
            try:
                self.relay.sendall(msg)
                got = recv_exact(self.relay, len(msg), timeout=5)
            except OSError as e:
                self.errors.append("relay ping %d: %r" % (i, e))
                return
            if got != msg:
                self.errors.append("relay ping %d came back as %r" % (i, got))
                return
            self.pings.append(time.monotonic() - t0)
            i += 1
            time.sleep(0.02)

    def _requester(self):
        i = 0
        while not self.stopping:
            t0 = time.monotonic()
            try:
                st, h, body, raw = http_get(self.port, self.http_host, "/b%d" % i, timeout=5)
                if (st, body) != (200, b"%s /b%d\n" % (self.http_name.encode(), i)):
                    self.errors.append("request %d: %r %r" % (i, st, body[:80]))
            except Exception as e:  # noqa: BLE001 (any failure is the finding)
                self.errors.append("request %d: %s: %s" % (i, type(e).__name__, e))
            self.reqs.append(time.monotonic() - t0)
            i += 1
            time.sleep(0.05)

    def halt(self):
        self.stopping = True
        for th in self.threads:
            th.join(10)
        self.relay.close()

    def stop(self, what):
        self.halt()
        check(not self.errors, "a client beside %s was affected: %s" % (what, "; ".join(self.errors[:3])))
        check(len(self.pings) >= 10 and len(self.reqs) >= 5,
              "the client beside %s made too little progress: %d pings, %d requests"
              % (what, len(self.pings), len(self.reqs)))
        worst = max(self.pings + self.reqs)
        check(worst < self.MAX_WAIT, "a client beside %s waited %.2fs for an answer (ping or request)"
              % (what, worst))
        return worst


def faults_setup(t, sites, forwarders=1, extra=()):
    """gatehouse with the bystander's two sites plus `sites` [(name, http
    servers, tls servers)], one forwarder by default (the fault and the
    bystander then share it). Returns (g, http port, tls port, bystander)."""
    echo = t.backend("by-echo", "echo")
    web = t.backend("by-http", "http")
    hp, tp = free_port(), free_port()
    conf = list(extra) + ["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
                          "site echo.example", "    http " + echo.addr,
                          "site web.example", "    http " + web.addr]
    for name, http_srv, tls_srv in sites:
        conf.append("site " + name)
        if http_srv:
            conf.append("    http " + http_srv)
        if tls_srv:
            conf.append("    tls " + tls_srv)
    g = t.gatehouse("\n".join(conf + [""]), forwarders=forwarders)
    by = Bystander(hp, "echo.example", "web.example", "by-http")
    t.defer(by.halt)
    return g, hp, tp, by


# ====================================================================== 3 backend faults

@test()
def test_backend_refused(t):
    """Every server refuses: 503 to HTTP, a silent close to TLS,
    connect_failed in the log; a client beside it notices nothing."""
    d = dead_port()
    g, hp, tp, by = faults_setup(t, [("refused.example", "[::1]:%d" % d, "[::1]:%d" % d)])
    n, t0 = 0, time.monotonic()
    while n < 5 or time.monotonic() - t0 < 1.0:    # long enough for the bystander to notice
        st, h, body, raw = http_get(hp, "refused.example", "/r%d" % n)
        check_eq(st, 503, "status with the only http server refusing (client %d)" % n)
        data, how = raw_exchange(tp, gh.client_hello("refused.example"))
        check_eq(data, b"", "bytes to a TLS client whose server refuses (client %d)" % n)
        check(how in ("eof", "reset"), "TLS client whose server refuses: %s" % how)
        n += 1
        time.sleep(0.02)
    g.wait_log(r"\[::1\]:\d+ http refused\.example -> refused\.example \[::1\]:%d in=\d+ out=\d+ ms=\d+ "
               r"connect_failed$" % d, count=n)
    g.wait_log(r"\[::1\]:\d+ tls refused\.example -> refused\.example \[::1\]:%d in=\d+ out=0 ms=\d+ "
               r"connect_failed$" % d, count=n)
    worst = by.stop("refused connects")
    print("  refused: %d x 503 + %d TLS closes; the client beside waited at most %.0f ms" % (n, n, worst * 1000))


@test()
def test_backend_blackhole(t):
    """A server whose SYNs vanish (blackhole route in a network namespace):
    after connect-timeout 1s an HTTP client gets 503 and a TLS client a
    close, logged as connect_failed; ten of them at once leave a client
    beside them (same forwarder) unaffected."""
    ns = gh.Netns(t)
    hole = ns.black_hole()
    # the setup itself: a connect there must hang, not fail fast
    probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    probe.settimeout(1.5)
    t0 = time.monotonic()
    try:
        probe.connect((hole, 80))
        raise TestFailure("setup: a connect to the black hole [%s]:80 succeeded" % hole)
    except socket.timeout:
        pass
    except OSError as e:
        raise TestFailure("setup: a connect to the black hole failed after %.2fs instead of hanging: %s"
                          % (time.monotonic() - t0, e))
    finally:
        probe.close()
    g, hp, tp, by = faults_setup(t, [("bh.example", "[%s]:80" % hole, "[%s]:443" % hole)],
                                 extra=["connect-timeout 1s"])
    res = {}

    def one(i):
        t0 = time.monotonic()
        try:
            if i % 2 == 0:
                st, h, body, raw = http_get(hp, "bh.example", "/bh%d" % i, timeout=8)
                res[i] = ("http", st, time.monotonic() - t0)
            else:
                data, how = raw_exchange(tp, gh.client_hello("bh.example"), timeout=8)
                res[i] = ("tls", (data, how), time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001
            res[i] = ("error", repr(e), time.monotonic() - t0)

    ths = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(10)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(12)
    for i in range(10):
        kind, out, dt = res.get(i, ("missing", None, 0))
        if i % 2 == 0:
            check_eq((kind, out), ("http", 503), "HTTP client %d of a black-holed server" % i)
        else:
            check(kind == "tls" and out[0] == b"" and out[1] in ("eof", "reset"),
                  "TLS client %d of a black-holed server: %r" % (i, (kind, out)))
        check(0.9 <= dt <= 3.0, "client %d of a black-holed server answered after %.2fs, want ~1 s "
              "(connect-timeout 1s)" % (i, dt))
    g.wait_log(r"connect to \[%s\]:80 \(site bh\.example\) failed: timed out" % re.escape(hole))
    for kind, port, n in (("http", 80, 5), ("tls", 443, 5)):
        lines = g.wait_log(r"\[::1\]:\d+ %s bh\.example -> bh\.example \[%s\]:%d in=\d+ out=\d+ ms=(\d+) "
                           r"connect_failed$" % (kind, re.escape(hole), port), count=n)
        check(all(900 <= int(ms) <= 3000 for ms in lines), "%s log durations %r, want ~1000 ms" % (kind, lines))
    times = [res[i][2] for i in range(10)]
    worst = by.stop("black-holed connects")
    print("  black hole: 10 clients cut after %.2f-%.2fs (connect-timeout 1s); client beside waited <= %.0f ms"
          % (min(times), max(times), worst * 1000))


@test()
def test_early_send_partial(t):
    """A client whose first read (a 60 KB POST) the server takes only part
    of right after the connect: any byte taken proves the connection up, so
    the connect timeout must not end it (or fail it over: a next server
    would get the stream without its start); the server reads everything,
    in order, when it gets round to it. Over loopback one send takes 60 KB
    whole, so gatehouse, client and server run in a network namespace with
    small TCP send buffers (tcp_wmem 4096 8192 16384), where it cannot."""
    ns = gh.Netns(t)
    gh.Netns.ip("netns", "exec", ns.name, "sysctl", "-qw", "net.ipv4.tcp_wmem=4096 8192 16384")
    pa, hp = 20080, 20081
    far = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable,
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "early_partial.py"), str(pa)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    t.defer(far.kill)
    check_eq(far.stdout.readline().strip(), "ready", "the far side's first line")
    g = t.gatehouse("\n".join(["connect-timeout 1s", "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % (hp + 1),
                               "site ep.example", "    http [::1]:%d" % pa, ""]), netns=ns.name)
    # the far side waits past the connect timeout before it accepts: a wrong
    # one fires in that time (no event marks "nothing happened")
    far.stdin.write("go %d 1.6\n" % hp)
    far.stdin.flush()
    out = far.stdout.readline().strip()
    check(out.startswith("match "), "what the server read of the client's request: %r" % out)
    check("failed" not in g.log(), "a connect that was up reported as failed:\n" + g.log()[-600:])
    print("  a 60 KB first read taken in part (small send buffers): kept for the server, no timeout, "
          "delivered whole (%s bytes)" % out.split()[-1])


@test()
def test_backend_reset_midstream(t):
    """A server that sends part of an answer then resets (SO_LINGER 0): the
    client gets every byte sent before the reset, then EOF or a reset;
    the log says server_error. Both relay paths: recv/send (< 16 KiB) and
    splice (300 KB)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n"
    small = head + gh.PATTERN[:5000]
    big = head + gh.PATTERN[:300000]
    bs = gh.ThreadBackend("rst-small", "reset", payload=small)
    bb = gh.ThreadBackend("rst-big", "reset", payload=big)
    t.defer(bs.close)
    t.defer(bb.close)
    g, hp, tp, by = faults_setup(t, [("rst.example", bs.addr, None), ("rstbig.example", bb.addr, None)])
    for host, be, payload in (("rst.example", bs, small), ("rstbig.example", bb, big)) * 2:
        s = connect(hp, timeout=10)
        s.sendall(b"GET /r HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        data, how = recv_all(s, 10)
        s.close()
        check(data == payload, "%s: client got %d bytes (%s), the server sent %d before its reset"
              % (host, len(data), "a prefix" if payload.startswith(data) else "different bytes", len(payload)))
        check(how in ("eof", "reset"), "%s: after the server's reset the client saw %s" % (host, how))
        g.wait_log(r"\[::1\]:\d+ http %s -> %s \[::1\]:%d in=\d+ out=%d ms=\d+ server_error$"
                   % (re.escape(host), re.escape(host), be.port, len(payload)), count=be.accepted)
    worst = by.stop("servers resetting mid-answer")
    print("  reset mid-answer: 5 KB and 300 KB delivered whole, then EOF; server_error logged")


@test(timeout=60)
def test_backend_stops_reading(t):
    """A server that never reads while its client uploads 200 MB: the
    client's send blocks once the socket buffers on the way are full (no
    unbounded buffering), the forwarder's memory stays flat, and the
    relay ends with server_error once the server goes away."""
    st = gh.ThreadBackend("stuck", "stuck")
    t.defer(st.close)
    g, hp, tp, by = faults_setup(t, [("stuck.example", st.addr, None)])
    fwd = gh.daemon_pids(g, "gatehouse-forw")
    check_eq(len(fwd), 1, "forwarders")
    rss0 = gh.proc_status_kb(fwd[0])
    total = 200 << 20
    s = connect(hp, timeout=10)
    t.defer(s.close)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: stuck.example\r\nContent-Length: %d\r\n\r\n" % total)
    wait_for(lambda: st.accepted == 1, 5, "the stuck server's connection")
    s.setblocking(False)
    chunk = memoryview(gh.PATTERN)
    sent, rss_max = 0, rss0
    last = time.monotonic()
    t0 = last
    while sent < total and time.monotonic() - last < 2.0:
        w = gh.writable(s, 0.1)
        rss_max = max(rss_max, gh.proc_status_kb(fwd[0]) or 0)
        if w:
            try:
                n = s.send(chunk[:min(len(chunk), total - sent)])
            except BlockingIOError:
                continue
            sent += n
            last = time.monotonic()
    blocked_after = last - t0
    wmem, rmem = _sysctl_max("tcp_wmem"), _sysctl_max("tcp_rmem")
    # client send buffer + forwarder receive buffer + pipe + forwarder send
    # buffer + server receive buffer, at their sysctl maxima
    bound = 2 * wmem + 2 * rmem + (2 << 20)
    check(sent < total, "the client sent all 200 MB to a server that reads nothing: it was buffered somewhere")
    check(sent <= bound, "the client sent %.1f MiB to a server that reads nothing, more than the socket "
          "buffers on the way can hold (%.1f MiB)" % (sent / 2**20, bound / 2**20))
    grow = rss_max - rss0
    check(grow < 8 << 10, "forwarder VmRSS grew by %d KiB (%d -> %d) while its server read nothing"
          % (grow, rss0, rss_max))
    hwm = gh.proc_status_kb(fwd[0], "VmHWM")
    # the server goes away: the relay ends, the client sees it
    st.close()
    s.setblocking(True)
    data, how = recv_all(s, 5)
    check(how in ("eof", "reset"), "the client of a server that went away: %s" % how)
    g.wait_log(r"\[::1\]:\d+ http stuck\.example -> stuck\.example \[::1\]:%d in=\d+ out=0 ms=\d+ server_error$"
               % st.port)
    by.stop("a server that reads nothing")
    print("  stuck server: client blocked after %.1f MiB of 200 MiB (%.1fs); forwarder VmRSS %d KiB before, "
          "%d KiB max while blocked (VmHWM %d KiB)" % (sent / 2**20, blocked_after, rss0, rss_max, hwm))


@test()
def test_backend_closes_at_once(t):
    """A server that closes each connection as soon as it accepts it: the
    client gets EOF with no bytes and one log record (ok for a clean
    half-close, server_error when its close came as a reset)."""
    cb = gh.ThreadBackend("closer", "close")
    t.defer(cb.close)
    g, hp, tp, by = faults_setup(t, [("close.example", cb.addr, cb.addr)])
    n, t0 = 0, time.monotonic()
    while n < 5 or time.monotonic() - t0 < 1.0:    # long enough for the bystander to notice
        s = connect(hp, timeout=5)
        s.sendall(b"GET /c%d HTTP/1.1\r\nHost: close.example\r\n\r\n" % n)
        data, how = recv_all(s, 5)
        s.close()
        check_eq((data, how in ("eof", "reset")), (b"", True), "HTTP client %d of a server closing at once (%s)"
                 % (n, how))
        data, how = raw_exchange(tp, gh.client_hello("close.example"))
        check_eq((data, how in ("eof", "reset")), (b"", True), "TLS client %d of a server closing at once (%s)"
                 % (n, how))
        n += 1
        time.sleep(0.02)
    check_eq(cb.accepted, 2 * n, "connections the closing server accepted")
    lines = g.wait_log(r"\[::1\]:\d+ (?:http|tls) close\.example -> close\.example \[::1\]:%d in=\d+ out=0 "
                       r"ms=\d+ (\S+)$" % cb.port, count=2 * n)
    check_eq(len(lines), 2 * n, "log records for the %d clients" % (2 * n))
    bad = [r for r in lines if r not in ("ok", "server_error")]
    check(not bad, "results logged for a server closing at once: %r" % lines)
    by.stop("a server closing at once")
    print("  server closing at accept: %d clients got EOF; results %s"
          % (2 * n, dict(collections.Counter(lines))))


# ====================================================================== 2 connection limits

@test(timeout=60)
def test_max_connections(t):
    """max-connections 20 over 2 forwarders, 60 long relays: the server
    never sees more than 20 at once, the other 40 connect (backlog) and
    wait, and each relay that ends lets a waiting one through."""
    hb = gh.ThreadBackend("mc-hold", "hold")
    t.defer(hb.close)
    hp = free_port()
    g = t.gatehouse("\n".join(["max-connections 20", "listen http [::1]:%d" % hp,
                               "listen tls [::1]:%d" % free_port(),
                               "site mc.example", "    http " + hb.addr, ""]), forwarders=2)
    fwd = gh.daemon_pids(g, "gatehouse-forw")
    lst = gh.daemon_pids(g, "gatehouse-list")
    check_eq(len(fwd), 2, "forwarders")
    N = 60
    socks = []
    stages = [time.monotonic()]
    for i in range(N):
        s = connect(hp, timeout=10)   # connect() succeeds for all 60
        t.defer(s.close)
        s.sendall(b"GET /%d HTTP/1.1\r\nHost: mc.example\r\n\r\n" % i)
        socks.append(s)
    served, closed = {}, set()
    owner = {}

    def collect(until_n, settle):
        """Read greetings until until_n are served, then `settle` s more."""
        deadline = time.monotonic() + 8
        end = None
        while True:
            now = time.monotonic()
            if end is None and len(served) >= until_n:
                end = now + settle
            if (end is not None and now >= end) or now > deadline:
                return
            waiting = [s for i, s in enumerate(socks) if i not in served]
            if not waiting:
                return
            r = gh.readable(waiting, 0.05)
            for s in r:
                i = socks.index(s)
                d = recv_line(s, 5)
                check_eq(d, b"mc-hold\n", "greeting of client %d" % i)
                served[i] = now
            for s, o in (relay_owners(hp, r, fwd) if r else {}).items():
                owner[socks.index(s)] = o

    stages.append(time.monotonic())
    collect(20, 1.0)
    stages.append(time.monotonic())
    check_eq(len(served), 20, "clients relayed at once under max-connections 20 (1 s after the 20th)")
    check_eq((hb.accepted, hb.live), (20, 20), "server connections (accepted, open) with 40 clients waiting")
    per_fwd = collections.Counter(owner.values())
    # ten relays end (five per forwarder when possible): ten waiting clients go through
    stage = []
    for p in fwd:
        stage += [i for i in served if owner[i] == p and i not in closed][:5]
    stage = (stage + [i for i in served if i not in stage])[:10]
    for i in stage:
        socks[i].close()
        closed.add(i)
    collect(30, 1.0)
    stages.append(time.monotonic())
    check_eq(len(served), 30, "clients served after 10 of the first 20 relays ended")
    check(hb.max_live <= 20, "server saw %d connections at once, max-connections is 20" % hb.max_live)
    # end every open relay, again and again: all 60 get through
    deadline = time.monotonic() + 20
    while len(served) < N and time.monotonic() < deadline:
        for i in list(served):
            if i not in closed:
                socks[i].close()
                closed.add(i)
        collect(min(N, len(served) + 1), 0.2)
    stages.append(time.monotonic())
    check_eq(len(served), N, "clients served in the end")
    for i in list(served):
        if i not in closed:
            socks[i].close()
            closed.add(i)
    wait_for(lambda: hb.live == 0, 5, "every server connection to end")
    check(hb.max_live <= 20, "server saw %d connections at once, max-connections is 20" % hb.max_live)
    check_eq(hb.accepted, N, "server connections")
    g.wait_log(r"http mc\.example -> mc\.example \[::1\]:%d in=\d+ out=8 ms=\d+ ok$" % hb.port, count=N)
    check_eq((gh.daemon_pids(g, "gatehouse-forw"), gh.daemon_pids(g, "gatehouse-list")), (fwd, lst),
             "forwarder and listener pids (nothing restarted)")
    print("  max-connections 20 (2 forwarders, %s at first): server saw at most %d at once; 40 waited, all 60 served "
          "(connect/20/30/60 took %s s, with 1 s of settling each)" % ("+".join(str(per_fwd[p]) for p in fwd), hb.max_live,
                                                       "/".join("%.1f" % (b - a) for a, b in zip(stages, stages[1:]))))


STRANDED_MAX = 13


@test(timeout=60)
def test_max_connections_shared(t):
    """max-connections is a cap over all forwarders: when relays end on one
    forwarder, waiting clients go through even if the other forwarder's
    relays all stay open. Four rounds: end every relay of forwarder B, and
    as many waiting clients as relays ended must be served within 3 s, but
    for at most one batch (STRANDED_MAX) queued in the full forwarder's
    channel, which waits for that forwarder."""
    hb = gh.ThreadBackend("ms-hold", "hold")
    t.defer(hb.close)
    hp = free_port()
    g = t.gatehouse("\n".join(["max-connections 20", "listen http [::1]:%d" % hp,
                               "listen tls [::1]:%d" % free_port(),
                               "site ms.example", "    http " + hb.addr, ""]), forwarders=2)
    fwd = gh.daemon_pids(g, "gatehouse-forw")
    check_eq(len(fwd), 2, "forwarders")
    N = 60
    socks = []
    for i in range(N):
        s = connect(hp, timeout=10)
        t.defer(s.close)
        s.sendall(b"GET /%d HTTP/1.1\r\nHost: ms.example\r\n\r\n" % i)
        socks.append(s)
    served, owner, closed = {}, {}, set()

    def collect(until_n, secs):
        deadline = time.monotonic() + secs
        while len(served) < until_n and time.monotonic() < deadline:
            r = gh.readable([s for i, s in enumerate(socks) if i not in served], 0.05)
            for s in r:
                i = socks.index(s)
                check_eq(recv_line(s, 5), b"ms-hold\n", "greeting of client %d" % i)
                served[i] = time.monotonic()
            for s, o in (relay_owners(hp, r, fwd) if r else {}).items():
                owner[socks.index(s)] = o

    collect(20, 5)
    check_eq(len(served), 20, "clients relayed at once under max-connections 20")
    a, b = fwd
    history = []
    for rnd in range(4):
        mine = [i for i in served if owner[i] == b and i not in closed]
        for i in mine:
            socks[i].close()
            closed.add(i)
        before = len(served)
        # A full forwarder's channel may hold one batch of hand-offs
        # (listener/main.c CHANNEL_SNDBUF: 13 in flight); every other
        # waiting client must get through the forwarder with room.
        want = min(len(mine), max(0, N - before - STRANDED_MAX))
        collect(before + min(len(mine), N - before), 3)
        got = len(served) - before
        history.append("%d->%d" % (len(mine), got))
        check(want <= got <= len(mine), "round %d: %d relays of forwarder %d ended with %d clients waiting, but %d got through "
              "in 3 s (forwarder %d holds %d open relays; rounds so far %s)"
              % (rnd + 1, len(mine), b, N - before, got, a,
                 len([i for i in served if owner[i] == a and i not in closed]), ", ".join(history)))
    check(hb.max_live <= 20, "server saw %d connections at once, max-connections is 20" % hb.max_live)
    print("  max-connections shared: rounds (relays ended -> clients through) %s" % ", ".join(history))


def _cpu(pids):
    return sum(gh.proc_cpu_seconds(p) for p in pids)


@test(timeout=60)
def test_fd_exhaustion_cpu(t):
    """RLIMIT_NOFILE 64 for the whole of gatehouse and 200 clients: while
    the listener's accept() fails with EMFILE (partial heads held), and
    again while relays fill the forwarders, listener + forwarders stay near
    idle (no busy loop); once the clients go, service resumes."""
    web = t.backend("emf-http", "http")
    hb = gh.ThreadBackend("emf-hold", "hold")
    t.defer(hb.close)
    hp = free_port()
    g = t.gatehouse("\n".join(["inspect-timeout 60s", "listen http [::1]:%d" % hp,
                               "listen tls [::1]:%d" % free_port(),
                               "site web.example", "    http " + web.addr,
                               "site hold.example", "    http " + hb.addr, ""]),
                    forwarders=2, nofile=64, nofile_hard=64)
    check_eq(http_get(hp, "web.example", "/before")[:1], (200,), "status before the flood")
    pids = gh.daemon_pids(g, "gatehouse-list") + gh.daemon_pids(g, "gatehouse-forw")
    check_eq(len(pids), 3, "listener + 2 forwarders")
    N = 200
    report = []
    for phase, req in (("partial heads (listener EMFILE)", b"GET /slow HTTP/1.1\r\nHost: web.exa"),
                       ("held relays (forwarders full)", b"GET /hold HTTP/1.1\r\nHost: hold.example\r\n\r\n")):
        n_emfile = g.log().count("Too many open files")
        clients = []
        for i in range(N):
            s = connect(hp, timeout=10)
            s.sendall(req)
            clients.append(s)
        if phase.startswith("partial"):
            wait_for(lambda: g.log().count("Too many open files") > n_emfile, 5,
                     "the listener's accept() to hit EMFILE; log tail:\n" + g.log()[-800:])
        else:
            wait_for(lambda: hb.accepted >= 2, 5, "relays to the holding server")
        time.sleep(0.5)
        # a newcomer waits: no answer, no refusal
        extra = connect(hp, timeout=10)
        extra.sendall(b"GET /extra HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n")
        c0, w0 = _cpu(pids), time.monotonic()
        time.sleep(3.0)
        cpu, wall = _cpu(pids) - c0, time.monotonic() - w0
        r = gh.readable([extra], 0)
        check(not r, "%s: a new client was answered (or cut) while fds were exhausted: %r"
              % (phase, extra.recv(200) if r else b""))
        check(cpu < 0.15 * wall, "%s: listener + forwarders used %.2f s CPU in %.1f s while out of fds "
              "(busy loop?)" % (phase, cpu, wall))
        report.append("%s %.3f s" % (phase, cpu))
        live_hold = hb.live
        for s in clients:
            s.close()
        raw, how = recv_all(extra, 15)
        extra.close()
        check(raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"emf-http /extra\n"),
              "%s: the client that waited got %r (%s) after the flood ended" % (phase, raw[:80], how))
        check_eq(http_get(hp, "web.example", "/after", timeout=10)[:1], (200,), "status after " + phase)
        if phase.startswith("held"):
            report[-1] += " (%d relays held)" % live_hold
    check_eq(len(gh.daemon_pids(g, "gatehouse-list") + gh.daemon_pids(g, "gatehouse-forw")), 3,
             "daemons alive after both floods")
    print("  RLIMIT_NOFILE 64, 200 clients: CPU of listener+forwarders over 3 s: %s" % "; ".join(report))


@test()
def test_launcher_low_nofile(t):
    """`gatehouse run` under RLIMIT_NOFILE 64 (prlimit --nofile=64) starts
    and serves: a small fd limit is the operator's choice, not a reason for
    children to die before READY."""
    web = t.backend("lo-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                               "site web.example", "    http " + web.addr, ""]),
                    forwarders=2, nofile=64, nofile_hard=64)
    st, h, body, raw = http_get(hp, "web.example", "/low")
    check_eq((st, body), (200, b"lo-http /low\n"), "answer under RLIMIT_NOFILE 64")


# ====================================================================== 4 a stuck forwarder

@test(timeout=60)
def test_forwarder_stopped(t):
    """SIGSTOP one forwarder of two: the listener keeps its channel (no
    restart), new clients are served by the other forwarder or wait, none
    is dropped; after SIGCONT every waiting client and the stopped
    forwarder's relays proceed."""
    eb = t.backend("st-echo", "echo")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                               "site s.example", "    http " + eb.addr, ""]), forwarders=2)
    fwd = gh.daemon_pids(g, "gatehouse-forw")
    lst = gh.daemon_pids(g, "gatehouse-list")
    check_eq(len(fwd), 2, "forwarders")

    def req(i):
        return b"GET /%d HTTP/1.1\r\nHost: s.example\r\n\r\n" % i

    relays = []
    for i in range(8):
        s = connect(hp, timeout=10)
        t.defer(s.close)
        s.sendall(req(i))
        check_eq(recv_exact(s, len(req(i))), req(i), "echo of relay %d" % i)
        relays.append((s, relay_owner(hp, s, fwd)))
    victim = relays[0][1]
    check(victim, "no forwarder owns relay 0")
    check(any(o != victim for _, o in relays), "all 8 relays on one forwarder")

    def cont():
        try:
            os.kill(victim, signal.SIGCONT)
        except ProcessLookupError:
            pass
    t.defer(cont)
    os.kill(victim, signal.SIGSTOP)
    wait_for(lambda: open("/proc/%d/stat" % victim).read().rsplit(") ", 1)[1][0] == "T", 2, "the forwarder to stop")
    for k, (s, o) in enumerate(relays):
        s.sendall(b"during the stop %d\n" % k)
    N = 300
    clients = []
    for i in range(N):
        s = connect(hp, timeout=10)
        t.defer(s.close)
        s.sendall(req(1000 + i))
        clients.append(s)
    got = {}

    def collect(secs):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline and len(got) < N:
            waiting = [s for i, s in enumerate(clients) if i not in got]
            r = gh.readable(waiting, 0.05)
            for s in r:
                i = clients.index(s)
                want = req(1000 + i)
                try:
                    d = recv_exact(s, len(want), 5)
                except OSError as e:
                    d = repr(e).encode()
                check_eq(d, want, "echo to client %d (one forwarder stopped)" % i)
                got[i] = time.monotonic()

    collect(3.0)
    during = len(got)
    check(during > 0, "no new client was served in 3 s with one of two forwarders stopped")
    for k, (s, o) in enumerate(relays):
        if o != victim:
            want = b"during the stop %d\n" % k
            check_eq(recv_exact(s, len(want)), want, "relay %d of the running forwarder during the stop" % k)
    check_eq(gh.daemon_pids(g, "gatehouse-list"), lst, "listener pids during the stop (no restart)")
    check("starting a new listener generation" not in g.log(), "a new generation started during the stop:\n"
          + g.log()[-600:])
    os.kill(victim, signal.SIGCONT)
    collect(10.0)
    check_eq(len(got), N, "clients served once the forwarder runs again")
    for k, (s, o) in enumerate(relays):
        if o == victim:
            want = b"during the stop %d\n" % k
            check_eq(recv_exact(s, len(want)), want, "relay %d of the stopped forwarder after SIGCONT" % k)
    check_eq(eb.accepted, 8 + N, "server connections")
    check_eq((gh.daemon_pids(g, "gatehouse-forw"), gh.daemon_pids(g, "gatehouse-list")), (fwd, lst),
             "daemon pids after SIGCONT")
    print("  one of 2 forwarders stopped: %d of %d new clients served by the other at once, %d waited "
          "for SIGCONT, none lost" % (during, N, N - during))


@test()
def test_least_loaded(t):
    """The listener hands each client to the forwarder holding the fewest
    (their load pages, common/load.h): with one forwarder stopped, clients
    arriving one at a time strand at most 4 (IN_FLIGHT_MAX) in its channel,
    not a channel buffer's worth (13); once it runs again, new long-lived
    clients go to it until both hold the same, where round robin would
    split them evenly."""
    eb = t.backend("ll-echo", "echo")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                               "site s.example", "    http " + eb.addr, ""]), forwarders=2)
    fwd = gh.daemon_pids(g, "gatehouse-forw")
    check_eq(len(fwd), 2, "forwarders")
    check("sent no load figures" not in g.log(), "a forwarder sent no load page:\n" + g.log()[-600:])

    def req(i):
        return get_req("s.example", i)

    def relay(i):
        return open_req(t, hp, "s.example", i)

    victim, other = fwd
    os.kill(victim, signal.SIGSTOP)
    t.defer(lambda: os.kill(victim, signal.SIGCONT))
    wait_for(lambda: open("/proc/%d/stat" % victim).read().rsplit(") ", 1)[1][0] == "T", 2, "the forwarder to stop")
    # one at a time, each waited for (or given 100 ms when it strands)
    waiting = []
    for i in range(40):
        s = relay(i)
        if gh.readable([s], 0.1):
            check_eq(recv_exact(s, len(req(i))), req(i), "echo of client %d" % i)
        else:
            waiting.append((i, s))
    check(1 <= len(waiting) <= 4, "%d of 40 clients stranded with one forwarder stopped, want 1 to 4 "
          "(the in-flight bound)" % len(waiting))
    os.kill(victim, signal.SIGCONT)
    for i, s in waiting:
        check_eq(recv_exact(s, len(req(i)), 5), req(i), "echo of stranded client %d after SIGCONT" % i)
    # now the victim holds len(waiting) relays and the other 40 - that:
    # the next clients go to the victim until the two are level
    held = len(waiting)
    gap = 40 - 2 * held
    new = []
    for i in range(gap):
        s = relay(100 + i)
        check_eq(recv_exact(s, len(req(100 + i)), 5), req(100 + i), "echo of client %d" % (100 + i))
        new.append(s)
    owners = relay_owners(hp, new, fwd)
    to_victim = sum(1 for s in new if owners[s] == victim)
    check(to_victim >= gap - 2, "%d of %d new clients went to the forwarder holding %d relays (the other "
          "holds %d); least-loaded would send (nearly) all there" % (to_victim, gap, held, 40 - held))
    check_eq(eb.accepted, 40 + gap, "server connections")
    print("  one forwarder stopped: %d of 40 clients waited for it; afterwards %d of %d new clients went to it "
          "(it held %d, the other %d)" % (len(waiting), to_victim, gap, held, 40 - held))


@test()
def test_site_max_connections(t):
    """site-max-connections 3 (one forwarder), queue-timeout 1s: three
    relays reach the server; a 4th and a 5th client wait in the forwarder,
    unread; when a relay ends the 4th (the older) goes through; the 5th gets
    503 after its second in the queue, logged queue_timeout; a client of
    another site meanwhile is served at once, although max-connections 5
    counts 3 relays + 2 waiting (waiting clients are not relays)."""
    eb = t.backend("sm-echo", "echo")
    ob = t.backend("sm-other", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["queue-timeout 1s", "max-connections 5",
                               "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                               "site limited.example", "    http " + eb.addr, "    site-max-connections 3",
                               "site other.example", "    http " + ob.addr, ""]), forwarders=1)
    fwd = gh.daemon_pids(g, "gatehouse-forw")

    def req(i):
        return get_req("limited.example", i)

    def client(i):
        return open_req(t, hp, "limited.example", i)

    relays = []
    for i in range(3):
        s = client(i)
        check_eq(recv_exact(s, len(req(i))), req(i), "echo of relay %d" % i)
        relays.append(s)
    s4 = client(4)
    wait_for(lambda: relay_owner(hp, s4, fwd) is not None, 5, "the forwarder to hold client 4")
    s5 = client(5)
    wait_for(lambda: relay_owner(hp, s5, fwd) is not None, 5, "the forwarder to hold client 5")
    t5 = time.monotonic()
    t_other = time.monotonic()
    st, h, body, raw = http_get(hp, "other.example", "/beside")
    t_other = time.monotonic() - t_other
    check_eq((st, body), (200, b"sm-other /beside\n"), "another site's answer while limited.example is full")
    check(t_other < 0.5, "another site's client waited %.2f s behind limited.example's queue" % t_other)
    check_eq(gh.readable([s4, s5], 0.3), [], "queued clients that got an answer while the site was full")
    check_eq(eb.accepted, 3, "server connections while the site is full")
    relays[0].close()
    check_eq(recv_exact(s4, len(req(4)), 5), req(4), "echo of client 4 once a relay ended")
    data, how = recv_all(s5, timeout=5)
    waited = time.monotonic() - t5
    check(data.startswith(b"HTTP/1.1 503 "), "client 5 after its queue-timeout got %r, want a 503" % data[:60])
    check(0.7 <= waited <= 2.5, "client 5 was answered after %.2f s in the queue, want ~1 s" % waited)
    check_eq(eb.accepted, 4, "server connections in all")
    g.wait_log(r"\[::1\]:\d+ http limited\.example -> limited\.example - in=0 out=0 ms=\d+ queue_timeout$")
    # each forwarder takes its share rounded up: `gatehouse check` says what that allows
    conf = os.path.join(t.tmp, "shares.conf")
    with open(conf, "w") as f:
        f.write("forwarders 2\nsite s.example\n    http %s\n    site-max-connections 3\n" % eb.addr)
    r = subprocess.run([gh.GATEHOUSE, "check", "-c", conf], capture_output=True, text=True, timeout=10)
    check_eq(r.returncode, 0, "gatehouse check of a rounded share: exit status")
    check("%s:2: note: site s.example: site-max-connections 3 over 2 forwarders is 2 each, so up to 4 at once"
          % conf in r.stderr, "gatehouse check's note on a rounded share: %r" % r.stderr)
    print("  site-max-connections 3: 2 queued, 1 through when a relay ended, 1 got 503 after %.2f s; "
          "another site served meanwhile" % waited)


@test()
def test_launcher_killed(t):
    """`gatehouse run` SIGKILLed (OOM killer, a supervisor's stop timeout):
    its listener and forwarders must not live on as orphans holding the
    ports, or the supervisor's restart fails with "address in use". They go
    within a few seconds, and a new `gatehouse run` on the same ports serves."""
    web = t.backend("lk2-http", "http")
    hp, tp = free_port(), free_port()
    conf = "\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
                      "site web.example", "    http " + web.addr, ""])
    g = t.gatehouse(conf, forwarders=2)
    kids = gh.daemon_pids(g, "gatehouse-")
    check_eq(len(kids), 3, "listener + 2 forwarders")
    check_eq(http_get(hp, "web.example", "/one")[:1], (200,), "status before the kill")

    def reap_orphans():
        for p in kids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    t.defer(reap_orphans)
    os.kill(g.proc.pid, signal.SIGKILL)
    g.proc.wait(5)
    try:
        wait_for(lambda: not any(gh.pid_alive(p) for p in kids), 5, "the daemons to exit")
    except TestFailure:
        left = ["%d %s" % (p, gh.daemon_name(p)) for p in kids if gh.pid_alive(p)]
        raise TestFailure("5 s after gatehouse run was SIGKILLed its children still run as orphans: %s"
                          % ", ".join(left))
    g2 = t.gatehouse(conf, forwarders=2, name="gh2")
    check_eq(http_get(hp, "web.example", "/two")[:1], (200,), "status from the restarted gatehouse")
    check(g2.proc.poll() is None, "restarted gatehouse exited")


# ====================================================================== 5 hand-off flood

@test(timeout=90)
def test_handoff_flood(t):
    """A hostile listener sends 2000 valid hand-offs, each with a real TCP
    client, as fast as the channel takes them, naming an address in the
    name field: the forwarder relays each to its own configured server
    (never to the named address), keeps an older relay going, and holds no
    more fds afterwards than before."""
    from tests_all import handoff_msg
    ra = t.backend("fl-a", "record")
    rb = t.backend("fl-b", "record")
    decoy = t.backend("fl-decoy", "record")      # in no config
    proc, ours, log = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port(), "listen tls [::1]:%d" % free_port(),
                                         "site a.example", "    http " + ra.addr,
                                         "site b.example", "    http " + rb.addr, "    tls " + rb.addr])
    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.bind(("::1", 0))
    lsock.listen(4096)
    t.defer(lsock.close)
    base_fds = gh.proc_nfds(proc.pid)

    def pair(first):
        c = connect(lsock.getsockname()[1], timeout=20)
        srv, _ = lsock.accept()
        c.sendall(first)   # waiting in the accepted socket, as a peeked hello/head would be
        return c, srv

    def handoff(c, srv, site, kind=0, name=None):
        msg = handoff_msg(site=site, kind=kind, port=c.getsockname()[1], usec=int(time.time() * 1e6),
                          name=name if name is not None else site)
        ours.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [srv.fileno()]))])
        srv.close()

    # an older relay that must keep going through the flood
    old, srv = pair(b"old relay\n")
    t.defer(old.close)
    handoff(old, srv, b"a.example")
    check_eq(recv_line(old), b"fl-a\n", "answer to the older relay")
    N = 2000
    pairs = []
    for i in range(N):
        c, srv = pair(b"hello %d\n" % i)
        t.defer(c.close)
        pairs.append((c, srv))
    sites = [(b"a.example", 0), (b"b.example", 0), (b"b.example", 1)]
    t0 = time.monotonic()
    for i, (c, srv) in enumerate(pairs):
        site, kind = sites[i % 3]
        handoff(c, srv, site, kind, name=("[::1]:%d" % decoy.port).encode())
    dt = time.monotonic() - t0
    old.sendall(b"during the flood\n")
    clients = [c for c, _ in pairs]
    answered = {}
    deadline = time.monotonic() + 30
    while len(answered) < N and time.monotonic() < deadline:
        waiting = [c for i, c in enumerate(clients) if i not in answered]
        r = gh.readable(waiting, 0.1)
        for c in r:
            i = clients.index(c)
            answered[i] = recv_line(c, 5)
    bad = [(i, answered.get(i)) for i in range(N)
           if answered.get(i) != (b"fl-a\n" if i % 3 == 0 else b"fl-b\n")]
    check(not bad, "%d of %d flooded clients got no or a wrong answer, e.g. %r" % (len(bad), N, bad[:3]))
    check(proc.poll() is None, "forwarder exited (%s) during the flood" % proc.returncode)
    for c in clients:
        c.close()
    old.sendall(b"after the flood\n")
    old.close()
    wait_for(lambda: sum(r.eof for r in ra.conns + rb.conns) == N + 1, 20,
             "every relay to reach its server's EOF")
    check_eq(decoy.accepted, 0, "connections to the address named in the messages (in no config)")
    check_eq((ra.accepted, rb.accepted), (1 + (N + 2) // 3, N - (N + 2) // 3), "connections to a and b")
    check_eq(bytes(ra.conns[0].data), b"old relay\nduring the flood\nafter the flood\n", "older relay's bytes")
    for i in (0, 1, N - 1):
        be = ra if i % 3 == 0 else rb
        check(any(bytes(r.data) == b"hello %d\n" % i for r in be.conns), "bytes of flooded client %d at %s"
              % (i, be.name))
    wait_for(lambda: log().count(" ok\n") >= N + 1, 10, "%d ok records; log tail:\n%s" % (N + 1, log()[-600:]))
    check("refused hand-off" not in log(), "valid hand-offs refused:\n" + log()[-600:])
    time.sleep(0.2)
    after = gh.proc_nfds(proc.pid)
    check(after <= base_fds, "forwarder holds %d fds after the flood, %d before" % (after, base_fds))
    ours.close()
    try:
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        raise TestFailure("forwarder still running 10 s after its channel closed (after the flood)")
    check_eq(rc, 0, "forwarder exit status after its channel closed")
    print("  %d hand-offs in %.2fs (%.0f/s), all relayed to configured servers; forwarder fds %d before, %d after"
          % (N, dt, N / dt, base_fds, after))
