/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/fdpass.h"

union fdpass_ctl {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

ssize_t fdpass_send(int sock, const void *buf, size_t len, int fd, int flags)
{
	union fdpass_ctl cm;
	struct iovec iov = { (void *)(size_t)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&cm, 0, sizeof(cm));
	if (fd >= 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, flags);
}

ssize_t fdpass_recv(int sock, void *buf, size_t cap, int *fd, bool *cut, int flags)
{
	union fdpass_ctl cm;
	struct iovec iov = { buf, cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	ssize_t n = recvmsg(sock, &mh, flags);

	*fd = -1;
	*cut = false;
	if (n < 0)
		return n;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	*cut = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	return n;
}

static ssize_t ask_fail(int s, int r, const char *what, const char **step)
{
	close(s);
	*step = what;
	return r;
}

ssize_t fdpass_ask(const char *path, int timeout_ms, bool peer_root, struct ucred *peer, void *buf, size_t cap,
		   int *fd, bool *cut, const char **step)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, r;

	*fd = -1;
	*cut = false;
	*step = "socket path";
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	*step = "socket";
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		return ask_fail(s, -errno, "connect", step);
	if (peer_root) {
		socklen_t len = sizeof(*peer);

		if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, peer, &len) < 0)
			return ask_fail(s, -errno, "SO_PEERCRED", step);
		if (peer->uid != 0)
			return ask_fail(s, -EPERM, "peer", step);
	}
	uint64_t end = clock_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct pollfd p = { .fd = s, .events = POLLIN };
	for (;;) {
		uint64_t now = clock_now_ms();

		r = poll(&p, 1, now >= end ? 0 : (int)(end - now));
		if (r > 0)
			break;
		if (r == 0)
			return ask_fail(s, -ETIMEDOUT, "wait", step);
		if (errno != EINTR)
			return ask_fail(s, -errno, "poll", step);
	}
	ssize_t n = fdpass_recv(s, buf, cap, fd, cut, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	return ask_fail(s, n < 0 ? -errno : (int)n, "recv", step);
}
