/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The listener's clients: the connection object's birth and death, the
 * counts that gate accepting, and the rate-limited logs (rejections,
 * accept errors; common/ratelimit.h). The bottom of the listener: it calls
 * nothing else in listener/, and everything above calls down into it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include "common/dlist.h"
#include "common/ratelimit.h"
#include "listener/srcconn.h"

/* What an epoll event's data.ptr points at: each object starts with it. */
enum lobj_type {
	LOBJ_LISTEN,
	LOBJ_CHANNEL,
	LOBJ_CONN,
	LOBJ_QUIC,	/* a QUIC UDP socket (quic_rx.h) */
	LOBJ_CONTROL,	/* the launcher's control socket (main.c) */
};

/* A client being inspected: ~64 bytes. The bytes themselves stay in the
 * kernel (MSG_PEEK) and are parsed from the inspector's buffer. */
struct lconn {
	uint8_t type;		/* LOBJ_CONN */
	uint8_t kind;
	bool got_bytes;		/* any byte seen: a timeout then earns a 408 */
	bool in_epoll;		/* registered only if the first peek was not enough */
	bool counted;		/* admitted by the per-source table: released when it goes */
	/* from a trusted balancer of its listen: not counted at accept (one
	 * balancer carries many clients); its PROXY source is, once decided */
	bool via_balancer;
	/* index in cfg->listens of the listen it came in on (its own
	 * accept-proxy list), or LCONN_NO_LISTEN; in what was padding */
	uint16_t listen;
	int fd;
	uint64_t deadline_ms;
	uint64_t accepted_usec;
	struct dlist link;	/* in the inspect deadline queue */
	struct sockaddr_in6 peer;	/* IPv4 peers arrive v4-mapped or as sockaddr_in */
	struct srcconn_ticket ticket;	/* source-connections: set when decided for a hand-off */
};
#define LCONN_NO_LISTEN UINT16_MAX

/* A peer as (family, address bytes), IPv4 for v4-mapped; false if neither. */
bool lconn_peer_addr(const struct sockaddr_in6 *peer, int *family, const uint8_t **addr);

/* Records a second per log (rejections, accept errors); the rest are
 * counted and the count logged once its window is over, so a flood of junk
 * cannot fill the journal and push real records out. */
#define LCONN_LOG_PER_SEC 20u

struct lstats {
	uint64_t accepted, handed_off, rejected, timeouts, active;
};

struct lconns {
	struct dlist inspecting;	/* by deadline: the head expires first */
	/* Clients in the list plus decided ones whose fd waits in the
	 * hand-off ring: every client accepted and not yet gone. */
	unsigned n_inspecting;
	unsigned max_inspecting;
	uint64_t accept_resume_ms;	/* after EMFILE/ENFILE; UINT64_MAX none */
	struct lstats stats;
	struct ratelimit rejects;	/* lconn_reject_log */
	struct ratelimit accept_errors;	/* lconn_accept_log_take */
	struct srclimit *src;		/* per-source limits at accept; NULL: none configured */
	struct srclimit *site_src;	/* sites' `source-rate`; NULL: no site has one */
};

void lconns_init(struct lconns *t, unsigned max_inspecting);

struct gh_config;
/* The per-source table (`source-*` lines), if configured: fixed size, its
 * SipHash key from getrandom(); call before the sandbox (the listener's
 * filter has no getrandom). 0, or -errno. */
int lconn_limits_init(struct lconns *t, const struct gh_config *cfg);
void lconn_limits_free(struct lconns *t);

/* May this new client be taken? 0 (SRCLIMIT_OK: counted, the lconn that
 * holds it gets counted = true) or the srclimit_status that refuses it;
 * *retry_after_s set for a rate refusal. Always 0 with no table. */
int lconn_admit(struct lconns *t, const struct sockaddr_in6 *peer, uint64_t now_ms,
		uint32_t *retry_after_s);
/* A client of site routed: a token from its source's bucket for the
 * site (rate per window_ms)? SRCLIMIT_OK, or SRCLIMIT_OVER_RATE with
 * *retry_after_s. Always OK with no site table or rate 0. */
int lconn_site_rate(struct lconns *t, const struct sockaddr_in6 *peer, uint32_t site, uint32_t rate,
		    uint32_t window_ms, uint64_t now_ms, uint32_t *retry_after_s);
/* Give back an admission whose client never got an lconn. */
void lconn_unadmit(struct lconns *t, const struct sockaddr_in6 *peer);

/* A new client, counted and queued by deadline; NULL when out of memory
 * (the caller closes fd). */
struct lconn *lconn_new(struct lconns *t, int fd, unsigned kind, const struct sockaddr_in6 *peer,
			uint64_t accepted_usec, uint64_t deadline_ms);

/* The client is gone: close its fd (which drops it from epoll), uncount. */
void lconn_free(struct lconns *t, struct lconn *c);

/* The client's fd goes to the hand-off ring: the object is freed, the fd
 * returned, and the client stays counted until lconn_sent(). */
int lconn_detach(struct lconns *t, struct lconn *c);

/* n detached clients were handed to a forwarder. */
void lconn_sent(struct lconns *t, unsigned n);

/* The client whose deadline comes first, or NULL. */
struct lconn *lconn_first(struct lconns *t);

/* One access record for a client the listener answered or refused
 * itself; at most LCONN_LOG_PER_SEC a second, with a count of the rest. */
void lconn_reject_log(struct lconns *t, const struct lconn *c, const char *result,
		      const char *name, const char *detail, int status);

/* May an accept error be logged now? (LCONN_LOG_PER_SEC a second) */
bool lconn_accept_log_take(struct lconns *t, uint64_t now_ms);
/* Log the count of records held back in windows that are over; the loop
 * calls it each round, and wakes for lconn_log_deadline(). */
void lconn_log_flush(struct lconns *t, uint64_t now_ms);
/* When a held-back count is due (UINT64_MAX: none). */
uint64_t lconn_log_deadline(const struct lconns *t);

/* Out of fds: accept nothing until until_ms. */
void lconn_pause_accept(struct lconns *t, uint64_t until_ms);

/* Accept only while there is room: few enough clients being inspected,
 * no backlog of hand-offs (ring_backed_up: the last flush could not send
 * all it held), no fd exhaustion pause, not draining. Pure: the loop
 * evaluates it each round and enables or disables the listening sockets
 * to match, and the accept batch asks it before each client. */
bool lconn_accept_wanted(const struct lconns *t, bool ring_backed_up, bool draining, uint64_t now_ms);
