/* SPDX-License-Identifier: MIT */
/*
 * QUIC long headers (RFC 9000 §17.2) and their protection (RFC 9001 §5.3,
 * §5.4): every field is checked against the datagram before it is read.
 */
#include <string.h>
#include "router/quic_packet.h"

#define FORM_LONG	0x80u
#define FIXED_BIT	0x40u
#define RESERVED_BITS	0x0cu	/* long header, after header protection */
#define PN_LEN_BITS	0x03u
#define VARINT_MAX	((UINT64_C(1) << 62) - 1)
/* Length must cover the 4 bytes the sample skips and the sample itself */
#define MIN_PROTECTED	(4u + QUIC_SAMPLE_LEN)

size_t quic_varint_read(const uint8_t *p, size_t n, uint64_t *v)
{
	size_t len;
	uint64_t x;

	if (n == 0)
		return 0;
	len = (size_t)1 << (p[0] >> 6);
	if (len > n)
		return 0;
	x = p[0] & 0x3fu;
	for (size_t i = 1; i < len; i++)
		x = x << 8 | p[i];
	*v = x;
	return len;
}

size_t quic_varint_size(uint64_t v)
{
	return v < 64 ? 1 : v < 16384 ? 2 : v < (UINT64_C(1) << 30) ? 4 : 8;
}

size_t quic_varint_write(uint8_t *p, uint64_t v)
{
	size_t len = quic_varint_size(v);
	static const uint8_t prefix[9] = { [1] = 0x00, [2] = 0x40, [4] = 0x80, [8] = 0xc0 };

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
	p[0] |= prefix[len];
	return len;
}

/* v1 numbers Initial 0, 0-RTT 1, Handshake 2, Retry 3; v2 rotates them by
 * one (RFC 9369 §3.2): Initial 1, 0-RTT 2, Handshake 3, Retry 0. */
static enum quic_packet_type type_from_wire(uint32_t version, unsigned bits)
{
	if (version == QUIC_VERSION_2)
		bits = (bits + 3) & 3;
	return (enum quic_packet_type)bits;
}

static unsigned type_to_wire(uint32_t version, enum quic_packet_type t)
{
	unsigned bits = (unsigned)t & 3;

	return version == QUIC_VERSION_2 ? (bits + 1) & 3 : bits;
}

static enum quic_status invalid(enum quic_error *err, enum quic_error e)
{
	*err = e;
	return QUIC_INVALID;
}

/* one connection ID: length byte and bytes at *at */
static bool read_cid(const uint8_t *buf, size_t len, size_t *at, uint8_t *cid,
		     uint8_t *cid_len, enum quic_error *err)
{
	if (*at >= len) {
		*err = QUIC_E_SHORT;
		return false;
	}
	size_t n = buf[(*at)++];

	if (n > QUIC_CID_MAX) {
		*err = QUIC_E_CID_LEN;
		return false;
	}
	if (n > len - *at) {
		*err = QUIC_E_SHORT;
		return false;
	}
	memcpy(cid, buf + *at, n);
	*cid_len = (uint8_t)n;
	*at += n;
	return true;
}

enum quic_status quic_long_header_parse(const uint8_t *buf, size_t len,
					struct quic_long_header *h, enum quic_error *err)
{
	size_t at, n;
	uint64_t v;

	memset(h, 0, sizeof(*h));
	*err = QUIC_E_NONE;
	if (len == 0 || !(buf[0] & FORM_LONG))
		return QUIC_NOT_QUIC;
	if (len < 5)
		return invalid(err, QUIC_E_SHORT);
	h->version = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 |
		     (uint32_t)buf[3] << 8 | buf[4];
	/* version 0 is version negotiation, sent by servers only */
	if (!quic_version_supported(h->version))
		return QUIC_NOT_QUIC;
	if (!(buf[0] & FIXED_BIT))
		return invalid(err, QUIC_E_FIXED_BIT);
	h->type = type_from_wire(h->version, (buf[0] >> 4) & 3u);
	at = 5;
	if (!read_cid(buf, len, &at, h->dcid, &h->dcid_len, err) ||
	    !read_cid(buf, len, &at, h->scid, &h->scid_len, err))
		return QUIC_INVALID;
	if (h->type == QUIC_PT_RETRY) {
		h->pn_off = at;
		h->end = len;
		return QUIC_DONE;
	}
	if (h->type == QUIC_PT_INITIAL) {
		n = quic_varint_read(buf + at, len - at, &v);
		if (n == 0 || v > len - at - n)
			return invalid(err, QUIC_E_TOKEN_LEN);
		at += n;
		h->token_off = at;
		h->token_len = (size_t)v;
		at += (size_t)v;
	}
	n = quic_varint_read(buf + at, len - at, &v);
	if (n == 0 || v > len - at - n || v < MIN_PROTECTED)
		return invalid(err, QUIC_E_LENGTH);
	at += n;
	h->pn_off = at;
	h->end = at + (size_t)v;
	return QUIC_DONE;
}

/* RFC 9000 §A.3: the packet number closest to next_pn with these low bits */
static uint64_t pn_expand(uint64_t next_pn, uint64_t truncated, unsigned pn_len)
{
	uint64_t win = UINT64_C(1) << (8 * pn_len), hwin = win / 2, mask = win - 1;
	uint64_t cand = (next_pn & ~mask) | truncated;

	if (cand + hwin <= next_pn && cand < (UINT64_C(1) << 62) - win)
		return cand + win;
	if (cand > next_pn + hwin && cand >= win)
		return cand - win;
	return cand;
}

enum quic_error quic_packet_open(struct quic_crypto *c, const struct quic_keys *k,
				 const uint8_t *buf, const struct quic_long_header *h,
				 uint64_t next_pn, struct quic_opened *o)
{
	uint8_t mask[5], *hdr = quic_crypto_scratch(c);
	uint64_t truncated = 0;
	size_t hdr_len, ct_len;
	unsigned pn_len;

	memset(o, 0, sizeof(*o));
	/* the parser guarantees MIN_PROTECTED bytes after pn_off */
	if (h->type == QUIC_PT_RETRY || h->end - h->pn_off < MIN_PROTECTED ||
	    h->end > QUIC_MAX_DATAGRAM)
		return QUIC_E_LENGTH;
	if (!quic_hp_mask(c, k->hp, buf + h->pn_off + 4, mask))
		return QUIC_E_LIB;
	/* the clear header is the AAD: rebuild it in scratch, the
	 * plaintext follows it there */
	pn_len = ((buf[0] ^ mask[0]) & PN_LEN_BITS) + 1u;
	hdr_len = h->pn_off + pn_len;
	memcpy(hdr, buf, hdr_len);
	hdr[0] ^= mask[0] & 0x0fu;
	for (unsigned i = 0; i < pn_len; i++) {
		hdr[h->pn_off + i] ^= mask[1 + i];
		truncated = truncated << 8 | hdr[h->pn_off + i];
	}
	o->pn_len = pn_len;
	o->pn = pn_expand(next_pn, truncated, pn_len);
	ct_len = h->end - hdr_len;	/* >= 16: MIN_PROTECTED - 4 */
	switch (quic_aead_open(c, k, o->pn, hdr, hdr_len, buf + hdr_len, ct_len, hdr + hdr_len)) {
	case QUIC_AEAD_OK:
		break;
	case QUIC_AEAD_FORGED:
		return QUIC_E_DECRYPT;
	case QUIC_AEAD_LIB_ERROR:
		return QUIC_E_LIB;
	}
	/* judged only once authenticated (RFC 9000 §17.2) */
	if (hdr[0] & RESERVED_BITS)
		return QUIC_E_RESERVED_BITS;
	o->payload = hdr + hdr_len;
	o->payload_len = ct_len - QUIC_TAG_LEN;
	if (o->payload_len == 0)
		return QUIC_E_EMPTY_PAYLOAD;
	return QUIC_E_NONE;
}

size_t quic_packet_seal(struct quic_crypto *c, const struct quic_keys *k,
			const struct quic_packet_spec *s, const uint8_t *payload,
			size_t payload_len, uint8_t *out, size_t cap)
{
	size_t at = 0, pn_off, total, length;
	uint8_t mask[5];

	if (!quic_version_supported(s->version) || s->type == QUIC_PT_RETRY ||
	    s->dcid_len > QUIC_CID_MAX || s->scid_len > QUIC_CID_MAX ||
	    s->pn_len < 1 || s->pn_len > 4 || payload_len + s->pn_len < 4 ||
	    s->token_len > VARINT_MAX || payload_len > QUIC_MAX_DATAGRAM)
		return 0;
	length = s->pn_len + payload_len + QUIC_TAG_LEN;
	total = 1 + 4 + 1 + s->dcid_len + 1 + s->scid_len +
		quic_varint_size(length) + length;
	if (s->type == QUIC_PT_INITIAL)
		total += quic_varint_size(s->token_len) + s->token_len;
	if (total > cap)
		return 0;
	out[at++] = (uint8_t)(FORM_LONG | FIXED_BIT | type_to_wire(s->version, s->type) << 4 |
			      (s->pn_len - 1));
	for (int i = 3; i >= 0; i--)
		out[at++] = (uint8_t)(s->version >> (8 * i));
	/* an empty CID may come as NULL */
	out[at++] = (uint8_t)s->dcid_len;
	if (s->dcid_len)
		memcpy(out + at, s->dcid, s->dcid_len);
	at += s->dcid_len;
	out[at++] = (uint8_t)s->scid_len;
	if (s->scid_len)
		memcpy(out + at, s->scid, s->scid_len);
	at += s->scid_len;
	if (s->type == QUIC_PT_INITIAL) {
		at += quic_varint_write(out + at, s->token_len);
		if (s->token_len)
			memcpy(out + at, s->token, s->token_len);
		at += s->token_len;
	}
	at += quic_varint_write(out + at, length);
	pn_off = at;
	for (unsigned i = 0; i < s->pn_len; i++)
		out[at++] = (uint8_t)(s->pn >> (8 * (s->pn_len - 1 - i)));
	if (!quic_aead_seal(c, k, s->pn, out, at, payload, payload_len, out + at))
		return 0;
	if (!quic_hp_mask(c, k->hp, out + pn_off + 4, mask))
		return 0;
	out[0] ^= mask[0] & 0x0fu;
	for (unsigned i = 0; i < s->pn_len; i++)
		out[pn_off + i] ^= mask[1 + i];
	return total;
}

const char *quic_error_str(enum quic_error e)
{
	switch (e) {
	case QUIC_E_NONE:
		return "no error";
	case QUIC_E_SHORT:
		return "truncated header";
	case QUIC_E_FIXED_BIT:
		return "fixed bit is 0";
	case QUIC_E_CID_LEN:
		return "connection id too long";
	case QUIC_E_TOKEN_LEN:
		return "bad token length";
	case QUIC_E_LENGTH:
		return "bad packet length";
	case QUIC_E_DGRAM_SIZE:
		return "initial in a datagram under 1200 bytes";
	case QUIC_E_NOT_INITIAL:
		return "first packet is not an initial";
	case QUIC_E_FLOW_MISMATCH:
		return "version or connection id changed";
	case QUIC_E_DECRYPT:
		return "decryption failed";
	case QUIC_E_RESERVED_BITS:
		return "reserved bits set";
	case QUIC_E_EMPTY_PAYLOAD:
		return "packet without frames";
	case QUIC_E_FRAME_TYPE:
		return "frame type not allowed in initial";
	case QUIC_E_FRAME_ENCODING:
		return "malformed frame";
	case QUIC_E_CRYPTO_CAP:
		return "crypto data past the hello cap";
	case QUIC_E_CRYPTO_MISMATCH:
		return "overlapping crypto data disagrees";
	case QUIC_E_HELLO:
		return "bad client hello";
	case QUIC_E_LIB:
		return "libcrypto error";
	}
	return "unknown error";
}
