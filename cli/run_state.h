/* SPDX-License-Identifier: MIT */
#pragma once
/* `gatehouse run`'s state, shared by run.c (generations, the loop) and
 * run_notify.c (what its children tell it). Nothing else includes it. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "cli/run_metrics.h"
#include "cli/run_replace.h"
#include "router/gh_limits.h"

#define MAX_FORWARDERS GH_MAX_FORWARDERS
#define MAX_CHILDREN 512

struct child {
	pid_t pid;
	unsigned gen;
	bool is_listener;
	bool ready;
	unsigned index;		/* forwarder's place in its generation */
	bool is_health;		/* its generation's gatehouse-health */
	bool page_sent;		/* its counters page went to the exporter (once only) */
};

struct launcher {
	const char *config_path;
	int config_fd;		/* sealed memfd: the last config that loaded (its text) */
	int image_fd;		/* sealed memfd: the same, compiled (config_load_image) */
	char listener_bin[PATH_MAX];
	char forwarder_bin[PATH_MAX];
	char metrics_bin[PATH_MAX];
	char health_bin[PATH_MAX];
	bool has_checks;	/* the loaded config has `check` lines: a checker per generation */
	int health_fd;		/* the newest generation's health page (-1: none) */
	pid_t health_pid;	/* the newest generation's checker, until it hands its page over */
	uint64_t health_renewed_ms;	/* when a lost checker last brought a new generation */
	bool stopping;
	struct runm metrics;	/* the exporter, with `metrics` */
	unsigned gen_why;	/* why the next generation starts (enum ctr_gen_why) */
	unsigned n_forwarders;
	int listen_fds[GH_MAX_LISTENS];
	struct gh_listen listens[GH_MAX_LISTENS];	/* to listen again (revive_listens) */
	unsigned n_listen;
	int notify_fd;
	char notify_path[108];
	struct child children[MAX_CHILDREN];
	unsigned gen;
	pid_t listener_pid;
	bool announced;
	unsigned early_failures;	/* listeners in a row that died before READY=1 */
	bool listener_died_early;
	uint64_t restart_at_ms;		/* pending restart (UINT64_MAX: none) */
	struct run_replace rep;		/* dead forwarders started again (run_replace.h) */
};

/* Notify messages from the children: READY=1, counters pages, the
 * checker's page. */
void on_notify(struct launcher *L);
/* Once the whole first generation is ready: READY=1 upwards, once. */
void check_ready(struct launcher *L);
