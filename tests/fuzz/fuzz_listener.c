/* SPDX-License-Identifier: MIT */
/*
 * The listener's per-connection state machine (listener/decide.c) driven by
 * arbitrary byte chunks, hang-ups and timeouts, as a client on the network
 * can. Input: byte 0 picks the port and config; then ops: a byte < 0xf0 is a
 * chunk of (byte % 64) + 1 input bytes taken from what follows; 0xf0-0xf7 is
 * the inspect timeout; 0xf8-0xff the client hanging up.
 * Invariants (abort on violation):
 *  - feeding in chunks decides exactly what feeding the same bytes at once
 *    decides (the listener re-parses from the first byte each time);
 *  - a hand-off names a site that has servers of that kind;
 *  - an answer is an HTTP response (for :80), written in the caller's answer
 *    buffer, or the TLS alert (for :443);
 *  - under redirect-https, a hand-off is a lone ACME challenge head, and
 *    carries it as its one request;
 *  - the name is NUL-terminated, normalised and at most 253 bytes;
 *  - after the allow/deny lists (decide_access, the peer picked by byte 0),
 *    a hand-off is to a client both the global and its site's list allow,
 *    and a refused one is answered "denied" (403, or the access_denied alert);
 *  - with byte 0's bit 4 the peer is an accept-proxy balancer: a hand-off
 *    follows a PROXY header proxy_parse() takes as whole at exactly the
 *    length the hand-off would name, the bytes after it decide as they
 *    would alone, the header's source meets the lists, and decide_client()
 *    decides all that in one call; at the timeout, a header not yet whole
 *    is a quiet bad_proxy, and a whole one alone a quiet close;
 *  - without bit 4, decide_client() for the (direct) peer decides as the
 *    steps do, and with bit 5 (a config with `direct-clients refuse`) it
 *    never hands off and every answer it would have given is "denied"
 *    (that config names its balancers in each listen's own list).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "router/config.h"
#include "listener/decide.h"
#include "router/acme_challenge.h"
#include "router/hostname.h"
#include "router/http_head.h"
#include "router/proxy_parse.h"

static struct gh_config *cfgs[3];
/* the answer buffers decide_*() write into: theirs is the only memory an
 * answer may be in, apart from the static TLS alert */
static char ans[DECIDE_ANSWER_MAX], ans2[DECIDE_ANSWER_MAX];

static void no_errors(void *u, const char *m)
{
	(void)u;
	(void)m;
	abort();
}

static void setup(void)
{
	static const char route[] =
		"max-head-size 2k\n"
		"accept-proxy 10.0.0.0/8\n"
		"deny 203.0.113.0/24 2001:db8:bad::/48\n"
		"site a.example www.a.example *.w.example\n  http [::1]:80\n  tls [::1]:443\n"
		"site b.example\n  tls [2001:db8::1]:443\n"
		"  allow 192.0.2.0/24\n  deny all\n"
		"default tls b.example\n";
	static const char redirect[] =
		"http-mode redirect-https\n"
		"accept-proxy 10.0.0.0/8\n"
		"site a.example\n  http [::1]:80\n  tls [::1]:443\n"
		"default http a.example\n";
	/* the balancers as each listen's own list */
	static const char refuse[] =
		"listen http [::]:80 accept-proxy 10.0.0.0/8\n"
		"listen tls [::]:443 accept-proxy 10.0.0.0/8\n"
		"direct-clients refuse\n"
		"site a.example www.a.example\n  http [::1]:80\n  tls [::1]:443\n"
		"site b.example\n  tls [2001:db8::1]:443\n"
		"default tls b.example\n";
	if (cfgs[0])
		return;
	if (config_parse("route", route, sizeof(route) - 1, no_errors, NULL, &cfgs[0]) < 0 ||
	    config_parse("redirect", redirect, sizeof(redirect) - 1, no_errors, NULL, &cfgs[1]) < 0 ||
	    config_parse("refuse", refuse, sizeof(refuse) - 1, no_errors, NULL, &cfgs[2]) < 0)
		abort();
}

static void check(const struct gh_config *cfg, unsigned kind, const struct decision *d,
		  const uint8_t *seen, size_t len, const char *answer)
{
	size_t nl = strnlen(d->name, sizeof(d->name));
	if (nl >= sizeof(d->name) || nl > HOSTNAME_MAX)
		abort();
	if (nl) {
		char again[HOSTNAME_MAX + 1];
		size_t al;
		if (hostname_normalize((const uint8_t *)d->name, nl, again, &al) != HOSTNAME_OK ||
		    al != nl || memcmp(again, d->name, nl))
			abort();
	}
	switch (d->action) {
	case DECIDE_HANDOFF:
		if (d->site >= cfg->n_sites || cfg->sites[d->site].n_servers[kind] == 0)
			abort();
		/* one request: only under redirect-https, a whole ACME head with
		 * nothing after it */
		if (d->one_request) {
			struct http_head h;
			if (cfg->http_mode != GH_HTTP_REDIRECT_HTTPS || d->one_request != len ||
			    http_head_parse(seen, len, cfg->max_head, &h) != HTTP_HEAD_DONE ||
			    h.head_len != len || !acme_challenge(&h))
				abort();
		} else if (kind == GH_KIND_HTTP && cfg->http_mode == GH_HTTP_REDIRECT_HTTPS) {
			abort();	/* redirect-https tunnels nothing */
		}
		break;
	case DECIDE_ANSWER:
		if (!d->result)
			abort();
		if (d->answer_len && kind == GH_KIND_HTTP &&
		    (d->answer_len < 12 || memcmp(d->answer, "HTTP/1.1 ", 9) ||
		     d->answer != (const uint8_t *)answer || d->answer_len > DECIDE_ANSWER_MAX))
			abort();
		if (d->answer_len && kind == GH_KIND_TLS && (d->answer_len != 7 || d->answer[0] != 0x15))
			abort();
		break;
	default:
		break;
	}
}

static int same(const struct decision *a, const struct decision *b)
{
	return a->action == b->action && a->site == b->site && !strcmp(a->name, b->name) &&
	       a->status == b->status && a->answer_len == b->answer_len &&
	       a->one_request == b->one_request &&
	       (a->answer_len == 0 || !memcmp(a->answer, b->answer, a->answer_len)) &&
	       (a->result == b->result || (a->result && b->result && !strcmp(a->result, b->result)));
}

/* The peers byte 0 picks from: allowed everywhere but site b, allowed on
 * b, refused by the global list (as an IPv4-mapped and as an IPv6 peer). */
static void peer_of(unsigned k, struct sockaddr_storage *ss)
{
	static const char *const peers[4] = { "::1", "192.0.2.7", "::ffff:203.0.113.5", "2001:db8:bad::1" };
	memset(ss, 0, sizeof(*ss));
	if (k == 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, peers[k], &s4->sin_addr);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, peers[k], &s6->sin6_addr);
	}
}

static void check_access(const struct gh_config *cfg, unsigned kind, const struct sockaddr_storage *ss,
			 const struct decision *d)
{
	int family = ss->ss_family;
	const uint8_t *a = family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr
					     : (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (d->action == DECIDE_HANDOFF &&
	    (!config_acl_allows(&cfg->acl, family, a) || !config_acl_allows(&cfg->sites[d->site].acl, family, a)))
		abort();	/* a refused client reached the hand-off */
	if (d->action == DECIDE_ANSWER && d->result && !strcmp(d->result, "denied") &&
	    !(kind == GH_KIND_TLS ? d->answer_len == 7 : d->answer_len > 12 && !memcmp(d->answer, "HTTP/1.1 403", 12)))
		abort();
}

/* the listen of kind a client of cfg comes in on */
static const struct gh_listen *on_of(const struct gh_config *cfg, unsigned kind)
{
	for (size_t i = 0; i < cfg->n_listens; i++)
		if (cfg->listens[i].kind == (enum gh_kind)kind)
			return &cfg->listens[i];
	abort();
}

static const struct sockaddr_in6 *balancer(void)
{
	static struct sockaddr_in6 bal = { .sin6_family = AF_INET6 };

	inet_pton(AF_INET6, "::ffff:10.0.0.1", &bal.sin6_addr);
	return &bal;
}

/* The inspect deadline, for the balancer (bit 4) or a direct peer. */
static void timed_out(const struct gh_config *cfg, unsigned kind, const uint8_t *seen, size_t len,
		      const struct sockaddr_storage *peer, bool behind)
{
	struct sockaddr_in6 client;
	struct proxy_parse_result r;
	struct decision d, alone;

	decide_client_timeout(cfg, on_of(cfg, kind), kind, behind ? balancer() : (const struct sockaddr_in6 *)peer, seen, len,
			      len > 0, &d, ans, sizeof(ans), &client);
	check(cfg, kind, &d, seen, len, ans);
	if (d.action != DECIDE_ANSWER)
		abort();	/* a timeout always ends the client */
	if (!behind) {
		decide_timeout(kind, len > 0, &alone, ans2, sizeof(ans2));
		if (!same(&d, &alone))
			abort();	/* a direct client times out as before */
		return;
	}
	if (proxy_parse(seen, len, &r) != PROXY_PARSE_DONE) {
		if (strcmp(d.result, "bad_proxy") || d.answer_len)
			abort();	/* a header not whole in time: a quiet close */
	} else if (r.header_len == len && d.answer_len) {
		abort();	/* nothing after the header: nothing to answer */
	}
}

/* A direct peer: decide_client() is decide_bytes() then decide_access(),
 * and under direct-clients refuse the same with every word a "denied". */
static void direct(const struct gh_config *cfg, unsigned kind, const uint8_t *seen, size_t len, bool closed,
		   const struct sockaddr_storage *peer, const struct decision *steps)
{
	struct sockaddr_in6 client;
	struct decision one;
	size_t hl;

	decide_client(cfg, on_of(cfg, kind), kind, (const struct sockaddr_in6 *)peer, seen, len, closed, &one, ans2, sizeof(ans2),
		      &hl, &client);
	check(cfg, kind, &one, seen, len, ans2);
	if (hl)
		abort();	/* a direct peer's bytes are never a PROXY header */
	if (!config_proxy_refuses(cfg, on_of(cfg, kind))) {
		if (!same(&one, steps))
			abort();
		return;
	}
	if (one.action == DECIDE_HANDOFF)
		abort();
	bool spoke = steps->action == DECIDE_HANDOFF || (steps->action == DECIDE_ANSWER && steps->answer_len);
	if (spoke ? strcmp(one.result, "denied") != 0 : !same(&one, steps))
		abort();
}

/* The peer is a trusted balancer: decide as decide_client() does, step by
 * step with the invariants between, then check decide_client() agrees. */
static void behind_balancer(const struct gh_config *cfg, unsigned kind, const uint8_t *seen, size_t len,
			    bool closed, struct decision *d)
{
	const struct sockaddr_in6 *bal = balancer();
	struct sockaddr_in6 client, client2;
	struct proxy_parse_result r;
	struct decision one;
	size_t hl, hl2;

	if (decide_proxy(cfg, on_of(cfg, kind), bal, seen, len, closed, d, &hl, &client)) {
		if (hl == 0 || hl > len || proxy_parse(seen, hl, &r) != PROXY_PARSE_DONE || r.header_len != hl)
			abort();	/* past a header that is not one whole header */
		decide_bytes(cfg, kind, seen + hl, len - hl, closed, d, ans, sizeof(ans));
		check(cfg, kind, d, seen + hl, len - hl, ans);
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, &client, sizeof(client));
		decide_access(cfg, kind, (const struct sockaddr *)&ss, d, ans, sizeof(ans));
		check_access(cfg, kind, &ss, d);
	} else {
		if (d->action == DECIDE_HANDOFF || (d->action == DECIDE_ANSWER && d->answer_len))
			abort();	/* no header yet: nothing but a wait or a close */
		if (proxy_parse(seen, len, &r) == PROXY_PARSE_DONE)
			abort();
	}
	decide_client(cfg, on_of(cfg, kind), kind, bal, seen, len, closed, &one, ans2, sizeof(ans2), &hl2, &client2);
	if (one.action != d->action || one.site != d->site || strcmp(one.name, d->name) ||
	    one.answer_len != d->answer_len)
		abort();	/* decide_client() is these steps */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	unsigned kind = data[0] & 1;
	const struct gh_config *cfg = cfgs[data[0] & 0x20 ? 2 : (data[0] >> 1) & 1];
	uint8_t *seen = malloc(size);
	size_t len = 0, i = 1;
	struct decision d, whole;

	if (!seen)
		return 0;
	while (i < size) {
		uint8_t op = data[i++];
		struct sockaddr_storage ss;
		peer_of((data[0] >> 2) & 3, &ss);
		if (op >= 0xf0 && op < 0xf8) {
			timed_out(cfg, kind, seen, len, &ss, data[0] & 0x10);
			break;
		}
		bool closed = op >= 0xf8;
		if (!closed) {
			size_t n = (size_t)(op % 64) + 1;
			if (n > size - i)
				n = size - i;
			memcpy(seen + len, data + i, n);
			len += n;
			i += n;
		}
		decide_bytes(cfg, kind, seen, len, closed, &d, ans, sizeof(ans));
		check(cfg, kind, &d, seen, len, ans);
		decide_bytes(cfg, kind, seen, len, closed, &whole, ans2, sizeof(ans2));
		if (!same(&d, &whole))
			abort();	/* deterministic */
		if (data[0] & 0x10) {
			behind_balancer(cfg, kind, seen, len, closed, &d);
		} else {
			decide_access(cfg, kind, (const struct sockaddr *)&ss, &d, ans, sizeof(ans));
			check_access(cfg, kind, &ss, &d);
			direct(cfg, kind, seen, len, closed, &ss, &d);
		}
		if (d.action != DECIDE_WAIT)
			break;
		if (closed)
			abort();	/* a hang-up never leaves a client waiting */
	}
	free(seen);
	return 0;
}
