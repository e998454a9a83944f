/* SPDX-License-Identifier: MIT */
/*
 * floor [-r BYTES] LISTEN=BACKEND...  e.g. floor '[::1]:21700=[::1]:21001'
 *
 * The do-nothing proxy: what the kernel charges for a relayed connection.
 * One process, epoll (edge-triggered), no parsing, no hand-off, no logging:
 * accept, connect to the fixed backend, splice both ways through pipes from
 * a pool (1 MiB, like gatehouse's), half-close, close. Each fd is
 * registered once; a readable edge feeds the direction it is the source of,
 * a writable edge drains the direction it is the destination of.
 * -r BYTES: the first BYTES of each direction go by recv()/send() instead
 * (a "hybrid" floor, like gatehouse's relay; a short send's rest goes into
 * the pipe).
 */
#include <signal.h>
#include <sys/epoll.h>
#include "common.h"

struct half { int pr, pw; size_t inpipe, moved; bool eof, shut; };
struct end { struct fc *c; int side; };	/* side 0: client, 1: server */
struct fc { int fd[2]; struct half h[2]; struct end e[2]; bool up; };	/* h[0]: client->server */
struct lsn { int fd; struct sockaddr_storage be; socklen_t be_len; };

static int ep, pool[4096][2], pool_n;
static size_t rw_bytes;
static char buf[65536];

static int pipe_get(struct half *h)
{
	int p[2];
	if (pool_n) {
		pool_n--;
		h->pr = pool[pool_n][0], h->pw = pool[pool_n][1];
		return 0;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	h->pr = p[0], h->pw = p[1];
	return 0;
}

static void pipe_put(struct half *h)
{
	if (h->pr < 0)
		return;
	if (!h->inpipe && pool_n < 4096) {
		pool[pool_n][0] = h->pr, pool[pool_n][1] = h->pw;
		pool_n++;
	} else {
		close(h->pr), close(h->pw);
	}
	h->pr = h->pw = -1;
}

static void fc_close(struct fc *c)
{
	close(c->fd[0]), close(c->fd[1]);
	pipe_put(&c->h[0]), pipe_put(&c->h[1]);
	c->fd[0] = -1;	/* freed after the epoll batch */
}

/* Move what can move in direction d (source fd[d], destination fd[!d]).
 * Returns -1 on error. */
static int pump(struct fc *c, int d)
{
	struct half *h = &c->h[d];
	int src = c->fd[d], dst = c->fd[!d];
	for (;;) {
		while (h->inpipe) {
			ssize_t n = splice(h->pr, NULL, dst, NULL, h->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0)
				return errno == EAGAIN ? 0 : -1;
			h->inpipe -= (size_t)n;
		}
		if (h->eof) {
			if (!h->shut)
				shutdown(dst, SHUT_WR), h->shut = true;
			return 0;
		}
		ssize_t n;
		if (h->moved < rw_bytes) {
			n = recv(src, buf, sizeof(buf), MSG_DONTWAIT);
			if (n > 0) {
				ssize_t s = send(dst, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (s < 0 && errno != EAGAIN)
					return -1;
				s = s < 0 ? 0 : s;
				if (s < n && write(h->pw, buf + s, (size_t)(n - s)) != n - s)
					return -1;
				h->inpipe += (size_t)(n - s);
				h->moved += (size_t)n;
				continue;
			}
		} else {
			n = splice(src, NULL, h->pw, NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		}
		if (n == 0)
			h->eof = true;
		else if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		else
			h->inpipe += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	struct lsn L[32];
	int nl = 0;
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	int first = 1;
	if (argc > 2 && !strcmp(argv[1], "-r"))
		rw_bytes = strtoul(argv[2], NULL, 10), first = 3;
	for (int i = first; i < argc && nl < 32; i++, nl++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			die("usage: floor [-r BYTES] LISTEN=BACKEND...");
		*eq = '\0';
		L[nl].fd = listen_on(argv[i], 4096, true);
		L[nl].be_len = parse_addr(eq + 1, &L[nl].be);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)nl };
		epoll_ctl(ep, EPOLL_CTL_ADD, L[nl].fd, &ev);
	}
	struct epoll_event evs[256];
	struct fc *dead[512];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1), nd = 0;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 < 32) {
				struct lsn *l = &L[evs[i].data.u64];
				for (int k = 0; k < 64; k++) {
					int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (cfd < 0)
						break;
					int sfd = socket(l->be.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
					struct fc *c = calloc(1, sizeof(*c));
					if (sfd < 0 || !c || pipe_get(&c->h[0]) || pipe_get(&c->h[1]) ||
					    (connect(sfd, (struct sockaddr *)&l->be, l->be_len) < 0 && errno != EINPROGRESS)) {
						close(cfd), close(sfd), free(c);	/* (a leaked pipe here is fine for a bench) */
						continue;
					}
					c->fd[0] = cfd, c->fd[1] = sfd;
					for (int s = 0; s < 2; s++) {
						c->e[s] = (struct end){ c, s };
						struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
									 .data.ptr = &c->e[s] };
						epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[s], &e);
					}
				}
				continue;
			}
			struct end *e = evs[i].data.ptr;
			struct fc *c = e->c;
			uint32_t ev = evs[i].events;
			if (c->fd[0] < 0)
				continue;
			if (!c->up) {
				/* nothing moves before the server connection is up */
				if (e->side == 0)
					continue;
				if (ev & (EPOLLERR | EPOLLHUP)) {
					fc_close(c), dead[nd++] = c;
					continue;
				}
				c->up = true;
				ev |= EPOLLOUT;	/* drains client->server: bytes that came first */
			}
			int r = 0;
			if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				r |= pump(c, e->side);
			if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				r |= pump(c, !e->side);
			if (r < 0 || (c->h[0].shut && c->h[1].shut))
				fc_close(c), dead[nd++] = c;
		}
		for (int i = 0; i < nd; i++)
			free(dead[i]);
	}
}
