/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What the listener does with a client, decided from the bytes seen so far
 * (or a timeout), with no I/O: inspect.c carries the decision out. Pure: no
 * state of its own, every byte it writes goes to the caller's memory (the
 * decision and the answer buffer), so the whole per-connection state
 * machine can be fuzzed with arbitrary chunks and timings
 * (tests/fuzz/fuzz_listener.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "router/config.h"
#include "router/hostname.h"

struct sockaddr;
struct sockaddr_in6;

enum decide_action {
	DECIDE_WAIT,		/* need more bytes */
	DECIDE_HANDOFF,		/* give the client to a forwarder for `site` */
	DECIDE_ANSWER,		/* send `answer`, then close (answer may be empty) */
	DECIDE_DROP,		/* close quietly, no log (closed before a byte) */
};

struct decision {
	enum decide_action action;
	uint32_t site;			/* HANDOFF: index in cfg->sites */
	char name[HOSTNAME_MAX + 1];	/* the normalised name asked for ("" if none) */
	const char *result;		/* ANSWER: log result (no_route, bad_request, ...) */
	const char *detail;		/* ANSWER: parser's reason, for the log */
	int status;			/* ANSWER: HTTP status, 0 for TLS/none */
	const uint8_t *answer;		/* ANSWER: bytes to send: in the caller's
					 * answer buffer, or static (the TLS alert) */
	size_t answer_len;
	/* HANDOFF: 0, the connection is a tunnel; else the client may send the
	 * backend this many bytes and no more (the head of an ACME challenge
	 * under redirect-https, which has no body): the forwarder stops
	 * reading the client after them. */
	size_t one_request;
	/* HANDOFF, TLS: the site's tls-alpn route the client's ALPN offer
	 * chose (1 + index in its alpn[]), or 0: its tls servers */
	unsigned alpn_route;
};

/* Bytes this many can be peeked at once; more than any hello or head. */
#define DECIDE_PEEK_MAX (64u * 1024u + 1024u)
/* Room for any answer: a redirect carries the path of a head of up to
 * max-head-size (64 KiB) plus a name and a few header lines. */
#define DECIDE_ANSWER_MAX (64u * 1024u + 1024u)

/* buf[0..len) is everything the client sent so far (len may be 0 with
 * closed: EOF before a byte); closed: the client half-closed or reset.
 * answer[0..answer_size) is the caller's (DECIDE_ANSWER_MAX bytes hold any
 * answer); d->answer may point into it until the caller reuses it. */
void decide_bytes(const struct gh_config *cfg, unsigned kind, const uint8_t *buf, size_t len,
		  bool closed, struct decision *d, char *answer, size_t answer_size);

/* The inspect deadline passed; got_bytes: the client sent something.
 * answer as for decide_bytes() (an error answer needs REPLY_MAX bytes). */
void decide_timeout(unsigned kind, bool got_bytes, struct decision *d, char *answer,
		    size_t answer_size);

/* The allow/deny lists' word on what decide_bytes() decided for a client
 * at peer (AF_INET, or AF_INET6 with IPv4-mapped taken as IPv4): the
 * global list first, then the routed site's list on a hand-off. A refused
 * client is answered "denied": 403 on http, the fatal access_denied alert
 * on tls, whatever it asked for, and no backend is contacted. Decisions
 * that send nothing (waiting, a quiet close) are left as they are. */
void decide_access(const struct gh_config *cfg, unsigned kind, const struct sockaddr *peer,
		   struct decision *d, char *answer, size_t answer_size);

/* A PROXY header in front of the stream, for a peer the config trusts on
 * listen `on` (`accept-proxy`, global or the listen's own; on may be NULL:
 * the global list alone); any other peer's bytes are never parsed as one.
 * Returns true when the client's own bytes start at buf + *header_len
 * (0 for an untrusted peer) and *client is the client: the header's source,
 * as an AF_INET6 (IPv4 v4-mapped) address, or the peer itself (untrusted,
 * or a v2 LOCAL / UNKNOWN header: the balancer's own health check).
 * Returns false with d decided: wait for more, drop (closed before a
 * byte), or a quiet close logged "bad_proxy" (an invalid header, or one
 * cut short by a close). */
bool decide_proxy(const struct gh_config *cfg, const struct gh_listen *on, const struct sockaddr_in6 *peer,
		  const uint8_t *buf, size_t len, bool closed, struct decision *d, size_t *header_len,
		  struct sockaddr_in6 *client);

/* decide_proxy(), then decide_bytes() on what follows the header, then
 * decide_access() for the client: the listener's whole word on the bytes
 * so far. Under `direct-clients refuse`, on a listen with balancers, a
 * peer that is not one is answered "denied" where it would have been
 * handed off or answered.
 * *client and *header_len as decide_proxy() (set on a hand-off and on an
 * answer; the peer and 0 otherwise). */
void decide_client(const struct gh_config *cfg, const struct gh_listen *on, unsigned kind,
		   const struct sockaddr_in6 *peer, const uint8_t *buf, size_t len, bool closed,
		   struct decision *d, char *answer, size_t answer_size, size_t *header_len,
		   struct sockaddr_in6 *client);

/* The inspect deadline passed for a client from peer whose stream starts
 * with buf[0..len) (peeked then: at least PROXY_PARSE_MAX + 1 bytes when
 * listen `on` has balancers, else any or none); got_bytes: it sent
 * something. A balancer whose header is not whole (nothing at all, or part
 * of one) is closed quietly, "bad_proxy"; after a whole header, or from
 * any other peer, decide_timeout() for the client, who got bytes only if
 * something follows the header. *client as decide_proxy(). */
void decide_client_timeout(const struct gh_config *cfg, const struct gh_listen *on, unsigned kind,
			   const struct sockaddr_in6 *peer, const uint8_t *buf, size_t len, bool got_bytes,
			   struct decision *d, char *answer, size_t answer_size, struct sockaddr_in6 *client);
