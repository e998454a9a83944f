/* SPDX-License-Identifier: MIT */
/* The hand-off wire format and its strict receiver, over real sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "suites.h"
#include "router/config.h"
#include "common/handoff.h"
#include "router/proxy_parse.h"
#include "tests/unit/sockets.h"

static void channel(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

static void valid_msg(struct handoff_msg *m)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(4242);
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6->sin6_addr);
	ck_assert_int_eq(handoff_pack(m, GH_KIND_TLS, &ss, "site.example", "www.site.example", 7, 0), 0);
}

/* Send raw bytes with nfds copies of fd (nfds may be 0). */
static void send_raw(int ch, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(ch, &mh, 0), (ssize_t)len);
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

START_TEST(roundtrip_carries_fd_and_fields)
{
	int sv[2], c, s;
	struct handoff_msg m;
	struct handoff_in in[2];
	channel(sv);
	test_tcp_pair(&c, &s, NULL, 0);
	valid_msg(&m);
	ck_assert_int_eq(handoff_send(sv[0], &m, &s, 1), 1);
	ck_assert_int_eq(handoff_recv(sv[1], in, 2), 1);
	ck_assert_int_eq(in[0].error, HANDOFF_OK);
	ck_assert_int_ge(in[0].fd, 0);
	ck_assert_str_eq(in[0].msg.site, "site.example");
	ck_assert_str_eq(in[0].msg.name, "www.site.example");
	/* a v4-mapped client travels as AF_INET */
	ck_assert_int_eq(in[0].msg.client_family, AF_INET);
	ck_assert_int_eq(in[0].msg.client_port, 4242);
	ck_assert_mem_eq(in[0].msg.client_addr, "\xc0\x00\x02\x07", 4);
	/* the received fd is the same socket: bytes flow */
	ck_assert_int_eq(write(c, "x", 1), 1);
	char b;
	ck_assert_int_eq(read(in[0].fd, &b, 1), 1);
	ck_assert_int_eq(b, 'x');
	ck_assert_int_ne(fcntl(in[0].fd, F_GETFD) & FD_CLOEXEC, 0);
}
END_TEST

START_TEST(batch_of_sixteen_in_one_call)
{
	int sv[2], c[HANDOFF_BATCH], s[HANDOFF_BATCH];
	struct handoff_msg m[HANDOFF_BATCH];
	struct handoff_in in[HANDOFF_BATCH];
	channel(sv);
	for (int i = 0; i < HANDOFF_BATCH; i++) {
		test_tcp_pair(&c[i], &s[i], NULL, 0);
		valid_msg(&m[i]);
	}
	ck_assert_int_eq(handoff_send(sv[0], m, s, HANDOFF_BATCH), HANDOFF_BATCH);
	ck_assert_int_eq(handoff_recv(sv[1], in, HANDOFF_BATCH), HANDOFF_BATCH);
	for (int i = 0; i < HANDOFF_BATCH; i++)
		ck_assert_int_eq(in[i].error, HANDOFF_OK);
}
END_TEST

START_TEST(eof_is_zero)
{
	int sv[2];
	struct handoff_in in[4];
	channel(sv);
	close(sv[0]);
	ck_assert_int_eq(handoff_recv(sv[1], in, 4), 0);
}
END_TEST

/* Each bad message is refused with its own reason and leaks no fd. */
enum fd_kind { FD_NONE, FD_TCP, FD_TCP2, FD_PIPE, FD_DIR, FD_LISTEN, FD_UNIX };
static const struct bad_case {
	const char *what;
	enum fd_kind fd;
	int mutate;		/* which field to break */
	ssize_t len_delta;	/* send this many bytes more/less */
	enum handoff_error want;
} bad_cases[] = {
	{ "no fd", FD_NONE, 0, 0, HANDOFF_E_NO_FD },
	{ "two fds", FD_TCP2, 0, 0, HANDOFF_E_FDS },
	{ "short message", FD_TCP, 0, -8, HANDOFF_E_SIZE },
	{ "long message", FD_TCP, 0, 8, HANDOFF_E_TRUNC },
	{ "bad magic", FD_TCP, 1, 0, HANDOFF_E_MAGIC },
	{ "future version", FD_TCP, 2, 0, HANDOFF_E_VERSION },
	{ "version 1 (no one_request field)", FD_TCP, 8, 0, HANDOFF_E_VERSION },
	{ "unknown kind", FD_TCP, 3, 0, HANDOFF_E_KIND },
	{ "site not NUL-terminated", FD_TCP, 4, 0, HANDOFF_E_NAME },
	{ "empty site", FD_TCP, 5, 0, HANDOFF_E_NAME },
	{ "bytes hidden after the NUL", FD_TCP, 6, 0, HANDOFF_E_NAME },
	{ "bad family", FD_TCP, 7, 0, HANDOFF_E_NAME },
	{ "one_request on a TLS hand-off", FD_TCP, 9, 0, HANDOFF_E_ONE_REQUEST },
	{ "one_request one above the bound", FD_TCP, 10, 0, HANDOFF_E_ONE_REQUEST },
	{ "one_request of 4 GiB - 1", FD_TCP, 11, 0, HANDOFF_E_ONE_REQUEST },
	{ "alpn_route on an HTTP hand-off", FD_TCP, 12, 0, HANDOFF_E_ALPN_ROUTE },
	{ "reserved byte set", FD_TCP, 13, 0, HANDOFF_E_ALPN_ROUTE },
	{ "version 2 (no alpn_route field)", FD_TCP, 14, 0, HANDOFF_E_VERSION },
	{ "version 3 (no proxy_len field)", FD_TCP, 15, 0, HANDOFF_E_VERSION },
	{ "PROXY header longer than any", FD_TCP, 16, 0, HANDOFF_E_PROXY_LEN },
	{ "pipe fd", FD_PIPE, 0, 0, HANDOFF_E_NOT_TCP },
	{ "directory fd", FD_DIR, 0, 0, HANDOFF_E_NOT_TCP },
	{ "listening TCP socket", FD_LISTEN, 0, 0, HANDOFF_E_NOT_TCP },
	{ "UNIX socket", FD_UNIX, 0, 0, HANDOFF_E_NOT_TCP },
};

START_TEST(bad_messages_refused)
{
	const struct bad_case *bc = &bad_cases[_i];
	int sv[2], fds[2] = { -1, -1 }, extra[3] = { -1, -1, -1 };
	uint8_t buf[sizeof(struct handoff_msg) + 16];
	struct handoff_msg m;
	struct handoff_in in[2];

	channel(sv);
	valid_msg(&m);
	switch (bc->mutate) {
	case 1: m.magic ^= 1; break;
	case 2: m.version = HANDOFF_VERSION + 1; break;
	case 3: m.kind = 7; break;
	case 4: memset(m.site, 'a', sizeof(m.site)); break;
	case 5: memset(m.site, 0, sizeof(m.site)); break;
	case 6: m.site[sizeof(m.site) - 1] = 'x'; break;
	case 7: m.client_family = AF_UNIX; break;
	case 8: m.version = 1; break;
	case 9: m.one_request = 100; break;	/* valid_msg is TLS */
	case 10: m.kind = GH_KIND_HTTP; m.one_request = GH_MAX_ONE_REQUEST + 1; break;
	case 11: m.kind = GH_KIND_HTTP; m.one_request = UINT32_MAX; break;
	case 12: m.kind = GH_KIND_HTTP; m.alpn_route = 1; break;
	case 13: m.reserved = 1; break;
	case 14: m.version = 2; break;
	case 15: m.version = 3; break;
	case 16: m.proxy_len = PROXY_PARSE_MAX + 1; break;
	}
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &m, sizeof(m));
	int p[2];
	switch (bc->fd) {
	case FD_NONE: break;
	case FD_TCP: test_tcp_pair(&extra[0], &fds[0], NULL, 0); break;
	case FD_TCP2: test_tcp_pair(&extra[0], &fds[0], NULL, 0); test_tcp_pair(&extra[1], &fds[1], NULL, 0); break;
	case FD_PIPE: ck_assert_int_eq(pipe(p), 0); fds[0] = p[0]; extra[0] = p[1]; break;
	case FD_DIR: fds[0] = open("/", O_RDONLY | O_DIRECTORY); break;
	case FD_LISTEN: test_tcp_pair(&extra[0], &extra[1], &fds[0], 0); break;
	case FD_UNIX: ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0); fds[0] = p[0]; extra[0] = p[1]; break;
	}
	unsigned nfds = bc->fd == FD_NONE ? 0 : bc->fd == FD_TCP2 ? 2 : 1;
	send_raw(sv[0], buf, (size_t)((ssize_t)sizeof(m) + bc->len_delta), fds, nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	int before = open_fds();
	ck_assert_int_eq(handoff_recv(sv[1], in, 2), 1);
	ck_assert_msg(in[0].error == bc->want, "%s: got %s, want %s", bc->what,
		      handoff_error_str(in[0].error), handoff_error_str(bc->want));
	ck_assert_int_eq(in[0].fd, -1);
	/* whatever arrived was closed: no fd left behind */
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(pack_refuses_long_names)
{
	struct handoff_msg m;
	struct sockaddr_storage ss = { .ss_family = AF_INET };
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(handoff_pack(&m, 0, &ss, longname, "", 0, 0), -ENAMETOOLONG);
	ck_assert_int_eq(handoff_pack(&m, 0, &ss, "", "", 0, 0), -ENAMETOOLONG);
	ck_assert_int_eq(handoff_pack(&m, 0, &ss, "ok", longname, 0, 0), -ENAMETOOLONG);
}
END_TEST

/* one_request: HTTP only, up to the bound, on both ends of the channel */
START_TEST(one_request_roundtrip)
{
	int sv[2], c, s;
	struct handoff_msg m;
	struct handoff_in in[2];
	struct sockaddr_storage ss = { .ss_family = AF_INET };

	ck_assert_int_eq(handoff_pack(&m, GH_KIND_TLS, &ss, "ok", "", 0, 1), -EINVAL);
	ck_assert_int_eq(handoff_pack(&m, GH_KIND_HTTP, &ss, "ok", "", 0, GH_MAX_ONE_REQUEST + 1), -EINVAL);
	ck_assert_int_eq(handoff_pack(&m, GH_KIND_TLS, &ss, "ok", "", 0, 0), 0);
	ck_assert_uint_eq(m.one_request, 0);
	channel(sv);
	test_tcp_pair(&c, &s, NULL, 0);
	ck_assert_int_eq(handoff_pack(&m, GH_KIND_HTTP, &ss, "site.example", "", 7, GH_MAX_ONE_REQUEST), 0);
	ck_assert_uint_eq(m.one_request, GH_MAX_ONE_REQUEST);
	ck_assert_int_eq(handoff_send(sv[0], &m, &s, 1), 1);
	ck_assert_int_eq(handoff_recv(sv[1], in, 2), 1);
	ck_assert_int_eq(in[0].error, HANDOFF_OK);
	ck_assert_uint_eq(in[0].msg.one_request, GH_MAX_ONE_REQUEST);
	ck_assert_int_eq(in[0].msg.kind, GH_KIND_HTTP);
	close(in[0].fd);
	close(c);
	close(s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* a TLS hand-off carries its tls-alpn route; packing leaves it 0 */
START_TEST(alpn_route_roundtrip)
{
	int sv[2], c, s;
	struct handoff_msg m;
	struct handoff_in in[2];
	struct sockaddr_storage ss = { .ss_family = AF_INET };

	ck_assert_int_eq(handoff_pack(&m, GH_KIND_TLS, &ss, "site.example", "", 7, 0), 0);
	ck_assert_uint_eq(m.alpn_route, 0);
	ck_assert_uint_eq(offsetof(struct handoff_msg, alpn_route), 28);
	m.alpn_route = 255;
	channel(sv);
	test_tcp_pair(&c, &s, NULL, 0);
	ck_assert_int_eq(handoff_send(sv[0], &m, &s, 1), 1);
	ck_assert_int_eq(handoff_recv(sv[1], in, 2), 1);
	ck_assert_int_eq(in[0].error, HANDOFF_OK);
	ck_assert_uint_eq(in[0].msg.alpn_route, 255);
	close(in[0].fd);
	close(c);
	close(s);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

Suite *make_handoff_suite(void)
{
	Suite *s = suite_create("handoff");
	TCase *tc = tcase_create("wire");
	tcase_add_test(tc, roundtrip_carries_fd_and_fields);
	tcase_add_test(tc, batch_of_sixteen_in_one_call);
	tcase_add_test(tc, eof_is_zero);
	tcase_add_loop_test(tc, bad_messages_refused, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, pack_refuses_long_names);
	tcase_add_test(tc, one_request_roundtrip);
	tcase_add_test(tc, alpn_route_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}
