/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include "cli/capacity.h"
#include "common/fdbudget.h"

static uint64_t share_of(const struct gh_config *cfg, unsigned nf)
{
	return cfg->max_connections ? (cfg->max_connections + nf - 1) / nf : 0;
}

uint64_t capacity_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		return 0;
	return rl.rlim_max;	/* the daemons raise soft to hard */
}

uint64_t capacity_per_forwarder(const struct gh_config *cfg, unsigned nf, uint64_t nofile)
{
	if (!nf)
		nf = 1;
	uint64_t by_fds = nofile ? fdbudget_relays(nofile) : UINT64_MAX;
	if (nofile && by_fds < 1)
		by_fds = 1;	/* the forwarder takes one relay at the least */
	uint64_t share = share_of(cfg, nf);
	return share && share < by_fds ? share : by_fds;
}

void capacity_describe(const struct gh_config *cfg, unsigned nf, uint64_t nofile, char *buf, size_t size)
{
	if (!nf)
		nf = 1;
	uint64_t per = capacity_per_forwarder(cfg, nf, nofile);
	uint64_t share = share_of(cfg, nf);
	const char *fw = nf == 1 ? "forwarder" : "forwarders";
	if (!nofile && !share) {
		snprintf(buf, size, "capacity: no limit (%u %s, no RLIMIT_NOFILE, no max-connections)", nf, fw);
		return;
	}
	int n = snprintf(buf, size, "capacity: %llu connections at once (%u %s x %llu", (unsigned long long)(per * nf),
			 nf, fw, (unsigned long long)per);
	if (n < 0 || (size_t)n >= size)
		return;
	if (nofile)
		n += snprintf(buf + n, size - (size_t)n,
			      "; by fds: (RLIMIT_NOFILE %llu - %u reserved - %u for %u pipes) / %u fds per relay = %llu",
			      (unsigned long long)nofile, FDBUDGET_RESERVE, 2 * fdbudget_pipes(nofile), fdbudget_pipes(nofile),
			      FDBUDGET_PER_RELAY, (unsigned long long)fdbudget_relays(nofile));
	if (n > 0 && (size_t)n < size && share)
		n += snprintf(buf + n, size - (size_t)n, "; max-connections %u over %u = %llu each",
			      cfg->max_connections, nf, (unsigned long long)share);
	if (n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ")");
}

int capacity_raise_limit(const struct gh_config *cfg, unsigned nf, uint64_t *nofile, uint64_t *need)
{
	struct rlimit rl;
	int err = 0;
	*nofile = *need = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	uint64_t share = share_of(cfg, nf ? nf : 1);
	if (share && rl.rlim_max != RLIM_INFINITY) {
		*need = fdbudget_nofile_for(share);
		if (rl.rlim_max < *need) {
			struct rlimit up = { .rlim_cur = *need, .rlim_max = *need };
			if (setrlimit(RLIMIT_NOFILE, &up) == 0)	/* needs CAP_SYS_RESOURCE */
				rl = up;
			else
				err = -errno;
		}
	}
	*nofile = rl.rlim_max == RLIM_INFINITY ? 0 : rl.rlim_max;
	return err;
}
