# SPDX-License-Identifier: MIT
"""Helpers for the gatehouse integration suite (stdlib only).

Backends run in one asyncio loop on a background thread; tests talk to the
proxy with plain blocking sockets from their own thread. Everything a test
starts is registered with its Ctx and torn down in reverse order.
"""
import asyncio
import hashlib
import os
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
GATEHOUSE = os.path.join(BUILD, "gatehouse")
LISTENER = os.path.join(BUILD, "gatehouse-listener")
FORWARDER = os.path.join(BUILD, "gatehouse-forwarder")

TLS_ALERT_UNRECOGNIZED_NAME = b"\x15\x03\x03\x00\x02\x02\x70"


TESTS = []


def test(timeout=60):
    """Register a test (run in definition order) with a time limit."""
    def deco(fn):
        fn.timeout = timeout
        TESTS.append(fn)
        return fn
    return deco


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, _short(got), _short(want)))


def _short(v):
    if isinstance(v, (bytes, bytearray, str)) and len(v) > 300:
        return v[:200] + (b"..." if isinstance(v, (bytes, bytearray)) else "...") + v[-60:]
    return v


def wait_for(pred, timeout, what, interval=0.02):
    """Bounded poll: returns pred()'s truthy value or raises TestFailure."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- asyncio loop

LOOP = asyncio.new_event_loop()
threading.Thread(target=LOOP.run_forever, name="backends", daemon=True).start()


def on_loop(coro, timeout=15):
    return asyncio.run_coroutine_threadsafe(coro, LOOP).result(timeout)


# ---------------------------------------------------------------- ports

_ports_given = set()


def free_port():
    """A TCP port free on both [::] and 0.0.0.0 right now, and not one this
    run gave out before: the kernel may hand the same ephemeral port to two
    calls in a row (seen: a config with one port in two listen lines)."""
    while True:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _ports_given:
            _ports_given.add(p)
            return p


def dead_port():
    """A port on [::1] where nothing listens (connect is refused)."""
    return free_port()


# ---------------------------------------------------------------- certificates

class Certs:
    """Self-signed P-256 certificates, one per backend name, made once."""

    def __init__(self, tmpdir):
        self.dir = os.path.join(tmpdir, "certs")
        os.makedirs(self.dir, exist_ok=True)
        self.lock = threading.Lock()
        self.by_name = {}
        self.by_der = {}

    def get(self, name):
        with self.lock:
            if name in self.by_name:
                return self.by_name[name]
            crt = os.path.join(self.dir, name + ".crt")
            key = os.path.join(self.dir, name + ".key")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + name,
                            "-days", "2", "-keyout", key, "-out", crt],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(crt) as f:
                der = ssl.PEM_cert_to_DER_cert(f.read())
            # the CN as OpenSSL decodes it, not as we asked for it
            cn = None
            try:
                dec = ssl._ssl._test_decode_cert(crt)
                for rdn in dec.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
            except Exception:
                cn = name
            self.by_name[name] = (crt, key)
            self.by_der[hashlib.sha256(der).hexdigest()] = cn
            return crt, key

    def cn_of_der(self, der):
        return self.by_der.get(hashlib.sha256(der).hexdigest(), "<unknown certificate>")


CERTS = None  # set by the runner


# ---------------------------------------------------------------- backends

PATTERN = bytes(range(256)) * 4096  # 1 MiB tail of every after_eof answer


class ConnRecord:
    def __init__(self, peer):
        self.peer = peer
        self.data = bytearray()
        self.eof = False
        self.closed = False
        self.t_open = time.monotonic()
        self.sha_in = None
        self.n_in = 0


class Backend:
    """A TCP (optionally TLS) server on the backend loop.

    mode:
      http       read one request head, answer 200 "<name> <path>\\n", close
      record     save every byte; answer "<name>\\n" after the first bytes;
                 close after the client's EOF
      after_eof  save every byte until EOF, then answer "<name> <n> <sha256>\\n"
                 followed by PATTERN (1 MiB) and close (half-close check)
      trickle    after the first bytes, "tick N\\n" every 0.3 s, 8 times, then EOF
      shut_first send "<name>\\n" and shutdown(SHUT_WR) at once, then save
                 every byte until EOF
      echo       echo every byte back; shutdown(SHUT_WR) after EOF
      echo_body  skip one request head, then echo the rest, hashing it
    """

    def __init__(self, name, mode="http", host="::1", tls=False, port=0):
        self.name = name
        self.mode = mode
        self.host = host
        self.tls = tls
        self.conns = []
        self.writers = set()
        self.lock = threading.Lock()
        ctx = None
        if tls:
            crt, key = CERTS.get(name)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(crt, key)
        self.server = on_loop(asyncio.start_server(self._handle, host, port, ssl=ctx,
                                                   limit=1 << 20, backlog=4096))
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def addr(self):
        return "[%s]:%d" % (self.host, self.port) if ":" in self.host else "%s:%d" % (self.host, self.port)

    @property
    def accepted(self):
        return len(self.conns)

    def close(self):
        async def _close():
            self.server.close()
            for w in list(self.writers):
                try:
                    w.transport.abort()
                except Exception:
                    pass
        try:
            on_loop(_close(), 5)
        except Exception:
            pass

    async def _handle(self, reader, writer):
        rec = ConnRecord(writer.get_extra_info("peername"))
        with self.lock:
            self.conns.append(rec)
        self.writers.add(writer)
        try:
            await getattr(self, "_mode_" + self.mode)(reader, writer, rec)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ssl.SSLError, OSError):
            pass
        finally:
            rec.closed = True
            self.writers.discard(writer)
            try:
                writer.close()
            except Exception:
                pass

    async def _mode_http(self, reader, writer, rec):
        head = await reader.readuntil(b"\r\n\r\n")
        rec.data += head
        line = head.split(b"\r\n", 1)[0].split(b" ")
        path = line[1].decode("latin-1") if len(line) > 1 else "?"
        body = ("%s %s\n" % (self.name, path)).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async def _mode_record(self, reader, writer, rec):
        first = True
        while True:
            d = await reader.read(65536)
            if not d:
                rec.eof = True
                return
            rec.data += d
            if first:
                first = False
                writer.write(self.name.encode() + b"\n")
                await writer.drain()

    async def _mode_after_eof(self, reader, writer, rec):
        h = hashlib.sha256()
        while True:
            d = await reader.read(1 << 18)
            if not d:
                break
            rec.data += d
            h.update(d)
        rec.eof = True
        writer.write(("%s %d %s\n" % (self.name, len(rec.data), h.hexdigest())).encode())
        writer.write(PATTERN)
        await writer.drain()

    async def _mode_trickle(self, reader, writer, rec):
        rec.data += await reader.read(65536)
        for i in range(8):
            writer.write(b"tick %d\n" % i)
            await writer.drain()
            await asyncio.sleep(0.3)
        writer.write_eof()
        while await reader.read(65536):
            pass
        rec.eof = True

    async def _mode_shut_first(self, reader, writer, rec):
        writer.write(self.name.encode() + b"\n")
        await writer.drain()
        writer.write_eof()
        while True:
            d = await reader.read(1 << 18)
            if not d:
                rec.eof = True
                return
            rec.data += d

    async def _mode_echo(self, reader, writer, rec):
        while True:
            d = await reader.read(1 << 18)
            if not d:
                rec.eof = True
                break
            rec.data += d
            writer.write(d)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def _mode_echo_body(self, reader, writer, rec):
        head = await reader.readuntil(b"\r\n\r\n")
        rec.data += head
        h = hashlib.sha256()
        while True:
            d = await reader.read(1 << 20)
            if not d:
                rec.eof = True
                break
            h.update(d)
            rec.n_in += len(d)
            writer.write(d)
            await writer.drain()
        rec.sha_in = h.hexdigest()
        writer.write_eof()


class GreetAndCloseBackend:
    """A thread-per-accept backend as fast as Python gets: greets and
    half-closes right after accept(), then reads the client to EOF. Fast
    enough that the greeting and FIN are often queued before the proxy has
    handled its connect completion."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.bind(("::1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.addr = "[::1]:%d" % self.port
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                c.send(self.name.encode() + b"\n")
                c.shutdown(socket.SHUT_WR)
            except OSError:
                c.close()
                continue
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    @staticmethod
    def _drain(c):
        try:
            c.settimeout(30)
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- the launcher

class Gatehouse:
    """`gatehouse run -c FILE` in its own session; readiness from NOTIFY_SOCKET."""

    def __init__(self, ctx, config, forwarders=None, name="gh", nofile=None, nofile_hard=None, as_uid=None,
                 netns=None, pass_fds=(), ready_timeout=15):
        self.ctx = ctx
        self.conf = os.path.join(ctx.tmp, name + ".conf")
        with open(self.conf, "w") as f:
            f.write(config)
        self.logpath = os.path.join(ctx.tmp, name + ".log")
        self.logf = open(self.logpath, "wb")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        env = dict(os.environ)
        if netns:
            # abstract sockets belong to a network namespace: a path does not
            npath = os.path.join(ctx.tmp, name + ".notify")
            self.notify.bind(npath)
            env["NOTIFY_SOCKET"] = npath
        else:
            npath = "\0gh-it-%d-%d-%s" % (os.getpid(), id(self), name)
            self.notify.bind(npath)
            env["NOTIFY_SOCKET"] = "@" + npath[1:]
        args = [GATEHOUSE, "run", "-c", self.conf]
        if forwarders:
            args += ["--forwarders", str(forwarders)]
        pre = None
        if nofile:
            import resource
            hard = nofile_hard or resource.getrlimit(resource.RLIMIT_NOFILE)[1]

            def pre():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        if as_uid is not None:
            # an ordinary user: it must be able to read the config
            os.chmod(self.conf, 0o644)
            d = os.path.dirname(self.conf)
            while d not in ("/", ""):
                os.chmod(d, os.stat(d).st_mode | 0o011)
                d = os.path.dirname(d)

            def pre():
                os.setgroups([])
                os.setresgid(as_uid, as_uid, as_uid)
                os.setresuid(as_uid, as_uid, as_uid)
        if netns:
            args = ["ip", "netns", "exec", netns] + args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                     preexec_fn=pre, pass_fds=pass_fds)
        ctx.defer(self.stop)
        ctx.watch_log(self.logpath)
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("gatehouse run: no READY=1 within %ds; log:\n%s" % (timeout, self.log()[-2000:]))
            r, _, _ = select.select([self.notify], [], [], min(left, 0.2))
            if r:
                msg = self.notify.recv(4096)
                if b"READY=1" in msg.split(b"\n"):
                    return
            if self.proc.poll() is not None:
                raise TestFailure("gatehouse run exited %s before READY; log:\n%s"
                                  % (self.proc.returncode, self.log()[-2000:]))

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=5, count=1):
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: (lambda m: m if len(m) >= count else None)(rx.findall(self.log())),
                        timeout, "log line /%s/ x%d; log tail:\n%s" % (pattern, count, self.log()[-1500:]))

    def children(self):
        return children_of(self.proc.pid)

    def stop(self):
        rc = self.proc.poll()
        if rc is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                rc = self.proc.wait(8)
            except subprocess.TimeoutExpired:
                rc = None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if rc is None:
            self.proc.wait(5)
        self.notify.close()
        self.logf.close()
        return rc


def children_of(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return kids


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- clients

def connect(port, addr="::1", timeout=5, nodelay=True):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((addr, port))
    return s


def recv_all(s, timeout=5, limit=1 << 24):
    """Read until EOF. Returns (bytes, how) with how 'eof', 'reset' or 'timeout'."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(buf), "timeout"
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return bytes(buf), "timeout"
        except ConnectionResetError:
            return bytes(buf), "reset"
        if not d:
            return bytes(buf), "eof"
        buf += d
    return bytes(buf), "limit"


def recv_line(s, timeout=5):
    buf = bytearray()
    s.settimeout(timeout)
    while not buf.endswith(b"\n"):
        d = s.recv(1)
        if not d:
            break
        buf += d
    return bytes(buf)


def recv_exact(s, n, timeout=5):
    buf = bytearray()
    s.settimeout(timeout)
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return bytes(buf)


def parse_http(raw):
    """(status, {lower header: value}, body) of one HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        raise TestFailure("not an HTTP response: %r" % raw[:200])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(m.group(1)), hdrs, body


def http_exchange(port, request, addr="::1", timeout=5):
    """Send raw request bytes, read to EOF, return (status, headers, body, raw)."""
    s = connect(port, addr, timeout)
    try:
        s.sendall(request)
        raw, how = recv_all(s, timeout)
    finally:
        s.close()
    if not raw:
        raise TestFailure("no answer to %r (%s)" % (request[:80], how))
    st, h, b = parse_http(raw)
    return st, h, b, raw


def http_get(port, host, path="/", addr="::1", timeout=5):
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode()
    return http_exchange(port, req, addr, timeout)


def tls_client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_get(port, sni, addr="::1", timeout=5):
    """Real TLS client: returns (CN of the server's certificate, body)."""
    s = connect(port, addr, timeout)
    try:
        t = tls_client_ctx().wrap_socket(s, server_hostname=sni)
        der = t.getpeercert(binary_form=True)
        t.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni).encode())
        raw, _ = recv_all(t, timeout)
        t.close()
    finally:
        s.close()
    body = parse_http(raw)[2] if raw else b""
    return CERTS.cn_of_der(der), body


# ---------------------------------------------------------------- ClientHello crafting

def client_hello(sni):
    """The first flight of a real libssl client (via Python's ssl), as records."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_client_ctx().wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def records_to_handshake(wire):
    hs = bytearray()
    p = 0
    while p < len(wire):
        typ, ver, ln = struct.unpack(">BHH", wire[p:p + 5])
        if typ != 0x16:
            raise ValueError("record type %d" % typ)
        hs += wire[p + 5:p + 5 + ln]
        p += 5 + ln
    return bytes(hs)


def hello_sni(hs):
    """SNI host_name of a handshake ClientHello (for self-checks), or None."""
    exts = _hello_exts(hs)[1]
    for typ, data in exts:
        if typ == 0:
            n = struct.unpack(">H", data[3:5])[0]
            return data[5:5 + n].decode()
    return None


def _hello_exts(hs):
    if hs[0] != 1:
        raise ValueError("not a ClientHello")
    ln = int.from_bytes(hs[1:4], "big")
    body = hs[4:4 + ln]
    p = 2 + 32
    p += 1 + body[p]
    p += 2 + int.from_bytes(body[p:p + 2], "big")
    p += 1 + body[p]
    elen = int.from_bytes(body[p:p + 2], "big")
    raw = body[p + 2:p + 2 + elen]
    exts, q = [], 0
    while q < len(raw):
        t, l = struct.unpack(">HH", raw[q:q + 4])
        exts.append((t, raw[q + 4:q + 4 + l]))
        q += 4 + l
    return body[:p], exts


def hello_with_padding(hs, body_len=None, pad=None):
    """Rewrite a handshake ClientHello with a padding extension (type 21) of
    zero bytes, so that the handshake body is body_len bytes (or the padding
    is pad bytes). Fixes the handshake and extensions lengths."""
    prefix, exts = _hello_exts(hs)
    exts = [(t, d) for t, d in exts if t != 21]
    rest = b"".join(struct.pack(">HH", t, len(d)) + d for t, d in exts)
    if pad is None:
        pad = body_len - (len(prefix) + 2 + len(rest) + 4)
    if pad < 0 or pad > 0xffff:
        raise ValueError("padding %d" % pad)
    allx = rest + struct.pack(">HH", 21, pad) + b"\0" * pad
    body = prefix + struct.pack(">H", len(allx)) + allx
    return b"\x01" + len(body).to_bytes(3, "big") + body


def frame(hs, sizes=None, max_record=16384, version=b"\x03\x01"):
    """Wrap handshake bytes in TLS records: fragments of the given sizes (the
    last takes the rest), or of at most max_record bytes."""
    out, p = bytearray(), 0
    sizes = list(sizes or [])
    while p < len(hs):
        n = sizes.pop(0) if sizes else max_record
        frag = hs[p:p + n]
        out += b"\x16" + version + struct.pack(">H", len(frag)) + frag
        p += len(frag)
    return bytes(out)


def big_hello(sni, body_len=None, pad=None, **kw):
    hs = hello_with_padding(records_to_handshake(client_hello(sni)), body_len=body_len, pad=pad)
    return frame(hs, **kw), hs


# ---------------------------------------------------------------- /proc/net/tcp

def _tcp_table():
    rows = []
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(fn) as f:
            next(f)
            for line in f:
                x = line.split()
                lport = int(x[1].rsplit(":", 1)[1], 16)
                rport = int(x[2].rsplit(":", 1)[1], 16)
                rows.append((lport, rport, int(x[9])))
    return rows


def socket_inode(local_port, remote_port):
    for lp, rp, ino in _tcp_table():
        if lp == local_port and rp == remote_port and ino:
            return ino
    return None


def pid_socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                l = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if l.startswith("socket:["):
                out.add(int(l[8:-1]))
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- PROXY protocol

PP2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def parse_proxy(data):
    """Parse a PROXY v1 or v2 header at the start of data.
    Returns (info dict, rest). Raises TestFailure if there is none."""
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        check(0 < end <= 107, "PROXY v1 line not terminated within 107 bytes: %r" % data[:120])
        f = data[:end].decode("ascii").split(" ")
        check(len(f) == 6, "PROXY v1 line has %d fields: %r" % (len(f), data[:end]))
        return ({"version": 1, "proto": f[1], "src": f[2], "dst": f[3],
                 "sport": int(f[4]), "dport": int(f[5])}, data[end + 2:])
    if data.startswith(PP2_SIG):
        vc, fam, ln = struct.unpack(">BBH", data[12:16])
        body = data[16:16 + ln]
        info = {"version": 2, "ver_cmd": vc, "fam": fam, "len": ln}
        if fam == 0x11:
            s, d, sp, dp = struct.unpack(">4s4sHH", body[:12])
            info.update(src=socket.inet_ntop(socket.AF_INET, s), dst=socket.inet_ntop(socket.AF_INET, d),
                        sport=sp, dport=dp)
        elif fam == 0x21:
            s, d, sp, dp = struct.unpack(">16s16sHH", body[:36])
            info.update(src=socket.inet_ntop(socket.AF_INET6, s), dst=socket.inet_ntop(socket.AF_INET6, d),
                        sport=sp, dport=dp)
        return info, data[16 + ln:]
    raise TestFailure("no PROXY header at the start of %r" % data[:60])


# ---------------------------------------------------------------- /proc numbers

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid, field="VmRSS"):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM, ...), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu_seconds(pid):
    """utime + stime of a process so far, in seconds (0.0 if it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            x = f.read().rsplit(") ", 1)[1].split()
        return (int(x[11]) + int(x[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def daemon_name(pid):
    """A daemon's name: its comm (cut at 15 characters), or, for a daemon run
    under a tool like valgrind, the first gatehouse-* program in its cmdline."""
    comm = proc_comm(pid) or ""
    if comm.startswith("gatehouse"):
        return comm
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return comm
    for a in args:
        b = os.path.basename(a.decode("utf-8", "replace"))
        if b.startswith("gatehouse-"):
            return b
    return comm


def daemon_pids(g, prefix):
    """Live children of a Gatehouse whose name starts with prefix
    ("gatehouse-forw", "gatehouse-list")."""
    return sorted(p for p in g.children() if daemon_name(p).startswith(prefix) and pid_alive(p))


# ---------------------------------------------------------------- a forwarder alone

def lone_daemon(t, name, binary, conf, fds, names=None, what="daemon"):
    """Start binary -c conf on its own with fds as LISTEN_FDS 3.. (named by
    names, LISTEN_FDNAMES) and its own NOTIFY_SOCKET; returns (proc, log())
    once it said READY=1. Its stdout and stderr are the log."""
    logpath = os.path.join(t.tmp, name + ".log")
    logf = open(logpath, "wb")
    t.defer(logf.close)
    t.watch_log(logpath)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nname = "\0gh-it-%s-%d" % (name, os.getpid())
    notify.bind(nname)
    t.defer(notify.close)
    env = dict(os.environ, NOTIFY_SOCKET="@" + nname[1:])
    exports = "export LISTEN_PID=$$ LISTEN_FDS=%d%s; " % (
        len(fds), " LISTEN_FDNAMES=" + ":".join(names) if names else "")
    moves = " ".join("%d<&%d" % (3 + i, fd) for i, fd in enumerate(fds))
    closes = " ".join("%d<&-" % fd for fd in fds)
    proc = subprocess.Popen(
        ["bash", "-c", exports + 'exec "$0" -c "$1" %s %s' % (moves, closes), binary, conf],
        pass_fds=tuple(fds), stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
        env=env, start_new_session=True)

    def log():
        with open(logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")
    # READY=1 or the daemon's exit, whichever comes first (a pidfd says
    # the exit: a daemon that refuses to start fails the test at once)
    import select
    pidfd = os.pidfd_open(proc.pid)
    try:
        ready_fds, _, _ = select.select([notify, pidfd], [], [], 10)
        ready = notify in ready_fds and b"READY=1" in notify.recv(4096)
    finally:
        os.close(pidfd)
    if not ready:
        proc.kill()
        proc.wait(5)
        raise TestFailure("%s sent no READY=1; log: %s" % (what, log()))
    return proc, log


def lone_forwarder(t, conf_lines, name="fwd"):
    """A gatehouse-forwarder on its own, its channel a socketpair whose
    other end the test holds (a hostile listener). Returns (proc, channel,
    log())."""
    conf = os.path.join(t.tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("\n".join(conf_lines + [""]))
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    holder = {}

    def stop():
        ours.close()    # a forwarder whose channel closes finishes its relays and exits
        proc = holder.get("proc")
        if proc is None:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    t.defer(stop)
    try:
        proc, log = lone_daemon(t, name, FORWARDER, conf, [theirs.fileno()], what="forwarder")
    finally:
        theirs.close()
    holder["proc"] = proc
    return proc, ours, log


# ---------------------------------------------------------------- network namespaces

class Netns:
    """A network namespace joined to the host by a veth pair: the host side
    is <net>::1/64, the namespace side <net>::2/64 (addresses added with
    nodad). Torn down with the test."""

    def __init__(self, ctx):
        import random
        if os.geteuid() != 0:
            raise TestFailure("needs root for ip netns")
        tag = "%d%03d" % (os.getpid() % 10000, random.randrange(1000))
        self.name, self.va, self.vb = "gh-rb-" + tag, "grba" + tag, "grbb" + tag
        self.net = "fd00:ac:%x" % random.randrange(1, 0xffff)
        self.host_ip, self.ns_ip = self.net + "::1", self.net + "::2"
        self.ip("netns", "add", self.name)
        ctx.defer(self.ip, "netns", "del", self.name, check_rc=False)
        self.ip("link", "add", self.va, "type", "veth", "peer", "name", self.vb, "netns", self.name)
        ctx.defer(self.ip, "link", "del", self.va, check_rc=False)
        self.ip("addr", "add", self.host_ip + "/64", "dev", self.va, "nodad")
        self.ip("link", "set", self.va, "up")
        self.ip("-n", self.name, "addr", "add", self.ns_ip + "/64", "dev", self.vb, "nodad")
        self.ip("-n", self.name, "link", "set", self.vb, "up")
        self.ip("-n", self.name, "link", "set", "lo", "up")

    @staticmethod
    def ip(*a, check_rc=True):
        r = subprocess.run(["ip"] + list(a), capture_output=True, timeout=10)
        if check_rc and r.returncode:
            raise TestFailure("ip %s: %s" % (" ".join(a), r.stderr.decode().strip()))
        return r

    def black_hole(self):
        """A /64 routed from the host into the namespace, where a blackhole
        route drops every packet without an answer (no RST, no ICMP): a
        connect() to it times out. Returns one address in it."""
        import random
        hole = "fd00:dead:%x" % random.randrange(1, 0xffff)
        self.ip("-6", "route", "add", hole + "::/64", "via", self.ns_ip, "dev", self.va)
        self.ip("-n", self.name, "-6", "route", "add", "blackhole", hole + "::/64")
        return hole + "::5"


# ---------------------------------------------------------------- thread backends

class ThreadBackend:
    """A plain-socket TCP server, one thread per connection, for server
    behaviours asyncio hides. Counts connections alive at once (live,
    max_live) exactly, under a lock.

    mode:
      hold    after the first bytes answer "<name>\\n", then read to EOF
      reset   read one request head, send `payload`, wait `delay` s, then
              close with SO_LINGER 0 (RST)
      close   close at once after accept() (nothing read, nothing sent)
      stuck   accept and never read; hold the socket until closed
    """

    def __init__(self, name, mode="hold", host="::1", payload=b"", delay=0.3):
        self.name, self.mode, self.payload, self.delay = name, mode, payload, delay
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.addr = "[%s]:%d" % (host, self.port)
        self.lock = threading.Lock()
        self.accepted = 0
        self.live = 0
        self.max_live = 0
        self.conns = []          # accepted sockets (closed by close())
        self.records = []        # per connection: dict(data, eof, t_accept)
        self.closed = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            rec = {"data": bytearray(), "eof": False, "t_accept": time.monotonic(), "error": None}
            with self.lock:
                self.accepted += 1
                self.live += 1
                self.max_live = max(self.max_live, self.live)
                self.conns.append(c)
                self.records.append(rec)
            threading.Thread(target=self._one, args=(c, rec), daemon=True).start()

    def _one(self, c, rec):
        try:
            getattr(self, "_mode_" + self.mode)(c, rec)
        except OSError as e:
            rec["error"] = e
        finally:
            with self.lock:
                self.live -= 1
            try:
                c.close()
            except OSError:
                pass

    def _mode_hold(self, c, rec):
        first = True
        while True:
            d = c.recv(65536)
            if not d:
                rec["eof"] = True
                return
            rec["data"] += d
            if first:
                first = False
                c.sendall(self.name.encode() + b"\n")

    def _mode_reset(self, c, rec):
        c.settimeout(10)
        while b"\r\n\r\n" not in rec["data"]:
            d = c.recv(65536)
            if not d:
                return
            rec["data"] += d
        c.sendall(self.payload)
        time.sleep(self.delay)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _mode_close(self, c, rec):
        pass

    def _mode_stuck(self, c, rec):
        while not self.closed:
            time.sleep(0.05)

    def close(self):
        self.closed = True
        self.sock.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def readable(socks, timeout):
    """The sockets of socks that are readable (or hung up) within timeout
    seconds: poll(), so fds above FD_SETSIZE work too."""
    p = select.poll()
    by_fd = {}
    for s in socks:
        by_fd[s.fileno()] = s
        p.register(s.fileno(), select.POLLIN)
    return [by_fd[fd] for fd, ev in p.poll(max(0, int(timeout * 1000)))]


def writable(sock, timeout):
    p = select.poll()
    p.register(sock.fileno(), select.POLLOUT)
    return bool(p.poll(max(0, int(timeout * 1000))))
