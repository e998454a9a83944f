/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "common/fdbudget.h"
#include "forwarder/pipes.h"

/* The pool keeps up to POOL_MAX idle pipes; in use and pooled together
 * never exceed `bound` (fdbudget_pipes() of the fd limit), which the fd
 * budget counts once. */
#define POOL_MAX 16
#define PIPE_WANT (1u << 20)

static int pool[POOL_MAX][2];
static unsigned pool_len;
static unsigned live;	/* pipes open: pooled and in use */
static unsigned bound = FDBUDGET_PIPES_MAX;
static unsigned splice_len = 64u * 1024u;
static bool quota_hit;

void pipes_init(unsigned max)
{
	pool_len = 0;
	live = 0;
	bound = max ? max : 1;
}

int pipes_get(int *r, int *w)
{
	int p[2];

	if (pool_len) {
		pool_len--;
		*r = pool[pool_len][0];
		*w = pool[pool_len][1];
		return 0;
	}
	if (live >= bound)
		return -EMFILE;	/* at the budget's bound: the caller copies */
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	live++;
	if (!quota_hit) {
		int sz = fcntl(p[1], F_SETPIPE_SZ, PIPE_WANT);
		if (sz < 0)
			quota_hit = true;	/* EPERM: over the quota, stop asking */
		else if ((unsigned)sz > splice_len)
			splice_len = (unsigned)sz;
	}
	*r = p[0];
	*w = p[1];
	return 0;
}

void pipes_put(int r, int w)
{
	if (pool_len < POOL_MAX) {
		pool[pool_len][0] = r;
		pool[pool_len][1] = w;
		pool_len++;
		return;
	}
	pipes_discard(r, w);
}

void pipes_discard(int r, int w)
{
	close(r);
	close(w);
	live--;
}

unsigned pipes_size(void)
{
	return splice_len;
}
