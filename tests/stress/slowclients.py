# SPDX-License-Identifier: MIT
"""Hostile slow clients, in their own process (so they take no GIL from the
test's well-behaved client):

    python3 slowclients.py ADDR HTTP_PORT TLS_PORT N DEADLINE

N connections, a quarter of each kind:
  http_trickle  a valid-looking request head that never ends, one byte a second
  tls_trickle   a real ClientHello (libssl's), one byte a second
  http_silent   connects and sends nothing
  tls_silent    connects and sends nothing
A trickler sends its bytes half a second away from the proxy's whole-second
deadlines and stops once its socket is readable (the proxy answered or
closed), so its own bytes cannot turn the proxy's FIN into a reset.

Prints "connected OK FAILED" once every connect has completed, then one JSON
line when every client has been cut or DEADLINE seconds after the last
connect: per kind, the outcome counts ("408", "eof", "reset", "open", other
data as "data:<first bytes>") and the seconds from connect to cut.
"""
import collections
import errno
import json
import select
import socket
import ssl
import sys
import time

KINDS = ("http_trickle", "tls_trickle", "http_silent", "tls_silent")
HTTP_HEAD = b"GET /slow HTTP/1.1\r\nHost: slow.example\r\nUser-Agent: " + b"trickle-" * 64


def client_hello(sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


class Client:
    __slots__ = ("kind", "sock", "t_start", "t_conn", "t_cut", "data", "how", "sent", "payload", "next_send")

    def __init__(self, kind, sock, payload):
        self.kind, self.sock, self.payload = kind, sock, payload
        self.t_start = time.monotonic()
        self.t_conn = self.t_cut = None
        self.data = bytearray()
        self.how = None
        self.sent = 0
        self.next_send = None


def main():
    addr, hport, tport, n, deadline = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
        float(sys.argv[5])
    hello = client_hello("slow.example")
    ep = select.epoll()
    by_fd = {}
    clients = []
    pending = 0

    def finish(c, how):
        c.how = how
        c.t_cut = time.monotonic()
        ep.unregister(c.sock.fileno())
        del by_fd[c.sock.fileno()]
        c.sock.close()

    def on_event(fd, ev):
        nonlocal pending
        c = by_fd.get(fd)
        if c is None:
            return
        if c.t_conn is None:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            pending -= 1
            if err:
                finish(c, "connect_error:%s" % errno.errorcode.get(err, err))
                return
            c.t_conn = time.monotonic()
            ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
            if c.payload:
                send_byte(c)
            return
        while True:
            try:
                d = c.sock.recv(65536)
            except BlockingIOError:
                return
            except ConnectionResetError:
                finish(c, "reset")
                return
            if not d:
                finish(c, "eof")
                return
            c.data += d

    def send_byte(c):
        if c.sent >= len(c.payload):
            return
        try:
            c.sock.send(c.payload[c.sent:c.sent + 1])
            c.sent += 1
        except OSError:
            pass    # the proxy is gone; the read side will say how

    t_first = time.monotonic()
    for i in range(n):
        kind = KINDS[i % 4]
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Client(kind, s, HTTP_HEAD if kind == "http_trickle" else hello if kind == "tls_trickle" else b"")
        clients.append(c)
        by_fd[s.fileno()] = c
        ep.register(s.fileno(), select.EPOLLOUT)
        pending += 1
        r = s.connect_ex((addr, hport if kind.startswith("http") else tport))
        if r not in (0, errno.EINPROGRESS):
            pending -= 1
            c.t_conn = None
            finish(c, "connect_error:%s" % errno.errorcode.get(r, r))
            continue
        if i % 250 == 249:     # let the handshakes through in batches
            for fd, ev in ep.poll(0.01):
                on_event(fd, ev)
    limit = time.monotonic() + 10
    while pending and time.monotonic() < limit:
        for fd, ev in ep.poll(0.05):
            on_event(fd, ev)
    t_connected = time.monotonic()
    print("connected %d %d %.3f" % (sum(1 for c in clients if c.t_conn is not None),
                                    sum(1 for c in clients if c.t_conn is None), t_connected - t_first),
          flush=True)
    end = t_connected + deadline
    # each trickler's byte k >= 1 goes at t_conn + k + 0.5: half a second
    # away from the proxy's deadline (accept + inspect-timeout, whole seconds),
    # so a byte never crosses the proxy's close (that would turn its FIN into
    # a reset)
    queue = collections.deque(sorted((c for c in clients if c.payload and c.t_conn is not None),
                                     key=lambda c: c.t_conn))
    for c in queue:
        c.next_send = c.t_conn + 1.5
    while by_fd and time.monotonic() < end:
        nxt = queue[0].next_send if queue else end
        timeout = max(0.0, min(nxt, end) - time.monotonic())
        for fd, ev in ep.poll(timeout):
            on_event(fd, ev)
        now = time.monotonic()
        if queue and queue[0].next_send <= now:
            for fd, ev in ep.poll(0):     # answered or cut since: do not send into those
                on_event(fd, ev)
            while queue and queue[0].next_send <= now:
                c = queue.popleft()
                if c.how is None:
                    send_byte(c)
                    c.next_send += 1.0
                    queue.append(c)
    for c in list(by_fd.values()):
        c.how = "open"
        c.sock.close()
    out = {}
    for kind in KINDS:
        mine = [c for c in clients if c.kind == kind]
        outcomes = {}
        for c in mine:
            if c.how == "open" or (c.how or "").startswith("connect_error"):
                key = c.how
            elif c.data.startswith(b"HTTP/1.1 408 "):
                key = "408"
            elif c.data:
                key = "data:" + bytes(c.data[:24]).decode("latin-1")
            else:
                key = c.how
            outcomes[key] = outcomes.get(key, 0) + 1
        cuts = sorted(c.t_cut - c.t_conn for c in mine if c.t_cut is not None and c.t_conn is not None)
        out[kind] = {"n": len(mine), "outcomes": outcomes, "cuts": [round(x, 3) for x in cuts],
                     "sent_max": max([c.sent for c in mine] or [0])}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
