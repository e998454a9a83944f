/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash. With a random
 * key chosen at start-up, a client cannot pick addresses that collide in a
 * table, so per-source tables keep their expected probe lengths under attack.
 */
#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16u

uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const uint8_t *msg, size_t len);
