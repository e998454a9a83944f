# SPDX-License-Identifier: MIT
"""Issue #11 items 1 and 6: a hostile listener (the test, holding the other
end of a real forwarder's channel) must not stall the forwarder, flood its
log or put its own numbers in the forwarder's records."""
import array
import re
import socket
import time

import gh
from gh import test, check, check_eq, wait_for, free_port, connect, recv_line, recv_all
from tests_all import handoff_msg


def _listening():
    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    # room for a client's whole first burst before anyone reads it
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    lsock.bind(("::1", 0))
    lsock.listen(64)
    return lsock


def _pair(t, lsock):
    c = connect(lsock.getsockname()[1])
    t.defer(c.close)
    srv, _ = lsock.accept()     # blocking, as Python's accept() leaves it
    return c, srv


def _handoff(ours, c, srv, site, usec=None, kind=0):
    msg = handoff_msg(site=site, name=site, kind=kind, port=c.getsockname()[1],
                      usec=int(time.time() * 1e6) if usec is None else usec)
    ours.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [srv.fileno()]))])
    srv.close()


def _inq(sock):
    import fcntl
    import struct
    import termios
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


@test()
def test_blocking_handoff_does_not_stall(t):
    """A hand-off of a blocking socket whose client sent a burst and then
    nothing: the forwarder relays the burst and must not then wait in that
    socket (one splice() on it would freeze every relay of the process); a
    second relay through the same forwarder still moves bytes at once."""
    sink = t.backend("nb-sink", "record")
    echo = t.backend("nb-echo", "echo")
    proc, ours, log = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port(), "listen tls [::1]:%d" % free_port(),
                                            "site s.example", "    http " + sink.addr,
                                            "site e.example", "    http " + echo.addr])
    lsock = _listening()
    t.defer(lsock.close)
    a, asrv = _pair(t, lsock)
    check(asrv.getblocking(), "the handed socket is blocking")
    # more than two copy buffers' worth, queued before the hand-off: the
    # direction goes to splice and reads until the socket is empty
    burst = bytes(range(256)) * 1024    # 256 KiB
    a.sendall(burst)
    wait_for(lambda: _inq(asrv) == len(burst), 5, "the burst queued in the handed socket")
    _handoff(ours, a, asrv, b"s.example")
    wait_for(lambda: sink.conns and len(sink.conns[0].data) == len(burst), 10,
             "the burst at the server (log: %s)" % log()[-800:])
    # the first client stays silent from here on
    b, bsrv = _pair(t, lsock)
    _handoff(ours, b, bsrv, b"e.example")
    t0 = time.monotonic()
    b.sendall(b"ping\n")
    check(gh.readable([b], 5), "no echo within 5 s on the second relay while the first client is silent "
          "(the forwarder is stuck in the blocking socket?)")
    check_eq(recv_line(b), b"ping\n", "echo on the second relay")
    dt = time.monotonic() - t0
    check(proc.poll() is None, "forwarder exited (%s)" % proc.returncode)
    print("  second relay's echo after %.1f ms, first client silent on a blocking socket" % (dt * 1000))


@test()
def test_refusal_flood_is_rate_limited(t):
    """Thousands of refused hand-offs (bad magic, unknown site, with and
    without fds) in a burst: the log gets a bounded number of refusal lines
    and one line with the count of the rest; no fd is kept."""
    rec = t.backend("rf-rec", "record")
    proc, ours, log = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port(), "listen tls [::1]:%d" % free_port(),
                                            "site h.example", "    http " + rec.addr])
    lsock = _listening()
    t.defer(lsock.close)
    base_fds = gh.proc_nfds(proc.pid)
    bad = handoff_msg(magic=0x46484f47)
    N = 3000
    ours.setblocking(True)
    for i in range(N):
        if i % 100 == 0:
            # now and then with a real client's fd, refused for its site
            c, srv = _pair(t, lsock)
            _handoff(ours, c, srv, b"nope.example")
        else:
            ours.send(bad)
    # the count of the held-back ones comes once the second is over
    wait_for(lambda: re.search(r"(\d+) hand-off refusals not logged", log()), 5,
             "a count of suppressed refusals; log tail:\n%s" % log()[-800:])
    text = log()
    lines = text.count("refused hand-off")
    suppressed = sum(int(n) for n in re.findall(r"(\d+) hand-off refusals not logged", text))
    # a burst lasts well under a window or two: at most 50 lines per window
    check(lines <= 150, "%d refusal lines for %d refusals (no rate limit?)" % (lines, N))
    check(lines >= 1, "no refusal line at all")
    # every refusal is either a line or counted (the last window's count
    # may still be pending)
    wait_for(lambda: log().count("refused hand-off") + sum(
        int(n) for n in re.findall(r"(\d+) hand-off refusals not logged", log())) >= N, 5,
        "every refusal logged or counted")
    check(proc.poll() is None, "forwarder exited (%s)" % proc.returncode)
    # and the channel still works: a valid hand-off is relayed
    c, srv = _pair(t, lsock)
    _handoff(ours, c, srv, b"h.example")
    c.sendall(b"still there\n")
    check_eq(recv_line(c), b"rf-rec\n", "answer after the flood")
    check(gh.proc_nfds(proc.pid) <= base_fds + 2, "forwarder holds %d fds after the flood, %d before"
          % (gh.proc_nfds(proc.pid), base_fds))
    print("  %d refusals: %d lines, %d counted as suppressed" % (N, lines, suppressed))


@test()
def test_forged_timestamp_not_in_record(t):
    """A hand-off whose timestamp claims the client was accepted long ago
    (or in the future): the record's ms= is the forwarder's own measure."""
    rec = t.backend("ts-rec", "record")
    proc, ours, log = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port(), "listen tls [::1]:%d" % free_port(),
                                            "site h.example", "    http " + rec.addr])
    lsock = _listening()
    t.defer(lsock.close)
    for usec in (1, 1796264021454 * 1000 * 1000, (1 << 64) - 1):
        c, srv = _pair(t, lsock)
        _handoff(ours, c, srv, b"h.example", usec=usec)
        c.sendall(b"hi\n")
        check_eq(recv_line(c), b"ts-rec\n", "answer")
        c.close()
    wait_for(lambda: log().count(" ok\n") >= 3, 5, "three records; log:\n%s" % log()[-800:])
    ms = [int(m) for m in re.findall(r" ms=(\d+) ", log())]
    check_eq(len(ms), 3, "records with ms=")
    check(all(m < 60000 for m in ms), "durations from the hand-off's forged timestamp: %r" % ms)


@test()
def test_one_request_handoff(t):
    """The hand-off's one_request (issue #11.3) comes from the untrusted
    listener: on a TLS hand-off, or above the bound, the message is
    refused; on HTTP, exactly that many bytes reach the server even when
    the client sent more, the server then sees EOF, and the client reads
    the answer and a clean end (FIN: what it sent past the limit was
    drained, not left to turn the close into a RST)."""
    rec = t.backend("or-rec", "record")
    proc, ours, log = gh.lone_forwarder(t, ["listen http [::1]:%d" % free_port(), "listen tls [::1]:%d" % free_port(),
                                            "site h.example", "    http " + rec.addr, "    tls " + rec.addr])
    lsock = _listening()
    t.defer(lsock.close)

    def handoff(c, srv, kind, one_request):
        msg = handoff_msg(site=b"h.example", name=b"h.example", kind=kind, port=c.getsockname()[1],
                          usec=int(time.time() * 1e6), one_request=one_request)
        ours.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [srv.fileno()]))])
        srv.close()

    bound = 64 * 1024 + 1024    # GH_MAX_ONE_REQUEST
    for i, (what, kind, n) in enumerate((("on a TLS hand-off", 1, 10), ("one above the bound", 0, bound + 1),
                                         ("of 4 GiB - 1", 0, (1 << 32) - 1))):
        c, srv = _pair(t, lsock)
        handoff(c, srv, kind, n)
        wait_for(lambda: log().count("refused hand-off") >= i + 1, 5,
                 "a refusal of one_request %s; log:\n%s" % (what, log()[-800:]))
        check_eq(log().count("one-request limit"), i + 1, "refusals naming the one-request limit after one %s"
                 % what)
        d, how = recv_all(c, 5)
        check(d == b"" and how in ("eof", "reset"), "client of a refused one_request %s: %s %r" % (what, how, d))
    check_eq(rec.accepted, 0, "server connections from refused hand-offs")

    head = b"GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: h.example\r\n\r\n"
    more = b"GET /admin HTTP/1.1\r\nHost: h.example\r\n\r\n" * 100
    c, srv = _pair(t, lsock)
    c.sendall(head + more)
    wait_for(lambda: _inq(srv) == len(head + more), 5, "the client's bytes queued in the handed socket")
    handoff(c, srv, 0, len(head))
    check_eq(recv_line(c), b"or-rec\n", "answer through a one-request hand-off")
    wait_for(lambda: rec.accepted == 1 and (rec.conns[0].eof or rec.conns[0].closed), 5,
             "EOF at the server after the one request")
    check_eq(bytes(rec.conns[0].data), head, "bytes at the server")
    d, how = recv_all(c, 5)
    check_eq((d, how), (b"", "eof"), "end of the answer at the client")
    check(proc.poll() is None, "forwarder exited (%s)" % proc.returncode)
