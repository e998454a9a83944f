# SPDX-License-Identifier: MIT
"""Per-source limits (issue #15.2): `source-rate N/DURATION` and
`source-inspecting K`, decided by the listener at accept, before a client
takes an inspection slot. Real clients from several loopback sources
(127.0.0.2, 127.0.0.3, ... bound before connect): one source over its
limits gets 429 with Retry-After on http and a close with nothing written
on tls, logged `rate_limited`, while another source is served. The table
is fixed at start: 10 000 sources do not grow the listener past it."""
import re
import socket

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


def limits_setup(t, lines, inspect="10s"):
    b = t.backend("lim-http", "http")
    bt = t.backend("lim.example", "http", tls=True)
    hp, tp = free_port(), free_port()
    conf = ["inspect-timeout " + inspect, "listen http 127.0.0.1:%d" % hp, "listen tls 127.0.0.1:%d" % tp]
    conf += lines
    conf += ["site lim.example", "  http " + b.addr, "  tls " + bt.addr, ""]
    return t.gatehouse("\n".join(conf)), b, bt, hp, tp


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


@test(timeout=120)
def test_limits_memory_fixed(t):
    """10 000 distinct sources (127.10.y.z) each open a connection: the
    listener's VmRSS grows by no more than its table's fixed size (logged
    at start) plus a margin, and every source is still admitted (a fresh
    bucket each)."""
    g, b, _, hp, _ = limits_setup(t, ["source-rate 2/1m", "source-table 16384"])
    m = g.wait_log(r"per-source limits: 16384 slots, (\d+) bytes")
    table = int(m[0])
    lst = gh.daemon_pids(g, "gatehouse-list")
    check(lst, "listener pid")
    pid = lst[0]
    # warm up the listener's own buffers with a few sources first
    for i in range(50):
        check_eq(http_raw("127.9.0.%d" % (i + 1), hp, "nosuch.example")[0], 421, "warm-up %d" % i)
    before = gh.proc_status_kb(pid)
    n = 10000
    for i in range(n):
        src = "127.10.%d.%d" % (i // 250, i % 250 + 1)
        st = http_raw(src, hp, "nosuch.example")[0]
        if st != 421:
            raise TestFailure("source %s: status %d" % (src, st))
    after = gh.proc_status_kb(pid)
    grew = after - before
    print("  listener VmRSS %d -> %d KiB with %d sources (table %d KiB)" % (before, after, n, table // 1024))
    check(grew * 1024 <= table + (2 << 20), "VmRSS grew %d KiB, table %d KiB" % (grew, table // 1024))
    check_eq(b.accepted, 0, "no backend contacted")
