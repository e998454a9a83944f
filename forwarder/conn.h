/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The connection object: one client and, once dialled, its server. Born in
 * intake.c, ended by whichever module finds it done (dial, relay, queue
 * time-outs). Ending only closes the sockets, writes the log record and
 * parks the object: what other modules hold for it (a site slot, pipes,
 * held bytes) is released by the loop, which reaps the ended ones each
 * round (conn_next_ended) and calls those modules down. So this file calls
 * nothing of the forwarder's and everything may call it.
 */
#include <stdbool.h>
#include <stdint.h>
#include "common/dlist.h"
#include "forwarder/pump.h"

struct gh_config;

/*
 * epoll data of a relay's fd: the fconn's address (48 bits), its generation
 * (15 bits) and the side (top bit: server). Ended fconns go to a free list,
 * never back to malloc, and their generation moves on: an event still
 * queued for an old registration (the listener's copy of a client socket
 * can keep one alive after our close) names a generation that is gone and
 * is ignored, with no EPOLL_CTL_DEL per connection. 0 is the channel.
 */
#define FTAG_CHANNEL 0u
#define FTAG_SERVER (1ull << 63)
#define FTAG_PTR_MASK ((1ull << 48) - 1)

enum fstate {
	FS_CONNECTING,	/* 0: what a fresh fconn is */
	FS_QUEUED,	/* waiting for a slot of its site (queue.c) */
	FS_RELAY,
	FS_DEAD,	/* ended; recycled after the current epoll batch */
};

struct fconn {
	uint16_t gen;		/* bumped each time the struct is reused */
	uint8_t state;		/* enum fstate */
	uint8_t kind;
	uint8_t proxy_version;
	uint8_t tries;		/* servers tried for this client */
	bool creg;		/* client fd is in the epoll set */
	bool cout;		/* ... with EPOLLOUT (only after a send to it hit EAGAIN) */
	bool sout;		/* server fd is registered with EPOLLOUT */
	bool counted;		/* holds one of its site's slots (queue.c) */
	bool queued;		/* counted among its site's waiting clients (queue.c) */
	bool src_counted;	/* in the per-source counts (srccount.c) */
	uint8_t alpn_route;	/* 0, or the site's tls-alpn route (handoff.h) */
	uint16_t server;	/* index in the servers of its kind or route */
	uint32_t site;
	int cfd, sfd;
	struct fdir up;		/* client -> server */
	struct fdir down;	/* server -> client */
	struct dlist link;	/* connect, queue or idle list; then ended, parked, free */
	uint64_t deadline_ms;	/* connect deadline, or last activity + idle */
	uint64_t start_ms;	/* our own clock when the hand-off was taken: the
				 * listener's timestamp is not trusted for the log */
	char *name;		/* requested name, for the log */
	uint8_t client_family;
	uint16_t client_port;
	uint8_t client_addr[16];
};

/* Every connection of the process, by life stage. */
struct fconns {
	const struct gh_config *cfg;	/* for the log record's names */
	unsigned n;		/* alive: taken and not yet ended */
	struct dlist ended;	/* ended; others' state for them not yet released */
	struct dlist parked;	/* released; kept until the epoll batch is over */
	struct dlist free;	/* for reuse (see FTAG_*) */
};

void conn_setup(struct fconns *cs, const struct gh_config *cfg);
/* A fresh connection owning client fd cfd, named name (copied; may be "").
 * NULL when out of memory (cfd is then the caller's). */
struct fconn *conn_new(struct fconns *cs, int cfd, const char *name);
/* End: log the record, close both sockets, park on the ended list. Once
 * only; the caller's lists lose c (its link moves). */
void conn_end(struct fconns *cs, struct fconn *c, const char *result);
/* The next ended connection whose other state the loop must release; it
 * moves to the parked list. NULL when none. */
struct fconn *conn_next_ended(struct fconns *cs);
/* After an epoll batch: parked connections become reusable, their old
 * epoll tags void. */
void conn_recycle(struct fconns *cs);
/* At exit: free everything recycled. */
void conn_teardown(struct fconns *cs);

static inline uint64_t fconn_tag(const struct fconn *c, bool server)
{
	return ((uint64_t)(uintptr_t)c & FTAG_PTR_MASK) | ((uint64_t)(c->gen & 0x7fff) << 48) |
	       (server ? FTAG_SERVER : 0);
}

/* The connection an epoll tag names, or NULL for a stale tag (a reused
 * struct's old registration). */
static inline struct fconn *fconn_of_tag(uint64_t tag)
{
	struct fconn *c = (struct fconn *)(uintptr_t)(tag & FTAG_PTR_MASK);
	if ((uint16_t)((tag >> 48) & 0x7fff) != (c->gen & 0x7fff))
		return NULL;
	return c;
}
