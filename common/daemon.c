/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/config_fetch.h"
#include "common/config_load.h"
#include "common/counters.h"
#include "common/log.h"
#include "router/config.h"
#include "common/daemon.h"
#include "common/notify.h"

static volatile sig_atomic_t *stop_flag;
static volatile sig_atomic_t daemon_stop;

static void on_stop(int sig)
{
	(void)sig;
	if (stop_flag)
		*stop_flag = 1;
}

void daemon_signals(volatile sig_atomic_t *flag, sigset_t *waitmask)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigset_t block;

	stop_flag = flag;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, waitmask);
}

int daemon_next_timeout(int timeout_ms, uint64_t now_ms)
{
	int wd = notify_watchdog(now_ms);
	if (wd >= 0 && (timeout_ms < 0 || wd < timeout_ms))
		return wd;
	return timeout_ms;
}

unsigned daemon_forwarders(const struct gh_config *cfg)
{
	if (cfg->forwarders)
		return cfg->forwarders;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 1 ? (unsigned)(n - 1) : 1;
}

/* A stop signal that came while epoll_pwait() kept returning events: the
 * mask is restored on return without delivering it, so under a steady
 * stream of events (a flood) the handler would never run. Busy rounds look
 * at the pending set at most every STOP_CHECK_MS: the call costs about
 * 1.4 us here, and a busy round can cost little more. */
#define STOP_CHECK_MS 10
static bool stop_pending(void)
{
	sigset_t pend;

	return sigpending(&pend) == 0 && (sigismember(&pend, SIGTERM) || sigismember(&pend, SIGINT));
}

static void daemon_usage(const struct daemon_def *d, FILE *f)
{
	fprintf(f, "usage: %s -c FILE%s%s\n", d->name, d->usage[0] ? " " : "", d->usage);
}

/* -c FILE and -h, then the daemon's own long options. */
static int daemon_options(const struct daemon_def *d, int argc, char **argv, const char **config_path)
{
	struct option opts[16] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
	};
	size_t n = 2;
	int o;

	for (size_t i = 0; d->opts && d->opts[i].name && n < sizeof(opts) / sizeof(opts[0]) - 1; i++)
		opts[n++] = d->opts[i];
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			*config_path = optarg;
			break;
		case 'h':
			daemon_usage(d, stdout);
			return 1;
		default:
			if (o == '?' || !d->option || d->option(d->ctx, o, optarg) < 0) {
				daemon_usage(d, stderr);
				return -1;
			}
		}
	}
	return 0;
}

/* Under systemd with gatehouse-config.socket (its unit sets
 * GATEHOUSE_CONFIG_SOCKET): the compiled image from gatehouse-config
 * rather than a parse of our own. No fallback to parsing: a daemon that
 * quietly parsed would cost every extra process its private copy again
 * and hide a broken service; the unit's Requires= makes the socket
 * exist, so a failure here is the service's, said in its journal.
 * *image: its fd (the caller's to close). */
static int daemon_fetch_config(const char *sock, struct gh_config **cfg, int *image)
{
	char why[320], what[128];
	int fd = config_fetch(sock, CONFIG_FETCH_TIMEOUT_MS, why, sizeof(why));

	if (fd < 0) {
		log_msg(LOG_ERR, "no config from gatehouse-config at %s: %s%s", sock, why,
			fd == -ENODATA ? " (journalctl -u gatehouse-config says why)" : "");
		return fd;
	}
	snprintf(what, sizeof(what), "%s (image from gatehouse-config)", sock);
	int r = config_load_image_fd(fd, what, stderr, cfg);
	if (r < 0) {
		close(fd);
		return r;
	}
	*image = fd;
	return 0;
}

static void daemon_loop(const struct daemon_def *d, int epfd, const sigset_t *waitmask)
{
	struct epoll_event evs[128];
	int max = d->max_events && d->max_events < 128 ? (int)d->max_events : 128;
	uint64_t next_stop_check = 0;
	int n = 0;

	for (;;) {
		uint64_t now = clock_now_ms();
		/* a round with events did not sleep, so no signal came in */
		if (n > 0 && !daemon_stop && now >= next_stop_check) {
			next_stop_check = now + STOP_CHECK_MS;
			if (stop_pending())
				daemon_stop = 1;
		}
		if (d->before_wait(d->ctx, daemon_stop != 0, now))
			break;
		if (notify_status_due(now)) {
			char st[160];
			d->status(d->ctx, st, sizeof(st));
			notify_status(now, st);
		}
		int timeout = daemon_next_timeout(clock_timeout_until(d->deadline(d->ctx), now), now);
		n = epoll_pwait(epfd, evs, max, timeout, waitmask);
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++)
			d->event(d->ctx, &evs[i]);
		d->after_round(d->ctx, clock_now_ms());
		log_flush();
	}
}

int daemon_main(const struct daemon_def *d, int argc, char **argv)
{
	const char *config_path = GATEHOUSE_SYSCONFDIR "/gatehouse/gatehouse.conf";
	struct gh_config *cfg = NULL;
	int r = daemon_options(d, argc, argv, &config_path);

	if (r != 0)
		return r > 0 ? 0 : 2;
	log_setup(d->name);
	notify_setup();
	/* under systemd a forwarder's page goes to the exporter with the
	 * exact config it counts by (its site names): the text, or the image
	 * from gatehouse-config */
	int snapshot = -1;
	const char *image_sock = getenv(CONFIG_SOCKET_ENV);
	if (image_sock && *image_sock) {
		/* the image is the snapshot: the exporter opens it as we do */
		r = daemon_fetch_config(image_sock, &cfg, &snapshot);
		if (r == 0 && !(d->counters == CTR_FORWARDER && counters_offer_path())) {
			close(snapshot);
			snapshot = -1;
		}
	} else if (d->counters == CTR_FORWARDER && counters_offer_path()) {
		r = config_load_snapshot(config_path, stderr, &cfg, &snapshot);
	} else {
		r = config_load_file(config_path, stderr, &cfg);
	}
	if (r < 0)
		return 1;
	if (d->counters)
		counters_setup(d->counters, (uint32_t)cfg->n_sites,
			       d->counters == CTR_FORWARDER ? counters_server_slots(cfg, NULL, NULL) : 0, snapshot);
	else if (snapshot >= 0)
		close(snapshot);
	int epfd = d->setup(d->ctx, cfg);
	/* after set-up: a forwarder's health page goes with its counters */
	counters_offer_pending();
	sigset_t waitmask;
	/* before the sandbox, which allows no sigaction or sigprocmask */
	daemon_signals(&daemon_stop, &waitmask);
	if (epfd < 0 || d->sandbox(d->ctx, cfg) < 0) {
		config_free(cfg);
		return 1;
	}
	notify_send("READY=1");
	log_batching(1);
	daemon_loop(d, epfd, &waitmask);
	notify_send("STOPPING=1");
	log_batching(0);
	if (!daemon_stop && stop_pending())
		daemon_stop = 1;
	r = d->teardown(d->ctx, daemon_stop != 0);
	config_free(cfg);
	return r;
}
