/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-forwarder -c FILE
 *
 * Its one channel from the listener is the single fd passed by systemd
 * (gatehouse-forwarder.socket, Accept=yes) or by `gatehouse run`. When the
 * channel closes (listener restart or reload) it stops taking clients,
 * finishes its relays and exits: a reload never cuts a relay.
 *
 * This file is the event loop only: it sends each event to the module
 * that owns it (intake, dial, relay), runs their timers, and reaps the
 * connections that ended, releasing what queue and relay hold for them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>
#include "common/counters.h"
#include "common/daemon.h"
#include "common/fdbudget.h"
#include "common/log.h"
#include "forwarder/conn.h"
#include "forwarder/dial.h"
#include "forwarder/health.h"
#include "forwarder/intake.h"
#include "forwarder/pipes.h"
#include "forwarder/queue.h"
#include "forwarder/relay.h"
#include "forwarder/srcaddr.h"
#include "forwarder/srccount.h"
#include "forwarder/state.h"
#include "policy/policy.h"

/* Every server a client can be sent to: the sites' own and their tls-alpn
 * routes' (global routes are copied into the sites). */
static bool config_has_ipv4_server(const struct gh_config *cfg)
{
	for (size_t s = 0; s < cfg->n_sites; s++) {
		const struct gh_site *st = &cfg->sites[s];

		for (int k = 0; k < GH_KIND_COUNT; k++)
			for (size_t i = 0; i < st->n_servers[k]; i++)
				if (st->servers[k][i].ss.ss_family == AF_INET)
					return true;
		for (size_t r = 0; r < st->n_alpn; r++)
			for (size_t i = 0; i < st->alpn[r].n_servers; i++)
				if (st->alpn[r].servers[i].ss.ss_family == AF_INET)
					return true;
	}
	return false;
}

static uint64_t next_deadline(struct forwarder *f)
{
	uint64_t d = intake_deadline(f);
	if (!dlist_empty(&f->connecting)) {
		uint64_t c = dlist_entry(f->connecting.next, struct fconn, link)->deadline_ms;
		if (c < d)
			d = c;
	}
	if (!dlist_empty(&f->queued)) {
		uint64_t q = dlist_entry(f->queued.next, struct fconn, link)->deadline_ms;
		if (q < d)
			d = q;
	}
	uint64_t qd = fquic_deadline(f);
	if (qd < d)
		d = qd;
	if (!dlist_empty(&f->relaying)) {
		uint64_t r = dlist_entry(f->relaying.next, struct fconn, link)->deadline_ms;
		if (r < d)
			d = r;
	}
	return d;
}

/* What queue and relay hold for each connection that ended: released
 * here, so neither module has to be called back by the one ending it. */
static void reap(struct forwarder *f)
{
	struct fconn *c;
	while ((c = conn_next_ended(&f->conns))) {
		queue_release(f, c);
		relay_release(c);
		srccount_end(f, c);
	}
}

static void event(struct forwarder *f, const struct epoll_event *ev)
{
	uint64_t tag = ev->data.u64;
	if (tag == FTAG_CHANNEL) {
		intake_ready(f);
		return;
	}
	if (tag & FTAG_QUIC) {
		fquic_event(f, tag, ev->events);
		return;
	}
	bool from_client = !(tag & FTAG_SERVER);
	struct fconn *c = fconn_of_tag(tag);
	if (!c)
		return;	/* an old registration of a reused struct */
	if (c->state == FS_DEAD)
		return;
	if (c->state == FS_QUEUED)
		return;	/* not registered: only a stale tag can name it */
	if (c->state == FS_CONNECTING) {
		if (!from_client)
			dial_event(f, c, ev->events);
	} else {
		relay_event(f, c, from_client, ev->events);
	}
}

static void end_all(struct forwarder *f, struct dlist *list)
{
	while (!dlist_empty(list))
		conn_end(&f->conns, dlist_entry(list->next, struct fconn, link), "stopped");
}

/* Before the sandbox: the fd budget, the channel, the tables. */
static int setup(void *ctx, const struct gh_config *cfg)
{
	struct forwarder *f = ctx;

	f->cfg = cfg;
	f->channel = -1;
	/* take what the hard limit allows (systemd's advice: raise soft to hard) */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* what is really held: two sockets per relay, the pipe pool's bound
	 * once, a reserve (common/fdbudget.h; `gatehouse check` prints it) */
	uint64_t budget = 4u << 20, nofile = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		nofile = rl.rlim_cur;
		budget = fdbudget_fds(nofile);
	}
	if (budget > (4u << 20))
		budget = 4u << 20;
	if (budget < FDBUDGET_PER_RELAY)
		budget = FDBUDGET_PER_RELAY;	/* a tiny limit: one relay, as before */
	f->fd_budget = (unsigned)budget;
	f->max_conns = f->fd_budget / FDBUDGET_PER_RELAY;
	/* caps are shared evenly by the forwarders */
	const char *nf_env = getenv("GATEHOUSE_FORWARDERS");
	unsigned nf = nf_env ? (unsigned)atoi(nf_env) : daemon_forwarders(cfg);
	if (!nf)
		nf = 1;
	if (cfg->max_connections) {
		unsigned share = (cfg->max_connections + nf - 1) / nf;
		if (share < f->max_conns)
			f->max_conns = share;
	}
	dlist_init(&f->connecting);
	dlist_init(&f->relaying);
	conn_setup(&f->conns, cfg);
	f->buf = malloc(sizeof(*f->buf));
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!f->buf || f->epfd < 0)
		return -ENOMEM;
	if (queue_setup(f, nf) < 0 || intake_setup(f) < 0 || dial_setup(f) < 0 || srcaddr_setup(f) < 0)
		return -EINVAL;
	fhealth_setup(f);
	pipes_init(fdbudget_pipes(nofile));
	return f->epfd;
}

static int sandbox(void *ctx, const struct gh_config *cfg)
{
	const struct forwarder *f = ctx;
	struct policy_opts po = {
		.user = cfg->user,
		.chroot_dir = cfg->chroot_dir,
		.allow_ipv4 = config_has_ipv4_server(cfg),
		.allow_source_bind = config_uses_source_prefix(cfg),
		.quic_fds = f->quic.socks,
		.n_quic_fds = f->quic.n_socks,
	};
	return policy_enter(POLICY_FORWARDER, &po);
}

static void on_event(void *ctx, const struct epoll_event *ev)
{
	event(ctx, ev);
}

static void after_round(void *ctx, uint64_t now)
{
	struct forwarder *f = ctx;

	dial_expire(f, now);
	relay_expire(f, now);
	reap(f);	/* slots freed before the queue looks for them */
	queue_run(f, now);
	reap(f);
	conn_recycle(&f->conns);	/* the batch is over: no event names them now */
	fquic_after_round(f, now);
	intake_after_round(f, now);
	if (f->load) {
		/* once per round: the listener reads these as it dispatches */
		atomic_store_explicit(&f->load->taken, f->received, memory_order_release);
		atomic_store_explicit(&f->load->relays, f->conns.n - f->n_queued + f->quic.n, memory_order_relaxed);
	}
}

static uint64_t deadline(void *ctx)
{
	return next_deadline(ctx);
}

static void status(void *ctx, char *buf, size_t size)
{
	const struct forwarder *f = ctx;

	snprintf(buf, size, "relaying %u, total %llu, connect failures %llu, quic flows %u (total %llu)%s", f->conns.n,
		 (unsigned long long)f->total, (unsigned long long)f->failed, f->quic.n,
		 (unsigned long long)f->quic.total,
		 f->channel_open ? "" : ", draining");
}

/* A stop signal ends the relays at once (systemd's stop is a stop; a
 * reload only closes the channel, and then the relays are finished). */
static bool before_wait(void *ctx, bool stop, uint64_t now)
{
	const struct forwarder *f = ctx;

	(void)now;
	return stop || (!f->channel_open && !f->conns.n && !f->quic.n);
}

static int teardown(void *ctx, bool stopped)
{
	struct forwarder *f = ctx;

	(void)stopped;
	/* tidy exit, so LeakSanitizer and valgrind see what is really lost */
	end_all(f, &f->queued);
	end_all(f, &f->connecting);
	end_all(f, &f->relaying);
	reap(f);
	conn_recycle(&f->conns);
	conn_teardown(&f->conns);
	fquic_teardown(f);
	dial_free(f);
	fhealth_free(f);
	srcaddr_free(f);
	queue_free(f);
	intake_close(f);
	close(f->epfd);
	free(f->buf);
	return 0;
}

int main(int argc, char **argv)
{
	static struct forwarder f;
	const struct daemon_def def = {
		.name = "gatehouse-forwarder",
		.usage = "",
		.counters = CTR_FORWARDER,
		.max_events = 128,
		.ctx = &f,
		.setup = setup,
		.sandbox = sandbox,
		.event = on_event,
		.after_round = after_round,
		.deadline = deadline,
		.status = status,
		.before_wait = before_wait,
		.teardown = teardown,
	};
	return daemon_main(&def, argc, argv);
}
