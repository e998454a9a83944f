/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a QUIC message on the hand-off channel, as a hostile
 * listener may write it (common/handoff.h). The forwarder acts on a message
 * only if handoff_quic_check() accepts it; then every record walked must
 * lie inside the message, be 1..HANDOFF_QUIC_DGRAM_MAX bytes, belong to the
 * START's own flow, number exactly n_records, and cover the message to its
 * end; names are NUL-terminated; a MOVE carries nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "common/handoff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > HANDOFF_QUIC_MAX)
		return 0;
	/* the bytes as recvmmsg leaves them: a copy of exactly size bytes */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (handoff_quic_check(buf, size)) {
		struct handoff_quic_msg m;
		CHECK(size >= sizeof(m));
		memcpy(&m, buf, sizeof(m));
		CHECK(m.type == HANDOFF_QUIC_START || m.type == HANDOFF_QUIC_DATA || m.type == HANDOFF_QUIC_MOVE);
		if (m.type != HANDOFF_QUIC_DATA) {
			CHECK(m.client_family == AF_INET || m.client_family == AF_INET6);
			CHECK(memchr(m.site, '\0', sizeof(m.site)) && memchr(m.name, '\0', sizeof(m.name)));
		}
		CHECK(m.type != HANDOFF_QUIC_START || m.site[0]);
		CHECK(m.type != HANDOFF_QUIC_MOVE || (size == sizeof(m) && !m.site[0] && !m.name[0]));
		size_t off = 0, len, end = sizeof(m);
		uint64_t flow;
		const uint8_t *d;
		uint32_t n = 0;
		while (handoff_quic_next(buf, size, &off, &flow, &d, &len)) {
			CHECK(d > buf && d + len <= buf + size);
			CHECK(len >= 1 && len <= HANDOFF_QUIC_DGRAM_MAX);
			CHECK(m.type != HANDOFF_QUIC_START || flow == m.flow);
			/* touch every byte: ASan sees a read past the copy */
			volatile uint8_t x = 0;
			for (size_t i = 0; i < len; i++)
				x ^= d[i];
			(void)x;
			end = off;
			n++;
		}
		CHECK(n == m.n_records);
		CHECK(end == size);
	}
	free(buf);
	return 0;
}
