/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "router/prefixset.h"

/* 128-bit unsigned, portable to 32-bit targets (no __int128). IPv4 keys use
 * lo only, so one build routine serves both families. */
struct u128 {
	uint64_t hi, lo;
};

struct v6range {
	struct u128 start;
	uint32_t value;
};

/* A first step before the binary search, so the search spans a few ranges
 * whatever the list's size: first[b] is the range holding the lowest
 * address whose top `bits` bits are b; first[1 << bits] is the last range.
 * bits = floor(log2(ranges)), at most 16: about one range per step. */
struct step {
	uint32_t *first;
	unsigned bits;
};

struct prefixset {
	uint32_t *v4_start;	/* sorted; v4_start[0] == 0 */
	uint32_t *v4_value;
	size_t n4;
	struct v6range *v6;	/* sorted; v6[0].start == :: */
	size_t n6;
	struct step step4, step6;
};

static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* ---- parsing ----------------------------------------------------------- */

static int fail(char *err, size_t errsize, const char *msg)
{
	if (err && errsize)
		snprintf(err, errsize, "%s", msg);
	return -1;
}

static unsigned bits_of(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Zero the bits past len; report whether any were set. */
static bool clear_host_bits(uint8_t *a, unsigned bytes, unsigned len)
{
	bool set = false;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * i : 0;
		uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
		if (a[i] & ~mask)
			set = true;
		a[i] &= mask;
	}
	return set;
}

/* ::ffff:a.b.c.d/96+n names an IPv4 prefix, and IPv4 clients (mapped or
 * not) are matched against IPv4 prefixes only. */
static void as_ipv4(struct prefix *p)
{
	if (p->family != AF_INET6 || p->len < 96 || memcmp(p->addr, mapped_prefix, 12) != 0)
		return;
	memmove(p->addr, p->addr + 12, 4);
	memset(p->addr + 4, 0, 12);
	p->family = AF_INET;
	p->len -= 96;
}

int prefix_parse(const char *text, size_t len, struct prefix *out, char *err, size_t errsize)
{
	char buf[INET6_ADDRSTRLEN + 5];
	const char *slash;
	unsigned plen;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(buf) || memchr(text, '\0', len))
		return fail(err, errsize, "not an IPv4 or IPv6 address or prefix");
	memcpy(buf, text, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	out->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(out->family, buf, out->addr) != 1)
		return fail(err, errsize, "not an IPv4 or IPv6 address or prefix");
	plen = bits_of(out->family);
	if (slash) {
		const char *d = slash + 1;
		size_t n = strlen(d);
		unsigned v = 0;
		if (n == 0 || n > 3 || (n > 1 && d[0] == '0'))
			return fail(err, errsize, out->family == AF_INET ? "prefix length must be 0..32"
								  : "prefix length must be 0..128");
		for (size_t i = 0; i < n; i++) {
			if (d[i] < '0' || d[i] > '9')
				return fail(err, errsize, out->family == AF_INET ? "prefix length must be 0..32"
									  : "prefix length must be 0..128");
			v = v * 10 + (unsigned)(d[i] - '0');
		}
		if (v > plen)
			return fail(err, errsize, out->family == AF_INET ? "prefix length must be 0..32"
								  : "prefix length must be 0..128");
		plen = v;
	}
	out->len = plen;
	if (clear_host_bits(out->addr, out->family == AF_INET ? 4 : 16, plen)) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(out->family, out->addr, a, sizeof(a));
		if (err && errsize)
			snprintf(err, errsize, "host bits set after /%u (the prefix is %s/%u)", plen, a, plen);
		return -1;
	}
	as_ipv4(out);
	return 0;
}

/* ---- 128-bit keys ------------------------------------------------------- */

static int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	return a.lo < b.lo ? -1 : a.lo > b.lo;
}

static struct u128 u128_inc(struct u128 a)
{
	a.lo++;
	if (a.lo == 0)
		a.hi++;
	return a;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct u128 key_of(int family, const uint8_t *a)
{
	struct u128 k = { 0, 0 };
	if (family == AF_INET) {
		k.lo = be32(a);
	} else {
		k.hi = be64(a);
		k.lo = be64(a + 8);
	}
	return k;
}

/* all ones below bit h (0 <= h <= 128) */
static struct u128 low_mask(unsigned h)
{
	struct u128 m = { 0, 0 };
	if (h >= 64) {
		m.lo = UINT64_MAX;
		m.hi = h == 128 ? UINT64_MAX : h == 64 ? 0 : (UINT64_C(1) << (h - 64)) - 1;
	} else if (h > 0) {
		m.lo = (UINT64_C(1) << h) - 1;
	}
	return m;
}

/* ---- build --------------------------------------------------------------- */

struct item {
	struct u128 start, end;
	unsigned len;
	size_t index;		/* written order */
	uint32_t value;
};

static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c = u128_cmp(a->start, b->start);
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;	/* the enclosing prefix first */
	return a->index < b->index ? -1 : a->index > b->index;
}

struct out {
	struct v6range *r;
	size_t n;
};

/* From pos on, the winner is val (until the next boundary). */
static void emit(struct out *o, struct u128 pos, uint32_t val)
{
	struct v6range *last = &o->r[o->n - 1];

	if (u128_cmp(last->start, pos) == 0) {
		last->value = val;
		if (o->n >= 2 && o->r[o->n - 2].value == val)
			o->n--;		/* merges back into the range before */
		return;
	}
	if (last->value == val)
		return;
	o->r[o->n].start = pos;
	o->r[o->n++].value = val;
}

struct level {
	struct u128 end;
	unsigned len;
	uint32_t value;		/* the winner inside this prefix, outside its children */
	size_t index;		/* the winner's written position */
};

/*
 * Prefixes nest or are disjoint, so sorted by start then length they are a
 * depth-first walk of a tree: a stack of the prefixes around the current
 * point gives, at each boundary, the prefix that wins there. Ranges go to
 * o->r (room for 2n + 1); o->r[0] starts at 0 with PREFIXSET_NONE.
 */
static void sweep(struct item *it, size_t n, unsigned bits, enum prefixset_order order,
		  struct level *stack, struct out *o)
{
	struct u128 max = low_mask(bits);
	size_t depth = 0;

	o->r[0].start = (struct u128){ 0, 0 };
	o->r[0].value = PREFIXSET_NONE;
	o->n = 1;
	qsort(it, n, sizeof(*it), item_cmp);
	for (size_t i = 0; i <= n; i++) {
		/* close the prefixes that end before this one starts (all, at the end) */
		while (depth > 0 && (i == n || u128_cmp(stack[depth - 1].end, it[i].start) < 0)) {
			struct u128 end = stack[--depth].end;
			if (u128_cmp(end, max) != 0)
				emit(o, u128_inc(end), depth ? stack[depth - 1].value : PREFIXSET_NONE);
		}
		if (i == n)
			break;
		struct level l = { it[i].end, it[i].len, it[i].value, it[i].index };
		if (depth > 0) {
			const struct level *up = &stack[depth - 1];
			bool inherit = order == PREFIXSET_FIRST_MATCH ? up->index < l.index
								       : up->len == l.len;	/* a duplicate */
			if (inherit) {
				l.value = up->value;
				l.index = up->index;
			}
		}
		emit(o, it[i].start, l.value);
		stack[depth++] = l;
	}
}

static int build_family(const struct prefixset_entry *e, size_t n, int family,
			enum prefixset_order order, struct out *o)
{
	size_t m = 0;
	unsigned bits = bits_of(family);
	struct item *it;
	struct level *stack;

	for (size_t i = 0; i < n; i++) {
		struct prefix p = e[i].prefix;
		as_ipv4(&p);
		m += p.family == family;
	}
	it = calloc(m ? m : 1, sizeof(*it));
	stack = calloc(m ? m : 1, sizeof(*stack));
	o->r = calloc(2 * m + 1, sizeof(*o->r));
	if (!it || !stack || !o->r) {
		free(it);
		free(stack);
		free(o->r);
		o->r = NULL;
		errno = ENOMEM;
		return -1;
	}
	m = 0;
	for (size_t i = 0; i < n; i++) {
		struct prefix p = e[i].prefix;
		as_ipv4(&p);
		if (p.family != family)
			continue;
		struct u128 host = low_mask(bits - p.len);
		it[m].start = key_of(family, p.addr);
		it[m].end = (struct u128){ it[m].start.hi | host.hi, it[m].start.lo | host.lo };
		it[m].len = p.len;
		it[m].index = i;
		it[m++].value = e[i].value;
	}
	sweep(it, m, bits, order, stack, o);
	free(it);
	free(stack);
	return 0;
}

static unsigned step_bits(size_t n)
{
	unsigned b = 0;
	while (b < 16 && ((size_t)2 << b) <= n)
		b++;
	return b;
}

/* ranges' starts as 128-bit keys (IPv4 in lo), width 32 or 128 */
static int make_step(struct step *st, const struct v6range *r, size_t n, unsigned width)
{
	size_t nb;

	st->bits = step_bits(n);
	nb = (size_t)1 << st->bits;
	st->first = malloc((nb + 1) * sizeof(*st->first));
	if (!st->first)
		return -1;
	size_t i = 0;
	for (size_t b = 0; b < nb; b++) {
		struct u128 k = { 0, 0 };
		if (st->bits && width == 32)
			k.lo = (uint64_t)b << (32 - st->bits);
		else if (st->bits)
			k.hi = (uint64_t)b << (64 - st->bits);
		while (i + 1 < n && u128_cmp(r[i + 1].start, k) <= 0)
			i++;
		st->first[b] = (uint32_t)i;
	}
	st->first[nb] = (uint32_t)(n - 1);
	return 0;
}

static bool entry_ok(const struct prefixset_entry *e)
{
	struct prefix p = e->prefix;

	if (e->value == PREFIXSET_NONE)
		return false;
	if (p.family != AF_INET && p.family != AF_INET6)
		return false;
	if (p.len > bits_of(p.family))
		return false;
	return !clear_host_bits(p.addr, p.family == AF_INET ? 4 : 16, p.len);
}

struct prefixset *prefixset_build(const struct prefixset_entry *entries, size_t n, enum prefixset_order order)
{
	struct prefixset *s;
	struct out o4 = { 0 }, o6 = { 0 };

	for (size_t i = 0; i < n; i++) {
		if (!entry_ok(&entries[i])) {
			errno = EINVAL;
			return NULL;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s || build_family(entries, n, AF_INET, order, &o4) < 0 ||
	    build_family(entries, n, AF_INET6, order, &o6) < 0 ||
	    make_step(&s->step4, o4.r, o4.n, 32) < 0 || make_step(&s->step6, o6.r, o6.n, 128) < 0)
		goto nomem;
	s->v4_start = malloc(o4.n * sizeof(*s->v4_start));
	s->v4_value = malloc(o4.n * sizeof(*s->v4_value));
	if (!s->v4_start || !s->v4_value)
		goto nomem;
	for (size_t i = 0; i < o4.n; i++) {
		s->v4_start[i] = (uint32_t)o4.r[i].start.lo;
		s->v4_value[i] = o4.r[i].value;
	}
	s->n4 = o4.n;
	free(o4.r);
	/* keep only what is used */
	s->v6 = realloc(o6.r, o6.n * sizeof(*o6.r));
	if (!s->v6)
		s->v6 = o6.r;
	s->n6 = o6.n;
	return s;
nomem:
	free(o4.r);
	free(o6.r);
	prefixset_free(s);
	errno = ENOMEM;
	return NULL;
}

void prefixset_free(struct prefixset *s)
{
	if (!s)
		return;
	free(s->v4_start);
	free(s->v4_value);
	free(s->v6);
	free(s->step4.first);
	free(s->step6.first);
	free(s);
}

/* ---- lookup -------------------------------------------------------------- */

/* The range an address falls in, and how many ranges the binary search
 * compared (*probes): one function for the lookup and for the probe count,
 * so the count is of the code that runs (inlined; the count is dropped in
 * prefixset_lookup). SIZE_MAX for a family with no ranges. */
static inline size_t find_range(const struct prefixset *s, int *family, const uint8_t *addr, unsigned *probes)
{
	size_t lo, hi, b;
	unsigned n = 0;

	if (*family == AF_INET6 && memcmp(addr, mapped_prefix, 12) == 0) {
		*family = AF_INET;
		addr += 12;
	}
	/* the last range starting at or before the key, searched between the
	 * step's bounds (see struct step) */
	if (*family == AF_INET) {
		uint32_t k = be32(addr);
		b = s->step4.bits ? k >> (32 - s->step4.bits) : 0;
		lo = s->step4.first[b];
		hi = s->step4.first[b + 1] + (size_t)1;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;
			n++;
			if (s->v4_start[mid] <= k)
				lo = mid;
			else
				hi = mid;
		}
		*probes = n;
		return lo;
	}
	if (*family != AF_INET6) {
		*probes = 0;
		return SIZE_MAX;
	}
	struct u128 k = key_of(AF_INET6, addr);
	b = s->step6.bits ? k.hi >> (64 - s->step6.bits) : 0;
	lo = s->step6.first[b];
	hi = s->step6.first[b + 1] + (size_t)1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		n++;
		if (u128_cmp(s->v6[mid].start, k) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	*probes = n;
	return lo;
}

uint32_t prefixset_lookup(const struct prefixset *s, int family, const uint8_t *addr)
{
	unsigned probes;
	size_t i = find_range(s, &family, addr, &probes);

	if (i == SIZE_MAX)
		return PREFIXSET_NONE;
	return family == AF_INET ? s->v4_value[i] : s->v6[i].value;
}

unsigned prefixset_probes(const struct prefixset *s, int family, const uint8_t *addr)
{
	unsigned probes;

	(void)find_range(s, &family, addr, &probes);
	return probes;
}

size_t prefixset_ranges(const struct prefixset *s)
{
	return s->n4 + s->n6;
}

size_t prefixset_memory(const struct prefixset *s)
{
	return sizeof(*s) + s->n4 * (sizeof(*s->v4_start) + sizeof(*s->v4_value)) + s->n6 * sizeof(*s->v6) +
	       (((size_t)1 << s->step4.bits) + ((size_t)1 << s->step6.bits) + 2) * sizeof(uint32_t);
}
