/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * A pool of pipes for splice(). A relay borrows a pipe only while bytes are
 * in flight in one direction and gives it back empty, so idle relays hold
 * none. Pipes are asked for 1 MiB (bulk throughput comes from large pipes);
 * when the per-user pipe quota refuses (EPERM) the default size is kept.
 * At most `max` (pipes_init) pipes are open at once: fdbudget_pipes() of the
 * fd limit, which the fd budget counts once; past that pipes_get() says
 * -EMFILE and the direction copies instead.
 */
void pipes_init(unsigned max);
int pipes_get(int *r, int *w);
void pipes_put(int r, int w);		/* empty pipe back to the pool */
void pipes_discard(int r, int w);	/* pipe with data: close it */
unsigned pipes_size(void);		/* bytes to splice at once */
