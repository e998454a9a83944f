/* SPDX-License-Identifier: MIT */
/*
 * hostname_normalize() and hostname_normalize_pattern(): one table each,
 * every bad case naming the status it expects.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "router/hostname.h"

/* a literal with its exact length, so embedded NULs count */
#define S(x) (const uint8_t *)(x), sizeof(x) - 1

#define A10 "aaaaaaaaaa"
#define L59 A10 A10 A10 A10 A10 "aaaaaaaaa"
#define L61 L59 "aa"
#define L62 L61 "b"
#define L63 L62 "c"
#define L64 L63 "d"
/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes */
#define N253 L63 "." L63 "." L63 "." L61
#define N254 L63 "." L63 "." L63 "." L62

struct name_case {
	const uint8_t *in;
	size_t len;
	enum hostname_status want;
	const char *out;		/* expected result when want == HOSTNAME_OK */
};

static const struct name_case name_cases[] = {
	/* plain names, lowercased */
	{ S("example.com"), HOSTNAME_OK, "example.com" },
	{ S("ExAmPlE.CoM"), HOSTNAME_OK, "example.com" },
	{ S("a"), HOSTNAME_OK, "a" },
	{ S("xn--bcher-kva.example"), HOSTNAME_OK, "xn--bcher-kva.example" },
	{ S("_acme-challenge.Example"), HOSTNAME_OK, "_acme-challenge.example" },
	{ S("192.0.2.1"), HOSTNAME_OK, "192.0.2.1" },
	/* the class edges by name (test_name_classes tries every byte) */
	{ S("AZ-az_09.Zz"), HOSTNAME_OK, "az-az_09.zz" },
	{ S("a@b"), HOSTNAME_E_CHAR, NULL },
	{ S("a[b"), HOSTNAME_E_CHAR, NULL },
	{ S("a`b"), HOSTNAME_E_CHAR, NULL },
	{ S("a{b"), HOSTNAME_E_CHAR, NULL },
	/* one trailing dot stripped, two are an empty label */
	{ S("a.b."), HOSTNAME_OK, "a.b" },
	{ S("a.b.."), HOSTNAME_E_EMPTY_LABEL, NULL },
	{ S("a..b"), HOSTNAME_E_EMPTY_LABEL, NULL },
	{ S(".a"), HOSTNAME_E_EMPTY_LABEL, NULL },
	{ S(".."), HOSTNAME_E_EMPTY_LABEL, NULL },
	{ S("."), HOSTNAME_E_EMPTY, NULL },
	{ S(".:80"), HOSTNAME_E_EMPTY, NULL },
	{ S(""), HOSTNAME_E_EMPTY, NULL },
	/* ports: 1-5 digits, 1..65535; an empty port is no port (RFC 3986) */
	{ S("Example.COM:8080"), HOSTNAME_OK, "example.com" },
	{ S("example.com.:80"), HOSTNAME_OK, "example.com" },
	{ S("a:1"), HOSTNAME_OK, "a" },
	{ S("a:65535"), HOSTNAME_OK, "a" },
	{ S("a:00080"), HOSTNAME_OK, "a" },
	{ S("a:"), HOSTNAME_OK, "a" },
	{ S("a.:"), HOSTNAME_OK, "a" },
	{ S("a:0"), HOSTNAME_E_PORT, NULL },
	{ S("a:65536"), HOSTNAME_E_PORT, NULL },
	{ S("a:99999"), HOSTNAME_E_PORT, NULL },
	{ S("a:000080"), HOSTNAME_E_PORT, NULL },
	{ S("a:8o"), HOSTNAME_E_PORT, NULL },
	{ S("a:80:80"), HOSTNAME_E_PORT, NULL },
	{ S("a: 80"), HOSTNAME_E_PORT, NULL },
	{ S("a:-1"), HOSTNAME_E_PORT, NULL },
	{ S(":80"), HOSTNAME_E_EMPTY, NULL },
	{ S(":"), HOSTNAME_E_EMPTY, NULL },
	{ S("a..:80"), HOSTNAME_E_EMPTY_LABEL, NULL },
	/* IPv6 literals */
	{ S("[2001:DB8::1]:443"), HOSTNAME_OK, "[2001:db8::1]" },
	{ S("[2001:db8::1]"), HOSTNAME_OK, "[2001:db8::1]" },
	{ S("[::1]:8080"), HOSTNAME_OK, "[::1]" },
	{ S("[::]"), HOSTNAME_OK, "[::]" },
	{ S("[::ffff:192.0.2.1]"), HOSTNAME_OK, "[::ffff:192.0.2.1]" },
	{ S("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]"), HOSTNAME_OK,
	  "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]" },
	{ S("[::1]:"), HOSTNAME_OK, "[::1]" },
	{ S("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2550]"), HOSTNAME_E_LITERAL, NULL },
	{ S("[::1"), HOSTNAME_E_LITERAL, NULL },
	{ S("[::"), HOSTNAME_E_LITERAL, NULL },
	{ S("["), HOSTNAME_E_LITERAL, NULL },
	{ S("[]"), HOSTNAME_E_LITERAL, NULL },
	{ S("[1]"), HOSTNAME_E_LITERAL, NULL },
	{ S("[192.0.2.1]"), HOSTNAME_E_LITERAL, NULL },
	{ S("[fe80::1%25eth0]"), HOSTNAME_E_LITERAL, NULL },
	{ S("[::g]"), HOSTNAME_E_LITERAL, NULL },
	{ S("[::1]."), HOSTNAME_E_LITERAL, NULL },
	{ S("[::1]x"), HOSTNAME_E_LITERAL, NULL },
	{ S("[::1]:0"), HOSTNAME_E_PORT, NULL },
	{ S("[::1]:x"), HOSTNAME_E_PORT, NULL },
	{ S("[::\0]"), HOSTNAME_E_LITERAL, NULL },
	/* unbracketed IPv6: the first ':' starts a port */
	{ S("2001:db8::1"), HOSTNAME_E_PORT, NULL },
	{ S("::1"), HOSTNAME_E_PORT, NULL },
	{ S("a]"), HOSTNAME_E_CHAR, NULL },
	/* bytes outside [a-z0-9-_.] */
	{ S("a\0b"), HOSTNAME_E_CHAR, NULL },
	{ S("a\0"), HOSTNAME_E_CHAR, NULL },
	{ S("\0"), HOSTNAME_E_CHAR, NULL },
	{ S("a b"), HOSTNAME_E_CHAR, NULL },
	{ S(" a"), HOSTNAME_E_CHAR, NULL },
	{ S("a%2eb"), HOSTNAME_E_CHAR, NULL },
	{ S("a/b"), HOSTNAME_E_CHAR, NULL },
	{ S("user@a"), HOSTNAME_E_CHAR, NULL },
	{ S("b\xc3\xbc" "cher.example"), HOSTNAME_E_CHAR, NULL },
	{ S("\xff"), HOSTNAME_E_CHAR, NULL },
	{ S("a\tb"), HOSTNAME_E_CHAR, NULL },
	{ S("a\r\nb"), HOSTNAME_E_CHAR, NULL },
	{ S("*.a"), HOSTNAME_E_CHAR, NULL },
	{ S("a+b"), HOSTNAME_E_CHAR, NULL },
	{ S("A\x7f"), HOSTNAME_E_CHAR, NULL },
	/* label 63 vs 64 */
	{ S(L63 ".example"), HOSTNAME_OK, L63 ".example" },
	{ S(L64 ".example"), HOSTNAME_E_LABEL_TOO_LONG, NULL },
	{ S("x." L64), HOSTNAME_E_LABEL_TOO_LONG, NULL },
	/* name 253 vs 254, a trailing dot and port not counted */
	{ S(N253), HOSTNAME_OK, N253 },
	{ S(N253 "."), HOSTNAME_OK, N253 },
	{ S(N253 ".:443"), HOSTNAME_OK, N253 },
	{ S(N254), HOSTNAME_E_TOO_LONG, NULL },
	{ S(N254 "."), HOSTNAME_E_TOO_LONG, NULL },
	{ S(N254 ":80"), HOSTNAME_E_TOO_LONG, NULL },
	{ S(N253 ".."), HOSTNAME_E_EMPTY_LABEL, NULL },
	{ S(N253 ".a"), HOSTNAME_E_TOO_LONG, NULL },
	{ S(N253 "." N253), HOSTNAME_E_TOO_LONG, NULL },
};

static const struct name_case pattern_cases[] = {
	{ S("*.Beef.Example"), HOSTNAME_OK, "*.beef.example" },
	{ S("*.beef.example."), HOSTNAME_OK, "*.beef.example" },
	{ S("*.a"), HOSTNAME_OK, "*.a" },
	{ S("Test2.Example.NET"), HOSTNAME_OK, "test2.example.net" },
	/* '*' is only ever the whole first label */
	{ S("a.*.b"), HOSTNAME_E_CHAR, NULL },
	{ S("a.*"), HOSTNAME_E_CHAR, NULL },
	{ S("*a.b"), HOSTNAME_E_CHAR, NULL },
	{ S("**.b"), HOSTNAME_E_CHAR, NULL },
	{ S("*.*.b"), HOSTNAME_E_CHAR, NULL },
	{ S("*"), HOSTNAME_E_CHAR, NULL },
	{ S("*."), HOSTNAME_E_EMPTY_LABEL, NULL },
	{ S("*.."), HOSTNAME_E_EMPTY_LABEL, NULL },
	{ S("*..a"), HOSTNAME_E_EMPTY_LABEL, NULL },
	/* no ports, no literals in the config */
	{ S("*.a:80"), HOSTNAME_E_PORT, NULL },
	{ S("a:80"), HOSTNAME_E_PORT, NULL },
	{ S("a:"), HOSTNAME_E_PORT, NULL },
	{ S("[::1]"), HOSTNAME_E_CHAR, NULL },
	{ S(""), HOSTNAME_E_EMPTY, NULL },
	{ S("."), HOSTNAME_E_EMPTY, NULL },
	{ S("*.a b"), HOSTNAME_E_CHAR, NULL },
	{ S("*.a\0"), HOSTNAME_E_CHAR, NULL },
	/* the "*." counts toward 253 */
	{ S("*." L63 "." L63 "." L63 "." L59), HOSTNAME_OK,
	  "*." L63 "." L63 "." L63 "." L59 },
	{ S("*." L63 "." L63 "." L63 "." L59 "."), HOSTNAME_OK,
	  "*." L63 "." L63 "." L63 "." L59 },
	{ S("*." L63 "." L63 "." L63 "." L59 "x"), HOSTNAME_E_TOO_LONG, NULL },
	{ S("*." L64), HOSTNAME_E_LABEL_TOO_LONG, NULL },
};

typedef enum hostname_status (*normalize_fn)(const uint8_t *, size_t, char *, size_t *);

static void check_name_case(normalize_fn fn, const char *what, size_t i, const struct name_case *c)
{
	/* an exact-size copy, so ASan catches a read past the end */
	uint8_t *in = malloc(c->len ? c->len : 1);
	char out[HOSTNAME_MAX + 1];
	size_t out_len = 12345;

	ck_assert_ptr_nonnull(in);
	memcpy(in, c->in, c->len);
	enum hostname_status r = fn(in, c->len, out, &out_len);
	ck_assert_msg(r == c->want, "%s case %zu: got %s (%d), want %s (%d)",
		      what, i, hostname_status_str(r), r,
		      hostname_status_str(c->want), c->want);
	if (r == HOSTNAME_OK) {
		ck_assert_uint_eq(out_len, strlen(c->out));
		ck_assert_str_eq(out, c->out);
		ck_assert_uint_le(out_len, HOSTNAME_MAX);

		/* normalising a normalised name changes nothing */
		char again[HOSTNAME_MAX + 1];
		size_t again_len = 0;

		ck_assert_int_eq(fn((const uint8_t *)out, out_len, again, &again_len), HOSTNAME_OK);
		ck_assert_str_eq(again, out);
		ck_assert_uint_eq(again_len, out_len);
		/* on the exact-size copy too: ASan sees a read past len */
		if (fn == hostname_normalize)
			(void)hostname_port(in, c->len);
	}
	free(in);

	/* the bytes after len never matter: the same name at the front of a
	 * buffer that goes on with what would close a literal, a port, a label */
	static const char *const tails[] = { "2]:80", "]", ":8", "a", ".b", "\0" };
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		size_t tl = strlen(tails[t]) + 1;
		uint8_t *more = malloc(c->len + tl);
		char out2[HOSTNAME_MAX + 1];
		size_t out2_len = 0;

		ck_assert_ptr_nonnull(more);
		memcpy(more, c->in, c->len);
		memcpy(more + c->len, tails[t], tl);
		enum hostname_status r2 = fn(more, c->len, out2, &out2_len);
		ck_assert_msg(r2 == r, "%s case %zu + tail %zu: got %s, want %s", what, i, t,
			      hostname_status_str(r2), hostname_status_str(r));
		if (r == HOSTNAME_OK) {
			ck_assert_str_eq(out2, c->out);
			if (fn == hostname_normalize)
				ck_assert_uint_eq(hostname_port(more, c->len), hostname_port(c->in, c->len));
		}
		free(more);
	}
}

/* one test per table: a fork per case costs ~50 ms under ASan; every
 * message names its table and index */
START_TEST(test_names)
{
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++)
		check_name_case(hostname_normalize, "name", i, &name_cases[i]);
}
END_TEST

START_TEST(test_patterns)
{
	for (size_t i = 0; i < sizeof(pattern_cases) / sizeof(pattern_cases[0]); i++)
		check_name_case(hostname_normalize_pattern, "pattern", i, &pattern_cases[i]);
}
END_TEST

/* every plain name that passes as a host passes as a pattern, and the
 * reverse holds for names without a port */
START_TEST(test_pattern_agrees)
{
	static const char *const names[] = { "a.b", "A.B.", "x_y-z.example", "1.2.3.4" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char a[HOSTNAME_MAX + 1], b[HOSTNAME_MAX + 1];
		size_t a_len, b_len;
		const uint8_t *n = (const uint8_t *)names[i];

		ck_assert_int_eq(hostname_normalize(n, strlen(names[i]), a, &a_len), HOSTNAME_OK);
		ck_assert_int_eq(hostname_normalize_pattern(n, strlen(names[i]), b, &b_len), HOSTNAME_OK);
		ck_assert_str_eq(a, b);
		ck_assert_uint_eq(a_len, b_len);
	}
}
END_TEST

/*
 * Character classes at both edges: every byte, in every position that has
 * its own class, against sets spelled out here byte by byte (not as ranges,
 * so a test cannot share the code's off-by-one). The edges that matter:
 * 'A' 'Z' 'a' 'z' '0' '9' '-' '_' '.' and their neighbours '@' '[' '`' '{'
 * '/' ':' (issue #11.9: "c < 'Z'" in the lowercasing survived every suite).
 */
static const char lower_set[] = "abcdefghijklmnopqrstuvwxyz";
static const char upper_set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char digit_set[] = "0123456789";
static const char hex_set[] = "0123456789abcdefABCDEF";

static bool in_set(int c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

/* c as it must come out of a name: lowercased if a letter */
static int expect_lower(int c)
{
	return in_set(c, upper_set) ? lower_set[strchr(upper_set, c) - upper_set] : c;
}

/* "x" c "y": a label byte, a dot, a port's colon, or a bad byte */
static void check_middle_byte(normalize_fn fn, bool is_pattern, int c)
{
	uint8_t in[3] = { 'x', (uint8_t)c, 'y' };
	char out[HOSTNAME_MAX + 1], want[4] = { 'x', (char)expect_lower(c), 'y', '\0' };
	size_t out_len = 0;
	enum hostname_status r = fn(in, sizeof(in), out, &out_len);
	enum hostname_status w;

	if (in_set(c, lower_set) || in_set(c, upper_set) || in_set(c, digit_set) ||
	    c == '-' || c == '_' || c == '.')
		w = HOSTNAME_OK;
	else if (c == ':')
		w = HOSTNAME_E_PORT;	/* "y" is no port; a pattern takes none */
	else
		w = HOSTNAME_E_CHAR;
	ck_assert_msg(r == w, "%s: x\\x%02xy: %s, want %s", is_pattern ? "pattern" : "name", c,
		      hostname_status_str(r), hostname_status_str(w));
	if (w == HOSTNAME_OK) {
		ck_assert_str_eq(out, want);
		ck_assert_uint_eq(out_len, 3);
	}
}

START_TEST(test_name_classes)
{
	for (int c = 0; c < 256; c++) {
		check_middle_byte(hostname_normalize, false, c);
		check_middle_byte(hostname_normalize_pattern, true, c);
	}
}
END_TEST

/* every byte inside "[::" c "]": hex digits (either case), ':' and '.' */
START_TEST(test_literal_classes)
{
	for (int c = 0; c < 256; c++) {
		uint8_t in[5] = { '[', ':', ':', (uint8_t)c, ']' };
		char out[HOSTNAME_MAX + 1];
		size_t out_len = 0;
		enum hostname_status r = hostname_normalize(in, sizeof(in), out, &out_len);
		bool ok = in_set(c, hex_set) || c == ':' || c == '.';

		ck_assert_msg(r == (ok ? HOSTNAME_OK : HOSTNAME_E_LITERAL), "[::\\x%02x]: %s", c,
			      hostname_status_str(r));
		if (ok) {
			char want[6] = { '[', ':', ':', (char)expect_lower(c), ']', '\0' };

			ck_assert_str_eq(out, want);
		}
	}
}
END_TEST

/* every byte as a port digit, first and last: "a:" c and "a:1" c */
START_TEST(test_port_classes)
{
	for (int c = 0; c < 256; c++) {
		uint8_t one[3] = { 'a', ':', (uint8_t)c }, two[4] = { 'a', ':', '1', (uint8_t)c };
		char out[HOSTNAME_MAX + 1];
		size_t out_len;
		bool digit = in_set(c, digit_set);
		enum hostname_status r1 = hostname_normalize(one, sizeof(one), out, &out_len);
		enum hostname_status r2 = hostname_normalize(two, sizeof(two), out, &out_len);

		/* port 0 is refused */
		ck_assert_msg(r1 == (digit && c != '0' ? HOSTNAME_OK : HOSTNAME_E_PORT), "a:\\x%02x: %s",
			      c, hostname_status_str(r1));
		ck_assert_msg(r2 == (digit ? HOSTNAME_OK : HOSTNAME_E_PORT), "a:1\\x%02x: %s", c,
			      hostname_status_str(r2));
		if (digit) {
			ck_assert_uint_eq(hostname_port(two, sizeof(two)), 10u + (unsigned)(c - '0'));
			if (c != '0')
				ck_assert_uint_eq(hostname_port(one, sizeof(one)), (unsigned)(c - '0'));
		}
	}
}
END_TEST

/* hostname_port(): the port an accepted authority names, 0 for none */
START_TEST(test_port_value)
{
	static const struct {
		const char *in;
		unsigned port;
	} c[] = {
		{ "a.example", 0 }, { "a.example:", 0 }, { "a.example.:", 0 }, { "a:80", 80 },
		{ "a:080", 80 }, { "a:00080", 80 }, { "a:65535", 65535 }, { "a:1", 1 },
		{ "[::1]", 0 }, { "[::1]:", 0 }, { "[::1]:8080", 8080 }, { "[2001:db8::80]:443", 443 },
		{ "A.Example.:8443", 8443 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char out[HOSTNAME_MAX + 1];
		size_t out_len;
		const uint8_t *in = (const uint8_t *)c[i].in;

		ck_assert_int_eq(hostname_normalize(in, strlen(c[i].in), out, &out_len), HOSTNAME_OK);
		ck_assert_msg(hostname_port(in, strlen(c[i].in)) == c[i].port, "%s: %u, want %u",
			      c[i].in, hostname_port(in, strlen(c[i].in)), c[i].port);
	}
}
END_TEST

START_TEST(test_status_str)
{
	for (int s = HOSTNAME_OK; s <= HOSTNAME_E_LITERAL; s++) {
		const char *t = hostname_status_str((enum hostname_status)s);

		ck_assert_ptr_nonnull(t);
		ck_assert_str_ne(t, "unknown");
	}
}
END_TEST

Suite *make_hostname_suite(void)
{
	Suite *s = suite_create("hostname");
	TCase *tc = tcase_create("normalize");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_patterns);
	tcase_add_test(tc, test_pattern_agrees);
	tcase_add_test(tc, test_status_str);
	suite_add_tcase(s, tc);

	tc = tcase_create("classes");
	tcase_add_test(tc, test_name_classes);
	tcase_add_test(tc, test_literal_classes);
	tcase_add_test(tc, test_port_classes);
	tcase_add_test(tc, test_port_value);
	suite_add_tcase(s, tc);
	return s;
}
