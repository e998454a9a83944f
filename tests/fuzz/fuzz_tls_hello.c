/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for tls_hello_parse().
 *
 * Input: one control byte, then the bytes a client sent. A hello always
 * starts with 0x16, so the split point comes from the control byte rather
 * than the data: below 128 it is an absolute prefix length (record and
 * handshake headers), above it a fraction of the input.
 *
 * The parser is stateless and reads in wire order, so a prefix's answer
 * must agree with the whole input's; those agreements are the invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "router/tls_hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* worst need: a record header cut short after a full record, then a header
 * and the whole largest message */
#define NEED_SLACK (5u + 18432u + 5u + 4u + TLS_HELLO_MAX_HANDSHAKE)

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* alpn[] is whole entries of 1..255 bytes ending exactly at alpn_len, and
 * each is found by the lookup */
static bool alpn_well_formed(const struct tls_hello *h)
{
	size_t i = 0;

	if (h->alpn_len > TLS_HELLO_ALPN_MAX || (!h->has_alpn && (h->alpn_len || h->alpn_dropped)))
		return false;
	while (i < h->alpn_len) {
		if (h->alpn[i] == 0 || i + 1 + h->alpn[i] > h->alpn_len ||
		    !tls_hello_offers_alpn(h, (const char *)h->alpn + i + 1, h->alpn[i]))
			return false;
		i += 1u + h->alpn[i];
	}
	return i == h->alpn_len;
}

static void check_alone(enum tls_hello_status st, const struct tls_hello *h, size_t len)
{
	switch (st) {
	case TLS_HELLO_NEED_MORE:
		check(h->need > len && h->need <= len + NEED_SLACK);
		check(!h->has_sni && h->sni_len == 0);
		check(!h->has_alpn && h->alpn_len == 0);
		break;
	case TLS_HELLO_DONE:
		check(h->wire_len <= len && h->wire_len > 0);
		check(h->sni_len <= TLS_HELLO_SNI_MAX);
		check(h->has_sni == (h->sni_len > 0));
		check(h->sni[h->sni_len] == '\0');
		check(alpn_well_formed(h));
		break;
	case TLS_HELLO_INVALID:
		check(h->error > TLS_HELLO_E_NONE && h->error <= TLS_HELLO_E_ALPN);
		check(!h->has_sni && h->sni_len == 0);
		check(!h->has_alpn && h->alpn_len == 0);
		check(tls_hello_error_str(h->error)[0] != '\0');
		break;
	default:
		check(false);
	}
}

static bool same_done(const struct tls_hello *a, const struct tls_hello *b)
{
	return a->wire_len == b->wire_len && a->has_sni == b->has_sni &&
	       a->sni_len == b->sni_len && a->client_version == b->client_version &&
	       memcmp(a->sni, b->sni, a->sni_len + 1) == 0 && a->has_alpn == b->has_alpn &&
	       a->alpn_dropped == b->alpn_dropped && a->alpn_len == b->alpn_len &&
	       memcmp(a->alpn, b->alpn, a->alpn_len) == 0;
}

/* What a prefix of p bytes may answer, given the whole input's answer. */
static void check_prefix(enum tls_hello_status ws, const struct tls_hello *w,
			 enum tls_hello_status ps, const struct tls_hello *p, size_t plen)
{
	switch (ws) {
	case TLS_HELLO_DONE:
		if (plen >= w->wire_len) {
			check(ps == TLS_HELLO_DONE && same_done(w, p));
			break;
		}
		/* the whole input is one completion, so need is at most it */
		check(ps == TLS_HELLO_NEED_MORE && p->need <= w->wire_len);
		break;
	case TLS_HELLO_INVALID:
		/* an error found early is the error found late */
		check(ps == TLS_HELLO_NEED_MORE ||
		      (ps == TLS_HELLO_INVALID && p->error == w->error));
		break;
	case TLS_HELLO_NEED_MORE:
		/* need only grows as bytes arrive */
		check(ps == TLS_HELLO_NEED_MORE && p->need <= w->need);
		break;
	}
}

/*
 * The same handshake bytes in records of k bytes are the same hello: only
 * wire_len may change. The records up to wire_len are known good here.
 */
static void check_reframed(const uint8_t *buf, const struct tls_hello *w, size_t k)
{
	size_t hs_len = 0;

	for (size_t off = 0; off < w->wire_len;) {
		size_t l = (size_t)buf[off + 3] << 8 | buf[off + 4];

		hs_len += l;
		off += 5 + l;
	}
	if (k == 0 || k > hs_len)
		k = hs_len;

	size_t total = hs_len + 5 * ((hs_len + k - 1) / k), at = 0;
	uint8_t *out = malloc(total);

	check(out != NULL);
	/* copy payloads out of the old records into the new ones */
	for (size_t off = 0, fill = k; off < w->wire_len;) {
		size_t l = (size_t)buf[off + 3] << 8 | buf[off + 4];

		for (size_t i = 0; i < l; i++) {
			if (fill == k) {
				size_t left = total - at - 5;
				size_t n = left < k ? left : k;

				out[at++] = 0x16;
				out[at++] = 3;
				out[at++] = 1;
				out[at++] = (uint8_t)(n >> 8);
				out[at++] = (uint8_t)n;
				fill = 0;
			}
			out[at++] = buf[off + 5 + i];
			fill++;
		}
		off += 5 + l;
	}
	check(at == total);

	struct tls_hello r;

	check(tls_hello_parse(out, total, &r) == TLS_HELLO_DONE);
	check(r.wire_len == total && r.has_sni == w->has_sni && r.sni_len == w->sni_len &&
	      r.client_version == w->client_version &&
	      memcmp(r.sni, w->sni, w->sni_len + 1) == 0);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello whole, part;
	enum tls_hello_status ws, ps;

	if (size == 0)
		return 0;
	uint8_t ctl = data[0];
	const uint8_t *buf = data + 1;
	size_t len = size - 1;

	ws = tls_hello_parse(buf, len, &whole);
	check_alone(ws, &whole, len);

	size_t split = ctl < 128 ? ctl : (size_t)((uint64_t)len * (ctl - 128u) / 127u);
	if (split > len)
		split = len;
	ps = tls_hello_parse(buf, split, &part);
	check_alone(ps, &part, split);
	check_prefix(ws, &whole, ps, &part, split);

	/* stopping right where the parser said to look again */
	if (ps == TLS_HELLO_NEED_MORE && part.need <= len) {
		size_t at = part.need;

		ps = tls_hello_parse(buf, at, &part);
		check_alone(ps, &part, at);
		check_prefix(ws, &whole, ps, &part, at);
	}
	/* the hello alone, without what followed it */
	if (ws == TLS_HELLO_DONE) {
		ps = tls_hello_parse(buf, whole.wire_len, &part);
		check(ps == TLS_HELLO_DONE && same_done(&whole, &part));
		/* 1..50-byte records, or every fifth time one record */
		check_reframed(buf, &whole, ctl % 5 == 0 ? 0 : 1 + ctl % 50);
	}
	return 0;
}
