/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * sd_notify over a socket connected once, before the sandbox:
 * sd_notify() opens a new socket by path on every call, which the
 * listener's seccomp filter forbids and a chroot would hide.
 * Also the watchdog: notify_tick() pings at half WATCHDOG_USEC.
 */
#include <stdint.h>

#include <stdbool.h>

void notify_setup(void);
void notify_send(const char *state);	/* "READY=1", "STOPPING=1", ... */
/* state with fd attached (SCM_RIGHTS); waits for room like READY=1. */
void notify_send_fd(const char *state, int fd);

/* STATUS= at most once a second: ask, then build the text only if due. */
bool notify_status_due(uint64_t now_ms);
void notify_status(uint64_t now_ms, const char *status);

/* Ping the watchdog if due; returns ms until the next ping, or -1. */
int notify_watchdog(uint64_t now_ms);
