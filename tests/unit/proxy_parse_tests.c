/* SPDX-License-Identifier: MIT */
/* Incoming PROXY v1/v2 headers: every prefix, round trips, exact errors. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "suites.h"
#include "router/proxy_parse.h"

static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* parse from an exact-size heap copy, so ASan catches a read past len */
static enum proxy_parse_status parse(const void *in, size_t len, struct proxy_parse_result *o)
{
	uint8_t *copy = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, in, len);
	enum proxy_parse_status r = proxy_parse(copy, len, o);
	free(copy);
	return r;
}

static size_t v2(uint8_t *out, uint8_t vercmd, uint8_t fam, const void *block, size_t n)
{
	memcpy(out, sig, 12);
	out[12] = vercmd;
	out[13] = fam;
	out[14] = (uint8_t)(n >> 8);
	out[15] = (uint8_t)n;
	if (n)
		memcpy(out + 16, block, n);
	return 16 + n;
}

static struct proxy_endpoint ep(int family, const char *addr, uint16_t port)
{
	struct proxy_endpoint e = { .family = family, .port = port };
	ck_assert_int_eq(inet_pton(family, addr, e.addr), 1);
	return e;
}

static void assert_ep(const struct proxy_endpoint *got, const struct proxy_endpoint *want)
{
	ck_assert_int_eq(got->family, want->family);
	ck_assert_int_eq(got->port, want->port);
	ck_assert_mem_eq(got->addr, want->addr, want->family == AF_INET ? 4u : 16u);
}

/* Every strict prefix is NEED_MORE; the header alone and the header with
 * stream bytes after it are DONE with the same length. */
static void every_prefix(const uint8_t *h, size_t n, struct proxy_parse_result *whole)
{
	struct proxy_parse_result o;
	uint8_t more[2048];

	for (size_t k = 0; k < n; k++) {
		enum proxy_parse_status r = parse(h, k, &o);
		ck_assert_msg(r == PROXY_PARSE_NEED_MORE, "prefix %zu of %zu: %d (%s)", k, n, r, o.error);
	}
	ck_assert_int_eq(parse(h, n, whole), PROXY_PARSE_DONE);
	ck_assert_uint_eq(whole->header_len, n);
	ck_assert_str_eq(whole->error, "");
	memcpy(more, h, n);
	memset(more + n, '\r', 200);	/* stream bytes that look like anything */
	ck_assert_int_eq(parse(more, n + 200, &o), PROXY_PARSE_DONE);
	ck_assert_uint_eq(o.header_len, n);
}

START_TEST(v1_tcp4_every_prefix)
{
	const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
	struct proxy_parse_result o;
	struct proxy_endpoint s = ep(AF_INET, "192.0.2.1", 56324), d = ep(AF_INET, "198.51.100.2", 443);

	every_prefix((const uint8_t *)h, strlen(h), &o);
	ck_assert_int_eq(o.version, 1);
	ck_assert_int_eq(o.kind, PROXY_KIND_PROXIED);
	assert_ep(&o.src, &s);
	assert_ep(&o.dst, &d);
}
END_TEST

START_TEST(v1_tcp6_every_prefix)
{
	const char *h = "PROXY TCP6 2001:DB8::1 ::1 0 65535\r\n";
	struct proxy_parse_result o;
	struct proxy_endpoint s = ep(AF_INET6, "2001:db8::1", 0), d = ep(AF_INET6, "::1", 65535);

	every_prefix((const uint8_t *)h, strlen(h), &o);
	ck_assert_int_eq(o.kind, PROXY_KIND_PROXIED);
	assert_ep(&o.src, &s);
	assert_ep(&o.dst, &d);
}
END_TEST

START_TEST(v1_tcp6_mapped_is_ipv4)
{
	const char *h = "PROXY TCP6 ::ffff:203.0.113.5 2001:db8::2 1 443\r\n";
	struct proxy_parse_result o;
	struct proxy_endpoint s = ep(AF_INET, "203.0.113.5", 1), d = ep(AF_INET6, "2001:db8::2", 443);

	every_prefix((const uint8_t *)h, strlen(h), &o);
	assert_ep(&o.src, &s);
	assert_ep(&o.dst, &d);
}
END_TEST

START_TEST(v1_unknown_every_prefix)
{
	const char *hs[] = { "PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f::1 ::2 5 6\r\n", "PROXY UNKNOWN \x01z\r\n" };
	struct proxy_parse_result o;

	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		every_prefix((const uint8_t *)hs[i], strlen(hs[i]), &o);
		ck_assert_int_eq(o.kind, PROXY_KIND_UNKNOWN);
		ck_assert_int_eq(o.version, 1);
	}
}
END_TEST

/* The worst case TCP6 line fits; 107 bytes with the CRLF fit, 108 do not. */
START_TEST(v1_length_limit)
{
	const char *worst = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	char line[200];
	struct proxy_parse_result o;

	ck_assert_uint_eq(strlen(worst), 104);
	every_prefix((const uint8_t *)worst, strlen(worst), &o);

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	every_prefix((const uint8_t *)line, 107, &o);

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	for (size_t k = 0; k < 107; k++)
		ck_assert_int_eq(parse(line, k, &o), PROXY_PARSE_NEED_MORE);
	ck_assert_int_eq(parse(line, 107, &o), PROXY_PARSE_INVALID);
	ck_assert_str_eq(o.error, "v1: longer than 107 bytes");
	ck_assert_int_eq(parse(line, 108, &o), PROXY_PARSE_INVALID);
	ck_assert_str_eq(o.error, "v1: longer than 107 bytes");
}
END_TEST

START_TEST(v2_tcp4_every_prefix)
{
	static const uint8_t block[] = { 192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x01, 0xbb };
	uint8_t h[64];
	struct proxy_parse_result o;
	struct proxy_endpoint s = ep(AF_INET, "192.0.2.1", 56324), d = ep(AF_INET, "198.51.100.2", 443);

	every_prefix(h, v2(h, 0x21, 0x11, block, sizeof(block)), &o);
	ck_assert_int_eq(o.version, 2);
	ck_assert_int_eq(o.kind, PROXY_KIND_PROXIED);
	assert_ep(&o.src, &s);
	assert_ep(&o.dst, &d);
}
END_TEST

START_TEST(v2_tcp6_tlvs_every_prefix)
{
	uint8_t block[36 + 32], h[128];
	struct proxy_parse_result o;
	struct proxy_endpoint s = ep(AF_INET6, "2001:db8::1", 1), d = ep(AF_INET6, "::ffff:192.0.2.9", 80);
	/* NOOP (empty), AWS VPC endpoint id, ALPN: skipped unread */
	static const uint8_t tlvs[] = { 0x04, 0, 0, 0xea, 0, 5, 'v', 'p', 'c', 'e', '1', 0x01, 0, 2, 'h', '2' };

	memcpy(block, s.addr, 16);
	inet_pton(AF_INET6, "::ffff:192.0.2.9", block + 16);
	block[32] = 0; block[33] = 1; block[34] = 0; block[35] = 80;
	memcpy(block + 36, tlvs, sizeof(tlvs));
	every_prefix(h, v2(h, 0x21, 0x21, block, 36 + sizeof(tlvs)), &o);
	ck_assert_int_eq(o.kind, PROXY_KIND_PROXIED);
	assert_ep(&o.src, &s);
	d = ep(AF_INET, "192.0.2.9", 80);	/* mapped comes back as IPv4 */
	assert_ep(&o.dst, &d);
}
END_TEST

START_TEST(v2_local_and_unknown)
{
	static const uint8_t a4[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2 };
	uint8_t h[300], unixblock[216] = { '/' };
	struct proxy_parse_result o;
	size_t n;

	/* LOCAL: a health check; the block is ignored whatever it holds */
	every_prefix(h, v2(h, 0x20, 0x00, NULL, 0), &o);
	ck_assert_int_eq(o.kind, PROXY_KIND_LOCAL);
	every_prefix(h, v2(h, 0x20, 0x11, a4, sizeof(a4)), &o);
	ck_assert_int_eq(o.kind, PROXY_KIND_LOCAL);
	every_prefix(h, v2(h, 0x20, 0x77, "\xff", 1), &o);
	ck_assert_int_eq(o.kind, PROXY_KIND_LOCAL);
	/* PROXY without an IP address: UNKNOWN, the caller decides */
	every_prefix(h, v2(h, 0x21, 0x00, NULL, 0), &o);
	ck_assert_int_eq(o.kind, PROXY_KIND_UNKNOWN);
	n = v2(h, 0x21, 0x31, unixblock, sizeof(unixblock));
	every_prefix(h, n, &o);
	ck_assert_int_eq(o.kind, PROXY_KIND_UNKNOWN);
}
END_TEST

/* The whole v2 header may be PROXY_PARSE_MAX bytes, not one more. */
START_TEST(v2_length_limit)
{
	uint8_t block[PROXY_PARSE_MAX], h[PROXY_PARSE_MAX + 16];
	struct proxy_parse_result o;
	size_t tlv = PROXY_PARSE_MAX - 16 - 12 - 3;

	memset(block, 0, sizeof(block));
	block[12] = 0x04;		/* one NOOP TLV filling the rest */
	block[13] = (uint8_t)(tlv >> 8);
	block[14] = (uint8_t)tlv;
	every_prefix(h, v2(h, 0x21, 0x11, block, PROXY_PARSE_MAX - 16), &o);

	block[14] = (uint8_t)(tlv + 1);
	v2(h, 0x21, 0x11, block, PROXY_PARSE_MAX - 15);
	ck_assert_int_eq(parse(h, 15, &o), PROXY_PARSE_NEED_MORE);
	ck_assert_int_eq(parse(h, 16, &o), PROXY_PARSE_INVALID);
	ck_assert_str_eq(o.error, "v2: header longer than 1024 bytes");
}
END_TEST

/* Built by proxy_header.c, parsed back: the same endpoints, for both
 * versions and every family mix the builder writes. */
START_TEST(round_trip_with_builder)
{
	static const char *const addrs[] = {
		"0.0.0.0", "192.0.2.1", "255.255.255.255", "::", "::1", "2001:db8::1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1:2:3:4", "64:ff9b::c000:201",
	};
	static const uint16_t ports[] = { 0, 1, 80, 443, 65535 };
	size_t na = sizeof(addrs) / sizeof(addrs[0]);
	unsigned count = 0;

	for (int version = 1; version <= 2; version++)
		for (size_t i = 0; i < na; i++)
			for (size_t j = 0; j < na; j++) {
				int fi = strchr(addrs[i], ':') ? AF_INET6 : AF_INET;
				int fj = strchr(addrs[j], ':') ? AF_INET6 : AF_INET;
				struct proxy_endpoint s = ep(fi, addrs[i], ports[(i + j) % 5]);
				struct proxy_endpoint d = ep(fj, addrs[j], ports[(i * 3 + j) % 5]);
				uint8_t h[PROXY_HEADER_MAX];
				struct proxy_parse_result o;
				int n = proxy_header_build(version, &s, &d, h, sizeof(h));

				ck_assert_int_gt(n, 0);
				every_prefix(h, (size_t)n, &o);
				ck_assert_int_eq(o.version, version);
				ck_assert_int_eq(o.kind, PROXY_KIND_PROXIED);
				assert_ep(&o.src, &s);
				assert_ep(&o.dst, &d);
				count++;
			}
	ck_assert_uint_eq(count, 2 * na * na);
}
END_TEST

struct bad_case {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	size_t at;		/* shortest prefix already refused */
	const char *error;
};

#define V2H(vc, fam, hi, lo) "\r\n\r\n\0\r\nQUIT\n" vc fam hi lo

static const struct bad_case bad[] = {
	{ "GET / HTTP/1.1\r\n", 0, 1, "not a PROXY header" },
	{ "\x16\x03\x01", 0, 1, "not a PROXY header" },
	{ "PROXZ TCP4", 0, 5, "v1: bad signature" },
	{ "proxy TCP4", 0, 1, "not a PROXY header" },
	{ "PROXY  TCP4", 0, 7, "v1: protocol is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", 0, 8, "v1: protocol is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY TCP5 1.2.3.4", 0, 10, "v1: protocol is not TCP4, TCP6 or UNKNOWN" },
	{ "PROXY TCP4\r\n", 0, 11, "v1: expected a space after the protocol" },
	{ "PROXY UNKNOWNX\r\n", 0, 14, "v1: unexpected byte" },
	{ "PROXY UNKNOWN\n", 0, 14, "v1: LF without CR" },
	{ "PROXY UNKNOWN\rX", 0, 15, "v1: CR not followed by LF" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, 31, "v1: LF without CR" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", 0, 32, "v1: CR not followed by LF" },
	{ "PROXY TCP4 ::1 ::1 1 2\r\n", 0, 12, "v1: unexpected byte" },
	{ "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", 0, 19, "v1: unexpected byte" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", 0, 28, "v1: unexpected byte" },
	{ "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", 0, 33, "v1: fields must be separated by single spaces" },
	{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 0, 33, "v1: fields must be separated by single spaces" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 0, 33, "v1: fields must be separated by single spaces" },
	{ "PROXY TCP4 \r\n", 0, 13, "v1: fields must be separated by single spaces" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 0, 30, "v1: fewer than SRC DST SPORT DPORT" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 0, 34, "v1: more than SRC DST SPORT DPORT" },
	{ "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", 0, 34, "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", 0, 33, "v1: bad source address" },
	{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 0, 30, "v1: bad source address" },
	{ "PROXY TCP6 ::1 1.2.3.4 1 2\r\n", 0, 28, "v1: bad destination address" },
	{ "PROXY TCP6 ::1 ::1::2 1 2\r\n", 0, 27, "v1: bad destination address" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", 0, 33, "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 0, 36, "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1.0 2\r\n", 0, 34, "v1: bad source port" },
	{ "PROXY TCP6 ::1 ::1 1 00\r\n", 0, 25, "v1: bad destination port" },
	{ "PROXY TCP6 ::1 ::1 1 a\r\n", 0, 24, "v1: bad destination port" },
	{ "\r\n\r\n\0\r\nQUIX\n", 12, 11, "v2: bad signature" },
	{ V2H("\x11", "\x11", "\x00", "\x0c"), 16, 13, "v2: version is not 2" },
	{ V2H("\x22", "\x11", "\x00", "\x0c"), 16, 13, "v2: command is not LOCAL or PROXY" },
	{ V2H("\x21", "\x12", "\x00", "\x0c"), 16, 14, "v2: datagram addresses on a stream connection" },
	{ V2H("\x21", "\x22", "\x00", "\x24"), 16, 14, "v2: datagram addresses on a stream connection" },
	{ V2H("\x21", "\x41", "\x00", "\x0c"), 16, 14, "v2: unknown address family or transport" },
	{ V2H("\x21", "\x01", "\x00", "\x00"), 16, 14, "v2: unknown address family or transport" },
	{ V2H("\x21", "\x21", "\x00", "\x0c"), 16, 16, "v2: address block too short for its family" },
	{ V2H("\x21", "\x11", "\x00", "\x0b"), 16, 16, "v2: address block too short for its family" },
	{ V2H("\x21", "\x11", "\xff", "\xff"), 16, 16, "v2: header longer than 1024 bytes" },
	{ V2H("\x21", "\x11", "\x00", "\x0e") "\1\2\3\4\5\6\7\x8\0\1\0\2\x04\0", 30, 30,
	  "v2: TLVs do not fill the header exactly" },
	{ V2H("\x21", "\x11", "\x00", "\x10") "\1\2\3\4\5\6\7\x8\0\1\0\2\x04\0\2\0", 32, 32,
	  "v2: TLVs do not fill the header exactly" },
	{ V2H("\x21", "\x00", "\x00", "\x01") "\x04", 17, 17, "v2: TLVs do not fill the header exactly" },
};

/* Each refusal is exact and as early as documented; shorter prefixes wait,
 * longer ones give the same answer. */
START_TEST(garbage_exact_errors)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct bad_case *c = &bad[i];
		size_t len = c->len ? c->len : strlen(c->in);
		struct proxy_parse_result o;

		for (size_t k = 0; k <= len; k++) {
			enum proxy_parse_status r = parse(c->in, k, &o);
			if (k < c->at) {
				ck_assert_msg(r == PROXY_PARSE_NEED_MORE, "case %zu prefix %zu: %d %s", i, k, r, o.error);
				continue;
			}
			ck_assert_msg(r == PROXY_PARSE_INVALID, "case %zu prefix %zu: %d", i, k, r);
			ck_assert_msg(strcmp(o.error, c->error) == 0, "case %zu prefix %zu: \"%s\" want \"%s\"",
				      i, k, o.error, c->error);
		}
	}
}
END_TEST

Suite *make_proxy_parse_suite(void)
{
	Suite *s = suite_create("proxy_parse");
	TCase *tc = tcase_create("parse");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, v1_tcp4_every_prefix);
	tcase_add_test(tc, v1_tcp6_every_prefix);
	tcase_add_test(tc, v1_tcp6_mapped_is_ipv4);
	tcase_add_test(tc, v1_unknown_every_prefix);
	tcase_add_test(tc, v1_length_limit);
	tcase_add_test(tc, v2_tcp4_every_prefix);
	tcase_add_test(tc, v2_tcp6_tlvs_every_prefix);
	tcase_add_test(tc, v2_local_and_unknown);
	tcase_add_test(tc, v2_length_limit);
	tcase_add_test(tc, round_trip_with_builder);
	tcase_add_test(tc, garbage_exact_errors);
	suite_add_tcase(s, tc);
	return s;
}
