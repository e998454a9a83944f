/* SPDX-License-Identifier: MIT */
/*
 * Per-connection inspection: peek at what the client sent so far, parse it
 * from the first byte (the parsers are stateless), and decide: wait, hand
 * off, or answer and close.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "listener/decide.h"
#include "listener/listener.h"

/* Enough for the largest ClientHello (16 KiB of handshake) spread over a
 * few records, and for the largest request head (max-head-size <= 64 KiB). */
static uint8_t peek_buf[DECIDE_PEEK_MAX];
/* decide_*() write answers here; sent before the next decision */
static char answer_buf[DECIDE_ANSWER_MAX];

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

/* Carry out a decision; returns true while the client is still waiting. */
static bool carry_out(struct listener *l, struct lconn *c, const struct decision *d)
{
	switch (d->action) {
	case DECIDE_WAIT:
		return true;
	case DECIDE_HANDOFF:
		dispatch_queue(l, c, l->cfg->sites[d->site].name, d->name);
		return false;
	case DECIDE_DROP:
		conn_free(l, c);
		return false;
	case DECIDE_ANSWER:
		listener_reject_log(l, c, d->result, d->name, d->detail, d->status);
		answer_and_close(l, c, d->answer, d->answer_len);
		return false;
	}
	return false;
}

bool inspect_conn(struct listener *l, struct lconn *c, bool hangup)
{
	size_t cap = c->kind == GH_KIND_HTTP ? l->cfg->max_head + 1 : DECIDE_PEEK_MAX;
	ssize_t n = recv(c->fd, peek_buf, cap, MSG_PEEK | MSG_DONTWAIT);
	struct decision d;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return true;
		listener_reject_log(l, c, "client_error", "", NULL, 0);
		conn_free(l, c);
		return false;
	}
	if (n > 0)
		c->got_bytes = true;
	/* n == 0: EOF (peeking never reads 0 otherwise) */
	decide_bytes(l->cfg, c->kind, peek_buf, (size_t)n, hangup || n == 0, &d, answer_buf,
		     sizeof(answer_buf));
	return carry_out(l, c, &d);
}

void inspect_timeout(struct listener *l, struct lconn *c)
{
	struct decision d;

	l->stats.timeouts++;
	decide_timeout(c->kind, c->got_bytes, &d, answer_buf, sizeof(answer_buf));
	carry_out(l, c, &d);
}
