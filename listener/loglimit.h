/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * A log rate limit: at most LOG_LIMIT_PER_SEC records a second pass, the
 * rest are counted and the count is logged when the next window opens, so
 * a flood of junk (rejected clients, a failing accept) cannot fill the
 * journal and push real records out. Time is passed in: pure but for the
 * one count line it logs.
 */
#include <stdbool.h>
#include <stdint.h>

#define LOG_LIMIT_PER_SEC 20u

struct log_limit {
	uint64_t window_ms;	/* start of the current one-second window */
	unsigned in_window;	/* records asked for in it */
	unsigned suppressed;	/* of those, not logged */
};

/* True when the caller may log this record. `what` names the records in
 * the count line ("rejection records" gives "N rejection records suppressed"). */
bool log_limit_pass(struct log_limit *ll, uint64_t now_ms, const char *what);
