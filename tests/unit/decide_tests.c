/* SPDX-License-Identifier: MIT */
/*
 * decide_bytes() / decide_timeout(): the listener's decision from the bytes
 * seen, through the real parsers and router, as inspect.c calls it.
 *  - names at the edges of every character class, by SNI and by Host: a
 *    name the classes get wrong goes unrouted (issue #11.9);
 *  - redirect-https routes a lone, well-formed ACME challenge and marks it
 *    one request (issue #11.3);
 *  - answers are written into the caller's buffer, nowhere else (#12);
 *  - decide_access(): allow/deny lists, global then the site's, by peer
 *    address in each form accept() gives it (issue #15.1).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "suites.h"
#include "listener/decide.h"
#include "common/reply.h"
#include "router/tls_hello.h"

static void no_errors(void *u, const char *m)
{
	(void)u;
	ck_abort_msg("config: %s", m);
}

static struct gh_config *parse(const char *text)
{
	struct gh_config *c = NULL;

	ck_assert_int_ge(config_parse("test", text, strlen(text), no_errors, NULL, &c), 0);
	return c;
}

/* A minimal TLS 1.2 ClientHello record with one host_name of n bytes. */
static size_t hello(const uint8_t *name, size_t n, uint8_t *w, size_t size)
{
	size_t ext = 2 + 1 + 2 + n;		/* list length, type, name length, name */
	size_t body = 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 4 + ext;
	size_t len = 5 + 4 + body, i = 0;

	ck_assert_uint_le(len, size);
	w[i++] = 22; w[i++] = 3; w[i++] = 1;
	w[i++] = (uint8_t)((4 + body) >> 8); w[i++] = (uint8_t)(4 + body);
	w[i++] = 1; w[i++] = 0;
	w[i++] = (uint8_t)(body >> 8); w[i++] = (uint8_t)body;
	w[i++] = 3; w[i++] = 3;
	memset(w + i, 0x5a, 32); i += 32;
	w[i++] = 0;				/* session id */
	w[i++] = 0; w[i++] = 2; w[i++] = 0x13; w[i++] = 0x01;
	w[i++] = 1; w[i++] = 0;			/* compression: null */
	w[i++] = (uint8_t)((4 + ext) >> 8); w[i++] = (uint8_t)(4 + ext);
	w[i++] = 0; w[i++] = 0;			/* server_name */
	w[i++] = (uint8_t)(ext >> 8); w[i++] = (uint8_t)ext;
	w[i++] = (uint8_t)((ext - 2) >> 8); w[i++] = (uint8_t)(ext - 2);
	w[i++] = 0;				/* host_name */
	w[i++] = (uint8_t)(n >> 8); w[i++] = (uint8_t)n;
	memcpy(w + i, name, n); i += n;
	ck_assert_uint_eq(i, len);
	return len;
}

/* A TLS 1.2 ClientHello record naming host a.example and offering the ALPN
 * list alpn[0..n) in wire form (none if n is 0). */
static size_t hello_alpn(const char *alpn, size_t n, uint8_t *w, size_t size)
{
	static const uint8_t sni[] = { 0, 0, 0, 14, 0, 12, 0, 0, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e' };
	size_t ext = sizeof(sni) + (n ? 4 + 2 + n : 0);
	size_t body = 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + ext;
	size_t len = 5 + 4 + body, i = 0;

	ck_assert_uint_le(len, size);
	w[i++] = 22; w[i++] = 3; w[i++] = 1;
	w[i++] = (uint8_t)((4 + body) >> 8); w[i++] = (uint8_t)(4 + body);
	w[i++] = 1; w[i++] = 0;
	w[i++] = (uint8_t)(body >> 8); w[i++] = (uint8_t)body;
	w[i++] = 3; w[i++] = 3;
	memset(w + i, 0x5a, 32); i += 32;
	w[i++] = 0;
	w[i++] = 0; w[i++] = 2; w[i++] = 0x13; w[i++] = 0x01;
	w[i++] = 1; w[i++] = 0;
	w[i++] = (uint8_t)(ext >> 8); w[i++] = (uint8_t)ext;
	memcpy(w + i, sni, sizeof(sni)); i += sizeof(sni);
	if (n) {
		w[i++] = 0; w[i++] = 16;
		w[i++] = (uint8_t)((n + 2) >> 8); w[i++] = (uint8_t)(n + 2);
		w[i++] = (uint8_t)(n >> 8); w[i++] = (uint8_t)n;
		memcpy(w + i, alpn, n); i += n;
	}
	ck_assert_uint_eq(i, len);
	return len;
}

static const char lower_set[] = "abcdefghijklmnopqrstuvwxyz";
static const char upper_set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static bool in_set(int c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

/* The name "x" c "y.example" routes as "x" lower(c) "y.example" when c is
 * in [A-Za-z0-9_-.], and not at all otherwise. */
static void want_name(const char *what, int c, const struct decision *d)
{
	bool ok = in_set(c, lower_set) || in_set(c, upper_set) || in_set(c, "0123456789-_.");
	char want[16] = "";

	if (ok) {
		int l = in_set(c, upper_set) ? lower_set[strchr(upper_set, c) - upper_set] : c;

		want[0] = 'x';
		want[1] = (char)l;
		memcpy(want + 2, "y.example", sizeof("y.example"));
	}
	ck_assert_msg(strcmp(d->name, want) == 0, "%s x\\x%02xy.example: name '%s', want '%s'",
		      what, c, d->name, want);
}

static char ans[DECIDE_ANSWER_MAX];

/* The case: a site with a Z in its name is reached by SNI and by
 * Host whatever the case, and every byte is classed right in both. */
START_TEST(test_name_classes_sni_host)
{
	struct gh_config *cfg = parse("site xzy.example x-y.example x_y.example x9y.example\n"
				      "  http [::1]:80\n  tls [::1]:443\n"
				      "site dflt.example\n  http [::1]:81\n  tls [::1]:444\n"
				      "default tls dflt.example\ndefault http dflt.example\n");
	static const char *const routed[] = { "xZy.example", "XZY.EXAMPLE", "xzy.example", "x-y.example",
					      "x_y.example", "x9y.example", "X9Y.Example." };
	uint8_t w[512];
	char req[256];
	struct decision d;

	for (size_t i = 0; i < sizeof(routed) / sizeof(routed[0]); i++) {
		size_t n = hello((const uint8_t *)routed[i], strlen(routed[i]), w, sizeof(w));

		decide_bytes(cfg, GH_KIND_TLS, w, n, false, &d, ans, sizeof(ans));
		ck_assert_msg(d.action == DECIDE_HANDOFF && d.site == 0, "SNI %s: action %d site %u",
			      routed[i], d.action, d.site);
		int rl = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", routed[i]);
		decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)req, (size_t)rl, false, &d, ans, sizeof(ans));
		ck_assert_msg(d.action == DECIDE_HANDOFF && d.site == 0, "Host %s: action %d site %u",
			      routed[i], d.action, d.site);
	}
	for (int c = 0; c < 256; c++) {
		uint8_t name[11] = { 'x', (uint8_t)c, 'y', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e' };
		size_t n = hello(name, sizeof(name), w, sizeof(w));

		/* SNI: a bad name is routed like no name (the default) */
		decide_bytes(cfg, GH_KIND_TLS, w, n, false, &d, ans, sizeof(ans));
		ck_assert_int_eq(d.action, DECIDE_HANDOFF);
		want_name("SNI", c, &d);

		/* Host: a bad name is 400 */
		memcpy(req, "GET / HTTP/1.1\r\nHost: ", 22);
		memcpy(req + 22, name, sizeof(name));
		memcpy(req + 22 + sizeof(name), "\r\n\r\n", 4);
		decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)req, 22 + sizeof(name) + 4, false, &d,
			     ans, sizeof(ans));
		if (d.action == DECIDE_HANDOFF) {
			want_name("Host", c, &d);
		} else {
			ck_assert_msg(d.action == DECIDE_ANSWER && d.status == 400, "Host x\\x%02xy: %d %d",
				      c, d.action, d.status);
			/* a name with this byte must not route */
			want_name("Host", c, &(struct decision){ .name = "" });
		}
	}
	config_free(cfg);
}
END_TEST

#define TOK "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define CHALLENGE "GET /.well-known/acme-challenge/" TOK " HTTP/1.1\r\nHost: a.example\r\n\r\n"

static const char redirect_conf[] = "http-mode redirect-https\n"
				    "site a.example\n  http [::1]:80\n  tls [::1]:443\n";

START_TEST(test_acme_one_request)
{
	struct gh_config *cfg = parse(redirect_conf);
	struct decision d;
	const char *in = CHALLENGE;

	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)in, strlen(in), false, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_HANDOFF);
	ck_assert_uint_eq(d.one_request, strlen(in));
	ck_assert_str_eq(d.name, "a.example");

	/* half-closed after the request: still the one request */
	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)in, strlen(in), true, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_HANDOFF);
	ck_assert_uint_eq(d.one_request, strlen(in));

	/* anything already sent after the head: a pipelined request, redirected */
	static const char *const after[] = { "G", "\r\n", "GET /admin HTTP/1.1\r\nHost: a.example\r\n\r\n" };
	for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
		char two[512];
		int n = snprintf(two, sizeof(two), "%s%s", in, after[i]);

		decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)two, (size_t)n, false, &d, ans, sizeof(ans));
		ck_assert_msg(d.action == DECIDE_ANSWER && d.status == 301, "challenge + %zu: %d %d", i,
			      d.action, d.status);
		ck_assert_uint_eq(d.one_request, 0);
	}

	/* not a challenge: redirected, never handed off */
	in = "GET /.well-known/acme-challenge/../../admin HTTP/1.1\r\nHost: a.example\r\n\r\n";
	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)in, strlen(in), false, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_ANSWER);
	ck_assert_int_eq(d.status, 301);
	ck_assert_str_eq(d.result, "redirect");
	config_free(cfg);

	/* http-mode route: every request is a tunnel, no one-request mark */
	cfg = parse("site a.example\n  http [::1]:80\n");
	in = CHALLENGE;
	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)in, strlen(in), false, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_HANDOFF);
	ck_assert_uint_eq(d.one_request, 0);
	config_free(cfg);
}
END_TEST

/* #12: the answer is built in the buffer the caller passes, so two
 * decisions in flight do not share one. */
START_TEST(test_answer_in_callers_buffer)
{
	struct gh_config *cfg = parse(redirect_conf);
	static char a[DECIDE_ANSWER_MAX], b[DECIDE_ANSWER_MAX];
	struct decision da, db;
	const char *ra = "GET /one HTTP/1.1\r\nHost: a.example\r\n\r\n";
	const char *rb = "GET /two HTTP/1.1\r\nHost: a.example\r\n\r\n";

	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)ra, strlen(ra), false, &da, a, sizeof(a));
	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)rb, strlen(rb), false, &db, b, sizeof(b));
	ck_assert_ptr_eq(da.answer, (const uint8_t *)a);
	ck_assert_ptr_eq(db.answer, (const uint8_t *)b);
	ck_assert_ptr_nonnull(memmem(da.answer, da.answer_len, "https://a.example/one", 21));
	ck_assert_ptr_nonnull(memmem(db.answer, db.answer_len, "https://a.example/two", 21));

	decide_timeout(GH_KIND_HTTP, true, &da, a, sizeof(a));
	ck_assert_ptr_eq(da.answer, (const uint8_t *)a);
	ck_assert_int_eq(da.status, 408);
	ck_assert_int_eq(memcmp(da.answer, "HTTP/1.1 408 ", 13), 0);

	/* a buffer too small for the answer: an empty answer, never an overrun */
	char tiny[8];
	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)ra, strlen(ra), false, &da, tiny, sizeof(tiny));
	ck_assert_int_eq(da.action, DECIDE_ANSWER);
	ck_assert_uint_le(da.answer_len, sizeof(tiny));
	config_free(cfg);
}
END_TEST

/*
 * A ClientHello that can never fit a peek is refused at once: need >
 * DECIDE_PEEK_MAX. Built to need exactly the edge: k one-byte records
 * carrying the first k bytes of a hello whose handshake is 4 + hs_len
 * bytes; then need = 6k (records so far) + 5 (one more header) + 4 + hs_len
 * - k (the rest in that record).
 */
static size_t hello_needing(size_t k, size_t hs_len, uint8_t *w)
{
	uint8_t hs[16];
	size_t i = 0;

	hs[0] = 1;
	hs[1] = (uint8_t)(hs_len >> 16);
	hs[2] = (uint8_t)(hs_len >> 8);
	hs[3] = (uint8_t)hs_len;
	hs[4] = 3;
	hs[5] = 3;
	for (size_t j = 0; j < k; j++) {
		uint8_t b;

		if (j < 6)
			b = hs[j];
		else if (j < 6 + 32)
			b = 0x5a;			/* random */
		else if (j == 38)
			b = 0;				/* session id length */
		else if (j == 39)
			b = 16000 >> 8;			/* cipher suites length */
		else if (j == 40)
			b = 16000 & 0xff;
		else
			b = (j & 1) ? 0x13 : 0x01;	/* cipher suites */
		w[i++] = 22; w[i++] = 3; w[i++] = 1; w[i++] = 0; w[i++] = 1;
		w[i++] = b;
	}
	return i;
}

START_TEST(test_tls_need_edge)
{
	struct gh_config *cfg = parse("site a.example\n  tls [::1]:443\n");
	static uint8_t w[DECIDE_PEEK_MAX];
	const size_t k = 10034;
	struct decision d;

	/* 5k + 9 + hs_len: exactly DECIDE_PEEK_MAX, then one over */
	size_t hs_len = DECIDE_PEEK_MAX - 9 - 5 * k;
	ck_assert_uint_le(hs_len + 1, TLS_HELLO_MAX_HANDSHAKE);
	size_t n = hello_needing(k, hs_len, w);

	decide_bytes(cfg, GH_KIND_TLS, w, n, false, &d, ans, sizeof(ans));
	ck_assert_msg(d.action == DECIDE_WAIT, "need == DECIDE_PEEK_MAX: action %d (%s)", d.action,
		      d.result ? d.result : "");
	n = hello_needing(k, hs_len + 1, w);
	decide_bytes(cfg, GH_KIND_TLS, w, n, false, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_ANSWER);
	ck_assert_str_eq(d.result, "too_big");
	config_free(cfg);
}
END_TEST

/* tls-alpn: the route goes in the decision; a site served only by tls-alpn
 * servers turns other clients away with no_application_protocol */
START_TEST(test_tls_alpn_route)
{
	static const struct {
		const char *conf, *alpn;
		size_t n;
		enum decide_action act;
		unsigned route;
	} cases[] = {
		{ "site a.example\n tls [::1]:443\n tls-alpn acme-tls/1 [::1]:8443\n",
		  "\x0a" "acme-tls/1", 11, DECIDE_HANDOFF, 1 },
		{ "site a.example\n tls [::1]:443\n tls-alpn acme-tls/1 [::1]:8443\n",
		  "\x02h2\x08http/1.1", 12, DECIDE_HANDOFF, 0 },
		{ "site a.example\n tls [::1]:443\n tls-alpn acme-tls/1 [::1]:8443\n", "", 0,
		  DECIDE_HANDOFF, 0 },
		/* the global line reaches the site */
		{ "tls-alpn acme-tls/1 [::1]:8443\nsite a.example\n tls [::1]:443\n",
		  "\x0a" "acme-tls/1", 11, DECIDE_HANDOFF, 1 },
		/* a client offering several takes the first line any of them names */
		{ "site a.example\n tls [::1]:443\n tls-alpn http/1.1 [::1]:1\n tls-alpn h2 [::1]:2\n",
		  "\x02h2\x08http/1.1", 12, DECIDE_HANDOFF, 1 },
		{ "site a.example\n tls-alpn acme-tls/1 [::1]:8443\n", "\x0a" "acme-tls/1", 11,
		  DECIDE_HANDOFF, 1 },
		{ "site a.example\n tls-alpn acme-tls/1 [::1]:8443\n", "\x02h2", 3, DECIDE_ANSWER, 0 },
		{ "site a.example\n tls-alpn acme-tls/1 [::1]:8443\n", "", 0, DECIDE_ANSWER, 0 },
	};
	uint8_t w[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gh_config *c = parse(cases[i].conf);
		size_t len = hello_alpn(cases[i].alpn, cases[i].n, w, sizeof(w));
		struct decision d;

		decide_bytes(c, GH_KIND_TLS, w, len, false, &d, ans, sizeof(ans));
		ck_assert_msg(d.action == cases[i].act && d.alpn_route == cases[i].route,
			      "case %zu: action %d route %u", i, d.action, d.alpn_route);
		if (d.action == DECIDE_ANSWER) {
			ck_assert_str_eq(d.result, "no_alpn_route");
			ck_assert_uint_eq(d.answer_len, 7);
			ck_assert_uint_eq(d.answer[6], 120);	/* no_application_protocol */
		}
		config_free(c);
	}
}
END_TEST

/* A peer as accept() gives it: "a.b.c.d" as sockaddr_in, anything with a
 * colon as sockaddr_in6 (so "::ffff:a.b.c.d" is the dual-stack form). */
static const struct sockaddr *peer_of(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static const char acl_conf[] =
	"deny 203.0.113.0/24 2001:db8:bad::/48\n"
	"site open.example\n  http [::1]:80\n  tls [::1]:443\n"
	"site shut.example\n  http [::2]:80\n  tls [::2]:443\n"
	"  allow 192.0.2.0/24 2001:db8:1::/48\n  deny all\n";

/* One client from peer asking for host (by Host on http, SNI on tls). */
static void ask(const struct gh_config *cfg, unsigned kind, const char *host, const char *peer,
		struct decision *d)
{
	struct sockaddr_storage ss;
	char req[256];
	uint8_t w[512];
	size_t n;

	if (kind == GH_KIND_TLS) {
		n = hello((const uint8_t *)host, strlen(host), w, sizeof(w));
		decide_bytes(cfg, kind, w, n, false, d, ans, sizeof(ans));
	} else {
		int rl = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
		decide_bytes(cfg, kind, (const uint8_t *)req, (size_t)rl, false, d, ans, sizeof(ans));
	}
	decide_access(cfg, kind, peer_of(peer, &ss), d, ans, sizeof(ans));
}

static void want_denied(unsigned kind, const struct decision *d, const char *what)
{
	ck_assert_msg(d->action == DECIDE_ANSWER, "%s: action %d", what, d->action);
	ck_assert_str_eq(d->result, "denied");
	if (kind == GH_KIND_TLS) {
		ck_assert_int_eq(d->status, 0);
		ck_assert_uint_eq(d->answer_len, 7);
		ck_assert_mem_eq(d->answer, "\x15\x03\x03\x00\x02\x02\x31", 7);	/* alert 49 */
	} else {
		ck_assert_int_eq(d->status, 403);
		ck_assert_msg(d->answer_len > 0 &&
			      strncmp((const char *)d->answer, "HTTP/1.1 403 Forbidden\r\n", 24) == 0,
			      "%s: %.*s", what, (int)d->answer_len, (const char *)d->answer);
	}
}

static void want_handoff(const struct gh_config *cfg, const struct decision *d, const char *site,
			 const char *what)
{
	ck_assert_msg(d->action == DECIDE_HANDOFF, "%s: action %d (%s)", what, d->action,
		      d->result ? d->result : "");
	ck_assert_str_eq(cfg->sites[d->site].name, site);
}

/* accept-proxy: a trusted peer's stream starts with a PROXY header, whose
 * source is the client for the lists and the hand-off; the hello or head
 * after it is what routes. Anyone else's PROXY line is plain data. */
static const char proxy_conf[] =
	"accept-proxy 10.0.0.0/8 2001:db8:ba1::/48\n"
	"deny 203.0.113.0/24\n"
	"site shut.example\n  http [::2]:80\n  tls [::2]:443\n"
	"  allow 192.0.2.0/24 2001:db8:1::/48\n  deny all\n";

static void sin6_of(const char *text, struct sockaddr_in6 *s6)
{
	char mapped[64];

	memset(s6, 0, sizeof(*s6));
	s6->sin6_family = AF_INET6;
	snprintf(mapped, sizeof(mapped), strchr(text, ':') ? "%s" : "::ffff:%s", text);
	ck_assert_int_eq(inet_pton(AF_INET6, mapped, &s6->sin6_addr), 1);
}

/* header + a request (http) or hello (tls) for host, from peer */
static void ask_behind(const struct gh_config *cfg, unsigned kind, const char *peer, const uint8_t *hdr,
		       size_t hlen, const char *host, bool closed, size_t cut, struct decision *d,
		       size_t *header_len, struct sockaddr_in6 *client)
{
	uint8_t w[1024];
	struct sockaddr_in6 p;
	size_t n;

	memcpy(w, hdr, hlen);
	if (kind == GH_KIND_TLS)
		n = hello((const uint8_t *)host, strlen(host), w + hlen, sizeof(w) - hlen);
	else
		n = (size_t)snprintf((char *)w + hlen, sizeof(w) - hlen, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	sin6_of(peer, &p);
	decide_client(cfg, NULL, kind, &p, w, cut ? cut : hlen + n, closed, d, ans, sizeof(ans), header_len, client);
}

static void want_client(const struct sockaddr_in6 *client, const char *addr, unsigned port)
{
	struct sockaddr_in6 want;

	sin6_of(addr, &want);
	ck_assert_mem_eq(&client->sin6_addr, &want.sin6_addr, 16);
	ck_assert_uint_eq(ntohs(client->sin6_port), port);
}

START_TEST(test_proxy_header)
{
	static const char v1[] = "PROXY TCP4 192.0.2.5 10.0.0.2 5555 80\r\n";
	static const char v1_denied[] = "PROXY TCP4 198.51.100.1 10.0.0.2 5555 80\r\n";
	static const uint8_t sig[12] = "\r\n\r\n\0\r\nQUIT\n";
	uint8_t v2[16 + 36], local[16];
	struct gh_config *cfg = parse(proxy_conf);
	struct sockaddr_in6 client;
	struct decision d;
	size_t hl;

	memcpy(v2, sig, 12);
	v2[12] = 0x21, v2[13] = 0x21, v2[14] = 0, v2[15] = 36;	/* PROXY, TCP over IPv6 */
	sin6_of("2001:db8:1::7", &client);
	memcpy(v2 + 16, &client.sin6_addr, 16);
	sin6_of("2001:db8:ba1::2", &client);
	memcpy(v2 + 32, &client.sin6_addr, 16);
	v2[48] = 0x1f, v2[49] = 0x90, v2[50] = 0x01, v2[51] = 0xbb;	/* 8080 -> 443 */
	memcpy(local, sig, 12);
	local[12] = 0x20, local[13] = 0, local[14] = 0, local[15] = 0;	/* LOCAL, no addresses */

	for (unsigned kind = 0; kind < GH_KIND_TCP_COUNT; kind++) {
		/* v1 from a trusted peer: the header's source is the client */
		ask_behind(cfg, kind, "10.9.9.9", (const uint8_t *)v1, strlen(v1), "shut.example", false, 0, &d,
			   &hl, &client);
		want_handoff(cfg, &d, "shut.example", "v1 from a balancer");
		ck_assert_uint_eq(hl, strlen(v1));
		want_client(&client, "::ffff:192.0.2.5", 5555);
		/* ... and the lists judge it, not the balancer */
		ask_behind(cfg, kind, "10.9.9.9", (const uint8_t *)v1_denied, strlen(v1_denied), "shut.example",
			   false, 0, &d, &hl, &client);
		want_denied(kind, &d, "v1 source not allowed on the site");
		/* v2 over IPv6 from a trusted IPv6 peer */
		ask_behind(cfg, kind, "2001:db8:ba1::9", v2, sizeof(v2), "shut.example", false, 0, &d, &hl,
			   &client);
		want_handoff(cfg, &d, "shut.example", "v2 from a balancer");
		ck_assert_uint_eq(hl, sizeof(v2));
		want_client(&client, "2001:db8:1::7", 8080);
		/* every prefix of a header waits; cut short by a close: bad_proxy */
		for (size_t cut = 1; cut < sizeof(v2); cut++) {
			ask_behind(cfg, kind, "10.9.9.9", v2, sizeof(v2), "shut.example", false, cut, &d, &hl,
				   &client);
			ck_assert_msg(d.action == DECIDE_WAIT, "prefix %zu: action %d", cut, d.action);
			ask_behind(cfg, kind, "10.9.9.9", v2, sizeof(v2), "shut.example", true, cut, &d, &hl,
				   &client);
			ck_assert_msg(d.action == DECIDE_ANSWER && strcmp(d.result, "bad_proxy") == 0 &&
				      d.answer_len == 0, "closed at %zu: action %d", cut, d.action);
		}
		/* v2 LOCAL (a health check): the balancer is the client */
		ask_behind(cfg, kind, "10.9.9.9", local, sizeof(local), "shut.example", false, 0, &d, &hl,
			   &client);
		ck_assert_uint_eq(hl, sizeof(local));
		want_client(&client, "::ffff:10.9.9.9", 0);
		want_denied(kind, &d, "LOCAL: the balancer itself, not on the site's list");
		/* no header from a trusted peer: garbage, a quiet close */
		ask_behind(cfg, kind, "10.9.9.9", (const uint8_t *)"", 0, "shut.example", false, 0, &d, &hl,
			   &client);
		ck_assert_msg(d.action == DECIDE_ANSWER && strcmp(d.result, "bad_proxy") == 0 &&
			      d.answer_len == 0 && d.detail, "garbage from a balancer: action %d", d.action);
		/* an untrusted peer's PROXY line is its data: never its address */
		ask_behind(cfg, kind, "192.0.2.9", (const uint8_t *)v1, strlen(v1), "shut.example", false, 0, &d,
			   &hl, &client);
		ck_assert_uint_eq(hl, 0);
		want_client(&client, "::ffff:192.0.2.9", 0);
		ck_assert_int_eq(d.action, DECIDE_ANSWER);
		ck_assert_str_eq(d.result, kind == GH_KIND_HTTP ? "bad_request" : "bad_hello");
		if (kind == GH_KIND_HTTP)
			ck_assert_int_eq(d.status, 400);
	}
	config_free(cfg);
}
END_TEST

/* The inspect deadline for a balancer's connection: no header, or part of
 * one, is a quiet bad_proxy; after a whole header the client behind it
 * timed out, and only bytes of its own earn it a 408. */
START_TEST(test_proxy_timeout)
{
	static const char v1[] = "PROXY TCP4 192.0.2.5 10.0.0.2 5555 80\r\n";
	struct gh_config *cfg = parse(proxy_conf);
	struct sockaddr_in6 bal, direct, client;
	uint8_t w[256];
	struct decision d;

	sin6_of("10.9.9.9", &bal);
	sin6_of("192.0.2.9", &direct);
	for (unsigned kind = 0; kind < GH_KIND_TCP_COUNT; kind++) {
		/* nothing at all, then every part of a header */
		for (size_t cut = 0; cut < strlen(v1); cut++) {
			decide_client_timeout(cfg, NULL, kind, &bal, (const uint8_t *)v1, cut, cut > 0, &d, ans, sizeof(ans),
					      &client);
			ck_assert_msg(d.action == DECIDE_ANSWER && strcmp(d.result, "bad_proxy") == 0 &&
				      d.answer_len == 0, "cut %zu: action %d %s", cut, d.action, d.result);
			ck_assert_str_eq(d.detail, cut ? "PROXY header not received in time" : "no PROXY header in time");
			want_client(&client, "::ffff:10.9.9.9", 0);
		}
		/* a whole header and nothing after it: a quiet close, the client's */
		decide_client_timeout(cfg, NULL, kind, &bal, (const uint8_t *)v1, strlen(v1), true, &d, ans, sizeof(ans),
				      &client);
		ck_assert_msg(d.action == DECIDE_ANSWER && strcmp(d.result, "timeout") == 0 && d.answer_len == 0,
			      "header alone: %s %zu", d.result, d.answer_len);
		want_client(&client, "::ffff:192.0.2.5", 5555);
		/* ... and after part of a request head: 408 on http */
		int n = snprintf((char *)w, sizeof(w), "%sGET / HTTP/1.1\r\nHo", v1);
		decide_client_timeout(cfg, NULL, kind, &bal, w, (size_t)n, true, &d, ans, sizeof(ans), &client);
		ck_assert_str_eq(d.result, "timeout");
		ck_assert_int_eq(d.status, kind == GH_KIND_HTTP ? 408 : 0);
		want_client(&client, "::ffff:192.0.2.5", 5555);
		/* a direct client: its own bytes decide, no PROXY parsing */
		decide_client_timeout(cfg, NULL, kind, &direct, (const uint8_t *)v1, 5, true, &d, ans, sizeof(ans), &client);
		ck_assert_str_eq(d.result, "timeout");
		ck_assert_int_eq(d.status, kind == GH_KIND_HTTP ? 408 : 0);
		want_client(&client, "::ffff:192.0.2.9", 0);
		decide_client_timeout(cfg, NULL, kind, &direct, w, 0, false, &d, ans, sizeof(ans), &client);
		ck_assert(strcmp(d.result, "timeout") == 0 && d.answer_len == 0);
	}
	config_free(cfg);
}
END_TEST

/* direct-clients refuse: a peer that is not a balancer is denied where it
 * would have been served, once its request or hello is whole; a balancer's
 * client is served. */
START_TEST(test_direct_refused)
{
	static const char conf[] =
		"accept-proxy 10.0.0.0/8\n"
		"direct-clients refuse\n"
		"site a.example\n  http [::2]:80\n  tls [::2]:443\n";
	static const char v1[] = "PROXY TCP4 192.0.2.5 10.0.0.2 5555 80\r\n";
	struct gh_config *cfg = parse(conf);
	struct sockaddr_in6 client, direct;
	struct decision d;
	size_t hl;

	for (unsigned kind = 0; kind < GH_KIND_TCP_COUNT; kind++) {
		ask_behind(cfg, kind, "10.9.9.9", (const uint8_t *)v1, strlen(v1), "a.example", false, 0, &d, &hl,
			   &client);
		want_handoff(cfg, &d, "a.example", "a balancer's client");
		ask_behind(cfg, kind, "192.0.2.9", (const uint8_t *)"", 0, "a.example", false, 0, &d, &hl, &client);
		want_denied(kind, &d, "a direct client");
		ck_assert_str_eq(d.detail, "not an accept-proxy balancer (direct-clients refuse)");
		want_client(&client, "::ffff:192.0.2.9", 0);
		/* ... an unknown name too (it would have had an answer) */
		ask_behind(cfg, kind, "2001:db8::9", (const uint8_t *)"", 0, "b.example", false, 0, &d, &hl, &client);
		want_denied(kind, &d, "a direct client, unknown name");
		/* not before its request or hello is whole, so the answer is
		 * drained past; a close before a byte stays a quiet drop */
		ask_behind(cfg, kind, "192.0.2.9", (const uint8_t *)"", 0, "a.example", false, 8, &d, &hl, &client);
		ck_assert_int_eq(d.action, DECIDE_WAIT);
		sin6_of("192.0.2.9", &direct);
		decide_client(cfg, NULL, kind, &direct, (const uint8_t *)"", 0, true, &d, ans, sizeof(ans), &hl, &client);
		ck_assert_int_eq(d.action, DECIDE_DROP);
	}
	config_free(cfg);
}
END_TEST

/* A listen's own accept-proxy list: its balancers' headers are parsed on
 * it and nowhere else; direct-clients refuse refuses only where a listen
 * has balancers. */
START_TEST(test_proxy_per_listen)
{
	static const char conf[] =
		"listen http 10.0.0.5:80 accept-proxy 10.0.0.0/8\n"
		"listen tls 10.0.0.5:443 accept-proxy 10.0.0.0/8\n"
		"listen http 203.0.113.1:80\n"
		"listen tls 203.0.113.1:443\n"
		"direct-clients refuse\n"
		"site a.example\n  http [::2]:80\n  tls [::2]:443\n";
	static const char v1[] = "PROXY TCP4 192.0.2.5 10.0.0.5 5555 80\r\n";
	struct gh_config *cfg = parse(conf);
	struct sockaddr_in6 bal, direct, client;
	uint8_t w[1024];
	struct decision d;
	size_t hl, n;

	sin6_of("10.9.9.9", &bal);
	sin6_of("192.0.2.9", &direct);
	for (unsigned kind = 0; kind < GH_KIND_TCP_COUNT; kind++) {
		const struct gh_listen *inner = &cfg->listens[kind], *outer = &cfg->listens[2 + kind];

		memcpy(w, v1, strlen(v1));
		if (kind == GH_KIND_TLS)
			n = strlen(v1) + hello((const uint8_t *)"a.example", 9, w + strlen(v1), sizeof(w) - strlen(v1));
		else
			n = strlen(v1) + (size_t)snprintf((char *)w + strlen(v1), sizeof(w) - strlen(v1),
							  "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
		/* on the balancers' listen: the header's source is the client */
		decide_client(cfg, inner, kind, &bal, w, n, false, &d, ans, sizeof(ans), &hl, &client);
		want_handoff(cfg, &d, "a.example", "a balancer on its listen");
		ck_assert_uint_eq(hl, strlen(v1));
		want_client(&client, "::ffff:192.0.2.5", 5555);
		/* the same peer on the public listen is a direct client: its
		 * PROXY line is data, and nothing is refused there */
		decide_client(cfg, outer, kind, &bal, w, n, false, &d, ans, sizeof(ans), &hl, &client);
		ck_assert_uint_eq(hl, 0);
		ck_assert_str_eq(d.result, kind == GH_KIND_HTTP ? "bad_request" : "bad_hello");
		decide_client(cfg, outer, kind, &bal, w + strlen(v1), n - strlen(v1), false, &d, ans, sizeof(ans),
			      &hl, &client);
		want_handoff(cfg, &d, "a.example", "a direct client on the public listen");
		/* ... and a direct client on the balancers' listen is refused */
		decide_client(cfg, inner, kind, &direct, w + strlen(v1), n - strlen(v1), false, &d, ans, sizeof(ans),
			      &hl, &client);
		want_denied(kind, &d, "a direct client on the balancers' listen");
	}
	config_free(cfg);
}
END_TEST

START_TEST(test_access_lists)
{
	struct gh_config *cfg = parse(acl_conf);
	struct decision d;

	for (unsigned kind = 0; kind < GH_KIND_TCP_COUNT; kind++) {
		/* the global list first, whatever site is asked for */
		ask(cfg, kind, "open.example", "203.0.113.9", &d);
		want_denied(kind, &d, "global v4");
		ask(cfg, kind, "open.example", "::ffff:203.0.113.9", &d);
		want_denied(kind, &d, "global v4-mapped");
		ask(cfg, kind, "open.example", "2001:db8:bad:7::1", &d);
		want_denied(kind, &d, "global v6");
		ask(cfg, kind, "nosuch.example", "203.0.113.9", &d);
		want_denied(kind, &d, "global before no_route");
		ask(cfg, kind, "open.example", "198.51.100.1", &d);
		want_handoff(cfg, &d, "open.example", "no list matches");

		/* then the routed site's */
		ask(cfg, kind, "shut.example", "192.0.2.5", &d);
		want_handoff(cfg, &d, "shut.example", "site allow v4");
		ask(cfg, kind, "shut.example", "::ffff:192.0.2.5", &d);
		want_handoff(cfg, &d, "shut.example", "site allow v4-mapped");
		ask(cfg, kind, "shut.example", "2001:db8:1:2::3", &d);
		want_handoff(cfg, &d, "shut.example", "site allow v6");
		ask(cfg, kind, "shut.example", "198.51.100.1", &d);
		want_denied(kind, &d, "site deny all v4");
		ask(cfg, kind, "shut.example", "::ffff:198.51.100.1", &d);
		want_denied(kind, &d, "site deny all v4-mapped");
		ask(cfg, kind, "shut.example", "2001:db8:2::1", &d);
		want_denied(kind, &d, "site deny all v6");
		/* the name stays for the log */
		ck_assert_str_eq(d.name, "shut.example");
	}
	config_free(cfg);
}
END_TEST

/* Decisions that send nothing stay quiet; a carried-alone ACME head loses
 * its one_request mark when denied; no lists: nothing changes. */
START_TEST(test_access_quiet_and_none)
{
	struct gh_config *cfg = parse(acl_conf);
	struct gh_config *open = parse("site open.example\n  http [::1]:80\n");
	struct sockaddr_storage ss;
	struct decision d;

	decide_bytes(cfg, GH_KIND_TLS, (const uint8_t *)"GET /", 5, false, &d, ans, sizeof(ans));
	ck_assert_str_eq(d.result, "bad_hello");
	decide_access(cfg, GH_KIND_TLS, peer_of("203.0.113.9", &ss), &d, ans, sizeof(ans));
	ck_assert_str_eq(d.result, "bad_hello");
	ck_assert_uint_eq(d.answer_len, 0);

	decide_bytes(cfg, GH_KIND_HTTP, (const uint8_t *)"GET /", 5, false, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_WAIT);
	decide_access(cfg, GH_KIND_HTTP, peer_of("203.0.113.9", &ss), &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_WAIT);

	decide_timeout(GH_KIND_HTTP, true, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.status, 408);	/* deadlines are not the lists' business */

	struct gh_config *acme = parse("http-mode redirect-https\n"
				       "site shut.example\n  http [::2]:80\n  deny all\n");
	static const char ch[] = "GET /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: shut.example\r\n\r\n";
	decide_bytes(acme, GH_KIND_HTTP, (const uint8_t *)ch, strlen(ch), false, &d, ans, sizeof(ans));
	ck_assert_int_eq(d.action, DECIDE_HANDOFF);
	ck_assert_uint_gt(d.one_request, 0);
	decide_access(acme, GH_KIND_HTTP, peer_of("::1", &ss), &d, ans, sizeof(ans));
	want_denied(GH_KIND_HTTP, &d, "challenge");
	ck_assert_uint_eq(d.one_request, 0);

	ask(open, GH_KIND_HTTP, "open.example", "203.0.113.9", &d);
	want_handoff(open, &d, "open.example", "no lists at all");
	config_free(acme);
	config_free(open);
	config_free(cfg);
}
END_TEST

Suite *make_decide_suite(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("decide");

	tcase_add_test(tc, test_name_classes_sni_host);
	tcase_add_test(tc, test_acme_one_request);
	tcase_add_test(tc, test_answer_in_callers_buffer);
	tcase_add_test(tc, test_tls_need_edge);
	tcase_add_test(tc, test_tls_alpn_route);
	tcase_add_test(tc, test_access_lists);
	tcase_add_test(tc, test_proxy_header);
	tcase_add_test(tc, test_proxy_timeout);
	tcase_add_test(tc, test_direct_refused);
	tcase_add_test(tc, test_proxy_per_listen);
	tcase_add_test(tc, test_access_quiet_and_none);
	suite_add_tcase(s, tc);
	return s;
}
