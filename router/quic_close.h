/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The fast failure for a QUIC client whose name routes nowhere: the Initial
 * packet a server would send to refuse the handshake, carrying
 * CONNECTION_CLOSE (0x1c) with a CRYPTO_ERROR for a TLS alert (RFC 9001
 * §4.8: 0x0100 + alert). It is protected with the server Initial keys,
 * which are as public as the client's (derived from the client's original
 * DCID), so the proxy needs no secret to send it.
 *
 * Why answer rather than drop: the client learns at once that the name is
 * not served here instead of retrying for its whole handshake timeout, as
 * on TCP. Why it is safe: it is at most 71 bytes and never larger than the
 * client's datagram (at least 1200 bytes), so a spoofed source gets less
 * than it sent (RFC 9000 §8.1 allows 3x); it needs no secret and no state;
 * ngtcp2's client reads it as CONNECTION_CLOSE CRYPTO_ERROR(0x170).
 */
#include <stddef.h>
#include <stdint.h>
#include "router/quic_initial.h"

#define QUIC_CRYPTO_ERROR(alert)	(0x0100u + (alert))
#define QUIC_ALERT_UNRECOGNIZED_NAME	112u

/*
 * Build the packet for a started flow into out. cap must be at most the
 * size of the client's datagram the answer goes to. Returns its length, or
 * 0 if it does not fit cap or the flow has not started. The packet's DCID
 * is the client's SCID and its SCID the client's original DCID, as a
 * server that kept the client's choice would send.
 */
size_t quic_close_build(struct quic_crypto *c, const struct quic_flow_hello *f,
			uint64_t error, uint8_t *out, size_t cap);
