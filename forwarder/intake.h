/* SPDX-License-Identifier: MIT */
#pragma once
/* The channel from the listener: hand-offs in, connections out (intake.c). */
#include <stdint.h>

struct forwarder;

/* Take the channel (fd 3 from systemd or `gatehouse run`), publish the load
 * page, register the channel. -errno on failure, logged. */
int intake_setup(struct forwarder *f);
/* The channel is readable: take what the relay cap and fd budget allow. */
void intake_ready(struct forwarder *f);
/* Once a round: resume reading when there is room again, and report how
 * many refusals the rate limit held back. */
void intake_after_round(struct forwarder *f, uint64_t now);
/* When intake_after_round has a count to report (UINT64_MAX: none). */
uint64_t intake_deadline(const struct forwarder *f);
void intake_close(struct forwarder *f);

/* Refusal records logged per second at most; the rest are counted. */
#define INTAKE_REFUSALS_PER_SEC 50
