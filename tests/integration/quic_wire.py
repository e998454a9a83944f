# SPDX-License-Identifier: MIT
"""QUIC v1 client Initial packets for tests, written from RFC 9000 §17.2.2
and RFC 9001 §5 with Python's `cryptography` (an implementation other than
the one under test): the public Initial keys from a DCID, the CRYPTO frames
of a ClientHello, AES-128-GCM and header protection. Enough to open many
flows from many addresses without a QUIC stack."""
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")


def _expand_label(secret, label, length):
    full = b"tls13 " + label
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def client_keys(dcid):
    initial = hmac.new(SALT_V1, dcid, hashlib.sha256).digest()
    secret = _expand_label(initial, b"client in", 32)
    return (_expand_label(secret, b"quic key", 16), _expand_label(secret, b"quic iv", 12),
            _expand_label(secret, b"quic hp", 16))


def _varint(v):
    if v < 64:
        return bytes([v])
    if v < 16384:
        return struct.pack(">H", 0x4000 | v)
    return struct.pack(">I", 0x80000000 | v)


def crypto_frame(offset, data):
    return b"\x06" + _varint(offset) + _varint(len(data)) + data


def initial(dcid, scid, frames, pn=0, size=1200):
    """One protected Initial packet carrying frames, padded so that the
    datagram is `size` bytes."""
    key, iv, hp = client_keys(dcid)
    pn_len = 2
    head = bytes([0xc0 | (pn_len - 1)]) + struct.pack(">I", 1) + bytes([len(dcid)]) + dcid + \
        bytes([len(scid)]) + scid + b"\x00"
    # Length is a 2-byte varint: pn + payload + tag
    payload_len = size - len(head) - 2 - pn_len - 16
    payload = frames + b"\x00" * (payload_len - len(frames))
    if payload_len < len(frames):
        raise ValueError("frames do not fit %d bytes" % size)
    head += struct.pack(">H", 0x4000 | (pn_len + len(payload) + 16))
    pn_off = len(head)
    head += struct.pack(">H", pn)
    nonce = bytes(a ^ b for a, b in zip(iv, pn.to_bytes(12, "big")))
    ct = AESGCM(key).encrypt(nonce, payload, head)
    pkt = bytearray(head + ct)
    sample = bytes(pkt[pn_off + 4:pn_off + 20])
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    pkt[0] ^= mask[0] & 0x0f
    for i in range(pn_len):
        pkt[pn_off + i] ^= mask[1 + i]
    return bytes(pkt)


def hello_initial(hello, dcid=None, part=None):
    """A client's first Initial for a handshake ClientHello `hello`, with a
    random DCID (returned); `part` (bytes of the hello) sends only its
    start, so that the flow waits for the rest."""
    dcid = dcid or os.urandom(8)
    data = hello if part is None else hello[:part]
    return initial(dcid, os.urandom(8), crypto_frame(0, data)), dcid
