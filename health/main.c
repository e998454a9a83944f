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
 * forwarders of the same generation as they start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/daemon.h"
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
	if (!cfg->n_checks) {
		log_msg(LOG_ERR, "the config has no 'check' line: nothing to check");
		return -EINVAL;
	}
	k->t = calloc(cfg->n_checks, sizeof(*k->t));
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
	/* under `gatehouse run`: to the launcher, for the forwarders */
	notify_send_fd(HEALTH_NOTIFY, fd);
	return k->epfd;
}

static int sandbox(void *ctx, const struct gh_config *cfg)
{
	struct checker *k = ctx;
	struct policy_opts po = { .user = cfg->user, .chroot_dir = cfg->chroot_dir,
				  .allow_ipv4 = config_has_ipv4_check(cfg), .die_with_parent = true };

	/* the page is published: we keep only our mapping */
	close(k->page_fd);
	k->page_fd = -1;
	return policy_enter(POLICY_HEALTH, &po);
}

static void event(void *ctx, const struct epoll_event *ev)
{
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
