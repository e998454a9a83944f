#!/usr/bin/env python3
"""start-ready.py LOGFILE CMD...: start CMD with NOTIFY_SOCKET pointing at a
socket bound here first, wait for its READY=1 (the sd_notify protocol), print
its pid and leave it running. Exit 1 if it dies or is not ready in 20 s."""
import os, socket, subprocess, sys, tempfile

log, cmd = sys.argv[1], sys.argv[2:]
d = tempfile.mkdtemp(prefix="gh-notify.")
path = os.path.join(d, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(20)
with open(log, "ab") as out:
    p = subprocess.Popen(cmd, stdout=out, stderr=out, env=dict(os.environ, NOTIFY_SOCKET=path))
try:
    while b"READY=1" not in s.recv(4096):
        pass
except OSError as e:
    print(f"start-ready: {cmd[0]} not ready: {e}", file=sys.stderr)
    p.kill()
    sys.exit(1)
finally:
    os.unlink(path)
    os.rmdir(d)
print(p.pid)
