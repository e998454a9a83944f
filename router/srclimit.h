/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Per-source limits in memory fixed at creation: how many connections a
 * source holds at once, and how fast it may open new ones.
 *
 * Sources: an IPv4 client (also one seen as ::ffff:a.b.c.d) is grouped by
 * its first v4_prefix bits (32 by default: one address), an IPv6 client by
 * its first v6_prefix bits (64 by default: one host owns a /64, and a /64
 * costs an attacker nothing more than one address).
 *
 * Rate: a token bucket per source holding `rate` tokens, refilled at `rate`
 * per `window_ms`. A new source may open `rate` connections at once, then
 * one more every window_ms / rate; there is no window edge at which a
 * source gets a second burst (as a fixed window would give). A refusal says
 * how many whole seconds until the next token (for Retry-After).
 *
 * Memory: `slots` entries of 56 bytes (x86-64) and an index of 4-byte
 * buckets, the power of two at or above 2 x slots (64 bytes a slot when
 * slots is a power of two: 65 536 slots take 4 MiB), allocated and touched
 * once by srclimit_new (srclimit_memory() says how much); admit and release never
 * allocate. The index is open addressing with linear probing, hashed with
 * SipHash-2-4 under a key the caller draws at random, so a client cannot
 * choose addresses that collide.
 *
 * When all slots are taken, a new source takes the slot of the least
 * recently seen idle source (no live connection; "seen" is its last admit,
 * refusal or release). Its counts are forgotten: a source that comes back
 * after more than `slots` other sources starts with a full bucket. Sources
 * with live connections are never evicted, so a live count is never lost.
 * When every slot holds a source with live connections, a new source is
 * refused (SRCLIMIT_FULL) rather than admitted uncounted: admitting it
 * would lift every limit for exactly the sources an attacker controls.
 * Size `slots` at least as large as the most connections the daemons hold
 * at once (every live slot holds at least one), and FULL never comes before
 * the global connection cap does.
 *
 * srclimit_take() uses a table for rates alone, keyed by source and a
 * site: the sites' own `source-rate` lines (every entry idle, so the least
 * recently seen is evicted when the table is full).
 *
 * Not thread-safe; the listener holds one table of each kind.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "router/siphash.h"

#define SRCLIMIT_MAX_SLOTS (1u << 24)
/* a source as bytes: a family byte (4 or 6), then the address cut to the
 * group's prefix (host bits zero) */
#define SRCLIMIT_GROUP_LEN 17u

struct srclimit_config {
	unsigned v4_prefix;		/* 1..32 */
	unsigned v6_prefix;		/* 1..128 */
	uint32_t max_concurrent;	/* per source; 0: no limit */
	uint32_t rate;			/* new connections per window per source; 0: no limit */
	uint32_t window_ms;		/* 1..86 400 000 when rate is set */
};

enum srclimit_status {
	SRCLIMIT_OK,			/* admitted and counted: srclimit_release() when it ends */
	SRCLIMIT_OVER_CONCURRENT,	/* the source holds max_concurrent connections */
	SRCLIMIT_OVER_RATE,		/* no token left; *retry_after_s set */
	SRCLIMIT_FULL,			/* every slot holds a live source */
};

struct srclimit;

/* NULL with errno: EINVAL (slots 0 or over SRCLIMIT_MAX_SLOTS, a prefix or
 * window out of range), ENOMEM. */
struct srclimit *srclimit_new(size_t slots, const struct srclimit_config *cfg, const uint8_t key[SIPHASH_KEY_LEN]);
void srclimit_free(struct srclimit *t);

/* A new connection from addr (AF_INET: 4 bytes, AF_INET6: 16) at now_ms
 * (a monotonic clock). *retry_after_s is set for OVER_RATE (>= 1), else 0. */
enum srclimit_status srclimit_admit(struct srclimit *t, int family, const uint8_t *addr, uint64_t now_ms,
				    uint32_t *retry_after_s);

/* A site's rate, in a table of its own (one table for every site): take a
 * token from the bucket of (the source of addr, site), `rate` new
 * connections per window_ms, full when first seen. OK, OVER_RATE (with
 * *retry_after_s), or FULL only in a table srclimit_admit() also holds
 * live sources in. Nothing to release: entries stay idle, so the least
 * recently seen is evicted when the table is full. rate 0: always OK. */
enum srclimit_status srclimit_take(struct srclimit *t, int family, const uint8_t *addr, uint32_t site,
				   uint32_t rate, uint32_t window_ms, uint64_t now_ms, uint32_t *retry_after_s);

/* A connection admitted with SRCLIMIT_OK ended. -1 if the source holds no
 * counted connection (a caller bug; nothing changes). */
int srclimit_release(struct srclimit *t, int family, const uint8_t *addr);

/* The same by slot, for releases learnt from elsewhere (a forwarder's load
 * page, docs/edge-policy.md): srclimit_slot() names the slot a source
 * holds (-1 if none), and the slot stays that source's while it has a live
 * connection, since only idle sources are evicted. srclimit_release_slot()
 * is -1 for a slot out of range or without a live connection. */
long srclimit_slot(const struct srclimit *t, int family, const uint8_t *addr);
int srclimit_release_slot(struct srclimit *t, uint32_t slot);

/* The source addr belongs to, as SRCLIMIT_GROUP_LEN bytes (family
 * AF_INET: 4 bytes, AF_INET6: 16, IPv4-mapped taken as IPv4). Shared with
 * router/srcbucket.h, so both group sources alike. */
void srclimit_group(unsigned v4_prefix, unsigned v6_prefix, int family, const uint8_t *addr,
		   uint8_t key[SRCLIMIT_GROUP_LEN]);

/* Sources the table holds, and its fixed size in bytes (all of it touched
 * by srclimit_new: resident from the start). */
size_t srclimit_used(const struct srclimit *t);
size_t srclimit_memory(const struct srclimit *t);

/* For tests: the index bucket a source hashes to (before probing), and the
 * number of buckets. */
size_t srclimit_bucket(const struct srclimit *t, int family, const uint8_t *addr);
size_t srclimit_buckets(const struct srclimit *t);
