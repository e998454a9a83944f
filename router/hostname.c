/* SPDX-License-Identifier: MIT */
/*
 * Host name normalisation (see hostname.h): one pass over the input, each
 * byte sorted by an explicit class, lowercased as it is copied out. No
 * allocation, no locale: the same bytes always give the same answer.
 *
 * Choices the header leaves open:
 *  - "host:" (a colon with an empty port) is accepted as "no port":
 *    RFC 3986 §3.2.3 has port = *DIGIT, so an empty port is a valid
 *    authority and curl/browsers may send it.
 *  - "." and ".:80" are HOSTNAME_E_EMPTY (nothing is left once the one
 *    trailing dot is gone); "a..", "..", ".a" are HOSTNAME_E_EMPTY_LABEL.
 *  - Port digits may have leading zeros ("a:080"), at most 5 digits.
 *  - IPv6 literals are checked by character class only (hex digits, ':'
 *    and '.', at least one ':'), not parsed: a malformed one cannot match a
 *    configured name anyway, and zone ids ("%25eth0") are refused.
 *  - The pattern form never takes a port or a literal.
 */
#include <stdbool.h>
#include "router/hostname.h"

/* Longest textual IPv6 address: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */
#define LITERAL_MAX 45u
/* Longest port we read: "65535" */
#define PORT_DIGITS_MAX 5u

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static uint8_t to_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

/* [a-z0-9-_] after lowercasing; '.' is handled by the caller */
static bool is_label_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_';
}

/* p[0..n) are the bytes after ':' */
static enum hostname_status port_check(const uint8_t *p, size_t n)
{
	unsigned v = 0;

	/* RFC 3986 §3.2.3: port = *DIGIT, so "host:" means no port */
	if (n == 0)
		return HOSTNAME_OK;
	if (n > PORT_DIGITS_MAX)
		return HOSTNAME_E_PORT;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return HOSTNAME_E_PORT;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return HOSTNAME_E_PORT;
	return HOSTNAME_OK;
}

/* "[v6]" or "[v6]:port"; in[0] is '[' */
static enum hostname_status normalize_literal(const uint8_t *in, size_t len,
					      char *out, size_t *out_len)
{
	bool colon = false;
	size_t i, o = 0;

	out[o++] = '[';
	for (i = 1; i < len && in[i] != ']'; i++) {
		uint8_t c = to_lower(in[i]);

		if (c == ':')
			colon = true;
		else if (c != '.' && !is_hex(c))
			return HOSTNAME_E_LITERAL;
		/* checked before the copy: out has room for far more than this */
		if (i > LITERAL_MAX)
			return HOSTNAME_E_LITERAL;
		out[o++] = (char)c;
	}
	/* no ']', or nothing that could be an address inside ("[]", "[1]") */
	if (i == len || !colon)
		return HOSTNAME_E_LITERAL;
	out[o++] = ']';
	i++;
	if (i < len) {
		/* only a port may follow; no trailing dot on a literal */
		if (in[i] != ':')
			return HOSTNAME_E_LITERAL;
		enum hostname_status r = port_check(in + i + 1, len - i - 1);
		if (r != HOSTNAME_OK)
			return r;
	}
	out[o] = '\0';
	*out_len = o;
	return HOSTNAME_OK;
}

/*
 * A DNS-style name, appended to out at start (0, or 2 after a "*." a
 * pattern already wrote). allow_port: a ':' starts a port, else refused.
 */
static enum hostname_status normalize_name(const uint8_t *in, size_t len,
					   char *out, size_t start,
					   bool allow_port, size_t *out_len)
{
	size_t label = 0, o = start;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = to_lower(in[i]);

		if (c == '.') {
			if (label == 0) {
				bool last = i + 1 == len || in[i + 1] == ':';

				/* "." alone is empty once its trailing dot goes */
				if (start == 0 && o == 0 && last)
					return HOSTNAME_E_EMPTY;
				return HOSTNAME_E_EMPTY_LABEL;
			}
			label = 0;
		} else if (c == ':') {
			if (!allow_port)
				return HOSTNAME_E_PORT;
			enum hostname_status r = port_check(in + i + 1, len - i - 1);
			if (r != HOSTNAME_OK)
				return r;
			break;
		} else if (is_label_char(c)) {
			if (++label > HOSTNAME_LABEL_MAX)
				return HOSTNAME_E_LABEL_TOO_LONG;
		} else {
			return HOSTNAME_E_CHAR;
		}
		/*
		 * out holds HOSTNAME_MAX + 1 bytes: index HOSTNAME_MAX may take
		 * a trailing dot (stripped below), anything beyond is too long.
		 */
		if (o > HOSTNAME_MAX)
			return HOSTNAME_E_TOO_LONG;
		out[o++] = (char)c;
	}
	/* one trailing dot: a second one was an empty label above */
	if (o > start && out[o - 1] == '.')
		o--;
	if (o == start)
		return start == 0 ? HOSTNAME_E_EMPTY : HOSTNAME_E_EMPTY_LABEL;
	if (o > HOSTNAME_MAX)
		return HOSTNAME_E_TOO_LONG;
	out[o] = '\0';
	*out_len = o;
	return HOSTNAME_OK;
}

enum hostname_status hostname_normalize(const uint8_t *in, size_t len, char *out, size_t *out_len)
{
	if (len == 0)
		return HOSTNAME_E_EMPTY;
	/* an unbracketed IPv6 address fails below: its first ':' starts a port */
	if (in[0] == '[')
		return normalize_literal(in, len, out, out_len);
	return normalize_name(in, len, out, 0, true, out_len);
}

enum hostname_status hostname_normalize_pattern(const uint8_t *in, size_t len, char *out, size_t *out_len)
{
	if (len == 0)
		return HOSTNAME_E_EMPTY;
	/* '*' is only ever the whole first label; elsewhere it is a bad byte */
	if (len >= 2 && in[0] == '*' && in[1] == '.') {
		out[0] = '*';
		out[1] = '.';
		return normalize_name(in + 2, len - 2, out, 2, false, out_len);
	}
	return normalize_name(in, len, out, 0, false, out_len);
}

unsigned hostname_port(const uint8_t *in, size_t len)
{
	size_t i = 0;
	unsigned v = 0;

	/* a literal's colons are inside the brackets; a name's first ':' is
	 * the port's */
	if (len > 0 && in[0] == '[')
		while (i < len && in[i] != ']')
			i++;
	while (i < len && in[i] != ':')
		i++;
	for (i++; i < len && is_digit(in[i]); i++)
		v = v * 10 + (unsigned)(in[i] - '0');
	return v;
}

const char *hostname_status_str(enum hostname_status s)
{
	switch (s) {
	case HOSTNAME_OK:
		return "ok";
	case HOSTNAME_E_EMPTY:
		return "empty name";
	case HOSTNAME_E_CHAR:
		return "bad byte in name";
	case HOSTNAME_E_EMPTY_LABEL:
		return "empty label";
	case HOSTNAME_E_LABEL_TOO_LONG:
		return "label over 63 bytes";
	case HOSTNAME_E_TOO_LONG:
		return "name over 253 bytes";
	case HOSTNAME_E_PORT:
		return "bad port";
	case HOSTNAME_E_LITERAL:
		return "bad ipv6 literal";
	}
	return "unknown";
}
