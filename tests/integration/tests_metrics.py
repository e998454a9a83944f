# SPDX-License-Identifier: MIT
"""Issue #16, items 1 and 2: the daemons' counters served by
gatehouse-metrics under `gatehouse run` with a `metrics` line, checked
against the per-connection records of the same run, carried over a reload,
and `gatehouse status` read back from a running instance."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import gh
from gh import test, check, check_eq, wait_for, free_port, http_get, tls_get, connect, recv_all

# name{label="value",...} value   (what the Prometheus text format allows
# of us: no escapes in our label values, integer or float values)
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*)\})? '
                     r'(-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def scrape_raw(port):
    s = connect(port)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    raw, _ = recv_all(s)
    s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode(), body.decode()


def parse(text):
    """Strictly: every line a HELP, a TYPE (each family declared once,
    before its samples) or a sample of a declared family; counters end in
    _total. Returns {(name, frozenset(labels)): value}."""
    types, out, help_seen = {}, {}, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            check(name not in help_seen, "line %d: HELP for %s twice" % (n, name))
            help_seen.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            check(name not in types, "line %d: TYPE for %s twice" % (n, name))
            check(typ in ("counter", "gauge", "histogram"), "line %d: type %s" % (n, typ))
            check(typ != "counter" or name.endswith("_total"), "line %d: counter %s without _total" % (n, name))
            types[name] = typ
            continue
        m = _SAMPLE.match(line)
        check(m is not None, "line %d not in the text format: %r" % (n, line))
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in types or types.get(family) == "histogram", "line %d: sample of undeclared %s" % (n, name))
        key = (name, frozenset(_LABEL.findall(labels)))
        check(key not in out, "line %d: series twice: %r" % (n, line))
        out[key] = float(value)
    check(text.endswith("\n"), "text ends with a newline")
    return out


def val(samples, name, **labels):
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def scrape(port):
    head, body = scrape_raw(port)
    check(head.startswith("HTTP/1.1 200 "), "scrape status: %s" % head[:40])
    check("Content-Type: text/plain; version=0.0.4" in head, "content type: %s" % head)
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True, timeout=30)
        check_eq((p.returncode, p.stdout + p.stderr), (0, b""), "promtool check metrics")
    return parse(body)


def log_records(g):
    """The forwarders' records: (site, kind, result, in, out)."""
    rx = re.compile(r"gatehouse-forwarder\[\d+\]: \S+ (http|tls) \S+ -> (\S+) \S+ in=(\d+) out=(\d+) ms=\d+ (\w+)$", re.M)
    return [(m.group(2), m.group(1), m.group(5), int(m.group(3)), int(m.group(4))) for m in rx.finditer(g.log())]


def _setup(t, forwarders=2, extra=(), pre=()):
    ha = t.backend("ma-http", "http")
    hb = t.backend("mb-http", "http")
    tb = t.backend("mb-tls", "http", tls=True)
    hp, tp, mp = free_port(), free_port(), free_port()
    conf = list(pre) + ["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % tp, "metrics [::1]:%d" % mp,
            "site a.example", "    http " + ha.addr,
            "site b.example", "    http " + hb.addr, "    tls " + tb.addr] + list(extra) + [""]
    g = t.gatehouse("\n".join(conf), forwarders=forwarders)
    g.wait_log(r"serving metrics on http://\[::1\]:%d/metrics" % mp)
    # the exporter has every daemon's page once each forwarder has a series
    wait_for(lambda: len([k for k in scrape(mp) if k[0] == "gatehouse_relays"]) == forwarders, 5,
             "a gatehouse_relays series per forwarder")
    return g, hp, tp, mp, conf


@test()
def test_metrics_match_log(t):
    """Known traffic: the per-site counts and bytes the exporter serves are
    the sums of the forwarders' log records of the same run; the listener's
    hand-offs and rejections are counted by reason; promtool accepts it."""
    g, hp, tp, mp, _ = _setup(t)
    for i in range(3):
        check_eq(http_get(hp, "a.example", "/a%d" % i)[0], 200, "a.example")
    check_eq(http_get(hp, "b.example", "/b")[0], 200, "b.example")
    check_eq(tls_get(tp, "b.example")[1], b"mb-tls /\n", "b.example over tls")
    check_eq(http_get(hp, "nope.example")[0], 421, "no route")
    check_eq(http_get(hp, "nope2.example")[0], 421, "no route")
    g.wait_log(r" -> \S+ \S+ in=\d+ out=\d+ ms=\d+ ok$", count=5)
    recs = log_records(g)
    check_eq(len(recs), 5, "log records")
    m = scrape(mp)
    for site in ("a.example", "b.example"):
        for kind in ("http", "tls"):
            want = len([r for r in recs if r[0] == site and r[1] == kind and r[2] == "ok"])
            check_eq(val(m, "gatehouse_connections_total", site=site, kind=kind, result="ok"), want,
                     "%s %s ok connections" % (site, kind))
        check_eq(val(m, "gatehouse_bytes_total", site=site, direction="in"),
                 sum(r[3] for r in recs if r[0] == site), site + " bytes in")
        check_eq(val(m, "gatehouse_bytes_total", site=site, direction="out"),
                 sum(r[4] for r in recs if r[0] == site), site + " bytes out")
    check_eq(val(m, "gatehouse_connections_total"), 5, "no connection counted elsewhere")
    check_eq(val(m, "gatehouse_handoffs_total"), 5, "hand-offs")
    check_eq(val(m, "gatehouse_accepted_total"), 7, "accepted")
    check_eq(val(m, "gatehouse_rejections_total", reason="no_route"), 2, "no_route rejections")
    check_eq(val(m, "gatehouse_rejections_total"), 2, "rejections")
    check_eq(val(m, "gatehouse_relays"), 0, "no relay open")
    # every client accepted was decided once: the histogram counts them all,
    # in buckets that only grow with le
    check_eq(val(m, "gatehouse_inspection_seconds_count"), 7, "inspections")
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items() if k[0] == "gatehouse_inspection_seconds_bucket")
    check_eq(buckets[-1], (float("inf"), 7.0), "+Inf bucket")
    check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "cumulative buckets: %s" % buckets)
    check(0 < val(m, "gatehouse_inspection_seconds_sum") < 5, "inspection time sum")
    # a connection held open shows in the gauge of one forwarder
    s = connect(hp)
    s.sendall(b"GET /held HTTP/1.1\r\nHost: a.example\r\n\r\n")
    s.recv(1)
    wait_for(lambda: val(scrape(mp), "gatehouse_relays") == 1, 5, "one relay open")
    s.close()
    wait_for(lambda: val(scrape(mp), "gatehouse_relays") == 0, 5, "relay closed")
    # no client address is ever a label
    _, body = scrape_raw(mp)
    check("::1" not in body and "127.0.0.1" not in body, "no address in the metrics")


@test()
def test_metrics_carry_over_reload(t):
    """A reload starts new daemons: the counters of the old ones are
    carried over by site name, so no series goes back, and a site the new
    config adds gets its own."""
    g, hp, tp, mp, conf = _setup(t)
    for i in range(2):
        check_eq(http_get(hp, "a.example")[0], 200, "a.example")
    g.wait_log(r" -> a\.example .* ok$", count=2)
    before = scrape(mp)
    check_eq(val(before, "gatehouse_connections_total", site="a.example", result="ok"), 2, "before reload")
    hc = t.backend("mc-http", "http")
    with open(g.conf, "w") as f:
        f.write("\n".join(conf[:-1] + ["site c.example", "    http " + hc.addr, ""]))
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"reload: starting a new generation")
    wait_for(lambda: val(scrape(mp), "gatehouse_generation") == 2, 5, "generation 2 known to the exporter")
    wait_for(lambda: http_get(hp, "c.example")[0] == 200, 5, "c.example served after the reload")
    check_eq(http_get(hp, "a.example")[0], 200, "a.example after the reload")
    g.wait_log(r" -> a\.example .* ok$", count=3)
    # the old generation's forwarders exit once their channel closes
    wait_for(lambda: not [k for k in scrape(mp) if k[0] == "gatehouse_relays" and ("generation", "1") in k[1]],
             10, "generation 1's forwarders gone from the gauges")
    after = scrape(mp)
    check_eq(val(after, "gatehouse_connections_total", site="a.example", result="ok"), 3, "a.example after reload")
    check_eq(val(after, "gatehouse_connections_total", site="c.example", result="ok"), 1, "c.example")
    check_eq(val(after, "gatehouse_handoffs_total"), 4, "hand-offs of both listeners")
    check_eq((val(after, "gatehouse_reloads_total"), val(after, "gatehouse_listener_restarts_total")), (1, 0),
             "one reload, no restart")
    for k, v in before.items():
        if k[0].endswith("_total"):
            check(after.get(k, 0) >= v, "%r went back: %s -> %s" % (k, v, after.get(k)))


@test()
def test_rejection_reasons(t):
    """The listener's refusals by their own reason, as in the records:
    an access list's `denied` and a per-source limit's `rate_limited`
    (not folded into "other")."""
    g, hp, tp, mp, _ = _setup(t, forwarders=1, pre=["source-rate 3/1m"],
                              extra=["site c.example", "    http [::1]:%d" % free_port(), "    deny ::1/128"])
    check_eq(http_get(hp, "a.example")[0], 200, "first")
    check_eq(http_get(hp, "c.example")[0], 403, "denied by c.example's list")
    check_eq(http_get(hp, "a.example")[0], 200, "third")
    check_eq(http_get(hp, "a.example")[0], 429, "over source-rate 3/1m")
    g.wait_log(r" rate_limited 429$")
    m = scrape(mp)
    check_eq(val(m, "gatehouse_rejections_total", reason="denied"), 1, "denied")
    check_eq(val(m, "gatehouse_rejections_total", reason="rate_limited"), 1, "rate_limited")
    check_eq(val(m, "gatehouse_rejections_total", reason="other"), 0, "other")


@test()
def test_forwarder_figures(t):
    """The forwarder's own figures (issue #16 item 1): a connect-time
    histogram counting the connects that succeeded, per-server connect
    failures (as many as the journal's 'connect to ... failed' records,
    labelled by site, kind and server), and a site's queue: its waiting
    clients as a gauge while one waits, then one wait counted with its
    time once the client got its slot."""
    from gh import recv_exact
    dead = free_port()
    eb = t.backend("mf-echo", "echo")
    g, hp, tp, mp, _ = _setup(t, forwarders=1, extra=[
        "site c.example", "    http [::1]:%d" % dead,
        "site q.example", "    http " + eb.addr, "    site-max-connections 1"])
    for i in range(3):
        check_eq(http_get(hp, "a.example", "/c%d" % i)[0], 200, "a.example")
    for i in range(2):
        check_eq(http_get(hp, "c.example")[0], 503, "c.example, its one server refusing")
    g.wait_log(r" c\.example .* connect_failed$", count=2)
    fails = len(re.findall(r"connect to \[::1\]:%d \(site c\.example\) failed" % dead, g.log()))
    check_eq(fails, 2, "journal records of the failed connects")
    m = scrape(mp)
    check_eq(val(m, "gatehouse_server_connect_failures_total", site="c.example", kind="http",
                 server="[::1]:%d" % dead), 2, "per-server failures")
    check_eq([k for k in m if k[0] == "gatehouse_server_connect_failures_total" and ("site", "a.example") in k[1]], [],
             "no series for a server that never failed")
    check_eq(val(m, "gatehouse_connect_seconds_count"), 3, "connects that succeeded")
    check_eq(val(m, "gatehouse_connect_seconds_bucket", le="+Inf"), 3, "the +Inf bucket")

    # q.example holds one relay; a second client waits for the slot
    req = b"GET /q HTTP/1.1\r\nHost: q.example\r\n\r\n"
    first = connect(hp)
    t.defer(first.close)
    first.sendall(req)
    check_eq(recv_exact(first, len(req)), req, "echo through the one slot")
    second = connect(hp)
    t.defer(second.close)
    t0 = time.monotonic()
    second.sendall(req)
    wait_for(lambda: val(scrape(mp), "gatehouse_queued", site="q.example") == 1, 5, "the second client queued")
    check_eq(val(scrape(mp), "gatehouse_queue_waits_total", site="q.example"), 0, "no wait ended yet")
    first.close()
    check_eq(recv_exact(second, len(req), 5), req, "echo for the second once the first ended")
    waited = time.monotonic() - t0
    m = scrape(mp)
    check_eq(val(m, "gatehouse_queued", site="q.example"), 0, "nobody waiting")
    check_eq(val(m, "gatehouse_queue_waits_total", site="q.example"), 1, "one wait ended with a slot")
    w = val(m, "gatehouse_queue_wait_seconds_total", site="q.example")
    check(0 <= w <= waited + 0.01, "its time: %.3f s of at most %.3f s" % (w, waited))


@test()
def test_metrics_http(t):
    """The exporter answers GET /metrics (and HEAD) and nothing else."""
    g, hp, tp, mp, _ = _setup(t, forwarders=1)
    for req, want in ((b"GET /other HTTP/1.1\r\n\r\n", "404"), (b"POST /metrics HTTP/1.1\r\n\r\n", "405"),
                      (b"HEAD /metrics HTTP/1.0\r\n\r\n", "200")):
        s = connect(mp)
        s.sendall(req)
        raw, _ = recv_all(s)
        s.close()
        check_eq(raw.split(b" ")[1].decode(), want, "answer to %r" % req)
        if want == "200":
            check_eq(raw.partition(b"\r\n\r\n")[2], b"", "HEAD has no body")


@test()
def test_status(t):
    """`gatehouse status` against a running instance: the text and --json
    forms show the sites' counts and bytes, the listener's figures and
    each forwarder, as the exporter serves them."""
    g, hp, tp, mp, _ = _setup(t)
    for i in range(3):
        check_eq(http_get(hp, "a.example")[0], 200, "a.example")
    check_eq(http_get(hp, "nope.example")[0], 421, "no route")
    g.wait_log(r" -> a\.example .* ok$", count=3)
    recs = [r for r in log_records(g) if r[0] == "a.example"]
    p = subprocess.run([gh.GATEHOUSE, "status", "-c", g.conf, "--json", "--interval", "0.2"],
                       capture_output=True, timeout=20)
    check_eq((p.returncode, p.stderr), (0, b""), "status --json")
    st = json.loads(p.stdout)
    check_eq(st["address"], "[::1]:%d" % mp, "address from the config's metrics line")
    check_eq(st["listener"]["handoffs"], 3, "hand-offs")
    check_eq(st["listener"]["rejections"]["no_route"], 1, "no_route")
    check_eq(len(st["forwarders"]), 2, "forwarders")
    sites = {s["name"]: s for s in st["sites"]}
    check_eq(sorted(sites), ["a.example", "b.example"], "sites")
    a = sites["a.example"]
    check_eq((a["connections"], a["failed"], a["bytes_in"], a["bytes_out"]),
             (3, 0, sum(r[3] for r in recs), sum(r[4] for r in recs)), "a.example")
    check_eq(a["connections_per_second"], 0, "no traffic during the interval")
    p = subprocess.run([gh.GATEHOUSE, "status", "--address", "[::1]:%d" % mp, "--interval", "0"],
                       capture_output=True, timeout=20)
    check_eq(p.returncode, 0, "status")
    out = p.stdout.decode()
    check("listener: accepted 4, handed off 3, rejected 1, redirected 0" in out, "listener line:\n" + out)
    row = [l for l in out.split("\n") if l.startswith("a.example ")]
    check_eq(len(row), 1, "a.example row:\n" + out)
    check_eq(row[0].split()[1:3], ["3", "0"], "a.example connections, failed")
    # nothing served there: a clear failure, not a hang
    p = subprocess.run([gh.GATEHOUSE, "status", "--address", "[::1]:%d" % free_port(), "--interval", "0"],
                       capture_output=True, timeout=20)
    check_eq(p.returncode, 1, "status without an exporter")
    check(b"metrics at" in p.stderr, "says where it looked: %r" % p.stderr)


def _prometheus(t, mp):
    """A real Prometheus server (Debian's) scraping the exporter on port mp
    every second; returns query(q) -> the API's result list, or None."""
    if not shutil.which("prometheus"):
        raise gh.TestFailure("prometheus is not installed (apt-get install prometheus)")
    import urllib.parse
    import urllib.request
    pp = free_port()
    cfg = os.path.join(t.tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gatehouse\n"
                "    static_configs:\n      - targets: ['[::1]:%d']\n" % mp)
    log = open(os.path.join(t.tmp, "prometheus.log"), "wb")
    p = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(t.tmp, "tsdb"),
                          "--web.listen-address=[::1]:%d" % pp], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)

    def stop():
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
    t.defer(stop)

    def query(q):
        url = "http://[::1]:%d/api/v1/query?%s" % (pp, urllib.parse.urlencode({"query": q}))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                d = json.load(r)
        except OSError:
            return None
        if d.get("status") != "success":
            return None
        return d["data"]["result"]
    return query


def by_site(result):
    return None if result is None else {s["metric"].get("site", ""): float(s["value"][1]) for s in result}


@test(timeout=90)
def test_prometheus_scrapes(t):
    """A real Prometheus server (Debian's) scrapes the exporter while
    traffic flows; a PromQL query over its HTTP API returns the per-site
    counts of the forwarders' records."""
    g, hp, tp, mp, _ = _setup(t)
    query = _prometheus(t, mp)
    for i in range(4):
        check_eq(http_get(hp, "a.example", "/p%d" % i)[0], 200, "a.example")
    check_eq(http_get(hp, "b.example")[0], 200, "b.example")
    g.wait_log(r" -> \S+ \S+ in=\d+ out=\d+ ms=\d+ ok$", count=5)
    recs = log_records(g)
    want = {s: float(len([r for r in recs if r[0] == s and r[2] == "ok"])) for s in ("a.example", "b.example")}
    check_eq(want, {"a.example": 4.0, "b.example": 1.0}, "records")
    wait_for(lambda: by_site(query('sum by (site) (gatehouse_connections_total{result="ok"})')) == want, 30,
             "Prometheus to report the per-site counts %s" % want, interval=0.5)
    got = by_site(query('up{job="gatehouse"}'))
    check_eq(got, {"": 1.0}, "the scrape target is up")


DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "grafana", "gatehouse.json")
# Grafana's own variables, as Grafana would expand them for a short range
_GRAFANA_VARS = {"$__rate_interval": "1m", "$__range": "5m", "$site": ".*"}


def dashboard_queries():
    """Every PromQL expression of the example dashboard (panel targets and
    the site variable's label_values), with Grafana's variables expanded;
    checks the dashboard's own shape on the way."""
    with open(DASHBOARD) as f:
        d = json.load(f)
    check_eq([v["name"] for v in d["templating"]["list"]], ["datasource", "site"], "dashboard variables")
    out = []
    for v in d["templating"]["list"]:
        q = v.get("query")
        if isinstance(q, dict):
            m = re.fullmatch(r"label_values\((\w+), (\w+)\)", q["query"])
            check(m is not None, "variable %s: %r" % (v["name"], q))
            out.append(("variable " + v["name"], "count by (%s) (%s)" % (m.group(2), m.group(1))))
    check(len(d["panels"]) >= 6, "the dashboard has its panels")
    for p in d["panels"]:
        check_eq(p["datasource"]["uid"], "${datasource}", "panel %r uses the datasource variable" % p["title"])
        check(p["targets"], "panel %r has queries" % p["title"])
        for tg in p["targets"]:
            e = tg["expr"]
            for k, v in _GRAFANA_VARS.items():
                e = e.replace(k, v)
            check("$" not in e, "panel %r: only known variables in %r" % (p["title"], tg["expr"]))
            out.append((p["title"], e))
    return out


@test(timeout=90)
def test_dashboard_queries(t):
    """The example Grafana dashboard (docs/grafana/gatehouse.json) asks
    for what the exporter serves: every gatehouse_* name in its queries is
    a family of a real scrape, and Prometheus, scraping a running
    instance, evaluates every query to a non-empty answer."""
    qs = dashboard_queries()
    # c.example's one server refuses: its clients end connect_failed, and
    # its health check says it is down (the server health panel)
    g, hp, tp, mp, _ = _setup(t, extra=["site c.example", "    http [::1]:%d" % free_port(),
                                        "    check inter 200ms fall 1"])
    query = _prometheus(t, mp)
    for i in range(3):
        check_eq(http_get(hp, "a.example", "/p%d" % i)[0], 200, "a.example")
    check_eq(tls_get(tp, "b.example")[0], "mb-tls", "b.example over tls reaches its backend")
    check_eq(http_get(hp, "nobody.example")[0], 421, "a rejection, for the reasons panel")
    check_eq(http_get(hp, "c.example")[0], 503, "a failure, for the failures panel")
    g.wait_log(r" -> \S+ \S+ in=\d+ out=\d+ ms=\d+ ok$", count=4)
    g.wait_log(r" c\.example .* connect_failed$")
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n, _ in scrape(mp)} | {n for n, _ in scrape(mp)}
    for title, e in qs:
        for name in re.findall(r"\bgatehouse_[a-z_]+", e):
            check(name in families, "panel %r asks for %s, which the exporter does not serve" % (title, name))
    # rate() needs two samples of the counters after the traffic; the
    # per-site total is the readiness signal that Prometheus has them
    wait_for(lambda: by_site(query('sum by (site) (gatehouse_connections_total{result="ok"})'))
             == {"a.example": 3.0, "b.example": 1.0, "c.example": 0.0}, 30, "Prometheus to see the traffic",
             interval=0.5)
    for title, e in qs:
        wait_for(lambda: query(e), 20, "Prometheus to answer %r of panel %r with a series" % (e, title), interval=0.5)


@test()
def test_exporter_restarts(t):
    """An exporter that dies is started again by `gatehouse run` with every
    live daemon's page: the counts of the running daemons come back, and
    the proxy never noticed."""
    g, hp, tp, mp, _ = _setup(t)
    for i in range(2):
        check_eq(http_get(hp, "a.example")[0], 200, "a.example")
    g.wait_log(r" -> a\.example .* ok$", count=2)
    (x,) = gh.daemon_pids(g, "gatehouse-metr")
    os.kill(x, signal.SIGKILL)
    g.wait_log(r"starting the metrics exporter again")
    check_eq(http_get(hp, "a.example")[0], 200, "a.example while the exporter restarts")
    g.wait_log(r" -> a\.example .* ok$", count=3)
    wait_for(lambda: val(scrape(mp), "gatehouse_connections_total", site="a.example", result="ok") == 3, 5,
             "the running forwarders' counts served again")
    m = scrape(mp)
    check_eq(len([k for k in m if k[0] == "gatehouse_relays"]), 2, "both forwarders' gauges")
    check_eq(val(m, "gatehouse_handoffs_total"), 3, "the listener's page too")
    (y,) = gh.daemon_pids(g, "gatehouse-metr")
    check(y != x, "a new exporter")


@test()
def test_listener_restart_counted(t):
    """A listener that dies starts a new generation: counted as a restart
    (not a reload), and its hand-offs before it died are kept."""
    g, hp, tp, mp, _ = _setup(t)
    check_eq(http_get(hp, "a.example")[0], 200, "a.example")
    g.wait_log(r" -> a\.example .* ok$")
    (lst,) = gh.daemon_pids(g, "gatehouse-list")
    os.kill(lst, signal.SIGKILL)
    wait_for(lambda: val(scrape(mp), "gatehouse_listener_restarts_total") == 1, 10, "a restart counted")
    wait_for(lambda: http_get(hp, "a.example")[0] == 200, 5, "served by the new listener")
    m = scrape(mp)
    check_eq((val(m, "gatehouse_reloads_total"), val(m, "gatehouse_generation")), (0, 2), "no reload; generation 2")
    check_eq(val(m, "gatehouse_handoffs_total"), 2, "the dead listener's hand-off kept")
