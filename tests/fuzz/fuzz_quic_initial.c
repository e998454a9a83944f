/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the QUIC Initial path: quic_hello_feed() over up to
 * 16 datagrams of one flow, and quic_close_build() on what it learnt.
 *
 * A mutated ciphertext never authenticates, so most datagrams are built by
 * the target: the input carries their plaintext frames and the target
 * seals them with the flow's public keys. Input:
 *   ctl(1)   bit 0: version 2; bits 1..5: DCID length (0..20, mod 21);
 *            bits 6..7: first packet number 0, 250, 65530 or 2^32 - 5, so
 *            truncated numbers wrap
 *   records: kind(1) len(2, big-endian) data(len; a short last one is cut)
 *   kind & 3 == 0: data is a raw datagram
 *              1: data is the frames of an Initial the target seals
 *              2: as 1, data[0] = n frame bytes, the rest appended raw
 *                 after the packet (coalesced tail)
 *              3: as 1, then the byte at data[0] flipped (a forgery)
 *   kind bits 2-3: packet number length - 1; bit 4: pad to 1200 bytes;
 *   bit 5: append a coalesced packet: a 0-RTT, or if data[0] is odd an
 *   Initial of the flow with the first 100 data bytes as frames, forged when
 *   data[0] & 2; bit 6: other version; bit 7: other DCID.
 *
 * Invariants: DONE and a failed flow are final; a datagram rejected
 * without failing the flow leaves it as it was; packet ends increase
 * inside the datagram; a complete hello parses the same raw and re-framed
 * into TLS records, and any stream prefix gets the same verdict from the
 * raw and the record parser; the close answer opens with the server keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "router/quic_close.h"
#include "router/quic_initial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DGRAMS 16
#define DGRAM_CAP (QUIC_MAX_DATAGRAM + 64)

static void check(bool ok)
{
	if (!ok)
		abort();
}

static struct quic_crypto *qc;
static struct quic_flow_hello *flow;
static uint8_t dgram[DGRAM_CAP];

static const uint8_t SCID[4] = { 0x5c, 0x1d, 0x00, 0x01 };

/* the flow's keys, cached per (version, dcid) since deriving costs 5 HMACs */
static struct {
	bool have;
	uint32_t version;
	size_t dcid_len;
	uint8_t dcid[QUIC_CID_MAX];
	struct quic_keys k;
} key_cache[2];

static const struct quic_keys *keys_for(uint32_t version, const uint8_t *dcid, size_t dcid_len)
{
	for (int i = 0; i < 2; i++)
		if (key_cache[i].have && key_cache[i].version == version &&
		    key_cache[i].dcid_len == dcid_len && !memcmp(key_cache[i].dcid, dcid, dcid_len))
			return &key_cache[i].k;
	/* two slots: the flow's and the "other" one */
	int slot = key_cache[0].have ? 1 : 0;

	key_cache[slot].have = true;
	key_cache[slot].version = version;
	key_cache[slot].dcid_len = dcid_len;
	memcpy(key_cache[slot].dcid, dcid, dcid_len);
	check(quic_initial_keys(qc, version, dcid, dcid_len, false, &key_cache[slot].k));
	return &key_cache[slot].k;
}

/* seal an Initial (or 0-RTT) into dgram at *len */
static void seal(uint32_t version, enum quic_packet_type type, const uint8_t *dcid,
		 size_t dcid_len, uint64_t pn, unsigned pn_len, const uint8_t *frames,
		 size_t n, bool pad, size_t *len)
{
	static uint8_t payload[DGRAM_CAP];
	size_t over = 1 + 4 + 1 + dcid_len + 1 + sizeof(SCID) + 1 + 2 + pn_len + QUIC_TAG_LEN;

	if (n > QUIC_MAX_DATAGRAM - 200)
		n = QUIC_MAX_DATAGRAM - 200;
	memcpy(payload, frames, n);
	while (pad && *len + over + n < QUIC_MIN_INITIAL_DATAGRAM)
		payload[n++] = 0;
	while (n + pn_len < 4)
		payload[n++] = 0;

	struct quic_packet_spec s = {
		.version = version, .type = type, .dcid = dcid, .dcid_len = dcid_len,
		.scid = SCID, .scid_len = sizeof(SCID), .pn = pn, .pn_len = pn_len,
	};
	size_t got = quic_packet_seal(qc, keys_for(version, dcid, dcid_len), &s, payload, n,
				      dgram + *len, DGRAM_CAP - *len);

	*len += got;
}

struct snapshot {
	bool started, done, failed;
	uint32_t version;
	uint64_t next_pn;
	unsigned datagrams;
	size_t contiguous;
};

static struct snapshot snap(void)
{
	return (struct snapshot){ flow->started, flow->done, flow->failed, flow->version,
				  flow->next_pn, flow->datagrams, flow->stream.contiguous };
}

static bool same(const struct snapshot *a, const struct snapshot *b)
{
	return a->started == b->started && a->done == b->done && a->failed == b->failed &&
	       a->version == b->version && a->next_pn == b->next_pn &&
	       a->datagrams == b->datagrams && a->contiguous == b->contiguous;
}

static void check_unchanged(const struct snapshot *before)
{
	struct snapshot now = snap();

	check(same(before, &now));
}

static void check_info(const struct quic_dgram_info *in, size_t len)
{
	size_t prev = 0;

	check(in->packets <= QUIC_DGRAM_MAX_PACKETS && in->initials <= in->packets);
	for (unsigned i = 0; i < in->packets; i++) {
		check(in->end[i] > prev && in->end[i] <= len);
		prev = in->end[i];
	}
	check(in->rest == prev);
}

/* the hello, re-framed into TLS records, must say the same to tls_hello_parse */
static void check_done(void)
{
	static uint8_t rec[QUIC_HELLO_CAP + 5 * 64];
	const struct tls_hello *h = &flow->hello;
	struct tls_hello again;
	size_t n = h->wire_len, at = 0, step = 1 + n % 700;

	check(n > 0 && n == flow->stream.contiguous && h->sni_len <= TLS_HELLO_SNI_MAX);
	check(h->sni[h->sni_len] == '\0' && h->has_sni == (h->sni_len > 0));
	check(tls_hello_parse_handshake(flow->stream.data, n, &again) == TLS_HELLO_DONE);
	check(again.sni_len == h->sni_len && !memcmp(again.sni, h->sni, h->sni_len));
	if (step < 200)
		step = 200;
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;

		rec[at++] = 22;
		rec[at++] = 3;
		rec[at++] = 1;
		rec[at++] = (uint8_t)(k >> 8);
		rec[at++] = (uint8_t)k;
		memcpy(rec + at, flow->stream.data + off, k);
		at += k;
	}
	check(tls_hello_parse(rec, at, &again) == TLS_HELLO_DONE);
	check(again.wire_len == at && again.sni_len == h->sni_len &&
	      !memcmp(again.sni, h->sni, h->sni_len));
}

/*
 * Whatever the stream holds, the raw handshake parser and the record parser
 * given the same bytes in one record must agree on the verdict, the name
 * and the error.
 */
static void check_raw_vs_records(void)
{
	static uint8_t rec[5 + QUIC_HELLO_CAP];
	size_t n = flow->stream.contiguous;
	struct tls_hello raw, recd;

	if (n == 0)
		return;
	rec[0] = 22;
	rec[1] = 3;
	rec[2] = 1;
	rec[3] = (uint8_t)(n >> 8);
	rec[4] = (uint8_t)n;
	memcpy(rec + 5, flow->stream.data, n);

	enum tls_hello_status a = tls_hello_parse_handshake(flow->stream.data, n, &raw);
	enum tls_hello_status b = tls_hello_parse(rec, 5 + n, &recd);

	check(a == b);
	if (a == TLS_HELLO_DONE)
		check(raw.wire_len == n && recd.wire_len == 5 + n && raw.sni_len == recd.sni_len &&
		      !memcmp(raw.sni, recd.sni, raw.sni_len + 1));
	if (a == TLS_HELLO_INVALID)
		check(raw.error == recd.error);
	if (a == TLS_HELLO_NEED_MORE)
		check(raw.need > n && recd.need == raw.need + 10);	/* two record headers */
}

static void check_close(void)
{
	uint8_t out[256];
	struct quic_long_header h;
	struct quic_opened o;
	struct quic_keys k;
	struct quic_frames fr;
	enum quic_error e;
	size_t n = quic_close_build(qc, flow, 0x170, out, sizeof(out));

	check(n > 0 && n <= 80);
	check(quic_close_build(qc, flow, 0x170, out, n - 1) == 0);
	check(quic_long_header_parse(out, n, &h, &e) == QUIC_DONE && h.end == n);
	check(h.dcid_len == flow->scid_len && h.scid_len == flow->dcid_len);
	check(quic_initial_keys(qc, flow->version, flow->dcid, flow->dcid_len, true, &k));
	check(quic_packet_open(qc, &k, out, &h, 0, &o) == QUIC_E_NONE);
	check(quic_frames_walk(o.payload, o.payload_len, NULL, &fr) == QUIC_E_NONE);
	check(fr.close && fr.close_error == 0x170);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t dcid[QUIC_CID_MAX], other[QUIC_CID_MAX];

	if (!qc) {
		qc = quic_crypto_new();
		flow = malloc(sizeof(*flow));
		check(qc && flow);
	}
	if (size < 1)
		return 0;
	memset(key_cache, 0, sizeof(key_cache));
	quic_flow_hello_init(flow);

	uint32_t version = data[0] & 1 ? QUIC_VERSION_2 : QUIC_VERSION_1;
	size_t dcid_len = (size_t)(data[0] >> 1) % (QUIC_CID_MAX + 1);

	for (size_t i = 0; i < QUIC_CID_MAX; i++) {
		dcid[i] = (uint8_t)(0x83 + i);
		other[i] = (uint8_t)(0x40 + i);
	}
	static const uint64_t pn_base[4] = { 0, 250, 65530, 0xfffffffbu };
	uint64_t pn0 = pn_base[data[0] >> 6];
	size_t at = 1;
	bool was_done = false, was_failed = false;

	for (int r = 0; r < MAX_DGRAMS && at < size; r++) {
		uint8_t kind = data[at++];
		size_t rlen = 0;

		if (at + 2 <= size)
			rlen = (size_t)data[at] << 8 | data[at + 1];
		at += 2;
		if (at > size)
			at = size;
		if (rlen > size - at)
			rlen = size - at;
		const uint8_t *rd = data + at;

		at += rlen;

		size_t len = 0;
		uint32_t v = kind & 0x40 ? (version == QUIC_VERSION_1 ? QUIC_VERSION_2 : QUIC_VERSION_1)
					 : version;
		const uint8_t *d = kind & 0x80 ? other : dcid;
		unsigned pn_len = 1 + (kind >> 2 & 3);

		switch (kind & 3) {
		case 0:
			len = rlen < DGRAM_CAP ? rlen : DGRAM_CAP;
			memcpy(dgram, rd, len);
			break;
		case 1:
		case 3:
			seal(v, QUIC_PT_INITIAL, d, dcid_len, pn0 + (uint64_t)r, pn_len, rd, rlen,
			     kind & 0x10, &len);
			if ((kind & 3) == 3 && rlen > 0 && len > 0)
				dgram[rd[0] % len] ^= 0x20;
			break;
		case 2: {
			size_t fn = rlen ? rd[0] : 0;

			if (fn > rlen - (rlen ? 1 : 0))
				fn = rlen ? rlen - 1 : 0;
			seal(v, QUIC_PT_INITIAL, d, dcid_len, pn0 + (uint64_t)r, pn_len, rd + 1, fn,
			     kind & 0x10, &len);
			size_t tail = rlen ? rlen - 1 - fn : 0;

			if (tail > DGRAM_CAP - len)
				tail = DGRAM_CAP - len;
			memcpy(dgram + len, rd + 1 + fn, tail);
			len += tail;
			break;
		}
		}
		if (kind & 0x20 && len + 200 < DGRAM_CAP) {
			size_t n = rlen < 100 ? rlen : 100, start = len;

			if (rlen && rd[0] & 1) {
				seal(v, QUIC_PT_INITIAL, d, dcid_len, pn0 + 16 + (uint64_t)r, pn_len,
				     rd, n, false, &len);
				if (rd[0] & 2 && len > start)
					dgram[start + (rd[0] >> 2) % (len - start)] ^= 0x08;
			} else {
				seal(v, QUIC_PT_0RTT, d, dcid_len, pn0 + (uint64_t)r, 1, rd, n, false,
				     &len);
			}
		}

		/* the header parser alone */
		struct quic_long_header h;
		enum quic_error e;
		enum quic_status hs = quic_long_header_parse(dgram, len, &h, &e);

		if (hs == QUIC_DONE) {
			check(h.end <= len && h.pn_off <= h.end);
			check(h.dcid_len <= QUIC_CID_MAX && h.scid_len <= QUIC_CID_MAX);
			check(h.type == QUIC_PT_RETRY || h.end - h.pn_off >= 20);
		} else {
			check(hs == QUIC_NOT_QUIC || (hs == QUIC_INVALID && e != QUIC_E_NONE));
		}

		struct snapshot before = snap();
		struct quic_dgram_info info;
		enum quic_status st = quic_hello_feed(qc, flow, dgram, len, &info);

		check_info(&info, len);
		check(flow->stream.contiguous <= QUIC_HELLO_CAP);
		if (flow->stream.contiguous != before.contiguous)
			check_raw_vs_records();
		if (was_done)
			check(st == QUIC_DONE);
		if (was_failed)
			check(st == QUIC_INVALID);
		switch (st) {
		case QUIC_DONE:
			check(flow->done && flow->started);
			if (!was_done)
				check_done();
			was_done = true;
			break;
		case QUIC_INVALID:
			check(flow->error != QUIC_E_NONE);
			check(quic_error_str(flow->error)[0] != '\0');
			if (flow->failed)
				was_failed = true;
			else
				check_unchanged(&before);
			break;
		case QUIC_NOT_QUIC:
			check_unchanged(&before);
			break;
		case QUIC_NEED_MORE:
			check(flow->started && !flow->done && !flow->failed);
			break;
		}
	}
	if (flow->started)
		check_close();
	return 0;
}
