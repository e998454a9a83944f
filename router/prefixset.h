/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Sets of IPv4 and IPv6 prefixes with a value each, for allow/deny lists:
 * built once (config load), then looked up per connection.
 *
 * Build turns the prefixes into sorted disjoint ranges of the address space,
 * each carrying the value that wins there (adjacent ranges with the same
 * value merged). A lookup first indexes a table by the address's top bits
 * (as many bits as log2 of the ranges, at most 16), which narrows the search
 * to the few ranges under that index, then binary-searches those: with
 * uniformly spread prefixes the cost is flat (bench/prefixset.c: about 90
 * instructions per lookup with 10 prefixes and with 100 000); with prefixes
 * crowded under one index it degrades to log2 of that crowd, never worse
 * than one binary search over all ranges. Memory: at most 2n + 1 ranges per
 * family, 8 bytes each for IPv4, 24 for IPv6, plus at most 2 x 256 KiB of
 * index.
 *
 * Which value wins where several prefixes cover an address:
 *   PREFIXSET_FIRST_MATCH    the one written first (nginx's allow/deny:
 *                            rules are read top to bottom, the first that
 *                            matches decides);
 *   PREFIXSET_LONGEST_MATCH  the most specific one (a routing table); among
 *                            identical prefixes, the one written first.
 * Both cost the same at lookup time; only the build differs.
 *
 * Families: an IPv4 client, also one seen as IPv4-mapped ::ffff:a.b.c.d on
 * a dual-stack socket, is matched against IPv4 prefixes only; an IPv6 client
 * against IPv6 prefixes only. So ::/0 is every IPv6 client and 0.0.0.0/0
 * every IPv4 client. A prefix inside ::ffff:0:0/96 (length >= 96), written
 * or given to prefixset_build(), is taken as the IPv4 prefix it names.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order, host bits zero; 4 bytes for AF_INET */
	unsigned len;		/* 0..32 or 0..128 */
};

#define PREFIX_ERROR_MAX 96u

/* Parse "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
 * The length is decimal without leading zeros. Host bits set are an error
 * (a typo like 10.0.0.1/8 should not silently allow all of 10/8); the
 * message names the prefix that was probably meant. Returns 0, or -1 with
 * a message for "FILE:LINE: message" in err (err may be NULL). */
int prefix_parse(const char *text, size_t len, struct prefix *out, char *err, size_t errsize);

enum prefixset_order {
	PREFIXSET_FIRST_MATCH,
	PREFIXSET_LONGEST_MATCH,
};

/* values are the caller's (an allow/deny verdict, a rule's line number);
 * PREFIXSET_NONE is reserved for "no prefix matched" */
#define PREFIXSET_NONE UINT32_MAX

struct prefixset_entry {
	struct prefix prefix;
	uint32_t value;
};

struct prefixset;

/* Build from n entries in written order. NULL with errno: ENOMEM, or EINVAL
 * (a malformed prefix, or value PREFIXSET_NONE). n == 0 gives an empty set. */
struct prefixset *prefixset_build(const struct prefixset_entry *entries, size_t n, enum prefixset_order order);
void prefixset_free(struct prefixset *set);

/* The winning value for an address (family AF_INET: 4 bytes; AF_INET6: 16
 * bytes, IPv4-mapped looked up as IPv4), or PREFIXSET_NONE. */
uint32_t prefixset_lookup(const struct prefixset *set, int family, const uint8_t *addr);

/* How many ranges a lookup of this address compares in its binary search
 * (after the index step): the cost per lookup, counted rather than timed. */
unsigned prefixset_probes(const struct prefixset *set, int family, const uint8_t *addr);

/* Ranges stored (both families), and bytes they take. */
size_t prefixset_ranges(const struct prefixset *set);
size_t prefixset_memory(const struct prefixset *set);
