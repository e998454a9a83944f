/* SPDX-License-Identifier: MIT */
/* The forwarder's decisions: intake room (queue.c), server pick and
 * failover order (dial.c), a relay direction's choices (pump.c): pure
 * functions, and one direction pumped over real loopback sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>
#include "suites.h"
#include "tests/unit/sockets.h"
#include "forwarder/dial.h"
#include "forwarder/pipes.h"
#include "forwarder/pump.h"
#include "common/fdbudget.h"
#include "forwarder/queue.h"
#include "forwarder/state.h"

/* ---- intake room: under the relay cap, with 2 fds for each new relay */

START_TEST(room_is_the_smaller_of_cap_and_fds)
{
	/* (relays, queued, max_conns, fd_budget): a relay holds 2 fds */
	ck_assert_uint_eq(queue_room(0, 0, 10, 1000), 10);	/* cap */
	ck_assert_uint_eq(queue_room(0, 0, 100, 40), 20);	/* fds: 40 / 2 */
	ck_assert_uint_eq(queue_room(3, 0, 10, 1000), 7);
	ck_assert_uint_eq(queue_room(3, 0, 100, 40), 17);	/* 40 - 6 = 34 fds */
}
END_TEST

START_TEST(room_edges)
{
	ck_assert_uint_eq(queue_room(10, 0, 10, 1000), 0);	/* at the cap */
	ck_assert_uint_eq(queue_room(11, 0, 10, 1000), 0);	/* over it */
	ck_assert_uint_eq(queue_room(0, 0, 10, 2), 1);		/* exactly one relay's fds */
	ck_assert_uint_eq(queue_room(0, 0, 10, 1), 0);		/* not even one */
	ck_assert_uint_eq(queue_room(0, 1, 10, 2), 0);		/* a waiting client holds one fd */
	ck_assert_uint_eq(queue_room(0, 3, 10, 8), 2);		/* (8 - 3) / 2 */
	ck_assert_uint_eq(queue_room(2, 0, 10, 5), 0);		/* 4 used, 1 left */
	ck_assert_uint_eq(queue_room(2, 0, 10, 6), 1);
}
END_TEST

/* The budget counts what is held: 2 fds a relay, the pipes' bound once. */
START_TEST(budget_formula)
{
	uint64_t fixed = FDBUDGET_RESERVE + 2 * FDBUDGET_PIPES_MAX;
	ck_assert_uint_eq(fdbudget_relays(20000), (20000 - fixed) / 2);
	ck_assert_uint_ge(fdbudget_relays(20000), 9000);	/* issue #13.2 */
	ck_assert_uint_eq(fdbudget_relays(1024), (1024 - 64 - 2 * 64) / 2);	/* a sixteenth in pipes */
	ck_assert_uint_eq(fdbudget_relays(256), (256 - 64 - 2 * 16) / 2);	/* 80, not 1 */
	ck_assert_uint_eq(fdbudget_relays(64), 0);
	ck_assert_uint_eq(fdbudget_relays(10), 0);
	for (uint64_t r = 1; r < 20000; r = r * 3 + 1) {
		ck_assert_uint_eq(fdbudget_relays(fdbudget_nofile_for(r)), r);
		ck_assert_uint_lt(fdbudget_relays(fdbudget_nofile_for(r) - 1), r);
	}
}
END_TEST

/* ---- server pick: round robin, avoided servers skipped unless all are */

START_TEST(pick_round_robin)
{
	struct fserver_state st[3] = { { 0 } };
	uint32_t rr = 1;
	ck_assert_int_eq(dial_pick(st, 3, &rr, 0, 100, NULL), 1);
	ck_assert_int_eq(dial_pick(st, 3, &rr, 0, 100, NULL), 2);
	ck_assert_int_eq(dial_pick(st, 3, &rr, 0, 100, NULL), 0);
	ck_assert_int_eq(dial_pick(st, 3, &rr, 0, 100, NULL), 1);
}
END_TEST

START_TEST(pick_failover_order_skips_avoided)
{
	struct fserver_state st[4] = { { 0 } };
	uint32_t rr = 0;
	st[0].avoid_until_ms = 500;	/* failed a moment ago */
	st[1].avoid_until_ms = 500;
	/* first try, then the failovers of one client: 2, 3, then the
	 * avoided ones in turn (all are avoided from its point of view) */
	ck_assert_int_eq(dial_pick(st, 4, &rr, 0, 100, NULL), 2);
	st[2].avoid_until_ms = 10100;
	ck_assert_int_eq(dial_pick(st, 4, &rr, 1, 100, NULL), 3);
	st[3].avoid_until_ms = 10100;
	ck_assert_int_eq(dial_pick(st, 4, &rr, 2, 100, NULL), 0);
	ck_assert_int_eq(dial_pick(st, 4, &rr, 3, 100, NULL), 1);
	ck_assert_int_eq(dial_pick(st, 4, &rr, 4, 100, NULL), -1);	/* every server tried */
	/* avoidance ends at its deadline, not after */
	st[2].avoid_until_ms = st[3].avoid_until_ms = 0;
	rr = 0;
	ck_assert_int_eq(dial_pick(st, 4, &rr, 0, 499, NULL), 2);
	rr = 0;
	ck_assert_int_eq(dial_pick(st, 4, &rr, 0, 500, NULL), 0);
}
END_TEST

START_TEST(pick_limits)
{
	struct fserver_state st[40] = { { 0 } };
	uint32_t rr = 0;
	ck_assert_int_eq(dial_pick(st, 0, &rr, 0, 0, NULL), -1);	/* no server */
	ck_assert_int_eq(dial_pick(st, 1, &rr, 1, 0, NULL), -1);
	ck_assert_int_eq(dial_pick(st, 40, &rr, 31, 0, NULL), 0);
	ck_assert_int_eq(dial_pick(st, 40, &rr, 32, 0, NULL), -1);	/* at most 32 tries */
}
END_TEST

/* ---- a relay direction's choices */

START_TEST(pump_decisions)
{
	ck_assert(pump_go_bulk(PUMP_BUF_SIZE, PUMP_BUF_SIZE));	/* a full buffer: more is coming */
	ck_assert(!pump_go_bulk(PUMP_BUF_SIZE - 1, PUMP_BUF_SIZE));
	ck_assert(pump_stay_bulk(PUMP_SMALL_SPLICE));
	ck_assert(!pump_stay_bulk(PUMP_SMALL_SPLICE - 1));	/* small: back to copying */
	ck_assert(pump_wait_after_recv(100, PUMP_BUF_SIZE, false));	/* drained */
	ck_assert(!pump_wait_after_recv(100, PUMP_BUF_SIZE, true));	/* read on to the EOF */
	ck_assert(!pump_wait_after_recv(PUMP_BUF_SIZE, PUMP_BUF_SIZE, false));
	ck_assert(pump_at_fin(100, PUMP_BUF_SIZE, true));	/* short, FIN seen: that was all */
	ck_assert(!pump_at_fin(100, PUMP_BUF_SIZE, false));
	ck_assert(!pump_at_fin(PUMP_BUF_SIZE, PUMP_BUF_SIZE, true));	/* full: read on */
}
END_TEST

static int ioctl_inq(int fd, int *q)
{
	return ioctl(fd, SIOCINQ, q);
}

/* Everything readable from fd now (it is non-blocking). */
static size_t drain(int fd, uint8_t *out, size_t cap)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, out + got, cap - got, 0);
		if (n <= 0)
			return got;
		got += (size_t)n;
	}
}

/* A small message is copied, not spliced: no pipe is taken. */
START_TEST(pump_small_message_copies)
{
	int src_peer, src, dst, dst_peer;
	test_tcp_pair(&src_peer, &src, NULL, SOCK_NONBLOCK);
	test_tcp_pair(&dst, &dst_peer, NULL, SOCK_NONBLOCK);
	pipes_init(FDBUDGET_PIPES_MAX);
	struct pump_buf *buf = malloc(sizeof(*buf));
	struct fdir d;
	pump_dir_init(&d);
	ck_assert_int_eq(send(src_peer, "hello", 5, 0), 5);
	/* wait until it is there: poll on readability, no sleep */
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(src, &rs);
	ck_assert_int_eq(select(src + 1, &rs, NULL, NULL, NULL), 1);
	bool blocked = false;
	ck_assert_int_eq(pump(&d, src, dst, false, buf, &blocked), PUMP_WAIT);
	ck_assert(!blocked);
	ck_assert(!d.bulk);
	ck_assert_int_eq(d.pipe_r, -1);
	ck_assert_uint_eq(d.bytes, 5);
	FD_ZERO(&rs);
	FD_SET(dst_peer, &rs);
	ck_assert_int_eq(select(dst_peer + 1, &rs, NULL, NULL, NULL), 1);
	uint8_t out[16];
	ck_assert_uint_eq(drain(dst_peer, out, sizeof(out)), 5);
	ck_assert_mem_eq(out, "hello", 5);
	/* EOF is passed on with shutdown(SHUT_WR) */
	ck_assert_int_eq(shutdown(src_peer, SHUT_WR), 0);
	FD_ZERO(&rs);
	FD_SET(src, &rs);
	ck_assert_int_eq(select(src + 1, &rs, NULL, NULL, NULL), 1);
	ck_assert_int_eq(pump(&d, src, dst, false, buf, &blocked), PUMP_DONE);
	ck_assert(pump_dir_done(&d));
	FD_ZERO(&rs);
	FD_SET(dst_peer, &rs);
	ck_assert_int_eq(select(dst_peer + 1, &rs, NULL, NULL, NULL), 1);
	ck_assert_int_eq(recv(dst_peer, out, sizeof(out), 0), 0);
	pump_dir_release(&d);
	free(buf);
}
END_TEST

/* Wait until fd reports one of the poll events in ev. */
static void wait_for(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	ck_assert_int_eq(poll(&p, 1, -1), 1);
	ck_assert(p.revents & ev);
}

/* A source whose FIN was reported (RDHUP): the short read that takes its
 * last bytes ends the direction, and no recv is made for the 0 after it.
 * The second half proves the recv is not made: told of a FIN that has not
 * come, the direction ends at the short read instead of reading again
 * (which would find EAGAIN and wait). */
START_TEST(pump_short_read_after_fin_is_the_eof)
{
	int src_peer, src, dst, dst_peer;
	test_tcp_pair(&src_peer, &src, NULL, SOCK_NONBLOCK);
	test_tcp_pair(&dst, &dst_peer, NULL, SOCK_NONBLOCK);
	pipes_init(FDBUDGET_PIPES_MAX);
	struct pump_buf *buf = malloc(sizeof(*buf));
	struct fdir d;
	uint8_t out[16];
	bool blocked = false;

	/* a real FIN behind the bytes: delivered, then passed on */
	pump_dir_init(&d);
	ck_assert_int_eq(send(src_peer, "hello", 5, 0), 5);
	ck_assert_int_eq(shutdown(src_peer, SHUT_WR), 0);
	wait_for(src, POLLRDHUP);
	d.src_hup = d.src_fin = true;
	ck_assert_int_eq(pump(&d, src, dst, false, buf, &blocked), PUMP_DONE);
	ck_assert(pump_dir_done(&d));
	ck_assert_uint_eq(d.bytes, 5);
	wait_for(dst_peer, POLLRDHUP);
	ck_assert_uint_eq(drain(dst_peer, out, sizeof(out)), 5);
	ck_assert_mem_eq(out, "hello", 5);
	ck_assert_int_eq(recv(dst_peer, out, sizeof(out), 0), 0);
	pump_dir_release(&d);
	close(src_peer);
	close(src);
	close(dst);
	close(dst_peer);

	/* no FIN yet, but the flag says one came: the short read is the end */
	test_tcp_pair(&src_peer, &src, NULL, SOCK_NONBLOCK);
	test_tcp_pair(&dst, &dst_peer, NULL, SOCK_NONBLOCK);
	pump_dir_init(&d);
	ck_assert_int_eq(send(src_peer, "hi", 2, 0), 2);
	wait_for(src, POLLIN);
	d.src_hup = d.src_fin = true;
	ck_assert_int_eq(pump(&d, src, dst, false, buf, &blocked), PUMP_DONE);
	ck_assert_uint_eq(d.bytes, 2);
	pump_dir_release(&d);
	close(src_peer);
	close(src);
	close(dst);
	close(dst_peer);
	free(buf);
}
END_TEST

/* The pipes a forwarder holds are bounded (the fd budget counts the bound
 * once); past it a bulk direction copies instead of failing the relay. */
START_TEST(pipes_bounded_and_pump_copies_without_one)
{
	static int held[FDBUDGET_PIPES_MAX][2];
	pipes_init(FDBUDGET_PIPES_MAX);
	for (unsigned i = 0; i < FDBUDGET_PIPES_MAX; i++)
		ck_assert_int_eq(pipes_get(&held[i][0], &held[i][1]), 0);
	int r, w;
	ck_assert_int_eq(pipes_get(&r, &w), -EMFILE);

	int src_peer, src, dst, dst_peer;
	test_tcp_pair(&src_peer, &src, NULL, SOCK_NONBLOCK);
	test_tcp_pair(&dst, &dst_peer, NULL, SOCK_NONBLOCK);
	int big = 4 << 20;
	setsockopt(src, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(dst_peer, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(dst, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	struct pump_buf *buf = malloc(sizeof(*buf));
	size_t want = 2 * PUMP_BUF_SIZE + 100, sent = 0;
	uint8_t *data = malloc(want), *out = malloc(want);
	for (size_t i = 0; i < want; i++)
		data[i] = (uint8_t)(i * 13);
	while (sent < want) {
		ssize_t n = send(src_peer, data + sent, want - sent, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			break;
		ck_assert_int_gt(n, 0);
		sent += (size_t)n;
	}
	for (;;) {	/* all of it in src's receive queue */
		int q = 0;
		ck_assert_int_eq(ioctl_inq(src, &q), 0);
		if ((size_t)q >= sent)
			break;
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(src, &rs);
		select(src + 1, &rs, NULL, NULL, NULL);
	}
	ck_assert_uint_gt(sent, PUMP_BUF_SIZE);	/* enough to turn bulk */
	struct fdir d;
	pump_dir_init(&d);
	bool blocked = false;
	ck_assert_int_eq(pump(&d, src, dst, false, buf, &blocked), PUMP_WAIT);
	ck_assert_uint_eq(d.bytes, sent);
	ck_assert_int_eq(d.pipe_r, -1);
	size_t got = 0;
	while (got < sent) {
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(dst_peer, &rs);
		ck_assert_int_eq(select(dst_peer + 1, &rs, NULL, NULL, NULL), 1);
		got += drain(dst_peer, out + got, want - got);
	}
	ck_assert(memcmp(out, data, sent) == 0);
	/* one back: the next get has one again */
	pipes_discard(held[0][0], held[0][1]);
	ck_assert_int_eq(pipes_get(&held[0][0], &held[0][1]), 0);
	for (unsigned i = 0; i < FDBUDGET_PIPES_MAX; i++)
		pipes_discard(held[i][0], held[i][1]);
	pump_dir_release(&d);
	close(src_peer);
	close(src);
	close(dst);
	close(dst_peer);
	free(data);
	free(out);
	free(buf);
}
END_TEST

/* The one-request limit's arithmetic: a tunnel is unbounded, a limited
 * direction reads at most what is left and says when it is used up. */
START_TEST(pump_limit_decisions)
{
	struct fdir d;
	pump_dir_init(&d);
	ck_assert_uint_eq(pump_recv_size(&d, PUMP_BUF_SIZE), PUMP_BUF_SIZE);
	ck_assert(!pump_took(&d, PUMP_BUF_SIZE));
	d.limited = true;
	d.left = 10;
	ck_assert_uint_eq(pump_recv_size(&d, PUMP_BUF_SIZE), 10);
	ck_assert(!pump_took(&d, 9));
	ck_assert_uint_eq(pump_recv_size(&d, PUMP_BUF_SIZE), 1);
	ck_assert(pump_took(&d, 1));
	ck_assert_uint_eq(pump_recv_size(&d, PUMP_BUF_SIZE), 0);
	d.left = PUMP_BUF_SIZE + 1;
	ck_assert_uint_eq(pump_recv_size(&d, PUMP_BUF_SIZE), PUMP_BUF_SIZE);
}
END_TEST

/* Carry `limit` bytes of `total` queued at the source: exactly `limit`
 * reach the destination, then its EOF; the rest stays unread. */
static void one_request_case(size_t limit, size_t total)
{
	int src_peer, src, dst, dst_peer;
	test_tcp_pair(&src_peer, &src, NULL, SOCK_NONBLOCK);
	test_tcp_pair(&dst, &dst_peer, NULL, SOCK_NONBLOCK);
	pipes_init(FDBUDGET_PIPES_MAX);
	struct pump_buf *buf = malloc(sizeof(*buf));
	uint8_t *data = malloc(total), *out = malloc(total + 1);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 7);
	struct fdir d;
	pump_dir_init(&d);
	d.limited = true;
	d.left = (uint32_t)limit;
	size_t sent = 0, got = 0;
	enum pump_result r = PUMP_WAIT;
	bool eof = false;
	while (!eof) {
		/* feed the source, pump, collect at the destination: all
		 * non-blocking, each wait on a readiness signal */
		fd_set rs, ws;
		FD_ZERO(&rs);
		FD_ZERO(&ws);
		if (sent < total)
			FD_SET(src_peer, &ws);
		if (r != PUMP_DONE)
			FD_SET(src, &rs);
		FD_SET(dst_peer, &rs);
		int maxfd = src_peer > src ? src_peer : src;
		maxfd = maxfd > dst_peer ? maxfd : dst_peer;
		ck_assert_int_ge(select(maxfd + 1, &rs, &ws, NULL, NULL), 1);
		if (FD_ISSET(src_peer, &ws)) {
			ssize_t n = send(src_peer, data + sent, total - sent, 0);
			if (n > 0)
				sent += (size_t)n;
		}
		if (r != PUMP_DONE && FD_ISSET(src, &rs)) {
			bool blocked = false;
			r = pump(&d, src, dst, false, buf, &blocked);
			ck_assert(r == PUMP_WAIT || r == PUMP_DONE);
			ck_assert(!d.bulk);
		}
		if (FD_ISSET(dst_peer, &rs)) {
			ssize_t n = recv(dst_peer, out + got, total + 1 - got, 0);
			if (n == 0)
				eof = true;
			else if (n > 0)
				got += (size_t)n;
		}
	}
	ck_assert_int_eq(r, PUMP_DONE);
	ck_assert(pump_dir_done(&d));
	ck_assert_uint_eq(got, limit);
	ck_assert_uint_eq(d.bytes, limit);
	ck_assert_mem_eq(out, data, limit);
	ck_assert_int_eq(d.pipe_r, -1);
	/* what came after the limit was not read: still queued at the source */
	int q = -1;
	ck_assert_int_eq(ioctl_inq(src, &q), 0);
	if (total < 1024)
		ck_assert_int_eq(q, (int)(total - limit));	/* one send, all arrived */
	else
		ck_assert_int_gt(q, 0);
	pump_dir_release(&d);
	free(buf);
	free(data);
	free(out);
	close(src_peer);
	close(src);
	close(dst);
	close(dst_peer);
}

START_TEST(pump_one_request_small)
{
	one_request_case(40, 100);	/* a head, then a pipelined request */
}
END_TEST

START_TEST(pump_one_request_over_a_buffer)
{
	/* more than one copy buffer: still copied, never spliced past it */
	one_request_case(PUMP_BUF_SIZE + 100, 3 * PUMP_BUF_SIZE);
}
END_TEST

/* A full buffer's worth switches the direction to splice; once the
 * source is drained the empty pipe goes back to the pool. */
START_TEST(pump_bulk_splices_and_gives_the_pipe_back)
{
	int src_peer, src, dst, dst_peer;
	test_tcp_pair(&src_peer, &src, NULL, SOCK_NONBLOCK);
	test_tcp_pair(&dst, &dst_peer, NULL, SOCK_NONBLOCK);
	int big = 4 << 20;
	setsockopt(src, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(dst_peer, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(dst, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	pipes_init(FDBUDGET_PIPES_MAX);
	struct pump_buf *buf = malloc(sizeof(*buf));
	size_t want = 3 * PUMP_BUF_SIZE;
	uint8_t *data = malloc(want), *out = malloc(want);
	for (size_t i = 0; i < want; i++)
		data[i] = (uint8_t)(i * 7);
	size_t sent = 0;
	while (sent < want) {
		ssize_t n = send(src_peer, data + sent, want - sent, 0);
		if (n < 0 && errno == EAGAIN)
			break;	/* the receive window is full: pump what is there */
		ck_assert_int_gt(n, 0);
		sent += (size_t)n;
	}
	ck_assert_uint_gt(sent, PUMP_BUF_SIZE);	/* a full buffer's worth at least */
	/* wait until all of it is in src's receive queue */
	for (;;) {
		int q = 0;
		ck_assert_int_eq(ioctl_inq(src, &q), 0);
		if ((size_t)q >= sent)
			break;
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(src, &rs);
		select(src + 1, &rs, NULL, NULL, NULL);
	}
	struct fdir d;
	pump_dir_init(&d);
	bool blocked = false;
	ck_assert_int_eq(pump(&d, src, dst, false, buf, &blocked), PUMP_WAIT);
	ck_assert(!blocked);
	ck_assert_uint_eq(d.bytes, sent);
	ck_assert(d.bulk || sent - PUMP_BUF_SIZE < PUMP_SMALL_SPLICE);
	ck_assert_int_eq(d.pipe_r, -1);	/* idle: the pipe is back in the pool */
	size_t got = 0;
	while (got < sent) {
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(dst_peer, &rs);
		ck_assert_int_eq(select(dst_peer + 1, &rs, NULL, NULL, NULL), 1);
		got += drain(dst_peer, out + got, want - got);
	}
	ck_assert_uint_eq(got, sent);
	ck_assert(memcmp(out, data, sent) == 0);
	pump_dir_release(&d);
	free(data);
	free(out);
	free(buf);
}
END_TEST

Suite *make_forwarder_suite(void)
{
	Suite *s = suite_create("forwarder");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, room_is_the_smaller_of_cap_and_fds);
	tcase_add_test(tc, room_edges);
	tcase_add_test(tc, budget_formula);
	tcase_add_test(tc, pipes_bounded_and_pump_copies_without_one);
	tcase_add_test(tc, pick_round_robin);
	tcase_add_test(tc, pick_failover_order_skips_avoided);
	tcase_add_test(tc, pick_limits);
	tcase_add_test(tc, pump_decisions);
	tcase_add_test(tc, pump_small_message_copies);
	tcase_add_test(tc, pump_short_read_after_fin_is_the_eof);
	tcase_add_test(tc, pump_bulk_splices_and_gives_the_pipe_back);
	tcase_add_test(tc, pump_limit_decisions);
	tcase_add_test(tc, pump_one_request_small);
	tcase_add_test(tc, pump_one_request_over_a_buffer);
	suite_add_tcase(s, tc);
	return s;
}
