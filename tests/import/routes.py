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
    redirect = False
    for s in sections:
        if s["type"] != "frontend":
            continue
        mode = mode_default
        for w in s["lines"]:
            if w[0] == "mode":
                mode = w[1]
        kind = "http" if mode == "http" else "tls"
        for w in s["lines"]:
            if w[:3] == ["http-request", "redirect", "scheme"] and w[3] == "https":
                redirect = True
            m = re.fullmatch(r"%\[(req\.hdr\(host\)|req_ssl_sni)[^\]]*\](.*)", w[1], re.I) \
                if w[0] == "use_backend" and len(w) == 2 else None
            if m:
                suffix[kind] = m.group(2)
            if w[0] == "default_backend":
                default[kind] = w[1]
        facts.add("default %s %s" % (kind, "reject"))
    if "http" in suffix or redirect:
        facts.add("http-mode " + ("redirect-https" if redirect else "route"))

    for s in sections:
        if s["type"] != "backend":
            continue
        for kind, suf in suffix.items():
            if not s["name"].endswith(suf):
                continue
            site = s["name"][: -len(suf)].lower()
            # default-server options apply to every server line after them
            servers, dflt = [], []
            for w in s["lines"]:
                if w[0] == "default-server":
                    dflt = w[1:]
                elif w[0] == "server":
                    servers.append(w + dflt)
            ordered = [w for w in servers if "backup" not in w] + \
                      [w for w in servers if "backup" in w]
            for n, w in enumerate(ordered, 1):
                facts.add(f"{site} {kind} {n} {canon(w[2])}")
            proxies = {("v2" if "send-proxy-v2" in w else "v1" if "send-proxy" in w else "")
                       for w in servers}
            if len(proxies) == 1 and "" not in proxies:
                facts.add(f"proxy {site} {proxies.pop()}")
            for k, b in default.items():
                if b == s["name"]:
                    facts.discard(f"default {k} reject")
                    facts.add(f"default {k} {site}")
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
