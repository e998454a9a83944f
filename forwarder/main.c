/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-forwarder -c FILE
 *
 * Its one channel from the listener is the single fd passed by systemd
 * (gatehouse-forwarder.socket, Accept=yes) or by `gatehouse run`. When the
 * channel closes (listener restart or reload) it stops taking clients,
 * finishes its relays and exits: a reload never cuts a relay.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <systemd/sd-daemon.h>
#include "common/clock.h"
#include "common/config_load.h"
#include "common/daemon.h"
#include "forwarder/forwarder.h"
#include "common/log.h"
#include "common/notify.h"
#include "router/proxy_header.h"
#include "policy/policy.h"

static volatile sig_atomic_t got_term;

static void log_end(struct forwarder *f, struct fconn *c, const char *result)
{
	char client[64], server[64], in[24], out[24], dur[24], esc[4 * HOSTNAME_MAX + 1], msg[1600];
	char a[INET6_ADDRSTRLEN];
	const struct gh_site *s = &f->cfg->sites[c->site];

	inet_ntop(c->client_family, c->client_addr, a, sizeof(a));
	snprintf(client, sizeof(client), c->client_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, c->client_port);
	snprintf(server, sizeof(server), "%s",
		 c->tries ? s->servers[c->kind][c->server].text : "-");
	snprintf(in, sizeof(in), "%llu", (unsigned long long)c->up.bytes);
	snprintf(out, sizeof(out), "%llu", (unsigned long long)c->down.bytes);
	uint64_t now = clock_realtime_us();
	snprintf(dur, sizeof(dur), "%llu",
		 (unsigned long long)(now > c->accepted_usec ? (now - c->accepted_usec) / 1000 : 0));
	const char *name = c->name ? c->name : "";
	log_escape(name, strlen(name), esc, sizeof(esc));
	snprintf(msg, sizeof(msg), "%s %s %s -> %s %s in=%s out=%s ms=%s %s", client, gh_kind_str(c->kind),
		 esc[0] ? esc : "-", s->name, server, in, out, dur, result);
	struct log_field fl[] = {
		{ "GATEHOUSE_CLIENT", client },
		{ "GATEHOUSE_KIND", gh_kind_str(c->kind) },
		{ "GATEHOUSE_NAME", esc },
		{ "GATEHOUSE_SITE", s->name },
		{ "GATEHOUSE_SERVER", server },
		{ "GATEHOUSE_BYTES_IN", in },
		{ "GATEHOUSE_BYTES_OUT", out },
		{ "GATEHOUSE_DURATION_MS", dur },
		{ "GATEHOUSE_RESULT", result },
	};
	log_record(strcmp(result, "ok") ? LOG_WARNING : LOG_INFO, msg, fl, sizeof(fl) / sizeof(fl[0]));
}

/* Both fds of a relay can be in one epoll batch: an ended connection is
 * parked on the dead list and freed after the batch, so a later event of
 * the same batch finds FS_DEAD instead of freed memory. */
void fconn_end(struct forwarder *f, struct fconn *c, const char *result)
{
	if (c->state == FS_DEAD)
		return;
	queue_release(f, c);
	log_end(f, c, result);
	dlist_remove(&c->link);
	relay_release(c);
	/* No EPOLL_CTL_DEL: a registration the listener's copy of the
	 * socket keeps alive is disarmed by the generation in its tag. */
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->sfd >= 0)
		close(c->sfd);
	c->cfd = c->sfd = -1;
	c->state = FS_DEAD;
	dlist_append(&f->dead, &c->link);
	f->n_conns--;
}

static void free_dead(struct forwarder *f)
{
	while (!dlist_empty(&f->dead)) {
		struct fconn *c = dlist_entry(f->dead.next, struct fconn, link);
		dlist_remove(&c->link);
		free(c->name);
		c->name = NULL;
		c->gen++;	/* old tags now name a generation that is gone */
		dlist_append(&f->free_conns, &c->link);
	}
}

static struct fconn *fconn_new(struct forwarder *f)
{
	struct fconn *c;
	if (!dlist_empty(&f->free_conns)) {
		c = dlist_entry(f->free_conns.next, struct fconn, link);
		dlist_remove(&c->link);
		uint16_t gen = c->gen;
		memset(c, 0, sizeof(*c));
		c->gen = gen;
		return c;
	}
	c = calloc(1, sizeof(*c));
	/* the tag keeps 48 bits of address: true of every x86-64/arm64
	 * user pointer unless 5-level paging addresses were asked for */
	if (c && ((uintptr_t)c & ~FTAG_PTR_MASK)) {
		free(c);
		return NULL;
	}
	return c;
}

static void reject(const struct handoff_in *in, const char *why)
{
	char site[4 * HOSTNAME_MAX + 1];
	log_escape(in->msg.site, strnlen(in->msg.site, sizeof(in->msg.site)), site, sizeof(site));
	log_msg(LOG_WARNING, "refused hand-off (site '%s'): %s", site, why);
}

static void take(struct forwarder *f, struct handoff_in *in)
{
	if (in->error != HANDOFF_OK) {
		reject(in, handoff_error_str(in->error));
		return;
	}
	const struct handoff_msg *m = &in->msg;
	uint32_t site = config_site_index(f->cfg, m->site, strlen(m->site));
	if (site == GH_NO_SITE || f->cfg->sites[site].n_servers[m->kind] == 0) {
		reject(in, site == GH_NO_SITE ? "unknown site" : "site has no server of this kind");
		close(in->fd);
		return;
	}
	struct fconn *c = fconn_new(f);
	size_t nl = strlen(m->name);
	char *name = nl ? malloc(nl + 1) : NULL;
	if (!c || (nl && !name)) {
		if (c)
			dlist_append(&f->free_conns, &c->link);
		free(name);
		close(in->fd);
		return;
	}
	if (name)
		memcpy(name, m->name, nl + 1);
	c->kind = m->kind;
	c->site = site;
	c->proxy_version = (uint8_t)f->cfg->sites[site].proxy_protocol;
	c->cfd = in->fd;
	c->sfd = -1;
	c->up.pipe_r = c->up.pipe_w = c->down.pipe_r = c->down.pipe_w = -1;
	c->accepted_usec = m->accepted_usec;
	c->name = name;
	/* Who the client is comes from the kernel, not from the message: a
	 * compromised listener must not be able to forge log records or
	 * PROXY headers. The message's copy is only a cross-check. */
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	struct proxy_endpoint ep;
	if (getpeername(c->cfd, (struct sockaddr *)&peer, &pl) < 0 ||
	    proxy_endpoint_from_sockaddr((struct sockaddr *)&peer, &ep) < 0) {
		memset(&ep, 0, sizeof(ep));
		ep.family = AF_INET6;
	}
	c->client_family = (uint8_t)ep.family;
	c->client_port = ep.port;
	memcpy(c->client_addr, ep.addr, sizeof(c->client_addr));
	if (ep.family != m->client_family || ep.port != m->client_port ||
	    memcmp(ep.addr, m->client_addr, ep.family == AF_INET ? 4 : 16))
		log_msg(LOG_WARNING, "hand-off for site '%s' named another client than its socket's peer", m->site);
	f->n_conns++;
	f->total++;
	queue_admit(f, c);
}

/* Stop reading hand-offs while at the relay cap: a received fd that cannot
 * be installed (EMFILE) would be lost, whereas a message left in the channel
 * makes the listener stop accepting, and the client waits in the backlog. */
static void channel_pause(struct forwarder *f, bool pause)
{
	if (!f->channel_open || f->channel_paused == pause)
		return;
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.u64 = FTAG_CHANNEL };
	if (epoll_ctl(f->epfd, EPOLL_CTL_MOD, f->channel, &ev) == 0)
		f->channel_paused = pause;
}

static void channel_ready(struct forwarder *f)
{
	struct handoff_in in[HANDOFF_BATCH];

	for (;;) {
		unsigned room = queue_intake_room(f);
		if (!room) {
			channel_pause(f, true);
			return;
		}
		int n = handoff_recv(f->channel, in, room < HANDOFF_BATCH ? room : HANDOFF_BATCH);
		if (n < 0) {
			if (n == -EAGAIN)
				return;
			log_msg(LOG_ERR, "channel: %s", strerror(-n));
			n = 0;
		}
		if (n == 0) {
			/* listener gone: finish what we relay, take nothing new */
			epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->channel, NULL);
			close(f->channel);
			f->channel = -1;
			f->channel_open = false;
			return;
		}
		f->received += (uint32_t)n;
		for (int i = 0; i < n; i++)
			take(f, &in[i]);
		if (n < (int)(room < HANDOFF_BATCH ? room : HANDOFF_BATCH))
			return;
	}
}

static int setup(struct forwarder *f)
{
	int n = sd_listen_fds(1);
	if (n != 1) {
		log_msg(LOG_ERR, "expected exactly one channel fd from the listener, got %d", n);
		return -EINVAL;
	}
	f->channel = SD_LISTEN_FDS_START;
	if (sd_is_socket(f->channel, AF_UNIX, SOCK_SEQPACKET, 0) <= 0) {
		log_msg(LOG_ERR, "fd 3 is not a connected SOCK_SEQPACKET channel");
		return -EINVAL;
	}
	f->channel_open = true;
	f->load = load_publish(f->channel, f->max_conns);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = FTAG_CHANNEL };
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->channel, &ev) < 0)
		return -errno;
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		f->rr[k] = calloc(f->cfg->n_sites ? f->cfg->n_sites : 1, sizeof(uint32_t));
		f->srv[k] = calloc(f->cfg->n_sites ? f->cfg->n_sites : 1, sizeof(*f->srv[k]));
		if (!f->rr[k] || !f->srv[k])
			return -ENOMEM;
		for (size_t s = 0; s < f->cfg->n_sites; s++) {
			size_t ns = f->cfg->sites[s].n_servers[k];
			f->srv[k][s] = calloc(ns ? ns : 1, sizeof(struct fserver_state));
			if (!f->srv[k][s])
				return -ENOMEM;
			/* start each forwarder at a different server */
			f->rr[k][s] = ns ? (uint32_t)getpid() % ns : 0;
		}
	}
	return 0;
}

static bool config_has_ipv4_server(const struct gh_config *cfg)
{
	for (size_t s = 0; s < cfg->n_sites; s++)
		for (int k = 0; k < GH_KIND_COUNT; k++)
			for (size_t i = 0; i < cfg->sites[s].n_servers[k]; i++)
				if (cfg->sites[s].servers[k][i].ss.ss_family == AF_INET)
					return true;
	return false;
}

static uint64_t next_deadline(struct forwarder *f)
{
	uint64_t d = UINT64_MAX;
	if (!dlist_empty(&f->connecting))
		d = dlist_entry(f->connecting.next, struct fconn, link)->deadline_ms;
	if (!dlist_empty(&f->queued)) {
		uint64_t q = dlist_entry(f->queued.next, struct fconn, link)->deadline_ms;
		if (q < d)
			d = q;
	}
	if (!dlist_empty(&f->relaying)) {
		uint64_t r = dlist_entry(f->relaying.next, struct fconn, link)->deadline_ms;
		if (r < d)
			d = r;
	}
	return d;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = GATEHOUSE_SYSCONFDIR "/gatehouse/gatehouse.conf";
	int o;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 'h': printf("usage: gatehouse-forwarder -c FILE\n"); return 0;
		default: fprintf(stderr, "usage: gatehouse-forwarder -c FILE\n"); return 2;
		}
	}
	log_setup("gatehouse-forwarder");
	notify_setup();
	struct gh_config *cfg = NULL;
	if (config_load_file(config_path, stderr, &cfg) < 0)
		return 1;

	/* relays hold two fds each; take what the hard limit allows */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	struct forwarder f = { .cfg = cfg, .channel = -1 };
	/* a relay holds two sockets and, while moving bulk, two pipe ends per
	 * direction; keep headroom for the channel, logs and pool */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		f.fd_budget = rl.rlim_cur > 68 ? (unsigned)(rl.rlim_cur - 64) : 4;
	else
		f.fd_budget = 4u << 20;
	f.max_conns = f.fd_budget / 4;
	/* caps are shared evenly by the forwarders */
	const char *nf_env = getenv("GATEHOUSE_FORWARDERS");
	unsigned nf = nf_env ? (unsigned)atoi(nf_env) : daemon_forwarders(cfg);
	if (!nf)
		nf = 1;
	if (cfg->max_connections) {
		unsigned share = (cfg->max_connections + nf - 1) / nf;
		if (share < f.max_conns)
			f.max_conns = share;
	}
	dlist_init(&f.connecting);
	dlist_init(&f.relaying);
	dlist_init(&f.dead);
	dlist_init(&f.free_conns);
	f.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f.epfd < 0 || queue_setup(&f, nf) < 0 || setup(&f) < 0)
		return 1;
	relay_init();

	sigset_t waitmask;
	daemon_signals(&got_term, &waitmask);
	struct policy_opts po = {
		.user = cfg->user,
		.chroot_dir = cfg->chroot_dir,
		.allow_ipv4 = config_has_ipv4_server(cfg),
	};
	if (policy_enter(POLICY_FORWARDER, &po) < 0)
		return 1;
	notify_send("READY=1");
	log_batching(1);

	struct epoll_event evs[128];
	while (!got_term && (f.channel_open || f.n_conns)) {
		uint64_t now = clock_now_ms();
		if (notify_status_due(now)) {
			char st[160];
			snprintf(st, sizeof(st), "relaying %u, total %llu, connect failures %llu%s", f.n_conns,
				 (unsigned long long)f.total, (unsigned long long)f.failed,
				 f.channel_open ? "" : ", draining");
			notify_status(now, st);
		}
		int timeout = clock_timeout_until(next_deadline(&f), now);
		timeout = daemon_next_timeout(timeout, now);
		int n = epoll_pwait(f.epfd, evs, 128, timeout, &waitmask);
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == FTAG_CHANNEL) {
				channel_ready(&f);
				continue;
			}
			bool from_client = !(tag & FTAG_SERVER);
			struct fconn *c = (struct fconn *)(uintptr_t)(tag & FTAG_PTR_MASK);
			if ((uint16_t)((tag >> 48) & 0x7fff) != (c->gen & 0x7fff))
				continue;	/* an old registration of a reused struct */
			if (c->state == FS_DEAD)
				continue;
			if (c->state == FS_QUEUED)
				continue;	/* not registered: only a stale tag can name it */
			if (c->state == FS_CONNECTING) {
				if (!from_client)
					dial_event(&f, c, evs[i].events);
			} else {
				relay_event(&f, c, from_client, evs[i].events);
			}
		}
		now = clock_now_ms();
		dial_expire(&f, now);
		relay_expire(&f, now);
		queue_run(&f, now);
		free_dead(&f);
		if (f.channel_paused && queue_intake_room(&f))
			channel_pause(&f, false);
		if (f.load) {
			/* once per round: the listener reads these as it dispatches */
			atomic_store_explicit(&f.load->taken, f.received, memory_order_relaxed);
			atomic_store_explicit(&f.load->relays, f.n_conns - f.n_queued, memory_order_relaxed);
		}
		log_flush();
	}
	notify_send("STOPPING=1");
	log_batching(0);
	/* tidy exit, so LeakSanitizer and valgrind see what is really lost */
	while (!dlist_empty(&f.queued))
		fconn_end(&f, dlist_entry(f.queued.next, struct fconn, link), "stopped");
	while (!dlist_empty(&f.connecting))
		fconn_end(&f, dlist_entry(f.connecting.next, struct fconn, link), "stopped");
	while (!dlist_empty(&f.relaying))
		fconn_end(&f, dlist_entry(f.relaying.next, struct fconn, link), "stopped");
	free_dead(&f);
	while (!dlist_empty(&f.free_conns)) {
		struct fconn *c = dlist_entry(f.free_conns.next, struct fconn, link);
		dlist_remove(&c->link);
		free(c);
	}
	for (int k = 0; k < GH_KIND_COUNT; k++) {
		for (size_t i = 0; f.srv[k] && i < cfg->n_sites; i++)
			free(f.srv[k][i]);
		free(f.srv[k]);
		free(f.rr[k]);
	}
	queue_free(&f);
	if (f.channel >= 0)
		close(f.channel);
	close(f.epfd);
	config_free(cfg);
	return 0;
}
