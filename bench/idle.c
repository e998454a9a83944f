/* SPDX-License-Identifier: MIT */
/*
 * idle: the idle-connection holder.
 *
 *   idle -a ADDR -n N -s SNI [-c CONCURRENT_OPENS] [-m MAX_HOLD_S] [-w STALL_S]
 *
 * Opens N connections (CONCURRENT_OPENS at a time, default 200), sends each
 * a 251-byte ClientHello with SNI and waits for the backend's 1-byte answer
 * (backend `hold` mode): then the connection is relayed end to end and idle.
 * Prints "held OK FAIL WAITING" once all are settled, then holds them until
 * a line (or EOF) on stdin or MAX_HOLD_S seconds (default 60), closes all,
 * exits. -w STALL_S: stop waiting once nothing settled for STALL_S seconds
 * (a proxy at its connection limit leaves the rest in its backlog): those
 * are WAITING, not failed (the held-under-an-fd-limit row).
 */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include "common.h"

enum { S_CONN, S_READ, S_HELD, S_DEAD };
struct ic { int fd; int st; };

int main(int argc, char **argv)
{
	const char *addr = NULL, *sni = "hold.test";
	long n = 0, conc = 200;
	double max_hold = 60, stall = 0;
	int o;
	while ((o = getopt(argc, argv, "a:n:s:c:m:w:")) != -1) {
		switch (o) {
		case 'a': addr = optarg; break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 's': sni = optarg; break;
		case 'c': conc = strtol(optarg, NULL, 10); break;
		case 'm': max_hold = strtod(optarg, NULL); break;
		case 'w': stall = strtod(optarg, NULL); break;
		default: die("usage: idle -a ADDR -n N -s SNI [-c CONC] [-m MAX_HOLD_S]");
		}
	}
	if (!addr || n <= 0 || n > 100000 || conc <= 0)
		die("usage: idle -a ADDR -n N(1..100000) -s SNI");
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_storage dst;
	socklen_t dl = parse_addr(addr, &dst);
	static uint8_t hello[4096];
	size_t hl = hello_build(hello, sizeof(hello), sni, false, 251, 0);
	struct ic *c = calloc((size_t)n, sizeof(*c));
	struct epoll_event *evs = calloc((size_t)conc, sizeof(*evs));
	if (!c || !evs)
		die("out of memory");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	long started = 0, settled = 0, inflight = 0, ok = 0, fail = 0;
	double t0 = now_s(), last_settled = t0;
	long waiting = 0;
	while (settled < n && now_s() - t0 < 60) {
		if (stall > 0 && now_s() - last_settled > stall) {
			waiting = n - settled;
			break;
		}
		while (inflight < conc && started < n) {
			struct ic *k = &c[started++];
			k->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (k->fd < 0 || (connect(k->fd, (struct sockaddr *)&dst, dl) < 0 && errno != EINPROGRESS)) {
				k->st = S_DEAD, fail++, settled++;
				continue;
			}
			k->st = S_CONN;
			struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = k };
			epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &ev);
			inflight++;
		}
		int m = epoll_wait(ep, evs, (int)conc, 100);
		for (int i = 0; i < m; i++) {
			struct ic *k = evs[i].data.ptr;
			if (k->st == S_CONN) {
				int err = 0;
				socklen_t l = sizeof(err);
				getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &l);
				if (err || send(k->fd, hello, hl, MSG_NOSIGNAL) != (ssize_t)hl) {
					k->st = S_DEAD, fail++, settled++, inflight--;
					epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
					continue;
				}
				k->st = S_READ;
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = k };
				epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
			} else if (k->st == S_READ) {
				char b[16];
				ssize_t r = recv(k->fd, b, sizeof(b), 0);
				if (r < 0 && errno == EAGAIN)
					continue;
				k->st = r > 0 ? S_HELD : S_DEAD;
				last_settled = now_s();
				if (r > 0)
					ok++;
				else
					fail++;
				settled++, inflight--;
				epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
			}
		}
	}
	if (!waiting)
		fail += n - settled;
	printf("held %ld %ld %ld\n", ok, fail, waiting);
	fflush(stdout);
	struct pollfd p = { .fd = 0, .events = POLLIN };
	double h0 = now_s();
	while (now_s() - h0 < max_hold) {
		int r = poll(&p, 1, 200);
		if (r > 0)
			break;	/* a line or EOF: done */
	}
	for (long i = 0; i < started; i++)
		if (c[i].fd > 0)
			close(c[i].fd);
	return fail ? 1 : 0;
}
