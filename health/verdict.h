/* SPDX-License-Identifier: MIT */
#pragma once
/* What a server's answer to a check means (pure: tests/unit). */
#include <stddef.h>
#include <stdint.h>
#include "router/config.h"

enum verdict {
	VERDICT_MORE = 0,	/* not enough bytes yet */
	VERDICT_OK,
	VERDICT_BAD,		/* *why says what was wrong */
};

/* The answer so far, buf[0..len), to a check with opts on a server of
 * kind: an HTTP status line with the expected status, or a TLS
 * handshake record starting with a ServerHello. eof: nothing more will
 * come. */
enum verdict verdict_of(const struct gh_check *opts, enum gh_kind kind, const uint8_t *buf, size_t len, int eof,
			const char **why);
