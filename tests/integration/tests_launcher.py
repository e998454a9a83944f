# SPDX-License-Identifier: MIT
"""Issue #11, the launcher's part: what `gatehouse run` hands its children
(no inherited fd, no capability in the bounding set, the listener in an
empty network namespace of its own), its tables at the limits, and a
handed listening socket that stopped listening."""
import ctypes
import os
import signal
import socket

import gh
from gh import test, check, check_eq, wait_for, free_port, http_get


def _status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def _daemons(g, n):
    pids = gh.daemon_pids(g, "gatehouse-list") + gh.daemon_pids(g, "gatehouse-forw")
    check_eq(len(pids), n, "listener and forwarders")
    return pids


def _relaxed(g):
    return "sanitizer or NOSECCOMP build" in g.log()


@test()
def test_run_closes_inherited_fds(t):
    """A file the caller of `gatehouse run` left open (here a root-only file
    on fd 57) reaches neither daemon: the launcher closes every fd but
    stdio, the LISTEN_FDS range and the config before exec (#11.4)."""
    secret = os.path.join(t.tmp, "root-only")
    fd = os.open(secret, os.O_RDWR | os.O_CREAT, 0o600)
    os.dup2(fd, 57, inheritable=True)
    os.close(fd)
    t.defer(lambda: os.close(57))
    hb = t.backend("fd-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "site fd.example", "    http " + hb.addr, ""]),
                    forwarders=2, pass_fds=(57,))
    check_eq(os.readlink("/proc/%d/fd/57" % g.proc.pid), secret, "the launcher itself inherited fd 57")
    st, _, body, _ = http_get(hp, "fd.example", "/x")
    check_eq((st, body), (200, b"fd-http /x\n"), "answer")
    for p in _daemons(g, 3):
        held = {}
        for f in os.listdir("/proc/%d/fd" % p):
            try:
                held[int(f)] = os.readlink("/proc/%d/fd/%s" % (p, f))
            except OSError:
                pass
        what = "%s %d" % (gh.daemon_name(p), p)
        check(secret not in held.values(), "%s holds the caller's file: %s" % (what, held))
        # the launcher's notify socket is its own business too
        others = [n for n, l in held.items() if n > 2 and not l.startswith(("socket:", "anon_inode:", "/memfd:",
                                                                              "pipe:"))]
        check(not others, "%s holds unexpected fds: %s" % (what, {n: held[n] for n in others}))


@test()
def test_run_bounding_set_and_netns(t):
    """Started as root, both daemons run with an empty capability bounding
    set, and the listener has an empty network namespace of its own (its
    sockets, inherited, keep working) (#11.5, #11.8)."""
    check(os.geteuid() == 0, "this test runs as root, like CI")
    hb = t.backend("ns-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "site ns.example", "    http " + hb.addr, ""]),
                    forwarders=1)
    st, _, body, _ = http_get(hp, "ns.example", "/n")
    check_eq((st, body), (200, b"ns-http /n\n"), "answer through a listener in its own netns")
    if _relaxed(g):
        return
    mine = os.readlink("/proc/%d/ns/net" % g.proc.pid)
    lst = gh.daemon_pids(g, "gatehouse-list")
    check_eq(len(lst), 1, "one listener")
    for p in _daemons(g, 2):
        what = "%s %d" % (gh.daemon_name(p), p)
        check_eq(_status(p)["CapBnd"], "0000000000000000", what + " capability bounding set")
        ns = os.readlink("/proc/%d/ns/net" % p)
        if p in lst:
            check(ns != mine, "%s shares the launcher's network namespace %s" % (what, ns))
        else:
            check_eq(ns, mine, what + " network namespace (it dials backends)")


@test(timeout=90)
def test_run_many_listens_64_forwarders(t):
    """Eleven `listen` lines and 64 forwarders: the launcher's fd table holds
    all 75 passed fds (it overflowed with 9+ listens and 64 forwarders;
    under `make check-asan` ASan would catch a write past it), and the
    last listen line serves (#11.7)."""
    hb = t.backend("many-http", "http")
    ports = [free_port() for _ in range(10)]
    # ten lines, the last a tls one (none would mean the default [::]:443)
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % p for p in ports] +
                              ["listen tls [::1]:%d" % free_port(),
                               "site many.example", "    http " + hb.addr, ""]),
                    forwarders=64, ready_timeout=30)
    _daemons(g, 65)
    for p in (ports[0], ports[-1]):
        st, _, body, _ = http_get(p, "many.example", "/m")
        check_eq((st, body), (200, b"many-http /m\n"), "answer on port %d" % p)


def _pidfd_getfd(pid, fd):
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        r = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
        if r < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return r
    finally:
        os.close(pidfd)


def _dead_socket_setup(t, name):
    """A gatehouse run on one http port, and a copy of its listening socket
    taken from the launcher and shut down (SHUT_RD): stopped for all."""
    hb = t.backend(name + "-http", "http")
    hp = free_port()
    g = t.gatehouse("\n".join(["listen http [::1]:%d" % hp, "site %s.example" % name, "    http " + hb.addr, ""]),
                    forwarders=1)
    ino = gh.socket_inode(hp, 0)
    fdno = None
    for f in os.listdir("/proc/%d/fd" % g.proc.pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (g.proc.pid, f)) == "socket:[%d]" % ino:
                fdno = int(f)
        except OSError:
            pass
    check(fdno is not None, "the launcher holds the listening socket")
    copy = socket.socket(fileno=_pidfd_getfd(g.proc.pid, fdno))
    t.defer(copy.close)
    # the listener stopped first: it would see the dead socket, exit at
    # once and have the launcher revive it before the checks below
    for p in gh.daemon_pids(g, "gatehouse-list"):
        os.kill(p, signal.SIGSTOP)
    copy.shutdown(socket.SHUT_RD)
    check_eq(copy.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), 0, "SO_ACCEPTCONN after SHUT_RD")
    return g, hp, copy


def _kill_listener(g):
    old = gh.daemon_pids(g, "gatehouse-list")
    for p in old:
        os.kill(p, signal.SIGKILL)
    return old


@test()
def test_run_relistens_a_dead_socket(t):
    """A handed listening socket that no longer listens (shutdown(SHUT_RD)
    on any copy stops it for all; here on a copy taken from the launcher)
    and a listener that dies: the launcher makes the socket listen again
    before the next listener starts, instead of a loop of listeners dying
    on "not a listening stream socket" (#11.2)."""
    g, hp, copy = _dead_socket_setup(t, "dead")
    old = _kill_listener(g)
    g.wait_log(r"listen http \[::1\]:%d had stopped listening; listening on it again" % hp, timeout=10)
    wait_for(lambda: [p for p in gh.daemon_pids(g, "gatehouse-list") if p not in old], 10, "a new listener")
    check_eq(copy.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), 1, "SO_ACCEPTCONN again")
    st, _, body, _ = http_get(hp, "dead.example", "/d")
    check_eq((st, body), (200, b"dead-http /d\n"), "answer on the revived socket")
    check(g.proc.poll() is None, "gatehouse run exited")


@test()
def test_run_stops_on_a_dead_socket(t):
    """And when the address can be neither listened on again nor bound
    afresh (another socket took the port once ours stopped listening): the
    launcher names the listen line, stops its daemons and exits 1 — no loop
    of listeners on a dead socket (#11.2)."""
    g, hp, copy = _dead_socket_setup(t, "stop")
    squatter = socket.socket(socket.AF_INET6)
    t.defer(squatter.close)
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("::1", hp))
    squatter.listen()
    _kill_listener(g)
    try:
        rc = g.proc.wait(15)
    except Exception:
        rc = None
    check_eq(rc, 1, "exit status of gatehouse run")
    log = g.log()
    check(("listen http [::1]:%d stopped listening and cannot be bound again" % hp) in log,
          "no message naming the socket; log tail:\n" + log[-800:])
    check_eq(log.count("starting a new listener generation"), 0, "listener restarts on a dead socket")
    check_eq(gh.daemon_pids(g, "gatehouse-list") + gh.daemon_pids(g, "gatehouse-forw"), [], "daemons left")
