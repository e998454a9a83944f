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
#include "listener/listener.h"
#include "common/log.h"

/* A forwarder with this many hand-offs not yet taken is busy: others get
 * the next clients while they can take them. */
#define IN_FLIGHT_MAX 4
/* One that has taken none of its waiting hand-offs for this long is
 * stuck (stopped, or wedged): it gets nothing while another channel can
 * be sent to. Together these bound the clients stranded in a stuck
 * forwarder's channel to about IN_FLIGHT_MAX, instead of the channel's
 * buffer (CHANNEL_SNDBUF). */
#define STALL_MS 100

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
 * Where the next batch goes, and how much of it (*room): the forwarder
 * holding the fewest clients (relays plus hand-offs in flight) among those
 * taking clients, under IN_FLIGHT_MAX and their cap; ties round robin.
 * When none qualifies (all busy), the least in flight among channels with
 * buffer room, stuck ones last. Without figures from every forwarder,
 * plain round robin: a forwarder without a page cannot be compared.
 */
static struct lchannel *pick_channel(struct listener *l, unsigned *room)
{
	uint64_t now = clock_now_ms();
	struct lchannel *best = NULL, *fb = NULL;
	uint64_t best_held = UINT64_MAX, fb_key = UINT64_MAX;
	unsigned best_room = 0;
	for (unsigned i = 0; i < l->n_channels; i++) {
		struct lchannel *ch = &l->channels[(l->next_channel + i) % l->n_channels];
		if (ch->dead || ch->blocked)
			continue;
		uint64_t key = 0;	/* no figures: the first live one, round robin */
		if (l->all_loads) {
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
		l->next_channel = (unsigned)(best - l->channels + 1) % l->n_channels;
	return best;
}

static void channel_set_events(struct listener *l, struct lchannel *ch)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLRDHUP | (ch->blocked ? EPOLLOUT : 0),
		.data.ptr = ch,
	};
	epoll_ctl(l->epfd, EPOLL_CTL_MOD, ch->fd, &ev);
}

static void channel_dead(struct listener *l, struct lchannel *ch, const char *why)
{
	if (ch->dead)
		return;
	ch->dead = true;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, ch->fd, NULL);
	close(ch->fd);
	ch->fd = -1;
	/* A listener cannot open a new channel (it may not connect), so it
	 * hands over what it holds, stops accepting and exits; its supervisor
	 * (the launcher or systemd) starts a fresh one with fresh channels.
	 * The listening sockets stay open elsewhere: nothing is refused. */
	if (!l->draining) {
		l->drain_reason = why;	/* logged at exit unless we were asked to stop */
		l->draining = true;
		l->drain_deadline_ms = clock_now_ms() + 1000;
		listener_update_accept(l);
	}
}

void dispatch_queue(struct listener *l, struct lconn *c, const char *site, const char *name)
{
	if (l->pending_len == l->pending_cap) {
		/* cannot happen: accepting pauses long before the ring fills */
		listener_reject_log(l, c, "overload", name, NULL, 0);
		conn_free(l, c);
		return;
	}
	struct lpending *p = &l->pending[(l->pending_head + l->pending_len) % l->pending_cap];
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &c->peer, sizeof(c->peer));
	if (handoff_pack(&p->msg, c->kind, &ss, site, name, c->accepted_usec) < 0) {
		listener_reject_log(l, c, "internal", name, NULL, 0);
		conn_free(l, c);
		return;
	}
	/* The fd now belongs to the ring: out of the epoll set and the
	 * deadline queue, but still counted as inspecting until sent. */
	if (c->in_epoll)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	/* the ring owns the fd now, and it stays counted as inspecting
	 * until it is sent: only the per-connection struct goes */
	p->fd = c->fd;
	l->pending_len++;
	dlist_remove(&c->link);
	free(c);
	if (l->pending_len >= HANDOFF_BATCH)
		dispatch_flush(l);
}

void dispatch_flush(struct listener *l)
{
	while (l->pending_len) {
		unsigned room;
		struct lchannel *ch = pick_channel(l, &room);
		if (!ch)
			break;
		struct handoff_msg msgs[HANDOFF_BATCH];
		int fds[HANDOFF_BATCH];
		unsigned n = 0;
		while (n < room && n < HANDOFF_BATCH && n < l->pending_len) {
			struct lpending *p = &l->pending[(l->pending_head + n) % l->pending_cap];
			msgs[n] = p->msg;
			fds[n] = p->fd;
			n++;
		}
		int r = handoff_send(ch->fd, msgs, fds, n);
		if (r < 0) {
			if (r == -EAGAIN || r == -ETOOMANYREFS || r == -ENOBUFS) {
				ch->blocked = true;
				channel_set_events(l, ch);
			} else {
				channel_dead(l, ch, strerror(-r));
			}
			continue;
		}
		if (r > (int)n)
			r = (int)n;	/* cannot happen; keeps the loop below in bounds */
		for (int i = 0; i < r; i++) {
			close(fds[i]);
			l->stats.handed_off++;
		}
		if (ch->load && !load_in_flight(ch->load, ch->sent)) {
			/* the stall clock runs from the oldest waiting hand-off */
			ch->seen_taken = ch->sent;
			ch->moved_ms = clock_now_ms();
		}
		ch->sent += (uint32_t)r;
		l->pending_head = (l->pending_head + (unsigned)r) % l->pending_cap;
		l->pending_len -= (unsigned)r;
		l->n_inspecting -= (unsigned)r;
		l->stats.active -= (unsigned)r;
	}
	listener_update_accept(l);
}

void dispatch_channel_event(struct listener *l, struct lchannel *ch, uint32_t events)
{
	if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		channel_dead(l, ch, "hang-up");
		return;
	}
	if (events & EPOLLIN) {
		/* a forwarder writes once, its load page (load.c), normally taken
		 * before the loop; a late one is dropped here. EOF ends it. */
		char b;
		ssize_t n = recv(ch->fd, &b, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			channel_dead(l, ch, "closed by forwarder");
			return;
		}
	}
	if ((events & EPOLLOUT) && ch->blocked) {
		ch->blocked = false;
		channel_set_events(l, ch);
		dispatch_flush(l);
	}
}

/* Accept only while there is room: few enough clients being inspected, no
 * backlog of hand-offs, no fd exhaustion pause, not draining. */
void listener_update_accept(struct listener *l)
{
	uint64_t now = clock_now_ms();
	bool want = !l->draining && l->pending_len == 0 && l->n_inspecting < l->max_inspecting &&
		    (l->accept_resume_ms == UINT64_MAX || now >= l->accept_resume_ms);

	if (want && l->accept_resume_ms != UINT64_MAX)
		l->accept_resume_ms = UINT64_MAX;
	for (unsigned i = 0; i < l->n_listens; i++) {
		struct llisten *ls = &l->listens[i];
		if (ls->enabled == want)
			continue;
		struct epoll_event ev = { .events = want ? EPOLLIN : 0, .data.ptr = ls };
		epoll_ctl(l->epfd, EPOLL_CTL_MOD, ls->fd, &ev);
		ls->enabled = want;
	}
	l->accept_paused = !want;
}
