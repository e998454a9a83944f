/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Server datagrams to a QUIC client, on the shared socket, from the
 * address the client sent to. Runs of equal-sized datagrams (the common
 * case in a download: full-size packets) go as one UDP GSO send
 * (UDP_SEGMENT, a per-call control message: no setsockopt), which costs
 * one trip through the UDP send path instead of one per datagram; the
 * kernel cuts them into the same datagrams on the wire. Where the kernel
 * refuses GSO, plain datagrams from then on.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "common/udp_src.h"

struct fq_reply {
	int sock, family;
	const struct udp_src *src;
	const struct sockaddr_storage *peer;
	socklen_t peer_len;
	bool *no_gso;			/* shared: set once the kernel refuses GSO */
};

/* Send dg[0..n) in order. Returns how many went out (*bytes their size);
 * the rest were dropped (a full socket buffer), as the network would. */
unsigned fq_reply_send(const struct fq_reply *r, const struct iovec *dg, unsigned n, uint64_t *bytes);
