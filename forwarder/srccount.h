/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * `source-connections`: this forwarder's share of the per-source counts
 * (common/load.h gh_load_src), bumped when a hand-off becomes a connection
 * and dropped when the loop reaps it. The source is the client this
 * forwarder knows itself (fconn client_addr: the socket's peer), hashed
 * with its own key: nothing the listener says decides which counter moves.
 * A leaf like conn.h: called by intake (take) and the loop (reap).
 */
struct forwarder;
struct fconn;

void srccount_take(struct forwarder *f, struct fconn *c);
void srccount_end(struct forwarder *f, struct fconn *c);
