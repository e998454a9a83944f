#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A/B of gatehouse builds on the L4 hello row (`make bench-ab REVS="A B"`),
or on the bulk row (`--row bulk`: one GET of --bytes over HTTP, CPU per GB).

    python3 bench/ab.py [--row hello|bulk] [--rounds 40] [--n 4000] [--make-flags "NOSECCOMP=1"] REV [REV...]

REV is a git revision (built in a throw-away worktree) or "." (the working
tree as it is); REV:metrics runs that build with a `metrics` line (the
exporter started, every daemon counting into its shared page), so
`bench/ab.py . .:metrics` shows what counting for Prometheus costs.
Each build runs `gatehouse run` with its default forwarders
beside the two-process floor (floor.c -p), all against one hello backend;
each round sends N connections (bench/hello_load: 251 B hello, 100 B reply,
32 concurrent) to every one of them in turn, the order rotated per round.
Reports CPU per connection (all processes of each tree, from /proc
schedstat) as median and quartiles over the rounds, and each ÷ the first
REV. On a shared machine a small change is visible here when `make bench`,
which compares many proxies a few rounds each, leaves it in the noise.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (helpers: processes, /proc CPU, ports, tools)

CONF = """# gatehouse, bench/ab.py config
listen tls  [::1]:{tls}
listen http [::1]:{http}
site hello.test
    tls [::1]:{backend}
site bulk.test
    http [::1]:{bulk}
default tls reject
default http reject
"""


def build(rev, tmp, make_flags):
    """Build rev; returns the directory holding its `gatehouse`."""
    out = os.path.join(tmp, "build-" + (rev if rev != "." else "worktree").replace("/", "_"))
    src = bench.ROOT
    if rev != ".":
        src = os.path.join(tmp, "src-" + rev.replace("/", "_"))
        bench.run(["git", "-C", bench.ROOT, "worktree", "add", "--detach", "-f", src, rev], timeout=120, check=True)
    rc, o, e = bench.run(["make", "-s", "-C", src, f"BUILD={out}", *make_flags.split(), "all"], timeout=900)
    if rc:
        sys.exit(f"ab: building {rev} failed:\n{o[-2000:]}{e[-2000:]}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("revs", nargs="+")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--n", type=int, default=4000, help="connections per target per round")
    ap.add_argument("--row", choices=("hello", "bulk"), default="hello")
    ap.add_argument("-c", "--concurrency", type=int, default=32,
                    help="hello: connections in flight (64: the hello64 row of issue #13.4)")
    ap.add_argument("--bytes", type=int, default=1 << 30, help="bulk: body bytes per round")
    ap.add_argument("--make-flags", default="", help="extra make variables for every build, e.g. NOSECCOMP=1")
    ap.add_argument("--port-base", type=int, default=int(os.environ.get("BENCH_PORT_BASE", "23000")))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="gatehouse-ab.")
    worktrees = []
    try:
        tools = bench.build_tools(os.path.join(tmp, "tools"))
        T = lambda name: os.path.join(tools, name)  # noqa: E731
        backend_port, floor_port, bulk_port = args.port_base + 1, args.port_base + 2, args.port_base + 3
        targets = {}
        bench.PROCS.start("backend", [T("backend"), "hello", f"[::1]:{backend_port}"])
        bench.wait_port(backend_port)
        bench.PROCS.start("bulk", [T("bulk"), "serve", f"[::1]:{bulk_port}", str(args.bytes)])
        bench.wait_port(bulk_port)
        fp = bench.PROCS.start("floor-2p", [T("floor"), "-p", "-r", "16384",
                                            f"[::1]:{floor_port}=[::1]:{backend_port if args.row == 'hello' else bulk_port}"])
        bench.wait_port(floor_port, proc=fp)
        targets["two-process floor"] = (fp, floor_port)
        built = {}
        for i, name in enumerate(args.revs):
            rev, _, variant = name.partition(":")
            if variant not in ("", "metrics"):
                sys.exit(f"ab: unknown variant '{variant}' in {name} (REV or REV:metrics)")
            if rev not in built:
                bench.log(f"building {rev}")
                built[rev] = build(rev, tmp, args.make_flags)
                if rev != ".":
                    worktrees.append(os.path.join(tmp, "src-" + rev.replace("/", "_")))
            out = built[rev]
            tls, http = args.port_base + 10 + 3 * i, args.port_base + 11 + 3 * i
            conf = os.path.join(tmp, f"ab-{i}.conf")
            with open(conf, "w") as f:
                if variant == "metrics":
                    f.write(f"metrics [::1]:{args.port_base + 12 + 3 * i}\n")
                f.write(CONF.format(tls=tls, http=http, backend=backend_port, bulk=bulk_port))
            p = bench.start_gatehouse(f"ab-{i}", os.path.join(out, "gatehouse"), conf, None, os.devnull, tmp)
            targets[name] = (p, tls if args.row == "hello" else http)
        names = list(targets)
        cpu = {n: [] for n in names}
        rate = {n: [] for n in names}
        p99 = {n: [] for n in names}
        for r in range(args.rounds):
            k = r % len(names)
            for n in names[k:] + names[:k]:
                p, port = targets[n]
                before = bench.cpu_snapshot(p.pid)
                if args.row == "hello":
                    cmd = [T("hello_load"), "-a", f"[::1]:{port}", "-n", str(args.n), "-s", "hello.test",
                           "-t", "60", "-c", str(args.concurrency), "-w", "251"]
                else:
                    cmd = [T("bulk"), "get", f"[::1]:{port}", str(args.bytes), "--host", "bulk.test", "-t", "60"]
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
                after = bench.cpu_snapshot(p.pid)
                if res.returncode:
                    sys.exit(f"ab: {n}: {cmd[0]} failed: {res.stdout} {res.stderr}")
                per = args.n / 1e6 if args.row == "hello" else args.bytes / 1e9
                cpu[n].append(bench.cpu_delta(before, after)[1] / per)
                if args.row == "hello":
                    kvs = bench.kv(res.stdout)
                    rate[n].append(float(kvs.get("rate", 0)))
                    p99[n].append(float(kvs.get("p99_ms", 0)))
            bench.log(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {cpu[n][-1]:.1f}" for n in names))
        base = cpu[args.revs[0]]
        if args.row == "hello":
            print(f"\nCPU µs per connection, {args.rounds} rounds of {args.n} (251 B hello, "
                  f"{args.concurrency} concurrent):")
        else:
            print(f"\nCPU s per GB, {args.rounds} rounds of one {args.bytes} B GET over HTTP:")
        print(f"| | median | quartiles | ÷ {args.revs[0]} (medians) | ÷ {args.revs[0]} (median of per-round ratios) |")
        print("|---|---|---|---|---|")
        for n in names:
            q = statistics.quantiles(cpu[n], n=4)
            # a round's samples ran minutes apart at most: the paired ratio
            # cancels most of what the machine's other load does
            paired = statistics.median(a / b for a, b in zip(cpu[n], base))
            d = 1 if args.row == "hello" else 3
            print(f"| {n} | {statistics.median(cpu[n]):.{d}f} | {q[0]:.{d}f}–{q[2]:.{d}f} | "
                  f"{statistics.median(cpu[n]) / statistics.median(base):.3f} | {paired:.3f} |")
        # what a client waits: the rate and p99 each round, paired the same way
        for title, xs, d in (("connections/s", rate, 0), ("p99 ms, connect() to the reply's EOF", p99, 2)):
            if args.row != "hello":
                break
            print(f"\n{title}:")
            print(f"| | median | quartiles | ÷ {args.revs[0]} (median of per-round ratios) |")
            print("|---|---|---|---|")
            for n in names:
                q = statistics.quantiles(xs[n], n=4)
                paired = statistics.median(a / b for a, b in zip(xs[n], xs[args.revs[0]]) if b)
                print(f"| {n} | {statistics.median(xs[n]):.{d}f} | {q[0]:.{d}f}–{q[2]:.{d}f} | {paired:.3f} |")
    finally:
        bench.PROCS.stop_all()
        for w in worktrees:
            bench.run(["git", "-C", bench.ROOT, "worktree", "remove", "--force", w], timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
