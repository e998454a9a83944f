/* SPDX-License-Identifier: MIT */
/*
 * Accepting clients. One gate decides whether the listener takes more
 * (accept_wanted); the loop applies it to the sockets once a round and the
 * batch asks it before each client, so nothing below has to reach back up
 * to switch accepting off.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/reply.h"
#include "router/srclimit.h"
#include "listener/listener.h"

/* A bounded batch per wake-up, so one busy port cannot starve the rest. */
#define ACCEPT_BATCH 64
/* Out of fds: leave clients in the backlog and look again this much later. */
#define ACCEPT_PAUSE_MS 100

enum accept_err accept_error_class(int err)
{
	switch (err) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ECONNABORTED:	/* the client left before we took it */
	case EPROTO:
	case EPERM:		/* a firewall rule refused this client */
	/* accept(2): Linux passes a pending network error of the new
	 * connection to accept(); for TCP these mean "retry" */
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return ACCEPT_ERR_RETRY;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return ACCEPT_ERR_PAUSE;
	default:
		/* EINVAL (no longer listening: shutdown() by anyone holding
		 * it), EBADF, ENOTSOCK, EFAULT: retrying would spin */
		return ACCEPT_ERR_FATAL;
	}
}

void llisten_init(struct llisten *ls, int fd, unsigned kind)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[64] = "?";

	ls->type = LOBJ_LISTEN;
	ls->kind = (uint8_t)kind;
	ls->fd = fd;
	ls->enabled = true;
	ls->dead = false;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		log_format_addr((const struct sockaddr *)&ss, addr, sizeof(addr));
	snprintf(ls->name, sizeof(ls->name), "%s %s (fd %d)", gh_kind_str((enum gh_kind)kind), addr, fd);
}

/* The listen line a client reached, by the address it reached (what the
 * forwarder looks up too: both agree whoever bound the socket), when a
 * listen has its own accept-proxy list; else none is needed. */
static uint16_t listen_reached(const struct gh_config *cfg, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!cfg->proxy_listen_lists || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return LCONN_NO_LISTEN;
	const struct gh_listen *on = config_listen_at(cfg, (const struct sockaddr *)&ss);
	return on ? (uint16_t)(on - cfg->listens) : LCONN_NO_LISTEN;	/* < GH_MAX_LISTENS */
}

/* Is peer a trusted balancer of the listen it reached? Its connections
 * carry other clients: the per-source table at accept leaves it alone, and
 * the client its header names is judged once the header is read. */
static bool from_balancer(const struct gh_config *cfg, uint16_t listen, const struct sockaddr_in6 *peer)
{
	const struct gh_listen *on = listen < cfg->n_listens ? &cfg->listens[listen] : NULL;
	const uint8_t *addr;
	int family;

	return config_proxy_any(cfg, on) && lconn_peer_addr(peer, &family, &addr) &&
	       config_proxy_trusted(cfg, on, family, addr);
}

bool accept_wanted(const struct listener *l, uint64_t now_ms)
{
	return lconn_accept_wanted(&l->conns, l->disp.backed_up, l->draining || l->disp.lost, now_ms);
}

void accept_gate(struct listener *l, uint64_t now_ms)
{
	bool want = accept_wanted(l, now_ms);

	if (want && l->conns.accept_resume_ms != UINT64_MAX)
		lconn_pause_accept(&l->conns, UINT64_MAX);	/* the pause is over */
	for (unsigned i = 0; i < l->n_listens; i++) {
		struct llisten *ls = &l->listens[i];
		if (ls->dead || ls->enabled == want)
			continue;
		struct epoll_event ev = { .events = want ? EPOLLIN : 0, .data.ptr = ls };
		epoll_ctl(l->epfd, EPOLL_CTL_MOD, ls->fd, &ev);
		ls->enabled = want;
	}
}

/* Take ls out for good: a socket that no longer listens reports EPOLLHUP
 * whatever events it is registered for. */
static int accept_failed(struct listener *l, struct llisten *ls, int err)
{
	log_msg(LOG_ERR, "accept on %s: %s: this socket takes no more clients; "
		"exiting (status 1) so that the supervisor restarts the listener",
		ls->name, strerror(err));
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, ls->fd, NULL);
	ls->dead = true;
	ls->enabled = false;
	return -err;
}

/* A source over its limits, before any inspection: 429 with Retry-After
 * on http, a close with nothing written on tls (no hello read yet to
 * answer with an alert), one rate-limited `rate_limited` record. */
static void refuse_source(struct listener *l, int fd, unsigned kind, const struct sockaddr_in6 *peer,
			  int st, uint32_t retry_after_s)
{
	struct lconn c = { .type = LOBJ_CONN, .kind = (uint8_t)kind, .fd = fd, .peer = *peer,
			   .accepted_usec = clock_realtime_us() };
	const char *why = st == SRCLIMIT_OVER_RATE ? "too many new connections from this source"
			  : st == SRCLIMIT_OVER_CONCURRENT ? "too many connections under inspection from this source"
							   : "source table full";
	size_t len = 0;
	int status = 0;

	if (kind == GH_KIND_HTTP) {
		len = reply_http_429(retry_after_s, why, l->insp.answer, sizeof(l->insp.answer));
		status = 429;
	}
	lconn_reject_log(&l->conns, &c, "rate_limited", "", why, status);
	reply_final(fd, l->insp.answer, len, l->insp.buf, sizeof(l->insp.buf));
	close(fd);
}

int accept_ready(struct listener *l, struct llisten *ls, uint32_t events)
{
	uint64_t now = clock_now_ms();
	/* A listening TCP socket never reports a hang-up: this one no longer
	 * listens, and says so whatever it is registered for. Ask accept4()
	 * why even with the gate shut, or the hang-up wakes every round. */
	bool hangup = (events & (EPOLLHUP | EPOLLERR)) != 0;

	for (int i = 0; i < ACCEPT_BATCH && !ls->dead; i++) {
		if (!accept_wanted(l, now) && !(hangup && i == 0))
			return 0;
		struct sockaddr_in6 peer;
		socklen_t plen = sizeof(peer);
		/* always non-blocking and close-on-exec: the seccomp filter
		 * allows accept4() with exactly these flags */
		int fd = accept4(ls->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			switch (accept_error_class(err)) {
			case ACCEPT_ERR_RETRY:
				if (err != EAGAIN && err != EINTR && err != ECONNABORTED &&
				    lconn_accept_log_take(&l->conns, now))
					log_msg(LOG_WARNING, "accept on %s: %s", ls->name, strerror(err));
				return 0;
			case ACCEPT_ERR_PAUSE:
				if (lconn_accept_log_take(&l->conns, now))
					log_msg(LOG_WARNING, "accept on %s: %s, pausing accepts for %dms",
						ls->name, strerror(err), ACCEPT_PAUSE_MS);
				lconn_pause_accept(&l->conns, now + ACCEPT_PAUSE_MS);
				return 0;
			case ACCEPT_ERR_FATAL:
				return accept_failed(l, ls, err);
			}
			return 0;
		}
		uint16_t listen = listen_reached(l->cfg, fd);
		bool balancer = l->conns.src && from_balancer(l->cfg, listen, &peer);
		/* per source, before the client takes an inspection slot */
		uint32_t retry_after_s;
		int st = balancer ? SRCLIMIT_OK : lconn_admit(&l->conns, &peer, clock_now_ms(), &retry_after_s);
		if (st != SRCLIMIT_OK) {
			refuse_source(l, fd, ls->kind, &peer, st, retry_after_s);
			continue;
		}
		struct lconn *c = lconn_new(&l->conns, fd, ls->kind, &peer, clock_realtime_us(),
					    clock_now_ms() + l->cfg->inspect_timeout_ms);
		if (!c) {
			if (!balancer)
				lconn_unadmit(&l->conns, &peer);
			close(fd);
			return 0;
		}
		c->counted = l->conns.src != NULL && !balancer;
		c->via_balancer = balancer;
		c->listen = listen;
		/* With TCP_DEFER_ACCEPT the first bytes are usually here
		 * already: look before registering, and most clients never
		 * enter the epoll set. Registering after an incomplete peek
		 * loses nothing: epoll reports readiness present at ADD. */
		if (!inspect_conn(&l->insp, c, false))
			continue;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			lconn_free(&l->conns, c);
			continue;
		}
		c->in_epoll = true;
	}
	return 0;
}
