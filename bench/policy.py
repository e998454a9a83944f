#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue #15's performance row: gatehouse with a 100 000-prefix access list
and per-source limits on, against the same build with neither, on the L4
hello row (`python3 bench/policy.py`, as root).

    python3 bench/policy.py [--rounds 30] [--n 4000] [--prefixes 100000] [--build DIR]

One build (the working tree, into a throw-away directory), two configs:
"off" has no list and no limits; "on" adds a global `deny` list of
--prefixes prefixes (half IPv4 /32s in 10.0.0.0/8, half IPv6 /64s in
2001:db8::/32: none matches the bench's client, so every connection is
looked up and let through), `source-rate`, `source-inspecting` and
`source-connections` (global and for the site) and the site's
`source-rate`, set high enough that the
one bench client is never refused but every connection goes through every
check. Each round sends N connections (bench/hello_load: 251 B hello,
100 B reply, 32 concurrent) to each config in turn, the order alternating;
CPU per connection is all processes of each tree (/proc schedstat).
Reports the median and quartiles per config, on ÷ off as a ratio of
medians and as the median of per-round ratios (paired samples seconds
apart), and the memory each tree holds after the rounds: the listener's
(its access list, its accept-time table, its local counts) and the
forwarder's (its per-source counts page).
"""
import argparse
import ipaddress
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (helpers: processes, /proc CPU and memory, tools)
import ab  # noqa: E402  (build)

CONF = """# gatehouse, bench/policy.py config ({name})
listen tls  [::1]:{tls}
listen http [::1]:{http}
{policy}
site hello.test
    tls [::1]:{backend}
{site_policy}
default tls reject
default http reject
"""

LIMITS = ["source-rate 1000000/1s", "source-inspecting 4096", "source-connections 100000"]
SITE_LIMITS = ["    source-connections 100000", "    source-rate 1000000/1s"]


def deny_lines(n, seed=15):
    """n distinct prefixes, 100 a line."""
    rng = random.Random(seed)
    v4, v6 = set(), set()
    while len(v4) < n // 2:
        v4.add(str(ipaddress.IPv4Address((10 << 24) | rng.getrandbits(24))))
    while len(v6) < n - n // 2:
        v6.add("2001:db8:%x:%x::/64" % (rng.getrandbits(16), rng.getrandbits(16)))
    items = sorted(v4) + sorted(v6)
    return ["deny " + " ".join(items[i:i + 100]) for i in range(0, len(items), 100)]


def role_pids(root, prefix):
    out = []
    for pid in bench.tree(root):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().startswith(prefix):
                    out.append(pid)
        except OSError:
            pass
    return out


def smaps(pid):
    m = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Private_Dirty", "Shared_Dirty", "Anonymous"):
                    m[k] = int(v.split()[0])
    except OSError:
        pass
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--n", type=int, default=4000, help="connections per config per round")
    ap.add_argument("--prefixes", type=int, default=100000)
    ap.add_argument("--build", help="use this build directory (its gatehouse) instead of building the tree")
    ap.add_argument("--port-base", type=int, default=int(os.environ.get("BENCH_PORT_BASE", "24000")))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="gatehouse-policy.")
    try:
        tools = bench.build_tools(os.path.join(tmp, "tools"))
        T = lambda name: os.path.join(tools, name)  # noqa: E731
        backend_port = args.port_base + 1
        bench.PROCS.start("backend", [T("backend"), "hello", f"[::1]:{backend_port}"])
        bench.wait_port(backend_port)
        if args.build:
            out = os.path.abspath(args.build)
        else:
            bench.log("building the working tree")
            out = ab.build(".", tmp, "")
        deny = deny_lines(args.prefixes)
        targets = {}
        for i, name in enumerate(["off", "on"]):
            tls, http = args.port_base + 10 + 2 * i, args.port_base + 11 + 2 * i
            conf = os.path.join(tmp, f"policy-{name}.conf")
            with open(conf, "w") as f:
                f.write(CONF.format(name=name, tls=tls, http=http, backend=backend_port,
                                    policy="\n".join(deny + LIMITS) if name == "on" else "",
                                    site_policy="\n".join(SITE_LIMITS) if name == "on" else ""))
            logf = os.path.join(tmp, f"policy-{name}.log")
            p = bench.start_gatehouse(f"policy-{name}", os.path.join(out, "gatehouse"), conf, None, logf, tmp)
            targets[name] = (p, tls, logf)
        names = list(targets)
        cpu = {n: [] for n in names}
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for n in order:
                p, port, _ = targets[n]
                before = bench.cpu_snapshot(p.pid)
                cmd = [T("hello_load"), "-a", f"[::1]:{port}", "-n", str(args.n), "-s", "hello.test",
                       "-t", "60", "-c", "32", "-w", "251"]
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                after = bench.cpu_snapshot(p.pid)
                if res.returncode:
                    sys.exit(f"policy: {n}: hello_load failed: {res.stdout} {res.stderr}")
                cpu[n].append(bench.cpu_delta(before, after)[1] / (args.n / 1e6))
            bench.log(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {cpu[n][-1]:.1f}" for n in names))
        print(f"\nCPU µs per connection, {args.rounds} rounds of {args.n} (251 B hello, 32 concurrent), "
              f"on = {args.prefixes} denied prefixes + {', '.join(LIMITS)} + the site's source-connections "
              "and source-rate:")
        print("| | median | quartiles | on ÷ off (medians) | on ÷ off (median of per-round ratios) |")
        print("|---|---|---|---|---|")
        for n in names:
            q = statistics.quantiles(cpu[n], n=4)
            paired = statistics.median(a / b for a, b in zip(cpu[n], cpu["off"]))
            print(f"| {n} | {statistics.median(cpu[n]):.1f} | {q[0]:.1f}–{q[2]:.1f} | "
                  f"{statistics.median(cpu[n]) / statistics.median(cpu['off']):.3f} | {paired:.3f} |")
        print("\nMemory after the rounds (KiB, /proc/PID/smaps_rollup):")
        print("| | listener Rss | listener Private_Dirty | forwarder Rss | forwarder Shared_Dirty |")
        print("|---|---|---|---|---|")
        for n in names:
            p, _, logf = targets[n]
            lm = smaps((role_pids(p.pid, "gatehouse-list") or [0])[0])
            fm = smaps((role_pids(p.pid, "gatehouse-forw") or [0])[0])
            print(f"| {n} | {lm.get('Rss', 0)} | {lm.get('Private_Dirty', 0)} | {fm.get('Rss', 0)} | "
                  f"{fm.get('Shared_Dirty', 0)} |")
        with open(targets["on"][2], errors="replace") as f:
            m = re.search(r"per-source limits: (\d+) slots, (\d+) bytes", f.read())
        if m:
            print(f"\nThe listener's accept-time table: {m[1]} slots, {int(m[2]) // 1024} KiB (logged at start).")
        with open(targets["on"][2], errors="replace") as f:
            m = re.search(r"per-site source rates: (\d+) slots, (\d+) bytes", f.read())
        if m:
            print(f"The listener's site-rate table: {m[1]} slots, {int(m[2]) // 1024} KiB (logged at start).")
    finally:
        bench.PROCS.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
