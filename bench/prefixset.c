/* SPDX-License-Identifier: MIT */
/*
 * prefixset: what one access-list lookup costs with 10, 1 000 and 100 000
 * prefixes (half IPv4, half IPv6, nested like real lists), on the same
 * 1 000 000 client addresses (half IPv4, a third of those v4-mapped).
 *   prefixset                  best of 5 timed passes per size, and the ratio
 *   prefixset N SIZE           only build SIZE and do N lookups: run under
 *                              valgrind --tool=callgrind
 *                              --toggle-collect=prefixset_lookup to count
 *                              instructions per lookup (`make bench-edge`)
 * Not a test: nothing here asserts a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "router/prefixset.h"

#define NADDR 1000000u

static uint64_t state = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static struct prefixset *make_set(size_t n, size_t *bytes, size_t *ranges)
{
	struct prefixset_entry *e = calloc(n, sizeof(*e));
	if (!e)
		exit(1);
	for (size_t i = 0; i < n; i++) {
		struct prefix *p = &e[i].prefix;
		p->family = i & 1 ? AF_INET6 : AF_INET;
		unsigned bits = p->family == AF_INET ? 32 : 128;
		if (i >= 2 && rnd() % 2) {
			/* a sub-prefix of an earlier one of the same family */
			memcpy(p->addr, e[i - 2 - 2 * (rnd() % (i / 2))].prefix.addr, 16);
			for (unsigned b = bits / 2; b < bits; b += 8)
				p->addr[b / 8] = (uint8_t)rnd();
		} else {
			for (unsigned b = 0; b < bits; b += 8)
				p->addr[b / 8] = (uint8_t)rnd();
		}
		p->len = bits / 4 + (unsigned)(rnd() % (bits - bits / 4 + 1));
		for (unsigned b = p->len; b < bits; b++)
			p->addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		e[i].value = (uint32_t)(rnd() % 2);
	}
	struct prefixset *s = prefixset_build(e, n, PREFIXSET_FIRST_MATCH);
	free(e);
	if (!s)
		exit(1);
	*bytes = prefixset_memory(s);
	*ranges = prefixset_ranges(s);
	return s;
}

struct client {
	int family;
	uint8_t addr[16];
};

static struct client *make_clients(void)
{
	struct client *c = calloc(NADDR, sizeof(*c));
	if (!c)
		exit(1);
	for (size_t i = 0; i < NADDR; i++) {
		uint64_t r = rnd();
		c[i].family = r & 1 ? AF_INET6 : AF_INET;
		for (int b = 0; b < 16; b++)
			c[i].addr[b] = (uint8_t)rnd();
		if (c[i].family == AF_INET && r % 3 == 0) {
			memmove(c[i].addr + 12, c[i].addr, 4);
			memset(c[i].addr, 0, 10);
			c[i].addr[10] = c[i].addr[11] = 0xff;
			c[i].family = AF_INET6;
		}
	}
	return c;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile uint32_t sink;

static double time_lookups(const struct prefixset *s, const struct client *c)
{
	double best = 1e18;
	for (int pass = 0; pass < 5; pass++) {
		uint32_t acc = 0;
		double t0 = now_ns();
		for (size_t i = 0; i < NADDR; i++)
			acc += prefixset_lookup(s, c[i].family, c[i].addr);
		double t = (now_ns() - t0) / NADDR;
		sink = acc;
		if (t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	struct client *c = make_clients();
	size_t bytes, ranges;

	if (argc == 3) {
		size_t n = strtoul(argv[1], NULL, 10), size = strtoul(argv[2], NULL, 10);
		struct prefixset *s = make_set(size, &bytes, &ranges);
		uint32_t acc = 0;
		for (size_t i = 0; i < n; i++)
			acc += prefixset_lookup(s, c[i % NADDR].family, c[i % NADDR].addr);
		sink = acc;
		printf("prefixes=%zu ranges=%zu lookups=%zu\n", size, ranges, n);
		prefixset_free(s);
		free(c);
		return 0;
	}
	static const size_t sizes[] = { 10, 1000, 100000 };
	double ns[3];
	for (int i = 0; i < 3; i++) {
		struct prefixset *s = make_set(sizes[i], &bytes, &ranges);
		ns[i] = time_lookups(s, c);
		printf("prefixes=%zu ranges=%zu memory_bytes=%zu ns_per_lookup=%.1f\n", sizes[i], ranges, bytes, ns[i]);
		prefixset_free(s);
	}
	printf("ratio_100000_to_10=%.2f\n", ns[2] / ns[0]);
	free(c);
	return 0;
}
