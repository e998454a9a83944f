/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * `gatehouse run`: a forwarder of the running generation that dies is
 * replaced in place, and the running listener keeps going. The listener
 * cannot open a channel itself (it may not connect), so the launcher gives
 * each listener a control socket (SOCK_SEQPACKET socketpair, fd name
 * "control") on which it sends, and never reads, the listener's end of
 * each new forwarder's channel and that forwarder's load page, which it
 * takes off the channel first (common/handoff_chan.h). What dies with the
 * forwarder: its relays and its QUIC flows; everything else goes on.
 *
 * This file keeps the control socket, the slots waiting to be started
 * again (a forwarder that keeps dying before it is ready backs off and is
 * given up after a few) and the new channels waiting for their page; run.c
 * spawns the processes.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "router/gh_limits.h"

/* How long the launcher waits for a new forwarder's load page. */
#define REPLACE_PAGE_WAIT_MS 5000
/* A slot whose forwarders die before READY=1 this many times in a row is
 * given up until the next generation. */
#define REPLACE_MAX_EARLY 5
#define REPLACE_BACKOFF_MS 200

struct run_replace {
	int ctl;			/* our end of this generation's control socket; -1 */
	int sndbuf;			/* the listener's channel send buffer */
	uint64_t due;			/* slots to start again (bit = slot) */
	uint64_t due_at[GH_MAX_FORWARDERS];
	unsigned early[GH_MAX_FORWARDERS];	/* deaths before READY in a row */
	struct {
		int chan;		/* the listener's end, until its page came (-1: none) */
		uint64_t deadline_ms;
	} wait[GH_MAX_FORWARDERS];
};

void replace_init(struct run_replace *R, bool quic);
/* A new generation: the old listener's control socket and whatever was
 * pending for it are dropped; *listener_end is the new listener's end
 * (the caller passes it at exec and closes its copy). 0 or -errno. */
int replace_new_generation(struct run_replace *R, int *listener_end);
/* The forwarder of slot died (early: before READY=1): start another, at
 * once or after a back-off; false when the slot is given up. */
bool replace_died(struct run_replace *R, unsigned slot, bool early, uint64_t now_ms);
/* A slot due now, or -1. */
int replace_next_due(struct run_replace *R, uint64_t now_ms);
/* Make a new channel for slot: *forwarder_end goes to the new forwarder
 * (the caller closes its copy after spawning); our end waits here for the
 * forwarder's page. 0 or -errno. */
int replace_channel(struct run_replace *R, unsigned slot, int *forwarder_end);
/* The spawn failed: forget slot's channel. */
void replace_abort(struct run_replace *R, unsigned slot);
/* The channels waiting for a page, for poll(); how many were filled. */
unsigned replace_pollfds(const struct run_replace *R, struct pollfd *p, unsigned max);
/* The next deadline (a page's, or a back-off's), or UINT64_MAX. */
uint64_t replace_deadline(const struct run_replace *R);
/* Pass on every new channel whose page came (or whose wait is over). */
void replace_run(struct run_replace *R, uint64_t now_ms);
