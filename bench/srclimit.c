/* SPDX-License-Identifier: MIT */
/*
 * srclimit: what one admit + release costs in a 65 536-slot table, for
 *   hot      1 000 sources coming back (every admit finds its source);
 *   churn    1 000 000 distinct sources (every admit evicts an idle one,
 *            the forged-address flood).
 *   srclimit                  best of 5 timed passes of 1 000 000 each
 *   srclimit N MODE           only N admits + releases in MODE (hot|churn),
 *                             for callgrind instruction counts (`make bench-edge`)
 * Not a test: nothing here asserts a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "router/srclimit.h"

#define SLOTS 65536u
#define N 1000000u

static volatile uint32_t sink;

static void addr_of(uint32_t n, int *family, uint8_t *a)
{
	memset(a, 0, 16);
	if (n & 1) {
		*family = AF_INET6;
		a[0] = 0x20;
		a[1] = 0x01;
		memcpy(a + 4, &n, 4);	/* one /64 each */
		a[15] = 1;
	} else {
		*family = AF_INET;
		memcpy(a, &n, 4);
	}
}

static void run(struct srclimit *t, uint32_t count, uint32_t sources, uint32_t base)
{
	uint32_t acc = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t a[16];
		int f;
		uint32_t r;
		addr_of(base + i % sources, &f, a);
		if (srclimit_admit(t, f, a, i / 1000, &r) == SRCLIMIT_OK)
			acc += (uint32_t)srclimit_release(t, f, a);
		acc += r;
	}
	sink = acc;
}

static struct srclimit *table(void)
{
	static const uint8_t key[SIPHASH_KEY_LEN] = { 7, 1, 4, 2, 8, 5, 7, 1, 4, 2, 8, 5, 7, 1, 4, 2 };
	struct srclimit_config cfg = { .v4_prefix = 32, .v6_prefix = 64, .max_concurrent = 64,
				       .rate = 1000000, .window_ms = 1000 };
	struct srclimit *t = srclimit_new(SLOTS, &cfg, key);
	if (!t)
		exit(1);
	return t;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct srclimit *t = table();

	if (argc == 3) {
		bool churn = strcmp(argv[2], "churn") == 0;
		uint32_t n = (uint32_t)strtoul(argv[1], NULL, 10);
		run(t, SLOTS, SLOTS, 0);	/* a full table first */
		run(t, n, churn ? n : 1000, churn ? 1u << 24 : 0);
		printf("mode=%s admits=%u used=%zu\n", argv[2], n, srclimit_used(t));
		srclimit_free(t);
		return 0;
	}
	run(t, SLOTS, SLOTS, 0);
	for (int churn = 0; churn < 2; churn++) {
		double best = 1e18;
		for (int pass = 0; pass < 5; pass++) {
			double t0 = now_ns();
			run(t, N, churn ? N : 1000, churn ? (uint32_t)(pass + 1) << 24 : 0);
			double ns = (now_ns() - t0) / N;
			if (ns < best)
				best = ns;
		}
		printf("mode=%s slots=%u memory_bytes=%zu ns_per_admit_and_release=%.1f\n",
		       churn ? "churn" : "hot", SLOTS, srclimit_memory(t), best);
	}
	srclimit_free(t);
	return 0;
}
