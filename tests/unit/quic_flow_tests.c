/* SPDX-License-Identifier: MIT */
/* QUIC flows outside the pure core: the channel messages that carry a
 * flow's datagrams (common/handoff.h), checked whole on receipt, and the
 * listener's bounded flow table (listener/quic_flows.h). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/handoff.h"
#include "common/udp_src.h"
#include "listener/quic_flows.h"
#include "suites.h"

static uint8_t (*bufs)[HANDOFF_QUIC_MAX];

static void setup(void)
{
	bufs = malloc(sizeof(*bufs) * HANDOFF_BATCH);
	ck_assert_ptr_nonnull(bufs);
}

static void teardown(void)
{
	free(bufs);
}

static void v4_client(struct sockaddr_storage *ss, const char *mapped, uint16_t port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, mapped, &s6->sin6_addr), 1);
}

static void start_msg(struct handoff_quic_buf *b, uint64_t flow)
{
	struct sockaddr_storage ss;
	struct in6_addr local;
	v4_client(&ss, "::ffff:192.0.2.7", 4433);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:198.51.100.1", &local), 1);
	ck_assert_int_eq(handoff_quic_start(b, flow, &ss, &local, 2, 0, "a.example", "www.a.example", 77), 0);
}

static int recv_one(int ch, struct handoff_in *in)
{
	return handoff_recv_any(ch, in, bufs, HANDOFF_BATCH);
}

START_TEST(start_data_and_a_client_share_the_channel)
{
	static struct handoff_quic_buf b;
	int sv[2], tcp[2];
	struct handoff_in in[HANDOFF_BATCH];
	uint8_t d1[1200], d2[37];

	memset(d1, 0xc3, sizeof(d1));
	memset(d2, 0x41, sizeof(d2));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	start_msg(&b, 9);
	ck_assert(handoff_quic_add(&b, 9, d1, sizeof(d1)));
	ck_assert(handoff_quic_add(&b, 9, d2, sizeof(d2)));
	ck_assert_uint_eq(handoff_quic_count(&b), 2);
	ck_assert_int_eq(handoff_quic_send(sv[0], &b), 0);
	/* a client hand-off between QUIC messages keeps its fd */
	struct sockaddr_storage ss;
	struct handoff_msg m;
	v4_client(&ss, "::ffff:192.0.2.8", 80);
	ck_assert_int_eq(handoff_pack(&m, 0, &ss, "a.example", "", 1, 0), 0);
	/* a connected TCP socket, as the receiver checks */
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t al = sizeof(a);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	tcp[0] = socket(AF_INET6, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(tcp[0], (struct sockaddr *)&a, sizeof(a)), 0);
	tcp[1] = accept(l, NULL, NULL);
	ck_assert_int_eq(handoff_send(sv[0], &m, &tcp[1], 1), 1);
	handoff_quic_data(&b);
	ck_assert(handoff_quic_add(&b, 9, d2, 5));
	ck_assert(handoff_quic_add(&b, 12, d2, 6));
	ck_assert_int_eq(handoff_quic_send(sv[0], &b), 0);

	ck_assert_int_eq(recv_one(sv[1], in), 3);
	ck_assert(in[0].quic);
	ck_assert_int_eq(in[0].error, HANDOFF_OK);
	ck_assert_int_eq(in[0].fd, -1);
	struct handoff_quic_msg h;
	memcpy(&h, bufs[0], sizeof(h));
	ck_assert_uint_eq(h.type, HANDOFF_QUIC_START);
	ck_assert_uint_eq(h.flow, 9);
	ck_assert_str_eq(h.site, "a.example");
	ck_assert_str_eq(h.name, "www.a.example");
	/* an IPv4 client travels as one; the local address stays v4-mapped */
	ck_assert_uint_eq(h.client_family, AF_INET);
	ck_assert_uint_eq(h.client_port, 4433);
	ck_assert_mem_eq(h.client_addr, "\xc0\x00\x02\x07", 4);
	ck_assert_mem_eq(h.local_addr + 12, "\xc6\x33\x64\x01", 4);
	ck_assert_uint_eq(h.local_ifindex, 2);
	size_t off = 0, dl;
	uint64_t flow;
	const uint8_t *d;
	ck_assert(handoff_quic_next(bufs[0], in[0].quic_len, &off, &flow, &d, &dl));
	ck_assert_uint_eq(flow, 9);
	ck_assert_uint_eq(dl, sizeof(d1));
	ck_assert_mem_eq(d, d1, sizeof(d1));
	ck_assert(handoff_quic_next(bufs[0], in[0].quic_len, &off, &flow, &d, &dl));
	ck_assert_uint_eq(dl, sizeof(d2));
	ck_assert(!handoff_quic_next(bufs[0], in[0].quic_len, &off, &flow, &d, &dl));

	ck_assert(!in[1].quic);
	ck_assert_int_eq(in[1].error, HANDOFF_OK);
	ck_assert_int_ge(in[1].fd, 0);
	close(in[1].fd);

	ck_assert(in[2].quic);
	ck_assert_int_eq(in[2].error, HANDOFF_OK);
	off = 0;
	ck_assert(handoff_quic_next(bufs[2], in[2].quic_len, &off, &flow, &d, &dl));
	ck_assert_uint_eq(flow, 9);
	ck_assert(handoff_quic_next(bufs[2], in[2].quic_len, &off, &flow, &d, &dl));
	ck_assert_uint_eq(flow, 12);
	ck_assert_uint_eq(dl, 6);
	close(tcp[0]);
	close(tcp[1]);
	close(l);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(builder_bounds)
{
	static struct handoff_quic_buf b;
	static uint8_t big[HANDOFF_QUIC_DGRAM_MAX + 1];
	struct sockaddr_storage ss;
	struct in6_addr local = IN6ADDR_LOOPBACK_INIT;
	char longname[HANDOFF_NAME_MAX + 1];

	handoff_quic_data(&b);
	ck_assert(!handoff_quic_add(&b, 1, big, 0));
	ck_assert(!handoff_quic_add(&b, 1, big, sizeof(big)));
	ck_assert(handoff_quic_add(&b, 1, big, HANDOFF_QUIC_DGRAM_MAX));
	/* the message fills: the caller sends it and starts again */
	unsigned n = 1;
	while (handoff_quic_add(&b, 1, big, 1200))
		n++;
	ck_assert_uint_le(b.len, HANDOFF_QUIC_MAX);
	ck_assert_uint_eq(handoff_quic_count(&b), n);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	v4_client(&ss, "::ffff:192.0.2.7", 1);
	ck_assert_int_eq(handoff_quic_start(&b, 1, &ss, &local, 0, 0, longname, "", 0), -ENAMETOOLONG);
	ck_assert_int_eq(handoff_quic_start(&b, 1, &ss, &local, 0, 0, "", "", 0), -ENAMETOOLONG);
	ck_assert_int_eq(handoff_quic_start(&b, 1, &ss, &local, 0, 256, "a", "", 0), -EINVAL);
}
END_TEST

/* A hostile listener's QUIC messages: each is refused whole. */
enum mangle {
	M_START_OTHER_FLOW,	/* a START carrying another flow's datagram */
	M_ZERO_LEN,
	M_PAST_END,
	M_COUNT,		/* n_records says more than there are */
	M_EMPTY_SITE,
	M_NO_NUL,
	M_RESERVED,
	M_REC_RESERVED,
	M_TYPE,
	M_VERSION,
	M_SHORT,
	M_WITH_FD,
	M_FAMILY,
	M_COUNT_CASES,
};

START_TEST(malformed_quic_messages_refused)
{
	static struct handoff_quic_buf b;
	struct handoff_quic_msg h;
	struct handoff_quic_rec r;
	struct handoff_in in[HANDOFF_BATCH];
	int sv[2], fd = -1;
	uint8_t d[1200] = { 0xc0 };
	size_t len;

	start_msg(&b, 5);
	ck_assert(handoff_quic_add(&b, 5, d, sizeof(d)));
	ck_assert(handoff_quic_add(&b, 5, d, 40));
	len = b.len;
	memcpy(&h, b.data, sizeof(h));
	size_t rec2 = sizeof(h) + sizeof(r) + sizeof(d);
	memcpy(&r, b.data + rec2, sizeof(r));
	switch (_i) {
	case M_START_OTHER_FLOW: r.flow = 6; memcpy(b.data + rec2, &r, sizeof(r)); break;
	case M_ZERO_LEN: r.len = 0; memcpy(b.data + rec2, &r, sizeof(r)); break;
	case M_PAST_END: r.len = 41; memcpy(b.data + rec2, &r, sizeof(r)); break;
	case M_COUNT: h.n_records = 3; break;
	case M_EMPTY_SITE: memset(h.site, 0, sizeof(h.site)); break;
	case M_NO_NUL: memset(h.name, 'x', sizeof(h.name)); break;
	case M_RESERVED: h.reserved[1] = 1; break;
	case M_REC_RESERVED: r.reserved[5] = 1; memcpy(b.data + rec2, &r, sizeof(r)); break;
	case M_TYPE: h.type = 3; break;
	case M_VERSION: h.version = 2; break;
	case M_SHORT: len = sizeof(h) - 1; break;
	case M_WITH_FD: fd = open("/dev/null", O_RDONLY); break;
	case M_FAMILY: h.client_family = 1; break;
	}
	if (_i != M_START_OTHER_FLOW && _i != M_ZERO_LEN && _i != M_PAST_END && _i != M_REC_RESERVED)
		memcpy(b.data, &h, sizeof(h));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = b.data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		mh.msg_control = ctl.c;
		mh.msg_controllen = sizeof(ctl.c);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sv[0], &mh, 0), (ssize_t)len);
	ck_assert_int_eq(recv_one(sv[1], in), 1);
	ck_assert_msg(in[0].error != HANDOFF_OK, "case %d accepted", _i);
	ck_assert_int_eq(in[0].fd, -1);
	if (fd >= 0)
		close(fd);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* --- the listener's flow table --- */
static const uint8_t hkey[16] = { 1, 2, 3 };

static struct lqkey key(const char *client, uint16_t port)
{
	struct lqkey k;
	memset(&k, 0, sizeof(k));
	ck_assert_int_eq(inet_pton(AF_INET6, client, k.client), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:198.51.100.1", k.local), 1);
	k.port = port;
	return k;
}

START_TEST(table_caps)
{
	struct lqtable t;
	enum lq_refusal why;
	struct lqkey k;

	ck_assert_int_eq(lq_init(&t, 6, 4, 2, hkey), 0);
	/* two pending flows per /24: the third from 192.0.2.x is refused */
	k = key("::ffff:192.0.2.1", 1);
	struct lqflow *a = lq_new_pending(&t, &k, 100, &why);
	k = key("::ffff:192.0.2.200", 1);
	struct lqflow *b = lq_new_pending(&t, &k, 100, &why);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	k = key("::ffff:192.0.2.3", 1);
	ck_assert_ptr_null(lq_new_pending(&t, &k, 100, &why));
	ck_assert_int_eq(why, LQ_PREFIX_FULL);
	/* IPv6 sources count by /48 */
	k = key("2001:db8:1:2::1", 7);
	ck_assert_ptr_nonnull(lq_new_pending(&t, &k, 100, &why));
	k = key("2001:db8:1:ffff::9", 7);
	ck_assert_ptr_nonnull(lq_new_pending(&t, &k, 100, &why));
	/* four pending: the global pending cap */
	k = key("::ffff:203.0.113.1", 1);
	ck_assert_ptr_null(lq_new_pending(&t, &k, 100, &why));
	ck_assert_int_eq(why, LQ_PENDING_FULL);
	/* a routed flow frees its pending place and its prefix's */
	lq_activate(&t, a, 1, 42, 500);
	ck_assert_uint_eq(t.n_pending, 3);
	k = key("::ffff:192.0.2.3", 1);
	struct lqflow *c = lq_new_pending(&t, &k, 100, &why);
	ck_assert_ptr_nonnull(c);
	k = key("::ffff:192.0.2.1", 1);
	ck_assert_ptr_eq(lq_find(&t, &k), a);
	ck_assert(a->active);
	ck_assert_uint_eq(a->id, 42);
	ck_assert_ptr_null(a->p);
	/* a port is another flow; so is another local address */
	k = key("::ffff:192.0.2.1", 2);
	ck_assert_ptr_null(lq_find(&t, &k));
	k = key("::ffff:192.0.2.1", 1);
	k.local[15] ^= 1;
	ck_assert_ptr_null(lq_find(&t, &k));
	/* six flows: the global cap */
	lq_activate(&t, b, 0, 43, 500);
	k = key("::ffff:203.0.113.1", 1);
	ck_assert_ptr_nonnull(lq_new_pending(&t, &k, 100, &why));
	k = key("::ffff:203.0.114.1", 1);
	ck_assert_ptr_null(lq_new_pending(&t, &k, 100, &why));
	ck_assert_int_eq(why, LQ_FULL);
	/* deadlines: pending by inspect time, active by last datagram */
	ck_assert_uint_eq(lq_first(&t.active)->id, 42);
	lq_touch(&t, a, 900);
	ck_assert_uint_eq(lq_first(&t.active)->id, 43);
	lq_free(&t, b);
	k = key("::ffff:192.0.2.200", 1);
	ck_assert_ptr_null(lq_find(&t, &k));
	ck_assert_uint_eq(t.n, 5);
	lq_free_all(&t);
}
END_TEST

START_TEST(pending_datagrams_bounded)
{
	struct lqtable t;
	enum lq_refusal why;
	static uint8_t d[LQ_PENDING_BYTES];
	struct lqkey k = key("::ffff:192.0.2.1", 1);

	ck_assert_int_eq(lq_init(&t, 10, 10, 10, hkey), 0);
	struct lqflow *f = lq_new_pending(&t, &k, 100, &why);
	ck_assert_ptr_nonnull(f);
	for (unsigned i = 0; i < LQ_PENDING_DGRAMS; i++)
		ck_assert(lq_keep(f, d, 1200));
	ck_assert(!lq_keep(f, d, 1));
	lq_free(&t, f);
	f = lq_new_pending(&t, &k, 100, &why);
	ck_assert(lq_keep(f, d, LQ_PENDING_BYTES - 1));
	ck_assert(!lq_keep(f, d, 2));
	ck_assert(lq_keep(f, d, 1));
	ck_assert_uint_eq(f->p->n_dgrams, 2);
	lq_free_all(&t);
}
END_TEST


START_TEST(server_cids_and_rebinding)
{
	struct lqtable t;
	enum lq_refusal why;
	struct lqkey k = key("::ffff:192.0.2.1", 1), k2 = key("::ffff:192.0.2.99", 7);
	const uint8_t odcid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, scid[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };

	ck_assert_int_eq(lq_init(&t, 10, 10, 10, hkey), 0);
	struct lqflow *f = lq_new_pending(&t, &k, 100, &why);
	struct lqflow *o = lq_new_pending(&t, &k2, 100, &why);
	f->p->hello.started = true;
	f->p->hello.dcid_len = 8;
	memcpy(f->p->hello.dcid, odcid, 8);
	lq_activate(&t, f, 0, 1, 500);
	/* the original DCID is not the server's; a pending flow learns nothing */
	lq_learn_cid(&t, f, odcid, 8);
	ck_assert_uint_eq(f->scid_len, 0);
	lq_learn_cid(&t, o, scid, 8);
	ck_assert_uint_eq(o->scid_len, 0);
	lq_learn_cid(&t, f, scid, 8);
	ck_assert_uint_eq(f->scid_len, 8);
	ck_assert_ptr_eq(lq_find_cid(&t, scid, 8), f);
	ck_assert_ptr_null(lq_find_cid(&t, scid, 7));
	ck_assert_uint_eq(t.cid_lens, 1u << 8);
	/* a CID another flow holds is not taken */
	lq_activate(&t, o, 0, 2, 500);
	lq_learn_cid(&t, o, scid, 8);
	ck_assert_uint_eq(o->scid_len, 0);
	/* rebinding: found by its new address only */
	struct lqkey moved = key("::ffff:203.0.113.5", 4444);
	lq_rekey(&t, f, &moved);
	ck_assert_ptr_eq(lq_find(&t, &moved), f);
	ck_assert_ptr_null(lq_find(&t, &k));
	ck_assert_ptr_eq(lq_find(&t, &k2), o);
	lq_free(&t, f);
	ck_assert_ptr_null(lq_find_cid(&t, scid, 8));
	lq_free_all(&t);
}
END_TEST

/* A forwarder's channel is gone: its active flows are forgotten (by
 * address and by server CID), the other channels' and pending flows stay. */
START_TEST(channel_gone_ends_only_its_flows)
{
	struct lqtable t;
	enum lq_refusal why;
	struct lqkey k1 = key("::ffff:192.0.2.1", 1), k2 = key("::ffff:192.0.2.2", 2), k3 = key("::ffff:192.0.2.3", 3),
		     k4 = key("::ffff:192.0.2.4", 4);
	const uint8_t scid[8] = { 7, 7, 7, 7, 7, 7, 7, 7 }, odcid[8] = { 1 };

	ck_assert_int_eq(lq_init(&t, 10, 10, 10, hkey), 0);
	struct lqflow *a = lq_new_pending(&t, &k1, 100, &why);
	struct lqflow *b = lq_new_pending(&t, &k2, 100, &why);
	struct lqflow *c = lq_new_pending(&t, &k3, 100, &why);
	ck_assert_ptr_nonnull(lq_new_pending(&t, &k4, 100, &why));
	a->p->hello.dcid_len = 8;
	memcpy(a->p->hello.dcid, odcid, 8);
	lq_activate(&t, a, 1, 1, 500);
	lq_activate(&t, b, 0, 2, 500);
	lq_activate(&t, c, 1, 3, 500);
	lq_learn_cid(&t, a, scid, 8);
	ck_assert_ptr_eq(lq_find_cid(&t, scid, 8), a);
	/* by the id its forwarder knows it by (an ended flow's, off its page) */
	ck_assert_ptr_eq(lq_find_id(&t, 3), c);
	ck_assert_ptr_eq(lq_find_id(&t, 2), b);
	ck_assert_ptr_null(lq_find_id(&t, 3 + 1024));
	ck_assert_uint_eq(lq_free_channel(&t, 1), 2);
	ck_assert_ptr_null(lq_find_id(&t, 1));
	ck_assert_ptr_null(lq_find_id(&t, 3));
	ck_assert_ptr_null(lq_find(&t, &k1));
	ck_assert_ptr_null(lq_find(&t, &k3));
	ck_assert_ptr_null(lq_find_cid(&t, scid, 8));
	ck_assert_ptr_eq(lq_find(&t, &k2), b);
	ck_assert_ptr_nonnull(lq_find(&t, &k4));
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(t.n_pending, 1);
	ck_assert_uint_eq(lq_free_channel(&t, 1), 0);
	ck_assert_uint_eq(lq_free_channel(&t, 0), 1);
	ck_assert_uint_eq(t.n, 1);
	lq_free_all(&t);
}
END_TEST

START_TEST(move_message)
{
	static struct handoff_quic_buf b;
	struct handoff_in in[HANDOFF_BATCH];
	struct sockaddr_storage ss;
	struct in6_addr local = IN6ADDR_LOOPBACK_INIT;
	int sv[2];

	v4_client(&ss, "::ffff:203.0.113.5", 4444);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_eq(handoff_quic_move(&b, 7, &ss, &local, 0, 0), 0);
	ck_assert_int_eq(handoff_quic_send(sv[0], &b), 0);
	/* a MOVE carries no datagram and names no site */
	ck_assert(handoff_quic_add(&b, 7, (const uint8_t *)"x", 1));
	ck_assert_int_eq(handoff_quic_send(sv[0], &b), 0);
	ck_assert_int_eq(handoff_quic_move(&b, 7, &ss, &local, 0, 0), 0);
	((struct handoff_quic_msg *)(void *)b.data)->site[0] = 'a';
	ck_assert_int_eq(handoff_quic_send(sv[0], &b), 0);
	ck_assert_int_eq(recv_one(sv[1], in), 3);
	ck_assert_int_eq(in[0].error, HANDOFF_OK);
	struct handoff_quic_msg h;
	memcpy(&h, bufs[0], sizeof(h));
	ck_assert_uint_eq(h.type, HANDOFF_QUIC_MOVE);
	ck_assert_uint_eq(h.flow, 7);
	ck_assert_uint_eq(h.client_family, AF_INET);
	ck_assert_uint_eq(h.client_port, 4444);
	ck_assert_int_eq(in[1].error, HANDOFF_E_QUIC);
	ck_assert_int_eq(in[2].error, HANDOFF_E_QUIC);
	close(sv[0]);
	close(sv[1]);
}
END_TEST


/* --- replies from the address the client sent to (common/udp_src.h) --- */
static int dual_stack_udp(uint16_t *port)
{
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	socklen_t al = sizeof(a);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)), 0);
	ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin6_port);
	return fd;
}

/* The client sends to 127.0.0.2 (a second address of the host): the
 * reply must come from 127.0.0.2, which routing alone would not pick. */
START_TEST(reply_from_the_address_the_client_used)
{
	uint16_t port;
	int srv = dual_stack_udp(&port);
	int cli = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	inet_pton(AF_INET, "127.0.0.2", &to.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);
	ck_assert_int_eq(bind(cli, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(sendto(cli, "hi", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);

	char buf[16];
	struct sockaddr_storage peer;
	union {
		char c[UDP_SRC_CMSG_SPACE + 64];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_name = &peer, .msg_namelen = sizeof(peer), .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.c, .msg_controllen = sizeof(ctl.c) };
	ck_assert_int_eq(recvmsg(srv, &mh, 0), 2);
	struct udp_src src;
	ck_assert(udp_src_from_msg(&mh, &src));
	char text[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &src.addr, text, sizeof(text));
	ck_assert_str_eq(text, "::ffff:127.0.0.2");

	/* the peer as a hand-off carries it (IPv4), back as the socket takes it */
	const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)&peer;
	struct sockaddr_storage back;
	socklen_t bl = udp_peer_sockaddr(AF_INET6, AF_INET, p6->sin6_addr.s6_addr + 12, ntohs(p6->sin6_port), &back);
	ck_assert_uint_eq(bl, sizeof(struct sockaddr_in6));
	ck_assert_mem_eq(&((struct sockaddr_in6 *)&back)->sin6_addr, &p6->sin6_addr, 16);
	union {
		char c[UDP_SRC_CMSG_SPACE];
		struct cmsghdr align;
	} out;
	struct iovec oiov = { .iov_base = "ok", .iov_len = 2 };
	struct mmsghdr mm = { .msg_hdr = { .msg_name = &back, .msg_namelen = bl, .msg_iov = &oiov, .msg_iovlen = 1,
					   .msg_control = out.c, .msg_controllen = udp_src_cmsg(AF_INET6, &src, out.c) } };
	ck_assert_int_eq(sendmmsg(srv, &mm, 1, 0), 1);
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ck_assert_int_eq(recvfrom(cli, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 2);
	inet_ntop(AF_INET, &from.sin_addr, text, sizeof(text));
	ck_assert_str_eq(text, "127.0.0.2");
	ck_assert_uint_eq(ntohs(from.sin_port), port);
	close(cli);
	close(srv);
}
END_TEST

/* An IPv4 socket's IP_PKTINFO becomes the same v4-mapped address. */
START_TEST(ipv4_pktinfo_mapped)
{
	uint8_t cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct msghdr mh = { .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct in_pktinfo pi = { .ipi_ifindex = 1 };
	struct udp_src src;
	char text[INET6_ADDRSTRLEN];

	memset(cbuf, 0, sizeof(cbuf));
	inet_pton(AF_INET, "192.0.2.9", &pi.ipi_addr);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	ck_assert(udp_src_from_msg(&mh, &src));
	inet_ntop(AF_INET6, &src.addr, text, sizeof(text));
	ck_assert_str_eq(text, "::ffff:192.0.2.9");
	/* and back, for an IPv4 socket: ipi_spec_dst, no interface */
	union {
		char c[UDP_SRC_CMSG_SPACE];
		struct cmsghdr align;
	} out;
	size_t n = udp_src_cmsg(AF_INET, &src, out.c);
	struct msghdr om = { .msg_control = out.c, .msg_controllen = n };
	struct cmsghdr *oc = CMSG_FIRSTHDR(&om);
	ck_assert_int_eq(oc->cmsg_level, IPPROTO_IP);
	ck_assert_int_eq(oc->cmsg_type, IP_PKTINFO);
	memcpy(&pi, CMSG_DATA(oc), sizeof(pi));
	ck_assert_int_eq(pi.ipi_ifindex, 0);
	inet_ntop(AF_INET, &pi.ipi_spec_dst, text, sizeof(text));
	ck_assert_str_eq(text, "192.0.2.9");
	mh.msg_controllen = 0;
	ck_assert(!udp_src_from_msg(&mh, &src));
}
END_TEST

Suite *make_quic_flow_suite(void)
{
	Suite *s = suite_create("quic_flow");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, start_data_and_a_client_share_the_channel);
	tcase_add_test(tc, builder_bounds);
	tcase_add_loop_test(tc, malformed_quic_messages_refused, 0, M_COUNT_CASES);
	tcase_add_test(tc, table_caps);
	tcase_add_test(tc, pending_datagrams_bounded);
	tcase_add_test(tc, server_cids_and_rebinding);
	tcase_add_test(tc, channel_gone_ends_only_its_flows);
	tcase_add_test(tc, move_message);
	tcase_add_test(tc, reply_from_the_address_the_client_used);
	tcase_add_test(tc, ipv4_pktinfo_mapped);
	suite_add_tcase(s, tc);
	return s;
}
