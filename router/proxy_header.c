/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "router/proxy_header.h"

/* v2 signature: \r\n\r\n\0\r\nQUIT\n */
static const uint8_t v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

int proxy_endpoint_from_sockaddr(const struct sockaddr *sa, struct proxy_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		ep->family = AF_INET;
		memcpy(ep->addr, &s4->sin_addr, 4);
		ep->port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			ep->family = AF_INET;
			memcpy(ep->addr, &s6->sin6_addr.s6_addr[12], 4);
		} else {
			ep->family = AF_INET6;
			memcpy(ep->addr, &s6->sin6_addr, 16);
		}
		ep->port = ntohs(s6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* An IPv4 endpoint as ::ffff:a.b.c.d, for a header whose other side is v6. */
static void map_v4(struct proxy_endpoint *e)
{
	uint8_t v4[4];

	if (e->family != AF_INET)
		return;
	memcpy(v4, e->addr, 4);
	e->family = AF_INET6;
	memset(e->addr, 0, 10);
	e->addr[10] = e->addr[11] = 0xff;
	memcpy(e->addr + 12, v4, 4);
}

int proxy_header_build(int version, const struct proxy_endpoint *src_in, const struct proxy_endpoint *dst_in,
		       uint8_t *out, size_t size)
{
	struct proxy_endpoint src = *src_in, dst = *dst_in;

	if ((src.family != AF_INET && src.family != AF_INET6) ||
	    (dst.family != AF_INET && dst.family != AF_INET6) || size < PROXY_HEADER_MAX)
		return -EINVAL;
	/* The client's family decides (it is what the backend wants to know);
	 * a v4 client reaching a v6 listener address keeps TCP4 only when the
	 * local side is v4 too, else both are written as v6. */
	if (src.family != dst.family) {
		map_v4(&src);
		map_v4(&dst);
	}
	if (version == 1) {
		char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
		inet_ntop(src.family, src.addr, s, sizeof(s));
		inet_ntop(dst.family, dst.addr, d, sizeof(d));
		int n = snprintf((char *)out, size, "PROXY %s %s %s %u %u\r\n",
				 src.family == AF_INET ? "TCP4" : "TCP6", s, d, src.port, dst.port);
		if (n < 0 || (size_t)n >= size)
			return -EINVAL;
		return n;
	}
	if (version != 2)
		return -EINVAL;
	size_t alen = src.family == AF_INET ? 12 : 36;
	size_t al = src.family == AF_INET ? 4 : 16;
	memcpy(out, v2_sig, 12);
	out[12] = 0x21;			/* version 2, command PROXY */
	out[13] = src.family == AF_INET ? 0x11 : 0x21;	/* TCP over IPv4 / IPv6 */
	out[14] = (uint8_t)(alen >> 8);
	out[15] = (uint8_t)alen;
	memcpy(out + 16, src.addr, al);
	memcpy(out + 16 + al, dst.addr, al);
	uint8_t *p = out + 16 + 2 * al;
	p[0] = (uint8_t)(src.port >> 8);
	p[1] = (uint8_t)src.port;
	p[2] = (uint8_t)(dst.port >> 8);
	p[3] = (uint8_t)dst.port;
	return (int)(16 + alen);
}
