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
 * -p: the two-process floor, the least a privilege-separated design can
 * cost: a parent accepts, peeks at the first bytes (no parsing) and passes
 * each fd with SCM_RIGHTS over a SOCK_SEQPACKET socketpair (sendmmsg, one
 * batch per wake-up) to a child, which receives them (recvmmsg), dials and
 * relays as above. No sandbox, no logging.
 * -P: as -p, but each batch goes as ONE message carrying all its fds in one
 * SCM_RIGHTS (and their listener indexes as the payload), not one message
 * per fd: what a hand-off costs per fd once the per-message kernel work
 * (an skb, an fd list, a wake-up callback) is paid once per batch.
 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

/* Dial the backend for an accepted client and register both fds. */
static void start(int cfd, const struct lsn *l)
{
	int sfd = socket(l->be.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct fc *c = calloc(1, sizeof(*c));
	if (sfd < 0 || !c || pipe_get(&c->h[0]) || pipe_get(&c->h[1]) ||
	    (connect(sfd, (const struct sockaddr *)&l->be, l->be_len) < 0 && errno != EINPROGRESS)) {
		close(cfd), close(sfd), free(c);	/* (a leaked pipe here is fine for a bench) */
		return;
	}
	c->fd[0] = cfd, c->fd[1] = sfd;
	for (int s = 0; s < 2; s++) {
		c->e[s] = (struct end){ c, s };
		struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->e[s] };
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[s], &e);
	}
}

#define BATCH 16
#define CHAN 32u	/* epoll tag of the hand-off channel (listeners are 0..31) */

/* -p parent: accept, peek, pass the fds on in batches; never returns. */
static int one_msg;	/* -P */

/* -P: the whole batch in one message */
static void send_one(int chan, const int *fds, int k, uint32_t idx)
{
	uint32_t ids[BATCH];
	union { char b[CMSG_SPACE(sizeof(int) * BATCH)]; struct cmsghdr a; } cb;
	struct iovec iov = { ids, sizeof(ids[0]) * (size_t)k };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)k) };
	memset(&cb, 0, sizeof(cb));
	for (int j = 0; j < k; j++)
		ids[j] = idx;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)k);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)k);
	if (sendmsg(chan, &mh, 0) != (ssize_t)iov.iov_len)
		die("floor -P: sendmsg");
}

static void acceptor(struct lsn *L, int chan)
{
	struct epoll_event evs[32];
	for (;;) {
		int n = epoll_wait(ep, evs, 32, -1);
		for (int i = 0; i < n; i++) {
			uint32_t idx = (uint32_t)evs[i].data.u64;
			int fds[BATCH], k = 0, more = 1;
			while (more) {
				int cfd = accept4(L[idx].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (cfd < 0)
					more = 0;
				else {
					(void)recv(cfd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
					fds[k++] = cfd;
				}
				if ((k == BATCH || (!more && k)) && one_msg) {
					send_one(chan, fds, k, idx);
					for (int j = 0; j < k; j++)
						close(fds[j]);
					k = 0;
				} else if (k == BATCH || (!more && k)) {
					struct mmsghdr mm[BATCH];
					struct iovec iov[BATCH];
					union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } cb[BATCH];
					memset(mm, 0, sizeof(mm));
					memset(cb, 0, sizeof(cb));
					for (int j = 0; j < k; j++) {
						iov[j] = (struct iovec){ &idx, sizeof(idx) };
						mm[j].msg_hdr.msg_iov = &iov[j];
						mm[j].msg_hdr.msg_iovlen = 1;
						mm[j].msg_hdr.msg_control = cb[j].b;
						mm[j].msg_hdr.msg_controllen = sizeof(cb[j].b);
						struct cmsghdr *cm = CMSG_FIRSTHDR(&mm[j].msg_hdr);
						cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS;
						cm->cmsg_len = CMSG_LEN(sizeof(int));
						memcpy(CMSG_DATA(cm), &fds[j], sizeof(int));
					}
					/* the receiver lagging: too many fds in flight
					 * (ETOOMANYREFS, the sender's RLIMIT_NOFILE) is
					 * waited out, not fatal, as gatehouse's in-flight
					 * cap does */
					for (int sent = 0; sent < k;) {
						int n = sendmmsg(chan, mm + sent, (unsigned)(k - sent), 0);
						if (n > 0)
							sent += n;
						else if (errno == ETOOMANYREFS || errno == EINTR || errno == ENOBUFS)
							usleep(100);
						else
							die("floor -p: sendmmsg");
					}
					for (int j = 0; j < k; j++)
						close(fds[j]);
					k = 0;
				}
			}
		}
	}
}

/* -P child: one message, a batch of fds */
static void take_one(struct lsn *L, int chan)
{
	uint32_t ids[BATCH];
	union { char b[CMSG_SPACE(sizeof(int) * BATCH)]; struct cmsghdr a; } cb;
	for (;;) {
		struct iovec iov = { ids, sizeof(ids) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				     .msg_controllen = sizeof(cb.b) };
		ssize_t n = recvmsg(chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == 0)
			exit(0);
		if (n < 0) {
			if (errno == EAGAIN)
				return;
			die("floor -P: recvmsg");
		}
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (!cm || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t j = 0; j < k; j++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + j * sizeof(int), sizeof(int));
			start(fd, &L[ids[j < (size_t)n / sizeof(ids[0]) ? j : 0] % 32]);
		}
	}
}

/* -p child: take a batch of fds off the channel and start each. */
static void take(struct lsn *L, int chan)
{
	if (one_msg) {
		take_one(L, chan);
		return;
	}
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	uint32_t idx[BATCH];
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } cb[BATCH];
	for (;;) {
		memset(mm, 0, sizeof(mm));
		for (int j = 0; j < BATCH; j++) {
			iov[j] = (struct iovec){ &idx[j], sizeof(idx[j]) };
			mm[j].msg_hdr.msg_iov = &iov[j];
			mm[j].msg_hdr.msg_iovlen = 1;
			mm[j].msg_hdr.msg_control = cb[j].b;
			mm[j].msg_hdr.msg_controllen = sizeof(cb[j].b);
		}
		int n = recvmmsg(chan, mm, BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n == 0)
			exit(0);
		if (n < 0) {
			if (errno == EAGAIN)
				return;
			die("floor -p: recvmmsg");
		}
		for (int j = 0; j < n; j++) {
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mm[j].msg_hdr);
			int fd;
			if (!cm || cm->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			start(fd, &L[idx[j] % 32]);
		}
		if (n < BATCH)
			return;
	}
}

int main(int argc, char **argv)
{
	struct lsn L[32];
	int nl = 0, handoff = 0, chan = -1;
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	int first = 1;
	if (argc > 1 && (!strcmp(argv[1], "-p") || !strcmp(argv[1], "-P")))
		handoff = 1, one_msg = argv[1][1] == 'P', first = 2;
	if (argc > first + 1 && !strcmp(argv[first], "-r"))
		rw_bytes = strtoul(argv[first + 1], NULL, 10), first += 2;
	for (int i = first; i < argc && nl < 32; i++, nl++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			die("usage: floor [-p|-P] [-r BYTES] LISTEN=BACKEND...");
		*eq = '\0';
		L[nl].fd = listen_on(argv[i], 4096, true);
		L[nl].be_len = parse_addr(eq + 1, &L[nl].be);
	}
	if (handoff) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			die("floor -p: socketpair");
		pid_t pid = fork();
		if (pid < 0)
			die("floor -p: fork");
		if (pid > 0) {
			close(sv[1]);
			for (int i = 0; i < nl; i++) {
				struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
				epoll_ctl(ep, EPOLL_CTL_ADD, L[i].fd, &ev);
			}
			acceptor(L, sv[0]);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		chan = sv[1];
		close(ep);
		ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = CHAN };
		epoll_ctl(ep, EPOLL_CTL_ADD, chan, &ev);
	} else {
		for (int i = 0; i < nl; i++) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
			epoll_ctl(ep, EPOLL_CTL_ADD, L[i].fd, &ev);
		}
	}
	struct epoll_event evs[256];
	struct fc *dead[512];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1), nd = 0;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == CHAN) {
				take(L, chan);
				continue;
			}
			if (evs[i].data.u64 < 32) {
				struct lsn *l = &L[evs[i].data.u64];
				for (int k = 0; k < 64; k++) {
					int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (cfd < 0)
						break;
					start(cfd, l);
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
