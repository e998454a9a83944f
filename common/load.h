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

#define LOAD_MAGIC 0x44414f4cu	/* "LOAD" */

struct gh_load {
	uint32_t magic;			/* LOAD_MAGIC */
	uint32_t max_relays;		/* the forwarder's cap (0: none known) */
	_Atomic uint32_t taken;		/* hand-off messages read off the channel, ever */
	_Atomic uint32_t relays;	/* clients it holds now (connecting or relaying) */
};

/* The channel message carrying the memfd: these 8 bytes + SCM_RIGHTS. */
#define LOAD_HELLO "GHLOAD1"

/* Forwarder: create, map and seal the page and send it on the channel.
 * Returns the mapping, or NULL (with a logged reason): then the listener
 * simply has no figures for this forwarder. */
struct gh_load *load_publish(int channel, uint32_t max_relays);

/* Listener, before its sandbox: wait up to timeout_ms for the forwarder's
 * page on channel and map it read-only. NULL if none came (an older or
 * slow forwarder): the channel is then served without figures. */
const struct gh_load *load_receive(int channel, int timeout_ms);

/* Listener: hand-offs sent but not yet taken, given how many were sent. */
static inline uint32_t load_in_flight(const struct gh_load *ld, uint32_t sent)
{
	uint32_t d = sent - atomic_load_explicit(&ld->taken, memory_order_relaxed);
	return d > (1u << 20) ? 0 : d;	/* a bogus page must not starve a channel */
}
