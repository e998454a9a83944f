/* SPDX-License-Identifier: MIT */
/* handoff_recv on batches a hostile listener shapes: whatever it refuses or
 * drops, no received fd stays open (real sockets, fds counted). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "suites.h"
#include "common/handoff.h"
#include "tests/unit/sockets.h"
#include "router/config.h"

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void valid_msg(struct handoff_msg *m)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(4242);
	inet_pton(AF_INET6, "2001:db8::7", &s6->sin6_addr);
	ck_assert_int_eq(handoff_pack(m, GH_KIND_HTTP, &ss, "site.example", "", 7, 0), 0);
}

/* One datagram of len bytes of *m, with fd (or none if fd < 0). */
static void send_one(int ch, const struct handoff_msg *m, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)m, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ck_assert_int_eq(sendmsg(ch, &mh, 0), (ssize_t)len);
}

/* Receive one batch; close what it hands over; the count of open fds must
 * be what it was before the call. Returns what handoff_recv returned. */
static int recv_and_count(int ch, int *ok)
{
	struct handoff_in in[HANDOFF_BATCH];
	int before = open_fds();
	int n = handoff_recv(ch, in, HANDOFF_BATCH);
	*ok = 0;
	for (int i = 0; i < n; i++) {
		if (in[i].error == HANDOFF_OK) {
			ck_assert_int_ge(in[i].fd, 0);
			close(in[i].fd);
			(*ok)++;
		} else {
			ck_assert_int_eq(in[i].fd, -1);
		}
	}
	ck_assert_msg(open_fds() == before, "handoff_recv left %d fds open", open_fds() - before);
	return n;
}

/* A zero-length message ends the batch (it reads as EOF): the messages
 * after it in the same recvmmsg must not leave their fds behind. */
START_TEST(zero_length_message_closes_the_rest_of_the_batch)
{
	int sv[2], peer[4], s[4];
	struct handoff_msg m;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	valid_msg(&m);
	for (int i = 0; i < 4; i++)
		test_tcp_pair(&peer[i], &s[i], NULL, 0);
	send_one(sv[0], &m, sizeof(m), s[0]);
	send_one(sv[0], &m, 0, -1);
	send_one(sv[0], &m, sizeof(m), s[1]);
	send_one(sv[0], &m, sizeof(m), s[2]);
	send_one(sv[0], &m, 10, s[3]);	/* refused too: wrong size */
	for (int i = 0; i < 4; i++)
		close(s[i]);
	int ok;
	int n = recv_and_count(sv[1], &ok);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(ok, 1);
	/* and the dropped clients see their connection closed */
	for (int i = 1; i < 4; i++) {
		char b;
		ck_assert_int_eq(recv(peer[i], &b, 1, MSG_DONTWAIT), 0);
	}
}
END_TEST

/* Refused messages among valid ones: the refused lose their fds, the
 * valid keep theirs. */
START_TEST(refused_messages_in_a_batch_leave_no_fd)
{
	int sv[2], peer[6], s[6];
	struct handoff_msg m, bad;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	valid_msg(&m);
	bad = m;
	bad.magic ^= 1;
	for (int i = 0; i < 6; i++)
		test_tcp_pair(&peer[i], &s[i], NULL, 0);
	for (int i = 0; i < 6; i++)
		send_one(sv[0], i % 2 ? &bad : &m, sizeof(m), s[i]);
	for (int i = 0; i < 6; i++)
		close(s[i]);
	int ok;
	ck_assert_int_eq(recv_and_count(sv[1], &ok), 6);
	ck_assert_int_eq(ok, 3);
}
END_TEST

Suite *make_handoff_batch_suite(void)
{
	Suite *s = suite_create("handoff_batch");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, zero_length_message_closes_the_rest_of_the_batch);
	tcase_add_test(tc, refused_messages_in_a_batch_leave_no_fd);
	suite_add_tcase(s, tc);
	return s;
}
