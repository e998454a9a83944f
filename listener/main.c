/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-listener -c FILE
 *
 * File descriptors come from systemd or `gatehouse run`, named with
 * LISTEN_FDNAMES: "http" and "tls" listening TCP sockets, and "forward"
 * SOCK_SEQPACKET channels to forwarders. With --connect PATH (systemd's
 * gatehouse-forwarder.socket) it opens --channels N channels itself at
 * start-up, before anything untrusted is read, plus one spare that takes
 * a dead forwarder's place (listener/dispatch.h). From `gatehouse run`, also
 * "control": the launcher's socket, on which a dead forwarder's
 * replacement channel arrives (common/handoff_chan.h), so that losing one
 * forwarder ends only what it held.
 */
#include <errno.h>
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
#include "common/counters.h"
#include "common/daemon.h"
#include "common/handoff_chan.h"
#include "common/log.h"
#include "listener/listener.h"
#include "policy/policy.h"

static void expire(struct listener *l, uint64_t now)
{
	struct lconn *c;
	while ((c = lconn_first(&l->conns)) && c->deadline_ms <= now)
		inspect_timeout(&l->insp, c);
}

static uint64_t next_deadline(struct listener *l)
{
	uint64_t d = UINT64_MAX;
	struct lconn *c = lconn_first(&l->conns);
	if (c)
		d = c->deadline_ms;
	if (l->conns.accept_resume_ms < d)
		d = l->conns.accept_resume_ms;
	if (l->draining && l->drain_deadline_ms < d)
		d = l->drain_deadline_ms;
	/* a held-back log count is reported when its window ends, not
	 * only when the next record comes */
	uint64_t q = lquic_deadline(&l->quic);
	if (q < d)
		d = q;
	uint64_t logs = lconn_log_deadline(&l->conns);
	if (logs < d)
		d = logs;
	return d;
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
#define CHANNEL_SNDBUF HANDOFF_CHANNEL_SNDBUF	/* the kernel doubles it: 13 hand-offs in flight */

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

static bool has_quic_servers(const struct gh_config *cfg)
{
	for (size_t i = 0; i < cfg->n_sites; i++)
		if (cfg->sites[i].n_servers[GH_KIND_QUIC])
			return true;
	return false;
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
		} else if (!strcmp(name, "quic")) {
			if (lquic_add_socket(&l->quic, fd) < 0) {
				log_msg(LOG_ERR, "fd %d (%s) is not a UDP socket", fd, name);
				return -EINVAL;
			}
			if ((r = add_fd(l, fd, &l->quic.socks[l->quic.n_socks - 1], EPOLLIN)) < 0)
				return r;
		} else if (!strcmp(name, "control")) {
			if (sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 0) <= 0 || l->ctl.fd >= 0) {
				log_msg(LOG_ERR, "fd %d (%s) is not one SOCK_SEQPACKET socket", fd, name);
				return -EINVAL;
			}
			l->ctl.type = LOBJ_CONTROL;
			l->ctl.fd = fd;
			if ((r = add_fd(l, fd, &l->ctl, EPOLLIN)) < 0)
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
	/* one channel more than forwarders: the spare (dispatch.h). We may
	 * not connect again later, so a forwarder that dies takes this
	 * listener with it unless one is ready (`gatehouse run` replaces
	 * them over the control socket instead, with no idle process) */
	unsigned n_spare = connect_path && l->ctl.fd < 0 && n_connect ? 1 : 0;
	for (unsigned i = 0; connect_path && i < n_connect + n_spare && l->disp.n_channels < GH_MAX_FORWARDERS; i++) {
		int fd = connect_channel(connect_path);
		if (fd < 0) {
			log_msg(LOG_ERR, "connect %s: %s", connect_path, strerror(-fd));
			return fd;
		}
		if ((r = add_channel(l, fd)) < 0)
			return r;
		if (i >= n_connect) {
			l->disp.channels[l->disp.n_channels - 1].spare = true;
			log_msg(LOG_INFO, "forwarder channel %u is the spare: it takes no client until another's forwarder dies",
				l->disp.n_channels);
		}
		/* a forwarder systemd starts for this channel has no copy of
		 * the QUIC sockets to reply on: it gets ours (handoff.h) */
		if (has_quic_servers(l->cfg)) {
			int qfds[GH_MAX_LISTENS];
			for (unsigned k = 0; k < l->quic.n_socks; k++)
				qfds[k] = l->quic.socks[k].fd;
			if ((r = handoff_quic_sockets_send(fd, qfds, l->quic.n_socks)) < 0)
				log_msg(LOG_WARNING, "channel %u: passing the QUIC sockets: %s", i, strerror(-r));
		}
	}
	if (l->n_listens == 0 && l->quic.n_socks == 0) {
		log_msg(LOG_ERR, "no listening sockets passed (LISTEN_FDNAMES http, tls, quic)");
		return -EINVAL;
	}
	if (l->disp.n_channels == 0) {
		log_msg(LOG_ERR, "no forwarder channel (LISTEN_FDNAMES forward, or --connect)");
		return -EINVAL;
	}
	l->disp.replaceable = l->ctl.fd >= 0;
	return 0;
}

/* The options beside -c: systemd's gatehouse-forwarder.socket to connect to. */
struct listener_opts {
	const char *connect_path;
	unsigned n_connect;
};

static struct listener_opts lopts;

static int option(void *ctx, int opt, const char *arg)
{
	(void)ctx;
	if (opt == 'C')
		lopts.connect_path = arg;
	else if (opt == 'n')
		lopts.n_connect = (unsigned)strtoul(arg, NULL, 10);
	else
		return -1;
	return 0;
}

/* Before the sandbox: the passed fds, the channels, the load pages. */
static int setup(void *ctx, const struct gh_config *cfg)
{
	struct listener *l = ctx;

	if (lopts.connect_path && lopts.n_connect == 0)
		lopts.n_connect = daemon_forwarders(cfg);
	l->cfg = cfg;
	l->ctl.fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	lconns_init(&l->conns, GH_MAX_INSPECTING);
	if (lconn_limits_init(&l->conns, cfg) < 0)
		return -EINVAL;
	l->insp.cfg = cfg;
	l->insp.conns = &l->conns;
	l->insp.disp = &l->disp;
	int r = srcconn_init(&l->srcc, cfg);
	if (r < 0) {
		log_msg(LOG_ERR, "source-connections counts: %s", strerror(-r));
		return -EINVAL;
	}
	l->insp.src = &l->srcc;
	if (l->epfd < 0 || dispatch_init(&l->disp, l->epfd, 256) < 0 ||
	    setup_fds(l, lopts.connect_path, lopts.n_connect) < 0 ||
	    lquic_setup(&l->quic, cfg, &l->disp, &l->conns) < 0)
		return -EINVAL;
	l->disp.src = &l->srcc;

	/* each forwarder's load page comes first on its channel; mapped
	 * before the sandbox, which allows neither recvmsg nor new mappings
	 * of fds. A forwarder that is late only goes without figures. */
	uint64_t load_deadline = clock_now_ms() + LOAD_WAIT_MS;
	unsigned n_loads = 0, n_channels = l->disp.n_channels;
	for (unsigned i = 0; i < n_channels; i++) {
		uint64_t now = clock_now_ms();
		struct lchannel *ch = &l->disp.channels[i];
		const struct gh_load_src *cnt;
		ch->load = load_receive_src(ch->fd, now < load_deadline ? (int)(load_deadline - now) : 0, &cnt);
		ch->load_src = cnt;	/* the mapping's size, to unmap it whole */
		n_loads += ch->load != NULL;
		/* relays end in forwarders: one we cannot count would lift
		 * source-connections for every client sent to it */
		if ((r = srcconn_add_channel(&l->srcc, ch->load, cnt)) < 0) {
			log_msg(LOG_ERR, "source-connections: forwarder %u sent no per-source counts (%s): refusing to run",
				i + 1, strerror(-r));
			return -EINVAL;
		}
	}
	l->disp.all_loads = n_loads == n_channels;
	if (!l->disp.all_loads)
		log_msg(LOG_WARNING, "%u of %u forwarders sent no load figures: round robin over all",
			n_channels - n_loads, n_channels);
	return l->epfd;
}

static int sandbox(void *ctx, const struct gh_config *cfg)
{
	const struct listener *l = ctx;
	struct policy_opts po = { .user = cfg->user, .chroot_dir = cfg->chroot_dir, .die_with_parent = true };
	int quic_fds[GH_MAX_LISTENS];
	for (unsigned i = 0; i < l->quic.n_socks; i++)
		quic_fds[i] = l->quic.socks[i].fd;
	po.quic_fds = quic_fds;
	po.n_quic_fds = l->quic.n_socks;
	po.ctl_fd = l->ctl.fd;
	int r = policy_enter(POLICY_LISTENER, &po);

	if (r == 0)
		log_msg(LOG_INFO, "listening on %u sockets, %u QUIC sockets, %u forwarder channels", l->n_listens,
			l->quic.n_socks, l->disp.n_channels);
	return r;
}

static void event(void *ctx, const struct epoll_event *ev)
{
	struct listener *l = ctx;
	uint8_t type = *(uint8_t *)ev->data.ptr;

	if (type == LOBJ_LISTEN) {
		if (accept_ready(l, ev->data.ptr, ev->events) < 0 && !l->exit_status) {
			l->exit_status = 1;
			start_drain(l, clock_now_ms(), "a listening socket broke");
		}
	} else if (type == LOBJ_QUIC) {
		if (!l->draining)
			lquic_ready(&l->quic, ev->data.ptr);
	} else if (type == LOBJ_CHANNEL) {
		dispatch_channel_event(&l->disp, &l->conns, ev->data.ptr, ev->events);
	} else if (type == LOBJ_CONTROL) {
		/* read at the round's end: a replacement reuses its slot, and a
		 * stale event of the old channel later in this batch must not
		 * end the new one */
		l->ctl.ready = true;
	} else {
		inspect_conn(&l->insp, ev->data.ptr, (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
	}
}

/* Channels that died this round: their QUIC flows end. */
static void channels_gone(struct listener *l)
{
	while (l->disp.gone) {
		unsigned i = (unsigned)__builtin_ctzll(l->disp.gone);
		l->disp.gone &= l->disp.gone - 1;
		lquic_channel_gone(&l->quic, i);
	}
}

/* A forwarder's replacement from the launcher: its channel takes the dead
 * one's slot, with its load page mapped read-only (common/handoff_chan.h). */
static void take_replacement(struct listener *l, unsigned slot, int fd, int page_fd, size_t page_size)
{
	const struct gh_load_src *cnt = NULL;
	const struct gh_load *ld = page_fd >= 0 ? load_map(page_fd, page_size, &cnt) : NULL;
	int r;

	if (page_fd >= 0)
		close(page_fd);
	/* from the launcher, which made the socketpair: no fstat or
	 * getsockopt to vet it here (the filter allows neither) */
	if (l->draining)
		r = -ESHUTDOWN;	/* a fresh listener comes anyway */
	else
		r = dispatch_replace(&l->disp, slot, fd, ld, cnt);
	channels_gone(l);
	if (r < 0) {
		log_msg(LOG_WARNING, "replacement for forwarder channel %u refused: %s", slot + 1, strerror(-r));
		load_unmap(ld, cnt);
		close(fd);
		return;
	}
	log_msg(LOG_INFO, "forwarder channel %u replaced by a new forwarder%s", slot + 1,
		ld ? "" : " (no load page: round robin)");
}

static void control_read(struct listener *l)
{
	for (;;) {
		unsigned slot;
		int fd, page_fd;
		size_t page_size;
		int r = handoff_chan_recv(l->ctl.fd, &slot, &fd, &page_fd, &page_size);
		if (r == 0)
			return;
		if (r == -EBADMSG)
			continue;
		if (r < 0) {
			/* the launcher is gone (we get its SIGTERM too) */
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->ctl.fd, NULL);
			close(l->ctl.fd);
			l->ctl.fd = -1;
			l->disp.replaceable = false;
			return;
		}
		take_replacement(l, slot, fd, page_fd, page_size);
	}
}

static void after_round(void *ctx, uint64_t now)
{
	struct listener *l = ctx;

	channels_gone(l);
	if (l->ctl.ready) {
		l->ctl.ready = false;
		control_read(l);
	}
	expire(l, now);
	dispatch_flush(&l->disp, &l->conns);
	lquic_after_round(&l->quic, now);
	lconn_log_flush(&l->conns, now);
}

static uint64_t deadline(void *ctx)
{
	return next_deadline(ctx);
}

static void status(void *ctx, char *buf, size_t size)
{
	const struct listener *l = ctx;

	snprintf(buf, size, "inspecting %u, accepted %llu, handed off %llu, rejected %llu; quic flows %u (pending %u), "
		 "datagrams %llu, dropped %llu",
		 l->conns.n_inspecting, (unsigned long long)l->conns.stats.accepted,
		 (unsigned long long)l->conns.stats.handed_off, (unsigned long long)l->conns.stats.rejected,
		 l->quic.t.n, l->quic.t.n_pending, (unsigned long long)l->quic.stats.datagrams,
		 (unsigned long long)l->quic.stats.dropped);
}

/* A stop request or a lost channel drains: no more accepting, and exit
 * once every client under inspection is handed off (or after a second). */
static bool before_wait(void *ctx, bool stop, uint64_t now)
{
	struct listener *l = ctx;

	if (stop)
		start_drain(l, now, NULL);
	else if (l->disp.lost)
		start_drain(l, now, l->disp.lost);
	if (l->draining && (l->conns.n_inspecting == 0 || now >= l->drain_deadline_ms))
		return true;
	accept_gate(l, now);
	return false;
}

static int teardown(void *ctx, bool stopped)
{
	struct listener *l = ctx;

	if (!stopped && l->disp.lost && !l->exit_status)
		log_msg(LOG_WARNING, "forwarder channel closed (%s): exiting so that a fresh listener starts",
			l->disp.lost);
	/* Clients still waiting in the ring or being inspected are lost with
	 * us only after the drain deadline; log how many. */
	if (l->conns.n_inspecting)
		log_msg(LOG_WARNING, "exiting with %u clients not handed off", l->conns.n_inspecting);
	struct lconn *c;
	while ((c = lconn_first(&l->conns)))
		lconn_free(&l->conns, c);
	dispatch_close(&l->disp);
	if (l->ctl.fd >= 0)
		close(l->ctl.fd);
	lconn_limits_free(&l->conns);
	srcconn_free(&l->srcc);
	lquic_teardown(&l->quic);
	close(l->epfd);
	if (l->exit_status)
		return l->exit_status;
	return stopped ? 0 : 75;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'C' },
		{ "channels", required_argument, NULL, 'n' },
		{ 0 },
	};
	/* static: the inspector's peek buffer is 65 KiB */
	static struct listener l;
	const struct daemon_def def = {
		.name = "gatehouse-listener",
		.usage = "[--connect PATH [--channels N]]",
		.counters = CTR_LISTENER,
		.max_events = 64,
		.ctx = &l,
		.opts = opts,
		.option = option,
		.setup = setup,
		.sandbox = sandbox,
		.event = event,
		.after_round = after_round,
		.deadline = deadline,
		.status = status,
		.before_wait = before_wait,
		.teardown = teardown,
	};
	return daemon_main(&def, argc, argv);
}
