/* SPDX-License-Identifier: MIT */
/* Route table: exact names, wildcard suffixes, growth and lookup cost. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router/routes.h"
#include "suites.h"

/* Test hook defined in router/routes.c (not in routes.h): routes_lookup()
 * plus the number of hash slots it examined. */


static uint32_t lookup(const struct routes *r, const char *name)
{
	uint32_t site = 12345;

	if (routes_lookup(r, name, strlen(name), &site) < 0)
		return UINT32_MAX;
	return site;
}

START_TEST(test_exact)
{
	struct routes *r = routes_new();

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(routes_count(r), 0);
	ck_assert_uint_eq(lookup(r, "a.example"), UINT32_MAX);
	ck_assert_int_eq(routes_add(r, "a.example", 1, NULL), 0);
	ck_assert_int_eq(routes_add(r, "b.example", 2, NULL), 0);
	ck_assert_int_eq(routes_add(r, "example", 3, NULL), 0);
	ck_assert_int_eq(routes_count(r), 3);
	ck_assert_uint_eq(lookup(r, "a.example"), 1);
	ck_assert_uint_eq(lookup(r, "b.example"), 2);
	ck_assert_uint_eq(lookup(r, "example"), 3);
	ck_assert_uint_eq(lookup(r, "c.example"), UINT32_MAX);
	ck_assert_uint_eq(lookup(r, "a.example.com"), UINT32_MAX);
	ck_assert_uint_eq(lookup(r, "x.a.example"), UINT32_MAX);
	ck_assert_uint_eq(lookup(r, ""), UINT32_MAX);
	routes_free(r);
}
END_TEST

/* The name is (pointer, length), not a C string: bytes after len don't count. */
START_TEST(test_length_not_nul)
{
	struct routes *r = routes_new();
	const char buf[] = "a.example.net";
	uint32_t site;

	ck_assert_int_eq(routes_add(r, "a.example", 7, NULL), 0);
	ck_assert_int_eq(routes_add(r, "*.example", 8, NULL), 0);
	ck_assert_int_eq(routes_lookup(r, buf, 9, &site), 0);
	ck_assert_uint_eq(site, 7);
	ck_assert_int_eq(routes_lookup(r, buf, 8, &site), -ENOENT);	/* "a.exampl" */
	ck_assert_int_eq(routes_lookup(r, "b.example.", 9, &site), 0);
	ck_assert_uint_eq(site, 8);
	routes_free(r);
}
END_TEST

START_TEST(test_wildcard)
{
	struct routes *r = routes_new();

	ck_assert_int_eq(routes_add(r, "*.beef.example", 5, NULL), 0);
	ck_assert_uint_eq(lookup(r, "a.beef.example"), 5);
	ck_assert_uint_eq(lookup(r, "x.y.beef.example"), 5);
	ck_assert_uint_eq(lookup(r, "a-b_c.beef.example"), 5);
	/* never the bare suffix, nor something that merely ends the same */
	ck_assert_uint_eq(lookup(r, "beef.example"), UINT32_MAX);
	ck_assert_uint_eq(lookup(r, "xbeef.example"), UINT32_MAX);
	ck_assert_uint_eq(lookup(r, ".beef.example"), 5);	/* not normalised, still a suffix */
	ck_assert_uint_eq(lookup(r, "example"), UINT32_MAX);
	ck_assert_uint_eq(lookup(r, "a.beef.example.org"), UINT32_MAX);
	ck_assert_uint_eq(lookup(r, "beef.example."), UINT32_MAX);
	/* listing the bare name is how a site gets it too */
	ck_assert_int_eq(routes_add(r, "beef.example", 6, NULL), 0);
	ck_assert_uint_eq(lookup(r, "beef.example"), 6);
	ck_assert_uint_eq(lookup(r, "a.beef.example"), 5);
	routes_free(r);
}
END_TEST

START_TEST(test_wildcard_longest_wins)
{
	/* both insertion orders: the answer must not depend on table order */
	for (int order = 0; order < 2; order++) {
		struct routes *r = routes_new();

		if (order == 0) {
			ck_assert_int_eq(routes_add(r, "*.example", 1, NULL), 0);
			ck_assert_int_eq(routes_add(r, "*.a.example", 2, NULL), 0);
		} else {
			ck_assert_int_eq(routes_add(r, "*.a.example", 2, NULL), 0);
			ck_assert_int_eq(routes_add(r, "*.example", 1, NULL), 0);
		}
		ck_assert_int_eq(routes_add(r, "b.a.example", 3, NULL), 0);
		ck_assert_uint_eq(lookup(r, "x.a.example"), 2);
		ck_assert_uint_eq(lookup(r, "y.x.a.example"), 2);
		ck_assert_uint_eq(lookup(r, "a.example"), 1);
		ck_assert_uint_eq(lookup(r, "z.example"), 1);
		ck_assert_uint_eq(lookup(r, "x.b.example"), 1);
		/* exact beats every wildcard */
		ck_assert_uint_eq(lookup(r, "b.a.example"), 3);
		ck_assert_uint_eq(lookup(r, "c.b.a.example"), 2);
		ck_assert_uint_eq(lookup(r, "example"), UINT32_MAX);
		routes_free(r);
	}
}
END_TEST

START_TEST(test_eexist)
{
	struct routes *r = routes_new();
	uint32_t existing = 0;

	ck_assert_int_eq(routes_add(r, "a.example", 4, NULL), 0);
	ck_assert_int_eq(routes_add(r, "*.a.example", 9, NULL), 0);
	ck_assert_int_eq(routes_add(r, "a.example", 5, &existing), -EEXIST);
	ck_assert_uint_eq(existing, 4);
	ck_assert_int_eq(routes_add(r, "*.a.example", 6, &existing), -EEXIST);
	ck_assert_uint_eq(existing, 9);
	ck_assert_int_eq(routes_add(r, "a.example", 5, NULL), -EEXIST);
	/* the refused adds changed nothing */
	ck_assert_int_eq(routes_count(r), 2);
	ck_assert_uint_eq(lookup(r, "a.example"), 4);
	ck_assert_uint_eq(lookup(r, "b.a.example"), 9);
	/* an empty name or an empty wildcard suffix is refused */
	ck_assert_int_eq(routes_add(r, "", 1, NULL), -EINVAL);
	ck_assert_int_eq(routes_add(r, "*.", 1, NULL), -EINVAL);
	routes_free(r);
	routes_free(NULL);
}
END_TEST

/* A 253-byte name of 127 labels against a short wildcard still resolves. */
START_TEST(test_many_labels)
{
	struct routes *r = routes_new();
	char name[254];
	size_t o = 0;

	ck_assert_int_eq(routes_add(r, "*.b.example", 1, NULL), 0);
	while (o + 12 < 253) {
		name[o++] = 'a';
		name[o++] = '.';
	}
	memcpy(name + o, "b.example", 10);
	ck_assert_uint_eq(lookup(r, name), 1);
	name[o] = 'c';
	ck_assert_uint_eq(lookup(r, name), UINT32_MAX);
	routes_free(r);
}
END_TEST

struct probe_avg {
	double hit, miss, wild;
	size_t hits, misses, wilds;	/* the totals */
};

/*
 * n sites "sN.example.net" in one table and n wildcards "*.wN.example.net"
 * in another; every name looked up once, plus n misses. Returns the mean
 * number of slots a lookup examined, per kind of lookup. Loops count
 * failures and assert once: each ck_assert costs a message to the runner.
 */
static struct probe_avg probe_run(unsigned n)
{
	struct routes *r = routes_new(), *w = routes_new();
	size_t hit = 0, miss = 0, wild = 0, probes;
	unsigned bad = 0;
	char name[64];
	uint32_t site;

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(w);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "s%u.example.net", i);
		bad += routes_add(r, name, i, NULL) != 0;
		snprintf(name, sizeof(name), "*.w%u.example.net", i);
		bad += routes_add(w, name, i, NULL) != 0;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(routes_count(r), n);
	ck_assert_uint_eq(routes_count(w), n);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "s%u.example.net", i);
		bad += routes_lookup_probes(r, name, strlen(name), &site, &probes) != 0 || site != i;
		hit += probes;

		snprintf(name, sizeof(name), "m%u.example.net", i);
		bad += routes_lookup_probes(r, name, strlen(name), &site, &probes) != -ENOENT;
		miss += probes;

		snprintf(name, sizeof(name), "x.w%u.example.net", i);
		bad += routes_lookup_probes(w, name, strlen(name), &site, &probes) != 0 || site != i;
		wild += probes;
	}
	ck_assert_uint_eq(bad, 0);
	routes_free(r);
	routes_free(w);
	return (struct probe_avg){ (double)hit / n, (double)miss / n, (double)wild / n, hit, miss, wild };
}

/*
 * Lookup cost must not grow with the number of sites. Counted, not timed:
 * the mean number of slots examined stays under a small constant for 100
 * sites and for 100 000. Linear probing at load <= 1/2 expects ~1.5 slots
 * for a hit and ~2.5 for a miss.
 */
START_TEST(test_probe_cost)
{
	struct probe_avg small = probe_run(100), big = probe_run(100000);

	ck_assert_double_lt(small.hit, 2.0);
	ck_assert_double_lt(big.hit, 2.0);
	ck_assert_double_lt(small.miss, 3.0);
	ck_assert_double_lt(big.miss, 3.0);
	/* wildcard hit: the exact table is empty, then one probe for "wN.example.net" */
	ck_assert_double_lt(small.wild, 2.0);
	ck_assert_double_lt(big.wild, 2.0);
	ck_assert_double_ge(big.hit, 1.0);
}
END_TEST

/*
 * The exact slot counts of probe_run, counted with the table as it was
 * before its flat layout (slots with offsets, for the config image): the
 * layout changed, the slots a connection's lookup examines must not.
 */
START_TEST(test_probe_counts_unchanged)
{
	struct probe_avg small = probe_run(100), big = probe_run(100000);

	ck_assert_uint_eq(small.hits, 133);
	ck_assert_uint_eq(small.misses, 190);
	ck_assert_uint_eq(small.wilds, 128);
	ck_assert_uint_eq(big.hits, 131186);
	ck_assert_uint_eq(big.misses, 180577);
	ck_assert_uint_eq(big.wilds, 130680);
}
END_TEST

/* Aligned private copies of a table's flat form, as an image holds it. */
struct flat_copy {
	struct routes_flat f;
	struct routes_slot *exact, *wild;
	char *strings;
};

static void flat_copy(const struct routes *r, struct flat_copy *c)
{
	routes_flat(r, &c->f);
	c->exact = calloc(c->f.exact.size + 1, sizeof(struct routes_slot));
	c->wild = calloc(c->f.wild.size + 1, sizeof(struct routes_slot));
	c->strings = calloc(c->f.strings_len + 1, 1);
	ck_assert(c->exact && c->wild && c->strings);
	memcpy(c->exact, c->f.exact.slots, c->f.exact.size * sizeof(struct routes_slot));
	memcpy(c->wild, c->f.wild.slots, c->f.wild.size * sizeof(struct routes_slot));
	memcpy(c->strings, c->f.strings, c->f.strings_len);
	c->f.exact.slots = c->exact;
	c->f.wild.slots = c->wild;
	c->f.strings = c->strings;
}

static void flat_free(struct flat_copy *c)
{
	free(c->exact);
	free(c->wild);
	free(c->strings);
}

/*
 * A view over a byte copy of the table (the table itself freed) answers
 * every lookup as the table did, with the same number of probes: exact
 * hits, wildcard hits at several depths, misses.
 */
START_TEST(test_view_same_answers_same_probes)
{
	const unsigned n = 20000;
	struct routes *r = routes_new(), *v = NULL;
	struct flat_copy fc;
	const char *why = "unset";
	unsigned bad = 0, looked = 0;
	static uint32_t want[4 * 20000];
	static size_t want_probes[4 * 20000];
	static int want_r[4 * 20000];
	char name[80];

	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), i % 3 ? "s%u.example.net" : "*.w%u.example.net", i);
		bad += routes_add(r, name, i, NULL) != 0;
	}
	ck_assert_uint_eq(bad, 0);
	for (int pass = 0; pass < 2; pass++) {
		const struct routes *t = pass ? v : r;

		looked = 0;
		for (unsigned i = 0; i < n; i++)
			for (unsigned k = 0; k < 4; k++, looked++) {
				uint32_t site = UINT32_MAX;
				size_t probes = 0;
				int ret;

				if (k == 0)
					snprintf(name, sizeof(name), "s%u.example.net", i);
				else if (k == 1)
					snprintf(name, sizeof(name), "a.b.w%u.example.net", i);
				else if (k == 2)
					snprintf(name, sizeof(name), "w%u.example.net", i);
				else
					snprintf(name, sizeof(name), "m%u.example.org", i);
				ret = routes_lookup_probes(t, name, strlen(name), &site, &probes);
				if (!pass) {
					want_r[looked] = ret;
					want[looked] = site;
					want_probes[looked] = probes;
				} else {
					bad += ret != want_r[looked] || site != want[looked] ||
					       probes != want_probes[looked];
				}
			}
		if (!pass) {
			flat_copy(r, &fc);
			routes_free(r);
			ck_assert_int_eq(routes_view(&fc.f, n, &v, &why), 0);
			ck_assert_ptr_null(why);
			ck_assert_uint_eq(routes_count(v), n);
		}
	}
	ck_assert_uint_eq(bad, 0);
	/* a view is read-only */
	ck_assert_int_eq(routes_add(v, "new.example", 1, NULL), -EROFS);
	routes_free(v);
	flat_free(&fc);
}
END_TEST

/* One corruption of a 3-name table's copy; routes_view must refuse it
 * with a reason containing want. */
static void view_refuses(void (*corrupt)(struct flat_copy *), uint32_t n_sites, const char *want)
{
	struct routes *r = routes_new(), *v = (void *)1;
	struct flat_copy fc;
	const char *why = NULL;

	ck_assert_int_eq(routes_add(r, "a.example", 0, NULL), 0);
	ck_assert_int_eq(routes_add(r, "b.example", 1, NULL), 0);
	ck_assert_int_eq(routes_add(r, "*.c.example", 2, NULL), 0);
	flat_copy(r, &fc);
	routes_free(r);
	corrupt(&fc);
	ck_assert_int_eq(routes_view(&fc.f, n_sites, &v, &why), -EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, want), "reason '%s', want '%s'", why, want);
	flat_free(&fc);
}

static struct routes_slot *first_used(struct flat_copy *c)
{
	for (size_t i = 0; i < c->f.exact.size; i++)
		if (c->exact[i].len)
			return &c->exact[i];
	return NULL;
}

static void bad_offset(struct flat_copy *c) { first_used(c)->name = (uint32_t)c->f.strings_len; }
static void bad_len(struct flat_copy *c) { first_used(c)->len = (uint32_t)c->f.strings_len; }
static void bad_nul(struct flat_copy *c) { c->strings[first_used(c)->name + first_used(c)->len] = 'x'; }
static void bad_hash(struct flat_copy *c) { first_used(c)->hash ^= 1; }
static void bad_count(struct flat_copy *c) { c->f.exact.count++; }
static void bad_max_len(struct flat_copy *c) { c->f.wild.max_len--; }
static void bad_size(struct flat_copy *c) { c->f.exact.size = 12; }
static void bad_arena_end(struct flat_copy *c) { c->strings[c->f.strings_len - 1] = 'x'; }
static void bad_dirty_empty(struct flat_copy *c)
{
	for (size_t i = 0; i < c->f.exact.size; i++)
		if (!c->exact[i].len) {
			c->exact[i].site = 9;
			return;
		}
}

/* Every slot full: a miss would probe forever. */
static void bad_full(struct flat_copy *c)
{
	struct routes_slot s = *first_used(c);

	c->f.exact.size = 1;
	c->f.exact.count = 1;
	c->exact[0] = s;
}

static void no_change(struct flat_copy *c) { (void)c; }

START_TEST(test_view_refuses_corrupt)
{
	view_refuses(bad_offset, 3, "outside the string arena");
	view_refuses(bad_len, 3, "outside the string arena");
	view_refuses(bad_nul, 3, "not NUL-terminated");
	view_refuses(bad_hash, 3, "hash");
	view_refuses(bad_count, 3, "count");
	view_refuses(bad_max_len, 3, "longest name");
	view_refuses(bad_size, 3, "power of two");
	view_refuses(bad_arena_end, 3, "arena not NUL-terminated");
	view_refuses(bad_dirty_empty, 3, "empty slot");
	view_refuses(bad_full, 3, "full");
	/* a site index the config does not have */
	view_refuses(no_change, 2, "site index");
}
END_TEST

/* 100 000 sites, exact and wildcard mixed, all found again; misses missed. */
START_TEST(test_many_sites)
{
	struct routes *r = routes_new();
	const unsigned n = 100000;
	unsigned bad = 0;
	char name[64];

	for (unsigned i = 0; i < n; i++) {
		if (i % 4 == 3)
			snprintf(name, sizeof(name), "*.site%u.example", i);
		else
			snprintf(name, sizeof(name), "site%u.example", i);
		bad += routes_add(r, name, i, NULL) != 0;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(routes_count(r), n);
	for (unsigned i = 0; i < n; i++) {
		uint32_t existing = UINT32_MAX;
		bool wild = i % 4 == 3;

		snprintf(name, sizeof(name), "www.site%u.example", i);
		bad += lookup(r, name) != (wild ? i : UINT32_MAX);
		snprintf(name, sizeof(name), "site%u.example", i);
		bad += lookup(r, name) != (wild ? UINT32_MAX : i);
		snprintf(name, sizeof(name), "%ssite%u.example", wild ? "*." : "", i);
		bad += routes_add(r, name, 0, &existing) != -EEXIST || existing != i;
		snprintf(name, sizeof(name), "site%u.example", n + i);
		bad += lookup(r, name) != UINT32_MAX;
	}
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(routes_count(r), n);
	routes_free(r);
}
END_TEST

Suite *make_routes_suite(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, test_exact);
	tcase_add_test(tc, test_length_not_nul);
	tcase_add_test(tc, test_wildcard);
	tcase_add_test(tc, test_wildcard_longest_wins);
	tcase_add_test(tc, test_eexist);
	tcase_add_test(tc, test_many_labels);
	tcase_add_test(tc, test_view_refuses_corrupt);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	/* 100 000 names, several times over, under ASan too */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_probe_cost);
	tcase_add_test(tc, test_many_sites);
	tcase_add_test(tc, test_probe_counts_unchanged);
	tcase_add_test(tc, test_view_same_answers_same_probes);
	suite_add_tcase(s, tc);
	return s;
}
