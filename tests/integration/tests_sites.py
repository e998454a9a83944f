# SPDX-License-Identifier: MIT
"""Issue #13.5, many sites: under `gatehouse run` every daemon maps the one
compiled config the launcher sealed (read-only, never writable, the same
inode for a whole generation, a new one after a reload) instead of parsing
the file, and routes through it; with `check` lines the health checker
maps it too (the checks and the servers' maps travel in it)."""
import fcntl
import os
import signal

import gh
from gh import test, check, check_eq, wait_for, free_port, http_get

IMAGE = "/memfd:gatehouse.conf.image"
SEALS = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def _image_of(pid):
    """(inode, seals) of the compiled config daemon pid maps; checks that
    every mapping of it is read-only and that it holds no config text."""
    maps = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if IMAGE in line:
                maps.append(line.split())
    what = "%s %d" % (gh.daemon_name(pid), pid)
    check(maps, "%s maps no %s" % (what, IMAGE))
    for m in maps:
        check(m[1].startswith("r") and "w" not in m[1] and m[1].endswith("s"),
              "%s maps the image %s, not read-only shared" % (what, m[1]))
    inodes = {int(m[4]) for m in maps}
    check_eq(len(inodes), 1, "%s: images mapped" % what)
    held = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            held[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    check(not any(l.startswith("/memfd:gatehouse.conf ") for l in held.values()),
          "%s holds the config text: %s" % (what, held))
    img = [n for n, l in held.items() if l.startswith(IMAGE)]
    check_eq(len(img), 1, "%s: image fds held" % what)
    fd = os.open("/proc/%d/fd/%d" % (pid, img[0]), os.O_RDONLY)
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        check_eq(os.fstat(fd).st_ino, inodes.pop(), "%s: the fd and the mapping" % what)
        return os.fstat(fd).st_ino, seals
    finally:
        os.close(fd)


def _exporter_images(g):
    """Inodes of the compiled configs the metrics exporter maps (it keeps a
    generation's mapping, not its fd); checks they are read-only and that it
    holds no config text, which it would have parsed into a private copy."""
    pids = gh.daemon_pids(g, "gatehouse-metr")
    check_eq(len(pids), 1, "the metrics exporter")
    inodes = set()
    with open("/proc/%d/maps" % pids[0]) as f:
        for line in f:
            if IMAGE in line:
                m = line.split()
                check(m[1].startswith("r") and "w" not in m[1], "the exporter maps the image %s" % m[1])
                inodes.add(int(m[4]))
    for fd in os.listdir("/proc/%d/fd" % pids[0]):
        try:
            l = os.readlink("/proc/%d/fd/%s" % (pids[0], fd))
        except OSError:
            continue
        check(not l.startswith("/memfd:gatehouse.conf "), "the exporter holds the config text: " + l)
    return inodes


@test()
def test_run_daemons_map_the_sealed_image(t):
    h1 = t.backend("img1-http", "http")
    h2 = t.backend("img2-http", "http")
    hp = free_port()
    mp = free_port()
    base = ["listen http [::1]:%d" % hp, "listen tls [::1]:%d" % free_port(), "metrics [::1]:%d" % mp,
            "site img1.example www.img1.example *.w.img1.example", "    http " + h1.addr,
            "    check inter 1s"]
    g = t.gatehouse("\n".join(base + [""]), forwarders=2)
    for name in ("img1.example", "www.img1.example", "a.w.img1.example"):
        st, _, body, _ = http_get(hp, name, "/x")
        check_eq((st, body), (200, b"img1-http /x\n"), "answer for " + name)
    check_eq(http_get(hp, "img2.example")[0], 421, "img2.example before it is configured")
    daemons = ("gatehouse-list", "gatehouse-forw", "gatehouse-heal")
    wait_for(lambda: gh.daemon_pids(g, "gatehouse-heal"), 5, "the health checker")
    pids = [p for d in daemons for p in gh.daemon_pids(g, d)]
    check_eq(len(pids), 4, "listener, forwarders and health checker")
    first = {_image_of(p) for p in pids}
    check_eq(len(first), 1, "one image for the generation")
    ino, seals = first.pop()
    check_eq(seals, SEALS, "seals of the image")
    g.wait_log(r"serving metrics on")
    wait_for(lambda: ino in _exporter_images(g), 5, "the exporter mapping the generation's image")

    with open(g.conf, "w") as f:
        f.write("\n".join(base + ["site img2.example", "    http " + h2.addr, ""]))
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"reload: starting a new generation")
    wait_for(lambda: http_get(hp, "img2.example")[0] == 200, 5, "img2.example after SIGHUP")
    wait_for(lambda: not any(p in pids for p in gh.daemon_pids(g, "gatehouse-")), 10,
             "the old generation to exit")
    wait_for(lambda: gh.daemon_pids(g, "gatehouse-heal"), 5, "the new health checker")
    now = [p for d in daemons for p in gh.daemon_pids(g, d)]
    check_eq(len(now), 4, "listener, forwarders and health checker after the reload")
    second = {_image_of(p) for p in now}
    check_eq(len(second), 1, "one image for the new generation")
    ino2, seals2 = second.pop()
    check(ino2 != ino, "the reload compiled a new image")
    check_eq(seals2, SEALS, "seals of the new image")
    wait_for(lambda: ino2 in _exporter_images(g), 5, "the exporter mapping the new generation's image")
    st, _, body, _ = http_get(hp, "img2.example", "/y")
    check_eq((st, body), (200, b"img2-http /y\n"), "img2.example served")
