/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The local address a UDP datagram was sent to, and sending a reply from
 * it: on a socket bound to the unspecified address (or one with several
 * addresses) the kernel would otherwise pick a source by route, and a QUIC
 * client drops a reply from an address it did not send to. Kept as IPv6
 * (IPv4 as v4-mapped), whichever family the socket is.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct udp_src {
	struct in6_addr addr;
	uint32_t ifindex;
};

/* Control space for one pktinfo message, either family. */
#define UDP_SRC_CMSG_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

/* From a received message's control data (IPV6_PKTINFO or IP_PKTINFO);
 * false if it has none. */
bool udp_src_from_msg(struct msghdr *mh, struct udp_src *out);

/* Fill buf (UDP_SRC_CMSG_SPACE bytes) with the control message that sends
 * from s on a socket of family; returns its length (msg_controllen). The
 * interface is kept only for link-local addresses: elsewhere routing picks
 * it, as for any reply. */
size_t udp_src_cmsg(int family, const struct udp_src *s, void *buf);

/* A peer address as stored in a hand-off (family AF_INET: 4 bytes), as a
 * sockaddr for a socket of sock_family (an IPv6 socket takes IPv4 peers
 * v4-mapped). */
socklen_t udp_peer_sockaddr(int sock_family, int family, const uint8_t addr[16], uint16_t port,
			    struct sockaddr_storage *ss);
