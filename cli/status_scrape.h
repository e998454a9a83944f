/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * A scrape of gatehouse-metrics for `gatehouse status`: one HTTP GET of
 * /metrics, and the samples of the Prometheus text format it needs, read
 * strictly (a line it cannot read fails the scrape: the exporter is ours).
 */
#include <stddef.h>
#include "router/config.h"

struct sample {
	char name[64];
	char site[256], kind[8], result[32], direction[8], reason[32], generation[12], forwarder[12];
	char server[64];
	double value;
};

struct scrape {
	struct sample *s;
	size_t n, cap;
};

/* GET http://addr/metrics within timeout_ms and parse it. 0, or -errno
 * with a line on stderr. */
int scrape_get(const struct gh_addr *addr, int timeout_ms, struct scrape *out);
/* Parse text[0..len); 0 or -EINVAL (line number in *bad_line). */
int scrape_parse(const char *text, size_t len, struct scrape *out, unsigned *bad_line);
void scrape_free(struct scrape *sc);
/* Sum of the samples named name whose labels match (NULL: any). */
double scrape_sum(const struct scrape *sc, const char *name, const char *site, const char *kind,
		  const char *result, const char *direction, const char *reason);
