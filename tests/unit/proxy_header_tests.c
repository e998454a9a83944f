/* SPDX-License-Identifier: MIT */
/* PROXY protocol v1/v2 headers, byte for byte (HAProxy's proxy-protocol.txt). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "suites.h"
#include "router/proxy_header.h"

static struct proxy_endpoint ep(int family, const char *addr, uint16_t port)
{
	struct proxy_endpoint e = { .family = family, .port = port };
	ck_assert_int_eq(inet_pton(family, addr, e.addr), 1);
	return e;
}

START_TEST(v1_tcp4)
{
	struct proxy_endpoint s = ep(AF_INET, "192.0.2.1", 56324), d = ep(AF_INET, "198.51.100.2", 443);
	uint8_t out[PROXY_HEADER_MAX];
	int n = proxy_header_build(1, &s, &d, out, sizeof(out));
	const char *want = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_mem_eq(out, want, (size_t)n);
}
END_TEST

START_TEST(v1_tcp6)
{
	struct proxy_endpoint s = ep(AF_INET6, "2001:db8::1", 1), d = ep(AF_INET6, "::1", 80);
	uint8_t out[PROXY_HEADER_MAX];
	int n = proxy_header_build(1, &s, &d, out, sizeof(out));
	const char *want = "PROXY TCP6 2001:db8::1 ::1 1 80\r\n";
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_mem_eq(out, want, (size_t)n);
}
END_TEST

START_TEST(v2_tcp4)
{
	struct proxy_endpoint s = ep(AF_INET, "127.0.0.1", 0x1234), d = ep(AF_INET, "127.0.0.2", 443);
	uint8_t out[PROXY_HEADER_MAX];
	static const uint8_t want[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
		0x21, 0x11, 0x00, 0x0c,
		127, 0, 0, 1, 127, 0, 0, 2, 0x12, 0x34, 0x01, 0xbb,
	};
	ck_assert_int_eq(proxy_header_build(2, &s, &d, out, sizeof(out)), (int)sizeof(want));
	ck_assert_mem_eq(out, want, sizeof(want));
}
END_TEST

START_TEST(v2_tcp6)
{
	struct proxy_endpoint s = ep(AF_INET6, "::1", 80), d = ep(AF_INET6, "2001:db8::2", 443);
	uint8_t out[PROXY_HEADER_MAX];
	int n = proxy_header_build(2, &s, &d, out, sizeof(out));
	ck_assert_int_eq(n, 16 + 36);
	ck_assert_int_eq(out[13], 0x21);
	ck_assert_int_eq(out[15], 36);
	ck_assert_int_eq(out[16 + 15], 1);		/* ::1 */
	ck_assert_int_eq(out[16 + 16], 0x20);		/* 2001: */
	ck_assert_int_eq((out[48] << 8) | out[49], 80);
	ck_assert_int_eq((out[50] << 8) | out[51], 443);
}
END_TEST

START_TEST(mapped_client_is_tcp4)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(5000) };
	struct proxy_endpoint e;
	inet_pton(AF_INET6, "::ffff:203.0.113.9", &sa.sin6_addr);
	ck_assert_int_eq(proxy_endpoint_from_sockaddr((struct sockaddr *)&sa, &e), 0);
	ck_assert_int_eq(e.family, AF_INET);
	ck_assert_mem_eq(e.addr, "\xcb\x00\x71\x09", 4);
	ck_assert_int_eq(e.port, 5000);
}
END_TEST

START_TEST(mixed_families_become_tcp6)
{
	struct proxy_endpoint s = ep(AF_INET, "192.0.2.1", 1), d = ep(AF_INET6, "2001:db8::2", 443);
	uint8_t out[PROXY_HEADER_MAX];
	int n = proxy_header_build(1, &s, &d, out, sizeof(out));
	const char *want = "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 443\r\n";
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_mem_eq(out, want, (size_t)n);
}
END_TEST

START_TEST(bad_version)
{
	struct proxy_endpoint s = ep(AF_INET, "192.0.2.1", 1), d = ep(AF_INET, "192.0.2.2", 2);
	uint8_t out[PROXY_HEADER_MAX];
	ck_assert_int_eq(proxy_header_build(3, &s, &d, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(proxy_header_build(0, &s, &d, out, sizeof(out)), -EINVAL);
}
END_TEST

Suite *make_proxy_header_suite(void)
{
	Suite *s = suite_create("proxy_header");
	TCase *tc = tcase_create("build");
	tcase_add_test(tc, v1_tcp4);
	tcase_add_test(tc, v1_tcp6);
	tcase_add_test(tc, v2_tcp4);
	tcase_add_test(tc, v2_tcp6);
	tcase_add_test(tc, mapped_client_is_tcp4);
	tcase_add_test(tc, mixed_families_become_tcp6);
	tcase_add_test(tc, bad_version);
	suite_add_tcase(s, tc);
	return s;
}
