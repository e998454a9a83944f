/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The forwarder's fd budget: how many relays one forwarder holds under an
 * RLIMIT_NOFILE, and the limit a number of relays needs. Shared by the
 * forwarder (forwarder/main.c), `gatehouse check` (which prints it) and
 * `gatehouse run` (which raises the limit as root).
 *
 * What is really held: two sockets per relay (client and server), and the
 * pipes for splice() once for the process, not per relay: a direction
 * takes a pipe only while moving bulk and gives it back when drained, and
 * the process never holds more than fdbudget_pipes() of them (forwarder/
 * pipes.c; past that a direction copies instead): FDBUDGET_PIPES_MAX, or a
 * sixteenth of a small limit, so that 256 fds still hold 80 relays. FDBUDGET_RESERVE covers
 * the rest: the channel, epoll, the journal, the config and load pages.
 */
#include <stdint.h>

#define FDBUDGET_RESERVE 64u
#define FDBUDGET_PIPES_MAX 128u	/* pipes at most, pooled and in use: two fds each */
#define FDBUDGET_PER_RELAY 2u

/* pipes a forwarder may hold under nofile (0: no limit) */
unsigned fdbudget_pipes(uint64_t nofile);

/* fds a forwarder may spend on clients and servers under nofile */
uint64_t fdbudget_fds(uint64_t nofile);

/* relays a forwarder holds under nofile (RLIMIT_NOFILE's soft limit) */
uint64_t fdbudget_relays(uint64_t nofile);

/* the RLIMIT_NOFILE a forwarder needs to hold relays */
uint64_t fdbudget_nofile_for(uint64_t relays);
