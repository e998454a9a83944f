/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * At most `burst` log records per window; the rest are counted, and the
 * count is reported once the window is over, so a flood of junk cannot fill
 * the journal (and push real records out of journald's per-unit limit) but
 * its size is still on record. Time is the caller's (ms, monotonic).
 */
#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint64_t window_ms;
	unsigned burst;
	uint64_t start_ms;	/* of the current window */
	unsigned in_window;	/* records let through in it */
	unsigned suppressed;	/* records held back, not yet reported */
};

void ratelimit_init(struct ratelimit *r, uint64_t window_ms, unsigned burst);
/* May this record be logged? If not it is counted. Call ratelimit_flush
 * first, so a finished window's count is reported before the next. */
bool ratelimit_take(struct ratelimit *r, uint64_t now_ms);
/* Once the window is over: how many were held back in it (0: nothing to
 * report), and a new window starts. */
unsigned ratelimit_flush(struct ratelimit *r, uint64_t now_ms);
/* When a count is due to be reported (UINT64_MAX: none held). */
uint64_t ratelimit_deadline(const struct ratelimit *r);
