/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/notify.h"
#include "common/fdpass.h"

static int notify_fd = -1;
static uint64_t watchdog_ms;	/* ping interval; 0: no watchdog */
static uint64_t next_ping_ms, next_status_ms;
static char last_status[256];

void notify_setup(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (path && (path[0] == '/' || path[0] == '@') && strlen(path) < sizeof(sa.sun_path)) {
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		size_t len = strlen(path);
		memcpy(sa.sun_path, path, len);
		if (path[0] == '@')
			sa.sun_path[0] = '\0';
		/* READY=1 waits for room (below), at most this long */
		struct timeval tv = { .tv_sec = 2 };
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa,
				       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'))) == 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0)
			notify_fd = fd;
		else if (fd >= 0)
			close(fd);
	}
	const char *w = getenv("WATCHDOG_USEC"), *wp = getenv("WATCHDOG_PID");
	if (w && (!wp || atoi(wp) == (int)getpid())) {
		unsigned long long us = strtoull(w, NULL, 10);
		if (us >= 2000)
			watchdog_ms = us / 2000;	/* ping at half the timeout */
	}
	/* children (none expected) must not inherit these */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

void notify_send(const char *state)
{
	/* A receiver's queue holds net.unix.max_dgram_qlen (10) datagrams:
	 * 64 forwarders starting at once overflow `gatehouse run`'s, and a
	 * lost READY=1 would keep it from ever saying ready. That one waits
	 * (SO_SNDTIMEO bounds it); the rest may be dropped. */
	if (notify_fd >= 0)
		(void)send(notify_fd, state, strlen(state),
			   MSG_NOSIGNAL | (strcmp(state, "READY=1") ? MSG_DONTWAIT : 0));
}

void notify_send_fd(const char *state, int fd)
{
	if (notify_fd >= 0)
		(void)fdpass_send(notify_fd, state, strlen(state), fd, MSG_NOSIGNAL);
}

bool notify_status_due(uint64_t now_ms)
{
	return notify_fd >= 0 && now_ms >= next_status_ms;
}

void notify_status(uint64_t now_ms, const char *status)
{
	next_status_ms = now_ms + 1000;
	if (!strcmp(status, last_status))
		return;
	char msg[300];
	snprintf(last_status, sizeof(last_status), "%s", status);
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	notify_send(msg);
}

int notify_watchdog(uint64_t now_ms)
{
	if (notify_fd < 0 || !watchdog_ms)
		return -1;
	if (now_ms >= next_ping_ms) {
		notify_send("WATCHDOG=1");
		next_ping_ms = now_ms + watchdog_ms;
	}
	return (int)(next_ping_ms - now_ms);
}
