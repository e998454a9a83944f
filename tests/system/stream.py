#!/usr/bin/python3
# The long relay of check 6: stream.py HOST PORT SNI CAFILE PROGRESS STOPFILE
# One TLS connection through gatehouse to the echo backend; sends a numbered
# line every 50 ms and expects it back, writing the count of round trips to
# PROGRESS, until STOPFILE exists. Exit 0 only if every line came back on the
# same connection.
import os
import socket
import ssl
import sys
import time

host, port, sni, cafile, progress, stop = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
raw = socket.create_connection((host, int(port)), timeout=5)
s = ctx.wrap_socket(raw, server_hostname=sni)
f = s.makefile("rwb", buffering=0)
f.write(b"ECHO\n")
if f.readline() != b"ECHO ready\n":
    sys.exit("stream: no ECHO banner from the backend")
n = 0
while not os.path.exists(stop):
    n += 1
    msg = b"ping %d\n" % n
    f.write(msg)
    got = f.readline()
    if got != msg:
        sys.exit("stream: round trip %d got %r" % (n, got))
    with open(progress + ".tmp", "w") as p:
        p.write("%d\n" % n)
    os.replace(progress + ".tmp", progress)
    time.sleep(0.05)
print("stream: %d round trips on one connection" % n)
