/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-listener -c FILE
 *
 * File descriptors come from systemd or `gatehouse run`, named with
 * LISTEN_FDNAMES: "http" and "tls" listening TCP sockets, and "forward"
 * SOCK_SEQPACKET channels to forwarders. With --connect PATH (systemd's
 * gatehouse-forwarder.socket) it opens --channels N channels itself at
 * start-up, before anything untrusted is read.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <fcntl.h>
#include <systemd/sd-daemon.h>
#include "common/clock.h"
#include "common/config_load.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/notify.h"
#include "listener/listener.h"
#include "policy/policy.h"

static volatile sig_atomic_t got_term;

/* epoll_pwait() unblocks SIGTERM only while it sleeps: when events are
 * ready it returns them and restores the mask without delivering the
 * signal. Under a steady stream of events (a flood) it never sleeps, so
 * busy rounds look at the pending set, at most every STOP_CHECK_MS: a
 * system call costs about a microsecond, and a busy round can cost little
 * more. */
#define STOP_CHECK_MS 10
static bool stop_pending(void)
{
	sigset_t pend;
	return sigpending(&pend) == 0 && (sigismember(&pend, SIGTERM) || sigismember(&pend, SIGINT));
}

static void expire(struct listener *l, uint64_t now)
{
	struct lconn *c;
	while ((c = lconn_first(&l->conns)) && c->deadline_ms <= now)
		inspect_timeout(&l->insp, c);
}

static int next_timeout(struct listener *l, uint64_t now)
{
	uint64_t d = UINT64_MAX;
	struct lconn *c = lconn_first(&l->conns);
	if (c)
		d = c->deadline_ms;
	if (l->conns.accept_resume_ms < d)
		d = l->conns.accept_resume_ms;
	if (l->draining && l->drain_deadline_ms < d)
		d = l->drain_deadline_ms;
	return clock_timeout_until(d, now);
}

/* Stop accepting and exit once nothing waits (or after a second). */
static void start_drain(struct listener *l, uint64_t now, const char *why)
{
	if (l->draining)
		return;
	l->draining = true;
	l->drain_reason = why;
	l->drain_deadline_ms = now + 1000;
}

/* How long the listener waits at start for the forwarders' load pages. */
#define LOAD_WAIT_MS 5000

static int connect_channel(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Keep few hand-offs in flight per channel: a forwarder that stops taking
 * clients (at its max-connections share, near its fd limit, or stuck) then
 * blocks our send within about a batch, and the listener gives the next
 * clients to another forwarder or keeps them in the backlog, instead of
 * stranding ~150 of them in that forwarder's queue. */
#define CHANNEL_SNDBUF 8192	/* the kernel doubles it: 13 hand-offs in flight */

static void channel_limit(int fd)
{
	int v = CHANNEL_SNDBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static int add_fd(struct listener *l, int fd, void *ptr, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int add_channel(struct listener *l, int fd)
{
	struct lchannel *ch = &l->disp.channels[l->disp.n_channels++];
	ch->type = LOBJ_CHANNEL;
	ch->fd = fd;
	channel_limit(fd);
	return add_fd(l, fd, ch, EPOLLIN | EPOLLRDHUP);
}

static int setup_fds(struct listener *l, const char *connect_path, unsigned n_connect)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	int r;

	if (n < 0) {
		log_msg(LOG_ERR, "sd_listen_fds: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names ? names[i] : "unknown";
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (!strcmp(name, "http") || !strcmp(name, "tls")) {
			if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 || l->n_listens >= GH_MAX_LISTENS) {
				log_msg(LOG_ERR, "fd %d (%s) is not a listening stream socket", fd, name);
				return -EINVAL;
			}
			struct llisten *ls = &l->listens[l->n_listens++];
			llisten_init(ls, fd, !strcmp(name, "tls") ? GH_KIND_TLS : GH_KIND_HTTP);
			if ((r = add_fd(l, fd, ls, EPOLLIN)) < 0)
				return r;
		} else if (!strcmp(name, "forward")) {
			if (sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 0) <= 0 || l->disp.n_channels >= GH_MAX_FORWARDERS) {
				log_msg(LOG_ERR, "fd %d (%s) is not a SOCK_SEQPACKET channel", fd, name);
				return -EINVAL;
			}
			if ((r = add_channel(l, fd)) < 0)
				return r;
		} else {
			log_msg(LOG_ERR, "unexpected fd %d named '%s'", fd, name);
			return -EINVAL;
		}
		free(names ? names[i] : NULL);
	}
	free(names);
	for (unsigned i = 0; connect_path && i < n_connect && l->disp.n_channels < GH_MAX_FORWARDERS; i++) {
		int fd = connect_channel(connect_path);
		if (fd < 0) {
			log_msg(LOG_ERR, "connect %s: %s", connect_path, strerror(-fd));
			return fd;
		}
		if ((r = add_channel(l, fd)) < 0)
			return r;
	}
	if (l->n_listens == 0) {
		log_msg(LOG_ERR, "no listening sockets passed (LISTEN_FDNAMES http, tls)");
		return -EINVAL;
	}
	if (l->disp.n_channels == 0) {
		log_msg(LOG_ERR, "no forwarder channel (LISTEN_FDNAMES forward, or --connect)");
		return -EINVAL;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gatehouse-listener -c FILE [--connect PATH [--channels N]]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "connect", required_argument, NULL, 'C' },
		{ "channels", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = GATEHOUSE_SYSCONFDIR "/gatehouse/gatehouse.conf";
	const char *connect_path = NULL;
	unsigned n_connect = 0;
	int o;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 'C': connect_path = optarg; break;
		case 'n': n_connect = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log_setup("gatehouse-listener");
	notify_setup();
	struct gh_config *cfg = NULL;
	if (config_load_file(config_path, stderr, &cfg) < 0)
		return 1;
	if (connect_path && n_connect == 0)
		n_connect = daemon_forwarders(cfg);

	/* static: the inspector's peek buffer is 65 KiB */
	static struct listener l;
	l.cfg = cfg;
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	lconns_init(&l.conns, GH_MAX_INSPECTING);
	l.insp.cfg = cfg;
	l.insp.conns = &l.conns;
	l.insp.disp = &l.disp;
	if (l.epfd < 0 || dispatch_init(&l.disp, l.epfd, 256) < 0 || setup_fds(&l, connect_path, n_connect) < 0)
		return 1;

	/* each forwarder's load page comes first on its channel; mapped
	 * before the sandbox, which allows neither recvmsg nor new mappings
	 * of fds. A forwarder that is late only goes without figures. */
	uint64_t load_deadline = clock_now_ms() + LOAD_WAIT_MS;
	unsigned n_loads = 0, n_channels = l.disp.n_channels;
	for (unsigned i = 0; i < n_channels; i++) {
		uint64_t now = clock_now_ms();
		struct lchannel *ch = &l.disp.channels[i];
		ch->load = load_receive(ch->fd, now < load_deadline ? (int)(load_deadline - now) : 0);
		n_loads += ch->load != NULL;
	}
	l.disp.all_loads = n_loads == n_channels;
	if (!l.disp.all_loads)
		log_msg(LOG_WARNING, "%u of %u forwarders sent no load figures: round robin over all",
			n_channels - n_loads, n_channels);

	sigset_t waitmask;
	daemon_signals(&got_term, &waitmask);

	struct policy_opts po = { .user = cfg->user, .chroot_dir = cfg->chroot_dir, .die_with_parent = true };
	if (policy_enter(POLICY_LISTENER, &po) < 0)
		return 1;
	notify_send("READY=1");
	log_batching(1);
	log_msg(LOG_INFO, "listening on %u sockets, %u forwarder channels", l.n_listens, n_channels);

	struct epoll_event evs[64];
	uint64_t next_stop_check = 0;
	for (;;) {
		uint64_t now = clock_now_ms();
		if (got_term)
			start_drain(&l, now, NULL);
		else if (l.disp.lost)
			start_drain(&l, now, l.disp.lost);
		if (l.draining && (l.conns.n_inspecting == 0 || now >= l.drain_deadline_ms))
			break;
		if (notify_status_due(now)) {
			char st[160];
			snprintf(st, sizeof(st), "inspecting %u, accepted %llu, handed off %llu, rejected %llu",
				 l.conns.n_inspecting, (unsigned long long)l.conns.stats.accepted,
				 (unsigned long long)l.conns.stats.handed_off, (unsigned long long)l.conns.stats.rejected);
			notify_status(now, st);
		}
		accept_gate(&l, now);
		int timeout = next_timeout(&l, now);
		timeout = daemon_next_timeout(timeout, now);
		int n = epoll_pwait(l.epfd, evs, 64, timeout, &waitmask);
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint8_t type = *(uint8_t *)evs[i].data.ptr;
			if (type == LOBJ_LISTEN) {
				if (accept_ready(&l, evs[i].data.ptr, evs[i].events) < 0 && !l.exit_status) {
					l.exit_status = 1;
					start_drain(&l, clock_now_ms(), "a listening socket broke");
				}
			} else if (type == LOBJ_CHANNEL) {
				dispatch_channel_event(&l.disp, &l.conns, evs[i].data.ptr, evs[i].events);
			} else {
				inspect_conn(&l.insp, evs[i].data.ptr,
					     (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
			}
		}
		expire(&l, clock_now_ms());
		dispatch_flush(&l.disp, &l.conns);
		log_flush();
		/* a round with events did not sleep, so no signal came in */
		if (n > 0 && !got_term && now >= next_stop_check) {
			next_stop_check = now + STOP_CHECK_MS;
			if (stop_pending())
				got_term = 1;
		}
	}
	notify_send("STOPPING=1");
	log_batching(0);
	if (!got_term && stop_pending())
		got_term = 1;
	if (!got_term && l.disp.lost && !l.exit_status)
		log_msg(LOG_WARNING, "forwarder channel closed (%s): exiting so that a fresh listener starts",
			l.disp.lost);
	/* Clients still waiting in the ring or being inspected are lost with
	 * us only after the drain deadline; log how many. */
	if (l.conns.n_inspecting)
		log_msg(LOG_WARNING, "exiting with %u clients not handed off", l.conns.n_inspecting);
	struct lconn *c;
	while ((c = lconn_first(&l.conns)))
		lconn_free(&l.conns, c);
	dispatch_close(&l.disp);
	close(l.epfd);
	config_free(cfg);
	if (l.exit_status)
		return l.exit_status;
	return got_term ? 0 : 75;
}
