/* SPDX-License-Identifier: MIT */
#include <sys/socket.h>
#include "router/srcbucket.h"
#include "router/srclimit.h"

/* odd: for one source, sites below 65 536 get distinct buckets */
#define SITE_STEP0 0x9e37u
#define SITE_STEP1 0x7f4bu

int srcbucket_of(const uint8_t key[SIPHASH_KEY_LEN], unsigned v4_prefix, unsigned v6_prefix, int family,
		 const uint8_t *addr, uint32_t site, struct srcbucket *out)
{
	uint8_t group[SRCLIMIT_GROUP_LEN];

	if (family != AF_INET && family != AF_INET6)
		return -1;
	srclimit_group(v4_prefix, v6_prefix, family, addr, group);
	uint64_t h = siphash24(key, group, sizeof(group));
	out->global[0] = (uint16_t)h;
	out->global[1] = (uint16_t)(h >> 16);
	out->site[0] = (uint16_t)((h >> 32) + site * SITE_STEP0);
	out->site[1] = (uint16_t)((h >> 48) + site * SITE_STEP1);
	return 0;
}
