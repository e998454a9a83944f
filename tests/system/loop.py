#!/usr/bin/python3
# loop.py N HOST OUT: N sequential HTTP/1.1 requests, each on a new
# connection to 127.0.0.1:80 with "Host: HOST"; one line per request in OUT
# ("200", or what went wrong), written as it completes; gives up after 5
# failures in a row (each may take the 5 s timeout).
import http.client
import sys

n, host, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
failed = 0
with open(out, "w", buffering=1) as f:
    for i in range(n):
        try:
            c = http.client.HTTPConnection("127.0.0.1", 80, timeout=5)
            c.request("GET", "/", headers={"Host": host})
            r = c.getresponse()
            r.read()
            f.write("%d\n" % r.status)
            c.close()
            failed = 0
        except Exception as e:  # report, and keep going
            f.write("request %d: %s: %s\n" % (i + 1, type(e).__name__, e))
            failed += 1
            if failed == 5:
                f.write("giving up after 5 failures in a row\n")
                break
