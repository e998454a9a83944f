/* SPDX-License-Identifier: MIT */
#include "common/fdbudget.h"

unsigned fdbudget_pipes(uint64_t nofile)
{
	if (!nofile || nofile >= 16ull * FDBUDGET_PIPES_MAX)
		return FDBUDGET_PIPES_MAX;
	return nofile >= 32 ? (unsigned)(nofile / 16) : 2;
}

uint64_t fdbudget_fds(uint64_t nofile)
{
	uint64_t fixed = FDBUDGET_RESERVE + 2ull * fdbudget_pipes(nofile);
	return nofile > fixed ? nofile - fixed : 0;
}

uint64_t fdbudget_relays(uint64_t nofile)
{
	return fdbudget_fds(nofile) / FDBUDGET_PER_RELAY;
}

uint64_t fdbudget_nofile_for(uint64_t relays)
{
	/* the least limit that holds them: the pipes' share grows with the
	 * limit up to its bound, so look upwards from the sockets alone */
	uint64_t n = FDBUDGET_RESERVE + FDBUDGET_PER_RELAY * relays;
	while (fdbudget_relays(n) < relays)
		n++;
	return n;
}
