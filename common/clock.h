/* SPDX-License-Identifier: MIT */
#pragma once
/* Clocks read through the vDSO: no system call on the hot path. */
#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t clock_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t clock_realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* epoll_wait timeout until deadline_ms (-1: none). */
static inline int clock_timeout_until(uint64_t deadline_ms, uint64_t now_ms)
{
	if (deadline_ms == UINT64_MAX)
		return -1;
	if (deadline_ms <= now_ms)
		return 0;
	uint64_t d = deadline_ms - now_ms;
	return d > 60000 ? 60000 : (int)d;
}
