/* SPDX-License-Identifier: MIT */
/* Prefix sets: CIDR text, edges, both orders, and 100 000 random prefixes
 * against two independent references. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "suites.h"
#include "router/prefixset.h"

static struct prefix P(const char *text)
{
	struct prefix p;
	char err[PREFIX_ERROR_MAX];
	ck_assert_msg(prefix_parse(text, strlen(text), &p, err, sizeof(err)) == 0, "%s: %s", text, err);
	return p;
}

static uint32_t look(const struct prefixset *s, const char *addr)
{
	uint8_t a[16];
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(family, addr, a), 1);
	return prefixset_lookup(s, family, a);
}

static struct prefixset *build(const char *const *texts, const uint32_t *values, size_t n, enum prefixset_order o)
{
	struct prefixset_entry e[16];
	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++) {
		e[i].prefix = P(texts[i]);
		e[i].value = values[i];
	}
	struct prefixset *s = prefixset_build(e, n, o);
	ck_assert_ptr_nonnull(s);
	return s;
}

START_TEST(parse_forms)
{
	struct prefix p = P("192.0.2.0/24");
	ck_assert_int_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.len, 24);
	ck_assert_mem_eq(p.addr, "\xc0\x00\x02\x00", 4);
	p = P("192.0.2.7");
	ck_assert_uint_eq(p.len, 32);
	p = P("2001:db8::/32");
	ck_assert_int_eq(p.family, AF_INET6);
	ck_assert_uint_eq(p.len, 32);
	p = P("2001:db8::1");
	ck_assert_uint_eq(p.len, 128);
	p = P("::/0");
	ck_assert_int_eq(p.family, AF_INET6);
	ck_assert_uint_eq(p.len, 0);
	p = P("0.0.0.0/0");
	ck_assert_int_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.len, 0);
	/* inside ::ffff:0:0/96 is an IPv4 prefix */
	p = P("::ffff:192.0.2.0/120");
	ck_assert_int_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.len, 24);
	ck_assert_mem_eq(p.addr, "\xc0\x00\x02\x00", 4);
	p = P("::ffff:0:0/96");
	ck_assert_int_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.len, 0);
	p = P("::fffe:0:0/95");		/* wider: an IPv6 prefix (matches no IPv4 client) */
	ck_assert_int_eq(p.family, AF_INET6);
}
END_TEST

START_TEST(parse_errors)
{
	static const struct { const char *in, *err; } c[] = {
		{ "192.0.2.1/24", "host bits set after /24 (the prefix is 192.0.2.0/24)" },
		{ "10.0.0.1/8", "host bits set after /8 (the prefix is 10.0.0.0/8)" },
		{ "2001:db8::1/32", "host bits set after /32 (the prefix is 2001:db8::/32)" },
		{ "::1/0", "host bits set after /0 (the prefix is ::/0)" },
		{ "1.2.3.4/33", "prefix length must be 0..32" },
		{ "1.2.3.4/", "prefix length must be 0..32" },
		{ "1.2.3.4/024", "prefix length must be 0..32" },
		{ "1.2.3.4/-1", "prefix length must be 0..32" },
		{ "1.2.3.4/24/5", "prefix length must be 0..32" },
		{ "1.2.3.4/ 24", "prefix length must be 0..32" },
		{ "2001:db8::/129", "prefix length must be 0..128" },
		{ "2001:db8::/1000", "prefix length must be 0..128" },
		{ "/24", "not an IPv4 or IPv6 address or prefix" },
		{ "", "not an IPv4 or IPv6 address or prefix" },
		{ "1.2.3", "not an IPv4 or IPv6 address or prefix" },
		{ "1.2.3.04", "not an IPv4 or IPv6 address or prefix" },
		{ "fe80::1%eth0", "not an IPv4 or IPv6 address or prefix" },
		{ "example.com", "not an IPv4 or IPv6 address or prefix" },
		{ "[::1]", "not an IPv4 or IPv6 address or prefix" },
		{ "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/128", "not an IPv4 or IPv6 address or prefix" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct prefix p;
		char err[PREFIX_ERROR_MAX] = "";
		int r = prefix_parse(c[i].in, strlen(c[i].in), &p, err, sizeof(err));
		ck_assert_msg(r == -1, "%s accepted", c[i].in);
		ck_assert_msg(strcmp(err, c[i].err) == 0, "%s: \"%s\"", c[i].in, err);
	}
	/* the length given is what is read, not up to a NUL */
	struct prefix p;
	ck_assert_int_eq(prefix_parse("10.0.0.0/8 junk", 10, &p, NULL, 0), 0);
	ck_assert_uint_eq(p.len, 8);
}
END_TEST

/* Every prefix of valid text, from an exact-size heap copy: read only up to
 * the length given (ASan sees a read past it), answered with a prefix or a
 * message, never a crash; the whole text gives what it says. */
START_TEST(parse_every_prefix)
{
	static const char *const texts[] = {
		"192.0.2.0/24", "2001:db8::/32", "::ffff:192.0.2.128/121", "255.255.255.255",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "0.0.0.0/0", "::/0",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = strlen(texts[i]);
		for (size_t k = 0; k <= n; k++) {
			char *copy = malloc(k ? k : 1);
			char err[PREFIX_ERROR_MAX] = "";
			struct prefix p;
			ck_assert_ptr_nonnull(copy);
			memcpy(copy, texts[i], k);
			int r = prefix_parse(copy, k, &p, err, sizeof(err));
			free(copy);
			if (k == n)
				ck_assert_msg(r == 0, "%s: %s", texts[i], err);
			else
				ck_assert(r == 0 || (r == -1 && err[0] != '\0'));
		}
	}
}
END_TEST

START_TEST(everything_and_single_hosts)
{
	const char *t[] = { "0.0.0.0/0", "::/0", "192.0.2.1/32", "2001:db8::1/128", "255.255.255.255",
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0/32", "::/128" };
	const uint32_t v[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct prefixset *s = build(t, v, 8, PREFIXSET_LONGEST_MATCH);

	ck_assert_uint_eq(look(s, "0.0.0.0"), 7);
	ck_assert_uint_eq(look(s, "0.0.0.1"), 1);
	ck_assert_uint_eq(look(s, "192.0.2.0"), 1);
	ck_assert_uint_eq(look(s, "192.0.2.1"), 3);
	ck_assert_uint_eq(look(s, "192.0.2.2"), 1);
	ck_assert_uint_eq(look(s, "255.255.255.254"), 1);
	ck_assert_uint_eq(look(s, "255.255.255.255"), 5);
	ck_assert_uint_eq(look(s, "::"), 8);
	ck_assert_uint_eq(look(s, "::1"), 2);
	ck_assert_uint_eq(look(s, "2001:db8::"), 2);
	ck_assert_uint_eq(look(s, "2001:db8::1"), 4);
	ck_assert_uint_eq(look(s, "2001:db8::2"), 2);
	ck_assert_uint_eq(look(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 2);
	ck_assert_uint_eq(look(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 6);
	/* mapped clients are IPv4 clients */
	ck_assert_uint_eq(look(s, "::ffff:192.0.2.1"), 3);
	ck_assert_uint_eq(look(s, "::ffff:198.51.100.1"), 1);
	ck_assert_uint_eq(look(s, "::ffff:255.255.255.255"), 5);
	prefixset_free(s);
}
END_TEST

/* ::/0 is not IPv4, 0.0.0.0/0 is not IPv6, and a set of one family leaves
 * the other unmatched. */
START_TEST(families_apart)
{
	const char *t4[] = { "0.0.0.0/0" }, *t6[] = { "::/0" };
	const uint32_t v[] = { 9 };
	struct prefixset *s4 = build(t4, v, 1, PREFIXSET_FIRST_MATCH);
	struct prefixset *s6 = build(t6, v, 1, PREFIXSET_FIRST_MATCH);
	struct prefixset *none = prefixset_build(NULL, 0, PREFIXSET_FIRST_MATCH);

	ck_assert_uint_eq(look(s4, "203.0.113.1"), 9);
	ck_assert_uint_eq(look(s4, "::ffff:203.0.113.1"), 9);
	ck_assert_uint_eq(look(s4, "2001:db8::1"), PREFIXSET_NONE);
	ck_assert_uint_eq(look(s4, "::"), PREFIXSET_NONE);
	ck_assert_uint_eq(look(s6, "2001:db8::1"), 9);
	ck_assert_uint_eq(look(s6, "::"), 9);
	ck_assert_uint_eq(look(s6, "203.0.113.1"), PREFIXSET_NONE);
	ck_assert_uint_eq(look(s6, "::ffff:203.0.113.1"), PREFIXSET_NONE);
	ck_assert_ptr_nonnull(none);
	ck_assert_uint_eq(look(none, "1.2.3.4"), PREFIXSET_NONE);
	ck_assert_uint_eq(look(none, "::1"), PREFIXSET_NONE);
	ck_assert_uint_eq(prefixset_lookup(none, AF_UNIX, (const uint8_t *)"x"), PREFIXSET_NONE);
	prefixset_free(s4);
	prefixset_free(s6);
	prefixset_free(none);
}
END_TEST

/* Adjacent prefixes with one value merge into one range; with two they
 * stay two, and the neighbours outside match nothing. */
START_TEST(adjacent)
{
	const char *t[] = { "10.0.0.0/25", "10.0.0.128/25", "2001:db8::/33", "2001:db8:8000::/33" };
	const uint32_t same[] = { 1, 1, 1, 1 }, diff[] = { 1, 2, 3, 4 };
	struct prefixset *s = build(t, same, 4, PREFIXSET_FIRST_MATCH);

	/* none, [10.0.0.0/24], none  +  none, [2001:db8::/32], none */
	ck_assert_uint_eq(prefixset_ranges(s), 6);
	ck_assert_uint_eq(look(s, "9.255.255.255"), PREFIXSET_NONE);
	ck_assert_uint_eq(look(s, "10.0.0.0"), 1);
	ck_assert_uint_eq(look(s, "10.0.0.255"), 1);
	ck_assert_uint_eq(look(s, "10.0.1.0"), PREFIXSET_NONE);
	ck_assert_uint_eq(look(s, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), PREFIXSET_NONE);
	ck_assert_uint_eq(look(s, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
	ck_assert_uint_eq(look(s, "2001:db9::"), PREFIXSET_NONE);
	prefixset_free(s);

	s = build(t, diff, 4, PREFIXSET_FIRST_MATCH);
	ck_assert_uint_eq(prefixset_ranges(s), 8);
	ck_assert_uint_eq(look(s, "10.0.0.127"), 1);
	ck_assert_uint_eq(look(s, "10.0.0.128"), 2);
	ck_assert_uint_eq(look(s, "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff"), 3);
	ck_assert_uint_eq(look(s, "2001:db8:8000::"), 4);
	prefixset_free(s);
}
END_TEST

/* deny 10/8 then allow 10.1/16: in written order 10.1.x is denied (the deny
 * came first); by longest prefix it is allowed. Written the other way round
 * both orders agree. Identical prefixes: the first written wins in both. */
START_TEST(overlapping_orders)
{
	enum { ALLOW = 1, DENY = 2 };
	const char *t[] = { "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.0.0.0/8" };
	const uint32_t v[] = { DENY, ALLOW, DENY, ALLOW };
	struct prefixset *first = build(t, v, 4, PREFIXSET_FIRST_MATCH);
	struct prefixset *longest = build(t, v, 4, PREFIXSET_LONGEST_MATCH);

	ck_assert_uint_eq(look(first, "10.1.0.1"), DENY);
	ck_assert_uint_eq(look(first, "10.1.2.3"), DENY);
	ck_assert_uint_eq(look(first, "10.2.0.1"), DENY);
	ck_assert_uint_eq(look(first, "11.0.0.0"), PREFIXSET_NONE);
	ck_assert_uint_eq(prefixset_ranges(first), 3 + 1);	/* v4: none, 10/8, none; v6: none */
	ck_assert_uint_eq(look(longest, "10.1.0.1"), ALLOW);
	ck_assert_uint_eq(look(longest, "10.1.2.3"), DENY);
	ck_assert_uint_eq(look(longest, "10.1.3.0"), ALLOW);
	ck_assert_uint_eq(look(longest, "10.2.0.1"), DENY);	/* the first 10/8 */
	ck_assert_uint_eq(look(longest, "9.0.0.0"), PREFIXSET_NONE);
	prefixset_free(first);
	prefixset_free(longest);

	const char *r[] = { "10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8" };
	const uint32_t rv[] = { DENY, ALLOW, DENY };
	first = build(r, rv, 3, PREFIXSET_FIRST_MATCH);
	longest = build(r, rv, 3, PREFIXSET_LONGEST_MATCH);
	static const char *const probe[] = { "10.1.2.255", "10.1.3.0", "10.1.1.255", "10.255.0.0", "10.0.255.255" };
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(look(first, probe[i]), look(longest, probe[i]));
	ck_assert_uint_eq(look(first, "10.1.2.255"), DENY);
	ck_assert_uint_eq(look(first, "10.1.3.0"), ALLOW);
	prefixset_free(first);
	prefixset_free(longest);
}
END_TEST

/* A prefix inside ::ffff:0:0/96 handed to build (not parsed from text) is
 * an IPv4 prefix too, or it could never match: mapped clients are IPv4. */
START_TEST(mapped_entry_is_ipv4)
{
	struct prefixset_entry e = { .prefix = { .family = AF_INET6, .len = 120 }, .value = 5 };
	inet_pton(AF_INET6, "::ffff:10.0.0.0", e.prefix.addr);
	struct prefixset *s = prefixset_build(&e, 1, PREFIXSET_FIRST_MATCH);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(look(s, "10.0.0.255"), 5);
	ck_assert_uint_eq(look(s, "::ffff:10.0.0.1"), 5);
	ck_assert_uint_eq(look(s, "10.0.1.0"), PREFIXSET_NONE);
	prefixset_free(s);
}
END_TEST

START_TEST(bad_entries_refused)
{
	struct prefixset_entry e = { .prefix = P("10.0.0.0/8"), .value = PREFIXSET_NONE };

	errno = 0;
	ck_assert_ptr_null(prefixset_build(&e, 1, PREFIXSET_FIRST_MATCH));
	ck_assert_int_eq(errno, EINVAL);
	e.value = 1;
	e.prefix.addr[3] = 1;		/* host bits */
	ck_assert_ptr_null(prefixset_build(&e, 1, PREFIXSET_FIRST_MATCH));
	e.prefix.addr[3] = 0;
	e.prefix.len = 33;
	ck_assert_ptr_null(prefixset_build(&e, 1, PREFIXSET_FIRST_MATCH));
}
END_TEST

/* ---- random sets against references ------------------------------------- */

#define NPREFIX 100000u
#define NLOOKUP 100000u
#define NSCAN 2000u		/* lookups also checked by a linear scan */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static bool covers(const struct prefix *p, int family, const uint8_t *a)
{
	if (p->family != family)
		return false;
	unsigned full = p->len / 8, rest = p->len % 8;
	if (memcmp(p->addr, a, full) != 0)
		return false;
	return rest == 0 || ((p->addr[full] ^ a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The reference everyone agrees on: read the list top to bottom. */
static uint32_t linear(const struct prefixset_entry *e, size_t n, enum prefixset_order o, int family,
		       const uint8_t *a)
{
	size_t best = n;
	for (size_t i = 0; i < n; i++) {
		if (!covers(&e[i].prefix, family, a))
			continue;
		if (o == PREFIXSET_FIRST_MATCH)
			return e[i].value;
		if (best == n || e[i].prefix.len > e[best].prefix.len)
			best = i;
	}
	return best == n ? PREFIXSET_NONE : e[best].value;
}

/* A second reference fast enough for every lookup: one hash table keyed by
 * (family, length, masked address) holding the first index written, probed
 * at every length. */
struct ref_slot {
	struct prefix p;
	size_t index;
	bool used;
};
#define REF_SLOTS (1u << 18)

static uint64_t ref_hash(const struct prefix *p)
{
	uint64_t h = 1469598103934665603u ^ (uint64_t)p->family ^ ((uint64_t)p->len << 8);
	for (int i = 0; i < 16; i++)
		h = (h ^ p->addr[i]) * 1099511628211u;
	return h;
}

static struct ref_slot *ref_find(struct ref_slot *t, const struct prefix *p)
{
	for (uint64_t i = ref_hash(p);; i++) {
		struct ref_slot *s = &t[i & (REF_SLOTS - 1)];
		if (!s->used || (s->p.family == p->family && s->p.len == p->len &&
				 memcmp(s->p.addr, p->addr, 16) == 0))
			return s;
	}
}

static uint32_t by_length(struct ref_slot *t, const struct prefixset_entry *e, enum prefixset_order o,
			  int family, const uint8_t *a)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	size_t best = SIZE_MAX;
	for (unsigned len = 0; len <= bits; len++) {
		struct prefix k = { .family = family, .len = len };
		memcpy(k.addr, a, bits / 8);
		for (unsigned b = len; b < bits; b++)
			k.addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		struct ref_slot *s = ref_find(t, &k);
		if (!s->used)
			continue;
		if (o == PREFIXSET_LONGEST_MATCH || best == SIZE_MAX || s->index < best)
			best = s->index;
	}
	return best == SIZE_MAX ? PREFIXSET_NONE : e[best].value;
}

static void random_prefix(struct prefixset_entry *e, const struct prefixset_entry *pool, size_t npool)
{
	int v6 = rnd() & 1;
	struct prefix *p = &e->prefix;

	memset(p, 0, sizeof(*p));
	p->family = v6 ? AF_INET6 : AF_INET;
	if (npool && rnd() % 4 != 0) {
		/* inside or around an earlier prefix, so they nest and repeat */
		const struct prefix *q = &pool[rnd() % npool].prefix;
		p->family = q->family;
		memcpy(p->addr, q->addr, 16);
	}
	unsigned bits = p->family == AF_INET ? 32 : 128;
	for (unsigned b = 0; b < bits; b += 8)
		if (npool == 0 || b >= 8 * (1 + rnd() % (bits / 8)))
			p->addr[b / 8] = (uint8_t)rnd();
	p->len = (unsigned)(rnd() % 64 == 0 ? rnd() % 8 : bits / 4 + rnd() % (bits - bits / 4 + 1));
	for (unsigned b = p->len; b < bits; b++)
		p->addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	e->value = (uint32_t)(rnd() % 4);
}

START_TEST(random_agrees_with_references)
{
	enum prefixset_order order = _i ? PREFIXSET_LONGEST_MATCH : PREFIXSET_FIRST_MATCH;
	struct prefixset_entry *e = calloc(NPREFIX, sizeof(*e));
	struct ref_slot *t = calloc(REF_SLOTS, sizeof(*t));
	size_t hits = 0;

	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(t);
	for (size_t i = 0; i < NPREFIX; i++) {
		random_prefix(&e[i], e, i);
		struct ref_slot *s = ref_find(t, &e[i].prefix);
		if (!s->used) {
			s->used = true;
			s->p = e[i].prefix;
			s->index = i;
		}
	}
	struct prefixset *set = prefixset_build(e, NPREFIX, order);
	ck_assert_ptr_nonnull(set);
	ck_assert_uint_le(prefixset_ranges(set), 2 * NPREFIX + 2);

	for (size_t i = 0; i < NLOOKUP; i++) {
		uint8_t a[16];
		int family;
		if (rnd() % 3 == 0) {
			family = rnd() & 1 ? AF_INET6 : AF_INET;
			for (int b = 0; b < 16; b++)
				a[b] = (uint8_t)rnd();
		} else {
			/* an address inside a listed prefix, or just past its end */
			const struct prefix *p = &e[rnd() % NPREFIX].prefix;
			unsigned bits = p->family == AF_INET ? 32 : 128;
			family = p->family;
			memcpy(a, p->addr, 16);
			for (unsigned b = p->len; b < bits; b++)
				if (rnd() & 1)
					a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			if (rnd() % 8 == 0)
				for (int b = (int)bits / 8 - 1; b >= 0 && ++a[b] == 0; b--)
					;
		}
		uint32_t got = prefixset_lookup(set, family, a);
		ck_assert_uint_eq(got, by_length(t, e, order, family, a));
		if (i < NSCAN)
			ck_assert_uint_eq(got, linear(e, NPREFIX, order, family, a));
		if (family == AF_INET) {
			uint8_t m[16] = { [10] = 0xff, [11] = 0xff };
			memcpy(m + 12, a, 4);
			ck_assert_uint_eq(prefixset_lookup(set, AF_INET6, m), got);
		}
		hits += got != PREFIXSET_NONE;
	}
	/* the test means something only if most lookups hit a prefix */
	ck_assert_uint_gt(hits, NLOOKUP / 2);
	prefixset_free(set);
	free(t);
	free(e);
}
END_TEST

/* ---- cost per lookup, counted ------------------------------------------ */

/* n random prefixes of one family (IPv4 /20../32, IPv6 /16../64: few
 * cover one another, so the set keeps about 2n ranges) */
static struct prefixset *random_set(size_t n, int family)
{
	struct prefixset_entry *e = calloc(n, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	for (size_t i = 0; i < n; i++) {
		struct prefix *p = &e[i].prefix;
		p->family = family;
		p->len = family == AF_INET ? 20 + (unsigned)(rnd() % 13) : 16 + (unsigned)(rnd() % 49);
		for (unsigned b = 0; b < 16; b += 8) {
			uint64_t r = rnd();
			memcpy(p->addr + b, &r, 8);
		}
		unsigned bytes = family == AF_INET ? 4 : 16;
		memset(p->addr + bytes, 0, 16 - bytes);
		for (unsigned b = p->len; b < 8 * bytes; b++)
			p->addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		e[i].value = (uint32_t)(i & 1);
	}
	struct prefixset *set = prefixset_build(e, n, PREFIXSET_FIRST_MATCH);
	ck_assert_ptr_nonnull(set);
	free(e);
	return set;
}

/* Ranges compared per lookup over NLOOKUP random addresses: the total and
 * the most for one. */
static void probes_of(const struct prefixset *set, int family, uint64_t *total, unsigned *most)
{
	uint8_t a[16];
	*total = 0;
	*most = 0;
	for (unsigned i = 0; i < NLOOKUP; i++) {
		for (unsigned b = 0; b < 16; b += 8) {
			uint64_t r = rnd();
			memcpy(a + b, &r, 8);
		}
		unsigned p = prefixset_probes(set, family, a);
		*total += p;
		if (p > *most)
			*most = p;
	}
}

/* Issue #15: a lookup costs the same with 100 000 prefixes as with 10.
 * Counted, not timed: the binary search after the index step compares
 * about as many ranges with 100 000 prefixes (~200 000 ranges, log2 18)
 * as with 10, on average within one, and never more than a handful. */
START_TEST(cost_flat_with_size)
{
	int family = _i == 0 ? AF_INET : AF_INET6;
	uint64_t t10, t100k;
	unsigned m10, m100k;

	rng_state = 0x2545f4914f6cdd1du + (uint64_t)_i;
	struct prefixset *small = random_set(10, family), *big = random_set(NPREFIX, family);
	probes_of(small, family, &t10, &m10);
	probes_of(big, family, &t100k, &m100k);
	printf("prefixset %s: ranges compared per lookup, mean %.2f (most %u) with 10 prefixes, "
	       "%.2f (most %u) with %u (%zu ranges)\n", family == AF_INET ? "IPv4" : "IPv6",
	       (double)t10 / NLOOKUP, m10, (double)t100k / NLOOKUP, m100k, NPREFIX, prefixset_ranges(big));
	ck_assert_uint_ge(prefixset_ranges(big), 100000);
	ck_assert_uint_le(t100k, t10 + NLOOKUP);	/* mean within one probe */
	ck_assert_uint_le(m100k, 8);			/* a plain binary search: 17 or 18 */
	prefixset_free(small);
	prefixset_free(big);
}
END_TEST

Suite *make_prefixset_suite(void)
{
	Suite *s = suite_create("prefixset");
	TCase *tc = tcase_create("prefixset");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parse_forms);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, parse_every_prefix);
	tcase_add_test(tc, everything_and_single_hosts);
	tcase_add_test(tc, families_apart);
	tcase_add_test(tc, adjacent);
	tcase_add_test(tc, overlapping_orders);
	tcase_add_test(tc, mapped_entry_is_ipv4);
	tcase_add_test(tc, bad_entries_refused);
	suite_add_tcase(s, tc);
	TCase *big = tcase_create("random");
	tcase_set_timeout(big, 120);
	tcase_add_loop_test(big, random_agrees_with_references, 0, 2);
	tcase_add_loop_test(big, cost_flat_with_size, 0, 2);
	suite_add_tcase(s, big);
	return s;
}
