# SPDX-License-Identifier: MIT
"""Accepting PROXY from a front balancer (issue #15.3): `accept-proxy CIDR`
names the peers whose connections start with a PROXY v1/v2 header. From
127.0.0.1 (trusted) the header's source is the client the backend is told
about (proxy-protocol v2 on the site) and the header bytes never reach it;
from 127.0.0.2 (not trusted) a PROXY line is the client's own data; a
trusted peer that sends no valid header is closed. The forwarder believes a
hand-off's header length only from a peer its own config trusts, and under
`direct-clients refuse` no hand-off of any other peer. Debian's
HAProxy in front with send-proxy-v2, when installed."""
import array
import os
import re
import shutil
import socket
import struct
import subprocess
import time

import gh
from gh import test, check, check_eq, wait_for, free_port, recv_all, recv_line, TestFailure
from tests_all import handoff_msg

PP2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, dst, sport, dport, local=False):
    if local:
        return PP2_SIG + b"\x20\x00\x00\x00"
    if ":" in src:
        body = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        return PP2_SIG + b"\x21\x21" + struct.pack(">H", 36) + body + struct.pack(">HH", sport, dport)
    body = socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
    return PP2_SIG + b"\x21\x11" + struct.pack(">H", 12) + body + struct.pack(">HH", sport, dport)


def client(src, port, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def setup(t, extra=()):
    rec = t.backend("ap-rec", "record")
    trec = t.backend("ap-tls-rec", "record")
    hp, tp = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "inspect-timeout 2s",
        "accept-proxy 127.0.0.1/32"] + list(extra) + [
        "listen http 127.0.0.1:%d" % hp, "listen tls 127.0.0.1:%d" % tp,
        "site ap.example", "    http " + rec.addr, "    tls " + trec.addr, "    proxy-protocol v2",
        ""]))
    return g, rec, trec, hp, tp


def through(be, s, payload, what):
    """Send payload on s, read the backend's name line, and return what the
    backend received (its PROXY header parsed, and the rest)."""
    n0 = be.accepted
    s.sendall(payload)
    check_eq(recv_line(s), be.name.encode() + b"\n", "answer for " + what)
    s.close()
    check_eq(be.accepted, n0 + 1, "connections to %s for %s" % (be.name, what))
    rec = be.conns[-1]
    wait_for(lambda: rec.eof, 5, "backend EOF for " + what)
    return gh.parse_proxy(bytes(rec.data))


@test()
def test_accept_proxy_trusted(t):
    g, rec, trec, hp, tp = setup(t)
    req = b"GET /pp HTTP/1.1\r\nHost: ap.example\r\n\r\nbody\x00\xff\r\n"
    hello = gh.client_hello("ap.example") + b"\x17\x03\x03\x00\x01z"
    cases = [
        ("v1 TCP4 on http", rec, hp, b"PROXY TCP4 192.0.2.5 127.0.0.1 5555 %d\r\n" % hp, req,
         ("192.0.2.5", 5555, 0x11)),
        ("v2 TCP6 on http", rec, hp, v2_header("2001:db8::7", "2001:db8::1", 6666, hp), req,
         ("2001:db8::7", 6666, 0x21)),
        ("v1 TCP6 on tls", trec, tp, b"PROXY TCP6 2001:db8::8 2001:db8::1 7777 %d\r\n" % tp, hello,
         ("2001:db8::8", 7777, 0x21)),
        ("v2 TCP4 on tls", trec, tp, v2_header("198.51.100.4", "127.0.0.1", 8888, tp), hello,
         ("198.51.100.4", 8888, 0x11)),
    ]
    for what, be, port, hdr, payload, (src, sport, fam) in cases:
        info, rest = through(be, client("127.0.0.1", port), hdr + payload, what)
        check_eq((info["src"], info["sport"], info["fam"]), (src, sport, fam), "PROXY source for " + what)
        check(rest == payload, "backend got, after our PROXY header, %r; want the client's bytes %r (%s)"
              % (rest[:80], payload[:80], what))
    # v2 LOCAL (a balancer's health check): the balancer is the client
    s = client("127.0.0.1", hp)
    bport = s.getsockname()[1]
    info, rest = through(rec, s, v2_header(None, None, 0, 0, local=True) + req, "v2 LOCAL")
    check_eq((info["src"], info["sport"]), ("127.0.0.1", bport), "LOCAL: the balancer as client")
    check(rest == req, "LOCAL: backend got %r" % rest[:80])
    # the forwarder's records name the header's source
    g.wait_log(r"^gatehouse-forwarder\[\d+\]: 192\.0\.2\.5:5555 http ap\.example -> ap\.example .* ok$")
    g.wait_log(r"^gatehouse-forwarder\[\d+\]: \[2001:db8::8\]:7777 tls ap\.example -> ap\.example .* ok$")


@test()
def test_accept_proxy_untrusted_and_garbage(t):
    g, rec, trec, hp, tp = setup(t)
    line = b"PROXY TCP4 192.0.2.5 127.0.0.1 5555 %d\r\n" % hp
    req = b"GET / HTTP/1.1\r\nHost: ap.example\r\n\r\n"
    # from 127.0.0.2 a PROXY line is the client's request line: 400
    s = client("127.0.0.2", hp)
    s.sendall(line + req)
    data, how = recv_all(s)
    s.close()
    st, _, _ = gh.parse_http(data)
    check_eq(st, 400, "untrusted peer's PROXY line on http")
    # ... and on tls not a hello: closed, nothing answered
    s = client("127.0.0.2", tp)
    s.sendall(line + gh.client_hello("ap.example"))
    data, how = recv_all(s)
    s.close()
    check_eq(data, b"", "untrusted peer's PROXY line on tls (%s)" % how)
    # from the trusted peer, no header (garbage) or a truncated one: closed
    for what, port, payload in (("plain request", hp, req), ("plain hello", tp, gh.client_hello("ap.example")),
                                ("bad v1", hp, b"PROXY TCP4 999.0.2.5 127.0.0.1 1 2\r\n" + req)):
        s = client("127.0.0.1", port)
        s.sendall(payload)
        data, how = recv_all(s)
        s.close()
        check_eq(data, b"", "trusted peer without a valid header (%s), %s" % (what, how))
    s = client("127.0.0.1", hp, timeout=10)
    s.sendall(line[:20])
    data, how = recv_all(s, 10)
    s.close()
    check_eq(data, b"", "truncated header, %s" % how)
    check_eq((rec.accepted, trec.accepted), (0, 0), "backend connections")
    g.wait_log(r"127\.0\.0\.1:\d+ http - bad_proxy", count=3)
    g.wait_log(r"127\.0\.0\.1:\d+ tls - bad_proxy")


@test()
def test_accept_proxy_slow_header(t):
    """A trusted peer must send a whole header within inspect-timeout (2 s):
    one that sends nothing, or half a header, is closed then without an
    answer (bad_proxy); after a whole header and nothing more, the client
    behind it timed out: a quiet close too, not a 408 (a balancer opens
    connections for browsers' pre-connects with a header)."""
    g, rec, trec, hp, tp = setup(t)
    line = b"PROXY TCP4 192.0.2.5 127.0.0.1 5555 %d\r\n" % hp
    for what, port, payload in (("nothing", hp, b""), ("nothing", tp, b""),
                                ("half a v1 header", hp, line[:len(line) // 2]),
                                ("half a v2 header", tp, v2_header("192.0.2.6", "127.0.0.1", 1, tp)[:20]),
                                ("a header alone", hp, line)):
        s = client("127.0.0.1", port, timeout=10)
        t0 = time.monotonic()
        if payload:
            s.sendall(payload)
        data, how = recv_all(s, 8)
        took = time.monotonic() - t0
        s.close()
        check(data == b"" and how in ("eof", "reset"), "%s on %d: got %r (%s)" % (what, port, data[:60], how))
        check(took > 1.5, "%s on %d: closed after %.2f s, before the inspect timeout" % (what, port, took))
    # a balancer's TCP health check: v2 LOCAL, then a close; closed at
    # once, quietly (no bad_proxy), nothing reaches a backend
    for port in (hp, tp):
        s = client("127.0.0.1", port)
        t0 = time.monotonic()
        s.sendall(v2_header(None, None, 0, 0, local=True))
        s.shutdown(socket.SHUT_WR)
        data, how = recv_all(s, 8)
        took = time.monotonic() - t0
        s.close()
        check(data == b"" and how in ("eof", "reset") and took < 1.5,
              "LOCAL then close on %d: got %r (%s) after %.2f s" % (port, data[:60], how, took))
    g.wait_log(r" 127\.0\.0\.1:\d+ http - bad_proxy$", count=2)
    g.wait_log(r" 127\.0\.0\.1:\d+ tls - bad_proxy$", count=2)
    # the header's source is who timed out, with no 408
    g.wait_log(r" 192\.0\.2\.5:5555 http - timeout$")
    check_eq(len(re.findall(r" bad_proxy$", g.log(), re.M)), 4, "bad_proxy records (LOCAL checks are not)")
    check_eq((rec.accepted, trec.accepted), (0, 0), "backend connections")


@test()
def test_accept_proxy_access_lists(t):
    """The header's source, not the balancer, meets the allow/deny lists:
    a denied source behind the balancer gets 403 (http) or the
    access_denied alert (tls), logged under its own address; an allowed
    one reaches the backend. The balancer's own address is on no list."""
    g, rec, trec, hp, tp = setup(t, ["deny 192.0.2.0/24"])
    req = b"GET / HTTP/1.1\r\nHost: ap.example\r\n\r\n"
    s = client("127.0.0.1", hp)
    s.sendall(b"PROXY TCP4 192.0.2.5 127.0.0.1 5555 %d\r\n" % hp + req)
    data, how = recv_all(s)
    s.close()
    check_eq(gh.parse_http(data)[0], 403, "denied source behind the balancer on http")
    s = client("127.0.0.1", tp)
    s.sendall(v2_header("192.0.2.6", "127.0.0.1", 6666, tp) + gh.client_hello("ap.example"))
    data, how = recv_all(s)
    s.close()
    check(data.startswith(b"\x15\x03\x03\x00\x02\x02\x31"), "denied source on tls: got %r (%s)" % (data[:20], how))
    check_eq((rec.accepted, trec.accepted), (0, 0), "backend connections for denied sources")
    g.wait_log(r" 192\.0\.2\.5:5555 http ap\.example denied 403$")
    g.wait_log(r" 192\.0\.2\.6:6666 tls ap\.example denied$")
    info, rest = through(rec, client("127.0.0.1", hp),
                         b"PROXY TCP4 198.51.100.4 127.0.0.1 4444 %d\r\n" % hp + req, "allowed source")
    check_eq((info["src"], info["sport"]), ("198.51.100.4", 4444), "allowed source's PROXY header to the backend")
    check(rest == req, "allowed source: backend got %r" % rest[:80])


@test()
def test_accept_proxy_source_limits(t):
    """Per-source limits behind a balancer judge the header's source, not
    the balancer: with `source-rate 2/1m` and `source-inspecting 1`, eight
    clients of the balancer, from eight sources and two of them held under
    inspection at once, all reach the backend; the third new connection of
    one source behind it gets 429, logged under that source; a direct
    peer is limited by its own address as before."""
    g, rec, trec, hp, tp = setup(t, ["source-rate 2/1m", "source-inspecting 1"])
    req = b"GET / HTTP/1.1\r\nHost: ap.example\r\n\r\n"
    # two balancer connections held half-way (under inspection) while the
    # others come: a balancer counted as one source would be over both caps
    held = [client("127.0.0.1", hp) for _ in range(2)]
    for s in held:
        s.sendall(b"PROXY TCP4 198.51.100.99 127.0.0.1 1 %d\r\n" % hp)
    for i in range(8):
        info, _ = through(rec, client("127.0.0.1", hp),
                          b"PROXY TCP4 192.0.2.%d 127.0.0.1 5555 %d\r\n" % (10 + i, hp) + req, "source %d" % i)
        check_eq(info["src"], "192.0.2.%d" % (10 + i), "source %d reaches the backend" % i)
    for s in held:
        s.close()
    # one source behind the balancer: two new connections, then 429
    for i in range(2):
        through(rec, client("127.0.0.1", hp), b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 %d\r\n" % hp + req,
                "203.0.113.7's connection %d" % (i + 1))
    n0 = rec.accepted
    s = client("127.0.0.1", hp)
    s.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 %d\r\n" % hp + req)
    data, how = recv_all(s)
    s.close()
    check_eq(gh.parse_http(data)[0], 429, "203.0.113.7's third new connection behind the balancer (%s)" % how)
    check_eq(rec.accepted, n0, "no backend connection for the limited source")
    g.wait_log(r" 203\.0\.113\.7:5555 http ap\.example rate_limited 429$")
    # a direct peer (not a balancer) is still its own source at accept
    for i in range(2):
        through(rec, client("127.0.0.2", hp), req, "direct peer's connection %d" % (i + 1))
    s = client("127.0.0.2", hp)
    s.sendall(req)
    data, how = recv_all(s)
    s.close()
    check_eq(gh.parse_http(data)[0], 429, "direct peer's third new connection (%s)" % how)


@test()
def test_direct_clients_refuse(t):
    """direct-clients refuse: a peer that is not a balancer is refused like
    a denied client (403 on http, the access_denied alert on tls, logged
    denied), and the balancer's clients are still served."""
    g, rec, trec, hp, tp = setup(t, ["direct-clients refuse"])
    req = b"GET / HTTP/1.1\r\nHost: ap.example\r\n\r\n"
    s = client("127.0.0.2", hp)
    s.sendall(req)
    data, how = recv_all(s)
    s.close()
    check_eq(gh.parse_http(data)[0], 403, "direct client on http (%s)" % how)
    s = client("127.0.0.2", tp)
    s.sendall(gh.client_hello("ap.example"))
    data, how = recv_all(s)
    s.close()
    check(data.startswith(b"\x15\x03\x03\x00\x02\x02\x31"), "direct client on tls: got %r (%s)" % (data[:20], how))
    check_eq((rec.accepted, trec.accepted), (0, 0), "backend connections for direct clients")
    g.wait_log(r" 127\.0\.0\.2:\d+ http ap\.example denied 403$")
    g.wait_log(r" 127\.0\.0\.2:\d+ tls ap\.example denied$")
    info, rest = through(rec, client("127.0.0.1", hp),
                         b"PROXY TCP4 192.0.2.5 127.0.0.1 5555 %d\r\n" % hp + req, "balancer's client")
    check_eq((info["src"], info["sport"]), ("192.0.2.5", 5555), "balancer's client under refuse")


@test()
def test_accept_proxy_per_listen(t):
    """`listen ... accept-proxy CIDR`: a listen's own balancers. From the
    same peer, a header is parsed on the listen that names it (and the
    forwarder, finding that listen from the address the client reached,
    believes it) and is data on the other; direct-clients refuse refuses
    only on the listen with balancers."""
    rec = t.backend("apl-rec", "record")
    hp, hp2 = free_port(), free_port()
    g = t.gatehouse("\n".join([
        "inspect-timeout 2s", "direct-clients refuse",
        "listen http 127.0.0.1:%d accept-proxy 127.0.0.1/32" % hp, "listen http 127.0.0.1:%d" % hp2,
        "listen tls 127.0.0.1:%d" % free_port(),
        "site ap.example", "    http " + rec.addr, "    proxy-protocol v2", ""]))
    req = b"GET / HTTP/1.1\r\nHost: ap.example\r\n\r\n"
    line = b"PROXY TCP4 192.0.2.5 127.0.0.1 5555 %d\r\n" % hp
    info, rest = through(rec, client("127.0.0.1", hp), line + req, "balancer on its listen")
    check_eq((info["src"], info["sport"]), ("192.0.2.5", 5555), "PROXY source on the balancers' listen")
    check(rest == req, "backend got %r" % rest[:80])
    s = client("127.0.0.1", hp2)
    s.sendall(line + req)
    data, how = recv_all(s)
    s.close()
    check_eq(gh.parse_http(data)[0], 400, "the balancer's PROXY line on the other listen (%s)" % how)
    s = client("127.0.0.2", hp)
    s.sendall(req)
    data, how = recv_all(s)
    s.close()
    check_eq(gh.parse_http(data)[0], 403, "a direct client on the balancers' listen (%s)" % how)
    s = client("127.0.0.2", hp2)
    cport = s.getsockname()[1]
    info, rest = through(rec, s, req, "direct client on the other listen")
    check_eq((info["src"], info["sport"]), ("127.0.0.2", cport), "direct client served on the other listen")
    check_eq(rec.accepted, 2, "backend connections")


@test()
def test_accept_proxy_hostile_handoff(t):
    """A listener that claims a PROXY header on a connection from a peer
    the forwarder's own config does not trust is refused, and so is a
    header length that does not end a header from a trusted one."""
    rec = t.backend("aph-rec", "record")
    for trusted in (False, True, "refuse", "other-listen"):
        proc, ours, log = gh.lone_forwarder(
            t, (["accept-proxy ::1"] if trusted is True else ["accept-proxy 10.0.0.0/8"]) +
            (["direct-clients refuse"] if trusted == "refuse" else []) +
            # ::1 is a balancer only on a listen the client did not reach
            ["listen http [::1]:%d" % free_port() + (" accept-proxy ::1" if trusted == "other-listen" else ""),
             "site h.example", "    http " + rec.addr, "    proxy-protocol v2"], name="fwd%s" % trusted)
        lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        lsock.bind(("::1", 0))
        lsock.listen(8)
        t.defer(lsock.close)
        line = b"PROXY TCP4 192.0.2.5 127.0.0.1 5555 80\r\n"
        cases = {False: [("untrusted peer, header length", len(line))],
                 True: [("trusted peer, length short of the header", len(line) - 2),
                        ("trusted peer, length past the header", len(line) + 4),
                        ("trusted peer, no header length", 0)],
                 # the listener refuses direct clients itself: one that
                 # hands one off anyway is not believed
                 "refuse": [("direct client under direct-clients refuse", 0)],
                 "other-listen": [("balancer of another listen, header length", len(line))]}[trusted]
        for i, (what, plen) in enumerate(cases):
            c = gh.connect(lsock.getsockname()[1])
            t.defer(c.close)
            srv, _ = lsock.accept()
            c.sendall(line + b"GET / HTTP/1.1\r\nHost: h.example\r\n\r\n")
            msg = handoff_msg(site=b"h.example", name=b"h.example", port=c.getsockname()[1],
                              usec=int(time.time() * 1e6), proxy_len=plen)
            ours.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [srv.fileno()]))])
            srv.close()
            wait_for(lambda: log().count("refused hand-off") >= i + 1, 5,
                     "'refused hand-off' for %s; log:\n%s" % (what, log()[-1500:]))
            data, how = recv_all(c, 5)
            check(data == b"" and how in ("eof", "reset"), "%s: client got %r (%s)" % (what, data[:60], how))
        check_eq(rec.accepted, 0, "backend connections after refused hand-offs")
        want = "direct-clients refuse" if trusted == "refuse" else "PROXY header"
        check(want in log(), "the refusal names the %s:\n%s" % (want, log()[-800:]))


HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_STREAM = "/usr/lib/nginx/modules/ngx_stream_module.so"


def front(t, argv, port, what):
    """A balancer process in front, stopped with the test; returns once it
    accepts connections on 127.0.0.1:port."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        proc.kill()
        proc.wait(5)
    t.defer(stop)

    def up():
        check(proc.poll() is None, "%s exited (%s)" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            return False
    wait_for(up, 10, "%s listening on %d" % (what, port))


@test()
def test_haproxy_send_proxy_v2(t):
    """Debian's HAProxy in TCP mode in front, send-proxy-v2: the backend is
    told the address of HAProxy's client (127.0.0.2), not HAProxy's."""
    if not os.path.exists(HAPROXY):
        raise TestFailure("haproxy not installed (apt-get install haproxy)")
    g, rec, trec, hp, tp = setup(t)
    fp = free_port()
    conf = os.path.join(t.tmp, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("global\n    maxconn 100\n"
                "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n"
                "frontend fe\n    bind 127.0.0.1:%d\n    default_backend be\n"
                "backend be\n    server gh 127.0.0.1:%d send-proxy-v2\n" % (fp, hp))
    front(t, [HAPROXY, "-db", "-f", conf], fp, "haproxy")
    req = b"GET /hap HTTP/1.1\r\nHost: ap.example\r\n\r\n"
    s = client("127.0.0.2", fp)
    cport = s.getsockname()[1]
    info, rest = through(rec, s, req, "through haproxy")
    check_eq((info["src"], info["sport"]), ("127.0.0.2", cport), "client behind haproxy")
    check(rest == req, "backend got %r" % rest[:80])


@test()
def test_nginx_stream_proxy_protocol(t):
    """nginx stream with `proxy_protocol on` (v1) in front of the TLS
    listen: the TLS backend is told the address of nginx's client."""
    if not (os.path.exists(NGINX) and os.path.exists(NGINX_STREAM)):
        raise TestFailure("nginx with its stream module not installed (apt-get install nginx libnginx-mod-stream)")
    g, rec, trec, hp, tp = setup(t)
    fp = free_port()
    conf = os.path.join(t.tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("load_module %s;\ndaemon off;\nmaster_process off;\npid %s/nginx.pid;\n"
                "error_log %s/nginx-error.log;\nevents { worker_connections 64; }\n"
                "stream { server { listen 127.0.0.1:%d; proxy_pass 127.0.0.1:%d; proxy_protocol on; } }\n"
                % (NGINX_STREAM, t.tmp, t.tmp, fp, tp))
    front(t, [NGINX, "-p", t.tmp, "-c", conf, "-e", os.path.join(t.tmp, "nginx-error.log")], fp, "nginx")
    hello = gh.client_hello("ap.example") + b"\x17\x03\x03\x00\x01z"
    s = client("127.0.0.2", fp)
    cport = s.getsockname()[1]
    info, rest = through(trec, s, hello, "through nginx")
    check_eq((info["src"], info["sport"]), ("127.0.0.2", cport), "client behind nginx")
    check(rest == hello, "backend got %r" % rest[:80])
