#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The routing table of a config, one fact per line, sorted, so an HAProxy
config and the gatehouse.conf converted from it can be compared with diff.

    routes.py haproxy FILE     derive it from haproxy.cfg (independently of
                               the C importer: its own reading of the
                               simple setups in this folder)
    routes.py gatehouse FILE   read it from a gatehouse.conf

Lines: "http-mode route|redirect-https", "NAME KIND N ADDRESS" (the Nth
server of that kind, backups after the others), "proxy NAME vN",
"default KIND SITE|reject".
"""
import ipaddress
import re
import sys


def canon(addr):
    """HAProxy's address as gatehouse writes it: the last colon splits the
    port; IPv6 compressed and bracketed."""
    if addr.startswith("["):
        host, port = addr[1:].split("]:")
    else:
        host, _, port = addr.rpartition(":")
    ip = ipaddress.ip_address(host)
    return f"[{ip.compressed}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def haproxy(path):
    sections, cur = [], None
    for raw in open(path, encoding="utf-8"):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] in ("global", "defaults", "frontend", "backend", "listen"):
            cur = {"type": words[0], "name": words[1] if len(words) > 1 else "",
                   "lines": []}
            sections.append(cur)
        elif cur is not None:
            cur["lines"].append(words)

    mode_default = "tcp"
    for s in sections:
        if s["type"] == "defaults":
            for w in s["lines"]:
                if w[0] == "mode":
                    mode_default = w[1]
    facts, suffix, default = set(), {}, {}
    # (kind, host) -> backend, from `use_backend B if COND` rules in file
    # order, the first rule that names a host winning; a name rule before
    # them takes the hosts whose NAME+suffix backend exists
    routed = {}
    backends = {s["name"] for s in sections if s["type"] == "backend"}
    redirect = False
    for s in sections:
        if s["type"] != "frontend":
            continue
        mode = mode_default
        for w in s["lines"]:
            if w[0] == "mode":
                mode = w[1]
        kind = "http" if mode == "http" else "tls"
        acls = {}

        def hosts_of(words):
            fetch, vals = words[0], [v for v in words[1:] if v not in ("-i", "--")]
            if not re.fullmatch(r"req_ssl_sni|req\.ssl_sni|(req\.)?hdr\(host\)", fetch, re.I):
                return None
            return [v.lower() for v in vals]

        for w in s["lines"]:
            if w[:3] == ["http-request", "redirect", "scheme"] and w[3] == "https":
                redirect = True
            if w[0] == "acl":
                hs = hosts_of(w[2:])
                acls[w[1]] = None if hs is None or acls.get(w[1], []) is None else acls.get(w[1], []) + hs
            m = re.fullmatch(r"%\[(req\.hdr\(host\)|req_ssl_sni)[^\]]*\](.*)", w[1], re.I) \
                if w[0] == "use_backend" and len(w) == 2 else None
            if m:
                suffix[kind] = m.group(2)
            if w[0] == "use_backend" and len(w) > 3 and w[2] == "if":
                hosts, terms, i = [], [], 3
                while i < len(w):
                    if w[i] in ("||", "or"):
                        i += 1
                    elif w[i] == "{":
                        end = w.index("}", i)
                        terms.append(hosts_of(w[i + 1:end]))
                        i = end + 1
                    else:
                        terms.append(acls.get(w[i]) if not w[i].startswith("!") else None)
                        i += 1
                if any(t is None for t in terms):
                    continue
                for h in (h for t in terms for h in t):
                    if kind in suffix and h + suffix[kind] in backends:
                        continue
                    routed.setdefault((kind, h), w[1])
            if w[0] == "default_backend":
                default[kind] = w[1]
        facts.add("default %s %s" % (kind, "reject"))
    if "http" in suffix or any(k == "http" for k, _ in routed) or redirect:
        facts.add("http-mode " + ("redirect-https" if redirect else "route"))

    def servers_of(s):
        # default-server options apply to every server line after them
        servers, dflt = [], []
        for w in s["lines"]:
            if w[0] == "default-server":
                dflt = w[1:]
            elif w[0] == "server":
                servers.append(w + dflt)
        return servers

    def add_site(site, kind, s):
        servers = servers_of(s)
        ordered = [w for w in servers if "backup" not in w] + [w for w in servers if "backup" in w]
        for n, w in enumerate(ordered, 1):
            facts.add(f"{site} {kind} {n} {canon(w[2])}")
        proxies = {("v2" if "send-proxy-v2" in w else "v1" if "send-proxy" in w else "") for w in servers}
        if len(proxies) == 1 and "" not in proxies:
            facts.add(f"proxy {site} {proxies.pop()}")

    first_site = {}
    for (kind, host), b in routed.items():
        first_site.setdefault(b, host)
        add_site(host, kind, next(s for s in sections if s["type"] == "backend" and s["name"] == b))
    for s in sections:
        if s["type"] != "backend":
            continue
        for kind, suf in suffix.items():
            if not s["name"].endswith(suf):
                continue
            site = s["name"][: -len(suf)].lower()
            if (kind, site) in routed:
                continue
            first_site.setdefault(s["name"], site)
            add_site(site, kind, s)
    for k, b in default.items():
        if b in first_site:
            facts.discard(f"default {k} reject")
            facts.add(f"default {k} {first_site[b]}")
    return facts


def gatehouse(path):
    facts, site, count = set(), None, {}
    for raw in open(path, encoding="utf-8"):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "http-mode":
            facts.add("http-mode " + words[1])
        elif words[0] == "site":
            site = words[1]
        elif words[0] in ("http", "tls"):
            for a in words[1:]:
                count[(site, words[0])] = count.get((site, words[0]), 0) + 1
                facts.add(f"{site} {words[0]} {count[(site, words[0])]} {a}")
        elif words[0] == "proxy-protocol":
            facts.add(f"proxy {site} {words[1]}")
        elif words[0] == "default":
            facts.add(f"default {words[1]} {words[2]}")
    return facts


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("haproxy", "gatehouse"):
        sys.exit(__doc__)
    facts = haproxy(sys.argv[2]) if sys.argv[1] == "haproxy" else gatehouse(sys.argv[2])
    for f in sorted(facts):
        print(f)


if __name__ == "__main__":
    main()
