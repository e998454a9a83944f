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

/* Read path and parse it. A path naming a compiled config image
 * (router/config_image.h: `gatehouse run` hands its daemons one as
 * /dev/fd/N) is mapped read-only instead of parsed, and only from a memfd
 * sealed against writes, shrinking and growing: every offset in it is
 * checked once, which holds only because nobody can change it afterwards. Every error goes to errf (NULL: nowhere), one line
 * each ("FILE:LINE: message", or "PATH: reason" when the file can't be read).
 * Returns 0 and *out, or a negative errno: -ENOENT and friends from the
 * file system, -EFBIG, -EINVAL for a config with errors, -ENOMEM. */
int config_load_file(const char *path, FILE *errf, struct gh_config **out);

/* The compiled image in fd (a memfd from `gatehouse run` or from
 * gatehouse-config, common/config_fetch.h), mapped read-only: refused
 * unless sealed against writes, shrinking and growing, then checked
 * whole (router/config_image.h). path names it in errors. The fd stays
 * the caller's. Returns 0 and *out, or -errno (-EPERM: not sealed). */
int config_load_image_fd(int fd, const char *path, FILE *errf, struct gh_config **out);

/* config_load_file() that, when the config loads, also puts the exact text
 * it parsed in a sealed memfd (*snapshot, O_CLOEXEC): `gatehouse run` starts
 * its daemons from that, so a file broken after a good load never reaches a
 * restarted daemon. */
int config_load_snapshot(const char *path, FILE *errf, struct gh_config **out, int *snapshot);

/* cfg compiled once (router/config_image.h) into a memfd sealed with
 * F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL before any other
 * process can see it, so a daemon mapping it reads bytes nobody can change
 * (F_SEAL_WRITE also refuses hole punching). Returns 0 and *image
 * (O_CLOEXEC), or -errno. */
int config_load_image(const struct gh_config *cfg, int *image);
