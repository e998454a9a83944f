/* SPDX-License-Identifier: MIT */
/*
 * One relay direction over the pipe pool. Small messages (requests, TLS
 * handshakes, keep-alive exchanges) go through the caller's copy buffer
 * with one recv and one send, stopping at a short read. A direction turns
 * to splice() ("bulk") when a recv fills the whole buffer, and back when a
 * splice moves less than PUMP_SMALL_SPLICE: then the copy is cheaper than
 * the extra splice and pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "forwarder/pipes.h"
#include "forwarder/pump.h"

bool pump_dir_busy(const struct fdir *d)
{
	return d->in_pipe || d->pend_len;
}

bool pump_dir_done(const struct fdir *d)
{
	return d->shut && !pump_dir_busy(d);
}

void pump_dir_release(struct fdir *d)
{
	if (d->pipe_r >= 0) {
		if (d->in_pipe)
			pipes_discard(d->pipe_r, d->pipe_w);
		else
			pipes_put(d->pipe_r, d->pipe_w);
	}
	d->pipe_r = d->pipe_w = -1;
	d->in_pipe = 0;
	free(d->pend);
	d->pend = NULL;
	d->pend_len = d->pend_off = 0;
}

bool pump_go_bulk(size_t got, size_t buf_size)
{
	return got == buf_size;
}

bool pump_stay_bulk(size_t spliced)
{
	return spliced >= PUMP_SMALL_SPLICE;
}

bool pump_wait_after_recv(size_t got, size_t buf_size, bool src_hup)
{
	return !pump_go_bulk(got, buf_size) && !src_hup;
}

bool pump_at_fin(size_t got, size_t want, bool src_fin)
{
	return src_fin && got < want;
}

size_t pump_recv_size(const struct fdir *d, size_t buf_size)
{
	return d->limited && d->left < buf_size ? d->left : buf_size;
}

bool pump_took(struct fdir *d, size_t n)
{
	if (!d->limited)
		return false;
	d->left -= n < d->left ? (uint32_t)n : d->left;
	return d->left == 0;
}

static bool would_block(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

bool pump_hold(struct fdir *d, const uint8_t *p, size_t len)
{
	d->pend = malloc(len);
	if (!d->pend)
		return false;
	memcpy(d->pend, p, len);
	d->pend_len = (uint32_t)len;
	d->pend_off = 0;
	return true;
}

/* Deliver what is held (leftover bytes or pipe contents). */
static enum pump_result flush_held(struct fdir *d, int dst, bool *dst_blocked)
{
	while (d->pend_len) {
		ssize_t n = send(dst, d->pend + d->pend_off, d->pend_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (!would_block(errno))
				return PUMP_ERR_DST;
			*dst_blocked = true;
			return PUMP_WAIT;
		}
		d->pend_off += (uint32_t)n;
		d->pend_len -= (uint32_t)n;
		d->bytes += (uint64_t)n;
		if (!d->pend_len) {
			free(d->pend);
			d->pend = NULL;
			d->pend_off = 0;
		}
	}
	while (d->in_pipe) {
		ssize_t n = splice(d->pipe_r, NULL, dst, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (!would_block(errno))
				return PUMP_ERR_DST;
			*dst_blocked = true;
			return PUMP_WAIT;
		}
		if (n == 0)
			return PUMP_ERR_DST;
		d->in_pipe -= (uint32_t)n;
		d->bytes += (uint64_t)n;
	}
	return PUMP_DONE;
}

enum pump_result pump(struct fdir *d, int src, int dst, bool other_done, struct pump_buf *buf,
		      bool *dst_blocked)
{
	for (;;) {
		if (pump_dir_busy(d)) {
			enum pump_result r = flush_held(d, dst, dst_blocked);
			if (r != PUMP_DONE)
				return r;
		}
		if (d->eof) {
			if (!d->shut) {
				/* the last direction to end needs no shutdown():
				 * both sockets are closed next, which sends the FIN */
				if (!other_done)
					shutdown(dst, SHUT_WR);
				d->shut = true;
			}
			if (d->pipe_r >= 0)
				pump_dir_release(d);
			return PUMP_DONE;
		}
		if (!d->bulk) {
			if (d->pipe_r >= 0) {
				pipes_put(d->pipe_r, d->pipe_w);	/* empty: flushed above */
				d->pipe_r = d->pipe_w = -1;
			}
			size_t want = pump_recv_size(d, sizeof(buf->b));
			if (!want) {
				/* the one request is carried: end as at EOF, and
				 * what the client sends after it stays unread */
				d->eof = true;
				continue;
			}
			ssize_t n = recv(src, buf->b, want, MSG_DONTWAIT);
			if (n == 0) {
				d->eof = true;
				continue;
			}
			if (n < 0)
				return would_block(errno) ? PUMP_WAIT : PUMP_ERR_SRC;
			pump_took(d, (size_t)n);
			ssize_t s = send(dst, buf->b, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (s < 0) {
				if (!would_block(errno))
					return PUMP_ERR_DST;
				s = 0;
			}
			d->bytes += (uint64_t)s;
			if (s < n) {
				*dst_blocked = true;
				/* rare: keep the rest until the destination drains */
				return pump_hold(d, buf->b + s, (size_t)(n - s)) ? PUMP_WAIT : PUMP_ERR_DST;
			}
			if (pump_at_fin((size_t)n, want, d->src_fin)) {
				d->eof = true;	/* the FIN is next: no recv for the 0 */
				continue;
			}
			if (d->limited) {
				if ((size_t)n < want && !d->src_hup)
					return PUMP_WAIT;	/* drained */
				continue;	/* more allowed, or the limit reached */
			}
			if (pump_go_bulk((size_t)n, sizeof(buf->b)))
				d->bulk = true;
			else if (pump_wait_after_recv((size_t)n, sizeof(buf->b), d->src_hup))
				return PUMP_WAIT;	/* drained: the next edge says more */
			continue;
		}
		if (d->pipe_r < 0 && pipes_get(&d->pipe_r, &d->pipe_w) < 0) {
			/* no pipe to spare (the fd budget's bound): copy instead */
			d->pipe_r = d->pipe_w = -1;
			d->bulk = false;
			continue;
		}
		ssize_t n = splice(src, NULL, d->pipe_w, NULL, pipes_size(), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			d->eof = true;
			continue;
		}
		if (n < 0) {
			if (!would_block(errno))
				return PUMP_ERR_SRC;
			/* idle: give the empty pipe back so idle relays hold none */
			pipes_put(d->pipe_r, d->pipe_w);
			d->pipe_r = d->pipe_w = -1;
			return PUMP_WAIT;
		}
		d->in_pipe += (uint32_t)n;
		if (!pump_stay_bulk((size_t)n))
			d->bulk = false;
	}
}
