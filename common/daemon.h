/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What both daemons' event loops share: stop signals that interrupt
 * epoll_pwait() only (blocked elsewhere, so no check-then-sleep race), and
 * the next wake-up including the watchdog's.
 */
#include <signal.h>
#include <stdint.h>

/* SIGTERM/SIGINT set *flag; SIGPIPE ignored. Fills *waitmask: the mask to
 * pass to epoll_pwait(), under which the stop signals are deliverable. */
void daemon_signals(volatile sig_atomic_t *flag, sigset_t *waitmask);

/* The sooner of timeout_ms (-1: none) and the watchdog's next ping. */
int daemon_next_timeout(int timeout_ms, uint64_t now_ms);

/* How many forwarders: the config's `forwarders`, else one per CPU but
 * one, leaving a core to the listener (on 2 CPUs one forwarder measured
 * 8-20% less CPU per connection than two, at the same rate: bench/). */
struct gh_config;
unsigned daemon_forwarders(const struct gh_config *cfg);
