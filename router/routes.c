/* SPDX-License-Identifier: MIT */
/*
 * Route table: two open-addressing hash tables (linear probing, power-of-two
 * size, load factor at most 1/2), one for exact names and one for wildcard
 * suffixes. "*.beef.example" is stored in the wildcard table as
 * "beef.example"; a lookup of "a.b.beef.example" probes the exact table
 * with the whole name, then the wildcard table with "b.beef.example" and
 * "beef.example" and "example" in that order, so the first hit is the
 * longest suffix and the bare "beef.example" can never hit its own wildcard.
 *
 * Keys live in one string arena, slots hold offsets: 24 bytes a slot and
 * no allocation per name, and the same bytes work mapped from a config
 * image (routes_view).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "router/routes.h"

struct routes_table {
	const struct routes_slot *slots;	/* what lookups read */
	struct routes_slot *own;		/* the same, when not a view */
	size_t mask;		/* size - 1; size is 0 or a power of two */
	size_t count;
	size_t max_len;		/* longest key, to skip probes that can't hit */
};

struct routes {
	struct routes_table exact;
	struct routes_table wild;
	const char *strings;	/* what lookups read */
	char *own;		/* the same, when not a view */
	size_t strings_len, strings_cap;
	bool view;		/* slots and strings are borrowed (routes_view) */
};

#define ROUTES_MIN_SIZE 16u
/* offsets and lengths are 32-bit in a slot */
#define ROUTES_MAX_ARENA UINT32_MAX

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

static const struct routes_slot *routes_table_find(const struct routes *r, const struct routes_table *t,
						   const char *name, size_t len, uint64_t hash,
						   size_t *probes)
{
	if (t->count == 0)
		return NULL;
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		const struct routes_slot *e = &t->slots[i];

		(*probes)++;
		if (!e->len)
			return NULL;
		if (e->hash == hash && e->len == len && memcmp(r->strings + e->name, name, len) == 0)
			return e;
	}
}

/* Place an entry known to be absent; the table has a free slot. */
static void routes_table_place(struct routes_table *t, const struct routes_slot *src)
{
	size_t i = src->hash & t->mask;

	while (t->own[i].len)
		i = (i + 1) & t->mask;
	t->own[i] = *src;
	t->count++;
}

static int routes_table_grow(struct routes_table *t)
{
	size_t old_size = t->slots ? t->mask + 1 : 0;
	size_t size = old_size ? old_size * 2 : ROUTES_MIN_SIZE;
	struct routes_slot *old = t->own, *fresh;

	if (size < old_size || size > SIZE_MAX / sizeof(*old))
		return -ENOMEM;
	fresh = calloc(size, sizeof(*old));
	if (!fresh)
		return -ENOMEM;
	t->slots = t->own = fresh;
	t->mask = size - 1;
	t->count = 0;
	for (size_t i = 0; i < old_size; i++)
		if (old[i].len)
			routes_table_place(t, &old[i]);
	free(old);
	return 0;
}

/* Append name and its NUL to the arena; its offset, or -ENOMEM. */
static int64_t routes_intern(struct routes *r, const char *name, size_t len)
{
	size_t need = r->strings_len + len + 1;

	if (need > ROUTES_MAX_ARENA)
		return -ENOMEM;
	if (need > r->strings_cap) {
		size_t cap = r->strings_cap ? r->strings_cap * 2 : 1024;
		char *s;

		while (cap < need)
			cap *= 2;
		s = realloc(r->own, cap);
		if (!s)
			return -ENOMEM;
		r->strings = r->own = s;
		r->strings_cap = cap;
	}
	memcpy(r->own + r->strings_len, name, len);
	r->own[r->strings_len + len] = '\0';
	r->strings_len = need;
	return (int64_t)(need - len - 1);
}

struct routes *routes_new(void)
{
	return calloc(1, sizeof(struct routes));
}

void routes_free(struct routes *r)
{
	if (!r)
		return;
	free(r->exact.own);
	free(r->wild.own);
	free(r->own);
	free(r);
}

void routes_free_each(struct routes *const *r, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		bool seen = false;

		for (size_t j = 0; j < k; j++)
			seen |= r[j] == r[k];
		if (!seen)
			routes_free(r[k]);
	}
}

int routes_add(struct routes *r, const char *name, uint32_t site, uint32_t *existing)
{
	struct routes_table *t = &r->exact;
	size_t len = strlen(name), probes = 0;
	const struct routes_slot *found;
	struct routes_slot e = { 0 };
	int64_t off;

	if (r->view)
		return -EROFS;
	if (len >= 2 && name[0] == '*' && name[1] == '.') {
		t = &r->wild;
		name += 2;
		len -= 2;
	}
	if (len == 0)
		return -EINVAL;
	if (len > ROUTES_MAX_ARENA)
		return -ENOMEM;

	e.hash = routes_hash(name, len);
	found = routes_table_find(r, t, name, len, e.hash, &probes);
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
	off = routes_intern(r, name, len);
	if (off < 0)
		return (int)off;
	e.name = (uint32_t)off;
	e.len = (uint32_t)len;
	e.site = site;
	routes_table_place(t, &e);
	if (len > t->max_len)
		t->max_len = len;
	return 0;
}

int routes_lookup_probes(const struct routes *r, const char *name, size_t len,
			 uint32_t *site, size_t *probes)
{
	const struct routes_slot *e;

	*probes = 0;
	e = routes_table_find(r, &r->exact, name, len, routes_hash(name, len), probes);
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
		e = routes_table_find(r, &r->wild, name + i + 1, rest,
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

static void routes_flat_table(const struct routes_table *t, struct routes_flat_table *out)
{
	out->slots = t->slots;
	out->size = t->slots ? t->mask + 1 : 0;
	out->count = t->count;
	out->max_len = t->max_len;
}

void routes_flat(const struct routes *r, struct routes_flat *out)
{
	routes_flat_table(&r->exact, &out->exact);
	routes_flat_table(&r->wild, &out->wild);
	out->strings = r->strings;
	out->strings_len = r->strings_len;
}

/* Every slot of one table, against the arena it points into. */
static const char *routes_view_check(const struct routes_flat_table *t, const char *strings,
				     size_t strings_len, uint32_t n_sites)
{
	size_t used = 0, max_len = 0;

	if (t->size == 0)
		return t->count || t->max_len ? "empty table with entries" : NULL;
	if (!t->slots || (t->size & (t->size - 1)) != 0)
		return "table size not a power of two";
	for (size_t i = 0; i < t->size; i++) {
		const struct routes_slot *e = &t->slots[i];

		if (!e->len) {
			if (e->hash || e->name || e->site || e->pad)
				return "empty slot not zero";
			continue;
		}
		if (e->pad)
			return "slot padding not zero";
		if (e->name >= strings_len || e->len >= strings_len - e->name)
			return "name outside the string arena";
		if (strings[e->name + e->len] != '\0' || memchr(strings + e->name, '\0', e->len))
			return "name not NUL-terminated";
		if (e->site >= n_sites)
			return "site index out of range";
		if (e->hash != routes_hash(strings + e->name, e->len))
			return "name hash does not match";
		if (e->len > max_len)
			max_len = e->len;
		used++;
	}
	/* a lookup stops at an empty slot: a full table would loop forever */
	if (used != t->count || used >= t->size)
		return "slot count wrong or table full";
	if (max_len != t->max_len)
		return "longest name wrong";
	return NULL;
}

int routes_view(const struct routes_flat *f, uint32_t n_sites, struct routes **out, const char **why)
{
	struct routes *r;

	*out = NULL;
	*why = NULL;
	if (f->strings_len && (!f->strings || f->strings[f->strings_len - 1] != '\0'))
		*why = "string arena not NUL-terminated";
	if (!*why)
		*why = routes_view_check(&f->exact, f->strings, f->strings_len, n_sites);
	if (!*why)
		*why = routes_view_check(&f->wild, f->strings, f->strings_len, n_sites);
	if (*why)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->view = true;
	/* read-only memory: no own pointers, and routes_add refuses a view */
	r->exact = (struct routes_table){ .slots = f->exact.slots,
					  .mask = f->exact.size ? f->exact.size - 1 : 0,
					  .count = f->exact.count, .max_len = f->exact.max_len };
	r->wild = (struct routes_table){ .slots = f->wild.slots,
					 .mask = f->wild.size ? f->wild.size - 1 : 0,
					 .count = f->wild.count, .max_len = f->wild.max_len };
	r->strings = f->strings;
	r->strings_len = r->strings_cap = f->strings_len;
	*out = r;
	return 0;
}
