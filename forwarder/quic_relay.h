/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * QUIC flows in the forwarder. The listener reads every client datagram
 * and sends each flow's over the channel (common/handoff.h, START and DATA
 * messages); here each flow gets its own connected UDP socket to one of
 * its site's `quic` servers (socket + connect, like TCP; round robin; a
 * refused first exchange, ICMP port unreachable seen as ECONNREFUSED,
 * fails over to the next server while the server has not answered yet).
 * Client datagrams go to it in batches (sendmmsg); the server's are read
 * in batches (recvmmsg) and sent to the client on the shared QUIC socket
 * with sendmmsg and a pktinfo source: the address the client sent to. The
 * shared socket is never read here (the seccomp filter refuses it).
 *
 * A flow ends after quic-idle-timeout without a datagram either way, or
 * when the channel closes (the listener that knew it is gone); one log
 * record per flow.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "common/dlist.h"
#include "common/handoff.h"
#include "common/udp_src.h"
#include "router/gh_limits.h"
#include "router/hostname.h"

/* epoll tag of a flow's server socket: this bit, and the flow's address */
#define FTAG_QUIC (1ull << 62)
#define FQ_RX_BATCH 32u
#define FQ_RX_SLOT 4096u
#define FQ_BUCKETS 4096u

struct forwarder;

struct fqflow {
	uint64_t id;
	struct fqflow *next;		/* hash chain by id */
	struct dlist link;		/* live flows by last datagram; or the dead list */
	int ufd;			/* connected to the server, or -1 */
	uint32_t site;
	unsigned server, tries;
	uint8_t sock;			/* which QUIC socket replies go out on */
	bool replied;			/* the server has answered */
	bool dead;
	const char *result;
	struct sockaddr_storage peer;	/* the client, as the QUIC socket takes it */
	socklen_t peer_len;
	struct udp_src src;		/* the address the client sent to */
	uint8_t client_family;
	uint16_t client_port;
	uint8_t client_addr[16];
	char name[HOSTNAME_MAX + 1];
	uint64_t start_ms, last_ms;
	uint64_t dg_in, dg_out, bytes_in, bytes_out;
	unsigned moves;			/* NAT rebindings followed */
	/* the START's datagrams, sent again on failover until the server answers */
	uint8_t *first;
	size_t first_len;
};

struct fquic {
	int socks[GH_MAX_LISTENS];
	int families[GH_MAX_LISTENS];
	unsigned n_socks;
	struct fqflow *buckets[FQ_BUCKETS];
	struct dlist live, dead;
	unsigned n;
	uint64_t total, dropped;
	bool no_gso;			/* the kernel refused UDP GSO: plain sends */
	uint8_t (*chan_bufs)[HANDOFF_QUIC_MAX];	/* HANDOFF_BATCH channel messages */
	uint8_t (*rx)[FQ_RX_SLOT];
};

/* Before the sandbox: a passed QUIC socket, vetted (a UDP socket bound to
 * a `listen quic` address of this forwarder's config). */
int fquic_add_socket(struct forwarder *f, int fd, bool check_listen);
int fquic_setup(struct forwarder *f);
/* A checked QUIC message from the channel. */
void fquic_message(struct forwarder *f, const uint8_t *msg, size_t len);
/* A flow's server socket is ready. */
void fquic_event(struct forwarder *f, uint64_t tag, uint32_t events);
/* Timers and the end of flows; when the channel is gone every flow ends. */
void fquic_after_round(struct forwarder *f, uint64_t now);
uint64_t fquic_deadline(const struct forwarder *f);
void fquic_end_all(struct forwarder *f, const char *result);
void fquic_teardown(struct forwarder *f);
