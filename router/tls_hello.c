/* SPDX-License-Identifier: MIT */
/*
 * TLS ClientHello parser (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2, RFC 6066 §3).
 *
 * Every call re-reads the stream from its first byte, so parsing is one
 * straight walk with no saved state. The walk reads fields in wire order and
 * checks each one as soon as its bytes are there. Hence a verdict on a prefix
 * holds for every longer input: INVALID is final, DONE depends on nothing
 * past wire_len, and NEED_MORE's need never shrinks as bytes arrive.
 *
 * Handshake bytes are read through a cursor that steps over record headers
 * (a handshake message may span records, RFC 8446 §5.1), so the hello is
 * never copied; only the host_name and the offered ALPN protocols are, into
 * the caller's fixed arrays.
 */
#include <string.h>
#include "router/tls_hello.h"

/* TLSPlaintext: type(1) legacy_record_version(2) length(2) */
#define REC_HEADER		5u
#define REC_HANDSHAKE		22u
#define REC_MAJOR		3u
/* 2^14 + 2048, the TLSCiphertext bound: no peer sends a longer record */
#define REC_MAX			18432u
/* Handshake: msg_type(1) length(3) */
#define HS_HEADER		4u
#define HS_CLIENT_HELLO		1u
/* legacy_version(2) random(32) legacy_session_id<0..32>
 * cipher_suites<2..2^16-2> legacy_compression_methods<1..2^8-1> */
#define HELLO_MIN		(2u + 32u + 1u + 2u + 2u + 1u + 1u)
#define RANDOM_LEN		32u
#define SESSION_ID_MAX		32u
#define EXT_SERVER_NAME		0u
#define EXT_ALPN		16u
#define NAME_TYPE_HOST		0u

struct hs_cursor {
	const uint8_t *buf;
	size_t len;
	size_t pos;		/* buf offset of the next handshake byte */
	size_t rec_end;		/* buf offset just past the open record */
	size_t hs_seen;		/* handshake bytes in the records opened so far */
	size_t hs_pos;		/* handshake bytes consumed */
	size_t hs_end;		/* message length, header included; until the
				 * header is read, the least a hello can be */
	bool hs_known;		/* hs_end comes from the wire */
	bool raw;		/* bare handshake bytes, no record layer */
	enum tls_hello_status status;	/* why the walk stopped */
	enum tls_hello_error error;
	size_t need;
};

static bool hs_invalid(struct hs_cursor *c, enum tls_hello_error e)
{
	c->status = TLS_HELLO_INVALID;
	c->error = e;
	return false;
}

/*
 * Out of input. The least total length that can still complete the hello is
 * the end of the open record plus, when the message goes on past it, one
 * more record header and the missing handshake bytes (one record can hold
 * them all: REC_MAX exceeds the largest message we take).
 */
static bool hs_short(struct hs_cursor *c)
{
	size_t need = c->rec_end;

	if (c->raw)
		need = c->hs_end;
	else if (c->hs_end > c->hs_seen)
		need += REC_HEADER + (c->hs_end - c->hs_seen);
	c->status = TLS_HELLO_NEED_MORE;
	c->need = need;
	return false;
}

/* The record holding the hello's last byte must end with it: clients never
 * pack anything after a ClientHello into its record. */
static bool hs_check_trailing(struct hs_cursor *c)
{
	if (c->hs_known && c->hs_seen > c->hs_end)
		return hs_invalid(c, TLS_HELLO_E_TRAILING);
	return true;
}

/* Open the record starting at rec_end, judging each header byte as soon as
 * it is there (one byte is enough to turn HTTP or SSLv2 away). */
static bool hs_open_record(struct hs_cursor *c)
{
	size_t at = c->rec_end, have = c->len - at;

	if (have >= 1 && c->buf[at] != REC_HANDSHAKE)
		return hs_invalid(c, at == 0 ? TLS_HELLO_E_NOT_TLS : TLS_HELLO_E_RECORD_TYPE);
	if (have >= 2 && c->buf[at + 1] != REC_MAJOR)
		return hs_invalid(c, TLS_HELLO_E_RECORD_VERSION);
	if (have < REC_HEADER)
		return hs_short(c);

	size_t rlen = (size_t)c->buf[at + 3] << 8 | c->buf[at + 4];

	/* RFC 8446 §5.1: no zero-length handshake fragments */
	if (rlen == 0 || rlen > REC_MAX)
		return hs_invalid(c, TLS_HELLO_E_RECORD_LENGTH);
	c->pos = at + REC_HEADER;
	c->rec_end = c->pos + rlen;
	c->hs_seen += rlen;
	return hs_check_trailing(c);
}

/*
 * Consume n handshake bytes, copying them to dst unless it is NULL. Callers
 * have checked that the bytes lie inside the message, so this never opens a
 * record past the hello. Steps a record at a time: O(records + n/len).
 */
static bool hs_take(struct hs_cursor *c, void *dst, size_t n)
{
	uint8_t *d = dst;

	while (n > 0) {
		if (c->pos == c->rec_end && !c->raw && !hs_open_record(c))
			return false;
		if (c->pos == c->len)
			return hs_short(c);

		size_t end = c->rec_end < c->len ? c->rec_end : c->len;
		size_t step = end - c->pos < n ? end - c->pos : n;

		if (d) {
			memcpy(d, c->buf + c->pos, step);
			d += step;
		}
		c->pos += step;
		c->hs_pos += step;
		n -= step;
	}
	return true;
}

/* The one bounds check (STYLE.md 13.2): n more bytes must lie before end,
 * the end of the field that encloses them. */
static bool hs_fits(struct hs_cursor *c, size_t n, size_t end, enum tls_hello_error e)
{
	if (n > end - c->hs_pos)
		return hs_invalid(c, e);
	return true;
}

/* A big-endian integer of n (1..3) bytes inside end. */
static bool hs_uint(struct hs_cursor *c, size_t n, size_t end, enum tls_hello_error e, size_t *v)
{
	uint8_t b[3];

	if (!hs_fits(c, n, end, e) || !hs_take(c, b, n))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return true;
}

/*
 * Every length-prefixed field goes through here: a prefix-byte length, then
 * a body that must fit inside end, and reach it exactly if fill is set.
 * Leaves the cursor at the body.
 */
static bool hs_vec(struct hs_cursor *c, size_t prefix, size_t end, bool fill,
		   enum tls_hello_error e, size_t *vlen)
{
	if (!hs_uint(c, prefix, end, e, vlen) || !hs_fits(c, *vlen, end, e))
		return false;
	if (fill && *vlen != end - c->hs_pos)
		return hs_invalid(c, e);
	return true;
}

/*
 * server_name extension body ending at end (RFC 6066 §3):
 *   ServerName server_name_list<1..2^16-1>, filling the extension;
 *   ServerName: name_type(1) opaque name<1..2^16-1>.
 * The first host_name wins; other entries are walked, not used.
 */
static bool hello_server_name(struct hs_cursor *c, size_t end, struct tls_hello *out)
{
	size_t list, type, nlen;

	if (!hs_vec(c, 2, end, true, TLS_HELLO_E_SNI, &list))
		return false;
	if (list == 0)
		return hs_invalid(c, TLS_HELLO_E_SNI);
	while (c->hs_pos < end) {
		if (!hs_uint(c, 1, end, TLS_HELLO_E_SNI, &type) ||
		    !hs_vec(c, 2, end, false, TLS_HELLO_E_SNI, &nlen))
			return false;
		if (type != NAME_TYPE_HOST || out->has_sni) {
			if (!hs_take(c, NULL, nlen))
				return false;
			continue;
		}
		if (nlen == 0)
			return hs_invalid(c, TLS_HELLO_E_SNI);
		if (nlen > TLS_HELLO_SNI_MAX)
			return hs_invalid(c, TLS_HELLO_E_SNI_TOO_LONG);
		/* raw bytes, NULs included: sni_len stays the wire length */
		if (!hs_take(c, out->sni, nlen))
			return false;
		out->sni[nlen] = '\0';
		out->sni_len = nlen;
		out->has_sni = true;
	}
	return true;
}

/*
 * application_layer_protocol_negotiation body ending at end (RFC 7301 §3.1):
 *   ProtocolName protocol_name_list<2..2^16-1>, filling the extension;
 *   ProtocolName: opaque<1..2^8-1>.
 * Every entry is checked; those that fit are kept in wire form.
 */
static bool hello_alpn(struct hs_cursor *c, size_t end, struct tls_hello *out)
{
	size_t list, plen;

	if (!hs_vec(c, 2, end, true, TLS_HELLO_E_ALPN, &list))
		return false;
	if (list < 2)
		return hs_invalid(c, TLS_HELLO_E_ALPN);
	out->has_alpn = true;
	while (c->hs_pos < end) {
		if (!hs_vec(c, 1, end, false, TLS_HELLO_E_ALPN, &plen))
			return false;
		if (plen == 0)
			return hs_invalid(c, TLS_HELLO_E_ALPN);
		if (out->alpn_len + 1 + plen > TLS_HELLO_ALPN_MAX) {
			out->alpn_dropped = true;
			if (!hs_take(c, NULL, plen))
				return false;
			continue;
		}
		out->alpn[out->alpn_len] = (uint8_t)plen;
		if (!hs_take(c, out->alpn + out->alpn_len + 1, plen))
			return false;
		out->alpn_len += 1 + plen;
	}
	return true;
}

static bool hello_walk(struct hs_cursor *c, struct tls_hello *out)
{
	size_t v, end;
	bool seen_sni = false, seen_alpn = false;

	if (!hs_uint(c, 1, c->hs_end, TLS_HELLO_E_LENGTH, &v))
		return false;
	if (v != HS_CLIENT_HELLO)
		return hs_invalid(c, TLS_HELLO_E_NOT_CLIENT_HELLO);
	if (!hs_uint(c, 3, c->hs_end, TLS_HELLO_E_LENGTH, &v))
		return false;
	if (v > TLS_HELLO_MAX_HANDSHAKE)
		return hs_invalid(c, TLS_HELLO_E_TOO_BIG);
	/* shorter cannot hold the fixed fields; refusing it also keeps need
	 * from shrinking once the real length replaces the guess */
	if (v < HELLO_MIN)
		return hs_invalid(c, TLS_HELLO_E_LENGTH);
	c->hs_end = HS_HEADER + v;
	c->hs_known = true;
	if (!hs_check_trailing(c))
		return false;
	end = c->hs_end;

	/* legacy_version, random */
	if (!hs_uint(c, 2, end, TLS_HELLO_E_LENGTH, &v))
		return false;
	out->client_version = (uint16_t)v;
	if (!hs_fits(c, RANDOM_LEN, end, TLS_HELLO_E_LENGTH) || !hs_take(c, NULL, RANDOM_LEN))
		return false;

	/* legacy_session_id<0..32> */
	if (!hs_vec(c, 1, end, false, TLS_HELLO_E_LENGTH, &v))
		return false;
	if (v > SESSION_ID_MAX)
		return hs_invalid(c, TLS_HELLO_E_LENGTH);
	if (!hs_take(c, NULL, v))
		return false;

	/* cipher_suites<2..2^16-2>, two bytes each */
	if (!hs_vec(c, 2, end, false, TLS_HELLO_E_LENGTH, &v))
		return false;
	if (v < 2 || v % 2 != 0)
		return hs_invalid(c, TLS_HELLO_E_LENGTH);
	if (!hs_take(c, NULL, v))
		return false;

	/* legacy_compression_methods<1..2^8-1> */
	if (!hs_vec(c, 1, end, false, TLS_HELLO_E_LENGTH, &v))
		return false;
	if (v < 1)
		return hs_invalid(c, TLS_HELLO_E_LENGTH);
	if (!hs_take(c, NULL, v))
		return false;

	/* extensions may be absent before TLS 1.3 (RFC 5246 §7.4.1.2);
	 * present, they fill the rest of the message */
	if (c->hs_pos == end)
		return true;
	if (!hs_vec(c, 2, end, true, TLS_HELLO_E_LENGTH, &v))
		return false;
	while (c->hs_pos < end) {
		size_t type, elen;

		/* Extension: extension_type(2) extension_data<0..2^16-1> */
		if (!hs_uint(c, 2, end, TLS_HELLO_E_LENGTH, &type) ||
		    !hs_vec(c, 2, end, false, TLS_HELLO_E_LENGTH, &elen))
			return false;
		if (type == EXT_ALPN) {
			/* RFC 8446 §4.2: one of each type */
			if (seen_alpn)
				return hs_invalid(c, TLS_HELLO_E_ALPN);
			seen_alpn = true;
			if (!hello_alpn(c, c->hs_pos + elen, out))
				return false;
			continue;
		}
		if (type != EXT_SERVER_NAME) {
			if (!hs_take(c, NULL, elen))
				return false;
			continue;
		}
		/* two would leave the route to whichever one we read */
		if (seen_sni)
			return hs_invalid(c, TLS_HELLO_E_SNI);
		seen_sni = true;
		if (!hello_server_name(c, c->hs_pos + elen, out))
			return false;
	}
	return true;
}

static void clear_found(struct tls_hello *out)
{
	out->has_sni = false;
	out->sni_len = 0;
	out->sni[0] = '\0';
	out->has_alpn = false;
	out->alpn_dropped = false;
	out->alpn_len = 0;
	out->client_version = 0;
}

static enum tls_hello_status hello_parse(struct hs_cursor *cur, struct tls_hello *out)
{
	struct hs_cursor c = *cur;

	out->need = 0;
	out->error = TLS_HELLO_E_NONE;
	clear_found(out);
	out->wire_len = 0;

	if (hello_walk(&c, out)) {
		/* the trailing check made the last record end with the hello */
		out->wire_len = c.rec_end;
		return TLS_HELLO_DONE;
	}
	/* what was read before the walk stopped means nothing */
	clear_found(out);
	if (c.status == TLS_HELLO_NEED_MORE)
		out->need = c.need;
	else
		out->error = c.error;
	return c.status;
}

enum tls_hello_status tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *out)
{
	struct hs_cursor c = {
		.buf = buf,
		.len = len,
		.hs_end = HS_HEADER + HELLO_MIN,
	};

	return hello_parse(&c, out);
}

/* One record that holds all of buf: the walk never opens another, so
 * running out is NEED_MORE, and bytes past the hello are TRAILING. */
enum tls_hello_status tls_hello_parse_handshake(const uint8_t *buf, size_t len,
						struct tls_hello *out)
{
	struct hs_cursor c = {
		.buf = buf,
		.len = len,
		.rec_end = len,
		.hs_seen = len,
		.hs_end = HS_HEADER + HELLO_MIN,
		.raw = true,
	};

	return hello_parse(&c, out);
}

bool tls_hello_offers_alpn(const struct tls_hello *h, const char *proto, size_t len)
{
	for (size_t i = 0; i < h->alpn_len; i += 1u + h->alpn[i])
		if (h->alpn[i] == len && memcmp(h->alpn + i + 1, proto, len) == 0)
			return true;
	return false;
}

const char *tls_hello_error_str(enum tls_hello_error e)
{
	switch (e) {
	case TLS_HELLO_E_NONE:
		return "no error";
	case TLS_HELLO_E_NOT_TLS:
		return "not TLS";
	case TLS_HELLO_E_RECORD_VERSION:
		return "bad record version";
	case TLS_HELLO_E_RECORD_TYPE:
		return "unexpected record type";
	case TLS_HELLO_E_RECORD_LENGTH:
		return "bad record length";
	case TLS_HELLO_E_NOT_CLIENT_HELLO:
		return "not a client hello";
	case TLS_HELLO_E_TOO_BIG:
		return "client hello too big";
	case TLS_HELLO_E_LENGTH:
		return "bad length field";
	case TLS_HELLO_E_SNI:
		return "malformed server name";
	case TLS_HELLO_E_SNI_TOO_LONG:
		return "server name too long";
	case TLS_HELLO_E_TRAILING:
		return "bytes after client hello in its record";
	case TLS_HELLO_E_ALPN:
		return "malformed ALPN extension";
	}
	return "unknown error";
}
