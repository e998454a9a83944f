/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What the exporter knows: each generation's config (its own copy, parsed
 * from the snapshot the launcher passed: site names come from here, never
 * from a page), each live daemon's counters page mapped read-only, and the
 * figures of daemons gone, carried over by site name so that a reload
 * never makes a counter go back (Prometheus sees one series per site that
 * only grows; gauges such as open relays come from live daemons only).
 */
#include <stdbool.h>
#include <stdint.h>
#include "common/counters.h"
#include "common/health.h"

#define PAGES_MAX 512u		/* live daemons: as many as the launcher has children */
#define GENS_MAX 32u		/* generations with a live daemon or the newest */

struct mgen {
	uint32_t gen;
	struct gh_config *cfg;
	uint32_t *site_slot;	/* site index -> index in pages.sites */
	struct health_view hv;	/* its checker's page, read-only (none: hv.page NULL) */
	uint64_t text_hash;	/* of the snapshot's text, and its length: */
	size_t text_len;	/* under systemd a daemon's config joins a generation by them */
	uint32_t next_index;	/* under systemd: the next forwarder's place in it */
	uint32_t n_servers;	/* per-server slots of cfg (counters_server_slots) */
	uint32_t *srv_site;	/* slot -> site index in cfg */
	uint8_t *srv_kind;	/* slot -> kind */
	const struct gh_addr **srv_addr;	/* slot -> its address in cfg */
};

struct mpage {
	int32_t pid;
	uint32_t gen, role, index;
	const struct gh_counters *c;	/* PROT_READ mapping */
	size_t size;
	uint32_t n_sites;	/* min(page's, config's) */
	uint32_t n_servers;	/* min(page's, config's, what fits) */
	struct mgen *g;
};

/* Figures by site name: carried over (gone daemons) plus, during a
 * render, the live ones. */
struct msite {
	char *name;
	uint64_t conns[GH_KIND_COUNT][CTR_RESULTS], bytes_in, bytes_out;
	uint64_t queued;	/* a gauge: live daemons only */
	uint64_t queue_waits, queue_wait_ms;
};

/* A server's failed connects, by site name, kind and address: only
 * servers that ever failed have one (label sets bounded by the config). */
struct mserver {
	unsigned site;		/* index in pages.sites */
	unsigned kind;
	char addr[sizeof(((struct gh_addr *)0)->text)];
	uint64_t fails;
};

struct mtotals {
	uint64_t accepted, handed_off, taken, answers[CTR_ANSWERS];
	uint64_t inspect[CTR_INSPECT_SLOTS], inspect_sum_us;
	uint64_t connect[CTR_CONNECT_SLOTS], connect_sum_us;
	struct mserver *servers;	/* in a sum: a copy the caller frees */
	unsigned n_servers, servers_cap;
};

struct pages {
	struct mgen gens[GENS_MAX];
	unsigned n_gens;
	uint32_t newest_gen;
	uint64_t generations;	/* generations announced, ever */
	uint64_t reloads, restarts;	/* of them, started by a reload, by a listener's restart */
	struct mpage pages[PAGES_MAX];
	unsigned n_pages;
	struct msite *sites;	/* every site name seen, in first-seen order */
	unsigned n_sites, sites_cap;
	uint32_t *index;	/* name -> place in sites (metrics/pages.c) */
	unsigned index_cap;
	struct mtotals gone;	/* from daemons gone */
};

/* Apply one control message (fd: its SCM_RIGHTS fd or -1, taken over).
 * A listener's page needs no generation (it counts nothing by site). */
void pages_apply(struct pages *ps, const struct ctr_msg *m, int fd);

/* Under systemd, where no launcher numbers generations: the generation
 * whose config text is the same as the snapshot in fd (taken over), else a
 * new one (the first, then each a reload brought). 0: unreadable, or no
 * room. */
uint32_t pages_config_gen(struct pages *ps, int fd);

/* Sum everything into out_sites (n_sites entries, parallel to ps->sites)
 * and *out: what a scrape shows. out->servers is the caller's to free
 * (NULL if a copy could not be made: then no per-server series). */
void pages_sum(const struct pages *ps, struct msite *out_sites, struct mtotals *out);

void pages_free(struct pages *ps);
