/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The hand-off: how the listener gives a client connection to a forwarder.
 * This header is the whole wire format, used by both sides (sender beside
 * receiver in handoff.c), so a format change is one diff.
 *
 * Channel: AF_UNIX SOCK_SEQPACKET. One message per client: exactly one
 * struct handoff_msg of exactly sizeof bytes, carrying exactly one fd in one
 * SCM_RIGHTS control message. The message names a site, never an address:
 * a compromised listener can only pick among the forwarder's configured
 * sites (DESIGN.md trust rule 1).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <assert.h>
#include <netinet/in.h>
#include "router/gh_limits.h"
#include "router/hostname.h"

#define HANDOFF_MAGIC 0x47484f46u	/* "GHOF" */
#define HANDOFF_VERSION 4u	/* 3: alpn_route, in what was padding; 4: proxy_len */
#define HANDOFF_NAME_MAX (HOSTNAME_MAX + 1)
/* Messages sent or received per system call (sendmmsg/recvmmsg). Batching
 * what is ready in one loop round costs 1-3 us per fd instead of 8-12. */
#define HANDOFF_BATCH 16

struct handoff_msg {
	uint32_t magic;			/* HANDOFF_MAGIC */
	uint16_t version;		/* HANDOFF_VERSION */
	uint16_t size;			/* sizeof(struct handoff_msg) */
	uint8_t kind;			/* enum gh_kind */
	uint8_t client_family;		/* AF_INET or AF_INET6 */
	uint16_t client_port;		/* host byte order */
	uint8_t client_addr[16];	/* 4 bytes used for AF_INET */
	/* 0: the site's servers of this kind. Else (kind TLS only) 1 + the
	 * index of the site's tls-alpn route (router/config.h gh_site.alpn)
	 * the client's ALPN offer chose; the forwarder checks it against its
	 * own config and refuses a hand-off naming a route it lacks. */
	uint8_t alpn_route;
	uint8_t reserved;		/* zero */
	/* 0, or the length of the PROXY header (router/proxy_parse.h) the
	 * client's stream starts with, still unread in the socket. The
	 * forwarder believes it only from a peer its own config trusts
	 * (`accept-proxy`), and re-parses exactly these bytes itself. */
	uint16_t proxy_len;
	uint64_t accepted_usec;		/* CLOCK_REALTIME at accept, for the log */
	char site[HANDOFF_NAME_MAX];	/* site name, NUL-padded */
	char name[HANDOFF_NAME_MAX];	/* the name the client asked for ("" if none) */
	/* 0: the connection is a tunnel. Else (kind HTTP only, at most
	 * GH_MAX_ONE_REQUEST): the forwarder carries this many bytes of the
	 * client's to the backend and no more (an ACME challenge's head). */
	uint32_t one_request;
};
static_assert(sizeof(struct handoff_msg) == 552, "hand-off wire size changed: bump HANDOFF_VERSION");
static_assert(offsetof(struct handoff_msg, proxy_len) == 30, "proxy_len moved: bump HANDOFF_VERSION");

struct sockaddr_storage;

/* Fill msg for a client; returns -ENAMETOOLONG if a name does not fit,
 * -EINVAL for a one_request the receiver would refuse. */
int handoff_pack(struct handoff_msg *msg, unsigned kind, const struct sockaddr_storage *client,
		 const char *site, const char *name, uint64_t accepted_usec, uint32_t one_request);

/* Send n messages, msgs[i] carrying fds[i], in as few calls as the socket
 * takes. Returns how many were sent (their fds are the receiver's now; the
 * caller still closes its copies), or a negative errno if none was
 * (-EAGAIN / -ETOOMANYREFS: the channel is full, wait for EPOLLOUT). */
int handoff_send(int channel, const struct handoff_msg *msgs, const int *fds, unsigned n);

/* Why a received message was refused (for the log). */
enum handoff_error {
	HANDOFF_OK = 0,
	HANDOFF_E_TRUNC,	/* MSG_TRUNC or MSG_CTRUNC */
	HANDOFF_E_SIZE,		/* not exactly sizeof(struct handoff_msg) */
	HANDOFF_E_MAGIC,
	HANDOFF_E_VERSION,
	HANDOFF_E_NO_FD,
	HANDOFF_E_FDS,		/* more than one fd, or stray control data */
	HANDOFF_E_KIND,
	HANDOFF_E_NAME,		/* site/name not NUL-terminated, empty site, bad family */
	HANDOFF_E_NOT_TCP,	/* the fd is not a connected TCP socket */
	HANDOFF_E_ONE_REQUEST,	/* one_request on a kind other than HTTP, or too large */
	HANDOFF_E_ALPN_ROUTE,	/* alpn_route on a kind other than TLS, or reserved bytes set */
	HANDOFF_E_PROXY_LEN,	/* proxy_len longer than any PROXY header */
};

struct handoff_in {
	struct handoff_msg msg;
	int fd;			/* -1 unless error == HANDOFF_OK */
	enum handoff_error error;
};

/* Receive up to max (<= HANDOFF_BATCH) messages. Each is validated here,
 * once: a refused message has its fds closed and fd = -1. A zero-length
 * message (EOF) ends the batch: messages after it in the same call are
 * dropped with their fds closed. Returns the number received, 0 at EOF, or
 * a negative errno (-EAGAIN: nothing ready). */
int handoff_recv(int channel, struct handoff_in *in, unsigned max);

/* Check that fd is a connected TCP socket (getsockopt(TCP_INFO): works only
 * on TCP, and tells the state). Established or half-closed by the peer. */
int handoff_check_tcp(int fd);

/* May a hand-off of this kind carry this one_request? (0 always may.) */
bool handoff_one_request_ok(unsigned kind, uint32_t one_request);

const char *handoff_error_str(enum handoff_error e);
