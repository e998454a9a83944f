/* SPDX-License-Identifier: MIT */
/*
 * backend MODE ADDR [--reply N]
 *   hello: read the whole ClientHello (records parsed, any number of them),
 *          reply N bytes (default 100) and close.
 *   hold:  read the whole ClientHello, reply 1 byte, keep the connection
 *          until the client closes (the idle-connection row).
 * One process, epoll, level-triggered; never exits by itself (the bench
 * kills it).
 */
#include <signal.h>
#include <sys/epoll.h>
#include "common.h"

struct bconn {
	int fd;
	struct hello_reader r;
	bool replied;
};

static uint8_t reply[65536];

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: backend hello|hold ADDR [--reply N]");
	bool hold = !strcmp(argv[1], "hold");
	if (!hold && strcmp(argv[1], "hello"))
		die("unknown mode %s", argv[1]);
	size_t reply_len = hold ? 1 : 100;
	if (argc >= 5 && !strcmp(argv[3], "--reply"))
		reply_len = strtoul(argv[4], NULL, 10);
	if (reply_len > sizeof(reply))
		die("reply too long");
	/* looks like the start of a ServerHello record; content is irrelevant */
	memset(reply, 'x', sizeof(reply));
	reply[0] = 0x16;
	reply[1] = 0x03;
	reply[2] = 0x03;
	signal(SIGPIPE, SIG_IGN);

	int lfd = listen_on(argv[2], 4096, true);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	struct epoll_event evs[256];
	uint8_t buf[65536];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			struct bconn *c = evs[i].data.ptr;
			if (!c) {
				for (int k = 0; k < 64; k++) {
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				}
				continue;
			}
			ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				close(c->fd);
				free(c);
				continue;
			}
			if (c->replied)
				continue;	/* hold: ignore anything after the hello */
			hello_feed(&c->r, buf, (size_t)r);
			if (c->r.bad) {
				close(c->fd);
				free(c);
				continue;
			}
			if (!c->r.done)
				continue;
			c->replied = true;
			(void)!send(c->fd, reply, reply_len, MSG_NOSIGNAL);
			if (!hold) {
				close(c->fd);
				free(c);
			}
		}
	}
}
