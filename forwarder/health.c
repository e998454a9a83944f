/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/counters.h"
#include "common/log.h"
#include "forwarder/health.h"
#include "forwarder/state.h"

/* Under systemd: how long a starting forwarder asks the checker for a
 * page made for its own config (during a reload the old checker may
 * answer first, or the new one not be up yet). */
#define FETCH_MS 3000
#define FETCH_RETRY_MS 100

/* The page from gatehouse-health.socket; 0, or -errno (logged by the caller). */
static int fetch(struct forwarder *f)
{
	const char *path = getenv("GATEHOUSE_HEALTH_SOCKET");
	uint64_t until = clock_now_ms() + FETCH_MS;
	int r;

	if (!path)
		path = HEALTH_SOCKET;
	for (;;) {
		uint64_t now = clock_now_ms();
		int fd = health_fetch(path, now < until ? (int)(until - now) : 0);
		if (fd < 0)
			return fd;
		r = health_view_open(&f->health, fd, f->cfg);
		if (r == 0)	/* the exporter's copy, if it gets our counters */
			counters_offer_health(fd);
		close(fd);
		if (r != -ESTALE || clock_now_ms() + FETCH_RETRY_MS >= until)
			return r;
		/* another config's checker: the reload's new one is on its way */
		struct timespec ts = { 0, FETCH_RETRY_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
}

void fhealth_setup(struct forwarder *f)
{
	const char *env = getenv(HEALTH_FD_ENV);
	char *end;

	memset(&f->health, 0, sizeof(f->health));
	if (!env) {
		if (!f->cfg->n_checks)
			return;
		int r = fetch(f);
		if (r < 0)
			log_errno(r, "the config has 'check' lines but no health page came from %s "
				  "(gatehouse-health.socket); every server counts as up", HEALTH_SOCKET);
		return;
	}
	if (!strcmp(env, "none")) {	/* `gatehouse run` without a page */
		unsetenv(HEALTH_FD_ENV);
		if (f->cfg->n_checks)
			log_msg(LOG_WARNING, "no health page from the launcher: every server counts as up");
		return;
	}
	long fd = strtol(env, &end, 10);
	unsetenv(HEALTH_FD_ENV);
	if (*end || fd < 3 || fd > 1024) {
		log_msg(LOG_WARNING, "health page: bad %s '%s'; every server counts as up", HEALTH_FD_ENV, env);
		return;
	}
	int r = health_view_open(&f->health, (int)fd, f->cfg);
	close((int)fd);
	if (r < 0)
		log_errno(r, "health page refused; every server counts as up");
}

void fhealth_free(struct forwarder *f)
{
	health_view_close(&f->health);
}
