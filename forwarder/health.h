/* SPDX-License-Identifier: MIT */
#pragma once
/* The health page, mapped read-only at start (common/health.h). */
struct forwarder;

/* Before the sandbox: map the page `gatehouse run` passed (its fd named
 * in GATEHOUSE_HEALTH_FD). Without one, or with one for another config,
 * every server counts as up. */
void fhealth_setup(struct forwarder *f);
void fhealth_free(struct forwarder *f);
