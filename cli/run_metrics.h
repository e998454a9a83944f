/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * `gatehouse run` with a `metrics` line: the launcher's side of the
 * exporter (gatehouse-metrics). It binds the metrics address, and passes
 * the exporter, over their control channel, each generation's config
 * snapshot, each daemon's counters page as the daemon hands it over (with
 * a notify message), and each daemon's end. It never maps a page; it keeps
 * a copy of each live daemon's page fd and of the configs they run, so that
 * an exporter that died is started again with every live page (the figures
 * of daemons that ended before are lost with it: a counter reset, which
 * Prometheus's rate() takes in its stride).
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "router/config.h"

#define RUNM_MAX 512u		/* live daemons, as the launcher's children */
#define RUNM_GENS 32u		/* generations with a live daemon */

struct runm_page {
	pid_t pid;
	unsigned gen, index;
	bool listener;
	int fd;
};

struct runm {
	int listen_fd;		/* the metrics socket (-1: metrics off) */
	int ctl;		/* our end of the control channel */
	int ctl_child;		/* the exporter's end, until it is spawned */
	pid_t pid;		/* the exporter, 0 when none runs */
	uint64_t restart_at_ms;	/* after it died: when to start it again (UINT64_MAX: not due) */
	struct runm_page pages[RUNM_MAX];
	unsigned n_pages;
	struct {
		unsigned gen;
		int fd;
		int health_fd;	/* its health page, -1: none */
	} gens[RUNM_GENS];
	unsigned n_gens;
};

/* Off: nothing bound. */
void runm_init(struct runm *m);
/* Bind addr and make the control channel; 0 or -errno. */
int runm_bind(struct runm *m, const struct gh_addr *addr);
/* A new control channel for a new exporter; 0 or -errno. */
int runm_rearm(struct runm *m);
/* The exporter was spawned with our two fds: drop the child's end, and
 * tell it everything live (nothing, the first time). */
void runm_spawned(struct runm *m, pid_t pid);
/* Generation gen runs with the config in config_fd (its sealed compiled
 * image; dup'd),
 * started for why (enum ctr_gen_why). */
void runm_config(struct runm *m, unsigned gen, int config_fd, unsigned why);
/* Generation gen's health page (fd: the caller's; dup'd). */
void runm_health(struct runm *m, unsigned gen, int fd);
/* A daemon's page (fd: ours to keep or close). */
void runm_page(struct runm *m, unsigned gen, pid_t pid, bool listener, unsigned index, int fd);
/* A child exited: the exporter (then true: start another when
 * restart_at_ms comes), or a daemon, whose last figures it carries over. */
bool runm_gone(struct runm *m, pid_t pid, uint64_t now_ms);
