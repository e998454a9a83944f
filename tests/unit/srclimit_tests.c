/* SPDX-License-Identifier: MIT */
/* Per-source limits: limits per source, grouping, eviction, a full table,
 * fixed memory, colliding buckets; and SipHash against its published vectors. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/socket.h>
#include "suites.h"
#include "router/srclimit.h"

static const uint8_t key[SIPHASH_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static struct srclimit_config cfg(uint32_t conc, uint32_t rate, uint32_t window_ms)
{
	return (struct srclimit_config){ .v4_prefix = 32, .v6_prefix = 64, .max_concurrent = conc,
					 .rate = rate, .window_ms = window_ms };
}

static struct srclimit *table(size_t slots, struct srclimit_config c)
{
	struct srclimit *t = srclimit_new(slots, &c, key);
	ck_assert_ptr_nonnull(t);
	return t;
}

static int fam(const char *a)
{
	return strchr(a, ':') ? AF_INET6 : AF_INET;
}

static enum srclimit_status admit_at(struct srclimit *t, const char *a, uint64_t now, uint32_t *retry)
{
	uint8_t b[16];
	uint32_t r;
	ck_assert_int_eq(inet_pton(fam(a), a, b), 1);
	return srclimit_admit(t, fam(a), b, now, retry ? retry : &r);
}

static enum srclimit_status admit(struct srclimit *t, const char *a)
{
	return admit_at(t, a, 1000, NULL);
}

static int release(struct srclimit *t, const char *a)
{
	uint8_t b[16];
	ck_assert_int_eq(inet_pton(fam(a), a, b), 1);
	return srclimit_release(t, fam(a), b);
}

/* an address from a number: 10.x.y.z, or 2001:db8:<n>::1 (one /64 each) */
static void nth(size_t n, bool v6, int *family, uint8_t *a)
{
	memset(a, 0, 16);
	if (!v6) {
		*family = AF_INET;
		a[0] = 10;
		a[1] = (uint8_t)(n >> 16);
		a[2] = (uint8_t)(n >> 8);
		a[3] = (uint8_t)n;
		return;
	}
	*family = AF_INET6;
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[4] = (uint8_t)(n >> 24);
	a[5] = (uint8_t)(n >> 16);
	a[6] = (uint8_t)(n >> 8);
	a[7] = (uint8_t)n;
	a[15] = 1;
}

START_TEST(siphash_vectors)
{
	uint8_t k[16], m[64];
	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		m[i] = (uint8_t)i;
	/* from the SipHash paper and its reference implementation's vectors */
	ck_assert_uint_eq(siphash24(k, m, 0), UINT64_C(0x726fdb47dd0e0e31));
	ck_assert_uint_eq(siphash24(k, m, 15), UINT64_C(0xa129ca6149be45e5));
}
END_TEST

START_TEST(concurrent_per_source)
{
	struct srclimit *t = table(64, cfg(3, 0, 0));

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(admit(t, "::ffff:192.0.2.1"), SRCLIMIT_OVER_CONCURRENT);	/* the same client */
	/* others are not touched by it */
	ck_assert_int_eq(admit(t, "192.0.2.2"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "2001:db8::1"), SRCLIMIT_OK);
	ck_assert_int_eq(release(t, "192.0.2.1"), 0);
	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OVER_CONCURRENT);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(release(t, "::ffff:192.0.2.1"), 0);
	ck_assert_int_eq(release(t, "192.0.2.1"), -1);		/* nothing left to release */
	ck_assert_int_eq(release(t, "198.51.100.1"), -1);	/* never seen */
	ck_assert_int_eq(release(t, "192.0.2.2"), 0);
	srclimit_free(t);
}
END_TEST

/* 5 per 10 s: a burst of 5, then one every 2 s; Retry-After counts whole
 * seconds to the next token; a long pause refills 5, never more. */
START_TEST(rate_per_source)
{
	struct srclimit *t = table(64, cfg(0, 5, 10000));
	uint32_t retry;

	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(admit_at(t, "2001:db8::1", 0, &retry), SRCLIMIT_OK);
	ck_assert_int_eq(admit_at(t, "2001:db8::1", 0, &retry), SRCLIMIT_OVER_RATE);
	ck_assert_uint_eq(retry, 2);
	ck_assert_int_eq(admit_at(t, "2001:db8::2", 0, &retry), SRCLIMIT_OVER_RATE);	/* same /64 */
	ck_assert_int_eq(admit_at(t, "2001:db8:0:1::1", 0, &retry), SRCLIMIT_OK);	/* another /64 */
	ck_assert_uint_eq(retry, 0);
	ck_assert_int_eq(admit_at(t, "2001:db8::1", 1001, &retry), SRCLIMIT_OVER_RATE);
	ck_assert_uint_eq(retry, 1);
	ck_assert_int_eq(admit_at(t, "2001:db8::1", 2000, &retry), SRCLIMIT_OK);
	ck_assert_int_eq(admit_at(t, "2001:db8::1", 2000, &retry), SRCLIMIT_OVER_RATE);
	/* a clock stepping back adds nothing */
	ck_assert_int_eq(admit_at(t, "2001:db8::1", 500, &retry), SRCLIMIT_OVER_RATE);
	/* an hour later: 5 again, not 1 800 */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(admit_at(t, "2001:db8::1", 3600000, &retry), SRCLIMIT_OK);
	ck_assert_int_eq(admit_at(t, "2001:db8::1", 3600000, &retry), SRCLIMIT_OVER_RATE);
	/* a source that spent 1 of 5, an hour later: still 5 at most */
	ck_assert_int_eq(admit_at(t, "192.0.2.1", 0, &retry), SRCLIMIT_OK);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(admit_at(t, "192.0.2.1", 3600000, &retry), SRCLIMIT_OK);
	ck_assert_int_eq(admit_at(t, "192.0.2.1", 3600000, &retry), SRCLIMIT_OVER_RATE);
	/* releases give concurrency back, not tokens */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(release(t, "2001:db8::1"), 0);
	ck_assert_int_eq(admit_at(t, "2001:db8::1", 3600000, &retry), SRCLIMIT_OVER_RATE);
	srclimit_free(t);
}
END_TEST

START_TEST(grouping_configurable)
{
	struct srclimit_config c = cfg(1, 0, 0);
	c.v4_prefix = 24;
	c.v6_prefix = 48;
	struct srclimit *t = table(64, c);

	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.200"), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(admit(t, "192.0.3.1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "2001:db8:1:2::1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "2001:db8:1:ffff::1"), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(admit(t, "2001:db8:2::1"), SRCLIMIT_OK);
	/* 192.0.2.0 as an IPv6 address is not the IPv4 source */
	ck_assert_int_eq(admit(t, "::c000:201"), SRCLIMIT_OK);
	srclimit_free(t);

	/* lengths that cut a byte: IPv4 /28, IPv6 /60 */
	c.v4_prefix = 28;
	c.v6_prefix = 60;
	t = table(64, c);
	ck_assert_int_eq(admit(t, "192.0.2.17"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.31"), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(admit(t, "192.0.2.16"), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(admit(t, "192.0.2.15"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.32"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "2001:db8:0:10::1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "2001:db8:0:1f:ffff::1"), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(admit(t, "2001:db8:0:f::1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "2001:db8:0:20::1"), SRCLIMIT_OK);
	srclimit_free(t);

	struct srclimit_config bad = cfg(1, 0, 0);
	uint8_t k[SIPHASH_KEY_LEN] = { 0 };
	errno = 0;
	ck_assert_ptr_null(srclimit_new(0, &bad, k));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(srclimit_new(SRCLIMIT_MAX_SLOTS + 1, &bad, k));
	bad.v6_prefix = 129;
	ck_assert_ptr_null(srclimit_new(8, &bad, k));
	bad = cfg(1, 5, 0);
	ck_assert_ptr_null(srclimit_new(8, &bad, k));
	bad = cfg(1, 0, 0);
	bad.v4_prefix = 0;
	ck_assert_ptr_null(srclimit_new(8, &bad, k));
}
END_TEST

/* Four slots, rate 1 per hour so a source's bucket shows whether the table
 * still remembers it. The least recently seen idle source goes first. */
START_TEST(eviction_least_recently_seen_idle)
{
	struct srclimit *t = table(4, cfg(0, 1, 3600000));
	const char *s[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4" };

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(admit(t, s[i]), SRCLIMIT_OK);
		ck_assert_int_eq(release(t, s[i]), 0);
	}
	ck_assert_uint_eq(srclimit_used(t), 4);
	/* .1 is seen again (refused): now .2 is the least recently seen */
	ck_assert_int_eq(admit(t, s[0]), SRCLIMIT_OVER_RATE);
	ck_assert_int_eq(admit(t, "198.51.100.1"), SRCLIMIT_OK);	/* evicts .2 */
	ck_assert_uint_eq(srclimit_used(t), 4);
	ck_assert_int_eq(admit(t, s[0]), SRCLIMIT_OVER_RATE);		/* remembered */
	ck_assert_int_eq(admit(t, s[2]), SRCLIMIT_OVER_RATE);		/* remembered */
	ck_assert_int_eq(admit(t, s[3]), SRCLIMIT_OVER_RATE);		/* remembered */
	/* 198.51.100.1 is live; .2 comes back with a fresh bucket and evicts
	 * the least recently seen idle source, .1 */
	ck_assert_int_eq(admit(t, s[1]), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, s[2]), SRCLIMIT_OVER_RATE);
	ck_assert_int_eq(admit(t, s[0]), SRCLIMIT_OK);			/* forgotten: .1 was evicted */
	srclimit_free(t);
}
END_TEST

/* Sources with live connections are never evicted; when all slots are
 * live a new source is refused, and a release makes room. */
START_TEST(full_of_live_sources)
{
	struct srclimit *t = table(3, cfg(2, 0, 0));

	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.2"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "2001:db8::1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.9"), SRCLIMIT_FULL);
	ck_assert_int_eq(admit(t, "2001:db8:1::1"), SRCLIMIT_FULL);
	/* known sources still get their own answers */
	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(release(t, "192.0.2.2"), 0);
	ck_assert_int_eq(admit(t, "192.0.2.9"), SRCLIMIT_OK);		/* took .2's slot */
	ck_assert_int_eq(release(t, "192.0.2.2"), -1);			/* gone */
	ck_assert_int_eq(admit(t, "192.0.2.2"), SRCLIMIT_FULL);
	/* the live counts survived: .1 holds 2 */
	ck_assert_int_eq(release(t, "192.0.2.1"), 0);
	ck_assert_int_eq(release(t, "192.0.2.1"), 0);
	ck_assert_int_eq(release(t, "192.0.2.1"), -1);
	srclimit_free(t);
}
END_TEST

/* 10 000 sources (an attacker's forged addresses) through 1 024 slots: the
 * table never holds more, allocates nothing, and remembers the most recent
 * 1 024 exactly. */
START_TEST(many_sources_fixed_memory)
{
	struct srclimit *t = table(1024, cfg(4, 1, 3600000));
	size_t mem = srclimit_memory(t);
	struct mallinfo2 before = mallinfo2();

	for (size_t n = 0; n < 10000; n++) {
		uint8_t a[16];
		int f;
		uint32_t r;
		nth(n, n & 1, &f, a);
		ck_assert_int_eq(srclimit_admit(t, f, a, 5, &r), SRCLIMIT_OK);
		ck_assert_int_eq(srclimit_release(t, f, a), 0);
		ck_assert_uint_le(srclimit_used(t), 1024);
	}
	struct mallinfo2 after = mallinfo2();
	ck_assert_uint_eq(after.uordblks, before.uordblks);
	ck_assert_uint_eq(after.hblkhd, before.hblkhd);
	ck_assert_uint_eq(srclimit_memory(t), mem);
	ck_assert_uint_eq(srclimit_used(t), 1024);
	ck_assert_uint_lt(mem, 1024 * 64 + 4096);	/* what the header promises: fixed, small */
	/* the last 1 024 are remembered: their one token is spent (asking does
	 * not evict anything, so order does not matter) */
	for (size_t n = 10000 - 1024; n < 10000; n++) {
		uint8_t a[16];
		int f;
		uint32_t r;
		nth(n, n & 1, &f, a);
		ck_assert_int_eq(srclimit_admit(t, f, a, 5, &r), SRCLIMIT_OVER_RATE);
	}
	ck_assert_uint_eq(srclimit_used(t), 1024);
	srclimit_free(t);
}
END_TEST

/* Sources that hash to one bucket share a probe run; evicting some from the
 * middle of it keeps every other one reachable with its own counts. */
START_TEST(colliding_sources)
{
	struct srclimit *t = table(16, cfg(2, 0, 0));
	size_t target = 7 % srclimit_buckets(t);
	uint8_t col[10][16];
	int fcol[10];
	size_t nc = 0;

	for (size_t n = 0; nc < 10; n++) {
		uint8_t a[16];
		int f;
		nth(n, n % 3 == 0, &f, a);
		if (srclimit_bucket(t, f, a) != target)
			continue;
		memcpy(col[nc], a, 16);
		fcol[nc++] = f;
	}
	/* even ones hold two connections, odd ones are idle */
	for (size_t i = 0; i < nc; i++) {
		uint32_t r;
		ck_assert_int_eq(srclimit_admit(t, fcol[i], col[i], 1, &r), SRCLIMIT_OK);
		if (i % 2)
			ck_assert_int_eq(srclimit_release(t, fcol[i], col[i]), 0);
		else
			ck_assert_int_eq(srclimit_admit(t, fcol[i], col[i], 1, &r), SRCLIMIT_OK);
	}
	/* fill the rest, then push through enough new sources to evict all idle */
	for (size_t n = 0; n < 40; n++) {
		uint8_t a[16];
		int f;
		uint32_t r;
		nth(1000000 + n, n % 2, &f, a);
		enum srclimit_status st = srclimit_admit(t, f, a, 2, &r);
		ck_assert(st == SRCLIMIT_OK || st == SRCLIMIT_FULL);
		if (st == SRCLIMIT_OK)
			ck_assert_int_eq(srclimit_release(t, f, a), 0);
	}
	for (size_t i = 0; i < nc; i++) {
		uint32_t r;
		if (i % 2) {	/* evicted: nothing to release */
			ck_assert_int_eq(srclimit_release(t, fcol[i], col[i]), -1);
			continue;
		}
		ck_assert_int_eq(srclimit_admit(t, fcol[i], col[i], 3, &r), SRCLIMIT_OVER_CONCURRENT);
		ck_assert_int_eq(srclimit_release(t, fcol[i], col[i]), 0);
		ck_assert_int_eq(srclimit_release(t, fcol[i], col[i]), 0);
		ck_assert_int_eq(srclimit_release(t, fcol[i], col[i]), -1);
	}
	srclimit_free(t);
}
END_TEST

/* The bucket depends on the key: another key spreads the same sources
 * differently, so collisions found under one key do not carry over. */
START_TEST(keyed_buckets)
{
	uint8_t k2[SIPHASH_KEY_LEN] = { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };
	struct srclimit_config c = cfg(1, 0, 0);
	struct srclimit *a = srclimit_new(1024, &c, key), *b = srclimit_new(1024, &c, k2);
	size_t same = 0;

	for (size_t n = 0; n < 1000; n++) {
		uint8_t addr[16];
		int f;
		nth(n, n & 1, &f, addr);
		same += srclimit_bucket(a, f, addr) == srclimit_bucket(b, f, addr);
	}
	ck_assert_uint_lt(same, 20);	/* ~0.5 expected by chance out of 2048 buckets */
	srclimit_free(a);
	srclimit_free(b);
}
END_TEST

/* A source keeps its slot while it has a live connection, even while
 * others churn through the table; releasing by slot is releasing it. */
START_TEST(release_by_slot)
{
	struct srclimit *t = table(4, cfg(5, 0, 0));
	uint8_t a[16];
	int f;
	uint32_t r;

	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OK);
	ck_assert_int_eq(admit(t, "192.0.2.1"), SRCLIMIT_OK);
	inet_pton(AF_INET, "192.0.2.1", a);
	long slot = srclimit_slot(t, AF_INET, a);
	ck_assert_int_ge(slot, 0);
	for (size_t n = 0; n < 100; n++) {	/* churn the other three slots */
		uint8_t b[16];
		nth(n, n & 1, &f, b);
		ck_assert_int_eq(srclimit_admit(t, f, b, 1, &r), SRCLIMIT_OK);
		ck_assert_int_eq(srclimit_release(t, f, b), 0);
	}
	ck_assert_int_eq(srclimit_slot(t, AF_INET, a), slot);
	ck_assert_int_eq(srclimit_release_slot(t, (uint32_t)slot), 0);
	ck_assert_int_eq(srclimit_release(t, AF_INET, a), 0);
	ck_assert_int_eq(srclimit_release_slot(t, (uint32_t)slot), -1);	/* none left */
	ck_assert_int_eq(srclimit_release_slot(t, 4), -1);			/* out of range */
	ck_assert_int_eq(srclimit_release_slot(t, UINT32_MAX), -1);
	inet_pton(AF_INET, "198.51.100.1", a);
	ck_assert_int_eq(srclimit_slot(t, AF_INET, a), -1);
	srclimit_free(t);
}
END_TEST

/* 200 000 random admits and releases from 64 sources through 16 slots,
 * against the caller's own books: a release is accepted exactly when the
 * caller holds an admitted connection of that source, no source ever holds
 * more than the limit, and FULL comes only when 16 sources hold live
 * connections. */
START_TEST(random_operations_keep_the_books)
{
	struct srclimit *t = table(16, cfg(3, 2, 1000));
	uint32_t live[64] = { 0 };
	uint64_t x = 88172645463325252u, now = 0;
	unsigned seen[4] = { 0 };

	for (int op = 0; op < 200000; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t n = x % 64;
		uint8_t a[16];
		int f;
		uint32_t r;
		nth(n, n % 2, &f, a);
		now += (x >> 8) % 16;
		if ((x >> 20) % 16 < 7) {
			/* mostly a source holding one; sometimes any, to see -1 */
			for (size_t i = 0; (x >> 24) % 8 && i < 64 && !live[n]; i++)
				n = (n + 1) % 64;
			nth(n, n % 2, &f, a);
			int got = srclimit_release(t, f, a);
			ck_assert_int_eq(got, live[n] ? 0 : -1);
			if (live[n])
				live[n]--;
			continue;
		}
		size_t busy = 0;
		for (size_t i = 0; i < 64; i++)
			busy += live[i] > 0;
		enum srclimit_status st = srclimit_admit(t, f, a, now, &r);
		seen[st]++;
		switch (st) {
		case SRCLIMIT_OK:
			ck_assert_uint_lt(live[n], 3);
			live[n]++;
			break;
		case SRCLIMIT_OVER_CONCURRENT:
			ck_assert_uint_eq(live[n], 3);
			break;
		case SRCLIMIT_OVER_RATE:
			ck_assert_uint_ge(r, 1);
			break;
		case SRCLIMIT_FULL:
			ck_assert_uint_eq(live[n], 0);
			ck_assert_uint_eq(busy, 16);
			break;
		}
		ck_assert_uint_le(srclimit_used(t), 16);
	}
	/* every answer was given many times: the books were tested on each */
	for (int i = 0; i < 4; i++)
		ck_assert_uint_gt(seen[i], 1000);
	srclimit_free(t);
}
END_TEST

static enum srclimit_status take_at(struct srclimit *t, const char *a, uint32_t site, uint32_t rate,
				    uint32_t window_ms, uint64_t now, uint32_t *retry)
{
	uint8_t b[16];
	uint32_t r;
	ck_assert_int_eq(inet_pton(fam(a), a, b), 1);
	return srclimit_take(t, fam(a), b, site, rate, window_ms, now, retry ? retry : &r);
}

/* A site's rate (srclimit_take): one bucket per source and site, each
 * site's own rate; the same source at another site, and another source
 * at the same site, keep theirs; nothing is held, so a table full of
 * sources evicts the least recently seen (whose bucket is then full
 * again) and memory stays what srclimit_new took. */
START_TEST(site_rates)
{
	struct srclimit *t = table(4, cfg(0, 0, 0));
	size_t mem = srclimit_memory(t);
	uint32_t retry;

	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(take_at(t, "192.0.2.1", 3, 2, 60000, 1000, NULL), SRCLIMIT_OK);
	ck_assert_int_eq(take_at(t, "192.0.2.1", 3, 2, 60000, 1000, &retry), SRCLIMIT_OVER_RATE);
	ck_assert_uint_eq(retry, 30);	/* one token each 30 s */
	ck_assert_int_eq(take_at(t, "::ffff:192.0.2.1", 3, 2, 60000, 1000, NULL), SRCLIMIT_OVER_RATE);
	/* another site of the same source: its own bucket, its own rate */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(take_at(t, "192.0.2.1", 4, 5, 1000, 1000, NULL), SRCLIMIT_OK);
	ck_assert_int_eq(take_at(t, "192.0.2.1", 4, 5, 1000, 1000, &retry), SRCLIMIT_OVER_RATE);
	ck_assert_uint_eq(retry, 1);
	/* another source at site 3 */
	ck_assert_int_eq(take_at(t, "192.0.2.2", 3, 2, 60000, 1000, NULL), SRCLIMIT_OK);
	/* a /64 is one source */
	ck_assert_int_eq(take_at(t, "2001:db8::1", 3, 1, 60000, 1000, NULL), SRCLIMIT_OK);
	ck_assert_int_eq(take_at(t, "2001:db8::2", 3, 1, 60000, 1000, NULL), SRCLIMIT_OVER_RATE);
	/* 30 s later site 3 has one token for 192.0.2.1 again */
	ck_assert_int_eq(take_at(t, "192.0.2.1", 3, 2, 60000, 31000, NULL), SRCLIMIT_OK);
	ck_assert_int_eq(take_at(t, "192.0.2.1", 3, 2, 60000, 31000, NULL), SRCLIMIT_OVER_RATE);
	ck_assert_uint_eq(srclimit_used(t), 4);
	/* a fifth (source, site): the least recently seen, 192.0.2.1 at
	 * site 4, is evicted and comes back with a full bucket */
	ck_assert_int_eq(take_at(t, "192.0.2.3", 3, 2, 60000, 31000, NULL), SRCLIMIT_OK);
	ck_assert_uint_eq(srclimit_used(t), 4);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(take_at(t, "192.0.2.1", 4, 5, 1000, 31000, NULL), SRCLIMIT_OK);
	/* rate 0: no limit, nothing stored */
	ck_assert_int_eq(take_at(t, "192.0.2.9", 7, 0, 0, 31000, NULL), SRCLIMIT_OK);
	ck_assert_uint_eq(srclimit_memory(t), mem);
	srclimit_free(t);
}
END_TEST

Suite *make_srclimit_suite(void)
{
	Suite *s = suite_create("srclimit");
	TCase *tc = tcase_create("srclimit");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, siphash_vectors);
	tcase_add_test(tc, concurrent_per_source);
	tcase_add_test(tc, rate_per_source);
	tcase_add_test(tc, grouping_configurable);
	tcase_add_test(tc, eviction_least_recently_seen_idle);
	tcase_add_test(tc, full_of_live_sources);
	tcase_add_test(tc, many_sources_fixed_memory);
	tcase_add_test(tc, colliding_sources);
	tcase_add_test(tc, keyed_buckets);
	tcase_add_test(tc, release_by_slot);
	tcase_add_test(tc, random_operations_keep_the_books);
	tcase_add_test(tc, site_rates);
	suite_add_tcase(s, tc);
	return s;
}
