/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Route table: normalised name -> site index.
 * Lookup: exact name by hash, then the longest "*.suffix" wildcard (walking
 * the name's dots left to right, each a hash probe), so the cost depends on
 * the name's label count, never on the number of sites.
 * "*.beef.example" matches "a.beef.example" and "a.b.beef.example", never
 * "beef.example" itself.
 * Contents come from the config only, so an attacker chooses lookups, not
 * the table's layout.
 *
 * The table is flat (slots hold offsets into one string arena, no
 * pointers), so config_image_write.c can copy it byte for byte into the compiled
 * config every daemon maps, and routes_view() can look names up in that
 * copy in place: same slots, same probes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct routes;

/* One slot of a table, as stored in memory and in a config image. */
struct routes_slot {
	uint64_t hash;
	uint32_t name;		/* offset in the string arena */
	uint32_t len;		/* 0: empty slot (no key is empty) */
	uint32_t site;
	uint32_t pad;		/* 0 */
};

/* A table's flat form: what a config image stores, what routes_view()
 * reads. size is 0 or a power of two. */
struct routes_flat_table {
	const struct routes_slot *slots;
	size_t size, count, max_len;
};

struct routes_flat {
	struct routes_flat_table exact, wild;
	const char *strings;	/* every key, each followed by a NUL */
	size_t strings_len;
};

struct routes *routes_new(void);
void routes_free(struct routes *r);
/* each table of r[0..n) once: several may be the same (a config's kinds
 * sharing one) */
void routes_free_each(struct routes *const *r, size_t n);

/* name is normalised, NUL-terminated; "*.suffix" adds a wildcard.
 * Returns 0, -EEXIST if the name (or wildcard) is there already (*existing
 * set to its site when existing != NULL), -ENOMEM. */
int routes_add(struct routes *r, const char *name, uint32_t site, uint32_t *existing);

/* name is normalised (hostname_normalize()). Returns 0 and sets *site, or
 * -ENOENT. */
int routes_lookup(const struct routes *r, const char *name, size_t len, uint32_t *site);

size_t routes_count(const struct routes *r);

/* routes_lookup() that also counts the table slots it examined, so tests
 * can show the cost does not grow with the number of sites. */
int routes_lookup_probes(const struct routes *r, const char *name, size_t len, uint32_t *site, size_t *probes);

/* The flat form of r (pointers into r: valid until r changes or is freed). */
void routes_flat(const struct routes *r, struct routes_flat *out);

/* A read-only table over f's memory (not copied: it must outlive the
 * table, and must not change: a sealed, read-only mapping). Every slot is
 * checked first, so a lookup never reads outside f: offsets and lengths
 * inside the arena and NUL-terminated, sites below n_sites, each table
 * with a free slot (a probe run ends), counts, hashes and max_len as
 * stored. Returns 0 and *out, -EINVAL with *why set, or -ENOMEM. */
int routes_view(const struct routes_flat *f, uint32_t n_sites, struct routes **out, const char **why);
