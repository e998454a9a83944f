/* SPDX-License-Identifier: MIT */
/* QUIC flows in the forwarder: see quic_relay.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "common/clock.h"
#include "common/counters.h"
#include "common/log.h"
#include "forwarder/quic_relay.h"
#include "forwarder/quic_reply.h"
#include "forwarder/state.h"
#include "router/config.h"

static bool may_log(struct forwarder *f)
{
	return ratelimit_take(&f->refusals, clock_now_ms());
}

static bool same_addr(const struct sockaddr_storage *a, const struct gh_addr *b)
{
	if (a->ss_family != b->ss.ss_family)
		return false;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)&b->ss;
		return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	const struct sockaddr_in *x = (const void *)a, *y = (const void *)&b->ss;
	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

int fquic_add_socket(struct forwarder *f, int fd, bool check_listen)
{
	struct fquic *q = &f->quic;
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	bool known = false;

	if (q->n_socks >= GH_MAX_LISTENS || sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) <= 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return log_errno(-EINVAL, "fd %d is not a UDP socket", fd);
	/* from systemd (via the listener) the config's listen lines are not
	 * where it listens: a bound UDP socket is all that can be checked */
	known = !check_listen && (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
				  ((struct sockaddr_in *)&ss)->sin_port) != 0;
	for (size_t i = 0; i < f->cfg->n_listens && !known; i++)
		known = f->cfg->listens[i].kind == GH_KIND_QUIC && same_addr(&ss, &f->cfg->listens[i].addr);
	if (!known)
		return log_errno(-EINVAL, "fd %d: a UDP socket bound to no 'listen quic' address of the config", fd);
	q->socks[q->n_socks] = fd;
	q->families[q->n_socks++] = ss.ss_family;
	return 0;
}

int fquic_setup(struct forwarder *f)
{
	struct fquic *q = &f->quic;

	dlist_init(&q->live);
	dlist_init(&q->dead);
	if (!q->n_socks)
		return 0;
	q->chan_bufs = malloc(sizeof(*q->chan_bufs) * HANDOFF_BATCH);
	q->rx = malloc(sizeof(*q->rx) * FQ_RX_BATCH);
	return q->chan_bufs && q->rx ? 0 : -ENOMEM;
}

static struct fqflow **slot(struct fquic *q, uint64_t id)
{
	return &q->buckets[(id * 0x9e3779b97f4a7c15ull) >> 52];
}

static struct fqflow *find(struct fquic *q, uint64_t id)
{
	for (struct fqflow *x = *slot(q, id); x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

static void log_end(struct forwarder *f, const struct fqflow *x)
{
	char client[64], server[64], a[INET6_ADDRSTRLEN], esc[4 * HOSTNAME_MAX + 1], msg[1600];
	char in[24], out[24], din[24], dout[24], dur[24], mv[16];
	size_t ns;
	const struct gh_addr *sv = config_servers(f->cfg, x->site, GH_KIND_QUIC, 0, &ns);
	uint64_t now = clock_now_ms();

	inet_ntop(x->client_family, x->client_addr, a, sizeof(a));
	snprintf(client, sizeof(client), x->client_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, x->client_port);
	snprintf(server, sizeof(server), "%s", x->tries && x->server < ns ? sv[x->server].text : "-");
	snprintf(in, sizeof(in), "%llu", (unsigned long long)x->bytes_in);
	snprintf(out, sizeof(out), "%llu", (unsigned long long)x->bytes_out);
	snprintf(din, sizeof(din), "%llu", (unsigned long long)x->dg_in);
	snprintf(dout, sizeof(dout), "%llu", (unsigned long long)x->dg_out);
	snprintf(dur, sizeof(dur), "%llu", (unsigned long long)(now > x->start_ms ? now - x->start_ms : 0));
	log_escape(x->name, strlen(x->name), esc, sizeof(esc));
	const char *site = f->cfg->sites[x->site].name;
	snprintf(mv, sizeof(mv), "%u", x->moves);
	/* the client shown is the last address it used */
	snprintf(msg, sizeof(msg), "%s quic %s -> %s %s in=%s out=%s datagrams_in=%s datagrams_out=%s ms=%s%s%s %s",
		 client, esc[0] ? esc : "-", site, server, in, out, din, dout, dur, x->moves ? " moved=" : "",
		 x->moves ? mv : "", x->result);
	struct log_field fl[] = {
		{ "GATEHOUSE_CLIENT", client },
		{ "GATEHOUSE_KIND", "quic" },
		{ "GATEHOUSE_NAME", esc },
		{ "GATEHOUSE_SITE", site },
		{ "GATEHOUSE_SERVER", server },
		{ "GATEHOUSE_BYTES_IN", in },
		{ "GATEHOUSE_BYTES_OUT", out },
		{ "GATEHOUSE_DATAGRAMS_IN", din },
		{ "GATEHOUSE_DATAGRAMS_OUT", dout },
		{ "GATEHOUSE_DURATION_MS", dur },
		{ "GATEHOUSE_RESULT", x->result },
		{ "GATEHOUSE_MOVES", mv },
	};
	log_record(strcmp(x->result, "ok") ? LOG_WARNING : LOG_INFO, msg, fl, sizeof(fl) / sizeof(fl[0]));
}

/* Ended now; freed at the end of the round (an event of this batch may
 * still name it). */
static void end(struct forwarder *f, struct fqflow *x, const char *result)
{
	struct fquic *q = &f->quic;

	if (x->dead)
		return;
	x->dead = true;
	x->result = result;
	if (x->ufd >= 0) {
		close(x->ufd);
		x->ufd = -1;
	}
	for (struct fqflow **pp = slot(q, x->id); *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	dlist_remove(&x->link);
	dlist_append(&q->dead, &x->link);
	q->n--;
	/* the listener forgets it: a retry from the client starts afresh */
	load_ended(f->load, x->id);
	log_end(f, x);
	counters_conn_end(x->site, GH_KIND_QUIC, result, x->bytes_in, x->bytes_out);
}

/* socket + connect to the flow's next server (round robin from the
 * site's position); false when none can be reached at all */
static bool dial(struct forwarder *f, struct fqflow *x)
{
	size_t ns;
	const struct gh_addr *sv = config_servers(f->cfg, x->site, GH_KIND_QUIC, 0, &ns);

	while (x->tries < ns) {
		x->server = x->tries ? (x->server + 1) % (unsigned)ns : f->rr[GH_KIND_QUIC][x->site]++ % (unsigned)ns;
		x->tries++;
		int fd = socket(sv[x->server].ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = FTAG_QUIC | (uint64_t)(uintptr_t)x };
		if (connect(fd, (const struct sockaddr *)&sv[x->server].ss, sv[x->server].len) < 0 ||
		    epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		x->ufd = fd;
		return true;
	}
	return false;
}

/* n datagrams to the server in as few calls as it takes; false on
 * ECONNREFUSED (the caller fails over) */
static bool to_server(struct forwarder *f, struct fqflow *x, struct iovec *iov, unsigned n)
{
	struct mmsghdr mm[FQ_RX_BATCH];

	while (n) {
		unsigned k = n < FQ_RX_BATCH ? n : FQ_RX_BATCH;
		memset(mm, 0, sizeof(mm[0]) * k);
		for (unsigned i = 0; i < k; i++) {
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int r = sendmmsg(x->ufd, mm, k, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == ECONNREFUSED)
				return false;
			/* a full socket buffer drops them, as the network would */
			f->quic.dropped += k;
			r = (int)k;
		}
		for (int i = 0; i < r; i++) {
			x->dg_in++;
			x->bytes_in += iov[i].iov_len;
		}
		iov += r;
		n -= (unsigned)r;
	}
	x->last_ms = clock_now_ms();
	dlist_remove(&x->link);
	dlist_append(&f->quic.live, &x->link);
	return true;
}

/* The START's datagrams, to the first server that does not refuse them. */
static void send_first(struct forwarder *f, struct fqflow *x)
{
	struct iovec iov[HANDOFF_QUIC_MAX / 64];
	unsigned n = 0;
	size_t off = 0, len;
	uint64_t id;
	const uint8_t *d;

	/* x->first holds them as records: a START message's tail */
	while (n < sizeof(iov) / sizeof(iov[0]) && handoff_quic_next(x->first, x->first_len, &off, &id, &d, &len)) {
		iov[n].iov_base = (void *)(uintptr_t)d;
		iov[n++].iov_len = len;
	}
	while (!to_server(f, x, iov, n)) {
		close(x->ufd);
		x->ufd = -1;
		x->dg_in = x->bytes_in = 0;
		if (!dial(f, x)) {
			end(f, x, "connect_failed");
			return;
		}
	}
}

static void start(struct forwarder *f, const uint8_t *msg, size_t len)
{
	struct fquic *q = &f->quic;
	struct handoff_quic_msg m;
	size_t ns = 0;

	memcpy(&m, msg, sizeof(m));
	uint32_t site = config_site_index(f->cfg, m.site, strlen(m.site));
	if (site != GH_NO_SITE)
		config_servers(f->cfg, site, GH_KIND_QUIC, 0, &ns);
	const char *why = site == GH_NO_SITE ? "unknown site" : !ns ? "site has no quic servers" :
			  m.socket_index >= q->n_socks ? "no such QUIC socket" :
			  find(q, m.flow) ? "flow id already in use" : NULL;
	if (why) {
		if (may_log(f)) {
			char esc[4 * HOSTNAME_MAX + 1];
			log_escape(m.site, strlen(m.site), esc, sizeof(esc));
			log_msg(LOG_WARNING, "refused QUIC flow (site '%s'): %s", esc, why);
		}
		return;
	}
	struct fqflow *x = calloc(1, sizeof(*x));
	if (!x || !(x->first = malloc(len))) {
		free(x);
		return;
	}
	/* the header stays too: handoff_quic_next() walks from its end */
	memcpy(x->first, msg, len);
	x->first_len = len;
	x->id = m.flow;
	x->ufd = -1;
	x->site = site;
	x->sock = m.socket_index;
	x->client_family = m.client_family;
	x->client_port = m.client_port;
	memcpy(x->client_addr, m.client_addr, sizeof(x->client_addr));
	x->peer_len = udp_peer_sockaddr(q->families[x->sock], m.client_family, m.client_addr, m.client_port, &x->peer);
	memcpy(&x->src.addr, m.local_addr, 16);
	x->src.ifindex = m.local_ifindex;
	snprintf(x->name, sizeof(x->name), "%s", m.name);
	x->start_ms = x->last_ms = clock_now_ms();
	x->result = "ok";
	struct fqflow **s = slot(q, x->id);
	x->next = *s;
	*s = x;
	dlist_append(&q->live, &x->link);
	q->n++;
	q->total++;
	counters_conn_new();
	if (!dial(f, x)) {
		end(f, x, "connect_failed");
		return;
	}
	send_first(f, x);
}

static void data(struct forwarder *f, const uint8_t *msg, size_t len)
{
	struct iovec iov[FQ_RX_BATCH];
	struct fqflow *cur = NULL;
	unsigned n = 0;
	size_t off = 0, dl;
	uint64_t id;
	const uint8_t *d;

	/* consecutive datagrams of one flow go in one sendmmsg */
	for (;;) {
		bool more = handoff_quic_next(msg, len, &off, &id, &d, &dl);
		if (n && (!more || !cur || id != cur->id || n == FQ_RX_BATCH)) {
			if (!to_server(f, cur, iov, n) && !cur->replied) {
				close(cur->ufd);
				cur->ufd = -1;
				if (dial(f, cur))
					send_first(f, cur);
				else
					end(f, cur, "connect_failed");
			}
			n = 0;
		}
		if (!more)
			return;
		if (!cur || id != cur->id)
			cur = find(&f->quic, id);
		if (!cur || cur->dead || cur->ufd < 0) {
			f->quic.dropped++;
			cur = NULL;
			continue;
		}
		iov[n].iov_base = (void *)(uintptr_t)d;
		iov[n++].iov_len = dl;
	}
}

/* NAT rebinding: the client's new address, as the listener saw it. */
static void moved(struct forwarder *f, const uint8_t *msg)
{
	struct fquic *q = &f->quic;
	struct handoff_quic_msg m;

	memcpy(&m, msg, sizeof(m));
	struct fqflow *x = find(q, m.flow);
	if (!x || x->dead || m.socket_index != x->sock) {
		f->quic.dropped++;
		return;
	}
	x->client_family = m.client_family;
	x->client_port = m.client_port;
	memcpy(x->client_addr, m.client_addr, sizeof(x->client_addr));
	x->peer_len = udp_peer_sockaddr(q->families[x->sock], m.client_family, m.client_addr, m.client_port, &x->peer);
	memcpy(&x->src.addr, m.local_addr, 16);
	x->src.ifindex = m.local_ifindex;
	x->moves++;
}

void fquic_message(struct forwarder *f, const uint8_t *msg, size_t len)
{
	if (!f->quic.n_socks)
		return;
	uint8_t type = ((const struct handoff_quic_msg *)(const void *)msg)->type;
	if (type == HANDOFF_QUIC_START)
		start(f, msg, len);
	else if (type == HANDOFF_QUIC_MOVE)
		moved(f, msg);
	else
		data(f, msg, len);
}

/* The server's datagrams, to the client from the address it used. */
static void from_server(struct forwarder *f, struct fqflow *x)
{
	struct fquic *q = &f->quic;
	struct mmsghdr mm[FQ_RX_BATCH];
	struct iovec iov[FQ_RX_BATCH];
	const struct fq_reply reply = {
		.sock = q->socks[x->sock],
		.family = q->families[x->sock],
		.src = &x->src,
		.peer = &x->peer,
		.peer_len = x->peer_len,
		.no_gso = &q->no_gso,
	};

	for (unsigned round = 0; round < 8 && !x->dead; round++) {
		memset(mm, 0, sizeof(mm));
		for (unsigned i = 0; i < FQ_RX_BATCH; i++) {
			iov[i].iov_base = q->rx[i];
			iov[i].iov_len = FQ_RX_SLOT;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(x->ufd, mm, FQ_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == ECONNREFUSED && !x->replied) {
				/* the server's port is closed: the next one, while new */
				close(x->ufd);
				x->ufd = -1;
				if (dial(f, x))
					send_first(f, x);
				else
					end(f, x, "connect_failed");
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
				end(f, x, "server_error");
			}
			return;
		}
		unsigned k = 0;
		for (int i = 0; i < n; i++) {
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				q->dropped++;
				continue;
			}
			iov[k].iov_base = q->rx[i];
			iov[k].iov_len = mm[i].msg_len;
			k++;
		}
		if (n > 0 && !x->replied) {
			x->replied = true;
			free(x->first);
			x->first = NULL;
		}
		uint64_t bytes;
		unsigned sent = fq_reply_send(&reply, iov, k, &bytes);
		q->dropped += k - sent;
		x->dg_out += sent;
		x->bytes_out += bytes;
		x->last_ms = clock_now_ms();
		dlist_remove(&x->link);
		dlist_append(&q->live, &x->link);
		if (n < (int)FQ_RX_BATCH)
			return;
	}
}

void fquic_event(struct forwarder *f, uint64_t tag, uint32_t events)
{
	struct fqflow *x = (struct fqflow *)(uintptr_t)(tag & ~FTAG_QUIC);

	(void)events;
	if (x->dead || x->ufd < 0)
		return;
	from_server(f, x);
}

void fquic_end_all(struct forwarder *f, const char *result)
{
	while (!dlist_empty(&f->quic.live))
		end(f, dlist_entry(f->quic.live.next, struct fqflow, link), result);
}

void fquic_after_round(struct forwarder *f, uint64_t now)
{
	struct fquic *q = &f->quic;

	if (!q->n_socks)
		return;
	if (!f->channel_open)
		fquic_end_all(f, "stopped");
	while (!dlist_empty(&q->live)) {
		struct fqflow *x = dlist_entry(q->live.next, struct fqflow, link);
		if (x->last_ms + f->cfg->quic_idle_timeout_ms > now)
			break;
		/* idle is how a QUIC flow ends: ok if the server ever answered */
		end(f, x, x->replied ? "ok" : "connect_failed");
	}
	while (!dlist_empty(&q->dead)) {
		struct fqflow *x = dlist_entry(q->dead.next, struct fqflow, link);
		dlist_remove(&x->link);
		free(x->first);
		free(x);
	}
}

uint64_t fquic_deadline(const struct forwarder *f)
{
	const struct fquic *q = &f->quic;

	if (dlist_empty(&q->live))
		return UINT64_MAX;
	return dlist_entry(q->live.next, struct fqflow, link)->last_ms + f->cfg->quic_idle_timeout_ms;
}

void fquic_teardown(struct forwarder *f)
{
	fquic_end_all(f, "stopped");
	fquic_after_round(f, 0);
	free(f->quic.chan_bufs);
	free(f->quic.rx);
	for (unsigned i = 0; i < f->quic.n_socks; i++)
		close(f->quic.socks[i]);
	f->quic.n_socks = 0;
}
