/* SPDX-License-Identifier: MIT */
#pragma once
/* A ClientHello for `check tls-hello`: enough of TLS 1.3 and 1.2 (SNI,
 * groups, signature algorithms, versions, an X25519 key share) that a
 * TLS server answers it with a ServerHello. The check never goes further,
 * so the key share is the base point: nothing is secret. */
#include <stddef.h>
#include <stdint.h>

/* Writes the record into out; its length, or 0 if cap is too small or
 * sni too long. */
size_t hello_build(const char *sni, uint64_t seed, uint8_t *out, size_t cap);
