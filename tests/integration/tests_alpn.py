# SPDX-License-Identifier: MIT
"""Issue #15 item 4: routing by ALPN. `tls-alpn PROTOCOL SERVERS` in a site
(and before any site, for all of them) sends TLS clients offering PROTOCOL
to their own servers: RFC 8737 TLS-ALPN-01 validations (acme-tls/1) to a
certificate manager while browsers reach the site. Real clients:
`openssl s_client -alpn`, and Python's ssl with a browser's ALPN list."""
import array
import os
import re
import socket
import ssl
import subprocess

import gh
from gh import test, check, check_eq, wait_for, free_port, connect, recv_line, recv_all
from tests_all import handoff_msg


def _s_client(port, sni, alpn):
    """`openssl s_client -alpn`: the CN of the certificate it was shown, or
    None when the handshake failed (and its output)."""
    p = subprocess.run(["openssl", "s_client", "-connect", "[::1]:%d" % port, "-servername", sni,
                        "-alpn", alpn], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=15)
    out = p.stdout.decode("utf-8", "replace")
    m = re.search(r"^subject=.*CN\s*=\s*([^\s,/]+)", out, re.M)
    return (m.group(1) if m else None), out


def _browser(port, sni, alpn=("h2", "http/1.1")):
    """A browser's offer through Python's ssl: the CN of the server's
    certificate, or the ssl error's text."""
    ctx = gh.tls_client_ctx()
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    s = connect(port)
    try:
        t = ctx.wrap_socket(s, server_hostname=sni)
        der = t.getpeercert(binary_form=True)
        t.close()
        return gh.CERTS.cn_of_der(der)
    except (ssl.SSLError, ConnectionError) as e:
        return "error: %s" % e
    finally:
        s.close()


@test()
def test_alpn_acme_routes(t):
    site_a = gh.Backend("alpn-site-a", tls=True)
    site_b = gh.Backend("alpn-site-b", tls=True)
    mgr_a = gh.Backend("alpn-mgr-a", tls=True)
    mgr_all = gh.Backend("alpn-mgr-all", tls=True)
    h2_only = gh.Backend("alpn-h2-b", tls=True)
    for b in (site_a, site_b, mgr_a, mgr_all, h2_only):
        t.defer(b.close)
    port = free_port()
    g = gh.Gatehouse(t, "\n".join([
        "listen http [::1]:%d" % free_port(),
        "listen tls [::1]:%d" % port,
        "tls-alpn acme-tls/1 " + mgr_all.addr,      # every TLS site without its own line
        "site a.example",
        "    tls " + site_a.addr,
        "    tls-alpn acme-tls/1 " + mgr_a.addr,
        "site b.example",
        "    tls " + site_b.addr,
        "    tls-alpn h2 " + h2_only.addr,
        "site only.example",
        "    tls-alpn acme-tls/1 " + mgr_a.addr,
        ""]), forwarders=2)

    # TLS-ALPN-01: openssl s_client offering acme-tls/1 alone reaches the manager
    cn, out = _s_client(port, "a.example", "acme-tls/1")
    check_eq(cn, "alpn-mgr-a", "certificate shown to `s_client -alpn acme-tls/1` for a.example (%s)"
             % out[-300:])
    # a browser's offer reaches the site's own servers
    check_eq(_browser(port, "a.example"), "alpn-site-a", "a browser (h2, http/1.1) for a.example")
    check_eq(_browser(port, "a.example", alpn=None), "alpn-site-a", "a client offering no ALPN")
    # the global line serves b.example, which has none of its own for acme-tls/1
    cn, out = _s_client(port, "b.example", "acme-tls/1")
    check_eq(cn, "alpn-mgr-all", "s_client -alpn acme-tls/1 for b.example (%s)" % out[-300:])
    # b.example's own route: the first line any offered protocol names
    check_eq(_browser(port, "b.example"), "alpn-h2-b", "a browser (h2 offered) for b.example")
    check_eq(_browser(port, "b.example", alpn=("http/1.1",)), "alpn-site-b", "http/1.1 only for b.example")
    # a site served only by tls-alpn is reachable only with that protocol
    cn, out = _s_client(port, "only.example", "acme-tls/1")
    check_eq(cn, "alpn-mgr-a", "s_client -alpn acme-tls/1 for only.example (%s)" % out[-300:])
    err = _browser(port, "only.example")
    check("NO APPLICATION PROTOCOL" in err.upper().replace("_", " "), "a browser for only.example: %s" % err)
    g.wait_log(r"no_alpn_route")
    # seven routed clients, each to its own backend; the refused one to none
    counts = lambda: (site_a.accepted, mgr_a.accepted, mgr_all.accepted, site_b.accepted, h2_only.accepted)
    wait_for(lambda: counts() == (2, 2, 1, 1, 1), 5,
             "connections at site a, manager a, global manager, site b, b's h2: %s" % (counts(),))


@test()
def test_alpn_check_and_generator(t):
    conf = os.path.join(t.tmp, "alpn.conf")
    with open(conf, "w") as f:
        f.write("tls-alpn acme-tls/1 [2001:db8:ac::1]:8443\n"
                "site a.example\n  tls [2001:db8:a::1]:443\n"
                "  tls-alpn http/1.1 [2001:db8:a::2]:443\n"
                "site h.example\n  http [2001:db8:b::1]:80\n")
    p = subprocess.run([gh.GATEHOUSE, "check", "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    check_eq(p.returncode, 0, "gatehouse check (%s)" % out)
    check("every TLS site without its own line: tls-alpn acme-tls/1 -> [2001:db8:ac::1]:8443" in out, out)
    check("a.example: tls-alpn http/1.1 -> [2001:db8:a::2]:443" in out, out)
    # the forwarders may reach the tls-alpn servers: the generator allows them
    d = os.path.join(t.tmp, "gen")
    os.makedirs(d)
    p = subprocess.run([os.path.join(gh.BUILD, "gatehouse-generator"), d],
                       env=dict(os.environ, GATEHOUSE_CONFIG=conf), stderr=subprocess.PIPE)
    check_eq(p.returncode, 0, "generator exit (%s)" % p.stderr)
    with open(os.path.join(d, "gatehouse-forwarder@.service.d", "50-servers.conf")) as f:
        allow = set(re.findall(r"^IPAddressAllow=(\S+)$", f.read(), re.M))
    check_eq(allow, {"2001:db8:a::1", "2001:db8:a::2", "2001:db8:ac::1", "2001:db8:b::1"},
             "IPAddressAllow in the forwarders' drop-in")
    # FILE:LINE errors
    with open(conf, "w") as f:
        f.write("site a.example\n  tls [::1]:1\n  tls-alpn acme-tls/\xe9 [::1]:2\n")
    p = subprocess.run([gh.GATEHOUSE, "check", "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(p.returncode != 0 and b"alpn.conf:3: bad tls-alpn protocol" in p.stdout, p.stdout.decode())


@test()
def test_alpn_route_handoff_checked(t):
    """The route is the listener's word: a forwarder takes only a route its
    own config has, for its own site, on a TLS hand-off."""
    site = gh.Backend("alpn-ho-site", "record")
    mgr = gh.Backend("alpn-ho-mgr", "record")
    t.defer(site.close)
    t.defer(mgr.close)
    proc, ours, log = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port(),
                                            "listen tls [::1]:%d" % free_port(),
                                            "site h.example", "    tls " + site.addr,
                                            "    tls-alpn acme-tls/1 " + mgr.addr])
    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.bind(("::1", 0))
    lsock.listen(16)
    t.defer(lsock.close)

    def handoff(**kw):
        c = connect(lsock.getsockname()[1])
        t.defer(c.close)
        srv, _ = lsock.accept()
        ours.sendmsg([handoff_msg(**kw)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [srv.fileno()]))])
        srv.close()
        return c

    bad = [("a route the site lacks", dict(kind=1, alpn_route=2), "site has no such tls-alpn route"),
           ("the last byte value", dict(kind=1, alpn_route=255), "site has no such tls-alpn route"),
           ("a route on an HTTP hand-off", dict(kind=0, alpn_route=1), "ALPN route on a non-TLS kind")]
    for i, (what, kw, why) in enumerate(bad):
        c = handoff(**kw)
        wait_for(lambda: log().count("refused hand-off") >= i + 1, 5, "refusal of %s; log:\n%s" % (what, log()))
        check(why in log().splitlines()[-1], "reason for %s: %s" % (what, log().splitlines()[-1]))
        d, how = recv_all(c, 5)
        check(d == b"" and how in ("eof", "reset"), "client of %s: %s %r" % (what, how, d))
    check_eq(site.accepted + mgr.accepted, 0, "backend connections from refused hand-offs")
    # route 1 is the manager; 0 the site
    c = handoff(kind=1, alpn_route=1)
    c.sendall(b"challenge\n")
    check_eq(recv_line(c), b"alpn-ho-mgr\n", "answer through route 1")
    c = handoff(kind=1, alpn_route=0)
    c.sendall(b"browser\n")
    check_eq(recv_line(c), b"alpn-ho-site\n", "answer through route 0")
    check(proc.poll() is None, "forwarder alive")


@test()
def test_alpn_ipv4_route_server(t):
    """A tls-alpn route to an IPv4 server, in a config whose other servers
    are all IPv6: the forwarder's filter must allow socket(AF_INET) for it
    (it was left out, and the first acme-tls/1 client killed the forwarder
    with SIGSYS)."""
    site = gh.Backend("alpn4-site", tls=True)
    mgr = gh.Backend("alpn4-mgr", host="127.0.0.1", tls=True)
    for b in (site, mgr):
        t.defer(b.close)
    port = free_port()
    gh.Gatehouse(t, "listen tls [::1]:%d\nsite a.example\n    tls %s\n    tls-alpn acme-tls/1 %s\n"
                 % (port, site.addr, mgr.addr))
    cn, out = _s_client(port, "a.example", "acme-tls/1")
    check_eq(cn, "alpn4-mgr", "acme-tls/1 to the IPv4 manager (%s)" % out[-300:])
    check_eq(_browser(port, "a.example"), "alpn4-site", "a browser after it")
