/* SPDX-License-Identifier: MIT */
/*
 * The listener's own decisions, called directly: which forwarder gets the
 * next batch (pick against load pages filled in here), the accept gate,
 * what an accept error means, the log rate limit, and the connection
 * table's counts. Time is passed in, never waited for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "suites.h"
#include "common/handoff.h"
#include "common/load.h"
#include "router/srclimit.h"
#include "listener/accept.h"
#include "listener/dispatch.h"
#include "listener/lconn.h"
#include "router/config.h"

#define NCH 3
static struct dispatch d;
static struct gh_load pages[NCH];

/* Three live channels with load pages; relays as given, nothing in flight. */
static void setup_pages(unsigned r0, unsigned r1, unsigned r2)
{
	unsigned relays[NCH] = { r0, r1, r2 };
	memset(&d, 0, sizeof(d));
	memset(pages, 0, sizeof(pages));
	d.n_channels = NCH;
	d.all_loads = true;
	for (unsigned i = 0; i < NCH; i++) {
		pages[i].magic = LOAD_MAGIC;
		atomic_store(&pages[i].relays, relays[i]);
		d.channels[i].type = LOBJ_CHANNEL;
		d.channels[i].fd = -1;
		d.channels[i].load = &pages[i];
	}
}

/* i has n hand-offs sent and not taken, the last move seen at moved_ms. */
static void in_flight(unsigned i, uint32_t n, uint64_t moved_ms)
{
	d.channels[i].sent = atomic_load(&pages[i].taken) + n;
	d.channels[i].seen_taken = atomic_load(&pages[i].taken);
	d.channels[i].moved_ms = moved_ms;
}

static int pick(uint64_t now, unsigned *room)
{
	struct lchannel *ch = dispatch_pick(&d, now, room);
	return ch ? (int)(ch - d.channels) : -1;
}

START_TEST(pick_least_loaded)
{
	unsigned room;
	setup_pages(5, 2, 7);
	ck_assert_int_eq(pick(1000, &room), 1);
	ck_assert_uint_eq(room, IN_FLIGHT_MAX);
	/* hand-offs in flight count as held, and cut the room */
	in_flight(1, 2, 1000);
	ck_assert_int_eq(pick(1000, &room), 1);	/* 2 + 2 < 5 */
	ck_assert_uint_eq(room, IN_FLIGHT_MAX - 2);
	in_flight(1, 3, 1000);
	ck_assert_int_eq(pick(1000, &room), 0);	/* 2 + 3 = 5: not fewer than 0's 5 */
}
END_TEST

START_TEST(pick_ties_round_robin)
{
	unsigned room;
	setup_pages(3, 3, 3);
	ck_assert_int_eq(pick(0, &room), 0);
	ck_assert_int_eq(pick(0, &room), 1);
	ck_assert_int_eq(pick(0, &room), 2);
	ck_assert_int_eq(pick(0, &room), 0);
}
END_TEST

START_TEST(pick_respects_cap)
{
	unsigned room;
	setup_pages(5, 2, 7);
	pages[1].max_relays = 3;
	ck_assert_int_eq(pick(0, &room), 1);
	ck_assert_uint_eq(room, 1);	/* one more and it is at its cap */
	atomic_store(&pages[1].relays, 3);
	ck_assert_int_eq(pick(0, &room), 0);	/* at its cap: the next least loaded */
	ck_assert_uint_eq(room, IN_FLIGHT_MAX);
}
END_TEST

START_TEST(pick_skips_busy)
{
	unsigned room;
	setup_pages(5, 0, 7);
	in_flight(1, IN_FLIGHT_MAX, 1000);	/* 4 held, but 4 not taken: busy */
	ck_assert_int_eq(pick(1000, &room), 0);
	in_flight(1, IN_FLIGHT_MAX - 1, 1000);
	ck_assert_int_eq(pick(1000, &room), 1);
	ck_assert_uint_eq(room, 1);
}
END_TEST

START_TEST(pick_skips_stalled_until_it_takes)
{
	unsigned room;
	setup_pages(5, 0, 7);
	in_flight(1, 2, 1000);		/* 2 waiting since 1000 */
	ck_assert_int_eq(pick(1000 + STALL_MS - 1, &room), 1);
	ck_assert_int_eq(pick(1000 + STALL_MS, &room), 0);	/* took none for STALL_MS */
	ck_assert_int_eq(pick(1000 + 10 * STALL_MS, &room), 0);
	atomic_store(&pages[1].taken, 1);	/* it moves again */
	ck_assert_int_eq(pick(1000 + 10 * STALL_MS, &room), 1);
	ck_assert_uint_eq(room, IN_FLIGHT_MAX - 1);
}
END_TEST

START_TEST(pick_all_busy_falls_back)
{
	unsigned room;
	setup_pages(0, 0, 0);
	in_flight(0, IN_FLIGHT_MAX + 1, 1000);
	in_flight(1, IN_FLIGHT_MAX, 0);		/* stalled: last */
	in_flight(2, IN_FLIGHT_MAX, 1000);
	ck_assert_int_eq(pick(1000, &room), 2);	/* least in flight among the live */
	ck_assert_uint_eq(room, HANDOFF_BATCH);
	in_flight(0, IN_FLIGHT_MAX + 1, 0);
	in_flight(2, IN_FLIGHT_MAX + 1, 0);	/* all three stalled now */
	ck_assert_int_eq(pick(1000, &room), 1);
}
END_TEST

START_TEST(pick_without_pages_round_robin)
{
	unsigned room;
	setup_pages(0, 9, 9);
	d.all_loads = false;	/* one forwarder sent no page: no comparing */
	d.channels[1].blocked = true;
	ck_assert_int_eq(pick(0, &room), 0);
	ck_assert_uint_eq(room, HANDOFF_BATCH);
	ck_assert_int_eq(pick(0, &room), 2);
	ck_assert_int_eq(pick(0, &room), 0);
}
END_TEST

START_TEST(pick_none_live)
{
	unsigned room;
	setup_pages(0, 0, 0);
	d.channels[0].dead = true;
	d.channels[1].blocked = true;
	d.channels[2].dead = true;
	ck_assert_int_eq(pick(0, &room), -1);
	d.channels[1].blocked = false;
	ck_assert_int_eq(pick(0, &room), 1);
}
END_TEST

/* A spare (systemd: the channel connected beyond the forwarders) gets no
 * batch and no QUIC flow, not even when every active one is busy. */
START_TEST(pick_skips_spare)
{
	unsigned room;
	setup_pages(5, 2, 0);
	d.channels[2].spare = true;
	ck_assert_int_eq(pick(1000, &room), 1);
	in_flight(0, IN_FLIGHT_MAX, 1000);
	in_flight(1, IN_FLIGHT_MAX, 1000);
	ck_assert_int_eq(pick(1000, &room), 0);	/* all busy: the fallback, still not the spare */
	d.all_loads = false;
	for (int i = 0; i < 4; i++)
		ck_assert_int_ne(pick(1000, &room), 2);
}
END_TEST

/* Three channels on real socketpairs, the last a spare; no load pages
 * (round robin), so dying channels unmap nothing. */
static int peers[NCH];
static void setup_spare(void)
{
	memset(&d, 0, sizeof(d));
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(d.epfd, 0);
	for (unsigned i = 0; i < NCH; i++) {
		int sv[2];
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
		d.channels[i].type = LOBJ_CHANNEL;
		d.channels[i].fd = sv[0];
		peers[i] = sv[1];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &d.channels[i] };
		ck_assert_int_eq(epoll_ctl(d.epfd, EPOLL_CTL_ADD, sv[0], &ev), 0);
	}
	d.n_channels = NCH;
	d.channels[NCH - 1].spare = true;
}

static void teardown_spare(void)
{
	for (unsigned i = 0; i < NCH; i++) {
		if (!d.channels[i].dead)
			close(d.channels[i].fd);
		close(peers[i]);
	}
	close(d.epfd);
}

/* An active channel's forwarder dies: the spare takes over, the listener
 * goes on (no `lost`), the dead one's flows end (`gone`). With no spare
 * left, the next loss makes it drain and exit as before. */
START_TEST(spare_promoted_on_loss)
{
	unsigned room;
	setup_spare();
	ck_assert_int_eq(pick(0, &room), 0);
	ck_assert_int_eq(pick(0, &room), 1);
	ck_assert_int_eq(pick(0, &room), 0);
	dispatch_channel_event(&d, NULL, &d.channels[0], EPOLLHUP);
	ck_assert(d.channels[0].dead);
	ck_assert_ptr_null(d.lost);
	ck_assert_uint_eq(d.gone, 1u << 0);
	ck_assert(!d.channels[2].spare);
	ck_assert_int_eq(pick(0, &room), 1);
	ck_assert_int_eq(pick(0, &room), 2);
	ck_assert_int_eq(pick(0, &room), 1);
	dispatch_channel_event(&d, NULL, &d.channels[2], EPOLLHUP);
	ck_assert_ptr_nonnull(d.lost);
	teardown_spare();
}
END_TEST

/* The spare itself dies: dropped, the listener goes on; the next active
 * loss has nothing to take over. */
START_TEST(spare_lost_dropped)
{
	unsigned room;
	setup_spare();
	dispatch_channel_event(&d, NULL, &d.channels[2], EPOLLHUP);
	ck_assert(d.channels[2].dead);
	ck_assert_ptr_null(d.lost);
	ck_assert_int_eq(pick(0, &room), 0);
	ck_assert_int_eq(pick(0, &room), 1);
	dispatch_channel_event(&d, NULL, &d.channels[1], EPOLLHUP);
	ck_assert_ptr_nonnull(d.lost);
	teardown_spare();
}
END_TEST

START_TEST(accept_gate_predicate)
{
	struct lconns t;
	lconns_init(&t, 10);
	ck_assert(lconn_accept_wanted(&t, false, false, 0));
	ck_assert(!lconn_accept_wanted(&t, true, false, 0));	/* hand-offs backed up */
	ck_assert(!lconn_accept_wanted(&t, false, true, 0));	/* draining */
	t.n_inspecting = 9;
	ck_assert(lconn_accept_wanted(&t, false, false, 0));
	t.n_inspecting = 10;
	ck_assert(!lconn_accept_wanted(&t, false, false, 0));	/* full */
	t.n_inspecting = 0;
	lconn_pause_accept(&t, 500);
	ck_assert(!lconn_accept_wanted(&t, false, false, 499));
	ck_assert(lconn_accept_wanted(&t, false, false, 500));
}
END_TEST

/* A real client fd and a conn for it, as accept would make. */
static struct lconn *new_conn(struct lconns *t, int *peer_end)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct sockaddr_in6 peer = { .sin6_family = AF_INET6, .sin6_port = htons(4242) };
	inet_pton(AF_INET6, "2001:db8::7", &peer.sin6_addr);
	*peer_end = sv[1];
	struct lconn *c = lconn_new(t, sv[0], GH_KIND_TLS, &peer, 7, 1000);
	ck_assert_ptr_nonnull(c);
	return c;
}

START_TEST(table_counts)
{
	struct lconns t;
	int p1, p2;
	lconns_init(&t, 10);
	struct lconn *a = new_conn(&t, &p1), *b = new_conn(&t, &p2);
	ck_assert_uint_eq(t.n_inspecting, 2);
	ck_assert_ptr_eq(lconn_first(&t), a);	/* first by deadline: first in */
	lconn_free(&t, a);
	ck_assert_ptr_eq(lconn_first(&t), b);
	ck_assert_uint_eq(t.n_inspecting, 1);
	char x;
	ck_assert_int_eq(recv(p1, &x, 1, 0), 0);	/* freeing closed the client */
	int fd = lconn_detach(&t, b);		/* to the ring: still counted */
	ck_assert_ptr_null(lconn_first(&t));
	ck_assert_uint_eq(t.n_inspecting, 1);
	lconn_sent(&t, 1);
	ck_assert_uint_eq(t.n_inspecting, 0);
	ck_assert_uint_eq(t.stats.accepted, 2);
	ck_assert_uint_eq(t.stats.handed_off, 1);
	ck_assert_uint_eq(t.stats.active, 0);
	close(fd);
	close(p1);
	close(p2);
}
END_TEST

/* Per-source admission at accept: a rate per source (other sources keep
 * theirs), a cap on one source's clients under inspection released when
 * a client is freed or detached to the hand-off ring, IPv6 by /64. */
static struct sockaddr_in6 src6(const char *a)
{
	struct sockaddr_in6 p = { .sin6_family = AF_INET6 };
	ck_assert_int_eq(inet_pton(AF_INET6, a, &p.sin6_addr), 1);
	return p;
}

START_TEST(source_admission)
{
	static const char text[] = "source-rate 3/1m\nsource-inspecting 2\nsite a.example\n  tls [::1]:443\n";
	struct gh_config *cfg;
	struct lconns t;
	uint32_t retry;

	ck_assert_int_eq(config_parse("t.conf", text, sizeof(text) - 1, NULL, NULL, &cfg), 0);
	lconns_init(&t, 10);
	ck_assert_int_eq(lconn_limits_init(&t, cfg), 0);
	ck_assert_ptr_nonnull(t.src);
	struct sockaddr_in6 a = src6("2001:db8:1:2::7"), a2 = src6("2001:db8:1:2::8"), b = src6("::ffff:192.0.2.9");
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

	ck_assert_int_eq(lconn_admit(&t, &a, 0, &retry), SRCLIMIT_OK);
	struct lconn *c1 = lconn_new(&t, sv[0], GH_KIND_TLS, &a, 0, 1000);
	c1->counted = true;
	ck_assert_int_eq(lconn_admit(&t, &a2, 0, &retry), SRCLIMIT_OK);	/* same /64 */
	struct lconn *c2 = lconn_new(&t, -1, GH_KIND_TLS, &a2, 0, 1000);
	c2->counted = true;
	/* two of the /64 under inspection: a third waits for one to go */
	ck_assert_int_eq(lconn_admit(&t, &a, 0, &retry), SRCLIMIT_OVER_CONCURRENT);
	ck_assert_int_eq(lconn_admit(&t, &b, 0, &retry), SRCLIMIT_OK);	/* another source */
	lconn_unadmit(&t, &b);
	int fd = lconn_detach(&t, c1);	/* handed off: no longer inspected */
	ck_assert_int_eq(fd, sv[0]);
	ck_assert_int_eq(lconn_admit(&t, &a, 0, &retry), SRCLIMIT_OK);	/* 3rd token */
	lconn_unadmit(&t, &a);
	lconn_free(&t, c2);
	/* three new connections a minute: the 4th is refused, 20 s to wait */
	ck_assert_int_eq(lconn_admit(&t, &a, 0, &retry), SRCLIMIT_OVER_RATE);
	ck_assert_uint_eq(retry, 20);
	ck_assert_int_eq(lconn_admit(&t, &b, 0, &retry), SRCLIMIT_OK);
	lconn_unadmit(&t, &b);
	ck_assert_int_eq(lconn_admit(&t, &a, 20000, &retry), SRCLIMIT_OK);	/* a token back */
	lconn_unadmit(&t, &a);
	lconn_sent(&t, 1);
	lconn_limits_free(&t);
	config_free(cfg);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* No source-* line: no table, every client admitted. */
START_TEST(source_admission_off)
{
	static const char text[] = "site a.example\n  tls [::1]:443\n";
	struct gh_config *cfg;
	struct lconns t;
	uint32_t retry;
	struct sockaddr_in6 a = src6("2001:db8::1");

	ck_assert_int_eq(config_parse("t.conf", text, sizeof(text) - 1, NULL, NULL, &cfg), 0);
	lconns_init(&t, 10);
	ck_assert_int_eq(lconn_limits_init(&t, cfg), 0);
	ck_assert_ptr_null(t.src);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(lconn_admit(&t, &a, 0, &retry), SRCLIMIT_OK);
	config_free(cfg);
}
END_TEST

/* With no channel to take them, decided clients back the ring up and the
 * gate closes; a live channel takes them (over a real socketpair) and it
 * opens again. */
START_TEST(ring_backs_up_gate)
{
	struct lconns t;
	int sv[2], p1;
	lconns_init(&t, 10);
	setup_pages(0, 0, 0);
	d.n_channels = 1;
	d.all_loads = false;
	d.pending_cap = 4;
	struct lpending ring[4];
	d.pending = ring;
	d.epfd = -1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	d.channels[0].fd = sv[0];
	d.channels[0].blocked = true;	/* full: waiting for EPOLLOUT */

	/* the hand-off carries a TCP socket in real life; any fd will do here */
	dispatch_queue(&d, &t, new_conn(&t, &p1), "site.example", "www.site.example", 0, 0, 0);
	ck_assert_uint_eq(d.pending_len, 1);
	ck_assert(lconn_accept_wanted(&t, d.backed_up, false, 0));	/* less than a batch: no flush yet */
	dispatch_flush(&d, &t);
	ck_assert(d.backed_up);
	ck_assert(!lconn_accept_wanted(&t, d.backed_up, false, 0));
	ck_assert_uint_eq(t.n_inspecting, 1);

	d.channels[0].blocked = false;
	dispatch_flush(&d, &t);
	ck_assert(!d.backed_up);
	ck_assert(lconn_accept_wanted(&t, d.backed_up, false, 0));
	ck_assert_uint_eq(t.n_inspecting, 0);
	ck_assert_uint_eq(t.stats.handed_off, 1);
	ck_assert_uint_eq(d.channels[0].sent, 1);
	char buf[2 * sizeof(struct handoff_msg)];
	ck_assert_int_eq(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), (int)sizeof(struct handoff_msg));
	close(sv[0]);
	close(sv[1]);
	close(p1);
}
END_TEST

START_TEST(accept_errors_classified)
{
	static const int retry[] = { EAGAIN, EINTR, ECONNABORTED, EPROTO, EPERM, ENETDOWN, EHOSTUNREACH, ENETUNREACH };
	static const int pause[] = { EMFILE, ENFILE, ENOBUFS, ENOMEM };
	static const int fatal[] = { EINVAL, EBADF, ENOTSOCK, EFAULT, EIO };
	for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
		ck_assert_int_eq(accept_error_class(retry[i]), ACCEPT_ERR_RETRY);
	for (size_t i = 0; i < sizeof(pause) / sizeof(pause[0]); i++)
		ck_assert_int_eq(accept_error_class(pause[i]), ACCEPT_ERR_PAUSE);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		ck_assert_int_eq(accept_error_class(fatal[i]), ACCEPT_ERR_FATAL);
}
END_TEST

/* The listener's logs use common/ratelimit.c at 20 a second, and a
 * held-back count is due when its window ends (the loop wakes for it). */
START_TEST(log_limit_window)
{
	struct lconns t;
	lconns_init(&t, 10);
	ck_assert_uint_eq(lconn_log_deadline(&t), UINT64_MAX);
	for (unsigned i = 0; i < 20; i++)
		ck_assert(lconn_accept_log_take(&t, 5000 + i));
	ck_assert_uint_eq(lconn_log_deadline(&t), UINT64_MAX);	/* nothing held back */
	ck_assert(!lconn_accept_log_take(&t, 5500));
	ck_assert(!lconn_accept_log_take(&t, 5999));
	ck_assert_uint_eq(t.accept_errors.suppressed, 2);
	ck_assert_uint_eq(lconn_log_deadline(&t), 6000);	/* the count is due then */
	lconn_log_flush(&t, 5999);
	ck_assert_uint_eq(t.accept_errors.suppressed, 2);	/* not yet */
	lconn_log_flush(&t, 6000);				/* reported, no record needed */
	ck_assert_uint_eq(t.accept_errors.suppressed, 0);
	ck_assert_uint_eq(lconn_log_deadline(&t), UINT64_MAX);
	ck_assert(lconn_accept_log_take(&t, 6001));		/* a new window */
	ck_assert_uint_eq(t.accept_errors.in_window, 1);
	/* the rejection log has its own budget at the same rate */
	ck_assert_uint_eq(t.rejects.burst, 20);
	ck_assert_uint_eq(t.rejects.window_ms, 1000);
}
END_TEST

Suite *make_listener_suite(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = tcase_create("pick");
	tcase_add_test(tc, pick_least_loaded);
	tcase_add_test(tc, pick_ties_round_robin);
	tcase_add_test(tc, pick_respects_cap);
	tcase_add_test(tc, pick_skips_busy);
	tcase_add_test(tc, pick_skips_stalled_until_it_takes);
	tcase_add_test(tc, pick_all_busy_falls_back);
	tcase_add_test(tc, pick_without_pages_round_robin);
	tcase_add_test(tc, pick_none_live);
	tcase_add_test(tc, pick_skips_spare);
	tcase_add_test(tc, spare_promoted_on_loss);
	tcase_add_test(tc, spare_lost_dropped);
	suite_add_tcase(s, tc);
	tc = tcase_create("gate");
	tcase_add_test(tc, accept_gate_predicate);
	tcase_add_test(tc, table_counts);
	tcase_add_test(tc, ring_backs_up_gate);
	tcase_add_test(tc, accept_errors_classified);
	tcase_add_test(tc, log_limit_window);
	tcase_add_test(tc, source_admission);
	tcase_add_test(tc, source_admission_off);
	suite_add_tcase(s, tc);
	return s;
}
