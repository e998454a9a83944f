/* SPDX-License-Identifier: MIT */
/* A replacement forwarder channel, launcher -> listener: handoff_chan.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/handoff_chan.h"

int handoff_chan_send(int ctl, unsigned slot, int chan, int page_fd, size_t page_size)
{
	struct handoff_chan m = { .magic = HANDOFF_CHAN_MAGIC, .slot = slot,
				  .page_size = page_fd >= 0 ? (uint32_t)page_size : 0 };
	int fds[2] = { chan, page_fd };
	unsigned n = page_fd >= 0 ? 2 : 1;
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} ctl_buf;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl_buf.buf,
			     .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	memset(&ctl_buf, 0, sizeof(ctl_buf));
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	if (sendmsg(ctl, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		return -errno;
	return 0;
}

int handoff_chan_recv(int ctl, unsigned *slot, int *chan, int *page_fd, size_t *page_size)
{
	struct handoff_chan m;
	int fds[2] = { -1, -1 };
	unsigned nfd = 0;
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl_buf;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct mmsghdr mm = { .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl_buf.buf,
					   .msg_controllen = sizeof(ctl_buf.buf) } };

	/* recvmmsg, not recvmsg: the one the listener's filter allows here */
	int r = recvmmsg(ctl, &mm, 1, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (r == 0 || mm.msg_len == 0)
		return -EPIPE;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mm.msg_hdr); cm; cm = CMSG_NXTHDR(&mm.msg_hdr, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (nfd < 2)
				fds[nfd++] = fd;
			else
				close(fd);
		}
	}
	bool ok = mm.msg_len == sizeof(m) && !(mm.msg_hdr.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
		  m.magic == HANDOFF_CHAN_MAGIC && m.reserved == 0 && nfd == (m.page_size ? 2u : 1u);
	if (!ok) {
		for (unsigned i = 0; i < nfd; i++)
			close(fds[i]);
		return -EBADMSG;
	}
	*slot = m.slot;
	*chan = fds[0];
	*page_fd = m.page_size ? fds[1] : -1;
	*page_size = m.page_size;
	return 1;
}
