/* SPDX-License-Identifier: MIT */
/*
 * Per-site connection limits (`site-max-connections N`). Each forwarder
 * takes an even share of a site's limit, as it does of `max-connections`;
 * a client beyond its share waits here, in arrival order, neither
 * registered nor read (its bytes stay in the kernel), until a relay of
 * that site ends, or `queue-timeout` passes: then it is answered as if
 * every server were down (503 for HTTP, a close for TLS) and logged as
 * queue_timeout. HAProxy calls this a server's maxconn and queue.
 *
 * A waiting client is not a relay: it does not count against
 * `max-connections` (so clients of other sites keep coming in) but holds
 * one fd, which the intake budget counts.
 */
#include <stdlib.h>
#include "common/clock.h"
#include "common/counters.h"
#include "common/fdbudget.h"
#include "forwarder/conn.h"
#include "forwarder/dial.h"
#include "forwarder/queue.h"
#include "forwarder/state.h"

int queue_setup(struct forwarder *f, unsigned n_forwarders)
{
	size_t n = f->cfg->n_sites ? f->cfg->n_sites : 1;
	f->site_relays = calloc(n, sizeof(*f->site_relays));
	f->site_share = calloc(n, sizeof(*f->site_share));
	f->site_queued = calloc(n, sizeof(*f->site_queued));
	if (!f->site_relays || !f->site_share || !f->site_queued)
		return -1;
	if (!n_forwarders)
		n_forwarders = 1;
	for (size_t i = 0; i < f->cfg->n_sites; i++) {
		unsigned lim = f->cfg->sites[i].max_connections;
		f->site_share[i] = lim ? (lim + n_forwarders - 1) / n_forwarders : 0;
	}
	dlist_init(&f->queued);
	return 0;
}

void queue_free(struct forwarder *f)
{
	free(f->site_relays);
	free(f->site_share);
	free(f->site_queued);
}

static bool has_room(const struct forwarder *f, uint32_t site)
{
	return !f->site_share[site] || f->site_relays[site] < f->site_share[site];
}

static void admit(struct forwarder *f, struct fconn *c)
{
	c->counted = true;
	c->state = FS_CONNECTING;
	f->site_relays[c->site]++;
	dial_start(f, c);
}

void queue_admit(struct forwarder *f, struct fconn *c)
{
	/* a site's waiting clients go first: no overtaking in the round
	 * between a slot freeing and queue_run */
	if (has_room(f, c->site) && !f->site_queued[c->site]) {
		admit(f, c);
		return;
	}
	c->state = FS_QUEUED;
	c->queued = true;
	c->deadline_ms = clock_now_ms() + f->cfg->queue_timeout_ms;
	dlist_append(&f->queued, &c->link);
	f->site_queued[c->site]++;
	f->n_queued++;
	counters_queue(c->site, 1, -1);
}

unsigned queue_room(unsigned relays, unsigned queued, unsigned max_conns, unsigned fd_budget)
{
	if (relays >= max_conns)
		return 0;
	/* a relay holds its two sockets, a waiting client one; pipes are
	 * outside fd_budget (common/fdbudget.h) */
	uint64_t used = (uint64_t)FDBUDGET_PER_RELAY * relays + queued;
	if (used + FDBUDGET_PER_RELAY > fd_budget)
		return 0;
	uint64_t by_fds = (fd_budget - used) / FDBUDGET_PER_RELAY;
	unsigned by_cap = max_conns - relays;
	return by_fds < by_cap ? (unsigned)by_fds : by_cap;
}

/* Hand-offs this forwarder can take now: under its relay cap, and with
 * fds for each to become a relay. */
unsigned queue_intake_room(const struct forwarder *f)
{
	return queue_room(f->conns.n - f->n_queued, f->n_queued, f->max_conns, f->fd_budget);
}

/* Out of the queue's counts (admitted, timed out, or ended). */
static void unqueue(struct forwarder *f, struct fconn *c, bool got_slot)
{
	if (!c->queued)
		return;
	c->queued = false;
	f->site_queued[c->site]--;
	f->n_queued--;
	/* it queued at deadline - queue_timeout */
	uint64_t since = c->deadline_ms - f->cfg->queue_timeout_ms, now = clock_now_ms();
	counters_queue(c->site, -1, got_slot ? (int64_t)(now > since ? now - since : 0) : -1);
}

void queue_release(struct forwarder *f, struct fconn *c)
{
	unqueue(f, c, false);
	if (c->counted) {
		c->counted = false;
		f->site_relays[c->site]--;
		f->slot_freed = true;
	}
}

void queue_run(struct forwarder *f, uint64_t now)
{
	while (!dlist_empty(&f->queued)) {
		struct fconn *c = dlist_entry(f->queued.next, struct fconn, link);
		if (c->deadline_ms > now)
			break;
		/* uncounted before it ends, so the relay count below stays right */
		unqueue(f, c, false);
		dial_give_up(f, c, "queue_timeout");
	}
	if (!f->slot_freed)
		return;
	f->slot_freed = false;
	/* oldest first; a client whose site is still full keeps its place */
	struct dlist *e = f->queued.next;
	while (e != &f->queued) {
		struct fconn *c = dlist_entry(e, struct fconn, link);
		e = e->next;
		if (!has_room(f, c->site))
			continue;
		if (f->conns.n - f->n_queued >= f->max_conns)
			break;	/* at the relay cap: the next relay to end frees one */
		dlist_remove(&c->link);
		unqueue(f, c, true);
		admit(f, c);
	}
}
