/* SPDX-License-Identifier: MIT */
#pragma once
/* Per-site connection limits and the wait for a slot (queue.c). */
#include <stdint.h>

struct forwarder;
struct fconn;

int queue_setup(struct forwarder *f, unsigned n_forwarders);
void queue_free(struct forwarder *f);
/* A new client: dialled now, or queued until its site has a slot. */
void queue_admit(struct forwarder *f, struct fconn *c);
/* An ended connection's slot or place in the queue (the loop, on reaping). */
void queue_release(struct forwarder *f, struct fconn *c);
/* Time out waiting clients, then admit those a released slot lets in. */
void queue_run(struct forwarder *f, uint64_t now);
/* Hand-offs this forwarder can take now. */
unsigned queue_intake_room(const struct forwarder *f);
/* Its decision, pure (tests/unit/forwarder_tests.c): with `relays` relays
 * and `queued` waiting clients held, under a cap of max_conns relays and
 * fd_budget fds (a relay may hold 4, a waiting client 1). */
unsigned queue_room(unsigned relays, unsigned queued, unsigned max_conns, unsigned fd_budget);
