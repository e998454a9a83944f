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
 */
#include <stddef.h>
#include <stdint.h>

struct routes;

struct routes *routes_new(void);
void routes_free(struct routes *r);

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
