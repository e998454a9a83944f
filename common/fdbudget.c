/* SPDX-License-Identifier: MIT */
#include "common/fdbudget.h"

static const uint64_t fixed = FDBUDGET_RESERVE + 2u * FDBUDGET_PIPES;

uint64_t fdbudget_fds(uint64_t nofile)
{
	return nofile > fixed ? nofile - fixed : 0;
}

uint64_t fdbudget_relays(uint64_t nofile)
{
	return fdbudget_fds(nofile) / FDBUDGET_PER_RELAY;
}

uint64_t fdbudget_nofile_for(uint64_t relays)
{
	return fixed + FDBUDGET_PER_RELAY * relays;
}
