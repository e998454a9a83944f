/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/config_fetch.h"
#include "common/fdpass.h"

static int fetch_fail(int s, int fd, int r, char *why, size_t why_size, const char *msg)
{
	if (fd >= 0)
		close(fd);
	if (s >= 0)
		close(s);
	snprintf(why, why_size, "%s", msg);
	return r;
}

int config_fetch(const char *path, int timeout_ms, char *why, size_t why_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char msg[512], reason[300];
	int s, fd = -1, r;
	bool cut;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fetch_fail(-1, -1, -ENAMETOOLONG, why, why_size, "socket path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return fetch_fail(-1, -1, -errno, why, why_size, strerror(errno));
	if (connect(s, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(reason, sizeof(reason), "connect: %s", strerror(-r));
		return fetch_fail(s, -1, r, why, why_size, reason);
	}
	/* before reading a byte: who made the socket we reached */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		r = -errno;
		snprintf(reason, sizeof(reason), "SO_PEERCRED: %s", strerror(-r));
		return fetch_fail(s, -1, r, why, why_size, reason);
	}
	if (cred.uid != 0) {
		snprintf(reason, sizeof(reason), "the socket's owner is uid %u (pid %d), not root; refused",
			 (unsigned)cred.uid, (int)cred.pid);
		return fetch_fail(s, -1, -EPERM, why, why_size, reason);
	}
	uint64_t end = clock_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	struct pollfd p = { .fd = s, .events = POLLIN };
	for (;;) {
		uint64_t now = clock_now_ms();
		r = poll(&p, 1, now >= end ? 0 : (int)(end - now));
		if (r > 0 || (r < 0 && errno != EINTR))
			break;
		if (r == 0)
			return fetch_fail(s, -1, -ETIMEDOUT, why, why_size, "no answer in time");
	}
	if (r < 0)
		return fetch_fail(s, -1, -errno, why, why_size, strerror(errno));
	ssize_t n = fdpass_recv(s, msg, sizeof(msg) - 1, &fd, &cut, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return fetch_fail(s, fd, -errno, why, why_size, strerror(errno));
	msg[n] = '\0';
	if (cut)
		return fetch_fail(s, fd, -EPROTO, why, why_size, "answer cut short");
	if (n >= (ssize_t)sizeof(CONFIG_NONE) && !memcmp(msg, CONFIG_NONE, sizeof(CONFIG_NONE))) {
		snprintf(reason, sizeof(reason), "no image: %.280s", msg + sizeof(CONFIG_NONE));
		return fetch_fail(s, fd, -ENODATA, why, why_size, reason);
	}
	if (fd < 0 || n != (ssize_t)sizeof(CONFIG_HELLO) || memcmp(msg, CONFIG_HELLO, sizeof(CONFIG_HELLO)))
		return fetch_fail(s, fd, -EPROTO, why, why_size,
				  n == 0 ? "closed without an answer" : "not an image answer");
	close(s);
	why[0] = '\0';
	return fd;
}
