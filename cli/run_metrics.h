/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * `gatehouse run` with a `metrics` line: the launcher's side of the
 * exporter (gatehouse-metrics). It binds the metrics address, and passes
 * the exporter, over their control channel, each generation's config
 * snapshot, each daemon's counters page as the daemon hands it over (with
 * its READY-style notify message), and each daemon's end. It only passes
 * fds on: it never maps a page.
 */
#include <stdbool.h>
#include <sys/types.h>
#include "router/config.h"

struct runm {
	int listen_fd;		/* the metrics socket (-1: metrics off) */
	int ctl;		/* our end of the control channel */
	int ctl_child;		/* the exporter's end, until it is spawned */
	pid_t pid;		/* the exporter, 0 when none runs */
};

/* Off: nothing bound. */
void runm_init(struct runm *m);
/* Bind addr and make the control channel; 0 or -errno. */
int runm_bind(struct runm *m, const struct gh_addr *addr);
/* The exporter was spawned with our two fds: drop the child's end. */
void runm_spawned(struct runm *m, pid_t pid);
/* Generation gen runs with the config in config_fd (a sealed memfd). */
void runm_config(struct runm *m, unsigned gen, int config_fd);
/* A daemon's page (fd, ours to close). */
void runm_page(struct runm *m, unsigned gen, pid_t pid, bool listener, unsigned index, int fd);
/* A daemon exited: its last figures are carried over by the exporter. */
void runm_gone(struct runm *m, pid_t pid);
