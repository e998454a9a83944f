/* SPDX-License-Identifier: MIT */
#pragma once
/* Dialling a site's servers with failover (dial.c). */
#include <stddef.h>
#include <stdint.h>

struct forwarder;
struct fconn;
struct fserver_state;

void dial_start(struct forwarder *f, struct fconn *c);
/* No server for this client (all failed, or its wait for a slot ran out):
 * HTTP clients get a 503, TLS clients a close; c ends with result. */
void dial_give_up(struct forwarder *f, struct fconn *c, const char *result);
void dial_event(struct forwarder *f, struct fconn *c, uint32_t events);
void dial_expire(struct forwarder *f, uint64_t now);

/* The decision, pure (tests/unit/forwarder_tests.c): which of n servers to
 * try next for a client that tried `tries` already: round robin from *rr,
 * never one the health checker has down (hv: NULL or no page, none is),
 * skipping those avoided until after now unless all are. Advances *rr.
 * -1 when every server (at most 32) has been tried, or every one is down. */
struct health_view;
int dial_pick(const struct fserver_state *st, size_t n, uint32_t *rr, unsigned tries, uint64_t now,
	      const struct health_view *hv);

/* Round-robin positions and failure memory for every site and kind;
 * -ENOMEM on failure. dial_free undoes it (also after a partial setup). */
int dial_setup(struct forwarder *f);
void dial_free(struct forwarder *f);
