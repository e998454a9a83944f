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
 *    reading again for EAGAIN; if the peer's FIN was reported (RDHUP, no
 *    error) that read reached it, and it is the EOF without the recv that
 *    would return 0; after a HUP or an error, read on to see the end, which
 *    no later edge would report;
 *  - RDHUP from a side ends only the direction it is the source of: the
 *    other direction is run only for HUP/ERR or a writable edge it waits for.
 *
 * Half-close: EOF from one side is passed on with shutdown(SHUT_WR) once
 * everything before it is delivered; the relay ends when both directions
 * have done so (or on an error, or the idle timeout).
 *
 * One request (an ACME challenge under redirect-https): the client->server
 * direction carries its head and then ends as if the client had sent EOF
 * (pump.h `limited`); the answer is relayed to the server's EOF.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/reply.h"
#include "forwarder/conn.h"
#include "forwarder/pump.h"
#include "forwarder/relay.h"
#include "forwarder/state.h"

static bool would_block(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* The peer's FIN was taken in (RDHUP) and no reset came with it: a
 * recv after one that came up short would only return 0. A reset sets
 * EPOLLERR; one that comes after the FIN still leaves recv returning 0. */
static bool fin_seen(uint32_t events)
{
	return (events & EPOLLRDHUP) && !(events & EPOLLERR);
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
int relay_early(struct fconn *c, struct pump_buf *buf)
{
	struct fdir *d = &c->up;
	if (pump_dir_busy(d))
		return EARLY_NONE;	/* held from a server that failed: sent once connected */
	/* a one-request client: no byte past the limit, here either */
	size_t want = pump_recv_size(d, sizeof(buf->b));
	if (!want)
		return EARLY_NONE;
	ssize_t n = recv(c->cfd, buf->b, want, MSG_DONTWAIT);
	if (n <= 0)
		return EARLY_NONE;
	/* limit reached: the relay must still run the direction, to pass
	 * the end on to the server */
	bool used_up = pump_took(d, (size_t)n);
	int err = 0;
	ssize_t s = send(c->sfd, buf->b, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (s < 0) {
		if (!would_block(errno))
			err = errno;
		s = 0;
	}
	d->bytes += (uint64_t)s;
	if (s < n) {
		if (!pump_hold(d, buf->b + s, (size_t)(n - s)))
			return -ENOMEM;
		if (err)
			return -err;
		/* any byte taken means the connection is up: from here a failure
		 * is the relay's, never a failover (the next server would get
		 * the stream without its start) */
		return s ? EARLY_UP_HELD : EARLY_HELD;
	}
	return (size_t)n < sizeof(buf->b) && !used_up ? EARLY_SENT : EARLY_SENT_MORE;
}

/* Run the directions an event may have unblocked. */
static void run(struct forwarder *f, struct fconn *c, bool do_up, bool do_down)
{
	if (do_up && !pump_dir_done(&c->up)) {
		bool blocked = false;
		enum pump_result r = pump(&c->up, c->cfd, c->sfd, pump_dir_done(&c->down), f->buf, &blocked);
		if (r == PUMP_ERR_SRC || r == PUMP_ERR_DST) {
			conn_end(&f->conns, c, r == PUMP_ERR_SRC ? "client_error" : "server_error");
			return;
		}
		if (blocked && !want_out(f, c, true)) {
			conn_end(&f->conns, c, "internal");
			return;
		}
	}
	if (do_down && !pump_dir_done(&c->down)) {
		bool blocked = false;
		enum pump_result r = pump(&c->down, c->sfd, c->cfd, pump_dir_done(&c->up), f->buf, &blocked);
		if (r == PUMP_ERR_SRC || r == PUMP_ERR_DST) {
			conn_end(&f->conns, c, r == PUMP_ERR_SRC ? "server_error" : "client_error");
			return;
		}
		if (blocked && !want_out(f, c, false)) {
			conn_end(&f->conns, c, "internal");
			return;
		}
	}
	if (pump_dir_done(&c->up) && pump_dir_done(&c->down)) {
		/* a one-request client may have sent more than it was given:
		 * read that and shut our side first, so the close sends a FIN
		 * and not a RST that could cut the answer short */
		if (c->up.limited)
			reply_final(c->cfd, NULL, 0, f->buf->b, sizeof(f->buf->b));
		conn_end(&f->conns, c, "ok");
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
	c->down.src_fin = fin_seen(server_events);
	run(f, c, !up_drained, (server_events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
	if (c->state == FS_DEAD)
		return;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (c->cout ? EPOLLOUT : 0),
		.data.u64 = fconn_tag(c, false),
	};
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, c->cfd, &ev) < 0) {
		conn_end(&f->conns, c, "internal");
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
		c->up.src_fin |= fin_seen(events);
		run(f, c, in, out && (dead || pump_dir_busy(&c->down)));
	} else {
		c->down.src_hup |= hup;
		c->down.src_fin |= fin_seen(events);
		run(f, c, out && (dead || pump_dir_busy(&c->up)), in);
	}
}

void relay_expire(struct forwarder *f, uint64_t now)
{
	while (!dlist_empty(&f->relaying)) {
		struct fconn *c = dlist_entry(f->relaying.next, struct fconn, link);
		if (c->deadline_ms > now)
			break;
		conn_end(&f->conns, c, "idle_timeout");
	}
}

void relay_release(struct fconn *c)
{
	pump_dir_release(&c->up);
	pump_dir_release(&c->down);
}
