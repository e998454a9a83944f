/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * gatehouse-listener: the only process that reads attacker bytes.
 * It accepts, peeks at the first bytes (never consuming them), names a
 * configured site and passes the client fd to a forwarder. It answers
 * errors and redirects itself. It opens no file and dials no address.
 */
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include "router/config.h"
#include "common/dlist.h"
#include "router/gh_limits.h"
#include "common/handoff.h"
#include "common/load.h"

enum lobj_type {
	LOBJ_LISTEN,
	LOBJ_CHANNEL,
	LOBJ_CONN,
};

struct llisten {
	uint8_t type;		/* LOBJ_LISTEN */
	uint8_t kind;		/* enum gh_kind */
	bool enabled;		/* in the epoll set with EPOLLIN */
	int fd;
};

struct lchannel {
	uint8_t type;		/* LOBJ_CHANNEL */
	bool dead;
	bool blocked;		/* last send hit EAGAIN; waiting for EPOLLOUT */
	int fd;
	uint32_t sent;		/* hand-offs sent, ever (wraps) */
	const struct gh_load *load;	/* the forwarder's figures, or NULL */
	uint32_t seen_taken;	/* load->taken when last seen to move ... */
	uint64_t moved_ms;	/* ... and when (see stalled() in dispatch.c) */
};

/* A client being inspected: ~64 bytes. The bytes themselves stay in the
 * kernel (MSG_PEEK) and are parsed from one shared buffer. */
struct lconn {
	uint8_t type;		/* LOBJ_CONN */
	uint8_t kind;
	bool got_bytes;		/* any byte seen: a timeout then earns a 408 */
	bool in_epoll;		/* registered only if the first peek was not enough */
	int fd;
	uint64_t deadline_ms;
	uint64_t accepted_usec;
	struct dlist link;	/* in the inspect deadline queue */
	struct sockaddr_in6 peer;	/* IPv4 peers arrive v4-mapped or as sockaddr_in */
};

/* A decided client waiting to be sent to a forwarder. */
struct lpending {
	struct handoff_msg msg;
	int fd;
};

struct lstats {
	uint64_t accepted, handed_off, rejected, timeouts, active;
};

struct listener {
	const struct gh_config *cfg;
	int epfd;
	struct llisten listens[GH_MAX_LISTENS];
	unsigned n_listens;
	struct lchannel channels[GH_MAX_FORWARDERS];
	unsigned n_channels;
	bool all_loads;		/* every forwarder sent its load page */
	unsigned next_channel;
	struct dlist inspecting;	/* by deadline */
	unsigned n_inspecting;
	unsigned max_inspecting;
	/* ring of decided clients not yet sent */
	struct lpending *pending;
	unsigned pending_head, pending_len, pending_cap;
	bool accept_paused;
	uint64_t accept_resume_ms;	/* after EMFILE/ENFILE; UINT64_MAX none */
	bool draining;			/* stop accepting, exit when nothing waits */
	bool stopping;			/* asked to stop (SIGTERM): draining is expected */
	const char *drain_reason;	/* why we drain if not asked to */
	uint64_t drain_deadline_ms;
	struct lstats stats;
	/* rejection log rate limit */
	uint64_t log_window_ms;
	unsigned log_in_window, log_suppressed;
};

/* inspect.c */
/* Returns true while the client is still being inspected (c still valid). */
bool inspect_conn(struct listener *l, struct lconn *c, bool hangup);
void inspect_timeout(struct listener *l, struct lconn *c);
void conn_free(struct listener *l, struct lconn *c);

/* dispatch.c */
void dispatch_queue(struct listener *l, struct lconn *c, const char *site, const char *name);
void dispatch_flush(struct listener *l);
void dispatch_channel_event(struct listener *l, struct lchannel *ch, uint32_t events);
void listener_update_accept(struct listener *l);

/* main.c */
void listener_reject_log(struct listener *l, const struct lconn *c, const char *result,
			 const char *name, const char *detail, int status);
