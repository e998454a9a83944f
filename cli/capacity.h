/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * How many connections a config holds under an fd limit (common/fdbudget.h
 * per forwarder, times the forwarders, capped by max-connections), said by
 * `gatehouse check` and `gatehouse run`; and, for `gatehouse run` as root,
 * raising RLIMIT_NOFILE to what max-connections needs before the daemons
 * start (HAProxy sizes its limit from maxconn the same way).
 */
#include <stddef.h>
#include <stdint.h>
#include "router/config.h"

/* relays each forwarder takes under nofile (0: no limit) */
uint64_t capacity_per_forwarder(const struct gh_config *cfg, unsigned n_forwarders, uint64_t nofile);

/* "capacity: N connections at once (F forwarders x R: why)" into buf */
void capacity_describe(const struct gh_config *cfg, unsigned n_forwarders, uint64_t nofile, char *buf,
		       size_t size);

/* As root: raise RLIMIT_NOFILE (hard and soft) to what max-connections
 * needs (*need; 0: no max-connections); the children inherit it. *nofile:
 * the hard limit now in force (0: none). Never lowers a limit. Returns
 * -errno when raising failed (no CAP_SYS_RESOURCE, over fs.nr_open). */
int capacity_raise_limit(const struct gh_config *cfg, unsigned n_forwarders, uint64_t *nofile, uint64_t *need);

/* the soft RLIMIT_NOFILE a daemon runs with: it raises soft to hard */
uint64_t capacity_nofile(void);
