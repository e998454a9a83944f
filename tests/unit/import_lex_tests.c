/* SPDX-License-Identifier: MIT */
/*
 * import-haproxy's lexer (cli/import_lex.h) alone: HAProxy's word rules,
 * durations and addresses, one table each; every bad case names the
 * reason it expects.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "suites.h"
#include "cli/import_lex.h"

#define W_MAX 6

struct tok_case {
	const char *line;
	size_t n;
	const char *words[W_MAX];
};

static const struct tok_case tok_cases[] = {
	{ "bind :80", 2, { "bind", ":80" } },
	{ "  server  a\t1.2.3.4:80 \t check  ", 4, { "server", "a", "1.2.3.4:80", "check" } },
	{ "", 0, { NULL } },
	{ " \t ", 0, { NULL } },
	/* comments: an unquoted '#' ends the line, even inside a word */
	{ "# a comment", 0, { NULL } },
	{ "mode tcp # why", 2, { "mode", "tcp" } },
	{ "a#b c", 1, { "a" } },
	{ "\"a#b\" 'c#d'", 2, { "a#b", "c#d" } },
	{ "a\\#b", 1, { "a#b" } },
	/* quotes group, and join what touches them */
	{ "\"a b\" 'c d'", 2, { "a b", "c d" } },
	{ "x\"a b\"y 'c'\"d\"", 2, { "xa by", "cd" } },
	{ "\"\" ''", 2, { "", "" } },
	{ "\"unterminated word", 1, { "unterminated word" } },
	/* backslash: escapes outside quotes and inside "..."; literal in '...' */
	{ "a\\ b", 1, { "a b" } },
	{ "\"a\\\"b\"", 1, { "a\"b" } },
	{ "\"a\\\\b\"", 1, { "a\\b" } },
	{ "'a\\b'", 1, { "a\\b" } },
	{ "'a\"b'", 1, { "a\"b" } },
	{ "a\\", 1, { "a\\" } },
	/* variables are kept as written, for the reader to refuse */
	{ "server s ${IP}:80", 3, { "server", "s", "${IP}:80" } },
	{ "use_backend %[req.hdr(host),lower,word(1,:)]_http", 2,
	  { "use_backend", "%[req.hdr(host),lower,word(1,:)]_http" } },
};

START_TEST(test_tokens)
{
	const struct tok_case *c = &tok_cases[_i];
	struct hx_line l = { 0 };

	hx_tokenize(&l, c->line);
	ck_assert_msg(l.argc == c->n, "'%s': %zu words, want %zu", c->line, l.argc, c->n);
	for (size_t i = 0; i < c->n; i++)
		ck_assert_str_eq(l.argv[i], c->words[i]);
	hx_line_free(&l);
}
END_TEST

START_TEST(test_line_text)
{
	struct hx_line l = { 0 };
	char longline[300];

	/* what messages quote: trimmed, without the comment */
	hx_tokenize(&l, "\t  timeout connect 5s   # five  ");
	ck_assert_str_eq(l.text, "timeout connect 5s");
	/* a second line reuses the words' array */
	hx_tokenize(&l, "bind \"\x1b[2J\"\x7f");
	ck_assert_uint_eq(l.argc, 2);
	ck_assert_str_eq(l.argv[1], "\x1b[2J\x7f");
	ck_assert_str_eq(l.text, "bind \"?[2J\"?");
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	hx_tokenize(&l, longline);
	ck_assert_uint_eq(strlen(l.text), HX_TEXT_MAX + 3);
	ck_assert_str_eq(l.text + HX_TEXT_MAX, "...");
	ck_assert_uint_eq(strlen(l.argv[0]), sizeof(longline) - 1);
	hx_line_free(&l);
}
END_TEST

START_TEST(test_words)
{
	struct hx_line l = { 0 };

	hx_tokenize(&l, "redirect scheme https if !{ ssl_fc }");
	ck_assert(hx_words(&l, 3, "if !{ ssl_fc }"));
	ck_assert(hx_words(&l, 3, " if  !{ ssl_fc } "));
	ck_assert(!hx_words(&l, 3, "if !{ ssl_fc"));
	ck_assert(!hx_words(&l, 3, "if !{ ssl_fc } x"));
	ck_assert(!hx_words(&l, 3, "if !{ ssl_f }"));
	ck_assert(hx_words(&l, 7, ""));
	hx_line_free(&l);
}
END_TEST

struct dur_case {
	const char *in;
	bool ok;
	uint64_t ms;
};

static const struct dur_case dur_cases[] = {
	/* a bare number is milliseconds, as HAProxy reads `timeout connect 5000` */
	{ "5000", true, 5000 }, { "0", true, 0 }, { "007", true, 7 },
	{ "5ms", true, 5 }, { "5s", true, 5000 }, { "2m", true, 120000 },
	{ "1h", true, 3600000 }, { "1d", true, 86400000 }, { "30d", true, 2592000000ull },
	/* microseconds round up: gatehouse counts milliseconds */
	{ "1us", true, 1 }, { "1000us", true, 1 }, { "1001us", true, 2 }, { "0us", true, 0 },
	{ "", false, 0 }, { "s", false, 0 }, { "ms", false, 0 }, { "-1", false, 0 },
	{ "+1s", false, 0 }, { " 1s", false, 0 }, { "1s ", false, 0 }, { "1 s", false, 0 },
	{ "1.5s", false, 0 }, { "5S", false, 0 }, { "5sec", false, 0 }, { "5x", false, 0 },
	{ "1h30m", false, 0 }, { "99999999999", false, 0 },
};

START_TEST(test_durations)
{
	const struct dur_case *c = &dur_cases[_i];
	uint64_t ms = 12345;

	ck_assert_msg(hx_duration(c->in, &ms) == c->ok, "'%s'", c->in);
	if (c->ok)
		ck_assert_msg(ms == c->ms, "'%s': %llu ms, want %llu", c->in,
			      (unsigned long long)ms, (unsigned long long)c->ms);
}
END_TEST

START_TEST(test_fmt_ms)
{
	static const struct {
		uint64_t ms;
		const char *text;
	} cases[] = {
		{ 5000, "5s" }, { 1500, "1500ms" }, { 1, "1ms" }, { 60000, "1m" },
		{ 90000, "90s" }, { 7200000, "2h" }, { 86400000, "24h" }, { 5400000, "90m" },
	};
	char buf[32];

	for (size_t i = 0; i < HX_ARRAY(cases); i++) {
		uint64_t back;

		ck_assert_str_eq(hx_fmt_ms(cases[i].ms, buf, sizeof(buf)), cases[i].text);
		ck_assert(hx_duration(buf, &back) && back == cases[i].ms);
	}
}
END_TEST

struct addr_case {
	const char *in;
	bool bind;
	const char *why;	/* NULL: reads; else a word of the reason */
	int family;
	const char *host;
	unsigned port;
	bool any, odd;
};

static const struct addr_case addr_cases[] = {
	/* the seed: unbracketed IPv6, HAProxy's last colon is the port */
	{ "2601:40e:69:69:0:0:0:feed:80", false, NULL, AF_INET6, "2601:40e:69:69::feed", 80, false, false },
	{ "2001:db8:10:0:0:0:0:2:8080", false, NULL, AF_INET6, "2001:db8:10::2", 8080, false, false },
	/* a whole IPv6 address: its last group became the port */
	{ "2001:db8::1:443", false, NULL, AF_INET6, "2001:db8::1", 443, false, true },
	{ "[2001:db8::1]:443", false, NULL, AF_INET6, "2001:db8::1", 443, false, false },
	{ "[2001:DB8:10::1]:443", false, NULL, AF_INET6, "2001:db8:10::1", 443, false, false },
	{ "[::ffff:192.0.2.1]:80", false, NULL, AF_INET6, "::ffff:192.0.2.1", 80, false, false },
	{ "[2001:db8::1]", false, NULL, AF_INET6, "2001:db8::1", 0, false, false },
	{ "ipv6@[2001:db8::1]:80", false, NULL, AF_INET6, "2001:db8::1", 80, false, false },
	{ "tcp6@[2001:db8::1]:80", false, NULL, AF_INET6, "2001:db8::1", 80, false, false },
	{ "192.0.2.10:8080", false, NULL, AF_INET, "192.0.2.10", 8080, false, false },
	{ "192.0.2.10", false, NULL, AF_INET, "192.0.2.10", 0, false, false },
	{ "tcp@192.0.2.10:1", false, NULL, AF_INET, "192.0.2.10", 1, false, false },
	{ "ipv4@192.0.2.10:65535", false, NULL, AF_INET, "192.0.2.10", 65535, false, false },
	/* binds: no address is every IPv4 address, as in HAProxy */
	{ ":80", true, NULL, AF_INET, "0.0.0.0", 80, true, false },
	{ "*:443", true, NULL, AF_INET, "0.0.0.0", 443, true, false },
	{ "0.0.0.0:443", true, NULL, AF_INET, "0.0.0.0", 443, true, false },
	{ "ipv6@:443", true, NULL, AF_INET6, "::", 443, true, false },
	{ "[::]:443", true, NULL, AF_INET6, "::", 443, true, false },
	{ ":::80", true, NULL, AF_INET6, "::", 80, true, false },
	{ "[::1]:8443", true, NULL, AF_INET6, "::1", 8443, false, false },
	/* a server can't be "wherever the client went" */
	{ ":80", false, "no address", 0, NULL, 0, false, false },
	{ "[::]:80", false, "unspecified", 0, NULL, 0, false, false },
	{ "0.0.0.0:80", false, "unspecified", 0, NULL, 0, false, false },
	/* ports */
	{ "192.0.2.1:0", false, "1 to 65535", 0, NULL, 0, false, false },
	{ "192.0.2.1:65536", false, "1 to 65535", 0, NULL, 0, false, false },
	{ "192.0.2.1:99999999999", false, "bad port", 0, NULL, 0, false, false },
	{ "192.0.2.1:", false, "empty port", 0, NULL, 0, false, false },
	{ "192.0.2.1:+1", false, "offsets", 0, NULL, 0, false, false },
	{ "192.0.2.1:80-90", false, "ranges", 0, NULL, 0, false, false },
	{ "192.0.2.1:8o", false, "bad port", 0, NULL, 0, false, false },
	{ "[2001:db8::1]:", false, "empty port", 0, NULL, 0, false, false },
	/* brackets */
	{ "[2001:db8::1", false, "malformed", 0, NULL, 0, false, false },
	{ "[2001:db8::1]80", false, "malformed", 0, NULL, 0, false, false },
	{ "[]:80", true, "malformed", 0, NULL, 0, false, false },
	{ "[192.0.2.1]:80", false, "not a numeric", 0, NULL, 0, false, false },
	{ "ipv4@[2001:db8::1]:80", false, "not a numeric", 0, NULL, 0, false, false },
	{ "ipv6@192.0.2.1:80", false, "not a numeric", 0, NULL, 0, false, false },
	/* not an address gatehouse can dial */
	{ "::1", false, "last ':'", 0, NULL, 0, false, false },
	{ "www.example.net:80", false, "never resolved", 0, NULL, 0, false, false },
	{ "192.0.2.1.5:80", false, "not a numeric", 0, NULL, 0, false, false },
	{ "12345:80", false, "not a numeric", 0, NULL, 0, false, false },
	{ "unix@/run/x.sock", false, "not a TCP", 0, NULL, 0, false, false },
	{ "/run/x.sock", true, "not a TCP", 0, NULL, 0, false, false },
	{ "udp@192.0.2.1:53", false, "not a TCP", 0, NULL, 0, false, false },
	{ "${IP}:80", false, "environment", 0, NULL, 0, false, false },
	{ "", false, "no address", 0, NULL, 0, false, false },
};

START_TEST(test_addresses)
{
	const struct addr_case *c = &addr_cases[_i];
	struct hx_addr a;
	bool odd = !c->odd;
	const char *why = hx_parse_addr(c->in, c->bind, &a, &odd);

	if (c->why) {
		ck_assert_msg(why && strstr(why, c->why), "'%s': '%s', want '%s'", c->in,
			      why ? why : "(reads)", c->why);
		return;
	}
	ck_assert_msg(!why, "'%s': %s", c->in, why);
	ck_assert_int_eq(a.family, c->family);
	ck_assert_str_eq(a.host, c->host);
	ck_assert_uint_eq(a.port, c->port);
	ck_assert(a.any == c->any);
	ck_assert(odd == c->odd);
}
END_TEST

START_TEST(test_addr_text)
{
	struct hx_addr a;
	char t[80];
	bool odd;

	ck_assert_ptr_null(hx_parse_addr("2601:40e:69:69:0:0:0:feed:80", false, &a, &odd));
	hx_addr_text(&a, a.port, t, sizeof(t));
	ck_assert_str_eq(t, "[2601:40e:69:69::feed]:80");
	ck_assert_ptr_null(hx_parse_addr("192.0.2.10", false, &a, &odd));
	hx_addr_text(&a, 443, t, sizeof(t));
	ck_assert_str_eq(t, "192.0.2.10:443");
}
END_TEST

Suite *make_import_lex_suite(void)
{
	Suite *s = suite_create("import_lex");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_tokens, 0, HX_ARRAY(tok_cases));
	tcase_add_test(tc, test_line_text);
	tcase_add_test(tc, test_words);
	tcase_add_loop_test(tc, test_durations, 0, HX_ARRAY(dur_cases));
	tcase_add_test(tc, test_fmt_ms);
	tcase_add_loop_test(tc, test_addresses, 0, HX_ARRAY(addr_cases));
	tcase_add_test(tc, test_addr_text);
	suite_add_tcase(s, tc);
	return s;
}
