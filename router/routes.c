/* SPDX-License-Identifier: MIT */
/*
 * Route table: two open-addressing hash tables (linear probing, power-of-two
 * size, load factor at most 1/2), one for exact names and one for wildcard
 * suffixes. "*.beef.example" is stored in the wildcard table as
 * "beef.example"; a lookup of "a.b.beef.example" probes the exact table
 * with the whole name, then the wildcard table with "b.beef.example" and
 * "beef.example" and "example" in that order, so the first hit is the
 * longest suffix and the bare "beef.example" can never hit its own wildcard.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "router/routes.h"

struct routes_entry {
	uint64_t hash;
	char *name;		/* NULL: empty slot */
	size_t len;
	uint32_t site;
};

struct routes_table {
	struct routes_entry *slots;
	size_t mask;		/* size - 1; size is 0 or a power of two */
	size_t count;
	size_t max_len;		/* longest key, to skip probes that can't hit */
};

struct routes {
	struct routes_table exact;
	struct routes_table wild;
};

#define ROUTES_MIN_SIZE 16u

/*
 * Test hook, not part of routes.h: routes_lookup() that also counts the
 * slots it examined, so a test can show that lookup cost does not grow with
 * the number of sites without timing anything.
 */
int routes_lookup_probes(const struct routes *r, const char *name, size_t len,
			 uint32_t *site, size_t *probes);

/*
 * FNV-1a 64 with a final avalanche (the murmur3 fmix64 step): FNV-1a alone
 * leaves the low bits, which pick the slot, weak for names that differ only
 * in their last bytes ("s1.example", "s2.example"). Keys come from the
 * config, so a fixed, unkeyed hash is enough: a client chooses what to look
 * up, never where the stored names sit.
 */
static uint64_t routes_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static struct routes_entry *routes_table_find(const struct routes_table *t, const char *name,
					      size_t len, uint64_t hash, size_t *probes)
{
	if (t->count == 0)
		return NULL;
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct routes_entry *e = &t->slots[i];

		(*probes)++;
		if (!e->name)
			return NULL;
		if (e->hash == hash && e->len == len && memcmp(e->name, name, len) == 0)
			return e;
	}
}

/* Place an entry known to be absent; the table has a free slot. */
static void routes_table_place(struct routes_table *t, const struct routes_entry *src)
{
	size_t i = src->hash & t->mask;

	while (t->slots[i].name)
		i = (i + 1) & t->mask;
	t->slots[i] = *src;
	t->count++;
}

static int routes_table_grow(struct routes_table *t)
{
	size_t old_size = t->slots ? t->mask + 1 : 0;
	size_t size = old_size ? old_size * 2 : ROUTES_MIN_SIZE;
	struct routes_entry *old = t->slots;

	if (size < old_size || size > SIZE_MAX / sizeof(*old))
		return -ENOMEM;
	t->slots = calloc(size, sizeof(*old));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->mask = size - 1;
	t->count = 0;
	for (size_t i = 0; i < old_size; i++)
		if (old[i].name)
			routes_table_place(t, &old[i]);
	free(old);
	return 0;
}

static void routes_table_done(struct routes_table *t)
{
	if (t->slots)
		for (size_t i = 0; i <= t->mask; i++)
			free(t->slots[i].name);
	free(t->slots);
	*t = (struct routes_table){ 0 };
}

struct routes *routes_new(void)
{
	return calloc(1, sizeof(struct routes));
}

void routes_free(struct routes *r)
{
	if (!r)
		return;
	routes_table_done(&r->exact);
	routes_table_done(&r->wild);
	free(r);
}

int routes_add(struct routes *r, const char *name, uint32_t site, uint32_t *existing)
{
	struct routes_table *t = &r->exact;
	size_t len = strlen(name), probes = 0;
	struct routes_entry e, *found;

	if (len >= 2 && name[0] == '*' && name[1] == '.') {
		t = &r->wild;
		name += 2;
		len -= 2;
	}
	if (len == 0)
		return -EINVAL;

	e.hash = routes_hash(name, len);
	found = routes_table_find(t, name, len, e.hash, &probes);
	if (found) {
		if (existing)
			*existing = found->site;
		return -EEXIST;
	}
	/* keep the load at or under 1/2 so probe runs stay short */
	if (!t->slots || (t->count + 1) * 2 > t->mask + 1) {
		int r2 = routes_table_grow(t);

		if (r2 < 0)
			return r2;
	}
	e.name = malloc(len + 1);
	if (!e.name)
		return -ENOMEM;
	memcpy(e.name, name, len);
	e.name[len] = '\0';
	e.len = len;
	e.site = site;
	routes_table_place(t, &e);
	if (len > t->max_len)
		t->max_len = len;
	return 0;
}

int routes_lookup_probes(const struct routes *r, const char *name, size_t len,
			 uint32_t *site, size_t *probes)
{
	const struct routes_entry *e;

	*probes = 0;
	e = routes_table_find(&r->exact, name, len, routes_hash(name, len), probes);
	if (e) {
		*site = e->site;
		return 0;
	}
	if (r->wild.count == 0)
		return -ENOENT;
	/*
	 * Left to right: the first suffix found is the longest one. Suffixes
	 * longer than every stored one are skipped unhashed: a 253-byte name
	 * of 127 labels then costs a few short hashes, not 127 long ones.
	 */
	for (size_t i = len > r->wild.max_len ? len - r->wild.max_len - 1 : 0; i < len; i++) {
		size_t rest = len - i - 1;

		if (name[i] != '.' || rest == 0)
			continue;
		e = routes_table_find(&r->wild, name + i + 1, rest,
				      routes_hash(name + i + 1, rest), probes);
		if (e) {
			*site = e->site;
			return 0;
		}
	}
	return -ENOENT;
}

int routes_lookup(const struct routes *r, const char *name, size_t len, uint32_t *site)
{
	size_t probes;

	return routes_lookup_probes(r, name, len, site, &probes);
}

size_t routes_count(const struct routes *r)
{
	return r->exact.count + r->wild.count;
}
