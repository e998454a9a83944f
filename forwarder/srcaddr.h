/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Backend connections from the client's address (`source-prefix`,
 * router/config_srcaddr.c): an IPv4 client's relay leaves from
 * PREFIX::a.b.c.d. IPv6 needs IPV6_FREEBIND for that bind (an AnyIP
 * local route alone does not make an address bindable, unlike IPv4), and
 * the route for the replies to come back, which srcaddr_setup checks.
 */
#include <stdint.h>

struct forwarder;
struct fconn;

/* Before the sandbox: does each prefix in use route to lo on this host
 * (`ip -6 route add local PREFIX dev lo`)? Asked without sending a packet;
 * each missing one logged. 0, or -ENOMEM. */
int srcaddr_setup(struct forwarder *f);
void srcaddr_free(struct forwarder *f);

/* Bind fd, a fresh AF_INET6 socket for c, to c's source address when its
 * site has a prefix and c is an IPv4 client; else nothing. 0, or -errno
 * after a (rate-limited) log line saying why: the relay cannot go on. */
int srcaddr_bind(struct forwarder *f, const struct fconn *c, int fd);
