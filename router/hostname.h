/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Host name normalisation (DESIGN.md "Names and routing"): one pass,
 * explicit character classes, lowercase on the way.
 *  - lowercase ASCII; strip one trailing dot; strip a ":port" (digits only,
 *    1-65535 not checked beyond 5 digits), IPv6 literals included:
 *    "[2001:DB8::1]:80" -> "[2001:db8::1]"
 *  - refuse: empty name, empty label ("a..b", ".a", "a.."), bytes outside
 *    [a-z0-9-_.] (plus the hex digits, ':' and '.' inside "[...]"),
 *    a label over 63 bytes, a result over 253 bytes.
 */
#include <stddef.h>
#include <stdint.h>

#define HOSTNAME_MAX 253u
#define HOSTNAME_LABEL_MAX 63u

enum hostname_status {
	HOSTNAME_OK = 0,
	HOSTNAME_E_EMPTY,		/* nothing left after stripping */
	HOSTNAME_E_CHAR,		/* byte outside the allowed set (NUL, space, '/', ...) */
	HOSTNAME_E_EMPTY_LABEL,		/* "a..b", ".a", "a.." */
	HOSTNAME_E_LABEL_TOO_LONG,	/* a label over 63 bytes */
	HOSTNAME_E_TOO_LONG,		/* over 253 bytes after normalisation */
	HOSTNAME_E_PORT,		/* ":" followed by other than 0-5 digits, or port 0 / > 65535
					 * ("host:" with an empty port is accepted, RFC 3986) */
	HOSTNAME_E_LITERAL,		/* malformed "[...]" IPv6 literal */
};

/* Normalise in[0..len) into out (NUL-terminated, *out_len set).
 * out must hold HOSTNAME_MAX + 1 bytes. On error out is unspecified. */
enum hostname_status hostname_normalize(const uint8_t *in, size_t len, char *out, size_t *out_len);

/* Like hostname_normalize() but also accepts a leading "*." wildcard label,
 * for names written in the config ("*.beef.example"). No port allowed. */
enum hostname_status hostname_normalize_pattern(const uint8_t *in, size_t len, char *out, size_t *out_len);

/* The port written in in[0..len), an authority hostname_normalize() accepted
 * (so at most 5 digits): its number (leading zeros read as decimal), or 0 if
 * it names none ("host", "host:", "[::1]"). */
unsigned hostname_port(const uint8_t *in, size_t len);

const char *hostname_status_str(enum hostname_status s);
