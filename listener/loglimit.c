/* SPDX-License-Identifier: MIT */
#include "common/log.h"
#include "listener/loglimit.h"

bool log_limit_pass(struct log_limit *ll, uint64_t now_ms, const char *what)
{
	if (now_ms - ll->window_ms >= 1000) {
		if (ll->suppressed)
			log_msg(LOG_NOTICE, "%u %s suppressed", ll->suppressed, what);
		ll->window_ms = now_ms;
		ll->in_window = 0;
		ll->suppressed = 0;
	}
	if (++ll->in_window > LOG_LIMIT_PER_SEC) {
		ll->suppressed++;
		return false;
	}
	return true;
}
