/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The client's Initial CRYPTO stream, reassembled by offset into a fixed
 * buffer owned by the caller (no allocation): frames may come out of order,
 * repeat, and overlap, across datagrams; bytes seen twice must agree.
 * Chromium sends a ~1.9 KB hello as 9-20 frames over two datagrams.
 */
#include <stddef.h>
#include <stdint.h>
#include "router/quic_packet.h"

/* The longest ClientHello (handshake header included) we reassemble. A
 * post-quantum hello is ~1.9 KB today; 8 KiB leaves room for bigger key
 * shares while keeping a pending flow near 9 KiB. */
#define QUIC_HELLO_CAP 8192u

struct quic_crypto_stream {
	size_t contiguous;		/* [0, contiguous) is all present */
	uint8_t have[QUIC_HELLO_CAP / 8];	/* one bit per byte present */
	uint8_t data[QUIC_HELLO_CAP];
};

void quic_stream_init(struct quic_crypto_stream *s);

/* Add a CRYPTO frame's n bytes at offset off. QUIC_E_CRYPTO_CAP when they
 * reach past QUIC_HELLO_CAP, QUIC_E_CRYPTO_MISMATCH when a byte already held
 * differs (the stream is then unusable). Cost: O(n). */
enum quic_error quic_stream_add(struct quic_crypto_stream *s, uint64_t off,
				const uint8_t *p, size_t n);
