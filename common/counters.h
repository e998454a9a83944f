/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Counters for Prometheus (gatehouse-metrics), DESIGN.md rule 6: each
 * daemon counts in one page of its own (a memfd sealed against resize and
 * against any later writable mapping, F_SEAL_FUTURE_WRITE), written only
 * through the daemon's own mapping and never read back by it. Under
 * `gatehouse run` the daemon hands the fd to its launcher with its notify
 * message before its sandbox goes up; the launcher passes it on to the
 * exporter, which maps it read-only. The daemons gain no socket.
 *
 * One writer per page: a counter is bumped with a relaxed load and store
 * (no locked instruction), and a reader sees each 64-bit value whole.
 * What a page says is untrusted by its reader (the listener's is written
 * by the process that parses attacker bytes): the exporter takes the role
 * from its launcher, bounds the site count by its own copy of the config,
 * and the names of sites, kinds and results from tables here.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "router/config.h"

#define CTR_MAGIC 0x52544347u	/* "GCTR" */
#define CTR_VERSION 3u	/* 2: denied, rate_limited, bad_proxy answers; 3: connect times, queues, servers */

enum ctr_role {
	CTR_LISTENER = 1,
	CTR_FORWARDER = 2,
};

/* How a forwarder's connection ended (its log record's GATEHOUSE_RESULT);
 * a result not listed counts as "other", so the label set stays bounded. */
#define CTR_RESULT_NAMES "ok", "connect_failed", "queue_timeout", "client_error", "server_error", \
			 "idle_timeout", "stopped", "internal", "other"
#define CTR_RESULTS 9u

/* What the listener answered itself (its rejection records), "redirect"
 * included; unlisted results count as "other". */
#define CTR_ANSWER_NAMES "no_route", "bad_hello", "bad_request", "too_big", "timeout", \
			 "client_closed", "client_error", "overload", "internal", "redirect", \
			 "denied", "rate_limited", "bad_proxy", "other"
#define CTR_ANSWERS 14u

/* Inspection time (accept to decision) buckets, upper bounds in
 * microseconds; the last slot is +Inf. The exporter makes them cumulative. */
#define CTR_INSPECT_BOUNDS_US 100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000
#define CTR_INSPECT_SLOTS 11u

/* Connect time (connect() to the server's answer, one server) buckets,
 * upper bounds in microseconds; the last slot is +Inf. */
#define CTR_CONNECT_BOUNDS_US 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000
#define CTR_CONNECT_SLOTS 13u

struct ctr_site {
	_Atomic uint64_t conns[GH_KIND_COUNT][CTR_RESULTS];	/* ended connections */
	_Atomic uint64_t bytes_in;	/* client -> server */
	_Atomic uint64_t bytes_out;	/* server -> client */
	_Atomic uint64_t queued;	/* clients waiting for one of its slots now */
	_Atomic uint64_t queue_waits;	/* clients that waited and got a slot */
	_Atomic uint64_t queue_wait_ms;	/* ... and how long they waited, in all */
};

struct gh_counters {
	uint32_t magic;			/* CTR_MAGIC */
	uint32_t version;		/* CTR_VERSION */
	uint32_t role;			/* enum ctr_role (a hint: the reader has its own) */
	uint32_t n_sites;		/* entries in sites[] */
	uint64_t start_time;		/* process start, seconds since the epoch */
	_Atomic uint64_t open;		/* forwarder: connections held now */
	_Atomic uint64_t taken;		/* forwarder: clients taken from the channel */
	_Atomic uint64_t accepted;	/* listener: clients accepted */
	_Atomic uint64_t handed_off;	/* listener: clients handed to a forwarder */
	_Atomic uint64_t answers[CTR_ANSWERS];	/* listener: answered or refused itself */
	_Atomic uint64_t inspect[CTR_INSPECT_SLOTS];	/* listener: clients by inspection time */
	_Atomic uint64_t inspect_sum_us;	/* ... and the sum of those times */
	_Atomic uint64_t connect[CTR_CONNECT_SLOTS];	/* forwarder: servers' connects by time */
	_Atomic uint64_t connect_sum_us;	/* ... and the sum of those times */
	uint32_t n_servers;		/* forwarder: per-server counts after sites[] */
	uint32_t pad;
	struct ctr_site sites[];
	/* then _Atomic uint64_t server_fails[n_servers]: connects that failed
	 * (refused, reset or timed out), per server in counters_server_slots'
	 * order */
};

/* Bytes of a page for n_sites and n_servers, rounded up to whole pages. */
size_t counters_size(uint32_t n_sites, uint32_t n_servers);

/* The per-server counts of a page: n_servers of them after sites[]. */
static inline _Atomic uint64_t *counters_servers(const struct gh_counters *c)
{
	return (_Atomic uint64_t *)(uintptr_t)&c->sites[c->n_sites];
}

/* The per-server slots of a config, in the forwarder's own order (the
 * TCP kinds, each site, its own servers, then for tls its tls-alpn
 * routes' in route order): calls fn for each (slot, site, kind, server
 * address) when fn is not NULL; returns how many there are. */
uint32_t counters_server_slots(const struct gh_config *c,
			       void (*fn)(void *arg, uint32_t slot, uint32_t site, unsigned kind, const struct gh_addr *a),
			       void *arg);

/* This process's counters: never NULL (a zero page with no sites before
 * counters_setup, so code counting in unit tests needs no set-up). */
extern struct gh_counters *gh_ctr;

/* Before the sandbox: make this process's page for n_sites (and, for a
 * forwarder, n_servers per-server counts) and, when
 * GATEHOUSE_METRICS is set (by `gatehouse run` with `metrics`), send it
 * with the notify message "GATEHOUSE_COUNTERS=1"; under systemd, offer it
 * (with config_fd, a forwarder's config snapshot, or -1) on the exporter's
 * socket (counters_offer_path): a listener's at once, a forwarder's once
 * counters_offer_pending is called.
 * config_fd is closed. Failure is logged and leaves counting to private
 * memory: metrics are never worth a daemon. */
void counters_setup(enum ctr_role role, uint32_t n_sites, uint32_t n_servers, int config_fd);

/* Under systemd, between counters_setup and counters_offer_pending: a
 * forwarder's gatehouse-health page (fd dup'd) goes with its offer, so
 * the exporter shows server health as the forwarders see it. No offer
 * prepared: nothing done. */
void counters_offer_health(int health_fd);
/* Send the offer counters_setup prepared, if any (still before the
 * sandbox: after the daemon's own set-up, which fetches the health page). */
void counters_offer_pending(void);

/* Under systemd: the exporter's socket for this daemon's role, from
 * GATEHOUSE_COUNTERS_SOCKET (set by its unit), when that socket exists
 * (gatehouse-metrics.socket is enabled) and `gatehouse run` is not the
 * launcher; else NULL. */
const char *counters_offer_path(void);

/* Connect to path, send the page fd (and config_fd if >= 0) in one
 * CTR_MSG_PAGE message, shut the connection for reading and keep it: it is
 * never used again, and its end (ours) tells the exporter that our figures
 * are final. Nothing is waited for. Returns the kept fd or -errno. */
int counters_offer(const char *path, enum ctr_role role, int page_fd, int config_fd);
/* The same with a forwarder's health page too (health_fd >= 0; needs
 * config_fd, which names the generation the page is keyed by). */
int counters_offer_fds(const char *path, enum ctr_role role, int page_fd, int config_fd, int health_fd);

/* The page alone: created, mapped into *out, sealed, filled; returns its
 * fd (the caller's) or -errno. counters_setup's first half. */
int counters_page(enum ctr_role role, uint32_t n_sites, uint32_t n_servers, struct gh_counters **out);

/* Index of result in names[] (n entries, the last one "other"). */
unsigned counters_index(const char *const *names, unsigned n, const char *result);

static inline void ctr_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline void ctr_sub(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - v, memory_order_relaxed);
}

extern const uint64_t ctr_inspect_bounds_us[CTR_INSPECT_SLOTS - 1];
extern const uint64_t ctr_connect_bounds_us[CTR_CONNECT_SLOTS - 1];
extern const char *const ctr_result_names[CTR_RESULTS];
extern const char *const ctr_answer_names[CTR_ANSWERS];

/* Forwarder: a connection taken; one ended (site, kind, its log result,
 * bytes each way). */
static inline void counters_conn_new(void)
{
	ctr_add(&gh_ctr->open, 1);
	ctr_add(&gh_ctr->taken, 1);
}

/* Forwarder: a server answered a connect after us microseconds. */
static inline void counters_connected(uint64_t us)
{
	unsigned b = 0;

	while (b < CTR_CONNECT_SLOTS - 1 && us > ctr_connect_bounds_us[b])
		b++;
	ctr_add(&gh_ctr->connect[b], 1);
	ctr_add(&gh_ctr->connect_sum_us, us);
}

/* Forwarder: a connect to server slot failed. */
static inline void counters_server_failed(uint32_t slot)
{
	if (slot < gh_ctr->n_servers)
		ctr_add(&counters_servers(gh_ctr)[slot], 1);
}

/* Forwarder: a client of site starts waiting for a slot (+1), or stops
 * (-1; waited_ms >= 0 when it got the slot after that long). */
static inline void counters_queue(uint32_t site, int delta, int64_t waited_ms)
{
	if (site >= gh_ctr->n_sites)
		return;
	struct ctr_site *s = &gh_ctr->sites[site];
	if (delta > 0)
		ctr_add(&s->queued, 1);
	else
		ctr_sub(&s->queued, 1);
	if (waited_ms >= 0) {
		ctr_add(&s->queue_waits, 1);
		ctr_add(&s->queue_wait_ms, (uint64_t)waited_ms);
	}
}

static inline void counters_conn_end(uint32_t site, unsigned kind, const char *result, uint64_t in, uint64_t out)
{
	ctr_sub(&gh_ctr->open, 1);
	if (site >= gh_ctr->n_sites || kind >= GH_KIND_COUNT)
		return;
	struct ctr_site *s = &gh_ctr->sites[site];
	ctr_add(&s->conns[kind][counters_index(ctr_result_names, CTR_RESULTS, result)], 1);
	ctr_add(&s->bytes_in, in);
	ctr_add(&s->bytes_out, out);
}

/* Listener: an answer of its own (result as logged). */
static inline void counters_answer(const char *result)
{
	ctr_add(&gh_ctr->answers[counters_index(ctr_answer_names, CTR_ANSWERS, result)], 1);
}

/* Listener: a client decided (handed off or answered), accepted at
 * accepted_us and decided at now_us (CLOCK_REALTIME: a step back counts 0). */
static inline void counters_inspected(uint64_t accepted_us, uint64_t now_us)
{
	uint64_t d = now_us > accepted_us ? now_us - accepted_us : 0;
	unsigned i = 0;
	while (i < CTR_INSPECT_SLOTS - 1 && d > ctr_inspect_bounds_us[i])
		i++;
	ctr_add(&gh_ctr->inspect[i], 1);
	ctr_add(&gh_ctr->inspect_sum_us, d);
}

/*
 * Launcher -> exporter, over their SOCK_SEQPACKET control channel: a
 * generation's config snapshot (fd: its sealed memfd), a daemon's page
 * (fd), or a daemon gone (no fd: its final figures are carried over).
 */
enum ctr_msg_type {
	CTR_MSG_CONFIG = 1,
	CTR_MSG_PAGE = 2,
	CTR_MSG_GONE = 3,
	CTR_MSG_HEALTH = 4,	/* a generation's health page (common/health.h), fd */
};

struct ctr_msg {
	uint32_t type;		/* enum ctr_msg_type */
	uint32_t gen;		/* generation */
	int32_t pid;		/* the daemon's */
	uint32_t role;		/* enum ctr_role, as the launcher knows it */
	uint32_t index;		/* PAGE: forwarder's place in its generation;
				 * CONFIG: why the generation started (enum ctr_gen_why) */
};

enum ctr_gen_why {
	CTR_GEN_FIRST = 0,	/* the first, or one the exporter is told again */
	CTR_GEN_RELOAD = 1,	/* SIGHUP */
	CTR_GEN_RESTART = 2,	/* the listener exited and was started again */
};
