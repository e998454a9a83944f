/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/log.h"
#include "metrics/peers.h"

/* the key pages.c files a peer's page under (pids are positive) */
static int32_t peer_key(unsigned slot)
{
	return -(int32_t)slot - 1;
}

void peers_init(struct peers *pr)
{
	memset(pr, 0, sizeof(*pr));
	pr->sock[0] = pr->sock[1] = -1;
	for (unsigned i = 0; i < PEERS_MAX; i++)
		pr->p[i].fd = -1;
}

int peers_watch(struct peers *pr, int epfd)
{
	for (unsigned i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i ? PEERS_TAG_FORWARDERS : PEERS_TAG_LISTENERS };
		if (pr->sock[i] < 0)
			continue;
		/* systemd passes them blocking; accept_peers takes all that wait */
		int fl = fcntl(pr->sock[i], F_GETFL);
		if (fl < 0 || fcntl(pr->sock[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
		    epoll_ctl(epfd, EPOLL_CTL_ADD, pr->sock[i], &ev) < 0)
			return -errno;
	}
	return 0;
}

static void accept_peers(struct peers *pr, int epfd, unsigned which)
{
	for (;;) {
		int fd = accept4(pr->sock[which], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		unsigned i = 0;
		while (i < PEERS_MAX && pr->p[i].fd >= 0)
			i++;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = PEERS_TAG_CONN + i };
		if (i == PEERS_MAX || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_msg(LOG_WARNING, "no room for another daemon's counters page (%u)", PEERS_MAX);
			close(fd);
			continue;
		}
		pr->p[i] = (struct peer){ .fd = fd, .role = which ? CTR_FORWARDER : CTR_LISTENER };
	}
}

/* The one message: the page (and a forwarder's config, and perhaps the
 * health page it took from gatehouse-health). Anything else, or
 * a second message, is not read: the connection is then only watched for
 * its end (events 0: EPOLLHUP and EPOLLERR come regardless). */
static void take_page(struct peers *pr, int epfd, struct pages *ps, unsigned slot)
{
	struct peer *p = &pr->p[slot];
	struct ctr_msg m;
	int fds[3] = { -1, -1, -1 };
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	ssize_t n = recvmsg(p->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0 && errno == EAGAIN)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len <= CMSG_LEN(sizeof(fds)))
			memcpy(fds, CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0));
	p->paged = true;
	struct epoll_event ev = { .events = 0, .data.u64 = PEERS_TAG_CONN + slot };
	epoll_ctl(epfd, EPOLL_CTL_MOD, p->fd, &ev);
	bool ok = n == (ssize_t)sizeof(m) && !(mh.msg_flags & MSG_CTRUNC) && m.type == CTR_MSG_PAGE && fds[0] >= 0 &&
		  (p->role == CTR_LISTENER) == (fds[1] < 0) && (p->role == CTR_FORWARDER || fds[2] < 0);
	if (!ok) {
		log_msg(LOG_WARNING, "a %s sent no counters page the exporter takes",
			p->role == CTR_LISTENER ? "listener" : "forwarder");
		for (unsigned i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return;
	}
	/* what the message says of role and pid is not used: the socket says */
	struct ctr_msg page = { .type = CTR_MSG_PAGE, .pid = peer_key(slot), .role = p->role };
	if (p->role == CTR_FORWARDER) {
		page.gen = pages_config_gen(ps, fds[1]);
		for (unsigned i = 0; page.gen && i < ps->n_gens; i++)
			if (ps->gens[i].gen == page.gen)
				page.index = ps->gens[i].next_index++;
	} else {
		/* a reload restarts the listener too, so under systemd each
		 * start after the first counts as a restart */
		page.gen = ps->newest_gen;
		ps->restarts += pr->listeners++ > 0;
	}
	pages_apply(ps, &page, fds[0]);
	/* its generation's health page: mapped read-only if sealed and made
	 * for that config (pages.c), the newest forwarder's replacing */
	if (fds[2] >= 0 && page.gen) {
		struct ctr_msg h = { .type = CTR_MSG_HEALTH, .gen = page.gen };
		pages_apply(ps, &h, fds[2]);
	} else if (fds[2] >= 0) {
		close(fds[2]);
	}
}

static void peer_end(struct peers *pr, struct pages *ps, unsigned slot)
{
	struct ctr_msg gone = { .type = CTR_MSG_GONE, .pid = peer_key(slot) };

	pages_apply(ps, &gone, -1);
	close(pr->p[slot].fd);	/* close() drops it from the epoll set */
	pr->p[slot].fd = -1;
}

void peers_event(struct peers *pr, int epfd, struct pages *ps, uint64_t tag, uint32_t events)
{
	if (tag == PEERS_TAG_LISTENERS || tag == PEERS_TAG_FORWARDERS) {
		accept_peers(pr, epfd, tag == PEERS_TAG_FORWARDERS);
		return;
	}
	unsigned slot = (unsigned)(tag - PEERS_TAG_CONN);
	if (slot >= PEERS_MAX || pr->p[slot].fd < 0)
		return;
	if (!pr->p[slot].paged && (events & EPOLLIN))
		take_page(pr, epfd, ps, slot);
	if (events & (EPOLLHUP | EPOLLERR))
		peer_end(pr, ps, slot);
}

unsigned peers_count(const struct peers *pr)
{
	unsigned n = 0;
	for (unsigned i = 0; i < PEERS_MAX; i++)
		n += pr->p[i].fd >= 0;
	return n;
}

void peers_free(struct peers *pr)
{
	for (unsigned i = 0; i < PEERS_MAX; i++)
		if (pr->p[i].fd >= 0)
			close(pr->p[i].fd);
	peers_init(pr);
}
