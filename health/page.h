/* SPDX-License-Identifier: MIT */
#pragma once
/* The health page (common/health.h), the writer's side. */
#include <stdint.h>
#include "common/health.h"
#include "router/config.h"

/* Create, map writable, seal (F_SEAL_FUTURE_WRITE: every later mapping
 * read-only) and fill the page for cfg's checks. Returns the fd (the
 * caller's) and *out, or -errno. */
int page_create(const struct gh_config *cfg, struct gh_health_page **out);
void page_set(struct gh_health_page *pg, uint32_t slot, uint32_t state, uint32_t changes);
void page_beat(struct gh_health_page *pg, uint64_t now_ms);
