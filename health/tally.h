/* SPDX-License-Identifier: MIT */
#pragma once
/* Rise and fall (HAProxy's `check rise fall`): a server that is up goes
 * down after `fall` failures in a row, one that is down comes back after
 * `rise` successes in a row. Pure: tests/unit/health_tests.c. */
#include <stdbool.h>
#include <stdint.h>
#include "health/checker.h"

enum tally_change {
	TALLY_SAME = 0,
	TALLY_DOWN,	/* it just went down */
	TALLY_UP,	/* it just came (back) up */
};

/* A new server: HEALTH_UNKNOWN, which the forwarders treat as up; its
 * first `fall` failures take it down, one success makes it up. */
void tally_init(struct tally *t);
enum tally_change tally_add(struct tally *t, bool ok, uint8_t rise, uint8_t fall);
