/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The listener's QUIC flows: a flow is a client address and port plus the
 * local address it sent to (and which QUIC socket). A new flow is pending
 * while its ClientHello is read from its Initial packets (it holds the
 * reassembly state and the datagrams seen so far); once routed it is
 * active: a few dozen bytes naming its forwarder channel and flow id.
 *
 * Bounded, because UDP sources are forged at will: a global cap on
 * flows, a smaller one on pending flows, a cap on pending flows per source
 * prefix (/24 for IPv4, /48 for IPv6, counted in hashed buckets, so a
 * collision only counts against a prefix early), and each pending flow
 * holds at most LQ_PENDING_DGRAMS datagrams and LQ_PENDING_BYTES bytes.
 * Pending flows end at inspect-timeout, active ones after the QUIC idle
 * timeout without a client datagram. No I/O here.
 */
#include <stdbool.h>
#include <stdint.h>
#include "common/dlist.h"
#include "router/hostname.h"
#include "router/quic_initial.h"

#define LQ_PENDING_DGRAMS 6u		/* Chromium needs 2; a 0-RTT client a few more */
#define LQ_PENDING_BYTES (12u * 1024u)
#define LQ_PREFIX_BUCKETS 4096u

struct lqkey {
	uint8_t client[16];		/* IPv6; IPv4 v4-mapped */
	uint8_t local[16];
	uint16_t port;
	uint8_t sock;			/* index of the QUIC socket */
	uint8_t zero;
};

struct lqpending {
	struct quic_flow_hello hello;
	unsigned n_dgrams;
	size_t bytes;
	uint16_t dlen[LQ_PENDING_DGRAMS];
	/* grown as datagrams come (most flows hold one or two): a pending
	 * flow costs its hello state (~9.7 KB) plus what it sent */
	uint8_t *data;
	size_t cap;
	/* routed, waiting for room in a forwarder channel (quic_rx.c) */
	uint32_t site;
	char name[HOSTNAME_MAX + 1];
};

struct lqflow {
	struct lqkey key;
	struct lqflow *next;		/* hash chain */
	struct dlist link;		/* pending or active list, by deadline */
	uint64_t deadline_ms;
	uint64_t started_usec;
	uint64_t id;			/* active: the id the forwarder knows it by */
	uint32_t ifindex;
	uint16_t bucket;		/* its source prefix's counter */
	uint8_t channel;		/* active: its forwarder channel */
	bool active;
	struct lqpending *p;		/* pending only */
	/* NAT rebinding: the client's original DCID, and the CID the server
	 * chose, learned from the client's later long-header packets (in
	 * clear); short-header packets carry it from a new address too */
	uint8_t odcid_len, scid_len;
	uint8_t odcid[QUIC_CID_MAX];
	uint8_t scid[QUIC_CID_MAX];
	struct lqflow *cid_next;	/* chain in the CID table */
	struct lqflow *id_next;		/* active: chain in the id table */
	/* routed while every channel was full: in quic_rx's waiting list */
	struct dlist wait;
	bool waiting;
};

struct lqtable {
	struct lqflow **buckets;
	unsigned mask;
	unsigned n, n_pending;
	unsigned max_flows, max_pending, max_per_prefix;
	struct dlist pending, active;
	uint16_t prefix[LQ_PREFIX_BUCKETS];
	uint8_t hkey[16];
	struct lqflow **cids;		/* by server CID; same size as buckets */
	uint32_t cid_lens;		/* bit n: some server CID has n bytes */
	struct lqflow **ids;		/* active flows by id; same size as buckets */
};

/* hkey: random (siphash key). -ENOMEM. */
int lq_init(struct lqtable *t, unsigned max_flows, unsigned max_pending, unsigned max_per_prefix,
	    const uint8_t hkey[16]);
void lq_free_all(struct lqtable *t);

struct lqflow *lq_find(struct lqtable *t, const struct lqkey *k);

enum lq_refusal { LQ_OK, LQ_FULL, LQ_PENDING_FULL, LQ_PREFIX_FULL, LQ_NOMEM };
/* A new pending flow, deadline given; NULL and *why when a cap says no. */
struct lqflow *lq_new_pending(struct lqtable *t, const struct lqkey *k, uint64_t deadline_ms,
			      enum lq_refusal *why);
/* Keep a datagram of a pending flow; false when it has no room. */
bool lq_keep(struct lqflow *f, const uint8_t *d, size_t len);
/* The pending flow was routed: drop its pending state, make it active. */
void lq_activate(struct lqtable *t, struct lqflow *f, unsigned channel, uint64_t id, uint64_t deadline_ms);
/* An active flow's datagram: its idle deadline moves. */
void lq_touch(struct lqtable *t, struct lqflow *f, uint64_t deadline_ms);
void lq_free(struct lqtable *t, struct lqflow *f);
/* A client long-header packet of an active flow with DCID cid: a DCID
 * other than the original one is the server's CID; the first one is kept
 * (unless another flow holds it already). */
void lq_learn_cid(struct lqtable *t, struct lqflow *f, const uint8_t *cid, size_t len);
/* The active flow the forwarders know by id, or NULL. */
struct lqflow *lq_find_id(struct lqtable *t, uint64_t id);
/* The active flow whose server CID is the first len bytes of cid. */
struct lqflow *lq_find_cid(struct lqtable *t, const uint8_t *cid, size_t len);
/* The flow's client moved (NAT rebinding): it is found by k from now on. */
void lq_rekey(struct lqtable *t, struct lqflow *f, const struct lqkey *k);
/* Forwarder channel `channel` is gone: forget every active flow it held
 * (their datagrams are then dropped like any unknown one). How many. */
unsigned lq_free_channel(struct lqtable *t, unsigned channel);
/* The flow whose deadline comes first in a list, or NULL. */
struct lqflow *lq_first(struct dlist *list);
