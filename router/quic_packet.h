/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * QUIC long-header packets of versions 1 and 2 (RFC 9000 §17.2, RFC 9369
 * §3.2): parse the clear part of the header, remove header protection and
 * decrypt a packet with given keys, and build (protect) one.
 *
 * Parsing is pure and reads nothing past buf[len - 1]; opening needs a
 * struct quic_crypto and writes only its scratch buffer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "router/quic_crypto.h"

enum quic_status {
	QUIC_NEED_MORE,		/* consistent so far: wait for more datagrams */
	QUIC_DONE,		/* finished: a header parsed, a hello complete */
	QUIC_INVALID,		/* QUIC of a version we know, but broken: see the error */
	QUIC_NOT_QUIC,		/* not a long header of version 1 or 2 (short header,
				 * version negotiation, unknown version, empty) */
};

enum quic_error {
	QUIC_E_NONE = 0,
	QUIC_E_SHORT,		/* datagram ends inside the header */
	QUIC_E_FIXED_BIT,	/* the fixed bit (0x40) is 0 */
	QUIC_E_CID_LEN,		/* a connection ID longer than 20 bytes */
	QUIC_E_TOKEN_LEN,	/* token length truncated or past the datagram */
	QUIC_E_LENGTH,		/* Length truncated, past the datagram, or too short
				 * for a packet number and the header protection sample */
	QUIC_E_DGRAM_SIZE,	/* an Initial in a datagram under 1200 bytes */
	QUIC_E_NOT_INITIAL,	/* a new flow's first packet is not an Initial */
	QUIC_E_FLOW_MISMATCH,	/* version or DCID differ from the flow's first Initial */
	QUIC_E_DECRYPT,		/* authentication failed: not protected with these keys */
	QUIC_E_RESERVED_BITS,	/* reserved header bits set after protection removed */
	QUIC_E_EMPTY_PAYLOAD,	/* a packet with no frames */
	QUIC_E_FRAME_TYPE,	/* a frame type not allowed in an Initial packet */
	QUIC_E_FRAME_ENCODING,	/* a frame truncated or a field out of range */
	QUIC_E_CRYPTO_CAP,	/* CRYPTO data past QUIC_HELLO_CAP */
	QUIC_E_CRYPTO_MISMATCH,	/* overlapping CRYPTO data disagrees */
	QUIC_E_HELLO,		/* CRYPTO data is not a ClientHello we accept */
	QUIC_E_LIB,		/* libcrypto failed */
};

/* Long header packet types, as version 1 numbers them. */
enum quic_packet_type {
	QUIC_PT_INITIAL = 0,
	QUIC_PT_0RTT = 1,
	QUIC_PT_HANDSHAKE = 2,
	QUIC_PT_RETRY = 3,
};

struct quic_long_header {
	uint32_t version;
	enum quic_packet_type type;
	uint8_t dcid_len, scid_len;
	uint8_t dcid[QUIC_CID_MAX];
	uint8_t scid[QUIC_CID_MAX];
	size_t token_off, token_len;	/* Initial only; 0 otherwise */
	size_t pn_off;			/* offset of the (protected) packet number */
	size_t end;			/* offset just past the packet; a Retry
					 * takes the rest of the datagram */
};

/* A QUIC variable-length integer (RFC 9000 §16): bytes used, 0 if
 * truncated. */
size_t quic_varint_read(const uint8_t *p, size_t n, uint64_t *v);
/* Bytes quic_varint_write() takes for v (v < 2^62). */
size_t quic_varint_size(uint64_t v);
/* Minimal encoding of v; returns its size. */
size_t quic_varint_write(uint8_t *p, uint64_t v);

/*
 * Parse the long header at buf (a datagram, or what follows the previous
 * packet in it). QUIC_DONE fills h; QUIC_INVALID sets *err; QUIC_NOT_QUIC
 * when the bytes are not a v1/v2 long header at all.
 */
enum quic_status quic_long_header_parse(const uint8_t *buf, size_t len,
					struct quic_long_header *h, enum quic_error *err);

struct quic_opened {
	uint64_t pn;			/* full packet number */
	unsigned pn_len;		/* 1..4 */
	const uint8_t *payload;		/* in the crypto scratch buffer */
	size_t payload_len;		/* > 0 */
};

/*
 * Remove header protection and decrypt the packet h describes, starting at
 * buf (not a Retry). next_pn is the packet number expected next in this
 * number space (0 for a flow's first packet): the truncated number is
 * expanded around it (RFC 9000 §A.3). buf is not modified.
 */
enum quic_error quic_packet_open(struct quic_crypto *c, const struct quic_keys *k,
				 const uint8_t *buf, const struct quic_long_header *h,
				 uint64_t next_pn, struct quic_opened *o);

struct quic_packet_spec {
	uint32_t version;
	enum quic_packet_type type;	/* Initial, 0-RTT or Handshake */
	const uint8_t *dcid, *scid;
	size_t dcid_len, scid_len;	/* <= QUIC_CID_MAX */
	const uint8_t *token;		/* Initial only */
	size_t token_len;
	uint64_t pn;
	unsigned pn_len;		/* 1..4; the low pn_len bytes of pn are sent */
};

/*
 * Build a protected packet carrying payload (frames) into out. Returns its
 * length, or 0 when it does not fit cap, the spec is out of range, or
 * payload_len + pn_len < 4 (too short to sample for header protection:
 * pad with PADDING frames first).
 */
size_t quic_packet_seal(struct quic_crypto *c, const struct quic_keys *k,
			const struct quic_packet_spec *s, const uint8_t *payload,
			size_t payload_len, uint8_t *out, size_t cap);

/* Short lowercase description for logs, e.g. "bad frame type". */
const char *quic_error_str(enum quic_error e);
