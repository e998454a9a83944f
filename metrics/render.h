/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The Prometheus text format (version 0.0.4, which OpenMetrics scrapers
 * also read) of what pages.h knows. Label values come from the exporter's
 * own config copies and the fixed tables of common/counters.h only.
 */
#include <stddef.h>
#include <stdint.h>
#include "metrics/pages.h"

struct mbuf {
	char *p;
	size_t len, cap;
	bool failed;		/* out of memory: the scrape gets a 500 */
};

/* Render into b (appended); start_time: the exporter's, seconds. */
void render_metrics(const struct pages *ps, uint64_t start_time, struct mbuf *b);

void mbuf_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mbuf_free(struct mbuf *b);
