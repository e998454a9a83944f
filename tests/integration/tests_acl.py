# SPDX-License-Identifier: MIT
"""Access lists (issue #15.1): `allow`/`deny` CIDR lines, global and per
site, with real clients from several source addresses on loopback
(127.0.0.2 and 127.0.0.3 bound before connect; ::1), on a dual-stack
listener (IPv4 clients arrive v4-mapped) and on a plain IPv4 one. A refused
client gets 403 on http and a fatal access_denied alert on tls, the
listener logs `denied`, and the backend never sees the connection."""
import os
import socket
import ssl
import subprocess

import gh
from gh import test, check, check_eq, TestFailure, free_port, recv_all, parse_http


def client(src, port, timeout=5):
    """A TCP connection to gatehouse from source address src: IPv4 sources
    go to 127.0.0.1, IPv6 ones to ::1."""
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("::1" if ":" in src else "127.0.0.1", port))
    return s


def http_from(src, port, host):
    """(status, body) of a GET for host sent from src."""
    s = client(src, port)
    try:
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        raw, how = recv_all(s)
    finally:
        s.close()
    if not raw:
        raise TestFailure("%s -> %s: no answer (%s)" % (src, host, how))
    st, _, body = parse_http(raw)
    return st, body


def tls_from(src, port, sni):
    """The backend's certificate CN for a real TLS client from src, or
    "ALERT:<reason>" when the handshake ends with an alert."""
    s = client(src, port)
    try:
        try:
            t = gh.tls_client_ctx().wrap_socket(s, server_hostname=sni)
        except ssl.SSLError as e:
            return "ALERT:%s" % e.reason
        der = t.getpeercert(binary_form=True)
        t.close()
        return gh.CERTS.cn_of_der(der)
    finally:
        s.close()


def acl_setup(t):
    """open (no list), v4 (127.0.0.0/8 only), v6 (::1 only); 127.0.0.3 is
    denied by the global list. http on a dual-stack [::] port and on a
    127.0.0.1 port, tls on a dual-stack port."""
    be = {}
    for n in ("open", "v4", "v6"):
        be[n] = t.backend(n + "-http", "http")
        be[n + "-tls"] = t.backend(n + ".example", "http", tls=True)
    hp, hp4, tp = free_port(), free_port(), free_port()
    conf = ["inspect-timeout 3s",
            "listen http [::]:%d" % hp, "listen http 127.0.0.1:%d" % hp4, "listen tls [::]:%d" % tp,
            "deny 127.0.0.3",
            "site open.example", "  http " + be["open"].addr, "  tls " + be["open-tls"].addr,
            "site v4.example", "  http " + be["v4"].addr, "  tls " + be["v4-tls"].addr,
            "  allow 127.0.0.0/8", "  deny all",
            "site v6.example", "  http " + be["v6"].addr, "  tls " + be["v6-tls"].addr,
            "  deny 127.0.0.0/8", "  allow ::1", "  deny all", ""]
    g = t.gatehouse("\n".join(conf))
    return g, be, hp, hp4, tp


def accepted(be):
    return {k: b.accepted for k, b in be.items()}


@test(timeout=60)
def test_acl_http_sources(t):
    """On :80, from 127.0.0.2 (v4-mapped on [::], plain on 127.0.0.1), ::1
    and 127.0.0.3: the allowed reach their site's backend, the refused get
    403 and no backend hears of them, and each refusal is logged `denied`."""
    g, be, hp, hp4, _ = acl_setup(t)
    allowed = [("127.0.0.2", hp, "open"), ("127.0.0.2", hp4, "open"), ("::1", hp, "open"),
               ("127.0.0.2", hp, "v4"), ("127.0.0.2", hp4, "v4"), ("::1", hp, "v6")]
    for src, port, site in allowed:
        st, body = http_from(src, port, site + ".example")
        check_eq((st, body), (200, ("%s-http /\n" % site).encode()), "%s -> %s.example" % (src, site))
    before = accepted(be)
    denied = [("127.0.0.3", hp, "open"), ("127.0.0.3", hp4, "open"), ("127.0.0.3", hp, "v4"),
              ("127.0.0.3", hp, "nosuch"),		# the global list before routing
              ("127.0.0.2", hp, "v6"), ("127.0.0.2", hp4, "v6"), ("::1", hp, "v4")]
    for src, port, site in denied:
        st, body = http_from(src, port, site + ".example")
        check_eq(st, 403, "%s -> %s.example (port %d)" % (src, site, port))
        check(body.startswith(b"403 Forbidden"), "403 body: %r" % body)
    check_eq(accepted(be), before, "backend accept counts after the refused clients")
    g.wait_log(r"\S+ http \S+ denied 403", count=len(denied))
    # v4-mapped clients are logged as the IPv4 clients they are
    g.wait_log(r" 127\.0\.0\.2:\d+ http v6\.example denied 403")
    g.wait_log(r" 127\.0\.0\.3:\d+ http open\.example denied 403")
    g.wait_log(r" \[::1\]:\d+ http v4\.example denied 403")


@test(timeout=60)
def test_acl_tls_sources(t):
    """On :443 the same lists: the allowed complete the handshake with their
    site's backend; the refused see a fatal access_denied alert (python's
    ssl: TLSV1_ALERT_ACCESS_DENIED), and no backend accepts."""
    g, be, _, _, tp = acl_setup(t)
    for src, site in (("127.0.0.2", "open"), ("::1", "open"), ("127.0.0.2", "v4"), ("::1", "v6")):
        check_eq(tls_from(src, tp, site + ".example"), site + ".example", "%s -> %s.example" % (src, site))
    # a TLS 1.3 client is done before the server has read its Finished:
    # wait for the backends to count the allowed ones
    before = {"open": 0, "v4": 0, "v6": 0, "open-tls": 2, "v4-tls": 1, "v6-tls": 1}
    gh.wait_for(lambda: accepted(be) == before, 5, "backends to count the allowed clients")
    denied = (("127.0.0.3", "open"), ("127.0.0.3", "v4"), ("127.0.0.2", "v6"), ("::1", "v4"))
    for src, site in denied:
        check_eq(tls_from(src, tp, site + ".example"), "ALERT:TLSV1_ALERT_ACCESS_DENIED",
                 "%s -> %s.example" % (src, site))
    check_eq(accepted(be), before, "backend accept counts after the refused clients")
    g.wait_log(r"\S+ tls \S+ denied", count=len(denied))


@test(timeout=60)
def test_acl_shared_server_refused(t):
    """The tunnel: after its first request an http connection is a byte
    stream to one backend, so a client allowed on site a could reach site b
    through a pipelined request if both used the same server. `gatehouse
    check` refuses such a config, naming the line and why, and `gatehouse
    run` does not start with it; with equal lists the same sharing is fine."""
    b = t.backend("shared", "http")
    bad = os.path.join(t.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("site a.example\n  http %s\n  allow 127.0.0.2\n  deny all\n"
                "site b.example\n  http %s\n" % (b.addr, b.addr))
    r = subprocess.run([gh.GATEHOUSE, "check", "-c", bad], capture_output=True, text=True, timeout=10)
    check_eq(r.returncode, 1, "gatehouse check exit status (stderr %r)" % r.stderr)
    check("%s:5: site 'b.example' shares http server %s with site 'a.example' (line 1) but their "
          "allow/deny lists differ" % (bad, b.addr) in r.stderr, "the error: %r" % r.stderr)
    check("pipelined request" in r.stderr, "it says why: %r" % r.stderr)
    r = subprocess.run([gh.GATEHOUSE, "run", "-c", bad], capture_output=True, text=True, timeout=10)
    check(r.returncode != 0, "gatehouse run with it exits non-zero (%d)" % r.returncode)

    # the same lists: one backend, both sites, a denied client still denied
    # on both and an allowed one reaching both
    hp = free_port()
    g = t.gatehouse("listen http 127.0.0.1:%d\n"
                    "site a.example\n  http %s\n  allow 127.0.0.2\n  deny all\n"
                    "site b.example\n  http %s\n  allow 127.0.0.2\n  deny all\n" % (hp, b.addr, b.addr))
    for site in ("a", "b"):
        check_eq(http_from("127.0.0.2", hp, site + ".example")[0], 200, "127.0.0.2 -> %s" % site)
        check_eq(http_from("127.0.0.3", hp, site + ".example")[0], 403, "127.0.0.3 -> %s" % site)
    check_eq(b.accepted, 2, "shared backend accepts")
    g.stop()


@test(timeout=60)
def test_acl_large_list(t):
    """100 000 prefixes (50 000 IPv4 /24s, 50 000 IPv6 /64s) in a site's
    list load and decide: the one rule that names 127.0.0.3, written last,
    still refuses it, and 127.0.0.2 and ::1, matched by none, get through."""
    b = t.backend("big-http", "http")
    hp = free_port()
    conf = ["listen http [::]:%d" % hp, "site big.example", "  http " + b.addr]
    for i in range(50000):		# 1.0.0.0/24 ... : never 127/8
        conf.append("  deny %d.%d.%d.0/24" % (1 + i // 65536, (i >> 8) & 255, i & 255))
    for i in range(50000):
        conf.append("  deny 2001:db8:%x:%x::/64" % (i >> 8, i & 255))
    conf += ["  deny 127.0.0.3", ""]
    g = t.gatehouse("\n".join(conf))
    check_eq(http_from("127.0.0.2", hp, "big.example"), (200, b"big-http /\n"), "127.0.0.2")
    check_eq(http_from("::1", hp, "big.example"), (200, b"big-http /\n"), "::1")
    check_eq(http_from("127.0.0.3", hp, "big.example")[0], 403, "127.0.0.3, the last of 100 001 rules")
    check_eq(b.accepted, 2, "backend accepts")
    lst = gh.daemon_pids(g, "gatehouse-list")
    if lst:
        print("  listener VmRSS with 100 001 prefixes: %d KiB" % gh.proc_status_kb(lst[0]))
