/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "listener/decide.h"
#include "router/acme_challenge.h"
#include "router/http_head.h"
#include "router/proxy_parse.h"
#include "common/reply.h"
#include "router/tls_hello.h"

/* the caller's buffer an answer is written into */
struct out {
	char *buf;
	size_t size;
};

static void set(struct decision *d, enum decide_action a, const char *result, int status)
{
	d->action = a;
	d->result = result;
	d->status = status;
}

static void http_answer(struct decision *d, const struct out *o, int status, const char *detail,
			const char *result)
{
	set(d, DECIDE_ANSWER, result, status);
	d->detail = detail;
	d->answer_len = reply_http_error(status, detail, o->buf, o->size);
	d->answer = (const uint8_t *)o->buf;
}

/* fatal alert no_application_protocol (RFC 7301 §3.2): the site serves
 * only ALPN protocols the client did not offer */
static const uint8_t tls_no_application_protocol[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x78 };

static void tls_bytes(const struct gh_config *cfg, const uint8_t *buf, size_t len, bool closed,
		      struct decision *d)
{
	struct tls_hello h;
	enum tls_hello_status st = tls_hello_parse(buf, len, &h);

	if (st == TLS_HELLO_NEED_MORE) {
		if (h.need > DECIDE_PEEK_MAX)
			set(d, DECIDE_ANSWER, "too_big", 0);
		else if (closed)
			set(d, DECIDE_ANSWER, "client_closed", 0);
		return;
	}
	if (st == TLS_HELLO_INVALID) {
		/* not TLS, or not a hello we can read: just close (DESIGN.md) */
		set(d, DECIDE_ANSWER, "bad_hello", 0);
		d->detail = tls_hello_error_str(h.error);
		return;
	}
	size_t name_len = 0;
	if (h.has_sni && hostname_normalize((const uint8_t *)h.sni, h.sni_len, d->name, &name_len) != HOSTNAME_OK) {
		/* an unusable name is routed like no name: default or alert */
		d->name[0] = '\0';
		name_len = 0;
	}
	d->site = config_route(cfg, GH_KIND_TLS, d->name, name_len);
	if (d->site == GH_NO_SITE) {
		set(d, DECIDE_ANSWER, "no_route", 0);
		d->answer = reply_tls_unrecognized_name;
		d->answer_len = sizeof(reply_tls_unrecognized_name);
		return;
	}
	/* tls-alpn routes first; a site with no tls servers has nothing else */
	d->alpn_route = config_alpn_pick(&cfg->sites[d->site], h.alpn, h.alpn_len);
	if (!d->alpn_route && cfg->sites[d->site].n_servers[GH_KIND_TLS] == 0) {
		set(d, DECIDE_ANSWER, "no_alpn_route", 0);
		d->answer = tls_no_application_protocol;
		d->answer_len = sizeof(tls_no_application_protocol);
		return;
	}
	d->action = DECIDE_HANDOFF;
}

/* Under redirect-https: a well-formed challenge, and nothing after it yet.
 * Bytes already sent past its head can only be a pipelined request (a
 * challenge has no body), which a validator never sends: redirect. */
static bool route_challenge(const struct http_head *h, size_t len)
{
	return acme_challenge(h) && len == h->head_len;
}

static void redirect(struct decision *d, const struct out *o, const struct http_head *h)
{
	int status;

	if (!h->has_host) {
		http_answer(d, o, 400, "no host to redirect to", "bad_request");
		return;
	}
	size_t n = reply_http_redirect(h->method, h->method_len, h->host, h->path, h->path_len,
				       o->buf, o->size, &status);
	if (n == 0) {
		http_answer(d, o, 414, "target too long to redirect", "bad_request");
		return;
	}
	set(d, DECIDE_ANSWER, "redirect", status);
	d->answer = (const uint8_t *)o->buf;
	d->answer_len = n;
}

static void http_bytes(const struct gh_config *cfg, const uint8_t *buf, size_t len, bool closed,
		       struct decision *d, const struct out *o)
{
	struct http_head h;
	enum http_head_status st = http_head_parse(buf, len, cfg->max_head, &h);

	if (st == HTTP_HEAD_NEED_MORE) {
		if (closed)
			set(d, DECIDE_ANSWER, "client_closed", 0);
		return;
	}
	if (st == HTTP_HEAD_INVALID) {
		http_answer(d, o, h.status, h.reason, "bad_request");
		return;
	}
	if (h.has_host)
		memcpy(d->name, h.host, h.host_len + 1);
	bool challenge = false;

	if (cfg->http_mode == GH_HTTP_REDIRECT_HTTPS) {
		challenge = route_challenge(&h, len);
		if (!challenge) {
			redirect(d, o, &h);
			return;
		}
	}
	d->site = config_route(cfg, GH_KIND_HTTP, d->name, h.has_host ? h.host_len : 0);
	if (d->site == GH_NO_SITE) {
		http_answer(d, o, 421, "no site is served here for this host", "no_route");
		return;
	}
	d->action = DECIDE_HANDOFF;
	/* a challenge is carried alone: its head and nothing after it */
	if (challenge)
		d->one_request = h.head_len;
}

static void reset(struct decision *d)
{
	d->action = DECIDE_WAIT;
	d->site = GH_NO_SITE;
	d->name[0] = '\0';
	d->result = NULL;
	d->detail = NULL;
	d->status = 0;
	d->answer = NULL;
	d->answer_len = 0;
	d->one_request = 0;
	d->alpn_route = 0;
}

void decide_bytes(const struct gh_config *cfg, unsigned kind, const uint8_t *buf, size_t len,
		  bool closed, struct decision *d, char *answer, size_t answer_size)
{
	const struct out o = { answer, answer_size };

	reset(d);
	if (len == 0) {
		if (closed)
			d->action = DECIDE_DROP;
		return;
	}
	if (kind == GH_KIND_TLS)
		tls_bytes(cfg, buf, len, closed, d);
	else
		http_bytes(cfg, buf, len, closed, d, &o);
}

void decide_timeout(unsigned kind, bool got_bytes, struct decision *d, char *answer,
		    size_t answer_size)
{
	const struct out o = { answer, answer_size };

	reset(d);
	if (kind == GH_KIND_HTTP && got_bytes) {
		http_answer(d, &o, 408, "request head not received in time", "timeout");
		return;
	}
	/* Nothing sent at all (e.g. a browser's pre-connect) or TLS: close
	 * quietly; a 408 to a pre-connected socket shows users an error page. */
	set(d, DECIDE_ANSWER, "timeout", 0);
}

/* The peer's address bytes for the lists; false for a family they never
 * hold (nothing else is accepted on the listening sockets). */
static bool peer_addr(const struct sockaddr *peer, int *family, const uint8_t **addr)
{
	if (peer->sa_family == AF_INET) {
		*family = AF_INET;
		*addr = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
		return true;
	}
	if (peer->sa_family == AF_INET6) {
		*family = AF_INET6;	/* prefixset takes ::ffff:a.b.c.d as IPv4 */
		*addr = (const uint8_t *)&((const struct sockaddr_in6 *)peer)->sin6_addr;
		return true;
	}
	return false;
}

static void deny(unsigned kind, struct decision *d, const struct out *o, const char *why)
{
	d->one_request = 0;
	d->site = GH_NO_SITE;
	if (kind == GH_KIND_TLS) {
		set(d, DECIDE_ANSWER, "denied", 0);
		d->detail = why;
		d->answer = reply_tls_access_denied;
		d->answer_len = sizeof(reply_tls_access_denied);
		return;
	}
	http_answer(d, o, 403, why, "denied");
}

/* Only a hand-off or an answer with words in it is refused: waiting stays
 * waiting, and a quiet close stays one. */
static bool speaks(const struct decision *d)
{
	return d->action == DECIDE_HANDOFF || (d->action == DECIDE_ANSWER && d->answer_len > 0);
}

void decide_access(const struct gh_config *cfg, unsigned kind, const struct sockaddr *peer,
		   struct decision *d, char *answer, size_t answer_size)
{
	const struct out o = { answer, answer_size };
	const uint8_t *addr;
	int family;

	if (!speaks(d))
		return;
	if (!peer_addr(peer, &family, &addr)) {
		deny(kind, d, &o, "client address of unknown family");
		return;
	}
	if (!config_acl_allows(&cfg->acl, family, addr)) {
		deny(kind, d, &o, "client address not allowed here");
		return;
	}
	if (d->action == DECIDE_HANDOFF && !config_acl_allows(&cfg->sites[d->site].acl, family, addr))
		deny(kind, d, &o, "client address not allowed for this site");
}

/* the header's source as the listener keeps peers: IPv4 v4-mapped */
static void endpoint_to_sin6(const struct proxy_endpoint *ep, struct sockaddr_in6 *out)
{
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = htons(ep->port);
	if (ep->family == AF_INET) {
		out->sin6_addr.s6_addr[10] = 0xff;
		out->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&out->sin6_addr.s6_addr[12], ep->addr, 4);
	} else {
		memcpy(&out->sin6_addr, ep->addr, 16);
	}
}

bool decide_proxy(const struct gh_config *cfg, const struct gh_listen *on, const struct sockaddr_in6 *peer,
		  const uint8_t *buf, size_t len, bool closed, struct decision *d, size_t *header_len,
		  struct sockaddr_in6 *client)
{
	const uint8_t *addr;
	int family;
	struct proxy_parse_result r;

	reset(d);
	*header_len = 0;
	*client = *peer;
	if (!peer_addr((const struct sockaddr *)peer, &family, &addr) ||
	    !config_proxy_trusted(cfg, on, family, addr))
		return true;
	switch (proxy_parse(buf, len, &r)) {
	case PROXY_PARSE_DONE:
		*header_len = r.header_len;
		if (r.kind == PROXY_KIND_PROXIED)
			endpoint_to_sin6(&r.src, client);
		return true;
	case PROXY_PARSE_INVALID:
		set(d, DECIDE_ANSWER, "bad_proxy", 0);
		d->detail = r.error;
		return false;
	case PROXY_PARSE_NEED_MORE:
		break;
	}
	if (closed && len == 0) {
		d->action = DECIDE_DROP;	/* a balancer's TCP check: connect, close */
	} else if (closed) {
		set(d, DECIDE_ANSWER, "bad_proxy", 0);
		d->detail = "closed inside the PROXY header";
	}
	return false;
}

void decide_client(const struct gh_config *cfg, const struct gh_listen *on, unsigned kind,
		   const struct sockaddr_in6 *peer, const uint8_t *buf, size_t len, bool closed,
		   struct decision *d, char *answer, size_t answer_size, size_t *header_len,
		   struct sockaddr_in6 *client)
{
	const struct out o = { answer, answer_size };

	if (!decide_proxy(cfg, on, peer, buf, len, closed, d, header_len, client))
		return;
	decide_bytes(cfg, kind, buf + *header_len, len - *header_len, closed, d, answer, answer_size);
	/* no header: not a balancer (a balancer's header is never empty).
	 * Refused like a denied client, once its request or hello is whole,
	 * so the answer is drained past and reaches it. */
	if (*header_len == 0 && config_proxy_refuses(cfg, on) && speaks(d)) {
		deny(kind, d, &o, "not an accept-proxy balancer (direct-clients refuse)");
		return;
	}
	decide_access(cfg, kind, (const struct sockaddr *)client, d, answer, answer_size);
}

void decide_client_timeout(const struct gh_config *cfg, const struct gh_listen *on, unsigned kind,
			   const struct sockaddr_in6 *peer, const uint8_t *buf, size_t len, bool got_bytes,
			   struct decision *d, char *answer, size_t answer_size, struct sockaddr_in6 *client)
{
	size_t header_len;

	if (decide_proxy(cfg, on, peer, buf, len, false, d, &header_len, client)) {
		/* after a whole header, the client behind it is who timed out:
		 * a 408 only if it sent bytes of its own (a pre-connect that
		 * the balancer opened with a header gets a quiet close) */
		decide_timeout(kind, header_len ? len > header_len : got_bytes, d, answer, answer_size);
		return;
	}
	if (d->action == DECIDE_WAIT) {
		set(d, DECIDE_ANSWER, "bad_proxy", 0);
		d->detail = len ? "PROXY header not received in time" : "no PROXY header in time";
	}
}
