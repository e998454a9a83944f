/* SPDX-License-Identifier: MIT */
#pragma once
/* One check of one server at a time per server: connect (non-blocking,
 * bounded by the check's timeout), then maybe a request and the start of
 * its answer; the result goes to the tally, a change of state to the page
 * and the journal. */
#include <stdint.h>
#include "health/checker.h"

void probe_start(struct checker *k, uint32_t i, uint64_t now_ms);
void probe_event(struct checker *k, uint32_t i, uint32_t events);
/* checks past their timeout fail; checks due start */
void probe_run(struct checker *k, uint64_t now_ms);
/* the soonest due or deadline, UINT64_MAX for none */
uint64_t probe_next(const struct checker *k);
