/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Server health, as gatehouse-health (health/) publishes it: one page (a
 * memfd sealed against resize and against any later writable mapping,
 * F_SEAL_FUTURE_WRITE, as the load and counters pages) that only the
 * health daemon writes, through the mapping it made before sealing.
 * Forwarders and the exporter map it read-only; the listener never gets
 * it (DESIGN.md rule 6: nothing a forwarder reads is written by the
 * process that parses attacker bytes).
 *
 * The page is keyed by the config: its checks_id must be the reader's own
 * cfg->checks_id and its slot count the reader's cfg->n_checks, so that a
 * page written for another server list (a reload that changed servers)
 * is never read against this one. A page whose heartbeat stops (the
 * health daemon gone) is ignored: every server counts as up again, which
 * is what gatehouse did before checks existed.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "router/config.h"

#define HEALTH_MAGIC 0x48544c48u	/* "HLTH" */
#define HEALTH_VERSION 1u

enum health_state {
	HEALTH_UNKNOWN = 0,	/* not checked yet: counts as up */
	HEALTH_UP = 1,
	HEALTH_DOWN = 2,
};

struct health_slot {
	_Atomic uint32_t state;		/* enum health_state */
	_Atomic uint32_t changes;	/* up <-> down transitions, ever */
};

struct gh_health_page {
	uint32_t magic;			/* HEALTH_MAGIC */
	uint32_t version;		/* HEALTH_VERSION */
	uint64_t checks_id;		/* the writer's cfg->checks_id */
	uint32_t n_slots;		/* the writer's cfg->n_checks */
	uint32_t pad;
	_Atomic uint64_t heartbeat_ms;	/* CLOCK_MONOTONIC of its last round (0: none yet) */
	struct health_slot slots[];	/* one per cfg->checks entry */
};

/* Bytes of a page for n slots, rounded up to whole pages. */
size_t health_page_size(uint32_t n_slots);

/* A reader's view: the mapping (NULL: none, all servers up) and when it
 * counts as stale. */
struct health_view {
	const struct gh_health_page *page;
	size_t size;
	uint32_t n_slots;
	uint64_t stale_ms;	/* a heartbeat older than this: the checker is gone */
};

/* Map the page in fd read-only for cfg (the fd is the caller's to close).
 * 0, or -errno with *v left empty: a page not sealed against writes and
 * resizing, or made for another config, is refused. */
int health_view_open(struct health_view *v, int fd, const struct gh_config *cfg);
void health_view_close(struct health_view *v);

/* Is target `check` (GH_NO_CHECK: an unchecked server) down now? False
 * without a page, for a stale page, and for a slot not checked yet. */
bool health_down(const struct health_view *v, uint32_t check, uint64_t now_ms);

/* The state to show (metrics, status): HEALTH_UNKNOWN for a stale page. */
enum health_state health_state_of(const struct health_view *v, uint32_t check, uint64_t now_ms);

/* Under systemd: the checker hands its page out on this socket
 * (gatehouse-health.socket), one message per connection: HEALTH_HELLO
 * and the fd (SCM_RIGHTS), then it closes. */
#define HEALTH_SOCKET "/run/gatehouse/health.sock"
#define HEALTH_HELLO "GHHLTH1"

/* Connect to path and take the page's fd within timeout_ms: the fd, or
 * -errno (-ENOENT, -ECONNREFUSED: no checker there; -ETIMEDOUT). */
int health_fetch(const char *path, int timeout_ms);

/* The env var `gatehouse run` names a forwarder's page fd in. */
#define HEALTH_FD_ENV "GATEHOUSE_HEALTH_FD"
/* What the health daemon says with its page fd on the notify socket. */
#define HEALTH_NOTIFY "GATEHOUSE_HEALTH=1"
