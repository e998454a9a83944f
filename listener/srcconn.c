/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "listener/srcconn.h"
#include "router/config.h"

#define LOCAL_MASK (SRCCONN_LOCAL_N - 1)

int srcconn_init(struct srcconn *s, const struct gh_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	if (!config_source_connections_on(cfg))
		return 0;
	s->v6_prefix = config_source_v6_prefix(cfg);
	if (getrandom(s->key, sizeof(s->key), 0) != (ssize_t)sizeof(s->key))
		return -(errno ? errno : EIO);
	/* touched, not only calloc'd: resident from the start (explicit_bzero:
	 * a compiler may drop a memset after calloc) */
	s->local = calloc(2 * SRCBUCKET_ROWS, sizeof(*s->local));
	if (!s->local)
		return -ENOMEM;
	explicit_bzero(s->local, 2 * SRCBUCKET_ROWS * sizeof(*s->local));
	s->on = true;
	return 0;
}

void srcconn_free(struct srcconn *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->ch[i].ring);
	free(s->local);
	s->local = NULL;
	s->n = 0;
	s->on = false;
}

int srcconn_add_channel(struct srcconn *s, const struct gh_load *ld, const struct gh_load_src *cnt)
{
	if (!s->on)
		return 0;
	if (s->n >= GH_MAX_FORWARDERS)
		return -E2BIG;
	if (!ld || !cnt)
		return -EPROTO;
	struct srcconn_chan *ch = &s->ch[s->n];
	ch->ring = calloc(SRCCONN_RING, sizeof(*ch->ring));
	if (!ch->ring)
		return -ENOMEM;
	explicit_bzero(ch->ring, SRCCONN_RING * sizeof(*ch->ring));
	ch->load = ld;
	ch->cnt = cnt;
	memcpy(ch->key, ld->src_key, sizeof(ch->key));
	ch->head = ch->tail = 0;
	s->n++;
	return 0;
}

/* The source's address bytes; false for a family never accepted. */
static bool peer_addr(const struct sockaddr_in6 *peer, int *family, const uint8_t **addr)
{
	if (peer->sin6_family == AF_INET) {
		*family = AF_INET;
		*addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)peer)->sin_addr;
		return true;
	}
	if (peer->sin6_family == AF_INET6) {
		*family = AF_INET6;
		*addr = peer->sin6_addr.s6_addr;
		return true;
	}
	return false;
}

static void local_add(struct srcconn *s, const struct srcconn_ticket *t, int delta)
{
	for (unsigned r = 0; r < SRCBUCKET_ROWS; r++) {
		s->local[r][t->b.global[r] & LOCAL_MASK] += (uint32_t)delta;
		if (t->site)
			s->local[SRCBUCKET_ROWS + r][t->b.site[r] & LOCAL_MASK] += (uint32_t)delta;
	}
}

static uint32_t local_held(const struct srcconn *s, const struct srcbucket *b, bool site)
{
	uint32_t best = UINT32_MAX;
	for (unsigned r = 0; r < SRCBUCKET_ROWS; r++) {
		uint32_t v = site ? s->local[SRCBUCKET_ROWS + r][b->site[r] & LOCAL_MASK]
				  : s->local[r][b->global[r] & LOCAL_MASK];
		if (v < best)
			best = v;
	}
	return best;
}

static void release(struct srcconn *s, struct srcconn_ticket *t)
{
	if (!t->held)
		return;
	local_add(s, t, -1);
	t->held = false;
}

/* Let go of the hand-offs each forwarder has taken: they are in its own
 * counts now (it counts in take() and publishes `taken` after, with
 * release order). A page that lies about `taken` only frees its own
 * channel's tickets early or late. */
static void sync_taken(struct srcconn *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		struct srcconn_chan *ch = &s->ch[i];
		if (!ch->load)
			continue;	/* gone */
		uint32_t taken = atomic_load_explicit(&ch->load->taken, memory_order_acquire);
		while (ch->head != ch->tail && (int32_t)(taken - ch->head) > 0)
			release(s, &ch->ring[ch->head++ % SRCCONN_RING]);
	}
}

/* The source's figure: every forwarder's (each with its own key) and the
 * local one, each never below the truth. */
static uint32_t held(struct srcconn *s, int family, const uint8_t *addr, uint32_t site, bool site_rows,
		     const struct srcbucket *mine)
{
	uint64_t sum = local_held(s, mine, site_rows);
	for (unsigned i = 0; i < s->n; i++) {
		struct srcbucket b;
		if (s->ch[i].cnt && srcbucket_of(s->ch[i].key, 32, s->v6_prefix, family, addr, site, &b) == 0)
			sum += load_src_held(s->ch[i].cnt, &b, site_rows);
	}
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

uint32_t srcconn_held(struct srcconn *s, const struct sockaddr_in6 *peer, uint32_t site)
{
	const uint8_t *addr;
	int family;
	struct srcbucket mine;

	if (!s->on || !peer_addr(peer, &family, &addr))
		return 0;
	sync_taken(s);
	bool site_rows = site != GH_NO_SITE;
	uint32_t idx = site_rows ? site : 0;
	srcbucket_of(s->key, 32, s->v6_prefix, family, addr, idx, &mine);
	return held(s, family, addr, idx, site_rows, &mine);
}

enum srcconn_verdict srcconn_admit(struct srcconn *s, const struct sockaddr_in6 *peer, uint32_t site,
				   struct srcconn_ticket *t)
{
	const uint8_t *addr;
	int family;

	memset(t, 0, sizeof(*t));
	if (!s->on)
		return SRCCONN_OK;
	if (!peer_addr(peer, &family, &addr))
		return SRCCONN_OVER_GLOBAL;	/* cannot be counted: not let through uncounted */
	uint32_t site_cap = site < s->cfg->n_sites ? s->cfg->sites[site].src_connections : 0;
	srcbucket_of(s->key, 32, s->v6_prefix, family, addr, site, &t->b);
	sync_taken(s);
	if (s->cfg->src.connections && held(s, family, addr, site, false, &t->b) >= s->cfg->src.connections)
		return SRCCONN_OVER_GLOBAL;
	if (site_cap && held(s, family, addr, site, true, &t->b) >= site_cap)
		return SRCCONN_OVER_SITE;
	t->site = site_cap != 0;
	t->held = true;
	local_add(s, t, 1);
	return SRCCONN_OK;
}

void srcconn_sent(struct srcconn *s, unsigned chan, const struct srcconn_ticket *t)
{
	if (!s->on || chan >= s->n)
		return;
	struct srcconn_chan *ch = &s->ch[chan];
	if (ch->tail - ch->head == SRCCONN_RING)
		release(s, &ch->ring[ch->head++ % SRCCONN_RING]);
	/* every hand-off takes a place, counted or not: the ring's sequence
	 * numbers are the channel's */
	ch->ring[ch->tail++ % SRCCONN_RING] = *t;
}

void srcconn_drop(struct srcconn *s, struct srcconn_ticket *t)
{
	if (s->on)
		release(s, t);
}

void srcconn_channel_gone(struct srcconn *s, unsigned chan)
{
	if (!s->on || chan >= s->n)
		return;
	struct srcconn_chan *ch = &s->ch[chan];
	while (ch->head != ch->tail)
		release(s, &ch->ring[ch->head++ % SRCCONN_RING]);
	/* its page is unmapped next (dispatch.c): its relays ended with it */
	ch->load = NULL;
	ch->cnt = NULL;
}

int srcconn_channel_back(struct srcconn *s, unsigned chan, const struct gh_load *ld, const struct gh_load_src *cnt)
{
	if (!s->on)
		return 0;
	if (chan >= s->n)
		return -EINVAL;
	if (!ld || !cnt)
		return -EPROTO;
	struct srcconn_chan *ch = &s->ch[chan];
	ch->load = ld;
	ch->cnt = cnt;
	memcpy(ch->key, ld->src_key, sizeof(ch->key));
	ch->head = ch->tail = 0;
	return 0;
}
