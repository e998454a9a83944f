/* SPDX-License-Identifier: MIT */
/*
 * Per-source limits in the config: `source-rate N/DURATION`,
 * `source-inspecting K`, `source-prefix-v6 LENGTH`, `source-table N`
 * (global only, before any site: the listener enforces them at accept
 * with one fixed router/srclimit.h table), and `source-connections N`
 * (global and per site: counted by the forwarders, router/srcbucket.h,
 * decided by the listener once the site is known). gatehouse.conf(5)
 * "Per-source limits".
 */
#include <string.h>
#include "router/config.h"
#include "router/config_parser.h"
#include "router/gh_limits.h"
#include "router/srclimit.h"

/* the table's slots must cover every client the listener can inspect at
 * once, so a full table (every slot a live source) cannot happen */
#define SOURCE_TABLE_MIN GH_MAX_INSPECTING
#define SOURCE_TABLE_DEFAULT 65536u
#define SOURCE_RATE_MAX 1000000u
/* counters are 32-bit; far above any relay cap */
#define SOURCE_CONNECTIONS_MAX 1000000u

bool config_source_limits_on(const struct gh_config *c)
{
	return c->src.rate > 0 || c->src.inspecting > 0;
}

uint32_t config_source_slots(const struct gh_config *c)
{
	return c->src.slots ? c->src.slots : SOURCE_TABLE_DEFAULT;
}

bool config_source_connections_on(const struct gh_config *c)
{
	if (c->src.connections)
		return true;
	for (size_t i = 0; i < c->n_sites; i++)
		if (c->sites[i].src_connections)
			return true;
	return false;
}

bool config_site_rates_on(const struct gh_config *c)
{
	for (size_t i = 0; i < c->n_sites; i++)
		if (c->sites[i].src_rate)
			return true;
	return false;
}

unsigned config_source_v6_prefix(const struct gh_config *c)
{
	return c->src.v6_prefix ? c->src.v6_prefix : 64;
}

static bool once(struct config_parser *p, const struct config_directive *d, unsigned *line)
{
	if (*line) {
		config_error(p, "'%s' already set at line %u", d->name, *line);
		return false;
	}
	*line = p->line;
	return true;
}

/* N/DURATION: N new connections per DURATION and source, e.g. 20/1s */
static void source_rate(struct config_parser *p, const struct config_directive *d,
			const struct config_tok *arg, uint32_t *rate, uint32_t *window_ms, unsigned *line)
{
	const char *slash = memchr(arg->s, '/', arg->len);
	char q[QUOTE_BUF];
	const char *why;
	uint64_t n;
	uint32_t ms;

	if (!slash || !config_uint(arg->s, (size_t)(slash - arg->s), SOURCE_RATE_MAX, &n) || n < 1 ||
	    n > SOURCE_RATE_MAX) {
		config_error(p, "bad %s '%s': expected N/DURATION with N from 1 to %u, e.g. 20/1s", d->name,
			     Q(q, arg), SOURCE_RATE_MAX);
		return;
	}
	why = config_duration(slash + 1, arg->len - (size_t)(slash + 1 - arg->s), &ms);
	if (why) {
		config_error(p, "bad duration in %s '%s': %s", d->name, Q(q, arg), why);
		return;
	}
	if (once(p, d, line)) {
		*rate = (uint32_t)n;
		*window_ms = ms;
	}
}

static void source_number(struct config_parser *p, const struct config_directive *d,
			  const struct config_tok *arg, uint64_t lo, uint64_t hi, uint32_t *field,
			  unsigned *line)
{
	char q[QUOTE_BUF];
	uint64_t v;

	if (!config_uint(arg->s, arg->len, hi, &v) || v < lo || v > hi) {
		config_error(p, "bad %s '%s': a number from %llu to %llu", d->name, Q(q, arg),
			     (unsigned long long)lo, (unsigned long long)hi);
		return;
	}
	if (once(p, d, line))
		*field = (uint32_t)v;
}

int config_do_source(struct config_parser *p, const struct config_directive *d,
		     const struct config_tok *arg, size_t n)
{
	struct gh_source_limits *s = &p->c->src;

	(void)n;
	if (strcmp(d->name, "source-connections") == 0) {
		/* global, or per site: connections a source holds at once */
		if (p->cur == GH_NO_SITE)
			source_number(p, d, arg, 1, SOURCE_CONNECTIONS_MAX, &s->connections, &s->line_connections);
		else
			source_number(p, d, arg, 1, SOURCE_CONNECTIONS_MAX, &p->c->sites[p->cur].src_connections,
				      &p->c->sites[p->cur].line_src_connections);
		return 0;
	}
	if (strcmp(d->name, "source-rate") == 0) {
		/* global at accept, or per site once routed */
		if (p->cur == GH_NO_SITE)
			source_rate(p, d, arg, &s->rate, &s->window_ms, &s->line_rate);
		else
			source_rate(p, d, arg, &p->c->sites[p->cur].src_rate, &p->c->sites[p->cur].src_window_ms,
				    &p->c->sites[p->cur].line_src_rate);
		return 0;
	}
	if (p->cur != GH_NO_SITE) {
		config_error(p, "'%s' is global: put it before the first 'site'", d->name);
		return 0;
	}
	if (strcmp(d->name, "source-inspecting") == 0) {
		source_number(p, d, arg, 1, GH_MAX_INSPECTING, &s->inspecting, &s->line_inspecting);
	} else if (strcmp(d->name, "source-prefix-v6") == 0) {
		uint32_t v = 0;
		source_number(p, d, arg, 1, 128, &v, &s->line_prefix);
		if (v)
			s->v6_prefix = v;
	} else {
		source_number(p, d, arg, SOURCE_TABLE_MIN, SRCLIMIT_MAX_SLOTS, &s->slots, &s->line_table);
	}
	return 0;
}
