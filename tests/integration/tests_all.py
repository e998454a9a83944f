# SPDX-License-Identifier: MIT
"""The integration tests, in the order they run."""
import hashlib
import os
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import gh
from gh import (test, check, check_eq, wait_for, TestFailure, free_port, dead_port, connect,
                recv_all, recv_line, recv_exact, http_exchange, http_get, tls_get, parse_http,
                TLS_ALERT_UNRECOGNIZED_NAME)


def raw_exchange(port, data, addr="::1", timeout=5):
    s = connect(port, addr, timeout)
    try:
        s.sendall(data)
        return recv_all(s, timeout)
    finally:
        s.close()


# ====================================================================== 1 routing

def routing_setup(t, default):
    """Sites a / wild (*.b.example) / deep (*.z.b.example) / c (c.example and
    *.c.example) / dflt, each with an http and a tls backend named after it."""
    be = {}
    for n in ("a", "wild", "deep", "c", "dflt"):
        be[n + "-http"] = t.backend(n + "-http", "http")
        be[n + "-tls"] = t.backend(n + "-tls", "http", tls=True)
    hp, tp = free_port(), free_port()
    conf = ["inspect-timeout 3s", "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
            "listen http 127.0.0.1:%d" % hp, "listen tls 127.0.0.1:%d" % tp]
    for n, names in (("a", "a.example"), ("wild", "wild.test *.b.example"),
                     ("deep", "deep.test *.z.b.example"), ("c", "c.example *.c.example"),
                     ("dflt", "dflt.example")):
        conf += ["site " + names, "    http " + be[n + "-http"].addr, "    tls " + be[n + "-tls"].addr]
    d = "dflt.example" if default else "reject"
    conf += ["default tls " + d, "default http " + d, ""]
    g = t.gatehouse("\n".join(conf))
    return g, be, hp, tp


@test()
def test_routing_sni(t):
    g, be, hp, tp = routing_setup(t, default=True)
    for sni, want in (("a.example", "a-tls"), ("x.b.example", "wild-tls"), ("x.y.b.example", "wild-tls"),
                      ("q.z.b.example", "deep-tls"), ("c.example", "c-tls"), ("w.c.example", "c-tls"),
                      ("A.Example", "a-tls"), ("a.example.", "a-tls")):
        cn, body = tls_get(tp, sni)
        check_eq(cn, want, "certificate CN for SNI %s" % sni)
        check(body.startswith(want.encode() + b" "), "body for SNI %s: %r" % (sni, body))
    # over IPv4 too
    cn, _ = tls_get(tp, "a.example", addr="127.0.0.1")
    check_eq(cn, "a-tls", "certificate CN for SNI a.example over 127.0.0.1")
    # openssl s_client
    r = subprocess.run(["openssl", "s_client", "-connect", "[::1]:%d" % tp, "-servername", "x.b.example"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    check(re.search(r"subject=\s*CN\s*=\s*wild-tls\b", out),
          "openssl s_client -servername x.b.example: no 'subject=CN = wild-tls' in:\n" + out[-1500:])
    # curl --resolve
    r = subprocess.run(["curl", "-sS", "-vk", "--max-time", "10", "--resolve", "a.example:%d:[::1]" % tp,
                        "https://a.example:%d/curl-path" % tp], capture_output=True, timeout=20)
    err = r.stderr.decode("utf-8", "replace")
    check_eq(r.stdout, b"a-tls /curl-path\n", "curl https://a.example body (rc %d, %s)" % (r.returncode, err[-300:]))
    check(re.search(r"subject: CN=a-tls", err), "curl -v shows no 'subject: CN=a-tls':\n" + err[-1500:])
    g.wait_log(r"gatehouse-forwarder\[\d+\]: \[::1\]:\d+ tls a\.example -> a\.example \[::1\]:%d in=\d+ out=\d+ ms=\d+ ok$"
               % be["a-tls"].port)
    for n in ("a-http", "wild-http", "c-http", "dflt-http"):
        check_eq(be[n].accepted, 0, "connections to http backend %s from TLS clients" % n)


@test()
def test_routing_host(t):
    g, be, hp, tp = routing_setup(t, default=True)
    cases = [
        ("GET /p HTTP/1.1\r\nHost: a.example\r\n\r\n", "a-http /p"),
        ("GET /p HTTP/1.1\r\nHost: A.EXAMPLE.\r\n\r\n", "a-http /p"),
        ("GET /p HTTP/1.1\r\nHost: a.example:%d\r\n\r\n" % hp, "a-http /p"),
        ("GET /w HTTP/1.1\r\nHost: x.b.example\r\n\r\n", "wild-http /w"),
        ("GET /w HTTP/1.1\r\nHost: x.y.b.example\r\n\r\n", "wild-http /w"),
        ("GET /d HTTP/1.1\r\nHost: q.z.b.example\r\n\r\n", "deep-http /d"),
        ("GET /c HTTP/1.1\r\nHost: c.example\r\n\r\n", "c-http /c"),
        ("GET /c HTTP/1.1\r\nHost: v.c.example\r\n\r\n", "c-http /c"),
        # absolute-form names the site; a Host must agree with it (else 400,
        # test_absolute_host_mismatch)
        ("GET http://a.example/abs HTTP/1.1\r\nHost: A.example:80\r\n\r\n", "a-http http://a.example/abs"),
        # b.example is not matched by *.b.example: the default
        ("GET /b HTTP/1.1\r\nHost: b.example\r\n\r\n", "dflt-http /b"),
        ("GET /u HTTP/1.1\r\nHost: unknown.example\r\n\r\n", "dflt-http /u"),
        ("GET /old HTTP/1.0\r\n\r\n", "dflt-http /old"),
    ]
    for req, want in cases:
        st, h, body, raw = http_exchange(hp, req.encode())
        check_eq((st, body), (200, (want + "\n").encode()), "answer to %r" % req)
    st, h, body, raw = http_exchange(hp, b"GET /v4 HTTP/1.1\r\nHost: x.b.example\r\n\r\n", addr="127.0.0.1")
    check_eq(body, b"wild-http /v4\n", "answer over 127.0.0.1")
    # the backend receives the request bytes untouched
    req = b"GET /raw?q=1 HTTP/1.1\r\nHost: C.Example\r\nX-Odd:  spaces  \r\n\r\n"
    n0 = be["c-http"].accepted
    http_exchange(hp, req)
    wait_for(lambda: be["c-http"].accepted > n0, 5, "c-http connection")
    check_eq(bytes(be["c-http"].conns[-1].data), req, "bytes received by c-http")
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", "v.c.example:%d:[::1]" % hp,
                        "http://v.c.example:%d/curl" % hp], capture_output=True, timeout=20)
    check_eq(r.stdout, b"c-http /curl\n", "curl http://v.c.example body (%s)" % r.stderr[-300:])
    for n in ("a-tls", "wild-tls", "c-tls", "dflt-tls"):
        check_eq(be[n].accepted, 0, "connections to tls backend %s from HTTP clients" % n)
    g.wait_log(r"\[::1\]:\d+ http v\.c\.example -> c\.example \[::1\]:%d in=\d+ out=\d+ ms=\d+ ok$" % be["c-http"].port)


@test()
def test_routing_default_tls(t):
    g, be, hp, tp = routing_setup(t, default=True)
    for sni in (None, "b.example", "nope.example"):
        cn, body = tls_get(tp, sni)
        check_eq(cn, "dflt-tls", "certificate CN for SNI %r with 'default tls dflt.example'" % sni)
    # a hello with an unusable name is routed like no name
    hs = gh.records_to_handshake(gh.client_hello("bad!name.example"))
    s = connect(tp)
    s.sendall(gh.frame(hs))
    s.settimeout(5)
    data = s.recv(5)
    s.close()
    check(data[:1] == b"\x16", "hello with SNI 'bad!name.example' under a default site: expected the default "
          "backend's ServerHello, got %r" % data)


@test()
def test_routing_reject(t):
    g, be, hp, tp = routing_setup(t, default=False)
    for sni in ("nope.example", "b.example", None):
        hello = gh.client_hello(sni)
        data, how = raw_exchange(tp, hello)
        check_eq(data, TLS_ALERT_UNRECOGNIZED_NAME, "answer to a hello with SNI %r and 'default tls reject'" % sni)
        check(how == "eof", "connection after the alert: %s" % how)
    # and what a real TLS client makes of it
    try:
        tls_get(tp, "nope.example")
        raise TestFailure("TLS handshake with an unknown SNI succeeded")
    except ssl.SSLError as e:
        check("UNRECOGNIZED_NAME" in str(e).upper(), "TLS client error: %s" % e)
    for host in ("nope.example", "b.example"):
        st, h, body, raw = http_get(hp, host)
        check_eq(st, 421, "status for Host %s with 'default http reject'" % host)
        check_eq(h.get("connection"), "close", "Connection header of the 421")
    st, *_ = http_exchange(hp, b"GET / HTTP/1.0\r\n\r\n")
    check_eq(st, 421, "status for HTTP/1.0 without Host and 'default http reject'")
    g.wait_log(r"gatehouse-listener\[\d+\]: \[::1\]:\d+ http nope\.example no_route 421$")
    g.wait_log(r"gatehouse-listener\[\d+\]: \[::1\]:\d+ tls nope\.example no_route$")
    time.sleep(0.2)
    for n, b in be.items():
        check_eq(b.accepted, 0, "connections to backend %s" % n)
    rc = g.stop()
    check_eq(rc, 0, "exit status of gatehouse run after SIGTERM")


@test()
def test_http_one_site_per_connection(t):
    """HTTP is routed on the first request; pipelined and later keep-alive
    requests follow byte for byte to the same backend."""
    a = t.backend("a-rec", "record")
    c = t.backend("c-rec", "record")
    hp = free_port()
    t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site a.example", "    http " + a.addr, "site c.example", "    http " + c.addr, ""]))
    s = connect(hp)
    first = (b"GET /1 HTTP/1.1\r\nHost: a.example\r\n\r\n"
             b"POST /2 HTTP/1.1\r\nHost: c.example\r\nContent-Length: 4\r\n\r\nbody")
    s.sendall(first)
    check_eq(recv_line(s), b"a-rec\n", "answer to pipelined requests")
    later = b"GET /3 HTTP/1.1\r\nHost: c.example\r\n\r\n"
    s.sendall(later)
    s.shutdown(socket.SHUT_WR)
    recv_all(s)
    s.close()
    wait_for(lambda: a.accepted == 1 and a.conns[0].eof, 5, "a-rec EOF")
    check_eq(bytes(a.conns[0].data), first + later, "bytes received by a-rec")
    check_eq(c.accepted, 0, "connections to c-rec")


# ====================================================================== 2 ClientHello

@test()
def test_clienthello_large(t):
    pq = t.backend("pq-rec", "record")
    other = t.backend("other-rec", "record")
    tp = free_port()
    g = t.gatehouse("\n".join([
        "listen tls [::1]:%d" % tp, "listen http [::1]:%d" % free_port(),
        "site pq.example", "    tls " + pq.addr,
        "site other.example", "    tls " + other.addr,
        "default tls reject", ""]))

    def through(wire, sends, what):
        """Send wire in pieces (sends: list of (length, pause-after)), expect
        pq-rec's answer and that it received exactly wire."""
        n0 = pq.accepted
        s = connect(tp)
        p = 0
        for ln, pause in sends:
            s.sendall(wire[p:p + ln])
            p += ln
            if pause:
                time.sleep(pause)
        s.sendall(wire[p:])
        line = recv_line(s)
        check_eq(line, b"pq-rec\n", "answer to %s" % what)
        s.shutdown(socket.SHUT_WR)
        rest, how = recv_all(s)
        s.close()
        check(pq.accepted == n0 + 1, "%s: pq-rec got %d connections, want 1" % (what, pq.accepted - n0))
        rec = pq.conns[-1]
        wait_for(lambda: rec.eof, 5, "pq-rec to see EOF (%s)" % what)
        check(bytes(rec.data) == wire, "%s: backend received %d bytes, sent %d; first difference at %s"
              % (what, len(rec.data), len(wire),
                 next((i for i, (a, b) in enumerate(zip(rec.data, wire)) if a != b), min(len(rec.data), len(wire)))))

    # (a) a post-quantum-sized hello, in two TCP segments 50 ms apart
    wire, hs = gh.big_hello("pq.example", body_len=1791)
    check_eq(len(wire), 1800, "crafted hello size")
    check_eq(gh.hello_sni(hs), "pq.example", "SNI of the crafted hello")
    through(wire, [(700, 0.05)], "1.8 KB hello in 2 segments")
    through(wire, [(3, 0.05)], "1.8 KB hello split inside the record header")
    # (b) the same handshake in 4 TLS records
    wire4 = gh.frame(hs, sizes=[500, 500, 500])
    check_eq(wire4.count(b"\x16\x03\x01"), 4, "records in the re-framed hello")
    through(wire4, [(520, 0.05), (520, 0.05)], "1.8 KB hello in 4 records")
    # (c) ~16 KB, and the 16384-byte handshake limit itself
    wire16, _ = gh.big_hello("pq.example", body_len=16000)
    through(wire16, [], "16 KB hello")
    wire_max, _ = gh.big_hello("pq.example", body_len=16384)
    through(wire_max, [(8000, 0.05)], "hello with a 16384-byte handshake body")
    check_eq(other.accepted, 0, "connections to other-rec")
    # (d) one byte over: closed, backend never contacted
    wire_over, _ = gh.big_hello("pq.example", body_len=16385)
    n0 = pq.accepted
    s = connect(tp)
    try:
        s.sendall(wire_over)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data, how = recv_all(s, 8)
    s.close()
    check_eq(data, b"", "bytes received for a 16385-byte handshake")
    check(how in ("eof", "reset"), "connection for a 16385-byte handshake: %s" % how)
    g.wait_log(r"gatehouse-listener\[\d+\]: \[::1\]:\d+ tls \S+ (bad_hello|too_big)$")
    time.sleep(0.2)
    check_eq(pq.accepted, n0, "pq-rec connections after the oversized hello")


# ====================================================================== 3 listener errors

@test()
def test_reject_log_count(t):
    """A burst of refused clients: at most 20 rejection records a second,
    and the count of the rest is logged when its window ends, with no later
    client needed to bring it out (the loop wakes for it)."""
    rec = t.backend("lc-rec", "record")
    hp = free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site a.example", "    http " + rec.addr, "default http reject", ""]))
    N = 60
    for i in range(N):
        st, h, body, raw = http_exchange(hp, b"GET / HTTP/1.1\r\nHost: unknown.example\r\n\r\n")
        check_eq(st, 421, "status of refused client %d" % i)
    rx_rec = re.compile(r"gatehouse-listener\[\d+\]: \[::1\]:\d+ http unknown\.example no_route 421$", re.M)
    rx_cnt = re.compile(r"gatehouse-listener\[\d+\]: (\d+) rejection records suppressed$", re.M)

    def accounted():
        text = g.log()
        return len(rx_rec.findall(text)) + sum(int(n) for n in rx_cnt.findall(text))
    wait_for(lambda: accounted() == N, 5, "every one of %d refused clients logged or counted" % N)
    lines = len(rx_rec.findall(g.log()))
    check(20 <= lines < N, "%d rejection records for %d refused clients" % (lines, N))
    check_eq(rec.accepted, 0, "backend connections")


@test()
def test_listener_errors(t):
    rec = t.backend("err-rec", "record")
    trec = t.backend("err-tls-rec", "record")
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "inspect-timeout 1s", "max-head-size 1k",
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
        "site a.example b.example", "    http " + rec.addr, "    tls " + trec.addr,
        "default tls reject", "default http reject", ""]))
    R = "GET / HTTP/1.1\r\n"
    cases = [
        ("two different Hosts", R + "Host: a.example\r\nHost: b.example\r\n\r\n", 400),
        ("bad Host characters", R + "Host: a$b.example\r\n\r\n", 400),
        ("Host with a space", R + "Host: a example\r\n\r\n", 400),
        ("obs-fold", R + "Host: a.example\r\nX-Folded: one\r\n two\r\n\r\n", 400),
        ("no Host on HTTP/1.1", R + "User-Agent: t\r\n\r\n", 400),
        ("request line with two spaces", "GET  / HTTP/1.1\r\nHost: a.example\r\n\r\n", 400),
        ("request line without version", "GET /\r\nHost: a.example\r\n\r\n", 400),
        ("CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 405),
        ("head over max-head-size", R + "Host: a.example\r\nX-Big: " + "x" * 1500 + "\r\n\r\n", 431),
        ("request line over max-head-size", "GET /" + "p" * 1500 + " HTTP/1.1\r\nHost: a.example\r\n\r\n", 414),
        ("HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a.example\r\n\r\n", 505),
        ("unknown host", R + "Host: unknown.example\r\n\r\n", 421),
    ]
    for what, req, want in cases:
        st, h, body, raw = http_exchange(hp, req.encode())
        check_eq(st, want, "status for %s" % what)
        check_eq(h.get("connection"), "close", "Connection header for %s" % what)
        check_eq(len(body), int(h.get("content-length", -1)), "body length for %s" % what)
    # 408: a partial head, then silence past inspect-timeout
    s = connect(hp, timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a.exa")
    t0 = time.monotonic()
    raw, how = recv_all(s, 10)
    s.close()
    check(raw, "no answer to a partial head (%s after %.1fs)" % (how, time.monotonic() - t0))
    check_eq(parse_http(raw)[0], 408, "status for a partial head")
    # TLS port: not TLS -> closed, nothing sent
    for junk in (b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", b"\x80\x2e\x01\x03\x01" + b"\0" * 40,
                 b"\x16\x02\x00\x00\x05hello"):
        data, how = raw_exchange(tp, junk)
        check_eq(data, b"", "bytes sent back for non-TLS %r on the tls port" % junk[:12])
        check(how in ("eof", "reset"), "connection for non-TLS bytes on the tls port: %s" % how)
    data, how = raw_exchange(tp, gh.client_hello("unknown.example"))
    check_eq(data, TLS_ALERT_UNRECOGNIZED_NAME, "answer to an unknown SNI")
    g.wait_log(r"gatehouse-listener\[\d+\]: \[::1\]:\d+ http - bad_request 431$")
    g.wait_log(r"gatehouse-listener\[\d+\]: \[::1\]:\d+ http - timeout 408$")
    time.sleep(0.3)
    check_eq(rec.accepted, 0, "connections to the http backend")
    check_eq(trec.accepted, 0, "connections to the tls backend")


# ====================================================================== 4 redirect-https

@test()
def test_redirect_https(t):
    acme = t.backend("acme-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join([
        "http-mode redirect-https", "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site a.example", "    http " + acme.addr, "    tls " + acme.addr,
        "default http reject", ""]))
    for req, status, loc in (
            ("GET /path?query=1&b=2 HTTP/1.1\r\nHost: a.example\r\n\r\n", 301, "https://a.example/path?query=1&b=2"),
            ("HEAD /h HTTP/1.1\r\nHost: A.Example:%d\r\n\r\n" % hp, 301, "https://a.example/h"),
            ("POST /form?x=y HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\nabc", 308,
             "https://a.example/form?x=y"),
            ("PUT /up HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\n\r\n", 308, "https://a.example/up"),
            ("GET /.well-known/acme-challengeX HTTP/1.1\r\nHost: a.example\r\n\r\n", 301,
             "https://a.example/.well-known/acme-challengeX")):
        st, h, body, raw = http_exchange(hp, req.encode())
        check_eq((st, h.get("location")), (status, loc), "redirect for %r" % req.split("\r\n")[0])
    check_eq(acme.accepted, 0, "connections to the http backend from redirected requests")
    st, h, body, raw = http_get(hp, "a.example", "/.well-known/acme-challenge/tok")
    check_eq((st, body), (200, b"acme-http /.well-known/acme-challenge/tok\n"), "ACME challenge answer")
    check_eq(acme.accepted, 1, "connections to the http backend")
    g.wait_log(r"\[::1\]:\d+ http a\.example redirect 308$")


ACME_TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
ACME = "/.well-known/acme-challenge/"


def acme_setup(t, mode="http"):
    be = t.backend("acme-http", mode)
    hp = free_port()
    g = t.gatehouse("\n".join([
        "http-mode redirect-https", "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site a.example", "    http " + be.addr, "    tls " + be.addr,
        "default http reject", ""]))
    return g, be, hp


@test()
def test_acme_strict(t):
    """redirect-https routes a well-formed ACME challenge only (issue #11.3):
    everything that merely starts like one gets the redirect."""
    g, be, hp = acme_setup(t)
    H = "Host: a.example\r\n"
    redirected = [
        ("GET " + ACME + "../../admin", ""),
        ("GET " + ACME + "%2e%2e/%2e%2e/admin", ""),
        ("GET " + ACME + "%41", ""),
        ("GET " + ACME + "/" + ACME_TOKEN, ""),
        ("GET " + ACME + ACME_TOKEN + "/", ""),
        ("GET " + ACME + "a/b", ""),
        ("GET /" + ACME + ACME_TOKEN, ""),
        ("GET " + ACME + ACME_TOKEN + "?x=1", ""),
        ("GET " + ACME + ACME_TOKEN + "#f", ""),
        ("GET " + ACME + "tok.en", ""),
        ("GET " + ACME + ".", ""),
        ("GET " + ACME + "tok=", ""),
        ("GET " + ACME + "tok~", ""),
        ("GET " + ACME, ""),
        ("GET /.well-known/acme-challenge", ""),
        ("GET /.Well-Known/acme-challenge/" + ACME_TOKEN, ""),
        ("POST " + ACME + ACME_TOKEN, "Content-Length: 0\r\n"),
        ("PUT " + ACME + ACME_TOKEN, "Content-Length: 0\r\n"),
        ("get " + ACME + ACME_TOKEN, ""),
        ("OPTIONS " + ACME + ACME_TOKEN, ""),
        ("GET " + ACME + ACME_TOKEN, "Content-Length: 2\r\n"),
        ("GET " + ACME + ACME_TOKEN, "Transfer-Encoding: chunked\r\n"),
        ("GET https://a.example" + ACME + ACME_TOKEN, ""),
    ]
    for line, extra in redirected:
        req = "%s HTTP/1.1\r\n%s%s\r\n" % (line, H, extra)
        if "Content-Length: 2" in extra:
            req += "xy"
        elif "chunked" in extra:
            req += "0\r\n\r\n"
        st, h, body, raw = http_exchange(hp, req.encode())
        check(st in (301, 308), "answer to %r: %d, want a redirect" % (line, st))
        check(h.get("location", "").startswith("https://a.example/"),
              "Location for %r: %r" % (line, h.get("location")))
    # a second request pipelined in the same write: redirected, nothing routed
    two = ("GET %s%s HTTP/1.1\r\n%s\r\nGET /admin HTTP/1.1\r\n%s\r\n" % (ACME, ACME_TOKEN, H, H)).encode()
    st, h, body, raw = http_exchange(hp, two)
    check_eq((st, h.get("location")), (301, "https://a.example" + ACME + ACME_TOKEN),
             "answer to a challenge with a pipelined request after it")
    check_eq(be.accepted, 0, "connections to the http backend from requests that are not challenges")
    # well-formed challenges are routed: origin-form, HEAD, absolute-form,
    # every class of the base64url alphabet at its edges
    routed = [
        ("GET " + ACME + ACME_TOKEN, ACME + ACME_TOKEN),
        ("HEAD " + ACME + ACME_TOKEN, ACME + ACME_TOKEN),
        ("GET " + ACME + "AZaz09-_", ACME + "AZaz09-_"),
        ("GET http://a.example" + ACME + "x", "http://a.example" + ACME + "x"),
        ("GET HTTP://A.example" + ACME + "x", "HTTP://A.example" + ACME + "x"),
    ]
    for i, (line, path) in enumerate(routed):
        st, h, body, raw = http_exchange(hp, ("%s HTTP/1.1\r\n%s\r\n" % (line, H)).encode())
        check_eq(st, 200, "answer to challenge %r" % line)
        if not line.startswith("HEAD"):
            check_eq(body, ("acme-http %s\n" % path).encode(), "body for challenge %r" % line)
        check_eq(be.accepted, i + 1, "connections to the http backend after %r" % line)
    g.wait_log(r"\[::1\]:\d+ http a\.example redirect 308$")


@test()
def test_acme_one_request(t):
    """A challenge is carried alone (issue #11.3): the backend gets its head
    and then EOF, never a request the client sends after it; the client
    reads the answer."""
    g, be, hp = acme_setup(t, "record")
    head = ("GET %s%s HTTP/1.1\r\nHost: a.example\r\n\r\n" % (ACME, ACME_TOKEN)).encode()
    s = connect(hp)
    try:
        s.sendall(head)
        # the backend answers once it has the head: the hand-off is done
        check_eq(recv_line(s), b"acme-http\n", "backend answer to the challenge")
        try:
            # the forwarder may already be done with this client: then
            # these bytes meet a closed socket, which is fine
            s.sendall(b"GET /admin HTTP/1.1\r\nHost: a.example\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        wait_for(lambda: be.conns and (be.conns[0].eof or be.conns[0].closed), 5, "backend connection end")
        check_eq(bytes(be.conns[0].data), head, "bytes the backend received")
    finally:
        s.close()


@test()
def test_absolute_host_mismatch(t):
    """An absolute-form target and a Host naming another authority get 400
    (issue #11 "Document, don't change"); the same authority spelled
    differently is routed."""
    a = t.backend("a-http", "http")
    c = t.backend("c-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site a.example", "    http " + a.addr, "site c.example", "    http " + c.addr,
        "default http c.example", ""]))
    for host in ("c.example", "a.example:8080", "www.a.example", ""):
        req = "GET http://a.example/x HTTP/1.1\r\nHost: %s\r\n\r\n" % host
        st, h, body, raw = http_exchange(hp, req.encode())
        check_eq(st, 400, "answer to %r" % req)
    st, h, body, raw = http_exchange(hp, b"GET https://a.example/x HTTP/1.1\r\nHost: a.example:80\r\n\r\n")
    check_eq(st, 400, "answer to an https target with Host port 80")
    check_eq((a.accepted, c.accepted), (0, 0), "backend connections after mismatched authorities")
    for target, host in (("http://a.example/x", "A.EXAMPLE."), ("http://a.example/x", "a.example:80"),
                         ("http://A.example:80/x", "a.example"), ("http://a.example:8080/x", "a.example:8080")):
        req = "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, host)
        st, h, body, raw = http_exchange(hp, req.encode())
        check_eq((st, body), (200, ("a-http %s\n" % target).encode()), "answer to %r" % req)
    check_eq(c.accepted, 0, "connections to c.example")
    g.wait_log(r"gatehouse-listener\[\d+\]: \[::1\]:\d+ http - bad_request 400$")


# ====================================================================== 5 bulk and half-close

@test(timeout=150)
def test_bulk_100mib(t):
    eb = t.backend("bulk-echo", "echo_body")
    hp = free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site bulk.example", "    http " + eb.addr, ""]))
    N = 100 << 20
    data = os.urandom(N)
    want = hashlib.sha256(data).hexdigest()
    head = b"POST /bulk HTTP/1.1\r\nHost: bulk.example\r\nContent-Length: %d\r\n\r\n" % N
    s = connect(hp, timeout=60)
    err = []

    def sender():
        try:
            s.sendall(head)
            mv = memoryview(data)
            for off in range(0, N, 1 << 20):
                s.sendall(mv[off:off + (1 << 20)])
            s.shutdown(socket.SHUT_WR)
        except Exception as e:
            err.append(e)

    th = threading.Thread(target=sender, daemon=True)
    t0 = time.monotonic()
    th.start()
    h = hashlib.sha256()
    n = 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        h.update(d)
        n += len(d)
    th.join(60)
    s.close()
    dt = time.monotonic() - t0
    check(not err, "sending: %r" % err)
    check_eq(n, N, "bytes echoed back")
    rec = eb.conns[0]
    wait_for(lambda: rec.sha_in, 10, "backend to finish")
    check_eq(rec.n_in, N, "body bytes received by the backend")
    check_eq(rec.sha_in, want, "sha256 of what the backend received")
    check_eq(h.hexdigest(), want, "sha256 of what came back")
    check_eq(bytes(rec.data), head, "request head received by the backend")
    g.wait_log(r"http bulk\.example -> bulk\.example \[::1\]:%d in=%d out=%d ms=\d+ ok$" % (eb.port, N + len(head), N))
    print("  100 MiB each way in %.1fs" % dt)


@test()
def test_half_close(t):
    hc = t.backend("hc-rec", "after_eof")
    sf = t.backend("sf-rec", "shut_first")
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
        "site hc.example", "    http " + hc.addr, "    tls " + hc.addr,
        "site sf.example", "    http " + sf.addr, ""]))
    body = os.urandom(300 * 1024)
    # client half-closes after its request; the server answers after EOF
    for port, first in ((hp, b"POST /hc HTTP/1.1\r\nHost: hc.example\r\n\r\n"),
                        (tp, gh.client_hello("hc.example"))):
        sent = first + body
        s = connect(port, timeout=10)
        s.sendall(sent)
        s.shutdown(socket.SHUT_WR)
        reply, how = recv_all(s, 10)
        s.close()
        line, _, tail = reply.partition(b"\n")
        check_eq(line.decode(), "hc-rec %d %s" % (len(sent), hashlib.sha256(sent).hexdigest()),
                 "answer after half-close (port %d)" % port)
        check(tail == gh.PATTERN, "reply after half-close (port %d): %d of %d tail bytes (%s)"
              % (port, len(tail), len(gh.PATTERN), how))
        check_eq(how, "eof", "end of the reply")
    # the server half-closes first; the client keeps sending afterwards
    s = connect(hp, timeout=10)
    req = b"GET /sf HTTP/1.1\r\nHost: sf.example\r\n\r\n"
    s.sendall(req)
    greet, how = recv_all(s, 5)
    check_eq((greet, how), (b"sf-rec\n", "eof"), "greeting and EOF from a server that half-closed first")
    more = os.urandom(200 * 1024)
    s.sendall(more)
    s.shutdown(socket.SHUT_WR)
    tail, how = recv_all(s, 5)
    s.close()
    check_eq((tail, how), (b"", "eof"), "after both sides closed")
    rec = sf.conns[-1]
    wait_for(lambda: rec.eof, 5, "sf-rec to see EOF")
    check(bytes(rec.data) == req + more, "sf-rec received %d bytes, want %d" % (len(rec.data), len(req + more)))
    g.wait_log(r"http sf\.example -> sf\.example \[::1\]:%d in=%d out=7 ms=\d+ ok$" % (sf.port, len(req + more)))


@test()
def test_server_first_eof(t):
    """A server that greets and half-closes at once: its EOF must reach the
    client even when greeting and FIN are already queued when the proxy sees
    its connect complete."""
    be = gh.GreetAndCloseBackend("sf-fast")
    t.defer(be.close)
    hp = free_port()
    t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                           "site sf.example", "    http " + be.addr, ""]), forwarders=1)
    N = 600
    for rnd in range(3):
        socks = [connect(hp, timeout=10) for _ in range(N)]
        bad = []
        try:
            for s in socks:
                s.sendall(b"GET /sf HTTP/1.1\r\nHost: sf.example\r\n\r\n")
            t0 = time.monotonic()
            for i, s in enumerate(socks):
                data, how = recv_all(s, max(0.2, 5 - (time.monotonic() - t0)))
                if (data, how) != (b"sf-fast\n", "eof"):
                    bad.append((i, data, how))
        finally:
            for s in socks:
                s.close()
        check(not bad, "round %d: %d of %d clients did not get the greeting and EOF within 5 s, e.g. %r"
              % (rnd + 1, len(bad), N, bad[:3]))


# ====================================================================== 6 failover

@test()
def test_failover(t):
    fo_tls = t.backend("fo-tls", "http", tls=True)
    fo_http = t.backend("fo-http", "http")
    d1, d2, d3 = dead_port(), dead_port(), dead_port()
    # a black hole: a full accept queue makes the kernel drop new SYNs
    bh = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t.defer(bh.close)
    bh.bind(("::1", 0))
    bh.listen(0)
    for _ in range(3):
        f = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        t.defer(f.close)
        f.setblocking(False)
        f.connect_ex(("::1", bh.getsockname()[1]))
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "connect-timeout 1s",
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
        "site bh.example", "    tls [::1]:%d %s" % (bh.getsockname()[1], fo_tls.addr),
        "site fo.example", "    http [::1]:%d %s" % (d1, fo_http.addr), "    tls [::1]:%d %s" % (d1, fo_tls.addr),
        "site down.example", "    http [::1]:%d [::1]:%d" % (d2, d3), "    tls [::1]:%d [::1]:%d" % (d2, d3),
        ""]))
    for i in range(4):
        cn, body = tls_get(tp, "fo.example")
        check_eq(cn, "fo-tls", "certificate CN for fo.example (client %d)" % i)
        st, h, body, raw = http_get(hp, "fo.example", "/%d" % i)
        check_eq((st, body), (200, b"fo-http /%d\n" % i), "HTTP answer for fo.example (client %d)" % i)
    g.wait_log(r"connect to \[::1\]:%d \(site fo\.example\) failed: Connection refused" % d1)
    # a server that never answers: connect-timeout, then the next one
    for i in range(4):
        cn, body = tls_get(tp, "bh.example", timeout=8)
        check_eq(cn, "fo-tls", "certificate CN for bh.example (client %d)" % i)
    g.wait_log(r"connect to \[::1\]:%d \(site bh\.example\) failed: timed out" % bh.getsockname()[1])
    # every server down
    st, h, body, raw = http_get(hp, "down.example")
    check_eq(st, 503, "status with every http server down")
    data, how = raw_exchange(tp, gh.client_hello("down.example"))
    check_eq(data, b"", "bytes to a TLS client with every tls server down")
    check(how in ("eof", "reset"), "TLS client connection with every server down: %s" % how)
    try:
        tls_get(tp, "down.example")
        raise TestFailure("TLS handshake succeeded with every server down")
    except (ssl.SSLError, ConnectionError, OSError) as e:
        if isinstance(e, TestFailure):
            raise
    g.wait_log(r"\[::1\]:\d+ http down\.example -> down\.example \[::1\]:(%d|%d) in=\d+ out=\d+ ms=\d+ connect_failed$" % (d2, d3))
    g.wait_log(r"\[::1\]:\d+ tls down\.example -> down\.example \[::1\]:(%d|%d) in=\d+ out=0 ms=\d+ connect_failed$" % (d2, d3))


# ====================================================================== 7 PROXY protocol

@test()
def test_proxy_protocol(t):
    v1 = t.backend("pp1-rec", "record")
    v2 = t.backend("pp2-rec", "record")
    v2t = t.backend("pp2t-rec", "record")
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "listen http 127.0.0.1:%d" % hp, "listen http [::1]:%d" % hp,
        "listen tls 127.0.0.1:%d" % tp, "listen tls [::1]:%d" % tp,
        "site p1.example", "    http " + v1.addr, "    proxy-protocol v1",
        "site p2.example", "    http " + v2.addr, "    tls " + v2t.addr, "    proxy-protocol v2",
        ""]))
    for addr in ("127.0.0.1", "::1"):
        for site, be, port, payload in (
                ("p1.example", v1, hp, b"GET /pp HTTP/1.1\r\nHost: p1.example\r\n\r\nbody\x00\xff\r\n"),
                ("p2.example", v2, hp, b"GET /pp HTTP/1.1\r\nHost: p2.example\r\n\r\nbody\x00\xff\r\n"),
                ("p2.example", v2t, tp, gh.client_hello("p2.example") + b"\x17\x03\x03\x00\x01z")):
            what = "%s via %s port %d" % (site, addr, port)
            n0 = be.accepted
            s = connect(port, addr)
            cport = s.getsockname()[1]
            s.sendall(payload)
            check_eq(recv_line(s), be.name.encode() + b"\n", "answer for " + what)
            s.close()
            check_eq(be.accepted, n0 + 1, "connections to %s for %s" % (be.name, what))
            rec = be.conns[-1]
            wait_for(lambda: rec.eof, 5, "backend EOF for " + what)
            data = bytes(rec.data)
            check(b"::ffff:" not in data and b"\xff\xff\x7f\x00\x00\x01" not in data,
                  "v4-mapped address in the header for %s: %r" % (what, data[:60]))
            info, rest = gh.parse_proxy(data)
            if info["version"] == 1:
                want = {"version": 1, "proto": "TCP4" if addr == "127.0.0.1" else "TCP6",
                        "src": addr, "dst": addr, "sport": cport, "dport": port}
            else:
                want = {"version": 2, "ver_cmd": 0x21, "fam": 0x11 if addr == "127.0.0.1" else 0x21,
                        "src": addr, "dst": addr, "sport": cport, "dport": port}
                check(info["len"] >= (12 if addr == "127.0.0.1" else 36), "v2 length %d" % info["len"])
                del info["len"]
            check_eq(info, want, "PROXY header for " + what)
            check(rest == payload, "bytes after the PROXY header for %s: %r, want %r" % (what, rest[:80], payload[:80]))
    # the log names IPv4 clients as such too
    g.wait_log(r"^gatehouse-forwarder\[\d+\]: 127\.0\.0\.1:\d+ http p1\.example -> p1\.example .* ok$")
    g.wait_log(r"^gatehouse-forwarder\[\d+\]: 127\.0\.0\.1:\d+ tls p2\.example -> p2\.example .* ok$")
    check("::ffff:" not in g.log(), "v4-mapped address in the log")


# ====================================================================== 8 timeouts

@test()
def test_timeouts(t):
    rec = t.backend("to-rec", "record")
    trec = t.backend("to-tls-rec", "record")
    trickle = t.backend("to-trickle", "trickle")
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "inspect-timeout 1s", "idle-timeout 1s",
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
        "site to.example", "    http " + rec.addr, "    tls " + trec.addr,
        "site trickle.example", "    http " + trickle.addr, ""]))
    # inspect-timeout clients first; they are judged at the end (a silent
    # client is accepted only after TCP_DEFER_ACCEPT gives up, ~1-3 s)
    silent_tls = connect(tp, timeout=15)
    silent_http = connect(hp, timeout=15)
    partial_head = connect(hp, timeout=15)
    partial_head.sendall(b"GET /slow HTTP/1.1\r\nHost: to.exa")
    partial_hello = connect(tp, timeout=15)
    partial_hello.sendall(gh.client_hello("to.example")[:40])
    for x in (silent_tls, silent_http, partial_head, partial_hello):
        t.defer(x.close)
    # an idle relay is closed after ~1 s
    s = connect(hp, timeout=10)
    s.sendall(b"GET /idle HTTP/1.1\r\nHost: to.example\r\n\r\n")
    check_eq(recv_line(s), b"to-rec\n", "backend answer")
    t0 = time.monotonic()
    data, how = recv_all(s, 10)
    dt = time.monotonic() - t0
    s.close()
    check_eq((data, how), (b"", "eof"), "idle relay after idle-timeout 1s")
    check(dt >= 0.8, "idle relay closed after %.2fs, before the 1 s idle-timeout" % dt)
    g.wait_log(r"http to\.example -> to\.example \[::1\]:%d in=\d+ out=7 ms=\d+ idle_timeout$" % rec.port)
    # a relay with traffic every 0.3 s outlives the idle timeout
    s = connect(hp, timeout=10)
    s.sendall(b"GET /busy HTTP/1.1\r\nHost: to.example\r\n\r\n")
    check_eq(recv_line(s), b"to-rec\n", "backend answer (busy relay)")
    busy = rec.conns[-1]
    for i in range(8):
        time.sleep(0.3)
        s.sendall(b"tick %d\n" % i)
    wait_for(lambda: busy.data.endswith(b"tick 7\n"), 3, "all ticks at the backend")
    check(not busy.eof, "busy relay was cut")
    s.close()
    # and traffic from the server alone keeps it too
    s = connect(hp, timeout=10)
    s.sendall(b"GET /trickle HTTP/1.1\r\nHost: trickle.example\r\n\r\n")
    data, how = recv_all(s, 10)
    s.close()
    check_eq((data, how), (b"".join(b"tick %d\n" % i for i in range(8)), "eof"),
             "a server sending every 0.3 s under idle-timeout 1s")
    # a silent TLS client is closed without a byte
    data, how = recv_all(silent_tls, 12)
    check_eq((data, how), (b"", "eof"), "silent TLS client after inspect-timeout 1s")
    # a silent HTTP client too (no 408 to a pre-connect)
    data, how = recv_all(silent_http, 12)
    check_eq((data, how), (b"", "eof"), "silent HTTP client after inspect-timeout 1s")
    # a partial HTTP head: 408
    raw, how = recv_all(partial_head, 10)
    check(raw, "no answer to a partial head (%s)" % how)
    check_eq(parse_http(raw)[0], 408, "status for a partial head")
    # a partial TLS hello: closed, nothing sent
    data, how = recv_all(partial_hello, 10)
    check_eq(data, b"", "bytes sent to a client with a partial hello")
    check(how in ("eof", "reset"), "partial hello connection: %s" % how)
    g.wait_log(r"\[::1\]:\d+ tls - timeout$", count=2)
    g.wait_log(r"\[::1\]:\d+ http - timeout 408$")
    check_eq(trec.accepted, 0, "connections to the tls backend")


# ====================================================================== 9 concurrency

@test(timeout=90)
def test_1000_concurrent(t):
    be = [t.backend("cc%d-http" % i, "http") for i in range(2)]
    hp = free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site cc0.example", "    http " + be[0].addr,
        "site cc1.example", "    http " + be[1].addr, ""]))
    N = 1000
    socks = []
    try:
        for i in range(N):
            socks.append(connect(hp, timeout=20))
        for i, s in enumerate(socks):
            s.sendall(b"GET /%d HTTP/1.1\r\nHost: cc%d.example\r\n\r\n" % (i, i % 2))
        bad = []
        for i, s in enumerate(socks):
            raw, how = recv_all(s, 20)
            want = b"cc%d-http /%d\n" % (i % 2, i)
            try:
                st, h, body = parse_http(raw)
            except TestFailure:
                st, body = None, raw
            if (st, body) != (200, want):
                bad.append((i, st, body[:60], how))
    finally:
        for s in socks:
            s.close()
    check(not bad, "%d of %d clients got a wrong answer, e.g. %r" % (len(bad), N, bad[:3]))
    check_eq(be[0].accepted + be[1].accepted, N, "backend connections")
    g.wait_log(r"http cc\d\.example -> cc\d\.example \[::1\]:\d+ in=\d+ out=\d+ ms=\d+ ok$", timeout=10, count=N)


@test(timeout=90)
def test_forwarder_fd_limit(t):
    """More relays than the forwarder's RLIMIT_NOFILE allows: no client is
    dropped; the extra ones wait (channel, backlog) and are served as the
    first ones end."""
    rec = t.backend("lim-rec", "record")
    hp = free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site a.example", "    http " + rec.addr, ""]), forwarders=1, nofile=256, nofile_hard=256)
    N = 120
    socks = [connect(hp, timeout=10) for _ in range(N)]
    try:
        for i, s in enumerate(socks):
            s.sendall(b"GET /%d HTTP/1.1\r\nHost: a.example\r\n\r\n" % i)
        # whoever is served within a second is held open, so the rest must wait
        deadline = time.monotonic() + 1.5
        served = set()
        while time.monotonic() < deadline and len(served) < N:
            r, _, _ = select.select([s for i, s in enumerate(socks) if i not in served], [], [], 0.1)
            for s in r:
                d = s.recv(100)
                check_eq(d, b"lim-rec\n", "answer to an early client")
                served.add(socks.index(s))
        check(served, "no client served at all with RLIMIT_NOFILE 256")
        first = len(served)
        for i in served:
            socks[i].close()
        bad = []
        for i, s in enumerate(socks):
            if i in served:
                continue
            try:
                d = recv_line(s, timeout=15)
            except OSError as e:
                d = repr(e).encode()
            if d != b"lim-rec\n":
                bad.append((i, d))
            s.close()
        check(not bad, "%d of the %d clients that had to wait were not served, e.g. %r" % (len(bad), N - first, bad[:3]))
    finally:
        for s in socks:
            s.close()
    check_eq(rec.accepted, N, "backend connections")
    print("  %d relays at once under RLIMIT_NOFILE 256, %d waited" % (first, N - first))


# ====================================================================== 10 forwarder killed

def forwarder_pids(g):
    """Live forwarders (not zombies the launcher has yet to reap)."""
    return sorted(p for p in g.children()
                  if (gh.proc_comm(p) or "").startswith("gatehouse-forw") and gh.pid_alive(p))


@test()
def test_forwarder_killed(t):
    """A SIGKILLed forwarder ends its own relays only: the listener goes on
    (same pid, no new generation), the launcher starts a forwarder in the
    dead one's place and hands the listener its channel, the surviving
    forwarder's relays carry on, and new clients are served, the
    replacement (the emptier one) taking them."""
    eb = t.backend("kill-echo", "echo")
    hp = free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site k.example", "    http " + eb.addr, ""]), forwarders=2)
    fwd = forwarder_pids(g)
    check_eq(len(fwd), 2, "forwarder processes with --forwarders 2 (children: %r)" % g.children())
    lst = listener_pids(g)

    def open_relay(i):
        s = connect(hp, timeout=5)
        req = b"GET /%d HTTP/1.1\r\nHost: k.example\r\n\r\n" % i
        s.sendall(req)
        check_eq(recv_exact(s, len(req)), req, "echo of relay %d" % i)
        return s

    relays = [open_relay(i) for i in range(6)]
    owner = {}
    for i, s in enumerate(relays):
        ino = gh.socket_inode(hp, s.getsockname()[1])
        check(ino, "no accepted socket for relay %d in /proc/net/tcp6" % i)
        owners = [p for p in fwd if ino in gh.pid_socket_inodes(p)]
        check_eq(len(owners), 1, "forwarders holding relay %d" % i)
        owner[i] = owners[0]
    victim = fwd[0]
    doomed = [i for i in owner if owner[i] == victim]
    kept = [i for i in owner if owner[i] != victim]
    check(doomed and kept, "relays not spread over both forwarders: %r" % owner)
    os.kill(victim, signal.SIGKILL)
    for i in doomed:
        data, how = recv_all(relays[i], 5)
        check(how in ("eof", "reset") and data == b"", "relay %d of the killed forwarder: %s %r" % (i, how, data))
    g.wait_log(r"forwarder %d killed by signal 9" % victim)
    m = g.wait_log(r"forwarder channel \d+: started forwarder (\d+) in its place")
    new = int(m[0])
    g.wait_log(r"gatehouse-listener\[%d\]: forwarder channel \d+ replaced by a new forwarder" % lst[0])
    for i in kept:
        msg = b"still alive %d\n" % i
        relays[i].sendall(msg)
        check_eq(recv_exact(relays[i], len(msg)), msg, "relay %d of the surviving forwarder after the kill" % i)
    survivor = [p for p in fwd if p != victim][0]
    check_eq(sorted(forwarder_pids(g)), sorted([survivor, new]), "forwarders: the survivor and the replacement")
    for i in range(3):
        s = open_relay(100 + i)
        s.close()
    # the new clients were served, the replacement (holding nothing) taking them
    g.wait_log(r"gatehouse-forwarder\[(%d|%d)\]: \[::1\]:\d+ http k\.example -> k\.example .* ok$" % (survivor, new),
               count=3)
    check(re.search(r"gatehouse-forwarder\[%d\]: \[::1\]:\d+ http k\.example -> .* ok$" % new, g.log(), re.M),
          "no client went to the replacement forwarder %d" % new)
    # READY=1 is said once; the listener is the same, no new generation
    r, _, _ = select.select([g.notify], [], [], 0.3)
    check(not r, "a second notify message after the replacement: %r" % (g.notify.recv(4096) if r else b""))
    check_eq(listener_pids(g), lst, "listener after a forwarder was killed")
    check("starting a new listener generation" not in g.log(), "a new generation started for one dead forwarder")
    for i in kept:
        msg = b"again %d\n" % i
        relays[i].sendall(msg)
        check_eq(recv_exact(relays[i], len(msg)), msg, "relay %d after the replacement served clients" % i)
        relays[i].close()
    for s in relays:
        s.close()
    check(gh.pid_alive(survivor), "the surviving forwarder (still this generation's) exited")


def listener_pids(g):
    return [p for p in g.children() if (gh.proc_comm(p) or "").startswith("gatehouse-list") and gh.pid_alive(p)]


@test()
def test_listener_killed(t):
    """DESIGN rule 4: a listener restart cuts no relay and refuses no client."""
    eb = t.backend("lk-echo", "echo")
    hp = free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
        "site k.example", "    http " + eb.addr, ""]), forwarders=2)
    old_fwd = forwarder_pids(g)
    lst = listener_pids(g)
    check_eq(len(lst), 1, "listener processes")

    def open_relay(i, timeout=5):
        s = connect(hp, timeout=timeout)
        req = b"GET /%d HTTP/1.1\r\nHost: k.example\r\n\r\n" % i
        s.sendall(req)
        check_eq(recv_exact(s, len(req), timeout), req, "echo of relay %d" % i)
        return s

    relays = [open_relay(i) for i in range(4)]
    os.kill(lst[0], signal.SIGKILL)
    # a client arriving right now waits in the backlog and is served
    late = open_relay(50, timeout=10)
    g.wait_log(r"listener %d killed by signal 9" % lst[0])
    g.wait_log(r"starting a new listener generation")
    for i, s in enumerate(relays + [late]):
        msg = b"after the listener died %d\n" % i
        s.sendall(msg)
        check_eq(recv_exact(s, len(msg)), msg, "relay %d after the listener was killed" % i)
    new_l = wait_for(lambda: [p for p in listener_pids(g) if p != lst[0]], 5, "a new listener")
    for i in range(3):
        open_relay(100 + i).close()
    for s in relays + [late]:
        s.close()
    for p in old_fwd:
        wait_for(lambda: not gh.pid_alive(p), 5, "old forwarder %d to exit once its relays ended" % p)
    check(gh.pid_alive(new_l[0]), "new listener died")
    wait_for(lambda: len(forwarder_pids(g)) == 2, 5, "exactly 2 forwarders (the new generation's); have %r"
             % forwarder_pids(g))


# ====================================================================== 11 bogus hand-offs

HANDOFF_FMT = "<IHHBBH16sBxHQ254s254sI"
assert struct.calcsize(HANDOFF_FMT) == 552


def handoff_msg(magic=0x47484f46, version=4, size=552, kind=0, family=10, port=4242,
                addr=socket.inet_pton(socket.AF_INET6, "::1"), usec=0, site=b"h.example", name=b"h.example",
                one_request=0, alpn_route=0, proxy_len=0):
    return struct.pack(HANDOFF_FMT, magic, version, size, kind, family, port, addr, alpn_route, proxy_len, usec,
                       site.ljust(254, b"\0") if len(site) < 254 else site,
                       name.ljust(254, b"\0") if len(name) < 254 else name, one_request)


@test()
def test_bogus_handoffs(t):
    import array
    rec = t.backend("ho-rec", "record")
    prec = t.backend("ho-proxy-rec", "record")
    proc, ours, log = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port(), "listen tls [::1]:%d" % free_port(),
                                            "site h.example", "    http " + rec.addr,
                                            "site p.example", "    http " + prec.addr, "    proxy-protocol v1"])

    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.bind(("::1", 0))
    lsock.listen(16)
    t.defer(lsock.close)

    def tcp_pair():
        c = connect(lsock.getsockname()[1])
        srv, _ = lsock.accept()
        t.defer(c.close)
        return c, srv

    def send(data, fds=(), cmsgs=None):
        anc = cmsgs if cmsgs is not None else (
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else [])
        ours.sendmsg([data], anc)

    tmp_dir_fd = os.open(t.tmp, os.O_RDONLY | os.O_DIRECTORY)
    t.defer(os.close, tmp_dir_fd)
    pr, pw = os.pipe()
    t.defer(os.close, pr)
    t.defer(os.close, pw)
    u1, u2 = socket.socketpair()
    t.defer(u1.close)
    t.defer(u2.close)
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    t.defer(udp.close)
    unconnected = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t.defer(unconnected.close)
    good = handoff_msg()
    cases = [
        ("wrong magic", handoff_msg(magic=0x46484f47), "tcp"),
        ("wrong version", handoff_msg(version=5), "tcp"),
        ("version 3 (before proxy_len)", handoff_msg(version=3), "tcp"),
        ("version 1 (before one_request)", handoff_msg(version=1), "tcp"),
        ("wrong size field", handoff_msg(size=551), "tcp"),
        ("short message", good[:100], "tcp"),
        ("message one byte short", good[:551], "tcp"),
        ("long message", good + b"\0" * 48, "tcp"),
        ("no fd", good, None),
        ("two fds in one SCM_RIGHTS", good, "tcp2"),
        ("two SCM_RIGHTS messages", good, "tcp2cmsg"),
        ("ten fds", good, "tcp10"),
        ("an empty message with an fd", b"", "tcp"),
        ("a pipe fd", good, pw),
        ("a directory fd", good, tmp_dir_fd),
        ("a listening TCP socket", good, lsock.fileno()),
        ("an unconnected TCP socket", good, unconnected.fileno()),
        ("a UNIX socket", good, u1.fileno()),
        ("a UDP socket", good, udp.fileno()),
        ("unknown site", handoff_msg(site=b"nope.example"), "tcp"),
        ("site named by an alias-free unknown wildcard", handoff_msg(site=b"*.example"), "tcp"),
        ("empty site", handoff_msg(site=b""), "tcp"),
        ("site not NUL-terminated", handoff_msg(site=b"a" * 254), "tcp"),
        ("name not NUL-terminated", handoff_msg(name=b"h" * 254), "tcp"),
        ("bytes hidden after the site's NUL", handoff_msg(site=b"h.example\0evil"), "tcp"),
        ("unknown kind", handoff_msg(kind=2), "tcp"),
        ("kind with no server (tls)", handoff_msg(kind=1), "tcp"),
        ("bad address family", handoff_msg(family=99), "tcp"),
    ]
    base_fds = len(os.listdir("/proc/%d/fd" % proc.pid))
    for i, (what, data, fdspec) in enumerate(cases):
        peers = []
        if fdspec == "tcp":
            c, srv = tcp_pair()
            peers.append(c)
            send(data, [srv.fileno()])
            srv.close()
        elif fdspec == "tcp10":
            pairs = [tcp_pair() for _ in range(10)]
            peers += [c for c, _ in pairs]
            send(data, [srv.fileno() for _, srv in pairs])
            for _, srv in pairs:
                srv.close()
        elif fdspec in ("tcp2", "tcp2cmsg"):
            c1, s1 = tcp_pair()
            c2, s2 = tcp_pair()
            peers += [c1, c2]
            if fdspec == "tcp2":
                send(data, [s1.fileno(), s2.fileno()])
            else:
                send(data, cmsgs=[(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s1.fileno()])),
                                  (socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s2.fileno()]))])
            s1.close()
            s2.close()
        elif fdspec is None:
            send(data)
        else:
            send(data, [fdspec])
        wait_for(lambda: log().count("refused hand-off") >= i + 1, 5,
                 "'refused hand-off' for %s; log:\n%s" % (what, log()[-1500:]))
        check_eq(log().count("refused hand-off"), i + 1, "refusals after %s" % what)
        check(proc.poll() is None, "forwarder exited (%s) after %s" % (proc.returncode, what))
        for c in peers:
            d, how = recv_all(c, 5)
            check(d == b"" and how in ("eof", "reset"), "client whose fd came with %s: %s %r "
                  "(the forwarder kept the fd open?)" % (what, how, d))
    check_eq(rec.accepted, 0, "backend connections from refused hand-offs")
    time.sleep(0.1)
    nfds = len(os.listdir("/proc/%d/fd" % proc.pid))
    check(nfds <= base_fds, "forwarder holds %d fds after the refusals, %d before" % (nfds, base_fds))
    # and a valid one is relayed to h.example's server
    c, srv = tcp_pair()
    cport = c.getsockname()[1]
    send(handoff_msg(port=cport, usec=int(time.time() * 1e6)), [srv.fileno()])
    srv.close()
    c.sendall(b"through the hand-off\n")
    check_eq(recv_line(c), b"ho-rec\n", "answer through a valid hand-off")
    c.close()
    wait_for(lambda: rec.accepted == 1 and rec.conns[0].eof, 5, "backend EOF")
    check_eq(bytes(rec.conns[0].data), b"through the hand-off\n", "bytes at the backend")
    wait_for(lambda: re.search(r"^gatehouse-forwarder\[%d\]: \[::1\]:%d http h\.example -> h\.example \[::1\]:%d "
                               r"in=21 out=7 ms=\d{1,4} ok$" % (proc.pid, cport, rec.port), log(), re.M),
             5, "log line of the relayed client; log:\n" + log()[-800:])
    # a batch read in one go: bad, good, bad
    n_ref = log().count("refused hand-off")
    c1, s1 = tcp_pair()
    c2, s2 = tcp_pair()
    c3, s3 = tcp_pair()
    send(handoff_msg(magic=1), [s1.fileno()])
    send(handoff_msg(), [s2.fileno()])
    send(handoff_msg(site=b"nope.example"), [s3.fileno()])
    for x in (s1, s2, s3):
        x.close()
    c2.sendall(b"batched\n")
    check_eq(recv_line(c2), b"ho-rec\n", "answer to the good message between two bad ones")
    for c in (c1, c3):
        d, how = recv_all(c, 5)
        check(d == b"" and how in ("eof", "reset"), "client of a refused message in a batch: %s %r" % (how, d))
    c2.close()
    wait_for(lambda: log().count("refused hand-off") == n_ref + 2, 5, "two more refusals")
    # the PROXY header names the client the kernel sees, not what the message claims;
    # a name with control bytes cannot forge log lines
    c, srv = tcp_pair()
    send(handoff_msg(site=b"p.example", family=2, addr=socket.inet_aton("203.0.113.7") + b"\0" * 12, port=1,
                     name=b"x\ngatehouse-forwarder[1]: forged"), [srv.fileno()])
    srv.close()
    cport = c.getsockname()[1]
    c.sendall(b"who am i\n")
    check_eq(recv_line(c), b"ho-proxy-rec\n", "answer through the PROXY site")
    c.close()
    wait_for(lambda: prec.accepted == 1 and prec.conns[0].eof, 5, "PROXY backend EOF")
    info, rest = gh.parse_proxy(bytes(prec.conns[0].data))
    check_eq((info["proto"], info["src"], info["sport"], rest), ("TCP6", "::1", cport, b"who am i\n"),
             "PROXY header from a hand-off claiming 203.0.113.7:1")
    wait_for(lambda: re.search(r"http x\\x0agatehouse-forwarder\[1\]:\\x20forged -> p\.example .* ok$", log(), re.M),
             5, "log line of the PROXY client, name escaped; log:\n" + log()[-600:])
    check(not re.search(r"^gatehouse-forwarder\[1\]: forged", log(), re.M), "a hand-off name forged a log line:\n"
          + log()[-600:])
    # closing the channel ends a forwarder with no relays
    ours.close()
    try:
        rc = proc.wait(5)
    except subprocess.TimeoutExpired:
        raise TestFailure("forwarder still running 5 s after its channel closed")
    check_eq(rc, 0, "forwarder exit status after its channel closed")


# ====================================================================== 12 systemd-socket-activate

@test()
def test_socket_activate(t):
    hb = t.backend("sa-http", "http")
    tb = t.backend("sa-tls", "http", tls=True)
    hp, tp = free_port(), free_port()
    conf = os.path.join(t.tmp, "sa.conf")
    with open(conf, "w") as f:
        f.write("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
                           "site sa.example", "    http " + hb.addr, "    tls " + tb.addr, ""]))
    sock = os.path.join(t.tmp, "forward.sock")
    logpath = os.path.join(t.tmp, "sa.log")
    logf = open(logpath, "wb")
    t.defer(logf.close)
    t.watch_log(logpath)
    procs = []

    def start(args):
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        procs.append(p)

        def stop():
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(3)
                except subprocess.TimeoutExpired:
                    pass
        t.defer(stop)
        return p

    fa = start(["systemd-socket-activate", "--seqpacket", "--accept", "-l", sock, gh.FORWARDER, "-c", conf])
    wait_for(lambda: os.path.exists(sock) or fa.poll() is not None, 5, "forwarder socket %s" % sock)
    check(fa.poll() is None, "systemd-socket-activate (forwarder) exited: %s" % open(logpath).read())
    la = start(["systemd-socket-activate", "-l", "[::1]:%d" % hp, "-l", "[::1]:%d" % tp, "--fdname=http:tls",
                gh.LISTENER, "-c", conf, "--connect", sock, "--channels", "2"])

    def port_up():
        try:
            socket.create_connection(("::1", hp), 0.5).close()
            return True
        except OSError:
            return la.poll() is not None

    wait_for(port_up, 5, "the listener's socket")
    check(la.poll() is None, "systemd-socket-activate (listener) exited: %s" % open(logpath).read())
    for i in range(4):
        st, h, body, raw = http_get(hp, "sa.example", "/%d" % i, timeout=10)
        check_eq((st, body), (200, b"sa-http /%d\n" % i), "HTTP answer under socket activation")
        cn, body = tls_get(tp, "sa.example", timeout=10)
        check_eq(cn, "sa-tls", "certificate CN under socket activation")
    st, *_ = http_get(hp, "nope.example")
    check_eq(st, 421, "status for an unknown host under socket activation")
    fw = [p for p in gh.children_of(fa.pid) if (gh.proc_comm(p) or "").startswith("gatehouse-forw")]
    check_eq(len(fw), 3, "forwarders spawned for --channels 2 and the spare")
    wait_for(lambda: re.search(r"gatehouse-forwarder\[\d+\]: \[::1\]:\d+ tls sa\.example -> sa\.example \[::1\]:%d .* ok"
                               % tb.port, open(logpath).read()), 5, "forwarder log line")


# ====================================================================== 13 IPv6 netns backend

NS_BACKEND = r'''
import socket, sys, threading
name, addr, hport, rport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def serve(port, http):
    l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port)); l.listen(64)
    while True:
        c, peer = l.accept()
        def one(c=c, peer=peer):
            try:
                c.settimeout(10)
                buf = b""
                while (b"\r\n\r\n" not in buf) if http else not buf:
                    d = c.recv(65536)
                    if not d: break
                    buf += d
                if http:
                    body = ("%s %s from %s\n" % (name, buf.split(b" ")[1].decode(), peer[0])).encode()
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
                else:
                    c.sendall(("%s %d\n" % (name, len(buf))).encode())
            finally:
                c.close()
        threading.Thread(target=one, daemon=True).start()
threading.Thread(target=serve, args=(rport, False), daemon=True).start()
threading.Thread(target=serve, args=(hport, True), daemon=True).start()
import time; time.sleep(0.2)
print("ready", flush=True)
sys.stdin.read()
'''


@test()
def test_netns_ipv6_backend(t):
    import random
    check(os.geteuid() == 0, "needs root for ip netns")
    tag = "%d%03d" % (os.getpid() % 10000, random.randrange(1000))
    ns, va, vb = "gh-it-" + tag, "gha" + tag, "ghb" + tag
    net = "fd00:ab:%x" % random.randrange(1, 0xffff)
    host_ip, ns_ip = net + "::1", net + "::2"

    def ip(*a, check_rc=True):
        r = subprocess.run(["ip"] + list(a), capture_output=True, timeout=10)
        if check_rc and r.returncode:
            raise TestFailure("ip %s: %s" % (" ".join(a), r.stderr.decode().strip()))

    ip("netns", "add", ns)
    t.defer(ip, "netns", "del", ns, check_rc=False)
    ip("link", "add", va, "type", "veth", "peer", "name", vb, "netns", ns)
    t.defer(ip, "link", "del", va, check_rc=False)
    ip("addr", "add", host_ip + "/64", "dev", va, "nodad")
    ip("link", "set", va, "up")
    ip("-n", ns, "addr", "add", ns_ip + "/64", "dev", vb, "nodad")
    ip("-n", ns, "link", "set", vb, "up")
    ip("-n", ns, "link", "set", "lo", "up")
    bproc = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", NS_BACKEND, "ns-backend", ns_ip, "8080", "8443"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stop_backend():
        bproc.kill()
        bproc.wait(5)
    t.defer(stop_backend)
    line = [None]
    rd = threading.Thread(target=lambda: line.__setitem__(0, bproc.stdout.readline()), daemon=True)
    rd.start()
    rd.join(10)
    check(line[0] == b"ready\n", "netns backend did not start: %r %r" % (line[0], bproc.stderr.read1(2000) if bproc.poll() is not None else b""))
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp,
        "site ns.example", "    http [%s]:8080" % ns_ip, "    tls [%s]:8443" % ns_ip,
        "site dead.example", "    http [%s]:8081" % ns_ip, ""]))
    for i in range(3):
        st, h, body, raw = http_get(hp, "ns.example", "/n%d" % i)
        check_eq((st, body), (200, ("ns-backend /n%d from %s\n" % (i, host_ip)).encode()),
                 "answer from the backend in netns %s" % ns)
    hello = gh.client_hello("ns.example")
    s = connect(tp)
    s.sendall(hello)
    check_eq(recv_line(s), b"ns-backend %d\n" % len(hello), "TLS-port answer from the netns backend")
    s.close()
    st, *_ = http_get(hp, "dead.example")
    check_eq(st, 503, "status for a closed port in the netns")
    g.wait_log(r"http ns\.example -> ns\.example \[%s\]:8080 in=\d+ out=\d+ ms=\d+ ok$" % re.escape(ns_ip))


# ====================================================================== reload

@test()
def test_reload(t):
    e1 = t.backend("r1-echo", "echo")
    h2 = t.backend("r2-http", "http")
    hp = free_port()
    base = ["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(), "site r1.example", "    http " + e1.addr]
    g = t.gatehouse("\n".join(base + [""]), forwarders=2)
    s = connect(hp, timeout=5)
    req = b"GET / HTTP/1.1\r\nHost: r1.example\r\n\r\n"
    s.sendall(req)
    check_eq(recv_exact(s, len(req)), req, "echo before reload")
    st, *_ = http_get(hp, "r2.example")
    check_eq(st, 421, "r2.example before it is configured")
    with open(g.conf, "w") as f:
        f.write("\n".join(base + ["site r2.example", "    http " + h2.addr, ""]))
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"reload: starting a new generation")

    def r2_ok():
        st, h, body, raw = http_get(hp, "r2.example")
        return st == 200 and body == b"r2-http /\n"
    wait_for(r2_ok, 5, "r2.example to be served after SIGHUP")
    # both new forwarders have read the file before it changes again
    # (children read the file when they start; see test_reload_refused_then_restart)
    wait_for(lambda: r2_ok() and len(set(re.findall(r"gatehouse-forwarder\[(\d+)\]: \S+ http r2\.example ", g.log()))) >= 2,
             5, "r2.example served by both new forwarders")
    s.sendall(b"after reload\n")
    check_eq(recv_exact(s, 13), b"after reload\n", "relay established before the reload")
    # a broken config is refused and the running one kept
    with open(g.conf, "w") as f:
        f.write("this is not a directive\n")
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"has errors, keeping the running configuration")
    check(r2_ok(), "r2.example after a refused reload")
    s.sendall(b"still\n")
    check_eq(recv_exact(s, 6), b"still\n", "relay after a refused reload")
    # reloads in a row while clients keep coming: none refused or cut
    with open(g.conf, "w") as f:
        f.write("\n".join(base + ["site r2.example", "    http " + h2.addr, ""]))
    stop, res = [], []

    def client(k):
        while not stop:
            try:
                st, h, body, raw = http_get(hp, "r2.example", "/c%d" % k)
                res.append(body if st == 200 else raw[:60])
            except Exception as e:
                res.append(repr(e))
    ths = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(4)]
    for th in ths:
        th.start()
    n_gen = g.log().count("reload: starting a new generation")
    for _ in range(5):
        time.sleep(0.15)
        os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"reload: starting a new generation", count=n_gen + 5)
    time.sleep(0.3)
    stop.append(True)
    for th in ths:
        th.join(10)
    bad = [r for r in res if not (isinstance(r, bytes) and re.match(rb"r2-http /c\d\n$", r))]
    check(len(res) > 20 and not bad, "%d of %d requests during 5 reloads failed, e.g. %r" % (len(bad), len(res), bad[:3]))
    s.sendall(b"last\n")
    check_eq(recv_exact(s, 5), b"last\n", "relay after 7 reloads")
    s.close()


# ====================================================================== launcher

@test()
def test_launcher(t):
    hp, tp = free_port(), free_port()
    good = "listen http [::1]:%d\nlisten tls [::1]:%d\nsite l.example\n    http [::1]:%d\n" % (hp, tp, dead_port())
    # a config error: FILE:LINE: message, exit 1, nothing started
    bad = os.path.join(t.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write(good + "bogus-directive 1\n")
    r = subprocess.run([gh.GATEHOUSE, "run", "-c", bad], capture_output=True, timeout=10)
    check_eq(r.returncode, 1, "exit status for a config error")
    check(re.search(r"%s:5: " % re.escape(bad), r.stderr.decode()), "no FILE:LINE error: %r" % r.stderr)
    # a listen address in use: exit 1
    busy = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t.defer(busy.close)
    busy.bind(("::1", 0))
    busy.listen(1)
    inuse = os.path.join(t.tmp, "inuse.conf")
    with open(inuse, "w") as f:
        f.write(good.replace("[::1]:%d\n" % hp, "[::1]:%d\n" % busy.getsockname()[1], 1))
    r = subprocess.run([gh.GATEHOUSE, "run", "-c", inuse], capture_output=True, timeout=10)
    check_eq(r.returncode, 1, "exit status when a listen address is in use (%r)" % r.stderr[-200:])
    check(b"in use" in r.stderr, "no 'in use' message: %r" % r.stderr)
    # SIGINT stops everything, exit 0
    g = t.gatehouse(good, forwarders=3)
    kids = g.children()
    check_eq(len(kids), 4, "children of gatehouse run --forwarders 3")
    os.kill(g.proc.pid, signal.SIGINT)
    try:
        rc = g.proc.wait(8)
    except subprocess.TimeoutExpired:
        raise TestFailure("gatehouse run still running 8 s after SIGINT")
    check_eq(rc, 0, "exit status after SIGINT")
    for k in kids:
        check(not gh.pid_alive(k), "child %d (%s) outlived gatehouse run" % (k, gh.proc_comm(k)))


@test()
def test_launcher_gives_up(t):
    """A listener that cannot start must not become a fork bomb nor restart
    forever: the launcher gives up (like systemd's start limit) or backs off,
    and giving up is a failure a supervisor can see (non-zero exit)."""
    import shutil
    conf = os.path.join(t.tmp, "g.conf")
    with open(conf, "w") as f:
        f.write("listen http [::1]:%d\nlisten tls [::1]:%d\nsite l.example\n    http [::1]:%d\n"
                % (free_port(), free_port(), dead_port()))
    for delay in ("0", "0.3"):
        bindir = os.path.join(t.tmp, "bin" + delay)
        os.makedirs(bindir)
        shutil.copy(gh.GATEHOUSE, os.path.join(bindir, "gatehouse"))
        os.symlink(gh.FORWARDER, os.path.join(bindir, "gatehouse-forwarder"))
        with open(os.path.join(bindir, "gatehouse-listener"), "w") as f:
            f.write("#!/bin/sh\necho fake-listener-start >&2\nsleep %s\nexit 1\n" % delay)
        os.chmod(os.path.join(bindir, "gatehouse-listener"), 0o755)
        outpath = os.path.join(t.tmp, "out" + delay)
        outf = open(outpath, "wb")
        t.defer(outf.close)
        p = subprocess.Popen([os.path.join(bindir, "gatehouse"), "run", "-c", conf, "--forwarders", "1"],
                             stdin=subprocess.DEVNULL, stdout=outf, stderr=outf, start_new_session=True)

        def kill(p=p):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)
        t.defer(kill)
        try:
            rc = p.wait(12)
        except subprocess.TimeoutExpired:
            rc = None
        out = open(outpath, "rb").read().decode("utf-8", "replace")
        starts = out.count("fake-listener-start")
        what = "listener dying after %ss" % delay
        check(starts <= 15, "%s: started %d times in %s (restarts without end)"
              % (what, starts, "12 s, still going" if rc is None else "its run"))
        if rc is not None:
            check("giving up" in out, "%s: exited %d without saying 'giving up':\n%s" % (what, rc, out[-600:]))
            check(rc != 0, "%s: gatehouse run gave up but exited 0 (a supervisor with "
                  "Restart=on-failure would not restart it)" % what)
        kill()


@test()
def test_reload_refused_then_restart(t):
    """A refused reload keeps the running configuration, also for a
    forwarder started in a dead one's place and for the generation started
    after a listener crash."""
    a = t.backend("rr-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                                "site a.example", "    http " + a.addr, ""]), forwarders=2)
    check_eq(http_get(hp, "a.example")[2], b"rr-http /\n", "answer before the reload")
    with open(g.conf, "w") as f:
        f.write("this is not a directive\n")
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"has errors, keeping the running configuration")
    check_eq(http_get(hp, "a.example")[2], b"rr-http /\n", "answer after the refused reload")

    def answers(what, n=4):
        try:
            for i in range(n):
                st, h, body, raw = http_get(hp, "a.example", "/after%d" % i)
                check_eq((st, body), (200, b"rr-http /after%d\n" % i), "answer after %s" % what)
        except (TestFailure, OSError) as e:
            raise TestFailure("%s; log tail:\n%s" % (e, "\n".join(g.log().splitlines()[-6:])))

    old = forwarder_pids(g)
    os.kill(old[0], signal.SIGKILL)
    new = int(g.wait_log(r"started forwarder (\d+) in its place")[0])
    g.wait_log(r"forwarder channel \d+ replaced by a new forwarder")
    check(g.proc.poll() is None, "gatehouse run exited (%s) after a forwarder crash that followed a refused "
          "reload; log tail:\n%s" % (g.proc.returncode, g.log()[-700:]))
    answers("a forwarder crash that followed a refused reload", 8)
    # both forwarders took clients (ties go round robin), the replacement too
    g.wait_log(r"gatehouse-forwarder\[%d\]: .* a\.example .* ok$" % new)
    lst = listener_pids(g)
    for p in lst:
        os.kill(p, signal.SIGKILL)
    g.wait_log(r"starting a new listener generation")
    both = old + [new]
    wait_for(lambda: len([p for p in forwarder_pids(g) if p not in both]) == 2 or g.proc.poll() is not None,
             10, "two new forwarders")
    check(g.proc.poll() is None, "gatehouse run exited (%s) after a listener crash that followed a refused "
          "reload; log tail:\n%s" % (g.proc.returncode, g.log()[-700:]))
    answers("a listener crash that followed a refused reload")


# ====================================================================== sandbox under gatehouse run

def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


@test()
def test_sandbox_applied(t):
    """Started as root, `gatehouse run` leaves every daemon chrooted to the
    empty /var/lib/gatehouse, non-root, with no capability, no_new_privs and
    its seccomp filter (issue #4). A sanitizer build documents that it skips
    all but no_new_privs: then that is what is asserted."""
    check(os.geteuid() == 0, "this test runs as root, like CI")
    hb = t.backend("sb-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                               "site sb.example", "    http " + hb.addr, ""]), forwarders=2)
    # the sandbox must not stop the daemons from doing their job
    s = connect(hp, timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: sb.example\r\nConnection: close\r\n\r\n")
    got, how = recv_all(s, 5)
    check(b"sb-http /" in got and how == "eof", "request through the sandboxed daemons: %r (%s)" % (got[-80:], how))
    relaxed = "sanitizer or NOSECCOMP build" in g.log()
    pids = gh.daemon_pids(g, "gatehouse-list") + gh.daemon_pids(g, "gatehouse-forw")
    check_eq(len(pids), 3, "listener and two forwarders")
    for p in pids:
        st = proc_status(p)
        what = "%s %d" % (gh.daemon_name(p), p)
        check_eq(st["NoNewPrivs"], "1", what + " NoNewPrivs")
        if relaxed:
            continue
        check_eq(st["Seccomp"], "2", what + " Seccomp (filter mode)")
        check_eq(st["CapEff"], "0000000000000000", what + " effective capabilities")
        check_eq(st["CapPrm"], "0000000000000000", what + " permitted capabilities")
        uids = st["Uid"].split()
        check("0" not in uids, "%s runs with a root uid: %s" % (what, st["Uid"]))
        check_eq(os.readlink("/proc/%d/root" % p), "/var/lib/gatehouse", what + " root directory (chroot)")


@test()
def test_unprivileged_run(t):
    """Started by an ordinary user, gatehouse run still routes, with the
    seccomp filters and no_new_privs alone, and says once what it could not
    apply (issue #4)."""
    hb = t.backend("up-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(),
                               "site up.example", "    http " + hb.addr, ""]), forwarders=1, as_uid=65534)
    s = connect(hp, timeout=5)
    s.sendall(b"GET /u HTTP/1.1\r\nHost: up.example\r\nConnection: close\r\n\r\n")
    got, how = recv_all(s, 5)
    check(b"up-http /u" in got, "request through an unprivileged gatehouse: %r (%s)" % (got[-80:], how))
    log = g.log()
    check_eq(log.count("no chroot and no user switch"), 1, "launcher says once what it cannot apply")
    check("sandbox: started as uid" not in log, "daemons repeat what the launcher said:\n" + log[-800:])
    relaxed = "sanitizer or NOSECCOMP build" in log
    for p in gh.daemon_pids(g, "gatehouse-list") + gh.daemon_pids(g, "gatehouse-forw"):
        st = proc_status(p)
        check_eq(st["Uid"].split()[0], "65534", "%d uid" % p)
        check_eq(st["NoNewPrivs"], "1", "%d NoNewPrivs" % p)
        if not relaxed:
            check_eq(st["Seccomp"], "2", "%d Seccomp" % p)
