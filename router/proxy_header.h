/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * PROXY protocol v1 (text) and v2 (binary) headers, as specified by
 * HAProxy's proxy-protocol.txt. Pure: builds bytes from two addresses.
 * Both addresses must be of one family; an IPv4 client on a dual-stack
 * socket must be passed as AF_INET (never ::ffff:a.b.c.d) so the backend
 * sees TCP4.
 */
#include <stddef.h>
#include <stdint.h>

#define PROXY_HEADER_MAX 108	/* v1 worst case is 107 bytes + NUL */

struct proxy_endpoint {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; 4 bytes used for AF_INET */
	uint16_t port;		/* host order */
};

/* Build a version (1 or 2) header for a TCP connection from src to dst into
 * out (size >= PROXY_HEADER_MAX). Returns its length, or -EINVAL (bad
 * version, or families differ and cannot be expressed). */
int proxy_header_build(int version, const struct proxy_endpoint *src, const struct proxy_endpoint *dst,
		       uint8_t *out, size_t size);

/* Turn a sockaddr (sockaddr_in/in6, IPv4-mapped unwrapped) into an endpoint. */
struct sockaddr;
int proxy_endpoint_from_sockaddr(const struct sockaddr *sa, struct proxy_endpoint *ep);
