/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * gatehouse-listener: the only process that reads attacker bytes.
 * It accepts, peeks at the first bytes (never consuming them), names a
 * configured site and passes the client fd to a forwarder. It answers
 * errors and redirects itself. It opens no file and dials no address.
 *
 * The whole listener, as main.c's loop sees it. Calls run one way:
 * main -> accept -> inspect -> dispatch -> lconn.
 */
#include <stdbool.h>
#include <stdint.h>
#include "router/config.h"
#include "router/gh_limits.h"
#include "listener/accept.h"
#include "listener/dispatch.h"
#include "listener/inspect.h"
#include "listener/lconn.h"
#include "listener/quic_rx.h"

struct listener {
	const struct gh_config *cfg;
	int epfd;
	struct llisten listens[GH_MAX_LISTENS];
	unsigned n_listens;
	struct lconns conns;		/* the clients being inspected */
	struct dispatch disp;		/* channels and the hand-off ring */
	struct inspector insp;		/* holds the peek buffer */
	struct srcconn srcc;		/* source-connections counts */
	struct lquic quic;		/* QUIC sockets and flows (quic_rx.h) */
	bool draining;			/* stop accepting, exit when nothing waits */
	const char *drain_reason;	/* why we drain if not asked to */
	uint64_t drain_deadline_ms;
	int exit_status;		/* non-zero: a listening socket broke */
	/* `gatehouse run`'s control socket: replacement channels come on it
	 * (common/handoff_chan.h); -1 under systemd */
	struct {
		uint8_t type;		/* LOBJ_CONTROL */
		int fd;
		bool ready;		/* readable: read at the round's end */
	} ctl;
};
