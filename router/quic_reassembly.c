/* SPDX-License-Identifier: MIT */
/* CRYPTO stream reassembly: a byte buffer and a bitmap of bytes present. */
#include <string.h>
#include "router/quic_reassembly.h"

static bool has(const struct quic_crypto_stream *s, size_t i)
{
	return s->have[i / 8] >> (i % 8) & 1u;
}

void quic_stream_init(struct quic_crypto_stream *s)
{
	/* data is only read where have says so: leave it */
	s->contiguous = 0;
	memset(s->have, 0, sizeof(s->have));
}

enum quic_error quic_stream_add(struct quic_crypto_stream *s, uint64_t off,
				const uint8_t *p, size_t n)
{
	if (off > QUIC_HELLO_CAP || n > QUIC_HELLO_CAP - off)
		return QUIC_E_CRYPTO_CAP;
	for (size_t i = 0, at = (size_t)off; i < n; i++, at++) {
		if (has(s, at)) {
			if (s->data[at] != p[i])
				return QUIC_E_CRYPTO_MISMATCH;
			continue;
		}
		s->data[at] = p[i];
		s->have[at / 8] |= (uint8_t)(1u << (at % 8));
	}
	while (s->contiguous < QUIC_HELLO_CAP && has(s, s->contiguous))
		s->contiguous++;
	return QUIC_E_NONE;
}
