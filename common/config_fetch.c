/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/config_fetch.h"
#include "common/fdpass.h"

static int fetch_fail(int fd, int r, char *why, size_t why_size, const char *msg)
{
	if (fd >= 0)
		close(fd);
	snprintf(why, why_size, "%s", msg);
	return r;
}

int config_fetch(const char *path, int timeout_ms, char *why, size_t why_size)
{
	struct ucred cred;
	char msg[512], reason[300];
	const char *step;
	int fd;
	bool cut;
	ssize_t n = fdpass_ask(path, timeout_ms, true, &cred, msg, sizeof(msg) - 1, &fd, &cut, &step);

	if (n == -EPERM && !strcmp(step, "peer")) {
		snprintf(reason, sizeof(reason), "the socket's owner is uid %u (pid %d), not root; refused",
			 (unsigned)cred.uid, (int)cred.pid);
		return fetch_fail(-1, -EPERM, why, why_size, reason);
	}
	if (n == -ETIMEDOUT && !strcmp(step, "wait"))
		return fetch_fail(-1, -ETIMEDOUT, why, why_size, "no answer in time");
	if (n < 0) {
		if (!strcmp(step, "connect") || !strcmp(step, "SO_PEERCRED"))
			snprintf(reason, sizeof(reason), "%s: %s", step, strerror((int)-n));
		else
			snprintf(reason, sizeof(reason), "%s", strerror((int)-n));
		return fetch_fail(-1, (int)n, why, why_size, reason);
	}
	msg[n] = '\0';
	if (cut)
		return fetch_fail(fd, -EPROTO, why, why_size, "answer cut short");
	if (n >= (ssize_t)sizeof(CONFIG_NONE) && !memcmp(msg, CONFIG_NONE, sizeof(CONFIG_NONE))) {
		snprintf(reason, sizeof(reason), "no image: %.280s", msg + sizeof(CONFIG_NONE));
		return fetch_fail(fd, -ENODATA, why, why_size, reason);
	}
	if (fd < 0 || n != (ssize_t)sizeof(CONFIG_HELLO) || memcmp(msg, CONFIG_HELLO, sizeof(CONFIG_HELLO)))
		return fetch_fail(fd, -EPROTO, why, why_size,
				  n == 0 ? "closed without an answer" : "not an image answer");
	why[0] = '\0';
	return fd;
}
