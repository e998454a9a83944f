/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <string.h>
#include "router/siphash.h"

#define ROTL(x, b) ((uint64_t)((x) << (b)) | ((x) >> (64 - (b))))

/* one SipRound on locals, so the state stays in registers */
#define SIPROUND()						\
	do {							\
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;		\
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;		\
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *msg, size_t len)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575), v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261), v3 = k1 ^ UINT64_C(0x7465646279746573);
	size_t i = 0;

	for (; len - i >= 8; i += 8) {
		uint64_t m = le64(msg + i);
		v3 ^= m;
		SIPROUND();
		SIPROUND();
		v0 ^= m;
	}
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t j = 0; i + j < len; j++)
		last |= (uint64_t)msg[i + j] << (8 * j);
	v3 ^= last;
	SIPROUND();
	SIPROUND();
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND();
	SIPROUND();
	SIPROUND();
	SIPROUND();
	return v0 ^ v1 ^ v2 ^ v3;
}
