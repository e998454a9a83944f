/* SPDX-License-Identifier: MIT */
#include "router/siphash.h"

static uint64_t rotl(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void round4(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl(v[2], 32);
}

static void compress(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	round4(v);
	round4(v);
	v[0] ^= m;
}

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *msg, size_t len)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v[4] = {
		k0 ^ UINT64_C(0x736f6d6570736575), k1 ^ UINT64_C(0x646f72616e646f6d),
		k0 ^ UINT64_C(0x6c7967656e657261), k1 ^ UINT64_C(0x7465646279746573),
	};
	size_t i = 0;

	for (; len - i >= 8; i += 8)
		compress(v, le64(msg + i));
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t j = 0; i + j < len; j++)
		last |= (uint64_t)msg[i + j] << (8 * j);
	compress(v, last);
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		round4(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
