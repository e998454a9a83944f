/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "common/handoff.h"
#include "router/config.h"
#include "router/proxy_header.h"
#include "router/proxy_parse.h"

int handoff_pack(struct handoff_msg *msg, unsigned kind, const struct sockaddr_storage *client,
		 const char *site, const char *name, uint64_t accepted_usec, uint32_t one_request)
{
	size_t sl = strlen(site), nl = strlen(name);

	if (sl == 0 || sl >= HANDOFF_NAME_MAX || nl >= HANDOFF_NAME_MAX)
		return -ENAMETOOLONG;
	if (!handoff_one_request_ok(kind, one_request))
		return -EINVAL;
	memset(msg, 0, sizeof(*msg));
	msg->magic = HANDOFF_MAGIC;
	msg->version = HANDOFF_VERSION;
	msg->size = sizeof(*msg);
	msg->kind = (uint8_t)kind;
	msg->accepted_usec = accepted_usec;
	msg->one_request = one_request;
	/* an IPv4 client on a dual-stack socket (::ffff:a.b.c.d) travels as
	 * what it is, so PROXY headers say TCP4 */
	struct proxy_endpoint ep;
	if (proxy_endpoint_from_sockaddr((const struct sockaddr *)client, &ep) == 0) {
		msg->client_family = (uint8_t)ep.family;
		msg->client_port = ep.port;
		memcpy(msg->client_addr, ep.addr, sizeof(msg->client_addr));
	}
	memcpy(msg->site, site, sl);
	memcpy(msg->name, name, nl);
	return 0;
}

int handoff_send(int channel, const struct handoff_msg *msgs, const int *fds, unsigned n)
{
	struct mmsghdr mm[HANDOFF_BATCH];
	struct iovec iov[HANDOFF_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl[HANDOFF_BATCH];
	int r;

	if (n > HANDOFF_BATCH)
		n = HANDOFF_BATCH;
	memset(mm, 0, sizeof(mm[0]) * n);
	/* the padding after each fd goes to the kernel too: no stack garbage */
	memset(ctl, 0, sizeof(ctl[0]) * n);
	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = (void *)(uintptr_t)&msgs[i];
		iov[i].iov_len = sizeof(msgs[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_control = ctl[i].buf;
		mm[i].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fds[i], sizeof(int));
	}
	do
		r = sendmmsg(channel, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r;
}

int handoff_check_tcp(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	/* CLOSE_WAIT: the client already half-closed after its request; its
	 * bytes are still queued and the reply must still reach it. */
	if (ti.tcpi_state != TCP_ESTABLISHED && ti.tcpi_state != TCP_CLOSE_WAIT)
		return -ENOTCONN;
	return 0;
}

bool handoff_one_request_ok(unsigned kind, uint32_t one_request)
{
	/* only a plain HTTP head is ever carried alone, and no head is
	 * longer than the listener can peek */
	return one_request == 0 || (kind == GH_KIND_HTTP && one_request <= GH_MAX_ONE_REQUEST);
}

void handoff_close_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

static bool name_ok(const char *s, bool allow_empty)
{
	const char *nul = memchr(s, '\0', HANDOFF_NAME_MAX);
	if (!nul || (!allow_empty && nul == s))
		return false;
	/* the padding after the NUL must be zero: nothing hidden in it */
	for (const char *p = nul; p < s + HANDOFF_NAME_MAX; p++)
		if (*p)
			return false;
	return true;
}

enum handoff_error handoff_validate(struct msghdr *mh, size_t len, struct handoff_in *in)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	const struct handoff_msg *m = &in->msg;

	if (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return HANDOFF_E_TRUNC;
	if (!c)
		return HANDOFF_E_NO_FD;
	if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)) || CMSG_NXTHDR(mh, c))
		return HANDOFF_E_FDS;
	memcpy(&in->fd, CMSG_DATA(c), sizeof(int));
	if (len != sizeof(struct handoff_msg))
		return HANDOFF_E_SIZE;
	if (m->magic != HANDOFF_MAGIC)
		return HANDOFF_E_MAGIC;
	if (m->version != HANDOFF_VERSION || m->size != sizeof(struct handoff_msg))
		return HANDOFF_E_VERSION;
	/* a client fd is TCP: QUIC flows travel as handoff_quic messages */
	if (m->kind >= GH_KIND_TCP_COUNT)
		return HANDOFF_E_KIND;
	if ((m->client_family != AF_INET && m->client_family != AF_INET6) ||
	    !name_ok(m->site, false) || !name_ok(m->name, true))
		return HANDOFF_E_NAME;
	if (!handoff_one_request_ok(m->kind, m->one_request))
		return HANDOFF_E_ONE_REQUEST;
	/* whether the site has that route is the forwarder's check (intake.c) */
	if ((m->alpn_route && m->kind != GH_KIND_TLS) ||
	    m->reserved)
		return HANDOFF_E_ALPN_ROUTE;
	/* whether the peer may send one is the forwarder's check (intake.c) */
	if (m->proxy_len > PROXY_PARSE_MAX)
		return HANDOFF_E_PROXY_LEN;
	if (handoff_check_tcp(in->fd) < 0)
		return HANDOFF_E_NOT_TCP;
	return HANDOFF_OK;
}

int handoff_recv_batch(int channel, void *base, size_t stride, size_t len, struct mmsghdr *mm, struct iovec *iov,
		       union handoff_ctl *ctl, unsigned max)
{
	int r;

	if (max > HANDOFF_BATCH)
		max = HANDOFF_BATCH;
	memset(mm, 0, sizeof(mm[0]) * max);
	for (unsigned i = 0; i < max; i++) {
		iov[i].iov_base = (char *)base + i * stride;
		iov[i].iov_len = len;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_control = ctl[i].buf;
		mm[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	do
		r = recvmmsg(channel, mm, max, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	/* A hostile peer can send an EOF mid-batch: what came after it must
	 * not leave its fds open here. */
	for (int i = 0; i < r; i++) {
		if (mm[i].msg_len == 0 && !CMSG_FIRSTHDR(&mm[i].msg_hdr)) {
			for (int j = i + 1; j < r; j++)
				handoff_close_fds(&mm[j].msg_hdr);
			return i;
		}
	}
	return r;
}

int handoff_recv(int channel, struct handoff_in *in, unsigned max)
{
	struct mmsghdr mm[HANDOFF_BATCH];
	struct iovec iov[HANDOFF_BATCH];
	union handoff_ctl ctl[HANDOFF_BATCH];
	int r = handoff_recv_batch(channel, &in[0].msg, sizeof(in[0]), sizeof(in[0].msg), mm, iov, ctl, max);

	for (int i = 0; i < r; i++) {
		in[i].fd = -1;
		in[i].quic = false;
		in[i].error = handoff_validate(&mm[i].msg_hdr, mm[i].msg_len, &in[i]);
		if (in[i].error != HANDOFF_OK) {
			handoff_close_fds(&mm[i].msg_hdr);
			in[i].fd = -1;
		}
	}
	return r;
}

const char *handoff_error_str(enum handoff_error e)
{
	switch (e) {
	case HANDOFF_OK: return "ok";
	case HANDOFF_E_TRUNC: return "truncated message";
	case HANDOFF_E_SIZE: return "wrong message size";
	case HANDOFF_E_MAGIC: return "bad magic";
	case HANDOFF_E_VERSION: return "unknown version";
	case HANDOFF_E_NO_FD: return "no fd";
	case HANDOFF_E_FDS: return "several fds or stray control data";
	case HANDOFF_E_KIND: return "unknown kind";
	case HANDOFF_E_NAME: return "malformed name field";
	case HANDOFF_E_NOT_TCP: return "fd is not a connected TCP socket";
	case HANDOFF_E_ONE_REQUEST: return "one-request limit on a non-HTTP kind or above the bound";
	case HANDOFF_E_ALPN_ROUTE: return "ALPN route on a non-TLS kind, or reserved bytes set";
	case HANDOFF_E_PROXY_LEN: return "PROXY header length over its maximum";
	case HANDOFF_E_QUIC: return "malformed QUIC message";
	}
	return "?";
}
