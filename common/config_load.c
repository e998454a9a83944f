/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "common/config_load.h"
#include "router/config_image.h"

#define CONFIG_IMAGE_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)

static void config_load_print(void *userdata, const char *message)
{
	if (userdata)
		fprintf(userdata, "%s\n", message);
}

/* Whole file into a fresh buffer; reads until EOF rather than trusting
 * st_size, so pipes and /proc-like files work too. */
static int config_load_read(FILE *f, char **buf, size_t *len)
{
	size_t cap = 0, n = 0;
	char *b = NULL;

	for (;;) {
		size_t got;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb;

			/* one byte over the cap tells "too big" from "exactly full" */
			if (ncap > CONFIG_LOAD_MAX + 1)
				ncap = CONFIG_LOAD_MAX + 1;
			if (ncap == cap) {
				free(b);
				return -EFBIG;
			}
			nb = realloc(b, ncap);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap = ncap;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				int r = errno ? -errno : -EIO;

				free(b);
				return r;
			}
			break;
		}
	}
	if (n > CONFIG_LOAD_MAX) {
		free(b);
		return -EFBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

static void config_load_unmap(const void *base, size_t len)
{
	munmap((void *)(uintptr_t)base, len);
}

/* fd holds a config image: map it, if it is sealed. */
int config_load_image_fd(int fd, const char *path, FILE *errf, struct gh_config **out)
{
	char why[256];
	int seals = fcntl(fd, F_GET_SEALS), r;
	off_t size;
	void *p;

	if (seals < 0 || (seals & CONFIG_IMAGE_SEALS) != CONFIG_IMAGE_SEALS) {
		if (errf)
			fprintf(errf, "%s: a config image is read only from a memfd sealed against "
				"writes, shrinking and growing; refused\n", path);
		return -EPERM;
	}
	/* lseek, not fstat: the exporter's filter allows that one */
	size = lseek(fd, 0, SEEK_END);
	if (size < 0) {
		r = -errno;
		if (errf)
			fprintf(errf, "%s: config image: %s\n", path, strerror(-r));
		return r;
	}
	if (size == 0 || (uint64_t)size > SIZE_MAX) {
		if (errf)
			fprintf(errf, "%s: config image refused: empty or too big\n", path);
		return -EINVAL;
	}
	p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		if (errf)
			fprintf(errf, "%s: mapping the config image: %s\n", path, strerror(-r));
		return r;
	}
	r = config_image_open(p, (size_t)size, config_load_unmap, out, why, sizeof(why));
	if (r < 0) {
		munmap(p, (size_t)size);
		if (errf)
			fprintf(errf, "%s: config image refused: %s\n", path,
				r == -EINVAL ? why : strerror(-r));
	}
	return r;
}

int config_load_snapshot(const char *path, FILE *errf, struct gh_config **out, int *snapshot)
{
	char magic[CONFIG_IMAGE_MAGIC_LEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int in, r;

	*out = NULL;
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || !(f = fdopen(in, "r"))) {
		r = -errno;
		if (in >= 0)
			close(in);
		if (errf)
			fprintf(errf, "%s: %s\n", path, strerror(-r));
		return r;
	}
	/* a compiled image, not text (pread leaves the offset alone, and a
	 * pipe just fails it) */
	if (pread(in, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, CONFIG_IMAGE_MAGIC, sizeof(magic)) == 0) {
		if (snapshot) {
			if (errf)
				fprintf(errf, "%s: a compiled config image, not a config file\n", path);
			r = -EINVAL;
		} else {
			r = config_load_image_fd(in, path, errf, out);
		}
		fclose(f);
		return r;
	}
	errno = 0;
	r = config_load_read(f, &buf, &len);
	fclose(f);
	if (r < 0) {
		if (errf && r == -EFBIG)
			fprintf(errf, "%s: file too big (more than %u MiB)\n", path,
				CONFIG_LOAD_MAX >> 20);
		else if (errf)
			fprintf(errf, "%s: %s\n", path, strerror(-r));
		return r;
	}
	r = config_parse(path, buf, len, config_load_print, errf, out);
	if (r == 0 && snapshot) {
		/* the text just checked, frozen: later edits of the file
		 * cannot reach processes started from this snapshot */
		int fd = memfd_create("gatehouse.conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || write(fd, buf, len) != (ssize_t)len ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
			r = -errno;
			if (fd >= 0)
				close(fd);
			config_free(*out);
			*out = NULL;
			if (errf)
				fprintf(errf, "%s: snapshot: %s\n", path, strerror(-r));
		} else {
			*snapshot = fd;
		}
	}
	free(buf);
	if (r == -ENOMEM && errf)
		fprintf(errf, "%s: %s\n", path, strerror(ENOMEM));
	return r;
}

int config_load_file(const char *path, FILE *errf, struct gh_config **out)
{
	return config_load_snapshot(path, errf, out, NULL);
}

int config_load_image(const struct gh_config *cfg, int *image)
{
	size_t size = config_image_size(cfg);
	void *p = MAP_FAILED;
	int fd, r;

	if (size == 0)
		return -E2BIG;
	fd = memfd_create("gatehouse.conf.image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	r = config_image_write(cfg, p, size);
	/* F_SEAL_WRITE needs every writable shared mapping gone first */
	munmap(p, size);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (fcntl(fd, F_ADD_SEALS, CONFIG_IMAGE_SEALS | F_SEAL_SEAL) < 0)
		goto fail;
	*image = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}
