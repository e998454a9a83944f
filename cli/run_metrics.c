/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cli/run_metrics.h"
#include "common/counters.h"
#include "common/log.h"

void runm_init(struct runm *m)
{
	m->listen_fd = m->ctl = m->ctl_child = -1;
	m->pid = 0;
}

int runm_bind(struct runm *m, const struct gh_addr *addr)
{
	int sp[2], one = 1;
	int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 || listen(fd, 64) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	/* a slow exporter must never stall the launcher: messages it has
	 * not read are dropped (and said), not waited for */
	int big = 1 << 20;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	m->listen_fd = fd;
	m->ctl = sp[0];
	m->ctl_child = sp[1];
	return 0;
}

void runm_spawned(struct runm *m, pid_t pid)
{
	m->pid = pid;
	if (m->ctl_child >= 0)
		close(m->ctl_child);
	m->ctl_child = -1;
}

static void send_msg(struct runm *m, const struct ctr_msg *msg, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	memset(&cm, 0, sizeof(cm));
	struct iovec iov = { (void *)(uintptr_t)msg, sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* EPIPE: the exporter is gone (stopping, or it died: reap says so) */
	if (m->ctl >= 0 && m->pid && sendmsg(m->ctl, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EPIPE)
		log_errno(-errno, "metrics: message %u for pid %d lost", msg->type, (int)msg->pid);
}

void runm_config(struct runm *m, unsigned gen, int config_fd)
{
	struct ctr_msg msg = { .type = CTR_MSG_CONFIG, .gen = gen };
	send_msg(m, &msg, config_fd);
}

void runm_page(struct runm *m, unsigned gen, pid_t pid, bool listener, unsigned index, int fd)
{
	struct ctr_msg msg = { .type = CTR_MSG_PAGE, .gen = gen, .pid = pid,
			       .role = listener ? CTR_LISTENER : CTR_FORWARDER, .index = index };
	send_msg(m, &msg, fd);
	close(fd);
}

void runm_gone(struct runm *m, pid_t pid)
{
	struct ctr_msg msg = { .type = CTR_MSG_GONE, .pid = pid };
	if (pid == m->pid)
		m->pid = 0;
	else
		send_msg(m, &msg, -1);
}
