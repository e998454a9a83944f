/* SPDX-License-Identifier: MIT */
/*
 * Hand-off of decided clients to the forwarders, with backpressure: what
 * cannot be sent waits in a bounded ring, and while the ring is not empty
 * the listener stops accepting, so further clients wait in the kernel's
 * backlog instead of being dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/log.h"
#include "listener/dispatch.h"

int dispatch_init(struct dispatch *d, int epfd, unsigned pending_cap)
{
	memset(d, 0, sizeof(*d));
	d->epfd = epfd;
	d->pending_cap = pending_cap;
	d->pending = calloc(pending_cap, sizeof(*d->pending));
	return d->pending ? 0 : -ENOMEM;
}

static bool stalled(struct lchannel *ch, uint64_t now)
{
	uint32_t taken = atomic_load_explicit(&ch->load->taken, memory_order_relaxed);
	if (taken != ch->seen_taken) {
		ch->seen_taken = taken;
		ch->moved_ms = now;
		return false;
	}
	return load_in_flight(ch->load, ch->sent) && now - ch->moved_ms >= STALL_MS;
}

/*
 * The forwarder holding the fewest clients (relays plus hand-offs in
 * flight) among those taking clients, under IN_FLIGHT_MAX and their cap;
 * ties round robin. When none qualifies (all busy), the least in flight
 * among channels with buffer room, stuck ones last. Without figures from
 * every forwarder, plain round robin: a forwarder without a page cannot be
 * compared. A spare gets nothing (nor QUIC flows, placed here too).
 */
struct lchannel *dispatch_pick(struct dispatch *d, uint64_t now, unsigned *room)
{
	struct lchannel *best = NULL, *fb = NULL;
	uint64_t best_held = UINT64_MAX, fb_key = UINT64_MAX;
	unsigned best_room = 0;
	for (unsigned i = 0; i < d->n_channels; i++) {
		struct lchannel *ch = &d->channels[(d->next_channel + i) % d->n_channels];
		if (ch->dead || ch->blocked || ch->spare)
			continue;
		uint64_t key = 0;	/* no figures: the first live one, round robin */
		if (d->all_loads) {
			bool stuck = stalled(ch, now);
			uint32_t flight = load_in_flight(ch->load, ch->sent);
			uint64_t held = (uint64_t)atomic_load_explicit(&ch->load->relays, memory_order_relaxed) + flight;
			uint32_t cap = ch->load->max_relays;
			if (!stuck && !(cap && held >= cap) && flight < IN_FLIGHT_MAX && held < best_held) {
				best = ch;
				best_held = held;
				/* no more than it may take in flight, nor past its cap */
				best_room = IN_FLIGHT_MAX - flight;
				if (cap && cap - held < best_room)
					best_room = (unsigned)(cap - held);
			}
			key = ((uint64_t)stuck << 32) | flight;
		}
		if (key < fb_key) {
			fb = ch;
			fb_key = key;
		}
	}
	if (best) {
		*room = best_room;	/* >= 1: flight < IN_FLIGHT_MAX, held < cap */
	} else {
		best = fb;
		*room = HANDOFF_BATCH;
	}
	if (best)
		d->next_channel = (unsigned)(best - d->channels + 1) % d->n_channels;
	return best;
}

static void channel_set_events(struct dispatch *d, struct lchannel *ch)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | (ch->blocked ? EPOLLOUT : 0),
		.data.ptr = ch,
	};
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, ch->fd, &ev);
}

/* Every live channel has a page: only then are they compared (a
 * forwarder without one cannot be). */
static void update_all_loads(struct dispatch *d)
{
	bool all = true;
	for (unsigned i = 0; i < d->n_channels; i++)
		all = all && (d->channels[i].dead || d->channels[i].load);
	d->all_loads = all;
}

unsigned dispatch_live(const struct dispatch *d)
{
	unsigned n = 0;
	for (unsigned i = 0; i < d->n_channels; i++)
		n += !d->channels[i].dead;
	return n;
}

/* The spare that takes a dead active channel's place, now active; NULL
 * when none is left. */
static struct lchannel *promote_spare(struct dispatch *d)
{
	for (unsigned i = 0; i < d->n_channels; i++) {
		struct lchannel *ch = &d->channels[i];
		if (ch->spare && !ch->dead) {
			ch->spare = false;
			ch->moved_ms = clock_now_ms();
			return ch;
		}
	}
	return NULL;
}

static void channel_dead(struct dispatch *d, struct lchannel *ch, const char *why, bool replacing)
{
	if (ch->dead)
		return;
	unsigned idx = (unsigned)(ch - d->channels);
	bool was_spare = ch->spare;
	ch->dead = true;
	ch->blocked = false;
	ch->spare = false;
	d->gone |= 1ull << idx;
	if (d->src)
		srcconn_channel_gone(d->src, idx);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, ch->fd, NULL);
	close(ch->fd);
	ch->fd = -1;
	/* its figures stop moving: a dead forwarder's relays would count
	 * against it forever (srcconn forgot the page above) */
	load_unmap(ch->load, ch->load_src);
	ch->load = NULL;
	ch->load_src = NULL;
	update_all_loads(d);
	if (was_spare) {
		/* it held nothing: the others go on, one loss fewer covered */
		log_msg(LOG_WARNING, "spare forwarder channel %u lost (%s): dropped", idx + 1, why);
		return;
	}
	/* systemd: the spare connected at start takes over at once, and the
	 * other channels go on; only the dead one's clients and flows end */
	struct lchannel *sp = replacing ? NULL : promote_spare(d);
	if (sp) {
		log_msg(LOG_WARNING, "forwarder channel %u lost (%s): its QUIC flows end; spare channel %u promoted",
			idx + 1, why, (unsigned)(sp - d->channels) + 1);
		return;
	}
	log_msg(LOG_WARNING, "forwarder channel %u lost (%s)%s", idx + 1, why,
		replacing ? ": replaced" : d->replaceable && dispatch_live(d) ? ": its QUIC flows end; "
		"the launcher starts a forwarder in its place" : "");
	/* A listener cannot open a new channel (it may not connect). Under
	 * `gatehouse run` the launcher passes one for a forwarder it
	 * replaces, and the other channels go on meanwhile. Under systemd a
	 * spare took over above while one was left. Else (no spare, or no
	 * channel left) it hands over what it holds, stops accepting and
	 * exits; its supervisor starts a fresh one with fresh channels. The
	 * listening sockets stay open elsewhere: nothing is refused. The
	 * loop sees `lost` and drains. */
	if (!replacing && (!d->replaceable || !dispatch_live(d)) && !d->lost)
		d->lost = why;
}

int dispatch_replace(struct dispatch *d, unsigned slot, int fd, const struct gh_load *ld,
		     const struct gh_load_src *src)
{
	if (slot >= d->n_channels)
		return -EINVAL;
	struct lchannel *ch = &d->channels[slot];
	/* the launcher saw the forwarder die before we saw its channel */
	channel_dead(d, ch, "its forwarder is gone", true);
	int r = d->src ? srcconn_channel_back(d->src, slot, ld, src) : 0;
	if (r < 0)
		return r;
	*ch = (struct lchannel){ .type = LOBJ_CHANNEL, .fd = fd, .load = ld, .load_src = src,
				 .moved_ms = clock_now_ms() };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = ch };
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		if (d->src)
			srcconn_channel_gone(d->src, slot);
		ch->fd = -1;
		ch->dead = true;
		ch->load = NULL;
		ch->load_src = NULL;
		return r;
	}
	update_all_loads(d);
	return 0;
}

void dispatch_queue(struct dispatch *d, struct lconns *t, struct lconn *c, const char *site, const char *name,
		    uint32_t one_request, unsigned alpn_route, unsigned proxy_len)
{
	if (d->pending_len == d->pending_cap) {
		/* cannot happen: accepting pauses long before the ring fills */
		if (d->src)
			srcconn_drop(d->src, &c->ticket);
		lconn_reject_log(t, c, "overload", name, NULL, 0);
		lconn_free(t, c);
		return;
	}
	struct lpending *p = &d->pending[(d->pending_head + d->pending_len) % d->pending_cap];
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &c->peer, sizeof(c->peer));
	if (handoff_pack(&p->msg, c->kind, &ss, site, name, c->accepted_usec, one_request) < 0) {
		if (d->src)
			srcconn_drop(d->src, &c->ticket);
		lconn_reject_log(t, c, "internal", name, NULL, 0);
		lconn_free(t, c);
		return;
	}
	p->msg.alpn_route = (uint8_t)alpn_route;	/* < 256: config_parser.h */
	p->ticket = c->ticket;
	p->msg.proxy_len = (uint16_t)proxy_len;		/* <= PROXY_PARSE_MAX */
	/* The fd now belongs to the ring: out of the epoll set and the
	 * deadline queue, but still counted as inspecting until sent. */
	if (c->in_epoll)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	p->fd = lconn_detach(t, c);
	d->pending_len++;
	if (d->pending_len >= HANDOFF_BATCH)
		dispatch_flush(d, t);
}

void dispatch_flush(struct dispatch *d, struct lconns *t)
{
	while (d->pending_len) {
		unsigned room;
		struct lchannel *ch = dispatch_pick(d, clock_now_ms(), &room);
		if (!ch)
			break;
		struct handoff_msg msgs[HANDOFF_BATCH];
		int fds[HANDOFF_BATCH];
		unsigned n = 0;
		while (n < room && n < HANDOFF_BATCH && n < d->pending_len) {
			struct lpending *p = &d->pending[(d->pending_head + n) % d->pending_cap];
			msgs[n] = p->msg;
			fds[n] = p->fd;
			n++;
		}
		int r = handoff_send(ch->fd, msgs, fds, n);
		if (r < 0) {
			if (r == -EAGAIN || r == -ETOOMANYREFS || r == -ENOBUFS) {
				ch->blocked = true;
				channel_set_events(d, ch);
			} else {
				channel_dead(d, ch, strerror(-r), false);
			}
			continue;
		}
		if (r > (int)n)
			r = (int)n;	/* cannot happen; keeps the loop below in bounds */
		for (int i = 0; i < r; i++) {
			close(fds[i]);
			if (d->src)
				srcconn_sent(d->src, (unsigned)(ch - d->channels),
					     &d->pending[(d->pending_head + (unsigned)i) % d->pending_cap].ticket);
		}
		if (ch->load && !load_in_flight(ch->load, ch->sent)) {
			/* the stall clock runs from the oldest waiting hand-off */
			ch->seen_taken = ch->sent;
			ch->moved_ms = clock_now_ms();
		}
		ch->sent += (uint32_t)r;
		d->pending_head = (d->pending_head + (unsigned)r) % d->pending_cap;
		d->pending_len -= (unsigned)r;
		lconn_sent(t, (unsigned)r);
	}
	d->backed_up = d->pending_len != 0;
}

void dispatch_channel_event(struct dispatch *d, struct lconns *t, struct lchannel *ch, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		channel_dead(d, ch, "hang-up", false);
		return;
	}
	if (events & EPOLLIN) {
		/* a forwarder writes once, its load page (load.c), normally taken
		 * before the loop; a late one is dropped here. EOF ends it. */
		char b;
		ssize_t n = recv(ch->fd, &b, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			channel_dead(d, ch, "closed by forwarder", false);
			return;
		}
	}
	if ((events & EPOLLOUT) && ch->blocked) {
		ch->blocked = false;
		channel_set_events(d, ch);
		dispatch_flush(d, t);
	}
}

void dispatch_close(struct dispatch *d)
{
	for (unsigned i = 0; i < d->pending_len; i++) {
		struct lpending *p = &d->pending[(d->pending_head + i) % d->pending_cap];
		close(p->fd);
		if (d->src)
			srcconn_drop(d->src, &p->ticket);
	}
	d->pending_len = 0;
	free(d->pending);
	d->pending = NULL;
}
