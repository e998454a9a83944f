/* SPDX-License-Identifier: MIT */
/*
 * Under systemd there is no launcher to pass a daemon's counters page to
 * the exporter: the daemon offers it itself, before its sandbox, on the
 * socket its unit names (GATEHOUSE_COUNTERS_SOCKET). Each role has its own
 * socket, owned by gatehouse-metrics' units, that only that role's group
 * may connect to, so the exporter takes the role from the socket, never
 * from what a daemon says. The connection is shut for reading at once (the
 * exporter cannot even queue bytes for us) and then kept, unused, for the
 * daemon's life: its end is how the exporter learns ours.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/counters.h"
#include "common/log.h"

const char *counters_offer_path(void)
{
	const char *path = getenv("GATEHOUSE_COUNTERS_SOCKET");

	/* no socket there: gatehouse-metrics.socket is not enabled */
	if (!path || !*path || getenv("GATEHOUSE_METRICS") || access(path, F_OK) < 0)
		return NULL;
	return path;
}

int counters_offer(const char *path, enum ctr_role role, int page_fd, int config_fd)
{
	return counters_offer_fds(path, role, page_fd, config_fd, -1);
}

int counters_offer_fds(const char *path, enum ctr_role role, int page_fd, int config_fd, int health_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctr_msg m = { .type = CTR_MSG_PAGE, .pid = (int32_t)getpid(), .role = role };
	/* page, config, health page: in that order, none after a missing one */
	int fds[3] = { page_fd, config_fd, health_fd };
	size_t nfd = config_fd < 0 ? 1 : health_fd < 0 ? 2 : 3;
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = CMSG_SPACE(nfd * sizeof(int)) };
	const char *step = "socket";
	int r, s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_errno(-ENAMETOOLONG, "counters: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memset(&cm, 0, sizeof(cm));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfd * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfd * sizeof(int));
	/* non-blocking throughout: a busy or stuck exporter costs us nothing */
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		goto fail;
	step = "connect";
	if (connect(s, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	step = "send";
	if (sendmsg(s, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		goto fail;
	step = "shutdown";
	if (shutdown(s, SHUT_RD) < 0)
		goto fail;
	return s;
fail:
	r = -errno;
	if (s >= 0)
		close(s);
	return log_errno(r, "counters page not offered to gatehouse-metrics at %s: %s", path, step);
}
