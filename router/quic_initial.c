/* SPDX-License-Identifier: MIT */
/*
 * A flow's ClientHello from its client Initial packets: walk the datagram's
 * coalesced packets, open the Initials, walk their frames into the CRYPTO
 * stream, and parse the stream's contiguous prefix as a handshake.
 *
 * Errors before a packet authenticates leave the flow untouched (anyone can
 * forge a datagram from the client's address); errors inside an
 * authenticated packet fail the flow, as they would at the real server.
 */
#include <string.h>
#include "router/quic_initial.h"

#define FT_PADDING		0x00u
#define FT_PING			0x01u
#define FT_ACK			0x02u
#define FT_ACK_ECN		0x03u
#define FT_CRYPTO		0x06u
#define FT_CLOSE		0x1cu
#define VARINT_MAX		((UINT64_C(1) << 62) - 1)

struct rd {
	const uint8_t *p;
	size_t n, at;
};

static bool rd_varint(struct rd *r, uint64_t *v)
{
	size_t k = quic_varint_read(r->p + r->at, r->n - r->at, v);

	r->at += k;
	return k != 0;
}

static bool rd_skip(struct rd *r, uint64_t k)
{
	if (k > r->n - r->at)
		return false;
	r->at += (size_t)k;
	return true;
}

/* ACK (RFC 9000 §19.3): each range needs two more varints, so a huge range
 * count runs out of bytes after O(n) steps */
static bool walk_ack(struct rd *r, bool ecn)
{
	uint64_t largest, delay, count, first, gap, len;

	if (!rd_varint(r, &largest) || !rd_varint(r, &delay) ||
	    !rd_varint(r, &count) || !rd_varint(r, &first) || first > largest)
		return false;
	for (uint64_t i = 0; i < count; i++)
		if (!rd_varint(r, &gap) || !rd_varint(r, &len))
			return false;
	for (int i = 0; ecn && i < 3; i++)
		if (!rd_varint(r, &len))
			return false;
	return true;
}

enum quic_error quic_frames_walk(const uint8_t *p, size_t n, struct quic_crypto_stream *s,
				 struct quic_frames *f)
{
	struct rd r = { .p = p, .n = n };
	uint64_t off, len, v;
	enum quic_error e;

	memset(f, 0, sizeof(*f));
	while (r.at < n) {
		/* a type of 0x40 or more is a 2+ byte varint: no frame
		 * allowed here has one, and minimal encoding is required */
		uint8_t type = p[r.at++];

		switch (type) {
		case FT_PADDING:
			while (r.at < n && p[r.at] == FT_PADDING)
				r.at++;
			break;
		case FT_PING:
			f->ping++;
			break;
		case FT_ACK:
		case FT_ACK_ECN:
			if (!walk_ack(&r, type == FT_ACK_ECN))
				return QUIC_E_FRAME_ENCODING;
			f->ack++;
			break;
		case FT_CRYPTO:
			if (!rd_varint(&r, &off) || !rd_varint(&r, &len) ||
			    len > VARINT_MAX - off || len > n - r.at)
				return QUIC_E_FRAME_ENCODING;
			if (s && (e = quic_stream_add(s, off, p + r.at, (size_t)len)) != QUIC_E_NONE)
				return e;
			r.at += (size_t)len;
			f->crypto++;
			break;
		case FT_CLOSE:
			if (!rd_varint(&r, &f->close_error) ||
			    !rd_varint(&r, &f->close_frame_type) ||
			    !rd_varint(&r, &v) || !rd_skip(&r, v))
				return QUIC_E_FRAME_ENCODING;
			f->close = true;
			break;
		default:
			return QUIC_E_FRAME_TYPE;
		}
	}
	return QUIC_E_NONE;
}

void quic_flow_hello_init(struct quic_flow_hello *f)
{
	/* everything but the stream's data bytes, which the bitmap guards */
	memset(f, 0, offsetof(struct quic_flow_hello, stream));
	quic_stream_init(&f->stream);
}

static enum quic_status fail(struct quic_flow_hello *f, enum quic_error e, bool fatal)
{
	f->error = e;
	if (fatal)
		f->failed = true;
	return QUIC_INVALID;
}

static bool same_flow(const struct quic_flow_hello *f, const struct quic_long_header *h)
{
	return h->version == f->version && h->dcid_len == f->dcid_len &&
	       memcmp(h->dcid, f->dcid, f->dcid_len) == 0;
}

static void start_flow(struct quic_flow_hello *f, const struct quic_long_header *h,
		       const struct quic_keys *k)
{
	f->started = true;
	f->version = h->version;
	f->dcid_len = h->dcid_len;
	memcpy(f->dcid, h->dcid, h->dcid_len);
	f->scid_len = h->scid_len;
	memcpy(f->scid, h->scid, h->scid_len);
	f->token_len = h->token_len;
	f->keys = *k;
}

/* Where the contiguous CRYPTO prefix stands as a ClientHello. */
static enum quic_status judge_hello(struct quic_flow_hello *f)
{
	switch (tls_hello_parse_handshake(f->stream.data, f->stream.contiguous, &f->hello)) {
	case TLS_HELLO_DONE:
		f->done = true;
		return QUIC_DONE;
	case TLS_HELLO_INVALID:
		return fail(f, QUIC_E_HELLO, true);
	case TLS_HELLO_NEED_MORE:
		break;
	}
	/* a hello announced longer than the buffer can never complete */
	if (f->hello.need > QUIC_HELLO_CAP)
		return fail(f, QUIC_E_CRYPTO_CAP, true);
	return QUIC_NEED_MORE;
}

/*
 * One Initial packet at buf. first: the datagram's first packet, whose
 * failures are the datagram's; a later one failing only stops the walk
 * (*stop). Authenticated failures are the flow's either way.
 */
static enum quic_status open_initial(struct quic_crypto *c, struct quic_flow_hello *f,
				     const uint8_t *buf, const struct quic_long_header *h,
				     bool first, bool *stop)
{
	struct quic_keys fresh;
	const struct quic_keys *k = &f->keys;
	struct quic_opened o;
	struct quic_frames fr;
	enum quic_error e;

	if (!f->started) {
		if (!quic_initial_keys(c, h->version, h->dcid, h->dcid_len, false, &fresh))
			return fail(f, QUIC_E_LIB, false);
		k = &fresh;
	}
	e = quic_packet_open(c, k, buf, h, f->next_pn, &o);
	if (e == QUIC_E_DECRYPT || e == QUIC_E_LENGTH || e == QUIC_E_LIB) {
		if (first)
			return fail(f, e, false);
		*stop = true;
		return QUIC_NEED_MORE;
	}
	if (!f->started)
		start_flow(f, h, k);
	if (e != QUIC_E_NONE)
		return fail(f, e, true);
	f->pn_len = o.pn_len;
	if (o.pn >= f->next_pn)
		f->next_pn = o.pn + 1;
	e = quic_frames_walk(o.payload, o.payload_len, &f->stream, &fr);
	if (e != QUIC_E_NONE)
		return fail(f, e, true);
	if (fr.close)
		f->client_closed = true;
	return QUIC_NEED_MORE;
}

enum quic_status quic_hello_feed(struct quic_crypto *c, struct quic_flow_hello *f,
				 const uint8_t *buf, size_t len, struct quic_dgram_info *info)
{
	struct quic_dgram_info scratch_info;
	struct quic_long_header h;
	enum quic_error e;
	enum quic_status st;
	size_t at = 0;
	bool stop = false;

	if (!info)
		info = &scratch_info;
	memset(info, 0, sizeof(*info));
	if (f->failed)
		return QUIC_INVALID;
	if (f->done)
		return QUIC_DONE;

	/* the first packet decides what the datagram is */
	st = quic_long_header_parse(buf, len, &h, &e);
	if (st == QUIC_NOT_QUIC)
		return QUIC_NOT_QUIC;
	if (st == QUIC_INVALID)
		return fail(f, e, false);
	if (f->started && !same_flow(f, &h))
		return fail(f, QUIC_E_FLOW_MISMATCH, false);
	/* a started flow may send 0-RTT alone; a new one starts with an Initial */
	if (!f->started && h.type != QUIC_PT_INITIAL)
		return fail(f, QUIC_E_NOT_INITIAL, false);

	for (;;) {
		/* RFC 9000 §14.1: an Initial in a small datagram is discarded */
		if (h.type == QUIC_PT_INITIAL && len < QUIC_MIN_INITIAL_DATAGRAM) {
			if (at == 0)
				return fail(f, QUIC_E_DGRAM_SIZE, false);
			break;
		}
		info->end[info->packets] = at + h.end;
		info->type[info->packets] = h.type;
		info->packets++;
		info->rest = at + h.end;
		if (h.type == QUIC_PT_INITIAL) {
			st = open_initial(c, f, buf + at, &h, at == 0, &stop);
			if (st == QUIC_INVALID)
				return st;
			if (stop) {
				/* a later Initial that failed to open: not delimited by us */
				info->packets--;
				info->rest = at;
				break;
			}
			info->initials++;
		}
		at += h.end;
		if (at == len || info->packets == QUIC_DGRAM_MAX_PACKETS)
			break;
		/* RFC 9000 §12.2: ignore what does not parse or belongs elsewhere */
		if (quic_long_header_parse(buf + at, len - at, &h, &e) != QUIC_DONE ||
		    !same_flow(f, &h))
			break;
	}
	if (info->initials == 0)
		return QUIC_NEED_MORE;
	f->datagrams++;
	return judge_hello(f);
}
