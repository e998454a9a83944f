/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: proxy_parse(). Input: byte 0 picks a prefix length, the
 * rest is what the balancer (or an attacker at its address) sent.
 * Invariants fail with abort(), so replay.c checks them in any build.
 *
 * Why they hold: the parser decides each byte from the bytes before it (the
 * v1 fields once the CRLF is there, the v2 TLVs once the length is there),
 * so a prefix either runs out (NEED_MORE) or stops where the whole stops
 * with the same answer; a valid header's every strict prefix is NEED_MORE;
 * and what it parsed, built again by proxy_header.c, parses to the same
 * endpoints.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "router/proxy_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static void check_endpoint(const struct proxy_endpoint *e)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	CHECK(e->family == AF_INET || e->family == AF_INET6);
	if (e->family == AF_INET6)
		CHECK(memcmp(e->addr, mapped, 12) != 0);	/* unwrapped */
}

static void check_one(const uint8_t *buf, size_t len, enum proxy_parse_status r,
		      const struct proxy_parse_result *o)
{
	CHECK(o->error != NULL);
	switch (r) {
	case PROXY_PARSE_NEED_MORE:
		CHECK(o->error[0] == '\0');
		CHECK(len < PROXY_PARSE_MAX);
		break;
	case PROXY_PARSE_INVALID:
		CHECK(o->error[0] != '\0');
		break;
	case PROXY_PARSE_DONE:
		CHECK(o->error[0] == '\0');
		CHECK(o->header_len > 0 && o->header_len <= len);
		CHECK(o->version == 1 || o->version == 2);
		if (o->version == 1) {
			CHECK(o->header_len <= PROXY_V1_MAX && o->header_len >= 15);
			CHECK(memcmp(buf, "PROXY ", 6) == 0);
			CHECK(buf[o->header_len - 2] == '\r' && buf[o->header_len - 1] == '\n');
			CHECK(memchr(buf, '\n', o->header_len - 1) == NULL);
			CHECK(o->kind != PROXY_KIND_LOCAL);
		} else {
			CHECK(o->header_len >= PROXY_V2_HEAD && o->header_len <= PROXY_PARSE_MAX);
			CHECK(o->header_len == PROXY_V2_HEAD + (size_t)(buf[14] << 8 | buf[15]));
		}
		if (o->kind == PROXY_KIND_PROXIED) {
			check_endpoint(&o->src);
			check_endpoint(&o->dst);
		} else {
			CHECK(o->kind == PROXY_KIND_LOCAL || o->kind == PROXY_KIND_UNKNOWN);
		}
		break;
	default:
		abort();
	}
}

static bool same_endpoint(const struct proxy_endpoint *a, const struct proxy_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

static void same_answer(enum proxy_parse_status ra, const struct proxy_parse_result *a,
			enum proxy_parse_status rb, const struct proxy_parse_result *b)
{
	CHECK(ra == rb);
	CHECK(strcmp(a->error, b->error) == 0);
	if (ra != PROXY_PARSE_DONE)
		return;
	CHECK(a->version == b->version && a->kind == b->kind && a->header_len == b->header_len);
	if (a->kind == PROXY_KIND_PROXIED)
		CHECK(same_endpoint(&a->src, &b->src) && same_endpoint(&a->dst, &b->dst));
}

/* parse from an exact-size copy, so ASan sees a read past len */
static enum proxy_parse_status parse_copy(const uint8_t *in, size_t len, struct proxy_parse_result *o)
{
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	if (len)
		memcpy(copy, in, len);
	enum proxy_parse_status r = proxy_parse(copy, len, o);
	check_one(copy, len, r, o);
	free(copy);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_parse_result whole, part;

	if (size < 1)
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	size_t k = len * data[0] / 255;

	enum proxy_parse_status r = parse_copy(in, len, &whole);

	/* a prefix never contradicts the whole */
	enum proxy_parse_status pr = parse_copy(in, k, &part);
	if (pr != PROXY_PARSE_NEED_MORE)
		same_answer(pr, &part, r, &whole);
	if (r == PROXY_PARSE_NEED_MORE)
		CHECK(pr == PROXY_PARSE_NEED_MORE);
	if (r != PROXY_PARSE_DONE)
		return 0;

	/* the header alone is the same header; one byte less is not yet one */
	pr = parse_copy(in, whole.header_len, &part);
	same_answer(pr, &part, r, &whole);
	CHECK(parse_copy(in, whole.header_len - 1, &part) == PROXY_PARSE_NEED_MORE);
	CHECK((pr = parse_copy(in, k, &part)) == (k >= whole.header_len ? PROXY_PARSE_DONE : PROXY_PARSE_NEED_MORE));

	/* what was parsed, built again, parses to the same endpoints */
	if (whole.kind == PROXY_KIND_PROXIED) {
		uint8_t hdr[PROXY_HEADER_MAX];
		int n = proxy_header_build(whole.version, &whole.src, &whole.dst, hdr, sizeof(hdr));
		CHECK(n > 0);
		CHECK(parse_copy(hdr, (size_t)n, &part) == PROXY_PARSE_DONE);
		CHECK(part.header_len == (size_t)n && part.kind == PROXY_KIND_PROXIED);
		CHECK(same_endpoint(&part.src, &whole.src) && same_endpoint(&part.dst, &whole.dst));
	}
	return 0;
}
