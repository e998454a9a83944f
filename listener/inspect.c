/* SPDX-License-Identifier: MIT */
/*
 * Per-connection inspection: peek at what the client sent so far, parse it
 * from the first byte (the parsers are stateless), and decide: wait, hand
 * off, or answer and close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "clock.h"
#include "hostname.h"
#include "http_head.h"
#include "listener.h"
#include "reply.h"
#include "tls_hello.h"

/* Enough for the largest ClientHello (16 KiB of handshake) spread over a
 * few records, and for the largest request head (max-head-size <= 64 KiB). */
#define PEEK_MAX (64u * 1024u + 1024u)
static uint8_t peek_buf[PEEK_MAX];

#define ACME_PREFIX "/.well-known/acme-challenge/"

void conn_free(struct listener *l, struct lconn *c)
{
	if (!c)
		return;
	dlist_remove(&c->link);
	if (c->fd >= 0)
		close(c->fd);	/* also drops it from the epoll set */
	l->n_inspecting--;
	l->stats.active--;
	free(c);
}

/* Read (consume) what the client sent, so close() after our answer sends a
 * FIN rather than a RST that could destroy the answer in flight. */
static void drain_input(int fd)
{
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(fd, peek_buf, sizeof(peek_buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
	}
}

static void answer_and_close(struct listener *l, struct lconn *c, const void *buf, size_t len)
{
	drain_input(c->fd);
	if (len)
		(void)send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(c->fd, SHUT_WR);
	conn_free(l, c);
}

static void http_error(struct listener *l, struct lconn *c, int status, const char *detail,
		       const char *result, const char *name)
{
	char out[REPLY_MAX];
	size_t n = reply_http_error(status, detail, out, sizeof(out));
	listener_reject_log(l, c, result, name, status);
	answer_and_close(l, c, out, n);
}

static bool tls_decide(struct listener *l, struct lconn *c, size_t len, bool hangup)
{
	struct tls_hello h;
	enum tls_hello_status st = tls_hello_parse(peek_buf, len, &h);

	if (st == TLS_HELLO_NEED_MORE) {
		if (h.need > PEEK_MAX) {
			listener_reject_log(l, c, "too_big", "", 0);
			answer_and_close(l, c, NULL, 0);
		} else if (hangup) {
			listener_reject_log(l, c, "client_closed", "", 0);
			conn_free(l, c);
		} else {
			return true;
		}
		return false;
	}
	if (st == TLS_HELLO_INVALID) {
		/* Not TLS, or not a hello we can read: just close (DESIGN.md). */
		listener_reject_log(l, c, "bad_hello", tls_hello_error_str(h.error), 0);
		answer_and_close(l, c, NULL, 0);
		return false;
	}
	char name[HOSTNAME_MAX + 1] = "";
	size_t name_len = 0;
	if (h.has_sni && hostname_normalize((const uint8_t *)h.sni, h.sni_len, name, &name_len) != HOSTNAME_OK) {
		/* an unusable name is routed like no name: default or alert */
		name[0] = '\0';
		name_len = 0;
	}
	uint32_t site = config_route(l->cfg, GH_KIND_TLS, name, name_len);
	if (site == GH_NO_SITE) {
		listener_reject_log(l, c, "no_route", name, 0);
		answer_and_close(l, c, reply_tls_unrecognized_name, sizeof(reply_tls_unrecognized_name));
		return false;
	}
	dispatch_queue(l, c, l->cfg->sites[site].name, name);
	return false;
}

static bool is_acme(const struct http_head *h)
{
	return h->path_len >= sizeof(ACME_PREFIX) - 1 &&
	       !memcmp(h->path, ACME_PREFIX, sizeof(ACME_PREFIX) - 1);
}

static bool http_decide(struct listener *l, struct lconn *c, size_t len, bool hangup)
{
	struct http_head h;
	enum http_head_status st = http_head_parse(peek_buf, len, l->cfg->max_head, &h);

	if (st == HTTP_HEAD_NEED_MORE) {
		if (hangup) {
			listener_reject_log(l, c, "client_closed", "", 0);
			conn_free(l, c);
			return false;
		}
		return true;
	}
	if (st == HTTP_HEAD_INVALID) {
		http_error(l, c, h.status, h.reason, "bad_request", "");
		return false;
	}
	const char *name = h.has_host ? h.host : "";
	if (l->cfg->http_mode == GH_HTTP_REDIRECT_HTTPS && !is_acme(&h)) {
		static char out[HTTP_HEAD_DEFAULT_CAP * 4 + 512];
		if (!h.has_host) {
			http_error(l, c, 400, "no host to redirect to", "bad_request", "");
			return false;
		}
		int status;
		size_t n = reply_http_redirect(h.method, h.method_len, h.host, h.path, h.path_len,
					       out, sizeof(out), &status);
		if (n == 0) {
			http_error(l, c, 414, "target too long to redirect", "bad_request", name);
			return false;
		}
		listener_reject_log(l, c, "redirect", name, status);
		answer_and_close(l, c, out, n);
		return false;
	}
	uint32_t site = config_route(l->cfg, GH_KIND_HTTP, name, h.has_host ? h.host_len : 0);
	if (site == GH_NO_SITE) {
		http_error(l, c, 421, "no site is served here for this host", "no_route", name);
		return false;
	}
	dispatch_queue(l, c, l->cfg->sites[site].name, name);
	return false;
}

bool inspect_conn(struct listener *l, struct lconn *c, bool hangup)
{
	size_t cap = c->kind == GH_KIND_HTTP ? l->cfg->max_head + 1 : PEEK_MAX;
	ssize_t n = recv(c->fd, peek_buf, cap, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return true;
		listener_reject_log(l, c, "client_error", "", 0);
		conn_free(l, c);
		return false;
	}
	if (n == 0) {
		/* closed before sending a whole hello or head */
		if (c->got_bytes)
			listener_reject_log(l, c, "client_closed", "", 0);
		conn_free(l, c);
		return false;
	}
	c->got_bytes = true;
	if (c->kind == GH_KIND_TLS)
		return tls_decide(l, c, (size_t)n, hangup);
	return http_decide(l, c, (size_t)n, hangup);
}

void inspect_timeout(struct listener *l, struct lconn *c)
{
	l->stats.timeouts++;
	if (c->kind == GH_KIND_HTTP && c->got_bytes) {
		http_error(l, c, 408, "request head not received in time", "timeout", "");
		return;
	}
	/* Nothing sent at all (e.g. a browser's pre-connect) or TLS: close
	 * quietly; a 408 to a pre-connected socket shows users an error page. */
	listener_reject_log(l, c, "timeout", "", 0);
	answer_and_close(l, c, NULL, 0);
}
