/* SPDX-License-Identifier: MIT */
/*
 * Per-connection inspection: peek at what the client sent so far, parse it
 * from the first byte (the parsers are stateless), and decide: wait, hand
 * off, or answer and close.
 */
#include <assert.h>
#include <errno.h>
#include <sys/socket.h>
#include "common/clock.h"
#include "common/reply.h"
#include "router/srclimit.h"
#include "listener/inspect.h"
#include "router/gh_limits.h"

/* a head carried alone fits in what the forwarder accepts as one request */
static_assert(DECIDE_PEEK_MAX <= GH_MAX_ONE_REQUEST, "one_request bound below the peek size");

/* The last words: common/reply.c's rule (drain, send, SHUT_WR), with the
 * peek buffer lent as the drain sink (nothing in it outlives a call). */
static void answer_and_close(struct inspector *in, struct lconn *c, const void *buf, size_t len)
{
	reply_final(c->fd, buf, len, in->buf, sizeof(in->buf));
	lconn_free(in->conns, c);
}

/* Carry out a decision; returns true while the client is still waiting.
 * client: who the log and the hand-off name (a balancer's PROXY header
 * source, else the peer); header_len: that header's bytes, still unread. */
static bool carry_out(struct inspector *in, struct lconn *c, const struct decision *d,
		      const struct sockaddr_in6 *client, size_t header_len)
{
	if (d->action == DECIDE_WAIT)
		return true;
	/* final: c is gone after this call, so it may carry the client now
	 * (while waiting, c->peer must stay the balancer's) */
	c->peer = *client;
	switch (d->action) {
	case DECIDE_WAIT:
		return true;
	case DECIDE_HANDOFF:
		dispatch_queue(in->disp, in->conns, c, in->cfg->sites[d->site].name, d->name,
			       (uint32_t)d->one_request, d->alpn_route, (unsigned)header_len);
		return false;
	case DECIDE_DROP:
		lconn_free(in->conns, c);
		return false;
	case DECIDE_ANSWER:
		lconn_reject_log(in->conns, c, d->result, d->name, d->detail, d->status);
		/* d->answer is in in->answer or static (decide.h), never in
		 * in->buf: the drain into in->buf cannot overwrite it */
		answer_and_close(in, c, d->answer, d->answer_len);
		return false;
	}
	return false;
}

/* A hand-off turned into a refusal: 429 with Retry-After on http, a
 * close with nothing written on tls (like the limits at accept), logged
 * rate_limited. */
static void refuse(struct inspector *in, struct lconn *c, struct decision *d, const char *why,
		   uint32_t retry_after_s)
{
	d->action = DECIDE_ANSWER;
	d->result = "rate_limited";
	d->detail = why;
	d->one_request = 0;
	d->status = 0;
	d->answer = NULL;
	d->answer_len = 0;
	if (c->kind == GH_KIND_HTTP) {
		d->answer_len = reply_http_429(retry_after_s, why, in->answer, sizeof(in->answer));
		d->answer = (const uint8_t *)in->answer;
		d->status = 429;
	}
}

/* The limits that need the site: its `source-rate` (a token spent per
 * connection routed to it), then `source-connections` (global and the
 * site's). Under them, the hand-off is counted (c->ticket) until a
 * forwarder takes it. who: the client (a balancer's PROXY source, else
 * the peer). A balancer's connection skipped the limits at accept: its
 * client meets the global source-rate here. */
static void limit_source(struct inspector *in, struct lconn *c, struct decision *d, const struct sockaddr_in6 *who)
{
	const struct gh_site *site = &in->cfg->sites[d->site];
	uint32_t retry;

	if (c->via_balancer) {
		int st = lconn_admit(in->conns, who, clock_now_ms(), &retry);
		if (st == SRCLIMIT_OK) {
			lconn_unadmit(in->conns, who);	/* its inspection is over */
		} else {
			refuse(in, c, d,
			       st == SRCLIMIT_OVER_RATE	       ? "too many new connections from this source"
			       : st == SRCLIMIT_OVER_CONCURRENT ? "too many connections under inspection from this source"
								: "source table full",
			       retry);
			return;
		}
	}
	if (site->src_rate && lconn_site_rate(in->conns, who, d->site, site->src_rate, site->src_window_ms,
					      clock_now_ms(), &retry) != SRCLIMIT_OK) {
		refuse(in, c, d, "too many new connections from this source to this site", retry);
		return;
	}
	if (!in->src || !in->src->on)
		return;
	enum srcconn_verdict v = srcconn_admit(in->src, who, d->site, &c->ticket);
	/* a connection may end any moment: one second is a fair guess */
	if (v == SRCCONN_OVER_SITE)
		refuse(in, c, d, "too many connections from this source to this site", 1);
	else if (v != SRCCONN_OK)
		refuse(in, c, d, "too many connections from this source", 1);
}

/* the listen line c came in on (its own accept-proxy list), if known */
static const struct gh_listen *listen_of(const struct inspector *in, const struct lconn *c)
{
	return c->listen < in->cfg->n_listens ? &in->cfg->listens[c->listen] : NULL;
}

bool inspect_conn(struct inspector *in, struct lconn *c, bool hangup)
{
	/* room for a PROXY header in front (only a trusted peer's is parsed) */
	size_t cap = (c->kind == GH_KIND_HTTP ? in->cfg->max_head + 1 : DECIDE_PEEK_MAX) + PROXY_PARSE_MAX;
	ssize_t n = recv(c->fd, in->buf, cap, MSG_PEEK | MSG_DONTWAIT);
	struct decision d;
	struct sockaddr_in6 client;
	size_t header_len;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return true;
		lconn_reject_log(in->conns, c, "client_error", "", NULL, 0);
		lconn_free(in->conns, c);
		return false;
	}
	if (n > 0)
		c->got_bytes = true;
	/* n == 0: EOF (peeking never reads 0 otherwise) */
	decide_client(in->cfg, listen_of(in, c), c->kind, &c->peer, in->buf, (size_t)n, hangup || n == 0, &d,
		      in->answer, sizeof(in->answer), &header_len, &client);
	if (d.action == DECIDE_HANDOFF && ((in->src && in->src->on) || in->conns->site_src || c->via_balancer))
		limit_source(in, c, &d, &client);
	return carry_out(in, c, &d, &client, header_len);
}

void inspect_timeout(struct inspector *in, struct lconn *c)
{
	struct decision d;
	struct sockaddr_in6 client;
	ssize_t n = 0;

	in->conns->stats.timeouts++;
	/* with balancers configured, what came so far: a header not whole is
	 * a bad_proxy, and after one the client behind it is who timed out */
	if (config_proxy_any(in->cfg, listen_of(in, c)))
		n = recv(c->fd, in->buf, PROXY_PARSE_MAX + 1, MSG_PEEK | MSG_DONTWAIT);
	decide_client_timeout(in->cfg, listen_of(in, c), c->kind, &c->peer, in->buf, n > 0 ? (size_t)n : 0,
			      c->got_bytes, &d, in->answer, sizeof(in->answer), &client);
	carry_out(in, c, &d, &client, 0);
}
