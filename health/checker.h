/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * gatehouse-health: the one process that checks servers. Its state, lent
 * to each module. Calls run one way:
 *   main -> probe -> verdict, tally, page
 * main.c is the event loop; probe.c runs one check of one server at a
 * time per server (connect, and maybe a request and its answer);
 * verdict.c reads an answer (pure); tally.c counts successes and failures
 * into up and down (pure); page.c publishes the states.
 */
#include <stdbool.h>
#include <stdint.h>
#include "common/health.h"
#include "router/config.h"

/* rise/fall bookkeeping of one server (tally.c) */
struct tally {
	uint8_t state;		/* enum health_state */
	uint8_t run;		/* consecutive results against the state */
};

struct target {
	int fd;			/* the check in flight, or -1 */
	bool sent;		/* its request (if any) went out */
	uint64_t due_ms;	/* next check's start */
	uint64_t deadline_ms;	/* in flight: its timeout */
	uint64_t started_ms;
	struct tally tally;
	uint32_t changes;	/* up <-> down, ever */
	const char *last_why;	/* the last failure's reason (a static string) */
	int last_errno;
	size_t got;		/* answer bytes read */
	char buf[32];		/* the start of the answer: all a verdict needs */
};

struct checker {
	const struct gh_config *cfg;
	int epfd;
	struct target *t;	/* cfg->n_checks */
	struct gh_health_page *page;	/* our writable mapping (NULL: publishing failed) */
	int page_fd;		/* kept to hand to those who ask (-1 once given away) */
	int serve_fd;		/* under systemd: the socket forwarders ask on (-1: none) */
	uint64_t checks, failures;	/* checks done, failed */
};
