/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * gatehouse-forwarder: takes client fds from one listener channel, dials
 * one of the named site's configured servers (its own copy of the config:
 * the listener never supplies an address), optionally writes a PROXY
 * header, then relays both ways until both sides are done.
 */
#include <stdbool.h>
#include <stdint.h>
#include "router/config.h"
#include "common/dlist.h"
#include "common/handoff.h"
#include "common/load.h"

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

/* One direction of a relay: bytes read from one socket, written to the
 * other. Small messages go through the process's shared buffer with
 * recv/send; bulk switches to splice() through a pipe borrowed from a pool
 * and given back as soon as it is empty, so an idle relay holds no pipe. */
struct fdir {
	int pipe_r, pipe_w;	/* -1 when no pipe is held */
	uint32_t in_pipe;	/* bytes sitting in the pipe */
	uint32_t pend_off, pend_len;	/* leftover of a short send() */
	uint8_t *pend;		/* malloc'd only when a send() was short */
	uint64_t bytes;		/* delivered to the destination */
	bool eof;		/* source said EOF */
	bool shut;		/* EOF passed on with shutdown(SHUT_WR) */
	bool src_hup;		/* the source reported RDHUP/HUP: read to EOF */
	bool bulk;		/* moving with splice (see relay.c) */
};

enum fstate {
	FS_CONNECTING,	/* 0: what a fresh fconn is */
	FS_QUEUED,	/* waiting for a slot of its site (queue.c) */
	FS_RELAY,
	FS_DEAD,	/* ended; freed after the current epoll batch */
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
	uint16_t server;	/* index in the site's servers of this kind */
	uint32_t site;
	int cfd, sfd;
	struct fdir up;		/* client -> server */
	struct fdir down;	/* server -> client */
	struct dlist link;	/* connect or idle queue */
	uint64_t deadline_ms;	/* connect deadline, or last activity + idle */
	uint64_t accepted_usec;
	char *name;		/* requested name, for the log */
	uint8_t client_family;
	uint16_t client_port;
	uint8_t client_addr[16];
	const char *result;	/* set on the first error, else "ok" */
};

/* Per-server failure memory: a failed server is avoided for a while. */
struct fserver_state {
	uint64_t avoid_until_ms;
	uint8_t early_skip;	/* connects left before the next early send (dial.c) */
};

struct forwarder {
	const struct gh_config *cfg;
	int epfd;
	int channel;
	bool channel_open;
	bool channel_paused;	/* not reading hand-offs: near the fd limit */
	unsigned max_conns;	/* relays this process takes at most */
	unsigned fd_budget;	/* fds it may hold for clients: a relay up to 4, a queued client 1 */
	unsigned n_queued;	/* of n_conns, waiting for a site slot (queue.c) */
	struct dlist connecting;	/* by connect deadline */
	struct dlist relaying;		/* by last activity (moved to the tail on each) */
	struct dlist dead;		/* ended during this epoll batch */
	struct dlist free_conns;	/* ended fconns kept for reuse (see FTAG_*) */
	unsigned n_conns;
	/* round-robin position and failure memory per site and kind */
	uint32_t *rr[GH_KIND_COUNT];
	struct fserver_state **srv[GH_KIND_COUNT];
	uint64_t total, failed;
	uint32_t received;		/* hand-off messages read, ever (wraps) */
	/* per site (queue.c): relays held, this forwarder's share of
	 * site-max-connections (0: none), clients waiting for a slot */
	unsigned *site_relays, *site_share, *site_queued;
	struct dlist queued;		/* waiting clients, by arrival (= deadline) */
	bool slot_freed;		/* a relay with a slot ended this round */
	struct gh_load *load;		/* published to the listener, or NULL */
};

static inline uint64_t fconn_tag(const struct fconn *c, bool server)
{
	return ((uint64_t)(uintptr_t)c & FTAG_PTR_MASK) | ((uint64_t)(c->gen & 0x7fff) << 48) |
	       (server ? FTAG_SERVER : 0);
}

/* queue.c */
int queue_setup(struct forwarder *f, unsigned n_forwarders);
void queue_free(struct forwarder *f);
void queue_admit(struct forwarder *f, struct fconn *c);
void queue_release(struct forwarder *f, struct fconn *c);
void queue_run(struct forwarder *f, uint64_t now);
unsigned queue_intake_room(const struct forwarder *f);

/* dial.c */
void dial_start(struct forwarder *f, struct fconn *c);
void dial_give_up(struct forwarder *f, struct fconn *c, const char *result);
void dial_event(struct forwarder *f, struct fconn *c, uint32_t events);
void dial_expire(struct forwarder *f, uint64_t now);

/* relay.c */
enum early_result {
	EARLY_NONE,	/* nothing tried or nothing read: the relay will see to it */
	EARLY_HELD,	/* still connecting: bytes held until the connect completes */
	EARLY_UP_HELD,	/* up, but the server took only part: the rest is held */
	EARLY_SENT,	/* sent: the connection is up and the client drained */
	EARLY_SENT_MORE,	/* sent, and the client may have more waiting */
};
int relay_early(struct fconn *c);
void relay_start(struct forwarder *f, struct fconn *c, uint32_t server_events, bool up_drained);
void relay_event(struct forwarder *f, struct fconn *c, bool from_client, uint32_t events);
void relay_expire(struct forwarder *f, uint64_t now);
void relay_init(void);
void relay_release(struct fconn *c);

/* main.c */
void fconn_end(struct forwarder *f, struct fconn *c, const char *result);
