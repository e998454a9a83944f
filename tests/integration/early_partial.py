#!/usr/bin/python3
# early_partial.py PORT: the far side of tests_robust.test_early_send_partial,
# run inside its network namespace (where gatehouse runs too, with small TCP
# send buffers). Listens on [::1]:PORT with a 2 KB receive buffer and prints
# "ready"; on "go PROXYPORT WAIT" from stdin it sends a 60 KB POST through
# the proxy, sleeps WAIT seconds without accepting, then accepts the
# proxy's connection and reads what the request should be. Prints
# "match N" or "mismatch N FIRST-DIFFERENCE" or "error WHAT".
import socket
import sys
import time

port = int(sys.argv[1])
a = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)	# accepted sockets inherit it
a.bind(("::1", port))
a.listen(8)
print("ready", flush=True)
cmd = sys.stdin.readline().split()
try:
    pport, wait = int(cmd[1]), float(cmd[2])
    body = bytes(range(256)) * 235
    req = b"POST /up HTTP/1.1\r\nHost: ep.example\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    c = socket.create_connection(("::1", pport), timeout=10)
    c.sendall(req)
    time.sleep(wait)
    a.settimeout(5)
    s, _ = a.accept()
    s.settimeout(5)
    got = bytearray()
    while len(got) < len(req):
        d = s.recv(65536)
        if not d:
            break
        got += d
    if bytes(got) == req:
        print("match %d" % len(got), flush=True)
    else:
        first = next((i for i in range(min(len(got), len(req))) if got[i] != req[i]), min(len(got), len(req)))
        print("mismatch %d %d" % (len(got), first), flush=True)
except Exception as e:  # noqa: BLE001 — reported to the test
    print("error %r" % e, flush=True)
