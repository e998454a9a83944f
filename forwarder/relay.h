/* SPDX-License-Identifier: MIT */
#pragma once
/* The relay: both directions of one client<->server pair (relay.c). */
#include <stdbool.h>
#include <stdint.h>

struct forwarder;
struct fconn;
struct pump_buf;

enum early_result {
	EARLY_NONE,	/* nothing tried or nothing read: the relay will see to it */
	EARLY_HELD,	/* still connecting: bytes held until the connect completes */
	EARLY_UP_HELD,	/* up, but the server took only part: the rest is held */
	EARLY_SENT,	/* sent: the connection is up and the client drained */
	EARLY_SENT_MORE,	/* sent, and the client may have more waiting */
};
/* Before the connect is known to be done: the client's first bytes. An
 * enum early_result, or -errno (-ENOMEM, or the connect's failure). */
int relay_early(struct fconn *c, struct pump_buf *buf);
void relay_start(struct forwarder *f, struct fconn *c, uint32_t server_events, bool up_drained);
void relay_event(struct forwarder *f, struct fconn *c, bool from_client, uint32_t events);
void relay_expire(struct forwarder *f, uint64_t now);
/* An ended connection's pipes and held bytes (the loop, on reaping). */
void relay_release(struct fconn *c);
