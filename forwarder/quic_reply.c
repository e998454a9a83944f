/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include "forwarder/quic_reply.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
/* the kernel's limits for one GSO send (UDP_MAX_SEGMENTS, 64 KiB) */
#define GSO_MAX_SEGS 64u
#define GSO_MAX_BYTES 65000u
#define BATCH 32u

union ctl {
	char buf[UDP_SRC_CMSG_SPACE + CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* The control data: the source address, and the segment size if gso. */
static size_t control(const struct fq_reply *r, union ctl *c, uint16_t gso)
{
	size_t len = udp_src_cmsg(r->family, r->src, c->buf);
	if (!gso)
		return len;
	struct msghdr mh = { .msg_control = c->buf, .msg_controllen = sizeof(c->buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm = (struct cmsghdr *)(void *)((char *)cm + len);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
	return len + CMSG_SPACE(sizeof(uint16_t));
}

unsigned fq_reply_send(const struct fq_reply *r, const struct iovec *dg, unsigned n, uint64_t *bytes)
{
	struct mmsghdr mm[BATCH];
	union ctl ctl[BATCH];
	unsigned segs[BATCH], first[BATCH], m = 0, done = 0;

	*bytes = 0;
	/* group: equal sizes, the last of a group may be shorter */
	for (unsigned i = 0; i < n && m < BATCH;) {
		unsigned j = i + 1;
		size_t total = dg[i].iov_len;
		while (!*r->no_gso && j < n && j - i < GSO_MAX_SEGS && total + dg[j].iov_len <= GSO_MAX_BYTES &&
		       dg[j].iov_len <= dg[i].iov_len && dg[j - 1].iov_len == dg[i].iov_len) {
			total += dg[j].iov_len;
			j++;
		}
		memset(&mm[m], 0, sizeof(mm[m]));
		mm[m].msg_hdr.msg_name = (void *)(uintptr_t)r->peer;
		mm[m].msg_hdr.msg_namelen = r->peer_len;
		mm[m].msg_hdr.msg_iov = (struct iovec *)(uintptr_t)&dg[i];
		mm[m].msg_hdr.msg_iovlen = j - i;
		mm[m].msg_hdr.msg_control = ctl[m].buf;
		mm[m].msg_hdr.msg_controllen = control(r, &ctl[m], j - i > 1 ? (uint16_t)dg[i].iov_len : 0);
		segs[m] = j - i;
		first[m] = i;
		m++;
		i = j;
	}
	for (unsigned k = 0; k < m;) {
		int s = sendmmsg(r->sock, mm + k, m - k, MSG_DONTWAIT);
		if (s < 0 && segs[k] > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP) && !*r->no_gso) {
			/* no GSO here (a device or kernel without it): plain from now on */
			*r->no_gso = true;
			unsigned rest = done;
			uint64_t b;
			rest += fq_reply_send(r, &dg[first[k]], n - first[k], &b);
			*bytes += b;
			return rest;
		}
		if (s <= 0)
			break;
		if (s > (int)(m - k))
			s = (int)(m - k);	/* cannot happen; keeps the walk in bounds */
		for (int t = 0; t < s; t++) {
			done += segs[k + (unsigned)t];
			for (unsigned u = 0; u < segs[k + (unsigned)t]; u++)
				*bytes += dg[first[k + (unsigned)t] + u].iov_len;
		}
		k += (unsigned)s;
	}
	return done;
}
