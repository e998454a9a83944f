/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "common/udp_src.h"

bool udp_src_from_msg(struct msghdr *mh, struct udp_src *out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			out->addr = pi.ipi6_addr;
			out->ifindex = (uint32_t)pi.ipi6_ifindex;
			return true;
		}
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(&out->addr, 0, sizeof(out->addr));
			out->addr.s6_addr[10] = 0xff;
			out->addr.s6_addr[11] = 0xff;
			memcpy(&out->addr.s6_addr[12], &pi.ipi_addr, 4);
			out->ifindex = (uint32_t)pi.ipi_ifindex;
			return true;
		}
	}
	return false;
}

size_t udp_src_cmsg(int family, const struct udp_src *s, void *buf)
{
	struct msghdr mh = { .msg_control = buf, .msg_controllen = UDP_SRC_CMSG_SPACE };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	uint32_t ifindex = IN6_IS_ADDR_LINKLOCAL(&s->addr) ? s->ifindex : 0;

	memset(buf, 0, UDP_SRC_CMSG_SPACE);
	if (family == AF_INET6) {
		/* a v4-mapped source on a dual-stack socket: the kernel's IPv4
		 * path takes IPV6_PKTINFO too (ip_cmsg_send) */
		struct in6_pktinfo pi = { .ipi6_addr = s->addr, .ipi6_ifindex = ifindex };
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	struct in_pktinfo pi = { .ipi_ifindex = (int)ifindex };
	memcpy(&pi.ipi_spec_dst, &s->addr.s6_addr[12], 4);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	return CMSG_SPACE(sizeof(pi));
}

socklen_t udp_peer_sockaddr(int sock_family, int family, const uint8_t addr[16], uint16_t port,
			    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (sock_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, family == AF_INET ? addr : addr + 12, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	if (family == AF_INET) {
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], addr, 4);
	} else {
		memcpy(&s6->sin6_addr, addr, 16);
	}
	return sizeof(*s6);
}
