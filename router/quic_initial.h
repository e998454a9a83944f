/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The ClientHello of a QUIC connection, read from the client's Initial
 * packets (RFC 9000 §17.2.2, RFC 9001 §4, §5.2) without any secret: the
 * pure core of QUIC passthrough. The caller feeds one flow's client
 * datagrams in arrival order; each call says whether the hello is complete
 * (its SNI then routes the flow), still incomplete, or broken.
 *
 * Before giving a datagram a flow, quic_long_header_parse() on its first
 * packet (no crypto, no state) turns away what is not a v1/v2 long header
 * Initial in a datagram of 1200 bytes or more; only then is a flow worth
 * its keys (about 8 us to derive and fail on a forged packet).
 *
 * State is one caller-owned struct quic_flow_hello per pending flow
 * (9 664 bytes on x86-64: 10 000 pending flows hold 92 MiB; no
 * allocation). Keys are derived once, from the flow's first
 * Initial. The caller caps datagrams per flow and pending flows.
 *
 * Coalesced packets (RFC 9000 §12.2): Initial, 0-RTT and Handshake packets
 * are delimited by their Length fields and reported in struct
 * quic_dgram_info; only Initials are opened. Walking stops, without error,
 * at a short-header packet, at a packet for another version or DCID, or at
 * anything unparsable after the first packet: the rest is left to the
 * backend, which sees every byte anyway.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "router/quic_packet.h"
#include "router/quic_reassembly.h"
#include "router/tls_hello.h"

/* RFC 9000 §14.1: a server discards a client Initial in a smaller datagram */
#define QUIC_MIN_INITIAL_DATAGRAM 1200u
/* packets of one datagram we walk; more are ignored (clients send 1-3) */
#define QUIC_DGRAM_MAX_PACKETS 8u

/* Frames of one decrypted packet. */
struct quic_frames {
	unsigned crypto, ack, ping;
	bool close;			/* CONNECTION_CLOSE (0x1c) seen */
	uint64_t close_error;		/* its error code */
	uint64_t close_frame_type;	/* its frame type field */
};

/*
 * Walk a decrypted Initial payload: PADDING, PING, ACK, CRYPTO and
 * CONNECTION_CLOSE (0x1c) only (RFC 9000 §12.4). CRYPTO data goes into s
 * (or nowhere if s is NULL); f counts what was seen.
 */
enum quic_error quic_frames_walk(const uint8_t *p, size_t n, struct quic_crypto_stream *s,
				 struct quic_frames *f);

struct quic_flow_hello {
	/* set by the flow's first Initial that authenticates */
	bool started;
	uint32_t version;
	uint8_t dcid_len, scid_len;
	uint8_t dcid[QUIC_CID_MAX];	/* the client's original DCID: keys come from it */
	uint8_t scid[QUIC_CID_MAX];
	size_t token_len;		/* of that first Initial */
	/* updated by every Initial */
	unsigned pn_len;		/* packet number length of the last Initial */
	uint64_t next_pn;		/* one past the largest packet number seen */
	unsigned datagrams;		/* datagrams that carried an Initial we opened */
	bool client_closed;		/* the client sent CONNECTION_CLOSE */
	/* outcome */
	bool done, failed;		/* failed: every later call returns INVALID */
	enum quic_error error;		/* of the last INVALID */
	struct tls_hello hello;		/* QUIC_DONE: sni; QUIC_E_HELLO: error */
	struct quic_keys keys;		/* client Initial keys */
	struct quic_crypto_stream stream;
};

struct quic_dgram_info {
	unsigned packets;		/* packets delimited, first one included */
	size_t end[QUIC_DGRAM_MAX_PACKETS];	/* offset just past each */
	enum quic_packet_type type[QUIC_DGRAM_MAX_PACKETS];
	size_t rest;			/* where walking stopped, the last end[]:
					 * == len unless trailing bytes were left
					 * alone (on INVALID, the failing packet's end) */
	unsigned initials;		/* Initial packets opened */
};

void quic_flow_hello_init(struct quic_flow_hello *f);

/*
 * Feed one client datagram of the flow.
 *   QUIC_NEED_MORE  consistent so far (also a 0-RTT-only datagram of a
 *                   started flow): keep the datagram, wait for the next.
 *   QUIC_DONE       f->hello holds the complete ClientHello's SNI. Later
 *                   calls return QUIC_DONE without reading.
 *   QUIC_INVALID    f->error says why. With f->failed the flow is broken
 *                   (an authenticated packet was malformed); without it only
 *                   this datagram is (forged, truncated, wrong DCID) and f is
 *                   unchanged: drop the datagram, keep the flow.
 *   QUIC_NOT_QUIC   the datagram is not a v1/v2 long header; f unchanged.
 * info, if not NULL, describes the datagram's packets.
 */
enum quic_status quic_hello_feed(struct quic_crypto *c, struct quic_flow_hello *f,
				 const uint8_t *buf, size_t len, struct quic_dgram_info *info);
