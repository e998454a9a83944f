/* SPDX-License-Identifier: MIT */
/*
 * gatehouse-health -c FILE: the one process that runs the config's health
 * checks (`check` lines), however many forwarders there are: each server
 * is checked once per interval. It publishes every server's state in one
 * page (common/health.h) that the forwarders and the exporter map
 * read-only, and logs each change of state as a journal record
 * (GATEHOUSE_RESULT=server_down|server_up). It reads no client byte and
 * no byte from the listener; it dials only the config's servers, and its
 * filter (POLICY_HEALTH) allows socket + connect and nothing that opens a
 * file, binds or listens.
 *
 * Under `gatehouse run` it hands the page's fd to its launcher with its
 * notify message, before its sandbox; the launcher passes it to the
 * forwarders of the same generation as they start. Under systemd
 * (gatehouse-health.socket) each forwarder connects, before its own
 * sandbox, and gets the fd on that connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "common/clock.h"
#include "common/daemon.h"
#include "common/fdpass.h"
#include "common/log.h"
#include "common/notify.h"
#include "health/checker.h"
#include "health/page.h"
#include "health/probe.h"
#include "health/tally.h"
#include "policy/policy.h"

/* the heartbeat's period: readers take a page silent for a few
 * intervals (common/health.c) as a checker gone */
#define HEALTH_BEAT_MS 1000u
/* the epoll tag of the serving socket (targets are tagged by index) */
#define TAG_SERVE UINT64_MAX

/* Under systemd: the one listening socket the unit passes, if any. */
static int serve_socket(void)
{
	int n = sd_listen_fds(1);

	if (n <= 0)
		return -1;
	if (n != 1 || sd_is_socket(SD_LISTEN_FDS_START, AF_UNIX, SOCK_SEQPACKET, 1) <= 0) {
		log_msg(LOG_ERR, "expected one listening SOCK_SEQPACKET socket (gatehouse-health.socket), got %d fds", n);
		return -EINVAL;
	}
	/* systemd hands it over blocking: one accept too many would stop
	 * every check */
	int fl = fcntl(SD_LISTEN_FDS_START, F_GETFL);
	if (fl < 0 || fcntl(SD_LISTEN_FDS_START, F_SETFL, fl | O_NONBLOCK) < 0)
		return log_errno(-errno, "health socket: O_NONBLOCK");
	return SD_LISTEN_FDS_START;
}

/* Each forwarder that connects gets the page, and the connection closes. */
static void serve(struct checker *k)
{
	for (int i = 0; i < 64; i++) {
		int c = accept4(k->serve_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0)
			return;
		char hello[8] = HEALTH_HELLO;
		if (fdpass_send(c, hello, sizeof(hello), k->page_fd, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_msg(LOG_WARNING, "handing out the health page: %s", strerror(errno));
		close(c);
	}
}

static bool config_has_ipv4_check(const struct gh_config *cfg)
{
	for (size_t i = 0; i < cfg->n_checks; i++)
		if (cfg->checks[i].addr.ss.ss_family == AF_INET)
			return true;
	return false;
}

static int setup(void *ctx, const struct gh_config *cfg)
{
	struct checker *k = ctx;
	uint64_t now = clock_now_ms();

	k->cfg = cfg;
	k->page_fd = -1;
	k->serve_fd = serve_socket();
	if (k->serve_fd < -1)
		return k->serve_fd;
	/* under systemd it runs whatever the config says; with no check it
	 * idles, and no forwarder asks */
	if (!cfg->n_checks)
		log_msg(LOG_NOTICE, "the config has no 'check' line: nothing to check");
	k->t = calloc(cfg->n_checks ? cfg->n_checks : 1, sizeof(*k->t));
	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!k->t || k->epfd < 0)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_checks; i++) {
		uint32_t inter = cfg->checks[i].opts.inter_ms, spread = inter < 1000 ? inter : 1000;
		k->t[i].fd = -1;
		tally_init(&k->t[i].tally);
		/* the first round spread over a second, not all at once */
		k->t[i].due_ms = now + (uint64_t)i * spread / cfg->n_checks;
	}
	int fd = page_create(cfg, &k->page);
	if (fd < 0)
		return log_errno(fd, "health page");
	k->page_fd = fd;
	if (k->serve_fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_SERVE };
		if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->serve_fd, &ev) < 0)
			return log_errno(-errno, "epoll_ctl(serve)");
	} else {
		/* under `gatehouse run`: to the launcher, for the forwarders */
		notify_send_fd(HEALTH_NOTIFY, fd);
	}
	return k->epfd;
}

static int sandbox(void *ctx, const struct gh_config *cfg)
{
	struct checker *k = ctx;
	struct policy_opts po = { .user = cfg->user, .chroot_dir = cfg->chroot_dir,
				  .allow_ipv4 = config_has_ipv4_check(cfg), .die_with_parent = true,
				  .serve_fd = k->serve_fd };

	/* published to the launcher: we keep only our mapping; under
	 * systemd the fd stays, to hand out */
	if (k->serve_fd < 0) {
		close(k->page_fd);
		k->page_fd = -1;
	}
	return policy_enter(POLICY_HEALTH, &po);
}

static void event(void *ctx, const struct epoll_event *ev)
{
	if (ev->data.u64 == TAG_SERVE)
		serve(ctx);
	else
		probe_event(ctx, (uint32_t)ev->data.u64, ev->events);
}

static void after_round(void *ctx, uint64_t now)
{
	struct checker *k = ctx;

	probe_run(k, now);
	page_beat(k->page, clock_now_ms());
}

static uint64_t deadline(void *ctx)
{
	uint64_t d = probe_next(ctx), beat = clock_now_ms() + HEALTH_BEAT_MS;
	return d < beat ? d : beat;
}

static void status(void *ctx, char *buf, size_t size)
{
	const struct checker *k = ctx;
	unsigned down = 0;

	for (size_t i = 0; i < k->cfg->n_checks; i++)
		down += k->t[i].tally.state == HEALTH_DOWN;
	snprintf(buf, size, "checking %zu servers, %u down; %llu checks, %llu failed", k->cfg->n_checks, down,
		 (unsigned long long)k->checks, (unsigned long long)k->failures);
}

static bool before_wait(void *ctx, bool stop, uint64_t now)
{
	(void)ctx;
	(void)now;
	return stop;
}

static int teardown(void *ctx, bool stopped)
{
	struct checker *k = ctx;

	(void)stopped;
	for (size_t i = 0; k->t && i < k->cfg->n_checks; i++)
		if (k->t[i].fd >= 0)
			close(k->t[i].fd);
	free(k->t);
	if (k->page_fd >= 0)
		close(k->page_fd);
	close(k->epfd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct checker k;
	const struct daemon_def def = {
		.name = "gatehouse-health",
		.usage = "",
		.max_events = 64,
		.ctx = &k,
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
