/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Read a config file and parse it (router/config.h). The only config code
 * that touches the file system, so router/ stays pure.
 */
#include <stdio.h>
#include "router/config.h"

/* Refuse bigger files: a real config is a few KiB, and this bounds what a
 * wrong path (a log, /dev/zero) can make us read. */
#define CONFIG_LOAD_MAX (16u * 1024u * 1024u)

/* Read path and parse it. Every error goes to errf (NULL: nowhere), one line
 * each ("FILE:LINE: message", or "PATH: reason" when the file can't be read).
 * Returns 0 and *out, or a negative errno: -ENOENT and friends from the
 * file system, -EFBIG, -EINVAL for a config with errors, -ENOMEM. */
int config_load_file(const char *path, FILE *errf, struct gh_config **out);

/* config_load_file() that, when the config loads, also puts the exact text
 * it parsed in a sealed memfd (*snapshot, O_CLOEXEC): `gatehouse run` starts
 * its daemons from that, so a file broken after a good load never reaches a
 * restarted daemon. */
int config_load_snapshot(const char *path, FILE *errf, struct gh_config **out, int *snapshot);
