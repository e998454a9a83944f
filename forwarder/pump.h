/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * One direction of a relay: bytes read from one socket, written to the
 * other. Small messages go through the caller's copy buffer with recv/send;
 * bulk switches to splice() through a pipe borrowed from the pool (pipes.h)
 * and given back as soon as it is empty, so an idle direction holds no pipe.
 * Knows nothing of connections, epoll or the log: the relay (relay.c) runs
 * the directions and decides what an outcome means.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdir {
	int pipe_r, pipe_w;	/* -1 when no pipe is held */
	uint32_t in_pipe;	/* bytes sitting in the pipe */
	uint32_t pend_off, pend_len;	/* leftover of a short send() */
	uint8_t *pend;		/* malloc'd only when a send() was short */
	uint64_t bytes;		/* delivered to the destination */
	bool eof;		/* source said EOF */
	bool shut;		/* EOF passed on with shutdown(SHUT_WR) */
	bool src_hup;		/* the source reported RDHUP/HUP: read to EOF */
	/* The source reported RDHUP without an error: its FIN is queued behind
	 * every byte it sent, so a short read has reached it (pump_at_fin). */
	bool src_fin;
	bool bulk;		/* moving with splice (see pump_go_bulk) */
	/* One request only (handoff.h one_request): the source may give at
	 * most `left` more bytes, then the direction ends as at EOF and the
	 * source is not read again. Never bulk: the bound is below a copy
	 * buffer or two, and splice could not stop at it. */
	bool limited;
	uint32_t left;
};

/* The copy buffer small messages pass through. One per process, owned by
 * the loop (struct forwarder) and lent to each call: nothing stays in it
 * between calls, so every direction of every relay can share it. */
#define PUMP_BUF_SIZE (64u * 1024u)
struct pump_buf {
	uint8_t b[PUMP_BUF_SIZE];
};

enum pump_result {
	PUMP_WAIT,	/* source empty or destination full */
	PUMP_DONE,	/* EOF passed on */
	PUMP_ERR_SRC,
	PUMP_ERR_DST,
};

static inline void pump_dir_init(struct fdir *d)
{
	*d = (struct fdir){ .pipe_r = -1, .pipe_w = -1 };
}
/* Give back the pipe (closed if it holds bytes) and free held bytes. */
void pump_dir_release(struct fdir *d);
bool pump_dir_busy(const struct fdir *d);	/* holds bytes not yet delivered */
bool pump_dir_done(const struct fdir *d);	/* EOF passed on, nothing held */

/* Move what src has to dst until src is drained, dst is full or EOF is
 * passed on. *dst_blocked is set when dst would block (the caller waits for
 * it to be writable). other_done: the other direction has ended, so EOF
 * needs no shutdown() (both sockets are closed next). */
enum pump_result pump(struct fdir *d, int src, int dst, bool other_done, struct pump_buf *buf,
		      bool *dst_blocked);

/* How much the next recv from d's source may take, with a buffer of
 * buf_size: all of it, or at most what the one-request limit leaves. */
size_t pump_recv_size(const struct fdir *d, size_t buf_size);
/* n bytes were read from d's source: count them against the limit. True
 * when the limit is now used up (the direction ends as at EOF). */
bool pump_took(struct fdir *d, size_t n);

/* Keep bytes a send did not take, to be delivered first. */
bool pump_hold(struct fdir *d, const uint8_t *p, size_t len);

/* The decisions, pure (tests/unit/pump_tests.c):
 * a recv that filled the whole copy buffer means more is coming: splice; */
bool pump_go_bulk(size_t got, size_t buf_size);
/* a splice that moved less than PUMP_SMALL_SPLICE: the copy is cheaper. */
#define PUMP_SMALL_SPLICE (16u * 1024u)
bool pump_stay_bulk(size_t spliced);
/* after a short recv that was not the last (no EOF seen from the source):
 * the socket is drained, wait for the next edge instead of an EAGAIN. */
bool pump_wait_after_recv(size_t got, size_t buf_size, bool src_hup);
/* after a short recv from a source whose FIN was seen: that recv took all
 * there is before the FIN, so it is the EOF, and the recv that would
 * return 0 is not made (one system call less per direction that ends). */
bool pump_at_fin(size_t got, size_t want, bool src_fin);
