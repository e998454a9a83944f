#!/usr/bin/env python3
"""Many sites (issue #13 item 5): a config of N sites (2 names each, one
http and one tls server each), then

  - `gatehouse check`: wall time and peak RSS (getrusage of the child);
  - `gatehouse run`: time until READY=1 (sd_notify, the launcher's own), and
    per process Rss / Pss / Private_Clean + Private_Dirty from
    /proc/PID/smaps_rollup once it is ready (launcher, listener, each
    forwarder, the exporter if any).

`make bench-sites` runs it with 100 000 sites and 1, 2 and 4 forwarders;
with the first count it also sends SIGHUP (a reload of the same file) and
samples the summed Pss of the whole tree for 4 s: the peak while two
generations overlap, and the launcher's private peak while it parses.
Everything it starts is in its own session and stopped by its id.

`--systemd` starts the daemons as the units would instead of `gatehouse
run`: gatehouse-config on its socket (socket activation, LISTEN_FDS), the
listener with the http and tls sockets and `--connect` to a forwarder
socket, and one forwarder per channel the listener connects (as
gatehouse-forwarder.socket's Accept=yes does), each with
GATEHOUSE_CONFIG_SOCKET as their units set it; and again without that
variable (each daemon parses the file, as before gatehouse-config). Ready
is the time until every daemon said READY=1.

Several builds (`--build A --build B`, e.g. a checkout of an older commit)
are measured in turn, round after round (`--rounds N`), so the machine's
other load falls on each alike; times are medians of the rounds, memory is
the last round's (it does not vary).

    python3 bench/many_sites.py --build build [--build OTHER] [--rounds 3]
        [--sites 100000] [--forwarders 1,2,4] [--json FILE]
"""
import argparse
import json
import os
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
    """`gatehouse check`: wall time and the peak RSS of that one process
    (wait4's rusage: RUSAGE_CHILDREN would carry the largest earlier child)."""
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "check", "-c", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"check failed: {err[:500]}")
    return {"seconds": round(dt, 3), "maxrss_mb": round(ru.ru_maxrss / 1024, 1)}


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


def tree_sample(pid):
    """(sum of Pss over the launcher and its children, launcher private,
    daemons alive), in MB; processes that exit meanwhile are skipped."""
    total, launcher, n = 0.0, 0.0, 0
    for k in [pid] + children(pid):
        try:
            r = rollup(k)
        except OSError:
            continue
        total += r["pss_mb"]
        if k == pid:
            launcher = r["private_mb"]
        else:
            n += 1
    return total, launcher, n


def reload_peaks(pid, seconds=4.0):
    """SIGHUP (the same file again), then the peaks while the old
    generation leaves and the new one starts."""
    before = tree_sample(pid)[0]
    os.kill(pid, signal.SIGHUP)
    peak_total, peak_launcher, peak_n = 0.0, 0.0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        total, launcher, n = tree_sample(pid)
        peak_total, peak_launcher, peak_n = max(peak_total, total), max(peak_launcher, launcher), max(peak_n, n)
        time.sleep(0.02)
    return {"pss_before_mb": round(before, 1), "peak_pss_mb": round(peak_total, 1),
            "peak_launcher_private_mb": round(peak_launcher, 1), "peak_daemons": peak_n,
            "pss_after_mb": round(tree_sample(pid)[0], 1)}


def run(binary, conf, forwarders, tmp, reload=False):
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
        out = {"forwarders": forwarders, "ready_s": round(ready, 3), "procs": procs}
        if reload:
            out["reload"] = reload_peaks(p.pid)
        return out
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


def _spawn(argv, fds, names, env, log):
    """argv with fds as LISTEN_FDS 3.. (named), as systemd passes them."""
    exports = "export LISTEN_PID=$$ LISTEN_FDS=%d%s; " % (
        len(fds), " LISTEN_FDNAMES=" + ":".join(names) if names else "")
    moves = " ".join("%d<&%d" % (3 + i, fd) for i, fd in enumerate(fds))
    closes = " ".join("%d<&-" % fd for fd in fds)
    return subprocess.Popen(["bash", "-c", exports + 'exec "$@" %s %s' % (moves, closes), "-"] + argv,
                            pass_fds=tuple(fds), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)


def run_systemd(build, conf, forwarders, tmp, image, port_base):
    """The daemons as systemd starts them (see the module's doc); image:
    with gatehouse-config (GATEHOUSE_CONFIG_SOCKET), else each parses."""
    tag = f"{'img' if image else 'parse'}-{forwarders}"
    fconf = os.path.join(tmp, f"many-{tag}.conf")
    with open(conf) as src, open(fconf, "w") as dst:
        dst.write(f"forwarders {forwarders}\n")
        for chunk in iter(lambda: src.read(1 << 20), ""):
            dst.write(chunk)
    os.chmod(fconf, 0o644)
    notify_path = os.path.join(tmp, f"notify-{tag}.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(notify_path):	# an earlier round's
        os.unlink(notify_path)
    notify.bind(notify_path)
    notify.settimeout(0.02)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    env.pop("GATEHOUSE_CONFIG_SOCKET", None)
    log = open(os.path.join(tmp, f"systemd-{tag}.log"), "wb")
    socks, procs = [], []

    def seqpacket(name):
        path = os.path.join(tmp, name)
        if os.path.exists(path):
            os.unlink(path)
        sk = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sk.bind(path)
        sk.listen(64)
        socks.append(sk)
        return path, sk

    def role_of(pid):
        return {"gatehouse-listener": "listener", "gatehouse-forwarder": "forwarder",
                "gatehouse-config": "config"}.get(name_of(pid), name_of(pid))
    try:
        tcp = []
        for port in (0, 0):	# any: under systemd the config's listen lines bind nothing
            sk = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sk.bind(("::1", port))
            sk.listen(64)
            socks.append(sk)
            tcp.append(sk)
        fwd_path, fwd_sock = seqpacket(f"forward-{tag}.sock")
        fwd_sock.settimeout(0.02)
        t0 = time.monotonic()
        want = 1 + forwarders
        if image:
            cpath, csock = seqpacket(f"config-{tag}.sock")
            env["GATEHOUSE_CONFIG_SOCKET"] = cpath
            procs.append(_spawn([os.path.join(build, "gatehouse-config"), "-c", fconf], [csock.fileno()], None,
                                env, log))
            want += 1
        procs.append(_spawn([os.path.join(build, "gatehouse-listener"), "-c", fconf, "--connect", fwd_path],
                            [tcp[0].fileno(), tcp[1].fileno()], ["http", "tls"], env, log))
        ready, started = 0, 0
        while ready < want:
            if time.monotonic() - t0 > 120:
                raise RuntimeError(f"{ready} of {want} daemons ready after 120 s (see {log.name})")
            for pr in procs:
                if pr.poll() is not None:
                    raise RuntimeError(f"a daemon exited with {pr.returncode} (see {log.name})")
            try:
                c, _ = fwd_sock.accept()
                procs.append(_spawn([os.path.join(build, "gatehouse-forwarder"), "-c", fconf], [c.fileno()], None,
                                    env, log))
                c.close()
                started += 1
            except socket.timeout:
                pass
            try:
                while True:
                    if b"READY=1" in notify.recv(4096):
                        ready += 1
            except (socket.timeout, BlockingIOError):
                pass
        dt = time.monotonic() - t0
        time.sleep(0.5)
        rows = [{"role": role_of(pr.pid), "pid": pr.pid, **rollup(pr.pid)} for pr in procs]
        return {"forwarders": forwarders, "image": image, "ready_s": round(dt, 3), "procs": rows}
    finally:
        for pr in procs:
            if pr.poll() is None:
                os.killpg(pr.pid, signal.SIGTERM)
        for pr in procs:
            try:
                pr.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(pr.pid, signal.SIGKILL)
                pr.wait()
        for sk in socks:
            sk.close()
        notify.close()
        log.close()


def main_systemd(a, builds, fws, tmp, conf, out):
    """--systemd: each build, with and without gatehouse-config."""
    for b in builds:
        res = {"runs": []}
        for _ in range(a.rounds):
            for n in fws:
                for image in (False, True):
                    res["runs"].append(run_systemd(os.path.abspath(b), conf, n, tmp, image, a.port_base))
        print(f"== {b} (daemons as systemd starts them)")
        for n in fws:
            for image in (False, True):
                rs = [r for r in res["runs"] if r["forwarders"] == n and r["image"] == image]
                ready = [r["ready_s"] for r in rs]
                print(f"{'gatehouse-config' if image else 'each parses'}, {n} forwarder(s): ready after "
                      f"{median(ready):.3f} s (median of {ready})")
                for pr in rs[-1]["procs"]:
                    print(f"  {pr['role']:10} Rss {pr['rss_mb']:7.1f} MB  Pss {pr['pss_mb']:7.1f} MB  "
                          f"Private {pr['private_mb']:7.1f} MB")
        out["builds"][b] = res


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", help="a build directory (repeat to compare builds)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--sites", type=int, default=100000)
    ap.add_argument("--forwarders", default="1,2,4")
    ap.add_argument("--port-base", type=int, default=int(os.environ.get("BENCH_PORT_BASE", "23000")))
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--systemd", action="store_true", help="the daemons as the units start them")
    a = ap.parse_args()
    builds = a.build or ["build"]
    fws = [int(n) for n in a.forwarders.split(",")]
    tmp = tempfile.mkdtemp(prefix="gh-sites-")
    conf = os.path.join(tmp, "many.conf")
    write_config(conf, a.sites, a.port_base)
    out = {"sites": a.sites, "names": 2 * a.sites, "config_mb": round(os.path.getsize(conf) / 1e6, 1),
           "rounds": a.rounds, "load_before": os.getloadavg()[0], "builds": {}}
    samples = {b: {"check": [], "ready": {n: [] for n in fws}} for b in builds}
    if a.systemd:
        # the daemons drop to an unprivileged user: gatehouse-config must
        # still read the config
        os.chmod(tmp, 0o711)
        out["mode"] = "systemd"
        main_systemd(a, builds, fws, tmp, conf, out)
        a.rounds = 0
    for _ in range(a.rounds):
        for b in builds:
            binary = os.path.abspath(os.path.join(b, "gatehouse"))
            c = check(binary, conf)
            samples[b]["check"].append(c)
            # a reload on the first forwarder count: both generations at once
            runs = [run(binary, conf, n, tmp, reload=(i == 0)) for i, n in enumerate(fws)]
            for r in runs:
                samples[b]["ready"][r["forwarders"]].append(r["ready_s"])
            samples[b]["last_runs"] = runs
    out["load_after"] = os.getloadavg()[0]
    if a.systemd:
        print(f"load {out['load_before']:.1f} -> {out['load_after']:.1f}")
        builds = []
    print(f"{a.sites} sites, {2 * a.sites} names, config {out['config_mb']} MB, "
          f"{a.rounds} round(s), load {out['load_before']:.1f} -> {out['load_after']:.1f}")
    for b in builds:
        sm = samples[b]
        res = {"check_s": round(median([c["seconds"] for c in sm["check"]]), 3),
               "check_maxrss_mb": max(c["maxrss_mb"] for c in sm["check"]),
               "check_samples": [c["seconds"] for c in sm["check"]],
               "run": []}
        print(f"== {b}")
        print(f"check: {res['check_s']} s (median), peak RSS {res['check_maxrss_mb']} MB")
        for r in sm["last_runs"]:
            n = r["forwarders"]
            ready = sm["ready"][n]
            res["run"].append({"forwarders": n, "ready_s": round(median(ready), 3), "ready_samples": ready,
                               "procs": r["procs"], "reload": r.get("reload")})
            print(f"run --forwarders {n}: ready after {median(ready):.3f} s (median of {ready})")
            if r.get("reload"):
                rl = r["reload"]
                print(f"  reload: Pss of all {rl['pss_before_mb']} MB -> peak {rl['peak_pss_mb']} MB "
                      f"({rl['peak_daemons']} daemons at most) -> {rl['pss_after_mb']} MB; "
                      f"launcher private peak {rl['peak_launcher_private_mb']} MB")
            for pr in r["procs"]:
                print(f"  {pr['role']:10} Rss {pr['rss_mb']:7.1f} MB  Pss {pr['pss_mb']:7.1f} MB  "
                      f"Private {pr['private_mb']:7.1f} MB")
        out["builds"][b] = res
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
