/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "common/config_load.h"
#include "common/log.h"
#include "configd/current.h"
#include "router/config.h"

/* parse errors logged per bad text, the rest counted */
#define ERRORS_LOGGED 20u

int current_init(struct current *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->image_fd = -1;
	snprintf(c->why, sizeof(c->why), "%s: not read yet", path);
	if (getrandom(c->key, sizeof(c->key), 0) != (ssize_t)sizeof(c->key))
		return log_errno(-errno, "getrandom");
	return 0;
}

/* The whole file, with read() only (the sandbox allows no more): at most
 * CONFIG_LOAD_MAX bytes. */
static int read_all(const char *path, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0 || !buf) {
		r = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (;;) {
		if (n == cap) {
			char *nb = cap <= CONFIG_LOAD_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				r = cap > CONFIG_LOAD_MAX ? -EFBIG : -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > CONFIG_LOAD_MAX)
		r = -EFBIG;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = n;
	return 0;
}

struct errs {
	struct current *c;
	unsigned n;
};

static void on_error(void *userdata, const char *message)
{
	struct errs *e = userdata;

	if (e->n == 0)
		snprintf(e->c->why, sizeof(e->c->why), "%s", message);
	if (e->n++ < ERRORS_LOGGED)
		log_msg(LOG_ERR, "%s", message);
}

int current_refresh(struct current *c)
{
	char *text = NULL;
	size_t len = 0;
	int r = read_all(c->path, &text, &len);

	if (r < 0) {
		log_msg(LOG_ERR, "%s: %s%s", c->path, strerror(-r),
			c->image_fd >= 0 ? "; the last good image stays" : "");
		if (c->image_fd < 0)
			snprintf(c->why, sizeof(c->why), "%s: %s", c->path, strerror(-r));
		return r;
	}
	uint64_t h = siphash24(c->key, (const uint8_t *)text, len);
	if (c->seen && h == c->seen_hash && len == c->seen_len) {
		free(text);
		/* the text came from the heap the last parse left free: its
		 * pages back to the kernel, or they stay dirty until the next */
		malloc_trim(0);
		return c->seen_good ? 0 : 1;
	}
	c->seen = true;
	c->seen_good = false;
	c->seen_hash = h;
	c->seen_len = len;

	struct gh_config *cfg = NULL;
	struct errs e = { .c = c };
	r = config_parse(c->path, text, len, on_error, &e, &cfg);
	free(text);
	int fd = -1;
	if (r == 0) {
		r = config_load_image(cfg, &fd);
		if (r < 0)
			log_msg(LOG_ERR, "%s: compiling the image: %s", c->path, strerror(-r));
	} else if (e.n > ERRORS_LOGGED) {
		log_msg(LOG_ERR, "%s: %u more errors", c->path, e.n - ERRORS_LOGGED);
	}
	config_free(cfg);
	/* the parse's memory back to the kernel: this process stays small
	 * between compiles */
	malloc_trim(0);
	if (r < 0) {
		if (r != -EINVAL)
			snprintf(c->why, sizeof(c->why), "%s: %s", c->path, strerror(-r));
		if (c->image_fd >= 0)
			log_msg(LOG_WARNING, "%s has errors: the last good image (#%u) stays", c->path, c->images);
		return 1;
	}
	if (c->image_fd >= 0)
		close(c->image_fd);
	c->image_fd = fd;
	c->images++;
	c->seen_good = true;
	log_msg(LOG_INFO, "%s: image #%u compiled (%zu bytes of text)", c->path, c->images, len);
	return 0;
}
