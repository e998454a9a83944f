/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * gatehouse-config's one piece of state: the image of the config file's
 * last good text. current_refresh() reads the file and, only when its
 * text changed since the last look (a keyed hash, SipHash-2-4, and the
 * length), parses it and compiles a new sealed image
 * (common/config_load.h). A text with errors leaves the last good image
 * in place and is logged once, FILE:LINE: message per error.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "router/siphash.h"

struct current {
	const char *path;
	uint8_t key[SIPHASH_KEY_LEN];	/* random, per process */
	uint64_t seen_hash;		/* the text last read (good or not) */
	size_t seen_len;
	bool seen, seen_good;		/* seen_good: it compiled into image_fd */
	int image_fd;			/* sealed memfd of the last good text; -1: none */
	unsigned images;		/* compiled so far */
	char why[256];			/* the last text's first error */
};

/* Set up for path (key from getrandom); no file read yet. 0 or -errno. */
int current_init(struct current *c, const char *path);

/* Look at the file again; recompile if its text changed. 0 when
 * c->image_fd is the image of the file as read now, 1 when the text
 * did not load and an older image (or none) stays, -errno when the file
 * could not be read at all (the old image stays). */
int current_refresh(struct current *c);
