/* SPDX-License-Identifier: MIT */
/* QUIC datagrams in the listener: see quic_rx.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "common/clock.h"
#include "common/counters.h"
#include "common/log.h"
#include "common/udp_src.h"
#include "listener/quic_rx.h"
#include "router/hostname.h"
#include "router/quic_close.h"

#define QUIC_ALERT_ACCESS_DENIED 49u
/* batches read per readiness event before the loop turns to other work */
#define LQ_RX_ROUNDS 8u

int lquic_add_socket(struct lquic *q, int fd)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);

	if (q->n_socks >= GH_MAX_LISTENS || sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) <= 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET6 && ss.ss_family != AF_INET))
		return -EINVAL;
	/* each datagram's destination address: replies must leave from it.
	 * systemd sets it with PassPacketInfo=yes, `gatehouse run` always;
	 * set here too, so that no launcher can forget it */
	int one = 1;
	if (ss.ss_family == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) :
				       setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)))
		return -errno;
	struct lqsock *s = &q->socks[q->n_socks];
	s->type = LOBJ_QUIC;
	s->fd = fd;
	s->family = ss.ss_family;
	s->index = q->n_socks++;
	return 0;
}

int lquic_setup(struct lquic *q, const struct gh_config *cfg, struct dispatch *d, struct lconns *c)
{
	uint8_t hkey[16];

	q->cfg = cfg;
	q->disp = d;
	q->conns = c;
	if (!q->n_socks)
		return 0;
	/* the flow table's hash key: a forger must not aim at one chain */
	if (getrandom(hkey, sizeof(hkey), 0) != sizeof(hkey))
		return log_errno(-errno, "getrandom");
	if (lq_init(&q->t, LQ_MAX_FLOWS, LQ_MAX_PENDING, LQ_MAX_PER_PREFIX, hkey) < 0)
		return -ENOMEM;
	dlist_init(&q->waiting);
	/* room for bursts of datagrams on the channels (the kernel doubles
	 * it, within net.core.wmem_max): a full channel drops client
	 * datagrams, as a full network would */
	for (unsigned i = 0; i < d->n_channels; i++) {
		int v = LQ_CHANNEL_SNDBUF;
		setsockopt(d->channels[i].fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	/* before the sandbox: libcrypto reads its config on first use */
	q->crypto = quic_crypto_new();
	q->rx = malloc(sizeof(*q->rx) * LQ_RX_BATCH);
	q->start = malloc(sizeof(*q->start));
	if (!q->crypto || !q->rx || !q->start) {
		log_msg(LOG_ERR, "QUIC: libcrypto lacks an Initial algorithm, or out of memory");
		return -ENOMEM;
	}
	return 0;
}

static void key_of(const struct sockaddr_storage *ss, const struct udp_src *local, unsigned sock, struct lqkey *k,
		   struct sockaddr_in6 *peer)
{
	memset(k, 0, sizeof(*k));
	memset(peer, 0, sizeof(*peer));
	peer->sin6_family = AF_INET6;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		peer->sin6_addr = s6->sin6_addr;
		peer->sin6_port = s6->sin6_port;
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		peer->sin6_addr.s6_addr[10] = 0xff;
		peer->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&peer->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		peer->sin6_port = s4->sin_port;
	}
	memcpy(k->client, &peer->sin6_addr, 16);
	memcpy(k->local, &local->addr, 16);
	k->port = peer->sin6_port;
	k->sock = (uint8_t)sock;
}

/* One record for a flow the listener refused or gave up on (rate-limited
 * with the TCP ones). */
static void refuse_log(struct lquic *q, const struct lqflow *f, const char *result, const char *name,
		       const char *detail)
{
	struct lconn c = { .type = LOBJ_CONN, .kind = GH_KIND_QUIC, .accepted_usec = f->started_usec };

	c.peer.sin6_family = AF_INET6;
	memcpy(&c.peer.sin6_addr, f->key.client, 16);
	c.peer.sin6_port = f->key.port;
	q->stats.rejected++;
	lconn_reject_log(q->conns, &c, result, name, detail, 0);
}

/* The server-style refusal: CONNECTION_CLOSE with a CRYPTO_ERROR, from the
 * address the client sent to, never larger than its datagram. */
static void send_close(struct lquic *q, const struct lqsock *s, const struct lqflow *f,
		       const struct sockaddr_storage *peer, socklen_t peer_len, uint64_t error, size_t cap)
{
	uint8_t out[256];
	union {
		char buf[UDP_SRC_CMSG_SPACE];
		struct cmsghdr align;
	} ctl;
	struct udp_src src;

	if (cap > sizeof(out))
		cap = sizeof(out);
	size_t n = quic_close_build(q->crypto, &f->p->hello, error, out, cap);
	if (!n)
		return;
	memcpy(&src.addr, f->key.local, 16);
	src.ifindex = f->ifindex;
	struct iovec iov = { .iov_base = out, .iov_len = n };
	struct mmsghdr mm = { .msg_hdr = {
		.msg_name = (void *)(uintptr_t)peer,
		.msg_namelen = peer_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = udp_src_cmsg(s->family, &src, ctl.buf),
	} };
	if (sendmmsg(s->fd, &mm, 1, MSG_DONTWAIT) < 0)
		q->stats.dropped++;
}

/* A message went to a forwarder: the stall clock as dispatch_flush runs it */
static void channel_sent(struct lchannel *ch)
{
	if (ch->load && !load_in_flight(ch->load, ch->sent)) {
		ch->seen_taken = ch->sent;
		ch->moved_ms = clock_now_ms();
	}
	ch->sent++;
}

static void send_out(struct lquic *q, unsigned ci)
{
	struct handoff_quic_buf *b = q->out[ci];
	struct lchannel *ch = &q->disp->channels[ci];

	if (!b || !handoff_quic_count(b))
		return;
	/* a full channel drops them, as a full network would: QUIC resends */
	if (ch->dead || handoff_quic_send(ch->fd, b) < 0)
		q->stats.dropped += handoff_quic_count(b);
	else
		channel_sent(ch);
	handoff_quic_data(b);
}

static void forward(struct lquic *q, struct lqflow *f, const uint8_t *buf, size_t len)
{
	struct handoff_quic_buf *b = q->out[f->channel];

	if (!b) {
		b = q->out[f->channel] = malloc(sizeof(*b));
		if (!b) {
			q->stats.dropped++;
			return;
		}
		handoff_quic_data(b);
	}
	if (handoff_quic_add(b, f->id, buf, len))
		return;
	send_out(q, f->channel);
	if (!handoff_quic_add(b, f->id, buf, len))
		q->stats.dropped++;
}

/* A full channel: wait for EPOLLOUT on it, as dispatch.c does (its
 * event handler clears the mark, and the round's end retries). */
static void channel_full(struct lquic *q, struct lchannel *ch)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLOUT, .data.ptr = ch };

	ch->blocked = true;
	epoll_ctl(q->disp->epfd, EPOLL_CTL_MOD, ch->fd, &ev);
}

/* START for a routed flow with the datagrams it held; with every channel
 * full it waits (its datagrams kept, its inspect deadline running). */
static bool hand_off(struct lquic *q, struct lqflow *f, uint64_t now)
{
	const struct gh_config *cfg = q->cfg;
	struct lqpending *p = f->p;
	unsigned room;
	struct lchannel *ch = dispatch_pick(q->disp, now, &room);
	uint64_t id = q->next_id + 1;
	struct sockaddr_storage client;
	struct sockaddr_in6 *c6 = (struct sockaddr_in6 *)&client;
	struct in6_addr local;
	int r = -EAGAIN;

	memset(&client, 0, sizeof(client));
	c6->sin6_family = AF_INET6;
	memcpy(&c6->sin6_addr, f->key.client, 16);
	c6->sin6_port = f->key.port;
	memcpy(&local, f->key.local, 16);
	if (ch) {
		if (handoff_quic_start(q->start, id, &client, &local, f->ifindex, f->key.sock, cfg->sites[p->site].name,
				       p->name, f->started_usec) < 0) {
			refuse_log(q, f, "internal", p->name, NULL);
			lq_free(&q->t, f);
			return false;
		}
		const uint8_t *d = p->data;
		for (unsigned i = 0; i < p->n_dgrams; d += p->dlen[i], i++)
			handoff_quic_add(q->start, id, d, p->dlen[i]);	/* fits: LQ_PENDING_BYTES */
		r = handoff_quic_send(ch->fd, q->start);
	}
	if (r == -EAGAIN || r == -ENOBUFS) {
		if (ch)
			channel_full(q, ch);
		if (!f->waiting) {
			f->waiting = true;
			dlist_append(&q->waiting, &f->wait);
		}
		return true;
	}
	if (r < 0) {
		refuse_log(q, f, "overload", p->name, "forwarder channel lost");
		lq_free(&q->t, f);
		return false;
	}
	channel_sent(ch);
	q->next_id = id;
	q->stats.flows++;
	q->conns->stats.handed_off++;
	lq_activate(&q->t, f, (unsigned)(ch - q->disp->channels), id, now + cfg->quic_idle_timeout_ms);
	return false;
}

static void route(struct lquic *q, const struct lqsock *s, struct lqflow *f, const struct sockaddr_storage *peer,
		  socklen_t peer_len, size_t dgram_len)
{
	const struct gh_config *cfg = q->cfg;
	const struct tls_hello *h = &f->p->hello.hello;
	char name[HOSTNAME_MAX + 1] = "";
	size_t nl = 0;
	uint64_t now = clock_now_ms();

	if (h->has_sni && hostname_normalize((const uint8_t *)h->sni, h->sni_len, name, &nl) != HOSTNAME_OK) {
		/* an unusable name is routed like no name, as on TCP */
		name[0] = '\0';
		nl = 0;
	}
	uint32_t site = config_route(cfg, GH_KIND_QUIC, name, nl);
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	bool v4 = memcmp(f->key.client, mapped, 12) == 0;
	int fam = v4 ? AF_INET : AF_INET6;
	const uint8_t *addr = v4 ? f->key.client + 12 : f->key.client;
	counters_inspected(f->started_usec, clock_realtime_us());
	if (!config_acl_allows(&cfg->acl, fam, addr) ||
	    (site != GH_NO_SITE && !config_acl_allows(&cfg->sites[site].acl, fam, addr))) {
		send_close(q, s, f, peer, peer_len, QUIC_CRYPTO_ERROR(QUIC_ALERT_ACCESS_DENIED), dgram_len);
		refuse_log(q, f, "denied", name, NULL);
		lq_free(&q->t, f);
		return;
	}
	if (site == GH_NO_SITE) {
		send_close(q, s, f, peer, peer_len, QUIC_CRYPTO_ERROR(QUIC_ALERT_UNRECOGNIZED_NAME), dgram_len);
		refuse_log(q, f, "no_route", name, NULL);
		lq_free(&q->t, f);
		return;
	}
	f->p->site = site;
	memcpy(f->p->name, name, nl + 1);
	(void)hand_off(q, f, now);
}

/* A short-header datagram from an unknown address carrying a known server
 * CID: that flow's client was rebound by a NAT. */
static struct lqflow *rebound(struct lquic *q, const struct lqsock *s, const uint8_t *buf, size_t len)
{
	/* a short header; its fixed bit (0x40) may be greased to 0 when the
	 * server allows it (RFC 9287: ngtcp2 does) */
	if (buf[0] & 0x80)
		return NULL;
	for (size_t l = 1; l <= QUIC_CID_MAX && l + 1 <= len; l++) {
		if (!(q->t.cid_lens & (1u << l)))
			continue;
		struct lqflow *g = lq_find_cid(&q->t, buf + 1, l);
		if (g && g->key.sock == s->index)
			return g;
	}
	return NULL;
}

/* Tell g's forwarder where its client is now, after what it sent from
 * the old address; false if that cannot be said now (the datagram is
 * dropped and the next one tries again). */
static bool move(struct lquic *q, const struct lqsock *s, struct lqflow *g, const struct lqkey *k,
		 const struct sockaddr_storage *peer, socklen_t peer_len, const struct udp_src *local)
{
	struct lchannel *ch = &q->disp->channels[g->channel];
	struct sockaddr_storage client;

	send_out(q, g->channel);
	memset(&client, 0, sizeof(client));
	memcpy(&client, peer, peer_len);
	if (ch->dead || handoff_quic_move(q->start, g->id, &client, &local->addr, local->ifindex, s->index) < 0 ||
	    handoff_quic_send(ch->fd, q->start) < 0)
		return false;
	channel_sent(ch);
	lq_rekey(&q->t, g, k);
	g->ifindex = local->ifindex;
	q->stats.moves++;
	return true;
}

static void datagram(struct lquic *q, const struct lqsock *s, const struct sockaddr_storage *peer, socklen_t peer_len,
		     const struct udp_src *local, const uint8_t *buf, size_t len)
{
	struct sockaddr_in6 p6;
	struct lqkey k;
	uint64_t now = clock_now_ms();

	key_of(peer, local, s->index, &k, &p6);
	struct lqflow *f = lq_find(&q->t, &k);
	if (!f && q->t.cid_lens && (f = rebound(q, s, buf, len)) && !move(q, s, f, &k, peer, peer_len, local)) {
		q->stats.dropped++;
		return;
	}
	if (f && f->active) {
		/* the client's Handshake packets carry the server's CID in clear */
		if ((buf[0] & 0x80) && !f->scid_len && len >= 6 && buf[5] <= QUIC_CID_MAX && len >= 6u + buf[5])
			lq_learn_cid(&q->t, f, buf + 6, buf[5]);
		forward(q, f, buf, len);
		lq_touch(&q->t, f, now + q->cfg->quic_idle_timeout_ms);
		return;
	}
	if (!f) {
		/* the cheap test first: a new flow starts with a v1/v2 Initial
		 * in a full-size datagram, else it costs us nothing more */
		struct quic_long_header h;
		enum quic_error e;
		enum lq_refusal why;
		if (len < QUIC_MIN_INITIAL_DATAGRAM || quic_long_header_parse(buf, len, &h, &e) != QUIC_DONE ||
		    h.type != QUIC_PT_INITIAL) {
			q->stats.dropped++;
			return;
		}
		f = lq_new_pending(&q->t, &k, now + q->cfg->inspect_timeout_ms, &why);
		if (!f && why == LQ_PENDING_FULL) {
			/* full of hellos that do not complete (a flood of valid
			 * Initials from forged sources): the oldest gives way. A
			 * real client's hello completes within a round trip, so
			 * it is rarely the oldest. */
			struct lqflow *old = lq_first(&q->t.pending);
			q->stats.evicted++;
			refuse_log(q, old, "overload", "", "QUIC pending flows full: the oldest evicted");
			lq_free(&q->t, old);
			f = lq_new_pending(&q->t, &k, now + q->cfg->inspect_timeout_ms, &why);
		}
		if (!f) {
			q->stats.dropped++;
			return;
		}
		f->started_usec = clock_realtime_us();
		f->ifindex = local->ifindex;
	}
	struct lqpending *p = f->p;
	if (f->waiting) {
		/* routed already: held until a channel has room */
		if (!lq_keep(f, buf, len))
			q->stats.dropped++;
		return;
	}
	enum quic_status st = quic_hello_feed(q->crypto, &p->hello, buf, len, NULL);
	if (st == QUIC_NEED_MORE || st == QUIC_DONE) {
		if (!lq_keep(f, buf, len)) {
			refuse_log(q, f, "too_big", "", "QUIC hello over too many datagrams");
			lq_free(&q->t, f);
			return;
		}
		if (st == QUIC_DONE)
			route(q, s, f, peer, peer_len, len);
		return;
	}
	q->stats.dropped++;
	if (st == QUIC_INVALID && p->hello.failed) {
		refuse_log(q, f, "bad_hello", "", quic_error_str(p->hello.error));
		lq_free(&q->t, f);
	} else if (!p->hello.started) {
		lq_free(&q->t, f);	/* forged or broken from the start: no flow */
	}
}

static void forget_ended(struct lquic *q);

void lquic_ready(struct lquic *q, struct lqsock *s)
{
	struct mmsghdr mm[LQ_RX_BATCH];
	struct iovec iov[LQ_RX_BATCH];
	struct sockaddr_storage peer[LQ_RX_BATCH];
	union {
		char buf[UDP_SRC_CMSG_SPACE + 64];
		struct cmsghdr align;
	} ctl[LQ_RX_BATCH];

	/* before the datagrams: a retry must not reach a flow that ended */
	forget_ended(q);
	for (unsigned round = 0; round < LQ_RX_ROUNDS; round++) {
		for (unsigned i = 0; i < LQ_RX_BATCH; i++) {
			iov[i].iov_base = q->rx[i];
			iov[i].iov_len = LQ_RX_SLOT;
			mm[i].msg_hdr = (struct msghdr){
				.msg_name = &peer[i],
				.msg_namelen = sizeof(peer[i]),
				.msg_iov = &iov[i],
				.msg_iovlen = 1,
				.msg_control = ctl[i].buf,
				.msg_controllen = sizeof(ctl[i].buf),
			};
		}
		int n = recvmmsg(s->fd, mm, LQ_RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct udp_src local;
			q->stats.datagrams++;
			if ((mm[i].msg_hdr.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || mm[i].msg_len == 0 ||
			    !udp_src_from_msg(&mm[i].msg_hdr, &local)) {
				q->stats.dropped++;
				continue;
			}
			datagram(q, s, &peer[i], mm[i].msg_hdr.msg_namelen, &local, q->rx[i], mm[i].msg_len);
		}
		if (n < (int)LQ_RX_BATCH)
			return;
	}
}

/* Flows each forwarder ended (its load page's ring): forgotten here, so
 * a client's next Initial starts a new flow. Only a flow given to that
 * forwarder; at most the ring's size per round. */
static void forget_ended(struct lquic *q)
{
	for (unsigned ci = 0; ci < q->disp->n_channels; ci++) {
		struct lchannel *ch = &q->disp->channels[ci];
		if (ch->dead || !ch->load)
			continue;
		uint32_t head = atomic_load_explicit(&ch->load->ended_head, memory_order_acquire);
		if (head - ch->ended_seen > LOAD_ENDED_N)
			ch->ended_seen = head - LOAD_ENDED_N;	/* lapped: the older ones expire on idle */
		for (; ch->ended_seen != head; ch->ended_seen++) {
			uint64_t id = atomic_load_explicit(&ch->load->ended[ch->ended_seen % LOAD_ENDED_N],
							   memory_order_relaxed);
			struct lqflow *f = lq_find_id(&q->t, id);
			if (f && f->channel == ci) {
				q->stats.ended++;
				lq_free(&q->t, f);
			}
		}
	}
}

void lquic_after_round(struct lquic *q, uint64_t now)
{
	struct lqflow *f;

	if (!q->n_socks)
		return;
	forget_ended(q);
	/* routed flows that found every channel full, oldest first */
	while (!dlist_empty(&q->waiting))
		if (hand_off(q, dlist_entry(q->waiting.next, struct lqflow, wait), now))
			break;	/* still no room */
	for (unsigned i = 0; i < q->disp->n_channels; i++)
		send_out(q, i);
	while ((f = lq_first(&q->t.pending)) && f->deadline_ms <= now) {
		q->stats.timeouts++;
		refuse_log(q, f, "timeout", "", "QUIC hello incomplete");
		lq_free(&q->t, f);
	}
	/* the forwarder ends the flow and logs it; here it is only forgotten */
	while ((f = lq_first(&q->t.active)) && f->deadline_ms <= now)
		lq_free(&q->t, f);
}

void lquic_channel_gone(struct lquic *q, unsigned ci)
{
	if (!q->n_socks || ci >= GH_MAX_FORWARDERS)
		return;
	/* its forwarder held their server sockets: they cannot go on
	 * elsewhere, and a datagram sent on would only reach a stranger */
	unsigned n = lq_free_channel(&q->t, ci);
	if (q->out[ci]) {
		q->stats.dropped += handoff_quic_count(q->out[ci]);
		handoff_quic_data(q->out[ci]);
	}
	q->stats.lost += n;
	if (n)
		log_msg(LOG_WARNING, "forwarder channel %u lost: its %u QUIC flow%s ended", ci + 1, n, n == 1 ? "" : "s");
}

uint64_t lquic_deadline(struct lquic *q)
{
	uint64_t d = UINT64_MAX;
	const struct lqflow *f;

	if (!q->n_socks)
		return d;
	if ((f = lq_first(&q->t.pending)))
		d = f->deadline_ms;
	if ((f = lq_first(&q->t.active)) && f->deadline_ms < d)
		d = f->deadline_ms;
	return d;
}

void lquic_teardown(struct lquic *q)
{
	if (q->t.buckets)
		lq_free_all(&q->t);
	for (unsigned i = 0; i < GH_MAX_FORWARDERS; i++)
		free(q->out[i]);
	free(q->start);
	free(q->rx);
	quic_crypto_free(q->crypto);
	for (unsigned i = 0; i < q->n_socks; i++)
		close(q->socks[i].fd);
}
