/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <unistd.h>
#include "router/config.h"
#include "common/daemon.h"
#include "common/notify.h"

static volatile sig_atomic_t *stop_flag;

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
