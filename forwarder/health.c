/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"
#include "forwarder/health.h"
#include "forwarder/state.h"

void fhealth_setup(struct forwarder *f)
{
	const char *env = getenv(HEALTH_FD_ENV);
	char *end;

	memset(&f->health, 0, sizeof(f->health));
	if (!env) {
		/* under systemd today: no page is passed (README, "Health checks") */
		if (f->cfg->n_checks)
			log_msg(LOG_WARNING, "the config has 'check' lines but no health page was passed "
				"(gatehouse run passes one): every server counts as up");
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
