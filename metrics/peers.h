/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Under systemd (gatehouse-metrics.socket): the daemons, not a launcher,
 * bring their counters pages. Each connects, before its sandbox, to the
 * exporter's socket for its role and sends one message: its page, and a
 * forwarder its config snapshot (common/counters_offer.c). The role is the
 * socket's: the listeners' socket (named "metrics", in
 * gatehouse-metrics.socket) only the gatehouse group may connect to, the
 * forwarders' ("forwarders", gatehouse-metrics-forwarders.socket) only the
 * gatehouse-forwarder group. The daemon then keeps the connection, shut for
 * reading, without a word more; its hang-up is the daemon's end, and that
 * daemon's figures are carried over as under `gatehouse run`.
 */
#include <stdbool.h>
#include <stdint.h>
#include "metrics/pages.h"

#define PEERS_MAX PAGES_MAX
/* epoll tags: the two sockets, then one per connection (below any pointer) */
#define PEERS_TAG_LISTENERS 3u
#define PEERS_TAG_FORWARDERS 4u
#define PEERS_TAG_CONN 16u

struct peer {
	int fd;			/* -1: free */
	uint32_t role;		/* enum ctr_role: the socket's */
	bool paged;		/* its one message came */
};

struct peers {
	int sock[2];		/* listening: [0] listeners', [1] forwarders' (-1: none) */
	uint64_t listeners;	/* listener pages taken, ever */
	struct peer p[PEERS_MAX];
};

void peers_init(struct peers *pr);
/* The sockets into epfd; 0 or -errno. */
int peers_watch(struct peers *pr, int epfd);
/* An epoll event with a tag from above. */
void peers_event(struct peers *pr, int epfd, struct pages *ps, uint64_t tag, uint32_t events);
/* Live connections. */
unsigned peers_count(const struct peers *pr);
void peers_free(struct peers *pr);
