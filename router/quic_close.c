/* SPDX-License-Identifier: MIT */
/* A server Initial carrying CONNECTION_CLOSE, protected with public keys. */
#include "router/quic_close.h"

#define FT_CLOSE	0x1cu
#define FT_CRYPTO	0x06u	/* the frame that carried what we refuse */

size_t quic_close_build(struct quic_crypto *c, const struct quic_flow_hello *f,
			uint64_t error, uint8_t *out, size_t cap)
{
	struct quic_keys k;
	uint8_t frame[1 + 8 + 1 + 1];
	size_t n = 0;

	if (!f->started || error >= (UINT64_C(1) << 62) ||
	    !quic_initial_keys(c, f->version, f->dcid, f->dcid_len, true, &k))
		return 0;
	frame[n++] = FT_CLOSE;
	n += quic_varint_write(frame + n, error);
	frame[n++] = FT_CRYPTO;
	frame[n++] = 0;		/* no reason phrase */

	struct quic_packet_spec s = {
		.version = f->version,
		.type = QUIC_PT_INITIAL,
		.dcid = f->scid,
		.dcid_len = f->scid_len,
		.scid = f->dcid,
		.scid_len = f->dcid_len,
		.pn = 0,
		.pn_len = 1,
	};

	/* the frame is at least 4 bytes: enough to sample with pn_len 1 */
	return quic_packet_seal(c, &k, &s, frame, n, out, cap);
}
