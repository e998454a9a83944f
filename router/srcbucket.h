/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Where a source's open connections are counted across processes
 * (`source-connections`): counters in fixed rows of SRCBUCKET_N buckets,
 * a count-min sketch of depth 2. A source (grouped like router/srclimit.h:
 * IPv4 by v4_prefix bits, IPv6 by v6_prefix bits, IPv4-mapped as IPv4)
 * hashes with SipHash-2-4 under a secret key to one bucket in each of two
 * global rows, and, for a site, to one bucket in each of two site rows.
 * A writer bumps all of a connection's buckets; a reader takes the smaller
 * of the two. Sources that share a bucket add up, so the figure can only
 * be too high, never too low: a limit is never lifted, and a source is
 * refused early only if another source shares both its buckets (with R
 * connections held in all, by k or more with probability about
 * P(Poisson(R / 65 536) >= k)^2: with 10 000 held, one in fifty sources
 * is counted one too high, one in 10 000 two too high). The key is secret,
 * so a client cannot pick addresses that share its victim's buckets.
 *
 * One hash gives all four indices: 16 bits per row. A site's rows are the
 * source's bits offset by an odd multiple of the site index, so one source
 * lands in a different bucket for each site.
 */
#include <stdint.h>
#include "router/siphash.h"

#define SRCBUCKET_BITS 16u
#define SRCBUCKET_N (1u << SRCBUCKET_BITS)
#define SRCBUCKET_ROWS 2u

struct srcbucket {
	uint16_t global[SRCBUCKET_ROWS];
	uint16_t site[SRCBUCKET_ROWS];
};

/* The buckets of the source addr (AF_INET: 4 bytes, AF_INET6: 16) belongs
 * to, and of that source at site (an index in the config). 0, or -1 for a
 * family other than AF_INET and AF_INET6 (nothing written). */
int srcbucket_of(const uint8_t key[SIPHASH_KEY_LEN], unsigned v4_prefix, unsigned v6_prefix, int family,
		 const uint8_t *addr, uint32_t site, struct srcbucket *out);
