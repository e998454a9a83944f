/* SPDX-License-Identifier: MIT */
#pragma once
/* What `gatehouse run` (run.c) does with sockets, fds and paths that needs
 * none of its state. */
#include <stdbool.h>
#include <stddef.h>
#include "router/config.h"

/* The daemons live beside this binary (build tree) or in the libexec dir. */
void find_bin(const char *name, char *out, size_t size);
/* Bind and listen on a `listen` address; 0 and *out, or -errno. */
int bind_listen(const struct gh_listen *ls, int *out);
/* Bind a `listen quic` address: a non-blocking UDP socket that reports
 * each datagram's destination address (IPV6_RECVPKTINFO; IP_PKTINFO for
 * an IPv4 address), dual stack for [::]. 0 and *out, or -errno. */
int bind_quic(const struct gh_listen *ls, int *out);
/* fd is a listening socket. */
bool listening(int fd);
/* Close every fd >= first (in a child before exec). */
void close_from(int first);
