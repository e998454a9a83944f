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
/* A line on stderr as "gatehouse[PID]: ...", for the launcher's own news. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The launcher's notify socket: an abstract name in path; 0 and *out, or -errno. */
int setup_notify(int *out, char *path, size_t size);
/* Say once what the daemons' sandbox will and will not do here. */
void explain_sandbox(const struct gh_config *cfg);
/* Listening sockets that stopped listening (a listener's shutdown) made
 * to listen again, or bound afresh; 0, or -errno after saying which. */
int revive_listens(const struct gh_listen *listens, int *fds, unsigned n);
