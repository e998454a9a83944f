# SPDX-License-Identifier: MIT
"""Backends that see the client (issue #15 item 5): `source-prefix P/96`
makes the forwarder bind each backend connection of an IPv4 client to
P::<client IPv4> (RFC 6052's /96 form). The backend lives in its own IPv6
network namespace, with its route back to the prefix via the gatehouse
side; gatehouse's host has the AnyIP route `ip -6 route add local P/96 dev
lo`. The backend answers every request, on http and over TLS, with the
peer address its accept() saw, and logs it. IPv4 clients (127.0.0.1,
127.0.0.2; on a plain IPv4 listener and v4-mapped on a dual-stack one) are
seen as P::7f00:1 and P::7f00:2; an IPv6 client keeps the host's normal
source. Without the local route the relay fails at once with a logged
reason, and no packet from the prefix is sent."""
import ipaddress
import os
import random
import select
import socket
import ssl
import subprocess
import sys

import gh
from gh import test, check, check_eq, free_port, recv_all, parse_http, TestFailure

# The backend: TLS when the first byte is a handshake record, else plain
# http; answers "peer ADDR" and appends ADDR to its log file.
BACKEND = r"""
import socket, ssl, sys, threading
host, log, crt, key = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, 0))
ls.listen(64)
def one(c, peer):
    try:
        c.settimeout(10)
        with open(log, "a") as f:
            f.write(peer + "\n")
        if c.recv(1, socket.MSG_PEEK) == b"\x16":
            c = ctx.wrap_socket(c, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(4096)
            if not d:
                return
            head += d
        body = ("peer %s\n" % peer).encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    except (OSError, ssl.SSLError):
        pass
    finally:
        c.close()
print("ready %d" % ls.getsockname()[1], flush=True)
while True:
    c, a = ls.accept()
    threading.Thread(target=one, args=(c, a[0]), daemon=True).start()
"""


class NsBackend:
    """The backend above, started in namespace ns on its address; ready when
    it prints its port."""

    def __init__(self, t, ns, name):
        self.log = os.path.join(t.tmp, name + ".peers")
        open(self.log, "w").close()
        script = os.path.join(t.tmp, name + ".py")
        with open(script, "w") as f:
            f.write(BACKEND)
        crt, key = gh.CERTS.get(name)
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-u", script,
                                      ns.ns_ip, self.log, crt, key],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        t.defer(self.stop)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode() if r else ""
        if not line.startswith("ready "):
            raise TestFailure("namespace backend did not start: %r" % line)
        self.addr = "[%s]:%d" % (ns.ns_ip, int(line.split()[1]))

    def peers(self):
        with open(self.log) as f:
            return f.read().split()

    def stop(self):
        self.proc.kill()
        self.proc.wait(5)


def random_prefix():
    """A /96 of our own: fd00:5a:XXXX::/96 (ULA, only ever on this host)."""
    return "fd00:5a:%x::" % random.randrange(1, 0xffff)


def sock_from(src, dst, port, timeout=5):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((dst, port))
    return s


def get_from(src, dst, port, tls=False, timeout=5):
    """(status, body) of GET / for ns.example from src to dst:port, over a
    real TLS handshake (SNI ns.example) when tls."""
    s = sock_from(src, dst, port, timeout)
    try:
        if tls:
            s = gh.tls_client_ctx().wrap_socket(s, server_hostname="ns.example")
        s.sendall(b"GET / HTTP/1.1\r\nHost: ns.example\r\nConnection: close\r\n\r\n")
        raw, how = recv_all(s, timeout=timeout)
    finally:
        s.close()
    if not raw:
        raise TestFailure("%s -> %s:%d: no answer (%s)" % (src, dst, port, how))
    st, _, body = parse_http(raw)
    return st, body.decode("latin-1")


def embedded(prefix, v4):
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(prefix)) | int(ipaddress.IPv4Address(v4))))


def setup(t, local_route=True, route_back=True):
    ns = gh.Netns(t)
    prefix = random_prefix()
    if local_route:
        ns.ip("-6", "route", "add", "local", prefix + "/96", "dev", "lo")
        t.defer(ns.ip, "-6", "route", "del", "local", prefix + "/96", "dev", "lo", check_rc=False)
    if route_back:
        ns.ip("-n", ns.name, "-6", "route", "add", prefix + "/96", "via", ns.host_ip)
    be = NsBackend(t, ns, "ns.example")
    hp, hp6, tp = free_port(), free_port(), free_port()
    conf = ["connect-timeout 20s",
            "listen http 127.0.0.1:%d" % hp, "listen http [::]:%d" % hp6, "listen tls 127.0.0.1:%d" % tp,
            "source-prefix %s/96" % prefix,
            "site ns.example", "  http " + be.addr, "  tls " + be.addr, ""]
    g = t.gatehouse("\n".join(conf))
    return ns, prefix, be, g, hp, hp6, tp


@test(timeout=60)
def test_srcaddr_ipv4_clients_embedded(t):
    """IPv4 clients from 127.0.0.1 and 127.0.0.2, on a plain IPv4 http
    listener, v4-mapped on a dual-stack one, and over TLS: the backend's
    accept() sees PREFIX::7f00:1 and PREFIX::7f00:2 every time."""
    ns, prefix, be, g, hp, hp6, tp = setup(t)
    want = []
    for src in ("127.0.0.1", "127.0.0.2"):
        peer = embedded(prefix, src)
        for port, tls, what in ((hp, False, "http"), (hp6, False, "http, v4-mapped"), (tp, True, "tls")):
            check_eq(get_from(src, "127.0.0.1", port, tls), (200, "peer %s\n" % peer),
                     "%s -> %s (port %d)" % (src, what, port))
            want.append(peer)
    check_eq(be.peers(), want, "peers in the backend's log")


@test(timeout=60)
def test_srcaddr_ipv6_client_keeps_host_source(t):
    """An IPv6 client (::1, on the dual-stack listener) has no IPv4 address
    to embed: the backend sees the host's own address on the veth."""
    ns, prefix, be, g, hp, hp6, tp = setup(t)
    check_eq(get_from("::1", "::1", hp6), (200, "peer %s\n" % ns.host_ip), "::1 -> http")
    check_eq(be.peers(), [ns.host_ip], "peers in the backend's log")


@test(timeout=60)
def test_srcaddr_no_local_route_fails_fast(t):
    """Without the AnyIP route (and with no route back either) the
    forwarder says so at start, and each IPv4 client gets a 503 at once,
    not a wait for connect-timeout (20s here): the backend is never
    dialled, so no packet from the prefix leaves this host. An IPv6 client
    is not affected."""
    ns, prefix, be, g, hp, hp6, tp = setup(t, local_route=False, route_back=False)
    g.wait_log(r"source-prefix %s/96 \(line 5\) is not local to this host" % prefix.replace(".", r"\."))
    st, body = get_from("127.0.0.2", "127.0.0.1", hp, timeout=5)
    check_eq(st, 503, "127.0.0.2 -> http without the local route (body %r)" % body)
    g.wait_log(r"no relay from %s for site ns\.example: source-prefix \(line 5\) has no local route"
               % embedded(prefix, "127.0.0.2"))
    g.wait_log(r" 127\.0\.0\.2:\d+ http ns\.example -> ns\.example .* connect_failed$")
    check_eq(be.peers(), [], "backend connections")
    check_eq(get_from("::1", "::1", hp6), (200, "peer %s\n" % ns.host_ip), "::1 still relayed")


@test(timeout=60)
def test_srcaddr_check_errors(t):
    """`gatehouse check` refuses what cannot work, as FILE:LINE: a prefix
    that is not an IPv6 /96, host bits past /96, a reserved /96, a second
    line, and a site under a prefix with an IPv4 server."""
    bad = os.path.join(t.tmp, "bad.conf")
    lines = ["source-prefix 2001:db8:ff::/64",
             "source-prefix 192.0.2.0/24",
             "source-prefix 2001:db8:ff::1/96",
             "source-prefix ::ffff:0:0/96",
             "source-prefix 2001:db8:ff::/96",
             "source-prefix 2001:db8:fe::/96",
             "site a.example", "  http 192.0.2.1:80",
             "site b.example", "  http [2001:db8::1]:80", "  source-prefix off",
             "site c.example", "  http 192.0.2.2:80", "  source-prefix off", ""]
    with open(bad, "w") as f:
        f.write("\n".join(lines))
    r = subprocess.run([gh.GATEHOUSE, "check", "-c", bad], capture_output=True, text=True, timeout=10)
    check_eq(r.returncode, 1, "gatehouse check exit status")
    for want in ("%s:1: bad source-prefix '2001:db8:ff::/64': the length must be /96" % bad,
                 "%s:2: bad source-prefix '192.0.2.0/24': it must be IPv6" % bad,
                 "%s:3: bad source-prefix '2001:db8:ff::1/96': bits set past /96" % bad,
                 "%s:4: bad source-prefix '::ffff:0:0/96': ::ffff:0:0/96 is IPv4-mapped" % bad,
                 "%s:6: 'source-prefix' already set at line 5" % bad,
                 "%s:5: site 'a.example' takes its source addresses from this source-prefix, but its "
                 "http server 192.0.2.1:80 is IPv4" % bad):
        check(want in r.stderr, "error %r in:\n%s" % (want, r.stderr))
    check("c.example" not in r.stderr and "b.example" not in r.stderr, "sites with 'off' pass: %s" % r.stderr)
