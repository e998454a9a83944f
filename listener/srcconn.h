/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * `source-connections N`, global and per site: how many connections one
 * source holds at once through every forwarder. Relays end in the
 * forwarders, so they count (common/load.h gh_load_src: per-bucket counts
 * in memory each forwarder owns and the listener maps read-only, each
 * forwarder hashing the client it knows itself with its own key); the
 * listener, which decides, adds up every forwarder's figure for the
 * source, plus its own hand-offs a forwarder has not taken yet (counted
 * here from the decision until the channel's `taken` passes them). No new
 * message goes to a forwarder and a forwarder trusts nothing new: a
 * compromised listener only misleads itself.
 *
 * Every count is a count-min figure (router/srcbucket.h): never below the
 * truth, so a limit is never lifted by a collision. Memory is fixed at
 * start: 1 MiB per forwarder (its page, touched as buckets are used), and
 * here 64 KiB of local counts plus a ring of SRCCONN_RING tickets per
 * channel, touched at start.
 *
 * Between srcconn.c and its callers: inspect (admit, at a hand-off
 * decision) and dispatch (sent, drop). It calls nothing of the listener's.
 */
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include "common/load.h"
#include "router/gh_limits.h"
#include "router/srcbucket.h"

struct gh_config;

/* local counts: hand-offs decided and not yet taken are few (the ring and
 * a few per channel), so a small table collides little */
#define SRCCONN_LOCAL_BITS 12u
#define SRCCONN_LOCAL_N (1u << SRCCONN_LOCAL_BITS)
/* hand-offs sent and not taken per channel that are remembered; the
 * channel's send buffer holds about 13 (listener/main.c), a forwarder's
 * unpublished batch 16 more. Past it the oldest is let go (counted by its
 * forwarder by then, or about to be). */
#define SRCCONN_RING 128u

/* A hand-off's place in the local counts, from decision to taken. */
struct srcconn_ticket {
	struct srcbucket b;	/* with the listener's key */
	bool held;		/* counted in the local rows */
	bool site;		/* ... the site rows too */
};

struct srcconn_chan {
	const struct gh_load *load;	/* its `taken` */
	const struct gh_load_src *cnt;	/* its counts */
	uint8_t key[SIPHASH_KEY_LEN];	/* its key, copied once */
	uint32_t head, tail;		/* sequence numbers of sent hand-offs not yet taken */
	struct srcconn_ticket *ring;	/* [SRCCONN_RING] */
};

struct srcconn {
	bool on;			/* source-connections set anywhere */
	const struct gh_config *cfg;
	unsigned v6_prefix;
	uint8_t key[SIPHASH_KEY_LEN];	/* the local rows' key */
	uint32_t (*local)[SRCCONN_LOCAL_N];	/* [2 * SRCBUCKET_ROWS]: global rows, then site rows */
	unsigned n;
	struct srcconn_chan ch[GH_MAX_FORWARDERS];
};

enum srcconn_verdict {
	SRCCONN_OK,
	SRCCONN_OVER_GLOBAL,	/* the source holds `source-connections` (global) */
	SRCCONN_OVER_SITE,	/* ... the site's `source-connections` to this site */
};

/* Off (on = false) unless the config has source-connections; else the
 * local key from getrandom() and the tables, touched. Before the sandbox.
 * 0 or -errno. */
int srcconn_init(struct srcconn *s, const struct gh_config *cfg);
void srcconn_free(struct srcconn *s);

/* The next channel (in dispatch order) and its forwarder's page. With the
 * limit on, a forwarder without counts cannot be counted: -EPROTO (the
 * listener then refuses to run rather than let its relays go uncounted). */
int srcconn_add_channel(struct srcconn *s, const struct gh_load *ld, const struct gh_load_src *cnt);

/* A client from peer decided for site: may it be handed off? On OK it is
 * counted (*t) until srcconn_sent's channel takes it or srcconn_drop. */
enum srcconn_verdict srcconn_admit(struct srcconn *s, const struct sockaddr_in6 *peer, uint32_t site,
				   struct srcconn_ticket *t);
/* t's hand-off was sent on channel chan: counted until it is taken. */
void srcconn_sent(struct srcconn *s, unsigned chan, const struct srcconn_ticket *t);
/* t's hand-off will never be sent (the client is gone). */
void srcconn_drop(struct srcconn *s, struct srcconn_ticket *t);
/* Channel chan is gone: what was in flight on it is let go, and its
 * forwarder's page is no longer read (the caller unmaps it). */
void srcconn_channel_gone(struct srcconn *s, unsigned chan);
/* Channel chan, gone, runs again with a new forwarder's page and counts
 * (a replacement under `gatehouse run`). -EPROTO without counts, as
 * srcconn_add_channel. */
int srcconn_channel_back(struct srcconn *s, unsigned chan, const struct gh_load *ld, const struct gh_load_src *cnt);

/* What the source of peer holds now, over every forwarder and in flight
 * (site GH_NO_SITE: the global figure). For the decision and for tests. */
uint32_t srcconn_held(struct srcconn *s, const struct sockaddr_in6 *peer, uint32_t site);
