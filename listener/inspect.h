/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Per-connection inspection: peek at what a client sent so far, let
 * decide.c name the action, and carry it out: wait, hand off (down into
 * dispatch), or answer and close (down into lconn).
 */
#include <stdbool.h>
#include <stdint.h>
#include "router/config.h"
#include "listener/decide.h"
#include "listener/dispatch.h"
#include "listener/lconn.h"
#include "router/proxy_parse.h"

struct inspector {
	const struct gh_config *cfg;
	struct lconns *conns;
	struct dispatch *disp;
	struct srcconn *src;	/* source-connections, or NULL */
	/* The one buffer every client is peeked into: enough for the largest
	 * ClientHello (16 KiB of handshake) spread over a few records, and for
	 * the largest request head (max-head-size <= 64 KiB). Nothing in it
	 * outlives a call: the parsers are stateless and re-read from the
	 * first byte, so it doubles as the sink reply_final() reads a client's
	 * bytes into before an answer and close. */
	uint8_t buf[DECIDE_PEEK_MAX + PROXY_PARSE_MAX];	/* + a balancer's PROXY header */
	/* decide_*() write answers here; sent before the next decision */
	char answer[DECIDE_ANSWER_MAX];
};

/* Returns true while the client is still being inspected (c still valid). */
bool inspect_conn(struct inspector *in, struct lconn *c, bool hangup);

/* c's deadline passed: answer (408, or a close) and free it. */
void inspect_timeout(struct inspector *in, struct lconn *c);
