# SPDX-License-Identifier: MIT
"""Issue #13.5 under systemd: gatehouse-config (configd/) parses and
compiles the config once and hands the sealed image to every daemon that
connects to its socket (GATEHOUSE_CONFIG_SOCKET, as the units set it); a
daemon maps it instead of parsing the file. A changed text gives the next
daemon a new image, a broken one keeps the last good image; a socket whose
owner is not root, or an image that is not sealed, is refused."""
import fcntl
import os
import socket
import subprocess
import sys

import gh
from gh import test, check, check_eq, wait_for, free_port
from tests_sites import IMAGE, SEALS

CONFIGD = os.path.join(gh.BUILD, "gatehouse-config")


def _image_of(pid):
    """The inode of the compiled config daemon pid maps, read-only."""
    inodes = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if IMAGE in line:
                m = line.split()
                check(m[1].startswith("r") and "w" not in m[1] and m[1].endswith("s"),
                      "pid %d maps the image %s, not read-only shared" % (pid, m[1]))
                inodes.add(int(m[4]))
    check_eq(len(inodes), 1, "images pid %d maps" % pid)
    return inodes.pop()


def _readable(path):
    """gatehouse-config started as root drops to an unprivileged user,
    as its unit's DynamicUser= does: it must still reach the config (the
    test's directories are root's 0700)."""
    d = os.path.dirname(path)
    while d.startswith(os.path.dirname(os.path.dirname(path))) and d != "/tmp":
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = os.path.dirname(d)


def _service(t, conf_lines, name="cfgd"):
    """gatehouse-config as gatehouse-config.socket starts it. Returns
    (socket path, config path, log())."""
    path = os.path.join(t.tmp, name + ".sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls.bind(path)
    ls.listen(16)
    conf = os.path.join(t.tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("\n".join(conf_lines + [""]))
    os.chmod(conf, 0o644)
    _readable(conf)
    try:
        proc, log = gh.lone_daemon(t, name, CONFIGD, conf, [ls.fileno()], what="gatehouse-config")
    finally:
        ls.close()

    def stop():
        proc.terminate()
        proc.wait(10)
    t.defer(stop)
    return path, conf, log


def _fetch(path):
    """One answer from the socket at path: (message, fds)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.settimeout(10)
        s.connect(path)
        msg, fds, _, _ = socket.recv_fds(s, 512, 4)
        return msg, fds
    finally:
        s.close()


def _forwarder(t, sock, name):
    """A lone forwarder taking its config from sock; its own -c file is
    not a config at all, so a forwarder that parsed it would not start."""
    os.environ["GATEHOUSE_CONFIG_SOCKET"] = sock
    try:
        return gh.lone_forwarder(t, ["this is not a gatehouse config"], name=name)
    finally:
        os.environ.pop("GATEHOUSE_CONFIG_SOCKET", None)


def _routes_to(t, ours, site, want):
    from tests_hostile import _listening, _pair, _handoff
    lsock = _listening()
    t.defer(lsock.close)
    c, srv = _pair(t, lsock)
    c.sendall(b"GET / HTTP/1.1\r\nHost: " + site + b"\r\n\r\n")
    _handoff(ours, c, srv, site)
    check_eq(gh.recv_line(c), want, "the reply through the forwarder")


@test()
def test_configd_image_reaches_daemons_and_follows_edits(t):
    a = t.backend("cd-a", "record")
    b = t.backend("cd-b", "record")
    conf = ["listen http [::1]:%d" % free_port(), "site cd.example", "    http " + a.addr]
    sock, path, clog = _service(t, conf)
    msg, fds = _fetch(sock)
    check_eq(msg, b"GHCONF1\0", "the answer")
    check_eq(len(fds), 1, "fds in the answer")
    try:
        check_eq(fcntl.fcntl(fds[0], fcntl.F_GET_SEALS) & SEALS, SEALS, "the image's seals")
        check(os.readlink("/proc/self/fd/%d" % fds[0]).startswith("/memfd:gatehouse.conf.image"),
              "the fd is the image memfd")
    finally:
        os.close(fds[0])
    # a daemon maps it read-only, never parsing its own -c file
    p1, ours1, flog1 = _forwarder(t, sock, "fwd1")
    ino1 = _image_of(p1.pid)
    _routes_to(t, ours1, b"cd.example", b"cd-a\n")
    # an edit: the next daemon (a reload's) gets the new text's image
    with open(path, "w") as f:
        f.write("\n".join(conf[:2] + ["    http " + b.addr, ""]))
    p2, ours2, flog2 = _forwarder(t, sock, "fwd2")
    ino2 = _image_of(p2.pid)
    check(ino2 != ino1, "the same image after an edit")
    _routes_to(t, ours2, b"cd.example", b"cd-b\n")
    _routes_to(t, ours1, b"cd.example", b"cd-a\n")
    wait_for(lambda: "image #2 compiled" in clog(), 5, "the service says it compiled image #2")
    # a broken text: logged FILE:LINE, the last good image stays
    with open(path, "a") as f:
        f.write("bogus-directive 1\n")
    p3, ours3, flog3 = _forwarder(t, sock, "fwd3")
    ino3 = _image_of(p3.pid)
    check_eq(ino3, ino2, "the image after a broken edit")
    _routes_to(t, ours3, b"cd.example", b"cd-b\n")
    wait_for(lambda: "%s:4: " % path in clog(), 5, "the service logs %s:4" % path)
    check("last good image (#2) stays" in clog(), "the service does not say the last image stays:\n" + clog())
    # the same broken text again: not logged twice
    _fetch(sock)
    check_eq(clog().count("%s:4: " % path), 1, "times the broken line was logged")


@test()
def test_configd_without_a_good_config_says_why(t):
    sock, path, clog = _service(t, ["bogus-directive 1"], name="cfgbad")
    msg, fds = _fetch(sock)
    check_eq(fds, [], "fds with no image")
    check(msg.startswith(b"GHCONF0\0") and (b"%s:1: " % path.encode()) in msg,
          "the answer does not say why: %r" % msg)
    try:
        _forwarder(t, sock, "fwdbad")
        check(False, "a forwarder started without a config")
    except gh.TestFailure as e:
        check("no config from gatehouse-config" in str(e) and "%s:1: " % path in str(e),
              "the forwarder does not say why: %s" % e)


FAKE = r"""
import fcntl, os, socket, sys
path, image, seal = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
fd = os.memfd_create("gatehouse.conf.image", os.MFD_ALLOW_SEALING)
with open(image, "rb") as f:
    os.write(fd, f.read())
if seal:
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ls.bind(path)
ls.listen(4)
print("ready", flush=True)
while True:
    c, _ = ls.accept()
    socket.send_fds(c, [b"GHCONF1\0"], [fd])
    c.close()
"""


def _fake(t, name, image, seal, uid=None):
    """A stand-in for gatehouse-config serving image (sealed or not),
    its socket made by uid (None: root)."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="gh-" + name + ".")    # short: sun_path holds 107 bytes
    t.defer(shutil.rmtree, d, True)
    os.chmod(d, 0o777)
    path = os.path.join(d, "config.sock")
    cmd = [sys.executable, "-c", FAKE, path, image, "1" if seal else "0"]
    if uid is not None:
        cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stop():
        p.kill()
        p.wait(5)
    t.defer(stop)
    line = p.stdout.readline()
    if line != b"ready\n":
        check(False, "the fake service did not start: %r" % (line + p.stdout.read(2000)))
    return path


@test()
def test_configd_refuses_unsealed_image_and_non_root_socket(t):
    a = t.backend("cf-a", "record")
    sock, path, clog = _service(t, ["listen http [::1]:%d" % free_port(), "site cf.example", "    http " + a.addr])
    _, fds = _fetch(sock)
    image = os.path.join(t.tmp, "image.bin")
    with open(image, "wb") as f:
        f.write(os.pread(fds[0], os.fstat(fds[0]).st_size, 0))
    os.close(fds[0])
    os.chmod(image, 0o644)
    # the stand-in itself works: root's socket, sealed image
    p, ours, flog = _forwarder(t, _fake(t, "fake-ok", image, True), "fwd-ok")
    _routes_to(t, ours, b"cf.example", b"cf-a\n")
    # the same image unsealed: the forwarder's reader refuses it
    fake = _fake(t, "fake-unsealed", image, False)
    try:
        _forwarder(t, fake, "fwd-unsealed")
        check(False, "a forwarder started on an unsealed image")
    except gh.TestFailure as e:
        check("sealed against writes" in str(e) and "refused" in str(e), "not refused for its seals: %s" % e)
    # a socket made by someone else than root: refused before any byte
    fake = _fake(t, "fake-nobody", image, True, uid=65534)
    try:
        _forwarder(t, fake, "fwd-nobody")
        check(False, "a forwarder took its config from a socket nobody made")
    except gh.TestFailure as e:
        check("not root; refused" in str(e), "not refused for its owner: %s" % e)
