/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <sys/socket.h>
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
