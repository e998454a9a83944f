/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * QUIC in the listener: it reads every datagram of the shared UDP
 * socket(s) (the process that reads attacker bytes anyway), reads each new
 * flow's ClientHello from its Initial packets (router/quic_initial.h),
 * routes it like a TLS name, and hands the flow to a forwarder over the
 * hand-off channel with the datagrams it held (a START message); later
 * datagrams follow in DATA messages, batched per channel and sent at the
 * end of each loop round. It never dials: it names a site.
 *
 * A name with no site and no default is refused the way a server would:
 * a CONNECTION_CLOSE in an Initial packet carrying CRYPTO_ERROR 0x0170
 * (unrecognized_name), built with the public Initial keys
 * (router/quic_close.h), smaller than the client's datagram. A client the
 * allow/deny lists refuse gets CRYPTO_ERROR 0x0131 (access_denied).
 * Anything else that is not a v1/v2 Initial of a new flow, or a datagram
 * of a known one, is dropped without an answer.
 */
#include <stdbool.h>
#include <stdint.h>
#include "common/handoff.h"
#include "common/handoff_chan.h"
#include "router/config.h"
#include "router/gh_limits.h"
#include "listener/dispatch.h"
#include "listener/lconn.h"
#include "listener/quic_flows.h"

/* datagrams per recvmmsg, and the buffer each gets (larger ones are
 * dropped: QUIC datagrams stay near the path MTU) */
#define LQ_RX_BATCH 32u
#define LQ_RX_SLOT 4096u
/* caps (listener/quic_flows.h) */
#define LQ_MAX_FLOWS 65536u
#define LQ_MAX_PENDING 4096u
#define LQ_MAX_PER_PREFIX 256u
/* the channels' send buffer when QUIC is on (main.c's CHANNEL_SNDBUF
 * is sized for fd hand-offs only) */
#define LQ_CHANNEL_SNDBUF HANDOFF_CHANNEL_SNDBUF_QUIC

struct lqsock {
	uint8_t type;		/* LOBJ_QUIC */
	int fd;
	int family;		/* of the socket: AF_INET6 (dual stack) or AF_INET */
	unsigned index;		/* in passing order: the forwarders' order too */
};

struct lqstats {
	uint64_t datagrams, dropped, flows, rejected, timeouts, moves, evicted;
	uint64_t lost;		/* active flows whose forwarder died */
	uint64_t ended;		/* active flows their forwarder said it ended */
};

struct lquic {
	const struct gh_config *cfg;
	struct dispatch *disp;
	struct lconns *conns;		/* for the rejection records */
	struct lqsock socks[GH_MAX_LISTENS];
	unsigned n_socks;
	struct lqtable t;
	struct dlist waiting;		/* routed flows waiting for channel room */
	struct quic_crypto *crypto;
	uint64_t next_id;
	/* DATA messages being filled, one per channel (allocated on use) */
	struct handoff_quic_buf *out[GH_MAX_FORWARDERS];
	struct handoff_quic_buf *start;
	uint8_t (*rx)[LQ_RX_SLOT];
	struct lqstats stats;
};

/* Before the sandbox: a passed socket (the caller adds it to epoll). */
int lquic_add_socket(struct lquic *q, int fd);
/* Before the sandbox, after the sockets: keys, tables, libcrypto. */
int lquic_setup(struct lquic *q, const struct gh_config *cfg, struct dispatch *d, struct lconns *c);
/* A QUIC socket is readable. */
void lquic_ready(struct lquic *q, struct lqsock *s);
/* End of round: send the DATA messages; expire flows. */
void lquic_after_round(struct lquic *q, uint64_t now_ms);
uint64_t lquic_deadline(struct lquic *q);
/* Forwarder channel ci died: its flows end here too (forgotten, so later
 * datagrams are dropped as unknown), and its unsent DATA is dropped. */
void lquic_channel_gone(struct lquic *q, unsigned ci);
void lquic_teardown(struct lquic *q);
