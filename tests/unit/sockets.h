/* SPDX-License-Identifier: MIT */
#pragma once

/* A connected TCP pair on loopback: *client and the accepted *server, both
 * with flags (0 or SOCK_NONBLOCK); the listening socket in *listener_out if
 * asked for, else closed. */
void test_tcp_pair(int *client, int *server, int *listener_out, int flags);
