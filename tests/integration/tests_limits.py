# SPDX-License-Identifier: MIT
"""Per-source limits (issue #15.2): `source-rate N/DURATION` and
`source-inspecting K`, decided by the listener at accept, before a client
takes an inspection slot, and `source-connections N` (global and per site),
counted by the forwarders and decided by the listener once the site is
known. Real clients from several loopback sources (127.0.0.2, 127.0.0.3,
... bound before connect) and from 10 000 /64s of a prefix routed into a
network namespace: one source over its limits gets 429 with Retry-After on
http and a close with nothing written on tls, logged `rate_limited`, while
another source is served. The tables are fixed at start: 10 000 sources do
not grow the listener."""
import os
import resource
import socket
import subprocess
import sys
import time

import gh
from gh import test, check, check_eq, TestFailure, free_port, recv_all, parse_http
from tests_acl import client, tls_from


def http_raw(src, port, host, timeout=5):
    """(status, headers, body) of a GET for host sent from src."""
    s = client(src, port, timeout)
    try:
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        raw, how = recv_all(s, timeout)
    finally:
        s.close()
    if not raw:
        raise TestFailure("%s -> %s: no answer (%s)" % (src, host, how))
    return parse_http(raw)


def limits_setup(t, lines, inspect="10s", **kw):
    b = t.backend("lim-http", "http")
    bt = t.backend("lim.example", "http", tls=True)
    hp, tp = free_port(), free_port()
    conf = ["inspect-timeout " + inspect, "listen http 127.0.0.1:%d" % hp, "listen tls 127.0.0.1:%d" % tp]
    conf += lines
    conf += ["site lim.example", "  http " + b.addr, "  tls " + bt.addr, ""]
    return t.gatehouse("\n".join(conf), **kw), b, bt, hp, tp


@test(timeout=60)
def test_limits_rate(t):
    """source-rate 4/1m: 127.0.0.2 gets four new connections, then a 429
    with Retry-After (15 s: one token each 60/4 s) on http and a close with
    no byte written on tls, before it sends anything; 127.0.0.3 is served
    on both meanwhile, and the refusals are logged rate_limited."""
    g, b, bt, hp, tp = limits_setup(t, ["source-rate 4/1m"])
    for i in range(4):
        st, _, body = http_raw("127.0.0.2", hp, "lim.example")
        check_eq((st, body), (200, b"lim-http /\n"), "127.0.0.2 request %d" % (i + 1))
    st, hdr, body = http_raw("127.0.0.2", hp, "lim.example")
    check_eq(st, 429, "127.0.0.2 over its rate")
    check("retry-after" in hdr, "Retry-After in %r" % hdr)
    check(10 <= int(hdr["retry-after"]) <= 15, "Retry-After %r" % hdr["retry-after"])
    check(body.startswith(b"429 Too Many Requests"), "body %r" % body)
    # tls: closed at accept, before the hello (inspect-timeout is 10s, so a
    # client that were inspected would still be waiting after 3s)
    s = client("127.0.0.2", tp, timeout=3)
    try:
        s.sendall(b"\x16\x03\x01\x00\x05hello")
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            raise TestFailure("127.0.0.2 on tls: still open after 3s, not refused")
    finally:
        s.close()
    check_eq(got, b"", "tls answer to a source over its rate")
    # another source is not affected
    for i in range(3):
        check_eq(http_raw("127.0.0.3", hp, "lim.example")[0], 200, "127.0.0.3 request %d" % (i + 1))
    check_eq(tls_from("127.0.0.3", tp, "lim.example"), "lim.example", "127.0.0.3 on tls")
    check_eq(b.accepted, 7, "http backend accepts: 4 + 3")
    g.wait_log(r" 127\.0\.0\.2:\d+ http - rate_limited 429$")
    g.wait_log(r" 127\.0\.0\.2:\d+ tls - rate_limited$")


@test(timeout=60)
def test_limits_inspecting(t):
    """source-inspecting 3: 127.0.0.2 holds three unfinished requests under
    inspection; its fourth connection is refused with 429 at accept while
    127.0.0.3 still gets an inspection slot and its answer; once one of the
    three closes, 127.0.0.2 gets in again."""
    g, b, _, hp, _ = limits_setup(t, ["source-inspecting 3"])
    idle = []
    for _ in range(3):
        s = client("127.0.0.2", hp, timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: lim.example\r\n")	# never finished
        idle.append(s)
    try:
        st, hdr, body = http_raw("127.0.0.2", hp, "lim.example")
        check_eq(st, 429, "127.0.0.2's fourth client under inspection")
        check("retry-after" in hdr, "Retry-After in %r" % hdr)
        check_eq(http_raw("127.0.0.3", hp, "lim.example")[0], 200, "127.0.0.3 meanwhile")
        g.wait_log(r" 127\.0\.0\.2:\d+ http - rate_limited 429$")
        idle.pop().close()
        gh.wait_for(lambda: http_raw("127.0.0.2", hp, "lim.example")[0] == 200, 5,
                    "127.0.0.2 served once one of its clients closed")
    finally:
        for s in idle:
            s.close()
    check_eq(b.accepted, 2, "backend accepts")


@test(timeout=60)
def test_limits_site_rate(t):
    """source-rate 3/1m inside site lim.example: 127.0.0.2 gets three
    connections to it, then a 429 with Retry-After (20 s: one token each
    60/3 s) on http and a close after the hello on tls; the same source
    still reaches site other.example, and 127.0.0.3 still reaches
    lim.example."""
    b = t.backend("lim-http", "http")
    bt = t.backend("lim.example", "http", tls=True)
    o = t.backend("other-http", "http")
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "inspect-timeout 10s", "listen http 127.0.0.1:%d" % hp, "listen tls 127.0.0.1:%d" % tp,
        "site lim.example", "  http " + b.addr, "  tls " + bt.addr, "  source-rate 3/1m",
        "site other.example", "  http " + o.addr, ""]))
    g.wait_log(r"per-site source rates: 65536 slots, \d+ bytes")
    for i in range(3):
        check_eq(http_raw("127.0.0.2", hp, "lim.example")[0], 200, "127.0.0.2 to lim.example, %d" % (i + 1))
    st, hdr, body = http_raw("127.0.0.2", hp, "lim.example")
    check_eq(st, 429, "127.0.0.2's fourth to lim.example")
    check(15 <= int(hdr.get("retry-after", "0")) <= 20, "Retry-After %r" % hdr.get("retry-after"))
    check(b"to this site" in body, "body %r" % body)
    s = client("127.0.0.2", tp, timeout=5)
    try:
        s.sendall(gh.client_hello("lim.example"))
        got, how = recv_all(s, 5)
    finally:
        s.close()
    check_eq(got, b"", "tls answer to a source over the site's rate (%s)" % how)
    for i in range(4):
        check_eq(http_raw("127.0.0.2", hp, "other.example")[0], 200, "127.0.0.2 to other.example, %d" % (i + 1))
    check_eq(http_raw("127.0.0.3", hp, "lim.example")[0], 200, "127.0.0.3 to lim.example")
    check_eq(tls_from("127.0.0.3", tp, "lim.example"), "lim.example", "127.0.0.3 on tls")
    check_eq((b.accepted, o.accepted), (4, 4), "backend accepts")
    g.wait_log(r" 127\.0\.0\.2:\d+ http lim\.example rate_limited 429$")
    g.wait_log(r" 127\.0\.0\.2:\d+ tls lim\.example rate_limited$")


def relay(src, port, host, i=0):
    """An open relay from src through gatehouse to an echo backend."""
    s = client(src, port, timeout=5)
    req = ("GET /%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (i, host)).encode()
    s.sendall(req)
    got = gh.recv_exact(s, len(req))
    if got != req:
        s.close()
        raise TestFailure("%s -> %s: echo %r" % (src, host, got[:80]))
    return s


def refused_http(src, port, host):
    """The 429 a source over its connection limit gets for a request."""
    st, hdr, body = http_raw(src, port, host)
    check_eq(st, 429, "%s -> %s over its connection limit" % (src, host))
    check_eq(hdr.get("retry-after"), "1", "Retry-After")
    return body


def owner_of(g, port, s):
    """The forwarder holding the relay of client socket s."""
    ino = gh.socket_inode(port, s.getsockname()[1])
    check(ino, "no accepted socket for %r" % (s.getsockname(),))
    owners = [p for p in gh.daemon_pids(g, "gatehouse-forw") if ino in gh.pid_socket_inodes(p)]
    check_eq(len(owners), 1, "forwarders holding the relay")
    return owners[0]


@test(timeout=90)
def test_limits_connections_two_forwarders(t):
    """source-connections 4 (global) and 1 for site one.example, two
    forwarders: 127.0.0.2 holds four relays spread over both forwarders;
    its fifth connection gets 429 with Retry-After on http and a close
    with no byte on tls, while 127.0.0.3 is served; once a relay ends in
    either forwarder, 127.0.0.2 gets one more. On one.example each source
    holds one relay at once, other sources and other sites unaffected."""
    eb = t.backend("lim-echo", "echo")
    e1 = t.backend("one-echo", "echo")
    bt = t.backend("lim.example", "http", tls=True)
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "inspect-timeout 10s", "listen http 127.0.0.1:%d" % hp, "listen tls 127.0.0.1:%d" % tp,
        "source-connections 4",
        "site lim.example", "  http " + eb.addr, "  tls " + bt.addr,
        "site one.example", "  http " + e1.addr, "  source-connections 1", ""]), forwarders=2)
    check_eq(len(gh.daemon_pids(g, "gatehouse-forw")), 2, "forwarders")
    held = []
    try:
        for i in range(4):
            held.append(relay("127.0.0.2", hp, "lim.example", i))
        owners = [owner_of(g, hp, s) for s in held]
        check_eq(len(set(owners)), 2, "forwarders holding 127.0.0.2's four relays (%r)" % owners)
        body = refused_http("127.0.0.2", hp, "lim.example")
        check(b"too many connections from this source" in body, "body %r" % body)
        # tls: the hello is read (the site is known then), then a close
        s = client("127.0.0.2", tp, timeout=5)
        try:
            s.sendall(gh.client_hello("lim.example"))
            got, how = recv_all(s, 5)
        finally:
            s.close()
        check_eq(got, b"", "tls answer to a source over its connection limit (%s)" % how)
        # another source is served meanwhile, on both
        held.append(relay("127.0.0.3", hp, "lim.example", 10))
        check_eq(tls_from("127.0.0.3", tp, "lim.example"), "lim.example", "127.0.0.3 on tls")
        g.wait_log(r" 127\.0\.0\.2:\d+ http lim\.example rate_limited 429$")
        g.wait_log(r" 127\.0\.0\.2:\d+ tls lim\.example rate_limited$")
        # one relay ends, in each forwarder in turn: room for exactly one more
        for f in sorted(set(owners)):
            k = owners.index(f)
            held[k].close()
            gh.wait_for(lambda: _served(hp, held, k), 5, "127.0.0.2 served after a relay in %d ended" % f)
            refused_http("127.0.0.2", hp, "lim.example")
            owners[k] = owner_of(g, hp, held[k])
        # per site: one relay per source to one.example
        held.append(relay("127.0.0.3", hp, "one.example", 20))
        body = refused_http("127.0.0.3", hp, "one.example")
        check(b"to this site" in body, "body %r" % body)
        held.append(relay("127.0.0.4", hp, "one.example", 21))
        held.append(relay("127.0.0.3", hp, "lim.example", 22))	# 127.0.0.3's global 3 of 4
        g.wait_log(r" 127\.0\.0\.3:\d+ http one\.example rate_limited 429$")
    finally:
        for s in held:
            s.close()
    check_eq(e1.accepted, 2, "one.example's backend: 127.0.0.3 and 127.0.0.4 once each")


def _served(port, held, k):
    """Try one more relay for 127.0.0.2 into held[k]; False on a 429."""
    try:
        held[k] = relay("127.0.0.2", port, "lim.example", 100 + k)
        return True
    except (TestFailure, OSError):
        return False


def flood(src, port, n, deadline_s=10):
    """n connections from src, each sending an unfinished request head
    once connected (bytes, so TCP_DEFER_ACCEPT hands it to the listener);
    returns the sockets, kept open. Non-blocking: a stalled listener
    (backlog full) only leaves some unconnected."""
    import select
    socks, fdmap = [], {}
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        fdmap[s.fileno()] = s
    p = select.poll()
    for fd in fdmap:
        p.register(fd, select.POLLOUT)
    end = time.monotonic() + deadline_s
    while fdmap and time.monotonic() < end:
        for fd, ev in p.poll(100):
            s = fdmap.pop(fd, None)
            p.unregister(fd)
            if s is not None and ev & select.POLLOUT and not ev & (select.POLLERR | select.POLLHUP):
                try:
                    s.send(b"GET / HTTP/1.1\r\nHost: lim.example\r\n")
                except OSError:
                    pass
    return socks


@test(timeout=120)
def test_limits_flood_does_not_starve(t):
    """source-inspecting 64 with a listener that can hold about 1 000
    clients (nofile 1024): 127.0.0.2 opens 3 000 connections, each with an
    unfinished request head, and keeps them open. Past its 64 under
    inspection each is answered 429 and closed at accept, so the listener
    keeps room and 127.0.0.3 is answered at once (without the cap the
    flood takes every slot the fds allow, and 127.0.0.3 waits out the 30 s
    inspect-timeout)."""
    g, b, _, hp, _ = limits_setup(t, ["source-inspecting 64"], inspect="30s", nofile=1024, nofile_hard=1024)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192 and hard >= 8192:
        resource.setrlimit(resource.RLIMIT_NOFILE, (8192, hard))
    socks = flood("127.0.0.2", hp, 3000)
    try:
        g.wait_log(r" 127\.0\.0\.2:\d+ http - rate_limited 429$")
        t0 = time.monotonic()
        st = http_raw("127.0.0.3", hp, "lim.example", timeout=5)[0]
        took = time.monotonic() - t0
        check_eq(st, 200, "127.0.0.3 during the flood")
        print("  127.0.0.3 answered in %.3f s during a 3 000-connection flood" % took)
    finally:
        for s in socks:
            s.close()


# A client in the namespace: n connections, each from its own /64 of a
# routed /48 (bound with IP_FREEBIND; the namespace's local route for the
# prefix takes the answers in), one request
# each; prints how many got an HTTP answer with the expected status.
_FORGER = r"""
import socket, sys
pfx, first, n, dst, port, host, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7].encode()
ok = 0
for i in range(first, first + n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(5)
    s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: an address of the routed prefix, not of an interface
    s.bind(("%s:%x::1" % (pfx, i), 0))
    s.connect((dst, port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
    s.close()
    ok += got.startswith(b"HTTP/1.1 " + want)
print(ok)
"""


@test(timeout=240)
def test_limits_memory_fixed(t):
    """10 000 forged sources, each its own /64 of a prefix routed into a
    network namespace, each relayed once with source-rate,
    source-inspecting and source-connections on: the listener's memory
    (VmRSS) does not grow by more than 256 KiB, since the tables are
    allocated and touched at start (the accept-time table's size is
    logged), and every source is admitted (fresh buckets)."""
    ns = gh.Netns(t)
    import random
    pfx = "fd00:77:%x" % random.randrange(1, 0xffff)
    ns.ip("-6", "route", "add", pfx + "::/48", "via", ns.ns_ip, "dev", ns.va)
    ns.ip("-n", ns.name, "-6", "route", "add", "local", pfx + "::/48", "dev", "lo")
    b = t.backend("mem-http", "http")
    hp = free_port()
    # under ASan (make check-asan) freed blocks wait in a quarantine and
    # every allocation's shadow grows the RSS; without the quarantine the
    # allocator reuses blocks as the plain build does, and the bound holds
    old = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (old + ":" if old else "") + "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    try:
        g = t.gatehouse("\n".join([
            "listen http [%s]:%d" % (ns.host_ip, hp), "listen tls [::1]:%d" % free_port(),
            "source-rate 2/1m", "source-inspecting 4", "source-connections 8", "source-table 16384",
            "site mem.example", "  http " + b.addr, ""]))
    finally:
        if old is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = old
    m = g.wait_log(r"per-source limits: 16384 slots, (\d+) bytes")
    table = int(m[0])
    pid = gh.daemon_pids(g, "gatehouse-list")[0]

    def forge(first, n):
        r = subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, "-c", _FORGER, pfx, str(first),
                            str(n), ns.host_ip, str(hp), "mem.example", "200"],
                           capture_output=True, timeout=200)
        if r.returncode:
            raise TestFailure("forger: %s" % r.stderr.decode()[-500:])
        return int(r.stdout)

    check_eq(forge(0x8000, 200), 200, "warm-up sources served")
    before = gh.proc_status_kb(pid)
    check(before * 1024 >= table, "VmRSS %d KiB holds the %d KiB table from the start" % (before, table // 1024))
    n = 10000
    check_eq(forge(0, n), n, "forged sources served")
    after = gh.proc_status_kb(pid)
    print("  listener VmRSS %d -> %d KiB after %d sources (accept table %d KiB)" % (before, after, n,
                                                                                  table // 1024))
    check(after - before <= 256, "VmRSS grew %d KiB" % (after - before))
    check_eq(b.accepted, n + 200, "backend accepts")
