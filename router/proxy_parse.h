/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Incoming PROXY protocol headers, v1 (text) and v2 (binary), as specified by
 * HAProxy's proxy-protocol.txt. Pure and stateless like http_head.h: called
 * again on the whole prefix each time more bytes arrive (the listener peeks),
 * never reads past buf[len - 1], never allocates.
 *
 * Strictness (a trusted balancer sends exactly this; anything else is a bug
 * or an attacker who reached a trusted address):
 *   v1  "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n", single spaces, CRLF (a bare
 *       LF is invalid), at most 107 bytes with the CRLF, addresses in the
 *       family the protocol word names (inet_pton: dotted quads without
 *       leading zeros), ports decimal 0..65535 without leading zeros.
 *       "PROXY UNKNOWN" is followed by anything but CR or LF up to the CRLF
 *       (the spec says to ignore it).
 *   v2  signature, version 2, command LOCAL or PROXY; PROXY over TCP/IPv4 or
 *       TCP/IPv6 carries addresses; PROXY with AF_UNSPEC or AF_UNIX (stream)
 *       has none usable (UNKNOWN below); datagram transports and undefined
 *       families are invalid. The address block must be long enough for its
 *       family; what follows it must be whole TLVs (type, 16-bit length,
 *       value), which are skipped unread. LOCAL ignores the whole block (the
 *       spec says so), whatever its family. The whole header is bounded by
 *       PROXY_PARSE_MAX: a longer one is invalid as soon as its length field
 *       arrives.
 *
 * Answers are consistent over prefixes: a prefix of a valid header is always
 * NEED_MORE; once a prefix is DONE or INVALID every longer buffer gives the
 * same answer. Invalid input is refused as early as its first wrong byte
 * where that is cheap (signature, protocol word, characters, lengths); the
 * v1 fields are checked when the CRLF arrives.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "router/proxy_header.h"

#define PROXY_V1_MAX 107u		/* whole v1 line with CRLF */
#define PROXY_V2_HEAD 16u		/* signature, ver/cmd, family, length */
#define PROXY_PARSE_MAX 1024u		/* whole v2 header, TLVs included */

enum proxy_parse_status {
	PROXY_PARSE_NEED_MORE,		/* consistent so far */
	PROXY_PARSE_DONE,		/* out->header_len bytes are the header */
	PROXY_PARSE_INVALID,		/* out->error says why */
};

enum proxy_kind {
	PROXY_KIND_PROXIED,		/* src/dst are the client and the address it reached */
	PROXY_KIND_LOCAL,		/* v2 LOCAL: the balancer itself (health check) */
	PROXY_KIND_UNKNOWN,		/* v1 UNKNOWN, v2 PROXY without an IP address */
};

struct proxy_parse_result {
	int version;			/* 1 or 2, once known (else 0) */
	enum proxy_kind kind;		/* DONE */
	/* PROXY_KIND_PROXIED: as proxy_endpoint_from_sockaddr() gives them, so
	 * an IPv4-mapped IPv6 address in a TCP6 header comes back AF_INET */
	struct proxy_endpoint src, dst;
	size_t header_len;		/* DONE: bytes to consume before the stream */
	const char *error;		/* INVALID: static text for logs */
};

enum proxy_parse_status proxy_parse(const uint8_t *buf, size_t len, struct proxy_parse_result *out);
