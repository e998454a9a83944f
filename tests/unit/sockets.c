/* SPDX-License-Identifier: MIT */
/* Real sockets for the unit tests. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tests/unit/sockets.h"

void test_tcp_pair(int *client, int *server, int *listener_out, int flags)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	*client = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*client, 0);
	ck_assert_int_eq(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
	if (flags & SOCK_NONBLOCK)
		ck_assert_int_eq(fcntl(*client, F_SETFL, O_NONBLOCK), 0);
	*server = accept4(l, NULL, NULL, flags);
	ck_assert_int_ge(*server, 0);
	if (listener_out)
		*listener_out = l;
	else
		close(l);
}
