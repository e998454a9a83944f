/* SPDX-License-Identifier: MIT */
/*
 * The relay: both directions of one client<->server pair, edge-triggered.
 * System calls are the cost per connection here, so:
 *  - the server fd is registered once, from the connect: with EPOLLOUT
 *    while the connect is pending, without it when the client's first
 *    bytes already went through (relay_early); OUT is added the first
 *    time a send to the server would block;
 *  - the client fd is registered after the first pump, for IN|RDHUP only,
 *    and gets OUT added the first time a send to it would block;
 *  - a short read means the socket was drained: stop there instead of
 *    reading again for EAGAIN, unless the peer has shut down (then read on
 *    to see the EOF, which no later edge would report);
 *  - RDHUP from a side ends only the direction it is the source of: the
 *    other direction is run only for HUP/ERR or a writable edge it waits for.
 *
 * Half-close: EOF from one side is passed on with shutdown(SHUT_WR) once
 * everything before it is delivered; the relay ends when both directions
 * have done so (or on an error, or the idle timeout).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "forwarder/forwarder.h"
#include "forwarder/pipes.h"

/* Small messages (requests, TLS handshakes, keep-alive exchanges) go
 * through the shared buffer with one recv and one send, stopping at a short
 * read. A direction turns to splice() ("bulk") when a recv fills the whole
 * buffer, and back when a splice moves less than SMALL_SPLICE: then the copy
 * is cheaper than the extra splice and pipe. */
#define SMALL_SPLICE (16u * 1024u)

static uint8_t scratch[64 * 1024];

enum pump_result {
	PUMP_WAIT,	/* source empty or destination full */
	PUMP_DONE,	/* EOF passed on */
	PUMP_ERR_SRC,
	PUMP_ERR_DST,
};

static bool dir_busy(const struct fdir *d)
{
	return d->in_pipe || d->pend_len;
}

static void dir_release(struct fdir *d)
{
	if (d->pipe_r >= 0) {
		if (d->in_pipe)
			pipes_discard(d->pipe_r, d->pipe_w);
		else
			pipes_put(d->pipe_r, d->pipe_w);
	}
	d->pipe_r = d->pipe_w = -1;
	d->in_pipe = 0;
	free(d->pend);
	d->pend = NULL;
	d->pend_len = d->pend_off = 0;
}

static bool would_block(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* Deliver what is held (leftover bytes or pipe contents). */
static enum pump_result flush_held(struct fdir *d, int dst, bool *dst_blocked)
{
	while (d->pend_len) {
		ssize_t n = send(dst, d->pend + d->pend_off, d->pend_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (!would_block(errno))
				return PUMP_ERR_DST;
			*dst_blocked = true;
			return PUMP_WAIT;
		}
		d->pend_off += (uint32_t)n;
		d->pend_len -= (uint32_t)n;
		d->bytes += (uint64_t)n;
		if (!d->pend_len) {
			free(d->pend);
			d->pend = NULL;
			d->pend_off = 0;
		}
	}
	while (d->in_pipe) {
		ssize_t n = splice(d->pipe_r, NULL, dst, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (!would_block(errno))
				return PUMP_ERR_DST;
			*dst_blocked = true;
			return PUMP_WAIT;
		}
		if (n == 0)
			return PUMP_ERR_DST;
		d->in_pipe -= (uint32_t)n;
		d->bytes += (uint64_t)n;
	}
	return PUMP_DONE;
}

/* Keep bytes a send did not take, for flush_held. */
static bool hold_rest(struct fdir *d, const uint8_t *p, size_t len)
{
	d->pend = malloc(len);
	if (!d->pend)
		return false;
	memcpy(d->pend, p, len);
	d->pend_len = (uint32_t)len;
	d->pend_off = 0;
	return true;
}

static bool dir_done(const struct fdir *d)
{
	return d->shut && !dir_busy(d);
}

static enum pump_result pump(struct fdir *d, int src, int dst, bool other_done, bool *dst_blocked)
{
	for (;;) {
		if (dir_busy(d)) {
			enum pump_result r = flush_held(d, dst, dst_blocked);
			if (r != PUMP_DONE)
				return r;
		}
		if (d->eof) {
			if (!d->shut) {
				/* the last direction to end needs no shutdown():
				 * both sockets are closed next, which sends the FIN */
				if (!other_done)
					shutdown(dst, SHUT_WR);
				d->shut = true;
			}
			if (d->pipe_r >= 0)
				dir_release(d);
			return PUMP_DONE;
		}
		if (!d->bulk) {
			if (d->pipe_r >= 0) {
				pipes_put(d->pipe_r, d->pipe_w);	/* empty: flushed above */
				d->pipe_r = d->pipe_w = -1;
			}
			ssize_t n = recv(src, scratch, sizeof(scratch), MSG_DONTWAIT);
			if (n == 0) {
				d->eof = true;
				continue;
			}
			if (n < 0)
				return would_block(errno) ? PUMP_WAIT : PUMP_ERR_SRC;
			ssize_t s = send(dst, scratch, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (s < 0) {
				if (!would_block(errno))
					return PUMP_ERR_DST;
				s = 0;
			}
			d->bytes += (uint64_t)s;
			if (s < n) {
				*dst_blocked = true;
				/* rare: keep the rest until the destination drains */
				return hold_rest(d, scratch + s, (size_t)(n - s)) ? PUMP_WAIT : PUMP_ERR_DST;
			}
			if ((size_t)n == sizeof(scratch))
				d->bulk = true;
			else if (!d->src_hup)
				return PUMP_WAIT;	/* drained: the next edge says more */
			continue;
		}
		if (d->pipe_r < 0 && pipes_get(&d->pipe_r, &d->pipe_w) < 0) {
			d->pipe_r = d->pipe_w = -1;
			return PUMP_ERR_SRC;
		}
		ssize_t n = splice(src, NULL, d->pipe_w, NULL, pipes_size(), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			d->eof = true;
			continue;
		}
		if (n < 0) {
			if (!would_block(errno))
				return PUMP_ERR_SRC;
			/* idle: give the empty pipe back so idle relays hold none */
			pipes_put(d->pipe_r, d->pipe_w);
			d->pipe_r = d->pipe_w = -1;
			return PUMP_WAIT;
		}
		d->in_pipe += (uint32_t)n;
		if ((size_t)n < SMALL_SPLICE)
			d->bulk = false;
	}
}

static void touch(struct forwarder *f, struct fconn *c)
{
	/* move to the tail: the queue stays sorted by last activity */
	dlist_remove(&c->link);
	c->deadline_ms = clock_now_ms() + f->cfg->idle_timeout_ms;
	dlist_append(&f->relaying, &c->link);
}


/* A side's fd gets EPOLLOUT only once a send to it would block. */
static bool want_out(struct forwarder *f, struct fconn *c, bool server)
{
	bool *out = server ? &c->sout : &c->cout;
	if (*out)
		return true;
	*out = true;
	if (!server && !c->creg)
		return true;	/* relay_start registers it with OUT */
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = fconn_tag(c, server),
	};
	return epoll_ctl(f->epfd, EPOLL_CTL_MOD, server ? c->sfd : c->cfd, &ev) == 0;
}

/*
 * Before the connect is known to be done, move the client's first bytes
 * (they are waiting: the listener routed on them) with one recv and one
 * send. Over loopback or a veth the handshake usually completes inside
 * connect(), and then this send saves waiting for EPOLLOUT. A send on a
 * socket still connecting fails with EAGAIN and queues nothing, so success
 * means the connection is up. Client EOF and errors are left for the relay
 * to find; a refused connect comes back as -errno with the bytes held for
 * the next server.
 */
int relay_early(struct fconn *c)
{
	struct fdir *d = &c->up;
	if (dir_busy(d))
		return EARLY_NONE;	/* held from a server that failed: sent once connected */
	ssize_t n = recv(c->cfd, scratch, sizeof(scratch), MSG_DONTWAIT);
	if (n <= 0)
		return EARLY_NONE;
	int err = 0;
	ssize_t s = send(c->sfd, scratch, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (s < 0) {
		if (!would_block(errno))
			err = errno;
		s = 0;
	}
	d->bytes += (uint64_t)s;
	if (s < n) {
		if (!hold_rest(d, scratch + s, (size_t)(n - s)))
			return -ENOMEM;
		if (err)
			return -err;
		/* any byte taken means the connection is up: from here a failure
		 * is the relay's, never a failover (the next server would get
		 * the stream without its start) */
		return s ? EARLY_UP_HELD : EARLY_HELD;
	}
	return (size_t)n < sizeof(scratch) ? EARLY_SENT : EARLY_SENT_MORE;
}

/* Run the directions an event may have unblocked. */
static void run(struct forwarder *f, struct fconn *c, bool do_up, bool do_down)
{
	if (do_up && !dir_done(&c->up)) {
		bool blocked = false;
		enum pump_result r = pump(&c->up, c->cfd, c->sfd, dir_done(&c->down), &blocked);
		if (r == PUMP_ERR_SRC || r == PUMP_ERR_DST) {
			fconn_end(f, c, r == PUMP_ERR_SRC ? "client_error" : "server_error");
			return;
		}
		if (blocked && !want_out(f, c, true)) {
			fconn_end(f, c, "internal");
			return;
		}
	}
	if (do_down && !dir_done(&c->down)) {
		bool blocked = false;
		enum pump_result r = pump(&c->down, c->sfd, c->cfd, dir_done(&c->up), &blocked);
		if (r == PUMP_ERR_SRC || r == PUMP_ERR_DST) {
			fconn_end(f, c, r == PUMP_ERR_SRC ? "server_error" : "client_error");
			return;
		}
		if (blocked && !want_out(f, c, false)) {
			fconn_end(f, c, "internal");
			return;
		}
	}
	if (dir_done(&c->up) && dir_done(&c->down)) {
		fconn_end(f, c, "ok");
		return;
	}
	touch(f, c);
}

void relay_start(struct forwarder *f, struct fconn *c, uint32_t server_events, bool up_drained)
{
	c->state = FS_RELAY;
	/* The client's first bytes (the hello or head) are waiting, unless
	 * relay_early moved them: move them before registering the client fd,
	 * so that registering reports only what arrives after. The server side
	 * only if it already spoke. */
	c->down.src_hup = (server_events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
	run(f, c, !up_drained, (server_events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
	if (c->state == FS_DEAD)
		return;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (c->cout ? EPOLLOUT : 0),
		.data.u64 = fconn_tag(c, false),
	};
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, c->cfd, &ev) < 0) {
		fconn_end(f, c, "internal");
		return;
	}
	c->creg = true;
}

void relay_event(struct forwarder *f, struct fconn *c, bool from_client, uint32_t events)
{
	/* Readable (or EOF/error) on a side feeds the direction it is the
	 * source of; writable drains the direction it is the destination of.
	 * Running only those saves a failed syscall per wake-up. */
	bool dead = events & (EPOLLHUP | EPOLLERR);
	bool hup = dead || (events & EPOLLRDHUP);
	bool in = hup || (events & EPOLLIN);
	/* writable matters only to a direction holding bytes for that side;
	 * RDHUP (the peer's FIN) says nothing about sending to it */
	bool out = dead || (events & EPOLLOUT);
	if (from_client) {
		c->up.src_hup |= hup;
		run(f, c, in, out && (dead || dir_busy(&c->down)));
	} else {
		c->down.src_hup |= hup;
		run(f, c, out && (dead || dir_busy(&c->up)), in);
	}
}

void relay_expire(struct forwarder *f, uint64_t now)
{
	while (!dlist_empty(&f->relaying)) {
		struct fconn *c = dlist_entry(f->relaying.next, struct fconn, link);
		if (c->deadline_ms > now)
			break;
		fconn_end(f, c, "idle_timeout");
	}
}

void relay_init(void)
{
	pipes_init();
}

void relay_release(struct fconn *c)
{
	dir_release(&c->up);
	dir_release(&c->down);
}
