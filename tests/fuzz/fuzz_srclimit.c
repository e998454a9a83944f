/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: srclimit under any sequence of admits and releases,
 * against the caller's own books. Input: byte 0 the slots (1..16), byte 1
 * the concurrency limit (0..4), byte 2 the rate (0..4 per window), byte 3
 * the window (1..256 ms); then two bytes per operation: bit 7 of the first
 * releases (bit 6: by slot) instead of admitting, its low 5 bits pick one of
 * 32 sources (even: IPv4, odd: IPv6, some sharing a /64 or written as
 * v4-mapped), the second byte advances the clock.
 *
 * Invariants: a release is accepted exactly when the caller holds an
 * admitted connection of that source; no source holds more than the limit;
 * OVER_RATE only with a rate and with a Retry-After of at least 1 s; FULL
 * only for a source holding nothing while every slot holds a live source;
 * the table never holds more sources than slots; a live source keeps its
 * slot. (The rate itself is checked by the unit tests: an evicted source
 * rightly comes back with a full bucket, which a bound here would forbid.)
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "router/srclimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define NSRC 32

/* source n as an address; the group it falls in (sources 2k+1 and 2k+3
 * share a /64 when k is even; 4k and 4k+2 are one IPv4 client, the second
 * written as ::ffff:a.b.c.d) */
static void source(unsigned n, int *family, uint8_t *a, unsigned *group)
{
	memset(a, 0, 16);
	if (n % 2 == 0) {
		unsigned host = n / 4;
		*group = host;
		if (n % 4 == 2) {
			*family = AF_INET6;
			a[10] = a[11] = 0xff;
			a[12] = 192;
			a[15] = (uint8_t)host;
			return;
		}
		*family = AF_INET;
		a[0] = 192;
		a[3] = (uint8_t)host;
		return;
	}
	unsigned net = (n / 2) & ~1u;	/* 1 and 3 share, 5 and 7 share... */
	*group = 100 + net;
	*family = AF_INET6;
	a[0] = 0x20;
	a[1] = 0x01;
	a[7] = (uint8_t)net;
	a[15] = (uint8_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[SIPHASH_KEY_LEN] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3 };
	uint32_t live[256] = { 0 };	/* by group */
	long slot_of[256];

	if (size < 4)
		return 0;
	size_t slots = 1 + data[0] % 16;
	struct srclimit_config cfg = { .v4_prefix = 32, .v6_prefix = 64, .max_concurrent = data[1] % 5,
				       .rate = data[2] % 5, .window_ms = 1 + data[3] };
	struct srclimit *t = srclimit_new(slots, &cfg, key);
	CHECK(t != NULL);
	uint64_t now = 0;

	for (size_t i = 4; i + 1 < size; i += 2) {
		unsigned n = data[i] % NSRC, g;
		int f;
		uint8_t a[16];
		uint32_t r = 99;

		source(n, &f, a, &g);
		now += data[i + 1];
		if (data[i] & 0x80) {
			int got;
			if (data[i] & 0x40) {
				long s = srclimit_slot(t, f, a);
				CHECK(live[g] == 0 || s == slot_of[g]);
				got = s < 0 ? -1 : srclimit_release_slot(t, (uint32_t)s);
			} else {
				got = srclimit_release(t, f, a);
			}
			CHECK(got == (live[g] ? 0 : -1));
			if (live[g])
				live[g]--;
			continue;
		}
		size_t busy = 0;
		for (size_t k = 0; k < 256; k++)
			busy += live[k] > 0;
		switch (srclimit_admit(t, f, a, now, &r)) {
		case SRCLIMIT_OK:
			CHECK(r == 0);
			CHECK(cfg.max_concurrent == 0 || live[g] < cfg.max_concurrent);
			if (live[g] == 0)
				slot_of[g] = srclimit_slot(t, f, a);
			CHECK(slot_of[g] >= 0 && srclimit_slot(t, f, a) == slot_of[g]);
			live[g]++;
			break;
		case SRCLIMIT_OVER_CONCURRENT:
			CHECK(r == 0 && cfg.max_concurrent && live[g] == cfg.max_concurrent);
			break;
		case SRCLIMIT_OVER_RATE:
			CHECK(cfg.rate && r >= 1 && r <= (cfg.window_ms + 999) / 1000);
			break;
		case SRCLIMIT_FULL:
			CHECK(r == 0 && live[g] == 0 && busy == slots);
			break;
		default:
			abort();
		}
		CHECK(srclimit_used(t) <= slots);
	}
	srclimit_free(t);
	return 0;
}
