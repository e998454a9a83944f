# SPDX-License-Identifier: MIT
"""The listener's accept path and its loop, with the listener alone: its
listening socket and its forwarder channel are the test's own (a dup of the
listening socket, as a compromised listener sharing it would hold; the
channel's far end, as a hostile or broken forwarder would)."""
import os
import re
import signal
import socket
import subprocess
import threading

import gh
from gh import TestFailure, check, check_eq, free_port, test


def lone_listener(t, name="lst", extra=()):
    """A gatehouse-listener on its own: one "http" listening socket and one
    "forward" channel, both created here. Returns (proc, lsock, channel, log())."""
    conf = os.path.join(t.tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("\n".join(["listen http [::1]:%d" % free_port()] + list(extra) +
                          ["site a.example", "    http [::1]:%d" % free_port(), ""]))
    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.bind(("::1", 0))
    lsock.listen(128)
    t.defer(lsock.close)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    t.defer(ours.close)
    # the first message on a channel is the forwarder's load page; one
    # without an fd is no page, and the listener does not wait 5 s for it
    ours.send(b"no page")
    holder = {}

    def stop():
        proc = holder.get("proc")
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
    t.defer(stop)
    try:
        proc, log = gh.lone_daemon(t, name, gh.LISTENER, conf, [lsock.fileno(), theirs.fileno()],
                                   names=["http", "forward"], what="listener")
    finally:
        theirs.close()
    holder["proc"] = proc
    return proc, lsock, ours, log


def accept_queue(port):
    """Clients waiting in the backlog of the socket listening on port."""
    with open("/proc/net/tcp6") as f:
        for line in f:
            x = line.split()
            if x[3] == "0A" and x[1].endswith(":%04X" % port):
                return int(x[4].split(":")[1], 16)
    return 0


def exit_within(proc, seconds, what, log):
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        text = log()
        raise TestFailure("%s: listener still running after %ss (cpu %.1fs, log %d bytes); log tail:\n%s"
                          % (what, seconds, gh.proc_cpu_seconds(proc.pid), len(text), text[-600:]))


@test(timeout=30)
def test_listening_socket_shut_down_is_fatal(t):
    """shutdown(SHUT_RD) by anyone holding the listening socket stops it for
    good: the listener says so once, naming the socket, and exits non-zero
    for its supervisor, instead of spinning on accept errors."""
    proc, lsock, _, log = lone_listener(t)
    # it works before
    c = gh.connect(lsock.getsockname()[1])
    c.sendall(b"GET / HTTP/1.1\r\nHost: nowhere.example\r\n\r\n")
    check(b" 421 " in gh.recv_all(c)[0].split(b"\r\n")[0], "421 for an unknown host before the shutdown")
    c.close()
    lsock.shutdown(socket.SHUT_RD)
    rc = exit_within(proc, 5, "after shutdown(SHUT_RD) of its listening socket", log)
    check(rc not in (0, 75) and rc > 0, "exit status %r: a broken socket is a failure, not a stop or a lost channel" % rc)
    text = log()
    port = lsock.getsockname()[1]
    lines = [ln for ln in text.splitlines() if "accept" in ln]
    check_eq(len(lines), 1, "accept log lines (%r)" % lines[:3])
    check(re.search(r"accept on http \[::1\]:%d \(fd 3\): Invalid argument" % port, lines[0]),
          "the line names the socket and the error: %r" % lines[0])


@test(timeout=30)
def test_listening_socket_shut_down_while_not_accepting(t):
    """The same while the accept gate is shut (a forwarder that takes no
    hand-offs: the ring backs up): a socket that no longer listens reports
    a hang-up even with no events asked for, which must not wake the loop
    for nothing round after round."""
    proc, lsock, _, log = lone_listener(t)
    base = gh.proc_nfds(proc.pid)
    port = lsock.getsockname()[1]
    clients = []
    for _ in range(120):
        c = gh.connect(port)
        t.defer(c.close)
        c.sendall(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
        clients.append(c)
    # the channel takes what its buffer holds and nobody reads it; the
    # next hand-offs wait in the listener's ring, which shuts the gate,
    # and the other clients wait in the backlog
    gh.wait_for(lambda: gh.proc_nfds(proc.pid) > base and accept_queue(port) >= 40, 10,
                "hand-offs held by the listener and clients left in the backlog")
    lsock.shutdown(socket.SHUT_RD)
    rc = exit_within(proc, 5, "after shutdown(SHUT_RD) with accepting paused", log)
    check_eq(rc, 1, "exit status")
    lines = [ln for ln in log().splitlines() if "accept" in ln]
    check_eq(len(lines), 1, "accept log lines (%r)" % lines[:3])
    check("Invalid argument" in lines[0], "the line gives the error: %r" % lines[0])


@test(timeout=40)
def test_sigterm_honoured_while_events_keep_coming(t):
    """epoll_pwait() delivers a signal only when it sleeps. Clients that
    keep sending a byte at a time to a long unfinished request head (each
    byte re-peeks and re-parses the whole head) keep it from sleeping:
    SIGTERM must still stop the listener, at once."""
    proc, lsock, _, log = lone_listener(t, extra=["max-head-size 64k", "inspect-timeout 60s"])
    port = lsock.getsockname()[1]
    clients = []
    for _ in range(128):
        c = gh.connect(port)
        t.defer(c.close)
        c.sendall(b"GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: " + b"a" * 30000)
        clients.append(c)
    stop = threading.Event()
    t.defer(stop.set)
    sent = [0]

    def flood():
        try:
            while not stop.is_set():
                for c in clients:
                    c.send(b"a")
                sent[0] += len(clients)
        except OSError:
            pass
    th = threading.Thread(target=flood, daemon=True)
    th.start()
    # the listener is busy with the flood: its CPU time grows
    cpu0 = gh.proc_cpu_seconds(proc.pid)
    gh.wait_for(lambda: gh.proc_cpu_seconds(proc.pid) - cpu0 >= 0.3, 10, "the listener busy with the flood")
    check(th.is_alive(), "the flood goes on")
    os.kill(proc.pid, signal.SIGTERM)
    rc = exit_within(proc, 5, "SIGTERM during a flood of client bytes (%d sent)" % sent[0], log)
    check_eq(rc, 0, "exit status after SIGTERM")
