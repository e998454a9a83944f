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
#include <sys/socket.h>
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
	HANDOFF_E_QUIC,		/* a QUIC message malformed (or carrying fds) */
};

struct handoff_in {
	struct handoff_msg msg;
	int fd;			/* -1 unless error == HANDOFF_OK */
	enum handoff_error error;
	/* handoff_recv_any(): a QUIC message (no fd), in the caller's buffer */
	bool quic;
	size_t quic_len;
};

/* handoff.c's check of one received client hand-off (mh: its header as
 * recvmmsg filled it, len its size, in->msg its bytes); handoff_recv_any
 * uses it too. Closes nothing. */
enum handoff_error handoff_validate(struct msghdr *mh, size_t len, struct handoff_in *in);
/* Close every fd a received message carried. */
void handoff_close_fds(struct msghdr *mh);

/* One received message's control data: room for a few fds more than
 * allowed, so a message carrying several is seen (and all its fds closed)
 * rather than silently cut. */
union handoff_ctl {
	char buf[CMSG_SPACE(8 * sizeof(int))];
	struct cmsghdr align;
};

/* The batch read both receivers share: up to max (<= HANDOFF_BATCH)
 * messages, message i into base + i * stride (len bytes), mm/iov/ctl the
 * caller's (max entries each). A zero-length message with no fds is EOF
 * on SEQPACKET: the batch ends before it, and what came after it in this
 * call is dropped with its fds closed. Returns the messages before any
 * EOF, or a negative errno (-EAGAIN: nothing ready). */
int handoff_recv_batch(int channel, void *base, size_t stride, size_t len, struct mmsghdr *mm, struct iovec *iov,
		       union handoff_ctl *ctl, unsigned max);

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

/*
 * QUIC flows (kind quic). UDP has no per-client fd, so the listener, which
 * reads every datagram of the shared socket, sends a flow's client
 * datagrams over the same channel: a START message opens the flow (site,
 * client, the local address the client sent to, the datagrams buffered
 * while the ClientHello was read), DATA messages carry later datagrams of
 * any of the channel's flows, batched. No fd travels with either. The
 * message names a site and a flow, never an address to dial; the client
 * and local addresses only say where replies go, from which of the
 * forwarder's own QUIC sockets (it sends on them, never reads).
 *
 * Layout: struct handoff_quic_msg, then n_records records, each a
 * struct handoff_quic_rec followed by len bytes of one datagram.
 */
#define HANDOFF_QUIC_MAGIC 0x46514847u	/* "GHQF" */
#define HANDOFF_QUIC_VERSION 1u
/* one message at most: several datagrams, well under the channel's buffer */
#define HANDOFF_QUIC_MAX (32u * 1024u)
/* the largest datagram carried (QUIC packets rarely pass 1500 bytes) */
#define HANDOFF_QUIC_DGRAM_MAX 16384u

enum handoff_quic_type {
	HANDOFF_QUIC_START = 1,
	HANDOFF_QUIC_DATA = 2,
	/* the flow's client now sends from another address or port (NAT
	 * rebinding, seen by its server CID): replies go there. No records;
	 * client, local address and socket as in START, site and name empty. */
	HANDOFF_QUIC_MOVE = 3,
};

struct handoff_quic_msg {
	uint32_t magic;			/* HANDOFF_QUIC_MAGIC */
	uint16_t version;		/* HANDOFF_QUIC_VERSION */
	uint16_t size;			/* sizeof(struct handoff_quic_msg) */
	uint8_t type;			/* enum handoff_quic_type */
	/* START and MOVE (zero in DATA): */
	uint8_t client_family;		/* AF_INET or AF_INET6 */
	uint16_t client_port;		/* host byte order */
	uint32_t n_records;
	uint8_t client_addr[16];	/* 4 bytes used for AF_INET */
	uint8_t local_addr[16];		/* IPv6, v4-mapped for an IPv4 client */
	uint32_t local_ifindex;
	uint8_t socket_index;		/* which `listen quic` socket, in passing order */
	uint8_t reserved[3];		/* zero */
	uint64_t flow;			/* START: the new flow's id (the listener's) */
	uint64_t started_usec;		/* CLOCK_REALTIME of its first datagram */
	char site[HANDOFF_NAME_MAX];
	char name[HANDOFF_NAME_MAX];
};
static_assert(sizeof(struct handoff_quic_msg) == 584, "QUIC hand-off wire size changed: bump HANDOFF_QUIC_VERSION");

struct handoff_quic_rec {
	uint64_t flow;
	uint16_t len;			/* 1..HANDOFF_QUIC_DGRAM_MAX */
	uint8_t reserved[6];		/* zero */
};

/* A message being built (listener). */
struct handoff_quic_buf {
	size_t len;
	uint8_t data[HANDOFF_QUIC_MAX];
};

struct sockaddr_in6;
/* Start a START message for flow; client is the peer as received (IPv4
 * v4-mapped, or AF_INET). -ENAMETOOLONG when a name does not fit. */
int handoff_quic_start(struct handoff_quic_buf *b, uint64_t flow, const struct sockaddr_storage *client,
		       const struct in6_addr *local, uint32_t ifindex, unsigned socket_index,
		       const char *site, const char *name, uint64_t started_usec);
/* A MOVE message for flow (complete: send it as it is). */
int handoff_quic_move(struct handoff_quic_buf *b, uint64_t flow, const struct sockaddr_storage *client,
		      const struct in6_addr *local, uint32_t ifindex, unsigned socket_index);
/* Start a DATA message. */
void handoff_quic_data(struct handoff_quic_buf *b);
/* Append a datagram; false when it does not fit (send b, start again). */
bool handoff_quic_add(struct handoff_quic_buf *b, uint64_t flow, const uint8_t *dgram, size_t len);
/* Records held. */
static inline uint32_t handoff_quic_count(const struct handoff_quic_buf *b)
{
	return b->len >= sizeof(struct handoff_quic_msg) ?
		((const struct handoff_quic_msg *)(const void *)b->data)->n_records : 0;
}
/* Send b as one message: 0, or a negative errno (-EAGAIN: channel full). */
int handoff_quic_send(int channel, const struct handoff_quic_buf *b);

/*
 * Receive up to max messages of either kind: a client hand-off lands in
 * in[i].msg, checked as handoff_recv() does; a QUIC message in bufs[i]
 * (in[i].quic set, in[i].quic_len its size), checked whole: header, names,
 * every record in bounds, no fd. Returns as handoff_recv().
 */
int handoff_recv_any(int channel, struct handoff_in *in, uint8_t (*bufs)[HANDOFF_QUIC_MAX], unsigned max);

/* The check handoff_recv_any() makes of a QUIC message's bytes (pure). */
bool handoff_quic_check(const uint8_t *buf, size_t len);
/* Walk a checked QUIC message's records: *off starts at 0; false at the end. */
bool handoff_quic_next(const uint8_t *msg, size_t len, size_t *off, uint64_t *flow, const uint8_t **dgram,
		       size_t *dlen);

/*
 * Under systemd a forwarder is started per channel (Accept=yes) with that
 * channel only, so it gets the QUIC sockets it replies on from the
 * listener: one message, first on the channel when the config has quic
 * servers, HANDOFF_QUIC_SOCKETS (8 bytes) with every QUIC socket the
 * listener holds (maybe none) as SCM_RIGHTS, in the listener's order. The
 * forwarder takes it before its sandbox and vets each socket.
 */
#define HANDOFF_QUIC_SOCKETS "GHQSOCK"
int handoff_quic_sockets_send(int channel, const int *fds, unsigned n);
/* Wait up to timeout_ms for that message: the number of fds received into
 * fds[0..max), or a negative errno (-ETIMEDOUT: none came). */
int handoff_quic_sockets_recv(int channel, int timeout_ms, int *fds, unsigned max);
