/* SPDX-License-Identifier: MIT */
/*
 * Dialling a site's servers: round robin over the servers of the client's
 * kind, failover to the next on a refused or timed-out connect, and a
 * failed server avoided for AVOID_MS unless every server is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/reply.h"
#include "forwarder/conn.h"
#include "common/counters.h"
#include "forwarder/dial.h"
#include "forwarder/relay.h"
#include "forwarder/srcaddr.h"
#include "forwarder/state.h"
#include "router/proxy_header.h"

#define AVOID_MS 10000u

/* c's servers: its site's of its kind, or its tls-alpn route's */
static const struct gh_addr *servers_of(struct forwarder *f, struct fconn *c, size_t *n)
{
	return config_servers(f->cfg, c->site, c->kind, c->alpn_route, n);
}

/* Their failure states: one array per site and kind, a TLS one holding the
 * routes' servers after the site's own (dial_setup) */
static struct fserver_state *states_of(struct forwarder *f, struct fconn *c)
{
	const struct gh_site *s = &f->cfg->sites[c->site];
	struct fserver_state *st = f->srv[c->kind][c->site];

	if (c->alpn_route)
		st += s->n_servers[c->kind];
	for (unsigned r = 1; r < c->alpn_route; r++)
		st += s->alpn[r - 1].n_servers;
	return st;
}

static const struct gh_addr *server_addr(struct forwarder *f, struct fconn *c)
{
	size_t n;

	return &servers_of(f, c, &n)[c->server];
}

int dial_pick(const struct fserver_state *st, size_t n, uint32_t *rr, unsigned tries, uint64_t now,
	      const struct health_view *hv)
{
	if (!n || tries >= n || tries >= 32)
		return -1;
	size_t up = 0, first_up = n;
	for (size_t i = 0; i < n; i++) {
		size_t idx = (*rr + i) % n;
		if (health_down(hv, st[idx].check, now))
			continue;	/* down for every forwarder: not tried at all */
		if (!up++)
			first_up = idx;
		if (st[idx].avoid_until_ms <= now) {
			*rr = (uint32_t)((idx + 1) % n);
			return (int)idx;
		}
	}
	/* all avoided: try in turn anyway, a server may be back; all down:
	 * nothing to try (the client is answered at once) */
	if (!up || tries >= up)
		return -1;
	*rr = (uint32_t)((first_up + 1) % n);
	return (int)first_up;
}

/* Next server to try for c. */
static int pick(struct forwarder *f, struct fconn *c)
{
	size_t n;

	servers_of(f, c, &n);
	/* a route shares its site's round-robin cursor: dial_pick keeps it in range */
	return dial_pick(states_of(f, c), n, &f->rr[c->kind][c->site], c->tries, clock_now_ms(), &f->health);
}

void dial_give_up(struct forwarder *f, struct fconn *c, const char *result)
{
	if (c->kind == GH_KIND_HTTP) {
		char resp[REPLY_MAX];
		size_t len = reply_http_error(503, "no server reachable", resp, sizeof(resp));
		reply_final(c->cfd, resp, len, f->buf->b, sizeof(f->buf->b));
	}
	if (c->tries)
		f->failed++;
	conn_end(&f->conns, c, result);
}

static void try_next(struct forwarder *f, struct fconn *c);

/* relay_early costs a failed send() when a connect is still pending (a
 * remote server): after one such miss a server is not tried early again
 * for EARLY_BACKOFF connects. */
#define EARLY_BACKOFF 63

static bool early_worth(struct fserver_state *st)
{
	if (!st->early_skip)
		return true;
	st->early_skip--;
	return false;
}

static void server_failed(struct forwarder *f, struct fconn *c, int err)
{
	char addr[64];
	struct fserver_state *st = &states_of(f, c)[c->server];
	snprintf(addr, sizeof(addr), "%s", server_addr(f, c)->text);
	st->avoid_until_ms = clock_now_ms() + AVOID_MS;
	counters_server_failed(st->ctr_slot);
	log_msg(LOG_WARNING, "connect to %s (site %s) failed: %s", addr,
		f->cfg->sites[c->site].name, err ? strerror(err) : "timed out");
	if (c->sfd >= 0) {
		close(c->sfd);
		c->sfd = -1;
	}
	dlist_remove(&c->link);
	try_next(f, c);
}

static int send_proxy_header(struct forwarder *f, struct fconn *c)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	struct proxy_endpoint src = { .family = c->client_family, .port = c->client_port }, dst;
	uint8_t hdr[PROXY_HEADER_MAX];

	(void)f;
	/* the client's address was read from the kernel at intake; the
	 * address it reached is asked now */
	memcpy(src.addr, c->client_addr, sizeof(src.addr));
	if (getsockname(c->cfd, (struct sockaddr *)&local, &ll) < 0)
		return -errno;
	if (proxy_endpoint_from_sockaddr((struct sockaddr *)&local, &dst) < 0)
		return -EAFNOSUPPORT;
	int n = proxy_header_build(c->proxy_version, &src, &dst, hdr, sizeof(hdr));
	if (n < 0)
		return n;
	/* A fresh connection's send buffer always has room for ~100 bytes. */
	ssize_t w = send(c->sfd, hdr, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w != n)
		return w < 0 ? -errno : -EIO;
	return 0;
}

static void connected(struct forwarder *f, struct fconn *c, uint32_t events, bool up_drained)
{
	dlist_remove(&c->link);
	/* modulo 2^32 µs: a connect longer than 71 minutes is not one */
	counters_connected((uint32_t)clock_now_us() - c->dial_us);
	if (c->proxy_version) {
		int r = send_proxy_header(f, c);
		if (r < 0) {
			log_msg(LOG_WARNING, "PROXY header to %s: %s", server_addr(f, c)->text, strerror(-r));
			conn_end(&f->conns, c, "server_error");
			return;
		}
	}
	relay_start(f, c, events, up_drained);
}

static void try_next(struct forwarder *f, struct fconn *c)
{
	int idx = pick(f, c);
	if (idx < 0) {
		dial_give_up(f, c, "connect_failed");
		return;
	}
	c->server = (uint16_t)idx;
	c->tries++;
	const struct gh_addr *a = server_addr(f, c);
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		/* out of fds is not the server's fault: do not mark it */
		log_msg(LOG_ERR, "socket: %s", strerror(errno));
		conn_end(&f->conns, c, "internal");
		return;
	}
	c->sfd = fd;
	/* source-prefix: from the client's own address; failing that, no
	 * other server would do better */
	if (a->ss.ss_family == AF_INET6 && srcaddr_bind(f, c, fd) < 0) {
		dial_give_up(f, c, "connect_failed");
		return;
	}
	c->dial_us = (uint32_t)clock_now_us();
	int r = connect(fd, (const struct sockaddr *)&a->ss, a->len);
	if (r < 0 && errno != EINPROGRESS) {
		server_failed(f, c, errno);
		return;
	}
	/* The PROXY header must go first, and it is sent once connected. */
	int early = EARLY_NONE;
	struct fserver_state *st = &states_of(f, c)[c->server];
	if (r < 0 && !c->proxy_version && early_worth(st)) {
		early = relay_early(c, f->buf);
		if (early < 0) {
			if (early == -ENOMEM) {
				conn_end(&f->conns, c, "internal");
				return;
			}
			server_failed(f, c, -early);
			return;
		}
		if (early == EARLY_HELD)	/* the send found it still connecting */
			st->early_skip = EARLY_BACKOFF;
	}
	bool up = early >= EARLY_UP_HELD;
	bool drained = early == EARLY_SENT || early == EARLY_SENT_MORE;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (drained ? 0 : EPOLLOUT),
		.data.u64 = fconn_tag(c, true),
	};
	c->sout = !drained;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		conn_end(&f->conns, c, "internal");
		return;
	}
	if (r == 0 || up) {
		connected(f, c, 0, early == EARLY_SENT);
		return;
	}
	c->state = FS_CONNECTING;
	c->deadline_ms = clock_now_ms() + f->cfg->connect_timeout_ms;
	dlist_append(&f->connecting, &c->link);
}

void dial_start(struct forwarder *f, struct fconn *c)
{
	c->tries = 0;
	try_next(f, c);
}

void dial_event(struct forwarder *f, struct fconn *c, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &l);
		server_failed(f, c, err ? err : ECONNREFUSED);
		return;
	}
	if (events & EPOLLOUT)
		connected(f, c, events, false);
}

void dial_expire(struct forwarder *f, uint64_t now)
{
	while (!dlist_empty(&f->connecting)) {
		struct fconn *c = dlist_entry(f->connecting.next, struct fconn, link);
		if (c->deadline_ms > now)
			break;
		server_failed(f, c, 0);
	}
}

struct slot_walk {
	struct forwarder *f;
	uint32_t first, site;	/* the first slot of (site, kind) */
	unsigned kind;
};

/* The slots of a site and kind run in its states' order: own, routes'. */
static void set_slot(void *arg, uint32_t slot, uint32_t site, unsigned kind, const struct gh_addr *a)
{
	struct slot_walk *w = arg;

	(void)a;
	if (site != w->site || kind != w->kind) {
		w->first = slot;
		w->site = site;
		w->kind = kind;
	}
	w->f->srv[kind][site][slot - w->first].ctr_slot = slot;
}

int dial_setup(struct forwarder *f)
{
	/* once: a system call per site and kind cost 0.2 s at 100 000 sites */
	uint32_t pid = (uint32_t)getpid();

	for (int k = 0; k < GH_KIND_COUNT; k++) {
		f->rr[k] = calloc(f->cfg->n_sites ? f->cfg->n_sites : 1, sizeof(uint32_t));
		f->srv[k] = calloc(f->cfg->n_sites ? f->cfg->n_sites : 1, sizeof(*f->srv[k]));
		if (!f->rr[k] || !f->srv[k])
			return -ENOMEM;
		for (size_t s = 0; s < f->cfg->n_sites; s++) {
			size_t ns = f->cfg->sites[s].n_servers[k], all = ns;
			for (size_t r = 0; k == GH_KIND_TLS && r < f->cfg->sites[s].n_alpn; r++)
				all += f->cfg->sites[s].alpn[r].n_servers;
			f->srv[k][s] = calloc(all ? all : 1, sizeof(struct fserver_state));
			if (!f->srv[k][s])
				return -ENOMEM;
			/* the health page's slot of each (config_server_check's layout is this one) */
			for (size_t i = 0; i < all; i++)
				f->srv[k][s][i].check = f->cfg->sites[s].check_of[k] ? f->cfg->sites[s].check_of[k][i]
										       : GH_NO_CHECK;
			/* start each forwarder at a different server */
			f->rr[k][s] = ns ? pid % (uint32_t)ns : 0;
		}
	}
	/* each server state knows its slot in the per-server counts */
	struct slot_walk w = { .f = f, .site = UINT32_MAX };
	counters_server_slots(f->cfg, set_slot, &w);
	return 0;
}

void dial_free(struct forwarder *f)
{
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		for (size_t i = 0; f->srv[k] && i < f->cfg->n_sites; i++)
			free(f->srv[k][i]);
		free(f->srv[k]);
		free(f->rr[k]);
		f->srv[k] = NULL;
		f->rr[k] = NULL;
	}
}
