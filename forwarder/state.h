/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * gatehouse-forwarder: takes client fds from one listener channel, dials
 * one of the named site's configured servers (its own copy of the config:
 * the listener never supplies an address), optionally writes a PROXY
 * header, then relays both ways until both sides are done.
 *
 * The process's state, filled by main.c and lent to each module. Which
 * module calls which runs one way:
 *   main -> intake -> queue -> dial -> relay -> pump -> pipes
 *   and every one of them -> conn (conn.h: the connection object)
 * A module never calls one to its left; the loop (main.c) releases what
 * queue and relay hold for an ended connection.
 */
#include <stdbool.h>
#include <stdint.h>
#include "router/config.h"
#include "common/dlist.h"
#include "common/health.h"
#include "common/load.h"
#include "common/ratelimit.h"
#include "forwarder/conn.h"
#include "forwarder/pump.h"
#include "forwarder/quic_relay.h"

/* Per-server failure memory: a failed server is avoided for a while. */
struct fserver_state {
	uint64_t avoid_until_ms;
	uint8_t early_skip;	/* connects left before the next early send (dial.c) */
	uint32_t ctr_slot;	/* its per-server counts (counters_server_slots), in what was padding */
	uint32_t check;		/* its slot in the health page, GH_NO_CHECK: unchecked */
};

struct forwarder {
	const struct gh_config *cfg;
	int epfd;
	/* intake.c: the channel from the listener */
	int channel;
	bool channel_open;
	bool channel_paused;	/* not reading hand-offs: near the fd limit */
	uint32_t received;		/* hand-off messages read, ever (wraps) */
	struct ratelimit refusals;	/* refused hand-offs logged at most this often */
	unsigned max_conns;	/* relays this process takes at most */
	unsigned fd_budget;	/* fds it may hold for clients and servers: a relay 2, a queued client 1 */
	struct fconns conns;	/* every connection; conns.n alive */
	unsigned n_queued;	/* of conns.n, waiting for a site slot (queue.c) */
	struct dlist connecting;	/* by connect deadline (dial.c) */
	struct dlist relaying;		/* by last activity, moved to the tail on each (relay.c) */
	/* dial.c: round-robin position and failure memory per site and kind */
	uint32_t *rr[GH_KIND_COUNT];
	struct fserver_state **srv[GH_KIND_COUNT];
	bool *src_unrouted;	/* per site: its source-prefix has no local route (srcaddr.c) */
	uint64_t total, failed;
	/* per site (queue.c): relays held, this forwarder's share of
	 * site-max-connections (0: none), clients waiting for a slot */
	unsigned *site_relays, *site_share, *site_queued;
	struct dlist queued;		/* waiting clients, by arrival (= deadline) */
	bool slot_freed;		/* a relay with a slot was released this round */
	struct gh_load *load;		/* published to the listener, or NULL */
	struct health_view health;	/* gatehouse-health's page, read-only (health.c) */
	struct gh_load_src *src_counts;	/* its per-source counts (srccount.h), or NULL */
	/* the one copy buffer every relay direction and every drain of a
	 * client's unread bytes use; holds nothing between calls */
	struct pump_buf *buf;
	struct fquic quic;		/* QUIC flows (quic_relay.h) */
};
