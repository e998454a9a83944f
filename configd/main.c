/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-config -c FILE: under systemd, the one process that parses
 * the config and compiles it (router/config_image.h) into a memfd sealed
 * against every write, as `gatehouse run`'s launcher does. Every other
 * daemon (listener, forwarders, health checker, exporter) connects to
 * gatehouse-config.socket before its sandbox and gets that fd
 * (common/config_fetch.h), so at 100 000 sites an extra forwarder maps
 * the same pages instead of parsing a private copy.
 *
 * Each connection first looks at the file again: a changed text (a
 * reload after an edit) is compiled into a new image, a text with errors
 * is logged (FILE:LINE: message) and the last good image is served.
 * It reads no client byte and dials nothing (PrivateNetwork= in its unit;
 * its filter, POLICY_CONFIG, allows accept on the one socket it is
 * given, a read-only open, and what compiling and sealing a memfd takes).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "common/config_fetch.h"
#include "common/fdpass.h"
#include "common/log.h"
#include "common/notify.h"
#include "configd/current.h"
#include "policy/policy.h"

#ifndef GATEHOUSE_SYSCONFDIR
#define GATEHOUSE_SYSCONFDIR "/etc"
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: gatehouse-config -c FILE\n"
		   "  run by gatehouse-config.socket (systemd): hands the compiled config to the daemons\n");
}

/* The one listening SOCK_SEQPACKET socket its unit passes, blocking:
 * this process has nothing else to wait for. */
static int serve_socket(void)
{
	int n = sd_listen_fds(1);

	if (n != 1 || sd_is_socket(SD_LISTEN_FDS_START, AF_UNIX, SOCK_SEQPACKET, 1) <= 0) {
		log_msg(LOG_ERR, "expected one listening SOCK_SEQPACKET socket (gatehouse-config.socket), got %d fds", n);
		return -EINVAL;
	}
	int fl = fcntl(SD_LISTEN_FDS_START, F_GETFL);
	if (fl < 0 || fcntl(SD_LISTEN_FDS_START, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return log_errno(-errno, "config socket: blocking");
	return SD_LISTEN_FDS_START;
}

/* One answer: the image, or why there is none. */
static void answer(struct current *cur, int c)
{
	char msg[320];
	ssize_t n;

	current_refresh(cur);
	if (cur->image_fd >= 0) {
		n = fdpass_send(c, CONFIG_HELLO, sizeof(CONFIG_HELLO), cur->image_fd, MSG_DONTWAIT | MSG_NOSIGNAL);
	} else {
		int len = snprintf(msg, sizeof(msg), "%s%c%s", CONFIG_NONE, '\0', cur->why);
		size_t sz = len < 0 ? sizeof(CONFIG_NONE) : (size_t)len + 1 > sizeof(msg) ? sizeof(msg) : (size_t)len + 1;
		n = fdpass_send(c, msg, sz, -1, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (n < 0)
		log_msg(LOG_WARNING, "answering a daemon: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = GATEHOUSE_SYSCONFDIR "/gatehouse/gatehouse.conf";
	static struct current cur;
	int o;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (o == 'c') {
			path = optarg;
		} else if (o == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	log_setup("gatehouse-config");
	notify_setup();
	int s = serve_socket();
	if (s < 0 || current_init(&cur, path) < 0)
		return 1;
	/* the first compile before the sandbox: malloc's first large
	 * blocks and libc's lazy set-up happen here */
	current_refresh(&cur);
	struct policy_opts po = { .serve_fd = s };
	if (policy_enter(POLICY_CONFIG, &po) < 0)
		return 1;
	notify_send("READY=1");
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return log_errno(-errno, "accept") < 0 ? 1 : 0;
		}
		answer(&cur, c);
		close(c);
	}
}
