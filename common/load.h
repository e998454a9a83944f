/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Forwarder load, published to the listener so that it hands each client
 * to the least busy forwarder and stops feeding one that does not take.
 *
 * Each forwarder owns one page (a sealed memfd: no resize, no write but
 * through the forwarder's own mapping) that only it writes; at
 * start it passes the memfd over its channel (the one message that goes
 * forwarder -> listener), and the listener maps it read-only before it
 * enters its sandbox. Nothing flows back: the forwarder never reads what
 * the listener could touch, so a compromised listener learns load figures
 * and nothing else. The values are hints; the listener bounds them.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "router/siphash.h"
#include "router/srcbucket.h"

#define LOAD_MAGIC 0x44414f4cu	/* "LOAD" */
#define LOAD_PAGE 4096u
#define LOAD_ENDED_N 256u	/* ended QUIC flows the page remembers */

/*
 * With `source-connections` (router/srcbucket.h), the page is followed by
 * the forwarder's per-source counts: how many of the clients it holds
 * (from taking the hand-off to the end of the relay) fall in each bucket,
 * the buckets found with its own key (src_key, drawn at start) from the
 * client it knows itself (the socket's peer, intake.c), never from
 * anything the listener says. The listener, which decides, adds them up
 * over every forwarder with each one's key. 1 MiB, touched as used.
 */
struct gh_load_src {
	_Atomic uint32_t global[SRCBUCKET_ROWS][SRCBUCKET_N];
	_Atomic uint32_t site[SRCBUCKET_ROWS][SRCBUCKET_N];	/* only for sites with their own limit */
};

struct gh_load {
	uint32_t magic;			/* LOAD_MAGIC */
	uint32_t max_relays;		/* the forwarder's cap (0: none known) */
	_Atomic uint32_t taken;		/* hand-off messages read off the channel, ever */
	_Atomic uint32_t relays;	/* clients it holds now (connecting or relaying) */
	/* 0, or LOAD_PAGE: a struct gh_load_src follows the page, and the
	 * memfd is LOAD_PAGE + sizeof(struct gh_load_src) long */
	uint32_t src_offset;
	uint32_t reserved;
	uint8_t src_key[SIPHASH_KEY_LEN];	/* the key of its buckets */
	/* QUIC flows it ended (the listener's flow ids), so the listener
	 * forgets them: a client's retry (every server refused, or the flow
	 * went idle) is then routed afresh instead of going nowhere until
	 * quic-idle-timeout. A ring: entry n % LOAD_ENDED_N, ended_head the
	 * count ever written. The listener acts only on a flow it gave this
	 * forwarder, so a lying page can only end that forwarder's own. */
	_Atomic uint32_t ended_head;
	uint32_t reserved2;
	_Atomic uint64_t ended[LOAD_ENDED_N];
};
_Static_assert(sizeof(struct gh_load) <= LOAD_PAGE, "the load page outgrew its page");

/* The channel message carrying the memfd: these 8 bytes + SCM_RIGHTS. */
#define LOAD_HELLO "GHLOAD1"

/* Forwarder: create, map and seal the page (with the per-source counts
 * and a key from getrandom() if src_counts) and send it on the channel.
 * Returns the mapping, or NULL (with a logged reason): then the listener
 * simply has no figures for this forwarder (and, with source-connections,
 * refuses to run with it: listener/srcconn.h). */
struct gh_load *load_publish_src(int channel, uint32_t max_relays, bool src_counts);
/* The same without per-source counts. */
struct gh_load *load_publish(int channel, uint32_t max_relays);

/* Listener, before its sandbox: wait up to timeout_ms for the forwarder's
 * page on channel and map it read-only (with the per-source counts if the
 * memfd is that long and the page says so). NULL if none came (an older or
 * slow forwarder): the channel is then served without figures. *src:
 * the per-source counts, or NULL if the page came without them; decided
 * here once, from the memfd's size, so a later write to the page cannot
 * make the listener read past its mapping. */
const struct gh_load *load_receive_src(int channel, int timeout_ms, const struct gh_load_src **src);
const struct gh_load *load_receive(int channel, int timeout_ms);

/* The same in two steps, for a page that reaches the listener after its
 * sandbox (a replacement forwarder under `gatehouse run`): the launcher,
 * unsandboxed, takes the memfd off the new channel and checks its seals
 * and size (load_receive_fd: the fd, or -1); the listener maps what the
 * launcher passes it with load_map, which needs nothing but mmap
 * (PROT_READ, MAP_SHARED) and munmap. *size: LOAD_PAGE or with counts. */
int load_receive_fd(int channel, int timeout_ms, size_t *size);
const struct gh_load *load_map(int fd, size_t size, const struct gh_load_src **src);
/* Listener: unmap a page (its forwarder is gone); src is what mapping it
 * returned: the size is the listener's own record, never read off the
 * page, which its forwarder may have rewritten since. */
void load_unmap(const struct gh_load *ld, const struct gh_load_src *src);

/* Forwarder: its own page's counts (it wrote src_offset), or NULL. */
static inline struct gh_load_src *load_src_mine(struct gh_load *ld)
{
	return ld && ld->src_offset == LOAD_PAGE ? (struct gh_load_src *)(void *)((char *)ld + LOAD_PAGE) : NULL;
}

/* Forwarder, the only writer: a client in buckets b taken (delta 1) or
 * ended (delta -1); site rows too if its site has its own limit. */
static inline void load_src_add(struct gh_load_src *s, const struct srcbucket *b, bool site, int delta)
{
	for (unsigned r = 0; r < SRCBUCKET_ROWS; r++) {
		_Atomic uint32_t *g = &s->global[r][b->global[r]];
		atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + (uint32_t)delta,
				      memory_order_relaxed);
		if (!site)
			continue;
		_Atomic uint32_t *c = &s->site[r][b->site[r]];
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint32_t)delta,
				      memory_order_relaxed);
	}
}

/* Listener: what one forwarder holds in buckets b (global, or the site's
 * rows): the smaller row, which is never below the truth. */
static inline uint32_t load_src_held(const struct gh_load_src *s, const struct srcbucket *b, bool site)
{
	uint32_t best = UINT32_MAX;
	for (unsigned r = 0; r < SRCBUCKET_ROWS; r++) {
		uint32_t v = atomic_load_explicit(site ? &s->site[r][b->site[r]] : &s->global[r][b->global[r]],
						  memory_order_relaxed);
		if (v < best)
			best = v;
	}
	return best;
}

/* Forwarder, the only writer: QUIC flow id ended. */
static inline void load_ended(struct gh_load *ld, uint64_t id)
{
	if (!ld)
		return;
	uint32_t h = atomic_load_explicit(&ld->ended_head, memory_order_relaxed);
	atomic_store_explicit(&ld->ended[h % LOAD_ENDED_N], id, memory_order_relaxed);
	atomic_store_explicit(&ld->ended_head, h + 1, memory_order_release);
}

/* Listener: hand-offs sent but not yet taken, given how many were sent. */
static inline uint32_t load_in_flight(const struct gh_load *ld, uint32_t sent)
{
	uint32_t d = sent - atomic_load_explicit(&ld->taken, memory_order_relaxed);
	return d > (1u << 20) ? 0 : d;	/* a bogus page must not starve a channel */
}
