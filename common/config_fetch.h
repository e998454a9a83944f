/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Under systemd there is no launcher to compile the config once:
 * gatehouse-config (configd/) does, on the socket its unit owns
 * (gatehouse-config.socket), and hands each daemon that connects the
 * sealed image's fd. A daemon whose unit names that socket
 * (GATEHOUSE_CONFIG_SOCKET) fetches the image before its sandbox instead
 * of parsing the file itself; the image is then opened by the same
 * checking reader as under `gatehouse run` (common/config_load.h), which
 * refuses a memfd not sealed against writes.
 *
 * Who answers matters: the peer must be root (SO_PEERCRED uid 0: for a
 * socket systemd made, PID 1, which listened on it in /run/gatehouse,
 * root's directory), so no daemon of ours can stand in for the service.
 */
#include <stddef.h>

#define CONFIG_SOCKET_ENV "GATEHOUSE_CONFIG_SOCKET"
/* one message per connection: CONFIG_HELLO with the image's fd, or
 * CONFIG_NONE followed by why there is no image (no fd) */
#define CONFIG_HELLO "GHCONF1"
#define CONFIG_NONE "GHCONF0"
/* how long a daemon waits for its image: a first compile of 100 000
 * sites takes about a second on a slow machine */
#define CONFIG_FETCH_TIMEOUT_MS 30000

/* Connect to path, check the peer is root, and take the image's fd
 * within timeout_ms. The fd (O_CLOEXEC), or -errno with a reason in
 * why[0..why_size): -EPERM for a peer that is not root, -ENODATA when the
 * service has no image to give (its config never loaded), -ETIMEDOUT,
 * -EPROTO, or the connect's error. */
int config_fetch(const char *path, int timeout_ms, char *why, size_t why_size);
