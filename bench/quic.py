#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/3 through gatehouse's QUIC passthrough beside nginx's UDP relay
(`make bench-quic`, issue #14).

    python3 bench/quic.py [--build build-bench] [--rounds 5] [--mib 256]
                          [--flows 200] [--no-write]

One gtlsserver (Debian ngtcp2-server) on [::1] serves a MiB-sized file and a
small index.html; gtlsclient (ngtcp2-client) downloads them by the name
bulk.test, which a hosts file resolves to ::1 inside a private mount
namespace (gtlsclient sends its host argument as the SNI only when it is a
name). Three targets, all started once and left running:

  direct    gtlsclient -> gtlsserver
  gatehouse `gatehouse run` (its default forwarders), `listen quic`,
            site bulk.test with `quic [::1]:BACKEND`
  nginx     nginx 1.22 stream module, `listen [::1]:PORT udp reuseport;
            proxy_pass [::1]:BACKEND;` (no SNI routing: the nearest peer
            for the per-datagram cost), 2 workers

Rows, the target order rotated every round (the machine is shared):
  bulk      one download of --mib MiB per target per round: throughput
            (bytes / wall time of the client, handshake included) and the
            proxy's CPU per GB (every process of its tree, from /proc, as
            bench/bench.py counts it); the file's size is checked
  flows     --flows short downloads (index.html, a new QUIC connection each)
            per target per round, by two client loops at once: flows per
            second (bounded by the client's own start-up) and the proxy's
            CPU per flow, read once the flows have idled out (so expiry and
            the flow's log record are counted)

Replaces its own section ("## HTTP/3 ...") of bench/RESULTS.md, or inserts
it before "## How to read and reproduce"; --no-write only prints it.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (helpers: processes, /proc CPU, certs, formatting)

NAME = "bulk.test"
IDLE_S = 3  # gatehouse quic-idle-timeout and nginx proxy_timeout alike
SECTION = "## HTTP/3 over QUIC: gatehouse's passthrough vs nginx's UDP relay (issue #14)"
TARGETS = ["direct", "gatehouse", "nginx"]
PNAMES = {"gatehouse": "launcher", "gatehouse-liste": "listener", "gatehouse-forwa": "forwarder"}  # comm is 15 chars


def udp_port_free(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        s.bind(("::", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_udp_bound(port, proc, timeout=15.0):
    """Readiness of a UDP server: our own bind of the port fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.bench_name} exited with {proc.returncode}")
        if not udp_port_free(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.bench_name}: UDP port {port} not bound after {timeout}s")


def conf_gatehouse(base, port, backend):
    return f"""# gatehouse, bench/quic.py config
listen http [::1]:{base + 11}
listen tls  [::1]:{base + 12}
listen quic [::]:{port}
quic-idle-timeout {IDLE_S}s
site {NAME}
    quic [::1]:{backend}
default quic reject
"""


def conf_nginx(tmp, port, backend):
    return f"""# nginx UDP relay, bench/quic.py config
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
master_process on;
worker_processes 2;
pid {tmp}/nginx-quic.pid;
error_log {tmp}/nginx-quic-error.log crit;
events {{ worker_connections 4096; }}
stream {{
    server {{
        # reuseport: a flow's datagrams always reach the worker holding its
        # session; no proxy_responses/proxy_requests limit: the session
        # lives until proxy_timeout of silence, like a QUIC flow
        listen [::1]:{port} udp reuseport;
        proxy_pass [::1]:{backend};
        proxy_timeout {IDLE_S}s;
    }}
}}
"""


def client_cmd(hosts, script):
    """A shell script run with `bulk.test` resolving to ::1."""
    return ["unshare", "-m", "sh", "-c", f"mount --bind {hosts} /etc/hosts && {script}"]


def gtlsclient(dl, port, path, extra=""):
    return (f"gtlsclient -q --exit-on-all-streams-close --handshake-timeout=5s --download={dl} {extra} "
            f"{NAME} {port} https://{NAME}:{port}/{path}")


def cpu_ns(root):
    return bench.cpu_snapshot(root) if root else None


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def spent(before, root, split=None):
    """(CPU s by schedstat ns, CPU s by ticks) of root's tree since before;
    split, a dict, gets the ns part per process name."""
    if root is None:
        return None, None
    after = bench.cpu_snapshot(root)
    ticks_s, ns_s, _ = bench.cpu_delta(before, after)
    if split is not None:
        for pid, (_, ns, _) in after.items():
            c = comm(pid)
            split[c] = split.get(c, 0.0) + (ns - before.get(pid, (0, 0, 0))[1]) / 1e9
    return ns_s, ticks_s


def one_bulk(t, port, root, hosts, dl, size):
    shutil.rmtree(dl, ignore_errors=True)
    os.makedirs(dl)
    before = cpu_ns(root)
    t0 = time.monotonic()
    rc, out, err = bench.run(client_cmd(hosts, "exec " + gtlsclient(dl, port, "big")), timeout=300)
    wall = time.monotonic() - t0
    split = {}
    cpu, ticks = spent(before, root, split)
    got = os.path.join(dl, "big")
    n = os.path.getsize(got) if os.path.exists(got) else 0
    shutil.rmtree(dl, ignore_errors=True)
    ok = rc == 0 and n == size
    if not ok:
        bench.log(f"bulk {t}: rc={rc} got {n} of {size} bytes: {(out + err)[-300:]}")
    gb = size / 1e9
    return {"ok": ok, "wall": wall, "gbps": gb / wall if ok else None,
            "cpu_per_gb": cpu / gb if ok and cpu is not None else None,
            "ticks_per_gb": ticks / gb if ok and ticks is not None else None,
            "split_per_gb": {c: v / gb for c, v in split.items()} if ok else {}}


def one_flows(t, port, root, hosts, dl, n, loops=2):
    per = n // loops
    before = cpu_ns(root)
    t0 = time.monotonic()
    ps = []
    for i in range(loops):
        d = f"{dl}-{i}"
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        script = (f"f=0; i=0; while [ $i -lt {per} ]; do i=$((i+1)); "
                  f"rm -f {d}/index.html; {gtlsclient(d, port, 'index.html')} >/dev/null 2>&1 && "
                  f"[ -s {d}/index.html ] || f=$((f+1)); done; echo failed=$f")
        ps.append(subprocess.Popen(client_cmd(hosts, script), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, text=True))
    failed = 0
    for p in ps:
        out, _ = p.communicate(timeout=600)
        tail = out.strip().rpartition("failed=")[2]
        failed += int(tail) if tail.isdigit() else per
    wall = time.monotonic() - t0
    # the flows end after IDLE_S of silence: count that work too
    time.sleep(IDLE_S + 1.5)
    split = {}
    cpu, _ = spent(before, root, split)
    done = per * loops - failed
    return {"ok": failed == 0, "failed": failed, "flows_per_s": done / wall if done else None,
            "cpu_us_per_flow": cpu / done * 1e6 if done and cpu is not None else None,
            "split_us_per_flow": {c: v / done * 1e6 for c, v in split.items()} if done else {}}


def idle_rates(roots, secs=3.0):
    """Each proxy's CPU while nothing flows (ms per s): what the flows row's
    window counts beside the flows' own work."""
    before = {t: cpu_ns(r) for t, r in roots.items() if r}
    time.sleep(secs)
    return {t: spent(b, roots[t])[0] / secs * 1e3 for t, b in before.items()}


def tls_row_quote():
    """The TCP TLS rows of bench/RESULTS.md (gatehouse's line and the date)."""
    path = os.path.join(bench.HERE, "RESULTS.md")
    try:
        text = open(path).read()
    except OSError:
        return None
    date = None
    for line in text.splitlines():
        if line.startswith("Generated by `make bench`") and " on " in line:
            date = line.split(" on ", 1)[1].split(",", 1)[0]
    sec = text.split("## Real TLS 1.3, one full handshake per request", 1)
    if len(sec) < 2:
        return None
    for line in sec[1].splitlines():
        if line.startswith("| **gatehouse**"):
            return date, line.split("|")[2].strip()
    return None


def render(R, cfg, machine):
    med, fmt, fmt_ms = bench.med, bench.fmt, bench.fmt_ms
    L = [SECTION, ""]
    L.append(f"Generated by `make bench-quic` (bench/quic.py) on {machine['date']}, {cfg['rounds']} rounds "
             f"interleaved (target order rotated per round), medians with (min–max); load average "
             f"{machine['load0']} at the start, {machine['load1']} at the end (2 cores shared with other "
             f"developers' test runs: compare ratios from this run). Not part of `make bench`, which rewrites the "
             f"rest of this file (run `make bench-quic` after it). {machine['tools']}. "
             "Proxy CPU: every process of the proxy's tree (gatehouse: launcher, listener, forwarder; nginx: "
             "master and workers), schedstat run time from /proc as in the main bench. All traffic on [::1].")
    L.append("")
    L.append(f"### Bulk: one HTTP/3 download of {cfg['mib']} MiB per target per round")
    L.append("")
    L.append("gtlsserver → gtlsclient (default flow-control windows and congestion control), the file's size "
             "checked; throughput is bytes over the client's wall time (start-up and handshake included).")
    L.append("")
    L.append("| | GB/s | ÷ direct | proxy CPU s per GB | gatehouse ÷ this (CPU/GB) | failed |")
    L.append("|---|---|---|---|---|---|")
    for t in TARGETS:
        s = R["bulk"][t]
        g = [x["gbps"] for x in s]
        c = [x["cpu_per_gb"] for x in s]
        rd = bench.ratio(med(g), med([x["gbps"] for x in R["bulk"]["direct"]]))
        rg = bench.ratio(med([x["cpu_per_gb"] for x in R["bulk"]["gatehouse"]]), med(c))
        label = {"direct": "direct (no proxy)", "gatehouse": "**gatehouse**", "nginx": "nginx UDP relay"}[t]
        L.append(f"| {label} | {fmt_ms(g)} | {fmt(rd)} | {fmt_ms(c) if t != 'direct' else '—'} | "
                 f"{fmt(rg) if t != 'direct' else '—'} | {sum(not x['ok'] for x in s)} |")
    L.append("")
    names = sorted({c for x in R["bulk"]["gatehouse"] for c in x["split_per_gb"]})
    if names:
        L.append("gatehouse's CPU per GB by process (median): " + ", ".join(
            f"{PNAMES.get(c, c)} {fmt(med([x['split_per_gb'].get(c, 0.0) for x in R['bulk']['gatehouse'] if x['ok']]))} s"
            for c in names) + ".")
        L.append("")
    gc = med([x["cpu_per_gb"] for x in R["bulk"]["gatehouse"]])
    nc = med([x["cpu_per_gb"] for x in R["bulk"]["nginx"]])
    gt = med([x["gbps"] for x in R["bulk"]["gatehouse"]])
    nt = med([x["gbps"] for x in R["bulk"]["nginx"]])
    # per-round ratios: each round's gatehouse over the same round's nginx
    pr_c = [a["cpu_per_gb"] / b["cpu_per_gb"] for a, b in zip(R["bulk"]["gatehouse"], R["bulk"]["nginx"])
            if a["cpu_per_gb"] and b["cpu_per_gb"]]
    pr_t = [a["gbps"] / b["gbps"] for a, b in zip(R["bulk"]["gatehouse"], R["bulk"]["nginx"])
            if a["gbps"] and b["gbps"]]
    rc, rt = bench.ratio(gc, nc), bench.ratio(gt, nt)
    met_c = rc is not None and rc <= 0.8
    met_t = rt is not None and rt >= 1.0
    L.append("| target (issue #14) | measured | verdict |")
    L.append("|---|---|---|")
    L.append(f"| CPU per GB ≤ 0.8 × nginx's UDP relay | {fmt(gc)} vs {fmt(nc)} s/GB (×{fmt(rc)}; median of "
             f"per-round ratios ×{fmt(med(pr_c))}) | {bench.verdict(met_c)} |")
    L.append(f"| … at ≥ its throughput | {fmt(gt)} vs {fmt(nt)} GB/s (×{fmt(rt)}; median of per-round "
             f"ratios ×{fmt(med(pr_t))}) | {bench.verdict(met_t)} |")
    L.append("")
    L.append(f"### New flows: {cfg['flows']} short downloads per target per round")
    L.append("")
    L.append("Each a new QUIC connection (full handshake, GET /index.html, close), two sequential client "
             "loops at once; flows per second are bounded by gtlsclient's own start-up. Proxy CPU is read "
             f"{IDLE_S + 1.5:g} s after the last flow, once every flow has idled out "
             f"(`quic-idle-timeout {IDLE_S}s`, nginx `proxy_timeout {IDLE_S}s`).")
    L.append("")
    L.append("| | flows/s | proxy CPU µs per flow | idle proxy CPU ms/s (3 s window) | failed |")
    L.append("|---|---|---|---|---|")
    for t in TARGETS:
        s = R["flows"][t]
        label = {"direct": "direct (no proxy)", "gatehouse": "**gatehouse**", "nginx": "nginx UDP relay"}[t]
        L.append(f"| {label} | {fmt_ms([x['flows_per_s'] for x in s])} | "
                 f"{fmt_ms([x['cpu_us_per_flow'] for x in s]) if t != 'direct' else '—'} | "
                 f"{fmt_ms(R['idle'][t]) if t != 'direct' else '—'} | "
                 f"{sum(x['failed'] for x in s)} |")
    L.append("")
    gf = med([x["cpu_us_per_flow"] for x in R["flows"]["gatehouse"]])
    nf = med([x["cpu_us_per_flow"] for x in R["flows"]["nginx"]])
    names = sorted({c for x in R["flows"]["gatehouse"] for c in x["split_us_per_flow"]})
    L.append(f"gatehouse ÷ nginx, CPU per new flow: ×{fmt(bench.ratio(gf, nf))}. gatehouse's per flow by process "
             "(median): " + ", ".join(
                 f"{PNAMES.get(c, c)} {fmt(med([x['split_us_per_flow'].get(c, 0.0) for x in R['flows']['gatehouse']]))} µs"
                 for c in names) + ".")
    L.append("")
    q = tls_row_quote()
    if q:
        L.append(f"Beside TCP: the main bench's real TLS 1.3 row (`make bench` of {q[0]}, one full handshake "
                 f"and a small response per connection, relayed) has gatehouse at {q[1]} µs of proxy CPU per "
                 "connection.")
        L.append("")
    return "\n".join(L) + "\n"


def write_section(text):
    path = os.path.join(bench.HERE, "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else ""
    if SECTION in old:
        head, rest = old.split(SECTION, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
        new = head + text + ("\n" + tail if tail else "")
    elif "\n## How to read and reproduce" in old:
        head, tail = old.split("\n## How to read and reproduce", 1)
        new = head.rstrip("\n") + "\n\n" + text + "\n## How to read and reproduce" + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def first_line(cmd):
    rc, out, err = bench.run(cmd, timeout=10)
    return (out or err).strip().splitlines()[0] if (out or err).strip() else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=256, help="bulk: the file's size in MiB")
    ap.add_argument("--flows", type=int, default=200, help="flows: new connections per target per round")
    ap.add_argument("--port-base", type=int, default=int(os.environ.get("BENCH_QUIC_PORT_BASE", "24400")))
    ap.add_argument("--no-write", action="store_true", help="print the section, leave bench/RESULTS.md alone")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/quic.py: run as root (a private mount namespace for the client's hosts file)")
    for tool in ("gtlsserver", "gtlsclient", "nginx", "unshare"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"bench/quic.py: {tool} missing (apt-get install ngtcp2-server ngtcp2-client nginx "
                     "libnginx-mod-stream)")
    if not os.path.exists("/usr/lib/nginx/modules/ngx_stream_module.so"):
        sys.exit("bench/quic.py: nginx stream module missing (apt-get install libnginx-mod-stream)")
    binary = os.path.join(bench.ROOT, args.build, "gatehouse")
    if not os.path.exists(binary):
        sys.exit(f"bench/quic.py: {binary} missing: make BUILD={args.build}")

    base = args.port_base
    backend, gport, nport = base + 1, base + 2, base + 3
    for p in (backend, gport, nport):
        if not udp_port_free(p):
            sys.exit(f"bench/quic.py: UDP port {p} in use (--port-base)")
    tmp = tempfile.mkdtemp(prefix="gatehouse-quic.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.chmod(tmp, 0o755)  # nginx workers run as nobody
    load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    R = {"bulk": {t: [] for t in TARGETS}, "flows": {t: [] for t in TARGETS}, "idle": {t: [] for t in TARGETS}}
    try:
        cert, key = bench.make_cert(tmp)
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        size = args.mib << 20
        with open(os.path.join(www, "big"), "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(args.mib):
                f.write(chunk)
        with open(os.path.join(www, "index.html"), "wb") as f:
            f.write(b"hello over HTTP/3\n")
        hosts = os.path.join(tmp, "hosts")
        with open(hosts, "w") as f:
            f.write(f"::1 {NAME}\n")

        srv = bench.PROCS.start("gtlsserver", ["gtlsserver", "-q", "-d", www, "::1", str(backend), key, cert],
                                out=os.path.join(tmp, "gtlsserver.log"))
        wait_udp_bound(backend, srv)
        conf = os.path.join(tmp, "gatehouse.conf")
        with open(conf, "w") as f:
            f.write(conf_gatehouse(base, gport, backend))
        gh = bench.start_gatehouse("gatehouse", binary, conf, None, os.path.join(tmp, "gatehouse.log"), tmp)
        nconf = os.path.join(tmp, "nginx-quic.conf")
        with open(nconf, "w") as f:
            f.write(conf_nginx(tmp, nport, backend))
        ng = bench.PROCS.start("nginx", ["nginx", "-p", tmp, "-c", nconf], out=os.path.join(tmp, "nginx.log"))
        wait_udp_bound(nport, ng)
        roots = {"direct": None, "gatehouse": gh.pid, "nginx": ng.pid}
        ports = {"direct": backend, "gatehouse": gport, "nginx": nport}

        # warm-up: one small download each (page cache, first handshakes)
        for t in TARGETS:
            r = one_flows(t, ports[t], None, hosts, os.path.join(tmp, "dl-warm-" + t), 2)
            if not r["ok"]:
                raise RuntimeError(f"warm-up through {t} failed: see {tmp}")

        for rnd in range(args.rounds):
            order = TARGETS[rnd % 3:] + TARGETS[:rnd % 3]
            idle = idle_rates(roots)  # the last round's flows have idled out
            for t in order:
                r = one_bulk(t, ports[t], roots[t], hosts, os.path.join(tmp, "dl-" + t), size)
                R["bulk"][t].append(r)
                bench.log(f"round {rnd + 1} bulk {t}: {bench.fmt(r['gbps'])} GB/s, "
                          f"{bench.fmt(r['cpu_per_gb'])} s/GB")
            for t in order:
                R["idle"][t].append(idle.get(t))
                r = one_flows(t, ports[t], roots[t], hosts, os.path.join(tmp, "dl-f-" + t), args.flows)
                R["flows"][t].append(r)
                bench.log(f"round {rnd + 1} flows {t}: {bench.fmt(r['flows_per_s'])}/s, "
                          f"{bench.fmt(r['cpu_us_per_flow'])} µs/flow, failed {r['failed']}")
    finally:
        bench.PROCS.stop_all()
    load1 = " ".join(open("/proc/loadavg").read().split()[:3])
    machine = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load0": load0, "load1": load1,
        "tools": "; ".join([first_line([binary, "--version"]),
                            first_line(["dpkg-query", "-W", "-f=ngtcp2-server ${Version}", "ngtcp2-server"]),
                            first_line(["nginx", "-v"])]),
    }
    text = render(R, {"rounds": args.rounds, "mib": args.mib, "flows": args.flows}, machine)
    print(text)
    if not args.no_write:
        write_section(text)
        bench.log("wrote its section of bench/RESULTS.md")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
