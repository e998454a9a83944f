/* SPDX-License-Identifier: MIT */
/* QUIC flow messages on the hand-off channel (handoff.h): building them in
 * the listener, receiving and checking them in the forwarder. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "common/handoff.h"
#include "router/proxy_header.h"

static struct handoff_quic_msg *hdr(struct handoff_quic_buf *b)
{
	return (struct handoff_quic_msg *)(void *)b->data;
}

static void init(struct handoff_quic_buf *b, uint8_t type)
{
	struct handoff_quic_msg *m = hdr(b);

	memset(m, 0, sizeof(*m));
	m->magic = HANDOFF_QUIC_MAGIC;
	m->version = HANDOFF_QUIC_VERSION;
	m->size = sizeof(*m);
	m->type = type;
	b->len = sizeof(*m);
}

int handoff_quic_start(struct handoff_quic_buf *b, uint64_t flow, const struct sockaddr_storage *client,
		       const struct in6_addr *local, uint32_t ifindex, unsigned socket_index,
		       const char *site, const char *name, uint64_t started_usec)
{
	size_t sl = strlen(site), nl = strlen(name);
	struct proxy_endpoint ep;

	if (sl == 0 || sl >= HANDOFF_NAME_MAX || nl >= HANDOFF_NAME_MAX)
		return -ENAMETOOLONG;
	if (socket_index > UINT8_MAX || proxy_endpoint_from_sockaddr((const struct sockaddr *)client, &ep) < 0)
		return -EINVAL;
	init(b, HANDOFF_QUIC_START);
	struct handoff_quic_msg *m = hdr(b);
	/* an IPv4 client (v4-mapped on a dual-stack socket) travels as one */
	m->client_family = (uint8_t)ep.family;
	m->client_port = ep.port;
	memcpy(m->client_addr, ep.addr, sizeof(m->client_addr));
	memcpy(m->local_addr, local, sizeof(m->local_addr));
	m->local_ifindex = ifindex;
	m->socket_index = (uint8_t)socket_index;
	m->flow = flow;
	m->started_usec = started_usec;
	memcpy(m->site, site, sl);
	memcpy(m->name, name, nl);
	return 0;
}

int handoff_quic_move(struct handoff_quic_buf *b, uint64_t flow, const struct sockaddr_storage *client,
		      const struct in6_addr *local, uint32_t ifindex, unsigned socket_index)
{
	struct proxy_endpoint ep;

	if (socket_index > UINT8_MAX || proxy_endpoint_from_sockaddr((const struct sockaddr *)client, &ep) < 0)
		return -EINVAL;
	init(b, HANDOFF_QUIC_MOVE);
	struct handoff_quic_msg *m = hdr(b);
	m->client_family = (uint8_t)ep.family;
	m->client_port = ep.port;
	memcpy(m->client_addr, ep.addr, sizeof(m->client_addr));
	memcpy(m->local_addr, local, sizeof(m->local_addr));
	m->local_ifindex = ifindex;
	m->socket_index = (uint8_t)socket_index;
	m->flow = flow;
	return 0;
}

void handoff_quic_data(struct handoff_quic_buf *b)
{
	init(b, HANDOFF_QUIC_DATA);
}

bool handoff_quic_add(struct handoff_quic_buf *b, uint64_t flow, const uint8_t *dgram, size_t len)
{
	struct handoff_quic_rec r = { .flow = flow, .len = (uint16_t)len };

	if (len == 0 || len > HANDOFF_QUIC_DGRAM_MAX || b->len + sizeof(r) + len > sizeof(b->data))
		return false;
	memcpy(b->data + b->len, &r, sizeof(r));
	memcpy(b->data + b->len + sizeof(r), dgram, len);
	b->len += sizeof(r) + len;
	hdr(b)->n_records++;
	return true;
}

int handoff_quic_send(int channel, const struct handoff_quic_buf *b)
{
	ssize_t n;

	do
		n = send(channel, b->data, b->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return 0;
}

bool handoff_quic_next(const uint8_t *msg, size_t len, size_t *off, uint64_t *flow, const uint8_t **dgram,
		       size_t *dlen)
{
	struct handoff_quic_rec r;

	if (*off == 0)
		*off = sizeof(struct handoff_quic_msg);
	if (*off + sizeof(r) > len)
		return false;
	memcpy(&r, msg + *off, sizeof(r));
	if (r.len == 0 || *off + sizeof(r) + r.len > len)
		return false;
	*flow = r.flow;
	*dgram = msg + *off + sizeof(r);
	*dlen = r.len;
	*off += sizeof(r) + r.len;
	return true;
}

static bool name_ok(const char *s, bool allow_empty)
{
	const char *nul = memchr(s, '\0', HANDOFF_NAME_MAX);

	if (!nul || (!allow_empty && nul == s))
		return false;
	for (const char *p = nul; p < s + HANDOFF_NAME_MAX; p++)
		if (*p)
			return false;
	return true;
}

/* The whole message, as a hostile listener may have written it. */
bool handoff_quic_check(const uint8_t *buf, size_t len)
{
	struct handoff_quic_msg m;
	struct handoff_quic_rec r;
	uint32_t n = 0;

	if (len < sizeof(m))
		return false;
	memcpy(&m, buf, sizeof(m));
	if (m.version != HANDOFF_QUIC_VERSION || m.size != sizeof(m) ||
	    (m.reserved[0] | m.reserved[1] | m.reserved[2]))
		return false;
	if (m.type == HANDOFF_QUIC_START) {
		if ((m.client_family != AF_INET && m.client_family != AF_INET6) || !name_ok(m.site, false) ||
		    !name_ok(m.name, true))
			return false;
	} else if (m.type == HANDOFF_QUIC_MOVE) {
		if ((m.client_family != AF_INET && m.client_family != AF_INET6) || !name_ok(m.site, true) ||
		    m.site[0] || !name_ok(m.name, true) || m.name[0] || len != sizeof(m) || m.n_records)
			return false;
	} else if (m.type != HANDOFF_QUIC_DATA) {
		return false;
	}
	for (size_t off = sizeof(m); off < len; n++) {
		if (off + sizeof(r) > len)
			return false;
		memcpy(&r, buf + off, sizeof(r));
		if (r.len == 0 || r.len > HANDOFF_QUIC_DGRAM_MAX || off + sizeof(r) + r.len > len ||
		    (r.reserved[0] | r.reserved[1] | r.reserved[2] | r.reserved[3] | r.reserved[4] | r.reserved[5]))
			return false;
		/* a START carries its own flow's datagrams only */
		if (m.type == HANDOFF_QUIC_START && r.flow != m.flow)
			return false;
		off += sizeof(r) + r.len;
	}
	return n == m.n_records;
}

int handoff_recv_any(int channel, struct handoff_in *in, uint8_t (*bufs)[HANDOFF_QUIC_MAX], unsigned max)
{
	struct mmsghdr mm[HANDOFF_BATCH];
	struct iovec iov[HANDOFF_BATCH];
	union handoff_ctl ctl[HANDOFF_BATCH];
	int r = handoff_recv_batch(channel, bufs[0], HANDOFF_QUIC_MAX, HANDOFF_QUIC_MAX, mm, iov, ctl, max);

	for (int i = 0; i < r; i++) {
		struct msghdr *mh = &mm[i].msg_hdr;
		uint32_t magic = 0;

		in[i].fd = -1;
		in[i].quic = false;
		in[i].quic_len = 0;
		if (mm[i].msg_len >= sizeof(magic))
			memcpy(&magic, bufs[i], sizeof(magic));
		if (magic == HANDOFF_QUIC_MAGIC) {
			memset(&in[i].msg, 0, sizeof(in[i].msg));
			in[i].quic = true;
			in[i].quic_len = mm[i].msg_len;
			in[i].error = (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? HANDOFF_E_TRUNC :
				      CMSG_FIRSTHDR(mh) || !handoff_quic_check(bufs[i], mm[i].msg_len) ? HANDOFF_E_QUIC :
				      HANDOFF_OK;
			if (in[i].error != HANDOFF_OK)
				handoff_close_fds(mh);
			continue;
		}
		/* a client hand-off: exactly its size, checked as ever */
		memset(&in[i].msg, 0, sizeof(in[i].msg));
		memcpy(&in[i].msg, bufs[i], mm[i].msg_len < sizeof(in[i].msg) ? mm[i].msg_len : sizeof(in[i].msg));
		in[i].error = handoff_validate(mh, mm[i].msg_len, &in[i]);
		if (in[i].error != HANDOFF_OK) {
			handoff_close_fds(mh);
			in[i].fd = -1;
		}
	}
	return r;
}

int handoff_quic_sockets_send(int channel, const int *fds, unsigned n)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * GH_MAX_LISTENS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)HANDOFF_QUIC_SOCKETS, .iov_len = sizeof(HANDOFF_QUIC_SOCKETS) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n > GH_MAX_LISTENS)
		return -EINVAL;
	memset(&ctl, 0, sizeof(ctl));
	if (n) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	if (sendmsg(channel, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

int handoff_quic_sockets_recv(int channel, int timeout_ms, int *fds, unsigned max)
{
	struct pollfd pfd = { .fd = channel, .events = POLLIN };
	char hello[16];
	union {
		char buf[CMSG_SPACE(sizeof(int) * (GH_MAX_LISTENS + 8))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = hello, .iov_len = sizeof(hello) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	ssize_t n = recvmsg(channel, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	unsigned got = 0;
	bool bad = n != (ssize_t)sizeof(HANDOFF_QUIC_SOCKETS) || memcmp(hello, HANDOFF_QUIC_SOCKETS, sizeof(HANDOFF_QUIC_SOCKETS)) ||
		   (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (bad || got == max)
				close(fd);
			else
				fds[got++] = fd;
		}
	}
	if (bad) {
		while (got)
			close(fds[--got]);
		return -EBADMSG;
	}
	return (int)got;
}
