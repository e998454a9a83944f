#!/usr/bin/env python3
"""Many sites (issue #13 item 5): a config of N sites (2 names each, one
http and one tls server each), then

  - `gatehouse check`: wall time and peak RSS (getrusage of the child);
  - `gatehouse run`: time until READY=1 (sd_notify, the launcher's own), and
    per process Rss / Pss / Private_Clean + Private_Dirty from
    /proc/PID/smaps_rollup once it is ready (launcher, listener, each
    forwarder, the exporter if any).

`make bench-sites` runs it with 100 000 sites and 1, 2 and 4 forwarders.
Everything it starts is in its own session and stopped by its id.

    python3 bench/many_sites.py --build build [--sites 100000] [--forwarders 1,2] [--json FILE]
"""
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time


def write_config(path, n, port_base):
    with open(path, "w") as f:
        f.write(f"listen http [::1]:{port_base + 1}\nlisten tls [::1]:{port_base + 2}\n\n")
        for i in range(n):
            # distinct backends, as a hosting setup has
            a = f"2001:db8:{i >> 16:x}:{i & 0xffff:x}::1"
            f.write(f"site s{i}.example.net www.s{i}.example.net\n"
                    f"    http [{a}]:80\n    tls [{a}]:443\n")


def check(binary, conf):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run([binary, "check", "-c", conf], capture_output=True, text=True, timeout=120)
    dt = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError(f"check failed: {r.stderr[:500]}")
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: run check
    # first (the config generator is this process, not a child)
    return {"seconds": round(dt, 3), "maxrss_mb": round(max(after.ru_maxrss, before.ru_maxrss) / 1024, 1)}


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append(int(d))
    return sorted(kids)


def rollup(pid):
    m = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            v = v.split()
            if v and v[-1] == "kB":
                m[k] = int(v[0])
    priv = m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
    return {"rss_mb": round(m.get("Rss", 0) / 1024, 1), "pss_mb": round(m.get("Pss", 0) / 1024, 1),
            "private_mb": round(priv / 1024, 1)}


def name_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0].decode())
    except OSError:
        return "?"


def run(binary, conf, forwarders, tmp):
    sock_path = os.path.join(tmp, f"notify-{forwarders}.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(0.05)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    log = open(os.path.join(tmp, f"run-{forwarders}.log"), "wb")
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "run", "-c", conf, "--forwarders", str(forwarders)], env=env,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        ready = None
        while time.monotonic() - t0 < 60:
            if p.poll() is not None:
                raise RuntimeError(f"gatehouse run exited with {p.returncode} (see {log.name})")
            try:
                if b"READY=1" in s.recv(4096):
                    ready = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
        if ready is None:
            raise RuntimeError("no READY=1 in 60 s")
        time.sleep(0.5)	# after READY=1: let the launcher finish what it frees
        procs = [{"role": "launcher", "pid": p.pid, **rollup(p.pid)}]
        for k in children(p.pid):
            n = name_of(k)
            role = {"gatehouse-listener": "listener", "gatehouse-forwarder": "forwarder",
                    "gatehouse-metrics": "metrics"}.get(n, n)
            procs.append({"role": role, "pid": k, **rollup(k)})
        return {"forwarders": forwarders, "ready_s": round(ready, 3), "procs": procs}
    finally:
        s.close()
        os.unlink(sock_path)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sites", type=int, default=100000)
    ap.add_argument("--forwarders", default="1,2,4")
    ap.add_argument("--port-base", type=int, default=int(os.environ.get("BENCH_PORT_BASE", "23000")))
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    binary = os.path.abspath(os.path.join(a.build, "gatehouse"))
    tmp = tempfile.mkdtemp(prefix="gh-sites-")
    conf = os.path.join(tmp, "many.conf")
    write_config(conf, a.sites, a.port_base)
    out = {"sites": a.sites, "names": 2 * a.sites, "config_mb": round(os.path.getsize(conf) / 1e6, 1)}
    out["check"] = check(binary, conf)
    out["run"] = [run(binary, conf, int(n), tmp) for n in a.forwarders.split(",")]
    print(f"{a.sites} sites, {2 * a.sites} names, config {out['config_mb']} MB")
    print(f"check: {out['check']['seconds']} s, peak RSS {out['check']['maxrss_mb']} MB")
    for r in out["run"]:
        print(f"run --forwarders {r['forwarders']}: ready after {r['ready_s']} s")
        for pr in r["procs"]:
            print(f"  {pr['role']:10} Rss {pr['rss_mb']:7.1f} MB  Pss {pr['pss_mb']:7.1f} MB  "
                  f"Private {pr['private_mb']:7.1f} MB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    if not a.keep:
        for fn in os.listdir(tmp):
            os.unlink(os.path.join(tmp, fn))
        os.rmdir(tmp)
    else:
        print(f"kept {tmp}", file=sys.stderr)


if __name__ == "__main__":
    main()
