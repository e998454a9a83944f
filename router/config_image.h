/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * The compiled config: one flat, position-independent image of a parsed
 * gh_config (offsets, never pointers), built once by the process that
 * loaded the config (`gatehouse run`'s launcher) into a sealed memfd every
 * daemon maps read-only. A daemon then holds the big arrays (site names,
 * servers, the route tables) as pages shared with every other daemon of
 * its generation instead of a private parse of its own.
 *
 * The reader trusts nothing in the image: the launcher builds it, but bugs
 * happen. config_image_open() checks every offset, count and value a
 * lookup or a daemon will use, once, before any of it is used; that one
 * check is enough only because the bytes cannot change afterwards (the
 * caller maps a memfd sealed against writes, common/config_load.c).
 *
 * Pure: no I/O. The caller provides the memory to write into and to read.
 */
#include <stddef.h>
#include "router/config.h"

#define CONFIG_IMAGE_MAGIC "GHCFIMG\x01"
#define CONFIG_IMAGE_MAGIC_LEN 8u

/* Bytes config_image_write() needs for c, or 0 if c is too big for the
 * format's 32-bit indexes. */
size_t config_image_size(const struct gh_config *c);

/* Write c's image into buf[0..size) (size from config_image_size, buf
 * 8-byte aligned). 0, or -EINVAL on a size mismatch. */
int config_image_write(const struct gh_config *c, void *buf, size_t size);

/* Given back when the config is freed (config_free): base and len as
 * passed to config_image_open. */
typedef void (*config_image_release_fn)(const void *base, size_t len);

/* A config over image[0..len) (8-byte aligned), which must stay mapped
 * and unchanged until config_free() calls release (NULL: nothing to do).
 * Returns 0 and *out; -EINVAL with a reason in why[0..why_size) for an
 * image that is truncated, corrupt or from another build; -ENOMEM. On
 * failure release is not called. */
int config_image_open(const void *image, size_t len, config_image_release_fn release,
		      struct gh_config **out, char *why, size_t why_size);

/* config_free() of a config from config_image_open(). */
void config_image_free(struct gh_config *c);
