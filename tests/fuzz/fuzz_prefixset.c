/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: prefixset_build() and prefixset_lookup() against a
 * linear scan of the list, and prefix_parse() as a fixed point.
 * Input: byte 0 picks the order; then entries of one selector byte
 * (bit 7: IPv6; the rest: length), the address bytes, one value byte; at
 * most 64 entries. Every entry's first and last address and their
 * neighbours are looked up, as IPv4 and as v4-mapped IPv6. The same bytes
 * (from byte 1) are also parsed as CIDR text.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "router/prefixset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)
#define MAXE 64

static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* The documented meaning, spelled out independently: a client address in
 * ::ffff:0:0/96 is an IPv4 client, and a prefix inside it an IPv4 prefix. */
static bool is_mapped_prefix(const struct prefix *p)
{
	return p->family == AF_INET6 && p->len >= 96 && memcmp(p->addr, mapped, 12) == 0;
}

static unsigned length(const struct prefix *p)
{
	return is_mapped_prefix(p) ? p->len - 96 : p->len;
}

static bool covers(const struct prefix *p, int family, const uint8_t *a)
{
	const uint8_t *pa = p->addr;
	unsigned len = length(p);
	int pf = p->family;

	if (is_mapped_prefix(p)) {
		pf = AF_INET;
		pa += 12;
	}
	if (pf != family)
		return false;
	for (unsigned b = 0; b < len; b++)
		if ((pa[b / 8] ^ a[b / 8]) & (0x80 >> (b % 8)))
			return false;
	return true;
}

static uint32_t linear(const struct prefixset_entry *e, size_t n, enum prefixset_order o, int family,
		       const uint8_t *a)
{
	size_t best = n;
	if (family == AF_INET6 && memcmp(a, mapped, 12) == 0) {
		family = AF_INET;
		a += 12;
	}
	for (size_t i = 0; i < n; i++) {
		if (!covers(&e[i].prefix, family, a))
			continue;
		if (o == PREFIXSET_FIRST_MATCH)
			return e[i].value;
		if (best == n || length(&e[i].prefix) > length(&e[best].prefix))
			best = i;
	}
	return best == n ? PREFIXSET_NONE : e[best].value;
}

static void probe(const struct prefixset *s, const struct prefixset_entry *e, size_t n,
		  enum prefixset_order o, int family, const uint8_t *a)
{
	uint32_t got = prefixset_lookup(s, family, a);
	CHECK(got == linear(e, n, o, family, a));
	if (family == AF_INET) {
		uint8_t m[16] = { [10] = 0xff, [11] = 0xff };
		memcpy(m + 12, a, 4);
		CHECK(prefixset_lookup(s, AF_INET6, m) == got);
	}
}

/* a +/- 1 in place, wrapping */
static void step(uint8_t *a, unsigned bytes, int dir)
{
	for (int i = (int)bytes - 1; i >= 0; i--) {
		a[i] = (uint8_t)(a[i] + dir);
		if (a[i] != (dir > 0 ? 0 : 0xff))
			return;
	}
}

static void check_text(const uint8_t *in, size_t len)
{
	struct prefix p, q;
	char err[PREFIX_ERROR_MAX], text[INET6_ADDRSTRLEN + 8];

	if (len > 64)
		len = 64;
	err[0] = '\0';
	if (prefix_parse((const char *)in, len, &p, err, sizeof(err)) != 0) {
		CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
		return;
	}
	unsigned bits = p.family == AF_INET ? 32 : 128;
	CHECK(p.family == AF_INET || p.family == AF_INET6);
	CHECK(p.len <= bits);
	for (unsigned b = p.len; b < 128; b++)
		CHECK(!(p.addr[b / 8] & (0x80 >> (b % 8))));
	CHECK(inet_ntop(p.family, p.addr, text, sizeof(text)) != NULL);
	snprintf(text + strlen(text), 8, "/%u", p.len);
	CHECK(prefix_parse(text, strlen(text), &q, NULL, 0) == 0);
	CHECK(q.family == p.family && q.len == p.len && memcmp(q.addr, p.addr, 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prefixset_entry e[MAXE];
	size_t n = 0, i = 1;

	if (size < 1)
		return 0;
	check_text(data + 1, size - 1);
	enum prefixset_order o = data[0] & 1 ? PREFIXSET_LONGEST_MATCH : PREFIXSET_FIRST_MATCH;
	while (n < MAXE && i < size) {
		struct prefix *p = &e[n].prefix;
		uint8_t sel = data[i++];
		memset(p, 0, sizeof(*p));
		p->family = sel & 0x80 ? AF_INET6 : AF_INET;
		unsigned bits = p->family == AF_INET ? 32 : 128;
		p->len = (sel & 0x7f) % (bits + 1);
		for (unsigned b = 0; b < bits / 8 && i < size; b++)
			p->addr[b] = data[i++];
		for (unsigned b = p->len; b < bits; b++)
			p->addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		e[n++].value = i < size ? data[i++] % 4 : 0;
	}
	struct prefixset *s = prefixset_build(e, n, o);
	CHECK(s != NULL);
	CHECK(prefixset_ranges(s) <= 2 * n + 2);
	for (size_t k = 0; k < n; k++) {
		const struct prefix *p = &e[k].prefix;
		unsigned bits = p->family == AF_INET ? 32 : 128;
		uint8_t a[16];
		memcpy(a, p->addr, 16);
		probe(s, e, n, o, p->family, a);		/* first address */
		step(a, bits / 8, -1);
		probe(s, e, n, o, p->family, a);		/* the one before */
		memcpy(a, p->addr, 16);
		for (unsigned b = p->len; b < bits; b++)
			a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		probe(s, e, n, o, p->family, a);		/* last address */
		step(a, bits / 8, 1);
		probe(s, e, n, o, p->family, a);		/* the one after */
	}
	prefixset_free(s);
	return 0;
}
