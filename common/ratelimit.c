/* SPDX-License-Identifier: MIT */
#include "common/ratelimit.h"

void ratelimit_init(struct ratelimit *r, uint64_t window_ms, unsigned burst)
{
	r->window_ms = window_ms ? window_ms : 1;
	r->burst = burst;
	r->start_ms = 0;
	r->in_window = 0;
	r->suppressed = 0;
}

static bool window_over(const struct ratelimit *r, uint64_t now_ms)
{
	return now_ms < r->start_ms || now_ms - r->start_ms >= r->window_ms;
}

unsigned ratelimit_flush(struct ratelimit *r, uint64_t now_ms)
{
	if (!window_over(r, now_ms))
		return 0;
	unsigned n = r->suppressed;
	r->start_ms = now_ms;
	r->in_window = 0;
	r->suppressed = 0;
	return n;
}

bool ratelimit_take(struct ratelimit *r, uint64_t now_ms)
{
	if (window_over(r, now_ms)) {
		r->start_ms = now_ms;
		r->in_window = 0;
	}
	if (r->in_window < r->burst) {
		r->in_window++;
		return true;
	}
	r->suppressed++;
	return false;
}

uint64_t ratelimit_deadline(const struct ratelimit *r)
{
	return r->suppressed ? r->start_ms + r->window_ms : UINT64_MAX;
}
